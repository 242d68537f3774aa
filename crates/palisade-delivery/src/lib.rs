//! Delivery targets.
//!
//! [`LocalDelivery`] resolves each recipient to a local mailbox through the store
//! (user, alias or catch-all) and writes the message into that user's Maildir with
//! [`maildir::deliver`], or hands it to Dovecot over [`lmtp`], sealed first when
//! encryption at rest or the submitter's outbound policy says so; [`remote`] delivers
//! to other servers and [`router`] picks between the two.

pub mod dsn;
pub mod end_to_end;
pub mod https;
pub mod lmtp;
pub mod maildir;
pub mod remote;
pub mod route;
pub mod router;
pub mod srs;
pub mod wkd;

use lmtp::Lmtp;
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
    /// Dovecot's LMTP service, when it keeps the mailboxes (`root` is then unused).
    pub lmtp: Option<Lmtp>,
    /// Group members and forwards in other domains, and SRS bounces coming back.
    pub forwarder: Option<Arc<dyn Forwarder>>,
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
        let sealing = self.lookups.sealing(self.store.as_ref(), mailbox).await?;
        let user_on = sealing.user;
        if !user_on && outbound == OutboundPolicy::Never && !sealing.domain {
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

/// One mailbox's copy of the message, decided before anything is written.
struct Copy {
    mailbox: Address,
    /// The recipient's index (for the Maildir file name).
    index: usize,
    /// `None`: stored as it came; otherwise sealed to this key (or waiting for one).
    seal: Option<Result<Recipient, SealError>>,
}

/// What happens for one recipient: an outcome decided already, or the copies to write
/// (its own mailbox, a group's members), the addresses elsewhere to forward to, and the
/// members already known to fail.
enum Planned {
    Done(Outcome),
    Parts {
        copies: Vec<usize>,
        forward: Vec<Address>,
        failed: Vec<Outcome>,
        /// More than one destination (a group or a forward): partial success counts.
        group: bool,
    },
}

/// Forwarding to other domains (group members and forwards elsewhere), done by the
/// server: the message is queued anew with an SRS reverse-path and an ARC seal.
#[async_trait::async_trait]
pub trait Forwarder: Send + Sync {
    /// Queues `msg` for `to` on behalf of `via` (the local address that forwards);
    /// `Delivered` once the new message is on disk.
    async fn forward(&self, msg: &SpooledMessage, via: &Address, to: &[Address]) -> Outcome;

    /// Queues `msg` again, unchanged and with its own reverse-path, for `to` (group
    /// members here whose copy could not be written now: they get their own retries,
    /// and the members already served get no second copy).
    async fn requeue(&self, msg: &SpooledMessage, to: &[Address]) -> Outcome;

    /// The original sender inside one of our SRS addresses (a bounce coming back).
    async fn reverse(&self, srs: &Address) -> Option<Address>;
}

impl LocalDelivery {
    /// Resolves every recipient to its mailboxes and decides how each copy is stored.
    /// Recipients (say an alias and its user, or two groups) that share a mailbox
    /// share one copy.
    async fn plan(&self, rcpts: &[Address], outbound: OutboundPolicy) -> (Vec<Planned>, Vec<Copy>) {
        let mut planned = Vec::with_capacity(rcpts.len());
        let mut copies: Vec<Copy> = Vec::new();
        for (index, rcpt) in rcpts.iter().enumerate() {
            let p = match self.plan_one(rcpt, index, outbound, &mut copies).await {
                Ok(p) => p,
                Err(o) => Planned::Done(o),
            };
            planned.push(p);
        }
        (planned, copies)
    }

    async fn plan_one(
        &self,
        rcpt: &Address,
        index: usize,
        outbound: OutboundPolicy,
        copies: &mut Vec<Copy>,
    ) -> Result<Planned, Outcome> {
        let store = self.store.as_ref();
        let store_error =
            |e: palisade_store::StoreError| Outcome::Transient(format!("451 4.3.0 store: {e}"));
        if let Some(f) = &self.forwarder
            && let Some(original) = f.reverse(rcpt).await
        {
            // A bounce to an address we rewrote: back to the original sender.
            return Ok(Planned::Parts {
                copies: Vec::new(),
                forward: vec![original],
                failed: Vec::new(),
                group: false,
            });
        }
        let targets = self
            .lookups
            .forwards(store, rcpt)
            .await
            .map_err(store_error)?;
        // A group's own mailbox is an exact user or alias, never the domain's catch-all
        // (which would otherwise get a copy of every group message).
        let own = if targets.is_empty() {
            self.lookups.resolve_recipient(store, rcpt).await
        } else {
            store.resolve_exact(rcpt).await
        }
        .map_err(store_error)?;
        if own.is_none() && targets.is_empty() {
            return Err(Outcome::Permanent(
                "550 5.1.1 mailbox no longer exists".into(),
            ));
        }
        let group = !targets.is_empty();
        let (mut parts, mut forward, mut failed) = (Vec::new(), Vec::new(), Vec::new());
        let mut add = |r: Result<usize, Outcome>| match r {
            Ok(c) => parts.push(c),
            Err(o) => failed.push(o),
        };
        if let Some(mailbox) = own {
            add(self.copy_of(rcpt, mailbox, index, outbound, copies).await);
        }
        for target in targets {
            let local = self
                .lookups
                .is_local_domain(store, target.domain())
                .await
                .map_err(store_error)?;
            if !local {
                forward.push(target);
                continue;
            }
            // A group member: a user (or an alias of one) here.
            match self
                .lookups
                .resolve_recipient(store, &target)
                .await
                .map_err(store_error)?
            {
                Some(mailbox) => add(self.copy_of(rcpt, mailbox, index, outbound, copies).await),
                None => {
                    tracing::warn!(group = %rcpt, member = %target, "group member no longer exists")
                }
            }
        }
        Ok(Planned::Parts {
            copies: parts,
            forward,
            failed,
            group,
        })
    }

    /// The copy for `mailbox` (made once, however many recipients lead to it).
    async fn copy_of(
        &self,
        rcpt: &Address,
        mailbox: Address,
        index: usize,
        outbound: OutboundPolicy,
        copies: &mut Vec<Copy>,
    ) -> Result<usize, Outcome> {
        if let Some(c) = copies.iter().position(|c| c.mailbox == mailbox) {
            return Ok(c);
        }
        let seal = match self.seal_for(rcpt, &mailbox, outbound).await {
            Ok(Seal::Clear) => None,
            Ok(Seal::To(to)) => Some(Ok(*to)),
            Ok(Seal::NoKey(e)) => Some(Err(e)),
            Ok(Seal::Refused(o)) => return Err(o),
            Err(e) => return Err(Outcome::Transient(format!("451 4.3.0 store: {e}"))),
        };
        copies.push(Copy {
            mailbox,
            index,
            seal,
        });
        Ok(copies.len() - 1)
    }

    /// Writes one copy into its user's Maildir (sealed first when it must be).
    async fn to_maildir(&self, msg: &SpooledMessage, copy: Copy, recovering: bool) -> Outcome {
        let dir = maildir::mailbox_dir(&self.root, &copy.mailbox);
        let name = maildir::unique_name(msg.id, msg.arrived, copy.index, &self.hostname);
        let m = msg.clone();
        // RFC 5321 §4.4: the delivering MTA adds Return-Path with the reverse-path.
        let return_path = format!("Return-Path: {}\r\n", msg.envelope.return_path());
        let opts = palisade_crypt::at_rest::Options {
            protect_subject: self.protect_subject,
        };
        let result = tokio::task::spawn_blocking(move || {
            let reader = m.message_reader().map_err(std::io::Error::other)?;
            let mut message = return_path.as_bytes().chain(reader);
            let Some(key) = copy.seal else {
                return maildir::deliver(&dir, &name, message, recovering).map_err(Failed::Io);
            };
            let key = key.map_err(Failed::Seal)?;
            let mut clear = Vec::new();
            message.read_to_end(&mut clear)?;
            let sealed = seal(&clear, &key, opts)?;
            maildir::deliver(&dir, &name, sealed.as_deref().unwrap_or(&clear), recovering)
                .map_err(Failed::Io)
        })
        .await;
        outcome_of(&copy.mailbox, result.map_err(|e| e.to_string()), "maildir")
    }

    /// Hands the copies to the LMTP server: the ones stored as they came in one
    /// transaction, each sealed one in its own (its bytes differ). The server adds
    /// Return-Path itself, as the delivering agent (RFC 5321 §4.4).
    async fn to_lmtp(&self, lmtp: &Lmtp, msg: &SpooledMessage, copies: Vec<Copy>) -> Vec<Outcome> {
        let message = match read_message(msg).await {
            Ok(bytes) => Arc::new(bytes),
            Err(o) => return vec![o; copies.len()],
        };
        let mail_from = msg.envelope.reverse_path();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; copies.len()];
        let clear: Vec<usize> = (0..copies.len())
            .filter(|&i| copies[i].seal.is_none())
            .collect();
        if !clear.is_empty() {
            let rcpts: Vec<Address> = clear.iter().map(|&i| copies[i].mailbox.clone()).collect();
            let t = lmtp::Transaction {
                mail_from: &mail_from,
                rcpts: &rcpts,
                message: &message,
                smtputf8: msg.envelope.smtputf8,
            };
            for (&i, o) in clear.iter().zip(lmtp.deliver(&t).await) {
                outcomes[i] = Some(o);
            }
        }
        let opts = palisade_crypt::at_rest::Options {
            protect_subject: self.protect_subject,
        };
        for (i, copy) in copies.into_iter().enumerate() {
            let Some(key) = copy.seal else { continue };
            let clear = message.clone();
            let sealed = tokio::task::spawn_blocking(move || {
                let key = key.map_err(Failed::Seal)?;
                Ok::<_, Failed>(seal(&clear, &key, opts)?.unwrap_or_else(|| clear.to_vec()))
            })
            .await;
            let bytes = match sealed {
                Ok(Ok(b)) => b,
                other => {
                    let failed = other.map_err(|e| e.to_string()).map(|r| r.map(|_| ()));
                    outcomes[i] = Some(outcome_of(&copy.mailbox, failed, "lmtp"));
                    continue;
                }
            };
            let t = lmtp::Transaction {
                mail_from: &mail_from,
                rcpts: std::slice::from_ref(&copy.mailbox),
                message: &bytes,
                smtputf8: msg.envelope.smtputf8,
            };
            outcomes[i] = lmtp.deliver(&t).await.into_iter().next();
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Outcome::Transient("451 4.3.0 not attempted".into())))
            .collect()
    }
}

