//! `palisade audit spf|dkim|dmarc`: the real binary against a real DNS server on
//! loopback, with messages signed by an independent implementation (dkimpy).
#![allow(clippy::unwrap_used)]

mod common;

use common::dkim::{Keys, arc_seal, dkimpy_verifies, sign};
use palisade_testkit::DnsAuthority;
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_palisade");

struct Audit {
    dns: DnsAuthority,
    dir: tempfile::TempDir,
}

impl Audit {
    async fn new() -> Audit {
        Audit {
            dns: DnsAuthority::start().await,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Runs `palisade --dns ADDR --dns-timeout 1 audit ARGS` with `stdin`.
    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = Command::new(BIN)
            .arg("--data")
            .arg(self.dir.path().join("data"))
            .args([
                "--dns",
                &self.dns.addr().to_string(),
                "--dns-timeout",
                "1",
                "audit",
            ])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: &[u8]) -> String {
        let o = self.run(args, stdin);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// The first word of `audit spf` (the RFC 7208 result).
    fn spf(&self, ip: &str, helo: &str, mail_from: &str) -> String {
        let out = self.ok(
            &["spf", "--ip", ip, "--helo", helo, "--mail-from", mail_from],
            b"",
        );
        out.split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string()
    }

    fn json(&self, args: &[&str], stdin: &[u8]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.push("--json");
        serde_json::from_str(&self.ok(&a, stdin)).unwrap()
    }
}

fn spf_zones(dns: &DnsAuthority) {
    dns.txt("spf.test", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all")
        .txt("soft.test", "v=spf1 ~all")
        .txt("neutral.test", "v=spf1 ?all")
        .a("nospf.test", Ipv4Addr::new(192, 0, 2, 1))
        .silent("temp.test")
        .txt("syntax2.test", "v=spf1 ip4 -all")
        .txt("dup.test", "v=spf1 ip4:192.0.2.0/24 -all")
        .txt("dup.test", "v=spf1 -all")
        .txt("syntax3.test", "v=spf1 include -all")
        .txt("void.test", "v=spf1 a:v1.test a:v2.test a:v3.test -all")
        .txt(
            "twovoid.test",
            "v=spf1 a:v1.test a:v2.test ip4:192.0.2.0/24 -all",
        )
        .txt("macro.test", "v=spf1 exists:%{i}.ip.macro.test -all")
        .a("192.0.2.77.ip.macro.test", Ipv4Addr::new(127, 0, 0, 2))
        .txt("inc.test", "v=spf1 include:spf.test -all")
        .txt("red.test", "v=spf1 redirect=spf.test")
        .txt("helo.test", "v=spf1 ip4:192.0.2.9 -all")
        .aaaa(
            "v6host.test",
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x25),
        )
        .txt("a6.test", "v=spf1 a:v6host.test -all");
    // Eleven DNS-querying mechanisms: one more than RFC 7208 §4.6.4 allows.
    let includes: Vec<String> = (1..=11).map(|i| format!("include:l{i}.test")).collect();
    dns.txt(
        "lookups.test",
        &format!("v=spf1 {} -all", includes.join(" ")),
    );
    for i in 1..=11 {
        dns.txt(&format!("l{i}.test"), "v=spf1 ip4:203.0.113.1");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc7208_every_result() {
    let a = Audit::new().await;
    spf_zones(&a.dns);
    let cases = [
        ("192.0.2.5", "a@spf.test", "pass"),
        ("198.51.100.1", "a@spf.test", "fail"),
        ("198.51.100.1", "a@soft.test", "softfail"),
        ("198.51.100.1", "a@neutral.test", "neutral"),
        ("198.51.100.1", "a@nospf.test", "none"),
        ("198.51.100.1", "a@nxdomain.test", "none"),
        ("198.51.100.1", "a@temp.test", "temperror"),
        ("198.51.100.1", "a@syntax2.test", "permerror"),
        ("198.51.100.1", "a@syntax3.test", "permerror"),
        ("198.51.100.1", "a@lookups.test", "permerror"),
        // RFC 7208 §4.6.4: a third void lookup is a permerror; two are fine.
        ("198.51.100.1", "a@void.test", "permerror"),
        ("192.0.2.5", "a@twovoid.test", "pass"),
        // Two SPF records at one name (RFC 7208 §4.5).
        ("192.0.2.5", "a@dup.test", "permerror"),
        ("198.51.100.1", "a@twovoid.test", "fail"),
        // Macros (RFC 7208 §7): %{i} expands to the client IP.
        ("192.0.2.77", "a@macro.test", "pass"),
        ("192.0.2.78", "a@macro.test", "fail"),
        ("192.0.2.5", "a@inc.test", "pass"),
        ("198.51.100.1", "a@inc.test", "fail"),
        ("192.0.2.5", "a@red.test", "pass"),
        ("198.51.100.1", "a@red.test", "fail"),
        ("2001:db8::1", "a@spf.test", "pass"),
        ("2001:db9::1", "a@spf.test", "fail"),
        ("2001:db8::25", "a@a6.test", "pass"),
        // No local part: postmaster@domain (RFC 7208 §4.3).
        ("192.0.2.5", "spf.test", "pass"),
    ];
    for (ip, from, want) in cases {
        assert_eq!(a.spf(ip, "client.test", from), want, "{ip} {from}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc7208_2_4_null_reverse_path_checks_helo() {
    let a = Audit::new().await;
    spf_zones(&a.dns);
    assert_eq!(a.spf("192.0.2.9", "helo.test", ""), "pass");
    assert_eq!(a.spf("192.0.2.10", "helo.test", ""), "fail");
    let v = a.json(
        &[
            "spf",
            "--ip",
            "192.0.2.10",
            "--helo",
            "helo.test",
            "--mail-from",
            "",
        ],
        b"",
    );
    assert_eq!(v["result"], "fail");
    assert_eq!(v["identity"], "helo");
    assert_eq!(v["domain"], "helo.test");
    assert!(
        v["explanation"]
            .as_str()
            .unwrap()
            .contains("not authorised"),
        "{v}"
    );
    // An address literal HELO has no policy to check.
    assert_eq!(a.spf("192.0.2.10", "[192.0.2.10]", ""), "none");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spf_odd_but_legal_names_are_evaluated_and_bad_ips_refused() {
    let a = Audit::new().await;
    spf_zones(&a.dns);
    // An underscore label is legal in DNS: evaluated (no record there), not refused.
    assert_eq!(a.spf("192.0.2.5", "client.test", "a@_odd.spf.test"), "none");
    for bad in ["300.1.1.1", "example.com", ""] {
        let o = a.run(&["spf", "--ip", bad, "--mail-from", "a@spf.test"], b"");
        assert_eq!(o.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
}

const MSG: &[u8] = b"From: Alice <alice@sender.test>\r\nTo: bob@local.test\r\nSubject: quarterly figures\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@sender.test>\r\n\r\nHello Bob,\r\nthe figures are attached.\r\n";

fn dkim_zones(dns: &DnsAuthority, keys: &Keys) {
    dns.txt("rsa._domainkey.sender.test", &keys.rsa_record())
        .txt("ed._domainkey.sender.test", &keys.ed_record())
        .txt("rsa._domainkey.mail.sender.test", &keys.rsa_record());
}

fn results(v: &serde_json::Value) -> Vec<(String, String, String)> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["s"].as_str().unwrap().to_string(),
                r["algorithm"].as_str().unwrap().to_string(),
                r["result"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc6376_rfc8463_dkimpy_signatures_verify() {
    let a = Audit::new().await;
    let keys = Keys::generate(a.dir.path());
    dkim_zones(&a.dns, &keys);
    // Dual-signed (RFC 8463 §3): Ed25519 and RSA, different canonicalisations.
    let once = sign(
        MSG,
        "sender.test",
        "rsa",
        &keys.rsa,
        "rsa",
        "simple/simple",
        false,
    );
    let twice = sign(
        &once,
        "sender.test",
        "ed",
        &keys.ed_seed,
        "ed25519",
        "relaxed/relaxed",
        false,
    );
    let v = a.json(&["dkim", "-"], &twice);
    let mut got = results(&v);
    got.sort();
    assert_eq!(
        got,
        [
            ("ed".into(), "ed25519-sha256".into(), "pass".into()),
            ("rsa".into(), "rsa-sha256".into(), "pass".into())
        ],
        "{v}"
    );
    assert_eq!(v["results"][0]["d"], "sender.test");
    // The same message from a file, plain output: first word is the result.
    let f = a.dir.path().join("signed.eml");
    std::fs::write(&f, &twice).unwrap();
    let out = a.ok(&["dkim", f.to_str().unwrap()], b"");
    assert!(out.lines().all(|l| l.starts_with("pass ")), "{out}");
    // And dkimpy agrees with itself over our DNS server (the zone is right).
    assert!(dkimpy_verifies(&twice, a.dns.addr()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dkim_tampering_is_detected() {
    let a = Audit::new().await;
    let keys = Keys::generate(a.dir.path());
    dkim_zones(&a.dns, &keys);
    for canon in ["relaxed/relaxed", "simple/simple"] {
        let signed = sign(MSG, "sender.test", "rsa", &keys.rsa, "rsa", canon, false);
        let body = String::from_utf8(signed.clone())
            .unwrap()
            .replace("figures are attached", "figures are at evil.test");
        let header = String::from_utf8(signed)
            .unwrap()
            .replace("Subject: quarterly figures", "Subject: urgent payment");
        for (what, m) in [("body", body), ("header", header)] {
            let v = a.json(&["dkim", "-"], m.as_bytes());
            assert_eq!(results(&v)[0].2, "fail", "{canon} {what}: {v}");
            assert!(!v["results"][0]["reason"].as_str().unwrap().is_empty());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dkim_l_tag_and_unknown_key() {
    let a = Audit::new().await;
    let keys = Keys::generate(a.dir.path());
    dkim_zones(&a.dns, &keys);
    // Content can be appended after an l= signature unsigned (RFC 6376 §8.2), so such
    // signatures are refused by policy: dkim=policy (RFC 8601 §2.7.1), appended or not.
    let signed = sign(
        MSG,
        "sender.test",
        "rsa",
        &keys.rsa,
        "rsa",
        "relaxed/relaxed",
        true,
    );
    assert_eq!(results(&a.json(&["dkim", "-"], &signed))[0].2, "policy");
    let mut appended = signed.clone();
    appended.extend_from_slice(b"P.S. wire the money to evil.test\r\n");
    let r = results(&a.json(&["dkim", "-"], &appended));
    assert_eq!(r[0].2, "policy", "{r:?}");
    // A selector with no key published: permerror (RFC 6376 §6.1.2).
    let unknown = sign(
        MSG,
        "sender.test",
        "gone",
        &keys.rsa,
        "rsa",
        "relaxed/relaxed",
        false,
    );
    assert_eq!(results(&a.json(&["dkim", "-"], &unknown))[0].2, "permerror");
    // No signature at all.
    let v = a.json(&["dkim", "-"], MSG);
    assert!(v["results"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relaxed_body_trailing_whitespace_lines_regression() {
    // mail-auth 0.13.3 hashes "x\r\n  \r\n" differently from "x\r\n" under relaxed body
    // canonicalisation (RFC 6376 §3.4.4 says they are equal); dkimpy gets it right.
    let a = Audit::new().await;
    let keys = Keys::generate(a.dir.path());
    dkim_zones(&a.dns, &keys);
    let mut msg = MSG.to_vec();
    msg.extend_from_slice(b"  \r\n\t\r\n");
    let signed = sign(
        &msg,
        "sender.test",
        "ed",
        &keys.ed_seed,
        "ed25519",
        "relaxed/relaxed",
        false,
    );
    assert_eq!(results(&a.json(&["dkim", "-"], &signed))[0].2, "pass");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dkim_bad_input_is_a_usage_error() {
    let a = Audit::new().await;
    for (args, stdin) in [
        (vec!["dkim", "/nonexistent/x.eml"], &b""[..]),
        (vec!["dkim", "-"], b"this is not a message"),
        (vec!["dmarc", "-", "--ip", "192.0.2.1"], b""),
        (vec!["dmarc", "-", "--ip", "not-an-ip"], MSG),
    ] {
        let o = a.run(&args, stdin);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc7489_alignment_policies_and_disposition() {
    let a = Audit::new().await;
    let keys = Keys::generate(a.dir.path());
    dkim_zones(&a.dns, &keys);
    a.dns
        .txt("sender.test", "v=spf1 ip4:192.0.2.0/24 -all")
        .txt(
            "_dmarc.sender.test",
            "v=DMARC1; p=reject; sp=quarantine; pct=30; rua=mailto:d@sender.test",
        )
        .txt("strict.test", "v=spf1 ip4:192.0.2.0/24 -all")
        .txt("_dmarc.strict.test", "v=DMARC1; p=reject; adkim=s; aspf=s")
        .a("sub.sender.test", Ipv4Addr::new(192, 0, 2, 1));
    let dmarc = |msg: &[u8], ip: &str, from: &str| {
        a.json(
            &[
                "dmarc",
                "-",
                "--ip",
                ip,
                "--helo",
                "client.test",
                "--mail-from",
                from,
            ],
            msg,
        )
    };
    // DKIM by a subdomain (mail.sender.test) aligns in relaxed mode.
    let signed = sign(
        MSG,
        "mail.sender.test",
        "rsa",
        &keys.rsa,
        "rsa",
        "relaxed/relaxed",
        false,
    );
    let v = dmarc(&signed, "198.51.100.1", "bounce@other.test");
    assert_eq!(v["dmarc"]["result"], "pass", "{v}");
    assert_eq!(v["dmarc"]["dkim_aligned"], true);
    assert_eq!(v["dmarc"]["spf_aligned"], false);
    assert_eq!(v["disposition"]["action"], "accept");
    // SPF alone, aligned: pass.
    let v = dmarc(MSG, "192.0.2.5", "bounce@sender.test");
    assert_eq!(v["spf"]["result"], "pass");
    assert_eq!(v["dmarc"]["spf_aligned"], true);
    // Nothing aligned: fail, p=reject, pct reported, disposition reject with reason.
    let v = dmarc(MSG, "198.51.100.1", "bounce@sender.test");
    assert_eq!(v["dmarc"]["result"], "fail", "{v}");
    assert_eq!(v["dmarc"]["policy"], "reject");
    assert_eq!(v["dmarc"]["pct"], 30);
    assert_eq!(v["disposition"]["action"], "reject");
    // The reason in plain words and as its type.
    assert_eq!(v["disposition"]["why"]["kind"], "dmarc", "{v}");
    assert_eq!(v["disposition"]["why"]["applied"], "reject");
    assert!(
        v["disposition"]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("DMARC policy reject of sender.test")),
        "{v}"
    );
    assert!(
        v["disposition"]["reply"]
            .as_str()
            .unwrap()
            .starts_with("550 5.7.1"),
        "{v}"
    );
    // Subdomain policy (sp=quarantine) for an existing subdomain.
    let sub = String::from_utf8(MSG.to_vec())
        .unwrap()
        .replace("alice@sender.test", "alice@sub.sender.test");
    let v = dmarc(sub.as_bytes(), "198.51.100.1", "bounce@other.test");
    assert_eq!(v["dmarc"]["policy"], "quarantine", "{v}");
    assert_eq!(v["disposition"]["action"], "quarantine");
    // np= (RFC 9989; mail-auth) for a subdomain that does not exist.
    a.dns
        .txt("np.test", "v=spf1 -all")
        .txt("_dmarc.np.test", "v=DMARC1; p=none; sp=none; np=reject");
    let ghost = String::from_utf8(MSG.to_vec())
        .unwrap()
        .replace("alice@sender.test", "alice@ghost.np.test");
    let v = dmarc(ghost.as_bytes(), "198.51.100.1", "bounce@other.test");
    assert_eq!(v["dmarc"]["policy"], "reject", "{v}");
    assert_eq!(v["disposition"]["action"], "reject");
    // Strict alignment: a subdomain signature does not align.
    let strict = String::from_utf8(MSG.to_vec())
        .unwrap()
        .replace("alice@sender.test", "alice@strict.test");
    let signed = sign(
        strict.as_bytes(),
        "mail.sender.test",
        "rsa",
        &keys.rsa,
        "rsa",
        "relaxed/relaxed",
        false,
    );
    let v = dmarc(&signed, "192.0.2.5", "bounce@mail.strict.test");
    assert_eq!(v["dmarc"]["result"], "fail", "{v}");
    // Plain output starts with the DMARC result and ends with the disposition.
    let out = a.ok(
        &[
            "dmarc",
            "-",
            "--ip",
            "198.51.100.1",
            "--mail-from",
            "b@sender.test",
        ],
        MSG,
    );
    assert!(out.starts_with("dmarc=fail"), "{out}");
    assert!(out.contains("disposition: reject"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc8617_arc_chain_valid_and_broken() {
    let a = Audit::new().await;
    let keys = Keys::generate(a.dir.path());
    a.dns
        .txt("arc._domainkey.lists.example", &keys.rsa_record());
    let mut msg =
        b"Authentication-Results: lists.example; dmarc=pass header.from=sender.test\r\n".to_vec();
    msg.extend_from_slice(MSG);
    let sealed = arc_seal(&msg, "lists.example", "arc", &keys.rsa, "lists.example");
    let args = [
        "dmarc",
        "-",
        "--ip",
        "198.51.100.1",
        "--mail-from",
        "x@lists.example",
    ];
    let v = a.json(&args, &sealed);
    assert_eq!(v["arc"]["result"], "pass", "{v}");
    assert_eq!(v["arc"]["sealer"], "lists.example");
    assert_eq!(v["arc"]["sealer_saw_dmarc_pass"], true);
    let broken = String::from_utf8(sealed)
        .unwrap()
        .replace("figures are attached", "figures are elsewhere");
    let v = a.json(&args, broken.as_bytes());
    assert_eq!(v["arc"]["result"], "fail", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_verdict_with_signals_weights_and_authentication() {
    let a = Audit::new().await;
    let keys = Keys::generate(a.dir.path());
    dkim_zones(&a.dns, &keys);
    a.dns.txt("_dmarc.sender.test", "v=DMARC1; p=reject");
    let msg =
        b"From: PayPal Billing <billing@sender.test>\r\nReply-To: payments.desk@gmail.com\r\n\
To: alice@local.test\r\nSubject: Invoice\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\
Message-ID: <inv@sender.test>\r\n\r\nPlease pay the attached invoice.\r\n";
    let signed = sign(
        msg,
        "sender.test",
        "rsa",
        &keys.rsa,
        "rsa",
        "relaxed/relaxed",
        false,
    );
    let v = a.json(
        &["message", "-", "--mail-from", "billing@sender.test"],
        &signed,
    );
    assert_eq!(v["authentication"]["dmarc"], "pass", "{v}");
    assert_eq!(v["authentication"]["dkim"][0]["result"], "pass", "{v}");
    assert_eq!(v["authentication"]["spf"], "not evaluated");
    assert_eq!(v["auth"], "aligned");
    let signal = |name: &str| {
        v["signals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name}: {v}"))
    };
    // A brand's name on someone else's domain counts in full, authenticated or not;
    // a Reply-To at a free-mail provider counts three quarters (aligned, but a domain
    // never seen before).
    assert_eq!(signal("display_name_brand")["weight"], 7.0);
    assert_eq!(
        signal("display_name_brand")["reason"],
        "the sender's name says paypal (paypal.com) but the mail comes from sender.test"
    );
    assert_eq!(signal("reply_to_free_mail")["weight"], 3.75);
    assert_eq!(v["score"], 10.8);
    assert_eq!(v["action"], "quarantine");
    let text = a.ok(&["message", "-"], &signed);
    assert!(
        text.starts_with("quarantine (phishing score 10.8; spam score 0.0)\n"),
        "{text}"
    );
    assert!(
        text.contains("dmarc=pass (from sender.test), weighed as aligned"),
        "{text}"
    );
    assert!(text.contains("   7.0  display_name_brand"), "{text}");
    // Tampered in transit: DKIM and DMARC fail, and so the same message weighs more.
    let tampered = String::from_utf8_lossy(&signed).replace("Please pay", "Kindly pay");
    let v = a.json(&["message", "-"], tampered.as_bytes());
    assert_eq!(v["auth"], "dmarc-fail", "{v}");
    assert_eq!(v["score"], 20.0, "{v}");
    assert_eq!(v["action"], "quarantine", "{v}");
    // Not a message at all: a usage error.
    let o = a.run(&["message", "-"], b"\x00\x01 not mail");
    assert_eq!(o.status.code(), Some(2));
}

/// Issue 15, conformance: a corpus signed by dkimpy at test time, over every
/// canonicalisation pair, both algorithms, with and without `l=`, two `h=` lists
/// (the usual five, and From and Subject oversigned), and bodies that
/// stress canonicalisation (trailing blank and whitespace lines, inner whitespace, an
/// empty body), each also tampered with. Palisade's verdict matches dkimpy's on every
/// one, except that an `l=` signature is `policy` here whatever dkimpy says (content
/// can be appended after the signed length: a documented choice). `x=` is not in the
/// corpus: dkimpy does not sign with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dkim_corpus_verifies_as_dkimpy_does() {
    use common::dkim::sign_fields;
    let a = Audit::new().await;
    let keys = Keys::generate(a.dir.path());
    dkim_zones(&a.dns, &keys);
    let head = "From: Alice <alice@sender.test>\r\nTo: bob@local.test\r\nSubject: figures\r\n\
                Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <c@sender.test>\r\n\r\n";
    let bodies = [
        "Hello Bob,\r\nthe figures.\r\n",
        "x\r\n  \r\n\t\r\n\r\n",
        "a  \t b \r\n  c\r\n",
        "",
    ];
    let fields = [None, Some("from:from:subject:subject:to")];
    let mut checked = 0;
    for (canon, algo, sel, key) in [
        ("simple/simple", "rsa", "rsa", &keys.rsa),
        ("simple/relaxed", "ed25519", "ed", &keys.ed_seed),
        ("relaxed/simple", "rsa", "rsa", &keys.rsa),
        ("relaxed/relaxed", "ed25519", "ed", &keys.ed_seed),
        ("relaxed/relaxed", "rsa", "rsa", &keys.rsa),
        ("simple/simple", "ed25519", "ed", &keys.ed_seed),
    ] {
        for body in bodies {
            for f in fields {
                for length in [false, true] {
                    let msg = format!("{head}{body}");
                    let signed = sign_fields(
                        msg.as_bytes(),
                        ("sender.test", sel, key),
                        algo,
                        canon,
                        length,
                        f,
                    );
                    let mut tampered = signed.clone();
                    tampered.splice(0..0, b"Subject: urgent\r\n".iter().copied());
                    tampered.extend_from_slice(b"appended\r\n");
                    for m in [signed, tampered] {
                        let theirs = dkimpy_verifies(&m, a.dns.addr());
                        let v = a.json(&["dkim", "-"], &m);
                        let ours = results(&v)[0].2.clone();
                        let want = match (theirs, length) {
                            (true, true) => "policy",
                            (true, false) => "pass",
                            (false, _) => ours.as_str(),
                        };
                        assert_eq!(
                            ours, want,
                            "{canon} {algo} h={f:?} l={length} {body:?}: {v}"
                        );
                        if !theirs {
                            assert_ne!(ours, "pass", "{canon} {algo} h={f:?} {body:?}: {v}");
                        }
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 6 * 4 * 2 * 2 * 2);
}

/// Issue 16: `audit corpus` over labelled directories, sources taken from their
/// sub-directories, offline (authentication not evaluated, so it neither adds
/// `no_authentication` nor takes weight off), files that are not messages skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_corpus_figures_per_action_and_source() {
    let a = Audit::new().await;
    let root = a.dir.path().join("corpus");
    let put = |rel: &str, body: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    };
    let plain = |i: usize| {
        format!(
            "From: Jane Doe <jane@example.org>\r\nTo: bob@example.net\r\nSubject: notes {i}\r\n\
Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <n{i}@example.org>\r\n\r\nThe notes from today.\r\n"
        )
    };
    let program = "From: Billing <billing@example.com>\r\nTo: bob@example.net\r\nSubject: invoice\r\n\
Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <p@example.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n\
--b\r\nContent-Type: application/octet-stream; name=invoice.pdf.exe\r\n\
Content-Disposition: attachment; filename=invoice.pdf.exe\r\nContent-Transfer-Encoding: base64\r\n\r\n\
TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAgAAAAA==\r\n--b--\r\n";
    put("phish/scams/1.eml", program);
    put("phish/scams/2.eml", &plain(2));
    put("phish/loose.eml", program);
    put("ham/lists/1.eml", &plain(1));
    put("ham/lists/3.eml", &plain(3));
    put("ham/lists/.hidden", "not read");
    put("ham/lists/notes.txt", "\x00\x01 not a message");
    let (phish, ham) = (root.join("phish"), root.join("ham"));
    let (phish, ham) = (phish.to_str().unwrap(), ham.to_str().unwrap());
    let v = a.json(&["corpus", "--phish", phish, "--ham", ham], b"");
    assert_eq!(
        (v["phish"].as_u64(), v["ham"].as_u64()),
        (Some(3), Some(2)),
        "{v}"
    );
    assert_eq!(v["confusion"]["ham"]["deliver"], 2, "{v}");
    assert_eq!(v["confusion"]["phish"]["deliver"], 1, "{v}");
    assert_eq!(v["caught"].as_f64().unwrap(), 2.0 / 3.0, "{v}");
    assert_eq!(v["held_back"], 0.0, "{v}");
    assert_eq!(v["misses_without_signal"], 1, "{v}");
    assert_eq!(v["skipped"].as_array().unwrap().len(), 1, "{v}");
    let sources: Vec<(&str, u64)> = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["source"].as_str().unwrap(),
                s["messages"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(sources, [("lists", 2), ("phish", 1), ("scams", 2)], "{v}");
    let fp = v["false_positive_reasons"].as_array().unwrap();
    assert!(fp.is_empty(), "{v}");
    let hit = v["miss_reasons"].as_array().unwrap();
    assert!(
        hit.iter().all(|r| r[0] != "no_authentication"),
        "offline: no blame for authentication not evaluated: {v}"
    );
    let text = a.ok(&["corpus", "--phish", phish, "--ham", ham], b"");
    assert!(text.contains("ROC AUC"), "{text}");
    assert!(text.contains("  phishing   scams"), "{text}");
    // Leave one source out: every message judged once, by a model trained without its
    // source; --train writes a model that the same command reproduces byte for byte.
    let v = a.json(&["corpus", "--phish", phish, "--ham", ham, "--loso"], b"");
    assert_eq!(v["leave_one_source_out"], true, "{v}");
    assert_eq!(
        (v["phish"].as_u64(), v["ham"].as_u64()),
        (Some(3), Some(2)),
        "{v}"
    );
    let model = |name: &str| {
        let file = a.dir.path().join(name);
        a.ok(
            &[
                "corpus",
                "--phish",
                phish,
                "--ham",
                ham,
                "--train",
                file.to_str().unwrap(),
            ],
            b"",
        );
        std::fs::read(file).unwrap()
    };
    let first = model("one.bin");
    assert!(first.starts_with(b"PLSDCM01"));
    assert!(first == model("two.bin"), "training is not reproducible");
    // A site's own learning: the first message of each source learnt, the rest judged.
    let text = a.ok(
        &[
            "corpus",
            "--phish",
            phish,
            "--ham",
            ham,
            "--site-learn",
            "1",
        ],
        b"",
    );
    assert!(
        text.starts_with("site learning: 3 messages learnt (1 of each source), 2 judged\n"),
        "{text}"
    );
    assert!(
        text.contains("1 phishing and 1 legitimate messages"),
        "{text}"
    );
    // An empty side is a usage error, not a report of nothing.
    let empty = a.dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = a.run(
        &["corpus", "--phish", phish, "--ham", empty.to_str().unwrap()],
        b"",
    );
    assert_eq!(o.status.code(), Some(2));
}
