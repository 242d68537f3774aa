//! The TLS client for outbound SMTP: rustls with the WebPKI roots (plus any extra CA).
//!
//! Opportunistic TLS (RFC 7435) must encrypt even when the certificate cannot be
//! authenticated, so the verifier runs the full WebPKI check, records the verdict, and
//! lets the handshake go on either way. Handshake signatures are still verified against
//! the presented certificate. A policy that requires authentication (MTA-STS enforce,
//! DANE) reads the recorded verdict and refuses the session.

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("reading extra CA file {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("CA file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("building the TLS client: {0}")]
    Build(String),
}

/// The outbound TLS configuration.
#[derive(Clone)]
pub struct TlsClient {
    roots: Arc<rustls::RootCertStore>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

/// What the verifier concluded about the certificate, for this one handshake.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CertVerdict {
    #[default]
    NotChecked,
    Valid,
    Invalid(String),
}

#[derive(Debug)]
struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    verdict: Arc<Mutex<CertVerdict>>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(_) => CertVerdict::Valid,
            Err(e) => CertVerdict::Invalid(e.to_string()),
        };
        *self.verdict.lock().unwrap_or_else(|e| e.into_inner()) = verdict;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

impl TlsClient {
    /// WebPKI roots, plus the PEM certificates in `extra_ca` if given.
    pub fn new(extra_ca: Option<&Path>) -> Result<TlsClient, TlsSetupError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = extra_ca {
            use rustls::pki_types::pem::PemObject;
            let shown = path.display().to_string();
            let certs = CertificateDer::pem_file_iter(path).map_err(|e| TlsSetupError::Parse {
                path: shown.clone(),
                message: e.to_string(),
            })?;
            let mut added = 0;
            for c in certs {
                let c = c.map_err(|e| TlsSetupError::Parse {
                    path: shown.clone(),
                    message: e.to_string(),
                })?;
                roots.add(c).map_err(|e| TlsSetupError::Parse {
                    path: shown.clone(),
                    message: e.to_string(),
                })?;
                added += 1;
            }
            // A file named for trust that holds none is a mistake, never a silent no-op.
            if added == 0 {
                return Err(TlsSetupError::Parse {
                    path: shown,
                    message: "no PEM certificate in it".into(),
                });
            }
        }
        Ok(TlsClient {
            roots: Arc::new(roots),
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        })
    }

    /// A strictly verifying client configuration (WebPKI roots plus the extra CA), for
    /// HTTPS fetches such as MTA-STS policies.
    pub fn https_config(&self) -> Result<Arc<rustls::ClientConfig>, TlsSetupError> {
        Ok(Arc::new(
            rustls::ClientConfig::builder_with_provider(self.provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| TlsSetupError::Build(e.to_string()))?
                .with_root_certificates(self.roots.clone())
                .with_no_client_auth(),
        ))
    }

    /// A connector for one handshake and the slot its certificate verdict lands in.
    pub fn connector(
        &self,
    ) -> Result<(tokio_rustls::TlsConnector, Arc<Mutex<CertVerdict>>), TlsSetupError> {
        let inner =
            WebPkiServerVerifier::builder_with_provider(self.roots.clone(), self.provider.clone())
                .build()
                .map_err(|e| TlsSetupError::Build(e.to_string()))?;
        let verdict = Arc::new(Mutex::new(CertVerdict::NotChecked));
        let verifier = RecordingVerifier {
            inner,
            verdict: verdict.clone(),
        };
        let cfg = rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError::Build(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok((tokio_rustls::TlsConnector::from(Arc::new(cfg)), verdict))
    }
}
