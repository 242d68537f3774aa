//! Warning banners: a notice prepended to a message's displayed text and HTML bodies,
//! an optional subject prefix, and optionally the untouched original attached.
//!
//! Only the parts a mail client displays as the body are rewritten (mail-parser's text
//! and HTML body lists of the top-level message; nested messages and attachments are
//! left alone). A rewritten part is re-encoded as UTF-8 in base64, so whatever charset
//! and transfer encoding it had, the banner and the text end up in one consistent
//! encoding. The header section keeps every field except the part's own
//! Content-Type/Content-Transfer-Encoding, so DKIM-Signature and the trace fields stay
//! where they were; the body hash no longer matches, which is why the original can be
//! kept as an attachment ([`Banner::attach_original`]).

use base64::Engine as _;
use mail_parser::{MessageParser, MimeHeaders, PartType};

/// What to add to a message.
#[derive(Debug, Clone)]
pub struct Banner {
    /// Lines of the notice (plain text; escaped for HTML here).
    pub lines: Vec<String>,
    /// Prepended to the Subject (with a space), if not already there.
    pub subject_prefix: Option<String>,
    /// Wrap the result with the original message as a `message/rfc822` attachment.
    pub attach_original: bool,
    /// A message with more parts is not rewritten (its parse would cost memory set by
    /// the input, see [`crate::mime_bounds`]): the verdict header fields say it all.
    pub max_parts: usize,
}

impl Default for Banner {
    fn default() -> Self {
        Banner {
            lines: Vec::new(),
            subject_prefix: None,
            attach_original: false,
            max_parts: 500,
        }
    }
}

