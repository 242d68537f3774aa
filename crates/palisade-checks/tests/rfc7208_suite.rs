//! The OpenSPF RFC 7208 conformance suite (testdata/spf), run through Palisade's SPF
//! evaluation (our check_host() over the strict §12 grammar), each scenario's zone
//! served by a real DNS server on loopback. All 203 cases must give the suite's result.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hickory_proto::rr::Name;
use hickory_proto::rr::RData;
use hickory_proto::rr::rdata::{A, AAAA, MX, PTR, TXT};
use palisade_dns::{Dns, DnsSettings};
use palisade_testkit::DnsAuthority;
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::time::Duration;

const SUITE: &str = include_str!("../../../testdata/spf/rfc7208-tests.yml");

/// YAML strings hold octets as `\xNN` escapes (code points below 256): back to bytes.
fn octets(s: &str) -> Vec<u8> {
    if s.chars().all(|c| (c as u32) < 256) {
        s.chars().map(|c| c as u8).collect()
    } else {
        s.as_bytes().to_vec()
    }
}

fn strings(v: &Value) -> Vec<Vec<u8>> {
    match v {
        Value::String(s) => vec![octets(s)],
        // A TXT record holds at least one string: `[ ]` is one empty string.
        Value::Sequence(items) if items.is_empty() => vec![Vec::new()],
        Value::Sequence(items) => items
            .iter()
            .map(|i| octets(i.as_str().unwrap_or_default()))
            .collect(),
        other => vec![octets(&yaml_scalar(other))],
    }
}

fn yaml_scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// A record target as a name; `None` for the suite's deliberately broken ones.
fn fqdn(n: &str) -> Option<Name> {
    let mut name = Name::from_labels(n.trim_end_matches('.').split('.').map(str::as_bytes)).ok()?;
    name.set_fqdn(true);
    Some(name)
}

fn load_zone(dns: &DnsAuthority, zonedata: &Value) {
    let Some(map) = zonedata.as_mapping() else {
        return;
    };
    for (name, entries) in map {
        let name = yaml_scalar(name);
        let mut spf = Vec::new();
        let mut txt = Vec::new();
        let mut txt_none = false;
        for entry in entries.as_sequence().into_iter().flatten() {
            if entry.as_str() == Some("TIMEOUT") {
                dns.timeout_when_empty(&name);
                continue;
            }
            let Some(m) = entry.as_mapping() else {
                continue;
            };
            for (rtype, value) in m {
                match rtype.as_str().unwrap_or_default() {
                    "SPF" => spf.push(strings(value)),
                    "TXT" if value.as_str() == Some("NONE") => txt_none = true,
                    "TXT" => txt.push(strings(value)),
                    "A" => {
                        dns.record(&name, RData::A(A(yaml_scalar(value).parse().unwrap())));
                    }
                    "AAAA" => {
                        dns.record(
                            &name,
                            RData::AAAA(AAAA(yaml_scalar(value).parse().unwrap())),
                        );
                    }
                    "MX" => {
                        let parts = value.as_sequence().expect("MX [pref, host]");
                        let pref = parts[0].as_u64().unwrap_or(0) as u16;
                        if let Some(host) = fqdn(&yaml_scalar(&parts[1])) {
                            dns.record(&name, RData::MX(MX::new(pref, host)));
                        }
                    }
                    "PTR" => {
                        if let Some(target) = fqdn(&yaml_scalar(value)) {
                            dns.record(&name, RData::PTR(PTR(target)));
                        }
                    }
                    "CNAME" => {
                        dns.cname(&name, &yaml_scalar(value));
                    }
                    other => panic!("zone type {other}"),
                }
            }
        }
        // The suite's convention: SPF-type data is also published as TXT unless the
        // scenario says otherwise (RFC 7208 dropped the SPF type; TXT is what we query).
        let publish = if !txt.is_empty() {
            txt
        } else if txt_none {
            Vec::new()
        } else {
            spf
        };
        for parts in publish {
            let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            dns.record(&name, RData::TXT(TXT::from_bytes(refs)));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc7208_conformance_suite() {
    let mut total = 0;
    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    for doc in serde_yaml::Deserializer::from_str(SUITE) {
        let scenario = <Value as serde::Deserialize>::deserialize(doc).expect("YAML");
        let authority = DnsAuthority::start().await;
        load_zone(&authority, &scenario["zonedata"]);
        let dns = Dns::new(&DnsSettings {
            nameservers: vec![authority.addr()],
            timeout: Duration::from_millis(500),
            attempts: 1,
            dnssec_trusted: false,
        })
        .unwrap();
        let tests = scenario["tests"].as_mapping().expect("tests");
        for (name, case) in tests {
            total += 1;
            let name = yaml_scalar(name);
            let ip = yaml_scalar(&case["host"]).parse().expect("host");
            let helo = yaml_scalar(&case["helo"]);
            let mail_from = yaml_scalar(&case["mailfrom"]);
            let want: Vec<String> = match &case["result"] {
                Value::Sequence(v) => v.iter().map(yaml_scalar).collect(),
                v => vec![yaml_scalar(v)],
            };
            let from = (!mail_from.is_empty()).then_some(mail_from.as_str());
            let got = palisade_checks::check_spf(&dns, ip, &helo, from, "receiver.test").await;
            if !want.iter().any(|w| w == got.auth_result().as_str()) {
                failures.insert(
                    name,
                    format!(
                        "want {want:?}, got {} ({mail_from} from {ip}, helo {helo})",
                        got.auth_result()
                    ),
                );
            }
        }
    }
    println!("RFC 7208 suite: {} of {total} pass", total - failures.len());
    assert!(failures.is_empty(), "failures: {failures:#?}");
    assert_eq!(total, 203, "the whole suite ran");
}
