//! Delivery targets.
//!
//! [`LocalDelivery`] resolves each recipient to a local mailbox through the store
//! (user, alias or catch-all) and writes the message into that user's Maildir with
//! [`maildir::deliver`]. Remote delivery (MX, TLS policy, DKIM) comes with the
//! submission issue.

pub mod dsn;
pub mod maildir;
pub mod remote;
pub mod router;

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
}

#[async_trait::async_trait]
impl Target for LocalDelivery {
    async fn deliver(
        &self,
        msg: &SpooledMessage,
        rcpts: &[Address],
        recovering: bool,
    ) -> Vec<Outcome> {
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
            let result = tokio::task::spawn_blocking(move || {
                let reader = m.message_reader().map_err(std::io::Error::other)?;
                maildir::deliver(
                    &dir,
                    &name,
                    return_path.as_bytes().chain(reader),
                    recovering,
                )
            })
            .await;
            let outcome = match result {
                Ok(Ok(())) => Outcome::Delivered,
                Ok(Err(e)) => Outcome::Transient(format!("451 4.3.0 maildir: {e}")),
                Err(e) => Outcome::Transient(format!("451 4.3.0 delivery task: {e}")),
            };
            done.push((mailbox, outcome.clone()));
            outcomes.push(outcome);
        }
        outcomes
    }
}
