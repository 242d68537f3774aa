//! The auth socket (`dovecot.auth_socket`): where `palisade auth checkpassword`, run by
//! Dovecot for each IMAP or POP3 login, asks whether a password is right.
//!
//! The decision is [`crate::logins::decide`], the one SMTP AUTH takes: the same
//! lockouts, bans and Argon2id limits, with app passwords of the `imap` scope. The
//! socket is mode 0660: whoever can write to it can try passwords in the name of any
//! client address, so only Dovecot's user (a member of the server's group) should.
//! Requests are small and bounded ([`MAX_REQUEST`] octets, [`READ_TIMEOUT`], at most
//! [`MAX_CLIENTS`] at once); anything malformed is refused.

use crate::Shared;
use palisade_access::checkpassword::{Answer, MAX_REQUEST, Op, Request, scope_of_service};
use palisade_access::login::{Attempt, Door, Refused};
use palisade_types::Address;
use std::net::{IpAddr, Ipv6Addr};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, watch};

const READ_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_CLIENTS: usize = 32;
/// Where a login without a client address (Dovecot's own `doveadm auth test`) is
/// counted: the local host.
const NO_ADDRESS: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

#[derive(Debug, thiserror::Error)]
pub enum AuthSocketError {
    #[error("dovecot.auth_socket {}: {what}", path.display())]
    Path { path: PathBuf, what: String },
    #[error("dovecot.auth_socket {}: cannot listen", path.display())]
    Bind {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Binds the socket, replacing a stale one left by a server that died; refuses a path
/// that holds anything else, or a socket another server still answers on.
pub async fn bind(path: &Path) -> Result<UnixListener, AuthSocketError> {
    let fail = |what: &str| AuthSocketError::Path {
        path: path.to_path_buf(),
        what: what.to_string(),
    };
    let bind_error = |source| AuthSocketError::Bind {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if UnixStream::connect(path).await.is_ok() {
                return Err(fail("another server is answering on it"));
            }
            std::fs::remove_file(path).map_err(bind_error)?;
        }
        Ok(_) => return Err(fail("exists and is not a socket")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(bind_error(e)),
    }
    let listener = UnixListener::bind(path).map_err(bind_error)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(bind_error)?;
    Ok(listener)
}

/// Answers until `stop` turns true, then removes the socket.
pub async fn serve(
    listener: UnixListener,
    path: PathBuf,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CLIENTS));
    loop {
        let stream = tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "auth socket accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Full: the client sees the connection close and Dovecot a temporary failure.
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            answer(stream, &shared).await;
            drop(permit);
        });
    }
    let _ = std::fs::remove_file(&path);
}

async fn answer(mut stream: UnixStream, shared: &Shared) {
    let mut buf = Vec::with_capacity(MAX_REQUEST);
    let read = tokio::time::timeout(
        READ_TIMEOUT,
        (&mut stream)
            .take(MAX_REQUEST as u64 + 1)
            .read_to_end(&mut buf),
    )
    .await;
    let answer = match (read, Request::decode(&buf)) {
        (Ok(Ok(_)), Some(request)) => decide(shared, &request).await,
        (Ok(Ok(_)), None) => {
            tracing::warn!(octets = buf.len(), "malformed auth socket request");
            Answer::Refused
        }
        _ => return,
    };
    let _ = tokio::time::timeout(READ_TIMEOUT, stream.write_all(answer.encode().as_bytes())).await;
}

async fn decide(shared: &Shared, request: &Request) -> Answer {
    match request.op {
        Op::Login => {
            let cfg = shared.config();
            let attempt = Attempt {
                username: &request.user,
                password: &request.password,
                ip: request.ip.unwrap_or(NO_ADDRESS),
                door: Door::Mail(scope_of_service(&request.service)),
                now: palisade_queue::now_secs(),
            };
            match crate::logins::decide(shared, &cfg, attempt).await {
                Ok(user) => Answer::Ok(user.to_string()),
                Err(Refused::Unavailable) => Answer::TempFail,
                Err(_) => Answer::Refused,
            }
        }
        Op::Lookup => {
            let Ok(user) = Address::parse(&request.user) else {
                return Answer::Unknown;
            };
            match shared.store.password_hash(&user).await {
                Ok(Some(_)) => Answer::Ok(user.lookup_key()),
                Ok(None) => Answer::Unknown,
                Err(_) => Answer::TempFail,
            }
        }
    }
}
