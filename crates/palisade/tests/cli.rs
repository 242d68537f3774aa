//! The command line, run as a user would: the real binary, its exit codes and output.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_palisade");

fn run(data: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok(data: &Path, args: &[&str], stdin: &str) -> String {
    let o = run(data, args, stdin);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Exit code 2 and a one-line message containing `needle`.
fn usage_error(data: &Path, args: &[&str], stdin: &str, needle: &str) {
    let o = run(data, args, stdin);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
}

#[test]
fn init_writes_production_config_and_prints_dns_records() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(
        dir.path(),
        &[
            "init",
            "--domain",
            "example.com",
            "--hostname",
            "mx.example.com",
        ],
        "",
    );
    for needle in [
        "example.com. MX 10 mx.example.com.",
        "v=spf1 mx -all",
        "_dmarc.example.com.",
        "p=reject; rua=mailto:postmaster@example.com",
        "_smtp._tls.example.com. TXT \"v=TLSRPTv1; rua=mailto:postmaster@example.com\"",
        "PTR",
    ] {
        assert!(out.contains(needle), "{needle} missing from:\n{out}");
    }
    // One source of truth (issue 17, item 3): init prints the records dns records does.
    let records = |text: &str| -> Vec<String> {
        text.lines()
            .map(str::trim)
            .filter(|l| l.contains(" TXT ") || l.contains(" MX ") || l.contains(" CNAME "))
            .map(str::to_string)
            .collect()
    };
    let again = ok(dir.path(), &["dns", "records", "example.com"], "");
    assert_eq!(records(&out), records(&again));
    assert!(
        !again.contains("dmarc-reports@") && !again.contains("tls-reports@"),
        "{again}"
    );
    let cfg = std::fs::read_to_string(dir.path().join("palisade.toml")).unwrap();
    assert!(cfg.contains("[::]:25") && cfg.contains("[::]:587") && cfg.contains("[::]:465"));
    assert!(ok(dir.path(), &["config", "check"], "").contains("OK"));
    // With [acme] set but no certificate issued yet, no TLSA record is printed for the
    // self-signed key the ACME one will replace.
    let acme = "\n[acme]\ndirectory = \"letsencrypt\"\nchallenge = \"http-01\"\nhttp_address = \"[::]:80\"\n";
    std::fs::write(dir.path().join("palisade.toml"), format!("{cfg}{acme}")).unwrap();
    let awaiting = ok(dir.path(), &["dns", "records", "example.com"], "");
    assert!(
        awaiting.contains("once the ACME certificate is issued"),
        "{awaiting}"
    );
    assert!(!awaiting.contains("TLSA 3 1 1"), "{awaiting}");
    std::fs::write(dir.path().join("palisade.toml"), &cfg).unwrap();
    assert!(ok(dir.path(), &["domain", "list"], "").contains("example.com"));
    usage_error(
        dir.path(),
        &[
            "init",
            "--domain",
            "example.com",
            "--hostname",
            "mx.example.com",
        ],
        "",
        "--force",
    );
}

#[test]
fn config_check_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("palisade.toml"),
        "[listener.inbound]\naddress = \"somewhere\"\n",
    )
    .unwrap();
    usage_error(
        dir.path(),
        &["config", "check"],
        "",
        "listener.inbound.address",
    );
    std::fs::write(
        dir.path().join("palisade.toml"),
        "[smtp]\nmax_recipientz = 3\n",
    )
    .unwrap();
    usage_error(
        dir.path(),
        &["config", "check"],
        "",
        "unknown field `max_recipientz`",
    );
    let other = dir.path().join("other.toml");
    std::fs::write(
        &other,
        "hostname = \"mx.test\"\n[listener.in]\naddress = \"127.0.0.1:0\"\nkind = \"smtp\"\n",
    )
    .unwrap();
    let o = Command::new(BIN)
        .args(["--data", dir.path().to_str().unwrap(), "config", "check"])
        .env("PALISADE_CONFIG", &other)
        .output()
        .unwrap();
    assert!(o.status.success(), "PALISADE_CONFIG is honoured");
}

