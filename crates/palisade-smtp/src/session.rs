//! The SMTP server session state machine.

pub use crate::data::BareLinePolicy;
use crate::data::{BodyError, BodyScanner};
use palisade_types::reply::{self, Reply};
use palisade_types::{Address, BodyType, Domain, Envelope, QueueId, TlsInfo};
use smtp_proto::{Error as ParseError, MailFrom, RcptTo, Request};
use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Duration;

mod auth;

/// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF.
pub const MAX_COMMAND_LINE: usize = 512;
/// Body bytes are handed to the driver in pieces of about this size, so a large
/// message never sits whole in memory.
const BODY_CHUNK: usize = 64 * 1024;

/// Per-listener settings of a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Our name in the greeting, EHLO reply and Received header.
    pub hostname: String,
    /// Domain that `RCPT TO:<postmaster>` (no domain, RFC 5321 §4.5.1) refers to.
    pub postmaster_domain: Domain,
    pub max_message_size: u64,
    pub max_recipients: usize,
    /// Bad commands tolerated before `421` and close.
    pub max_errors: u32,
    /// STARTTLS is advertised when the listener has a certificate.
    pub starttls: bool,
    /// SMTP AUTH (RFC 4954) on this listener.
    pub auth: AuthMode,
    /// MAIL needs a successful AUTH first (submission, RFC 6409 §4.3).
    pub require_auth: bool,
    pub bare_line_policy: BareLinePolicy,
    pub timeouts: Timeouts,
}

/// When AUTH is offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Not offered (inbound MX port).
    Off,
    /// Offered only inside TLS; before it, AUTH gets `530 5.7.0` (RFC 8314 §3, RFC 4954 §4).
    TlsOnly,
    /// Offered in the clear too (an operator's explicit choice, for loopback tools).
    Plaintext,
}

/// A SASL mechanism we accept (RFC 4616 PLAIN; LOGIN, the widely deployed draft).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Login,
}

/// RFC 4954 §4: an AUTH command line may be up to 12288 octets.
pub const MAX_AUTH_LINE: usize = 12_288;

/// RFC 5321 §4.5.3.2 timeouts, enforced by the driver: `idle` bounds the wait for any
/// byte, `command` bounds the time one command line may take to arrive (slow-loris),
/// `data` bounds one whole DATA/BDAT transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub idle: Duration,
    pub command: Duration,
    pub data: Duration,
}

/// Which timeout the driver should apply while waiting for input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    Command,
    Data,
}

/// What the driver must do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Write [`Session::take_output`] and read more bytes into [`Session::feed`].
    NeedInput,
    /// `MAIL FROM` is well-formed: decide whether this sender may start a transaction
    /// (and start sender checks such as SPF). Answer with [`Session::sender_decision`]
    /// before calling `next_step` again. `None` is the null reverse-path.
    CheckSender(Option<Address>),
    /// The client finished a SASL exchange: check the credentials (the responses are
    /// base64 as sent, one per round) and answer with [`Session::auth_result`].
    Authenticate {
        mechanism: Mechanism,
        responses: Vec<String>,
    },
    /// Decide whether `RCPT TO` may be accepted; answer with
    /// [`Session::recipient_decision`] before calling `next_step` again.
    CheckRecipient(Address),
    /// A message transaction starts: open a spool file for this envelope. Report a
    /// failure with [`Session::message_start_failed`].
    StartMessage(Envelope),
    /// Message bytes (dot-unstuffed) to append to the spool file.
    Body(Vec<u8>),
    /// The message is complete: make it durable, then call
    /// [`Session::message_queued`] or [`Session::message_failed`].
    EndMessage,
    /// The message was refused; discard the spool file. The reply is already queued.
    AbortMessage,
    /// Write the output (the `220`), then run the TLS handshake and call
    /// [`Session::tls_established`]. Input received before the handshake is gone.
    StartTls,
    /// Write the output, then close the connection.
    Close,
}

/// The driver's answer to [`Step::CheckSender`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderDecision {
    Accept,
    Reject(Reply),
}

/// The driver's answer to [`Step::CheckRecipient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientDecision {
    Accept,
    Reject(Reply),
}

/// One mail transaction (RFC 5321 §3.3): from MAIL to the end of DATA/BDAT LAST.
#[derive(Debug, Clone)]
struct Transaction {
    mail_from: Option<Address>,
    require_tls: bool,
    body: BodyType,
    smtputf8: bool,
    declared_size: Option<u64>,
    rcpts: Vec<Address>,
    /// RCPT commands seen, accepted or not (RFC 2920 §3.1: DATA after only rejected
    /// recipients gets 554).
    rcpt_attempts: u32,
}

