//! A message sealed before it reaches the Maildir: PGP/MIME (RFC 3156 §4) to the
//! user's OpenPGP key, or S/MIME enveloped data (RFC 8551 §3.3) to their certificate.
//!
//! The header fields that route and sort mail stay readable outside (From, To, Date,
//! Message-ID, Received, the verdict and authentication results...); the body and every
//! attachment go inside, with the fields that describe them (`Content-*`). Inside, the
//! part also carries copies of the fields a reader shows (Subject, From, To, Cc, Date,
//! Message-ID, Reply-To, In-Reply-To, References) and `protected-headers="v1"` on its
//! Content-Type, the protected-headers convention Thunderbird, Mailpile and others
//! read (draft-autocrypt-lamps-protected-headers); with `protect_subject` the outer
//! Subject is `...`. The body inside is the received body, byte for byte.

use crate::openpgp::{KeyError, OpenPgpKey};
use crate::smime::{CertError, SmimeCert};
use base64::Engine;
use palisade_checks::forged::header_fields;
use rand08::Rng;

/// How a message is sealed.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Move the Subject inside and show `...` outside.
    pub protect_subject: bool,
}

/// Whom a message is sealed to.
#[derive(Debug, Clone)]
pub enum Recipient {
    OpenPgp(OpenPgpKey),
    Smime(SmimeCert),
}

/// Why a message could not be sealed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    OpenPgp(#[from] KeyError),
    #[error(transparent)]
    Smime(#[from] CertError),
}

/// What became of a message.
#[derive(Debug)]
pub enum Sealed {
    /// The PGP/MIME message to store instead.
    Encrypted(Vec<u8>),
    /// It arrived encrypted (PGP/MIME, S/MIME enveloped data or inline PGP): stored as
    /// it is.
    AlreadyEncrypted,
}

/// Fields copied inside for the reader (protected headers); they also stay outside.
const SHOWN: &[&str] = &[
    "subject",
    "from",
    "to",
    "cc",
    "date",
    "message-id",
    "reply-to",
    "in-reply-to",
    "references",
];

fn name_of(field: &[u8]) -> String {
    let colon = field.iter().position(|&b| b == b':').unwrap_or(field.len());
    String::from_utf8_lossy(&field[..colon])
        .trim()
        .to_ascii_lowercase()
}

