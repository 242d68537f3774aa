//! Transcript tests for the session, one per RFC clause or attack class.
#![allow(clippy::unwrap_used)]
// The protocol's own tests stand in for the committer: they acknowledge without a
// `Durable`, which only the server's `conn::acknowledge` may do (clippy.toml).
#![allow(clippy::disallowed_methods)]

use super::*;
use palisade_types::reply;

const LOCAL: &str = "local.test";

fn config() -> SessionConfig {
    SessionConfig {
        hostname: "mx.local.test".into(),
        postmaster_domain: Domain::parse(LOCAL).unwrap(),
        max_message_size: 10_000,
        max_recipients: 3,
        max_errors: 5,
        starttls: true,
        auth: AuthMode::Off,
        require_auth: false,
        bare_line_policy: BareLinePolicy::Reject,
        timeouts: Timeouts {
            idle: Duration::from_secs(60),
            command: Duration::from_secs(60),
            data: Duration::from_secs(60),
        },
    }
}

/// A fake driver: the recipient policy of a one-domain server, an in-memory spool.
struct Dialog {
    s: Session,
    current: Option<(Envelope, Vec<u8>)>,
    queued: Vec<(Envelope, Vec<u8>)>,
    aborted: usize,
    tls_handshakes: usize,
    closed: bool,
}

impl Dialog {
    fn new() -> Self {
        Self::with(config())
    }

    fn with(cfg: SessionConfig) -> Self {
        let mut d = Dialog {
            s: Session::new(cfg, "192.0.2.7".parse().unwrap()),
            current: None,
            queued: Vec::new(),
            aborted: 0,
            tls_handshakes: 0,
            closed: false,
        };
        let greeting = String::from_utf8(d.s.take_output()).unwrap();
        assert!(
            greeting.starts_with("220 mx.local.test ESMTP"),
            "{greeting}"
        );
        d
    }

    /// Senders at `spoofed.test` are refused at MAIL (as policy would), others pass.
    fn sender_policy(a: Option<&Address>) -> SenderDecision {
        match a {
            Some(a) if a.domain().as_str() == "spoofed.test" => {
                SenderDecision::Reject(reply::SPF_REJECT)
            }
            Some(a) if a.domain().as_str() == "tempfail.test" => {
                SenderDecision::Reject(reply::SPF_TEMPFAIL)
            }
            _ => SenderDecision::Accept,
        }
    }

    fn policy(a: &Address) -> RecipientDecision {
        if a.domain().as_str() != LOCAL {
            RecipientDecision::Reject(reply::NO_RELAY)
        } else if ["alice", "bob", "carol", "dave", "postmaster"].contains(&a.local()) {
            RecipientDecision::Accept
        } else {
            RecipientDecision::Reject(reply::NO_SUCH_USER)
        }
    }

    /// Feeds raw bytes and drives the session until it needs input; returns its output.
    fn raw(&mut self, bytes: &[u8]) -> String {
        self.s.feed(bytes);
        let mut out = Vec::new();
        loop {
            match self.s.next_step() {
                Step::NeedInput => break,
                Step::Close => {
                    self.closed = true;
                    break;
                }
                Step::CheckSender(a) => self.s.sender_decision(Self::sender_policy(a.as_ref())),
                Step::Authenticate { responses, .. } => {
                    // PLAIN "\0u\0p" or LOGIN "u","p" (base64) is the one valid login.
                    let ok = responses == ["AHUAcA=="] || responses == ["dQ==", "cA=="];
                    self.s.auth_result(if ok {
                        Ok("u@local.test".into())
                    } else {
                        Err(reply::AUTH_FAILED)
                    })
                }
                Step::CheckRecipient(a) => self.s.recipient_decision(Self::policy(&a)),
                Step::StartMessage(env) => self.current = Some((env, Vec::new())),
                Step::Body(b) => self.current.as_mut().unwrap().1.extend_from_slice(&b),
                Step::EndMessage => {
                    self.queued.push(self.current.take().unwrap());
                    self.s
                        .message_queued(QueueId::parse("00000000000000aa").unwrap());
                }
                Step::AbortMessage => {
                    self.current = None;
                    self.aborted += 1;
                }
                Step::StartTls => {
                    out.extend(self.s.take_output());
                    self.tls_handshakes += 1;
                    self.s.tls_established(TlsInfo {
                        version: "TLSv1.3".into(),
                        cipher: "TLS13_AES_128_GCM_SHA256".into(),
                    });
                }
            }
        }
        out.extend(self.s.take_output());
        String::from_utf8(out).unwrap()
    }

