//! MTA-STS (RFC 8461): a domain's HTTPS-published promise that its MX hosts do TLS with
//! valid certificates.
//!
//! The `_mta-sts` TXT record carries the policy id; the policy comes from
//! `https://mta-sts.<domain>/.well-known/mta-sts.txt` (reqwest on rustls, WebPKI roots
//! plus `delivery.extra_ca_file`; no redirects, at most 64 KiB, RFC 8461 §3.3), the host
//! resolved through Palisade's own resolver. Policies are cached for `max_age` in memory
//! and in the store (so a restart does not forget them: a cached policy is what still
//! protects delivery when an attacker strips the `_mta-sts` record, RFC 8461 §5.1 and
//! §10.2), and fetched again when the id changes. With `mode: enforce`, only MX hosts
//! matching the policy are used and each needs TLS with a certificate valid for its
//! name, or the message waits; with `testing`, delivery goes on and the failures are
//! reported through TLS-RPT.

use palisade_dns::Dns;
use palisade_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// RFC 8461 §3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Testing,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    pub mx: Vec<String>,
    pub max_age: u64,
}

/// RFC 8461 §3.2: `key: value` lines (CRLF or LF); version STSv1, mode, max_age and
/// (unless mode is none) at least one mx are required.
pub fn parse(text: &str) -> Result<Policy, String> {
    let mut version = None;
    let mut mode = None;
    let mut max_age = None;
    let mut mx = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            return Err(format!("malformed line {line:?}"));
        };
        let v = v.trim();
        match k.trim() {
            "version" => version = Some(v.to_string()),
            "mode" => {
                mode = Some(match v {
                    "enforce" => Mode::Enforce,
                    "testing" => Mode::Testing,
                    "none" => Mode::None,
                    other => return Err(format!("unknown mode {other:?}")),
                })
            }
            "max_age" => {
                max_age = Some(
                    v.parse::<u64>()
                        .ok()
                        .filter(|a| *a <= 31_557_600)
                        .ok_or_else(|| format!("bad max_age {v:?}"))?,
                )
            }
            "mx" => mx.push(v.to_ascii_lowercase()),
            _ => {} // RFC 8461 §3.2: unknown fields are ignored.
        }
    }
    if version.as_deref() != Some("STSv1") {
        return Err("version is not STSv1".into());
    }
    let mode = mode.ok_or("no mode")?;
    let max_age = max_age.ok_or("no max_age")?;
    if mode != Mode::None && mx.is_empty() {
        return Err("no mx".into());
    }
    Ok(Policy { mode, mx, max_age })
}

/// RFC 8461 §4.1: an mx pattern is a host name, or `*.` and a name matching exactly one
/// leftmost label.
pub fn mx_matches(pattern: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => host == pattern,
    }
}

struct Cached {
    id: String,
    policy: Policy,
    /// Seconds since the epoch.
    until: i64,
}

/// Domains whose policies are kept in memory (beyond it the memory cache starts over;
/// the store still has them).
const MAX_CACHED: usize = 100_000;

/// Fetches and caches policies.
pub struct MtaSts {
    tls: Arc<rustls::ClientConfig>,
    /// 443; tests use another port.
    pub port: u16,
    timeout: Duration,
    cache: Mutex<HashMap<String, Cached>>,
    store: Option<Arc<dyn Store>>,
}

/// The TXT record's id (RFC 8461 §3.1); `Ok(None)` when the domain has none.
async fn record_id(dns: &Dns, domain: &str) -> Result<Option<String>, String> {
    let records = dns
        .txt(&format!("_mta-sts.{domain}"))
        .await
        .map_err(|e| e.to_string())?;
    let sts: Vec<&String> = records
        .iter()
        .filter(|r| r.trim_start().starts_with("v=STSv1"))
        .collect();
    // §3.1: more than one record means no policy.
    let [only] = sts.as_slice() else {
        return Ok(None);
    };
    Ok(only
        .split(';')
        .filter_map(|t| t.trim().strip_prefix("id="))
        .next()
        .map(str::to_string))
}

impl MtaSts {
    /// `store`, when given, keeps fetched policies across restarts.
    pub fn new(tls: Arc<rustls::ClientConfig>, port: u16, store: Option<Arc<dyn Store>>) -> MtaSts {
        MtaSts {
            tls,
            port,
            timeout: Duration::from_secs(60),
            cache: Mutex::new(HashMap::new()),
            store,
        }
    }

