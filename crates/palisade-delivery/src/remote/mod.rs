//! Delivery to other mail servers (RFC 5321 §5: MX, then SMTP over opportunistic TLS).
//!
//! Recipients are grouped by domain. Each domain's hosts come from [`mx::route`]
//! (preference order, shuffled among equals, implicit MX, null MX); each host's
//! addresses are tried in turn until one completes a transaction ([`client`]). A host that
//! cannot be reached, or refuses the session as a whole, passes the turn to the next; a
//! reply to a recipient or to the message is that recipient's outcome.
//!
//! TLS (RFC 3207) is used whenever the server offers STARTTLS; the certificate is
//! verified against the WebPKI roots (and `delivery.extra_ca_file`) and the result
//! logged, but a failure does not stop delivery: this is opportunistic TLS (RFC 7435).
//! MTA-STS, DANE and per-domain policies, which turn verification into a requirement,
//! come in later slices.

pub mod client;
pub mod mx;
pub mod tls;

use palisade_dns::Dns;
use palisade_queue::{Outcome, SpooledMessage};
use palisade_types::Address;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Hands out the current resolver (it is replaced when `[dns]` changes).
pub type DnsSource = Arc<dyn Fn() -> Arc<Dns> + Send + Sync>;

/// How to reach other servers.
pub struct RemoteDelivery {
    pub dns: DnsSource,
    /// Our name in EHLO.
    pub hostname: String,
    pub port: u16,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    pub tls: tls::TlsClient,
}

impl RemoteDelivery {
    /// Delivers to recipients of one domain; one outcome per recipient, in order.
    pub async fn deliver_domain(
        &self,
        msg: &SpooledMessage,
        message: &[u8],
        domain: &str,
        rcpts: &[Address],
    ) -> Vec<Outcome> {
        let all = |o: Outcome| vec![o; rcpts.len()];
        let dns = (self.dns)();
        let hosts = match mx::route(&dns, domain).await {
            Ok(h) => h,
            Err(e) => {
                tracing::info!(domain, error = %e, "no route");
                return all(e.outcome());
            }
        };
        let mail_from = msg
            .envelope
            .mail_from
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let mut last_error = String::from("no mail server answered");
        for host in hosts {
            let addrs = match mx::addresses(&dns, &host).await {
                Ok(a) if !a.is_empty() => a,
                Ok(_) => {
                    last_error = format!("{host}: no address");
                    continue;
                }
                Err(e) => {
                    last_error = format!("{host}: {e}");
                    continue;
                }
            };
            for ip in addrs {
                let addr = SocketAddr::new(ip, self.port);
                let job = client::Job {
                    addr,
                    mx_host: &host,
                    helo: &self.hostname,
                    mail_from: &mail_from,
                    rcpts,
                    message,
                    eight_bit: msg.envelope.body == palisade_types::BodyType::EightBitMime,
                    smtputf8: msg.envelope.smtputf8,
                    connect_timeout: self.connect_timeout,
                    command_timeout: self.command_timeout,
                    tls: &self.tls,
                };
                match client::deliver(&job).await {
                    client::HostResult::Done(outcomes) => return outcomes,
                    client::HostResult::TryNext(why) => {
                        tracing::info!(host = %host, %addr, reason = %why, "trying the next host");
                        last_error = format!("{host} [{ip}]: {why}");
                    }
                }
            }
        }
        all(Outcome::Transient(last_error))
    }
}
