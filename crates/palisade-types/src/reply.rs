//! SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 2034, RFC 3463).
//!
//! Every reply Palisade sends is a named constant here, so the code and the enhanced
//! code are chosen in one place and tests can compare against the same names.

use std::borrow::Cow;
use std::fmt;

/// One SMTP reply: `code` (e.g. 250), an enhanced status code (e.g. 2.0.0) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// RFC 3463 `class.subject.detail`; `None` for the greeting and EHLO (RFC 2034 §3).
    pub enhanced: Option<(u8, u16, u16)>,
    pub text: Cow<'static, str>,
}

impl Reply {
    pub const fn new(code: u16, enhanced: (u8, u16, u16), text: &'static str) -> Self {
        Reply {
            code,
            enhanced: Some(enhanced),
            text: Cow::Borrowed(text),
        }
    }

    /// The same code with other text (the code, not the wording, is the contract).
    pub fn with_text(&self, text: impl Into<Cow<'static, str>>) -> Self {
        Reply {
            text: text.into(),
            ..self.clone()
        }
    }

    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    pub fn is_permanent(&self) -> bool {
        self.code >= 500
    }

    /// Appends the reply in wire form. Multi-line text (split on '\n') becomes
    /// `250-...` continuation lines (RFC 5321 §4.2.1). Control characters in the
    /// text are replaced so that no reply can inject a line of its own.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let mut lines = self.text.split('\n').peekable();
        while let Some(line) = lines.next() {
            let sep = if lines.peek().is_some() { '-' } else { ' ' };
            out.extend_from_slice(format!("{}{}", self.code, sep).as_bytes());
            if let Some((c, s, d)) = self.enhanced {
                out.extend_from_slice(format!("{c}.{s}.{d} ").as_bytes());
            }
            for ch in line.chars() {
                if ch.is_control() {
                    out.push(b'?');
                } else {
                    let mut b = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                }
            }
            out.extend_from_slice(b"\r\n");
        }
    }

    pub fn to_wire(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.text.len() + 16);
        self.write_to(&mut v);
        v
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some((c, s, d)) = self.enhanced {
            write!(f, " {c}.{s}.{d}")?;
        }
        write!(f, " {}", self.text.replace('\n', " / "))
    }
}

// Positive completions.
pub const OK: Reply = Reply::new(250, (2, 0, 0), "OK");
pub const SENDER_OK: Reply = Reply::new(250, (2, 1, 0), "Sender OK");
pub const RECIPIENT_OK: Reply = Reply::new(250, (2, 1, 5), "Recipient OK");
pub const RESET_OK: Reply = Reply::new(250, (2, 0, 0), "Reset state");
pub const NOOP_OK: Reply = Reply::new(250, (2, 0, 0), "OK");
pub const BYE: Reply = Reply::new(221, (2, 0, 0), "Bye");
/// VRFY discloses nothing (RFC 5321 §3.5.3 allows 252).
pub const VRFY_CANNOT: Reply = Reply::new(
    252,
    (2, 5, 0),
    "Cannot VRFY user, but will accept message and attempt delivery",
);
pub const HELP: Reply = Reply::new(
    214,
    (2, 0, 0),
    "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS",
);
pub const START_DATA: Reply = Reply {
    code: 354,
    enhanced: None,
    text: Cow::Borrowed("Start mail input; end with <CRLF>.<CRLF>"),
};
pub const READY_TO_START_TLS: Reply = Reply::new(220, (2, 0, 0), "Ready to start TLS");

// Transient failures.
pub const SHUTTING_DOWN: Reply =
    Reply::new(421, (4, 3, 2), "Service shutting down, closing connection");
pub const TOO_MANY_CONNECTIONS: Reply =
    Reply::new(421, (4, 7, 0), "Too many connections, try again later");
pub const TOO_MANY_ERRORS: Reply =
    Reply::new(421, (4, 7, 0), "Too many errors, closing connection");
pub const TIMEOUT: Reply = Reply::new(421, (4, 4, 2), "Timeout exceeded, closing connection");
pub const LOCAL_ERROR: Reply =
    Reply::new(451, (4, 3, 0), "Local error in processing, try again later");
