//! The spool file format.
//!
//! ```text
//! PALISADE-SPOOL 1
//! arrived 1764331200
//! from alice@example.org            (empty value for the null path)
//! rcpt bob@example.com              (one line per recipient)
//! body 8bitmime | 7bit
//! smtputf8 0 | 1
//! helo client.example.org
//! ip 192.0.2.1
//! tls TLSv1_3 TLS13_AES_256_GCM_SHA384   (absent without TLS)
//! auth alice@example.com            (the SMTP AUTH identity; absent when none)
//! requiretls 1                      (MAIL FROM ... REQUIRETLS, RFC 8689; absent otherwise)
//!                                   (blank line)
//! <message: trace headers, then the bytes the client sent>
//! ```
//!
//! Values never contain CR or LF: addresses and the HELO name are validated by the
//! session before they reach the spool, and [`write_header`] refuses them anyway.

use palisade_types::{Address, BodyType, Envelope, QueueId, TlsInfo};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::OwnedSemaphorePermit;

const MAGIC: &str = "PALISADE-SPOOL 1";
/// A header larger than this is corrupt (recipients are bounded by config well below).
const MAX_HEADER: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SpoolFileError {
    #[error("spool file {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("spool file {path} is corrupt: {problem}")]
    Corrupt { path: PathBuf, problem: String },
}

/// A committed message as read back from `queue/active/`, or as the committer kept it.
#[derive(Debug, Clone)]
pub struct SpooledMessage {
    pub id: QueueId,
    pub arrived: i64,
    pub envelope: Envelope,
    pub path: PathBuf,
    /// Offset of the first message byte.
    pub body_offset: u64,
    /// Message length in octets.
    pub size: u64,
    /// The message bytes (what the file holds after its header), kept in memory by the
    /// committer for its first delivery attempt: then nothing is read back from disk.
    held: Option<Arc<Held>>,
}

/// A message kept in memory, with its share of the budget that bounds such messages.
pub(crate) struct Held {
    pub bytes: Vec<u8>,
    pub _budget: Option<OwnedSemaphorePermit>,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Held({} octets)", self.bytes.len())
    }
}

/// Reads the held bytes of a [`SpooledMessage`].
struct HeldReader(Arc<Held>, usize);

impl Read for HeldReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let rest = self.0.bytes.get(self.1..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.1 += n;
        Ok(n)
    }
}

pub(crate) fn write_header(envelope: &Envelope, arrived: i64) -> Result<Vec<u8>, String> {
    // Defence in depth: a value with a line break would forge envelope lines.
    let line = |key: &str, value: &str| {
        if value.contains(['\r', '\n']) {
            Err(format!("envelope {key} contains a line break"))
        } else {
            Ok(format!("{key} {value}\n"))
        }
    };
    let mut h = format!("{MAGIC}\narrived {arrived}\n");
    let from = envelope
        .mail_from
        .as_ref()
        .map(|a| a.to_string())
        .unwrap_or_default();
    h.push_str(&line("from", &from)?);
    for r in &envelope.rcpt_to {
        h.push_str(&line("rcpt", &r.to_string())?);
    }
    let body = match envelope.body {
        BodyType::SevenBit => "7bit",
        BodyType::EightBitMime => "8bitmime",
    };
    h.push_str(&format!(
        "body {body}\nsmtputf8 {}\n",
        u8::from(envelope.smtputf8)
    ));
    h.push_str(&line("helo", &envelope.helo)?);
    h.push_str(&format!("ip {}\n", envelope.client_ip));
    if let Some(t) = &envelope.tls {
        h.push_str(&line("tls", &format!("{} {}", t.version, t.cipher))?);
    }
    if let Some(a) = &envelope.auth {
        h.push_str(&line("auth", a)?);
    }
    if envelope.require_tls {
        h.push_str("requiretls 1\n");
    }
    h.push('\n');
    Ok(h.into_bytes())
}

