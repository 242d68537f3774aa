//! A local domain's DKIM keys through their life: generated (the first of an algorithm
//! signs at once), rotated (new keys wait as `pending` while their records reach DNS),
//! activated (the key it replaces is retired, its record kept a while for mail in
//! transit). The CLI (`palisade dkim`) and the web console both act through here, and
//! show the record to publish as [`TxtRecord`].

use crate::signing::{self, KeyAlgorithm, SigningError};
use palisade_store::{DkimKey, Store, StoreError};
use palisade_types::Domain;

/// A key's state in the store.
pub const ACTIVE: &str = "active";
pub const PENDING: &str = "pending";
pub const RETIRED: &str = "retired";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("selector {0:?}: letters, digits and '-' only")]
    BadSelector(String),
    #[error("no DKIM selector {selector} for {domain}")]
    NoSelector { domain: Domain, selector: String },
    #[error("selector {selector} of {domain} exists already")]
    Exists { domain: Domain, selector: String },
    #[error(transparent)]
    Signing(#[from] SigningError),
    #[error("key generation stopped")]
    Interrupted,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for KeyError {
    fn from(e: StoreError) -> KeyError {
        KeyError::Store(e)
    }
}

/// A TXT record to publish: its owner name and its whole value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxtRecord {
    pub name: String,
    pub value: String,
}

/// A DNS character-string holds at most 255 octets (RFC 1035 §3.3); a longer TXT value
/// is published as several, which receivers join (RFC 6376 §3.6.2.2).
pub const TXT_STRING_MAX: usize = 255;

impl TxtRecord {
    /// The value as the quoted character-strings of one zone-file line, each at most
    /// [`TXT_STRING_MAX`] octets (the value is ASCII: base64 and tag names).
    pub fn strings(&self) -> String {
        self.value
            .as_bytes()
            .chunks(TXT_STRING_MAX)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The record as a zone-file line.
    pub fn zone_line(&self) -> String {
        format!("{}. TXT {}", self.name, self.strings())
    }
}

/// The record that publishes `k` (`selector._domainkey.domain`, RFC 6376 §3.6.2.1).
pub fn record(k: &DkimKey) -> TxtRecord {
    let alg = KeyAlgorithm::parse(&k.algorithm).unwrap_or(KeyAlgorithm::Rsa);
    TxtRecord {
        name: format!("{}._domainkey.{}", k.selector, k.domain),
        value: signing::dns_record(alg, &k.public_key),
    }
}

/// Selectors name the algorithm and the day: `ed20261201`, `rsa20261201` (a suffix
/// keeps them unique when rotated twice a day).
pub fn default_selector(algorithm: KeyAlgorithm, taken: &[DkimKey], now: i64) -> String {
    let (y, m, d) = palisade_types::calendar::civil_from_days(now.div_euclid(86_400));
    let prefix = match algorithm {
        KeyAlgorithm::Ed25519 => "ed",
        KeyAlgorithm::Rsa => "rsa",
    };
    let base = format!("{prefix}{y:04}{m:02}{d:02}");
    let mut candidate = base.clone();
    let mut n = 1;
    while taken.iter().any(|k| k.selector == candidate) {
        n += 1;
        candidate = format!("{base}n{n}");
    }
    candidate
}

/// Checks a selector given by a person (RFC 6376 §3.1: a sub-domain; we take one label
/// of letters, digits and '-').
pub fn check_selector(s: &str) -> Result<(), KeyError> {
    let ok =
        !s.is_empty() && s.len() <= 63 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(KeyError::BadSelector(s.to_string()))
    }
}

/// Generates one key of `algorithm` for `domain` in `state`, under `selector` or the
/// day's default.
pub async fn create(
    store: &dyn Store,
    domain: &Domain,
    algorithm: KeyAlgorithm,
    selector: Option<&str>,
    state: &str,
    now: i64,
) -> Result<DkimKey, KeyError> {
    let existing = store.list_dkim_keys(Some(domain)).await?;
    let selector = match selector {
        Some(s) => {
            check_selector(s)?;
            s.to_string()
        }
        None => default_selector(algorithm, &existing, now),
    };
    let key = tokio::task::spawn_blocking(move || signing::generate(algorithm))
        .await
        .map_err(|_| KeyError::Interrupted)??;
    let k = DkimKey {
        domain: domain.clone(),
        selector,
        algorithm: algorithm.name().to_string(),
        private_key: key.private_pkcs8,
        public_key: key.public,
        state: state.to_string(),
        created: now,
    };
    match store.add_dkim_key(&k).await {
        Ok(()) => Ok(k),
        Err(StoreError::AlreadyExists { .. }) => Err(KeyError::Exists {
            domain: domain.clone(),
            selector: k.selector,
        }),
        Err(e) => Err(e.into()),
    }
}

