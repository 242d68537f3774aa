//! HAProxy PROXY protocol v1 and v2 in front of a listener (ppp parses the header).
//!
//! On a listener with `proxy_protocol_from`, only those peers may connect, and each must
//! open with a PROXY header; anything else closes the connection before the greeting.
//! The header is read exactly (byte-wise for v1, by its length field for v2), so no byte
//! of the SMTP stream that follows is consumed here. The source address it carries is the
//! client for connection limits, SPF and logs. `LOCAL` (v2) and `UNKNOWN` (v1), which
//! load balancers use for health checks, leave the balancer's own address in place.

use ipnet::IpNet;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The v2 signature (12 octets).
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// Longest v1 header, CRLF included (the spec's 107).
const V1_MAX: usize = 107;
/// Largest v2 address block with TLVs we accept (the format allows 64 KiB).
const V2_MAX_LEN: usize = 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProxyError {
    #[error("peer {0} may not send a PROXY header on this listener")]
    Untrusted(std::net::IpAddr),
    #[error("no PROXY header within the time limit")]
    Timeout,
    #[error("connection closed before the PROXY header ended")]
    Eof,
    #[error("malformed PROXY header: {0}")]
    Malformed(String),
}

/// Whether `peer` may speak PROXY here.
pub fn trusted(from: &[IpNet], peer: std::net::IpAddr) -> bool {
    from.iter().any(|n| n.contains(&peer))
}

/// The client a complete header names; `None` for LOCAL/UNKNOWN (keep the peer).
pub fn parse(header: &[u8]) -> Result<Option<SocketAddr>, ProxyError> {
    let bad = |e: &dyn std::fmt::Display| ProxyError::Malformed(e.to_string());
    if header.starts_with(V2_SIGNATURE) {
        let h = ppp::v2::Header::try_from(header).map_err(|e| bad(&e))?;
        if h.command == ppp::v2::Command::Local {
            return Ok(None);
        }
        return match h.addresses {
            ppp::v2::Addresses::IPv4(a) => {
                Ok(Some(SocketAddr::from((a.source_address, a.source_port))))
            }
            ppp::v2::Addresses::IPv6(a) => {
                Ok(Some(SocketAddr::from((a.source_address, a.source_port))))
            }
            ppp::v2::Addresses::Unspecified => Ok(None),
            ppp::v2::Addresses::Unix(_) => Err(ProxyError::Malformed(
                "UNIX socket addresses name no client".into(),
            )),
        };
    }
    let h = ppp::v1::Header::try_from(header).map_err(|e| bad(&e))?;
    Ok(match h.addresses {
        ppp::v1::Addresses::Tcp4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        ppp::v1::Addresses::Tcp6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        ppp::v1::Addresses::Unknown => None,
    })
}

/// Reads exactly one PROXY header from `stream` within `limit`.
pub async fn read_header<S: AsyncRead + Unpin>(
    stream: &mut S,
    limit: Duration,
) -> Result<Vec<u8>, ProxyError> {
    tokio::time::timeout(limit, read_exact_header(stream))
        .await
        .map_err(|_| ProxyError::Timeout)?
}

async fn read_exact_header<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Vec<u8>, ProxyError> {
    let eof = |_| ProxyError::Eof;
    let mut buf = vec![0u8; 12];
    stream.read_exact(&mut buf).await.map_err(eof)?;
    if buf.as_slice() == V2_SIGNATURE {
        let mut rest = [0u8; 4];
        stream.read_exact(&mut rest).await.map_err(eof)?;
        buf.extend_from_slice(&rest);
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        if len > V2_MAX_LEN {
            return Err(ProxyError::Malformed(format!("v2 length {len} too large")));
        }
        let start = buf.len();
        buf.resize(start + len, 0);
        stream.read_exact(&mut buf[start..]).await.map_err(eof)?;
        return Ok(buf);
    }
    if !buf.starts_with(b"PROXY ") {
        return Err(ProxyError::Malformed("neither v1 nor v2".into()));
    }
    while !buf.ends_with(b"\r\n") {
        if buf.len() >= V1_MAX {
            return Err(ProxyError::Malformed(
                "v1 header longer than 107 octets".into(),
            ));
        }
        let mut b = [0u8; 1];
        stream.read_exact(&mut b).await.map_err(eof)?;
        buf.push(b[0]);
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn v2(src: &str, dst: &str, cmd: ppp::v2::Command) -> Vec<u8> {
        let s: SocketAddr = src.parse().unwrap();
        let d: SocketAddr = dst.parse().unwrap();
        ppp::v2::Builder::with_addresses(
            ppp::v2::Version::Two | cmd,
            ppp::v2::Protocol::Stream,
            (s, d),
        )
        .build()
        .unwrap()
    }

    #[test]
    fn v1_and_v2_name_the_client() {
        assert_eq!(
            parse(b"PROXY TCP4 198.51.100.7 192.0.2.1 40000 25\r\n").unwrap(),
            Some("198.51.100.7:40000".parse().unwrap())
        );
        assert_eq!(
            parse(b"PROXY TCP6 2001:db8::7 2001:db8::1 40000 25\r\n").unwrap(),
            Some("[2001:db8::7]:40000".parse().unwrap())
        );
        assert_eq!(parse(b"PROXY UNKNOWN\r\n").unwrap(), None);
        let h = v2("198.51.100.8:1234", "192.0.2.1:25", ppp::v2::Command::Proxy);
        assert_eq!(
            parse(&h).unwrap(),
            Some("198.51.100.8:1234".parse().unwrap())
        );
        let h = v2("198.51.100.8:1234", "192.0.2.1:25", ppp::v2::Command::Local);
        assert_eq!(parse(&h).unwrap(), None);
    }

    #[test]
    fn malformed_headers_are_errors() {
        for bad in [
            &b"PROXY TCP4 1.2.3 4.5.6.7 1 2\r\n"[..],
            b"PROXY TCP4 198.51.100.7 192.0.2.1 99999 25\r\n",
            b"PROXY SCTP 1.2.3.4 1.2.3.4 1 2\r\n",
            b"EHLO x\r\n",
            b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x04abcd",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn reads_exactly_the_header() {
        let mut input: &[u8] = b"PROXY TCP4 198.51.100.7 192.0.2.1 40000 25\r\nEHLO x\r\n";
        let h = read_header(&mut input, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(h.ends_with(b"25\r\n"));
        assert_eq!(input, b"EHLO x\r\n");
        let mut v2h = v2("198.51.100.8:1234", "192.0.2.1:25", ppp::v2::Command::Proxy);
        v2h.extend_from_slice(b"EHLO");
        let mut input: &[u8] = &v2h;
        read_header(&mut input, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(input, b"EHLO");
    }

    #[tokio::test]
    async fn bounded_and_timed() {
        let long = [b"PROXY ".to_vec(), vec![b'1'; 200]].concat();
        let mut input: &[u8] = &long;
        assert!(matches!(
            read_header(&mut input, Duration::from_secs(1)).await,
            Err(ProxyError::Malformed(_))
        ));
        let mut input: &[u8] = b"PROXY TCP4";
        assert_eq!(
            read_header(&mut input, Duration::from_secs(1)).await,
            Err(ProxyError::Eof)
        );
        let (mut quiet, _keep) = tokio::io::duplex(64);
        assert_eq!(
            read_header(&mut quiet, Duration::from_millis(50)).await,
            Err(ProxyError::Timeout)
        );
    }
}