    /// Sends one command and asserts the reply starts with `expect` (e.g. "250 2.1.0").
    fn says(&mut self, cmd: &str, expect: &str) -> &mut Self {
        let out = self.raw(format!("{cmd}\r\n").as_bytes());
        assert!(
            out.starts_with(expect),
            "{cmd:?}: expected {expect:?}, got {out:?}"
        );
        self
    }

    fn ehlo(&mut self) -> &mut Self {
        self.says("EHLO client.example", "250-mx.local.test")
    }

    fn mail_from(&mut self, a: &str, expect: &str) -> &mut Self {
        self.says(&format!("MAIL FROM:<{a}>"), expect)
    }

    fn rcpt_to(&mut self, a: &str, expect: &str) -> &mut Self {
        self.says(&format!("RCPT TO:<{a}>"), expect)
    }
}

#[test]
fn rfc5321_4_1_1_1_ehlo_advertises_extensions() {
    let mut d = Dialog::new();
    let out = d.raw(b"EHLO client.example\r\n");
    for ext in [
        "PIPELINING",
        "SIZE 10000",
        "8BITMIME",
        "SMTPUTF8",
        "CHUNKING",
        "ENHANCEDSTATUSCODES",
        "STARTTLS",
    ] {
        assert!(
            out.contains(&format!("250-{ext}\r\n")),
            "{ext} missing: {out}"
        );
    }
    assert!(out.ends_with("250 HELP\r\n"));
}

#[test]
fn rfc5321_4_1_1_1_helo_is_plain() {
    Dialog::new().says(
        "HELO client.example",
        "250 mx.local.test greets client.example",
    );
}

#[test]
fn rfc5321_mail_before_hello_is_bad_sequence() {
    Dialog::new().mail_from("a@remote.test", "503 5.5.1");
}

#[test]
fn full_transaction_with_data() {
    let mut d = Dialog::new();
    d.ehlo()
        .mail_from("sender@remote.test", "250 2.1.0")
        .rcpt_to("alice@local.test", "250 2.1.5")
        .says("DATA", "354");
    let out = d.raw(b"Subject: hi\r\n\r\nHello\r\n..dot\r\n.\r\n");
    assert_eq!(out, "250 2.0.0 Message queued as 00000000000000aa\r\n");
    let (env, body) = &d.queued[0];
    assert_eq!(
        env.mail_from.as_ref().unwrap().to_string(),
        "sender@remote.test"
    );
    assert_eq!(env.rcpt_to[0].to_string(), "alice@local.test");
    assert_eq!(env.helo, "client.example");
    assert_eq!(body, b"Subject: hi\r\n\r\nHello\r\n.dot\r\n");
}

#[test]
fn rfc5321_4_5_5_null_reverse_path() {
    let mut d = Dialog::new();
    d.ehlo()
        .mail_from("", "250 2.1.0")
        .rcpt_to("bob@local.test", "250")
        .says("DATA", "354");
    d.raw(b"x\r\n.\r\n");
    assert_eq!(d.queued[0].0.mail_from, None);
}

#[test]
fn rfc5321_4_5_1_postmaster_without_domain() {
    let mut d = Dialog::new();
    d.ehlo()
        .mail_from("a@remote.test", "250")
        .says("RCPT TO:<Postmaster>", "250 2.1.5");
}

#[test]
fn rfc5321_nested_mail_is_refused() {
    let mut d = Dialog::new();
    d.ehlo()
        .mail_from("a@remote.test", "250")
        .mail_from("b@remote.test", "503 5.5.1");
}

