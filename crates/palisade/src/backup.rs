//! `palisade backup DIR` and `palisade restore DIR` (issue 17): a snapshot of the data
//! directory taken while the server runs, restorable on a fresh machine.
//!
//! What is in it: the store (a consistent `VACUUM INTO` copy), the configuration, the
//! key that seals users' signing keys, the TLS files, the queue (active and
//! quarantined messages) and the Maildirs. Messages still being received
//! (`queue/incoming`) and the lock file are left out.
//!
//! Secrets are never written in clear: the store (it holds DKIM private keys and
//! password hashes), the configuration, the sealing key, everything under `tls/` and the
//! ACME account key (`acme/`)
//! are sealed with AES-256-GCM under a key derived from the administrator's passphrase
//! by Argon2id (64 MiB, 3 passes; a fresh salt per backup). Each sealed file's name is
//! its associated data, so a sealed file cannot be passed off as another. Messages are
//! copied as they are, as the data directory holds them. `manifest.json` is written
//! last: a backup without one is incomplete. It lists every file with its SHA-256,
//! which `restore` checks; its own SHA-256 is sealed (`manifest.sealed`), so the
//! passphrase vouches for every file, messages included.

use crate::commands::Paths;
use crate::usage;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};

/// The format `restore` reads; a newer one is refused.
const FORMAT: u32 = 1;
/// Argon2id cost (RFC 9106 §4's second recommendation, with a 64 MiB memory size).
const KDF_MEMORY_KIB: u32 = 64 * 1024;
const KDF_PASSES: u32 = 3;
/// The sealed digest of `manifest.json`.
const MANIFEST_SEAL: &str = "manifest.sealed";
/// A passphrase shorter than this is refused.
const MIN_PASSPHRASE: usize = 12;
/// The store's snapshot while it is being sealed (in the data directory, beside the
/// store it copies: no new place holds it in clear).
const SNAPSHOT: &str = "palisade.db.backup";

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    created: i64,
    /// Argon2id salt (hex) and cost.
    salt: String,
    memory_kib: u32,
    passes: u32,
    files: Vec<Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    /// Relative to the data directory, `/`-separated.
    path: String,
    sealed: bool,
    /// SHA-256 of the file's contents (hex).
    sha256: String,
}

/// Whether the file at `rel` (relative to the data directory) holds secrets.
fn is_secret(rel: &str) -> bool {
    matches!(
        rel,
        "palisade.db" | "palisade.toml" | palisade_config::SECRET_KEY_FILE | "signing-keys.secret"
    ) || rel.starts_with("tls/")
        || rel.starts_with("acme/")
}

/// Files of the data directory a backup leaves out: the live store (its snapshot goes
/// in instead), the lock, messages still arriving.
fn left_out(rel: &str) -> bool {
    rel.starts_with("palisade.db") || rel == "palisade.lock" || rel.starts_with("queue/incoming/")
}

