//! Queueing a message from outside the running server (the CLI): reports sent by hand,
//! quarantined messages released. The server's spool cannot be used there: opening it
//! recovers `incoming/`, which would delete the running server's partial files.
//!
//! Order matters: the file is written and fsync'd in `incoming/`, then linked into
//! `active/` (never over an existing file, the server's committer's rule: a message of
//! that id already there, and its status, are left untouched), then a due status row is
//! stored, the file is unlinked from where it was and the directory fsync'd. A
//! running scheduler finds due rows every second, so it picks the message up; a stopped
//! one finds it in `active/` at start. A crash before the link leaves a partial file
//! that the next start deletes; after it, a file in `active/` without a status row,
//! which the scheduler's sweep (or the next start) delivers; before the unlink, a
//! released message also still in `quarantine/`, whose next release is refused.

use crate::file::write_header;
use crate::spool::{Spool, SpoolError, io_err as io};
use palisade_store::{QueueStatus, Store};
use palisade_types::{Envelope, QueueId};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Writes `message` with `envelope` into `queue_dir` and makes it due now.
pub async fn inject(
    queue_dir: &Path,
    store: &dyn Store,
    envelope: &Envelope,
    arrived: i64,
    message: &[u8],
) -> Result<QueueId, SpoolError> {
    let mut bytes = write_header(envelope, arrived).map_err(SpoolError::BadEnvelope)?;
    bytes.extend_from_slice(message);
    let incoming = Spool::incoming_dir(queue_dir);
    std::fs::create_dir_all(&incoming).map_err(io("creating", &incoming))?;
    let (id, path) = loop {
        let id = QueueId::generate();
        let path = incoming.join(id.to_string());
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                let written = f.write_all(&bytes).and_then(|()| f.sync_all());
                if let Err(e) = written {
                    let _ = std::fs::remove_file(&path);
                    return Err(io("writing", &path)(e));
                }
                break (id, path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io("creating", &path)(e)),
        }
    };
    activate(queue_dir, store, id, &path).await?;
    Ok(id)
}

/// Moves the spool file at `from` (on the same file system) into `active/` as `id`,
/// due now (see the module comment for the order). The link comes first: if a file of
/// that id is there already, nothing is changed, neither that message nor its status.
pub async fn activate(
    queue_dir: &Path,
    store: &dyn Store,
    id: QueueId,
    from: &Path,
) -> Result<(), SpoolError> {
    let active = Spool::active_dir(queue_dir);
    std::fs::create_dir_all(&active).map_err(io("creating", &active))?;
    // Never `rename`: it would replace a message of that id already acknowledged.
    std::fs::hard_link(from, active.join(id.to_string())).map_err(io("committing", from))?;
    store
        .put_queue_status(&QueueStatus {
            id,
            attempts: 0,
            next_attempt: 0,
            last_error: None,
            delivered: Vec::new(),
            updated: 0,
        })
        .await
        .map_err(|e| SpoolError::Io {
            context: "recording the status of",
            path: from.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })?;
    std::fs::remove_file(from).map_err(io("committing", from))?;
    std::fs::File::open(&active)
        .and_then(|d| d.sync_all())
        .map_err(io("syncing directory", &active))
}
