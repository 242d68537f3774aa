//! Spool files and the group committer.

use crate::SpooledMessage;
use crate::file::{Held, write_header};
use palisade_types::{Envelope, QueueId};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{Semaphore, mpsc, oneshot};

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

pub(crate) fn io_err<'a>(
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

/// Where a committed message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// `active/`: handed to the scheduler for delivery.
    Active,
    /// `quarantine/`: kept, not delivered, until an operator releases or deletes it.
    Quarantine,
}

/// Changes to the message decided after it was received: header fields to add on top
/// (after our trace headers) and byte ranges of the message to drop (forged fields).
#[derive(Debug, Clone, Default)]
pub struct Edit {
    pub prepend: Vec<u8>,
    /// Ranges relative to the first byte the client sent; sorted, not overlapping.
    pub remove: Vec<Range<usize>>,
    /// The message to store instead of what the client sent (a tagged message with its
    /// banner); `remove` does not apply then, `prepend` still goes first.
    pub replace: Option<Vec<u8>>,
}

impl Edit {
    fn is_empty(&self) -> bool {
        self.prepend.is_empty() && self.remove.is_empty() && self.replace.is_none()
    }
}

struct CommitRequest {
    id: QueueId,
    dest: Destination,
    /// The message for its first delivery, when it is kept in memory.
    held: Option<SpooledMessage>,
    done: oneshot::Sender<Result<(), SpoolError>>,
}

/// A message now durable in `active/`, for the scheduler.
#[derive(Debug)]
pub struct Committed {
    pub id: QueueId,
    /// The message as committed, kept in memory when it was small enough and the
    /// budget allowed ([`HELD_BUDGET`]): its first delivery then reads nothing back
    /// from disk. `None` for messages recovered at start and for large ones.
    pub held: Option<SpooledMessage>,
}

/// Octets of committed messages kept in memory for their first delivery, in all.
pub const HELD_BUDGET: usize = 64 * 1024 * 1024;

/// The queue directory: `incoming/` (being received), `active/` (committed, to deliver)
/// and `quarantine/` (committed, held).
#[derive(Clone)]
pub struct Spool {
    incoming: PathBuf,
    active: PathBuf,
    quarantine: PathBuf,
    committer: mpsc::UnboundedSender<CommitRequest>,
    /// KiB of [`HELD_BUDGET`] left for messages kept in memory.
    held_budget: Arc<Semaphore>,
}

/// Makes `dir` enterable by its owner only (0700).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

impl Spool {
    pub fn incoming_dir(queue_dir: &Path) -> PathBuf {
        queue_dir.join("incoming")
    }

    pub fn active_dir(queue_dir: &Path) -> PathBuf {
        queue_dir.join("active")
    }

    pub fn quarantine_dir(queue_dir: &Path) -> PathBuf {
        queue_dir.join("quarantine")
    }

    /// Ids of committed messages, oldest first (for recovery and `palisade queue list`).
    pub fn list_active(queue_dir: &Path) -> Result<Vec<QueueId>, SpoolError> {
        Self::list_dir(&Self::active_dir(queue_dir))
    }

    /// Ids of quarantined messages, oldest first.
    pub fn list_quarantine(queue_dir: &Path) -> Result<Vec<QueueId>, SpoolError> {
        Self::list_dir(&Self::quarantine_dir(queue_dir))
    }

    /// Deletes quarantined messages that arrived before `before` (seconds since the
    /// epoch): the retention period. Returns the ids that went.
    pub fn expire_quarantine(queue_dir: &Path, before: i64) -> Result<Vec<QueueId>, SpoolError> {
        let dir = Self::quarantine_dir(queue_dir);
        let mut removed = Vec::new();
        for id in Self::list_quarantine(queue_dir)? {
            let path = dir.join(id.to_string());
            // Unreadable files stay for an operator to look at.
            if crate::SpooledMessage::open(&path, id).is_ok_and(|m| m.arrived < before) {
                match std::fs::remove_file(&path) {
                    Ok(()) => removed.push(id),
                    // Released or deleted meanwhile.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err("removing", &path)(e)),
                }
            }
        }
        if !removed.is_empty() {
            sync_dir(&dir).map_err(io_err("syncing", &dir))?;
        }
        Ok(removed)
    }

