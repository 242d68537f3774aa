//! The two halves of a raw message (RFC 5322 §2.1): the header section, then an empty
//! line, then the body.

/// Where the empty line that ends the header section begins: the index of the first
/// CRLF CRLF, if there is one (a message of header fields only has none).
pub fn header_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_empty_line_ends_the_header_section() {
        assert_eq!(header_end(b"A: b\r\n\r\nbody\r\n\r\nmore"), Some(4));
        assert_eq!(header_end(b"A: b\r\n"), None);
        assert_eq!(header_end(b"\r\n\r\n"), Some(0));
        assert_eq!(header_end(b""), None);
    }
}
