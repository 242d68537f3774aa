//! Dovecot's checkpassword interface, and the request `palisade auth checkpassword`
//! sends to the server's auth socket. Sans-IO: bytes in, values out.
//!
//! Dovecot runs the checkpassword program for every login with `user\0password\0\0` on
//! file descriptor 3 (at most 512 octets) and reads the exit status: 0 accepted (with
//! `user=NAME` written on descriptor 4), 1 refused, 111 a temporary failure; for a user
//! lookup (`AUTHORIZED=1`, no password) 2 found and 3 unknown. The program does not
//! decide anything itself: it forwards the attempt to the running server, which applies
//! the same lockouts, bans and app-password scopes as SMTP AUTH.
//!
//! The socket request is NUL-separated fields (no field can hold a NUL: Dovecot's own
//! input cannot), ended by the client closing its side:
//! `palisade-auth-1 \0 OP \0 SERVICE \0 IP \0 USER \0 PASSWORD \0`; the answer is one
//! line: `ok USER`, `refused`, `unknown` or `tempfail`.

use palisade_types::AppScope;
use std::net::IpAddr;

/// Dovecot's limit for what it writes on descriptor 3 (`CHECKPASSWORD_MAX_REQUEST_LEN`).
pub const MAX_INPUT: usize = 512;
/// The longest socket request: the input plus the service, the address and the framing.
pub const MAX_REQUEST: usize = MAX_INPUT + 256;
const MAGIC: &str = "palisade-auth-1";

/// What Dovecot wrote on descriptor 3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub user: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("more than {MAX_INPUT} octets")]
    TooLong,
    #[error("not user\\0password\\0: {0}")]
    Malformed(&'static str),
}

/// Parses `user\0password\0[timestamp\0]`.
pub fn parse_input(bytes: &[u8]) -> Result<Input, InputError> {
    if bytes.len() > MAX_INPUT {
        return Err(InputError::TooLong);
    }
    let mut fields = bytes.split(|b| *b == 0);
    let user = fields.next().ok_or(InputError::Malformed("no user"))?;
    let password = fields.next().ok_or(InputError::Malformed("no password"))?;
    let user = std::str::from_utf8(user).map_err(|_| InputError::Malformed("user not UTF-8"))?;
    let password =
        std::str::from_utf8(password).map_err(|_| InputError::Malformed("password not UTF-8"))?;
    if user.is_empty() {
        return Err(InputError::Malformed("empty user"));
    }
    Ok(Input {
        user: user.to_string(),
        password: password.to_string(),
    })
}

/// The app-password scope a Dovecot service needs: its own SMTP submission service
/// takes `submission` passwords, every mailbox service (IMAP, POP3, ManageSieve) `imap`.
pub fn scope_of_service(service: &str) -> AppScope {
    match service {
        "smtp" | "submission" => AppScope::Submission,
        _ => AppScope::Imap,
    }
}

/// What the client asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Check the password.
    Login,
    /// Only whether the user exists (Dovecot's userdb lookup, `AUTHORIZED=1`).
    Lookup,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub op: Op,
    pub service: String,
    /// The client's address as Dovecot saw it (bans and lockouts are keyed on it).
    pub ip: Option<IpAddr>,
    pub user: String,
    pub password: String,
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        let op = match self.op {
            Op::Login => "login",
            Op::Lookup => "lookup",
        };
        let ip = self.ip.map(|i| i.to_string()).unwrap_or_default();
        let mut out = Vec::with_capacity(MAX_REQUEST);
        for f in [MAGIC, op, &self.service, &ip, &self.user, &self.password] {
            out.extend_from_slice(f.as_bytes());
            out.push(0);
        }
        out
    }

    /// `None` for anything that is not exactly a request of this version.
    pub fn decode(bytes: &[u8]) -> Option<Request> {
        if bytes.len() > MAX_REQUEST {
            return None;
        }
        let body = bytes.strip_suffix(&[0])?;
        let fields: Vec<&str> = body
            .split(|b| *b == 0)
            .map(std::str::from_utf8)
            .collect::<Result<_, _>>()
            .ok()?;
        let [magic, op, service, ip, user, password] = fields.as_slice() else {
            return None;
        };
        let op = match *op {
            "login" => Op::Login,
            "lookup" => Op::Lookup,
            _ => return None,
        };
        let service_ok = !service.is_empty()
            && service.len() <= 32
            && service
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let ip = match *ip {
            "" => None,
            s => Some(s.parse().ok()?),
        };
        (*magic == MAGIC && service_ok && !user.is_empty()).then(|| Request {
            op,
            service: service.to_string(),
            ip,
            user: user.to_string(),
            password: password.to_string(),
        })
    }
}