/// `config check` runs what `serve` checks before it binds (issue 17, item 2): a
/// certificate or key file that is missing or not PEM is refused (exit 2, naming the
/// file), a CA file too; a configuration without a listener is a warning (exit 1).
#[test]
fn config_check_refuses_what_serve_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let listener = "[listener.inbound]\naddress = \"127.0.0.1:0\"\nkind = \"smtp\"\n";
    let write = |toml: &str| std::fs::write(d.join("palisade.toml"), toml).unwrap();
    write(&format!(
        "hostname = \"mx.test\"\n[tls]\ncert = \"{0}/none.pem\"\nkey = \"{0}/none.key\"\n{listener}",
        d.display()
    ));
    usage_error(d, &["config", "check"], "", "none.pem");
    let o = run(d, &["serve"], "");
    assert_eq!(o.status.code(), Some(1), "serve refuses it too");
    assert!(String::from_utf8_lossy(&o.stderr).contains("none.pem"));
    std::fs::write(d.join("junk.pem"), "not a certificate").unwrap();
    write(&format!(
        "hostname = \"mx.test\"\n[delivery]\nextra_ca_file = \"{}/junk.pem\"\n{listener}",
        d.display()
    ));
    usage_error(d, &["config", "check"], "", "extra_ca_file");
    // [acme]: the CA's root file must hold a certificate; a host name no CA would
    // issue for is a warning.
    let acme = "[acme]\ndirectory = \"letsencrypt\"\nchallenge = \"http-01\"\nhttp_address = \"127.0.0.1:0\"\n";
    write(&format!(
        "hostname = \"mx.test\"\n{acme}ca_file = \"{}/junk.pem\"\n{listener}",
        d.display()
    ));
    usage_error(d, &["config", "check"], "", "acme.ca_file");
    write(&format!("hostname = \"mx\"\n{acme}{listener}"));
    let o = run(d, &["config", "check"], "");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("not a fully-qualified name"), "{err}");
    write("hostname = \"mx.test\"\n");
    let o = run(d, &["config", "check"], "");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("no listener"), "{err}");
    write(&format!("hostname = \"mx.test\"\n{listener}"));
    assert!(ok(d, &["config", "check"], "").contains("OK (hostname mx.test, 1 listeners)"));
}

#[test]
fn domains_users_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["domain", "add", "Example.COM"], "");
    usage_error(d, &["domain", "add", "example.com"], "", "exists");
    usage_error(
        d,
        &["user", "add", "bob@elsewhere.test"],
        "correct horse battery\n",
        "not a local domain",
    );
    usage_error(
        d,
        &["user", "add", "bob@example.com"],
        "short\n",
        "at least 12 are needed",
    );
    // The password policy: breached, weak and self-referential passwords are refused
    // with the reason and a suggestion.
    usage_error(
        d,
        &["user", "add", "bob@example.com"],
        "Q1w2e3r4t5y6\n",
        "commonly used passwords",
    );
    usage_error(
        d,
        &["user", "add", "bob@example.com"],
        "aaaaaaaaaaaaaaaa\n",
        "too easy to guess",
    );
    usage_error(
        d,
        &["user", "add", "bob@example.com"],
        "my bob@example.com password\n",
        "contains the account's address",
    );
    ok(
        d,
        &["user", "add", "bob@example.com"],
        "correct horse battery staple\n",
    );
    assert_eq!(ok(d, &["user", "list"], ""), "bob@example.com\n");
    let db = std::fs::read(d.join("palisade.db")).unwrap();
    assert!(
        !db.windows(12).any(|w| w == b"correct hors"),
        "the password is stored hashed"
    );
    ok(
        d,
        &["user", "passwd", "bob@example.com"],
        "another long passphrase\n",
    );
    usage_error(
        d,
        &["user", "passwd", "nobody@example.com"],
        "x\n",
        "no user",
    );
    ok(
        d,
        &["alias", "add", "info@example.com", "bob@example.com"],
        "",
    );
    ok(d, &["alias", "add", "*@example.com", "bob@example.com"], "");
    usage_error(
        d,
        &["alias", "add", "x@example.com", "ghost@example.com"],
        "",
        "ghost@example.com",
    );
    let aliases = ok(d, &["alias", "list"], "");
    assert!(
        aliases.contains("info@example.com -> bob@example.com")
            && aliases.contains("*@example.com -> bob@example.com")
    );
    ok(d, &["alias", "remove", "*@example.com"], "");
    usage_error(d, &["domain", "remove", "example.com"], "", "example.com");
    ok(d, &["user", "remove", "bob@example.com"], "");
    ok(d, &["domain", "remove", "example.com"], "");
    assert_eq!(ok(d, &["domain", "list"], ""), "");
    usage_error(
        d,
        &["queue", "show", "../../etc/passwd"],
        "",
        "not a queue id",
    );
}

