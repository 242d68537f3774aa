//! Spool files and the group committer.

use crate::file::write_header;
use palisade_types::{Envelope, QueueId};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {context} {path}")]
    Io {
        context: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("spool committer has stopped")]
    CommitterGone,
    #[error("envelope cannot be spooled: {0}")]
    BadEnvelope(String),
}

fn io_err<'a>(
    context: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> SpoolError + 'a {
    move |source| SpoolError::Io {
        context,
        path: path.to_path_buf(),
        source,
    }
}

/// Proof that a message and its envelope are on stable storage. Only the committer
/// makes one (the field is private), and only a `Durable` lets the server reply `250`.
#[derive(Debug)]
pub struct Durable {
    id: QueueId,
}

impl Durable {
    pub fn id(&self) -> QueueId {
        self.id
    }
}

struct CommitRequest {
    id: QueueId,
    done: oneshot::Sender<Result<(), SpoolError>>,
}

/// The queue directory: `incoming/` (being received) and `active/` (committed).
#[derive(Clone)]
pub struct Spool {
    incoming: PathBuf,
    active: PathBuf,
    committer: mpsc::UnboundedSender<CommitRequest>,
}

impl Spool {
    pub fn incoming_dir(queue_dir: &Path) -> PathBuf {
        queue_dir.join("incoming")
    }

    pub fn active_dir(queue_dir: &Path) -> PathBuf {
        queue_dir.join("active")
    }

    /// Ids of committed messages, oldest first (for recovery and `palisade queue list`).
    pub fn list_active(queue_dir: &Path) -> Result<Vec<QueueId>, SpoolError> {
        let dir = Self::active_dir(queue_dir);
        let mut ids = Vec::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
            Err(e) => return Err(io_err("listing", &dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err("listing", &dir))?;
            if let Some(id) = entry.file_name().to_str().and_then(QueueId::parse) {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Opens the queue directory, starts the group committer and recovers: partial
    /// files in `incoming/` were never acknowledged and are deleted; the ids of committed
    /// messages are sent on `committed` before any new one. Must run inside a tokio runtime.
    pub fn open(
        queue_dir: &Path,
        committed: mpsc::UnboundedSender<QueueId>,
    ) -> Result<Spool, SpoolError> {
        let incoming = Self::incoming_dir(queue_dir);
        let active = Self::active_dir(queue_dir);
        for d in [&incoming, &active] {
            std::fs::create_dir_all(d).map_err(io_err("creating", d))?;
        }
        for entry in std::fs::read_dir(&incoming).map_err(io_err("listing", &incoming))? {
            let entry = entry.map_err(io_err("listing", &incoming))?;
            let path = entry.path();
            std::fs::remove_file(&path).map_err(io_err("removing partial", &path))?;
        }
        for id in Self::list_active(queue_dir)? {
            // The receiver lives as long as the scheduler; if it is gone, nothing delivers.
            let _ = committed.send(id);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(committer(rx, incoming.clone(), active.clone(), committed));
        Ok(Spool {
            incoming,
            active,
            committer: tx,
        })
    }

    pub fn active_path(&self, id: QueueId) -> PathBuf {
        self.active.join(id.to_string())
    }

    /// Starts a message: `incoming/<id>` with the envelope, then `prefix(id)` (the trace
    /// headers, which name the queue id).
    pub fn create(
        &self,
        envelope: &Envelope,
        arrived: i64,
        prefix: impl FnOnce(QueueId) -> Vec<u8>,
    ) -> Result<SpoolWriter, SpoolError> {
        let header = write_header(envelope, arrived).map_err(SpoolError::BadEnvelope)?;
        loop {
            let id = QueueId::generate();
            let path = self.incoming.join(id.to_string());
            let file = match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err("creating", &path)(e)),
            };
            let mut w = SpoolWriter {
                id,
                path,
                file: Some(file),
                committer: self.committer.clone(),
                buffer: Vec::with_capacity(16 * 1024),
            };
            w.buffer.extend_from_slice(&header);
            w.buffer.extend_from_slice(&prefix(id));
            return Ok(w);
        }
    }
}

/// A message being written. Dropped without [`SpoolWriter::commit`], its file is removed.
pub struct SpoolWriter {
    id: QueueId,
    path: PathBuf,
    file: Option<File>,
    committer: mpsc::UnboundedSender<CommitRequest>,
    /// Small messages are written in one write at commit.
    buffer: Vec<u8>,
}

const WRITE_THRESHOLD: usize = 256 * 1024;

impl SpoolWriter {
    pub fn id(&self) -> QueueId {
        self.id
    }

    fn flush_buffer(&mut self) -> Result<(), SpoolError> {
        if let Some(f) = self.file.as_mut() {
            f.write_all(&self.buffer)
                .map_err(io_err("writing", &self.path))?;
        }
        self.buffer.clear();
        Ok(())
    }

    /// Appends message bytes. Writes go to the page cache; durability comes at commit.
    pub fn append(&mut self, bytes: &[u8]) -> Result<(), SpoolError> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= WRITE_THRESHOLD {
            self.flush_buffer()?;
        }
        Ok(())
    }

    /// Makes the message durable: fdatasync of the file (on the blocking pool, so many
    /// sessions sync in parallel), then the committer renames it into `active/` and
    /// fsyncs that directory once for every file in its batch.
    pub async fn commit(mut self) -> Result<Durable, SpoolError> {
        self.flush_buffer()?;
        let file = self.file.take().ok_or(SpoolError::CommitterGone)?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || file.sync_data().map_err(io_err("syncing", &path)))
            .await
            .map_err(|_| SpoolError::CommitterGone)??;
        let (done, wait) = oneshot::channel();
        self.committer
            .send(CommitRequest { id: self.id, done })
            .map_err(|_| SpoolError::CommitterGone)?;
        // From here the committer owns the file; don't remove it on drop.
        self.path = PathBuf::new();
        wait.await.map_err(|_| SpoolError::CommitterGone)??;
        Ok(Durable { id: self.id })
    }
}