pub async fn backup(paths: &Paths, dir: &Path, passphrase: &str) -> anyhow::Result<()> {
    check_passphrase(passphrase)?;
    if paths.store_config()? != palisade_config::StoreConfig::Embedded {
        return Err(usage(
            "the store is on PostgreSQL ([store] url or PALISADE_STORE_URL): back it up with \
             pg_dump; `palisade backup` copies the embedded store with the data directory",
        ));
    }
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        return Err(usage(format!("{} is not empty", dir.display())));
    }
    if !paths.store_path().exists() {
        return Err(usage(format!("no store in {}", paths.data.display())));
    }
    create_private_dir(dir)?;
    let salt = random::<16>()?;
    let key = derive(passphrase, &salt, KDF_MEMORY_KIB, KDF_PASSES)?;
    let mut files = Vec::new();
    let snapshot = paths.data.join(SNAPSHOT);
    let _ = std::fs::remove_file(&snapshot);
    // Owner-only from the start: VACUUM INTO fills an empty file it is given.
    write_durably(&snapshot, b"")?;
    paths.sqlite_store().await?.snapshot(&snapshot).await?;
    let db = std::fs::read(&snapshot);
    let _ = std::fs::remove_file(&snapshot);
    files.push(put(dir, "palisade.db", &db?, &key)?);
    for rel in walk(&paths.data)? {
        if left_out(&rel) {
            continue;
        }
        // A message delivered or deleted meanwhile is simply not in this backup.
        match std::fs::read(paths.data.join(&rel)) {
            Ok(bytes) => files.push(put(dir, &rel, &bytes, &key)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let manifest = Manifest {
        format: FORMAT,
        created: palisade_queue::now_secs(),
        salt: hex::encode(salt),
        memory_kib: KDF_MEMORY_KIB,
        passes: KDF_PASSES,
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest)?;
    // The manifest's digest, sealed: it vouches for every file's SHA-256 under the
    // passphrase, so nothing in the backup can be swapped unnoticed.
    write_durably(
        &dir.join(MANIFEST_SEAL),
        &seal(&key, "manifest.json", &sha256(&json))?,
    )?;
    write_durably(&dir.join("manifest.json"), &json)?;
    let sealed = manifest.files.iter().filter(|f| f.sealed).count();
    println!(
        "backed up {} files to {} ({sealed} sealed under the passphrase)",
        manifest.files.len(),
        dir.display()
    );
    Ok(())
}

pub fn restore(paths: &Paths, dir: &Path, passphrase: &str) -> anyhow::Result<()> {
    let text = std::fs::read(dir.join("manifest.json")).map_err(|e| {
        usage(format!(
            "{}: no manifest.json ({e}): not a complete backup",
            dir.display()
        ))
    })?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| usage(format!("{}/manifest.json: {e}", dir.display())))?;
    if manifest.format != FORMAT {
        return Err(usage(format!(
            "backup format {} is not {FORMAT}",
            manifest.format
        )));
    }
    if paths.data.exists() && std::fs::read_dir(&paths.data)?.next().is_some() {
        return Err(usage(format!(
            "{} is not empty: restore into a new data directory",
            paths.data.display()
        )));
    }
    let salt = hex::decode(&manifest.salt).map_err(|_| usage("manifest.json: bad salt"))?;
    let key = derive(passphrase, &salt, manifest.memory_kib, manifest.passes)?;
    check_manifest(dir, &text, &manifest, &key)?;
    // Everything lands beside the data directory first and moves in at once: a wrong
    // passphrase or a damaged file leaves nothing half restored.
    let name = paths.data.file_name().unwrap_or_default().to_string_lossy();
    let staging = paths.data.with_file_name(format!(".{name}.restoring"));
    if staging.exists() {
        return Err(usage(format!(
            "{} exists: an earlier restore stopped; remove it",
            staging.display()
        )));
    }
    create_private_dir(&staging)?;
    let result = unpack(dir, &manifest, &key, &staging).and_then(|()| {
        std::fs::rename(&staging, &paths.data)
            .map_err(|e| usage(format!("{}: {e}", paths.data.display())))
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result?;
    println!(
        "restored {} files into {}",
        manifest.files.len(),
        paths.data.display()
    );
    Ok(())
}

/// The manifest is the one this passphrase sealed, and every secret file in it is
/// sealed: an altered list, hash or flag is refused before anything is written.
fn check_manifest(
    dir: &Path,
    text: &[u8],
    manifest: &Manifest,
    key: &LessSafeKey,
) -> anyhow::Result<()> {
    let vouched = std::fs::read(dir.join(MANIFEST_SEAL))
        .ok()
        .and_then(|sealed| open(key, "manifest.json", sealed));
    if vouched.as_deref() != Some(sha256(text).as_slice()) {
        return Err(usage(
            "manifest.json: wrong passphrase, or the backup was altered",
        ));
    }
    match manifest
        .files
        .iter()
        .find(|f| f.sealed != is_secret(&f.path))
    {
        Some(f) => Err(usage(format!(
            "manifest.json: {} is not sealed as it must be",
            f.path
        ))),
        None => Ok(()),
    }
}

/// Every file of `manifest` from `dir` into `to`, each checked against its SHA-256.
fn unpack(dir: &Path, manifest: &Manifest, key: &LessSafeKey, to: &Path) -> anyhow::Result<()> {
    for f in &manifest.files {
        let rel = safe_relative(&f.path)?;
        let bytes = get(dir, f, key)?;
        if hex::encode(sha256(&bytes)) != f.sha256 {
            return Err(usage(format!("{}: damaged (its SHA-256 differs)", f.path)));
        }
        let path = to.join(rel);
        if let Some(parent) = path.parent() {
            create_private_dir(parent)?;
        }
        write_durably(&path, &bytes)?;
    }
    Ok(())
}

/// Writes one file of the backup: sealed when secret, else as it is.
fn put(dir: &Path, rel: &str, bytes: &[u8], key: &LessSafeKey) -> anyhow::Result<Entry> {
    let sealed = is_secret(rel);
    let (to, data) = if sealed {
        (
            dir.join("sealed").join(format!("{rel}.sealed")),
            seal(key, rel, bytes)?,
        )
    } else {
        (dir.join("data").join(rel), bytes.to_vec())
    };
    if let Some(parent) = to.parent() {
        create_private_dir(parent)?;
    }
    write_durably(&to, &data)?;
    Ok(Entry {
        path: rel.to_string(),
        sealed,
        sha256: hex::encode(sha256(bytes)),
    })
}

/// Reads one file of the backup, opening it when sealed.
fn get(dir: &Path, f: &Entry, key: &LessSafeKey) -> anyhow::Result<Vec<u8>> {
    if !f.sealed {
        return Ok(std::fs::read(dir.join("data").join(&f.path))?);
    }
    let data = std::fs::read(dir.join("sealed").join(format!("{}.sealed", f.path)))?;
    open(key, &f.path, data).ok_or_else(|| {
        usage(format!(
            "{}: wrong passphrase, or the backup is damaged",
            f.path
        ))
    })
}

fn seal(key: &LessSafeKey, name: &str, plain: &[u8]) -> anyhow::Result<Vec<u8>> {
    let nonce = random::<NONCE_LEN>()?;
    let mut out = plain.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(name.as_bytes()),
        &mut out,
    )
    .map_err(|_| anyhow::anyhow!("sealing {name}"))?;
    let mut sealed = nonce.to_vec();
    sealed.append(&mut out);
    Ok(sealed)
}

fn open(key: &LessSafeKey, name: &str, sealed: Vec<u8>) -> Option<Vec<u8>> {
    let nonce: [u8; NONCE_LEN] = sealed.get(..NONCE_LEN)?.try_into().ok()?;
    let mut body = sealed.get(NONCE_LEN..)?.to_vec();
    let plain = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(name.as_bytes()),
            &mut body,
        )
        .ok()?;
    Some(plain.to_vec())
}

/// The AES-256-GCM key: Argon2id of the passphrase (RFC 9106).
fn derive(
    passphrase: &str,
    salt: &[u8],
    memory_kib: u32,
    passes: u32,
) -> anyhow::Result<LessSafeKey> {
    use argon2::{Algorithm, Argon2, Params, Version};
    // Bounds on what a manifest may ask for: never more than 1 GiB or 10 passes.
    if !(8..=1024 * 1024).contains(&memory_kib) || !(1..=10).contains(&passes) {
        return Err(usage("manifest.json: key derivation cost out of range"));
    }
    let params = Params::new(memory_kib, passes, 1, Some(32))
        .map_err(|e| anyhow::anyhow!("Argon2id parameters: {e}"))?;
    let mut key = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, &mut key)
        .map_err(|e| anyhow::anyhow!("Argon2id: {e}"))?;
    let unbound =
        UnboundKey::new(&AES_256_GCM, &key).map_err(|_| anyhow::anyhow!("AES-256-GCM key"))?;
    Ok(LessSafeKey::new(unbound))
}

