//! Time of a full `audit domain` without probes against a loopback DNS authority, each
//! run with a fresh resolver (an empty cache: every record asked again). Two zones: one
//! with every record in place (its MTA-STS host has no address, so no HTTPS fetch), and
//! one built to trigger most findings (eight SPF includes, unreachable hosts).
//!
//! `cargo bench -p palisade-audit --bench audit` prints the median and the slowest of
//! 50 runs per zone. Bounded: a fixed number of runs.

use hickory_resolver::proto::rr::RData;
use hickory_resolver::proto::rr::rdata::tlsa::{CertUsage, Matching, Selector, TLSA};
use palisade_audit::posture::transport::Https;
use palisade_audit::{Settings, audit_domain};
use palisade_dns::{Dns, DnsSettings};
use palisade_testkit::DnsAuthority;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RUNS: usize = 50;

fn zones(dns: &DnsAuthority) {
    let lo = Ipv4Addr::LOCALHOST;
    dns.set_authentic(true);
    dns.mx("clean.test", 10, "mx.clean.test")
        .a("mx.clean.test", lo)
        .ptr(IpAddr::V4(lo), "mx.clean.test")
        .txt("clean.test", "v=spf1 mx include:spf.clean.test -all")
        .txt("spf.clean.test", "v=spf1 ip4:192.0.2.0/24 -all")
        .txt(
            "_dmarc.clean.test",
            "v=DMARC1; p=reject; rua=mailto:d@clean.test",
        )
        .txt(
            "ed1._domainkey.clean.test",
            "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
        )
        .txt("_mta-sts.clean.test", "v=STSv1; id=1")
        .txt(
            "_smtp._tls.clean.test",
            "v=TLSRPTv1; rua=mailto:t@clean.test",
        )
        .record(
            "_25._tcp.mx.clean.test",
            RData::TLSA(TLSA::new(
                CertUsage::DaneEe,
                Selector::Spki,
                Matching::Sha256,
                vec![1; 32],
            )),
        );
    let includes: Vec<String> = (1..=8).map(|i| format!("include:i{i}.weak.test")).collect();
    dns.mx("weak.test", 10, "mx.weak.test").txt(
        "weak.test",
        &format!("v=spf1 {} a:gone.weak.test ~all", includes.join(" ")),
    );
    for i in 1..=8 {
        dns.txt(&format!("i{i}.weak.test"), "v=spf1 ip4:192.0.2.1 -all");
    }
    dns.txt(
        "_dmarc.weak.test",
        "v=DMARC1; p=none; rua=mailto:r@elsewhere.test",
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async {
        let authority = DnsAuthority::start().await;
        zones(&authority);
        let tls = Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|e| panic!("{e}"))
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        );
        let settings = Settings {
            selectors: Vec::new(),
            https: Https {
                tls,
                port: 443,
                timeout: Duration::from_secs(5),
            },
            probe: None,
        };
        for domain in ["clean.test", "weak.test"] {
            let mut times = Vec::with_capacity(RUNS);
            let mut findings = 0;
            for _ in 0..RUNS {
                let dns = Dns::new(&DnsSettings {
                    nameservers: vec![authority.addr()],
                    timeout: Duration::from_secs(2),
                    attempts: 1,
                    dnssec_trusted: true,
                })
                .unwrap_or_else(|e| panic!("{e}"));
                let t = Instant::now();
                let report = audit_domain(&dns, domain, &settings).await;
                times.push(t.elapsed());
                findings = report.findings.len();
            }
            times.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            println!(
                "{domain:<12} {findings} findings  median {:.1} ms  slowest {:.1} ms  ({} queries in all runs)",
                ms(times[RUNS / 2]),
                ms(times[RUNS - 1]),
                authority.queries()
            );
        }
    });
}
