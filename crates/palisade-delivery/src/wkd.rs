//! Finding a recipient's OpenPGP key in their domain's Web Key Directory
//! (draft-koch-openpgp-webkey-service §3.1), for outbound encryption.
//!
//! The advanced method comes first: `https://openpgpkey.<domain>/.well-known/openpgpkey/
//! <domain>/hu/<hash>?l=<local>`; only when that host does not exist (no address) is the
//! direct method used: `https://<domain>/.well-known/openpgpkey/hu/<hash>?l=<local>`.
//! The hash is z-base-32 of SHA-1 of the lower-cased local part. A key is accepted only
//! if it passes the same checks as an imported one for the address asked for.
//!
//! Answers are cached in memory: a key or a 404 for [`FOUND_TTL`] / [`ABSENT_TTL`];
//! failures are not cached, so a message that needs the key waits and tries again.

use crate::https::{self, FetchError, Fetched, Limits};
use palisade_crypt::openpgp::OpenPgpKey;
use palisade_crypt::wkd::local_part_hash;
use palisade_dns::Dns;
use palisade_types::Address;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a found key is used before it is fetched again (a revoked or replaced key
/// is noticed within this).
pub const FOUND_TTL: i64 = 3600;
/// How long "no key published" is believed (a newly published key is used after this).
pub const ABSENT_TTL: i64 = 600;
/// Addresses remembered at most (beyond, the cache starts over).
const MAX_CACHED: usize = 10_000;
/// A key with many signatures is large; a directory answer beyond this is refused.
const MAX_KEY_BYTES: usize = 256 * 1024;

pub struct WkdClient {
    tls: Arc<rustls::ClientConfig>,
    /// 443; tests use another port.
    port: u16,
    timeout: Duration,
    cache: Mutex<HashMap<String, (Option<OpenPgpKey>, i64)>>,
}

impl WkdClient {
    pub fn new(tls: Arc<rustls::ClientConfig>, port: u16) -> WkdClient {
        WkdClient {
            tls,
            port,
            timeout: Duration::from_secs(20),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// `rcpt`'s key: `Ok(None)` when the domain publishes none for them (or a key that
    /// fails the checks), `Err` when the directory could not be asked.
    pub async fn lookup(&self, dns: &Dns, rcpt: &Address) -> Result<Option<OpenPgpKey>, String> {
        let address = rcpt.to_string();
        let key = address.to_ascii_lowercase();
        let now = palisade_queue::now_secs();
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((found, until)) = cache.get(&key)
                && *until > now
            {
                return Ok(found.clone());
            }
        }
        let found = self.fetch(dns, rcpt).await?;
        let checked = found.and_then(|bytes| {
            match OpenPgpKey::check_binary(&bytes, std::slice::from_ref(&address), now) {
                Ok((k, _)) => Some(k),
                Err(e) => {
                    tracing::info!(rcpt = %address, error = %e, "WKD key refused");
                    None
                }
            }
        });
        let ttl = if checked.is_some() {
            FOUND_TTL
        } else {
            ABSENT_TTL
        };
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(key, (checked.clone(), now + ttl));
        Ok(checked)
    }

    async fn fetch(&self, dns: &Dns, rcpt: &Address) -> Result<Option<Vec<u8>>, String> {
        let domain = rcpt.domain().as_str().to_ascii_lowercase();
        let local = rcpt.local();
        let hash = local_part_hash(local);
        let l = percent_encode(local);
        let limits = Limits {
            timeout: self.timeout,
            max_body: MAX_KEY_BYTES,
        };
        let advanced = format!("openpgpkey.{domain}");
        let path = format!("/.well-known/openpgpkey/{domain}/hu/{hash}?l={l}");
        let answer = match https::get(&self.tls, dns, &advanced, self.port, &path, limits).await {
            // §3.1: "If the required sub-domain does not exist, the direct method MUST
            // be used."
            Err(FetchError::NoAddress(_)) => {
                let path = format!("/.well-known/openpgpkey/hu/{hash}?l={l}");
                https::get(&self.tls, dns, &domain, self.port, &path, limits).await
            }
            other => other,
        };
        match answer {
            Ok(Fetched::Body(b)) => Ok(Some(b)),
            Ok(Fetched::NotFound) | Err(FetchError::NoAddress(_)) => Ok(None),
            Err(FetchError::Failed(e)) => Err(format!("WKD lookup for {rcpt}: {e}")),
        }
    }
}

/// The `l=` parameter: unreserved characters as they are, every other byte as `%XX`
/// (RFC 3986 §2).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_part_is_percent_encoded() {
        assert_eq!(percent_encode("Joe.Doe"), "Joe.Doe");
        assert_eq!(percent_encode("a+b&c=d"), "a%2Bb%26c%3Dd");
        assert_eq!(percent_encode("jürgen"), "j%C3%BCrgen");
    }
}