/// A message being received.
#[derive(Debug)]
struct Receiving {
    scanner: BodyScanner,
    /// The driver could not open the spool file: read to the end, then send this.
    start_failed: Option<Reply>,
    kind: Receive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Receive {
    Data,
    /// Inside a BDAT chunk: this many octets remain; `last` if it is the final chunk.
    Bdat {
        remaining: u64,
        last: bool,
    },
    /// Between BDAT chunks: commands are read again, only BDAT/RSET/QUIT/NOOP fit.
    BdatBetweenChunks,
}

#[derive(Debug)]
enum State {
    ExpectHello,
    ExpectMail,
    ExpectRcpt(Transaction),
    Receiving(Receiving),
    /// Inside a SASL exchange: the next line is a client response (RFC 4954 §4).
    Sasl {
        mechanism: Mechanism,
        responses: Vec<String>,
    },
    /// Waiting for the driver: credentials, a sender or recipient check, or the commit.
    AwaitAuth,
    AwaitSender(Transaction),
    AwaitRecipient(Transaction, Address),
    AwaitCommit,
    /// After STARTTLS, until `tls_established`.
    AwaitTls,
    /// Reading and discarding a BDAT chunk that was refused outright.
    Skipping {
        remaining: u64,
        resume: Box<State>,
    },
    Closed,
}

/// One SMTP server session. See the crate docs for the driving loop.
pub struct Session {
    cfg: SessionConfig,
    client_ip: IpAddr,
    state: State,
    helo: Option<String>,
    tls: Option<TlsInfo>,
    input: Vec<u8>,
    output: Vec<u8>,
    body: Vec<u8>,
    errors: u32,
    /// A command line longer than the limit is being skipped up to its LF.
    discarding_line: bool,
    pending_steps: Vec<Step>,
    /// The identity AUTH established (RFC 4954), for this TLS session.
    authenticated: Option<String>,
}

impl Session {
    /// A session on a plain connection: the greeting is queued at once.
    pub fn new(cfg: SessionConfig, client_ip: IpAddr) -> Self {
        Self::start(cfg, client_ip, None)
    }

    /// A session on an implicit-TLS connection (RFC 8314 §3.3).
    pub fn new_tls(cfg: SessionConfig, client_ip: IpAddr, tls: TlsInfo) -> Self {
        Self::start(cfg, client_ip, Some(tls))
    }

    fn start(cfg: SessionConfig, client_ip: IpAddr, tls: Option<TlsInfo>) -> Self {
        let mut s = Session {
            cfg,
            client_ip,
            state: State::ExpectHello,
            helo: None,
            tls,
            input: Vec::new(),
            output: Vec::new(),
            body: Vec::new(),
            errors: 0,
            discarding_line: false,
            pending_steps: Vec::new(),
            authenticated: None,
        };
        // RFC 2034 §3: no enhanced code in the greeting.
        s.reply_raw(220, format!("{} ESMTP Palisade", s.cfg.hostname));
        s
    }

    /// Bytes received from the client.
    pub fn feed(&mut self, bytes: &[u8]) {
        if !matches!(self.state, State::Closed | State::AwaitTls) {
            self.input.extend_from_slice(bytes);
        }
    }

    /// Replies queued so far, in wire form.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    pub fn has_output(&self) -> bool {
        !self.output.is_empty()
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The timeout that applies to the next read, and whether a partial command is
    /// buffered (so the per-command deadline is running).
    pub fn timeout_phase(&self) -> TimeoutPhase {
        match &self.state {
            State::Receiving(r) if r.kind != Receive::BdatBetweenChunks => TimeoutPhase::Data,
            State::Skipping { .. } => TimeoutPhase::Data,
            _ => TimeoutPhase::Command,
        }
    }

    pub fn has_partial_input(&self) -> bool {
        !self.input.is_empty() || self.discarding_line
    }

    /// The authenticated identity, if AUTH succeeded.
    pub fn authenticated(&self) -> Option<&str> {
        self.authenticated.as_deref()
    }

    /// The HELO/EHLO name the client gave (validated syntax), if any yet.
    pub fn helo(&self) -> Option<&str> {
        self.helo.as_deref()
    }

