//! TLS connections for axum: accepted and handshaken in their own tasks, handed over
//! through a channel, each holding a permit of the connection cap.

use crate::TlsSource;
use crate::acme::AcmeChallenges;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_rustls::server::TlsStream;

/// Connections open at once (handshaking or established).
const MAX_CONNECTIONS: usize = 1024;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with no byte in either direction for this long is closed: without it,
/// 1,024 silent clients would hold every permit (axum's serve sets no header timeout).
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

pub struct TlsListener {
    ready: mpsc::Receiver<(Connection, std::net::SocketAddr)>,
    local: std::net::SocketAddr,
}

/// A connection (TLS by default) that gives its permit back when dropped and ends when
/// idle.
pub struct Connection<S = TlsStream<TcpStream>> {
    stream: S,
    _permit: OwnedSemaphorePermit,
    idle: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
}

impl<S> Connection<S> {
    fn new(stream: S, permit: OwnedSemaphorePermit, limit: Duration) -> Self {
        Connection {
            stream,
            _permit: permit,
            idle: Box::pin(tokio::time::sleep(limit)),
            limit,
        }
    }

    /// After an I/O poll: progress pushes the deadline back; a pending poll past the
    /// deadline fails the connection.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        use std::future::Future;
        match r {
            Poll::Ready(x) => {
                self.idle
                    .as_mut()
                    .reset(tokio::time::Instant::now() + self.limit);
                Poll::Ready(x)
            }
            Poll::Pending => match self.idle.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "idle HTTPS connection",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl TlsListener {
    /// Accepts on `socket`; with `acme`, a handshake offering `acme-tls/1` for a name
    /// with an open TLS-ALPN-01 challenge gets the validation certificate and then ends.
    pub fn start(
        socket: TcpListener,
        tls: TlsSource,
        acme: Option<Arc<AcmeChallenges>>,
    ) -> TlsListener {
        let local = socket
            .local_addr()
            .unwrap_or_else(|_| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
        let (tx, ready) = mpsc::channel(64);
        let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        tokio::spawn(async move {
            loop {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let (tcp, peer) = match socket.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = &e as &dyn std::error::Error, "HTTPS accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let (tls, acme, tx) = (tls.clone(), acme.clone(), tx.clone());
                tokio::spawn(async move {
                    let handshake = handshake(tcp, tls, acme.as_deref());
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                        Ok(Ok(Some(stream))) => {
                            let conn = Connection::new(stream, permit, IDLE_TIMEOUT);
                            let _ = tx.send((conn, peer)).await;
                        }
                        Ok(Ok(None)) => {
                            tracing::debug!(%peer, "ACME TLS-ALPN-01 handshake answered")
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "HTTPS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "HTTPS handshake timed out"),
                    }
                });
            }
        });
        TlsListener { ready, local }
    }
}

/// One handshake: the normal configuration (ALPN `http/1.1`), or an ACME validation
/// certificate, after which the connection carries nothing (RFC 8737 §3) and `None`.
async fn handshake(
    tcp: TcpStream,
    tls: TlsSource,
    acme: Option<&AcmeChallenges>,
) -> std::io::Result<Option<TlsStream<TcpStream>>> {
    let start =
        tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp).await?;
    if let Some(config) = acme.and_then(|a| a.for_hello(&start.client_hello())) {
        let mut stream = start.into_stream(config).await?;
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut stream).await;
        return Ok(None);
    }
    let mut config = (*tls()).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(start.into_stream(Arc::new(config)).await?))
}

impl axum::serve::Listener for TlsListener {
    type Io = Connection;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept task only ends with the runtime; wait for shutdown instead.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Plain TCP connections (the metrics listener): the same cap and idle timeout.
pub struct PlainListener {
    socket: TcpListener,
    permits: Arc<Semaphore>,
    idle: Duration,
}

impl PlainListener {
    /// Connections silent in both directions for `idle` are closed.
    pub fn new(socket: TcpListener, idle: Duration) -> PlainListener {
        PlainListener {
            socket,
            permits: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            idle,
        }
    }
}

impl axum::serve::Listener for PlainListener {
    type Io = Connection<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok(permit) = self.permits.clone().acquire_owned().await else {
                return std::future::pending().await;
            };
            match self.socket.accept().await {
                Ok((tcp, peer)) => return (Connection::new(tcp, permit, self.idle), peer),
                Err(e) => {
                    tracing::warn!(error = &e as &dyn std::error::Error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.socket.local_addr()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Connection<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.stream).poll_read(cx, buf);
        self.watch(cx, r)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Connection<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.watch(cx, r)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
