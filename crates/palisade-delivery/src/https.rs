//! One bounded HTTPS GET to a host resolved through Palisade's own resolver: how
//! MTA-STS policies and Web Key Directory keys are fetched (reqwest on rustls, WebPKI
//! roots plus `delivery.extra_ca_file`, no redirects).

use palisade_dns::Dns;
use std::sync::Arc;
use std::time::Duration;

/// What a GET found.
#[derive(Debug, PartialEq, Eq)]
pub enum Fetched {
    Body(Vec<u8>),
    /// HTTP 404: the resource does not exist.
    NotFound,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    /// The host has no A or AAAA record (so it does not exist for this purpose).
    #[error("{0} has no address")]
    NoAddress(String),
    #[error("{0}")]
    Failed(String),
}

/// The request's bounds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    /// Bodies larger than this are refused (read stops there).
    pub max_body: usize,
}

/// `GET https://host:port{path}`; any status other than 200 and 404 is a failure.
pub async fn get(
    tls: &Arc<rustls::ClientConfig>,
    dns: &Dns,
    host: &str,
    port: u16,
    path: &str,
    limits: Limits,
) -> Result<Fetched, FetchError> {
    let failed = |e: &dyn std::fmt::Display| FetchError::Failed(e.to_string());
    let addr = crate::remote::mx::addresses(dns, host)
        .await
        .map_err(|e| failed(&e))?
        .into_iter()
        .next()
        .ok_or_else(|| FetchError::NoAddress(host.to_string()))?;
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured((**tls).clone())
        .redirect(reqwest::redirect::Policy::none())
        .resolve(host, std::net::SocketAddr::new(addr, port))
        .timeout(limits.timeout)
        .build()
        .map_err(|e| failed(&e))?;
    let url = format!("https://{host}:{port}{path}");
    let mut resp = client.get(&url).send().await.map_err(|e| failed(&e))?;
    if resp.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(Fetched::NotFound);
    }
    if !resp.status().is_success() {
        return Err(failed(&format!("{url}: HTTP {}", resp.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| failed(&e))? {
        body.extend_from_slice(&chunk);
        if body.len() > limits.max_body {
            return Err(failed(&format!(
                "{url}: larger than {} KiB",
                limits.max_body / 1024
            )));
        }
    }
    Ok(Fetched::Body(body))
}
