//! Delivery status notifications (RFC 3464, in an RFC 6522 multipart/report).
//!
//! Built with mail-builder. One DSN per failed delivery attempt that ended a message's
//! life for some recipients: permanent failures, or expiry (RFC 3463 X.4.7).

use mail_builder::MessageBuilder;
use mail_builder::headers::HeaderType;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::text::Text;
use mail_builder::mime::MimePart;
use palisade_types::Address;

/// One recipient that failed, and why (the remote reply or our own reason).
#[derive(Debug, Clone)]
pub struct Failure {
    pub rcpt: Address,
    pub reason: String,
}

/// The RFC 3463 code inside `reason` ("550 5.1.1 ..." gives 5.1.1), else a default.
fn status_code(reason: &str, expired: bool) -> String {
    let found = reason.split_whitespace().find(|t| {
        let parts: Vec<&str> = t.split('.').collect();
        parts.len() == 3
            && matches!(parts[0], "4" | "5")
            && parts[1..]
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
    });
    match (found, expired) {
        // RFC 3464 §2.3.4: a failed action carries a 5.x.x status; expiry is 4.4.7.
        (_, true) => "4.4.7".to_string(),
        (Some(code), false) => format!("5{}", &code[1..]),
        (None, false) => "5.0.0".to_string(),
    }
}

/// Printable, one line (for header-like fields).
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The DSN for `failures` of a message from `sender`, whose header section is
/// `original_headers`. `arrived` is the original arrival time (RFC 5322 date text).
pub fn build(
    hostname: &str,
    sender: &Address,
    original_headers: &[u8],
    arrival_date: &str,
    failures: &[Failure],
    expired: bool,
) -> std::io::Result<Vec<u8>> {
    let mut human = String::from(if expired {
        "Your message could not be delivered in time to these recipients; Palisade has stopped trying:\r\n\r\n"
    } else {
        "Your message could not be delivered to these recipients:\r\n\r\n"
    });
    let mut status = format!(
        "Reporting-MTA: dns; {hostname}\r\nArrival-Date: {}\r\n",
        one_line(arrival_date)
    );
    for f in failures {
        human.push_str(&format!("  {}: {}\r\n", f.rcpt, one_line(&f.reason)));
        status.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; {}\r\nAction: failed\r\nStatus: {}\r\nDiagnostic-Code: smtp; {}\r\n",
            f.rcpt,
            status_code(&f.reason, expired),
            one_line(&f.reason)
        ));
    }
    human.push_str("\r\nThe headers of your message are attached.\r\n");
    let report = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "delivery-status"),
        vec![
            MimePart::new("text/plain", human),
            MimePart::new("message/delivery-status", status),
            MimePart::new("text/rfc822-headers", original_headers.to_vec()),
        ],
    );
    let daemon = format!("MAILER-DAEMON@{hostname}");
    MessageBuilder::new()
        .from(("Mail Delivery System", daemon.as_str()))
        .to(sender.to_string())
        .subject(if expired {
            "Delivery delayed too long: message returned"
        } else {
            "Undelivered mail returned to sender"
        })
        // RFC 3834 §5: automatic responses say so, and nobody answers them automatically.
        .header(
            "Auto-Submitted",
            HeaderType::Text(Text::new("auto-replied")),
        )
        .body(report)
        .write_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes() {
        assert_eq!(
            status_code("mx said: 550 5.1.1 no such user", false),
            "5.1.1"
        );
        assert_eq!(status_code("556 5.1.10 null MX", false), "5.1.10");
        assert_eq!(status_code("mx said: 552 too big", false), "5.0.0");
        assert_eq!(status_code("451 4.4.1 no answer", true), "4.4.7");
    }

    #[test]
    fn rfc3464_report_structure() {
        let sender = Address::parse("alice@local.test").unwrap_or_else(|_| panic!("address"));
        let dsn = build(
            "mx.local.test",
            &sender,
            b"Subject: hi\r\nFrom: alice@local.test\r\n",
            "Tue, 01 Dec 2026 10:00:00 +0000",
            &[Failure {
                rcpt: Address::parse("bob@remote.test").unwrap_or_else(|_| panic!("address")),
                reason: "mx.remote.test said: 550 5.1.1 no such user".into(),
            }],
            false,
        )
        .unwrap_or_default();
        let text = String::from_utf8_lossy(&dsn);
        for want in [
            "multipart/report",
            "report-type=\"delivery-status\"",
            "message/delivery-status",
            "Reporting-MTA: dns; mx.local.test",
            "Final-Recipient: rfc822; bob@remote.test",
            "Action: failed",
            "Status: 5.1.1",
            "Diagnostic-Code: smtp; mx.remote.test said: 550 5.1.1 no such user",
            "text/rfc822-headers",
            "Auto-Submitted: auto-replied",
            "To: <alice@local.test>",
        ] {
            assert!(text.contains(want), "{want} missing in\n{text}");
        }
    }
}
