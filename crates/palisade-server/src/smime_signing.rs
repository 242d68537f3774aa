//! S/MIME signing of submitted mail for users who imported a signing certificate
//! (`palisade user signing import`). The private key is kept in the store sealed with
//! the installation's secret key ([`palisade_store::Secret`]), which opens it on reading.
//!
//! Signing happens at the end of DATA, before DKIM (so DKIM covers the signed message)
//! and before any outbound encryption at delivery (so the recipient decrypts, then
//! verifies: RFC 8551 §3.7's usual order).

use crate::sender_auth::Checked;
use palisade_checks::Verdict;
use palisade_checks::verdict::{Fault, Reason};
use palisade_crypt::sign::SigningIdentity;
use palisade_store::{Store, StoreError};
use palisade_types::Address;
use palisade_types::reply::Reply;

/// `user`'s signing identity, if they have one; `Err` is the refusal for their message.
pub async fn identity(
    store: &dyn Store,
    user: &Address,
) -> Result<Option<SigningIdentity>, Checked> {
    let row = match store.signing_key(user).await {
        Ok(Some(row)) => row,
        Ok(None) => return Ok(None),
        Err(e @ (StoreError::Unsealable { .. } | StoreError::NoSecret)) => {
            tracing::error!(user = %user, error = %e, "signing key does not open");
            return Err(Checked::deferred(Fault::SigningKeyUnusable));
        }
        Err(e) => {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                "reading a signing key"
            );
            return Err(Checked::deferred(Fault::Store));
        }
    };
    if row.expires <= palisade_queue::now_secs() {
        // Signing with it would hand every recipient an invalid signature; sending
        // unsigned would break the user's promise. The user fixes it.
        return Err(Checked {
            verdict: Verdict::Reject {
                reply: Reply::new(550, (5, 7, 1), "").with_text(
                    "Your S/MIME signing certificate has expired: import a new one or remove it"
                        .to_string(),
                ),
                reason: Reason::SigningCertificateExpired {
                    user: user.to_string(),
                },
            },
            ..Checked::trusted()
        });
    }
    match SigningIdentity::stored(&row.certificate, &row.private_key) {
        Ok(id) => Ok(Some(id)),
        Err(e) => {
            tracing::error!(user = %user, error = %e, "stored signing identity unusable");
            Err(Checked::deferred(Fault::SigningKeyUnusable))
        }
    }
}

/// `message` as the user sends it, signed: header fields a sender may not set
/// ([`palisade_checks::forged::untrusted_fields`]) dropped, `prepend` (Date, Message-ID
/// the server adds) first. `Ok(None)`: signed or encrypted already, sent as it is.
pub async fn sign(
    id: SigningIdentity,
    message: std::sync::Arc<Vec<u8>>,
    prepend: Vec<u8>,
    authserv_id: String,
) -> Result<Option<Vec<u8>>, Checked> {
    let signed = crate::cpu::cpu(move || {
        let mut drop = palisade_checks::forged::untrusted_fields(&message, Some(&authserv_id));
        drop.sort_by_key(|r| (r.start, r.end));
        drop.dedup();
        let mut clean = prepend;
        palisade_queue::copy_kept(&message, &drop, &mut clean);
        id.sign(&clean)
    })
    .await;
    match signed {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "S/MIME signing failed");
            Err(Checked::deferred(Fault::SmimeSigning))
        }
        Err(e) => {
            tracing::error!(error = %e, "S/MIME signing task failed");
            Err(Checked::deferred(Fault::SmimeSigning))
        }
    }
}
