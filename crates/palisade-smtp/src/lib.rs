//! Sans-IO SMTP server session (RFC 5321 with PIPELINING, 8BITMIME, SMTPUTF8, SIZE,
//! CHUNKING, ENHANCEDSTATUSCODES and STARTTLS).
//!
//! The driver (palisade-server) owns the socket. It hands received bytes to
//! [`Session::feed`], then calls [`Session::next_step`] until it returns
//! [`Step::NeedInput`], acting on each [`Step`]: check a recipient, open/append/commit a
//! spool file, start TLS, close. Replies accumulate in an output buffer that the driver
//! writes with [`Session::take_output`] whenever it is about to wait for input, which is
//! exactly the flushing rule of RFC 2920 §3.1 and keeps pipelined replies in one write.
//!
//! Flow: `ExpectHello -> ExpectMail -> ExpectRcpt -> ReceivingData | ReceivingBdat -> ExpectMail`.
//! Commands are parsed by smtp-proto; line framing, limits, error counting, dot-unstuffing
//! and bare CR/LF rejection are here (see [`data`]) and unit-tested without sockets.

pub mod data;
mod session;

pub use session::{
    AuthMode, BareLinePolicy, MAX_AUTH_LINE, Mechanism, RecipientDecision, SenderDecision, Session,
    SessionConfig, Step, TimeoutPhase, Timeouts,
};
