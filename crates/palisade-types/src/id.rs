//! Identifiers: [`QueueId`] names a spooled message, [`SessionId`] a connection.
//!
//! A queue id is 16 lower-case hex digits: 40 bits of seconds since the Unix epoch
//! followed by 24 random bits, so ids sort by arrival and never collide in practice
//! (collisions are also checked when the spool file is created with `create_new`).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(u64);

impl QueueId {
    pub fn generate() -> QueueId {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        QueueId(((secs & 0xff_ffff_ffff) << 24) | (rand::random::<u64>() & 0xff_ffff))
    }

    /// Parses the 16-hex-digit form; anything else (path tricks included) is `None`.
    pub fn parse(s: &str) -> Option<QueueId> {
        if s.len() != 16
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        u64::from_str_radix(s, 16).ok().map(QueueId)
    }

    /// Seconds since the epoch at which the id was made.
    pub fn timestamp(&self) -> u64 {
        self.0 >> 24
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Names one connection in every log line of its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(u64);

impl SessionId {
    pub fn generate() -> SessionId {
        SessionId(rand::random::<u64>())
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_id_round_trips_and_rejects_path_tricks() {
        let id = QueueId::generate();
        assert_eq!(QueueId::parse(&id.to_string()), Some(id));
        assert_eq!(QueueId::parse("../../etc/passwd"), None);
        assert_eq!(QueueId::parse("ABCDEF0123456789"), None);
        assert_eq!(QueueId::parse("0123"), None);
    }
}
