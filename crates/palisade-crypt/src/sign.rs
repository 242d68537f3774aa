//! S/MIME signing of a user's outgoing mail (RFC 8551 §3.5.3): `multipart/signed` with
//! a detached CMS SignedData (RFC 5652 §5) carrying the signing time, the SHA-256
//! message digest, the user's certificate and its chain.
//!
//! The signed part is the message's MIME entity (its `Content-*` fields and body, byte
//! for byte) plus copies of the fields a reader shows (Subject, From, To...) marked
//! `protected-headers="v1"`, as for encryption ([`crate::at_rest`]): the signature then
//! covers what the reader sees, not only the body. The signature itself is made by
//! aws-lc-rs (RSA PKCS #1 v1.5 with SHA-256, or ECDSA P-256 with SHA-256): private-key
//! operations stay out of the rsa crate (RUSTSEC-2023-0071, DESIGN).

use crate::at_rest::{Options, split};
use crate::smime::{CertError, CertInfo, Use, check_cert};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine;
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedAttributes, SignedData, SignerIdentifier,
    SignerInfo, SignerInfos,
};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911::{ID_DATA, ID_SIGNED_DATA};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::der::asn1::{OctetString, SetOfVec};
use x509_cert::der::{Any, Encode};
use x509_cert::spki::AlgorithmIdentifierOwned;

const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// RFC 3370 §3.2: rsaEncryption names PKCS #1 v1.5 signatures in SignerInfo.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// RFC 5753 §2.1.1.
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

/// Why a signing identity is refused or a message could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error("no PEM private key found (-----BEGIN PRIVATE KEY-----)")]
    NoKey,
    #[error("the private key is encrypted: decrypt it first (openssl pkey -in KEY -out CLEAR)")]
    KeyEncrypted,
    #[error("the private key is not an RSA or ECDSA P-256 key ({0})")]
    KeyKind(String),
    #[error("the private key does not belong to the certificate")]
    KeyMismatch,
    #[error("signing failed: {0}")]
    Sign(String),
}

enum PrivateKey {
    Rsa(RsaKeyPair),
    EcdsaP256(EcdsaKeyPair),
}

/// A user's certificate (and chain) with the private key that signs for it.
pub struct SigningIdentity {
    chain: Vec<Certificate>,
    key: PrivateKey,
}

/// The first PEM block whose label ends in `PRIVATE KEY`: (label, DER).
fn private_key_block(pem: &str) -> Result<(String, Vec<u8>), SignError> {
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let label_end = block[11..].find("-----").map(|e| e + 11);
        let Some(label_end) = label_end else { break };
        let label = &block[11..label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = block.find(&end_marker) else {
            break;
        };
        if label.ends_with("PRIVATE KEY") {
            if label == "ENCRYPTED PRIVATE KEY" {
                return Err(SignError::KeyEncrypted);
            }
            let text = &block[..end + end_marker.len()];
            let (label, der) = x509_cert::der::pem::decode_vec(text.as_bytes())
                .map_err(|e| SignError::KeyKind(e.to_string()))?;
            return Ok((label.to_string(), der));
        }
        rest = &block[end + end_marker.len()..];
    }
    Err(SignError::NoKey)
}

fn parse_key(pem: &str) -> Result<PrivateKey, SignError> {
    let (label, der) = private_key_block(pem)?;
    let kind = |e: &dyn std::fmt::Display| SignError::KeyKind(e.to_string());
    match label.as_str() {
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der)
            .map(PrivateKey::Rsa)
            .map_err(|e| kind(&e)),
        "EC PRIVATE KEY" => {
            EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_ASN1_SIGNING, &der)
                .map(PrivateKey::EcdsaP256)
                .map_err(|e| kind(&e))
        }
        _ => match RsaKeyPair::from_pkcs8(&der) {
            Ok(k) => Ok(PrivateKey::Rsa(k)),
            Err(_) => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &der)
                .map(PrivateKey::EcdsaP256)
                .map_err(|e| kind(&e)),
        },
    }
}

fn parse_chain(pem: &str) -> Result<Vec<Certificate>, SignError> {
    let chain = Certificate::load_pem_chain(pem.trim().as_bytes())
        .map_err(|e| CertError::Parse(e.to_string()))?;
    if chain.is_empty() {
        return Err(CertError::Parse("no certificate".into()).into());
    }
    Ok(chain)
}

impl SigningIdentity {
    /// Checks a certificate (first in `cert_pem`, intermediates after it) for a user
    /// with `addresses` at `now`, and that `key_pem` is its private key.
    pub fn check(
        cert_pem: &str,
        key_pem: &str,
        addresses: &[String],
        now: i64,
    ) -> Result<(Self, CertInfo), SignError> {
        let identity = Self::stored(cert_pem, key_pem)?;
        let info = check_cert(&identity.chain[0], addresses, now, Use::Signing)?;
        let spki = &identity.chain[0].tbs_certificate.subject_public_key_info;
        let public = match &identity.key {
            PrivateKey::Rsa(k) => k.public_key().as_ref().to_vec(),
            PrivateKey::EcdsaP256(k) => k.public_key().as_ref().to_vec(),
        };
        if spki.subject_public_key.raw_bytes() != public.as_slice() {
            return Err(SignError::KeyMismatch);
        }
        Ok((identity, info))
    }

