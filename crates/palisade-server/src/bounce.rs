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
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(message.len(), |p| p + 2);
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
            Ok(id) => tracing::info!(queue_id = %msg.id, dsn = %id, to = %sender, "DSN queued"),
            Err(e) => tracing::error!(error = &e as &dyn std::error::Error, "cannot queue DSN"),
        }
    }
}