/// The message with the banner applied, or `None` when it cannot be read as MIME (the
/// caller then delivers it as it is, with the verdict headers only).
pub fn apply(message: &[u8], banner: &Banner) -> Option<Vec<u8>> {
    let limit = crate::mime_bounds::delimiter_limit(banner.max_parts);
    if crate::mime_bounds::truncated(message, limit).is_some() {
        return None;
    }
    let parsed = MessageParser::new().parse(message)?;
    // Signed content (S/MIME, PGP/MIME: RFC 1847 multipart/signed, or an opaque
    // signature) must not change: the warning goes in a part of its own, and the
    // message, untouched, after it.
    let signed = parsed.parts.iter().any(|p| {
        p.content_type().is_some_and(|c| {
            let sub = c.subtype().unwrap_or_default();
            (c.ctype().eq_ignore_ascii_case("multipart") && sub.eq_ignore_ascii_case("signed"))
                || (c.ctype().eq_ignore_ascii_case("application")
                    && (sub.eq_ignore_ascii_case("pkcs7-mime")
                        || sub.eq_ignore_ascii_case("x-pkcs7-mime")))
        })
    });
    if signed && !banner.lines.is_empty() {
        let mut head =
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                .to_vec();
        head.extend_from_slice(&base64_lines(plain(&banner.lines).as_bytes()));
        head.extend_from_slice(b"\r\n");
        // The original's header section (trace, From, Subject...) on top, its content
        // fields replaced by the banner part's.
        let h = header_len(message);
        let mut notice = without_content_fields(&message[..h]);
        notice.extend_from_slice(&head);
        let mut out = with_original(&notice, message);
        if let Some(prefix) = &banner.subject_prefix {
            out = with_subject_prefix(&out, prefix);
        }
        return Some(out);
    }
    let mut ids: Vec<u32> = parsed
        .text_body
        .iter()
        .chain(&parsed.html_body)
        .copied()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut edits: Vec<(usize, usize, Vec<u8>)> = Vec::new();
    if !banner.lines.is_empty() {
        for id in ids {
            let part = parsed.parts.get(id as usize)?;
            let (start, body, end) = (
                part.offset_header as usize,
                part.offset_body as usize,
                part.offset_end as usize,
            );
            if !(start <= body && body <= end && end <= message.len()) {
                return None;
            }
            let (ctype, text) = match &part.body {
                PartType::Text(t) => ("text/plain", format!("{}{t}", plain(&banner.lines))),
                PartType::Html(h) => ("text/html", with_html_banner(h, &banner.lines)),
                _ => continue,
            };
            let mut out = without_content_fields(&message[start..body]);
            out.extend_from_slice(
                format!(
                    "Content-Type: {ctype}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                )
                .as_bytes(),
            );
            out.extend_from_slice(&base64_lines(text.as_bytes()));
            // The delimiter that follows must start a line (RFC 2046 §5.1.1), whether or
            // not the part's end included the line break before it (an empty part's
            // does not).
            if !message[end..].starts_with(b"\r\n") {
                out.extend_from_slice(b"\r\n");
            }
            edits.push((start, end, out));
        }
    }
    edits.sort_by_key(|e| e.0);
    let rewritten = !edits.is_empty();
    let mut out = Vec::with_capacity(message.len() + 4096);
    let mut pos = 0;
    for (start, end, bytes) in edits {
        if start < pos {
            // Overlapping parts (a malformed tree): give up rather than corrupt.
            return None;
        }
        out.extend_from_slice(&message[pos..start]);
        out.extend_from_slice(&bytes);
        pos = end;
    }
    out.extend_from_slice(&message[pos..]);
    let head = header_len(&out);
    if rewritten
        && !fields(&out[..head])
            .iter()
            .any(|f| field_is(f, "mime-version"))
    {
        // Base64 bodies mean nothing to a reader of plain RFC 5322 mail.
        out.splice(0..0, b"MIME-Version: 1.0\r\n".iter().copied());
    }
    if let Some(prefix) = &banner.subject_prefix {
        out = with_subject_prefix(&out, prefix);
    }
    if banner.attach_original {
        out = with_original(&out, message);
    }
    Some(out)
}

fn plain(lines: &[String]) -> String {
    let mut s =
        String::from("----------------------------------------------------------------\r\n");
    for l in lines {
        s.push_str(l);
        s.push_str("\r\n");
    }
    s.push_str("----------------------------------------------------------------\r\n\r\n");
    s
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn with_html_banner(html: &str, lines: &[String]) -> String {
    let mut div = String::from(
        "<div style=\"display:block!important;visibility:visible!important;opacity:1!important;\
         border:2px solid #b00020!important;background:#fff4f4!important;color:#000!important;\
         padding:8px 12px;margin:0 0 12px 0;font:14px/1.4 sans-serif\">",
    );
    for (i, l) in lines.iter().enumerate() {
        if i == 0 {
            div.push_str(&format!("<strong>{}</strong>", escape_html(l)));
        } else {
            div.push_str(&format!("<br>{}", escape_html(l)));
        }
    }
    div.push_str("</div>");
    // First in the document (after a doctype, which must stay first): a browser's tree
    // builder moves it into the body. Looking for "<body" instead could land it in a
    // comment or the title, where a sender can hide it.
    let trimmed = html.trim_start();
    let at = if trimmed.len() > 9 && trimmed[..9].eq_ignore_ascii_case("<!doctype") {
        let start = html.len() - trimmed.len();
        trimmed.find('>').map_or(0, |e| start + e + 1)
    } else {
        0
    };
    format!("{}{div}{}", &html[..at], &html[at..])
}

fn base64_lines(bytes: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = Vec::with_capacity(encoded.len() + encoded.len() / 76 * 2 + 2);
    for (i, chunk) in encoded.as_bytes().chunks(76).enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(chunk);
    }
    out
}

/// Header fields (as bytes, CRLF-terminated, folded lines kept), in order.
fn fields(header: &[u8]) -> Vec<&[u8]> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut pos = 0;
    while pos < header.len() {
        let end =
            memchr::memmem::find(&header[pos..], b"\r\n").map_or(header.len(), |p| pos + p + 2);
        let line = &header[pos..end];
        if line == b"\r\n" {
            break;
        }
        match (line.first(), out.last_mut()) {
            (Some(b' ' | b'\t'), Some(last)) => last.1 = end,
            _ => out.push((pos, end)),
        }
        pos = end;
    }
    out.into_iter().map(|(s, e)| &header[s..e]).collect()
}

