//! DANE for SMTP (RFC 7672): TLSA records at `_25._tcp.<mx>`, believed only when the
//! answer is DNSSEC-validated (the AD bit of a resolver marked `dnssec_trusted`).
//!
//! With usable validated TLSA records, TLS becomes mandatory for that host and the
//! certificate must match one of them; a missing STARTTLS or a mismatch moves on to
//! the next MX and finally defers the message, never sending it in the clear.
//! DANE-EE(3) matches the server certificate alone (no name or expiry check,
//! RFC 7672 §3.1.1). DANE-TA(2) makes a certificate of the presented chain that matches
//! the record a trust anchor: the server certificate must chain to it with valid
//! signatures, be valid now and name the MX host (RFC 7672 §3.1.2, §3.2.2; rustls's
//! WebPKI verifier with that one anchor). Matching a chain certificate is not enough:
//! anyone can append a domain's CA certificate to their own chain. PKIX usages (0, 1)
//! are not used for SMTP (RFC 7672 §3.1.3) and are ignored.

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
    /// RFC 7672 §3.1: usages 2 and 3 with known selector and matching types are the ones
    /// SMTP uses.
    pub fn usable(&self) -> bool {
        matches!(self.usage, 2 | 3) && self.selector <= 1 && self.matching <= 2
    }

    /// The TLSA records among `answers`.
    pub fn from_answers(answers: &[RData]) -> Vec<Tlsa> {
        answers
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
            .collect()
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
    let records: Vec<Tlsa> = Tlsa::from_answers(&answer.records)
        .into_iter()
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

/// Whether the presented chain satisfies one of `records` for the MX host `name`.
pub fn verify(records: &[Tlsa], end_entity: &[u8], intermediates: &[&[u8]], name: &str) -> bool {
    records.iter().any(|t| match t.usage {
        3 => matches_cert(t, end_entity),
        2 => intermediates
            .iter()
            .filter(|c| matches_cert(t, c))
            .any(|anchor| chains_to(anchor, end_entity, intermediates, name)),
        _ => false,
    })
}

/// DANE-TA(2): a valid path from `end_entity` (through `intermediates`) to `anchor`,
/// the certificate valid now and for `name`.
fn chains_to(anchor: &[u8], end_entity: &[u8], intermediates: &[&[u8]], name: &str) -> bool {
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    let mut roots = rustls::RootCertStore::empty();
    if roots.add(CertificateDer::from(anchor.to_vec())).is_err() {
        return false;
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let Ok(verifier) =
        rustls::client::WebPkiServerVerifier::builder_with_provider(roots.into(), provider).build()
    else {
        return false;
    };
    let Ok(server_name) = ServerName::try_from(name.to_string()) else {
        return false;
    };
    let chain: Vec<CertificateDer<'static>> = intermediates
        .iter()
        .map(|c| CertificateDer::from(c.to_vec()))
        .collect();
    verifier
        .verify_server_cert(
            &CertificateDer::from(end_entity.to_vec()),
            &chain,
            &server_name,
            &[],
            UnixTime::now(),
        )
        .is_ok()
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

    struct Ca {
        issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    }

    impl Ca {
        fn new() -> Ca {
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
                .unwrap_or_else(|e| panic!("{e}"));
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, "DANE test CA");
            let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
            Ca {
                issuer: rcgen::CertifiedIssuer::self_signed(params, key)
                    .unwrap_or_else(|e| panic!("{e}")),
            }
        }

        fn der(&self) -> Vec<u8> {
            self.issuer.der().to_vec()
        }

        fn issue(&self, name: &str, expired: bool) -> Vec<u8> {
            let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
            let mut params = rcgen::CertificateParams::new(vec![name.to_string()])
                .unwrap_or_else(|e| panic!("{e}"));
            if expired {
                params.not_before = rcgen::date_time_ymd(2020, 1, 1);
                params.not_after = rcgen::date_time_ymd(2021, 1, 1);
            }
            params
                .signed_by(&key, &self.issuer)
                .unwrap_or_else(|e| panic!("{e}"))
                .der()
                .to_vec()
        }

        /// TLSA 2 1 1 for this CA.
        fn tlsa(&self) -> Tlsa {
            let spki = selected(&self.der(), 1).unwrap_or_default();
            Tlsa {
                usage: 2,
                selector: 1,
                matching: 1,
                data: digest(&spki, 1).unwrap_or_default(),
            }
        }
    }

    #[test]
    fn rfc7672_3_1_2_dane_ta_validates_the_path_name_and_dates() {
        let ca = Ca::new();
        let ta = [ca.tlsa()];
        let good = ca.issue("mx.example.test", false);
        let anchor = ca.der();
        assert!(verify(&ta, &good, &[anchor.as_slice()], "mx.example.test"));
        assert!(
            verify(&ta, &good, &[anchor.as_slice()], "MX.Example.Test"),
            "names are case-insensitive"
        );
        // The anchor must be in the chain the server presents.
        assert!(!verify(&ta, &good, &[], "mx.example.test"));
        // Wrong name, and an expired certificate, fail even with the right anchor.
        assert!(!verify(
            &ta,
            &good,
            &[anchor.as_slice()],
            "other.example.test"
        ));
        let expired = ca.issue("mx.example.test", true);
        assert!(!verify(
            &ta,
            &expired,
            &[anchor.as_slice()],
            "mx.example.test"
        ));
        // An attacker's certificate with the domain's CA certificate appended: the CA
        // matches the record, but the attacker's certificate does not chain to it.
        let attacker = Ca::new().issue("mx.example.test", false);
        assert!(!verify(
            &ta,
            &attacker,
            &[anchor.as_slice()],
            "mx.example.test"
        ));
        // A DANE-TA record matching only the server certificate is no anchor.
        let leaf_as_ta = Tlsa {
            usage: 2,
            selector: 0,
            matching: 1,
            data: digest(&good, 1).unwrap_or_default(),
        };
        assert!(!verify(
            &[leaf_as_ta],
            &good,
            &[anchor.as_slice()],
            "mx.example.test"
        ));
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
                verify(std::slice::from_ref(&t), &c, &[], "any.test"),
                "3 {selector} {matching}"
            );
        }
        let wrong = Tlsa {
            usage: 3,
            selector: 1,
            matching: 1,
            data: vec![0; 32],
        };
        assert!(!verify(&[wrong], &c, &[], "mx.example.test"));
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
