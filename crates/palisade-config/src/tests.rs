#![allow(clippy::unwrap_used)]

use super::*;

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn defaults_parse() {
    let c = parse(&default_toml("localhost")).unwrap();
    assert_eq!(c.hostname.as_str(), "localhost");
    assert_eq!(c.listeners.len(), 3);
    assert_eq!(c.smtp.max_recipients, 100);
    assert_eq!(c.metrics, Some("127.0.0.1:9025".parse().unwrap()));
    assert!(
        c.listeners
            .iter()
            .any(|l| l.kind == ListenerKind::Submissions && l.address.port() == 4650)
    );
}

#[test]
fn production_parses() {
    let c = parse(&production_toml("mx.example.com")).unwrap();
    let ports: Vec<u16> = c.listeners.iter().map(|l| l.address.port()).collect();
    assert!(ports.contains(&25) && ports.contains(&587) && ports.contains(&465));
}

#[test]
fn errors_name_the_key() {
    assert_eq!(
        err("[listener.inbound]\naddress = \"nowhere\"\n"),
        "listener.inbound.address: \"nowhere\" is not an IP:port socket address"
    );
    assert!(
        err("[listener.x]\naddress=\"127.0.0.1:1\"\nkind=\"imap\"\n")
            .starts_with("listener.x.kind:")
    );
    assert!(err("[listener.x]\nkind=\"smtp\"\n").starts_with("listener.x.address: is required"));
    assert!(err("[smtp]\nmax_recipients = 0\n").starts_with("smtp.max_recipients:"));
    assert!(err("[smtp]\nbare_line_endings = \"fix\"\n").starts_with("smtp.bare_line_endings:"));
    assert!(err("[tls]\ncert = \"/x\"\n").starts_with("tls.key:"));
    assert!(err("hostname = \"bad host\"\n").starts_with("hostname:"));
    assert!(
        err("[queue]\nretry_initial_secs = 100\nretry_max_secs = 50\n")
            .starts_with("queue.retry_max_secs")
    );
}

#[test]
fn unknown_keys_are_refused_with_position() {
    let e = err("hostname = \"a.test\"\n[smtp]\nmax_recipient = 5\n");
    assert!(e.contains("unknown field `max_recipient`"), "{e}");
    assert!(e.contains("line 3"), "{e}");
}

#[test]
fn duplicate_listener_address() {
    let e = err("[listener.a]\naddress=\"127.0.0.1:25\"\n[listener.b]\naddress=\"127.0.0.1:25\"\n");
    assert!(e.starts_with("listener.b.address:"), "{e}");
}