fn field_is(field: &[u8], name: &str) -> bool {
    field.len() > name.len()
        && field[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        && field[name.len()..].trim_ascii_start().starts_with(b":")
}

/// A part's header section without its content fields (and without the blank line).
fn without_content_fields(header: &[u8]) -> Vec<u8> {
    fields(header)
        .into_iter()
        .filter(|f| !field_is(f, "content-type") && !field_is(f, "content-transfer-encoding"))
        .flatten()
        .copied()
        .collect()
}

/// The length of the header section, blank line included.
fn header_len(message: &[u8]) -> usize {
    if message.starts_with(b"\r\n") {
        return 2;
    }
    memchr::memmem::find(message, b"\r\n\r\n").map_or(message.len(), |p| p + 4)
}

fn with_subject_prefix(message: &[u8], prefix: &str) -> Vec<u8> {
    let head = header_len(message);
    let prefix = prefix.trim();
    let mut out = Vec::with_capacity(message.len() + prefix.len() + 16);
    let mut done = false;
    for f in fields(&message[..head]) {
        if !done && field_is(f, "subject") {
            done = true;
            let colon = f.iter().position(|b| *b == b':').unwrap_or(0);
            // Only blanks go: the value's own line end (and folding) must stay.
            let value = &f[colon + 1..];
            let start = value
                .iter()
                .position(|b| *b != b' ' && *b != b'\t')
                .unwrap_or(value.len());
            let value = &value[start..];
            if value.starts_with(prefix.as_bytes()) {
                out.extend_from_slice(f);
            } else {
                out.extend_from_slice(b"Subject: ");
                out.extend_from_slice(prefix.as_bytes());
                if !value.starts_with(b"\r\n") && !value.is_empty() {
                    out.push(b' ');
                }
                out.extend_from_slice(value);
                if !value.ends_with(b"\r\n") {
                    out.extend_from_slice(b"\r\n");
                }
            }
        } else {
            out.extend_from_slice(f);
        }
    }
    if !done {
        out.extend_from_slice(format!("Subject: {prefix}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(message.get(head..).unwrap_or_default());
    out
}

/// `rewritten` as the first part of a multipart/mixed whose second part is `original`.
fn with_original(rewritten: &[u8], original: &[u8]) -> Vec<u8> {
    let head = header_len(rewritten);
    let fs = fields(&rewritten[..head]);
    let is_content =
        |f: &[u8]| field_is(f, "content-type") || field_is(f, "content-transfer-encoding");
    // A boundary that occurs in neither message (RFC 2046 §5.1.1): random, so a sender
    // cannot plant it; checked anyway, a few tries at most.
    let boundary = (0..8)
        .map(|_| {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(rewritten.len());
            format!("palisade-original-{:016x}", h.finish())
        })
        .find(|b| {
            memchr::memmem::find(rewritten, b.as_bytes()).is_none()
                && memchr::memmem::find(original, b.as_bytes()).is_none()
        })
        .unwrap_or_else(|| "palisade-original-=_fallback_=".to_string());
    let mut out = Vec::with_capacity(rewritten.len() + original.len() + 512);
    for f in fs
        .iter()
        .filter(|f| !is_content(f) && !field_is(f, "mime-version"))
    {
        out.extend_from_slice(f);
    }
    out.extend_from_slice(
        format!(
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n"
        )
        .as_bytes(),
    );
    let content: Vec<&[u8]> = fs.iter().copied().filter(|f| is_content(f)).collect();
    if content.is_empty() {
        out.extend_from_slice(b"Content-Type: text/plain; charset=us-ascii\r\n");
    }
    for f in content {
        out.extend_from_slice(f);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(rewritten.get(head..).unwrap_or_default());
    out.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"original.eml\"\r\n\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(original);
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn banner() -> Banner {
        Banner {
            lines: vec![
                "Caution: this message may be phishing.".into(),
                "sender domain examp1e.com imitates example.com".into(),
            ],
            ..Banner::default()
        }
    }

    fn bodies(message: &[u8]) -> (Vec<String>, Vec<String>) {
        let m = MessageParser::new()
            .parse(message)
            .unwrap_or_else(|| panic!("parses"));
        let texts = m
            .text_bodies()
            .filter_map(|p| p.text_contents().map(str::to_string))
            .collect();
        let htmls = m
            .html_bodies()
            .filter_map(|p| p.text_contents().map(str::to_string))
            .collect();
        (texts, htmls)
    }

    #[test]
    fn a_single_part_quoted_printable_message() {
        let msg = b"From: a@examp1e.com\r\nSubject: Pay now\r\nDKIM-Signature: v=1; d=examp1e.com\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 invoice\r\n";
        let out = apply(msg, &banner()).unwrap_or_else(|| panic!("applied"));
        let (texts, _) = bodies(&out);
        assert!(texts[0].starts_with("----"), "{texts:?}");
        assert!(texts[0].contains("may be phishing"));
        assert!(texts[0].ends_with("Café invoice\r\n"), "{texts:?}");
        let s = String::from_utf8_lossy(&out);
        assert!(s.starts_with(
            "MIME-Version: 1.0\r\nFrom: a@examp1e.com\r\nSubject: Pay now\r\nDKIM-Signature"
        ));
        assert_eq!(s.matches("Content-Type").count(), 1, "{s}");
    }

    #[test]
    fn both_alternatives_get_the_banner_and_attachments_stay() {
        let msg = b"From: a@b.test\r\nSubject: Hi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n--a\r\nContent-Type: text/plain\r\n\r\nHello\r\n--a\r\nContent-Type: text/html\r\n\r\n<html><BODY class=x><p>Hello & bye</p></body></html>\r\n--a--\r\n--m\r\nContent-Type: application/pdf; name=x.pdf\r\nContent-Disposition: attachment; filename=x.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--m--\r\n";
        let out = apply(msg, &banner()).unwrap_or_else(|| panic!("applied"));
        let (texts, htmls) = bodies(&out);
        assert!(
            texts[0].contains("may be phishing") && texts[0].ends_with("Hello"),
            "{texts:?}"
        );
        assert!(
            htmls[0].starts_with("<div style=\"display:block!important"),
            "{htmls:?}"
        );
        assert!(htmls[0].contains("<strong>Caution: this message may be phishing.</strong>"));
        assert!(htmls[0].ends_with("</div><html><BODY class=x><p>Hello & bye</p></body></html>"));
        let m = MessageParser::new()
            .parse(&out)
            .unwrap_or_else(|| panic!("parses"));
        let att = m
            .attachments()
            .next()
            .unwrap_or_else(|| panic!("attachment"));
        assert_eq!(att.attachment_name(), Some("x.pdf"));
        assert_eq!(att.contents(), b"%PDF-1.4\n");
    }

    #[test]
    fn empty_subjects_parts_and_plain_rfc5322() {
        let b = Banner {
            subject_prefix: Some("[SUSPICIOUS]".into()),
            ..banner()
        };
        // An empty Subject keeps its line end: the next field stays a field.
        for subject in ["Subject:\r\n", "Subject: \r\n"] {
            let msg = format!(
                "{subject}From: a@b.test\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\nAuthentication-Results: forged\r\n\r\n--a\r\nContent-Type: text/plain\r\n\r\n--a\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--a--\r\n"
            );
            let out = apply(msg.as_bytes(), &b).unwrap_or_else(|| panic!("applied"));
            let s = String::from_utf8_lossy(&out).into_owned();
            assert!(
                s.starts_with("Subject: [SUSPICIOUS]\r\nFrom: a@b.test\r\n"),
                "{s}"
            );
            let head = &s[..s.find("\r\n\r\n").unwrap_or(0)];
            assert!(!head.contains("Authentication-Results"), "{head}");
            // The empty text part and the HTML part both carry the banner; the
            // delimiters still start lines.
            let (texts, htmls) = bodies(&out);
            assert!(texts[0].contains("may be phishing"), "{texts:?}");
            assert!(htmls[0].contains("may be phishing"), "{htmls:?}");
            assert!(!s.contains("=--a"), "{s}");
        }
        // Plain RFC 5322 mail becomes MIME: MIME-Version comes with the base64 body.
        let out = apply(b"From: a@b.test\r\n\r\nhello\r\n", &banner())
            .unwrap_or_else(|| panic!("applied"));
        let s = String::from_utf8_lossy(&out);
        assert!(
            s.starts_with("MIME-Version: 1.0\r\nFrom: a@b.test\r\n"),
            "{s}"
        );
    }

    #[test]
    fn the_banner_is_not_hidden_in_a_comment_and_keeps_the_doctype_first() {
        let msg = b"Content-Type: text/html\r\n\r\n<!DOCTYPE html><!--<body>--><html><body><p>x</p></body></html>";
        let out = apply(msg, &banner()).unwrap_or_else(|| panic!("applied"));
        let (_, htmls) = bodies(&out);
        assert!(
            htmls[0].starts_with("<!DOCTYPE html><div style="),
            "{htmls:?}"
        );
    }

    #[test]
    fn signed_mail_is_wrapped_not_rewritten() {
        let msg = b"From: a@b.test\r\nSubject: Signed\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=s\r\n\r\n--s\r\nContent-Type: text/plain\r\n\r\nHello\r\n--s\r\nContent-Type: application/pkcs7-signature\r\n\r\nMIAG\r\n--s--\r\n";
        let out = apply(msg, &banner()).unwrap_or_else(|| panic!("applied"));
        let m = MessageParser::new()
            .parse(&out)
            .unwrap_or_else(|| panic!("parses"));
        assert_eq!(m.subject(), Some("Signed"));
        let (texts, _) = bodies(&out);
        assert!(texts[0].contains("may be phishing"), "{texts:?}");
        let att = m
            .attachments()
            .next()
            .unwrap_or_else(|| panic!("original attached"));
        let inner = att.message().unwrap_or_else(|| panic!("a message/rfc822"));
        assert_eq!(
            inner.raw_message(),
            &msg[..],
            "the signed original, byte for byte"
        );
    }

    #[test]
    fn reasons_are_escaped_in_html() {
        let msg = b"Content-Type: text/html\r\n\r\n<p>x</p>";
        let b = Banner {
            lines: vec!["<script>alert(1)</script>".into()],
            ..Banner::default()
        };
        let out = apply(msg, &b).unwrap_or_else(|| panic!("applied"));
        let (_, htmls) = bodies(&out);
        assert!(
            htmls[0].contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{htmls:?}"
        );
    }

    #[test]
    fn subject_prefix_once() {
        let b = Banner {
            subject_prefix: Some("[SUSPICIOUS]".into()),
            ..banner()
        };
        let msg = b"Subject: Invoice\r\n due\r\nFrom: a@b.test\r\n\r\nbody\r\n";
        let out = apply(msg, &b).unwrap_or_else(|| panic!("applied"));
        let s = String::from_utf8_lossy(&out).into_owned();
        assert!(
            s.starts_with("MIME-Version: 1.0\r\nSubject: [SUSPICIOUS] Invoice\r\n due\r\nFrom:"),
            "{s}"
        );
        let again = apply(
            &out,
            &Banner {
                lines: vec![],
                ..b.clone()
            },
        )
        .unwrap_or_else(|| panic!("applied"));
        assert!(
            String::from_utf8_lossy(&again)
                .contains("\r\nSubject: [SUSPICIOUS] Invoice\r\n due\r\n")
        );
        let none =
            apply(b"From: a@b.test\r\n\r\nbody\r\n", &b).unwrap_or_else(|| panic!("applied"));
        assert!(String::from_utf8_lossy(&none).contains("Subject: [SUSPICIOUS]\r\n"));
    }

    #[test]
    fn the_original_is_attached_untouched() {
        let msg = b"From: a@b.test\r\nSubject: Hi\r\nContent-Type: text/plain\r\n\r\nHello\r\n";
        let b = Banner {
            attach_original: true,
            ..banner()
        };
        let out = apply(msg, &b).unwrap_or_else(|| panic!("applied"));
        let m = MessageParser::new()
            .parse(&out)
            .unwrap_or_else(|| panic!("parses"));
        assert_eq!(m.subject(), Some("Hi"));
        let (texts, _) = bodies(&out);
        assert!(texts[0].contains("may be phishing") && texts[0].ends_with("Hello\r\n"));
        let att = m
            .attachments()
            .next()
            .unwrap_or_else(|| panic!("original attached"));
        let inner = att.message().unwrap_or_else(|| panic!("a message/rfc822"));
        assert_eq!(inner.raw_message(), &msg[..]);
    }
}