fn value_of(field: &[u8]) -> String {
    let colon = field.iter().position(|&b| b == b':').map_or(0, |c| c + 1);
    String::from_utf8_lossy(&field[colon.min(field.len())..])
        .to_ascii_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// True for a message that is encrypted already.
fn is_encrypted(content_type: Option<&str>, body: &[u8]) -> bool {
    if let Some(ct) = content_type {
        if ct.starts_with("multipart/encrypted") {
            return true;
        }
        // RFC 8551 §3.2.2: enveloped (or authenticated-enveloped) data; without the
        // parameter, older clients' pkcs7-mime is taken as encrypted too.
        if ct.starts_with("application/pkcs7-mime") || ct.starts_with("application/x-pkcs7-mime") {
            return !ct.contains("signed-data") && !ct.contains("certs-only");
        }
    }
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    body[start..].starts_with(b"-----BEGIN PGP MESSAGE-----")
}

/// `text` with bare LF line ends as CRLF (rPGP's armour ends lines with LF).
fn crlf(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 64 + 2);
    for line in text.split_inclusive('\n') {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// `message` taken apart: the fields that stay outside, and the MIME entity that goes
/// inside (content fields, the shown fields, the body byte for byte). `None` for a
/// message that is encrypted already.
pub(crate) fn split(message: &[u8], opts: Options) -> Option<(Vec<u8>, Vec<u8>)> {
    let fields = header_fields(message);
    let header_end = fields.last().map_or(0, |f| f.end);
    let body_start = if message[header_end..].starts_with(b"\r\n") {
        header_end + 2
    } else {
        header_end
    };
    let body = &message[body_start..];
    let content_type = fields
        .iter()
        .find(|f| name_of(&message[(*f).clone()]) == "content-type")
        .map(|f| value_of(&message[f.clone()]));
    if is_encrypted(content_type.as_deref(), body) {
        return None;
    }

    let mut outer = Vec::with_capacity(header_end + 256);
    let mut inner = Vec::with_capacity(message.len() + 256);
    let mut inner_content_type = false;
    for f in &fields {
        let raw = &message[f.clone()];
        let name = name_of(raw);
        if name == "content-type" {
            // The marker as one more parameter, on a continuation line (RFC 2045 §5.1).
            let value = raw.strip_suffix(b"\r\n").unwrap_or(raw);
            inner.extend_from_slice(value);
            inner.extend_from_slice(b";\r\n protected-headers=\"v1\"\r\n");
            inner_content_type = true;
        } else if name.starts_with("content-") {
            inner.extend_from_slice(raw);
        } else if name == "mime-version" {
            // Written once, outside, by the caller.
        } else {
            if SHOWN.contains(&name.as_str()) {
                inner.extend_from_slice(raw);
            }
            if name == "subject" && opts.protect_subject {
                outer.extend_from_slice(b"Subject: ...\r\n");
            } else {
                outer.extend_from_slice(raw);
            }
        }
    }
    if !inner_content_type {
        // RFC 2045 §5.2: a part without Content-Type is US-ASCII plain text.
        inner.extend_from_slice(
            b"Content-Type: text/plain; charset=us-ascii; protected-headers=\"v1\"\r\n",
        );
    }
    inner.extend_from_slice(b"\r\n");
    inner.extend_from_slice(body);
    Some((outer, inner))
}

/// Seals `message` (header section and body, CRLF line ends) to `to`.
pub fn seal(message: &[u8], to: &Recipient, opts: Options, now: i64) -> Result<Sealed, SealError> {
    let Some((mut outer, inner)) = split(message, opts) else {
        return Ok(Sealed::AlreadyEncrypted);
    };
    outer.extend_from_slice(b"MIME-Version: 1.0\r\n");
    match to {
        Recipient::OpenPgp(key) => pgp_mime(&mut outer, &key.encrypt(&inner, now)?),
        Recipient::Smime(cert) => smime(&mut outer, &cert.encrypt(&inner)?),
    }
    Ok(Sealed::Encrypted(outer))
}

/// A fresh MIME boundary (random: it cannot occur in the content it encloses).
pub(crate) fn boundary() -> String {
    format!(
        "=_palisade_{:024x}",
        rand08::rngs::OsRng.r#gen::<u128>() >> 32
    )
}

/// RFC 3156 §4: multipart/encrypted, a version part and the armoured message.
fn pgp_mime(out: &mut Vec<u8>, armored: &str) {
    let boundary = boundary();
    out.extend_from_slice(
        format!(
            "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";\r\n \
             boundary=\"{boundary}\"\r\n\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(b"This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n");
    out.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Type: application/pgp-encrypted\r\n\
             Content-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n\r\n\
             --{boundary}\r\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\
             Content-Description: OpenPGP encrypted message\r\n\
             Content-Disposition: inline; filename=\"encrypted.asc\"\r\n\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(&crlf(armored));
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
}

/// RFC 8551 §3.3: application/pkcs7-mime with smime-type=enveloped-data, base64 in
/// lines of 76 (RFC 2045 §6.8).
fn smime(out: &mut Vec<u8>, der: &[u8]) {
    out.extend_from_slice(
        b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data;\r\n \
          name=\"smime.p7m\"\r\nContent-Transfer-Encoding: base64\r\n\
          Content-Disposition: attachment; filename=\"smime.p7m\"\r\n\
          Content-Description: S/MIME encrypted message\r\n\r\n",
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    for line in b64.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_mail_is_recognised() {
        assert!(is_encrypted(
            Some("multipart/encrypted; protocol=\"application/pgp-encrypted\""),
            b""
        ));
        assert!(is_encrypted(
            Some("application/pkcs7-mime; smime-type=enveloped-data"),
            b""
        ));
        assert!(!is_encrypted(
            Some("application/pkcs7-mime; smime-type=signed-data"),
            b""
        ));
        assert!(is_encrypted(
            Some("text/plain"),
            b"\r\n-----BEGIN PGP MESSAGE-----\r\n"
        ));
        assert!(!is_encrypted(Some("text/plain"), b"hello"));
        assert!(!is_encrypted(None, b"hello"));
    }

    #[test]
    fn armour_lines_end_in_crlf() {
        assert_eq!(crlf("a\nb\r\nc"), b"a\r\nb\r\nc\r\n");
    }
}