/// docs/CONFIG.md documents every key of RawConfig.
#[test]
fn every_key_is_documented() {
    let doc = include_str!("../../../docs/CONFIG.md");
    for key in [
        "hostname",
        "postmaster",
        "node_id",
        "store.url",
        "store.max_connections",
        "store.secret_key_file",
        "listener.NAME.address",
        "listener.NAME.kind",
        "tls.cert",
        "tls.key",
        "smtp.max_message_size",
        "smtp.max_recipients",
        "smtp.max_errors",
        "smtp.max_connections",
        "smtp.max_connections_per_ip",
        "smtp.bare_line_endings",
        "smtp.idle_timeout_secs",
        "smtp.command_timeout_secs",
        "smtp.data_timeout_secs",
        "smtp.shutdown_grace_secs",
        "queue.retry_initial_secs",
        "queue.retry_max_secs",
        "queue.max_age_secs",
        "queue.attempt_timeout_secs",
        "metrics.address",
        "log.format",
        "listener.NAME.proxy_protocol_from",
        "dns.nameservers",
        "dns.timeout_secs",
        "dns.attempts",
        "dns.dnssec_trusted",
        "policy.sender_checks",
        "policy.trusted_networks",
        "policy.dmarc_enforce",
        "policy.spf_fail",
        "policy.reject_spoofed_local",
        "policy.trusted_arc_sealers",
        "listener.NAME.allow_plaintext_auth",
        "reports.dmarc_address",
        "reports.dmarc_from",
        "reports.org_name",
        "reports.dmarc_interval_secs",
        "delivery.remote_port",
        "delivery.extra_ca_file",
        "delivery.connect_timeout_secs",
        "delivery.command_timeout_secs",
        "delivery.tls_policy",
        "delivery.mta_sts_port",
        "delivery.wkd_port",
        "delivery.max_connections_per_domain",
        "delivery.connection_idle_secs",
        "delivery.max_messages_per_connection",
        "web.address",
        "acme.directory",
        "acme.contact",
        "acme.challenge",
        "acme.http_address",
        "acme.ca_file",
        "acme.check_interval_secs",
        "security.max_login_failures",
        "security.login_failure_window_secs",
        "security.lockout_secs",
        "security.max_ip_failures",
        "security.ip_failure_window_secs",
        "security.ban_secs",
        "security.never_ban",
        "security.max_relay_attempts",
        "security.max_unknown_recipients",
        "security.abuse_window_secs",
        "security.known_ip_days",
        "security.connections_per_ip_per_minute",
        "security.messages_per_ip_per_hour",
        "submission.max_recipients_per_day",
        "mta_sts.mode",
        "mta_sts.max_age_secs",
        "mta_sts.mx",
        "submission.hide_client_ip",
        "submission.max_messages_per_hour",
        "submission.max_messages_per_day",
        "submission.burst_factor",
        "submission.max_new_domains_per_hour",
        "phishing.enabled",
        "phishing.partners",
        "phishing.brands",
        "phishing.vips",
        "phishing.free_mail",
        "phishing.abused_tlds",
        "phishing.shorteners",
        "phishing.click_trackers",
        "phishing.tag_score",
        "phishing.quarantine_score",
        "phishing.reject_score",
        "phishing.spam_tag_score",
        "phishing.spam_quarantine_score",
        "phishing.spam_reject_score",
        "phishing.subject_prefix",
        "phishing.external_banner",
        "phishing.first_contact_note",
        "phishing.attach_original",
        "phishing.outbound_action",
        "phishing.scan_time_ms",
        "phishing.max_parts",
        "phishing.max_qr_pixels",
        "phishing.quarantine_retention_days",
        "phishing.weights",
        "phishing.report_address",
        "phishing.reports_per_day",
        "scanners.rspamd.url",
        "scanners.rspamd.password",
        "scanners.rspamd.timeout_secs",
        "scanners.rspamd.on_failure",
        "scanners.clamav.address",
        "scanners.clamav.timeout_secs",
        "scanners.clamav.on_failure",
        "doctor.interval_secs",
    ] {
        assert!(
            doc.contains(&format!("`{key}`")),
            "docs/CONFIG.md lacks `{key}`"
        );
    }
}

