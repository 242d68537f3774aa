//! Signed mail: PGP/MIME (RFC 3156 §5) and S/MIME (RFC 8551 §3.5.3,
//! multipart/signed with a detached `application/pkcs7-signature`) checked against the
//! exact bytes of the signed part.
//!
//! An OpenPGP signature can only be checked with the signer's key: Palisade knows its
//! users' keys; any other signer is reported as an unknown key, not as a failure. An
//! S/MIME signature carries its certificate, so it is always checked; whether the
//! certificate is one Palisade knows (a user's) is reported beside it. Certificate
//! chains are not checked against CAs.
//!
//! The CMS steps are RFC 5652 §5.4 and §5.6 (the message-digest attribute, then the
//! signature over the DER of the signed attributes); the cryptography is the RustCrypto
//! crates' (sha2, rsa: public-key operations only).

use crate::openpgp::OpenPgpKey;
use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use mail_parser::MimeHeaders;
use pgp::composed::{Deserializable, DetachedSignature};
use pgp::types::KeyDetails;
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};

/// Which kind of signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    OpenPgp,
    Smime,
}

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The signature verifies over the signed part.
    Valid,
    /// It does not (the part was changed, or the signature is broken): why.
    Invalid(String),
    /// Signed by a key Palisade does not have (OpenPGP): it cannot be checked.
    UnknownKey,
    /// An algorithm or structure this check does not handle.
    Unsupported(String),
}

/// One signed message's signature, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureCheck {
    pub kind: Kind,
    pub status: Status,
    /// The signer: an OpenPGP fingerprint, or the certificate's SHA-256 fingerprint.
    pub signer: String,
    /// The addresses the key (User IDs) or certificate (subject alternative names) names.
    pub addresses: Vec<String>,
    /// The key or certificate is one a Palisade user registered.
    pub known: bool,
    /// One of `addresses` is the message's From address.
    pub matches_from: bool,
}

/// What Palisade knows to check signatures with.
#[derive(Default)]
pub struct Known<'k> {
    pub openpgp: &'k [OpenPgpKey],
    /// SHA-256 fingerprints (upper-case hex) of users' certificates.
    pub smime: &'k [String],
}

/// The signed part and the signature part of a multipart/signed body (RFC 1847 §2.1):
/// the signed part is every byte between the first delimiter line and the CRLF before
/// the next delimiter.
fn parts<'m>(body: &'m [u8], boundary: &str) -> Option<(&'m [u8], &'m [u8])> {
    let delimiter = format!("--{boundary}");
    let at_line_start = |at: usize| at == 0 || body[..at].ends_with(b"\r\n");
    let first =
        memchr::memmem::find_iter(body, delimiter.as_bytes()).find(|&at| at_line_start(at))?;
    let start = first + memchr::memmem::find(&body[first..], b"\r\n")? + 2;
    let next = format!("\r\n{delimiter}");
    let end = start + memchr::memmem::find(&body[start..], next.as_bytes())?;
    let sig_start_line = end + next.len();
    let sig_start = sig_start_line + memchr::memmem::find(&body[sig_start_line..], b"\r\n")? + 2;
    let sig_end = sig_start
        + memchr::memmem::find(&body[sig_start..], next.as_bytes())
            .unwrap_or(body.len() - sig_start);
    Some((&body[start..end], &body[sig_start..sig_end]))
}

/// True for a multipart/signed message or S/MIME opaque signed data (a cheap look at
/// its Content-Type).
pub fn is_signed(message: &[u8]) -> bool {
    mail_parser::MessageParser::new()
        .parse_headers(message)
        .and_then(|m| m.content_type().map(is_signed_type))
        .unwrap_or(false)
}

fn is_signed_type(ct: &mail_parser::ContentType<'_>) -> bool {
    let subtype = ct.subtype().unwrap_or_default();
    if ct.ctype().eq_ignore_ascii_case("multipart") {
        return subtype.eq_ignore_ascii_case("signed");
    }
    is_opaque_signed(ct)
}

/// RFC 8551 §3.5.2: application/pkcs7-mime with smime-type=signed-data.
fn is_opaque_signed(ct: &mail_parser::ContentType<'_>) -> bool {
    ct.ctype().eq_ignore_ascii_case("application")
        && ct.subtype().is_some_and(|s| {
            s.eq_ignore_ascii_case("pkcs7-mime") || s.eq_ignore_ascii_case("x-pkcs7-mime")
        })
        && ct
            .attribute("smime-type")
            .is_some_and(|t| t.eq_ignore_ascii_case("signed-data"))
}

