//! A real Postfix (Debian's package) as a downstream mail server for the gateway tests:
//! its own configuration and queue in a temporary directory, SMTP on a loopback port,
//! virtual(8) Maildirs for the users it knows (others refused at RCPT with 550 5.1.1).
//! Stopped by the PID its master recorded.
#![allow(dead_code, clippy::unwrap_used)]

use super::{free_port, system_ids};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

pub struct Postfix {
    pub dir: tempfile::TempDir,
    pub addr: SocketAddr,
    stopped: bool,
}

impl Postfix {
    /// Starts Postfix for `domain` with mailboxes for `users` (local parts).
    pub async fn start(domain: &str, users: &[&str]) -> Postfix {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        for d in ["etc", "queue", "data", "vmail"] {
            std::fs::create_dir(root.join(d)).unwrap();
        }
        let (uid, gid) = system_ids("postfix");
        for d in ["data", "vmail"] {
            std::os::unix::fs::chown(root.join(d), Some(uid), Some(gid)).unwrap();
        }
        let port = free_port();
        std::fs::write(root.join("etc/main.cf"), main_cf(root, domain, uid, gid)).unwrap();
        std::fs::write(root.join("etc/master.cf"), master_cf(port)).unwrap();
        let map: String = users
            .iter()
            .map(|u| format!("{u}@{domain} {u}/\n"))
            .collect();
        std::fs::write(root.join("etc/vmailbox"), map).unwrap();
        let p = Postfix {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
            stopped: false,
        };
        let out = p.postfix("start");
        assert!(out.status.success(), "postfix start: {out:?}\n{}", p.log());
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(p.addr).await.is_ok() {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("postfix did not listen: {}", p.log());
    }

    fn postfix(&self, verb: &str) -> std::process::Output {
        std::process::Command::new("postfix")
            .arg("-c")
            .arg(self.dir.path().join("etc"))
            .arg(verb)
            .output()
            .unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// The messages delivered to `user` (a local part).
    pub fn mail(&self, user: &str) -> Vec<Vec<u8>> {
        let new = self.dir.path().join("vmail").join(user).join("new");
        match std::fs::read_dir(new) {
            Ok(rd) => rd
                .map(|e| std::fs::read(e.unwrap().path()).unwrap())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    pub async fn wait_for_mail(&self, user: &str, n: usize) -> Vec<Vec<u8>> {
        for _ in 0..400 {
            let got = self.mail(user);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{user}: no mail at Postfix; its log:\n{}", self.log());
    }

    /// Stops the master by the PID it recorded (SIGTERM; it stops its children).
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let pid_file = self.dir.path().join("queue/pid/master.pid");
        let pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .and_then(rustix::process::Pid::from_raw);
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            for _ in 0..100 {
                if rustix::process::test_kill_process(pid).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.stop();
    }
}

fn main_cf(root: &Path, domain: &str, uid: u32, gid: u32) -> String {
    let r = root.display();
    format!(
        "compatibility_level = 3.6
queue_directory = {r}/queue
data_directory = {r}/data
maillog_file = {r}/maillog
maillog_file_prefixes = {r}
myhostname = downstream.{domain}
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
default_transport = error:no mail leaves the test downstream
relay_transport = error:no mail leaves the test downstream
virtual_mailbox_domains = {domain}
virtual_mailbox_maps = texthash:{r}/etc/vmailbox
virtual_mailbox_base = {r}/vmail
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
"
    )
}

fn master_cf(port: u16) -> String {
    let services = [
        "pickup unix n - n 60 1 pickup",
        "cleanup unix n - n - 0 cleanup",
        "qmgr unix n - n 300 1 qmgr",
        "rewrite unix - - n - - trivial-rewrite",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
        "verify unix - - n - 1 verify",
        "flush unix n - n 1000? 0 flush",
        "proxymap unix - - n - - proxymap",
        "smtp unix - - n - - smtp",
        "relay unix - - n - - smtp",
        "showq unix n - n - - showq",
        "error unix - - n - - error",
        "retry unix - - n - - error",
        "discard unix - - n - - discard",
        "virtual unix - n n - - virtual",
        "anvil unix - - n - 1 anvil",
        "scache unix - - n - 1 scache",
        "postlog unix-dgram n - n - 1 postlogd",
    ];
    format!(
        "127.0.0.1:{port} inet n - n - - smtpd\n{}\n",
        services.join("\n")
    )
}