#[test]
fn phishing_and_spam_thresholds() {
    let p = parse("").unwrap().phishing;
    assert_eq!(
        (p.tag_score, p.quarantine_score, p.reject_score),
        (Some(5.0), Some(10.0), Some(25.0))
    );
    assert_eq!(
        (
            p.spam_tag_score,
            p.spam_quarantine_score,
            p.spam_reject_score
        ),
        (Some(5.0), None, Some(15.0))
    );
    let p = parse("[phishing]\nspam_quarantine_score = 8\nspam_reject_score = 0\n")
        .unwrap()
        .phishing;
    assert_eq!(
        (
            p.spam_tag_score,
            p.spam_quarantine_score,
            p.spam_reject_score
        ),
        (Some(5.0), Some(8.0), None)
    );
    let e = parse("[phishing]\nspam_tag_score = 20\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("phishing.spam_quarantine_score"), "{e}");
    assert!(e.contains("spam_tag_score <= spam_quarantine_score"), "{e}");
}

#[test]
fn external_scanners() {
    assert_eq!(
        parse("").unwrap().scanners,
        crate::ScannersConfig::default()
    );
    let c = parse(
        "[scanners.rspamd]\nurl = \"http://127.0.0.1:11333/\"\non_failure = \"deliver\"\n\
         [scanners.clamav]\naddress = \"/run/clamav/clamd.ctl\"\n",
    )
    .unwrap()
    .scanners;
    let r = c.rspamd.unwrap();
    assert_eq!(r.url, "http://127.0.0.1:11333");
    assert_eq!(r.on_failure, crate::OnFailure::Deliver);
    assert_eq!(r.timeout, std::time::Duration::from_secs(15));
    let a = c.clamav.unwrap();
    assert_eq!(
        a.address,
        crate::ClamdAddress::Unix("/run/clamav/clamd.ctl".into())
    );
    assert_eq!(a.on_failure, crate::OnFailure::Tempfail);
    for (toml, key) in [
        ("[scanners.rspamd]\n", "scanners.rspamd.url"),
        (
            "[scanners.rspamd]\nurl = \"ftp://x\"\n",
            "scanners.rspamd.url",
        ),
        (
            "[scanners.rspamd]\nurl = \"http://\"\n",
            "scanners.rspamd.url",
        ),
        (
            "[scanners.rspamd]\nurl = \"http://h:1\"\non_failure = \"pass\"\n",
            "scanners.rspamd.on_failure",
        ),
        (
            "[scanners.clamav]\naddress = \"clamd\"\n",
            "scanners.clamav.address",
        ),
        (
            "[scanners.clamav]\naddress = \"h:0\"\n",
            "scanners.clamav.address",
        ),
        (
            "[scanners.clamav]\naddress = \"h:3310\"\ntimeout_secs = 0\n",
            "scanners.clamav.timeout_secs",
        ),
    ] {
        let e = parse(toml).unwrap_err().to_string();
        assert!(e.contains(key), "{toml}: {e}");
    }
}

#[test]
fn dns_and_policy_sections() {
    let c = parse(
        r#"
[dns]
nameservers = ["127.0.0.1:5353", "::1"]
timeout = 2
[policy]
trusted_networks = ["10.0.0.0/8", "192.0.2.7"]
spf_fail = "reject"
trusted_arc_sealers = ["lists.example.org"]
[listener.lb]
address = "127.0.0.1:2526"
proxy_protocol_from = ["127.0.0.1/32"]
"#,
    )
    .expect("valid");
    assert_eq!(c.dns.nameservers.len(), 2);
    assert_eq!(c.dns.nameservers[1].port(), 53);
    assert_eq!(c.dns.timeout.as_secs(), 2);
    assert!(c.policy.spf_fail_reject);
    assert!(c.policy.is_trusted("10.1.2.3".parse().expect("ip")));
    assert!(c.policy.is_trusted("192.0.2.7".parse().expect("ip")));
    assert!(!c.policy.is_trusted("192.0.2.8".parse().expect("ip")));
    assert_eq!(c.listeners[0].proxy_protocol_from.len(), 1);
    for (bad, key) in [
        ("[dns]\nnameservers = [\"x\"]", "dns.nameservers"),
        ("[policy]\nspf_fail = \"drop\"", "policy.spf_fail"),
        (
            "[policy]\ntrusted_networks = [\"10.0.0.0/33\"]",
            "policy.trusted_networks",
        ),
        (
            "[listener.a]\naddress = \"127.0.0.1:1\"\nproxy_protocol_from = [\"nope\"]",
            "listener.a.proxy_protocol_from",
        ),
    ] {
        let e = parse(bad).expect_err(bad).to_string();
        assert!(e.starts_with(key), "{bad}: {e}");
    }
}

#[test]
fn reports_section() {
    let c = parse("hostname = \"mx.example.com\"\n").unwrap();
    assert_eq!(
        c.reports.dmarc_from.to_string(),
        "noreply-dmarc@mx.example.com"
    );
    assert_eq!(c.reports.dmarc_interval.as_secs(), 86_400);
    assert!(c.reports.dmarc_address.is_none());
    let c = parse("[reports]\ndmarc_address = \"dmarc@example.com\"\ndmarc_interval_secs = 0\n")
        .unwrap();
    assert_eq!(
        c.reports.dmarc_address.unwrap().to_string(),
        "dmarc@example.com"
    );
    assert!(err("[reports]\ndmarc_address = \"nope\"\n").starts_with("reports.dmarc_address"));
}

#[test]
fn plaintext_auth_only_on_loopback() {
    assert!(parse("[listener.s]\naddress = \"127.0.0.1:587\"\nkind = \"submission\"\nallow_plaintext_auth = true\n").is_ok());
    assert!(
        err("[listener.s]\naddress = \"0.0.0.0:587\"\nkind = \"submission\"\nallow_plaintext_auth = true\n")
            .starts_with("listener.s.allow_plaintext_auth")
    );
}

/// `[acme]`: a directory URL (or a Let's Encrypt shorthand), the listener its challenge
/// needs, and never beside `[tls]`.
#[test]
fn acme_section() {
    let web = "[web]\naddress = \"[::]:443\"\n";
    let c = parse(&format!(
        "{web}[acme]\ndirectory = \"letsencrypt\"\ncontact = [\"mailto:admin@example.com\"]\n"
    ))
    .unwrap();
    let acme = c.acme.unwrap();
    assert_eq!(acme.directory, LETS_ENCRYPT);
    assert_eq!(acme.challenge, AcmeChallenge::TlsAlpn01);
    assert_eq!(acme.check_interval, std::time::Duration::from_secs(60));
    // With an ACME certificate, MTA-STS `auto` enforces.
    assert_eq!(c.mta_sts.mode, MtaStsMode::Enforce);
    assert!(err("[acme]\ndirectory = \"letsencrypt\"\n").starts_with("acme.challenge:"));
    assert!(
        err("[acme]\ndirectory = \"letsencrypt\"\nchallenge = \"http-01\"\n")
            .starts_with("acme.http_address:")
    );
    assert!(err(&format!("{web}[acme]\n")).starts_with("acme.directory:"));
    assert!(
        err(&format!(
            "{web}[acme]\ndirectory = \"http://ca.test/dir\"\n"
        ))
        .starts_with("acme.directory:")
    );
    assert!(
        err(&format!(
            "{web}[acme]\ndirectory = \"letsencrypt\"\ncontact = [\"admin@example.com\"]\n"
        ))
        .starts_with("acme.contact:")
    );
    assert!(
        err(&format!(
            "{web}[tls]\ncert = \"/c\"\nkey = \"/k\"\n[acme]\ndirectory = \"letsencrypt\"\n"
        ))
        .starts_with("acme:")
    );
}

/// The certificate in force: `[tls]`, else ACME's once issued, else the self-signed one.
#[test]
fn certificate_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let acme = parse(
        "[acme]\ndirectory = \"letsencrypt\"\nchallenge = \"http-01\"\nhttp_address = \"127.0.0.1:80\"\n",
    )
    .unwrap();
    assert_eq!(
        acme.certificate(dir.path()).source,
        CertSource::AwaitingAcme
    );
    assert_eq!(
        acme.certificate(dir.path()).files,
        self_signed_files(dir.path())
    );
    let files = acme_files(dir.path());
    std::fs::create_dir_all(files.cert.parent().unwrap()).unwrap();
    std::fs::write(&files.cert, "x").unwrap();
    std::fs::write(&files.key, "x").unwrap();
    assert_eq!(acme.certificate(dir.path()).source, CertSource::Acme);
    assert_eq!(acme.certificate(dir.path()).files, files);
    let plain = parse("").unwrap();
    assert_eq!(plain.certificate(dir.path()).source, CertSource::SelfSigned);
    let operator = parse("[tls]\ncert = \"/c\"\nkey = \"/k\"\n").unwrap();
    assert_eq!(
        operator.certificate(dir.path()).source,
        CertSource::Operator
    );
}