/// The server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The password is right (or, for a lookup, the user exists): the canonical address.
    Ok(String),
    /// Wrong, locked or banned (never said which).
    Refused,
    /// A lookup for a user that does not exist.
    Unknown,
    /// The server could not decide (store down): Dovecot says "temporary failure".
    TempFail,
}

impl Answer {
    pub fn encode(&self) -> String {
        match self {
            Answer::Ok(user) => format!("ok {user}\n"),
            Answer::Refused => "refused\n".into(),
            Answer::Unknown => "unknown\n".into(),
            Answer::TempFail => "tempfail\n".into(),
        }
    }

    pub fn decode(line: &[u8]) -> Option<Answer> {
        let line = std::str::from_utf8(line).ok()?.strip_suffix('\n')?;
        match line {
            "refused" => Some(Answer::Refused),
            "unknown" => Some(Answer::Unknown),
            "tempfail" => Some(Answer::TempFail),
            _ => {
                let user = line.strip_prefix("ok ")?;
                let clean = !user.is_empty() && !user.contains(['\t', '\n', '\r', ' ', '\0']);
                clean.then(|| Answer::Ok(user.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dovecot_input_with_and_without_timestamp() {
        let want = Input {
            user: "alice@example.org".into(),
            password: "pa ss\tword".into(),
        };
        assert_eq!(
            parse_input(b"alice@example.org\0pa ss\tword\0\0").ok(),
            Some(want.clone())
        );
        assert_eq!(
            parse_input(b"alice@example.org\0pa ss\tword\0").ok(),
            Some(want)
        );
    }

    #[test]
    fn hostile_input_is_refused() {
        assert_eq!(parse_input(&[b'a'; 513]), Err(InputError::TooLong));
        assert!(parse_input(b"").is_err());
        assert!(parse_input(b"alice").is_err());
        assert!(parse_input(b"\0secret\0").is_err());
        assert!(parse_input(b"al\xffice\0secret\0").is_err());
    }

    #[test]
    fn requests_round_trip() {
        let r = Request {
            op: Op::Login,
            service: "imap".into(),
            ip: "2001:db8::7".parse().ok(),
            user: "alice@example.org".into(),
            password: "a\nb\tc".into(),
        };
        assert_eq!(Request::decode(&r.encode()), Some(r.clone()));
        let lookup = Request {
            op: Op::Lookup,
            ip: None,
            password: String::new(),
            ..r
        };
        assert_eq!(Request::decode(&lookup.encode()), Some(lookup));
    }

    #[test]
    fn malformed_requests_decode_to_nothing() {
        let ok = b"palisade-auth-1\0login\0imap\x00192.0.2.1\0a@b.c\0pw\0";
        assert!(Request::decode(ok).is_some());
        for bad in [
            &b"palisade-auth-2\0login\0imap\x00192.0.2.1\0a@b.c\0pw\0"[..],
            b"palisade-auth-1\0delete\0imap\x00192.0.2.1\0a@b.c\0pw\0",
            b"palisade-auth-1\0login\0im ap\x00192.0.2.1\0a@b.c\0pw\0",
            b"palisade-auth-1\0login\0imap\0not-an-ip\0a@b.c\0pw\0",
            b"palisade-auth-1\0login\0imap\x00192.0.2.1\0\0pw\0",
            b"palisade-auth-1\0login\0imap\x00192.0.2.1\0a@b.c\0pw",
            b"palisade-auth-1\0login\0imap\x00192.0.2.1\0a@b.c\0pw\0extra\0",
        ] {
            assert_eq!(Request::decode(bad), None, "{bad:?}");
        }
        assert_eq!(Request::decode(&[0; MAX_REQUEST + 1]), None);
    }

    #[test]
    fn answers_round_trip_and_reject_injection() {
        for a in [
            Answer::Ok("alice@example.org".into()),
            Answer::Refused,
            Answer::Unknown,
            Answer::TempFail,
        ] {
            assert_eq!(Answer::decode(a.encode().as_bytes()), Some(a));
        }
        // A user name that would add a field to Dovecot's tab-separated reply.
        assert_eq!(Answer::decode(b"ok alice\tuserdb_uid=0\n"), None);
        assert_eq!(Answer::decode(b"ok \n"), None);
        assert_eq!(Answer::decode(b"ok alice"), None);
    }

    #[test]
    fn services_map_to_scopes() {
        assert_eq!(scope_of_service("imap"), AppScope::Imap);
        assert_eq!(scope_of_service("pop3"), AppScope::Imap);
        assert_eq!(scope_of_service("submission"), AppScope::Submission);
    }
}
