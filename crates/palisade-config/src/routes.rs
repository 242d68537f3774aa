//! `[route]`: Palisade in front of another mail system (the gateway role). Mail for a
//! routed domain is accepted here as for a local one, with every inbound check, and
//! handed to the domain's own server over SMTP or LMTP instead of being stored:
//!
//! ```toml
//! [route]
//! "corp.example" = "smtp://exchange.corp.internal:25"
//! [route."lab.example"]
//! to = "lmtp:///run/dovecot/lmtp"
//! verify_recipients = true     # ask the server at our RCPT (the default)
//! tls = "verify"               # smtp only: none, may (default), encrypt, verify, dane
//! ```
//!
//! A domain that is also local (in the store) stays local: its users' Maildirs win.

use crate::dovecot::{Endpoint, parse_host_url, parse_url};
use crate::validate::{ConfigError, DomainTlsPolicy, invalid, tls_policy_of};
use palisade_types::Domain;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawRoute {
    Url(String),
    Table(RawRouteTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouteTable {
    pub to: String,
    pub tls: Option<String>,
    pub verify_recipients: Option<bool>,
}

/// Where a routed domain's mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextHop {
    /// SMTP to this host (no MX lookup), with the route's TLS policy.
    Smtp { host: String, port: u16 },
    /// LMTP (RFC 2033), a Unix socket or TCP.
    Lmtp(Endpoint),
}

impl std::fmt::Display for NextHop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NextHop::Smtp { host, port } => write!(f, "smtp://{host}:{port}"),
            NextHop::Lmtp(Endpoint::Unix(p)) => write!(f, "lmtp://{}", p.display()),
            NextHop::Lmtp(e) => write!(f, "lmtp://{e}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub to: NextHop,
    /// For SMTP next hops (LMTP runs on a local socket or network, without TLS).
    pub tls: DomainTlsPolicy,
    /// Ask the next hop whether a recipient exists before our `250` to RCPT (a
    /// callout), so unknown recipients are refused here, not bounced later.
    pub verify_recipients: bool,
}

/// Routes by domain (lower case, as `Domain` prints it).
pub(crate) fn routes_config(
    raw: BTreeMap<String, RawRoute>,
) -> Result<BTreeMap<String, Route>, ConfigError> {
    let mut routes = BTreeMap::new();
    for (name, r) in raw {
        let key = format!("route.{name}");
        let domain =
            Domain::parse(&name).map_err(|_| invalid(&key, format!("{name:?} is not a domain")))?;
        let table = match r {
            RawRoute::Url(to) => RawRouteTable {
                to,
                tls: None,
                verify_recipients: None,
            },
            RawRoute::Table(t) => t,
        };
        let to = next_hop(&key, &table.to)?;
        let tls = match table.tls {
            Some(t) if matches!(to, NextHop::Lmtp(_)) => {
                return Err(invalid(
                    format!("{key}.tls"),
                    format!("{t:?}: LMTP carries no TLS (use a Unix socket or a private network)"),
                ));
            }
            Some(t) => tls_policy_of(&format!("{key}.tls"), &t)?,
            None => DomainTlsPolicy::May,
        };
        routes.insert(
            domain.to_string(),
            Route {
                to,
                tls,
                verify_recipients: table.verify_recipients.unwrap_or(true),
            },
        );
    }
    Ok(routes)
}

/// `smtp://host[:port]` (port 25 by default) or an `lmtp://` URL.
fn next_hop(key: &str, url: &str) -> Result<NextHop, ConfigError> {
    if url.starts_with("lmtp://") {
        let e = parse_url(key, "lmtp", url)?;
        if let Endpoint::Tcp { port: 25, .. } = e {
            // RFC 2033 §5.
            return Err(invalid(key, "LMTP must not use port 25 (RFC 2033 §5)"));
        }
        return Ok(NextHop::Lmtp(e));
    }
    match parse_host_url(key, "smtp", url, 25) {
        Ok(Endpoint::Tcp { host, port }) => Ok(NextHop::Smtp { host, port }),
        _ => Err(invalid(
            key,
            format!("{url:?}: expected smtp://host[:port], lmtp:///path or lmtp://host:port"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml: &str) -> Result<BTreeMap<String, Route>, String> {
        crate::parse(toml)
            .map(|c| c.routes)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn both_forms_and_their_defaults() {
        let r = parse(
            "[route]\n\"Corp.Example\" = \"smtp://10.0.0.5\"\n\
             [route.\"lab.example\"]\nto = \"lmtp:///run/dovecot/lmtp\"\nverify_recipients = false\n\
             [route.\"v.example\"]\nto = \"smtp://mx.v.example:2525\"\ntls = \"verify\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let corp = &r["corp.example"];
        assert_eq!(corp.to.to_string(), "smtp://10.0.0.5:25");
        assert_eq!(corp.tls, DomainTlsPolicy::May);
        assert!(corp.verify_recipients);
        let lab = &r["lab.example"];
        assert_eq!(
            lab.to,
            NextHop::Lmtp(Endpoint::Unix("/run/dovecot/lmtp".into()))
        );
        assert!(!lab.verify_recipients);
        assert_eq!(r["v.example"].tls, DomainTlsPolicy::Verify);
        assert_eq!(r["v.example"].to.to_string(), "smtp://mx.v.example:2525");
    }

    #[test]
    fn a_route_to_ourselves_is_refused() {
        let e = parse(
            "[listener.in]\naddress = \"127.0.0.1:2525\"\n\
             [route]\n\"a.example\" = \"smtp://127.0.0.1:2525\"\n",
        )
        .err()
        .unwrap_or_default();
        assert!(e.contains("route.a.example") && e.contains("loop"), "{e}");
    }

    #[test]
    fn bad_routes_name_their_key() {
        for (toml, key) in [
            (
                "[route]\n\"not a domain\" = \"smtp://h\"\n",
                "route.not a domain",
            ),
            ("[route]\n\"a.example\" = \"http://h\"\n", "route.a.example"),
            (
                "[route]\n\"a.example\" = \"lmtp://127.0.0.1:25\"\n",
                "route.a.example",
            ),
            (
                "[route.\"a.example\"]\nto = \"lmtp:///s\"\ntls = \"verify\"\n",
                "route.a.example.tls",
            ),
            (
                "[route.\"a.example\"]\nto = \"smtp://h\"\ntls = \"sometimes\"\n",
                "route.a.example.tls",
            ),
        ] {
            let e = parse(toml).err().unwrap_or_default();
            assert!(e.contains(key), "{toml}: {e}");
        }
    }
}
