//! `[scanners]`: external content scanners, each off unless configured. rspamd over its
//! HTTP protocol (`[scanners.rspamd]`), ClamAV's clamd over `INSTREAM`
//! (`[scanners.clamav]`). A scanner that cannot be asked gives the configured fallback:
//! `tempfail` (`451 4.3.0`, the sender retries) or `deliver` (with a reason saying so),
//! never a silent pass.

use crate::validate::{ConfigError, invalid};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScanners {
    pub rspamd: Option<RawRspamd>,
    pub clamav: Option<RawClamav>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRspamd {
    pub url: Option<String>,
    pub password: Option<String>,
    pub timeout_secs: Option<u64>,
    pub on_failure: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClamav {
    pub address: Option<String>,
    pub timeout_secs: Option<u64>,
    pub on_failure: Option<String>,
}

/// What happens to a message when a scanner cannot be asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// `451 4.3.0`: the sender tries again later.
    Tempfail,
    /// Delivered, with a reason that the scanner's verdict is missing.
    Deliver,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RspamdConfig {
    /// The normal worker's base URL, e.g. `http://127.0.0.1:11333`.
    pub url: String,
    pub password: Option<String>,
    pub timeout: Duration,
    pub on_failure: OnFailure,
}

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClamdAddress {
    Tcp(String),
    Unix(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClamavConfig {
    pub address: ClamdAddress,
    pub timeout: Duration,
    pub on_failure: OnFailure,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScannersConfig {
    pub rspamd: Option<RspamdConfig>,
    pub clamav: Option<ClamavConfig>,
}

fn on_failure(key: &str, v: Option<&str>) -> Result<OnFailure, ConfigError> {
    match v.unwrap_or("tempfail") {
        "tempfail" => Ok(OnFailure::Tempfail),
        "deliver" => Ok(OnFailure::Deliver),
        other => Err(invalid(
            key,
            format!("{other:?}: expected tempfail or deliver"),
        )),
    }
}

fn timeout(key: &str, v: Option<u64>, default: u64) -> Result<Duration, ConfigError> {
    match v.unwrap_or(default) {
        s @ 1..=600 => Ok(Duration::from_secs(s)),
        _ => Err(invalid(key, "must be 1..=600")),
    }
}

fn rspamd(r: RawRspamd) -> Result<RspamdConfig, ConfigError> {
    let url = r.url.ok_or_else(|| {
        invalid(
            "scanners.rspamd.url",
            "required, e.g. \"http://127.0.0.1:11333\"",
        )
    })?;
    let host = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
    if host.is_none_or(|h| h.is_empty() || h.contains(|c: char| c.is_whitespace() || c == '@')) {
        return Err(invalid(
            "scanners.rspamd.url",
            format!("{url:?}: expected http://host:port or https://host:port"),
        ));
    }
    Ok(RspamdConfig {
        url: url.trim_end_matches('/').to_string(),
        password: r.password.filter(|p| !p.is_empty()),
        timeout: timeout("scanners.rspamd.timeout_secs", r.timeout_secs, 15)?,
        on_failure: on_failure("scanners.rspamd.on_failure", r.on_failure.as_deref())?,
    })
}

fn clamav(c: RawClamav) -> Result<ClamavConfig, ConfigError> {
    let key = "scanners.clamav.address";
    let address = match c.address {
        None => return Err(invalid(key, "required: a clamd socket path or host:port")),
        Some(a) if a.starts_with('/') => ClamdAddress::Unix(PathBuf::from(a)),
        Some(a) => {
            let port = a.rsplit_once(':').map(|(_, p)| p.parse::<u16>());
            if !matches!(port, Some(Ok(p)) if p > 0) {
                return Err(invalid(
                    key,
                    format!("{a:?}: expected an absolute socket path or host:port"),
                ));
            }
            ClamdAddress::Tcp(a)
        }
    };
    Ok(ClamavConfig {
        address,
        timeout: timeout("scanners.clamav.timeout_secs", c.timeout_secs, 30)?,
        on_failure: on_failure("scanners.clamav.on_failure", c.on_failure.as_deref())?,
    })
}

pub fn scanners_config(s: Option<RawScanners>) -> Result<ScannersConfig, ConfigError> {
    let s = s.unwrap_or_default();
    Ok(ScannersConfig {
        rspamd: s.rspamd.map(rspamd).transpose()?,
        clamav: s.clamav.map(clamav).transpose()?,
    })
}
