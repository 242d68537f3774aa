//! The binary on PostgreSQL: `[store]`'s URL from PALISADE_STORE_URL, the CLI and
//! `serve` on one database (its own schema on the test server at 127.0.0.1:5432), a
//! message delivered, and a schema from a newer release refused.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use palisade_testkit::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_palisade");

fn server_url() -> String {
    std::env::var("PALISADE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema of this test's own, dropped at the end.
struct Schema(String);

impl Schema {
    fn new(name: &str) -> Schema {
        let schema = format!("{name}_{}", std::process::id());
        psql(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ));
        Schema(schema)
    }

    /// The store URL whose connections work in this schema.
    fn url(&self) -> String {
        format!("{}?options=-c%20search_path%3D{}", server_url(), self.0)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        psql(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0));
    }
}

fn psql(sql: &str) -> String {
    let o = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &server_url(),
            "-c",
            sql,
        ])
        .output()
        .expect("psql (Debian package postgresql-client)");
    assert!(
        o.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn run(data: &Path, url: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .arg("--data")
        .arg(data)
        .args(args)
        .env("PALISADE_STORE_URL", url)
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

fn ok(data: &Path, url: &str, args: &[&str], stdin: &str) -> String {
    let o = run(data, url, args, stdin);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn serve(d: &Path, url: &str, port: u16) -> (Child, SocketAddr) {
    let server = Command::new(BIN)
        .arg("--data")
        .arg(d)
        .arg("serve")
        .env("PALISADE_STORE_URL", url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
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

/// One message over SMTP; the reply to its data.
fn send(addr: SocketAddr, rcpt: &str) -> String {
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut reply = || {
        let mut line = String::new();
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.clone();
            }
        }
    };
    assert!(reply().starts_with("220"));
    w.write_all(
        format!("EHLO t\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n").as_bytes(),
    )
    .unwrap();
    for code in ["250", "250", "250", "354"] {
        let got = reply();
        assert!(got.starts_with(code), "expected {code}: {got}");
    }
    w.write_all(b"Subject: on postgres\r\n\r\nkept in PostgreSQL\r\n.\r\n")
        .unwrap();
    reply()
}

fn stop(mut server: Child) {
    let pid = server.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    for _ in 0..200 {
        if server.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn the_cli_and_serve_share_one_postgres_store() {
    let schema = Schema::new("palisade_cli");
    let url = schema.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    std::fs::write(
        d.join("palisade.toml"),
        format!(
            "hostname = \"mx.local.test\"\n[listener.inbound]\naddress = \"127.0.0.1:{port}\"\n\
             [policy]\nsender_checks = false\n"
        ),
    )
    .unwrap();
    let migrated = ok(d, &url, &["store", "migrate"], "");
    assert!(migrated.contains("version 1"), "{migrated}");
    ok(d, &url, &["domain", "add", "local.test"], "");
    ok(
        d,
        &url,
        &["user", "add", "alice@local.test"],
        "correct horse battery staple\n",
    );
    assert!(ok(d, &url, &["user", "list"], "").contains("alice@local.test"));
    let users = psql(&format!("SELECT address FROM {}.users", schema.0));
    assert_eq!(
        users.trim(),
        "alice@local.test",
        "the user is in PostgreSQL"
    );

    let (server, addr) = serve(d, &url, port);
    let reply = send(addr, "Alice@local.test");
    assert!(reply.starts_with("250"), "{reply}");
    let new = d.join("mail/local.test/alice/new");
    let mut delivered = 0;
    for _ in 0..400 {
        delivered = std::fs::read_dir(&new).map(|r| r.count()).unwrap_or(0);
        if delivered == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    stop(server);
    assert_eq!(
        delivered, 1,
        "delivered to the user the PostgreSQL store knows"
    );
    assert!(!d.join("palisade.db").exists(), "no SQLite file was made");
}

#[test]
fn a_postgres_store_from_a_newer_release_is_refused_and_a_bad_url_named() {
    let schema = Schema::new("palisade_newer");
    let url = schema.url();
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &url, &["store", "migrate"], "");
    psql(&format!(
        "INSERT INTO {}._sqlx_migrations (version, description, success, checksum, \
         execution_time) VALUES (999, 'from the future', TRUE, '\\x00', 0)",
        schema.0
    ));
    let o = run(dir.path(), &url, &["store", "migrate"], "");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("999") && err.contains("newer"), "{err}");

    let o = run(dir.path(), "mysql://db/x", &["user", "list"], "");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("PALISADE_STORE_URL"), "{err}");
}