/// New keys for `domain`, one per algorithm: each signs at once unless a key of its
/// algorithm is active already (then it waits, `pending`, as after a rotation).
pub async fn keygen(
    store: &dyn Store,
    domain: &Domain,
    algorithms: &[KeyAlgorithm],
    selector: Option<&str>,
    now: i64,
) -> Result<Vec<DkimKey>, KeyError> {
    let existing = store.list_dkim_keys(Some(domain)).await?;
    let mut made = Vec::new();
    for &a in algorithms {
        let active = existing
            .iter()
            .any(|k| k.algorithm == a.name() && k.state == ACTIVE);
        let state = if active { PENDING } else { ACTIVE };
        made.push(create(store, domain, a, selector, state, now).await?);
    }
    Ok(made)
}

/// A rotation's first step: a pending Ed25519 and RSA key, to publish before
/// [`activate`].
pub async fn rotate(
    store: &dyn Store,
    domain: &Domain,
    now: i64,
) -> Result<Vec<DkimKey>, KeyError> {
    let mut made = Vec::new();
    for a in [KeyAlgorithm::Ed25519, KeyAlgorithm::Rsa] {
        made.push(create(store, domain, a, None, PENDING, now).await?);
    }
    Ok(made)
}

/// Makes `selector` the key that signs for its algorithm; returns the selectors it
/// retired (their records stay published a few days, for mail in transit).
pub async fn activate(
    store: &dyn Store,
    domain: &Domain,
    selector: &str,
) -> Result<Vec<String>, KeyError> {
    let keys = store.list_dkim_keys(Some(domain)).await?;
    let Some(target) = keys.iter().find(|k| k.selector == selector) else {
        return Err(KeyError::NoSelector {
            domain: domain.clone(),
            selector: selector.to_string(),
        });
    };
    let mut retired = Vec::new();
    for k in keys
        .iter()
        .filter(|k| k.algorithm == target.algorithm && k.state == ACTIVE && k.selector != selector)
    {
        store
            .set_dkim_key_state(domain, &k.selector, RETIRED)
            .await?;
        retired.push(k.selector.clone());
    }
    store.set_dkim_key_state(domain, selector, ACTIVE).await?;
    Ok(retired)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key(selector: &str) -> DkimKey {
        DkimKey {
            domain: Domain::parse("example.test").unwrap(),
            selector: selector.to_string(),
            algorithm: "rsa".to_string(),
            private_key: String::new(),
            public_key: "A".repeat(400),
            state: ACTIVE.to_string(),
            created: 0,
        }
    }

    #[test]
    fn selectors_name_the_day_and_stay_unique() {
        let day = 20_794 * 86_400; // 2026-12-07
        assert_eq!(
            default_selector(KeyAlgorithm::Ed25519, &[], day),
            "ed20261207"
        );
        let taken = [key("rsa20261207"), key("rsa20261207n2")];
        assert_eq!(
            default_selector(KeyAlgorithm::Rsa, &taken, day),
            "rsa20261207n3"
        );
    }

    #[test]
    fn selectors_are_one_label() {
        assert!(check_selector("mail-2026").is_ok());
        for bad in ["", "a.b", "a b", "ä", &"x".repeat(64)] {
            assert!(check_selector(bad).is_err(), "{bad:?}");
        }
    }

    /// RFC 1035 §3.3: a character-string is at most 255 octets; a longer value is
    /// split and the parts joined by the receiver (RFC 6376 §3.6.2.2).
    #[test]
    fn long_values_are_split_into_strings() {
        let r = record(&key("s"));
        assert_eq!(r.name, "s._domainkey.example.test");
        let strings = r.strings();
        let parts: Vec<&str> = strings.split("\" \"").collect();
        assert_eq!(parts.len(), 2);
        assert!(
            parts
                .iter()
                .all(|p| p.trim_matches('"').len() <= TXT_STRING_MAX)
        );
        assert_eq!(strings.replace("\" \"", "").trim_matches('"'), r.value);
    }
}