    /// An identity that was checked before (as stored).
    pub fn stored(cert_pem: &str, key_pem: &str) -> Result<Self, SignError> {
        Ok(SigningIdentity {
            chain: parse_chain(cert_pem)?,
            key: parse_key(key_pem)?,
        })
    }

    /// The certificate's expiry (Unix time).
    pub fn expires(&self) -> i64 {
        let v = &self.chain[0].tbs_certificate.validity;
        v.not_after.to_unix_duration().as_secs() as i64
    }

    /// `message` signed; `None` for one that is signed or encrypted already (left as it
    /// is: a signature over ciphertext, or a second signature, helps no reader).
    pub fn sign(&self, message: &[u8]) -> Result<Option<Vec<u8>>, SignError> {
        if crate::signed::is_signed(message) {
            return Ok(None);
        }
        let opts = Options {
            protect_subject: false,
        };
        let Some((mut outer, inner)) = split(message, opts) else {
            return Ok(None);
        };
        let der = self.signed_data(&inner)?;
        let boundary = crate::at_rest::boundary();
        outer.extend_from_slice(
            format!(
                "MIME-Version: 1.0\r\nContent-Type: multipart/signed; \
                 protocol=\"application/pkcs7-signature\"; micalg=sha-256;\r\n \
                 boundary=\"{boundary}\"\r\n\r\n\
                 This is a cryptographically signed message in MIME format.\r\n\r\n\
                 --{boundary}\r\n"
            )
            .as_bytes(),
        );
        // RFC 2046 §5.1.1: the CRLF before a boundary belongs to the boundary, so the
        // signed content is `inner` exactly.
        outer.extend_from_slice(&inner);
        outer.extend_from_slice(
            format!(
                "\r\n--{boundary}\r\nContent-Type: application/pkcs7-signature; \
                 name=\"smime.p7s\"\r\nContent-Transfer-Encoding: base64\r\n\
                 Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\
                 Content-Description: S/MIME Cryptographic Signature\r\n\r\n"
            )
            .as_bytes(),
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        for line in b64.as_bytes().chunks(76) {
            outer.extend_from_slice(line);
            outer.extend_from_slice(b"\r\n");
        }
        outer.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        Ok(Some(outer))
    }

    /// DER ContentInfo: detached SignedData over `content` (RFC 5652 §5.3, §5.4).
    fn signed_data(&self, content: &[u8]) -> Result<Vec<u8>, SignError> {
        let bad = |e: &dyn std::fmt::Display| SignError::Sign(e.to_string());
        let attrs: SignedAttributes = SetOfVec::try_from(vec![
            cms::builder::create_content_type_attribute(ID_DATA).map_err(|e| bad(&e))?,
            cms::builder::create_signing_time_attribute().map_err(|e| bad(&e))?,
            cms::builder::create_message_digest_attribute(&Sha256::digest(content))
                .map_err(|e| bad(&e))?,
        ])
        .map_err(|e| bad(&e))?;
        // §5.4: the signature is over the DER of the attributes as a SET OF.
        let to_sign = attrs.to_der().map_err(|e| bad(&e))?;
        let rng = SystemRandom::new();
        let (signature, algorithm) = match &self.key {
            PrivateKey::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &rng, &to_sign, &mut sig)
                    .map_err(|e| bad(&e))?;
                let null =
                    Any::new(x509_cert::der::Tag::Null, Vec::<u8>::new()).map_err(|e| bad(&e))?;
                (
                    sig,
                    AlgorithmIdentifierOwned {
                        oid: RSA_ENCRYPTION,
                        parameters: Some(null),
                    },
                )
            }
            PrivateKey::EcdsaP256(k) => (
                k.sign(&rng, &to_sign)
                    .map_err(|e| bad(&e))?
                    .as_ref()
                    .to_vec(),
                AlgorithmIdentifierOwned {
                    oid: ECDSA_WITH_SHA256,
                    parameters: None,
                },
            ),
        };
        let cert = &self.chain[0].tbs_certificate;
        let sha256 = AlgorithmIdentifierOwned {
            oid: SHA256,
            parameters: None,
        };
        let signer = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: cert.issuer.clone(),
                serial_number: cert.serial_number.clone(),
            }),
            digest_alg: sha256.clone(),
            signed_attrs: Some(attrs),
            signature_algorithm: algorithm,
            signature: OctetString::new(signature).map_err(|e| bad(&e))?,
            unsigned_attrs: None,
        };
        let certificates = SetOfVec::try_from(
            self.chain
                .iter()
                .cloned()
                .map(CertificateChoices::Certificate)
                .collect::<Vec<_>>(),
        )
        .map_err(|e| bad(&e))?;
        let signed = SignedData {
            version: CmsVersion::V1,
            digest_algorithms: SetOfVec::try_from(vec![sha256]).map_err(|e| bad(&e))?,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: ID_DATA,
                econtent: None,
            },
            certificates: Some(CertificateSet(certificates)),
            crls: None,
            signer_infos: SignerInfos(SetOfVec::try_from(vec![signer]).map_err(|e| bad(&e))?),
        };
        ContentInfo {
            content_type: ID_SIGNED_DATA,
            content: Any::encode_from(&signed).map_err(|e| bad(&e))?,
        }
        .to_der()
        .map_err(|e| bad(&e))
    }
}
