//! DANE for SMTP (RFC 7672): TLSA records at `_25._tcp.<mx>`, believed only when the
//! answer is DNSSEC-validated (the AD bit of a resolver marked `dnssec_trusted`).
//!
//! With usable validated TLSA records, TLS becomes mandatory for that host and the
//! certificate must match one of them; a missing STARTTLS or a mismatch moves on to
//! the next MX and finally defers the message, never sending it in the clear.
//! DANE-EE(3) matches the server certificate alone (no name or expiry check,
//! RFC 7672 §3.1.1). DANE-TA(2) is accepted when a certificate of the presented chain
//! matches (full path validation to that anchor is not implemented yet). PKIX usages
//! (0, 1) are not used for SMTP (RFC 7672 §3.1.3) and are ignored.

use hickory_resolver::proto::rr::{RData, RecordType};
use palisade_dns::Dns;

/// One TLSA record in numbers (RFC 6698 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlsa {
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    pub data: Vec<u8>,
}

impl Tlsa {
    fn usable(&self) -> bool {
        matches!(self.usage, 2 | 3) && self.selector <= 1 && self.matching <= 2
    }
}

/// What DNS says about a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaneState {
    /// No validated TLSA records: DANE does not apply.
    NotApplicable,
    /// Validated usable records: TLS and a match are required.
    Required(Vec<Tlsa>),
}

/// Looks up `_<port>._tcp.<host>` TLSA. `mx_validated`: the MX answer itself was
/// validated (RFC 7672 §2.2.1: DANE follows a secure chain of MX and TLSA lookups).
pub async fn lookup(
    dns: &Dns,
    host: &str,
    port: u16,
    mx_validated: bool,
) -> Result<DaneState, String> {
    if !mx_validated {
        return Ok(DaneState::NotApplicable);
    }
    let name = format!("_{port}._tcp.{host}");
    let answer = dns
        .lookup_validated(&name, RecordType::TLSA)
        .await
        .map_err(|e| format!("TLSA lookup for {name}: {e}"))?;
    if !answer.validated {
        return Ok(DaneState::NotApplicable);
    }
    let records: Vec<Tlsa> = answer
        .records
        .iter()
        .filter_map(|r| match r {
            RData::TLSA(t) => Some(Tlsa {
                usage: u8::from(t.cert_usage),
                selector: u8::from(t.selector),
                matching: u8::from(t.matching),
                data: t.cert_data.clone(),
            }),
            _ => None,
        })
        .filter(Tlsa::usable)
        .collect();
    Ok(if records.is_empty() {
        DaneState::NotApplicable
    } else {
        DaneState::Required(records)
    })
}

fn selected(cert_der: &[u8], selector: u8) -> Option<Vec<u8>> {
    match selector {
        0 => Some(cert_der.to_vec()),
        1 => x509_parser::parse_x509_certificate(cert_der)
            .ok()
            .map(|(_, c)| c.tbs_certificate.subject_pki.raw.to_vec()),
        _ => None,
    }
}

fn digest(bytes: &[u8], matching: u8) -> Option<Vec<u8>> {
    match matching {
        0 => Some(bytes.to_vec()),
        1 => Some(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
                .as_ref()
                .to_vec(),
        ),
        2 => Some(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, bytes)
                .as_ref()
                .to_vec(),
        ),
        _ => None,
    }
}

fn matches_cert(t: &Tlsa, cert_der: &[u8]) -> bool {
    selected(cert_der, t.selector)
        .and_then(|s| digest(&s, t.matching))
        .is_some_and(|d| d == t.data)
}

/// Whether the presented chain satisfies one of `records`.
pub fn verify(records: &[Tlsa], end_entity: &[u8], intermediates: &[&[u8]]) -> bool {
    records.iter().any(|t| match t.usage {
        3 => matches_cert(t, end_entity),
        2 => intermediates.iter().any(|c| matches_cert(t, c)),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert() -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        rcgen::CertificateParams::new(vec!["mx.example.test".into()])
            .unwrap_or_else(|e| panic!("{e}"))
            .self_signed(&key)
            .unwrap_or_else(|e| panic!("{e}"))
            .der()
            .to_vec()
    }

    #[test]
    fn rfc7672_dane_ee_matching_types() {
        let c = cert();
        let spki = selected(&c, 1).unwrap_or_default();
        for (selector, matching, data) in [
            (1, 1, digest(&spki, 1)),
            (1, 2, digest(&spki, 2)),
            (0, 1, digest(&c, 1)),
            (0, 0, Some(c.clone())),
        ] {
            let t = Tlsa {
                usage: 3,
                selector,
                matching,
                data: data.unwrap_or_default(),
            };
            assert!(
                verify(std::slice::from_ref(&t), &c, &[]),
                "3 {selector} {matching}"
            );
        }
        let wrong = Tlsa {
            usage: 3,
            selector: 1,
            matching: 1,
            data: vec![0; 32],
        };
        assert!(!verify(&[wrong], &c, &[]));
        // DANE-TA matches a chain certificate, not the end entity alone.
        let ta = Tlsa {
            usage: 2,
            selector: 1,
            matching: 1,
            data: digest(&spki, 1).unwrap_or_default(),
        };
        assert!(!verify(std::slice::from_ref(&ta), &c, &[]));
        assert!(verify(&[ta], &cert(), &[c.as_slice()]));
        // PKIX usages are not usable for SMTP.
        assert!(
            !Tlsa {
                usage: 1,
                selector: 1,
                matching: 1,
                data: vec![]
            }
            .usable()
        );
    }
}