#[test]
fn rfc5321_rcpt_without_mail() {
    Dialog::new()
        .ehlo()
        .rcpt_to("alice@local.test", "503 5.5.1");
}

#[test]
fn rfc5321_data_without_rcpt() {
    let mut d = Dialog::new();
    d.ehlo()
        .mail_from("a@remote.test", "250")
        .says("DATA", "503 5.5.1");
}

#[test]
fn rfc2920_3_1_data_after_only_rejected_recipients() {
    let mut d = Dialog::new();
    d.ehlo()
        .mail_from("a@remote.test", "250")
        .rcpt_to("nobody@local.test", "550 5.1.1")
        .says("DATA", "554 5.5.1");
}

#[test]
fn unknown_local_user_is_550_5_1_1() {
    let mut d = Dialog::new();
    d.ehlo()
        .mail_from("a@remote.test", "250")
        .rcpt_to("zed@local.test", "550 5.1.1");
}

#[test]
fn relay_attempt_is_554_5_7_1() {
    let mut d = Dialog::new();
    d.ehlo()
        .mail_from("a@remote.test", "250")
        .rcpt_to("victim@elsewhere.test", "554 5.7.1");
}

#[test]
fn relay_address_tricks_are_refused() {
    let mut d = Dialog::new();
    d.ehlo().mail_from("a@remote.test", "250");
    d.rcpt_to("victim%elsewhere.test@local.test", "550 5.7.1");
    d.rcpt_to("elsewhere.test!victim@local.test", "550 5.7.1");
    d.rcpt_to("\"victim@elsewhere.test\"@local.test", "550 5.7.1");
    // A source route is ignored (RFC 5321 §4.1.1.3 / Appendix C): the address that
    // remains decides, and it is not relayed.
    d.rcpt_to("@local.test:victim@elsewhere.test", "554 5.7.1");
}

#[test]
fn rfc5321_4_5_3_1_10_too_many_recipients() {
    let mut d = Dialog::new();
    d.ehlo().mail_from("a@remote.test", "250");
    for r in ["alice", "bob", "carol"] {
        d.rcpt_to(&format!("{r}@local.test"), "250");
    }
    d.rcpt_to("dave@local.test", "452 4.5.3");
}

#[test]
fn rfc1870_size_parameter_over_limit() {
    let mut d = Dialog::new();
    d.ehlo()
        .says("MAIL FROM:<a@remote.test> SIZE=10001", "552 5.3.4");
    d.says("MAIL FROM:<a@remote.test> SIZE=10000", "250");
}

#[test]
fn rfc1870_size_enforced_while_streaming() {
    let mut d = Dialog::new();
    d.ehlo()
        .mail_from("a@remote.test", "250")
        .rcpt_to("alice@local.test", "250")
        .says("DATA", "354");
    let mut big = vec![b'x'; 900];
    big.extend_from_slice(b"\r\n");
    let mut msg = big.repeat(12);
    msg.extend_from_slice(b".\r\n");
    assert!(d.raw(&msg).starts_with("552 5.3.4"));
    assert!(d.queued.is_empty());
    assert_eq!(d.aborted, 1);
}

#[test]
fn rfc6531_smtputf8_addresses() {
    let mut d = Dialog::new();
    d.ehlo().mail_from("θσερ@remote.test", "553 5.6.7");
    d.says("MAIL FROM:<θσερ@remote.test> SMTPUTF8", "250");
    d.rcpt_to("alice@local.test", "250").says("DATA", "354");
    d.raw("Subject: καλημέρα\r\n\r\nx\r\n.\r\n".as_bytes());
    assert!(d.queued[0].0.smtputf8);
}

#[test]
fn non_ascii_recipient_without_smtputf8() {
    let mut d = Dialog::new();
    d.ehlo()
        .mail_from("a@remote.test", "250")
        .rcpt_to("ἀλίκη@local.test", "553 5.6.7");
}

