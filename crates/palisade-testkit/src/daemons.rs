//! Real content scanners from Debian's packages, started for one test on loopback and
//! stopped by the PID recorded when they were started (never by name): clamd with a
//! signature database made here (the EICAR test string: the official databases cannot
//! be downloaded), and rspamd with its stock rules, its DNS pointed at a dead loopback
//! port so that it makes no traffic beyond loopback.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use crate::free_port;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The EICAR anti-virus test string (eicar.org).
pub const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
/// The name our clamd signature gives it (clamd adds `.UNOFFICIAL`).
pub const EICAR_SIGNATURE: &str = "Palisade.Test.EICAR.UNOFFICIAL";

/// How long a daemon may take to become ready.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// A scanner daemon of this test; stopped when dropped.
pub struct Daemon {
    child: Child,
    pub addr: SocketAddr,
    dir: PathBuf,
}

impl Drop for Daemon {
    /// SIGTERM to the process group this daemon was started in (its PID: rspamd's
    /// workers are its children), then SIGKILL if it has not gone within five seconds.
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let signal = |sig: &str| {
            Command::new("kill")
                .args([sig, "--", &group])
                .stderr(Stdio::null())
                .status()
        };
        let _ = signal("-TERM");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever of the group is left (nothing, normally: "no such process").
        let _ = signal("-KILL");
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "palisade-{name}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

fn spawn(program: &str, args: &[String], dir: &Path) -> Child {
    let log = std::fs::File::create(dir.join("stdout.log")).unwrap_or_else(|e| panic!("{e}"));
    let err = log.try_clone().unwrap_or_else(|e| panic!("{e}"));
    Command::new(program)
        .args(args)
        // Its own process group, so that stopping it stops its workers too.
        .process_group(0)
        .current_dir(dir)
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err))
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{program} is needed (Debian packages clamav-daemon and rspamd): {e}")
        })
}

/// One request on a fresh connection; the whole answer.
fn exchange(addr: SocketAddr, request: &[u8]) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(request).ok()?;
    let mut out = Vec::new();
    s.take(1 << 20).read_to_end(&mut out).ok()?;
    Some(out)
}

impl Daemon {
    /// Polls `ready` (bounded) until it holds; panics with the daemon's log otherwise.
    fn wait(mut self, what: &str, ready: impl Fn(SocketAddr) -> bool) -> Daemon {
        let start = Instant::now();
        while start.elapsed() < READY_WITHIN {
            if ready(self.addr) {
                return self;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{what} exited ({status}): {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("{what} not ready within {READY_WITHIN:?}: {}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("stdout.log")).unwrap_or_default()
    }

    /// clamd on a loopback port, with one signature: the EICAR string.
    pub fn clamd() -> Daemon {
        let dir = work_dir("clamd");
        let db = dir.join("db");
        std::fs::create_dir_all(&db).unwrap_or_else(|e| panic!("{e}"));
        let hex: String = EICAR.bytes().map(|b| format!("{b:02x}")).collect();
        std::fs::write(
            db.join("palisade-test.ndb"),
            format!("Palisade.Test.EICAR:0:*:{hex}\n"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let port = free_port();
        let conf = dir.join("clamd.conf");
        std::fs::write(
            &conf,
            format!(
                "Foreground yes\nTCPSocket {port}\nTCPAddr 127.0.0.1\nDatabaseDirectory {}\n\
                 ScanMail yes\nLogFile {}\n",
                db.display(),
                dir.join("clamd.log").display()
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let child = spawn("clamd", &["-c".into(), conf.display().to_string()], &dir);
        let d = Daemon {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        };
        d.wait("clamd", |a| {
            exchange(a, b"zPING\0").is_some_and(|r| r.starts_with(b"PONG"))
        })
    }

    /// rspamd's normal worker on a loopback port, with the stock rules and test patterns
    /// (GTUBE) on.
    pub fn rspamd() -> Daemon {
        let dir = work_dir("rspamd");
        for sub in ["local", "db"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap_or_else(|e| panic!("{e}"));
        }
        let (port, dead_dns) = (free_port(), free_port());
        let conf = dir.join("rspamd.conf");
        std::fs::write(
            &conf,
            format!(
                ".include \"$CONFDIR/common.conf\"\n\
                 options {{\n  pidfile = \"$RUNDIR/rspamd.pid\";\n  \
                 dns {{ nameserver = [\"127.0.0.1:{dead_dns}\"]; timeout = 0.2s; retransmits = 1; }}\n  \
                 enable_test_patterns = true;\n  url_tld = \"${{SHAREDIR}}/effective_tld_names.dat\";\n}}\n\
                 logging {{ type = \"file\"; filename = \"$LOGDIR/rspamd.log\"; level = \"error\"; }}\n\
                 worker \"normal\" {{\n  bind_socket = \"127.0.0.1:{port}\";\n  count = 1;\n  \
                 .include \"$CONFDIR/worker-normal.inc\"\n}}\n"
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let d = dir.display();
        let args = [
            "-f".to_string(),
            // Workers as root: this test's machine runs tests as root.
            "-i".into(),
            "-c".into(),
            conf.display().to_string(),
            format!("--var=LOCAL_CONFDIR={d}/local"),
            format!("--var=DBDIR={d}/db"),
            format!("--var=RUNDIR={d}"),
            format!("--var=LOGDIR={d}"),
        ];
        let child = spawn("rspamd", &args, &dir);
        let d = Daemon {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        };
        d.wait("rspamd", |a| {
            exchange(a, b"GET /ping HTTP/1.0\r\n\r\n")
                .is_some_and(|r| String::from_utf8_lossy(&r).contains("pong"))
        })
    }
}
