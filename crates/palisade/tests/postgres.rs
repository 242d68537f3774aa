//! The binary on PostgreSQL: `[store]`'s URL from PALISADE_STORE_URL, the CLI and
//! `serve` on one database (its own schema on the test server at 127.0.0.1:5432), a
//! message delivered, a schema from a newer release refused, and a database that goes
//! away and comes back (a cluster of the test's own, made with initdb and pg_ctl).
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

/// A data directory whose inbound listener is on `port`, with local.test and alice in
/// the store at `url`.
fn alice_at(d: &Path, url: &str, port: u16) {
    std::fs::write(
        d.join("palisade.toml"),
        format!(
            "hostname = \"mx.local.test\"\nnode_id = \"mx-a\"\n\
             [listener.inbound]\naddress = \"127.0.0.1:{port}\"\n\
             [policy]\nsender_checks = false\n"
        ),
    )
    .unwrap();
    ok(d, url, &["domain", "add", "local.test"], "");
    ok(
        d,
        url,
        &["user", "add", "alice@local.test"],
        "correct horse battery staple\n",
    );
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

/// A client connection to `addr`: what it writes to, and its last reply line each time
/// it is called (`(closed)` when the server hangs up).
fn client(addr: SocketAddr) -> std::io::Result<(std::net::TcpStream, impl FnMut() -> String)> {
    let s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let w = s.try_clone()?;
    let mut r = BufReader::new(s);
    let reply = move || {
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return "(closed)".to_string();
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.clone();
            }
        }
    };
    Ok((w, reply))
}

/// One message over SMTP: the reply to its data, or the first refusal (4xx or 5xx).
fn try_send(addr: SocketAddr, rcpt: &str) -> Result<String, String> {
    try_send_message(addr, rcpt, "on postgres")
}

/// [`try_send`] with a Subject of the caller's; a connection refused or cut is an `Err`.
fn try_send_message(addr: SocketAddr, rcpt: &str, subject: &str) -> Result<String, String> {
    let (mut w, mut reply) = client(addr).map_err(|e| e.to_string())?;
    let mut w = move |bytes: &[u8]| w.write_all(bytes).map_err(|e| e.to_string());
    let greeting = reply();
    if !greeting.starts_with("220") {
        return Err(greeting);
    }
    for command in [
        "EHLO t".to_string(),
        "MAIL FROM:<a@remote.test>".into(),
        format!("RCPT TO:<{rcpt}>"),
        "DATA".into(),
    ] {
        w(format!("{command}\r\n").as_bytes())?;
        let got = reply();
        if !got.starts_with('2') && !got.starts_with('3') {
            return Err(got);
        }
    }
    w(format!("Subject: {subject}\r\n\r\nkept in PostgreSQL\r\n.\r\n").as_bytes())?;
    let done = reply();
    if done.starts_with("250") {
        Ok(done)
    } else {
        Err(done)
    }
}

fn send(addr: SocketAddr, rcpt: &str) -> String {
    try_send(addr, rcpt).unwrap_or_else(|refused| panic!("refused: {refused}"))
}

