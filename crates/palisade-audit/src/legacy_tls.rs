//! Which old TLS versions and weak key exchanges a server still accepts. rustls (rightly)
//! cannot speak TLS 1.0/1.1 or RSA key exchange, so this sends one ClientHello (RFC
//! 5246 §7.4.1.2) that offers only what is being asked about and reads the first record
//! of the answer: a ServerHello with that version means "accepted", an alert or a
//! closed connection "refused". No key exchange ever happens: there is no cryptography
//! here, only the handshake's first message and its reply's header fields.

/// SSL 3.0 (RFC 7568 forbids it), TLS 1.0 and 1.1 (RFC 8996 deprecates both).
pub const SSL3: u16 = 0x0300;
pub const TLS1_0: u16 = 0x0301;
pub const TLS1_1: u16 = 0x0302;
pub const TLS1_2: u16 = 0x0303;

/// Suites a TLS 1.0/1.1 server would pick among: ECDHE and DHE with AES-CBC, RSA key
/// exchange with AES-CBC, 3DES.
pub const LEGACY_SUITES: &[u16] = &[
    0xc014, 0xc013, 0xc00a, 0xc009, 0x0039, 0x0033, 0x0035, 0x002f, 0x000a,
];
/// Broken ciphers only: RC4 (RFC 7465), NULL, EXPORT and single DES, and 3DES (SWEET32).
pub const WEAK_CIPHERS: &[u16] = &[
    0xc011, 0xc007, 0x0005, 0x0004, 0x0003, 0x0006, 0x0008, 0x0009, 0x0001, 0x0002, 0x003b, 0xc012,
    0x000a, 0x0016,
];
/// RSA key exchange only (no forward secrecy), at TLS 1.2.
pub const NO_FORWARD_SECRECY: &[u16] = &[0x009d, 0x009c, 0x003d, 0x003c, 0x0035, 0x002f, 0x000a];

fn u16be(v: usize) -> [u8; 2] {
    [(v >> 8) as u8, v as u8]
}

/// A ClientHello offering `version` and `suites` only, for `sni`.
pub fn client_hello(version: u16, suites: &[u16], sni: &str, random: [u8; 32]) -> Vec<u8> {
    let mut ext = Vec::new();
    // server_name (RFC 6066 §3).
    let name = sni.as_bytes();
    ext.extend_from_slice(&[0x00, 0x00]);
    ext.extend_from_slice(&u16be(name.len() + 5));
    ext.extend_from_slice(&u16be(name.len() + 3));
    ext.push(0);
    ext.extend_from_slice(&u16be(name.len()));
    ext.extend_from_slice(name);
    // supported_groups: secp256r1, secp384r1; ec_point_formats: uncompressed (RFC 8422).
    ext.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x17, 0x00, 0x18]);
    ext.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    // signature_algorithms for a TLS 1.2 hello: RSA/ECDSA with SHA-256/384/1.
    if version >= TLS1_2 {
        ext.extend_from_slice(&[
            0x00, 0x0d, 0x00, 0x0c, 0x00, 0x0a, 0x04, 0x01, 0x05, 0x01, 0x04, 0x03, 0x05, 0x03,
            0x02, 0x01,
        ]);
    }
    let mut body = Vec::new();
    body.extend_from_slice(&version.to_be_bytes());
    body.extend_from_slice(&random);
    body.push(0); // no session id
    body.extend_from_slice(&u16be(suites.len() * 2));
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression: null
    body.extend_from_slice(&u16be(ext.len()));
    body.extend_from_slice(&ext);
    let mut hs = vec![1, 0, 0, 0]; // client_hello
    hs[1..4].copy_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&u16be(hs.len()));
    rec.extend_from_slice(&hs);
    rec
}

/// What the first record of the answer says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A ServerHello: the version and suite chosen.
    Hello { version: u16, suite: u16 },
    /// An alert, or anything else: refused.
    Refused,
    /// Not enough bytes yet.
    Incomplete,
}

/// Reads the answer's first record (a ServerHello carries the version at bytes 9-10 and,
/// after the random and session id, the suite).
pub fn answer(bytes: &[u8]) -> Answer {
    if bytes.len() < 5 {
        return Answer::Incomplete;
    }
    if bytes[0] != 0x16 {
        return Answer::Refused;
    }
    let need = 5 + usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
    if bytes.len() < need.min(5 + 4 + 2 + 32 + 1 + 32 + 2) {
        return Answer::Incomplete;
    }
    let hs = &bytes[5..];
    if hs.first() != Some(&2) || hs.len() < 4 + 2 + 32 + 1 {
        return Answer::Refused;
    }
    let version = u16::from_be_bytes([hs[4], hs[5]]);
    let sid = usize::from(hs[38]);
    let at = 39 + sid;
    let Some(suite) = hs.get(at..at + 2) else {
        return Answer::Incomplete;
    };
    Answer::Hello {
        version,
        suite: u16::from_be_bytes([suite[0], suite[1]]),
    }
}

/// The version, suites and whether a TLS 1.3 `supported_versions` extension is present,
/// of a ClientHello (for the weak test server, which fakes old answers).
pub fn parse_client_hello(bytes: &[u8]) -> Option<(u16, Vec<u16>, bool)> {
    let hs = bytes.get(5..)?;
    if *hs.first()? != 1 {
        return None;
    }
    let version = u16::from_be_bytes([*hs.get(4)?, *hs.get(5)?]);
    let mut at = 38;
    let sid = usize::from(*hs.get(at)?);
    at += 1 + sid;
    let n = usize::from(u16::from_be_bytes([*hs.get(at)?, *hs.get(at + 1)?]));
    let suites = hs
        .get(at + 2..at + 2 + n)?
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]))
        .collect();
    at += 2 + n;
    let comp = usize::from(*hs.get(at)?);
    at += 1 + comp;
    let mut tls13 = false;
    if let Some(len) = hs.get(at..at + 2) {
        let end = at + 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
        let mut e = at + 2;
        while e + 4 <= end.min(hs.len()) {
            let ty = u16::from_be_bytes([hs[e], hs[e + 1]]);
            let l = usize::from(u16::from_be_bytes([hs[e + 2], hs[e + 3]]));
            tls13 |= ty == 0x002b;
            e += 4 + l;
        }
    }
    Some((version, suites, tls13))
}

/// A ServerHello record choosing `version` and `suite` (what the weak server answers).
pub fn server_hello(version: u16, suite: u16) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&version.to_be_bytes());
    body.extend_from_slice(&[7u8; 32]);
    body.push(0);
    body.extend_from_slice(&suite.to_be_bytes());
    body.push(0);
    let mut hs = vec![2, 0, 0, 0];
    hs[1..4].copy_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&u16be(hs.len()));
    rec.extend_from_slice(&hs);
    rec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hellos_round_trip() {
        let h = client_hello(TLS1_0, LEGACY_SUITES, "mx.example.test", [1; 32]);
        let (v, suites, tls13) = parse_client_hello(&h).unwrap_or_else(|| panic!("parses"));
        assert_eq!(
            (v, suites.as_slice(), tls13),
            (TLS1_0, LEGACY_SUITES, false)
        );
        assert_eq!(
            answer(&server_hello(TLS1_0, 0xc014)),
            Answer::Hello {
                version: TLS1_0,
                suite: 0xc014
            }
        );
        // An alert: handshake_failure.
        assert_eq!(
            answer(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28]),
            Answer::Refused
        );
        assert_eq!(answer(&[0x16, 0x03]), Answer::Incomplete);
    }
}
