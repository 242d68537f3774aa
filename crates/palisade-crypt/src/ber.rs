//! BER to DER for CMS. RFC 5652 §1 allows BER, and senders that stream (`openssl cms
//! -stream`, many mail clients) write indefinite lengths and OCTET STRINGs in chunks;
//! the cms crate reads DER only and refused such valid signatures (issue 16). bcder
//! reads the BER; this writes the same values back with definite lengths and each
//! chunked OCTET STRING joined into one. Signed attributes are DER already (RFC 5652
//! §5.4 signs their DER encoding) and come through unchanged.

use bcder::decode::{Constructed, Content, DecodeError, Source};
use bcder::{Mode, Tag};

/// Nesting deeper than any CMS structure needs is refused (hostile input).
const MAX_DEPTH: usize = 64;

/// `ber`, one BER value (a CMS ContentInfo), as DER; `None` when it is not that.
pub fn to_der(ber: &[u8]) -> Option<Vec<u8>> {
    Constructed::decode(ber, Mode::Ber, |cons| {
        let mut out = Vec::with_capacity(ber.len());
        cons.take_value(|tag, content| value(tag, content, &mut out, 0))?;
        Ok(out)
    })
    .ok()
}

fn value<S: Source>(
    tag: Tag,
    content: &mut Content<S>,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), DecodeError<S::Error>> {
    if depth > MAX_DEPTH {
        return Err(content.content_err("nested too deeply"));
    }
    match content {
        Content::Primitive(p) => write(tag, false, &p.take_all()?, out),
        Content::Constructed(c) if tag == Tag::OCTET_STRING => {
            let mut joined = Vec::new();
            chunks(c, &mut joined, depth + 1)?;
            write(tag, false, &joined, out);
        }
        Content::Constructed(c) => {
            let mut inner = Vec::new();
            while c
                .take_opt_value(|t, v| value(t, v, &mut inner, depth + 1))?
                .is_some()
            {}
            write(tag, true, &inner, out);
        }
    }
    Ok(())
}

/// The octets of a constructed OCTET STRING: its chunks, themselves OCTET STRINGs.
fn chunks<S: Source>(
    c: &mut Constructed<S>,
    joined: &mut Vec<u8>,
    depth: usize,
) -> Result<(), DecodeError<S::Error>> {
    if depth > MAX_DEPTH {
        return Err(c.content_err("nested too deeply"));
    }
    while c
        .take_opt_value_if(Tag::OCTET_STRING, |content| match content {
            Content::Primitive(p) => {
                joined.extend_from_slice(&p.take_all()?);
                Ok(())
            }
            Content::Constructed(inner) => chunks(inner, joined, depth + 1),
        })?
        .is_some()
    {}
    Ok(())
}

/// Tag, definite length in the fewest octets (X.690 §10.1), content.
fn write(tag: Tag, constructed: bool, content: &[u8], out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    let _ = tag.write_encoded(constructed, out);
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x690_indefinite_lengths_and_chunked_octet_strings_become_der() {
        // SEQUENCE (indefinite) { OCTET STRING (constructed, indefinite) { "ab", "c" } }
        let ber = [
            0x30, 0x80, 0x24, 0x80, 0x04, 0x02, b'a', b'b', 0x04, 0x01, b'c', 0x00, 0x00, 0x00,
            0x00,
        ];
        assert_eq!(
            to_der(&ber),
            Some(vec![0x30, 0x05, 0x04, 0x03, b'a', b'b', b'c'])
        );
        // Already DER: unchanged; a long length keeps its minimal form.
        let mut der = vec![0x04, 0x81, 200];
        der.extend([7u8; 200]);
        assert_eq!(to_der(&der), Some(der.clone()));
        assert_eq!(to_der(&[0x30, 0x80, 0x04]), None);
    }

    #[test]
    fn hostile_nesting_is_refused() {
        let mut ber = Vec::new();
        for _ in 0..200 {
            ber.extend([0x30, 0x80]);
        }
        for _ in 0..200 {
            ber.extend([0x00, 0x00]);
        }
        assert_eq!(to_der(&ber), None);
    }
}
