//! BDAT chunk sizes and MAIL's SIZE= as any bytes, after a transaction is set up. A
//! BDAT line whose size is not a number below 2^64 must end the session (its chunk
//! cannot be framed, issue 15); any other must keep it open, reading its chunk.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_smtp::{
    AuthMode, BareLinePolicy, RecipientDecision, SenderDecision, Session, SessionConfig, Step,
    Timeouts,
};
use palisade_types::{Domain, QueueId};
use std::time::Duration;

fn session() -> Option<Session> {
    let cfg = SessionConfig {
        hostname: "mx.local.test".into(),
        postmaster_domain: Domain::parse("local.test").ok()?,
        max_message_size: 1 << 20,
        max_recipients: 4,
        max_errors: 20,
        starttls: false,
        auth: AuthMode::Plaintext,
        require_auth: false,
        bare_line_policy: BareLinePolicy::Reject,
        timeouts: Timeouts {
            idle: Duration::from_secs(1),
            command: Duration::from_secs(1),
            data: Duration::from_secs(1),
        },
    };
    Some(Session::new(cfg, [192, 0, 2, 1].into()))
}

fn run(s: &mut Session, bytes: &[u8]) {
    s.feed(bytes);
    for _ in 0..10_000 {
        match s.next_step() {
            Step::NeedInput | Step::Close => return,
            Step::CheckSender(_) => s.sender_decision(SenderDecision::Accept),
            Step::CheckRecipient(_) => s.recipient_decision(RecipientDecision::Accept),
            Step::EndMessage => s.message_queued(QueueId::generate()),
            _ => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(mut s) = session() else { return };
    let arg: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| *b != b'\r' && *b != b'\n')
        .take(100)
        .collect();
    let setup = b"EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<ab@local.test>\r\n";
    run(&mut s, setup);
    let mut line = b"BDAT ".to_vec();
    line.extend_from_slice(&arg);
    line.extend_from_slice(b"\r\n");
    run(&mut s, &line);
    let text = std::str::from_utf8(&arg).unwrap_or("x");
    let (size, last) = text.split_once(' ').map_or((text, None), |(a, b)| (a, Some(b)));
    let framed = !size.is_empty()
        && size.bytes().all(|b| b.is_ascii_digit())
        && size.parse::<u64>().is_ok_and(|n| n < u64::MAX)
        && last.is_none_or(|l| l.eq_ignore_ascii_case("LAST"));
    assert_eq!(s.is_closed(), !framed, "BDAT {text:?}");
    // SIZE= never wraps into a small number: past 2^64 it is refused.
    let Some(mut s) = session() else { return };
    let mut mail = b"EHLO c.test\r\nMAIL FROM:<a@b.test> SIZE=".to_vec();
    mail.extend_from_slice(&arg);
    mail.extend_from_slice(b"\r\n");
    run(&mut s, &mail);
    let out = String::from_utf8_lossy(&s.take_output()).into_owned();
    if text.len() > 20 && text.bytes().all(|b| b.is_ascii_digit()) && text.parse::<u64>().is_err() {
        assert!(!out.contains("250 2.1.0"), "SIZE={text} accepted: {out}");
    }
});
