//! `[dovecot]`: mailboxes served by Dovecot. Local mail goes to Dovecot's LMTP service
//! (RFC 2033) instead of Palisade's own Maildirs, and Dovecot asks Palisade whether a
//! password is right through `palisade auth checkpassword`, which talks to the server
//! over `auth_socket`: one account, one lockout and one ban list for SMTP and IMAP.

use crate::validate::{ConfigError, invalid};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDovecot {
    pub lmtp: Option<String>,
    pub auth_socket: Option<PathBuf>,
    pub imap_host: Option<String>,
    pub imap_port: Option<u16>,
}

/// Where a stream service listens: a Unix socket or a TCP host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp { host: String, port: u16 },
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix:{}", p.display()),
            Endpoint::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Endpoint::Tcp { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DovecotConfig {
    /// Dovecot's LMTP service; `None`: local mail goes to Maildirs under the data
    /// directory.
    pub lmtp: Option<Endpoint>,
    /// The Unix socket `palisade auth checkpassword` asks; `None`: not served.
    pub auth_socket: Option<PathBuf>,
    /// Where mail clients find Dovecot's IMAPS (RFC 8314 implicit TLS): `None` without
    /// `[dovecot]`; the host name defaults to ours, the port to 993.
    pub imaps: Option<(String, u16)>,
}

pub(crate) fn dovecot_config(
    raw: Option<RawDovecot>,
    hostname: &str,
) -> Result<DovecotConfig, ConfigError> {
    let Some(raw) = raw else {
        return Ok(DovecotConfig::default());
    };
    let imap_host = match raw.imap_host {
        Some(h) => palisade_types::Domain::parse(&h)
            .map_err(|e| invalid("dovecot.imap_host", format!("{h:?}: {e}")))?
            .to_string(),
        None => hostname.to_string(),
    };
    let imap_port = match raw.imap_port {
        Some(0) => return Err(invalid("dovecot.imap_port", "must not be 0")),
        Some(p) => p,
        None => 993,
    };
    let lmtp = match raw.lmtp {
        Some(url) => Some(parse_url("dovecot.lmtp", "lmtp", &url)?),
        None => None,
    };
    if let Some(Endpoint::Tcp { port: 25, .. }) = lmtp {
        // RFC 2033 §5: LMTP must not be used on the SMTP port.
        return Err(invalid(
            "dovecot.lmtp",
            "port 25 is SMTP's; RFC 2033 §5 forbids LMTP there (Dovecot's LMTP listens on 24)",
        ));
    }
    let auth_socket = match raw.auth_socket {
        Some(p) if p.is_absolute() => Some(p),
        Some(p) => {
            return Err(invalid(
                "dovecot.auth_socket",
                format!("{} must be an absolute path", p.display()),
            ));
        }
        None => None,
    };
    Ok(DovecotConfig {
        lmtp,
        auth_socket,
        imaps: Some((imap_host, imap_port)),
    })
}

/// `SCHEME://host[:port]`, the port `default_port` when absent (an IPv6 literal is in
/// brackets: `[::1]` has no port, `[::1]:25` has one).
pub(crate) fn parse_host_url(
    key: &str,
    scheme: &str,
    url: &str,
    default_port: u16,
) -> Result<Endpoint, ConfigError> {
    let rest = url
        .strip_prefix(scheme)
        .and_then(|r| r.strip_prefix("://"))
        .unwrap_or_default();
    if !rest.contains(':') || rest.ends_with(']') {
        return parse_url(key, scheme, &format!("{url}:{default_port}"));
    }
    parse_url(key, scheme, url)
}

/// `SCHEME:///absolute/path` (a Unix socket) or `SCHEME://host:port`.
pub fn parse_url(key: &str, scheme: &str, url: &str) -> Result<Endpoint, ConfigError> {
    let form = || {
        invalid(
            key,
            format!("{url:?}: expected {scheme}:///path/to/socket or {scheme}://host:port"),
        )
    };
    let rest = url
        .strip_prefix(scheme)
        .and_then(|r| r.strip_prefix("://"))
        .ok_or_else(form)?;
    if let Some(path) = rest.strip_prefix('/') {
        if path.is_empty() || path.contains('\0') {
            return Err(form());
        }
        return Ok(Endpoint::Unix(PathBuf::from(format!("/{path}"))));
    }
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => {
            let (h, p) = v6.split_once("]:").ok_or_else(form)?;
            (h, p)
        }
        None => rest.rsplit_once(':').ok_or_else(form)?,
    };
    let port: u16 = port.parse().ok().filter(|p| *p != 0).ok_or_else(form)?;
    let host_ok =
        host.parse::<std::net::IpAddr>().is_ok() || palisade_types::Domain::parse(host).is_ok();
    if !host_ok {
        return Err(form());
    }
    Ok(Endpoint::Tcp {
        host: host.to_ascii_lowercase(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lmtp(url: &str) -> Result<Endpoint, ConfigError> {
        parse_url("dovecot.lmtp", "lmtp", url)
    }

    #[test]
    fn unix_and_tcp_forms() {
        assert_eq!(
            lmtp("lmtp:///run/dovecot/lmtp").ok(),
            Some(Endpoint::Unix("/run/dovecot/lmtp".into()))
        );
        assert_eq!(
            lmtp("lmtp://127.0.0.1:24").ok(),
            Some(Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 24
            })
        );
        assert_eq!(
            lmtp("lmtp://[::1]:24").ok(),
            Some(Endpoint::Tcp {
                host: "::1".into(),
                port: 24
            })
        );
        assert_eq!(
            lmtp("lmtp://Mail.Example.org:2424")
                .map(|e| e.to_string())
                .ok(),
            Some("mail.example.org:2424".into())
        );
    }

    #[test]
    fn malformed_urls_name_the_key() {
        for bad in [
            "",
            "smtp://127.0.0.1:24",
            "lmtp://",
            "lmtp://127.0.0.1",
            "lmtp://127.0.0.1:0",
            "lmtp://127.0.0.1:99999",
            "lmtp://bad host:24",
            "lmtp:///",
            "/run/dovecot/lmtp",
        ] {
            let e = lmtp(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains("dovecot.lmtp"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn rfc2033_5_lmtp_never_on_port_25() {
        let raw = RawDovecot {
            lmtp: Some("lmtp://127.0.0.1:25".into()),
            ..RawDovecot::default()
        };
        let e = dovecot_config(Some(raw), "mx.example.org")
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("RFC 2033")));
    }

    #[test]
    fn auth_socket_must_be_absolute() {
        let raw = RawDovecot {
            auth_socket: Some("auth.sock".into()),
            ..RawDovecot::default()
        };
        assert!(dovecot_config(Some(raw), "mx.example.org").is_err());
    }
}