pub const TOO_MANY_RECIPIENTS: Reply = Reply::new(452, (4, 5, 3), "Too many recipients");
/// A routed domain's server could not be asked whether the recipient exists (RFC 3463
/// X.4.3: the directory could not be reached).
pub const RECIPIENT_UNVERIFIED: Reply = Reply::new(
    451,
    (4, 4, 3),
    "Cannot verify the recipient now, try again later",
);
pub const TLS_UNAVAILABLE: Reply =
    Reply::new(454, (4, 7, 0), "TLS not available due to temporary reason");

// Permanent failures: syntax.
pub const UNRECOGNIZED: Reply = Reply::new(500, (5, 5, 1), "Command unrecognized");
pub const LINE_TOO_LONG: Reply = Reply::new(500, (5, 5, 2), "Line too long");
pub const SYNTAX_ERROR: Reply = Reply::new(501, (5, 5, 4), "Syntax error in parameters");
/// RFC 3030 §2: a BDAT line whose chunk size cannot be read (no number, past 2^64, or
/// other words after it): the stream cannot be framed any more, so the connection
/// closes after this.
pub const BAD_CHUNK_SIZE: Reply = Reply::new(
    501,
    (5, 5, 4),
    "Syntax: BDAT chunk-size [LAST]; the chunk cannot be framed, closing the connection",
);
pub const BAD_SENDER_SYNTAX: Reply = Reply::new(501, (5, 1, 7), "Bad sender address syntax");
pub const BAD_RECIPIENT_SYNTAX: Reply = Reply::new(501, (5, 1, 3), "Bad recipient address syntax");
pub const NOT_IMPLEMENTED: Reply = Reply::new(502, (5, 5, 1), "Command not implemented");
pub const BAD_SEQUENCE: Reply = Reply::new(503, (5, 5, 1), "Bad sequence of commands");
pub const HELLO_FIRST: Reply = Reply::new(503, (5, 5, 1), "Send EHLO or HELO first");
pub const NEED_MAIL: Reply = Reply::new(503, (5, 5, 1), "Need MAIL command first");
pub const NEED_RCPT: Reply = Reply::new(503, (5, 5, 1), "Need RCPT command first");
pub const NESTED_MAIL: Reply = Reply::new(503, (5, 5, 1), "Sender already specified");
pub const UNSUPPORTED_PARAMETER: Reply = Reply::new(
    555,
    (5, 5, 4),
    "Parameter not recognized or not implemented",
);
pub const ALREADY_TLS: Reply = Reply::new(503, (5, 5, 1), "TLS already active");

// Permanent failures: policy and addressing.
pub const NO_SUCH_USER: Reply = Reply::new(550, (5, 1, 1), "No such user here");
pub const NO_RELAY: Reply = Reply::new(554, (5, 7, 1), "Relay access denied");

