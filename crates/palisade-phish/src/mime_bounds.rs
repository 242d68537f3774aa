//! A bound on MIME structure before a full parse. mail-parser materialises every part
//! it finds (a few hundred bytes each, headers and offsets), so a 25 MB message of tiny
//! parts took 1.3 GB: memory set by the input, not by the check budget. Every part
//! opens with a boundary delimiter line (`--boundary`, RFC 2046 §5.1.1) or, in text,
//! a uuencoded block (`begin `), so counting those lines bounds the parts; a message
//! with more is parsed only up to that line, and the scan says it stopped there.

/// The message cut before its `max`-th line that can open a part, or `None` when it has
/// no more than `max - 1` such lines.
pub fn truncated(message: &[u8], max: usize) -> Option<&[u8]> {
    let mut seen = 0;
    let mut start = 0;
    while start < message.len() {
        let line = &message[start..];
        if line.starts_with(b"--") || line.starts_with(b"begin ") {
            seen += 1;
            if seen >= max {
                return Some(&message[..start]);
            }
        }
        match memchr::memchr(b'\n', line) {
            Some(end) => start += end + 1,
            None => break,
        }
    }
    None
}

/// Delimiter lines allowed for `max_parts` parts: each part opens with one, and each
/// multipart closes with one, so at most two per part.
pub fn delimiter_limit(max_parts: usize) -> usize {
    max_parts.saturating_mul(2).saturating_add(2)
}

/// Most names read from the part of a message past the bound.
const MAX_NAMES: usize = 1000;

/// The file names (`filename=` and `name=` parameters, RFC 2183 §2.3 and RFC 2045
/// §5.1, RFC 2231 `*=` forms with their charset prefix dropped) in `rest`, the part of
/// a message past the bound: checking a name costs nothing, so a program named as one
/// is still found however many parts precede it. At most [`MAX_NAMES`].
pub fn names_in(rest: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    for line in rest.split(|&b| b == b'\n') {
        let lower = line.to_ascii_lowercase();
        let mut from = 0;
        while let Some(at) = memchr::memmem::find(&lower[from..], b"name") {
            let after = from + at + 4;
            from = after;
            let value = param_value(&line[after..]);
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                names.push(v);
                if names.len() >= MAX_NAMES {
                    return names;
                }
            }
        }
    }
    names
}

/// The value after `name`: `="quoted"`, `=token` or `*=charset'lang'value`.
fn param_value(s: &[u8]) -> Option<String> {
    let s = s.strip_prefix(b"*").unwrap_or(s);
    let s = s.strip_prefix(b"=")?;
    let raw: &[u8] = match s.strip_prefix(b"\"") {
        Some(q) => &q[..q.iter().position(|&b| b == b'"').unwrap_or(q.len())],
        None => {
            &s[..s
                .iter()
                .position(|&b| b == b';' || b.is_ascii_whitespace())
                .unwrap_or(s.len())]
        }
    };
    let text = String::from_utf8_lossy(raw);
    // RFC 2231: charset'language'value.
    let text = text.rsplit('\'').next().unwrap_or_default();
    Some(text.chars().take(255).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn many_parts(n: usize) -> Vec<u8> {
        let mut m = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
        for i in 0..n {
            m.extend_from_slice(format!("--b\r\n\r\npart {i}\r\n").as_bytes());
        }
        m.extend_from_slice(b"--b--\r\n");
        m
    }

    #[test]
    fn names_past_the_bound_are_read_without_a_parse() {
        let rest = b"--b\r\nContent-Type: application/octet-stream; name=\"a.exe\"\r\n\
            Content-Disposition: attachment;\r\n filename*=UTF-8''setup%20x.scr\r\n\r\n--b\r\n\
            Content-Disposition: attachment; filename=report.pdf; size=3\r\n";
        assert_eq!(names_in(rest), ["a.exe", "setup%20x.scr", "report.pdf"]);
    }

    #[test]
    fn a_message_within_the_bound_is_whole() {
        assert_eq!(truncated(&many_parts(10), delimiter_limit(10)), None);
    }

    #[test]
    fn a_flood_of_tiny_parts_is_cut_at_the_bound() {
        let m = many_parts(100_000);
        let cut = truncated(&m, delimiter_limit(500)).unwrap_or_else(|| panic!("cut"));
        let parts = mail_parser::MessageParser::new()
            .parse(cut)
            .map_or(0, |p| p.parts.len());
        assert!(parts > 400 && parts <= 1003, "{parts} parts parsed");
    }
}