/// `palisade serve` on `d`, once its listener on `port` accepts (bounded wait).
fn serve(d: &Path, port: u16, out: Stdio, err: Stdio) -> (std::process::Child, SocketAddr) {
    let server = Command::new(BIN)
        .args(["--data", d.to_str().unwrap(), "serve"])
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for _ in 0..400 {
        if std::net::TcpStream::connect(addr).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    (server, addr)
}

/// A data directory served on `port` (inbound SMTP, sender checks off, then `extra`
/// TOML) with the domain local.test and its user alice.
fn alice_at(d: &Path, port: u16, extra: &str) {
    std::fs::write(
        d.join("palisade.toml"),
        format!(
            "hostname = \"mx.local.test\"\n[listener.inbound]\naddress = \"127.0.0.1:{port}\"\n\
             [policy]\nsender_checks = false\n{extra}"
        ),
    )
    .unwrap();
    ok(d, &["domain", "add", "local.test"], "");
    ok(
        d,
        &["user", "add", "alice@local.test"],
        "correct horse battery staple\n",
    );
}

use palisade_testkit::free_port;

fn send(addr: SocketAddr, rcpt: &str) {
    use std::io::{BufRead, BufReader};
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    let mut expect = |code: &str| loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line.as_bytes().get(3) != Some(&b'-') {
            assert!(line.starts_with(code), "expected {code}, got {line}");
            break;
        }
    };
    expect("220");
    w.write_all(
        format!("EHLO t\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n").as_bytes(),
    )
    .unwrap();
    for c in ["250", "250", "250", "354"] {
        expect(c);
    }
    w.write_all(b"Subject: queued\r\n\r\nstuck for a while\r\n.\r\n")
        .unwrap();
    expect("250");
}

fn queue_ids(d: &Path) -> Vec<String> {
    ok(d, &["queue", "list"], "")
        .lines()
        .skip(1)
        .filter(|l| l.len() > 16 && l.as_bytes()[16] == b' ')
        .map(|l| l[..16].to_string())
        .collect()
}

#[test]
fn queue_list_show_retry_delete_against_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    alice_at(d, port, "[queue]\nretry_initial_secs = 600\n");
    // Alice's Maildir path is a file: delivery fails transiently and the message waits.
    std::fs::create_dir_all(d.join("mail/local.test")).unwrap();
    std::fs::write(d.join("mail/local.test/alice"), b"in the way").unwrap();
    let log = d.join("serve.log");
    let err = std::fs::File::create(&log).unwrap();
    let (mut server, addr) = serve(d, port, Stdio::null(), err.into());
    send(addr, "alice@local.test");
    send(addr, "alice@local.test");
    // Bounded wait (generous: CI runs other servers alongside) for both first attempts.
    let mut ids = Vec::new();
    let mut list = String::new();
    for _ in 0..600 {
        ids = queue_ids(d);
        list = ok(d, &["queue", "list"], "");
        if ids.len() == 2 && list.matches("retry in").count() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(ids.len(), 2, "{list}");
    assert_eq!(
        list.matches("retry in").count(),
        2,
        "both attempts recorded: {list}"
    );
    let show = ok(d, &["queue", "show", &ids[0]], "");
    assert!(
        show.contains("rcpt: alice@local.test")
            && show.contains("attempts: 1")
            && show.contains("Subject: queued"),
        "{show}"
    );
    assert!(show.contains("maildir"), "the last error says why: {show}");
    assert!(
        show.contains("rcpt: alice@local.test: pending, next attempt in "),
        "per-recipient state: {show}"
    );

    ok(d, &["queue", "delete", &ids[1]], "");
    usage_error(d, &["queue", "delete", &ids[1]], "", "no message");
    std::fs::remove_file(d.join("mail/local.test/alice")).unwrap();
    ok(d, &["queue", "retry", &ids[0]], "");
    let mut delivered = 0;
    for _ in 0..200 {
        delivered = std::fs::read_dir(d.join("mail/local.test/alice/new"))
            .map(|r| r.count())
            .unwrap_or(0);
        if delivered == 1 && queue_ids(d).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(delivered, 1);
    assert!(queue_ids(d).is_empty());
    server.kill().unwrap();
    server.wait().unwrap();
    // A log written to a file carries no terminal colour codes.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("INFO"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "ANSI escapes in a log file: {text}"
    );
}

