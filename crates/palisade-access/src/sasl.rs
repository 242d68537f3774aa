//! SASL credentials from SMTP AUTH responses (RFC 4954): PLAIN (RFC 4616) and LOGIN.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// What the client claimed.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a password, not even in a debug log.
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Why the responses give no credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// RFC 4954 §4: `501 5.5.2`.
    #[error("the response is not valid base64")]
    Base64,
    /// Well-formed base64 but not the mechanism's message (a failed login, `535`).
    #[error("malformed {0} response")]
    Malformed(&'static str),
}

fn decode(s: &str) -> Result<Vec<u8>, SaslError> {
    STANDARD.decode(s.trim()).map_err(|_| SaslError::Base64)
}

fn text(bytes: &[u8], what: &'static str) -> Result<String, SaslError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| SaslError::Malformed(what))
}

/// RFC 4616 §2: `[authzid] NUL authcid NUL passwd`. We do not let one user act for
/// another, so an authzid must be empty or the same as the authcid.
pub fn plain(response: &str) -> Result<Credentials, SaslError> {
    let raw = decode(response)?;
    let mut parts = raw.split(|b| *b == 0);
    let (Some(authzid), Some(authcid), Some(passwd), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed("PLAIN"));
    };
    if authcid.is_empty() || (!authzid.is_empty() && authzid != authcid) {
        return Err(SaslError::Malformed("PLAIN"));
    }
    Ok(Credentials {
        username: text(authcid, "PLAIN")?,
        password: text(passwd, "PLAIN")?,
    })
}

/// LOGIN: the username, then the password, each base64.
pub fn login(username: &str, password: &str) -> Result<Credentials, SaslError> {
    let user = text(&decode(username)?, "LOGIN")?;
    if user.is_empty() {
        return Err(SaslError::Malformed("LOGIN"));
    }
    Ok(Credentials {
        username: user,
        password: text(&decode(password)?, "LOGIN")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &[u8]) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn rfc4616_plain() {
        let c = plain(&b64(b"\0alice@example.com\0secret pass")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.username, "alice@example.com");
        assert_eq!(c.password, "secret pass");
        assert!(plain(&b64(b"alice@example.com\0alice@example.com\0pw")).is_ok());
        assert_eq!(
            plain(&b64(b"bob@example.com\0alice@example.com\0pw")),
            Err(SaslError::Malformed("PLAIN")),
            "acting for another user"
        );
        assert_eq!(plain(&b64(b"\0\0pw")), Err(SaslError::Malformed("PLAIN")));
        assert_eq!(plain(&b64(b"no nuls")), Err(SaslError::Malformed("PLAIN")));
        assert_eq!(
            plain(&b64(b"\0a\0b\0c")),
            Err(SaslError::Malformed("PLAIN"))
        );
        assert_eq!(plain("!!!"), Err(SaslError::Base64));
    }

    #[test]
    fn login_two_rounds() {
        let c = login(&b64(b"alice@example.com"), &b64(b"pw")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("alice@example.com", "pw")
        );
        assert_eq!(login("%%", &b64(b"pw")), Err(SaslError::Base64));
        assert_eq!(
            login(&b64(b""), &b64(b"pw")),
            Err(SaslError::Malformed("LOGIN"))
        );
    }

    #[test]
    fn debug_never_shows_the_password() {
        let c = Credentials {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