    pub fn client_ip(&self) -> IpAddr {
        self.client_ip
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// The driver is shutting down or a timeout fired: say so and close.
    pub fn abort(&mut self, why: &Reply) {
        self.reply(why);
        self.state = State::Closed;
    }

    fn reply(&mut self, r: &Reply) {
        r.write_to(&mut self.output);
    }

    fn reply_raw(&mut self, code: u16, text: String) {
        Reply {
            code,
            enhanced: None,
            text: Cow::Owned(text),
        }
        .write_to(&mut self.output);
    }

    /// A 5xx for a bad command: counts towards the error limit (then `421`, close).
    fn error(&mut self, r: &Reply) {
        self.reply(r);
        self.errors += 1;
        if self.errors >= self.cfg.max_errors {
            self.reply(&reply::TOO_MANY_ERRORS);
            self.state = State::Closed;
        }
    }

    /// The next thing the driver must do.
    pub fn next_step(&mut self) -> Step {
        loop {
            if let Some(step) = self.pending_steps.pop() {
                return step;
            }
            match &self.state {
                State::Closed => return Step::Close,
                State::AwaitTls
                | State::AwaitCommit
                | State::AwaitAuth
                | State::AwaitSender(_)
                | State::AwaitRecipient(..) => {
                    // The driver owes us an answer; asking again is a driver bug, and
                    // the safe response is to stop reading.
                    return Step::NeedInput;
                }
                State::Receiving(r) if r.kind != Receive::BdatBetweenChunks => {
                    if let Some(step) = self.advance_body() {
                        return step;
                    }
                }
                State::Skipping { .. } => {
                    if let Some(step) = self.skip_chunk() {
                        return step;
                    }
                }
                _ => {
                    if let Some(step) = self.advance_command() {
                        return step;
                    }
                }
            }
        }
    }

    // ----- command phase -------------------------------------------------------

    /// Takes one command line from the input, if complete, and acts on it.
    /// Returns `Some(step)` when the driver must act, `None` to continue the loop.
    fn advance_command(&mut self) -> Option<Step> {
        let Some(lf) = memchr::memchr(b'\n', &self.input) else {
            if self.input.len() > MAX_AUTH_LINE {
                // Bound memory: drop what we have and skip to the end of the line.
                self.input.clear();
                self.discarding_line = true;
            }
            return Some(Step::NeedInput);
        };
        let line: Vec<u8> = self.input.drain(..=lf).collect();
        // AUTH lines and SASL responses may be longer (RFC 4954 §4), nothing else.
        let sasl = matches!(self.state, State::Sasl { .. });
        let limit = if sasl
            || line
                .get(..5)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"AUTH "))
        {
            MAX_AUTH_LINE
        } else {
            MAX_COMMAND_LINE
        };
        if std::mem::take(&mut self.discarding_line) || line.len() > limit {
            if sasl {
                self.state = State::ExpectMail;
            }
            self.error(&reply::LINE_TOO_LONG);
            return None;
        }
        if sasl {
            return self.sasl_response(&line);
        }
        self.command(&line)
    }

    fn command(&mut self, line: &[u8]) -> Option<Step> {
        if let Some(refused) = numbers_out_of_range(line) {
            match refused {
                // The chunk's length is unknown: what follows cannot be told from
                // commands, so the connection ends here.
                OutOfRange::ChunkSize => self.abort(&reply::BAD_CHUNK_SIZE),
                OutOfRange::Size => self.error(&reply::MESSAGE_TOO_BIG),
            }
            return None;
        }
        let request = match Request::parse(&mut line.iter()) {
            Ok(r) => r.into_owned(),
            Err(e) => {
                let r = parse_error_reply(&e, line);
                self.error(&r);
                return None;
            }
        };
        let between_chunks = matches!(
            &self.state,
            State::Receiving(r) if r.kind == Receive::BdatBetweenChunks
        );
        if between_chunks
            && !matches!(
                request,
                Request::Bdat { .. } | Request::Rset | Request::Quit | Request::Noop { .. }
            )
        {
            // RFC 3030 §2: only BDAT continues a chunked transaction.
            self.error(&reply::BAD_SEQUENCE);
            return None;
        }
        match request {
            Request::Ehlo { host } => self.hello(host, true),
            Request::Helo { host } => self.hello(host, false),
            Request::Lhlo { .. } => self.error(&reply::UNRECOGNIZED),
            Request::Mail { from } => return self.mail(from, line),
            Request::Rcpt { to } => return self.rcpt(to, line),
            Request::Data => return self.data(),
            Request::Bdat {
                chunk_size,
                is_last,
            } => return self.bdat(chunk_size as u64, is_last),
            Request::Rset => {
                let aborted = self.reset_transaction();
                self.reply(&reply::RESET_OK);
                if aborted {
                    return Some(Step::AbortMessage);
                }
            }
            Request::Noop { .. } => self.reply(&reply::NOOP_OK),
            Request::Quit => {
                let aborted = self.reset_transaction();
                self.reply(&reply::BYE);
                self.state = State::Closed;
                if aborted {
                    self.pending_steps.push(Step::Close);
                    return Some(Step::AbortMessage);
                }
            }
            Request::Vrfy { .. } => self.reply(&reply::VRFY_CANNOT),
            Request::Help { .. } => self.reply(&reply::HELP),
            Request::StartTls => return self.starttls(line),
            Request::Auth {
                mechanism,
                initial_response,
            } => return self.auth(mechanism, initial_response),
            Request::Expn { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. } => self.error(&reply::NOT_IMPLEMENTED),
        }
        None
    }

