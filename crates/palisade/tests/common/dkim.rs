//! DKIM keys (openssl) and independent signatures (dkimpy) for the tests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const TOOL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/dkim_tool.py");

/// An RSA-2048 and an Ed25519 key pair with their DNS `p=` values.
pub struct Keys {
    pub rsa: PathBuf,
    pub rsa_p: String,
    pub ed_seed: PathBuf,
    pub ed_p: String,
}

fn sh(cmd: &str) -> String {
    let o = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        o.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

impl Keys {
    pub fn generate(dir: &Path) -> Keys {
        let d = dir.display();
        sh(&format!(
            "openssl genrsa -traditional -out {d}/rsa.pem 2048 2>/dev/null"
        ));
        // SPKI DER for p= (the widest interop, DESIGN §4).
        let rsa_p = sh(&format!(
            "openssl rsa -in {d}/rsa.pem -pubout -outform DER 2>/dev/null | base64 -w0"
        ));
        sh(&format!(
            "openssl genpkey -algorithm ed25519 -out {d}/ed.pem"
        ));
        sh(&format!(
            "openssl pkey -in {d}/ed.pem -outform DER | tail -c 32 | base64 > {d}/ed.seed"
        ));
        let ed_p = sh(&format!(
            "openssl pkey -in {d}/ed.pem -pubout -outform DER | tail -c 32 | base64 -w0"
        ));
        Keys {
            rsa: dir.join("rsa.pem"),
            rsa_p,
            ed_seed: dir.join("ed.seed"),
            ed_p,
        }
    }

    pub fn rsa_record(&self) -> String {
        format!("v=DKIM1; k=rsa; p={}", self.rsa_p)
    }

    pub fn ed_record(&self) -> String {
        format!("v=DKIM1; k=ed25519; p={}", self.ed_p)
    }
}

fn tool(args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = Command::new("python3")
        .arg(TOOL)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// Signs with dkimpy over every field the message has (`h=` naming them all).
pub fn sign_all_headers(msg: &[u8], domain: &str, selector: &str, key: &Path) -> Vec<u8> {
    let key = key.to_str().unwrap();
    let args = [
        "sign",
        "--domain",
        domain,
        "--selector",
        selector,
        "--key",
        key,
        "--all-headers",
    ];
    let o = tool(&args, msg);
    assert!(
        o.status.success(),
        "dkimpy: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// Signs with dkimpy. `algo` is `rsa` or `ed25519`; `canon` like `relaxed/simple`.
pub fn sign(
    msg: &[u8],
    domain: &str,
    selector: &str,
    key: &Path,
    algo: &str,
    canon: &str,
    length: bool,
) -> Vec<u8> {
    sign_fields(msg, (domain, selector, key), algo, canon, length, None)
}

/// [`sign`] naming the fields to sign (`h=`, colon-separated) when `fields` is given.
pub fn sign_fields(
    msg: &[u8],
    (domain, selector, key): (&str, &str, &Path),
    algo: &str,
    canon: &str,
    length: bool,
    fields: Option<&str>,
) -> Vec<u8> {
    let key = key.to_str().unwrap();
    let mut args = vec![
        "sign",
        "--domain",
        domain,
        "--selector",
        selector,
        "--key",
        key,
        "--algo",
        algo,
        "--canon",
        canon,
    ];
    if length {
        args.push("--length");
    }
    if let Some(f) = fields {
        args.extend(["--headers", f]);
    }
    let o = tool(&args, msg);
    assert!(
        o.status.success(),
        "dkimpy: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// Adds an ARC set with dkimpy (the message needs an Authentication-Results from `srv_id`).
pub fn arc_seal(msg: &[u8], domain: &str, selector: &str, key: &Path, srv_id: &str) -> Vec<u8> {
    let key = key.to_str().unwrap();
    let o = tool(
        &[
            "arc",
            "--domain",
            domain,
            "--selector",
            selector,
            "--key",
            key,
            "--srv-id",
            srv_id,
        ],
        msg,
    );
    assert!(
        o.status.success(),
        "dkimpy arc: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// dkimpy's verdict on the ARC chain (RFC 8617 §5.2): its cv and comment, and whether it
/// is `pass`.
pub fn dkimpy_arc(msg: &[u8], dns: std::net::SocketAddr) -> (bool, String) {
    let o = tool(&["arc-verify", "--dns", &dns.to_string()], msg);
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// dkimpy's own verdict on every DKIM signature, resolving with the DNS at `dns`.
pub fn dkimpy_verifies(msg: &[u8], dns: std::net::SocketAddr) -> bool {
    tool(&["verify", "--dns", &dns.to_string()], msg)
        .status
        .success()
}