impl Drop for SpoolWriter {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            // Aborted or failed: the client was not told 250, so the file must go.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The group committer: one directory fsync per batch of renames.
async fn committer(
    mut rx: mpsc::UnboundedReceiver<CommitRequest>,
    incoming: PathBuf,
    active: PathBuf,
    committed: mpsc::UnboundedSender<QueueId>,
) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 1024).await > 0 {
        let requests = std::mem::take(&mut batch);
        let (inc, act) = (incoming.clone(), active.clone());
        let ids: Vec<QueueId> = requests.iter().map(|r| r.id).collect();
        let results = tokio::task::spawn_blocking(move || {
            let renamed: Vec<Result<(), SpoolError>> = ids
                .iter()
                .map(|id| {
                    let from = inc.join(id.to_string());
                    std::fs::rename(&from, act.join(id.to_string()))
                        .map_err(io_err("committing", &from))
                })
                .collect();
            // RFC-less but essential: without this fsync a crash can forget the rename.
            match sync_dir(&act) {
                Ok(()) => renamed,
                Err(e) => {
                    let msg = e.to_string();
                    ids.iter()
                        .map(|_| {
                            Err(SpoolError::Io {
                                context: "syncing directory",
                                path: act.clone(),
                                source: std::io::Error::other(msg.clone()),
                            })
                        })
                        .collect()
                }
            }
        })
        .await;
        let Ok(results) = results else {
            // The blocking task panicked: tell nobody 250; their files stay in incoming/
            // and are removed at the next start.
            continue;
        };
        metrics::histogram!("palisade_spool_commit_batch_size").record(requests.len() as f64);
        for (req, result) in requests.into_iter().zip(results) {
            if result.is_ok() {
                let _ = committed.send(req.id);
            }
            let _ = req.done.send(result);
        }
    }
}
