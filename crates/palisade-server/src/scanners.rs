//! External content scanners (`[scanners]`, issue 16 item 6): rspamd over its HTTP
//! protocol (the rspamd project's `rspamd-client`), ClamAV's clamd over `INSTREAM`
//! (`clamav-client`). Both are asked at once, each within its timeout; their answers go
//! to the engine as [`External`]s, so the verdict and its reasons hold them. A scanner
//! that cannot be asked gives its configured fallback: [`Asked::Defer`] (`451 4.3.0`)
//! or an [`External::Unavailable`] reason, never a silent pass.

use palisade_config::{ClamavConfig, ClamdAddress, OnFailure, RspamdConfig, ScannersConfig};
use palisade_phish::external::{External, clamd_found};
use rspamd_client::RspamdAsyncClient;
use rspamd_client::config::{Config as RspamdClientConfig, EnvelopeData};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// What the session knows about the message's origin, for rspamd's checks.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    pub mail_from: Option<String>,
    pub rcpts: Vec<String>,
    pub client_ip: Option<IpAddr>,
    pub helo: Option<String>,
    /// The authenticated user, for submitted mail.
    pub user: Option<String>,
}

/// The scanners' answers, or why the message must wait.
#[derive(Debug, Clone, PartialEq)]
pub enum Asked {
    Answers(Vec<External>),
    /// A scanner could not be asked and its fallback is `tempfail`.
    Defer(String),
}

/// The rspamd client for the configuration in force (it pools its connections).
#[derive(Default)]
pub struct ScannerState {
    rspamd: Mutex<Option<(RspamdConfig, Arc<RspamdAsyncClient>)>>,
}

impl ScannerState {
    fn rspamd_client(&self, c: &RspamdConfig) -> Result<Arc<RspamdAsyncClient>, String> {
        let mut held = self.rspamd.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((cfg, client)) = &*held
            && cfg == c
        {
            return Ok(client.clone());
        }
        let built = RspamdClientConfig::builder()
            .base_url(c.url.clone())
            .timeout(c.timeout)
            .retries(1)
            .zstd(false)
            .build();
        let built = match &c.password {
            Some(p) => RspamdClientConfig {
                password: Some(p.clone()),
                ..built
            },
            None => built,
        };
        let client = Arc::new(RspamdAsyncClient::new(built).map_err(|e| e.to_string())?);
        *held = Some((c.clone(), client.clone()));
        Ok(client)
    }
}

/// Asks every configured scanner about `message`, at once.
pub async fn ask(
    state: &ScannerState,
    cfg: &ScannersConfig,
    message: &Arc<Vec<u8>>,
    env: &Envelope,
) -> Asked {
    let rspamd = async {
        match &cfg.rspamd {
            Some(c) => Some((c.on_failure, "rspamd", rspamd(state, c, message, env).await)),
            None => None,
        }
    };
    let clamav = async {
        match &cfg.clamav {
            Some(c) => Some((c.on_failure, "ClamAV", clamav(c, message).await)),
            None => None,
        }
    };
    let (r, c) = tokio::join!(rspamd, clamav);
    let mut answers = Vec::new();
    for (on_failure, scanner, result) in [r, c].into_iter().flatten() {
        match result {
            Ok(found) => answers.extend(found),
            Err(error) => {
                tracing::warn!(scanner, error = %error, "content scanner unavailable");
                metrics::counter!("palisade_scanner_failures_total", "scanner" => scanner)
                    .increment(1);
                match on_failure {
                    OnFailure::Tempfail => {
                        return Asked::Defer(format!(
                            "{scanner} could not scan the message: {error}"
                        ));
                    }
                    OnFailure::Deliver => answers.push(External::Unavailable { scanner, error }),
                }
            }
        }
    }
    Asked::Answers(answers)
}

async fn rspamd(
    state: &ScannerState,
    c: &RspamdConfig,
    message: &Arc<Vec<u8>>,
    env: &Envelope,
) -> Result<Option<External>, String> {
    let client = state.rspamd_client(c)?;
    let envelope = EnvelopeData {
        from: env.mail_from.clone(),
        rcpt: env.rcpts.clone(),
        ip: env.client_ip.map(|i| i.to_string()),
        user: env.user.clone(),
        helo: env.helo.clone(),
        ..EnvelopeData::default()
    };
    let reply = tokio::time::timeout(c.timeout, client.scan(message.as_slice(), envelope))
        .await
        .map_err(|_| format!("no answer within {} s", c.timeout.as_secs()))?
        .map_err(|e| e.to_string())?;
    // `is_skipped` with an action is a pre-result (GTUBE, a rate limit): still a verdict.
    Ok(Some(External::rspamd(
        reply.score,
        &reply.action,
        reply.symbols.into_values().map(|s| (s.name, s.score)),
    )))
}

async fn clamav(c: &ClamavConfig, message: &Arc<Vec<u8>>) -> Result<Option<External>, String> {
    let scan = async {
        match &c.address {
            ClamdAddress::Tcp(a) => {
                let t = clamav_client::tokio::Tcp {
                    host_address: a.as_str(),
                };
                clamav_client::tokio::scan_buffer(message, t, None).await
            }
            ClamdAddress::Unix(p) => {
                let s = clamav_client::tokio::Socket {
                    socket_path: p.as_path(),
                };
                clamav_client::tokio::scan_buffer(message, s, None).await
            }
        }
    };
    let reply = tokio::time::timeout(c.timeout, scan)
        .await
        .map_err(|_| format!("no answer within {} s", c.timeout.as_secs()))?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&reply);
    if let Some(name) = clamd_found(&text) {
        return Ok(Some(External::Virus {
            scanner: "ClamAV",
            name,
        }));
    }
    match clamav_client::clean(&reply) {
        Ok(true) => Ok(None),
        // "INSTREAM size limit exceeded. ERROR" and the like: not scanned.
        _ => Err(format!("clamd answered {:?}", text.trim_end_matches('\0'))),
    }
}
