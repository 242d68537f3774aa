//! `delivery.smarthost`: every message for another domain goes through one relay (a
//! provider's or the organisation's), for networks that cannot send on port 25. The
//! hop is always encrypted and its certificate verified (the credentials cross it):
//! `smtps://host[:465]` is implicit TLS (RFC 8314), `smtp://host[:587]` STARTTLS, never
//! without it. AUTH PLAIN with `smarthost_user` and the password in
//! `smarthost_password_file` (read by the server, never stored in the configuration).

use crate::dovecot::{Endpoint, parse_host_url};
use crate::validate::{ConfigError, invalid};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smarthost {
    pub host: String,
    pub port: u16,
    /// `smtps://`: TLS from the first byte; `smtp://`: STARTTLS, required.
    pub implicit_tls: bool,
    /// The account and the file holding its password; `None`: no AUTH.
    pub login: Option<(String, PathBuf)>,
}

pub(crate) fn smarthost_config(
    url: Option<String>,
    user: Option<String>,
    password_file: Option<PathBuf>,
) -> Result<Option<Smarthost>, ConfigError> {
    let Some(url) = url else {
        if user.is_some() || password_file.is_some() {
            return Err(invalid(
                "delivery.smarthost_user",
                "and smarthost_password_file need delivery.smarthost",
            ));
        }
        return Ok(None);
    };
    let key = "delivery.smarthost";
    let (scheme, default_port, implicit_tls) = if url.starts_with("smtps://") {
        ("smtps", 465, true)
    } else {
        ("smtp", 587, false)
    };
    if !url.starts_with(&format!("{scheme}://")) {
        return Err(invalid(
            key,
            format!("{url:?}: expected smtps://host[:port] or smtp://host[:port] (STARTTLS)"),
        ));
    }
    let Endpoint::Tcp { host, port } = parse_host_url(key, scheme, &url, default_port)? else {
        return Err(invalid(key, format!("{url:?}: a host, not a socket path")));
    };
    let login = match (user, password_file) {
        (Some(u), Some(f)) if !u.is_empty() && !u.contains(['\0', '\r', '\n']) => Some((u, f)),
        (None, None) => None,
        _ => {
            return Err(invalid(
                "delivery.smarthost_user",
                "and delivery.smarthost_password_file go together (a user name without NUL or line breaks)",
            ));
        }
    };
    Ok(Some(Smarthost {
        host,
        port,
        implicit_tls,
        login,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_ports_and_logins() {
        let s = smarthost_config(Some("smtps://relay.example.net".into()), None, None)
            .ok()
            .flatten();
        assert_eq!(
            s,
            Some(Smarthost {
                host: "relay.example.net".into(),
                port: 465,
                implicit_tls: true,
                login: None
            })
        );
        let s = smarthost_config(
            Some("smtp://relay.example.net:2525".into()),
            Some("me@example.org".into()),
            Some("/etc/palisade/relay.pass".into()),
        )
        .ok()
        .flatten();
        assert!(
            s.as_ref()
                .is_some_and(|s| !s.implicit_tls && s.port == 2525 && s.login.is_some())
        );
        let s = smarthost_config(Some("smtp://relay.example.net".into()), None, None)
            .ok()
            .flatten();
        assert_eq!(s.map(|s| s.port), Some(587));
    }

    #[test]
    fn incomplete_or_malformed_settings_are_refused() {
        assert!(smarthost_config(Some("relay.example.net".into()), None, None).is_err());
        assert!(smarthost_config(Some("lmtp://relay.example.net:24".into()), None, None).is_err());
        assert!(smarthost_config(Some("smtps://relay".into()), Some("u".into()), None).is_err());
        assert!(smarthost_config(None, Some("u".into()), Some("/f".into())).is_err());
        assert!(smarthost_config(Some("smtps:///run/x".into()), None, None).is_err());
    }
}
