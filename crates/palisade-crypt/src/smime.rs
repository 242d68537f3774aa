//! Users' S/MIME certificates (RFC 8550) and encryption to them as CMS enveloped data
//! (RFC 8551 §3.3, RFC 5652 §6) with the RustCrypto `cms` builder.
//!
//! A certificate is accepted when it is inside its validity period, its key usage (if
//! the extension is there) allows key encipherment, its extended key usage (if there)
//! allows e-mail protection, and a subject alternative name (rfc822Name) is one of the
//! user's addresses (RFC 8550 §3). Its key must be RSA: the builder does key transport
//! only (RSA PKCS #1 v1.5, which every S/MIME client reads); ECDH key agreement is not
//! there yet. The chain is not checked: the user vouches for their own certificate, and
//! it is only ever used to encrypt to them.

use cms::builder::{
    ContentEncryptionAlgorithm, EnvelopedDataBuilder, KeyEncryptionInfo,
    KeyTransRecipientInfoBuilder,
};
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::ContentInfo;
use cms::enveloped_data::RecipientIdentifier;
use rsa::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::der::{DecodePem, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName};

/// id-kp-emailProtection (RFC 5280 §4.2.1.12) and anyExtendedKeyUsage.
const EMAIL_PROTECTION: &str = "1.3.6.1.5.5.7.3.4";
const ANY_EXTENDED_KEY_USAGE: &str = "2.5.29.37.0";

/// Why a certificate is refused (each message says what to fix).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertError {
    #[error("not a PEM X.509 certificate: {0}")]
    Parse(String),
    #[error("the certificate is not valid before {0} (Unix time)")]
    NotYetValid(i64),
    #[error("the certificate expired at {0} (Unix time)")]
    Expired(i64),
    #[error("the certificate's key usage does not allow {0}")]
    KeyUsage(&'static str),
    #[error("the certificate's extended key usage does not allow e-mail protection")]
    ExtendedKeyUsage,
    #[error("no subject alternative name of the certificate is {wanted}; it names: {found}")]
    NoMatchingAddress { wanted: String, found: String },
    #[error("the certificate's key is not RSA (only RSA key transport is supported)")]
    NotRsa,
    #[error("encryption failed: {0}")]
    Encrypt(String),
}

/// What an accepted certificate is, for the store and `palisade user key list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// SHA-256 of the DER certificate, upper-case hex.
    pub fingerprint: String,
    pub expires: i64,
    /// The e-mail addresses among its subject alternative names.
    pub addresses: Vec<String>,
}

/// A user's S/MIME certificate, checked.
#[derive(Debug, Clone)]
pub struct SmimeCert {
    cert: Certificate,
    key: rsa::RsaPublicKey,
}

/// The certificate's RSA public key; `None` for any other kind of key.
pub(crate) fn rsa_key(cert: &Certificate) -> Option<rsa::RsaPublicKey> {
    let spki = cert.tbs_certificate.subject_public_key_info.to_der().ok()?;
    rsa::RsaPublicKey::from_public_key_der(&spki).ok()
}

/// The e-mail addresses (rfc822Name) among the certificate's subject alternative names.
pub(crate) fn email_names(cert: &Certificate) -> Result<Vec<String>, x509_cert::der::Error> {
    Ok(match cert.tbs_certificate.get::<SubjectAltName>()? {
        Some((_, SubjectAltName(names))) => names
            .iter()
            .filter_map(|n| match n {
                GeneralName::Rfc822Name(a) => Some(a.as_str().to_string()),
                _ => None,
            })
            .collect(),
        None => Vec::new(),
    })
}

/// SHA-256 of the DER certificate, upper-case hex.
pub(crate) fn fingerprint(cert: &Certificate) -> Result<String, x509_cert::der::Error> {
    Ok(crate::hex(&Sha256::digest(cert.to_der()?)))
}

fn parse(pem: &str) -> Result<(Certificate, rsa::RsaPublicKey), CertError> {
    let cert = Certificate::from_pem(pem.trim().as_bytes())
        .map_err(|e| CertError::Parse(e.to_string()))?;
    let key = rsa_key(&cert).ok_or(CertError::NotRsa)?;
    Ok((cert, key))
}

/// What a certificate is checked for: its key usage must allow this, if it says.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Use {
    Encryption,
    Signing,
}