/// The message's bytes from the spool (on the blocking pool), or the transient outcome
/// that says why not.
pub async fn read_message(msg: &SpooledMessage) -> Result<Vec<u8>, Outcome> {
    let m = msg.clone();
    let why = match tokio::task::spawn_blocking(move || m.read_message()).await {
        Ok(Ok(bytes)) => return Ok(bytes),
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    Err(Outcome::Transient(format!("451 4.3.0 spool read: {why}")))
}

/// The sealed bytes, or `None` when the message was encrypted already (stored as is).
fn seal(
    clear: &[u8],
    key: &Recipient,
    opts: palisade_crypt::at_rest::Options,
) -> Result<Option<Vec<u8>>, Failed> {
    match palisade_crypt::at_rest::seal(clear, key, opts, palisade_queue::now_secs()) {
        Ok(Sealed::Encrypted(bytes)) => Ok(Some(bytes)),
        Ok(Sealed::AlreadyEncrypted) => Ok(None),
        Err(e) => Err(Failed::Seal(e)),
    }
}

/// The outcome of writing one copy (`task`: the blocking task's own failure).
fn outcome_of(
    mailbox: &Address,
    result: Result<Result<(), Failed>, String>,
    target: &str,
) -> Outcome {
    match result {
        Ok(Ok(())) => Outcome::Delivered,
        Ok(Err(Failed::Io(e))) => Outcome::Transient(format!("451 4.3.0 {target}: {e}")),
        // Never stored in clear for a user who asked otherwise: the message waits in the
        // queue (and is bounced at its end) until the key is fixed.
        Ok(Err(Failed::Seal(e))) => {
            tracing::error!(user = %mailbox, error = %e, "encryption at rest failed");
            Outcome::Transient(format!("451 4.7.0 encryption at rest: {e}"))
        }
        Err(e) => Outcome::Transient(format!("451 4.3.0 delivery task: {e}")),
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
        let (planned, copies) = self.plan(rcpts, outbound).await;
        let mailboxes: Vec<Address> = copies.iter().map(|c| c.mailbox.clone()).collect();
        let written: Vec<Outcome> = match &self.lmtp {
            Some(lmtp) => self.to_lmtp(lmtp, msg, copies).await,
            None => {
                let mut out = Vec::with_capacity(copies.len());
                for copy in copies {
                    out.push(self.to_maildir(msg, copy, recovering).await);
                }
                out
            }
        };
        let mut out = Vec::with_capacity(planned.len());
        for (p, rcpt) in planned.into_iter().zip(rcpts) {
            out.push(match p {
                Planned::Done(o) => o,
                Planned::Parts {
                    copies: parts,
                    forward,
                    failed,
                    group,
                } => {
                    let written: Vec<(Address, Outcome)> = parts
                        .iter()
                        .map(|&c| {
                            let o = written.get(c).cloned();
                            let o = o.unwrap_or_else(|| {
                                Outcome::Transient("451 4.3.0 not attempted".into())
                            });
                            (mailboxes.get(c).cloned().unwrap_or_else(|| rcpt.clone()), o)
                        })
                        .collect();
                    let forwarded = match (&self.forwarder, forward.is_empty()) {
                        (_, true) => None,
                        (Some(f), false) => Some(f.forward(msg, rcpt, &forward).await),
                        (None, false) => Some(Outcome::Transient(
                            "451 4.3.5 forwarding is not set up".into(),
                        )),
                    };
                    if group {
                        self.settle_group(msg, written, forwarded, failed).await
                    } else {
                        let mut all: Vec<Outcome> = written.into_iter().map(|(_, o)| o).collect();
                        all.extend(forwarded);
                        all.extend(failed);
                        combine(all)
                    }
                }
            });
        }
        out
    }
}

impl LocalDelivery {
    /// A group's outcome. Once any part has gone out, a retry of the whole would give
    /// those members a second copy: the members whose copy failed for the moment are
    /// queued again on their own instead, and the group counts as delivered.
    async fn settle_group(
        &self,
        msg: &SpooledMessage,
        written: Vec<(Address, Outcome)>,
        forwarded: Option<Outcome>,
        failed: Vec<Outcome>,
    ) -> Outcome {
        let delivered = written.iter().any(|(_, o)| *o == Outcome::Delivered)
            || forwarded == Some(Outcome::Delivered);
        let retry: Vec<Address> = written
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Transient(_)))
            .map(|(m, _)| m.clone())
            .collect();
        let mut all: Vec<Outcome> = written.into_iter().map(|(_, o)| o).collect();
        all.extend(forwarded);
        all.extend(failed);
        if delivered
            && !retry.is_empty()
            && let Some(f) = &self.forwarder
        {
            let requeued = f.requeue(msg, &retry).await;
            all.retain(|o| !matches!(o, Outcome::Transient(_)) || requeued != Outcome::Delivered);
            all.push(requeued);
        }
        combine(all)
    }
}

/// One recipient's outcome from its parts: any transient failure retries (nothing went
/// out, or the group's requeue could not be written: RFC 5321 §6.1 prefers a duplicate
/// to a loss); only when every part failed for good does the sender hear so; a partial
/// permanent failure is logged.
fn combine(parts: Vec<Outcome>) -> Outcome {
    if parts.is_empty() {
        return Outcome::Permanent("550 5.1.1 no member of this group exists any more".into());
    }
    if let Some(t) = parts.iter().find(|o| matches!(o, Outcome::Transient(_))) {
        return t.clone();
    }
    let failed: Vec<&Outcome> = parts
        .iter()
        .filter(|o| !matches!(o, Outcome::Delivered))
        .collect();
    match failed.first() {
        Some(first) if failed.len() == parts.len() => (*first).clone(),
        Some(_) => {
            tracing::warn!(failed = ?failed, "some members of a group could not be reached");
            Outcome::Delivered
        }
        None => Outcome::Delivered,
    }
}
