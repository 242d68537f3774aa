//! Crash consistency: the real binary is killed with SIGKILL at random moments while
//! several clients send; after restarts every message that got `250` must be in a
//! Maildir exactly once, and no message may be there twice. And issue 15's soak: the
//! same server, never killed, under a few thousand pipelined messages, then a drain.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_palisade");
const CLIENTS: usize = 4;
const KILLS: usize = 4;
/// Soak: messages each client sends over its one connection.
const PER_CLIENT: usize = 1000;

use palisade_testkit::free_port;

fn palisade(data: &Path, args: &[&str], stdin: &str) {
    let mut child = Command::new(BIN)
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "palisade {args:?}");
}

fn serve(data: &Path) -> Child {
    Command::new(BIN)
        .arg("--data")
        .arg(data)
        .arg("serve")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_listening(addr: SocketAddr) {
    for _ in 0..400 {
        if TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("server did not start listening on {addr}");
}

/// Sends one message; Ok(true) when the server answered 250 to the end of DATA.
async fn send_one(addr: SocketAddr, marker: &str) -> std::io::Result<bool> {
    let stream = TcpStream::connect(addr).await?;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut line = String::new();
    async fn reply(
        r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
        line: &mut String,
    ) -> std::io::Result<String> {
        loop {
            line.clear();
            if r.read_line(line).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(line.clone());
            }
        }
    }
    reply(&mut r, &mut line).await?;
    let msg = b"EHLO crash.test\r\nMAIL FROM:<load@remote.test>\r\nRCPT TO:<alice@local.test>\r\nDATA\r\n";
    w.write_all(msg).await?;
    for _ in 0..4 {
        let rep = reply(&mut r, &mut line).await?;
        if !(rep.starts_with('2') || rep.starts_with('3')) {
            return Ok(false);
        }
    }
    let body = format!(
        "Subject: crash test\r\nX-Marker: {marker}\r\n\r\n{}.\r\nQUIT\r\n",
        format!("{}\r\n", "x".repeat(78)).repeat(25)
    );
    w.write_all(body.as_bytes()).await?;
    let rep = reply(&mut r, &mut line).await?;
    Ok(rep.starts_with("250 "))
}

fn markers_in_maildir(dir: &Path) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for sub in ["new", "cur"] {
        let Ok(rd) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in rd {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
            if let Some(m) = text.lines().find_map(|l| l.strip_prefix("X-Marker: ")) {
                *seen.entry(m.to_string()).or_insert(0) += 1;
            }
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let port = free_port();
    // Sender checks stay on: the server resolves with a loopback authority (NXDOMAIN).
    let dns = palisade_testkit::DnsAuthority::start().await;
    std::fs::write(
        data.join("palisade.toml"),
        format!(
            "hostname = \"mx.local.test\"\n[listener.inbound]\naddress = \"127.0.0.1:{port}\"\n\
             [dns]\nnameservers = [\"{}\"]\n",
            dns.addr()
        ),
    )
    .unwrap();
    palisade(data, &["domain", "add", "local.test"], "");
    palisade(
        data,
        &["user", "add", "alice@local.test"],
        "correct horse battery staple\n",
    );
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();

    let mut server = serve(data);
    wait_listening(addr).await;

    let acked = Arc::new(Mutex::new(HashSet::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (acked, stop) = (acked.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            // Bounded: at most 2,000 attempts per client.
            for seq in 0..2000 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let marker = format!("c{c}-m{seq}");
                match send_one(addr, &marker).await {
                    Ok(true) => {
                        acked.lock().unwrap().insert(marker);
                    }
                    Ok(false) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }));
    }

    for _ in 0..KILLS {
        let wait = 150 + rand::random::<u64>() % 500;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        server.kill().unwrap(); // SIGKILL
        server.wait().unwrap();
        server = serve(data);
        wait_listening(addr).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 20,
        "the load was too small to mean anything: {}",
        acked.len()
    );

    // Wait (bounded) for the restarted server to deliver everything.
    let maildir = data.join("mail/local.test/alice");
    let mut seen = markers_in_maildir(&maildir);
    for _ in 0..400 {
        if acked.iter().all(|m| seen.contains_key(m)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        seen = markers_in_maildir(&maildir);
    }
    // SIGTERM: a graceful stop must also be clean.
    let pid = rustix::process::Pid::from_raw(server.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    assert!(server.wait().unwrap().success());

    let missing: Vec<_> = acked.iter().filter(|m| !seen.contains_key(*m)).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    eprintln!(
        "{} acknowledged, {} delivered, {} kills",
        acked.len(),
        seen.len(),
        KILLS
    );
}

/// One soak client: `PER_CLIENT` pipelined transactions (RFC 2920) over one
/// connection; the markers acknowledged with `250`.
fn soak_client(addr: SocketAddr, c: usize) -> Vec<String> {
    use std::io::{BufRead, BufReader, Write};
    let s = std::net::TcpStream::connect(addr).unwrap();
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
        let marker = format!("soak-{c}-{n}");
        w.write_all(b"MAIL FROM:<load@remote.test>\r\nRCPT TO:<alice@local.test>\r\nDATA\r\n")
            .unwrap();
        let (m, rc, d) = (reply(), reply(), reply());
        if !(m.starts_with("250") && rc.starts_with("250") && d.starts_with("354")) {
            w.write_all(b"RSET\r\n").unwrap();
            reply();
            continue;
        }
        let body = format!("Subject: soak\r\nX-Marker: {marker}\r\n\r\nbody\r\n.\r\n");
        w.write_all(body.as_bytes()).unwrap();
        if reply().starts_with("250") {
            acked.push(marker);
        }
    }
    let _ = w.write_all(b"QUIT\r\n");
    acked
}

/// Issue 15: the real binary, with its log subscriber (where the delivery panic came
/// from), under 4 × 1,000 pipelined messages, then a drain. Every message acknowledged
/// is delivered exactly once and `queue/active` is empty. Bounded: a fixed number of
/// messages, and the drain gives up after 300 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_every_acknowledged_message_is_delivered_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let port = free_port();
    std::fs::write(
        data.join("palisade.toml"),
        format!(
            "hostname = \"mx.local.test\"\n[listener.inbound]\naddress = \"127.0.0.1:{port}\"\n\
             [policy]\nsender_checks = false\n[security]\nmessages_per_ip_per_hour = 0\n\
             connections_per_ip_per_minute = 0\n"
        ),
    )
    .unwrap();
    palisade(data, &["domain", "add", "local.test"], "");
    palisade(
        data,
        &["user", "add", "alice@local.test"],
        "correct horse battery staple\n",
    );
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut server = serve(data);
    wait_listening(addr).await;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| std::thread::spawn(move || soak_client(addr, c)))
        .collect();
    let acked: Vec<String> = clients
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert!(
        acked.len() > CLIENTS * PER_CLIENT * 9 / 10,
        "{} acknowledged",
        acked.len()
    );
    let maildir = data.join("mail/local.test/alice");
    let active = data.join("queue/active");
    let mut seen = markers_in_maildir(&maildir);
    for _ in 0..1500 {
        let queued = std::fs::read_dir(&active).map_or(0, |r| r.count());
        if queued == 0 && seen.values().sum::<usize>() >= acked.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        seen = markers_in_maildir(&maildir);
    }
    for m in &acked {
        assert_eq!(
            seen.get(m),
            Some(&1),
            "{m} delivered {:?} times",
            seen.get(m)
        );
    }
    assert_eq!(
        seen.len(),
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