/// The checks every user certificate passes (RFC 8550 §3, §4.4): valid at `now`, key
/// usage (if present) allowing `purpose`, extended key usage (if present) allowing
/// e-mail protection, and one of `addresses` among its subject alternative names.
pub(crate) fn check_cert(
    cert: &Certificate,
    addresses: &[String],
    now: i64,
    purpose: Use,
) -> Result<CertInfo, CertError> {
    {
        let tbs = &cert.tbs_certificate;
        let not_before = tbs.validity.not_before.to_unix_duration().as_secs() as i64;
        let not_after = tbs.validity.not_after.to_unix_duration().as_secs() as i64;
        if now < not_before {
            return Err(CertError::NotYetValid(not_before));
        }
        if now >= not_after {
            return Err(CertError::Expired(not_after));
        }
        let bad = |e: x509_cert::der::Error| CertError::Parse(e.to_string());
        let (wanted, named) = match purpose {
            Use::Encryption => (KeyUsages::KeyEncipherment, "key encipherment"),
            Use::Signing => (KeyUsages::DigitalSignature, "digital signatures"),
        };
        if let Some((_, KeyUsage(usage))) = tbs.get::<KeyUsage>().map_err(bad)?
            && !usage.contains(wanted)
        {
            return Err(CertError::KeyUsage(named));
        }
        if let Some((_, ExtendedKeyUsage(oids))) = tbs.get::<ExtendedKeyUsage>().map_err(bad)?
            && !oids.iter().any(|o| {
                let o = o.to_string();
                o == EMAIL_PROTECTION || o == ANY_EXTENDED_KEY_USAGE
            })
        {
            return Err(CertError::ExtendedKeyUsage);
        }
        let names = email_names(cert).map_err(bad)?;
        if !names
            .iter()
            .any(|n| addresses.iter().any(|a| a.eq_ignore_ascii_case(n)))
        {
            return Err(CertError::NoMatchingAddress {
                wanted: addresses.join(", "),
                found: names.join(", "),
            });
        }
        Ok(CertInfo {
            fingerprint: fingerprint(cert).map_err(bad)?,
            expires: not_after,
            addresses: names,
        })
    }
}

impl SmimeCert {
    /// Parses a PEM certificate and checks it for a user with `addresses`, at `now`.
    pub fn check(pem: &str, addresses: &[String], now: i64) -> Result<(Self, CertInfo), CertError> {
        let (cert, key) = parse(pem)?;
        let info = check_cert(&cert, addresses, now, Use::Encryption)?;
        Ok((SmimeCert { cert, key }, info))
    }

    /// Parses a certificate that was checked before (as stored).
    pub fn stored(pem: &str) -> Result<Self, CertError> {
        let (cert, key) = parse(pem)?;
        Ok(SmimeCert { cert, key })
    }

    /// The certificate as PEM.
    pub fn pem(&self) -> Result<String, CertError> {
        use x509_cert::der::EncodePem;
        self.cert
            .to_pem(x509_cert::der::pem::LineEnding::LF)
            .map_err(|e| CertError::Parse(e.to_string()))
    }

    /// `content` as DER CMS `ContentInfo` holding enveloped data for this certificate
    /// (AES-256-CBC; the key sent with RSA PKCS #1 v1.5, the recipient named by issuer
    /// and serial number).
    pub fn encrypt(&self, content: &[u8]) -> Result<Vec<u8>, CertError> {
        let err = |e: cms::builder::Error| CertError::Encrypt(e.to_string());
        let mut rng = rand08::rngs::OsRng;
        let rid = RecipientIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: self.cert.tbs_certificate.issuer.clone(),
            serial_number: self.cert.tbs_certificate.serial_number.clone(),
        });
        let mut key_rng = rand08::rngs::OsRng;
        let recipient = KeyTransRecipientInfoBuilder::new(
            rid,
            KeyEncryptionInfo::Rsa(self.key.clone()),
            &mut key_rng,
        )
        .map_err(err)?;
        let mut builder =
            EnvelopedDataBuilder::new(None, content, ContentEncryptionAlgorithm::Aes256Cbc, None)
                .map_err(err)?;
        let enveloped = builder
            .add_recipient_info(recipient)
            .map_err(err)?
            .build_with_rng(&mut rng)
            .map_err(err)?;
        let info = ContentInfo {
            content_type: const_oid::db::rfc5911::ID_ENVELOPED_DATA,
            content: x509_cert::der::Any::encode_from(&enveloped)
                .map_err(|e| CertError::Encrypt(e.to_string()))?,
        };
        info.to_der().map_err(|e| CertError::Encrypt(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused() {
        assert!(matches!(
            SmimeCert::check("hello", &[], 0),
            Err(CertError::Parse(_))
        ));
    }
}
