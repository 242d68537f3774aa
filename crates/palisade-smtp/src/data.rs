//! Message content scanning for DATA (RFC 5321 §4.1.1.4, §4.5.2) and BDAT (RFC 3030).
//!
//! [`BodyScanner`] turns wire bytes into message bytes and decides where DATA ends. It is
//! the single place that defends against SMTP smuggling (CVE-2023-51764 and relatives):
//! the only end of DATA is `<CRLF>.<CRLF>`, and a CR or LF that is not part of a CRLF pair
//! is never treated as a line ending. Under [`BareLinePolicy::Reject`] (the default) such
//! a message is refused with `550 5.5.2` once it has been read to its end; under
//! `Normalise` the bare CR or LF is rewritten to CRLF *inside* the message, which still
//! cannot end it.
//!
//! The scanner also enforces the text line limit (1000 octets with CRLF, RFC 5321
//! §4.5.3.1.6) and the message size limit (RFC 1870) while streaming, so memory use is
//! bounded whatever the client sends: after an error it keeps reading to the end of the
//! message but stores nothing.

use memchr::memchr2;

/// What to do with a CR or LF that is not part of a CRLF pair inside message content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BareLinePolicy {
    /// Refuse the message with `550 5.5.2` (default).
    #[default]
    Reject,
    /// Rewrite it to CRLF inside the message; it still never ends DATA.
    Normalise,
}

/// Why a message body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    BareCr,
    BareLf,
    LineTooLong,
    TooBig,
}

/// RFC 5321 §4.5.3.1.6: 1000 octets including CRLF.
pub const MAX_TEXT_LINE: usize = 998;

/// Streaming scanner for one message body.
#[derive(Debug)]
pub struct BodyScanner {
    dot_stuffing: bool,
    policy: BareLinePolicy,
    max_size: u64,
    size: u64,
    /// Raw octets of the current line so far, CRLF excluded.
    line_len: usize,
    at_line_start: bool,
    /// The current line so far is exactly the (removed) leading dot.
    only_dot: bool,
    pending_cr: bool,
    error: Option<BodyError>,
}

impl BodyScanner {
    /// A scanner for DATA: dot-stuffed, ends at `<CRLF>.<CRLF>`. RFC 5321 §4.1.1.4: the
    /// CRLF that ends the DATA command counts as the first CRLF of the terminator, so a
    /// message of zero lines is just `.<CRLF>`.
    pub fn data(policy: BareLinePolicy, max_size: u64) -> Self {
        Self::new(true, policy, max_size)
    }

    /// A scanner for BDAT chunks: no dot-stuffing, the length tells where chunks end.
    pub fn bdat(policy: BareLinePolicy, max_size: u64) -> Self {
        Self::new(false, policy, max_size)
    }

    fn new(dot_stuffing: bool, policy: BareLinePolicy, max_size: u64) -> Self {
        BodyScanner {
            dot_stuffing,
            policy,
            max_size,
            size: 0,
            line_len: 0,
            at_line_start: true,
            only_dot: false,
            pending_cr: false,
            error: None,
        }
    }

    /// The first error met, if any: the message will be refused.
    pub fn error(&self) -> Option<BodyError> {
        self.error
    }

    /// Octets of message content accepted so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Records an error discovered outside the scanner (e.g. a BDAT chunk that would
    /// exceed the size limit is read but not stored).
    pub fn fail(&mut self, e: BodyError) {
        self.error.get_or_insert(e);
    }

    fn emit(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if self.error.is_some() || bytes.is_empty() {
            return;
        }
        self.size += bytes.len() as u64;
        if self.size > self.max_size {
            self.error = Some(BodyError::TooBig);
            return;
        }
        out.extend_from_slice(bytes);
    }

    fn end_line(&mut self, out: &mut Vec<u8>) {
        self.emit(b"\r\n", out);
        self.line_len = 0;
        self.at_line_start = true;
        self.only_dot = false;
    }

    /// A CR or LF outside a CRLF pair. It ends the current *line* (for the line limit)
    /// but never the message.
    fn bare(&mut self, e: BodyError, out: &mut Vec<u8>) {
        match self.policy {
            BareLinePolicy::Reject => self.fail(e),
            BareLinePolicy::Normalise => {
                if self.only_dot {
                    // The line was a lone (removed) dot: keep it as content.
                    self.emit(b".", out);
                }
                self.emit(b"\r\n", out);
            }
        }
        // A new line starts for the line limit, but not for dot handling: `<LF>.<CRLF>`
        // must not end DATA, so a dot after a bare CR/LF is plain content.
        self.line_len = 0;
        self.at_line_start = false;
        self.only_dot = false;
    }

