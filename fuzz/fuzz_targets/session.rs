//! Feeds arbitrary bytes, split at arbitrary points, to an SMTP session driven by a
//! fake driver. The session must never panic and its buffers must stay bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_smtp::{
    AuthMode, BareLinePolicy, RecipientDecision, SenderDecision, Session, SessionConfig, Step,
    Timeouts,
};
use palisade_types::{Domain, QueueId, TlsInfo, reply};
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let Ok(domain) = Domain::parse("local.test") else { return };
    let cfg = SessionConfig {
        hostname: "mx.local.test".into(),
        postmaster_domain: domain,
        max_message_size: 4096,
        max_recipients: 4,
        max_errors: 20,
        starttls: true,
        auth: AuthMode::Plaintext,
        require_auth: data.get(1).is_some_and(|b| b & 1 == 1),
        bare_line_policy: if data.first().is_some_and(|b| b & 1 == 1) {
            BareLinePolicy::Normalise
        } else {
            BareLinePolicy::Reject
        },
        timeouts: Timeouts {
            idle: Duration::from_secs(1),
            command: Duration::from_secs(1),
            data: Duration::from_secs(1),
        },
    };
    let mut s = Session::new(cfg, [192, 0, 2, 1].into());
    // The first byte of each piece picks its length, so splits vary.
    let mut rest = data;
    let mut steps = 0usize;
    while let Some((&len, tail)) = rest.split_first() {
        let n = (len as usize % 64 + 1).min(tail.len());
        s.feed(&tail[..n]);
        rest = &tail[n..];
        loop {
            steps += 1;
            assert!(steps < 1_000_000, "session loops without consuming input");
            match s.next_step() {
                Step::NeedInput | Step::Close => break,
                Step::CheckSender(a) => s.sender_decision(if a.is_some_and(|a| a.local().len() % 3 == 0) {
                    SenderDecision::Reject(palisade_types::reply::SPF_REJECT)
                } else {
                    SenderDecision::Accept
                }),
                Step::CheckRecipient(a) => s.recipient_decision(if a.local().len() % 2 == 0 {
                    RecipientDecision::Accept
                } else {
                    RecipientDecision::Reject(reply::NO_SUCH_USER)
                }),
                Step::EndMessage => s.message_queued(QueueId::generate()),
                Step::Authenticate { responses, .. } => s.auth_result(
                    if responses.first().is_some_and(|r| r.len() % 2 == 0) {
                        Ok("u@local.test".into())
                    } else {
                        Err(reply::AUTH_FAILED)
                    },
                ),
                Step::StartTls => s.tls_established(TlsInfo {
                    version: "TLSv1.3".into(),
                    cipher: "x".into(),
                }),
                Step::StartMessage(_) | Step::Body(_) | Step::AbortMessage => {}
            }
        }
        let _ = s.take_output();
        if s.is_closed() {
            break;
        }
    }
});