/// Messages in `user`'s Maildir, waiting up to 10 s for `want`.
fn delivered(d: &Path, user: &str, want: usize) -> usize {
    let new = d.join("mail/local.test").join(user).join("new");
    let mut n = 0;
    for _ in 0..400 {
        n = std::fs::read_dir(&new).map(|r| r.count()).unwrap_or(0);
        if n >= want {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    n
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
    alice_at(d, &url, port);
    let migrated = ok(d, &url, &["store", "migrate"], "");
    assert!(migrated.contains("version 1"), "{migrated}");
    assert!(ok(d, &url, &["user", "list"], "").contains("alice@local.test"));
    let users = psql(&format!("SELECT address FROM {}.users", schema.0));
    assert_eq!(
        users.trim(),
        "alice@local.test",
        "the user is in PostgreSQL"
    );

    let (server, addr) = serve(d, &url, port);
    send(addr, "Alice@local.test");
    let n = delivered(d, "alice", 1);
    let status = ok(d, &url, &["cluster", "status", "--json"], "");
    stop(server);
    let nodes: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(nodes[0]["node"], "mx-a", "{status}");
    assert_eq!(nodes[0]["silent"], false, "{status}");
    assert_eq!(nodes[0]["version"], env!("CARGO_PKG_VERSION"), "{status}");
    assert_eq!(n, 1, "delivered to the user the PostgreSQL store knows");
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

/// `palisade ARGS` on the embedded store of `data` (no PALISADE_STORE_URL).
fn ok_embedded(data: &Path, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(BIN)
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("PALISADE_STORE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin_pipe = child.stdin.take().unwrap();
    stdin_pipe.write_all(stdin.as_bytes()).unwrap();
    drop(stdin_pipe);
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{args:?}: {err}");
    String::from_utf8(o.stdout).unwrap()
}

/// Issue 21: a single-node installation moves to PostgreSQL with `store copy` (sealed
/// keys still open there), a second run adds nothing, a node with another secret key
/// is refused, and the copy goes back into a new SQLite file.
#[test]
fn store_copy_moves_an_installation_to_postgres_and_back() {
    let schema = Schema::new("palisade_copy");
    let url = schema.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("palisade.toml"), "hostname = \"mx.local.test\"\n").unwrap();
    ok_embedded(d, &["domain", "add", "local.test"], "");
    ok_embedded(
        d,
        &["user", "add", "alice@local.test"],
        "correct horse battery staple\n",
    );
    ok_embedded(
        d,
        &["dkim", "keygen", "local.test", "--algorithm", "ed25519"],
        "",
    );
    let listed = ok_embedded(d, &["dkim", "list"], "");

    let from = format!("sqlite:{}", d.join("palisade.db").display());
    let copied = ok(
        d,
        &url,
        &["store", "copy", "--from", &from, "--to", &url],
        "",
    );
    assert!(copied.contains("every table has as many rows"), "{copied}");
    let again = ok(
        d,
        &url,
        &["store", "copy", "--from", &from, "--to", &url],
        "",
    );
    assert_eq!(again, copied, "a second copy adds nothing");
    let sealed = psql(&format!("SELECT private_key FROM {}.dkim_keys", schema.0));
    assert!(sealed.starts_with("sealed1:"), "{sealed}");
    assert_eq!(
        ok(d, &url, &["dkim", "list"], ""),
        listed,
        "the keys open on PostgreSQL"
    );
    assert!(ok(d, &url, &["user", "list"], "").contains("alice@local.test"));

    // A data directory with a key of its own cannot read what was sealed with d's.
    let other = tempfile::tempdir().unwrap();
    let o = run(other.path(), &url, &["user", "list"], "");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "another key is refused");
    assert!(err.contains("same key"), "{err}");

    let back = d.join("back.db");
    let to = format!("sqlite:{}", back.display());
    let returned = ok(d, &url, &["store", "copy", "--from", &url, "--to", &to], "");
    assert!(
        returned.contains("every table has as many rows"),
        "{returned}"
    );
    std::fs::rename(&back, d.join("palisade.db")).unwrap();
    for f in ["palisade.db-wal", "palisade.db-shm"] {
        let _ = std::fs::remove_file(d.join(f));
    }
    assert_eq!(
        ok_embedded(d, &["dkim", "list"], ""),
        listed,
        "and back in SQLite"
    );
}

/// One node of a two-node cluster: inbound on `inbound`, submission on `submission`
/// (plain AUTH: loopback), a cluster lockout after 3 failures for an account and a ban
/// after 6 from an address (loopback included: `never_ban` is emptied).
fn node_at(d: &Path, node: &str, inbound: u16, submission: u16) {
    std::fs::write(
        d.join("palisade.toml"),
        format!(
            "hostname = \"mx.local.test\"\nnode_id = \"{node}\"\n\
             [listener.inbound]\naddress = \"127.0.0.1:{inbound}\"\n\
             [listener.submission]\naddress = \"127.0.0.1:{submission}\"\n\
             kind = \"submission\"\nallow_plaintext_auth = true\n\
             [policy]\nsender_checks = false\n\
             [security]\nmax_login_failures = 3\nmax_ip_failures = 6\nnever_ban = []\n\
             connections_per_ip_per_minute = 10000\n"
        ),
    )
    .unwrap();
}

/// The server's greeting on `port`, or what it said instead (a ban: 421).
fn greeting(port: u16) -> String {
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut line = String::new();
    let _ = BufReader::new(s).read_line(&mut line);
    line
}

/// The reply to `AUTH PLAIN` as `user` on `port` (or the refused greeting).
fn auth(port: u16, user: &str, password: &str) -> String {
    use base64::Engine;
    let (mut w, mut reply) = client(SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
    let hello = reply();
    if !hello.starts_with("220") {
        return hello;
    }
    let token = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
    for command in ["EHLO t".to_string(), format!("AUTH PLAIN {token}")] {
        w.write_all(format!("{command}\r\n").as_bytes()).unwrap();
        let got = reply();
        if !got.starts_with("250") {
            return got;
        }
    }
    unreachable!("AUTH never answers 250")
}

/// Issue 21: two `serve` nodes on one PostgreSQL. A user added while both run logs in on
/// the other node; guesses spread over both lock the account and ban the address at
/// the cluster's thresholds (not each node's); a ban made on one node refuses the
/// address on the other within 2 seconds.
#[test]
fn two_nodes_share_users_lockouts_and_bans() {
    let schema = Schema::new("palisade_two");
    let url = schema.url();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    node_at(a.path(), "mx-a", ports[0], ports[1]);
    node_at(b.path(), "mx-b", ports[2], ports[3]);
    let (sub_a, sub_b) = (ports[1], ports[3]);
    ok(a.path(), &url, &["domain", "add", "local.test"], "");
    ok(
        a.path(),
        &url,
        &["user", "add", "alice@local.test"],
        "correct horse battery staple\n",
    );
    // Every node is given the installation's secret key.
    std::fs::copy(a.path().join("secret.key"), b.path().join("secret.key")).unwrap();
    let (node_a, _) = serve(a.path(), &url, ports[0]);
    let (node_b, _) = serve(b.path(), &url, ports[2]);

    let bob_password = "tr0ubadour and three more words";
    ok(
        a.path(),
        &url,
        &["user", "add", "bob@local.test"],
        &format!("{bob_password}\n"),
    );
    let bob_on_b = auth(sub_b, "bob@local.test", bob_password);

    // Three guesses at alice, over both nodes: the account is locked everywhere.
    let guesses: Vec<String> = [sub_a, sub_b, sub_a]
        .iter()
        .enumerate()
        .map(|(i, &port)| auth(port, "alice@local.test", &format!("wrong guess {i}")))
        .collect();
    let locked = auth(sub_b, "alice@local.test", "correct horse battery staple");

    // More guesses, alternating, until a node refuses the address; then the other node
    // must refuse it within 2 seconds.
    let mut attempts = guesses.len() + 1;
    let mut banned_after = None;
    for i in 0..12 {
        let (here, there) = if i % 2 == 0 {
            (sub_a, sub_b)
        } else {
            (sub_b, sub_a)
        };
        auth(here, &format!("nobody{i}@local.test"), "guess");
        attempts += 1;
        if greeting(here).starts_with("421") {
            let t = std::time::Instant::now();
            while !greeting(there).starts_with("421") && t.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(50));
            }
            banned_after = Some((attempts, t.elapsed()));
            break;
        }
    }
    stop(node_a);
    stop(node_b);
    assert!(
        bob_on_b.starts_with("235"),
        "bob, added on A, on B: {bob_on_b}"
    );
    assert!(guesses.iter().all(|g| g.starts_with("535")), "{guesses:?}");
    assert!(
        !locked.starts_with("235"),
        "alice is locked on B too: {locked}"
    );
    let (attempts, elapsed) = banned_after.expect("the address is banned");
    eprintln!("banned after {attempts} failures; refused by the other node after {elapsed:?}");
    assert!(
        attempts <= 7,
        "banned after {attempts} failures over two nodes: the cluster's threshold is 6"
    );
    assert!(
        elapsed < Duration::from_secs(2),
        "the other node refused the address after {elapsed:?}"
    );
}

/// The Subjects of `user`'s delivered messages.
fn subjects(d: &Path, user: &str) -> Vec<String> {
    let new = d.join("mail/local.test").join(user).join("new");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(new).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        out.extend(
            text.lines()
                .filter_map(|l| l.strip_prefix("Subject: "))
                .map(str::to_string),
        );
    }
    out
}