    fn add_line_octets(&mut self, n: usize) {
        self.line_len += n;
        if self.line_len > MAX_TEXT_LINE {
            self.fail(BodyError::LineTooLong);
        }
    }

    /// Scans `input`, appending message bytes to `out`. Returns the number of bytes
    /// consumed and whether the end of DATA was reached (always false for BDAT). Bytes
    /// after the end of DATA are left unconsumed: they are the next pipelined command.
    pub fn scan(&mut self, input: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
        let mut i = 0;
        while i < input.len() {
            if self.pending_cr {
                self.pending_cr = false;
                if input[i] == b'\n' {
                    i += 1;
                    if self.only_dot {
                        return (i, true);
                    }
                    self.end_line(out);
                } else {
                    self.bare(BodyError::BareCr, out);
                }
                continue;
            }
            if self.at_line_start {
                self.at_line_start = false;
                if self.dot_stuffing && input[i] == b'.' {
                    // RFC 5321 §4.5.2: drop the first dot; if nothing else follows
                    // before CRLF, this line is the terminator. The dot is the
                    // client's transparency octet, not text: it does not count toward
                    // the line limit (§4.5.3.1.6 bounds the line as composed).
                    self.only_dot = true;
                    i += 1;
                    continue;
                }
            }
            let rest = &input[i..];
            let stop = memchr2(b'\r', b'\n', rest);
            let text = &rest[..stop.unwrap_or(rest.len())];
            if !text.is_empty() {
                self.only_dot = false;
                self.add_line_octets(text.len());
                self.emit(text, out);
            }
            i += text.len();
            match stop {
                None => {}
                Some(p) if rest[p] == b'\r' => {
                    self.pending_cr = true;
                    i += 1;
                }
                Some(_) => {
                    i += 1;
                    self.bare(BodyError::BareLf, out);
                }
            }
        }
        (i, false)
    }

