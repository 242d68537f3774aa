//! Forwarding to other domains: group members elsewhere and forwards (`palisade alias
//! add SOURCE TARGET...`). The message is queued anew, for the targets, with:
//!
//! - an SRS reverse-path in the forwarding address's domain ([`palisade_delivery::srs`]),
//!   so SPF at the destination asks about us, who sent it; a null reverse-path (a
//!   bounce) stays null;
//! - nothing else changed in the content: the original DKIM signatures stay valid.
//!
//! The original delivery counts as done once the new message is on disk (`Durable`).
//! Bounces to an SRS address come back through [`Forwarding::reverse`], to the original
//! sender.

use palisade_delivery::Forwarder;
use palisade_delivery::srs::Srs;
use palisade_queue::{Outcome, Spool, SpooledMessage};
use palisade_types::Address;

pub struct Forwarding {
    pub spool: Spool,
    pub srs: Srs,
    pub hostname: String,
}

#[async_trait::async_trait]
impl Forwarder for Forwarding {
    async fn forward(&self, msg: &SpooledMessage, via: &Address, to: &[Address]) -> Outcome {
        let now = palisade_queue::now_secs();
        let mail_from = match &msg.envelope.mail_from {
            Some(original) => match self.srs.forward(original, via.domain(), now) {
                Some(a) => Some(a),
                None => {
                    return Outcome::Permanent(format!(
                        "550 5.1.3 cannot forward for {original}: its address cannot be rewritten (SRS)"
                    ));
                }
            },
            None => None,
        };
        let mut envelope = crate::outbox::envelope(mail_from, to.to_vec(), &self.hostname);
        envelope.require_tls = msg.envelope.require_tls;
        envelope.smtputf8 |= msg.envelope.smtputf8;
        let m = msg.clone();
        let message = match tokio::task::spawn_blocking(move || m.read_message()).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) => return Outcome::Transient(format!("451 4.3.0 spool read: {e}")),
            Err(e) => return Outcome::Transient(format!("451 4.3.0 spool read: {e}")),
        };
        match self.queue(&envelope, &message).await {
            Ok(id) => {
                tracing::info!(%via, to = ?to, queue_id = %id, "forwarded");
                metrics::counter!("palisade_forwarded_total").increment(1);
                Outcome::Delivered
            }
            Err(e) => Outcome::Transient(format!("451 4.3.0 forwarding: {e}")),
        }
    }

    fn reverse(&self, srs: &Address) -> Option<Address> {
        if !palisade_delivery::srs::is_srs(srs) {
            return None;
        }
        self.srs.reverse(srs, palisade_queue::now_secs())
    }
}

impl Forwarding {
    async fn queue(
        &self,
        envelope: &palisade_types::Envelope,
        message: &[u8],
    ) -> Result<palisade_types::QueueId, palisade_queue::SpoolError> {
        let mut w = self
            .spool
            .create(envelope, palisade_queue::now_secs(), |_| Vec::new())?;
        w.append(message)?;
        Ok(w.commit().await?.id())
    }
}