    /// Ends any transaction; true if a message was being received (its spool file must go).
    fn reset_transaction(&mut self) -> bool {
        let was_receiving = matches!(self.state, State::Receiving(_));
        if !matches!(self.state, State::ExpectHello | State::Closed) {
            self.state = State::ExpectMail;
        }
        self.body.clear();
        was_receiving
    }

    fn hello(&mut self, host: String, extended: bool) {
        if host.is_empty() || host.chars().any(|c| c.is_control() || c.is_whitespace()) {
            self.error(&reply::SYNTAX_ERROR.with_text("Invalid EHLO/HELO domain"));
            return;
        }
        // RFC 5321 §4.1.4: EHLO/HELO resets any transaction.
        self.state = State::ExpectMail;
        let greeting = format!("{} greets {}", self.cfg.hostname, host);
        self.helo = Some(host);
        if !extended {
            self.reply_raw(250, greeting);
            return;
        }
        let mut lines = vec![
            greeting,
            "PIPELINING".to_string(),
            format!("SIZE {}", self.cfg.max_message_size),
            "8BITMIME".to_string(),
            "SMTPUTF8".to_string(),
            "CHUNKING".to_string(),
            "ENHANCEDSTATUSCODES".to_string(),
        ];
        if self.cfg.starttls && self.tls.is_none() {
            lines.push("STARTTLS".to_string());
        }
        if self.auth_offered() {
            lines.push("AUTH PLAIN LOGIN".to_string());
        }
        if self.tls.is_some() {
            // RFC 8689 §4.1: offered only inside TLS.
            lines.push("REQUIRETLS".to_string());
        }
        lines.push("HELP".to_string());
        // RFC 2034 §3: EHLO replies carry no enhanced codes.
        self.reply_raw(250, lines.join("\n"));
    }

    fn mail(&mut self, from: MailFrom<String>, line: &[u8]) -> Option<Step> {
        match &self.state {
            State::ExpectHello => {
                self.error(&reply::HELLO_FIRST);
                return None;
            }
            State::ExpectMail => {}
            _ => {
                self.error(&reply::NESTED_MAIL);
                return None;
            }
        }
        if self.cfg.require_auth && self.authenticated.is_none() {
            // RFC 4954 §6 / RFC 6409 §4.3: submission without AUTH.
            let r = if self.cfg.auth == AuthMode::TlsOnly && self.tls.is_none() {
                reply::TLS_REQUIRED
            } else {
                reply::AUTH_REQUIRED
            };
            self.error(&r);
            return None;
        }
        if let Some(r) = unsupported_mail_parameter(&from) {
            self.error(&r);
            return None;
        }
        let require_tls = from.flags & smtp_proto::MAIL_REQUIRETLS != 0;
        if require_tls && self.tls.is_none() {
            // RFC 8689 §4.1: REQUIRETLS is only offered, and only valid, inside TLS.
            self.error(&reply::ENCRYPTION_NEEDED);
            return None;
        }
        let smtputf8 = from.flags & smtp_proto::MAIL_SMTPUTF8 != 0;
        // Raw-byte checks: smtp-proto may have replaced invalid UTF-8 already.
        if line.contains(&0) || std::str::from_utf8(line).is_err() {
            self.error(&reply::BAD_SENDER_SYNTAX);
            return None;
        }
        let mail_from = if from.address.is_empty() {
            None
        } else {
            match Address::parse(&from.address) {
                Ok(a) if !a.is_ascii() && !smtputf8 => {
                    // RFC 6531 §3.7.4.1.
                    self.error(&reply::NON_ASCII_ADDRESS);
                    return None;
                }
                Ok(a) => Some(a),
                Err(_) => {
                    self.error(&reply::BAD_SENDER_SYNTAX);
                    return None;
                }
            }
        };
        let declared_size = (from.size > 0).then_some(from.size as u64);
        if declared_size.is_some_and(|s| s > self.cfg.max_message_size) {
            // RFC 1870 §6.
            self.reply(&reply::MESSAGE_TOO_BIG);
            return None;
        }
        let body = if from.flags & smtp_proto::MAIL_BODY_8BITMIME != 0 {
            BodyType::EightBitMime
        } else {
            BodyType::SevenBit
        };
        self.state = State::AwaitSender(Transaction {
            mail_from: mail_from.clone(),
            require_tls,
            body,
            smtputf8,
            declared_size,
            rcpts: Vec::new(),
            rcpt_attempts: 0,
        });
        Some(Step::CheckSender(mail_from))
    }