#[test]
fn nul_and_invalid_utf8_in_addresses() {
    let mut d = Dialog::new();
    d.ehlo();
    let out = d.raw(b"MAIL FROM:<a\0b@remote.test>\r\n");
    assert!(out.starts_with("501 5.1.7"), "{out}");
    let out = d.raw(b"MAIL FROM:<a\xff@remote.test> SMTPUTF8\r\n");
    assert!(out.starts_with("501 5.1.7"), "{out}");
    d.mail_from("a@remote.test", "250");
    let out = d.raw(b"RCPT TO:<al\0ice@local.test>\r\n");
    assert!(out.starts_with("501 5.1.3"), "{out}");
}

#[test]
fn rfc6152_8bitmime_body_type() {
    let mut d = Dialog::new();
    d.ehlo()
        .says("MAIL FROM:<a@remote.test> BODY=8BITMIME", "250")
        .rcpt_to("alice@local.test", "250")
        .says("DATA", "354");
    d.raw(b"caf\xc3\xa9\r\n.\r\n");
    assert_eq!(d.queued[0].0.body, BodyType::EightBitMime);
    assert_eq!(d.queued[0].1, b"caf\xc3\xa9\r\n");
}

#[test]
fn rfc5321_4_1_1_11_unadvertised_parameters() {
    let mut d = Dialog::new();
    d.ehlo()
        .says("MAIL FROM:<a@remote.test> BODY=BINARYMIME", "555 5.5.4");
    d.says("MAIL FROM:<a@remote.test> RET=FULL", "555 5.5.4");
    d.says("MAIL FROM:<a@remote.test> FOO=BAR", "555 5.5.4");
    d.mail_from("a@remote.test", "250");
    d.says("RCPT TO:<alice@local.test> NOTIFY=NEVER", "555 5.5.4");
}

#[test]
fn rfc2920_pipelined_replies_come_in_order_in_one_batch() {
    let mut d = Dialog::new();
    d.ehlo();
    let out = d.raw(
        b"MAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@local.test>\r\nRCPT TO:<nobody@local.test>\r\nRCPT TO:<bob@local.test>\r\nDATA\r\n",
    );
    let codes: Vec<&str> = out.lines().map(|l| &l[..3]).collect();
    assert_eq!(codes, ["250", "250", "550", "250", "354"]);
    let out = d.raw(b"hi\r\n.\r\nQUIT\r\n");
    assert!(out.starts_with("250 2.0.0 Message queued"));
    assert!(out.ends_with("221 2.0.0 Bye\r\n"));
    assert!(d.closed);
    assert_eq!(d.queued[0].0.rcpt_to.len(), 2);
}

#[test]
fn rfc3030_bdat_chunks() {
    let mut d = Dialog::new();
    d.ehlo()
        .mail_from("a@remote.test", "250")
        .rcpt_to("alice@local.test", "250");
    assert_eq!(
        d.raw(b"BDAT 5\r\nab\r\n."),
        "250 2.0.0 5 octets received\r\n"
    );
    let out = d.raw(b"BDAT 5 LAST\r\n.\r\n\r\n");
    assert!(out.starts_with("250 2.0.0 Message queued"), "{out}");
    assert_eq!(d.queued[0].1, b"ab\r\n..\r\n\r\n");
}

#[test]
fn rfc3030_bdat_zero_last_and_split_reads() {
    let mut d = Dialog::new();
    d.ehlo()
        .mail_from("a@remote.test", "250")
        .rcpt_to("alice@local.test", "250");
    assert!(d.raw(b"BDAT 6\r\nab").is_empty());
    assert!(d.raw(b"c\r").is_empty());
    assert!(d.raw(b"\nd").starts_with("250 2.0.0 6 octets"));
    assert!(
        d.raw(b"BDAT 0 LAST\r\n")
            .starts_with("250 2.0.0 Message queued")
    );
    assert_eq!(d.queued[0].1, b"abc\r\nd");
}

#[test]
fn rfc3030_bdat_without_transaction_is_read_and_refused() {
    let mut d = Dialog::new();
    d.ehlo();
    let out = d.raw(b"BDAT 10\r\nMAIL FROM:NOOP\r\n");
    assert_eq!(out, "503 5.5.1 Need MAIL command first\r\n250 2.0.0 OK\r\n");
}