    /// Ends a BDAT message: a trailing lone CR is a bare CR.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.pending_cr) {
            self.bare(BodyError::BareCr, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes, returning (content, consumed, ended, error).
    fn run(
        mut s: BodyScanner,
        input: &[u8],
        step: usize,
    ) -> (Vec<u8>, usize, bool, Option<BodyError>) {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < input.len() {
            let start = pos;
            let end = (pos + step).min(input.len());
            let (n, done) = s.scan(&input[start..end], &mut out);
            pos += n;
            if done {
                return (out, pos, true, s.error());
            }
            // The scanner consumes everything it is given unless DATA ended.
            assert_eq!(n, end - start);
        }
        (out, pos, false, s.error())
    }

    fn data(input: &[u8]) -> (Vec<u8>, usize, bool, Option<BodyError>) {
        let whole = run(
            BodyScanner::data(BareLinePolicy::Reject, 1 << 20),
            input,
            input.len().max(1),
        );
        // Byte-at-a-time feeding must give the same answer: state crosses reads. (What
        // was stored before an error may differ; it is discarded anyway.)
        let bytewise = run(BodyScanner::data(BareLinePolicy::Reject, 1 << 20), input, 1);
        assert_eq!(whole.1..=whole.1, bytewise.1..=bytewise.1);
        assert_eq!((whole.2, whole.3), (bytewise.2, bytewise.3));
        if whole.3.is_none() {
            assert_eq!(whole.0, bytewise.0);
        }
        whole
    }

    #[test]
    fn rfc5321_4_1_1_4_end_of_data() {
        let (out, n, end, err) = data(b"Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n");
        assert_eq!(out, b"Subject: x\r\n\r\nbody\r\n");
        assert_eq!(n, 23);
        assert!(end);
        assert_eq!(err, None);
    }

    #[test]
    fn rfc5321_4_1_1_4_empty_message() {
        let (out, n, end, _) = data(b".\r\n");
        assert!(out.is_empty());
        assert_eq!(n, 3);
        assert!(end);
    }

    #[test]
    fn rfc5321_4_5_2_dot_stuffing() {
        let (out, _, end, err) = data(b"..leading\r\n...\r\n.x\r\n.\r\n");
        assert_eq!(out, b".leading\r\n..\r\nx\r\n");
        assert!(end);
        assert_eq!(err, None);
    }

    #[test]
    fn cve_2023_51764_bare_lf_dot_does_not_end_data() {
        // "<LF>.<LF>" and "<LF>.<CRLF>" are smuggling terminators: neither ends DATA.
        for input in [
            &b"a\r\n\n.\nMAIL FROM:<x@evil.test>\r\n"[..],
            &b"a\n.\r\nMAIL FROM:<x@evil.test>\r\n"[..],
            &b"a\r\n.\nRCPT TO:<x@evil.test>\r\n"[..],
        ] {
            let (_, n, end, err) = data(input);
            assert!(!end, "{input:?} must not end DATA");
            assert_eq!(n, input.len());
            assert_eq!(err, Some(BodyError::BareLf), "{input:?}");
        }
    }

    #[test]
    fn cve_2023_51764_bare_cr_dot_does_not_end_data() {
        let input = b"a\r\r.\r\rMAIL FROM:<x@evil.test>\r\n";
        let (_, n, end, err) = data(input);
        assert!(!end);
        assert_eq!(n, input.len());
        assert_eq!(err, Some(BodyError::BareCr));
    }

    #[test]
    fn bare_lf_message_is_read_to_its_real_end() {
        let (out, n, end, err) = data(b"a\nb\r\n.\r\nNOOP\r\n");
        assert!(end);
        assert_eq!(n, 8);
        assert_eq!(err, Some(BodyError::BareLf));
        assert!(out.len() <= 1, "nothing after the error is stored");
    }

    #[test]
    fn normalise_policy_rewrites_but_never_ends() {
        let mut s = BodyScanner::data(BareLinePolicy::Normalise, 1 << 20);
        let mut out = Vec::new();
        let (n, end) = s.scan(b"a\nb\rc\r\n.\nd\r\n.\r\n", &mut out);
        assert!(end);
        assert_eq!(n, 15);
        assert_eq!(s.error(), None);
        assert_eq!(out, b"a\r\nb\r\nc\r\n.\r\nd\r\n");
    }

    #[test]
    fn rfc5321_4_5_3_1_6_text_line_limit() {
        let mut ok = vec![b'x'; 998];
        ok.extend_from_slice(b"\r\n.\r\n");
        assert_eq!(data(&ok).3, None);
        let mut long = vec![b'x'; 999];
        long.extend_from_slice(b"\r\n.\r\n");
        let (_, _, end, err) = data(&long);
        assert!(end);
        assert_eq!(err, Some(BodyError::LineTooLong));
    }

    /// Issue 15, Low: a legal 998-octet line that starts with "." was refused: on the
    /// wire it has 999 octets, but the stuffed dot is not part of the line (RFC 5321
    /// §4.5.2, §4.5.3.1.6).
    #[test]
    fn rfc5321_4_5_2_dot_stuffing_octet_is_not_counted_in_the_line_limit() {
        let mut ok = b"..".to_vec();
        ok.extend_from_slice(&[b'x'; 997]);
        ok.extend_from_slice(b"\r\n.\r\n");
        let (content, _, end, err) = data(&ok);
        assert!(end);
        assert_eq!(err, None);
        assert_eq!(content.len(), 998 + 2);
        let mut long = b"..".to_vec();
        long.extend_from_slice(&[b'x'; 998]);
        long.extend_from_slice(b"\r\n.\r\n");
        assert_eq!(data(&long).3, Some(BodyError::LineTooLong));
    }

    #[test]
    fn rfc1870_size_enforced_while_streaming() {
        let mut s = BodyScanner::data(BareLinePolicy::Reject, 10);
        let mut out = Vec::new();
        let (_, end) = s.scan(b"0123456789\r\nmore\r\n.\r\n", &mut out);
        assert!(end);
        assert_eq!(s.error(), Some(BodyError::TooBig));
        assert!(out.len() <= 10);
    }

    #[test]
    fn rfc3030_bdat_has_no_dot_stuffing() {
        let mut s = BodyScanner::bdat(BareLinePolicy::Reject, 1 << 20);
        let mut out = Vec::new();
        let (n, end) = s.scan(b"..x\r\n.\r\n", &mut out);
        assert!(!end);
        assert_eq!(n, 8);
        s.finish(&mut out);
        assert_eq!(out, b"..x\r\n.\r\n");
        assert_eq!(s.error(), None);
    }

    #[test]
    fn bdat_crlf_split_across_chunks_and_trailing_cr() {
        let mut s = BodyScanner::bdat(BareLinePolicy::Reject, 1 << 20);
        let mut out = Vec::new();
        s.scan(b"a\r", &mut out);
        s.scan(b"\nb\r", &mut out);
        s.finish(&mut out);
        assert_eq!(s.error(), Some(BodyError::BareCr));
    }
}
