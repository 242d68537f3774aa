//! The answers to the ACME CA's challenges while an order is open: TLS-ALPN-01 (RFC 8737)
//! on the HTTPS listener, HTTP-01 (RFC 8555 §8.3) on the port 80 listener. The ACME
//! client (in the server) puts them here and takes them away when the order ends.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The ALPN protocol of TLS-ALPN-01 (RFC 8737 §6.2).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

#[derive(Default)]
pub struct AcmeChallenges {
    /// TLS-ALPN-01: the validation certificate's configuration, by lower-case DNS name.
    alpn: RwLock<HashMap<String, Arc<rustls::ServerConfig>>>,
    /// HTTP-01: the key authorization, by token.
    http: RwLock<HashMap<String, String>>,
}

impl AcmeChallenges {
    /// Answers TLS-ALPN-01 for `name` with `config` (its one certificate is the
    /// validation certificate; its one ALPN protocol `acme-tls/1`).
    pub fn set_alpn(&self, name: &str, config: Arc<rustls::ServerConfig>) {
        self.alpn
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_ascii_lowercase(), config);
    }

    /// Answers HTTP-01 for `token` with `key_authorization`.
    pub fn set_http(&self, token: &str, key_authorization: &str) {
        self.http
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.to_string(), key_authorization.to_string());
    }

    /// Forgets every answer (the order ended).
    pub fn clear(&self) {
        self.alpn.write().unwrap_or_else(|e| e.into_inner()).clear();
        self.http.write().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// RFC 8737 §3: the validation certificate is served only to a client that offers
    /// `acme-tls/1`, and only for a name with an open challenge.
    pub(crate) fn for_hello(
        &self,
        hello: &rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::ServerConfig>> {
        let offered = hello.alpn()?.any(|p| p == ACME_TLS_ALPN);
        if !offered {
            return None;
        }
        let name = hello.server_name()?.to_ascii_lowercase();
        self.alpn
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&name)
            .cloned()
    }

    fn http_answer(&self, token: &str) -> Option<String> {
        self.http
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
    }
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
    challenges: Arc<AcmeChallenges>,
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
async fn http01(
    State(challenges): State<Arc<AcmeChallenges>>,
    Path(token): Path<String>,
) -> Response {
    match challenges.http_answer(&token) {
        Some(answer) => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], answer).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such challenge\n").into_response(),
    }
}
