//! Maildir delivery (the Maildir convention as D. J. Bernstein describes it, which
//! Dovecot and mutt read): write into `tmp/`, fsync the file, rename into `new/`,
//! fsync `new/`. The message is in `new/` whole or not at all.
//!
//! File names are deterministic per (queue id, recipient index) rather than made from
//! the delivery time and pid: if Palisade crashes after the rename but before the spool
//! file is removed, the retry finds the earlier copy and does not deliver it twice.

use palisade_types::{Address, QueueId};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// `root/<domain>/<local>` with both parts made safe as single path components.
pub fn mailbox_dir(root: &Path, mailbox: &Address) -> PathBuf {
    root.join(safe_component(mailbox.domain().as_str()))
        .join(safe_component(&mailbox.local().to_ascii_lowercase()))
}

/// Escapes everything but `[A-Za-z0-9._+-]` (and a leading dot) as `%XX`, so a local
/// part like `../x` or `a/b` cannot leave the mail root.
pub fn safe_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, b) in s.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric() || b"_+-".contains(&b) || (b == b'.' && i > 0);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `<arrival>.Q<queue id>R<index>.<host>`; `/` and `:` in the host are escaped as the
/// convention asks (`\057`, `\072`).
pub fn unique_name(id: QueueId, arrived: i64, index: usize, hostname: &str) -> String {
    let host = hostname.replace('/', "\\057").replace(':', "\\072");
    format!("{arrived}.Q{id}R{index}.{host}")
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Group fsync of a directory: concurrent deliveries into the same `new/` share one
/// fsync instead of paying one each (the directory fsync is what makes a rename durable).
///
/// Each caller takes a ticket *after* its rename. An fsync that starts when the next
/// ticket is `T` covers every ticket below `T`, so a caller whose ticket is below the
/// last completed sync's `T` is done without an fsync of its own.
#[derive(Default)]
struct DirSync {
    state: Mutex<DirSyncState>,
    done: Condvar,
}

#[derive(Default)]
struct DirSyncState {
    next_ticket: u64,
    /// Every ticket below this is durable.
    durable_below: u64,
    running: bool,
}

impl DirSync {
    fn for_dir(dir: &Path) -> Arc<DirSync> {
        static ALL: OnceLock<Mutex<HashMap<PathBuf, Arc<DirSync>>>> = OnceLock::new();
        let mut all = ALL
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if all.len() > 10_000 {
            // Bounded: forgetting a syncer only costs a missed coalescing opportunity.
            all.retain(|_, s| Arc::strong_count(s) > 1);
        }
        all.entry(dir.to_path_buf()).or_default().clone()
    }

    fn sync(&self, dir: &Path) -> std::io::Result<()> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let ticket = st.next_ticket;
        st.next_ticket += 1;
        loop {
            if ticket < st.durable_below {
                return Ok(());
            }
            if !st.running {
                st.running = true;
                let covers = st.next_ticket;
                drop(st);
                let result = sync_dir(dir);
                st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                st.running = false;
                if result.is_ok() {
                    st.durable_below = st.durable_below.max(covers);
                }
                self.done.notify_all();
                result?;
                continue;
            }
            st = self.done.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// True if a copy named `name` is already in `new/` or (read, flagged) in `cur/`.
fn already_delivered(dir: &Path, name: &str) -> std::io::Result<bool> {
    if dir.join("new").join(name).exists() {
        return Ok(true);
    }
    let cur = dir.join("cur");
    let prefix = format!("{name}:");
    match std::fs::read_dir(&cur) {
        Ok(entries) => {
            for e in entries {
                let n = e?.file_name();
                let n = n.to_string_lossy();
                if n == name || n.starts_with(&prefix) {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Creates `tmp`, `new`, `cur` if missing, making the new directories durable.
fn ensure_maildir(dir: &Path) -> std::io::Result<()> {
    if dir.join("new").is_dir() && dir.join("tmp").is_dir() && dir.join("cur").is_dir() {
        return Ok(());
    }
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    // The user's mail: only the server's user (and the mail reader running as it) may
    // enter the mailbox.
    for d in [
        dir.to_path_buf(),
        dir.join("tmp"),
        dir.join("new"),
        dir.join("cur"),
    ] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700))?;
    }
    sync_dir(dir)?;
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Delivers one message. With `check_existing`, a copy already delivered under the same
/// name counts as success (idempotent retry).
pub fn deliver(
    dir: &Path,
    name: &str,
    mut message: impl Read,
    check_existing: bool,
) -> std::io::Result<()> {
    ensure_maildir(dir)?;
    if check_existing && already_delivered(dir, name)? {
        return Ok(());
    }
    let tmp = dir.join("tmp").join(name);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = message.read(&mut buf)?;
            if n == 0 {
                break;
            }
            f.write_all(&buf[..n])?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join("new").join(name))?;
        let new = dir.join("new");
        DirSync::for_dir(&new).sync(&new)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn concurrent_deliveries_share_directory_syncs() {
        let root = tempfile::tempdir().unwrap();
        let mb = mailbox_dir(root.path(), &Address::parse("bob@example.test").unwrap());
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let mb = mb.clone();
                std::thread::spawn(move || {
                    let name = unique_name(QueueId::generate(), 1, i, "h");
                    deliver(&mb, &name, &b"x\r\n"[..], false).unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(std::fs::read_dir(mb.join("new")).unwrap().count(), 8);
        let s = DirSync::for_dir(&mb.join("new"));
        let st = s.state.lock().unwrap();
        assert_eq!(st.next_ticket, 8);
        assert!(
            st.durable_below >= 8,
            "every ticket is covered by a completed sync"
        );
    }

    #[test]
    fn path_components_cannot_escape() {
        assert_eq!(safe_component("alice"), "alice");
        assert_eq!(safe_component("../etc"), "%2E.%2Fetc");
        assert_eq!(safe_component("a/b"), "a%2Fb");
        assert_eq!(safe_component(".hidden"), "%2Ehidden");
        assert_eq!(safe_component("ünï"), "%C3%BCn%C3%AF");
    }

    #[test]
    fn delivers_into_new_and_is_idempotent() {
        let root = tempfile::tempdir().unwrap();
        let mb = mailbox_dir(root.path(), &Address::parse("Alice@Example.test").unwrap());
        let id = QueueId::parse("0123456789abcdef").unwrap();
        let name = unique_name(id, 1_700_000_000, 0, "mx:1/x");
        assert_eq!(name, "1700000000.Q0123456789abcdefR0.mx\\0721\\057x");
        deliver(&mb, &name, &b"Subject: a\r\n\r\nb\r\n"[..], false).unwrap();
        assert_eq!(
            std::fs::read(mb.join("new").join(&name)).unwrap(),
            b"Subject: a\r\n\r\nb\r\n"
        );
        assert!(mb.ends_with("example.test/alice"));
        // Only the server's user may read a user's mail.
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&mb), 0o700);
        assert_eq!(mode(&mb.join("new")), 0o700);
        assert_eq!(mode(&mb.join("new").join(&name)), 0o600);
        // The reader moved it to cur/ with flags; a retry must not deliver again.
        std::fs::rename(
            mb.join("new").join(&name),
            mb.join("cur").join(format!("{name}:2,S")),
        )
        .unwrap();
        deliver(&mb, &name, &b"other"[..], true).unwrap();
        assert_eq!(std::fs::read_dir(mb.join("new")).unwrap().count(), 0);
        assert_eq!(std::fs::read_dir(mb.join("tmp")).unwrap().count(), 0);
    }
}
