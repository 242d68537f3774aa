//! TLS connections for axum: accepted and handshaken in their own tasks, handed over
//! through a channel, each holding a permit of the connection cap and a slot of its
//! address's share of it.

use crate::TlsSource;
use crate::acme::Answers;
use palisade_access::limits::{ConnectionLimits, Slot};
use std::net::IpAddr;
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
/// Connections one address (an IPv6 /64) may hold at once: one client cannot take
/// every permit.
const MAX_PER_ADDRESS: usize = 32;
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
    _slot: Slot,
    idle: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
    /// When the connection ends whatever it does (a client dribbling a byte at a time
    /// is never idle).
    end: Option<tokio::time::Instant>,
}

/// The per-address share of one listener's connections.
fn per_address() -> Arc<ConnectionLimits> {
    Arc::new(ConnectionLimits::new(MAX_CONNECTIONS, MAX_PER_ADDRESS))
}

/// A slot for a connection from `ip`, counted by its address (an IPv6 /64).
fn take(limits: &Arc<ConnectionLimits>, ip: IpAddr) -> Option<Slot> {
    limits.try_acquire(palisade_access::guard::address_key(ip))
}

impl<S> Connection<S> {
    fn new(
        stream: S,
        permit: OwnedSemaphorePermit,
        slot: Slot,
        limit: Duration,
        lifetime: Option<Duration>,
    ) -> Self {
        let now = tokio::time::Instant::now();
        let end = lifetime.map(|l| now + l);
        Connection {
            stream,
            _permit: permit,
            _slot: slot,
            idle: Box::pin(tokio::time::sleep_until(Self::deadline(now, limit, end))),
            limit,
            end,
        }
    }

    fn deadline(
        now: tokio::time::Instant,
        limit: Duration,
        end: Option<tokio::time::Instant>,
    ) -> tokio::time::Instant {
        end.map_or(now + limit, |e| e.min(now + limit))
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
                let next = Self::deadline(tokio::time::Instant::now(), self.limit, self.end);
                self.idle.as_mut().reset(next);
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
        acme: Option<Arc<dyn Answers>>,
    ) -> TlsListener {
        let local = socket
            .local_addr()
            .unwrap_or_else(|_| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
        let (tx, ready) = mpsc::channel(64);
        let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let addresses = per_address();
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
                let Some(slot) = take(&addresses, peer.ip()) else {
                    tracing::debug!(%peer, "HTTPS connection refused: too many from this address");
                    continue;
                };
                let (tls, acme, tx) = (tls.clone(), acme.clone(), tx.clone());
                tokio::spawn(async move {
                    let handshake = handshake(tcp, tls, acme.as_deref());
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                        Ok(Ok(Some(stream))) => {
                            let conn = Connection::new(stream, permit, slot, IDLE_TIMEOUT, None);
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
    acme: Option<&dyn Answers>,
) -> std::io::Result<Option<TlsStream<TcpStream>>> {
    let start =
        tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp).await?;
    if let Some(config) = acme.and_then(|a| crate::acme::for_hello(a, &start.client_hello())) {
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

/// Plain TCP connections (the metrics listener, ACME's HTTP-01): the same caps and
/// idle timeout.
pub struct PlainListener {
    socket: TcpListener,
    permits: Arc<Semaphore>,
    addresses: Arc<ConnectionLimits>,
    idle: Duration,
    lifetime: Option<Duration>,
}

impl PlainListener {
    /// Connections silent in both directions for `idle` are closed, and all of them
    /// after `lifetime` when one is given.
    pub fn new(socket: TcpListener, idle: Duration, lifetime: Option<Duration>) -> PlainListener {
        PlainListener {
            socket,
            permits: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            addresses: per_address(),
            idle,
            lifetime,
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
                Ok((tcp, peer)) => {
                    // Over its address's share: closed at once (dropped).
                    if let Some(slot) = take(&self.addresses, peer.ip()) {
                        let conn = Connection::new(tcp, permit, slot, self.idle, self.lifetime);
                        return (conn, peer);
                    }
                }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A plain listener serving one route, with `lifetime`.
    async fn serve(lifetime: Option<Duration>) -> std::net::SocketAddr {
        let socket = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let listener = PlainListener::new(socket, Duration::from_secs(5), lifetime);
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    /// Whether the server closes `c` within `within` (end of stream or a reset).
    async fn closed(c: &mut TcpStream, within: Duration) -> bool {
        let mut buf = [0u8; 64];
        matches!(
            tokio::time::timeout(within, c.read(&mut buf)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }

    /// One address holds at most MAX_PER_ADDRESS connections; the next is closed at
    /// once, and a slot given back is usable again.
    #[tokio::test]
    async fn one_address_cannot_take_every_connection() {
        let addr = serve(None).await;
        let mut held = Vec::new();
        for _ in 0..MAX_PER_ADDRESS {
            held.push(TcpStream::connect(addr).await.unwrap());
        }
        // The server accepts in order: a request on the last one proves all are in.
        let last = held.last_mut().unwrap();
        last.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 256];
        let n = last.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        let mut extra = TcpStream::connect(addr).await.unwrap();
        assert!(closed(&mut extra, Duration::from_secs(5)).await);
        drop(held.pop());
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut again = TcpStream::connect(addr).await.unwrap();
        again
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let n = again.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    }

    /// A client that sends a byte now and then is never idle, but the lifetime ends it.
    #[tokio::test]
    async fn a_dribbling_client_is_cut_off_at_the_lifetime() {
        let addr = serve(Some(Duration::from_secs(1))).await;
        let mut c = TcpStream::connect(addr).await.unwrap();
        let started = tokio::time::Instant::now();
        let mut cut = false;
        for b in b"GET / HTTP/1.1\r\nHost: dribble.example\r\n"
            .iter()
            .cycle()
            .take(60)
        {
            if c.write_all(&[*b]).await.is_err() || closed(&mut c, Duration::from_millis(100)).await
            {
                cut = true;
                break;
            }
        }
        assert!(cut, "still open after {:?}", started.elapsed());
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}

/// The client's address, as axum's `ConnectInfo` for our TLS listener.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}
