//! `Authentication-Results` fields that claim to be ours (RFC 8601 §5).
//!
//! "An MTA ... MUST remove any instance of this header field that claims, by virtue of
//! its authentication service identifier, to have been added within its trust boundary
//! but that did not come from another trusted MTA." Inbound, nothing before us is
//! trusted, so every field with our authserv-id is a forgery.

use std::ops::Range;

/// Byte ranges (each a whole field, folded lines and CRLF included) of the
/// `Authentication-Results` fields in `message`'s header whose authserv-id is
/// `authserv_id` (compared case-insensitively, as a domain).
pub fn forged_auth_results(message: &[u8], authserv_id: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    for field in header_fields(message) {
        let bytes = &message[field.clone()];
        let Some(colon) = bytes.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = &bytes[..colon];
        if !name
            .trim_ascii()
            .eq_ignore_ascii_case(b"authentication-results")
        {
            continue;
        }
        let value = String::from_utf8_lossy(&bytes[colon + 1..]);
        if authserv_id_of(&value).is_some_and(|id| {
            id.trim_end_matches('.')
                .eq_ignore_ascii_case(authserv_id.trim_end_matches('.'))
        }) {
            out.push(field);
        }
    }
    out
}

/// Trust-header hygiene: the forged `Authentication-Results` fields plus every
/// `X-Spam-*` and `X-Palisade-*` field, which only we may set (a sender must not be
/// able to pre-label its own mail as clean). Sorted byte ranges, as
/// [`forged_auth_results`].
/// `authserv_id` `None`: `Authentication-Results` fields all stay (a trusted client).
pub fn untrusted_fields(message: &[u8], authserv_id: Option<&str>) -> Vec<Range<usize>> {
    let mut out = authserv_id.map_or_else(Vec::new, |id| forged_auth_results(message, id));
    for field in header_fields(message) {
        let name = &message[field.start..field.end.min(field.start + 11)];
        let ours = |prefix: &[u8]| {
            name.len() >= prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix)
        };
        if ours(b"x-spam-") || ours(b"x-palisade-") {
            out.push(field);
        }
    }
    out.sort_by_key(|r| r.start);
    out.dedup();
    out
}

/// The header fields of a message, as byte ranges (folded lines and CRLF included), up
/// to the empty line.
pub fn header_fields(message: &[u8]) -> Vec<Range<usize>> {
    let mut fields: Vec<Range<usize>> = Vec::new();
    let mut pos = 0;
    while pos < message.len() {
        let line_end = message[pos..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(message.len(), |p| pos + p + 2);
        let line = &message[pos..line_end];
        if line == b"\r\n" {
            break;
        }
        match (line.first(), fields.last_mut()) {
            // A continuation line (RFC 5322 §2.2.3) belongs to the field before it.
            (Some(b' ' | b'\t'), Some(last)) => last.end = line_end,
            _ => fields.push(pos..line_end),
        }
        pos = line_end;
    }
    fields
}

/// Whether `message`'s header section is what RFC 5322 §2.2 and §3.6.8 allow: every
/// line ends in CRLF with no other CR or LF, the first is not a continuation, and each
/// field starts with a name of one or more printable characters other than `:` (ftext),
/// then optional white space (§4.5, obs-optional) and the colon. Parsers part
/// ways only on what this refuses (a line without a colon, an empty name, a last line
/// without CRLF), so only a section that passes may be read through another parser's
/// view.
pub fn header_section_well_formed(message: &[u8]) -> bool {
    let mut pos = 0;
    while pos < message.len() {
        let Some(len) = message[pos..].iter().position(|b| *b == b'\n') else {
            return false;
        };
        let line = &message[pos..pos + len + 1];
        let Some(content) = line.strip_suffix(b"\r\n") else {
            return false;
        };
        if content.is_empty() {
            return true;
        }
        if content.contains(&b'\r') || !line_well_formed(content, pos == 0) {
            return false;
        }
        pos += len + 1;
    }
    true
}

/// One line of a header section (without its CRLF): a continuation, or a field.
fn line_well_formed(line: &[u8], first: bool) -> bool {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return !first;
    }
    let name_len = line
        .iter()
        .position(|b| !(33..=126).contains(b) || *b == b':')
        .unwrap_or(line.len());
    let colon = line[name_len..].iter().find(|b| !matches!(b, b' ' | b'\t'));
    name_len > 0 && colon == Some(&b':') && !arc_seal_lookalike(&line[..name_len])
}

