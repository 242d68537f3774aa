//! Mail Palisade writes itself: DSNs, security notices, DMARC and TLS reports. Each is
//! DKIM-signed with the active keys of its From domain (when it has any) and queued
//! like any other message.

use crate::dkim_keys::DkimKeyCache;
use palisade_queue::{Spool, SpoolError};
use palisade_store::Store;
use palisade_types::{Address, BodyType, Envelope, QueueId};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

/// Where generated mail is queued.
pub enum Outbox<'a> {
    /// The running server's spool: group commit, the scheduler is told at once.
    Spool {
        spool: &'a Spool,
        store: &'a dyn Store,
        keys: &'a DkimKeyCache,
    },
    /// From the CLI, beside a server that may be running: written straight into the
    /// queue directory and marked due ([`palisade_queue::inject`]).
    Offline {
        queue_dir: &'a Path,
        store: &'a dyn Store,
    },
}

/// The envelope of a message Palisade writes itself.
pub fn envelope(mail_from: Option<Address>, rcpt_to: Vec<Address>, hostname: &str) -> Envelope {
    let smtputf8 =
        mail_from.as_ref().is_some_and(|a| !a.is_ascii()) || rcpt_to.iter().any(|a| !a.is_ascii());
    Envelope {
        mail_from,
        rcpt_to,
        body: BodyType::EightBitMime,
        smtputf8,
        declared_size: None,
        helo: hostname.to_string(),
        client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        tls: None,
        auth: None,
        require_tls: false,
    }
}

/// The envelope of a report (DMARC, TLS-RPT) from `reports.dmarc_from` to the
/// mailto addresses `to` (ones that do not parse are left out).
pub fn report_envelope<'a>(
    cfg: &palisade_config::Config,
    to: impl IntoIterator<Item = &'a str>,
) -> Envelope {
    let rcpts = to
        .into_iter()
        .filter_map(|a| Address::parse(a).ok())
        .collect();
    envelope(
        Some(cfg.reports.dmarc_from.clone()),
        rcpts,
        cfg.hostname.as_str(),
    )
}

impl Outbox<'_> {
    fn store(&self) -> &dyn Store {
        match self {
            Outbox::Spool { store, .. } | Outbox::Offline { store, .. } => *store,
        }
    }

    /// Signs and queues `message`; `Ok` means it is on disk.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<QueueId, SpoolError> {
        let fresh;
        let keys = match self {
            Outbox::Spool { keys, .. } => *keys,
            Outbox::Offline { .. } => {
                fresh = DkimKeyCache::default();
                &fresh
            }
        };
        let signatures = match keys.sign(self.store(), message, b"").await {
            Ok(s) => s,
            Err(e) => {
                // Unsigned is better than lost: reports and DSNs still inform.
                tracing::warn!(error = %e, "DKIM signing of generated mail failed");
                Vec::new()
            }
        };
        let arrived = palisade_queue::now_secs();
        match self {
            Outbox::Spool { spool, .. } => {
                let mut w = spool.create(envelope, arrived, |_| signatures)?;
                w.append(message)?;
                Ok(w.commit().await?.id())
            }
            Outbox::Offline { queue_dir, store } => {
                let mut all = signatures;
                all.extend_from_slice(message);
                palisade_queue::inject(queue_dir, *store, envelope, arrived, &all).await
            }
        }
    }
}
