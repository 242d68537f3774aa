//! Inbound signed mail: the PGP/MIME or S/MIME signature checked (palisade-crypt) with
//! the keys and certificates the store has for the author, for Authentication-Results
//! and the phishing engine.

use crate::sender_auth::header_safe;
use palisade_crypt::openpgp::OpenPgpKey;
use palisade_crypt::signed::{self, Known, SignatureCheck, Status};
use palisade_phish::SignatureState;
use palisade_store::Store;
use palisade_types::Address;
use std::sync::Arc;

/// Boundary lines a signed message may have for its signature to be checked.
const MAX_DELIMITERS: usize = 1000;

/// The author's address (the first From), lower-cased.
fn author(message: &[u8]) -> Option<String> {
    let parsed = mail_parser::MessageParser::new().parse_headers(message)?;
    let from = parsed.from()?.first()?.address.as_deref()?;
    Some(from.to_ascii_lowercase())
}

/// The message's signature, checked; `None` for unsigned mail. Without a store, only
/// what the message carries is known (S/MIME certificates).
pub async fn check(store: Option<&dyn Store>, message: Arc<Vec<u8>>) -> Option<SignatureCheck> {
    if !signed::is_signed(&message) {
        return None;
    }
    // The check parses the whole message: not one built of more parts than any
    // signed mail has (its parse would cost memory set by the input).
    if palisade_phish::mime_bounds::truncated(&message, MAX_DELIMITERS).is_some() {
        tracing::info!("signature not checked: too many MIME parts");
        return None;
    }
    let from = author(&message);
    let keys = match (store, from.as_deref().map(Address::parse)) {
        (Some(store), Some(Ok(a))) => store.user_keys(&a).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "signature check without the author's keys");
            Vec::new()
        }),
        _ => Vec::new(),
    };
    let openpgp: Vec<OpenPgpKey> = keys
        .iter()
        .filter(|k| k.kind == "openpgp")
        .filter_map(|k| OpenPgpKey::stored(&k.data).ok())
        .collect();
    let smime: Vec<String> = keys
        .iter()
        .filter(|k| k.kind == "smime")
        .map(|k| k.fingerprint.clone())
        .collect();
    let now = palisade_queue::now_secs();
    crate::cpu::cpu(move || {
        let known = Known {
            openpgp: &openpgp,
            smime: &smime,
        };
        signed::check(&message, &known, from.as_deref(), now)
    })
    .await
    .ok()
    .flatten()
}

/// What the phishing engine weighs.
pub fn state(c: &SignatureCheck) -> SignatureState {
    match &c.status {
        Status::Valid => SignatureState::Valid {
            matches_from: c.matches_from,
        },
        Status::Invalid(why) => SignatureState::Invalid(why.clone()),
        Status::UnknownKey | Status::Unsupported(_) => SignatureState::Unchecked,
    }
}

/// `Authentication-Results: <us>; smime=pass (comment)` (RFC 8601, RFC 7281).
pub fn field(authserv_id: &str, c: &SignatureCheck) -> String {
    let (method, result, comment) = signed::auth_result(c);
    let comment: String = header_safe(&comment, 300)
        .chars()
        .map(|ch| {
            if matches!(ch, '(' | ')' | '\\') {
                ' '
            } else {
                ch
            }
        })
        .collect();
    format!("Authentication-Results: {authserv_id};\r\n\t{method}={result} ({comment})\r\n")
}
