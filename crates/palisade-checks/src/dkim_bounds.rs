//! Bounds in front of mail-auth's DKIM and ARC verification.
//!
//! mail-auth selects each field a signature names in `h=` by scanning the header
//! section from the bottom (RFC 6376 §5.4.2), so one signature costs |h=| × |fields|:
//! a 1 MB message of tiny fields signed over all of them took 10 s of CPU, a 4.4 MB one
//! 65 s, and the session's deadline then answered 451, so each retry paid again.
//! RFC 6376 sets no limit on either number; real signatures name 5 to 40 fields
//! (oversigning doubles that) and real header sections have well under a thousand. Past
//! these bounds a signature is not verified but reported, with the result `policy`
//! (RFC 8601 §2.7.1: signed, but not acceptable to us) and the reason; it never passes.

use crate::message::algorithm_name;
use mail_auth::AuthenticatedMessage;

/// Most fields one DKIM-Signature or ARC-Message-Signature may name in `h=`.
pub const MAX_SIGNED_FIELDS: usize = 100;

/// Most header fields a message may have for its signatures to be verified.
pub const MAX_HEADER_FIELDS: usize = 1000;

/// A DKIM signature left unverified by these bounds.
#[derive(Debug, Clone)]
pub struct Refused {
    pub d: String,
    pub s: String,
    pub algorithm: &'static str,
    pub reason: String,
}

/// What [`screen`] took out of a message before verification.
#[derive(Debug, Default)]
pub struct Screened {
    pub dkim: Vec<Refused>,
    /// Why the ARC chain was not verified (its sets were taken out).
    pub arc: Option<String>,
}

/// Takes signatures beyond the bounds out of `msg` (mail-auth then verifies the rest,
/// in linear time) and returns them with the reason.
pub fn screen(msg: &mut AuthenticatedMessage<'_>) -> Screened {
    let fields = msg.headers.len();
    let whole = (fields > MAX_HEADER_FIELDS).then(|| {
        format!(
            "the header section has {fields} fields; more than {MAX_HEADER_FIELDS} are not verified"
        )
    });
    let mut screened = Screened::default();
    let mut kept = Vec::with_capacity(msg.dkim_headers.len());
    for h in std::mem::take(&mut msg.dkim_headers) {
        let sig = &h.header;
        let reason = whole.clone().or_else(|| too_many(sig.h.len()));
        match reason {
            Some(reason) => screened.dkim.push(Refused {
                d: sig.d.clone(),
                s: sig.s.clone(),
                algorithm: algorithm_name(sig.a),
                reason,
            }),
            None => kept.push(h),
        }
    }
    msg.dkim_headers = kept;
    let widest = msg.ams_headers.iter().map(|h| h.header.h.len()).max();
    screened.arc = whole.or_else(|| widest.and_then(too_many));
    if screened.arc.is_some() {
        msg.ams_headers.clear();
        msg.as_headers.clear();
        msg.aar_headers.clear();
    }
    screened
}

fn too_many(n: usize) -> Option<String> {
    (n > MAX_SIGNED_FIELDS).then(|| {
        format!(
            "the signature names {n} header fields; more than {MAX_SIGNED_FIELDS} are not verified"
        )
    })
}

/// The `Authentication-Results` resinfo of a refused ARC chain (the refused DKIM
/// signatures are reported with the others, `policy` and the reason).
pub fn arc_resinfo(screened: &Screened) -> String {
    match &screened.arc {
        Some(reason) => format!(";\r\n\tarc=fail reason=\"{}\"", quoted(reason)),
        None => String::new(),
    }
}

/// Text safe inside an RFC 5322 quoted string.
pub(crate) fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .map(|c| if c == '"' || c == '\\' { '\'' } else { c })
        .collect()
}

/// A domain or selector as an RFC 8601 pvalue: only the characters a DNS label can
/// hold; anything else (the signature's own bytes) is dropped.
pub(crate) fn pvalue(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(fields: usize, signed: usize) -> Vec<u8> {
        let names: Vec<String> = (0..signed).map(|i| format!("X-{i}")).collect();
        let mut m = format!(
            "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel; c=relaxed/relaxed; \
             h={}; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n",
            names.join(":")
        );
        for i in 0..fields {
            m.push_str(&format!("X-{i}: {i}\r\n"));
        }
        m.push_str("From: a@example.com\r\n\r\nbody\r\n");
        m.into_bytes()
    }

    #[test]
    fn a_signature_naming_too_many_fields_is_refused_as_policy() {
        let raw = message(200, 150);
        let mut msg = AuthenticatedMessage::parse(&raw).unwrap_or_else(|| panic!("parse"));
        let s = screen(&mut msg);
        assert!(msg.dkim_headers.is_empty());
        assert_eq!(s.dkim.len(), 1);
        assert_eq!(s.dkim[0].d, "example.com");
        assert!(s.dkim[0].reason.contains("150 header fields"));
        assert_eq!(s.dkim[0].s, "sel");
        assert_eq!(arc_resinfo(&s), "");
    }

    #[test]
    fn a_header_section_with_too_many_fields_is_refused() {
        let raw = message(5000, 10);
        let mut msg = AuthenticatedMessage::parse(&raw).unwrap_or_else(|| panic!("parse"));
        let s = screen(&mut msg);
        assert!(msg.dkim_headers.is_empty());
        assert!(s.dkim[0].reason.contains("5002 fields"), "{:?}", s.dkim);
    }

    #[test]
    fn ordinary_signatures_are_left_to_mail_auth() {
        let raw = message(30, 20);
        let mut msg = AuthenticatedMessage::parse(&raw).unwrap_or_else(|| panic!("parse"));
        let s = screen(&mut msg);
        assert_eq!(msg.dkim_headers.len(), 1);
        assert!(s.dkim.is_empty() && s.arc.is_none());
        assert_eq!(arc_resinfo(&s), "");
    }
}
