//! ARC sealing (RFC 8617) of mail we forward: the next hop cannot check the original
//! sender's SPF (we sent it) and may not trust a DKIM signature a list footer broke,
//! so we add one ARC set saying what we found when the message reached us, signed with
//! the forwarding domain's DKIM key:
//!
//! - `ARC-Authentication-Results` (i=N): SPF for the original client and reverse-path,
//!   DKIM, the ARC chain that was already there, DMARC;
//! - `ARC-Message-Signature`: the header fields of [`SEALED_HEADERS`] and the body,
//!   relaxed/relaxed (over the body mail-auth 0.13.3 should hash, as for DKIM);
//! - `ARC-Seal`: the chain, with `cv=none` for the first set, `pass` when the earlier
//!   sets verified. A chain that already failed is not sealed again (§5.1.2: `cv=fail`
//!   ends the chain; mail-auth refuses to extend it): the message goes unsealed.

use crate::message::{verify_arc, verify_dkim, verify_dmarc};
use crate::relaxed_body::without_trailing_blank_lines;
use crate::signing::{ParsedKey, SigningError, SigningKey, parse_key};
use crate::spf::{SpfCheck, SpfIdentity};
use mail_auth::arc::ArcSealer;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::{AuthenticatedMessage, AuthenticationResults};
use palisade_dns::Dns;

/// The header fields the ARC-Message-Signature covers ("From" twice: over-signed, as
/// for DKIM, so a second From added later breaks it).
pub const SEALED_HEADERS: &[&str] = &[
    "From",
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "DKIM-Signature",
];

/// What sealing gave.
pub enum Sealed {
    /// The three ARC header fields, to go on top of the message.
    Set(Vec<u8>),
    /// The existing chain failed: left unsealed (RFC 8617 §5.1.2).
    ChainFailed,
}

/// Seals `raw` as received from `spf`'s client, signed as `key`'s domain.
pub async fn arc_seal(
    dns: &Dns,
    raw: &[u8],
    spf: &SpfCheck,
    hostname: &str,
    key: &SigningKey<'_>,
) -> Result<Sealed, SigningError> {
    let failed = |message: &str| SigningError::Sign {
        selector: key.selector.to_string(),
        message: message.to_string(),
    };
    let normalised = without_trailing_blank_lines(raw);
    let input = normalised.as_deref().unwrap_or(raw);
    let msg = AuthenticatedMessage::parse(input).ok_or_else(|| failed("no header section"))?;
    let (dkim, _) = verify_dkim(dns, &msg, None).await;
    let arc = verify_arc(dns, &msg, None).await;
    if !arc.can_be_sealed() {
        return Ok(Sealed::ChainFailed);
    }
    let dmarc = verify_dmarc(dns, &msg, &dkim, spf).await;
    let from = msg.from.first().map(String::as_str).unwrap_or_default();
    let mut results = AuthenticationResults::new(hostname);
    results = match &spf.identity {
        SpfIdentity::MailFrom(mf) => {
            results.with_spf_mailfrom_result(&spf.output, spf.ip, mf, &spf.helo)
        }
        SpfIdentity::Helo(helo) => results.with_spf_ehlo_result(&spf.output, spf.ip, helo),
    };
    let results = results
        .with_dkim_results(&dkim, from)
        .with_arc_result(&arc, spf.ip)
        .with_dmarc_result(&dmarc);
    let set = match parse_key(key)? {
        ParsedKey::Ed25519(k) => seal_with(k, key, &msg, &results, &arc),
        ParsedKey::Rsa(k) => seal_with(k, key, &msg, &results, &arc),
    }
    .map_err(|e| failed(&e.to_string()))?;
    Ok(Sealed::Set(set.into_bytes()))
}

fn seal_with<
    K: mail_auth::common::crypto::SigningKey<Hasher = mail_auth::common::crypto::Sha256>,
>(
    k: K,
    key: &SigningKey<'_>,
    msg: &AuthenticatedMessage<'_>,
    results: &AuthenticationResults<'_>,
    arc: &mail_auth::ArcOutput<'_>,
) -> mail_auth::Result<String> {
    ArcSealer::from_key(k)
        .domain(key.domain)
        .selector(key.selector)
        .headers(SEALED_HEADERS.iter().copied())
        .seal(msg, results, arc)
        .map(|s| s.to_header())
}