fn check_passphrase(p: &str) -> anyhow::Result<()> {
    if p.chars().count() < MIN_PASSPHRASE {
        return Err(usage(format!(
            "the passphrase must have at least {MIN_PASSPHRASE} characters"
        )));
    }
    Ok(())
}

/// Every file under `root`, relative and `/`-separated, sorted; symbolic links are not
/// followed (a link out of the data directory is not the server's to copy).
fn walk(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(rel) = dirs.pop() {
        for entry in std::fs::read_dir(root.join(&rel))? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let name = rel.join(entry.file_name());
            if kind.is_dir() {
                dirs.push(name);
            } else if kind.is_file() {
                out.push(name.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A manifest path as a relative path that stays inside the data directory.
fn safe_relative(p: &str) -> anyhow::Result<&Path> {
    let path = Path::new(p);
    let normal = path.components().all(|c| matches!(c, Component::Normal(_)));
    if p.is_empty() || !normal {
        return Err(usage(format!("manifest.json: unsafe path {p:?}")));
    }
    Ok(path)
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| usage(format!("{}: {e}", dir.display())))
}

/// Owner-only, on disk before it counts.
fn write_durably(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| usage(format!("{}: {e}", path.display())))?;
    f.write_all(data)?;
    f.sync_all()?;
    Ok(())
}

fn random<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut b = [0u8; N];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| anyhow::anyhow!("no randomness"))?;
    Ok(b)
}

fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sealed_files_open_only_with_their_name_and_key() {
        let key = derive("correct horse battery", b"0123456789abcdef", 64, 1).unwrap();
        let other = derive("another passphrase!", b"0123456789abcdef", 64, 1).unwrap();
        let sealed = seal(&key, "palisade.toml", b"secret").unwrap();
        assert_eq!(
            open(&key, "palisade.toml", sealed.clone()).unwrap(),
            b"secret"
        );
        assert!(
            open(&key, "tls/key.pem", sealed.clone()).is_none(),
            "another name"
        );
        assert!(
            open(&other, "palisade.toml", sealed.clone()).is_none(),
            "another key"
        );
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(open(&key, "palisade.toml", flipped).is_none(), "tampered");
        assert!(
            open(&key, "palisade.toml", sealed[..5].to_vec()).is_none(),
            "truncated"
        );
    }

    #[test]
    fn what_is_secret_and_what_is_left_out() {
        for s in [
            "palisade.db",
            "palisade.toml",
            "signing-keys.secret",
            "secret.key",
            "tls/self-signed-key.pem",
            "tls/acme-key.pem",
            "acme/account.json",
        ] {
            assert!(is_secret(s), "{s}");
        }
        for s in ["mail/example.com/a/new/1", "queue/active/00ab"] {
            assert!(!is_secret(s), "{s}");
        }
        for s in ["palisade.db-wal", "palisade.lock", "queue/incoming/x"] {
            assert!(left_out(s), "{s}");
        }
        for s in ["../etc/passwd", "/etc/passwd", "mail/../../x", ""] {
            assert!(safe_relative(s).is_err(), "{s}");
        }
    }
}
