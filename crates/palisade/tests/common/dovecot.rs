//! A real Dovecot (Debian's dovecot-imapd and dovecot-lmtpd) for the tests: its own
//! configuration, run directory and mailboxes in a temporary directory, IMAPS on a
//! loopback port with a certificate of the test CA, LMTP on a Unix socket, and
//! `palisade auth checkpassword` as its password database. Stopped by its PID.
#![allow(dead_code, clippy::unwrap_used)]

use super::{BIN, TestCa, free_port, system_ids as ids};
use rustls_pki_types::ServerName;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Dovecot {
    pub dir: tempfile::TempDir,
    child: std::process::Child,
    pub imaps: SocketAddr,
    /// Its LMTP service (RFC 2033).
    pub lmtp: PathBuf,
    ca: PathBuf,
}

/// Lets Dovecot's processes (user `dovecot`) reach `auth_socket` as a member of the
/// server's group would: the recipe in docs/dovecot.md.
pub fn share_auth_socket(auth_socket: &Path) {
    let (_, gid) = ids("dovecot");
    std::os::unix::fs::chown(auth_socket, None, Some(gid)).unwrap();
}

/// Who Dovecot's users are.
enum Users<'a> {
    /// Palisade decides, through `palisade auth checkpassword`.
    Palisade(&'a Path),
    /// Only these addresses exist (a passwd-file): LMTP refuses the others at RCPT.
    Only(&'a [&'a str]),
}

impl Dovecot {
    /// Starts Dovecot asking `auth_socket` for passwords; waits until IMAPS answers.
    pub async fn start(auth_socket: &Path) -> Dovecot {
        Dovecot::start_with(Users::Palisade(auth_socket)).await
    }

    /// Starts Dovecot knowing only `users` (whole addresses), as a downstream server.
    pub async fn with_users(users: &[&str]) -> Dovecot {
        Dovecot::start_with(Users::Only(users)).await
    }

    async fn start_with(users: Users<'_>) -> Dovecot {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // Dovecot's own processes run as `dovecot` and must reach their files.
        std::fs::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let (uid, gid) = ids("dovecot");
        std::fs::create_dir(root.join("mail")).unwrap();
        std::os::unix::fs::chown(root.join("mail"), Some(uid), Some(gid)).unwrap();
        let ca = TestCa::new(root);
        let (cert, key) = ca.issue("imap", &["imap.local.test"]);
        let port = free_port();
        let conf = root.join("dovecot.conf");
        let auth = match users {
            Users::Palisade(socket) => format!(
                "passdb {{\n  driver = checkpassword\n  args = {BIN} auth checkpassword --socket {}\n}}\n\
                 userdb {{\n  driver = static\n  args = uid=dovecot gid=dovecot home={}/mail/%d/%n allow_all_users=yes\n}}\n",
                socket.display(),
                root.display()
            ),
            Users::Only(list) => {
                let file = root.join("users");
                let lines: String = list
                    .iter()
                    .map(|u| format!("{u}:{{PLAIN}}unused::::::\n"))
                    .collect();
                std::fs::write(&file, lines).unwrap();
                format!(
                    "passdb {{\n  driver = passwd-file\n  args = {f}\n}}\n\
                     userdb {{\n  driver = passwd-file\n  args = {f}\n  default_fields = uid=dovecot gid=dovecot home={}/mail/%d/%n\n}}\n",
                    root.display(),
                    f = file.display()
                )
            }
        };
        std::fs::write(&conf, config(root, &auth, &cert, &key, port, uid)).unwrap();
        let child = std::process::Command::new("dovecot")
            .args(["-F", "-c"])
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let d = Dovecot {
            imaps: SocketAddr::from(([127, 0, 0, 1], port)),
            lmtp: root.join("lmtp"),
            ca: ca.ca_file(),
            dir,
            child,
        };
        for _ in 0..200 {
            if TcpStream::connect(d.imaps).await.is_ok() && d.lmtp.exists() {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("dovecot did not start: {}", d.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// The messages in `user`'s INBOX (`new/` and `cur/`), as Dovecot stored them.
    pub fn inbox(&self, user: &str) -> Vec<Vec<u8>> {
        let (local, domain) = user.split_once('@').unwrap();
        let base = self.dir.path().join("mail").join(domain).join(local);
        let mut out = Vec::new();
        for sub in ["Maildir/new", "Maildir/cur"] {
            if let Ok(rd) = std::fs::read_dir(base.join(sub)) {
                out.extend(rd.map(|e| std::fs::read(e.unwrap().path()).unwrap()));
            }
        }
        out
    }

    /// An IMAP session over TLS (IMAPS, RFC 8314), greeted.
    pub async fn imap(&self) -> Imap {
        let tcp = TcpStream::connect(self.imaps).await.unwrap();
        let name = ServerName::try_from("imap.local.test").unwrap();
        let tls = super::connector_trusting(&std::fs::read(&self.ca).unwrap())
            .connect(name, tcp)
            .await
            .unwrap();
        let mut s = Imap {
            stream: tls,
            buf: Vec::new(),
            tag: 0,
        };
        let greeting = s.line().await;
        assert!(greeting.starts_with("* OK"), "{greeting}");
        s
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGTERM to the master we started: it stops its own children.
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(root: &Path, auth: &str, cert: &Path, key: &Path, port: u16, uid: u32) -> String {
    let r = root.display();
    format!(
        r#"base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
ssl_dh = </usr/share/dovecot/dh.pem
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_failure_delay = 0
auth_cache_size = 0
first_valid_uid = {uid}
mail_location = maildir:~/Maildir
{auth}service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
service lmtp {{
  unix_listener {r}/lmtp {{
    mode = 0600
  }}
}}
"#,
        cert = cert.display(),
        key = key.display(),
    )
}

/// A minimal IMAP client: tagged commands, the untagged lines before the tagged reply.
pub struct Imap {
    stream: tokio_rustls::client::TlsStream<TcpStream>,
    buf: Vec<u8>,
    tag: u32,
}

impl Imap {
    async fn line(&mut self) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..i + 2).collect();
                return String::from_utf8_lossy(&line).into_owned();
            }
            let mut chunk = [0u8; 8192];
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk))
                .await
                .expect("IMAP reply in time")
                .unwrap();
            assert!(n > 0, "IMAP connection closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends `command` with a new tag; everything up to and including the tagged reply.
    pub async fn cmd(&mut self, command: &str) -> String {
        self.tag += 1;
        let tag = format!("a{}", self.tag);
        self.stream
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .await
            .unwrap();
        let mut all = String::new();
        loop {
            let l = self.line().await;
            all.push_str(&l);
            if l.starts_with(&format!("{tag} ")) {
                return all;
            }
        }
    }

    /// `LOGIN`: true when the server said OK.
    pub async fn login(&mut self, user: &str, password: &str) -> bool {
        let r = self.cmd(&format!("LOGIN \"{user}\" \"{password}\"")).await;
        r.lines()
            .last()
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("OK"))
    }
}