    fn list_dir(dir: &Path) -> Result<Vec<QueueId>, SpoolError> {
        let dir = dir.to_path_buf();
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
        committed: mpsc::UnboundedSender<Committed>,
    ) -> Result<Spool, SpoolError> {
        let incoming = Self::incoming_dir(queue_dir);
        let active = Self::active_dir(queue_dir);
        let quarantine = Self::quarantine_dir(queue_dir);
        for d in [&incoming, &active, &quarantine] {
            std::fs::create_dir_all(d).map_err(io_err("creating", d))?;
        }
        // Message bodies are in clear here: only the server's user may enter (also
        // fixes a queue made by an older version).
        for d in [queue_dir, &incoming, &active, &quarantine] {
            private_dir(d).map_err(io_err("restricting", d))?;
        }
        for entry in std::fs::read_dir(&incoming).map_err(io_err("listing", &incoming))? {
            let entry = entry.map_err(io_err("listing", &incoming))?;
            let path = entry.path();
            std::fs::remove_file(&path).map_err(io_err("removing partial", &path))?;
        }
        for id in Self::list_active(queue_dir)? {
            // The receiver lives as long as the scheduler; if it is gone, nothing delivers.
            let _ = committed.send(Committed { id, held: None });
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(committer(
            rx,
            incoming.clone(),
            [active.clone(), quarantine.clone()],
            committed,
        ));
        Ok(Spool {
            incoming,
            active,
            quarantine,
            committer: tx,
            held_budget: Arc::new(Semaphore::new(HELD_BUDGET / 1024)),
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
            // An id still in use elsewhere in the spool (another process's, from the
            // same second) would replace that message at commit: take another.
            if self.active_path(id).exists() || self.quarantine.join(id.to_string()).exists() {
                continue;
            }
            let path = self.incoming.join(id.to_string());
            let file = match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err("creating", &path)(e)),
            };
            let mut w = SpoolWriter {
                id,
                path,
                file: Some(file),
                committer: self.committer.clone(),
                first_delivery: Some(FirstDelivery {
                    envelope: envelope.clone(),
                    arrived,
                    active: self.active_path(id),
                    header_len: header.len(),
                    budget: self.held_budget.clone(),
                }),
                buffer: Vec::with_capacity(16 * 1024),
                threshold: WRITE_THRESHOLD,
                message_start: 0,
                flushed: false,
                appended: 0,
            };
            w.buffer.extend_from_slice(&header);
            w.buffer.extend_from_slice(&prefix(id));
            w.message_start = w.buffer.len();
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
    /// What the first delivery needs to be handed the message from memory.
    first_delivery: Option<FirstDelivery>,
    /// Small messages are written in one write at commit.
    buffer: Vec<u8>,
    /// The buffer is written out once it holds this many octets.
    threshold: usize,
    /// Offset in the file of the first byte the client sent (after envelope and trace).
    message_start: usize,
    /// Some of the file is on disk already (the buffer no longer starts at offset 0).
    flushed: bool,
    /// Message octets appended so far.
    appended: u64,
}

/// The envelope and the place of a message being written, for handing it to its first
/// delivery from memory once committed.
struct FirstDelivery {
    envelope: Envelope,
    arrived: i64,
    active: PathBuf,
    /// Octets of the spool header before the message (trace headers included after).
    header_len: usize,
    budget: Arc<Semaphore>,
}

/// Octets a writer holds in memory before writing them to its file, by default.
pub const WRITE_THRESHOLD: usize = 256 * 1024;

/// Octets held when the server's memory budget cannot cover [`WRITE_THRESHOLD`].
pub const SMALL_WRITE_THRESHOLD: usize = 16 * 1024;

impl SpoolWriter {
    pub fn id(&self) -> QueueId {
        self.id
    }

    /// Holds at most `octets` in memory before writing to the file (the server lowers
    /// it when its memory budget is spent: many slow DATA transfers at once must not
    /// hold 256 KiB each outside the budget).
    pub fn set_write_threshold(&mut self, octets: usize) {
        self.threshold = octets;
    }

    fn flush_buffer(&mut self) -> Result<(), SpoolError> {
        if let Some(f) = self.file.as_mut() {
            f.write_all(&self.buffer)
                .map_err(io_err("writing", &self.path))?;
        }
        self.buffer.clear();
        self.flushed = true;
        Ok(())
    }

    /// Length of the message so far, in octets.
    pub fn message_len(&self) -> u64 {
        self.appended
    }

    /// The message as the client sent it (no envelope, no trace headers), for checks
    /// that need all of it. Small messages come from memory, large ones from the file.
    pub fn read_message(&mut self) -> Result<Vec<u8>, SpoolError> {
        if !self.flushed {
            return Ok(self.buffer[self.message_start..].to_vec());
        }
        self.flush_buffer()?;
        let mut f = File::open(&self.path).map_err(io_err("reading", &self.path))?;
        f.seek(SeekFrom::Start(self.message_start as u64))
            .map_err(io_err("reading", &self.path))?;
        let mut out = Vec::new();
        f.read_to_end(&mut out)
            .map_err(io_err("reading", &self.path))?;
        Ok(out)
    }

    /// Applies `edit`: in memory for small messages; large ones are rewritten into a
    /// new incoming file (still not acknowledged, so a crash here loses nothing owed).
    fn apply(&mut self, edit: &Edit) -> Result<(), SpoolError> {
        if edit.is_empty() {
            return Ok(());
        }
        if !self.flushed {
            let message = self.buffer.split_off(self.message_start);
            self.buffer.extend_from_slice(&edit.prepend);
            match &edit.replace {
                Some(m) => self.buffer.extend_from_slice(m),
                None => copy_kept(&message, &edit.remove, &mut self.buffer),
            }
            return Ok(());
        }
        // Large message: copy the kept ranges file to file, never the whole in memory.
        self.flush_buffer()?;
        let edited = self.path.with_extension("edit");
        let total = self.message_start as u64 + self.appended;
        let read = io_err("reading", &self.path);
        let mut src = File::open(&self.path).map_err(read)?;
        let mut out = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&edited)
            .map_err(io_err("creating", &edited))?;
        let write = |e| io_err("writing", &edited)(e);
        std::io::copy(&mut (&mut src).take(self.message_start as u64), &mut out).map_err(write)?;
        out.write_all(&edit.prepend).map_err(write)?;
        if let Some(m) = &edit.replace {
            out.write_all(m).map_err(write)?;
            std::fs::rename(&edited, &self.path).map_err(io_err("replacing", &self.path))?;
            self.file = Some(out);
            return Ok(());
        }
        let mut pos = self.message_start as u64;
        let keep = |from: u64, to: u64, src: &mut File, out: &mut File| {
            if to > from {
                src.seek(SeekFrom::Start(from))?;
                std::io::copy(&mut src.take(to - from), out)?;
            }
            Ok::<(), std::io::Error>(())
        };
        for r in &edit.remove {
            let start = (self.message_start + r.start) as u64;
            let end = ((self.message_start + r.end) as u64).min(total);
            if start >= pos && start <= total {
                keep(pos, start, &mut src, &mut out).map_err(write)?;
                pos = end;
            }
        }
        keep(pos, total, &mut src, &mut out).map_err(write)?;
        std::fs::rename(&edited, &self.path).map_err(io_err("replacing", &self.path))?;
        self.file = Some(out);
        Ok(())
    }

    /// Appends message bytes. Writes go to the page cache; durability comes at commit.
    pub fn append(&mut self, bytes: &[u8]) -> Result<(), SpoolError> {
        self.appended += bytes.len() as u64;
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= self.threshold {
            self.flush_buffer()?;
        }
        Ok(())
    }

    /// Makes the message durable: fdatasync of the file (on the blocking pool, so many
    /// sessions sync in parallel), then the committer renames it into `active/` and
    /// fsyncs that directory once for every file in its batch.
    pub async fn commit(self) -> Result<Durable, SpoolError> {
        self.commit_to(Edit::default(), Destination::Active).await
    }

    /// [`SpoolWriter::commit`] after applying `edit`, into `dest`.
    pub async fn commit_to(self, edit: Edit, dest: Destination) -> Result<Durable, SpoolError> {
        let (file, unsynced) = self.written(&edit, dest)?;
        let path = unsynced.writer.path.clone();
        tokio::task::spawn_blocking(move || file.sync_data().map_err(io_err("syncing", &path)))
            .await
            .map_err(|_| SpoolError::CommitterGone)??;
        unsynced.commit().await
    }

    /// The first half of [`SpoolWriter::commit_to`], for a thread that may block (the
    /// end-of-data checks' own): the edit applied, the file written out and its data
    /// fsync'd. [`Prepared::commit`] hands it to the committer; a `Prepared` dropped
    /// before that removes the file, as a writer does.
    pub fn prepare(self, edit: &Edit, dest: Destination) -> Result<Prepared, SpoolError> {
        let (file, prepared) = self.written(edit, dest)?;
        file.sync_data()
            .map_err(io_err("syncing", &prepared.writer.path))?;
        Ok(prepared)
    }

    /// The edit applied and everything written; the file (to sync) and what commits it.
    fn written(mut self, edit: &Edit, dest: Destination) -> Result<(File, Prepared), SpoolError> {
        self.apply(edit)?;
        let held = match dest {
            Destination::Active => self.kept_for_delivery(),
            Destination::Quarantine => None,
        };
        self.flush_buffer()?;
        let file = self.file.take().ok_or(SpoolError::CommitterGone)?;
        let prepared = Prepared {
            writer: self,
            dest,
            held,
        };
        Ok((file, prepared))
    }
}

/// A message written out and fsync'd, not yet committed ([`SpoolWriter::prepare`]).
pub struct Prepared {
    writer: SpoolWriter,
    dest: Destination,
    held: Option<SpooledMessage>,
}

impl Prepared {
    /// The committer links it where it goes and fsyncs the directory: the proof.
    pub async fn commit(mut self) -> Result<Durable, SpoolError> {
        let (done, wait) = oneshot::channel();
        let id = self.writer.id;
        self.writer
            .committer
            .send(CommitRequest {
                id,
                dest: self.dest,
                held: self.held.take(),
                done,
            })
            .map_err(|_| SpoolError::CommitterGone)?;
        // From here the committer owns the file; don't remove it on drop.
        self.writer.path = PathBuf::new();
        wait.await.map_err(|_| SpoolError::CommitterGone)??;
        Ok(Durable { id })
    }
}

impl SpoolWriter {
    /// The whole file is still in the buffer: a copy of the message (trace headers
    /// included) for its first delivery, if the budget has room for it.
    fn kept_for_delivery(&mut self) -> Option<SpooledMessage> {
        let first = self.first_delivery.take()?;
        if self.flushed {
            return None;
        }
        let bytes = self.buffer.get(first.header_len..)?.to_vec();
        let kib = u32::try_from(bytes.len() / 1024 + 1).ok()?;
        let budget = first.budget.try_acquire_many_owned(kib).ok()?;
        let held = Held {
            bytes,
            _budget: Some(budget),
        };
        Some(SpooledMessage::kept(
            self.id,
            first.arrived,
            first.envelope,
            first.active,
            first.header_len as u64,
            held,
        ))
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

/// Appends `message` without the `remove` ranges (sorted, clamped to the message).
pub fn copy_kept(message: &[u8], remove: &[Range<usize>], out: &mut Vec<u8>) {
    let mut pos = 0;
    for r in remove {
        let (start, end) = (r.start.min(message.len()), r.end.min(message.len()));
        if start >= pos {
            out.extend_from_slice(&message[pos..start]);
            pos = end;
        }
    }
    out.extend_from_slice(&message[pos..]);
}

/// Moves a spool file into place unless a file of that name is there already (a
/// `rename` would silently replace an acknowledged message): link, then unlink.
/// [`crate::activate`] (the CLI) links the same way, with its status row in between.
fn commit_no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::hard_link(from, to)?;
    std::fs::remove_file(from)
}

/// The group committer: one directory fsync per batch of renames (per destination).
async fn committer(
    mut rx: mpsc::UnboundedReceiver<CommitRequest>,
    incoming: PathBuf,
    dirs: [PathBuf; 2],
    committed: mpsc::UnboundedSender<Committed>,
) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 1024).await > 0 {
        let requests = std::mem::take(&mut batch);
        let (inc, dirs2) = (incoming.clone(), dirs.clone());
        let jobs: Vec<(QueueId, Destination)> = requests.iter().map(|r| (r.id, r.dest)).collect();
        let results = tokio::task::spawn_blocking(move || {
            let dir_of = |d: Destination| match d {
                Destination::Active => &dirs2[0],
                Destination::Quarantine => &dirs2[1],
            };
            let renamed: Vec<Result<(), SpoolError>> = jobs
                .iter()
                .map(|(id, dest)| {
                    let from = inc.join(id.to_string());
                    commit_no_replace(&from, &dir_of(*dest).join(id.to_string()))
                        .map_err(io_err("committing", &from))
                })
                .collect();
            // RFC-less but essential: without this fsync a crash can forget the rename.
            let mut synced = [None, None];
            for (i, d) in [Destination::Active, Destination::Quarantine]
                .into_iter()
                .enumerate()
            {
                if jobs.iter().any(|(_, dest)| *dest == d) {
                    synced[i] = sync_dir(dir_of(d)).err().map(|e| e.to_string());
                }
            }
            renamed
                .into_iter()
                .zip(&jobs)
                .map(|(r, (_, dest))| {
                    let i = usize::from(*dest == Destination::Quarantine);
                    match (&synced[i], r) {
                        (None, r) => r,
                        (Some(msg), _) => Err(SpoolError::Io {
                            context: "syncing directory",
                            path: dir_of(*dest).clone(),
                            source: std::io::Error::other(msg.clone()),
                        }),
                    }
                })
                .collect::<Vec<_>>()
        })
        .await;
        let Ok(results) = results else {
            // The blocking task panicked: tell nobody 250; their files stay in incoming/
            // and are removed at the next start.
            continue;
        };
        metrics::histogram!("palisade_spool_commit_batch_size").record(requests.len() as f64);
        for (req, result) in requests.into_iter().zip(results) {
            if result.is_ok() && req.dest == Destination::Active {
                let _ = committed.send(Committed {
                    id: req.id,
                    held: req.held,
                });
            }
            let _ = req.done.send(result);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::SpooledMessage;
    use palisade_types::{Address, BodyType};

    fn envelope() -> Envelope {
        Envelope {
            mail_from: Some(Address::parse("a@remote.test").unwrap()),
            rcpt_to: vec![Address::parse("b@local.test").unwrap()],
            body: BodyType::SevenBit,
            smtputf8: false,
            declared_size: None,
            helo: "client.test".into(),
            client_ip: "192.0.2.1".parse().unwrap(),
            tls: None,
            auth: None,
            require_tls: false,
        }
    }

    /// `prepare` on a thread that may block, then `commit`: the same file as
    /// `commit_to`; a prepared message dropped before its commit leaves nothing behind.
    #[tokio::test]
    async fn a_prepared_message_commits_or_goes() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let spool = Spool::open(dir.path(), tx).unwrap();
        let incoming = dir.path().join("incoming");
        let files = |d: &Path| std::fs::read_dir(d).map_or(0, |r| r.count());
        let edit = Edit {
            prepend: b"X-Added: yes\r\n".to_vec(),
            ..Edit::default()
        };
        for commit in [true, false] {
            let mut w = spool.create(&envelope(), 1, |_| Vec::new()).unwrap();
            w.append(b"Subject: hi\r\n\r\nbody\r\n").unwrap();
            let prepared = tokio::task::spawn_blocking({
                let edit = edit.clone();
                move || w.prepare(&edit, Destination::Active)
            })
            .await
            .unwrap()
            .unwrap();
            assert_eq!(files(&incoming), 1, "written out, not yet committed");
            if !commit {
                drop(prepared);
                assert_eq!(files(&incoming), 0, "dropped before its commit: gone");
                continue;
            }
            let id = prepared.commit().await.unwrap().id();
            assert_eq!(rx.recv().await.unwrap().id, id);
            let path = Spool::active_dir(dir.path()).join(id.to_string());
            let stored = SpooledMessage::open(&path, id)
                .unwrap()
                .read_message()
                .unwrap();
            assert!(
                stored.starts_with(b"X-Added: yes\r\nSubject: hi"),
                "{stored:?}"
            );
        }
        assert_eq!(files(&Spool::active_dir(dir.path())), 1);
    }

    /// Writes `message` (in pieces), commits it with `edit` into `dest`, reads it back.
    async fn round_trip(message: &[u8], edit: Edit, dest: Destination) -> (Vec<u8>, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let spool = Spool::open(dir.path(), tx).unwrap();
        let mut w = spool
            .create(&envelope(), 1, |_| b"Received: by us\r\n".to_vec())
            .unwrap();
        for chunk in message.chunks(100_000) {
            w.append(chunk).unwrap();
        }
        let seen = w.read_message().unwrap();
        let id = w.commit_to(edit, dest).await.unwrap().id();
        let mut held = None;
        let path = match dest {
            Destination::Active => {
                let committed = rx.recv().await.unwrap();
                assert_eq!(committed.id, id);
                held = committed.held;
                Spool::active_dir(dir.path())
            }
            Destination::Quarantine => {
                assert!(rx.try_recv().is_err(), "quarantined mail is not scheduled");
                assert_eq!(Spool::list_quarantine(dir.path()).unwrap(), vec![id]);
                Spool::quarantine_dir(dir.path())
            }
        };
        let on_disk = SpooledMessage::open(&path.join(id.to_string()), id).unwrap();
        let stored = on_disk.read_message().unwrap();
        match held {
            // Kept for the first delivery: exactly what the file holds, envelope too.
            Some(h) => {
                assert!(h.is_held() && message.len() < WRITE_THRESHOLD);
                assert_eq!(h.read_message().unwrap(), stored);
                let mut read = Vec::new();
                h.message_reader().unwrap().read_to_end(&mut read).unwrap();
                assert_eq!(read, stored);
                assert_eq!(
                    (h.path, h.body_offset, h.size),
                    (on_disk.path, on_disk.body_offset, on_disk.size)
                );
                assert_eq!(
                    (h.arrived, h.envelope.rcpt_to),
                    (on_disk.arrived, on_disk.envelope.rcpt_to)
                );
            }
            None if dest == Destination::Active => {
                assert!(message.len() >= WRITE_THRESHOLD, "a small message is kept");
            }
            None => {}
        }
        (seen, stored)
    }

    /// A committed message is never replaced: if its id's file appeared in `active/`
    /// meanwhile (another process, the same second), the commit fails (the client gets
    /// a 4xx and sends again) and the file that was there is untouched.
    #[tokio::test]
    async fn a_commit_never_replaces_a_committed_message() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, _rx) = mpsc::unbounded_channel();
        let spool = Spool::open(dir.path(), tx).unwrap();
        let mut w = spool.create(&envelope(), 1, |_| Vec::new()).unwrap();
        w.append(b"Subject: second\r\n\r\nx\r\n").unwrap();
        let taken = spool.active_path(w.id());
        std::fs::write(&taken, b"the first message").unwrap();
        assert!(w.commit().await.is_err());
        assert_eq!(std::fs::read(&taken).unwrap(), b"the first message");
        // And a new message does not take an id whose file exists.
        for _ in 0..1000 {
            let w = spool.create(&envelope(), 1, |_| Vec::new()).unwrap();
            assert!(!spool.active_path(w.id()).exists());
        }
    }

    /// Issue 15, Medium 5: a transfer without budgeted memory holds no more than the
    /// small threshold; the rest is on disk, and the message reads back whole.
    #[tokio::test]
    async fn a_lowered_write_threshold_keeps_the_buffer_small() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, _rx) = mpsc::unbounded_channel();
        let spool = Spool::open(dir.path(), tx).unwrap();
        let mut w = spool.create(&envelope(), 1, |_| Vec::new()).unwrap();
        w.set_write_threshold(SMALL_WRITE_THRESHOLD);
        let line = [b'x'; 1000];
        let mut sent = Vec::new();
        for _ in 0..100 {
            w.append(&line).unwrap();
            sent.extend_from_slice(&line);
            assert!(w.buffer.len() < SMALL_WRITE_THRESHOLD);
        }
        let on_disk = std::fs::metadata(&w.path).unwrap().len();
        assert!(
            on_disk >= (100_000 - SMALL_WRITE_THRESHOLD) as u64,
            "{on_disk}"
        );
        assert_eq!(w.read_message().unwrap(), sent);
    }

    fn edit_for(message: &[u8]) -> Edit {
        let forged = b"Authentication-Results: us; spf=pass\r\n";
        let start = message
            .windows(forged.len())
            .position(|w| w == forged)
            .unwrap();
        Edit {
            prepend: b"Authentication-Results: us; dmarc=fail\r\n".to_vec(),
            remove: std::iter::once(start..start + forged.len()).collect(),
            replace: None,
        }
    }

    #[tokio::test]
    async fn quarantine_retention() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, _rx) = mpsc::unbounded_channel();
        let spool = Spool::open(dir.path(), tx).unwrap();
        let mut ids = Vec::new();
        for arrived in [1_000, 5_000] {
            let mut w = spool.create(&envelope(), arrived, |_| Vec::new()).unwrap();
            w.append(b"Subject: held\r\n\r\nx\r\n").unwrap();
            ids.push(
                w.commit_to(Edit::default(), Destination::Quarantine)
                    .await
                    .unwrap()
                    .id(),
            );
        }
        assert_eq!(
            Spool::expire_quarantine(dir.path(), 2_000).unwrap(),
            vec![ids[0]]
        );
        assert_eq!(Spool::list_quarantine(dir.path()).unwrap(), vec![ids[1]]);
        assert!(
            Spool::expire_quarantine(dir.path(), 2_000)
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_replacement_message_small_and_large() {
        for size in [10, 600_000] {
            let mut msg = b"Subject: a\r\n\r\n".to_vec();
            msg.extend(std::iter::repeat_n(b'x', size));
            let mut replacement = b"Subject: [TAGGED] a\r\n\r\nBANNER\r\n".to_vec();
            replacement.extend(std::iter::repeat_n(b'y', size));
            let edit = Edit {
                prepend: b"X-Palisade-Verdict: tag\r\n".to_vec(),
                remove: std::iter::once(0..5).collect(),
                replace: Some(replacement.clone()),
            };
            let (_, stored) = round_trip(&msg, edit, Destination::Active).await;
            let mut want = b"Received: by us\r\nX-Palisade-Verdict: tag\r\n".to_vec();
            want.extend_from_slice(&replacement);
            assert!(stored == want, "size {size}");
        }
    }

    #[tokio::test]
    async fn small_message_edits_apply_in_memory() {
        let msg = b"Subject: a\r\nAuthentication-Results: us; spf=pass\r\n\r\nbody\r\n";
        let (seen, stored) = round_trip(msg, edit_for(msg), Destination::Active).await;
        assert_eq!(seen, msg);
        assert_eq!(
            stored,
            b"Received: by us\r\nAuthentication-Results: us; dmarc=fail\r\nSubject: a\r\n\r\nbody\r\n"
        );
    }

    #[tokio::test]
    async fn large_message_edits_rewrite_the_file() {
        let mut msg = b"Subject: a\r\nAuthentication-Results: us; spf=pass\r\n\r\n".to_vec();
        msg.extend(std::iter::repeat_n(b'x', 600_000));
        msg.extend_from_slice(b"\r\n");
        let (seen, stored) = round_trip(&msg, edit_for(&msg), Destination::Quarantine).await;
        assert_eq!(seen, msg);
        let mut want =
            b"Received: by us\r\nAuthentication-Results: us; dmarc=fail\r\nSubject: a\r\n\r\n"
                .to_vec();
        want.extend(std::iter::repeat_n(b'x', 600_000));
        want.extend_from_slice(b"\r\n");
        assert_eq!(stored.len(), want.len());
        assert!(stored == want);
    }

    #[test]
    fn copy_kept_ignores_out_of_range() {
        let mut out = Vec::new();
        copy_kept(b"abcdef", &[1..2, 4..100], &mut out);
        assert_eq!(out, b"acd");
    }
}
