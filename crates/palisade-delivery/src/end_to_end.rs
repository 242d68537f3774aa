//! Outbound encryption: submitted mail encrypted to each recipient on the sender's
//! behalf, as their user or domain policy says ([`OutboundPolicy`]).
//!
//! A recipient's key is the one registered here (a local user's newest key or
//! certificate) or, for anyone else, the OpenPGP key their domain publishes in its Web
//! Key Directory ([`crate::wkd`]). Each recipient gets a copy of their own, encrypted to
//! their key alone: encrypting one copy to all of them would show every reader who else
//! received it, Bcc recipients included (key IDs are visible in the encrypted message).
//! The copy is the PGP/MIME or S/MIME message [`palisade_crypt::at_rest::seal`] makes
//! (protected headers, Subject hidden by `[encryption] protect_subject`), signed again
//! with the sender domain's DKIM keys: the signatures made at submission covered the
//! clear text and would no longer verify.

use crate::wkd::WkdClient;
use palisade_crypt::at_rest::{Options, Recipient, Sealed};
use palisade_crypt::openpgp::OpenPgpKey;
use palisade_crypt::policy::OutboundPolicy;
use palisade_crypt::smime::SmimeCert;
use palisade_dns::Dns;
use palisade_queue::{Outcome, SpooledMessage};
use palisade_store::Store;
use palisade_types::Address;
use std::sync::Arc;

/// DKIM signatures for a message Palisade changed on the sender's behalf.
#[async_trait::async_trait]
pub trait Resign: Send + Sync {
    /// The `DKIM-Signature` fields to prepend to `message` (none if its From domain
    /// has no keys).
    async fn signatures(&self, message: &[u8]) -> Result<Vec<u8>, String>;
}

/// What to send one recipient.
pub enum Plan {
    /// The message as it was queued.
    AsIs,
    /// A copy encrypted to them (DKIM-signed again).
    Encrypted(Arc<Vec<u8>>),
    /// Not sent: the policy requires a key they do not have, or finding one failed.
    Refused(Outcome),
}

pub struct EndToEnd {
    pub store: Arc<dyn Store>,
    pub wkd: WkdClient,
    pub resign: Arc<dyn Resign>,
    pub protect_subject: bool,
}

/// The policy for `msg`: its submitter's (else their domain's); relayed and generated
/// mail (no authenticated submitter) goes as it is.
pub async fn policy_of(store: &dyn Store, msg: &SpooledMessage) -> Result<OutboundPolicy, Outcome> {
    let Some(user) = msg
        .envelope
        .auth
        .as_deref()
        .and_then(|u| Address::parse(u).ok())
    else {
        return Ok(OutboundPolicy::Never);
    };
    match store.outbound_encryption(&user).await {
        Ok(Some(p)) => Ok(p.parse().unwrap_or_else(|e: String| {
            tracing::warn!(user = %user, error = %e, "stored outbound policy ignored");
            OutboundPolicy::Never
        })),
        Ok(None) => Ok(OutboundPolicy::Never),
        Err(e) => Err(Outcome::Transient(format!("451 4.3.0 store: {e}"))),
    }
}

/// The newest registered key or certificate of a local mailbox that still parses.
pub async fn registered_key(
    store: &dyn Store,
    mailbox: &Address,
) -> Result<Option<Recipient>, palisade_store::StoreError> {
    let keys = store.user_keys(mailbox).await?;
    Ok(keys.iter().rev().find_map(|k| match k.kind.as_str() {
        "openpgp" => OpenPgpKey::stored(&k.data).ok().map(Recipient::OpenPgp),
        "smime" => SmimeCert::stored(&k.data).ok().map(Recipient::Smime),
        _ => None,
    }))
}

/// The DSN text for a recipient the policy refuses to send to in clear.
pub fn no_key_outcome(rcpt: &Address) -> Outcome {
    // RFC 3463 X.7.5: a cryptographic operation failed because a key was not available.
    Outcome::Permanent(format!(
        "550 5.7.5 no OpenPGP key or S/MIME certificate found for {rcpt} (registered here or \
         in its domain's Web Key Directory); the sender's policy requires encryption, so the \
         message was not sent"
    ))
}

/// `message` without its `DKIM-Signature` fields.
fn without_dkim(message: &[u8]) -> Vec<u8> {
    let fields = palisade_checks::forged::header_fields(message);
    let mut out = Vec::with_capacity(message.len());
    let mut pos = 0;
    for f in fields {
        let is_dkim = message[f.clone()]
            .get(..15)
            .is_some_and(|n| n.eq_ignore_ascii_case(b"dkim-signature:"));
        if is_dkim {
            out.extend_from_slice(&message[pos..f.start]);
            pos = f.end;
        }
    }
    out.extend_from_slice(&message[pos..]);
    out
}

impl EndToEnd {
    /// What to send `rcpt` (a recipient on another server) under `policy`.
    pub async fn plan(
        &self,
        dns: &Dns,
        policy: OutboundPolicy,
        message: &[u8],
        rcpt: &Address,
    ) -> Plan {
        if policy == OutboundPolicy::Never {
            return Plan::AsIs;
        }
        let key = match self.wkd.lookup(dns, rcpt).await {
            Ok(k) => k,
            Err(e) if policy == OutboundPolicy::Required => {
                // Not a verdict on the recipient: the directory may answer next time.
                return Plan::Refused(Outcome::Transient(format!("451 4.7.5 {e}")));
            }
            Err(e) => {
                tracing::info!(rcpt = %rcpt, error = %e, "no key (opportunistic): sent as written");
                None
            }
        };
        let Some(key) = key else {
            return match policy {
                OutboundPolicy::Required => Plan::Refused(no_key_outcome(rcpt)),
                _ => Plan::AsIs,
            };
        };
        self.encrypt(message, Recipient::OpenPgp(key)).await
    }

    /// Encrypts and signs again, off the async threads.
    async fn encrypt(&self, message: &[u8], to: Recipient) -> Plan {
        let clear = without_dkim(message);
        let opts = Options {
            protect_subject: self.protect_subject,
        };
        let sealed = tokio::task::spawn_blocking(move || {
            palisade_crypt::at_rest::seal(&clear, &to, opts, palisade_queue::now_secs())
        })
        .await;
        let mut sealed = match sealed {
            Ok(Ok(Sealed::Encrypted(bytes))) => bytes,
            // The user encrypted it themselves: theirs to send as it is.
            Ok(Ok(Sealed::AlreadyEncrypted)) => return Plan::AsIs,
            Ok(Err(e)) => {
                return Plan::Refused(Outcome::Transient(format!("451 4.7.5 encryption: {e}")));
            }
            Err(e) => {
                return Plan::Refused(Outcome::Transient(format!(
                    "451 4.3.0 encryption task: {e}"
                )));
            }
        };
        match self.resign.signatures(&sealed).await {
            Ok(mut signed) => {
                signed.append(&mut sealed);
                Plan::Encrypted(Arc::new(signed))
            }
            Err(e) => Plan::Refused(Outcome::Transient(format!("451 4.3.0 DKIM signing: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dkim_signatures_are_removed_and_the_rest_kept() {
        let m = b"DKIM-Signature: v=1; a=rsa-sha256;\r\n\tb=abc\r\nReceived: x\r\n\
                  dkim-signature: v=1\r\nSubject: hi\r\n\r\nDKIM-Signature: in the body\r\n";
        assert_eq!(
            without_dkim(m),
            b"Received: x\r\nSubject: hi\r\n\r\nDKIM-Signature: in the body\r\n".to_vec()
        );
    }
}