/// The commented `[web]`/`[acme]` lines `init` writes parse once uncommented.
#[test]
fn production_acme_lines_parse_uncommented() {
    let text = production_toml("mx.example.com");
    let start = text.find("# [web]").unwrap();
    let end = text.find("#\n# [tls]").unwrap();
    let uncommented = text[start..end].replace("# ", "");
    let c = parse(&format!("{}{uncommented}", &text[..start])).unwrap();
    assert_eq!(c.acme.unwrap().directory, LETS_ENCRYPT);
    assert_eq!(c.web, Some("[::]:443".parse().unwrap()));
}

#[test]
fn the_store_is_embedded_unless_a_postgres_url_is_given() {
    assert_eq!(parse("").unwrap().store, StoreConfig::Embedded);
    let c = parse("[store]\nurl = \"postgres://mail@db.example/palisade\"\n").unwrap();
    assert_eq!(
        c.store,
        StoreConfig::Postgres {
            url: "postgres://mail@db.example/palisade".into(),
            max_connections: 10
        }
    );
    let c = parse("[store]\nurl = \"postgresql://db/p\"\nmax_connections = 4\n").unwrap();
    assert!(matches!(
        c.store,
        StoreConfig::Postgres {
            max_connections: 4,
            ..
        }
    ));
    assert!(err("[store]\nurl = \"mysql://db/p\"\n").contains("store.url"));
    assert!(err("[store]\nurl = \"postgres://db/p\"\nmax_connections = 1\n").contains("2 to 1000"));
    assert!(err("[store]\npath = \"x\"\n").contains("path"));
}

#[test]
fn a_node_is_named_by_node_id_or_else_by_the_host() {
    assert_eq!(
        parse("node_id = \"mx-2.a_b\"\n").unwrap().node_id,
        "mx-2.a_b"
    );
    let default = parse("").unwrap().node_id;
    assert!(!default.is_empty() && default.len() <= 63, "{default:?}");
    for bad in ["", "-x", "a b", "é", &"x".repeat(64)] {
        assert!(
            err(&format!("node_id = {bad:?}\n")).contains("node_id"),
            "{bad:?}"
        );
    }
}
