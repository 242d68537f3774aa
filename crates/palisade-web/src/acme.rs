//! The answers to the ACME CA's challenges while an order is open: TLS-ALPN-01 (RFC 8737)
//! on the HTTPS listener, HTTP-01 (RFC 8555 §8.3) on the port 80 listener. The ACME
//! client (in the server) keeps them ([`Answers`]) and takes them away when the order
//! ends.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The ALPN protocol of TLS-ALPN-01 (RFC 8737 §6.2).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// The answers to open challenges, kept by the ACME client (palisade-server's).
pub trait Answers: Send + Sync {
    /// TLS-ALPN-01: the validation certificate's configuration for `name` (lower case),
    /// whose one certificate is the validation certificate.
    fn alpn(&self, name: &str) -> Option<Arc<rustls::ServerConfig>>;
    /// HTTP-01: the key authorization for `token`.
    fn http(&self, token: &str) -> Option<String>;
}

/// RFC 8737 §3: the validation certificate is served only to a client that offers
/// `acme-tls/1`, and only for a name with an open challenge.
pub(crate) fn for_hello(
    answers: &dyn Answers,
    hello: &rustls::server::ClientHello<'_>,
) -> Option<Arc<rustls::ServerConfig>> {
    let offered = hello.alpn()?.any(|p| p == ACME_TLS_ALPN);
    if !offered {
        return None;
    }
    answers.alpn(&hello.server_name()?.to_ascii_lowercase())
}

/// A port 80 connection silent this long is closed...
const HTTP01_IDLE: std::time::Duration = std::time::Duration::from_secs(10);
/// ...and every one after this long: a CA's request takes a moment.
const HTTP01_LIFETIME: std::time::Duration = std::time::Duration::from_secs(30);

/// The port 80 listener (`acme.http_address`): HTTP-01 answers and nothing else, with
/// the connection caps of every listener, a short idle timeout and a lifetime. Serves
/// until `stop` is true.
pub async fn serve_http01(
    socket: TcpListener,
    challenges: Arc<dyn Answers>,
    mut stop: watch::Receiver<bool>,
) {
    let app = Router::new()
        .route("/.well-known/acme-challenge/{token}", get(http01))
        .with_state(challenges);
    let listener = crate::listener::PlainListener::new(socket, HTTP01_IDLE, Some(HTTP01_LIFETIME));
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(
            error = &e as &dyn std::error::Error,
            "ACME HTTP-01 listener stopped"
        );
    }
}

/// RFC 8555 §8.3: the key authorization as `application/octet-stream`; 404 for a token
/// with no open challenge.
async fn http01(State(challenges): State<Arc<dyn Answers>>, Path(token): Path<String>) -> Response {
    match challenges.http(&token) {
        Some(answer) => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], answer).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such challenge\n").into_response(),
    }
}