#[test]
fn rfc3030_data_inside_bdat_transaction() {
    let mut d = Dialog::new();
    d.ehlo()
        .mail_from("a@remote.test", "250")
        .rcpt_to("alice@local.test", "250");
    d.raw(b"BDAT 3\r\nab\n");
    d.says("DATA", "503 5.5.1");
    d.says("MAIL FROM:<x@remote.test>", "503 5.5.1");
    assert!(
        d.raw(b"BDAT 2 LAST\r\nx\r\n").starts_with("550 5.5.2"),
        "bare LF refused"
    );
    assert_eq!(d.aborted, 1);
}

#[test]
fn rfc3030_bdat_oversized_chunk_is_read_and_refused() {
    let mut d = Dialog::new();
    d.ehlo()
        .mail_from("a@remote.test", "250")
        .rcpt_to("alice@local.test", "250");
    let mut cmd = b"BDAT 10001 LAST\r\n".to_vec();
    cmd.extend(vec![b'x'; 10001]);
    cmd.extend_from_slice(b"NOOP\r\n");
    let out = d.raw(&cmd);
    assert_eq!(
        out,
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n250 2.0.0 OK\r\n"
    );
}

#[test]
fn cve_2023_51764_smuggling_is_refused_whole() {
    let mut d = Dialog::new();
    d.ehlo()
        .mail_from("a@remote.test", "250")
        .rcpt_to("alice@local.test", "250")
        .says("DATA", "354");
    let out = d.raw(
        b"Subject: x\r\n\r\nhello\n.\nMAIL FROM:<admin@local.test>\r\nRCPT TO:<bob@local.test>\r\nDATA\r\nsmuggled\r\n.\r\n",
    );
    // One reply: the whole thing was one (refused) message, nothing was executed.
    assert_eq!(
        out,
        "550 5.5.2 Bare CR or LF in message data is not allowed; use CRLF line endings\r\n"
    );
    assert!(d.queued.is_empty());
}

#[test]
fn cve_2023_51764_normalise_mode_keeps_it_one_message() {
    let mut cfg = config();
    cfg.bare_line_policy = BareLinePolicy::Normalise;
    let mut d = Dialog::with(cfg);
    d.ehlo()
        .mail_from("a@remote.test", "250")
        .rcpt_to("alice@local.test", "250")
        .says("DATA", "354");
    let out = d.raw(b"hello\n.\nMAIL FROM:<admin@local.test>\r\n.\r\n");
    assert!(out.starts_with("250 2.0.0"));
    assert_eq!(d.queued.len(), 1);
    assert_eq!(
        d.queued[0].1,
        b"hello\r\n.\r\nMAIL FROM:<admin@local.test>\r\n"
    );
}

#[test]
fn rfc3207_4_2_starttls_discards_pipelined_commands() {
    let mut d = Dialog::new();
    d.ehlo();
    // CVE-2011-0411: a command injected after STARTTLS in the same packet.
    let out = d.raw(b"STARTTLS\r\nMAIL FROM:<evil@remote.test>\r\n");
    assert_eq!(out, "220 2.0.0 Ready to start TLS\r\n");
    assert_eq!(d.tls_handshakes, 1);
    // The injected MAIL was never executed, and the session starts over.
    d.says("MAIL FROM:<a@remote.test>", "503 5.5.1");
    let out = d.raw(b"EHLO client.example\r\n");
    assert!(!out.contains("STARTTLS"), "no STARTTLS inside TLS: {out}");
    d.says("STARTTLS", "503 5.5.1");
}

#[test]
fn rfc3207_starttls_with_argument() {
    Dialog::new().ehlo().says("STARTTLS now", "501 5.5.4");
}

#[test]
fn starttls_not_offered_without_certificate() {
    let mut cfg = config();
    cfg.starttls = false;
    let mut d = Dialog::with(cfg);
    let out = d.raw(b"EHLO c\r\n");
    assert!(!out.contains("STARTTLS"));
    d.says("STARTTLS", "502 5.5.1");
}

