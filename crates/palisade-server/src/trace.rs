//! Trace headers: Received (RFC 5321 §4.4, with TLS details as RFC 8314 §4.3 asks).

use palisade_types::{Envelope, QueueId};
use std::time::{SystemTime, UNIX_EPOCH};

/// `with` protocol names from the IANA mail transmission types registry
/// (RFC 3848, RFC 6531 §3.7.3).
fn protocol(env: &Envelope) -> &'static str {
    match (env.smtputf8, env.tls.is_some(), env.auth.is_some()) {
        (true, true, true) => "UTF8SMTPSA",
        (true, true, false) => "UTF8SMTPS",
        (true, false, true) => "UTF8SMTPA",
        (true, false, false) => "UTF8SMTP",
        (false, true, true) => "ESMTPSA",
        (false, true, false) => "ESMTPS",
        (false, false, true) => "ESMTPA",
        (false, false, false) => "ESMTP",
    }
}

/// The Received header for a message, folded, ending in CRLF.
/// `hide_client` leaves out the `from` clause (the submitter's name and address), for
/// privacy on submission (`submission.hide_client_ip`).
pub fn received(
    env: &Envelope,
    hostname: &str,
    id: QueueId,
    now: SystemTime,
    hide_client: bool,
) -> Vec<u8> {
    let from = if hide_client {
        String::new()
    } else {
        format!("{}\r\n\t", from_clause(&env.helo, env.client_ip))
    };
    let mut h = format!(
        "Received: {from}by {} (Palisade) with {} id {}",
        hostname,
        protocol(env),
        id
    );
    if let Some(tls) = &env.tls {
        h.push_str(&format!(
            "\r\n\t(using {} with cipher {})",
            tls.version, tls.cipher
        ));
    }
    // RFC 5321 §7.2: "for" only for a single recipient, so Bcc lists are not disclosed.
    if let [only] = env.rcpt_to.as_slice() {
        h.push_str(&format!("\r\n\tfor <{only}>"));
    }
    h.push_str(&format!(";\r\n\t{}\r\n", rfc5322_date(now)));
    h.into_bytes()
}

/// RFC 5321 §4.4 `From-domain`: the HELO name when it is a domain or an address
/// literal, with the client's address as TCP-info. Anything else the client said is
/// no domain: the address literal stands in its place, and the text follows as a
/// comment, kept to characters a comment can hold (no parentheses, backslashes,
/// quotes or `;`, which would end the clause), at most 64 of them. HELO text could
/// otherwise forge trace fields (`HELO x; Mon, 1 Jan 2001` closes the clause).
fn from_clause(helo: &str, ip: std::net::IpAddr) -> String {
    let literal = match ip {
        std::net::IpAddr::V4(v4) => format!("[{v4}]"),
        std::net::IpAddr::V6(v6) => format!("[IPv6:{v6}]"),
    };
    if palisade_types::Domain::parse(helo).is_ok() && !helo.contains(['(', ')', ';', '\\']) {
        return format!("from {helo} ({literal})");
    }
    let shown: String = helo
        .chars()
        .filter(|c| c.is_ascii_graphic() && !matches!(c, '(' | ')' | '\\' | '"' | ';'))
        .take(64)
        .collect();
    format!("from {literal} ({literal}) (HELO {shown:?})")
}

/// RFC 5322 §3.3 date-time in UTC, e.g. `Sat, 28 Nov 2026 13:44:47 +0000`.
pub fn rfc5322_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        WD[(days.rem_euclid(7)) as usize],
        d,
        MON[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub use palisade_types::calendar::civil_from_days;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use palisade_types::{Address, BodyType, TlsInfo};
    use std::time::Duration;

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 +0000");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_873_487);
        assert_eq!(rfc5322_date(t), "Sat, 28 Nov 2026 13:44:47 +0000");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc5322_date(leap), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn received_names_tls_and_single_recipient() {
        let env = Envelope {
            mail_from: None,
            rcpt_to: vec![Address::parse("a@local.test").unwrap()],
            body: BodyType::SevenBit,
            smtputf8: false,
            declared_size: None,
            helo: "client.test".into(),
            client_ip: "192.0.2.9".parse().unwrap(),
            tls: Some(TlsInfo {
                version: "TLSv1.3".into(),
                cipher: "TLS13_AES_256_GCM_SHA384".into(),
            }),
            auth: None,
            require_tls: false,
        };
        let h = String::from_utf8(received(
            &env,
            "mx.local.test",
            QueueId::parse("00000000000000ff").unwrap(),
            UNIX_EPOCH,
            false,
        ))
        .unwrap();
        assert_eq!(
            h,
            "Received: from client.test ([192.0.2.9])\r\n\tby mx.local.test (Palisade) with ESMTPS id 00000000000000ff\r\n\t(using TLSv1.3 with cipher TLS13_AES_256_GCM_SHA384)\r\n\tfor <a@local.test>;\r\n\tThu, 01 Jan 1970 00:00:00 +0000\r\n"
        );
    }

    /// Issue 15, Low: HELO text went into Received as sent, so a client could close
    /// the from clause and forge what follows.
    #[test]
    fn rfc5321_4_4_helo_text_that_is_no_domain_is_a_comment() {
        let ip: std::net::IpAddr = "192.0.2.9".parse().unwrap();
        assert_eq!(
            from_clause("client.test", ip),
            "from client.test ([192.0.2.9])"
        );
        assert_eq!(
            from_clause("[192.0.2.9]", ip),
            "from [192.0.2.9] ([192.0.2.9])"
        );
        assert_eq!(
            from_clause("x;by(evil)\"mx\"", ip),
            "from [192.0.2.9] ([192.0.2.9]) (HELO \"xbyevilmx\")"
        );
        assert_eq!(
            from_clause("not_a_domain", "2001:db8::1".parse().unwrap()),
            "from [IPv6:2001:db8::1] ([IPv6:2001:db8::1]) (HELO \"not_a_domain\")"
        );
        let long = "a".repeat(300);
        assert!(from_clause(&format!("{long}_"), ip).len() < 120);
    }
}
