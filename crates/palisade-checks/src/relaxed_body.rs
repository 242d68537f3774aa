//! Workaround for mail-auth 0.13.3's relaxed body canonicalisation.
//!
//! RFC 6376 §3.4.4 (relaxed body): whitespace at the end of every line is ignored, and
//! then all empty lines at the end of the body are ignored. So a body ending in lines of
//! only spaces hashes like the body without them. mail-auth 0.13.3 keeps those lines (fixed
//! upstream in 0.15), so relaxed signatures from other signers fail on such bodies. We
//! verify relaxed-body signatures a second time over the message with those trailing
//! whitespace-only lines removed, which is exactly what the relaxed algorithm would
//! have hashed.

/// The message with trailing whitespace-only body lines removed, or `None` when there are
/// none (the common case: no second verification needed).
pub fn without_trailing_blank_lines(message: &[u8]) -> Option<Vec<u8>> {
    let body_start = find(message, b"\r\n\r\n")? + 4;
    let body = &message[body_start..];
    let mut end = body.len();
    let mut removed_whitespace = false;
    // Walk back over whole lines made of SP/HTAB only (their CRLF included).
    loop {
        let content_end = if body[..end].ends_with(b"\r\n") {
            end - 2
        } else {
            end
        };
        let line_start = body[..content_end]
            .windows(2)
            .rposition(|w| w == b"\r\n")
            .map_or(0, |p| p + 2);
        let line = &body[line_start..content_end];
        if line_start == end || !line.iter().all(|b| *b == b' ' || *b == b'\t') {
            break;
        }
        if !line.is_empty() {
            removed_whitespace = true;
        }
        end = line_start;
        if end == 0 {
            break;
        }
    }
    if !removed_whitespace {
        return None;
    }
    let mut out = Vec::with_capacity(body_start + end);
    out.extend_from_slice(&message[..body_start]);
    out.extend_from_slice(&body[..end]);
    Some(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_whitespace_lines_go() {
        let m = b"A: b\r\n\r\nx\r\n  \r\n\t\r\n";
        assert_eq!(
            without_trailing_blank_lines(m).as_deref(),
            Some(&b"A: b\r\n\r\nx\r\n"[..])
        );
    }

    #[test]
    fn nothing_to_do_for_plain_bodies() {
        assert_eq!(without_trailing_blank_lines(b"A: b\r\n\r\nx\r\n"), None);
        assert_eq!(without_trailing_blank_lines(b"A: b\r\n\r\nx\r\n\r\n"), None);
        assert_eq!(without_trailing_blank_lines(b"A: b\r\n\r\n"), None);
        assert_eq!(without_trailing_blank_lines(b"no body"), None);
    }

    #[test]
    fn whitespace_inside_the_body_stays() {
        let m = b"A: b\r\n\r\nx\r\n  \r\ny\r\n";
        assert_eq!(without_trailing_blank_lines(m), None);
    }
}
