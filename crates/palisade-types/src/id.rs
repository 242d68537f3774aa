//! Identifiers: [`QueueId`] names a spooled message, [`SessionId`] a connection.
//!
//! A queue id is 16 lower-case hex digits: 40 bits of seconds since the Unix epoch
//! followed by 24 bits from a per-process counter that starts at a random value, so ids
//! sort by arrival and one process never repeats one (it would take 16.7 million ids in
//! a second). Random bits alone were not enough: at a few hundred messages a second the
//! birthday bound made two messages of the same second share an id every few thousand
//! messages, and the second one's Maildir file replaced the first's. The spool also
//! refuses an id whose file exists in any of its directories.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The low 24 bits of the next queue id (see the module comment).
static NEXT: AtomicU32 = AtomicU32::new(0);
static START: OnceLock<u32> = OnceLock::new();

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(u64);

impl QueueId {
    pub fn generate() -> QueueId {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let start = *START.get_or_init(rand::random::<u32>);
        let low = start.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed)) & 0xff_ffff;
        QueueId(((secs & 0xff_ffff_ffff) << 24) | u64::from(low))
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

    /// A million ids as fast as one thread makes them (many per second): all distinct.
    #[test]
    fn queue_ids_of_one_process_never_repeat() {
        let mut ids: Vec<QueueId> = (0..1_000_000).map(|_| QueueId::generate()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 1_000_000);
    }
}