#[test]
fn rfc5321_4_5_3_1_4_command_line_limit() {
    let mut d = Dialog::new();
    d.ehlo();
    let long = format!("NOOP {}", "x".repeat(600));
    d.says(&long, "500 5.5.2");
    // A line longer than the limit split over many reads is also bounded.
    assert_eq!(d.raw("y".repeat(400).as_bytes()), "");
    assert_eq!(d.raw("y".repeat(400).as_bytes()), "");
    assert!(d.s.input.len() <= MAX_COMMAND_LINE + 400);
    assert!(d.raw(b"\r\n").starts_with("500 5.5.2"));
    d.says("NOOP", "250");
}

#[test]
fn error_limit_closes_with_421() {
    let mut d = Dialog::new();
    for _ in 0..4 {
        d.says("BOGUS", "500 5.5.1");
    }
    let out = d.raw(b"BOGUS\r\n");
    assert!(
        out.ends_with("421 4.7.0 Too many errors, closing connection\r\n"),
        "{out}"
    );
    assert!(d.closed);
}

#[test]
fn vrfy_discloses_nothing() {
    Dialog::new().ehlo().says("VRFY alice", "252 2.5.0");
    Dialog::new().ehlo().says("VRFY nobody", "252 2.5.0");
}

#[test]
fn help_noop_rset_quit() {
    let mut d = Dialog::new();
    d.ehlo().says("HELP", "214").says("NOOP", "250 2.0.0");
    d.mail_from("a@remote.test", "250")
        .says("RSET", "250 2.0.0");
    d.rcpt_to("alice@local.test", "503");
    d.says("QUIT", "221 2.0.0");
    assert!(d.closed);
}

#[test]
fn rfc5321_4_1_4_ehlo_resets_transaction() {
    let mut d = Dialog::new();
    d.ehlo().mail_from("a@remote.test", "250").ehlo();
    d.rcpt_to("alice@local.test", "503 5.5.1");
}

#[test]
fn auth_is_not_offered_on_inbound() {
    Dialog::new()
        .ehlo()
        .says("AUTH PLAIN AGFsaWNlAHNlY3JldA==", "502 5.5.1");
}

#[test]
fn data_line_limit() {
    let mut d = Dialog::new();
    d.ehlo()
        .mail_from("a@remote.test", "250")
        .rcpt_to("alice@local.test", "250")
        .says("DATA", "354");
    let mut msg = vec![b'x'; 1200];
    msg.extend_from_slice(b"\r\n.\r\n");
    assert!(d.raw(&msg).starts_with("550 5.5.2 Message line"));
}

#[test]
fn quit_during_bdat_aborts_the_message() {
    let mut d = Dialog::new();
    d.ehlo()
        .mail_from("a@remote.test", "250")
        .rcpt_to("alice@local.test", "250");
    d.raw(b"BDAT 2\r\nab");
    d.says("QUIT", "221");
    assert_eq!(d.aborted, 1);
    assert!(d.closed);
}

#[test]
fn large_message_whose_last_read_holds_the_terminator() {
    // Regression: a read that both fills the body buffer past one chunk and contains
    // <CRLF>.<CRLF> must still end the message.
    let mut cfg = config();
    cfg.max_message_size = 1 << 20;
    let mut d = Dialog::with(cfg);
    d.ehlo()
        .mail_from("a@remote.test", "250")
        .rcpt_to("alice@local.test", "250")
        .says("DATA", "354");
    let line = format!("{}\r\n", "y".repeat(98));
    let mut msg = line.repeat(2000).into_bytes();
    msg.extend_from_slice(b".\r\nQUIT\r\n");
    let out = d.raw(&msg);
    assert!(out.starts_with("250 2.0.0 Message queued"), "{out}");
    assert!(out.ends_with("221 2.0.0 Bye\r\n"));
    assert_eq!(d.queued[0].1.len(), 200_000);
}

