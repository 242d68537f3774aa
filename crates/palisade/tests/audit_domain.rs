//! `palisade audit domain` against zones on a loopback DNS authority built to trigger
//! the findings, and a clean zone (with its MTA-STS policy served by a real Palisade
//! over HTTPS) that scores 100.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use hickory_proto::rr::RData;
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector, TLSA};
use palisade_testkit::DnsAuthority;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_palisade");
const ED25519: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
/// A 768-bit RSA public key (SPKI), made by OpenSSL.
const RSA768: &str = "MHwwDQYJKoZIhvcNAQEBBQADawAwaAJhALXICnAt5q/eHuEwi+6ZqAWUI608HjjvbwnTgMkk6RbDcp8OlWD8xLru7QDAy372v3Zggz6qVjnzFH4SKbuBeyji90s6/LoKzoaBrd08fsk9+q+wQN0F8DzZmNczCH59kwIDAQAB";

fn tlsa(usage: CertUsage, selector: Selector, byte: u8) -> RData {
    RData::TLSA(TLSA::new(usage, selector, Matching::Sha256, vec![byte; 32]))
}

/// Runs `palisade audit domain DOMAIN --json` with `config`; the parsed report.
fn audit(config: &std::path::Path, domain: &str, extra: &[&str]) -> serde_json::Value {
    let out = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .arg("--data")
        .arg(config.parent().unwrap())
        .args(["audit", "domain", domain, "--json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The findings with `id`: their statuses.
fn statuses(report: &serde_json::Value, id: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id)
        .map(|f| f["status"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_domain_scores_100_and_a_weak_one_shows_every_problem() {
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new(certs.path());
    let (cert, key) = ca.issue("web", &["mta-sts.local.test", "mx.local.test"]);
    // The policy's publisher: a Palisade for local.test with its MTA-STS policy.
    let server = start(&format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n[web]\naddress = \"127.0.0.1:0\"\n\
         [mta_sts]\nmx = [\"mx.local.test\"]\n",
        cert.display(),
        key.display()
    ))
    .await;

    let dns = DnsAuthority::start().await;
    dns.set_authentic(true);
    let lo = Ipv4Addr::LOCALHOST;
    dns.mx("local.test", 10, "mx.local.test")
        .a("mx.local.test", lo)
        .ptr(IpAddr::V4(lo), "mx.local.test")
        .a("local.test", lo)
        .txt("local.test", "v=spf1 mx -all")
        .txt(
            "_dmarc.local.test",
            "v=DMARC1; p=reject; rua=mailto:dmarc@local.test",
        )
        .txt(
            "ed1._domainkey.local.test",
            &format!("v=DKIM1; k=ed25519; p={ED25519}"),
        )
        .txt("_mta-sts.local.test", "v=STSv1; id=20261202")
        .a("mta-sts.local.test", lo)
        .txt(
            "_smtp._tls.local.test",
            "v=TLSRPTv1; rua=mailto:tls@local.test",
        )
        .record(
            "_25._tcp.mx.local.test",
            tlsa(CertUsage::DaneEe, Selector::Spki, 1),
        )
        .record(
            "_25._tcp.mx.local.test",
            tlsa(CertUsage::DaneEe, Selector::Spki, 2),
        );

    // weak.test: each line a problem.
    dns.mx("weak.test", 10, "mx.weak.test") // no address
        .txt(
            "weak.test",
            "v=spf1 include:i1.weak.test include:i2.weak.test include:i3.weak.test \
             include:i4.weak.test include:i5.weak.test include:i6.weak.test \
             include:i7.weak.test include:i8.weak.test a:gone1.weak.test \
             a:gone2.weak.test a:gone3.weak.test ptr +all",
        )
        .txt(
            "_dmarc.weak.test",
            "v=DMARC1; p=quarantine; sp=none; pct=50; rua=mailto:r@elsewhere.test",
        )
        .txt(
            "s1._domainkey.weak.test",
            &format!("v=DKIM1; t=y; p={RSA768}"),
        )
        .txt("_mta-sts.weak.test", "v=STSv1; id=1") // mta-sts.weak.test has no address
        .txt("_smtp._tls.weak.test", "v=TLSRPTv1;")
        .record(
            "_25._tcp.mx.weak.test",
            tlsa(CertUsage::PkixEe, Selector::Full, 3),
        );
    for i in 1..=8 {
        dns.txt(&format!("i{i}.weak.test"), "v=spf1 ip4:192.0.2.1 -all");
    }
    // Signed zones: one TLSA record only (no rollover), and none at all.
    dns.mx("single.test", 10, "mx.single.test")
        .a("mx.single.test", lo)
        .record(
            "_25._tcp.mx.single.test",
            tlsa(CertUsage::DaneEe, Selector::Spki, 4),
        )
        .mx("nodane.test", 10, "mx.nodane.test")
        .a("mx.nodane.test", lo);
    // nomail.test: a null MX and an SPF that says so.
    dns.mx("nomail.test", 0, ".")
        .txt("nomail.test", "v=spf1 -all")
        .txt("_dmarc.nomail.test", "v=DMARC1; p=reject");

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("audit.toml");
    std::fs::write(
        &config,
        format!(
            "hostname = \"auditor.test\"\n{}[delivery]\nextra_ca_file = \"{}\"\nmta_sts_port = {}\n",
            dns_toml(&dns),
            ca.ca_file().display(),
            server.addr("web").port()
        ),
    )
    .unwrap();

    let clean = audit(&config, "local.test", &["--selector", "ed1"]);
    let not_pass: Vec<&serde_json::Value> = clean["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] != "pass" && f["status"] != "info")
        .collect();
    assert!(not_pass.is_empty(), "{not_pass:#?}");
    assert_eq!(clean["score"], 100, "{clean:#}");
    assert_eq!(clean["grade"], "A+");
    for id in [
        "mx.present",
        "mx.fcrdns",
        "spf.all",
        "spf.lookups",
        "dmarc.policy",
        "dkim.key",
        "mta_sts.mode",
        "tlsrpt.record",
        "dnssec.domain",
        "dane.tlsa",
    ] {
        assert_eq!(statuses(&clean, id), ["pass"], "{id}: {clean:#}");
    }

    let weak = audit(&config, "weak.test", &[]);
    for (id, status) in [
        ("mx.no_address", "fail"),
        ("spf.all_pass", "fail"),
        ("spf.ptr", "warn"),
        ("spf.lookups", "fail"),
        ("spf.void_lookups", "fail"),
        ("dmarc.policy", "warn"),
        ("dmarc.sp", "warn"),
        ("dmarc.pct", "warn"),
        ("dmarc.external_report", "fail"),
        ("dkim.rsa_weak", "fail"),
        ("dkim.testing", "warn"),
        ("mta_sts.fetch", "fail"),
        ("tlsrpt.record", "fail"),
        ("dane.pkix_usage", "warn"),
        ("dane.params", "fail"),
    ] {
        assert_eq!(statuses(&weak, id), [status], "{id}: {weak:#}");
    }
    let finding = |id: &str| {
        weak["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .unwrap()
            .clone()
    };
    // Eight includes, three a terms and a ptr.
    let lookups = finding("spf.lookups")["evidence"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(lookups.starts_with("12 DNS-querying terms"), "{lookups}");
    assert!(
        finding("dkim.rsa_weak")["evidence"]
            .as_str()
            .unwrap()
            .contains("768 bits")
    );
    assert!(
        !finding("dmarc.external_report")["advice"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    // Every lost point is listed with the finding that cost it.
    let lost: u64 = weak["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["deduction"].as_u64().unwrap())
        .sum();
    assert!(lost > 0 && weak["score"].as_u64().unwrap() < 60, "{weak:#}");
    for (name, score) in weak["categories"].as_object().unwrap() {
        let lost_here: u64 = weak["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["category"] == name.as_str())
            .map(|f| f["deduction"].as_u64().unwrap())
            .sum();
        assert_eq!(
            score.as_u64().unwrap(),
            100u64.saturating_sub(lost_here),
            "{name}"
        );
    }

    assert_eq!(
        statuses(&audit(&config, "single.test", &[]), "dane.rollover"),
        ["warn"]
    );
    assert_eq!(
        statuses(&audit(&config, "nodane.test", &[]), "dane.missing"),
        ["warn"]
    );

    let nomail = audit(&config, "nomail.test", &[]);
    assert_eq!(statuses(&nomail, "mx.null"), ["info"]);
    assert_eq!(statuses(&nomail, "spf.all"), ["pass"]);
    assert!(
        statuses(&nomail, "dkim.none").is_empty(),
        "a domain that sends no mail needs no DKIM"
    );

    // The HTML page, rendered by headless Chromium: it loads without a console error
    // and its text shows the score and the fixes.
    let page = dir.path().join("weak.html");
    audit(&config, "weak.test", &["--html", page.to_str().unwrap()]);
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8(out.stdout).unwrap();
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(!errors.contains("CONSOLE"), "console messages: {errors}");
    let shown = format!(
        "Score <strong>{} / 100</strong>, grade <strong>{}</strong>",
        weak["score"],
        weak["grade"].as_str().unwrap()
    );
    assert!(dom.contains(&shown), "{shown} in {dom}");
    assert!(dom.contains("<title>Mail security of weak.test</title>"));
    assert!(dom.contains("Replace +all with -all."));

    // The terminal form: the score line, categories, and each fix.
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .arg("--data")
        .arg(dir.path())
        .args(["audit", "domain", "weak.test"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("weak.test: "), "{text}");
    assert!(
        text.contains("FAIL spf.all_pass (-40): ") && text.contains("fix: Replace +all with -all."),
        "{text}"
    );
    server.shutdown().await;
}

/// `palisade doctor` on a running server's data: every record as `dns records` says
/// (exit 0, score 100), then an active DKIM key that is not published (exit 2, the
/// finding names the selector).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_compares_what_is_published_with_what_the_server_expects() {
    use palisade_checks::signing::{self, KeyAlgorithm};
    use palisade_store::prelude::*;
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new(certs.path());
    let (cert, key) = ca.issue("web", &["mta-sts.local.test", HOST]);
    let server = start(&format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n[web]\naddress = \"127.0.0.1:0\"\n\
         [mta_sts]\nmx = [\"{HOST}\"]\n[reports]\ndmarc_address = \"dmarc@local.test\"\n",
        cert.display(),
        key.display()
    ))
    .await;
    let k = signing::generate(KeyAlgorithm::Ed25519).unwrap();
    let dkim = |selector: &str, public: &str| palisade_store::DkimKey {
        domain: palisade_types::Domain::parse("local.test").unwrap(),
        selector: selector.into(),
        algorithm: KeyAlgorithm::Ed25519.name().into(),
        private_key: k.private_pkcs8.clone(),
        public_key: public.into(),
        state: "active".into(),
        created: 0,
    };
    server
        .store
        .add_dkim_key(&dkim("ed1", &k.public))
        .await
        .unwrap();
    // An RSA key: its record is longer than one DNS string (255 octets).
    let rsa = signing::generate(KeyAlgorithm::Rsa).unwrap();
    server
        .store
        .add_dkim_key(&palisade_store::DkimKey {
            selector: "rsa1".into(),
            algorithm: KeyAlgorithm::Rsa.name().into(),
            private_key: rsa.private_pkcs8.clone(),
            ..dkim("rsa1", &rsa.public)
        })
        .await
        .unwrap();
    // The CLI reads the server's configuration, plus how to reach its HTTPS listener.
    let config = server.dir.path().join("palisade.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[delivery]\nextra_ca_file = \"{}\"\nmta_sts_port = {}\n",
            server.toml,
            ca.ca_file().display(),
            server.addr("web").port()
        ),
    )
    .unwrap();
    let cli = |args: &[&str]| {
        Command::new(BIN)
            .arg("--data")
            .arg(server.dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    // Publish exactly what `dns records` prints.
    let records = String::from_utf8(cli(&["dns", "records", "local.test"]).stdout).unwrap();
    let field = |prefix: &str| {
        records
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix} in\n{records}"))
            .to_string()
    };
    let quoted = |line: String| line.split('"').nth(1).unwrap().to_string();
    let tlsa_hex = field(&format!("_25._tcp.{HOST}. TLSA 3 1 1 "))
        .split_whitespace()
        .nth(5)
        .unwrap()
        .to_string();
    let tlsa_bytes: Vec<u8> = (0..tlsa_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&tlsa_hex[i..i + 2], 16).unwrap())
        .collect();
    let lo = Ipv4Addr::LOCALHOST;
    let dns = &server.dns;
    dns.set_authentic(true);
    dns.mx("local.test", 10, HOST)
        .a(HOST, lo)
        .ptr(IpAddr::V4(lo), HOST)
        .a("mta-sts.local.test", lo)
        .txt("local.test", &quoted(field("local.test. TXT")))
        .txt(
            "ed1._domainkey.local.test",
            &quoted(field("ed1._domainkey.local.test. TXT")),
        )
        // As printed: several quoted strings on one line, each at most 255 octets
        // (RFC 1035 §3.3), which receivers join (RFC 6376 §3.6.2.2).
        .record(
            "rsa1._domainkey.local.test",
            RData::TXT(TXT::new(strings(&field("rsa1._domainkey.local.test. TXT")))),
        )
        .txt(
            "_dmarc.local.test",
            &quoted(field("_dmarc.local.test. TXT")),
        )
        .txt(
            "_mta-sts.local.test",
            &quoted(field("_mta-sts.local.test. TXT")),
        )
        .txt(
            "_smtp._tls.local.test",
            &quoted(field("_smtp._tls.local.test. TXT")),
        )
        .record(
            &format!("_25._tcp.{HOST}"),
            RData::TLSA(TLSA::new(
                CertUsage::DaneEe,
                Selector::Spki,
                Matching::Sha256,
                tlsa_bytes,
            )),
        )
        // The next key's record, published ahead of a renewal.
        .record(
            &format!("_25._tcp.{HOST}"),
            tlsa(CertUsage::DaneEe, Selector::Spki, 7),
        );

    let out = cli(&["doctor", "--json"]);
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let report = &reports[0];
    assert_eq!(report["domain"], "local.test");
    let not_pass: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "warn" || f["status"] == "fail")
        .collect();
    assert!(not_pass.is_empty(), "{not_pass:#?}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One finding per active key: ed1 and the split rsa1, both as printed.
    assert_eq!(
        statuses(report, "doctor.dkim"),
        ["pass", "pass"],
        "{report:#}"
    );
    for id in [
        "doctor.mx",
        "doctor.spf",
        "doctor.mta_sts",
        "doctor.tlsa",
        "doctor.dmarc_rua",
    ] {
        assert_eq!(statuses(report, id), ["pass"], "{id}: {report:#}");
    }
    assert_eq!(report["score"], 100);
    // Issue 17, item 4: `audit domain` of a local domain tries Palisade's own selectors
    // (dated names no list of common ones holds), as the doctor does.
    let out = cli(&["audit", "domain", "local.test", "--json"]);
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(statuses(&audit, "dkim.key"), ["pass", "pass"], "{audit:#}");
    assert!(statuses(&audit, "dkim.none").is_empty(), "{audit:#}");

    // A second active key nobody published: receivers cannot verify those signatures.
    server
        .store
        .add_dkim_key(&dkim("ed2", &k.public))
        .await
        .unwrap();
    let out = cli(&["doctor"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("FAIL doctor.dkim (-40): ed2._domainkey.local.test has no key"),
        "{text}"
    );
    server.shutdown().await;
}

/// Inside `serve`, the doctor runs on its interval: the score is a Prometheus gauge per
/// domain and what is wrong goes to the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_the_doctor_and_exports_the_score() {
    let dns = DnsAuthority::start().await;
    // Only an SPF record: no MX pointing at us, no DMARC.
    dns.txt("local.test", "v=spf1 -all");
    let dir = tempfile::tempdir().unwrap();
    let (smtp, metrics) = (free_port(), free_port());
    std::fs::write(
        dir.path().join("palisade.toml"),
        format!(
            "hostname = \"{HOST}\"\nnode_id = \"doctor-node\"\n\
             [listener.inbound]\naddress = \"127.0.0.1:{smtp}\"\n\
             [metrics]\naddress = \"127.0.0.1:{metrics}\"\n[doctor]\ninterval_secs = 1\n{}",
            dns_toml(&dns)
        ),
    )
    .unwrap();
    assert!(
        palisade(dir.path(), &["domain", "add", "local.test"])
            .status
            .success()
    );
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    let mut child = Command::new(BIN)
        .arg("--data")
        .arg(dir.path())
        .arg("serve")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{metrics}/metrics");
    let mut gauge = None;
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(&url).await
            && let Ok(body) = r.text().await
            && let Some(line) = body.lines().find(|l| {
                l.starts_with("palisade_doctor_score{")
                    && l.contains("domain=\"local.test\"")
                    && l.contains("node=\"doctor-node\"")
            })
        {
            gauge = Some(line.to_string());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let gauge = gauge.expect("the doctor's gauge is exported");
    let score: f64 = gauge.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((0.0..100.0).contains(&score), "{gauge}");
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    assert!(
        log.contains("doctor") && log.contains("doctor.mx") && log.contains("dmarc.missing"),
        "{log}"
    );
}

/// checkdmarc's JSON for `domain`, asking the authority at `ns` (port 53).
fn checkdmarc(domain: &str, ns: &str) -> serde_json::Value {
    let out = Command::new("checkdmarc")
        .args([domain, "-n", ns, "-f", "json", "-t", "2"])
        .output()
        .expect("checkdmarc is installed (.ci/run installs it from PyPI)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// An independent tool on the same zones: checkdmarc (PyPI) agrees with our SPF, DMARC,
/// MTA-STS and TLS-RPT findings. It only asks port 53, so the authority binds
/// 127.53.0.1:53 (CI runs as root). Where the two differ, the test says who is right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkdmarc_agrees_on_spf_dmarc_mta_sts_and_tls_rpt() {
    let ns = "127.53.0.1";
    let dns = DnsAuthority::bind(format!("{ns}:53").parse().unwrap())
        .await
        .expect("bind 127.53.0.1:53 (needs root)");
    let includes: Vec<String> = (1..=8).map(|i| format!("include:i{i}.weak.test")).collect();
    dns.mx("good.test", 10, "mx.good.test")
        .a("mx.good.test", Ipv4Addr::LOCALHOST)
        .txt("good.test", "v=spf1 mx -all")
        .txt(
            "_dmarc.good.test",
            "v=DMARC1; p=reject; rua=mailto:d@good.test",
        )
        .txt("_smtp._tls.good.test", "v=TLSRPTv1; rua=mailto:t@good.test")
        .mx("weak.test", 10, "mx.weak.test")
        .txt(
            "weak.test",
            &format!(
                "v=spf1 {} a:gone1.weak.test a:gone2.weak.test a:gone3.weak.test ptr +all",
                includes.join(" ")
            ),
        )
        .txt(
            "_dmarc.weak.test",
            "v=DMARC1; p=quarantine; sp=none; pct=50; rua=mailto:r@elsewhere.test",
        )
        .txt("_mta-sts.weak.test", "v=STSv1; id=1")
        .txt("_smtp._tls.weak.test", "v=TLSRPTv1;");
    for i in 1..=8 {
        dns.txt(&format!("i{i}.weak.test"), "v=spf1 ip4:192.0.2.1 -all");
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("audit.toml");
    std::fs::write(
        &config,
        format!("hostname = \"auditor.test\"\n{}", dns_toml(&dns)),
    )
    .unwrap();

    let ours = audit(&config, "good.test", &[]);
    let theirs = checkdmarc("good.test", ns);
    assert_eq!(statuses(&ours, "spf.all"), ["pass"]);
    assert_eq!(statuses(&ours, "spf.lookups"), ["pass"]);
    assert_eq!(theirs["spf"]["valid"], true, "{theirs:#}");
    assert_eq!(theirs["spf"]["dns_lookups"], 1);
    assert_eq!(statuses(&ours, "dmarc.policy"), ["pass"]);
    assert_eq!(theirs["dmarc"]["valid"], true);
    assert_eq!(theirs["dmarc"]["warnings"], serde_json::json!([]));
    assert_eq!(statuses(&ours, "tlsrpt.record"), ["pass"]);
    assert_eq!(theirs["smtp_tls_reporting"]["valid"], true);
    assert_eq!(statuses(&ours, "mta_sts.missing"), ["warn"]);
    assert_eq!(theirs["mta_sts"]["valid"], false);

    let ours = audit(&config, "weak.test", &[]);
    let theirs = checkdmarc("weak.test", ns);
    // SPF: both count 12 DNS-querying terms, past the limit of 10.
    assert_eq!(statuses(&ours, "spf.lookups"), ["fail"]);
    let lookups = ours["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "spf.lookups")
        .unwrap()["evidence"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(lookups.starts_with("12 "), "{lookups}");
    assert_eq!(theirs["spf"]["valid"], false, "{theirs:#}");
    assert_eq!(theirs["spf"]["dns_lookups"], 12);
    // DMARC: sp weaker than p, pct below 100, an outside report address that did not
    // agree to receive (RFC 7489 §7.1).
    let warnings = theirs["dmarc"]["warnings"].to_string();
    assert_eq!(statuses(&ours, "dmarc.sp"), ["warn"]);
    assert!(warnings.contains("An sp tag value of none"), "{warnings}");
    assert_eq!(statuses(&ours, "dmarc.pct"), ["warn"]);
    assert!(warnings.contains("pct"), "{warnings}");
    assert_eq!(statuses(&ours, "dmarc.external_report"), ["fail"]);
    assert!(
        warnings.contains("does not indicate that it accepts DMARC reports about weak.test"),
        "{warnings}"
    );
    // MTA-STS: the policy host does not resolve; TLS-RPT: no rua.
    assert_eq!(statuses(&ours, "mta_sts.fetch"), ["fail"]);
    assert_eq!(theirs["mta_sts"]["valid"], false);
    assert_eq!(statuses(&ours, "tlsrpt.record"), ["fail"]);
    assert_eq!(theirs["smtp_tls_reporting"]["valid"], false);
    // One difference, written down: three void lookups (gone1..3). checkdmarc stops
    // counting at two; RFC 7208 §4.6.4 makes the third a permerror, and we report it
    // (spf.void_lookups fail, "3 lookups find nothing").
    assert_eq!(statuses(&ours, "spf.void_lookups"), ["fail"]);
    assert_eq!(theirs["spf"]["void_dns_lookups"], 2);
}

/// `audit message --report`: the path rebuilt from Received fields, oldest first, with
/// each hop's encryption; in JSON, in the terminal, and as a page Chromium renders.
#[test]
fn message_report_shows_the_path_and_which_hops_were_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.eml");
    std::fs::write(
        &file,
        "Received: from mx.b.test (mx.b.test [192.0.2.2]) by mx.c.test with ESMTPS id 1\r\n\
         \t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384); Tue, 1 Dec 2026 10:00:02 +0000\r\n\
         Received: from client.a.test (client.a.test [192.0.2.1]) by mx.b.test with ESMTP id 2;\r\n\
         \tTue, 1 Dec 2026 10:00:01 +0000\r\n\
         Authentication-Results: mx.c.test; spf=pass smtp.mailfrom=a.test\r\n\
         From: Ann <ann@a.test>\r\nTo: bob@c.test\r\nSubject: Quarterly figures\r\n\
         Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <q@a.test>\r\n\r\nHello.\r\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let out = Command::new(BIN)
            .arg("--data")
            .arg(dir.path())
            .args(["audit", "message"])
            .arg(&file)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let v: serde_json::Value = serde_json::from_str(&run(&["--report", "--json"])).unwrap();
    let t = &v["transport"];
    assert_eq!(t["hops"][0]["by"], "mx.b.test", "{t:#}");
    assert_eq!(t["hops"][0]["encrypted"], false);
    assert_eq!(t["hops"][1]["tls_version"], "TLSv1.3");
    assert_eq!(t["plain_hops"], 1);
    assert_eq!(t["encrypted_body"], false);
    assert!(v["action"].is_string(), "the verdict is there too: {v:#}");

    let text = run(&["--report"]);
    assert!(
        text.contains("1. client.a.test -> mx.b.test with ESMTP: NOT ENCRYPTED"),
        "{text}"
    );
    assert!(
        text.contains("2. mx.b.test -> mx.c.test with ESMTPS: TLS TLSv1.3"),
        "{text}"
    );

    let page = dir.path().join("m.html");
    run(&["--html", page.to_str().unwrap()]);
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium is installed (.ci/run installs it)");
    let dom = String::from_utf8(out.stdout).unwrap();
    assert!(
        dom.contains("Quarterly figures") && dom.contains("<strong>not encrypted</strong>"),
        "{dom}"
    );
    assert!(dom.contains("TLS TLSv1.3"), "{dom}");
}

/// `--probe` against a deliberately weak server (AUTH before TLS, VRFY/EXPN, an open
/// relay, the STARTTLS injection bug, a self-signed certificate) and against Palisade
/// itself (none of these).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_find_a_weak_server_out_and_pass_palisade() {
    let weak = palisade_testkit::WeakSmtp::start().await;
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new(certs.path());
    let (cert, key) = ca.issue("mx", &[HOST]);
    let server = start(&format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        cert.display(),
        key.display()
    ))
    .await;
    let dns = DnsAuthority::start().await;
    dns.mx("weak-mx.test", 10, "mx.weak.test")
        .a("mx.weak.test", Ipv4Addr::LOCALHOST)
        .mx("local.test", 10, HOST)
        .a(HOST, Ipv4Addr::LOCALHOST)
        // DANE: Palisade's key as published, a stale record for the weak server.
        .record(&format!("_25._tcp.{HOST}"), {
            let (spki, _) =
                palisade_audit::doctor::tlsa_3_1_1(&std::fs::read(&cert).unwrap()).unwrap();
            RData::TLSA(TLSA::new(
                CertUsage::DaneEe,
                Selector::Spki,
                Matching::Sha256,
                spki,
            ))
        })
        .record(
            "_25._tcp.mx.weak.test",
            tlsa(CertUsage::DaneEe, Selector::Spki, 9),
        );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("audit.toml");
    std::fs::write(
        &config,
        format!(
            "hostname = \"auditor.test\"\n{}[delivery]\nextra_ca_file = \"{}\"\n",
            dns_toml(&dns),
            ca.ca_file().display()
        ),
    )
    .unwrap();
    let port = |a: std::net::SocketAddr| a.port().to_string();

    let started = std::time::Instant::now();
    let r = audit(
        &config,
        "weak-mx.test",
        &["--probe", "--port", &port(weak.addr())],
    );
    let weak_secs = started.elapsed().as_secs_f64();
    for (id, status) in [
        ("probe.starttls", "pass"),
        ("probe.auth_plaintext", "fail"),
        ("probe.vrfy", "warn"),
        ("probe.expn", "warn"),
        ("probe.open_relay", "fail"),
        ("probe.tls", "pass"),
        ("probe.starttls_injection", "fail"),
        ("probe.certificate", "fail"),
        ("probe.ssl3", "fail"),
        ("probe.tls1_0", "fail"),
        ("probe.tls1_1", "fail"),
        ("probe.forward_secrecy", "warn"),
        ("probe.weak_ciphers", "fail"),
        ("probe.dane_match", "fail"),
    ] {
        assert_eq!(statuses(&r, id), [status], "{id}: {r:#}");
    }

    let inbound = server.addr("inbound");
    let started = std::time::Instant::now();
    let r = audit(
        &config,
        "local.test",
        &["--probe", "--port", &port(inbound)],
    );
    let ours_secs = started.elapsed().as_secs_f64();
    for (id, status) in [
        ("probe.starttls", "pass"),
        ("probe.open_relay", "pass"),
        ("probe.tls", "pass"),
        ("probe.starttls_injection", "pass"),
        ("probe.certificate", "pass"),
        ("probe.ssl3", "pass"),
        ("probe.tls1_0", "pass"),
        ("probe.tls1_1", "pass"),
        ("probe.forward_secrecy", "pass"),
        ("probe.weak_ciphers", "pass"),
        ("probe.dane_match", "pass"),
    ] {
        assert_eq!(statuses(&r, id), [status], "{id}: {r:#}");
    }
    for id in ["probe.auth_plaintext", "probe.vrfy", "probe.expn"] {
        assert!(statuses(&r, id).is_empty(), "{id}: {r:#}");
    }
    // Not a timed assertion (benchmarks hold targets): printed for BENCHMARKS.md.
    println!("probe times: weak {weak_secs:.2} s, palisade {ours_secs:.2} s");

    // SMTP smuggling, only with --probe-intrusive and an address to send to.
    let needs_rcpt = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .args(["audit", "domain", "local.test", "--probe-intrusive"])
        .output()
        .unwrap();
    assert_eq!(needs_rcpt.status.code(), Some(2));
    let intrusive = |domain: &str, p: u16, rcpt: &str| {
        audit(
            &config,
            domain,
            &[
                "--probe-intrusive",
                "--rcpt",
                rcpt,
                "--port",
                &p.to_string(),
            ],
        )
    };
    let r = intrusive("weak-mx.test", weak.addr().port(), "me@weak-mx.test");
    assert_eq!(statuses(&r, "probe.smuggling"), ["fail"], "{r:#}");
    let r = intrusive("local.test", inbound.port(), "bob@local.test");
    assert_eq!(statuses(&r, "probe.smuggling"), ["pass"], "{r:#}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for m in server.mail("bob") {
        let m = String::from_utf8_lossy(&m).into_owned();
        assert!(
            !m.contains("Subject: smuggled\r\n\r\n"),
            "smuggled through: {m}"
        );
    }
    server.shutdown().await;
}

/// testssl.sh's findings of one server: its JSON by id (`--starttls smtp`, protocols and
/// the server defaults, with `ca` added to its trust store, connecting to 127.0.0.1 as
/// `name`).
fn testssl(
    name: &str,
    port: u16,
    ca: &std::path::Path,
) -> std::collections::HashMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("t.json");
    let out = Command::new("testssl")
        .args([
            "--starttls",
            "smtp",
            "-p",
            "-S",
            "--warnings",
            "off",
            "--quiet",
            "--color",
            "0",
        ])
        .args(["--ip", "127.0.0.1", "--add-ca"])
        .arg(ca)
        .arg("--jsonfile")
        .arg(&json)
        .arg(format!("{name}:{port}"))
        .output()
        .expect("testssl.sh is installed (.ci/run installs it)");
    let findings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap_or_default()).unwrap_or_else(|e| {
            panic!(
                "testssl JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
    findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap_or_default().to_string(),
                f["finding"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// An independent tool on the same servers: testssl.sh agrees with the probes on the
/// protocol versions (TLS 1.0/1.1 refused by Palisade, accepted by the weak server; TLS
/// 1.3 offered) and on Palisade's certificate (trusted, when given the test CA).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testssl_agrees_on_protocol_versions_and_the_certificate() {
    let weak = palisade_testkit::WeakSmtp::start().await;
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new(certs.path());
    let (cert, key) = ca.issue("mx", &[HOST]);
    let server = start(&format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        cert.display(),
        key.display()
    ))
    .await;
    let dns = DnsAuthority::start().await;
    dns.mx("weak-mx.test", 10, "mx.weak.test")
        .a("mx.weak.test", Ipv4Addr::LOCALHOST)
        .mx("local.test", 10, HOST)
        .a(HOST, Ipv4Addr::LOCALHOST);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("audit.toml");
    std::fs::write(
        &config,
        format!(
            "hostname = \"auditor.test\"\n{}[delivery]\nextra_ca_file = \"{}\"\n",
            dns_toml(&dns),
            ca.ca_file().display()
        ),
    )
    .unwrap();
    let inbound = server.addr("inbound").port();

    let ours = audit(
        &config,
        "local.test",
        &["--probe", "--port", &inbound.to_string()],
    );
    let theirs = testssl(HOST, inbound, &ca.ca_file());
    assert_eq!(statuses(&ours, "probe.tls1_0"), ["pass"]);
    assert!(theirs["TLS1"].contains("not offered"), "{theirs:?}");
    assert_eq!(statuses(&ours, "probe.tls1_1"), ["pass"]);
    assert!(theirs["TLS1_1"].contains("not offered"), "{theirs:?}");
    assert!(theirs["TLS1_3"].starts_with("offered"), "{theirs:?}");
    assert_eq!(statuses(&ours, "probe.certificate"), ["pass"]);
    assert_eq!(theirs["cert_chain_of_trust"], "passed.", "{theirs:?}");

    let port = weak.addr().port();
    let ours = audit(
        &config,
        "weak-mx.test",
        &["--probe", "--port", &port.to_string()],
    );
    let theirs = testssl("mx.weak.test", port, &ca.ca_file());
    assert_eq!(statuses(&ours, "probe.tls1_0"), ["fail"]);
    assert!(!theirs["TLS1"].contains("not offered"), "{theirs:?}");
    assert_eq!(statuses(&ours, "probe.tls1_1"), ["fail"]);
    assert!(!theirs["TLS1_1"].contains("not offered"), "{theirs:?}");
    assert_eq!(statuses(&ours, "probe.certificate"), ["fail"]);
    assert!(
        theirs["cert_chain_of_trust"].contains("failed"),
        "{theirs:?}"
    );
    server.shutdown().await;
}

/// An HTTPS server answering every request with the body mapped to its Host (the
/// MTA-STS policies of the zones below), with a certificate from `ca` for `names`.
async fn policy_server(
    ca: &TestCa,
    names: &[&str],
    bodies: std::collections::HashMap<String, String>,
) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (cert, key) = ca.issue("policies", names);
    let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_file_iter(&cert)
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = std::sync::Arc::new(bodies);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, bodies) = (acceptor.clone(), bodies.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut req = vec![0u8; 4096];
                let n = tls.read(&mut req).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&req[..n]).to_ascii_lowercase();
                let host = req
                    .lines()
                    .find_map(|l| l.strip_prefix("host: "))
                    .map(|h| h.split(':').next().unwrap_or_default().trim().to_string())
                    .unwrap_or_default();
                let resp = match bodies.get(&host) {
                    Some(b) => format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{b}",
                        b.len()
                    ),
                    None => {
                        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            .into()
                    }
                };
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

/// One zone per defect: each audit must report that finding (the rest of the
/// catalogue is covered by the tests above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_finding_has_a_zone_that_triggers_it() {
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new(certs.path());
    let policy = |mode: &str, mx: &str, max_age: u32| {
        format!("version: STSv1\r\nmode: {mode}\r\nmx: {mx}\r\nmax_age: {max_age}\r\n")
    };
    let policies: std::collections::HashMap<String, String> = [
        (
            "mta-sts.testing.test",
            policy("testing", "mx.testing.test", 604_800),
        ),
        (
            "mta-sts.none.test",
            "version: STSv1\r\nmode: none\r\nmax_age: 604800\r\n".to_string(),
        ),
        (
            "mta-sts.short.test",
            policy("enforce", "mx.short.test", 3600),
        ),
        (
            "mta-sts.elsewhere.test",
            policy("enforce", "mx.other.test", 604_800),
        ),
        ("mta-sts.garbled.test", "this is not a policy".to_string()),
    ]
    .into_iter()
    .map(|(h, b)| (h.to_string(), b))
    .collect();
    let names: Vec<&str> = policies.keys().map(String::as_str).collect();
    let port = policy_server(&ca, &names, policies.clone()).await;
    // A 1024-bit RSA DKIM key, made by OpenSSL.
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("k1024.pem");
    let o = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
        ])
        .arg(&pem)
        .output()
        .unwrap();
    assert!(o.status.success());
    let der = Command::new("openssl")
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(&pem)
        .output()
        .unwrap()
        .stdout;
    let rsa1024 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(der)
    };

    let dns = DnsAuthority::start().await;
    let lo = Ipv4Addr::LOCALHOST;
    for d in [
        "multi",
        "neutral",
        "soft",
        "noall",
        "nodmarc",
        "twodmarc",
        "baddmarc",
        "tdmarc",
        "npdmarc",
        "pnone",
        "rsa1024",
        "revoked",
        "testing",
        "none",
        "short",
        "elsewhere",
        "garbled",
        "tworec",
        "unval",
    ] {
        let domain = format!("{d}.test");
        let mx = format!("mx.{domain}");
        dns.mx(&domain, 10, &mx)
            .a(&mx, lo)
            .a(&format!("mta-sts.{domain}"), lo);
        if !matches!(d, "multi" | "neutral" | "soft" | "noall") {
            dns.txt(&domain, "v=spf1 mx -all");
        }
        if !matches!(
            d,
            "nodmarc" | "twodmarc" | "baddmarc" | "tdmarc" | "npdmarc" | "pnone"
        ) {
            dns.txt(
                &format!("_dmarc.{domain}"),
                "v=DMARC1; p=reject; rua=mailto:d@x.test",
            );
        }
        if matches!(d, "testing" | "none" | "short" | "elsewhere" | "garbled") {
            dns.txt(&format!("_mta-sts.{domain}"), "v=STSv1; id=1");
        }
    }
    dns.txt("multi.test", "v=spf1 mx -all")
        .txt("multi.test", "v=spf1 a -all")
        .txt("neutral.test", "v=spf1 mx ?all")
        .txt("soft.test", "v=spf1 mx ~all")
        .txt("noall.test", "v=spf1 mx")
        .txt("_dmarc.twodmarc.test", "v=DMARC1; p=reject")
        .txt("_dmarc.twodmarc.test", "v=DMARC1; p=none")
        .txt("_dmarc.baddmarc.test", "v=DMARC1; p=rejected; adkim=x")
        .txt("_dmarc.tdmarc.test", "v=DMARC1; p=reject; t=y")
        .txt("_dmarc.npdmarc.test", "v=DMARC1; p=reject; np=none")
        .txt("_dmarc.pnone.test", "v=DMARC1; p=none")
        .txt(
            "s1._domainkey.rsa1024.test",
            &format!("v=DKIM1; p={rsa1024}"),
        )
        .txt("s1._domainkey.revoked.test", "v=DKIM1; p=")
        .txt("_mta-sts.tworec.test", "v=STSv1; id=1")
        .txt("_mta-sts.tworec.test", "v=STSv1; id=2")
        .record(
            "_25._tcp.mx.unval.test",
            tlsa(CertUsage::DaneEe, Selector::Spki, 1),
        );
    // No MX and no address; no MX but an address; an address without PTR is every MX.
    dns.a("implicit.test", lo);
    // An MX address with no PTR record (127.0.0.1 has one, from /etc/hosts).
    dns.mx("noptr.test", 10, "mx.noptr.test")
        .a("mx.noptr.test", Ipv4Addr::new(127, 0, 0, 9));

    let cfg_dir = tempfile::tempdir().unwrap();
    let config = cfg_dir.path().join("audit.toml");
    std::fs::write(
        &config,
        format!(
            "hostname = \"auditor.test\"\n{}[delivery]\nextra_ca_file = \"{}\"\nmta_sts_port = {port}\n",
            dns_toml(&dns),
            ca.ca_file().display()
        ),
    )
    .unwrap();
    for (domain, id, status) in [
        ("multi.test", "spf.multiple", "fail"),
        ("neutral.test", "spf.all_neutral", "warn"),
        ("soft.test", "spf.softfail", "warn"),
        ("noall.test", "spf.no_all", "warn"),
        ("nodmarc.test", "dmarc.missing", "fail"),
        ("twodmarc.test", "dmarc.multiple", "fail"),
        ("baddmarc.test", "dmarc.syntax", "fail"),
        ("tdmarc.test", "dmarc.testing", "warn"),
        ("npdmarc.test", "dmarc.np", "warn"),
        ("pnone.test", "dmarc.policy", "fail"),
        ("rsa1024.test", "dkim.rsa_short", "warn"),
        ("revoked.test", "dkim.revoked", "info"),
        ("nodmarc.test", "dkim.none", "warn"),
        ("testing.test", "mta_sts.mode", "warn"),
        ("none.test", "mta_sts.mode", "fail"),
        ("short.test", "mta_sts.max_age", "warn"),
        ("elsewhere.test", "mta_sts.mx_mismatch", "fail"),
        ("garbled.test", "mta_sts.policy", "fail"),
        ("tworec.test", "mta_sts.record", "fail"),
        ("nodmarc.test", "tlsrpt.missing", "warn"),
        ("noptr.test", "mx.fcrdns", "warn"),
        ("nodmarc.test", "dnssec.domain", "warn"),
        ("unval.test", "dane.unvalidated", "fail"),
        ("gone.test", "mx.none", "fail"),
        ("implicit.test", "mx.implicit", "warn"),
    ] {
        let r = audit(&config, domain, &["--selector", "s1"]);
        assert!(
            statuses(&r, id).contains(&status.to_string()),
            "{domain}: {id} {status}: {r:#}"
        );
    }
}

/// The quoted character-strings of a zone-file line, each checked to fit one DNS string.
fn strings(line: &str) -> Vec<String> {
    let parts: Vec<String> = line
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    assert!(parts.len() > 1, "one string only: {line}");
    assert!(parts.iter().all(|p| p.len() <= 255), "{line}");
    parts
}

/// Issue 17, item 4: with no `_mta-sts` record, the doctor's own finding says so once;
/// the audit's finding about the same record is not counted a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_counts_a_missing_mta_sts_record_once() {
    let dns = DnsAuthority::start().await;
    dns.mx("local.test", 10, HOST).a(HOST, Ipv4Addr::LOCALHOST);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("palisade.toml"),
        format!(
            "hostname = \"{HOST}\"\n[listener.inbound]\naddress = \"127.0.0.1:0\"\n\
             [web]\naddress = \"127.0.0.1:0\"\n{}",
            dns_toml(&dns)
        ),
    )
    .unwrap();
    assert!(
        palisade(dir.path(), &["domain", "add", "local.test"])
            .status
            .success()
    );
    let out = palisade(dir.path(), &["doctor", "--json"]);
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let report = &reports[0];
    assert_eq!(statuses(report, "doctor.mta_sts"), ["warn"], "{report:#}");
    for restated in ["mta_sts.missing", "mta_sts.record", "mta_sts.fetch"] {
        assert!(
            statuses(report, restated).is_empty(),
            "{restated}: {report:#}"
        );
    }
}

/// `palisade --data DIR ARGS...`.
fn palisade(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("--data")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}