/// A name that starts with `ARC-Seal` without being it: mail-auth's own parser reads
/// any such field as an ARC-Seal, mail-parser (rightly) does not.
fn arc_seal_lookalike(name: &[u8]) -> bool {
    name.len() > 8 && name[..8].eq_ignore_ascii_case(b"arc-seal")
}

/// The authserv-id: the first `value` of the field (RFC 8601 §2.2), a token or a
/// quoted-string (RFC 2045), after CFWS. Comments nest and may hold quoted-pairs
/// (RFC 5322 §3.2.2), so `(\()` is one comment.
fn authserv_id_of(value: &str) -> Option<String> {
    let mut depth = 0u32;
    let mut id = String::new();
    let mut chars = value.chars();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' if depth > 0 || quoted => {
                // A quoted-pair: the next character is literal.
                match chars.next() {
                    Some(n) if quoted => id.push(n),
                    _ => {}
                }
            }
            '"' if depth == 0 => {
                if quoted {
                    break;
                }
                if !id.is_empty() {
                    break;
                }
                quoted = true;
            }
            c if quoted => id.push(c),
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            ';' => break,
            c if c.is_whitespace() => {
                if !id.is_empty() {
                    break;
                }
            }
            c => id.push(c),
        }
    }
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(m: &[u8], id: &str) -> String {
        let mut out = m.to_vec();
        for r in forged_auth_results(m, id).into_iter().rev() {
            out.drain(r);
        }
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn pre_labelled_spam_and_verdict_fields_go_too() {
        let m = b"X-Spam-Flag: NO\r\nFrom: a@b.test\r\nx-spam-status: No,\r\n score=-5\r\n\
X-Palisade-Verdict: deliver; score=0\r\nAuthentication-Results: mx.example.com; dmarc=pass\r\n\
X-Spamming: stays\r\nX-Mailer: stays\r\n\r\nX-Spam-Flag: NO in the body stays\r\n";
        let mut out = m.to_vec();
        for r in untrusted_fields(m, Some("mx.example.com"))
            .into_iter()
            .rev()
        {
            out.drain(r);
        }
        assert_eq!(
            String::from_utf8_lossy(&out),
            "From: a@b.test\r\nX-Spamming: stays\r\nX-Mailer: stays\r\n\r\nX-Spam-Flag: NO in the body stays\r\n"
        );
    }

    #[test]
    fn rfc8601_5_ours_are_removed_others_stay() {
        let m = b"Authentication-Results: mx.example.com;\r\n\tspf=pass smtp.mailfrom=a@b\r\n\
authentication-results: (comment) MX.EXAMPLE.COM. ; dkim=pass\r\n\
Authentication-Results: other.example; dmarc=pass\r\n\
Subject: hi\r\n\r\nAuthentication-Results: mx.example.com; body stays\r\n";
        assert_eq!(
            strip(m, "mx.example.com"),
            "Authentication-Results: other.example; dmarc=pass\r\nSubject: hi\r\n\r\n\
Authentication-Results: mx.example.com; body stays\r\n"
        );
    }

    #[test]
    fn quoted_ids_and_escaped_comments_are_still_ours() {
        for m in [
            &b"Authentication-Results: \"mx.example.com\"; dkim=pass\r\n\r\n"[..],
            b"Authentication-Results: (\\() mx.example.com; dmarc=pass\r\n\r\n",
            b"Authentication-Results: (a (nested) \\) comment) mx.example.com; x=y\r\n\r\n",
        ] {
            assert_eq!(
                forged_auth_results(m, "mx.example.com").len(),
                1,
                "{}",
                String::from_utf8_lossy(m)
            );
        }
    }

    #[test]
    fn lookalike_ids_are_not_ours() {
        let m = b"Authentication-Results: mx.example.com.evil; spf=pass\r\n\r\n";
        assert!(forged_auth_results(m, "mx.example.com").is_empty());
    }

    #[test]
    fn odd_input_does_not_panic() {
        for m in [
            &b""[..],
            b"\r\n",
            b"Authentication-Results",
            b":\r\n \r\n",
            b" x\r\n",
        ] {
            let _ = forged_auth_results(m, "a");
        }
    }
}
