//! DSNs (RFC 3464) for messages that failed for good, queued like any other message.

use palisade_delivery::dsn::{self, Failure};
use palisade_queue::{Bouncer, Spool, SpooledMessage};
use palisade_types::Address;

pub struct DsnBouncer {
    pub spool: Spool,
    pub store: std::sync::Arc<dyn palisade_store::Store>,
    pub keys: std::sync::Arc<crate::dkim_keys::DkimKeyCache>,
    pub hostname: String,
}

/// The header section of a message (up to the empty line), bounded.
fn headers(message: &[u8]) -> &[u8] {
    let end = palisade_types::header_end(message).map_or(message.len(), |p| p + 2);
    &message[..end.min(64 * 1024)]
}

#[async_trait::async_trait]
impl Bouncer for DsnBouncer {
    async fn bounce(&self, msg: &SpooledMessage, failures: &[(Address, String)], expired: bool) {
        // RFC 5321 §4.5.5 / RFC 3464: never a DSN to the null reverse-path (no loops).
        let Some(sender) = msg.envelope.mail_from.clone() else {
            tracing::info!(queue_id = %msg.id, "failure for a message with a null sender: no DSN");
            return;
        };
        // One DSN per failure: the message's status may not have been saved after an
        // earlier DSN (a crash between the two), and the retry fails the same way.
        let mut reported: Vec<String> = failures.iter().map(|(r, _)| r.to_string()).collect();
        reported.sort();
        let reported = reported.join(",");
        if let Ok(true) = self.store.dsn_queued(msg.id, &reported).await {
            tracing::info!(queue_id = %msg.id, "DSN for these recipients already queued");
            return;
        }
        let m = msg.clone();
        let original = match tokio::task::spawn_blocking(move || m.read_message()).await {
            Ok(Ok(bytes)) => bytes,
            _ => Vec::new(),
        };
        let arrival = crate::trace::rfc5322_date(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(msg.arrived.max(0) as u64),
        );
        let failures: Vec<Failure> = failures
            .iter()
            .map(|(rcpt, reason)| Failure {
                rcpt: rcpt.clone(),
                reason: reason.clone(),
            })
            .collect();
        let body = match dsn::build(
            &self.hostname,
            &sender,
            headers(&original),
            &arrival,
            &failures,
            expired,
        ) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cannot build DSN");
                return;
            }
        };
        let envelope = crate::outbox::envelope(None, vec![sender.clone()], &self.hostname);
        let outbox = crate::outbox::Outbox::Spool {
            spool: &self.spool,
            store: self.store.as_ref(),
            keys: &self.keys,
        };
        let result = outbox.send(&envelope, &body).await;
        match result {
            Ok(id) => {
                tracing::info!(queue_id = %msg.id, dsn = %id, to = %sender, "DSN queued");
                let now = palisade_queue::now_secs();
                if let Err(e) = self.store.record_dsn(msg.id, &reported, now).await {
                    tracing::warn!(
                        error = &e as &dyn std::error::Error,
                        "cannot record the DSN"
                    );
                }
            }
            Err(e) => tracing::error!(error = &e as &dyn std::error::Error, "cannot queue DSN"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use palisade_store::{SqliteStore, Store};
    use palisade_types::{BodyType, Envelope};
    use std::sync::Arc;

    /// Issue 15, Low (an earlier note): a DSN could be queued before the failed
    /// message's status was saved, so a crash between the two bounced it twice when
    /// the message was retried. The DSN is now recorded by the original's queue id and
    /// the recipients it reports.
    #[tokio::test]
    async fn a_failure_is_bounced_once_however_often_it_is_retried() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("db")).await.unwrap());
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let queue = dir.path().join("queue");
        let spool = Spool::open(&queue, tx).unwrap();
        let bob = Address::parse("bob@remote.test").unwrap();
        let envelope = Envelope {
            mail_from: Some(Address::parse("alice@local.test").unwrap()),
            rcpt_to: vec![bob.clone()],
            body: BodyType::SevenBit,
            smtputf8: false,
            declared_size: None,
            helo: "client.test".into(),
            client_ip: "127.0.0.1".parse().unwrap(),
            tls: None,
            auth: None,
            require_tls: false,
        };
        let mut w = spool.create(&envelope, 1, |_| Vec::new()).unwrap();
        w.append(b"Subject: lost\r\n\r\nx\r\n").unwrap();
        let id = w.commit().await.unwrap().id();
        let msg =
            SpooledMessage::open(&Spool::active_dir(&queue).join(id.to_string()), id).unwrap();
        let bouncer = DsnBouncer {
            spool: spool.clone(),
            store: store.clone(),
            keys: Arc::new(crate::dkim_keys::DkimKeyCache::default()),
            hostname: "mx.local.test".into(),
        };
        let failure = [(bob, "550 5.1.1 no such user".to_string())];
        for _ in 0..3 {
            bouncer.bounce(&msg, &failure, false).await;
        }
        // The original and one DSN.
        assert_eq!(Spool::list_active(&queue).unwrap().len(), 2);
    }
}
