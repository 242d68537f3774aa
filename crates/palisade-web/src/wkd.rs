//! Our users' OpenPGP keys over the Web Key Directory (draft-koch-openpgp-webkey-service
//! -16 §3.1), both methods:
//! - advanced: `https://openpgpkey.<domain>/.well-known/openpgpkey/<domain>/hu/<hash>`
//! - direct: `https://<domain>/.well-known/openpgpkey/hu/<hash>`
//!
//! and the policy file each method needs (§4.5, empty: no submission service). The
//! `?l=` parameter is not needed: the hash is matched against the domain's users.

use crate::WebState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use palisade_crypt::openpgp::OpenPgpKey;
use palisade_crypt::wkd::{is_hash, local_part_hash};
use palisade_types::Domain;
use std::sync::Arc;

/// What a request under `/.well-known/openpgpkey/` asks for.
#[derive(Debug, PartialEq, Eq)]
enum Asked {
    Policy(Domain),
    Key(Domain, String),
}

/// The Host header without a port, lower case, without a final dot.
fn host(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    Some(host.trim_end_matches('.').to_ascii_lowercase())
}

/// `path` (after `/.well-known/openpgpkey/`) read with the Host it came to.
fn asked(host: &str, path: &str) -> Option<Asked> {
    let parts: Vec<&str> = path.split('/').collect();
    let (domain, rest) = match parts.as_slice() {
        // Advanced method: the domain is in the path and the host is openpgpkey.<it>.
        [d, rest @ ..] if host.strip_prefix("openpgpkey.") == Some(&d.to_ascii_lowercase()) => {
            (*d, rest)
        }
        rest => (host, rest),
    };
    let domain = Domain::parse(domain).ok()?;
    match rest {
        ["policy"] => Some(Asked::Policy(domain)),
        ["hu", hash] if is_hash(hash) => Some(Asked::Key(domain, (*hash).to_string())),
        _ => None,
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no key here\n").into_response()
}

fn unavailable(e: &palisade_store::StoreError) -> Response {
    tracing::error!(error = %e, "store error");
    (StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response()
}

pub async fn serve(
    State(state): State<Arc<WebState>>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(asked) = host(&headers).and_then(|h| asked(&h, &path)) else {
        return not_found();
    };
    let domain = match &asked {
        Asked::Policy(d) | Asked::Key(d, _) => d,
    };
    match state.store.is_local_domain(domain).await {
        Ok(true) => {}
        Ok(false) => return not_found(),
        Err(e) => return unavailable(&e),
    }
    let Asked::Key(domain, hash) = asked else {
        return ([(header::CONTENT_TYPE, "text/plain")], "").into_response();
    };
    let users = match state.store.list_users(Some(&domain)).await {
        Ok(u) => u,
        Err(e) => return unavailable(&e),
    };
    let Some(user) = users
        .into_iter()
        .find(|u| local_part_hash(u.address.local()) == hash)
    else {
        return not_found();
    };
    let keys = match state.store.user_keys(&user.address).await {
        Ok(k) => k,
        Err(e) => return unavailable(&e),
    };
    // §3.1: several keys (a new one and the one it replaces) are concatenated.
    let mut body = Vec::new();
    for k in keys.iter().filter(|k| k.kind == "openpgp") {
        match OpenPgpKey::stored(&k.data).and_then(|key| key.for_wkd(&user.address.to_string())) {
            Ok(bytes) => body.extend_from_slice(&bytes),
            Err(e) => {
                tracing::warn!(user = %user.address, key = %k.fingerprint, error = %e, "key not served")
            }
        }
    }
    if body.is_empty() {
        return not_found();
    }
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            // §3.1: so that web mail clients can fetch keys.
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_methods_are_read_and_nothing_else() {
        let d = |s: &str| Domain::parse(s).unwrap_or_else(|e| panic!("{e}"));
        let hash = "iy9q119eutrkn8s1mk4r39qejnbu3n5q";
        assert_eq!(
            asked("openpgpkey.example.org", &format!("example.org/hu/{hash}")),
            Some(Asked::Key(d("example.org"), hash.into()))
        );
        assert_eq!(
            asked("example.org", &format!("hu/{hash}")),
            Some(Asked::Key(d("example.org"), hash.into()))
        );
        assert_eq!(
            asked("openpgpkey.example.org", "example.org/policy"),
            Some(Asked::Policy(d("example.org")))
        );
        assert_eq!(
            asked("example.org", "policy"),
            Some(Asked::Policy(d("example.org")))
        );
        // The advanced path's domain must be the host's.
        assert_eq!(
            asked("openpgpkey.example.org", &format!("other.org/hu/{hash}")),
            None
        );
        assert_eq!(asked("example.org", "hu/../../etc/passwd"), None);
        assert_eq!(asked("example.org", "hu/short"), None);
        assert_eq!(asked("example.org", &format!("hu/{hash}/x")), None);
    }
}
