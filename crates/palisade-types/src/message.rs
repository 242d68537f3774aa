//! The two halves of a raw message (RFC 5322 §2.1): the header section, then an empty
//! line, then the body.

/// Where the empty line that ends the header section begins: the index of the first
/// CRLF CRLF, if there is one (a message of header fields only has none).
pub fn header_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n")
}

/// RFC 5321 §6.3: more `Received` fields than this and a message is taken to be in a
/// loop ("at least 100" is the rule of thumb).
pub const MAX_HOPS: usize = 100;

/// How many `Received` header fields the header section of `raw` has (a field name at
/// the start of a line; continuation lines start with white space and do not count).
pub fn received_count(raw: &[u8]) -> usize {
    let header = &raw[..header_end(raw).map_or(raw.len(), |e| e + 2)];
    header
        .split(|b| *b == b'\n')
        .filter(|line| {
            line.get(..9)
                .is_some_and(|n| n.eq_ignore_ascii_case(b"received:"))
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5321_6_3_received_fields_are_counted_in_the_header_only() {
        let m = b"Received: from a\r\n\tby b\r\nRECEIVED: x\r\nSubject: Received: no\r\n\r\nReceived: body\r\n";
        assert_eq!(received_count(m), 2);
        assert_eq!(received_count(b""), 0);
    }

    #[test]
    fn the_first_empty_line_ends_the_header_section() {
        assert_eq!(header_end(b"A: b\r\n\r\nbody\r\n\r\nmore"), Some(4));
        assert_eq!(header_end(b"A: b\r\n"), None);
        assert_eq!(header_end(b"\r\n\r\n"), Some(0));
        assert_eq!(header_end(b""), None);
    }
}