    /// The driver's answer to [`Step::CheckSender`].
    pub fn sender_decision(&mut self, decision: SenderDecision) {
        let State::AwaitSender(txn) = std::mem::replace(&mut self.state, State::Closed) else {
            debug_assert!(false, "sender_decision without CheckSender");
            return;
        };
        match decision {
            SenderDecision::Accept => {
                self.state = State::ExpectRcpt(txn);
                self.reply(&reply::SENDER_OK);
            }
            SenderDecision::Reject(r) => {
                self.state = State::ExpectMail;
                if r.is_permanent() {
                    self.error(&r);
                } else {
                    self.reply(&r);
                }
            }
        }
    }

    fn rcpt(&mut self, to: RcptTo<String>, line: &[u8]) -> Option<Step> {
        let mut txn = match std::mem::replace(&mut self.state, State::Closed) {
            State::ExpectRcpt(t) => t,
            other => {
                self.state = other;
                self.error(&reply::NEED_MAIL);
                return None;
            }
        };
        txn.rcpt_attempts += 1;
        let verdict = self.check_rcpt_syntax(&to, line, &txn);
        match verdict {
            Err(r) => {
                self.state = State::ExpectRcpt(txn);
                self.error(&r);
                None
            }
            Ok(_) if txn.rcpts.len() >= self.cfg.max_recipients => {
                // RFC 5321 §4.5.3.1.10: 452, the client retries the rest later.
                self.state = State::ExpectRcpt(txn);
                self.reply(&reply::TOO_MANY_RECIPIENTS);
                None
            }
            Ok(addr) => {
                self.state = State::AwaitRecipient(txn, addr.clone());
                Some(Step::CheckRecipient(addr))
            }
        }
    }

    fn check_rcpt_syntax(
        &self,
        to: &RcptTo<String>,
        line: &[u8],
        txn: &Transaction,
    ) -> Result<Address, Reply> {
        if to.orcpt.is_some() || to.flags != 0 || to.rrvs != 0 {
            // DSN and RRVS are not advertised (RFC 5321 §4.1.1.11).
            return Err(reply::UNSUPPORTED_PARAMETER);
        }
        if line.contains(&0) || std::str::from_utf8(line).is_err() {
            return Err(reply::BAD_RECIPIENT_SYNTAX);
        }
        if to.address.is_empty() {
            // smtp-proto maps `<postmaster>` to "" (RFC 5321 §4.5.1).
            return Address::parse(&format!("postmaster@{}", self.cfg.postmaster_domain))
                .map_err(|_| reply::BAD_RECIPIENT_SYNTAX);
        }
        let addr = Address::parse(&to.address).map_err(|_| reply::BAD_RECIPIENT_SYNTAX)?;
        if !addr.is_ascii() && !txn.smtputf8 {
            return Err(reply::NON_ASCII_ADDRESS);
        }
        if addr.has_routing_characters() {
            return Err(reply::ROUTED_ADDRESS);
        }
        Ok(addr)
    }

    /// The driver's answer to [`Step::CheckRecipient`].
    pub fn recipient_decision(&mut self, decision: RecipientDecision) {
        let State::AwaitRecipient(mut txn, addr) =
            std::mem::replace(&mut self.state, State::Closed)
        else {
            debug_assert!(false, "recipient_decision without CheckRecipient");
            return;
        };
        match decision {
            RecipientDecision::Accept => {
                if !txn.rcpts.contains(&addr) {
                    txn.rcpts.push(addr);
                }
                self.state = State::ExpectRcpt(txn);
                self.reply(&reply::RECIPIENT_OK);
            }
            RecipientDecision::Reject(r) => {
                self.state = State::ExpectRcpt(txn);
                if r.is_permanent() {
                    self.error(&r);
                } else {
                    self.reply(&r);
                }
            }
        }
    }