/// The Authentication-Results method and result for a check (RFC 7281 registers
/// `smime`; OpenPGP has no registered method, so `x-pgp`), and a comment.
pub fn auth_result(c: &SignatureCheck) -> (&'static str, &'static str, String) {
    let method = match c.kind {
        Kind::OpenPgp => "x-pgp",
        Kind::Smime => "smime",
    };
    let (result, what) = match &c.status {
        Status::Valid => ("pass", "signature verifies".to_string()),
        Status::Invalid(why) => ("fail", why.clone()),
        Status::UnknownKey => (
            "neutral",
            "signed by a key this server does not have".into(),
        ),
        Status::Unsupported(what) => ("permerror", format!("unsupported: {what}")),
    };
    let known = if c.known {
        "; key known to this server"
    } else {
        ""
    };
    let from = if c.matches_from {
        "; signer is the From address"
    } else {
        ""
    };
    (
        method,
        result,
        format!("{what}{known}{from}; signer {}", c.signer),
    )
}

/// The signature of `message`, checked; `None` if it is neither multipart/signed with a
/// protocol this knows nor S/MIME opaque signed data.
pub fn check(
    message: &[u8],
    known: &Known<'_>,
    from: Option<&str>,
    now: i64,
) -> Option<SignatureCheck> {
    let parsed = mail_parser::MessageParser::new().parse_headers(message)?;
    let ct = parsed.content_type()?;
    if is_opaque_signed(ct) {
        // RFC 8551 §3.5.2: opaque signing, the content inside the SignedData.
        let whole = mail_parser::MessageParser::new().parse(message)?;
        let der = whole.parts.first()?.contents().to_vec();
        let mut checked = smime(None, &der, known.smime, now);
        checked.matches_from =
            from.is_some_and(|f| checked.addresses.iter().any(|a| a.eq_ignore_ascii_case(f)));
        return Some(checked);
    }
    if !ct.ctype().eq_ignore_ascii_case("multipart")
        || !ct
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("signed"))
    {
        return None;
    }
    let protocol = ct.attribute("protocol")?.to_ascii_lowercase();
    let boundary = ct.attribute("boundary")?;
    let header_end = palisade_checks::forged::header_fields(message)
        .last()
        .map_or(0, |f| f.end);
    let body = message[header_end..]
        .strip_prefix(b"\r\n")
        .unwrap_or(&message[header_end..]);
    let (content, signature_part) = parts(body, boundary)?;
    let signature = mail_parser::MessageParser::new().parse(signature_part)?;
    let signature = signature.parts.first()?.contents().to_vec();
    let mut checked = match protocol.as_str() {
        "application/pgp-signature" => openpgp(content, &signature, known.openpgp),
        "application/pkcs7-signature" | "application/x-pkcs7-signature" => {
            smime(Some(content), &signature, known.smime, now)
        }
        _ => return None,
    };
    checked.matches_from =
        from.is_some_and(|f| checked.addresses.iter().any(|a| a.eq_ignore_ascii_case(f)));
    Some(checked)
}

fn openpgp(content: &[u8], armored: &[u8], keys: &[OpenPgpKey]) -> SignatureCheck {
    let mut out = SignatureCheck {
        kind: Kind::OpenPgp,
        status: Status::UnknownKey,
        signer: String::new(),
        addresses: Vec::new(),
        known: false,
        matches_from: false,
    };
    let sig = match DetachedSignature::from_armor_single(armored) {
        Ok((s, _)) => s.signature,
        Err(e) => {
            out.status = Status::Invalid(format!("the signature cannot be read: {e}"));
            return out;
        }
    };
    let fingerprints: Vec<String> = sig
        .issuer_fingerprint()
        .iter()
        .map(|f| format!("{f:X}"))
        .collect();
    let key_ids: Vec<String> = sig
        .issuer_key_id()
        .iter()
        .map(|k| crate::hex(k.as_ref()))
        .collect();
    out.signer = fingerprints
        .first()
        .or(key_ids.first())
        .cloned()
        .unwrap_or_default();
    let names = |fpr: String| {
        fingerprints.contains(&fpr) || key_ids.iter().any(|k| fpr.ends_with(k.as_str()))
    };
    for key in keys {
        let k = key.inner();
        let primary = names(format!("{:X}", k.fingerprint()));
        let result = if primary {
            Some(sig.verify(k, content))
        } else {
            k.public_subkeys
                .iter()
                .find(|s| names(format!("{:X}", s.key.fingerprint())))
                .map(|s| sig.verify(s, content))
        };
        let Some(result) = result else { continue };
        out.known = true;
        out.signer = format!("{:X}", k.fingerprint());
        out.addresses = key.addresses();
        out.status = match result {
            Ok(()) => Status::Valid,
            Err(e) => Status::Invalid(e.to_string()),
        };
        break;
    }
    out
}