#[test]
fn serve_with_missing_explicit_config_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    usage_error(
        dir.path(),
        &["--config", "/nonexistent/palisade.toml", "serve"],
        "",
        "does not exist",
    );
}

/// Count of RCPTs accepted before the limit reply, on a fresh connection.
fn recipients_accepted(addr: SocketAddr) -> usize {
    use std::io::{BufRead, BufReader};
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut read_reply = || {
        let mut line = String::new();
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            if line.as_bytes().get(3) != Some(&b'-') {
                return line;
            }
        }
    };
    read_reply();
    w.write_all(b"EHLO t\r\nMAIL FROM:<a@remote.test>\r\n")
        .unwrap();
    read_reply();
    read_reply();
    let mut accepted = 0;
    for _ in 0..3 {
        w.write_all(b"RCPT TO:<alice@local.test>\r\n").unwrap();
        if read_reply().starts_with("250") {
            accepted += 1;
        }
    }
    accepted
}

#[test]
fn sighup_reloads_the_config_and_a_broken_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let cfg = |n: usize| {
        format!(
            "hostname = \"mx.local.test\"\n[listener.inbound]\naddress = \"127.0.0.1:{port}\"\n[smtp]\nmax_recipients = {n}\n[policy]\nsender_checks = false\n"
        )
    };
    std::fs::write(d.join("palisade.toml"), cfg(3)).unwrap();
    ok(d, &["domain", "add", "local.test"], "");
    ok(
        d,
        &["user", "add", "alice@local.test"],
        "correct horse battery staple\n",
    );
    let (mut server, addr) = serve(d, port, Stdio::null(), Stdio::null());
    assert_eq!(recipients_accepted(addr), 3);
    let pid = rustix::process::Pid::from_raw(server.id() as i32).unwrap();
    let hup = || rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();
    std::fs::write(d.join("palisade.toml"), cfg(1)).unwrap();
    hup();
    let mut now = 3;
    for _ in 0..200 {
        now = recipients_accepted(addr);
        if now == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert_eq!(now, 1, "SIGHUP applied the new limit");
    std::fs::write(d.join("palisade.toml"), "this is not toml").unwrap();
    hup();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        recipients_accepted(addr),
        1,
        "a broken config keeps the running one"
    );
    assert!(server.try_wait().unwrap().is_none(), "still running");
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn dkim_keys_rotation_and_dns_records() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["domain", "add", "example.com"], "");
    usage_error(
        d,
        &["dkim", "keygen", "other.com"],
        "",
        "not a local domain",
    );
    let out = ok(d, &["dkim", "keygen", "example.com"], "");
    assert!(
        out.contains("._domainkey.example.com. TXT \"v=DKIM1; k=ed25519; p="),
        "{out}"
    );
    assert!(out.contains("\"v=DKIM1; k=rsa; p=MII"), "{out}");
    assert_eq!(out.matches("(active)").count(), 2, "{out}");
    let out = ok(d, &["dkim", "rotate", "example.com"], "");
    let new_sel: Vec<String> = out
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("then: palisade dkim activate example.com ")
        })
        .map(str::to_string)
        .collect();
    assert_eq!(new_sel.len(), 2, "{out}");
    let list = ok(d, &["dkim", "list"], "");
    assert_eq!(list.matches("pending").count(), 2, "{list}");
    // Created: an RFC 3339 date, not a Unix time.
    for line in list.lines().skip(1) {
        let date = line.split_whitespace().last().unwrap();
        assert!(is_rfc3339_utc(date), "{line}");
    }
    let out = ok(d, &["dkim", "activate", "example.com", &new_sel[0]], "");
    assert!(out.contains("retired"), "{out}");
    let list = ok(d, &["dkim", "list", "example.com"], "");
    assert_eq!(list.matches("retired").count(), 1, "{list}");
    usage_error(
        d,
        &["dkim", "activate", "example.com", "nope"],
        "",
        "no DKIM selector",
    );
    let records = ok(d, &["dns", "records", "example.com"], "");
    for want in [
        "example.com. MX 10 ",
        "TXT \"v=spf1 mx -all\"",
        "_dmarc.example.com. TXT \"v=DMARC1; p=reject",
        "_mta-sts.example.com. TXT \"v=STSv1; id=",
        "_smtp._tls.example.com. TXT \"v=TLSRPTv1; rua=mailto:",
    ] {
        assert!(records.contains(want), "{want} missing:\n{records}");
    }
    // RFC 1035 §3.3: no quoted string longer than 255 octets; the RSA record comes as
    // several on one line, and whole for DNS web consoles.
    for line in records.lines() {
        for s in line.split('"').skip(1).step_by(2) {
            assert!(s.len() <= 255, "{} octets: {line}", s.len());
        }
    }
    let rsa = records
        .lines()
        .find(|l| l.contains("._domainkey.example.com. TXT \"v=DKIM1; k=rsa;"))
        .unwrap();
    let joined: String = rsa.split('"').skip(1).step_by(2).collect();
    assert!(rsa.matches('"').count() >= 4, "{rsa}");
    let console = records
        .lines()
        .find(|l| l.starts_with("; in a DNS web console:"))
        .unwrap();
    assert!(console.ends_with(&format!("value {joined}")), "{console}");
    // Active and pending keys are published, retired ones not.
    assert_eq!(
        records.matches("._domainkey.example.com.").count(),
        3,
        "{records}"
    );
    // The database holds private keys: owner-only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.join("palisade.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "palisade.db mode {mode:o}");
}