    fn envelope(&self, txn: &Transaction) -> Envelope {
        Envelope {
            mail_from: txn.mail_from.clone(),
            rcpt_to: txn.rcpts.clone(),
            body: txn.body,
            smtputf8: txn.smtputf8,
            declared_size: txn.declared_size,
            helo: self.helo.clone().unwrap_or_default(),
            client_ip: self.client_ip,
            tls: self.tls.clone(),
            auth: self.authenticated.clone(),
            require_tls: txn.require_tls,
        }
    }

    /// Checks that a transaction may move to DATA/BDAT, taking it out of the state.
    fn take_ready_transaction(&mut self) -> Result<Transaction, ()> {
        match std::mem::replace(&mut self.state, State::Closed) {
            State::ExpectRcpt(t) if !t.rcpts.is_empty() => Ok(t),
            State::ExpectRcpt(t) => {
                let r = if t.rcpt_attempts > 0 {
                    // RFC 2920 §3.1.
                    Reply::new(554, (5, 5, 1), "No valid recipients")
                } else {
                    reply::NEED_RCPT
                };
                self.state = State::ExpectRcpt(t);
                self.error(&r);
                Err(())
            }
            other => {
                let r = if matches!(other, State::ExpectHello) {
                    reply::HELLO_FIRST
                } else {
                    reply::NEED_MAIL
                };
                self.state = other;
                self.error(&r);
                Err(())
            }
        }
    }

    fn data(&mut self) -> Option<Step> {
        if matches!(&self.state, State::Receiving(_)) {
            // DATA in the middle of a BDAT transaction (RFC 3030 §3).
            self.error(&reply::BAD_SEQUENCE);
            return None;
        }
        let txn = self.take_ready_transaction().ok()?;
        let envelope = self.envelope(&txn);
        self.state = State::Receiving(Receiving {
            scanner: BodyScanner::data(self.cfg.bare_line_policy, self.cfg.max_message_size),
            start_failed: None,
            kind: Receive::Data,
        });
        self.reply(&reply::START_DATA);
        Some(Step::StartMessage(envelope))
    }

    fn bdat(&mut self, size: u64, last: bool) -> Option<Step> {
        if let State::Receiving(r) = &mut self.state {
            r.kind = Receive::Bdat {
                remaining: size,
                last,
            };
            self.chunk_size_check(size);
            return None;
        }
        let Ok(txn) = self.take_ready_transaction() else {
            // RFC 3030 §2: the refused chunk must still be read, or its bytes would be
            // taken for commands. The error reply was already queued.
            if self.is_closed() {
                return None;
            }
            let resume = std::mem::replace(&mut self.state, State::Closed);
            self.state = State::Skipping {
                remaining: size,
                resume: Box::new(resume),
            };
            return None;
        };
        let envelope = self.envelope(&txn);
        self.state = State::Receiving(Receiving {
            scanner: BodyScanner::bdat(self.cfg.bare_line_policy, self.cfg.max_message_size),
            start_failed: None,
            kind: Receive::Bdat {
                remaining: size,
                last,
            },
        });
        self.chunk_size_check(size);
        Some(Step::StartMessage(envelope))
    }

    /// A chunk that cannot fit is still read (and discarded) to keep the stream in sync.
    fn chunk_size_check(&mut self, size: u64) {
        if let State::Receiving(r) = &mut self.state
            && r.scanner.size().saturating_add(size) > self.cfg.max_message_size
        {
            r.scanner.fail(BodyError::TooBig);
        }
    }

    /// STARTTLS (RFC 3207 §4): refuse if already in TLS, not offered, or with arguments.
    fn starttls(&mut self, line: &[u8]) -> Option<Step> {
        let has_args = line.len() > "STARTTLS\r\n".len()
            && line.trim_ascii() != b"STARTTLS".as_slice()
            && !line.trim_ascii().eq_ignore_ascii_case(b"STARTTLS");
        if self.tls.is_some() {
            self.error(&reply::ALREADY_TLS);
            return None;
        }
        if !self.cfg.starttls {
            self.error(&reply::NOT_IMPLEMENTED);
            return None;
        }
        if has_args {
            self.error(&reply::SYNTAX_ERROR.with_text("STARTTLS takes no parameters"));
            return None;
        }
        let aborted = self.reset_transaction();
        self.reply(&reply::READY_TO_START_TLS);
        // RFC 3207 §4.2 and CVE-2011-0411: bytes pipelined after STARTTLS were sent in
        // the clear and must not be executed inside the TLS session.
        self.input.clear();
        self.discarding_line = false;
        self.state = State::AwaitTls;
        if aborted {
            self.pending_steps.push(Step::StartTls);
            return Some(Step::AbortMessage);
        }
        Some(Step::StartTls)
    }

