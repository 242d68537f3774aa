//! `palisade auth checkpassword`: Dovecot's checkpassword program. It decides nothing:
//! it forwards what Dovecot wrote on descriptor 3 to the server's auth socket and turns
//! the answer into the exit status Dovecot reads (see
//! [`palisade_access::checkpassword`]). Every failure of its own is a temporary one
//! (111), never a refusal: a broken setup must not look like a wrong password.

use crate::ExitWith;
use palisade_access::checkpassword::{Answer, MAX_INPUT, Op, Request, parse_input};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Argon2id runs queue on the server under load: allow for it.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

const ACCEPTED: u8 = 0;
const REFUSED: u8 = 1;
/// Dovecot's code for "user lookup succeeded" (`AUTHORIZED=2` in checkpassword-reply).
const FOUND: u8 = 2;
const UNKNOWN: u8 = 3;
const TEMPFAIL: u8 = 111;

pub async fn run(socket: &Path) -> anyhow::Result<()> {
    let code = match check(socket).await {
        Ok(code) => code,
        Err(why) => {
            eprintln!("palisade auth checkpassword: {why}");
            TEMPFAIL
        }
    };
    Err(ExitWith(code).into())
}

async fn check(socket: &Path) -> Result<u8, String> {
    let mut input = Vec::with_capacity(MAX_INPUT + 1);
    // Descriptor 3 by its /proc name: no unsafe from_raw_fd.
    std::fs::File::open("/proc/self/fd/3")
        .and_then(|f| f.take(MAX_INPUT as u64 + 1).read_to_end(&mut input))
        .map_err(|e| format!("descriptor 3 (run me from Dovecot): {e}"))?;
    let input = parse_input(&input).map_err(|e| format!("descriptor 3: {e}"))?;
    let lookup = std::env::var("AUTHORIZED").is_ok_and(|v| v == "1");
    if lookup && std::env::var_os("CREDENTIALS_LOOKUP").is_some() {
        return Err("credentials lookups are not supported: allow PLAIN and LOGIN only".into());
    }
    let request = Request {
        op: if lookup { Op::Lookup } else { Op::Login },
        service: std::env::var("SERVICE").unwrap_or_else(|_| "imap".into()),
        ip: std::env::var("TCPREMOTEIP")
            .ok()
            .and_then(|ip| ip.parse().ok()),
        user: input.user,
        password: if lookup {
            String::new()
        } else {
            input.password
        },
    };
    let answer = ask(socket, &request).await?;
    Ok(match (answer, lookup) {
        (Answer::Ok(user), _) => {
            reply_user(&user)?;
            if lookup { FOUND } else { ACCEPTED }
        }
        (Answer::Refused, false) => REFUSED,
        (Answer::Unknown | Answer::Refused, true) => UNKNOWN,
        (Answer::Unknown, false) => REFUSED,
        (Answer::TempFail, _) => return Err("the server could not decide".into()),
    })
}

async fn ask(socket: &Path, request: &Request) -> Result<Answer, String> {
    let talk = async {
        let mut s = tokio::net::UnixStream::connect(socket).await?;
        s.write_all(&request.encode()).await?;
        s.shutdown().await?;
        let mut line = Vec::with_capacity(128);
        s.take(1024).read_to_end(&mut line).await?;
        Ok::<_, std::io::Error>(line)
    };
    let line = tokio::time::timeout(ANSWER_TIMEOUT, talk)
        .await
        .map_err(|_| "no answer from the server in time".to_string())?
        .map_err(|e| format!("{}: {e}", socket.display()))?;
    Answer::decode(&line).ok_or_else(|| "malformed answer from the server".to_string())
}

/// The canonical user name, for Dovecot (what checkpassword-reply would write).
fn reply_user(user: &str) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/self/fd/4")
        .and_then(|mut f| f.write_all(format!("user={user}\t").as_bytes()))
        .map_err(|e| format!("descriptor 4: {e}"))
}
