//! Issue 15's soak: the real binary (with its log subscriber, where the delivery panic
//! came from) under a few thousand messages from concurrent clients, then a drain.
//! Every message acknowledged with `250` is delivered exactly once, and nothing is
//! left in `queue/active`. Bounded: a fixed number of messages, and every wait has a
//! limit.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_palisade");
const CLIENTS: usize = 4;
const PER_CLIENT: usize = 1000;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One client: `PER_CLIENT` messages over one connection; the tokens acknowledged.
fn client(addr: SocketAddr, c: usize) -> Vec<String> {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
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
    w.write_all(b"EHLO soak.test\r\n").unwrap();
    assert!(reply().starts_with("250"));
    let mut acked = Vec::new();
    for n in 0..PER_CLIENT {
        let token = format!("soak-{c}-{n}");
        // Pipelined (RFC 2920): the envelope in one write, the replies read after.
        w.write_all(b"MAIL FROM:<load@remote.test>\r\nRCPT TO:<alice@local.test>\r\nDATA\r\n")
            .unwrap();
        let (m, rc, d) = (reply(), reply(), reply());
        if !(m.starts_with("250") && rc.starts_with("250") && d.starts_with("354")) {
            w.write_all(b"RSET\r\n").unwrap();
            reply();
            continue;
        }
        w.write_all(
            format!(
                "From: load@remote.test\r\nTo: alice@local.test\r\nSubject: {token}\r\n\
                 Message-ID: <{token}@remote.test>\r\n\r\nbody of {token}\r\n.\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
        if reply().starts_with("250") {
            acked.push(token);
        }
    }
    let _ = w.write_all(b"QUIT\r\n");
    acked
}

/// Each token's number of copies in the Maildir.
fn delivered(new: &Path) -> HashMap<String, usize> {
    let mut copies = HashMap::new();
    for e in std::fs::read_dir(new).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        if let Some(t) = text
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .map(str::to_string)
        {
            *copies.entry(t).or_insert(0) += 1;
        }
    }
    copies
}

#[test]
fn soak_every_acknowledged_message_is_delivered_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    std::fs::write(
        d.join("palisade.toml"),
        format!(
            "hostname = \"mx.local.test\"\n[listener.inbound]\naddress = \"127.0.0.1:{port}\"\n\
             [policy]\nsender_checks = false\n[security]\nmessages_per_ip_per_hour = 0\n\
             connections_per_ip_per_minute = 0\n"
        ),
    )
    .unwrap();
    let add = |args: &[&str], stdin: &str| {
        let mut c = Command::new(BIN)
            .arg("--data")
            .arg(d)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        assert!(c.wait().unwrap().success(), "{args:?}");
    };
    add(&["domain", "add", "local.test"], "");
    add(
        &["user", "add", "alice@local.test"],
        "correct horse battery staple\n",
    );
    let mut server = Command::new(BIN)
        .args(["--data", d.to_str().unwrap(), "serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for _ in 0..400 {
        if TcpStream::connect(addr).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let started = Instant::now();
    let handles: Vec<_> = (0..CLIENTS)
        .map(|c| std::thread::spawn(move || client(addr, c)))
        .collect();
    let acked: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert!(
        acked.len() > CLIENTS * PER_CLIENT * 9 / 10,
        "{} acknowledged",
        acked.len()
    );
    // The drain: bounded by a deadline, not by a timing assertion.
    let new = d.join("mail/local.test/alice/new");
    let active = d.join("queue/active");
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut copies = delivered(&new);
    while Instant::now() < deadline {
        let queued = std::fs::read_dir(&active).map_or(0, |r| r.count());
        copies = delivered(&new);
        if queued == 0 && copies.values().sum::<usize>() >= acked.len() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "soak: {} acknowledged, {} delivered, {:?}",
        acked.len(),
        copies.values().sum::<usize>(),
        started.elapsed()
    );
    for t in &acked {
        assert_eq!(
            copies.get(t),
            Some(&1),
            "{t} delivered {:?} times",
            copies.get(t)
        );
    }
    assert_eq!(
        copies.len(),
        acked.len(),
        "nothing unacknowledged was delivered"
    );
    assert_eq!(
        std::fs::read_dir(&active).unwrap().count(),
        0,
        "queue/active drained"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}