/// Issue 21: `kill -9` of a node under load loses nothing it acknowledged (started
/// again, it delivers every message it answered `250` to), and it never touches another
/// node's queue rows.
#[test]
fn a_node_killed_under_load_loses_nothing_it_acknowledged() {
    let schema = Schema::new("palisade_kill");
    let url = schema.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    alice_at(d, &url, port);
    // Node mx-b's queue: a message in its own spool, waiting for a retry.
    psql(&format!(
        "INSERT INTO {}.queue_status (node, id, attempts, next_attempt, last_error, updated) \
         VALUES ('mx-b', '00000000000000bb', 1, 4102444800, '451 4.4.1 later', 1)",
        schema.0
    ));
    let (mut server, addr) = serve(d, &url, port);
    // Four clients at once, each until the server goes away.
    let load: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for i in 0..250 {
                    let subject = format!("load {t}-{i}");
                    match try_send_message(addr, "alice@local.test", &subject) {
                        Ok(_) => acknowledged.push(subject),
                        Err(_) => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    // Killed (SIGKILL, by its handle) once the load is well under way.
    let mut seen = 0;
    for _ in 0..400 {
        seen = delivered(d, "alice", 0);
        if seen >= 40 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let acknowledged: Vec<String> = load.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert!(seen >= 40 && acknowledged.len() < 1000, "killed under load");

    let (server, _) = serve(d, &url, port);
    delivered(d, "alice", acknowledged.len());
    let got = subjects(d, "alice");
    stop(server);
    let lost: Vec<&String> = acknowledged.iter().filter(|s| !got.contains(s)).collect();
    assert!(lost.is_empty(), "acknowledged and lost: {lost:?}");
    let b_rows = psql(&format!(
        "SELECT count(*) FROM {}.queue_status WHERE node = 'mx-b'",
        schema.0
    ));
    assert_eq!(b_rows.trim(), "1", "the other node's queue is untouched");
    eprintln!(
        "{} acknowledged before the kill, {} delivered after the restart",
        acknowledged.len(),
        got.len()
    );
}

/// A PostgreSQL cluster of one test's own (initdb as the `postgres` user, trust
/// authentication, loopback only, a free port), so the test can stop and start it. It is
/// stopped (by its data directory's pid file, through pg_ctl) when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
}

fn pg_bin(name: &str) -> String {
    let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server (Debian package postgresql)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin").join(name)))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found
        .pop()
        .expect("a PostgreSQL server binary")
        .display()
        .to_string()
}

fn as_postgres(program: &str, args: &[&str]) {
    let o = Command::new("runuser")
        .args(["-u", "postgres", "--", program])
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::chown(dir.path(), Some(101), Some(104)).unwrap();
        let data = dir.path().join("data").display().to_string();
        as_postgres(
            &pg_bin("initdb"),
            &["-D", &data, "-U", "postgres", "-A", "trust", "--no-sync"],
        );
        let cluster = Cluster {
            dir,
            port: free_port(),
        };
        cluster.resume();
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn resume(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        as_postgres(
            &pg_bin("pg_ctl"),
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
    }

    fn stop(&self) {
        as_postgres(
            &pg_bin("pg_ctl"),
            &["-D", &self.data(), "-m", "fast", "-w", "stop"],
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                &pg_bin("pg_ctl"),
                "-D",
                &self.data(),
                "-m",
                "immediate",
                "stop",
            ])
            .output();
    }
}

/// The database goes away under a running node: new mail is refused with a 4xx (never
/// a 250 that cannot be recorded), the node stays up, and it takes mail again by itself
/// once the database is back; nothing it acknowledged is lost.
#[test]
fn a_node_defers_mail_while_postgres_is_down_and_recovers_by_itself() {
    let cluster = Cluster::start();
    let url = cluster.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    alice_at(d, &url, port);
    let (mut server, addr) = serve(d, &url, port);
    send(addr, "alice@local.test");
    assert_eq!(delivered(d, "alice", 1), 1);

    cluster.stop();
    // Past the lookup cache's one-second life: the store must be asked.
    std::thread::sleep(Duration::from_millis(1500));
    let mut acknowledged = 1;
    let refused = loop {
        match try_send(addr, "alice@local.test") {
            Ok(_) => acknowledged += 1,
            Err(refused) => break refused,
        }
        assert!(
            acknowledged < 10,
            "the store is down, yet mail is still taken"
        );
    };
    assert!(refused.starts_with("451 4.3.0"), "{refused}");
    assert!(server.try_wait().unwrap().is_none(), "the node stays up");

    cluster.resume();
    let mut back = None;
    for _ in 0..120 {
        if let Ok(reply) = try_send(addr, "alice@local.test") {
            back = Some(reply);
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        back.is_some(),
        "mail is taken again once the database is back"
    );
    acknowledged += 1;
    let n = delivered(d, "alice", acknowledged);
    stop(server);
    assert_eq!(n, acknowledged, "every acknowledged message was delivered");
}