/// `content`: the signed part of multipart/signed; `None` for opaque signed data.
fn smime(content: Option<&[u8]>, der: &[u8], known: &[String], now: i64) -> SignatureCheck {
    let mut out = SignatureCheck {
        kind: Kind::Smime,
        status: Status::Valid,
        signer: String::new(),
        addresses: Vec::new(),
        known: false,
        matches_from: false,
    };
    if let Err(status) = smime_verify(content, der, now, &mut out) {
        out.status = status;
    }
    out.known = known.iter().any(|k| k.eq_ignore_ascii_case(&out.signer));
    out
}

fn smime_verify(
    content: Option<&[u8]>,
    der: &[u8],
    now: i64,
    out: &mut SignatureCheck,
) -> Result<(), Status> {
    let unreadable =
        |e: x509_cert::der::Error| Status::Invalid(format!("the signature cannot be read: {e}"));
    // CMS allows BER (RFC 5652 §1); the cms crate reads DER only.
    let info = match ContentInfo::from_der(der) {
        Ok(info) => info,
        Err(e) => {
            let normalised = crate::ber::to_der(der).ok_or_else(|| unreadable(e))?;
            ContentInfo::from_der(&normalised).map_err(unreadable)?
        }
    };
    if info.content_type != const_oid::db::rfc5911::ID_SIGNED_DATA {
        return Err(Status::Unsupported(format!(
            "content type {}",
            info.content_type
        )));
    }
    let signed: SignedData = info.content.decode_as().map_err(unreadable)?;
    let encapsulated;
    let content = match content {
        Some(c) => c,
        None => {
            encapsulated = signed
                .encap_content_info
                .econtent
                .as_ref()
                .ok_or_else(|| Status::Invalid("opaque signed data without content".into()))?
                .decode_as::<x509_cert::der::asn1::OctetString>()
                .map_err(unreadable)?;
            encapsulated.as_bytes()
        }
    };
    let signer = signed
        .signer_infos
        .0
        .iter()
        .next()
        .ok_or_else(|| Status::Invalid("no signer".into()))?;
    let certs: Vec<&Certificate> = signed
        .certificates
        .iter()
        .flat_map(|s| s.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(c) => Some(c),
            CertificateChoices::Other(_) => None,
        })
        .collect();
    let cert = certs
        .into_iter()
        .find(|c| match &signer.sid {
            SignerIdentifier::IssuerAndSerialNumber(i) => {
                c.tbs_certificate.issuer == i.issuer
                    && c.tbs_certificate.serial_number == i.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => c
                .tbs_certificate
                .get::<x509_cert::ext::pkix::SubjectKeyIdentifier>()
                .ok()
                .flatten()
                .is_some_and(|(_, s)| s == *ski),
        })
        .ok_or_else(|| {
            Status::Invalid("the signer's certificate is not in the signature".into())
        })?;
    out.signer = crate::smime::fingerprint(cert).map_err(unreadable)?;
    out.addresses = crate::smime::email_names(cert).unwrap_or_default();

    let digest_oid = signer.digest_alg.oid.to_string();
    let digest = |data: &[u8]| -> Result<Vec<u8>, Status> {
        Ok(match digest_oid.as_str() {
            "2.16.840.1.101.3.4.2.1" => Sha256::digest(data).to_vec(),
            "2.16.840.1.101.3.4.2.2" => Sha384::digest(data).to_vec(),
            "2.16.840.1.101.3.4.2.3" => Sha512::digest(data).to_vec(),
            other => return Err(Status::Unsupported(format!("digest algorithm {other}"))),
        })
    };
    // RFC 5652 §5.4: with signed attributes, the content's digest is the
    // message-digest attribute, and the signature covers the attributes' DER.
    let signed_bytes = match &signer.signed_attrs {
        Some(attrs) => {
            let wanted = digest(content)?;
            let md = attrs
                .iter()
                .find(|a| a.oid == const_oid::db::rfc5911::ID_MESSAGE_DIGEST)
                .and_then(|a| a.values.iter().next())
                .and_then(|v| v.decode_as::<x509_cert::der::asn1::OctetString>().ok())
                .ok_or_else(|| Status::Invalid("no message-digest attribute".into()))?;
            if md.as_bytes() != wanted.as_slice() {
                return Err(Status::Invalid(
                    "the signed part was changed (digest mismatch)".into(),
                ));
            }
            attrs.to_der().map_err(unreadable)?
        }
        None => content.to_vec(),
    };
    let algorithm = verification_algorithm(cert, &signer.signature_algorithm.oid, &digest_oid)?;
    let spki = &cert.tbs_certificate.subject_public_key_info;
    aws_lc_rs::signature::UnparsedPublicKey::new(algorithm, spki.subject_public_key.raw_bytes())
        .verify(&signed_bytes, signer.signature.as_bytes())
        .map_err(|_| Status::Invalid("the signature does not verify".into()))?;
    let not_after = cert
        .tbs_certificate
        .validity
        .not_after
        .to_unix_duration()
        .as_secs() as i64;
    let not_before = cert
        .tbs_certificate
        .validity
        .not_before
        .to_unix_duration()
        .as_secs() as i64;
    if now >= not_after || now < not_before {
        return Err(Status::Invalid(
            "the signer's certificate is not valid now".into(),
        ));
    }
    Ok(())
}

