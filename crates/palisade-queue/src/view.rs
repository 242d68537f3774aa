//! The queue as an administrator sees it: each message waiting in `queue/active/` with
//! each recipient's state, and the two things done to one (retry now, delete). The CLI
//! (`palisade queue`) and the web console both use this.

use crate::{Spool, SpoolError, SpoolFileError, SpooledMessage};
use palisade_store::{QueueStatus, Store, StoreError};
use palisade_types::QueueId;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Octets of a message read for its header section (`show`).
const HEAD_BYTES: u64 = 64 * 1024;

/// Where one recipient of a queued message stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptState {
    /// Delivered, or failed for good and bounced.
    Done,
    /// Waiting for a retry; `error` is the last attempt's answer.
    Pending { next_attempt: i64, error: String },
    /// Not attempted yet (or the first attempt is under way).
    Delivering,
}

/// One message in the queue.
#[derive(Debug, Clone)]
pub struct Queued {
    pub message: SpooledMessage,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due (none before the first).
    pub next_attempt: Option<i64>,
    /// Each recipient as given, with its state.
    pub recipients: Vec<(String, RcptState)>,
}

impl Queued {
    /// The recipients still waiting for a retry.
    pub fn pending(&self) -> usize {
        let waiting = |s: &&(String, RcptState)| matches!(s.1, RcptState::Pending { .. });
        self.recipients.iter().filter(waiting).count()
    }

    /// The first recipient's last error, if any is waiting.
    pub fn first_error(&self) -> Option<&str> {
        self.recipients.iter().find_map(|(_, s)| match s {
            RcptState::Pending { error, .. } => Some(error.as_str()),
            _ => None,
        })
    }
}

/// The queue could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error(transparent)]
    File(#[from] SpoolFileError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("reading the spool stopped")]
    Interrupted,
}

/// Runs `f`, file work, on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ViewError> + Send + 'static,
) -> Result<T, ViewError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ViewError::Interrupted)?
}

fn active_path(queue_dir: &Path, id: QueueId) -> PathBuf {
    Spool::active_dir(queue_dir).join(id.to_string())
}

/// `status`'s answer for recipient `r` (its last error is the line `r: error`).
fn rcpt_state(status: Option<&QueueStatus>, r: &str) -> RcptState {
    let Some(s) = status else {
        return RcptState::Delivering;
    };
    if s.delivered.iter().any(|d| d == r) {
        return RcptState::Done;
    }
    let prefix = format!("{r}: ");
    let error = s
        .last_error
        .as_deref()
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or("-")
        .to_string();
    RcptState::Pending {
        next_attempt: s.next_attempt,
        error,
    }
}

fn queued(message: SpooledMessage, status: Option<&QueueStatus>) -> Queued {
    let recipients = message
        .envelope
        .rcpt_to
        .iter()
        .map(|r| {
            let r = r.to_string();
            let state = rcpt_state(status, &r);
            (r, state)
        })
        .collect();
    Queued {
        message,
        attempts: status.map_or(0, |s| s.attempts),
        next_attempt: status.map(|s| s.next_attempt),
        recipients,
    }
}

/// Up to `limit` messages of the queue, oldest first (a file that vanished while
/// listing, delivered meanwhile, is left out).
pub async fn list(
    queue_dir: &Path,
    store: &dyn Store,
    limit: usize,
) -> Result<(Vec<Queued>, usize), ViewError> {
    let dir = queue_dir.to_path_buf();
    let (messages, total) = blocking(move || {
        let ids = Spool::list_active(&dir)?;
        let total = ids.len();
        let messages: Vec<SpooledMessage> = ids
            .into_iter()
            .take(limit)
            .filter_map(|id| SpooledMessage::open(&active_path(&dir, id), id).ok())
            .collect();
        Ok((messages, total))
    })
    .await?;
    let statuses = store.list_queue_status().await?;
    let out = messages
        .into_iter()
        .map(|m| {
            let st = statuses.iter().find(|s| s.id == m.id);
            queued(m, st)
        })
        .collect();
    Ok((out, total))
}

/// One message and its header section, or none if it is not in the queue.
pub async fn show(
    queue_dir: &Path,
    store: &dyn Store,
    id: QueueId,
) -> Result<Option<(Queued, Vec<u8>)>, ViewError> {
    let path = active_path(queue_dir, id);
    let read = blocking(move || {
        let Ok(m) = SpooledMessage::open(&path, id) else {
            return Ok(None);
        };
        let head = m.head(HEAD_BYTES)?;
        Ok(Some((m, head)))
    })
    .await?;
    let Some((m, head)) = read else {
        return Ok(None);
    };
    let status = store.queue_status(id).await?;
    Ok(Some((queued(m, status.as_ref()), head)))
}

/// Makes `id` due now (the running scheduler picks it up within a second); false if it
/// is not in the queue.
pub async fn retry(queue_dir: &Path, store: &dyn Store, id: QueueId) -> Result<bool, ViewError> {
    if !active_path(queue_dir, id).exists() {
        return Ok(false);
    }
    // Without a record its first attempt is still to come or under way: nothing to
    // hurry (a record written here would outlive the message).
    let Some(mut s) = store.queue_status(id).await? else {
        return Ok(true);
    };
    s.next_attempt = 0;
    store.put_queue_status(&s).await?;
    Ok(true)
}

/// Deletes `id` without a bounce; false if it is not in the queue.
pub async fn delete(queue_dir: &Path, store: &dyn Store, id: QueueId) -> Result<bool, ViewError> {
    let path = active_path(queue_dir, id);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(crate::spool::io_err("remove", &path)(e).into()),
    }
    store.remove_queue_status(id).await?;
    Ok(true)
}

impl SpooledMessage {
    /// The message's header section, reading at most `max` octets.
    pub fn head(&self, max: u64) -> Result<Vec<u8>, SpoolFileError> {
        let mut buf = Vec::new();
        self.message_reader()?
            .take(max)
            .read_to_end(&mut buf)
            .map_err(|source| SpoolFileError::Io {
                path: self.path.clone(),
                source,
            })?;
        let end = palisade_types::header_end(&buf).unwrap_or(buf.len());
        buf.truncate(end);
        Ok(buf)
    }
}
