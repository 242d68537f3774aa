//! The quarantine across nodes: a held message is committed to this node's spool
//! (`queue/quarantine/`, fsync'd, for its `250`), then moved into the store within
//! [`MOVE_EVERY`], where every node lists, shows, releases and deletes it. A release
//! queues the message on the node that releases it, under its id.
//!
//! Moving: the store holds the spool file durably, then the local file is deleted; a
//! crash between leaves both, and the next move finds the message held already. A
//! release writes the file into `incoming/`, fsyncs it, commits it into `active/` like
//! the CLI's inject (never over a message of that id), and only then removes it from
//! the store: a crash between delivers it and leaves it held, so it can be released
//! twice but never lost.

use crate::Shared;
use palisade_queue::{Spool, SpoolError, SpoolFileError, SpooledMessage};
use palisade_store::{HeldMessage, Store, StoreError};
use palisade_types::QueueId;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How often this node's spool quarantine is moved into the store.
pub const MOVE_EVERY: Duration = Duration::from_secs(1);
/// Octets of a held message read for its header fields.
const HEAD_BYTES: u64 = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error(transparent)]
    SpoolFile(#[from] SpoolFileError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{context} {path}: {source}")]
    Io {
        context: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("held message {0} is corrupt")]
    Corrupt(QueueId),
}

fn io(context: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> QuarantineError {
    let path = path.display().to_string();
    move |source| QuarantineError::Io {
        context,
        path,
        source,
    }
}

/// The unfolded value of header field `name` in `head`, or "".
fn field(head: &[u8], name: &str) -> String {
    mail_parser::MessageParser::new()
        .parse_headers(head)
        .and_then(|m| m.header_raw(name).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

/// What the store keeps of the spooled held message `m` (received by `node`).
fn held_of(m: &SpooledMessage, node: &str, file_len: u64) -> Result<HeldMessage, SpoolFileError> {
    let head = m.head(HEAD_BYTES)?;
    let subject = mail_parser::MessageParser::new()
        .parse_headers(&head[..])
        .and_then(|p| p.subject().map(str::to_string))
        .unwrap_or_default();
    Ok(HeldMessage {
        id: m.id,
        node: node.to_string(),
        arrived: m.arrived,
        sender: m.envelope.return_path(),
        recipients: m.envelope.rcpt_to.iter().map(|r| r.to_string()).collect(),
        subject,
        reason: field(&head, "X-Palisade-Quarantine"),
        size: i64::try_from(file_len).unwrap_or(i64::MAX),
    })
}

/// Moves every message of `queue_dir`'s quarantine into `store` (as received by
/// `node`): held there, then deleted here. How many moved.
pub async fn move_to_store(
    queue_dir: &Path,
    store: &dyn Store,
    node: &str,
) -> Result<usize, QuarantineError> {
    let dir = Spool::quarantine_dir(queue_dir);
    let mut moved = 0;
    for id in Spool::list_quarantine(queue_dir)? {
        let path = dir.join(id.to_string());
        let m = SpooledMessage::open(&path, id)?;
        let file = std::fs::read(&path).map_err(io("reading", &path))?;
        store
            .hold(&held_of(&m, node, file.len() as u64)?, &file)
            .await?;
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io("removing", &path)(e));
            }
            _ => moved += 1,
        }
    }
    Ok(moved)
}

/// Queues held message `id` for delivery on this node and removes it from the
/// quarantine: the message (for the site model to learn from), or `None` if it is not
/// held.
pub async fn release(
    queue_dir: &Path,
    store: &dyn Store,
    id: QueueId,
) -> Result<Option<Vec<u8>>, QuarantineError> {
    let Some(file) = store.held_file(id).await? else {
        return Ok(None);
    };
    let incoming = Spool::incoming_dir(queue_dir);
    std::fs::create_dir_all(&incoming).map_err(io("creating", &incoming))?;
    let path = incoming.join(format!("{id}.released"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(io("writing", &path))?;
    f.write_all(&file)
        .and_then(|()| f.sync_all())
        .map_err(io("writing", &path))?;
    let message = SpooledMessage::open(&path, id)
        .and_then(|m| m.read_message())
        .map_err(|_| QuarantineError::Corrupt(id))?;
    palisade_queue::activate(queue_dir, store, id, &path).await?;
    store.remove_held(id).await?;
    Ok(Some(message))
}

/// The message of a held spool file (after its envelope header), for showing.
pub fn message_of(file: &[u8]) -> &[u8] {
    file.windows(2)
        .position(|w| w == b"\n\n")
        .map_or(&[][..], |end| &file[end + 2..])
}

/// The value of `key` in a held spool file's envelope header (`ip`, `helo`), for showing.
pub fn envelope_field<'a>(file: &'a [u8], key: &str) -> Option<&'a str> {
    let header = &file[..file.len() - message_of(file).len()];
    std::str::from_utf8(header)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
}

/// Moves this node's held messages into the store every [`MOVE_EVERY`].
pub async fn move_loop(shared: Arc<Shared>) {
    let queue = crate::queue_dir(&shared.data_dir);
    loop {
        tokio::time::sleep(MOVE_EVERY).await;
        let node = shared.config().node_id.clone();
        if let Err(e) = move_to_store(&queue, shared.store.as_ref(), &node).await {
            tracing::warn!(error = %e, "cannot move held messages into the store");
        }
    }
}