/// Issue 15, Medium 8: with standard error on a full disk, every session panicked at
/// its first log line (26 of 30 in a row). Here both outputs go to /dev/full (every
/// write fails with ENOSPC): every message is still accepted and delivered.
#[test]
fn a_full_log_disk_does_not_stop_mail() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    alice_at(d, port, "");
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let (mut server, addr) = serve(d, port, full().into(), full().into());
    for _ in 0..30 {
        send(addr, "alice@local.test");
    }
    let new = d.join("mail/local.test/alice/new");
    let mut delivered = 0;
    for _ in 0..400 {
        delivered = std::fs::read_dir(&new).map_or(0, |r| r.count());
        if delivered == 30 {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert_eq!(delivered, 30);
    assert!(server.try_wait().unwrap().is_none(), "still running");
    server.kill().unwrap();
    server.wait().unwrap();
}

/// Issue 15, Low: the metrics listener kept half-open connections for ever. Now a
/// connection that says nothing is closed after the idle timeout, and /metrics still
/// answers.
#[test]
fn metrics_listener_closes_silent_connections() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (port, metrics) = (free_port(), free_port());
    std::fs::write(
        d.join("palisade.toml"),
        format!(
            "hostname = \"mx.local.test\"\n[listener.inbound]\naddress = \"127.0.0.1:{port}\"\n\
             [metrics]\naddress = \"127.0.0.1:{metrics}\"\n[smtp]\nidle_timeout_secs = 1\n\
             [policy]\nsender_checks = false\n"
        ),
    )
    .unwrap();
    let mut server = Command::new(BIN)
        .args(["--data", d.to_str().unwrap(), "serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{metrics}").parse().unwrap();
    let mut silent = None;
    for _ in 0..400 {
        if let Ok(s) = std::net::TcpStream::connect(addr) {
            silent = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let mut silent = silent.expect("metrics listener up");
    silent
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = [0u8; 16];
    // EOF (or a reset) before the 30 s read timeout: the server hung up.
    match silent.read(&mut buf) {
        Ok(n) => assert_eq!(n, 0, "the silent connection was closed"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    let page = scrape(addr);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    server.kill().unwrap();
    server.wait().unwrap();
}

/// Issue 15, Low: names no mailbox can have (`../../etc@local.test`) were accepted,
/// and added domains had no postmaster (RFC 5321 §4.5.1).
#[test]
fn unusable_names_are_refused_and_every_domain_gets_a_postmaster() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pw = "correct horse battery staple\n";
    let out = ok(d, &["domain", "add", "local.test"], "");
    assert!(out.contains("postmaster@local.test"), "{out}");
    for bad in [
        "../../etc@local.test",
        ".alice@local.test",
        "a/b@local.test",
    ] {
        usage_error(d, &["user", "add", bad], pw, "cannot name a mailbox");
        usage_error(
            d,
            &["alias", "add", bad, "x@local.test"],
            "",
            "cannot name a mailbox",
        );
    }
    let out = ok(d, &["user", "add", "alice@local.test"], pw);
    assert!(
        out.contains("postmaster@local.test now delivers to alice@local.test"),
        "{out}"
    );
    let out = ok(d, &["user", "add", "bob@local.test"], pw);
    assert!(!out.contains("postmaster"), "set once: {out}");
    // A configured postmaster serves every domain added later.
    std::fs::write(
        d.join("palisade.toml"),
        "hostname = \"mx.local.test\"\npostmaster = \"alice@local.test\"\n",
    )
    .unwrap();
    let out = ok(d, &["domain", "add", "other.test"], "");
    assert!(
        out.contains("postmaster@other.test now delivers to alice@local.test"),
        "{out}"
    );
    let aliases = ok(d, &["alias", "list"], "");
    assert!(aliases.contains("postmaster@local.test"), "{aliases}");
    assert!(aliases.contains("postmaster@other.test"), "{aliases}");
}

/// Runs `args` with standard output into a pipe whose reader is already closed (what
/// `| head` does once it has read enough): the command ends quietly with 141 (128 +
/// SIGPIPE, as other Unix tools do), never a panic.
fn into_closed_pipe(data: &Path, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(BIN)
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_reader_that_stops_early_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["domain", "add", "example.com"], "");
    let msg = d.join("m.eml");
    std::fs::write(
        &msg,
        "From: a@example.org\r\nTo: b@example.com\r\nSubject: s\r\n\r\nHello\r\n",
    )
    .unwrap();
    let msg = msg.to_str().unwrap();
    for args in [
        &["audit", "message", msg][..],
        &["audit", "message", "--json", msg],
        &["security", "events"],
        &["domain", "list"],
        &["dkim", "list"],
        &["dns", "records", "example.com"],
    ] {
        let o = into_closed_pipe(d, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(141), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}

/// Input the CLI must refuse (issue 17, item 6), each with exit 2 and one line that says
/// what to give instead: an IP address as a mail domain, a host name that is not fully
/// qualified, DNS records for a domain this server does not serve, a lifetime without
/// its unit.
#[test]
fn names_and_lifetimes_that_mean_something_else_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    usage_error(d, &["domain", "add", "192.0.2.1"], "", "IP address");
    usage_error(d, &["domain", "add", "[192.0.2.1]"], "", "IP address");
    usage_error(d, &["domain", "add", "localdomain"], "", "fully-qualified");
    let init =
        |host: &str| ["init", "--domain", "example.com", "--hostname", host].map(String::from);
    let args = init("mx");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    usage_error(d, &args, "", "mx.example.com");
    let args = init("198.51.100.7");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    usage_error(d, &args, "", "IP address");
    ok(d, &["domain", "add", "example.com"], "");
    usage_error(
        d,
        &["dns", "records", "example.org"],
        "",
        "not a local domain",
    );
    assert!(ok(d, &["dns", "records", "example.com"], "").contains("example.com. MX 10"));
    ok(
        d,
        &["user", "add", "a@example.com"],
        "correct horse battery staple\n",
    );
    let add = |expires: &str| {
        run(
            d,
            &[
                "user",
                "app-password",
                "add",
                "a@example.com",
                "--label",
                "phone",
                "--expires",
                expires,
            ],
            "",
        )
    };
    for bad in ["90", "90y", "2020-01-01T00:00:00Z"] {
        let o = add(bad);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{bad}: {err}");
        assert!(err.contains("--expires"), "{bad}: {err}");
    }
    assert!(String::from_utf8_lossy(&add("90").stderr).contains("90d"));
    let o = add("2099-01-01T00:00:00Z");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let list = ok(d, &["user", "app-password", "list", "a@example.com"], "");
    assert!(list.contains("2099-01-01"), "{list}");
}

/// `2026-12-06T22:50:01Z`.
fn is_rfc3339_utc(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// `log.format` (issue 17, item 8): `json` writes one JSON object per line (for log
/// shippers), `text` plain lines; neither carries colour escapes when standard error is
/// a file. An unknown format is refused by name.
#[test]
fn log_lines_in_json_or_plain_text_never_coloured_in_a_file() {
    for format in ["json", "text"] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let port = free_port();
        alice_at(d, port, &format!("[log]\nformat = \"{format}\"\n"));
        let log = d.join("log.txt");
        let file = std::fs::File::create(&log).unwrap();
        let (mut server, addr) = serve(d, port, Stdio::null(), file.into());
        send(addr, "alice@local.test");
        server.kill().unwrap();
        server.wait().unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.lines().count() >= 2, "{format}: {text}");
        assert!(
            !text.contains('\x1b'),
            "{format}: colour escapes in a file: {text}"
        );
        for line in text.lines() {
            let parsed = serde_json::from_str::<serde_json::Value>(line);
            match format {
                "json" => {
                    let v = parsed.unwrap_or_else(|e| panic!("{e}: {line}"));
                    assert!(
                        v["level"].is_string() && v["timestamp"].is_string(),
                        "{line}"
                    );
                }
                _ => assert!(parsed.is_err(), "{line}"),
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("palisade.toml"),
        "[log]\nformat = \"xml\"\n",
    )
    .unwrap();
    usage_error(dir.path(), &["config", "check"], "", "log.format");
}

/// The report addresses `dns records` names receive mail (issue 17, item 3): the
/// configured `reports.dmarc_address` is printed as the `rua` and, when it does not
/// exist, becomes an alias of the domain's postmaster.
#[test]
fn report_addresses_printed_are_the_configured_ones_and_exist() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("palisade.toml"),
        "hostname = \"mx.example.com\"\n[listener.in]\naddress = \"127.0.0.1:0\"\n\
         kind = \"smtp\"\n[reports]\ndmarc_address = \"dmarc@example.com\"\n",
    )
    .unwrap();
    ok(d, &["domain", "add", "example.com"], "");
    let before = ok(d, &["dns", "records", "example.com"], "");
    assert!(before.contains("rua=mailto:dmarc@example.com"), "{before}");
    assert!(
        before.contains("dmarc@example.com receives no mail yet"),
        "{before}"
    );
    ok(
        d,
        &["user", "add", "ann@example.com"],
        "correct horse battery staple\n",
    );
    let out = ok(d, &["dns", "records", "example.com"], "");
    assert!(
        out.contains("dmarc@example.com did not exist: it is now an alias of ann@example.com"),
        "{out}"
    );
    assert!(ok(d, &["alias", "list"], "").contains("dmarc@example.com -> ann@example.com"));
    let again = ok(d, &["dns", "records", "example.com"], "");
    assert!(!again.contains("did not exist"), "once: {again}");
}

/// The banner's test command works for the configuration loaded (issue 17, item 7):
/// with sender authentication on (as `init` writes it) the printed command, run as
/// printed, delivers into the printed Maildir; without a mailbox the banner says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_banner_test_command_delivers_where_it_says() {
    let dns = palisade_testkit::DnsAuthority::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    std::fs::write(
        d.join("palisade.toml"),
        format!(
            "hostname = \"mx.example.com\"\n[listener.inbound]\naddress = \"0.0.0.0:{port}\"\n\
             kind = \"smtp\"\n[dns]\nnameservers = [\"{}\"]\ntimeout_secs = 1\nattempts = 1\n",
            dns.addr()
        ),
    )
    .unwrap();
    let banner = |d: &Path| {
        let out = d.join("banner.txt");
        let (mut server, _) = serve(
            d,
            port,
            std::fs::File::create(&out).unwrap().into(),
            Stdio::null(),
        );
        // The listener accepts just before the banner is written: wait for its end.
        let mut text = String::new();
        for _ in 0..400 {
            text = std::fs::read_to_string(&out).unwrap();
            if text.contains("Stop with Ctrl-C") {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        (server.try_wait().unwrap().is_none(), text, server)
    };
    let (up, text, mut server) = banner(d);
    assert!(up, "{text}");
    assert!(text.contains("No mailbox yet"), "{text}");
    server.kill().unwrap();
    server.wait().unwrap();
    ok(d, &["domain", "add", "example.com"], "");
    ok(
        d,
        &["user", "add", "ann@example.com"],
        "correct horse battery staple\n",
    );
    let (_, text, mut server) = banner(d);
    let command = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("python3 -c "))
        .unwrap();
    let maildir = text
        .lines()
        .find_map(|l| l.strip_prefix("It lands in "))
        .and_then(|l| l.split("/ (").next())
        .unwrap()
        .to_string();
    assert!(
        command.contains("'127.0.0.1'"),
        "loopback, not 0.0.0.0: {command}"
    );
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("python3 -c {command}"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut landed = 0;
    for _ in 0..400 {
        landed = std::fs::read_dir(&maildir).map_or(0, |r| r.count());
        if landed > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(landed, 1, "{maildir}: {text}");
    assert!(maildir.ends_with("mail/example.com/ann/new"), "{maildir}");
}

/// What `/metrics` on `addr` answers.
fn scrape(addr: SocketAddr) -> String {
    use std::io::Read;
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut page = String::new();
    let _ = c.read_to_string(&mut page);
    page
}

/// The dashboard's counts of `tally` in the store of `d`, summed.
fn stored_count(d: &Path, tally: palisade_store::Tally) -> i64 {
    use palisade_store::DashboardStore;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = palisade_store::SqliteStore::open(&d.join("palisade.db"))
            .await
            .unwrap();
        if tally == palisade_store::Tally::RejectedSender {
            let top = store.top_keys(tally, 0, 10).await.unwrap();
            return top
                .iter()
                .filter(|(k, _)| k == "remote.test")
                .map(|r| r.1)
                .sum();
        }
        let rows = store.hourly_counts(0, 1).await.unwrap();
        rows.iter()
            .filter(|r| r.tally == tally)
            .map(|r| r.count)
            .sum()
    })
}

/// A RCPT for a mailbox that does not exist, from a@remote.test: refused.
fn refused_rcpt(addr: SocketAddr) {
    use std::io::{BufRead, BufReader};
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = s.try_clone().unwrap();
    w.write_all(b"EHLO t\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<nobody@local.test>\r\nQUIT\r\n")
        .unwrap();
    let replies: Vec<String> = BufReader::new(s)
        .lines()
        .map_while(Result::ok)
        .filter(|l| l.as_bytes().get(3) == Some(&b' '))
        .collect();
    assert!(replies[3].starts_with("550"), "{replies:?}");
}

#[test]
fn every_counter_reaches_prometheus_and_the_dashboards_hourly_counts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (port, metrics) = (free_port(), free_port());
    let extra =
        format!("[metrics]\naddress = \"127.0.0.1:{metrics}\"\n[web]\ndashboard_flush_secs = 1\n");
    alice_at(d, port, &extra);
    // Every series carries this node's name (a top-level key: before the tables).
    let toml = std::fs::read_to_string(d.join("palisade.toml")).unwrap();
    std::fs::write(
        d.join("palisade.toml"),
        format!("node_id = \"mx-a\"\n{toml}"),
    )
    .unwrap();
    let (mut server, addr) = serve(d, port, Stdio::null(), Stdio::null());
    send(addr, "alice@local.test");
    send(addr, "alice@local.test");
    refused_rcpt(addr);
    let page = scrape(format!("127.0.0.1:{metrics}").parse().unwrap());
    assert!(
        page.contains("palisade_messages_accepted_total{node=\"mx-a\",direction=\"inbound\"} 2"),
        "{page}"
    );
    // Bounded wait for a flush (once a second here).
    let counts = || {
        use palisade_store::Tally::{Delivered, Received, RejectedSender};
        let sender = stored_count(d, RejectedSender);
        (
            stored_count(d, Received),
            stored_count(d, Delivered),
            sender,
        )
    };
    let mut now = (0, 0, 0);
    for _ in 0..100 {
        now = counts();
        if now == (2, 2, 1) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        now,
        (2, 2, 1),
        "received, delivered, and refused by sender domain: each counted once in the store"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}