#[test]
fn hostile_random_input_never_panics_and_stays_bounded() {
    // A deterministic xorshift stream of command-ish and binary garbage.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let pieces: [&[u8]; 14] = [
        b"EHLO x\r\n",
        b"MAIL FROM:<a@remote.test>\r\n",
        b"RCPT TO:<alice@local.test>\r\n",
        b"DATA\r\n",
        b"BDAT 7\r\n",
        b"BDAT 3 LAST\r\n",
        b"\r\n.\r\n",
        b"\n.\n",
        b"\r",
        b"\n",
        b"STARTTLS\r\n",
        b"RSET\r\n",
        b"\0\xff\xfe",
        b"NOOP\r\n",
    ];
    for _ in 0..300 {
        let mut d = Dialog::new();
        for _ in 0..200 {
            let r = next();
            let bytes: Vec<u8> = if r % 5 == 0 {
                (0..(r % 700)).map(|_| next() as u8).collect()
            } else {
                pieces[(r as usize / 7) % pieces.len()].to_vec()
            };
            d.raw(&bytes);
            assert!(
                d.s.input.len() <= MAX_COMMAND_LINE + 1024,
                "input buffer bounded"
            );
            assert!(d.s.body.len() <= BODY_CHUNK + 1024, "body buffer bounded");
            if d.closed {
                break;
            }
        }
    }
}

#[test]
fn sender_refused_at_mail_leaves_no_transaction() {
    let mut d = Dialog::new();
    d.ehlo()
        .mail_from("a@spoofed.test", "550 5.7.23")
        .rcpt_to("alice@local.test", "503 5.5.1")
        .mail_from("a@remote.test", "250 2.1.0")
        .rcpt_to("alice@local.test", "250 2.1.5");
}

#[test]
fn sender_tempfail_is_not_counted_as_an_error() {
    let mut d = Dialog::with(SessionConfig {
        max_errors: 2,
        ..config()
    });
    d.ehlo();
    for _ in 0..5 {
        d.mail_from("a@tempfail.test", "451 4.7.24");
    }
    d.mail_from("a@remote.test", "250 2.1.0");
}

#[test]
fn rfc2920_pipelined_mail_waits_for_the_sender_decision() {
    let mut d = Dialog::new();
    d.ehlo();
    let out = d.raw(b"MAIL FROM:<a@spoofed.test>\r\nRCPT TO:<alice@local.test>\r\nDATA\r\n");
    let codes: Vec<&str> = out.lines().map(|l| &l[..3]).collect();
    assert_eq!(codes, ["550", "503", "503"], "{out}");
}

fn submission() -> SessionConfig {
    SessionConfig {
        auth: AuthMode::TlsOnly,
        require_auth: true,
        ..config()
    }
}

fn tls_up(d: &mut Dialog) {
    d.says("STARTTLS", "220 2.0.0");
    d.raw(b"");
}

#[test]
fn rfc4954_auth_is_tls_only_on_submission() {
    let mut d = Dialog::with(submission());
    let ehlo = d.raw(b"EHLO client.example\r\n");
    assert!(!ehlo.contains("AUTH"), "{ehlo}");
    d.says("AUTH PLAIN AHUAcA==", "530 5.7.0")
        .says("MAIL FROM:<u@local.test>", "530 5.7.0");
    tls_up(&mut d);
    let ehlo = d.raw(b"EHLO client.example\r\n");
    assert!(ehlo.contains("250-AUTH PLAIN LOGIN\r\n"), "{ehlo}");
    d.says(
        "MAIL FROM:<u@local.test>",
        "530 5.7.0 Authentication required",
    )
    .says("AUTH PLAIN AHUAcA==", "235 2.7.0")
    .says("AUTH PLAIN AHUAcA==", "503 5.5.1")
    .says("MAIL FROM:<u@local.test>", "250");
    assert_eq!(d.s.authenticated(), Some("u@local.test"));
}

#[test]
fn rfc4954_sasl_rounds_cancel_and_failure() {
    let mut d = Dialog::with(submission());
    tls_up(&mut d);
    d.ehlo()
        .says("AUTH PLAIN", "334 ")
        .says("*", "501 5.0.0")
        .says("AUTH LOGIN", "334 VXNlcm5hbWU6")
        .says("dQ==", "334 UGFzc3dvcmQ6")
        .says("bm9wZQ==", "535 5.7.8")
        .says("AUTH GSSAPI", "504 5.5.4")
        .says("AUTH LOGIN dQ==", "334 UGFzc3dvcmQ6")
        .says("cA==", "235 2.7.0");
}