    fn remember(&self, domain: &str, id: String, policy: Policy, until: i64) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(domain.to_string(), Cached { id, policy, until });
    }

    /// The unexpired policy from memory, else from the store.
    async fn cached(&self, domain: &str) -> Option<(String, Policy)> {
        let now = palisade_queue::now_secs();
        let in_memory = {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache
                .get(domain)
                .filter(|c| c.until > now)
                .map(|c| (c.id.clone(), c.policy.clone()))
        };
        if in_memory.is_some() {
            return in_memory;
        }
        let row = match self.store.as_ref()?.mta_sts_policy(domain).await {
            Ok(Some(row)) if row.expires > now => row,
            Ok(_) => return None,
            Err(e) => {
                tracing::warn!(
                    domain,
                    error = &e as &dyn std::error::Error,
                    "reading the cached MTA-STS policy"
                );
                return None;
            }
        };
        let policy = parse(&row.policy).ok()?;
        self.remember(domain, row.id.clone(), policy.clone(), row.expires);
        Some((row.id, policy))
    }

    /// The policy in force for `domain`, if any. Fetch failures fall back to a cached
    /// policy and otherwise to none (RFC 8461 §5.1), and are logged.
    pub async fn policy(&self, dns: &Dns, domain: &str) -> Option<Policy> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let cached = self.cached(&domain).await;
        let id = match record_id(dns, &domain).await {
            Ok(Some(id)) => id,
            Ok(None) => return cached.map(|(_, p)| p),
            Err(e) => {
                tracing::info!(domain, error = %e, "MTA-STS record lookup failed");
                return cached.map(|(_, p)| p);
            }
        };
        if let Some((cached_id, p)) = &cached
            && *cached_id == id
        {
            return Some(p.clone());
        }
        match self.fetch(dns, &domain).await {
            Ok((policy, text)) => {
                let now = palisade_queue::now_secs();
                let until = now.saturating_add(i64::try_from(policy.max_age).unwrap_or(i64::MAX));
                self.remember(&domain, id.clone(), policy.clone(), until);
                if let Some(store) = &self.store {
                    let row = palisade_store::StsPolicyRow {
                        domain: domain.clone(),
                        id,
                        policy: text,
                        expires: until,
                    };
                    if let Err(e) = store.put_mta_sts_policy(&row, now).await {
                        tracing::warn!(
                            domain,
                            error = &e as &dyn std::error::Error,
                            "storing the MTA-STS policy"
                        );
                    }
                }
                tracing::info!(domain, mode = ?policy.mode, "MTA-STS policy fetched");
                Some(policy)
            }
            Err(e) => {
                tracing::warn!(domain, error = %e, "MTA-STS policy fetch failed");
                cached.map(|(_, p)| p)
            }
        }
    }

    /// The parsed policy and its text (RFC 8461 §3.3: at most 64 KiB, no redirects).
    async fn fetch(&self, dns: &Dns, domain: &str) -> Result<(Policy, String), String> {
        let host = format!("mta-sts.{domain}");
        let limits = crate::https::Limits {
            timeout: self.timeout,
            max_body: 64 * 1024,
        };
        let path = "/.well-known/mta-sts.txt";
        let body = match crate::https::get(&self.tls, dns, &host, self.port, path, limits).await {
            Ok(crate::https::Fetched::Body(b)) => b,
            Ok(crate::https::Fetched::NotFound) => return Err(format!("{host}{path}: HTTP 404")),
            Err(e) => return Err(e.to_string()),
        };
        let text = String::from_utf8_lossy(&body).into_owned();
        Ok((parse(&text)?, text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8461_3_2_policy() {
        let p = parse("version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.mx, ["mx1.example.com", "*.example.net"]);
        assert_eq!(p.max_age, 604_800);
        assert!(parse("version: STSv1\nmode: none\nmax_age: 0\n").is_ok());
        for bad in [
            "mode: enforce\nmx: a\nmax_age: 1\n",
            "version: STSv1\nmode: enforce\nmax_age: 1\n",
            "version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n",
            "version: STSv1\nmode: enforce\nmx: a\nmax_age: 99999999999\n",
            "garbage",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// RFC 8461 §5.1 and §10.2: once fetched, a policy outlives the process; a restarted
    /// sender whose attacker strips the `_mta-sts` record still applies it.
    #[tokio::test]
    async fn a_stored_policy_survives_a_restart_and_a_stripped_record() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: Arc<dyn Store> = Arc::new(
            palisade_store::SqliteStore::open(&dir.path().join("db"))
                .await
                .expect("store"),
        );
        let text = "version: STSv1\r\nmode: enforce\r\nmx: mx.kept.test\r\nmax_age: 86400\r\n";
        let now = palisade_queue::now_secs();
        store
            .put_mta_sts_policy(
                &palisade_store::StsPolicyRow {
                    domain: "kept.test".into(),
                    id: "7".into(),
                    policy: text.into(),
                    expires: now + 86_400,
                },
                now,
            )
            .await
            .expect("put");
        store
            .put_mta_sts_policy(
                &palisade_store::StsPolicyRow {
                    domain: "old.test".into(),
                    id: "1".into(),
                    policy: text.into(),
                    expires: now - 1,
                },
                now,
            )
            .await
            .expect("put");
        // The DNS has no _mta-sts record for either (stripped, or never there).
        let authority = palisade_testkit::DnsAuthority::start().await;
        let dns = Dns::new(&palisade_dns::DnsSettings {
            nameservers: vec![authority.addr()],
            timeout: Duration::from_secs(1),
            attempts: 1,
            dnssec_trusted: false,
        })
        .expect("dns");
        let tls = Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        );
        // A fresh process: nothing in memory.
        let sts = MtaSts::new(tls, 443, Some(store));
        let p = sts
            .policy(&dns, "Kept.Test")
            .await
            .expect("the stored policy");
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.mx, ["mx.kept.test"]);
        assert_eq!(sts.policy(&dns, "old.test").await, None, "expired");
    }

    #[test]
    fn rfc8461_4_1_mx_patterns() {
        assert!(mx_matches("mx.example.com", "MX.example.com."));
        assert!(mx_matches("*.example.com", "mx1.example.com"));
        assert!(!mx_matches("*.example.com", "a.b.example.com"));
        assert!(!mx_matches("*.example.com", "example.com"));
        assert!(!mx_matches("mx.example.com", "mx.example.com.evil.test"));
    }
}
