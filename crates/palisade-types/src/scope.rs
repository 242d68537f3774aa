//! What an app password may be used for: a leaked IMAP password must not send mail as
//! its user, and a mail client's sending password must not read the mailbox.

use std::fmt;

/// The service an app password opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppScope {
    /// SMTP submission (ports 587 and 465).
    Submission,
    /// Mailbox access through Dovecot (IMAP, POP3, ManageSieve): every service that
    /// asks `palisade auth checkpassword`.
    Imap,
}

impl AppScope {
    pub const ALL: [AppScope; 2] = [AppScope::Submission, AppScope::Imap];

    /// The name used in the store, the CLI and the logs.
    pub fn name(self) -> &'static str {
        match self {
            AppScope::Submission => "submission",
            AppScope::Imap => "imap",
        }
    }

    pub fn parse(s: &str) -> Option<AppScope> {
        AppScope::ALL.into_iter().find(|a| a.name() == s)
    }
}

impl fmt::Display for AppScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_exactly() {
        for s in AppScope::ALL {
            assert_eq!(AppScope::parse(s.name()), Some(s));
        }
        assert_eq!(AppScope::parse("IMAP"), None);
        assert_eq!(AppScope::parse("all"), None);
    }
}