    /// The TLS handshake succeeded: the session starts over (RFC 3207 §4.2): the client
    /// must say EHLO again, and everything learnt before is forgotten.
    pub fn tls_established(&mut self, tls: TlsInfo) {
        self.tls = Some(tls);
        self.helo = None;
        self.input.clear();
        self.state = State::ExpectHello;
    }

    // ----- message content -------------------------------------------------------

    /// Feeds buffered input through the body scanner.
    fn advance_body(&mut self) -> Option<Step> {
        let State::Receiving(r) = &mut self.state else {
            return None;
        };
        let (n, ended) = match r.kind {
            Receive::Data => r.scanner.scan(&self.input, &mut self.body),
            Receive::Bdat { remaining, last } => {
                let take = (self.input.len() as u64).min(remaining) as usize;
                let (n, _) = r.scanner.scan(&self.input[..take], &mut self.body);
                let remaining = remaining - n as u64;
                r.kind = Receive::Bdat { remaining, last };
                (n, remaining == 0)
            }
            Receive::BdatBetweenChunks => return None,
        };
        self.input.drain(..n);
        if r.start_failed.is_some() {
            // Nothing is kept of a message the driver could not spool.
            self.body.clear();
        }
        // The end must be handled before a full buffer is handed out: the bytes that
        // ended the content are consumed and will not be scanned again.
        if ended {
            return self.end_of_content();
        }
        if self.body.len() >= BODY_CHUNK && r.scanner.error().is_none() {
            return Some(Step::Body(std::mem::take(&mut self.body)));
        }
        Some(Step::NeedInput)
    }

    /// Discards the bytes of a refused BDAT chunk.
    fn skip_chunk(&mut self) -> Option<Step> {
        let State::Skipping { remaining, .. } = &mut self.state else {
            return None;
        };
        let take = (self.input.len() as u64).min(*remaining);
        self.input.drain(..take as usize);
        *remaining -= take;
        if *remaining > 0 {
            return Some(Step::NeedInput);
        }
        if let State::Skipping { resume, .. } = std::mem::replace(&mut self.state, State::Closed) {
            self.state = *resume;
        }
        None
    }

    /// The end of DATA, or of a BDAT chunk.
    fn end_of_content(&mut self) -> Option<Step> {
        let State::Receiving(r) = &mut self.state else {
            return None;
        };
        if let Receive::Bdat { last: false, .. } = r.kind {
            r.kind = Receive::BdatBetweenChunks;
            // RFC 3030 §2: each chunk gets its own reply. A failed transaction keeps
            // failing until BDAT LAST, then reports the real reason.
            let size = r.scanner.size();
            if r.scanner.error().is_none() && r.start_failed.is_none() {
                self.reply(&reply::OK.with_text(format!("{size} octets received")));
            } else {
                self.reply(&Reply::new(
                    554,
                    (5, 5, 0),
                    "Message refused, send BDAT LAST or RSET",
                ));
            }
            return None;
        }
        if matches!(r.kind, Receive::Bdat { .. }) {
            r.scanner.finish(&mut self.body);
        }
        let failure = match (&r.start_failed, r.scanner.error()) {
            (Some(rep), _) => Some(rep.clone()),
            (None, Some(e)) => Some(body_error_reply(e)),
            (None, None) => None,
        };
        match failure {
            Some(rep) => {
                self.body.clear();
                self.state = State::ExpectMail;
                self.reply(&rep);
                Some(Step::AbortMessage)
            }
            None => {
                self.state = State::AwaitCommit;
                if !self.body.is_empty() {
                    self.pending_steps.push(Step::EndMessage);
                    return Some(Step::Body(std::mem::take(&mut self.body)));
                }
                Some(Step::EndMessage)
            }
        }
    }

    /// The driver could not open a spool file: the content is read and refused.
    pub fn message_start_failed(&mut self, why: Reply) {
        if let State::Receiving(r) = &mut self.state {
            r.start_failed = Some(why);
        }
    }

    /// The message and its envelope are on disk and fsync'd: only now may `250` go out.
    pub fn message_queued(&mut self, id: QueueId) {
        if matches!(self.state, State::AwaitCommit) {
            self.state = State::ExpectMail;
            self.reply(&reply::OK.with_text(format!("Message queued as {id}")));
        }
    }