/// The aws-lc-rs algorithm for a signer's key, signature algorithm and digest: RSA
/// PKCS #1 v1.5 (RFC 3370 §3.2, `rsaEncryption` or `shaNNNWithRSAEncryption`) and ECDSA
/// on P-256 or P-384 (RFC 5753 §2.1.1; the digest named by `digestAlgorithm`).
fn verification_algorithm(
    cert: &Certificate,
    signature_oid: &const_oid::ObjectIdentifier,
    digest_oid: &str,
) -> Result<&'static dyn aws_lc_rs::signature::VerificationAlgorithm, Status> {
    use aws_lc_rs::signature as sig;
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let key_oid = spki.algorithm.oid.to_string();
    let signature_oid = signature_oid.to_string();
    let unsupported = || {
        Status::Unsupported(format!(
            "signature algorithm {signature_oid} with a {key_oid} key and digest {digest_oid}"
        ))
    };
    const SHA256: &str = "2.16.840.1.101.3.4.2.1";
    const SHA384: &str = "2.16.840.1.101.3.4.2.2";
    const SHA512: &str = "2.16.840.1.101.3.4.2.3";
    match key_oid.as_str() {
        "1.2.840.113549.1.1.1" => {
            if !matches!(
                signature_oid.as_str(),
                "1.2.840.113549.1.1.1"
                    | "1.2.840.113549.1.1.11"
                    | "1.2.840.113549.1.1.12"
                    | "1.2.840.113549.1.1.13"
            ) {
                return Err(unsupported());
            }
            Ok(match digest_oid {
                SHA256 => &sig::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                SHA384 => &sig::RSA_PKCS1_2048_8192_SHA384,
                SHA512 => &sig::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
                _ => return Err(unsupported()),
            })
        }
        "1.2.840.10045.2.1" => {
            if !signature_oid.starts_with("1.2.840.10045.4.3.") && signature_oid != key_oid {
                return Err(unsupported());
            }
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<const_oid::ObjectIdentifier>().ok())
                .map(|o| o.to_string())
                .unwrap_or_default();
            Ok(match (curve.as_str(), digest_oid) {
                ("1.2.840.10045.3.1.7", SHA256) => &sig::ECDSA_P256_SHA256_ASN1,
                ("1.2.840.10045.3.1.7", SHA384) => &sig::ECDSA_P256_SHA384_ASN1,
                ("1.2.840.10045.3.1.7", SHA512) => &sig::ECDSA_P256_SHA512_ASN1,
                ("1.3.132.0.34", SHA256) => &sig::ECDSA_P384_SHA256_ASN1,
                ("1.3.132.0.34", SHA384) => &sig::ECDSA_P384_SHA384_ASN1,
                ("1.3.132.0.34", SHA512) => &sig::ECDSA_P384_SHA512_ASN1,
                _ => return Err(unsupported()),
            })
        }
        _ => Err(unsupported()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_part_is_exactly_between_the_delimiters() {
        let body = b"preamble\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\r\n--b\r\n\
                     Content-Type: application/pgp-signature\r\n\r\nSIG\r\n--b--\r\n";
        let (content, sig) = parts(body, "b").unwrap_or_else(|| panic!("parts"));
        assert_eq!(content, b"Content-Type: text/plain\r\n\r\nhi\r\n");
        assert_eq!(sig, b"Content-Type: application/pgp-signature\r\n\r\nSIG");
        // A delimiter inside a line does not count (RFC 2046 §5.1.1).
        assert!(parts(b"x--b\r\n", "b").is_none());
    }
}