#[test]
fn rfc4954_auth_not_inside_a_transaction_and_not_on_mx_port() {
    let mut d = Dialog::new();
    d.ehlo().says("AUTH PLAIN AHUAcA==", "502 5.5.1");
    let mut d = Dialog::with(SessionConfig {
        auth: AuthMode::Plaintext,
        ..config()
    });
    d.ehlo()
        .mail_from("a@remote.test", "250")
        .says("AUTH PLAIN AHUAcA==", "503 5.5.1");
}

#[test]
fn auth_lines_may_be_long_but_bounded() {
    let mut d = Dialog::with(SessionConfig {
        auth: AuthMode::Plaintext,
        ..config()
    });
    d.ehlo();
    let long = format!("AUTH PLAIN {}", "A".repeat(4000));
    d.says(&long, "535 5.7.8");
    let too_long = format!("AUTH PLAIN {}", "A".repeat(MAX_AUTH_LINE + 10));
    d.says(&too_long, "500 5.5.2");
    d.says(&format!("NOOP {}", "x".repeat(600)), "500 5.5.2");
}

#[test]
fn rfc8689_requiretls_only_inside_tls() {
    let mut d = Dialog::new();
    let ehlo = d.raw(b"EHLO client.example\r\n");
    assert!(!ehlo.contains("REQUIRETLS"), "{ehlo}");
    d.says("MAIL FROM:<a@remote.test> REQUIRETLS", "530 5.7.10");
    tls_up(&mut d);
    let ehlo = d.raw(b"EHLO client.example\r\n");
    assert!(ehlo.contains("250-REQUIRETLS\r\n"), "{ehlo}");
    d.says("MAIL FROM:<a@remote.test> REQUIRETLS", "250")
        .rcpt_to("alice@local.test", "250")
        .says("DATA", "354");
    d.raw(b"Subject: x\r\n\r\nx\r\n.\r\n");
    assert!(d.queued[0].0.require_tls);
}

/// Issue 15, Low: `BDAT 100000000000000000000005` was read as a 5-octet chunk (the
/// number wrapped past 2^64), so the bytes after the first five were taken for
/// commands. A chunk size that is not a u64 ends the session; nothing is smuggled.
#[test]
fn rfc3030_bdat_chunk_size_past_2_64_is_refused_not_wrapped() {
    for size in [
        "100000000000000000000005",
        "18446744073709551616",
        "18446744073709551615",
        "5x",
        "-5",
        "5 LASTX",
        "5 LAST 6",
        "",
    ] {
        let mut d = Dialog::new();
        d.ehlo()
            .mail_from("a@remote.test", "250")
            .rcpt_to("alice@local.test", "250");
        let out = d.raw(format!("BDAT {size}\r\nhello\r\nRSET\r\nQUIT\r\n").as_bytes());
        assert_eq!(
            out,
            "501 5.5.4 Syntax: BDAT chunk-size [LAST]; the chunk cannot be framed, closing the connection\r\n",
            "{size}"
        );
        assert!(d.closed, "{size}");
        assert!(d.queued.is_empty());
    }
    // A huge number that fits is a chunk too big: its bytes are skipped, not run.
    let mut d = Dialog::new();
    d.ehlo()
        .mail_from("a@remote.test", "250")
        .rcpt_to("alice@local.test", "250");
    let out = d.raw(b"BDAT 18446744073709551614\r\nNOOP\r\n");
    assert!(out.is_empty(), "{out}");
}

/// RFC 1870 §3: a SIZE past 2^64 is larger than any limit, never a small number.
#[test]
fn rfc1870_size_past_2_64_is_too_big_not_wrapped() {
    let mut d = Dialog::new();
    d.ehlo().says(
        "MAIL FROM:<a@remote.test> SIZE=100000000000000000000005",
        "552 5.3.4",
    );
    d.says("MAIL FROM:<a@remote.test> SIZE=5", "250");
}