    /// Making the message durable failed: a transient error, nothing was accepted.
    pub fn message_failed(&mut self, why: Reply) {
        if matches!(self.state, State::AwaitCommit) {
            self.state = State::ExpectMail;
            self.reply(&why);
        }
    }
}

fn body_error_reply(e: BodyError) -> Reply {
    match e {
        BodyError::BareCr | BodyError::BareLf => reply::BARE_LINE_ENDING,
        BodyError::LineTooLong => reply::DATA_LINE_TOO_LONG,
        BodyError::TooBig => reply::MESSAGE_TOO_BIG,
    }
}

/// Maps a smtp-proto parse error to our reply.
fn parse_error_reply(e: &ParseError, line: &[u8]) -> Reply {
    match e {
        ParseError::UnknownCommand => reply::UNRECOGNIZED,
        ParseError::InvalidSenderAddress => reply::BAD_SENDER_SYNTAX,
        ParseError::InvalidRecipientAddress => reply::BAD_RECIPIENT_SYNTAX,
        ParseError::UnsupportedParameter { .. } => reply::UNSUPPORTED_PARAMETER,
        ParseError::InvalidParameter { .. } => reply::SYNTAX_ERROR,
        ParseError::SyntaxError { syntax } => {
            let verb = line.get(..4).unwrap_or_default();
            if verb.eq_ignore_ascii_case(b"MAIL") && line.contains(&0) {
                reply::BAD_SENDER_SYNTAX
            } else if verb.eq_ignore_ascii_case(b"RCPT") && line.contains(&0) {
                reply::BAD_RECIPIENT_SYNTAX
            } else {
                reply::SYNTAX_ERROR.with_text(format!("Syntax: {syntax}"))
            }
        }
        ParseError::NeedsMoreData { .. }
        | ParseError::ResponseTooLong
        | ParseError::InvalidResponse { .. } => reply::SYNTAX_ERROR,
    }
}

/// MAIL parameters smtp-proto understands but Palisade does not advertise
/// (RFC 5321 §4.1.1.11: 555 for an unadvertised parameter).
fn unsupported_mail_parameter(from: &MailFrom<String>) -> Option<Reply> {
    let known = smtp_proto::MAIL_BODY_7BIT
        | smtp_proto::MAIL_BODY_8BITMIME
        | smtp_proto::MAIL_SMTPUTF8
        | smtp_proto::MAIL_REQUIRETLS;
    let unadvertised = from.flags & !known != 0
        || from.trans_id.is_some()
        || from.env_id.is_some()
        || from.solicit.is_some()
        || from.mtrk.is_some()
        || from.auth.is_some()
        || from.by != 0
        || from.hold_for != 0
        || from.hold_until != 0
        || from.mt_priority != 0;
    unadvertised.then_some(reply::UNSUPPORTED_PARAMETER)
}

/// A number smtp-proto would misread.
enum OutOfRange {
    ChunkSize,
    Size,
}

/// The BDAT line (RFC 3030 §2, chunk size `1*DIGIT`) and MAIL's `SIZE=` (RFC 1870 §3,
/// `1*20DIGIT`) checked strictly before smtp-proto parses the line: it wraps numbers
/// past 2^64 (`BDAT 100000000000000000000005` read 5 octets), and a front end that
/// reads the number otherwise would see the rest of the chunk as commands.
fn numbers_out_of_range(line: &[u8]) -> Option<OutOfRange> {
    // Lossy: a byte that is no UTF-8 is no digit either.
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches(['\r', '\n']);
    let mut words = text.split(' ');
    let verb = words.next()?;
    if verb.eq_ignore_ascii_case("BDAT") {
        // RFC 3030 §2: "BDAT" SP chunk-size [SP end-marker] CRLF, and nothing else: a
        // line that is not exactly this cannot be framed (smtp-proto also takes
        // u64::MAX for "no number").
        let size = words.next().unwrap_or_default();
        let last = words.next();
        let fits = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && size.parse::<u64>().is_ok_and(|n| n < u64::MAX);
        let tail_ok = last.is_none_or(|w| w.eq_ignore_ascii_case("LAST")) && words.next().is_none();
        return (!fits || !tail_ok).then_some(OutOfRange::ChunkSize);
    }
    if !verb.eq_ignore_ascii_case("MAIL") {
        return None;
    }
    let size = words.find_map(|w| {
        w.get(..5)
            .filter(|p| p.eq_ignore_ascii_case("SIZE="))
            .map(|_| &w[5..])
    })?;
    let digits = size.bytes().all(|b| b.is_ascii_digit()) && !size.is_empty();
    (digits && size.parse::<u64>().is_err()).then_some(OutOfRange::Size)
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
