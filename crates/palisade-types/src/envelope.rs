//! The SMTP envelope of one message (RFC 5321 §2.3.1) and the TLS facts of its session.

use crate::Address;
use std::net::IpAddr;

/// The body type declared with MAIL FROM (RFC 6152 `BODY=8BITMIME`, RFC 3030 `BINARYMIME`
/// is not offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyType {
    #[default]
    SevenBit,
    EightBitMime,
}

/// TLS parameters of the session, for the Received header (RFC 8314 §4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    pub version: String,
    pub cipher: String,
}

/// Everything the client established before DATA/BDAT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `None` is the null reverse-path `<>` (bounces, RFC 5321 §4.5.5).
    pub mail_from: Option<Address>,
    pub rcpt_to: Vec<Address>,
    pub body: BodyType,
    pub smtputf8: bool,
    /// The SIZE the client declared, if any (RFC 1870).
    pub declared_size: Option<u64>,
    pub helo: String,
    pub client_ip: IpAddr,
    pub tls: Option<TlsInfo>,
    /// The SMTP AUTH identity of the submitter (RFC 4954), if any.
    pub auth: Option<String>,
    /// MAIL FROM carried REQUIRETLS (RFC 8689): every hop must use validated TLS.
    pub require_tls: bool,
}

impl Envelope {
    /// The reverse-path as it appears in Return-Path and logs: `<>` when null.
    pub fn return_path(&self) -> String {
        match &self.mail_from {
            Some(a) => format!("<{a}>"),
            None => "<>".to_string(),
        }
    }

    /// The reverse-path for `MAIL FROM:<...>` on the next hop: empty when null.
    pub fn reverse_path(&self) -> String {
        self.mail_from
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or_default()
    }
}
