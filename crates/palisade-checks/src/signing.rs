//! DKIM keys and signing for our own mail (RFC 6376; Ed25519 per RFC 8463).
//!
//! Keys are generated with aws-lc-rs (the `rsa` crate's timing advisory stays out of
//! the signing path, DESIGN §4) and signatures made by mail-auth over aws-lc-rs. Every
//! local domain gets an Ed25519 and an RSA-2048 key and outbound mail is signed with
//! both (RFC 8463 §3: Ed25519 for verifiers that know it, RSA for the rest). The RSA
//! public key is published as SubjectPublicKeyInfo (the widest interop).

use crate::relaxed_body::without_trailing_blank_lines;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner, Done};

/// The header fields we sign. "From" is listed twice: the second, absent, instance
/// is signed as empty, so a second From added in transit breaks the signature
/// (RFC 6376 §8.15, over-signing).
pub const SIGNED_HEADERS: &[&str] = &[
    "From",
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Id",
    "List-Unsubscribe",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    Ed25519,
    Rsa,
}

impl KeyAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::Ed25519 => "ed25519",
            KeyAlgorithm::Rsa => "rsa",
        }
    }

    pub fn parse(s: &str) -> Option<KeyAlgorithm> {
        match s {
            "ed25519" => Some(KeyAlgorithm::Ed25519),
            "rsa" => Some(KeyAlgorithm::Rsa),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("key generation failed")]
    Generate,
    #[error("stored {algorithm} key for selector {selector} is unusable: {message}")]
    BadKey {
        algorithm: &'static str,
        selector: String,
        message: String,
    },
    #[error("signing with selector {selector} failed: {message}")]
    Sign { selector: String, message: String },
}

/// A fresh key: PKCS#8 private key and the `p=` value, both base64.
#[derive(Clone)]
pub struct NewKey {
    pub algorithm: KeyAlgorithm,
    pub private_pkcs8: String,
    pub public: String,
}

pub fn generate(algorithm: KeyAlgorithm) -> Result<NewKey, SigningError> {
    let (private, public) = match algorithm {
        KeyAlgorithm::Ed25519 => {
            let rng = aws_lc_rs::rand::SystemRandom::new();
            let pkcs8 = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| SigningError::Generate)?;
            let pair = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
                .map_err(|_| SigningError::Generate)?;
            // RFC 8463 §4.2: p= is the raw 32-octet public key.
            (pkcs8.as_ref().to_vec(), pair.public_key().as_ref().to_vec())
        }
        KeyAlgorithm::Rsa => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(|_| SigningError::Generate)?;
            let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
                .map_err(|_| SigningError::Generate)?;
            let spki = AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(pair.public_key())
                .map_err(|_| SigningError::Generate)?;
            (pkcs8.as_ref().to_vec(), spki.as_ref().to_vec())
        }
    };
    Ok(NewKey {
        algorithm,
        private_pkcs8: STANDARD.encode(private),
        public: STANDARD.encode(public),
    })
}

/// The TXT record at `<selector>._domainkey.<domain>`.
pub fn dns_record(algorithm: KeyAlgorithm, public: &str) -> String {
    format!("v=DKIM1; k={}; p={public}", algorithm.name())
}

/// A stored key to sign with.
pub struct SigningKey<'a> {
    pub domain: &'a str,
    pub selector: &'a str,
    pub algorithm: KeyAlgorithm,
    pub private_pkcs8: &'a str,
}

/// `DKIM-Signature` fields (each ending in CRLF) for `message`, one per key.
/// Keys parsed once and reused for many messages: parsing (and checking) an RSA private
/// key costs about as much as a signature, so the server keeps these per domain.
pub struct PreparedKeys {
    signers: Vec<(String, Prepared)>,
}

enum Prepared {
    Ed25519(DkimSigner<Ed25519Key, Done>),
    Rsa(DkimSigner<RsaKey<Sha256>, Done>),
}

