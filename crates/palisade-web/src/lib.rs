//! The HTTPS listener: our MTA-STS policy (RFC 8461 §3.3) at
//! `https://mta-sts.<domain>/.well-known/mta-sts.txt` for every local domain, and our
//! users' OpenPGP keys over the Web Key Directory ([`wkd`]); the answers to an ACME CA's
//! challenges ([`acme`]); mail client autoconfiguration ([`autoconfig`]); and the web
//! console for users and administrators ([`console`]).
//!
//! TLS is rustls with the same certificate as SMTP (asked for per connection, so a
//! reload reaches new connections). Handshakes run in their own tasks with a timeout,
//! so a slow client cannot hold up others, and connections are capped.

pub mod acme;
pub mod autoconfig;
pub mod console;
mod listener;
pub mod mta_sts;
mod wkd;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use palisade_config::Config;
use palisade_store::Store;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Hands out the current configuration (it changes on reload).
pub type ConfigSource = Arc<dyn Fn() -> Arc<Config> + Send + Sync>;
/// Hands out the current TLS server configuration (it changes on reload).
pub type TlsSource = Arc<dyn Fn() -> Arc<rustls::ServerConfig> + Send + Sync>;

pub struct WebState {
    pub config: ConfigSource,
    pub store: Arc<dyn Store>,
    /// The server's login decision, for the console.
    pub logins: Arc<dyn console::Logins>,
    /// The server's quarantine, for the console.
    pub quarantine: Arc<dyn console::Quarantine>,
    /// The server's live DNS check, for the console.
    pub doctor: Arc<dyn console::Doctor>,
    /// The server's spool (`queue/`), for the console's queue pages.
    pub queue_dir: std::path::PathBuf,
    /// Passkey ceremonies between their two requests.
    pub ceremonies: console::Ceremonies,
}

pub fn router(state: Arc<WebState>) -> Router {
    let autodiscover = post(autoconfig::autodiscover).layer(axum::extract::DefaultBodyLimit::max(
        autoconfig::MAX_REQUEST,
    ));
    Router::new()
        .route("/.well-known/mta-sts.txt", get(mta_sts_policy))
        .route("/mail/config-v1.1.xml", get(autoconfig::thunderbird))
        .route(
            "/.well-known/autoconfig/mail/config-v1.1.xml",
            get(autoconfig::thunderbird),
        )
        .route("/autodiscover/autodiscover.xml", autodiscover.clone())
        .route("/Autodiscover/Autodiscover.xml", autodiscover)
        .route("/.well-known/openpgpkey/{*path}", get(wkd::serve))
        .merge(console::routes())
        .with_state(state)
}

/// Serves until `stop` turns true; with `acme`, also answers TLS-ALPN-01 challenges.
pub async fn serve(
    socket: TcpListener,
    tls: TlsSource,
    acme: Option<Arc<dyn acme::Answers>>,
    state: Arc<WebState>,
    mut stop: watch::Receiver<bool>,
) {
    let listener = listener::TlsListener::start(socket, tls, acme);
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let app = router(state).into_make_service_with_connect_info::<listener::Peer>();
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(
            error = &e as &dyn std::error::Error,
            "HTTPS listener stopped"
        );
    }
}

/// Renders the Prometheus text exposition of the server's metrics.
pub type MetricsSource = Arc<dyn Fn() -> String + Send + Sync>;

/// The plain-HTTP metrics listener (`metrics.address`): `GET /metrics`, with the same
/// connection cap and idle timeout as the HTTPS listener (the exporter's own listener
/// kept half-open connections for ever): a connection silent for `idle` (the SMTP idle
/// timeout) is closed. Serves until `stop` turns true.
pub async fn serve_metrics(
    socket: TcpListener,
    render: MetricsSource,
    idle: std::time::Duration,
    mut stop: watch::Receiver<bool>,
) {
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let render = render.clone();
            async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    render(),
                )
            }
        }),
    );
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener::PlainListener::new(socket, idle, None), app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(
            error = &e as &dyn std::error::Error,
            "metrics listener stopped"
        );
    }
}

/// The request's Host without the port and a trailing dot, lower case.
pub(crate) fn request_host(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    Some(host.trim_end_matches('.').to_ascii_lowercase())
}

/// The domain an `mta-sts.<domain>` Host header names, lower case, without a port.
fn policy_domain(headers: &HeaderMap) -> Option<palisade_types::Domain> {
    let host = request_host(headers)?;
    palisade_types::Domain::parse(host.strip_prefix("mta-sts.")?).ok()
}

/// RFC 8461 §3.3: the policy, `text/plain`, for a local domain; 404 for anything else.
async fn mta_sts_policy(State(state): State<Arc<WebState>>, headers: HeaderMap) -> Response {
    let Some(domain) = policy_domain(&headers) else {
        return (StatusCode::NOT_FOUND, "no MTA-STS policy for this host\n").into_response();
    };
    match state.store.is_local_domain(&domain).await {
        Ok(true) => {
            let cfg = (state.config)();
            (
                [(header::CONTENT_TYPE, "text/plain")],
                mta_sts::policy(&cfg.mta_sts),
            )
                .into_response()
        }
        Ok(false) => (StatusCode::NOT_FOUND, "no MTA-STS policy for this host\n").into_response(),
        Err(e) => {
            tracing::error!(error = &e as &dyn std::error::Error, "store error");
            (StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(h: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::HOST, h.parse().expect("header value"));
        m
    }

    #[test]
    fn the_policy_host_names_the_domain() {
        let d = |h: &str| policy_domain(&host(h)).map(|d| d.to_string());
        assert_eq!(d("mta-sts.example.com"), Some("example.com".into()));
        assert_eq!(d("MTA-STS.Example.COM:443"), Some("example.com".into()));
        assert_eq!(d("mta-sts.example.com."), Some("example.com".into()));
        assert_eq!(d("example.com"), None);
        assert_eq!(d("mta-sts."), None);
        assert_eq!(d("www.mta-sts.example.com"), None);
    }
}
