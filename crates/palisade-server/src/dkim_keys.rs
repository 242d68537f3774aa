//! DKIM signing of mail we send: the active keys of the From domain, parsed once and
//! kept for a short while, so a busy submission path neither queries the store nor
//! re-parses an RSA key per message. `palisade dkim activate|rotate` reach a running
//! server within [`KEEP`].

use palisade_checks::signing::{KeyAlgorithm, PreparedKeys, SigningKey};
use palisade_store::Store;
use palisade_types::Domain;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a domain's parsed keys are used before the store is asked again.
pub const KEEP: Duration = Duration::from_secs(30);
/// Domains kept at once (beyond it the cache starts over).
const MAX_DOMAINS: usize = 10_000;

#[derive(Default)]
pub struct DkimKeyCache {
    keys: Mutex<HashMap<Domain, (Instant, Arc<PreparedKeys>)>>,
}

/// The domain of the (first) From address.
fn from_domain(message: &[u8]) -> Option<Domain> {
    let parsed = mail_parser::MessageParser::new().parse_headers(message)?;
    let addr = parsed.from()?.first()?.address.as_deref()?.to_string();
    let domain = addr.rsplit_once('@')?.1;
    Domain::parse(domain).ok()
}

impl DkimKeyCache {
    fn cached(&self, domain: &Domain) -> Option<Arc<PreparedKeys>> {
        let map = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        map.get(domain)
            .filter(|(at, _)| at.elapsed() < KEEP)
            .map(|(_, k)| k.clone())
    }

    async fn prepared(
        &self,
        store: &dyn Store,
        domain: &Domain,
    ) -> Result<Arc<PreparedKeys>, String> {
        if let Some(k) = self.cached(domain) {
            return Ok(k);
        }
        let rows: Vec<palisade_store::DkimKey> = store
            .list_dkim_keys(Some(domain))
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|k| k.state == "active")
            .collect();
        // RSA key parsing is CPU work: on the blocking pool.
        let prepared = crate::cpu::cpu(move || {
            let keys: Vec<SigningKey<'_>> = rows
                .iter()
                .filter_map(|k| {
                    Some(SigningKey {
                        domain: k.domain.as_str(),
                        selector: &k.selector,
                        algorithm: KeyAlgorithm::parse(&k.algorithm)?,
                        private_pkcs8: &k.private_key,
                    })
                })
                .collect();
            PreparedKeys::new(&keys).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())??;
        let prepared = Arc::new(prepared);
        let mut map = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_DOMAINS {
            map.clear();
        }
        map.insert(domain.clone(), (Instant::now(), prepared.clone()));
        Ok(prepared)
    }

    /// DKIM-Signature fields for a message, one per active key of its From domain
    /// (Ed25519 and RSA: RFC 8463 §3); empty when the domain has none. Signed over
    /// `added` (header fields we add) followed by the message. Callers make sure the
    /// sender owns the From address: we never sign an identity the sender does not own.
    pub async fn sign(
        &self,
        store: &dyn Store,
        message: &[u8],
        added: &[u8],
    ) -> Result<Vec<u8>, String> {
        let Some(domain) = from_domain(message) else {
            return Ok(Vec::new());
        };
        let keys = self.prepared(store, &domain).await?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut input = added.to_vec();
        input.extend_from_slice(message);
        crate::cpu::cpu(move || keys.sign(&input).map_err(|e| e.to_string()))
            .await
            .map_err(|e| e.to_string())?
    }
}

/// Signs again what delivery changed on a sender's behalf (outbound encryption).
pub struct Resigner {
    pub store: Arc<dyn Store>,
    pub keys: Arc<DkimKeyCache>,
}

#[async_trait::async_trait]
impl palisade_delivery::end_to_end::Resign for Resigner {
    async fn signatures(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        self.keys.sign(self.store.as_ref(), message, b"").await
    }
}
