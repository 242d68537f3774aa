//! Delivery targets.
//!
//! [`LocalDelivery`] resolves each recipient to a local mailbox through the store
//! (user, alias or catch-all) and writes the message into that user's Maildir with
//! [`maildir::deliver`], sealed first when encryption at rest or the submitter's
//! outbound policy says so; [`remote`] delivers to other servers and [`router`] picks
//! between the two.

pub mod dsn;
pub mod end_to_end;
pub mod https;
pub mod maildir;
pub mod remote;
pub mod router;
pub mod wkd;

use palisade_crypt::at_rest::{Recipient, SealError, Sealed};
use palisade_crypt::openpgp::KeyError;
use palisade_crypt::policy::OutboundPolicy;
use palisade_queue::{Outcome, SpooledMessage, Target};
use palisade_store::{LookupCache, Store};
use palisade_types::Address;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

/// Delivers to Maildirs under `root/<domain>/<user>/`.
pub struct LocalDelivery {
    pub store: Arc<dyn Store>,
    pub lookups: Arc<LookupCache>,
    pub root: PathBuf,
    pub hostname: String,
    /// For users with encryption at rest: move the Subject inside.
    pub protect_subject: bool,
}

/// Why a local delivery failed.
enum Failed {
    Io(std::io::Error),
    Seal(SealError),
}

impl From<std::io::Error> for Failed {
    fn from(e: std::io::Error) -> Self {
        Failed::Io(e)
    }
}

/// How a local recipient's copy is stored.
enum Seal {
    Clear,
    To(Box<Recipient>),
    /// Encryption at rest is on but there is no usable key: wait, never store in clear.
    NoKey(SealError),
    /// The submitter's policy requires encryption and the recipient has no key.
    Refused(Outcome),
}

impl LocalDelivery {
    /// How `mailbox`'s copy (addressed to `rcpt`) is stored: sealed to the newest key or
    /// certificate that still parses if its user turned encryption at rest on (no key:
    /// [`Seal::NoKey`]), if its domain's default is on (no key: in clear), or if the
    /// submitter's outbound policy asks (no key under `required`: refused).
    async fn seal_for(
        &self,
        rcpt: &Address,
        mailbox: &Address,
        outbound: OutboundPolicy,
    ) -> Result<Seal, palisade_store::StoreError> {
        let user_on = self.store.encrypt_at_rest(mailbox).await?;
        if !user_on
            && outbound == OutboundPolicy::Never
            && !self.store.domain_encrypt_at_rest(mailbox.domain()).await?
        {
            return Ok(Seal::Clear);
        }
        Ok(
            match end_to_end::registered_key(self.store.as_ref(), mailbox).await? {
                Some(to) => Seal::To(Box::new(to)),
                None if user_on => Seal::NoKey(SealError::OpenPgp(KeyError::NoEncryptionKey)),
                None if outbound == OutboundPolicy::Required => {
                    Seal::Refused(end_to_end::no_key_outcome(rcpt))
                }
                None => Seal::Clear,
            },
        )
    }
}

#[async_trait::async_trait]
impl Target for LocalDelivery {
    async fn deliver(
        &self,
        msg: &SpooledMessage,
        rcpts: &[Address],
        recovering: bool,
    ) -> Vec<Outcome> {
        let outbound = match end_to_end::policy_of(self.store.as_ref(), msg).await {
            Ok(p) => p,
            Err(o) => return vec![o; rcpts.len()],
        };
        let mut outcomes = Vec::with_capacity(rcpts.len());
        // Two recipients (say an alias and its user) may share a mailbox: one copy each.
        let mut done: Vec<(Address, Outcome)> = Vec::new();
        for (index, rcpt) in rcpts.iter().enumerate() {
            let mailbox = match self
                .lookups
                .resolve_recipient(self.store.as_ref(), rcpt)
                .await
            {
                Ok(Some(m)) => m,
                Ok(None) => {
                    outcomes.push(Outcome::Permanent(
                        "550 5.1.1 mailbox no longer exists".into(),
                    ));
                    continue;
                }
                Err(e) => {
                    outcomes.push(Outcome::Transient(format!("451 4.3.0 store: {e}")));
                    continue;
                }
            };
            if let Some((_, o)) = done.iter().find(|(m, _)| *m == mailbox) {
                outcomes.push(o.clone());
                continue;
            }
            let dir = maildir::mailbox_dir(&self.root, &mailbox);
            let name = maildir::unique_name(msg.id, msg.arrived, index, &self.hostname);
            let m = msg.clone();
            // RFC 5321 §4.4: the delivering MTA adds Return-Path with the reverse-path.
            let return_path = format!("Return-Path: {}\r\n", msg.envelope.return_path());
            let seal = match self.seal_for(rcpt, &mailbox, outbound).await {
                Ok(Seal::Clear) => None,
                Ok(Seal::To(to)) => Some(Ok(*to)),
                Ok(Seal::NoKey(e)) => Some(Err(e)),
                Ok(Seal::Refused(o)) => {
                    done.push((mailbox, o.clone()));
                    outcomes.push(o);
                    continue;
                }
                Err(e) => {
                    outcomes.push(Outcome::Transient(format!("451 4.3.0 store: {e}")));
                    continue;
                }
            };
            let protect_subject = self.protect_subject;
            let result = tokio::task::spawn_blocking(move || {
                let reader = m.message_reader().map_err(std::io::Error::other)?;
                let mut message = return_path.as_bytes().chain(reader);
                let Some(key) = seal else {
                    return maildir::deliver(&dir, &name, message, recovering).map_err(Failed::Io);
                };
                let key = key.map_err(Failed::Seal)?;
                let mut clear = Vec::new();
                message.read_to_end(&mut clear)?;
                let opts = palisade_crypt::at_rest::Options { protect_subject };
                let sealed =
                    palisade_crypt::at_rest::seal(&clear, &key, opts, palisade_queue::now_secs())
                        .map_err(Failed::Seal)?;
                let stored = match &sealed {
                    Sealed::Encrypted(bytes) => bytes.as_slice(),
                    Sealed::AlreadyEncrypted => clear.as_slice(),
                };
                maildir::deliver(&dir, &name, stored, recovering).map_err(Failed::Io)
            })
            .await;
            let outcome = match result {
                Ok(Ok(())) => Outcome::Delivered,
                Ok(Err(Failed::Io(e))) => Outcome::Transient(format!("451 4.3.0 maildir: {e}")),
                // Never stored in clear for a user who asked otherwise: the message waits
                // in the queue (and is bounced at its end) until the key is fixed.
                Ok(Err(Failed::Seal(e))) => {
                    tracing::error!(user = %mailbox, error = %e, "encryption at rest failed");
                    Outcome::Transient(format!("451 4.7.0 encryption at rest: {e}"))
                }
                Err(e) => Outcome::Transient(format!("451 4.3.0 delivery task: {e}")),
            };
            done.push((mailbox, outcome.clone()));
            outcomes.push(outcome);
        }
        outcomes
    }
}
