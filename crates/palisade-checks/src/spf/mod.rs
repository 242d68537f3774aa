//! SPF at MAIL time (RFC 7208): our own check_host() ([`eval`]) over the strict §12
//! grammar ([`record`]) and the §7 macros ([`macros`]), validated by the whole RFC 7208
//! test suite. The result is carried as mail-auth's `SpfOutput`, which its DMARC
//! evaluation takes.

pub mod eval;
pub mod macros;
pub mod record;

use crate::results::AuthResult;
use macros::MacroEnv;
use mail_auth::{SpfOutput, SpfResult};
use palisade_dns::Dns;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The whole evaluation, every include and redirect with it, ends by then as temperror
/// (RFC 7208 §4.6.4: "at least 20 seconds" for the overall check).
pub const CHECK_HOST_DEADLINE: Duration = Duration::from_secs(20);

/// Which identity was checked (RFC 7208 §2.3, §2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpfIdentity {
    MailFrom(String),
    /// The null reverse-path: `postmaster@<HELO>` stands in for MAIL FROM.
    Helo(String),
}

/// The SPF outcome for one transaction, kept from MAIL until the end of the message.
#[derive(Debug, Clone)]
pub struct SpfCheck {
    pub output: SpfOutput,
    pub identity: SpfIdentity,
    pub ip: IpAddr,
    pub helo: String,
}

impl SpfCheck {
    pub fn result(&self) -> SpfResult {
        self.output.result()
    }

    /// The RFC 7208 §2.6 result, as the rest of Palisade sees it.
    pub fn auth_result(&self) -> AuthResult {
        auth_result(self.output.result())
    }

    /// The domain whose policy was evaluated.
    pub fn domain(&self) -> &str {
        self.output.domain()
    }

    /// The MAIL FROM domain for DMARC (RFC 7489 §3.1.2: the HELO domain when null).
    pub fn mail_from_domain(&self) -> &str {
        match &self.identity {
            SpfIdentity::MailFrom(a) => a.rsplit_once('@').map_or(a.as_str(), |(_, d)| d),
            SpfIdentity::Helo(h) => h,
        }
    }

    pub fn mail_from(&self) -> &str {
        match &self.identity {
            SpfIdentity::MailFrom(a) => a,
            SpfIdentity::Helo(_) => "",
        }
    }
}

pub fn auth_result(r: SpfResult) -> AuthResult {
    match r {
        SpfResult::Pass => AuthResult::Pass,
        SpfResult::Fail => AuthResult::Fail,
        SpfResult::SoftFail => AuthResult::SoftFail,
        SpfResult::Neutral => AuthResult::Neutral,
        SpfResult::TempError => AuthResult::TempError,
        SpfResult::PermError => AuthResult::PermError,
        SpfResult::None => AuthResult::None,
    }
}

/// Evaluates SPF for the MAIL FROM identity, or for the HELO identity when the reverse-path
/// is null (RFC 7208 §2.3, §2.4). `hostname` is ours (the `%{r}` macro, §7.3).
pub async fn check_spf(
    dns: &Dns,
    ip: IpAddr,
    helo: &str,
    mail_from: Option<&str>,
    hostname: &str,
) -> SpfCheck {
    let helo_domain = helo.trim_end_matches('.');
    let (identity, sender) = match mail_from.filter(|m| !m.is_empty()) {
        Some(sender) => (
            SpfIdentity::MailFrom(sender.to_string()),
            sender.to_string(),
        ),
        None => (
            SpfIdentity::Helo(helo_domain.to_string()),
            format!("postmaster@{helo_domain}"),
        ),
    };
    let domain = sender.rsplit_once('@').map_or(sender.as_str(), |(_, d)| d);
    let env = MacroEnv {
        sender: &sender,
        // §5: an IPv4-mapped IPv6 client is an IPv4 client.
        ip: ip.to_canonical(),
        helo: helo_domain,
        receiver: hostname,
        now: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let evaluation = tokio::time::timeout(CHECK_HOST_DEADLINE, eval::check_host(dns, env, domain))
        .await
        .unwrap_or(eval::Evaluation {
            result: SpfResult::TempError,
            explanation: None,
        });
    let mut output = SpfOutput::new(domain.to_string()).with_result(evaluation.result);
    if let Some(explanation) = evaluation.explanation {
        output = output.with_explanation(explanation);
    }
    SpfCheck {
        output,
        identity,
        ip,
        helo: helo.to_string(),
    }
}