impl PreparedKeys {
    pub fn new(keys: &[SigningKey<'_>]) -> Result<PreparedKeys, SigningError> {
        let mut signers = Vec::with_capacity(keys.len());
        for k in keys {
            let prepared = match parse_key(k)? {
                ParsedKey::Ed25519(key) => Prepared::Ed25519(
                    DkimSigner::from_key(key)
                        .domain(k.domain)
                        .selector(k.selector)
                        .headers(SIGNED_HEADERS.iter().copied())
                        .header_canonicalization(Canonicalization::Relaxed)
                        .body_canonicalization(Canonicalization::Relaxed),
                ),
                ParsedKey::Rsa(key) => Prepared::Rsa(
                    DkimSigner::from_key(key)
                        .domain(k.domain)
                        .selector(k.selector)
                        .headers(SIGNED_HEADERS.iter().copied())
                        .header_canonicalization(Canonicalization::Relaxed)
                        .body_canonicalization(Canonicalization::Relaxed),
                ),
            };
            signers.push((k.selector.to_string(), prepared));
        }
        Ok(PreparedKeys { signers })
    }

    pub fn is_empty(&self) -> bool {
        self.signers.is_empty()
    }

    /// DKIM-Signature fields, one per key, for `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SigningError> {
        // mail-auth 0.13.3 keeps trailing whitespace-only lines in the relaxed body hash
        // (RFC 6376 §3.4.4 drops them): sign what a correct verifier will hash.
        let normalised = without_trailing_blank_lines(message);
        let input = normalised.as_deref().unwrap_or(message);
        let mut out = Vec::new();
        for (selector, signer) in &self.signers {
            let signed = match signer {
                Prepared::Ed25519(s) => s.sign(input),
                Prepared::Rsa(s) => s.sign(input),
            }
            .map_err(|e| SigningError::Sign {
                selector: selector.clone(),
                message: e.to_string(),
            })?;
            out.extend_from_slice(signed.to_header().as_bytes());
        }
        Ok(out)
    }
}

/// A stored key, parsed for mail-auth's signers (DKIM and ARC).
pub(crate) enum ParsedKey {
    Ed25519(Ed25519Key),
    Rsa(RsaKey<Sha256>),
}

pub(crate) fn parse_key(k: &SigningKey<'_>) -> Result<ParsedKey, SigningError> {
    let bad = |message: String| SigningError::BadKey {
        algorithm: k.algorithm.name(),
        selector: k.selector.to_string(),
        message,
    };
    let der = STANDARD
        .decode(k.private_pkcs8)
        .map_err(|e| bad(e.to_string()))?;
    Ok(match k.algorithm {
        KeyAlgorithm::Ed25519 => {
            ParsedKey::Ed25519(Ed25519Key::from_pkcs8_der(&der).map_err(|e| bad(e.to_string()))?)
        }
        KeyAlgorithm::Rsa => ParsedKey::Rsa(
            RsaKey::<Sha256>::from_key_der(rustls_pki_types::PrivateKeyDer::Pkcs8(
                rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_slice()),
            ))
            .map_err(|e| bad(e.to_string()))?,
        ),
    })
}

/// Signs once with `keys` (see [`PreparedKeys`] to sign many messages).
pub fn sign(message: &[u8], keys: &[SigningKey<'_>]) -> Result<Vec<u8>, SigningError> {
    PreparedKeys::new(keys)?.sign(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_generate_and_sign_both_algorithms() {
        let ed = generate(KeyAlgorithm::Ed25519).unwrap_or_else(|e| panic!("{e}"));
        let rsa = generate(KeyAlgorithm::Rsa).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(STANDARD.decode(&ed.public).map(|k| k.len()).ok(), Some(32));
        assert!(dns_record(KeyAlgorithm::Rsa, &rsa.public).starts_with("v=DKIM1; k=rsa; p=MII"));
        let msg = b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n";
        let headers = sign(
            msg,
            &[
                SigningKey {
                    domain: "example.com",
                    selector: "ed1",
                    algorithm: KeyAlgorithm::Ed25519,
                    private_pkcs8: &ed.private_pkcs8,
                },
                SigningKey {
                    domain: "example.com",
                    selector: "rsa1",
                    algorithm: KeyAlgorithm::Rsa,
                    private_pkcs8: &rsa.private_pkcs8,
                },
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8_lossy(&headers);
        assert_eq!(text.matches("DKIM-Signature:").count(), 2, "{text}");
        assert!(text.contains("a=ed25519-sha256") && text.contains("a=rsa-sha256"));
        assert!(text.contains("s=ed1") && text.contains("d=example.com"));
    }

    #[test]
    fn relaxed_body_hash_ignores_trailing_blank_lines() {
        // The DESIGN §4 regression: bh("x\r\n") == bh("x\r\n  \r\n").
        let ed = generate(KeyAlgorithm::Ed25519).unwrap_or_else(|e| panic!("{e}"));
        let key = [SigningKey {
            domain: "example.com",
            selector: "s",
            algorithm: KeyAlgorithm::Ed25519,
            private_pkcs8: &ed.private_pkcs8,
        }];
        let bh = |m: &[u8]| {
            let h = String::from_utf8_lossy(&sign(m, &key).unwrap_or_default()).to_string();
            h.split("bh=")
                .nth(1)
                .and_then(|r| r.split(';').next())
                .unwrap_or_default()
                .to_string()
        };
        let a = bh(b"From: a@example.com\r\n\r\nx\r\n");
        assert!(!a.is_empty());
        assert_eq!(a, bh(b"From: a@example.com\r\n\r\nx\r\n  \r\n"));
    }
}