impl SpooledMessage {
    /// Reads the envelope of a committed spool file.
    pub fn open(path: &Path, id: QueueId) -> Result<SpooledMessage, SpoolFileError> {
        let io = |source| SpoolFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let corrupt = |problem: &str| SpoolFileError::Corrupt {
            path: path.to_path_buf(),
            problem: problem.to_string(),
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let total = file.metadata().map_err(io)?.len();
        let mut reader = BufReader::new(file.take(MAX_HEADER));
        let mut offset = 0u64;
        let mut line = String::new();
        let mut fields: Vec<(String, String)> = Vec::new();
        loop {
            line.clear();
            let n = reader.read_line(&mut line).map_err(io)?;
            if n == 0 {
                return Err(corrupt("no end of header"));
            }
            offset += n as u64;
            let l = line.trim_end_matches('\n');
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(' ').unwrap_or((l, ""));
            fields.push((k.to_string(), v.to_string()));
        }
        if fields.first().map(|(k, v)| format!("{k} {v}")) != Some(MAGIC.to_string()) {
            return Err(corrupt("bad magic line"));
        }
        let get = |k: &str| {
            fields
                .iter()
                .find(|(fk, _)| fk == k)
                .map(|(_, v)| v.as_str())
        };
        let arrived = get("arrived")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| corrupt("arrived"))?;
        let mail_from = match get("from") {
            Some("") => None,
            Some(a) => Some(Address::parse(a).map_err(|_| corrupt("from"))?),
            None => return Err(corrupt("from missing")),
        };
        let rcpt_to = fields
            .iter()
            .filter(|(k, _)| k == "rcpt")
            .map(|(_, v)| Address::parse(v).map_err(|_| corrupt("rcpt")))
            .collect::<Result<Vec<_>, _>>()?;
        let tls = get("tls")
            .and_then(|v| v.split_once(' '))
            .map(|(version, cipher)| TlsInfo {
                version: version.to_string(),
                cipher: cipher.to_string(),
            });
        let envelope = Envelope {
            mail_from,
            rcpt_to,
            body: if get("body") == Some("8bitmime") {
                BodyType::EightBitMime
            } else {
                BodyType::SevenBit
            },
            smtputf8: get("smtputf8") == Some("1"),
            declared_size: None,
            helo: get("helo").unwrap_or_default().to_string(),
            client_ip: get("ip")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| corrupt("ip"))?,
            tls,
            auth: get("auth").filter(|a| !a.is_empty()).map(str::to_string),
            require_tls: get("requiretls") == Some("1"),
        };
        Ok(SpooledMessage {
            id,
            arrived,
            envelope,
            path: path.to_path_buf(),
            body_offset: offset,
            size: total.saturating_sub(offset),
            held: None,
        })
    }

    /// The message just committed to `path`, from what the committer has in memory
    /// (`body_offset`: the length of the file's header before `bytes`).
    pub(crate) fn kept(
        id: QueueId,
        arrived: i64,
        envelope: Envelope,
        path: PathBuf,
        body_offset: u64,
        held: Held,
    ) -> SpooledMessage {
        SpooledMessage {
            id,
            arrived,
            envelope,
            path,
            body_offset,
            size: held.bytes.len() as u64,
            held: Some(Arc::new(held)),
        }
    }

    /// Whether the bytes are in memory (the first attempt of a small message).
    pub fn is_held(&self) -> bool {
        self.held.is_some()
    }

    /// A reader positioned at the first message byte.
    pub fn message_reader(&self) -> Result<Box<dyn Read + Send>, SpoolFileError> {
        if let Some(held) = &self.held {
            return Ok(Box::new(HeldReader(held.clone(), 0)));
        }
        let io = |source| SpoolFileError::Io {
            path: self.path.clone(),
            source,
        };
        let mut f = std::fs::File::open(&self.path).map_err(io)?;
        f.seek(SeekFrom::Start(self.body_offset)).map_err(io)?;
        Ok(Box::new(f))
    }

    /// The whole message (for `queue show` and tests; delivery streams instead).
    pub fn read_message(&self) -> Result<Vec<u8>, SpoolFileError> {
        if let Some(held) = &self.held {
            return Ok(held.bytes.clone());
        }
        let mut v = Vec::with_capacity(self.size as usize);
        self.message_reader()?
            .read_to_end(&mut v)
            .map_err(|source| SpoolFileError::Io {
                path: self.path.clone(),
                source,
            })?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn envelope(helo: &str) -> Envelope {
        Envelope {
            mail_from: Some(Address::parse("a@remote.test").unwrap()),
            rcpt_to: vec![
                Address::parse("b@local.test").unwrap(),
                Address::parse("c@local.test").unwrap(),
            ],
            body: BodyType::EightBitMime,
            smtputf8: true,
            declared_size: None,
            helo: helo.into(),
            client_ip: "2001:db8::1".parse().unwrap(),
            tls: Some(TlsInfo {
                version: "TLSv1.3".into(),
                cipher: "TLS13_AES_128_GCM_SHA256".into(),
            }),
            auth: Some("alice@local.test".into()),
            require_tls: false,
        }
    }

    #[test]
    fn header_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0000000000000001");
        let mut bytes = write_header(&envelope("client.test"), 42).unwrap();
        bytes.extend_from_slice(b"Subject: x\r\n\r\nbody\r\n");
        std::fs::write(&path, &bytes).unwrap();
        let m = SpooledMessage::open(&path, QueueId::parse("0000000000000001").unwrap()).unwrap();
        assert_eq!(m.arrived, 42);
        assert_eq!(m.envelope, envelope("client.test"));
        assert_eq!(m.read_message().unwrap(), b"Subject: x\r\n\r\nbody\r\n");
        assert_eq!(m.size, 20);
    }

    #[test]
    fn line_breaks_cannot_forge_envelope_lines() {
        assert!(write_header(&envelope("x\nrcpt evil@remote.test"), 1).is_err());
    }

    #[test]
    fn corrupt_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"garbage\n\n").unwrap();
        assert!(matches!(
            SpooledMessage::open(&path, QueueId::generate()),
            Err(SpoolFileError::Corrupt { .. })
        ));
        std::fs::write(&path, b"PALISADE-SPOOL 1\narrived 1\n").unwrap();
        assert!(SpooledMessage::open(&path, QueueId::generate()).is_err());
    }
}