// SMTP AUTH (RFC 4954 §6) and submission (RFC 6409).
pub const ENCRYPTION_NEEDED: Reply = Reply::new(530, (5, 7, 10), "REQUIRETLS needs a TLS session");
pub const ACCOUNT_SUSPENDED: Reply = Reply::new(
    550,
    (5, 7, 1),
    "Sending is suspended for this account; contact your administrator",
);
pub const QUOTA_EXCEEDED: Reply = Reply::new(550, (5, 7, 1), "Submission quota exceeded");
pub const AUTH_OK: Reply = Reply::new(235, (2, 7, 0), "Authentication successful");
pub const AUTH_FAILED: Reply = Reply::new(535, (5, 7, 8), "Authentication credentials invalid");
pub const SASL_TEMPFAIL: Reply = Reply::new(454, (4, 7, 0), "Temporary authentication failure");
/// Lockouts apply to any name tried, known or not, so this reveals nothing about users.
pub const ACCOUNT_LOCKED: Reply = Reply::new(
    454,
    (4, 7, 0),
    "Too many failed logins for this account; try again later",
);
pub const CONNECTION_RATE: Reply = Reply::new(
    421,
    (4, 7, 0),
    "Connection rate limit for your address reached; try again later",
);
pub const MESSAGE_RATE: Reply = Reply::new(
    451,
    (4, 7, 1),
    "Message rate limit for your address reached; try again later",
);
pub const RECIPIENT_QUOTA: Reply = Reply::new(
    451,
    (4, 7, 1),
    "Daily recipient limit of this account reached; try again later",
);
pub const BANNED: Reply = Reply::new(
    421,
    (4, 7, 0),
    "Too many failed attempts from your address; try again later",
);
pub const TLS_REQUIRED: Reply = Reply::new(530, (5, 7, 0), "Must issue a STARTTLS command first");
pub const AUTH_REQUIRED: Reply = Reply::new(530, (5, 7, 0), "Authentication required");
pub const AUTH_CANCELLED: Reply = Reply::new(501, (5, 0, 0), "Authentication cancelled");
pub const AUTH_BAD_BASE64: Reply = Reply::new(501, (5, 5, 2), "Cannot decode the client response");
pub const AUTH_MECHANISM: Reply = Reply::new(504, (5, 5, 4), "Unrecognized authentication type");
pub const ALREADY_AUTHENTICATED: Reply = Reply::new(503, (5, 5, 1), "Already authenticated");
pub const SENDER_NOT_OWNED: Reply = Reply::new(553, (5, 7, 1), "Sender address not owned by user");
pub const HEADER_NOT_OWNED: Reply = Reply::new(
    550,
    (5, 7, 1),
    "From or Sender header not owned by the authenticated user",
);
/// RFC 5322 §3.6: every message has exactly one From field, made of mailboxes.
pub const NO_FROM: Reply = Reply::new(
    550,
    (5, 6, 0),
    "A message must have a From header field with an address (RFC 5322 section 3.6)",
);

// Sender authentication (RFC 7372 §3 codes where one fits). The checks replace the text
// with the reason; these texts are the fallback.
pub const DMARC_REJECT: Reply = Reply::new(
    550,
    (5, 7, 1),
    "Rejected by the sender domain's DMARC policy",
);
pub const SPOOFED_LOCAL_DOMAIN: Reply = Reply::new(
    550,
    (5, 7, 1),
    "The From domain is ours but the message is not authenticated as ours",
);
/// MAIL FROM in one of our domains from a client that is not authorised to use it.
pub const SPOOFED_LOCAL_SENDER: Reply = Reply::new(
    550,
    (5, 7, 1),
    "The sender domain is ours; authenticate on the submission port to send as it",
);
pub const SPF_REJECT: Reply = Reply::new(550, (5, 7, 23), "SPF validation failed");
pub const SPF_TEMPFAIL: Reply = Reply::new(
    451,
    (4, 7, 24),
    "Temporary DNS failure checking SPF; try again later",
);
pub const AUTH_TEMPFAIL: Reply = Reply::new(
    451,
    (4, 7, 0),
    "Temporary DNS failure checking sender authentication; try again later",
);
pub const ROUTED_ADDRESS: Reply = Reply::new(
    550,
    (5, 7, 1),
    "Routed address forms (%, !, quoted @) are not accepted",
);
pub const NON_ASCII_ADDRESS: Reply = Reply::new(
    553,
    (5, 6, 7),
    "Non-ASCII address requires the SMTPUTF8 parameter",
);
pub const MESSAGE_TOO_BIG: Reply = Reply::new(
    552,
    (5, 3, 4),
    "Message size exceeds fixed maximum message size",
);
pub const BARE_LINE_ENDING: Reply = Reply::new(
    550,
    (5, 5, 2),
    "Bare CR or LF in message data is not allowed; use CRLF line endings",
);
/// X.5.6 (suggested by some) is registered for over-long AUTH lines (RFC 4954), so
/// the generic syntax code X.5.2 is used.
pub const DATA_LINE_TOO_LONG: Reply = Reply::new(
    550,
    (5, 5, 2),
    "Message line exceeds 1000 octets (RFC 5321 section 4.5.3.1.6)",
);
