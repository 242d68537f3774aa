//! Forwarding to other domains: group members elsewhere and forwards (`palisade alias
//! add SOURCE TARGET...`). The message is queued anew, for the targets, with:
//!
//! - an SRS reverse-path in the forwarding address's domain ([`palisade_delivery::srs`]),
//!   so SPF at the destination asks about us, who sent it; a null reverse-path (a
//!   bounce) stays null;
//! - an ARC set (RFC 8617) signed with the forwarding domain's DKIM key, saying what
//!   our checks found when the message reached us ([`palisade_checks::arc_seal`]);
//! - nothing else changed in the content: the original DKIM signatures stay valid.
//!
//! The original delivery counts as done once the new message is on disk (`Durable`).
//! Bounces to an SRS address come back through [`Forwarding::reverse`], to the original
//! sender.

use palisade_delivery::srs::Srs;
use palisade_delivery::{Forwarder, read_message};
use palisade_queue::{Outcome, Spool, SpooledMessage};
use palisade_types::Address;

pub struct Forwarding {
    pub spool: Spool,
    pub srs: Srs,
    pub hostname: String,
    pub store: std::sync::Arc<dyn palisade_store::Store>,
    /// The server's resolver (replaced on reload).
    pub dns: palisade_delivery::remote::DnsSource,
}

#[async_trait::async_trait]
impl Forwarder for Forwarding {
    async fn forward(&self, msg: &SpooledMessage, via: &Address, to: &[Address]) -> Outcome {
        let now = palisade_queue::now_secs();
        let mail_from = match &msg.envelope.mail_from {
            Some(original) => match self.rewrite(original, via, now).await {
                Ok(a) => Some(a),
                Err(o) => return o,
            },
            None => None,
        };
        let envelope = self.envelope(msg, mail_from, to);
        let mut message = match read_message(msg).await {
            Ok(bytes) => bytes,
            Err(o) => return o,
        };
        if palisade_types::received_count(&message) > palisade_types::MAX_HOPS {
            // RFC 5321 §6.3: a forward that came back round (X forwards to Y, Y to X).
            tracing::warn!(%via, "forwarding loop: too many Received fields");
            return Outcome::Permanent("554 5.4.6 routing loop detected: too many hops".into());
        }
        if let Some(set) = self.arc_set(msg, via, &message).await {
            message.splice(0..0, set);
        }
        match self.queue(&envelope, &message).await {
            Ok(id) => {
                tracing::info!(%via, to = ?to, queue_id = %id, "forwarded");
                metrics::counter!("palisade_forwarded_total").increment(1);
                Outcome::Delivered
            }
            Err(e) => Outcome::Transient(format!("451 4.3.0 forwarding: {e}")),
        }
    }

    async fn requeue(&self, msg: &SpooledMessage, to: &[Address]) -> Outcome {
        let envelope = self.envelope(msg, msg.envelope.mail_from.clone(), to);
        let message = match read_message(msg).await {
            Ok(bytes) => bytes,
            Err(o) => return o,
        };
        match self.queue(&envelope, &message).await {
            Ok(id) => {
                tracing::info!(to = ?to, queue_id = %id, "group members queued again on their own");
                Outcome::Delivered
            }
            Err(e) => Outcome::Transient(format!("451 4.3.0 requeue: {e}")),
        }
    }

    async fn reverse(&self, srs: &Address) -> Option<Address> {
        use palisade_delivery::srs::Reversed;
        if !palisade_delivery::srs::is_srs(srs) {
            return None;
        }
        let now = palisade_queue::now_secs();
        match self.srs.reverse(srs, now)? {
            Reversed::Original(a) => Some(a),
            Reversed::Stored(id) => {
                let (original, created) = self.store.srs_address(&id).await.ok()??;
                let fresh = now - created <= palisade_delivery::srs::MAX_AGE_DAYS * 86_400;
                fresh.then(|| Address::parse(&original).ok()).flatten()
            }
        }
    }
}

impl Forwarding {
    /// The envelope of a copy of `msg` queued anew for `to`: REQUIRETLS and SMTPUTF8
    /// carried over from the original.
    fn envelope(
        &self,
        msg: &SpooledMessage,
        mail_from: Option<Address>,
        to: &[Address],
    ) -> palisade_types::Envelope {
        let mut envelope = crate::outbox::envelope(mail_from, to.to_vec(), &self.hostname);
        envelope.require_tls = msg.envelope.require_tls;
        envelope.smtputf8 |= msg.envelope.smtputf8;
        envelope
    }

    /// The SRS reverse-path for `original` in `via`'s domain; a long one is stored and
    /// replaced by its short form.
    async fn rewrite(
        &self,
        original: &Address,
        via: &Address,
        now: i64,
    ) -> Result<Address, Outcome> {
        use palisade_delivery::srs::Rewritten;
        match self.srs.forward(original, via.domain(), now) {
            Some(Rewritten::Inline(a)) => Ok(a),
            Some(Rewritten::Stored { id, address }) => {
                match self
                    .store
                    .put_srs_address(&id, &original.to_string(), now)
                    .await
                {
                    Ok(()) => Ok(address),
                    Err(e) => Err(Outcome::Transient(format!("451 4.3.0 store: {e}"))),
                }
            }
            None => Err(Outcome::Permanent(format!(
                "550 5.1.3 cannot forward for {original}: its address cannot be rewritten (SRS)"
            ))),
        }
    }

    /// The ARC set for `message` as `via`'s domain, when it has a DKIM key (RSA first:
    /// what ARC verifiers know) and the chain can be extended; otherwise none, logged.
    async fn arc_set(
        &self,
        msg: &SpooledMessage,
        via: &Address,
        message: &[u8],
    ) -> Option<Vec<u8>> {
        use palisade_checks::arc_seal::{Sealed, arc_seal};
        use palisade_checks::signing::{KeyAlgorithm, SigningKey};
        let keys = match self.store.list_dkim_keys(Some(via.domain())).await {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read DKIM keys: forwarded without ARC");
                return None;
            }
        };
        let mut active: Vec<_> = keys.iter().filter(|k| k.state == "active").collect();
        active.sort_by_key(|k| k.algorithm != "rsa");
        let Some(k) = active.first() else {
            tracing::warn!(domain = %via.domain(), "no active DKIM key: forwarded without an ARC seal");
            return None;
        };
        let key = SigningKey {
            domain: k.domain.as_str(),
            selector: &k.selector,
            algorithm: KeyAlgorithm::parse(&k.algorithm)?,
            private_pkcs8: &k.private_key,
        };
        let env = &msg.envelope;
        let dns = (self.dns)();
        let from = env.mail_from.as_ref().map(|a| a.to_string());
        let spf = palisade_checks::check_spf(
            &dns,
            env.client_ip,
            &env.helo,
            from.as_deref(),
            &self.hostname,
        )
        .await;
        match arc_seal(&dns, message, &spf, &self.hostname, &key).await {
            Ok(Sealed::Set(set)) => Some(set),
            Ok(Sealed::ChainFailed) => {
                tracing::info!(%via, "the ARC chain had failed: forwarded without a new seal");
                None
            }
            Err(e) => {
                tracing::warn!(%via, error = %e, "ARC sealing failed: forwarded without it");
                None
            }
        }
    }

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
