//! Header anomalies that phishing leans on: several From addresses (RFC 5322 §3.6.2
//! allows several only with a Sender), a Sender of another organisation than From, a
//! missing Date or Message-ID (required by RFC 5322 §3.6; bulk phishing tools often
//! leave them out), and encoded words (RFC 2047) that hide an address in the display
//! name, where a reader takes it for the sender.

use crate::impersonation::org_domain;
use mail_parser::{HeaderName, Message, MessageParser};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anomaly {
    /// Several authors; with a Sender this is valid (RFC 5322 §3.6.2) but rare.
    SeveralFrom {
        count: usize,
        with_sender: bool,
    },
    SenderOfAnotherOrganisation {
        from: String,
        sender: String,
    },
    MissingDate,
    MissingMessageId,
    /// An RFC 2047 encoded display name that decodes to something with an address.
    EncodedAddress {
        shown: String,
    },
}

impl Anomaly {
    pub fn describe(&self) -> String {
        match self {
            Anomaly::SeveralFrom { count, .. } => {
                format!("the message claims {count} senders at once")
            }
            Anomaly::SenderOfAnotherOrganisation { from, sender } => {
                format!("it is from {from} but was sent by {sender}")
            }
            Anomaly::MissingDate => "the message has no date".into(),
            Anomaly::MissingMessageId => "the message has no Message-ID".into(),
            Anomaly::EncodedAddress { shown } => {
                format!("the sender's name hides an address in encoded text ({shown})")
            }
        }
    }
}

/// The anomalies of a message's header section.
pub fn check(message: &[u8]) -> Vec<Anomaly> {
    match MessageParser::new().parse_headers(message) {
        Some(parsed) => check_parsed(&parsed),
        None => Vec::new(),
    }
}

/// [`check`] of a message already parsed (its root part's header section).
pub fn check_parsed(parsed: &Message<'_>) -> Vec<Anomaly> {
    let mut out = Vec::new();
    let from_fields = parsed
        .headers()
        .iter()
        .filter(|h| h.name == HeaderName::From)
        .count();
    let from: Vec<(Option<String>, String)> = parsed
        .from()
        .map(|a| {
            a.iter()
                .filter_map(|x| {
                    Some((
                        x.name.as_deref().map(str::to_string),
                        x.address.as_deref()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let count = from.len().max(from_fields);
    if count > 1 {
        out.push(Anomaly::SeveralFrom {
            count,
            with_sender: parsed.sender().is_some(),
        });
    }
    if let (Some((_, f)), Some(sender)) = (
        from.first(),
        parsed
            .sender()
            .and_then(|s| s.first())
            .and_then(|s| s.address.as_deref()),
    ) && let (Some(fo), Some(so)) = (org_domain(f), org_domain(sender))
        && fo != so
    {
        out.push(Anomaly::SenderOfAnotherOrganisation {
            from: fo,
            sender: so,
        });
    }
    if parsed.date().is_none() {
        out.push(Anomaly::MissingDate);
    }
    if parsed.message_id().is_none() {
        out.push(Anomaly::MissingMessageId);
    }
    // Encoded words in the raw From field whose decoded name carries an address.
    let raw_from_encoded = parsed
        .headers_raw()
        .any(|(name, value)| name.eq_ignore_ascii_case("from") && value.contains("=?"));
    if raw_from_encoded {
        for (name, _) in &from {
            if let Some(n) = name
                && (n.contains('@') || n.contains('<'))
            {
                out.push(Anomaly::EncodedAddress { shown: n.clone() });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "From: Alice <alice@example.com>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\nhi\r\n";

    #[test]
    fn a_normal_header_has_no_anomaly() {
        assert!(check(OK.as_bytes()).is_empty());
        let with_sender = OK.replace("Date:", "Sender: list@lists.example.com\r\nDate:");
        assert!(
            check(with_sender.as_bytes()).is_empty(),
            "same organisation"
        );
    }

    #[test]
    fn missing_fields_and_several_senders() {
        let m = "From: a@example.com, b@example.org\r\n\r\nx\r\n";
        assert_eq!(
            check(m.as_bytes()),
            vec![
                Anomaly::SeveralFrom {
                    count: 2,
                    with_sender: false
                },
                Anomaly::MissingDate,
                Anomaly::MissingMessageId
            ]
        );
        let two_fields = OK.replace("Date:", "From: ceo@example.com\r\nDate:");
        assert!(
            check(two_fields.as_bytes()).contains(&Anomaly::SeveralFrom {
                count: 2,
                with_sender: false
            })
        );
    }

    #[test]
    fn sender_of_another_organisation() {
        let m = OK.replace("Date:", "Sender: bulk@mailer.test\r\nDate:");
        assert_eq!(
            check(m.as_bytes()),
            vec![Anomaly::SenderOfAnotherOrganisation {
                from: "example.com".into(),
                sender: "mailer.test".into()
            }]
        );
    }

    #[test]
    fn rfc2047_encoded_names_that_hide_an_address() {
        // "ceo@example.com" encoded in the display name of a mail from elsewhere.
        let m = OK.replace(
            "From: Alice <alice@example.com>",
            "From: =?utf-8?B?Y2VvQGV4YW1wbGUuY29t?= <x@evil.test>",
        );
        assert_eq!(
            check(m.as_bytes()),
            vec![Anomaly::EncodedAddress {
                shown: "ceo@example.com".into()
            }]
        );
        // An encoded name without an address is normal (non-ASCII names).
        let m = OK.replace("From: Alice", "From: =?utf-8?Q?J=C3=BCrgen?=");
        assert!(check(m.as_bytes()).is_empty());
    }
}
