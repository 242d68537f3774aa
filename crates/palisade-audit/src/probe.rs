//! `audit domain --probe`: what each MX host does, asked over SMTP on loopback or the
//! internet, harmlessly: banner and EHLO, STARTTLS offered, AUTH offered before TLS,
//! VRFY and EXPN answered, relaying (RCPT to an outside domain without AUTH, then RSET
//! before any DATA, so nothing is ever sent), the STARTTLS command-injection bug
//! (CVE-2011-0411: a command pipelined after STARTTLS in clear must be discarded, RFC
//! 3207 §4.2), and the TLS session itself (version, cipher, the certificate against the
//! WebPKI roots and the MX name, its expiry and key size).
//!
//! Then three short sessions ask whether the host still accepts TLS 1.0, TLS 1.1, or RSA
//! key exchange (no forward secrecy) at TLS 1.2 ([`legacy_tls`]: one ClientHello each,
//! abandoned at the server's answer).
//!
//! One connection at a time per host, each read bounded by the timeout; at most
//! [`MAX_HOSTS`] hosts.

use crate::finding::{Category, Finding, Status};
use crate::legacy_tls;
use palisade_delivery::remote::client::Conn;
use palisade_delivery::remote::tls::{CertVerdict, TlsClient};
use palisade_dns::Dns;
use std::time::Duration;
use tokio::net::TcpStream;

/// Hosts probed per domain at most.
pub const MAX_HOSTS: usize = 5;

pub struct ProbeSettings {
    /// 25; tests use another port.
    pub port: u16,
    /// Each connect, reply and handshake.
    pub timeout: Duration,
    /// Our name in EHLO.
    pub helo: String,
    pub tls: TlsClient,
    /// `--probe-intrusive --rcpt ADDRESS`: also the SMTP smuggling probe, which
    /// completes DATA to this address (one the user controls).
    pub intrusive_rcpt: Option<String>,
}

const CAT: Category = Category::Transport;
const HYG: Category = Category::Hygiene;

/// Probes each of `hosts` (the domain's MX hosts, best first).
pub async fn probe(dns: &Dns, hosts: &[String], s: &ProbeSettings) -> Vec<Finding> {
    let mut out = Vec::new();
    for host in hosts.iter().take(MAX_HOSTS) {
        out.extend(probe_host(dns, host, s).await);
    }
    if let Some(rcpt) = &s.intrusive_rcpt {
        out.extend(smuggling(dns, hosts, s, rcpt).await);
    }
    out
}

fn caps(ehlo: &palisade_delivery::remote::client::Reply) -> Vec<String> {
    String::from_utf8_lossy(&ehlo.raw)
        .lines()
        .skip(1)
        .map(|l| l.get(4..).unwrap_or_default().trim().to_ascii_uppercase())
        .collect()
}

async fn connect(
    host: &str,
    addr: std::net::IpAddr,
    s: &ProbeSettings,
) -> Result<Conn<TcpStream>, Finding> {
    match tokio::time::timeout(s.timeout, TcpStream::connect((addr, s.port))).await {
        Ok(Ok(t)) => Ok(Conn::new(t, s.timeout)),
        Ok(Err(e)) => Err(Finding::new("probe.connect", CAT, Status::Fail, 40)
            .evidence(format!("{host} ({addr}) port {}: {e}", s.port))
            .advice("Make the MX host reachable on port 25.")),
        Err(_) => Err(Finding::new("probe.connect", CAT, Status::Fail, 40)
            .evidence(format!(
                "{host} ({addr}) port {}: no answer in {:?}",
                s.port, s.timeout
            ))
            .advice("Make the MX host reachable on port 25.")),
    }
}

async fn probe_host(dns: &Dns, host: &str, s: &ProbeSettings) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(addr) = palisade_delivery::remote::mx::addresses(dns, host)
        .await
        .ok()
        .and_then(|a| a.into_iter().next())
    else {
        return out; // mx.no_address says it already
    };
    let mut c = match connect(host, addr, s).await {
        Ok(c) => c,
        Err(f) => return vec![f],
    };
    let failed = |what: &str, e: String| {
        Finding::new("probe.session", CAT, Status::Fail, 40)
            .evidence(format!("{host}: {what}: {e}"))
            .advice("Check the server's SMTP service.")
    };
    match c.reply().await {
        Ok(r) if r.code == 220 => out.push(
            Finding::new("probe.banner", HYG, Status::Info, 0)
                .evidence(format!("{host}: {}", r.describe())),
        ),
        Ok(r) => return vec![failed("banner", r.describe())],
        Err(e) => return vec![failed("banner", e)],
    }
    let ehlo = match c.command(&format!("EHLO {}", s.helo)).await {
        Ok(r) if r.code == 250 => r,
        Ok(r) => return vec![failed("EHLO", r.describe())],
        Err(e) => return vec![failed("EHLO", e)],
    };
    let caps = caps(&ehlo);
    let starttls = caps.iter().any(|c| c == "STARTTLS");
    out.push(if starttls {
        Finding::new("probe.starttls", CAT, Status::Pass, 40)
            .evidence(format!("{host} offers STARTTLS"))
    } else {
        Finding::new("probe.starttls", CAT, Status::Fail, 40)
            .evidence(format!(
                "{host} does not offer STARTTLS: mail to it travels in clear"
            ))
            .advice("Configure a certificate and offer STARTTLS (RFC 3207).")
    });
    if let Some(auth) = caps.iter().find(|c| c.starts_with("AUTH")) {
        out.push(
            Finding::new("probe.auth_plaintext", CAT, Status::Fail, 20)
                .evidence(format!(
                    "{host} offers {auth} before TLS: passwords can cross in clear"
                ))
                .advice("Offer AUTH only after STARTTLS (and submission on 587/465, not on 25)."),
        );
    }
    for (verb, id) in [("VRFY", "probe.vrfy"), ("EXPN", "probe.expn")] {
        if let Ok(r) = c.command(&format!("{verb} postmaster")).await
            && matches!(r.code, 250 | 251)
        {
            out.push(
                Finding::new(id, HYG, Status::Warn, 10)
                    .evidence(format!("{host} answers {verb}: {}", r.describe()))
                    .advice(format!(
                        "Disable {verb} (or answer 252) so addresses cannot be harvested."
                    )),
            );
        }
    }
    // Relaying: an outside sender to an outside recipient, without AUTH; RSET before DATA.
    let relay = match c.command("MAIL FROM:<probe@example.org>").await {
        Ok(r) if r.code == 250 => c.command("RCPT TO:<relay-probe@example.net>").await.ok(),
        _ => None,
    };
    let _ = c.command("RSET").await;
    out.push(match relay {
        Some(r) if matches!(r.code, 250 | 251) => Finding::new("probe.open_relay", HYG, Status::Fail, 60)
            .evidence(format!("{host} accepted RCPT TO:<relay-probe@example.net> from an outside sender without AUTH: an open relay (nothing was sent)"))
            .advice("Accept mail only for your own domains, or from authenticated users."),
        _ => Finding::new("probe.open_relay", HYG, Status::Pass, 60)
            .evidence(format!("{host} refused to relay to an outside domain")),
    });
    if !starttls {
        return out;
    }
    // CVE-2011-0411: STARTTLS and a command in one write, in clear.
    if let Err(e) = c.send(b"STARTTLS\r\nRSET\r\n").await {
        out.push(failed("STARTTLS", e));
        return out;
    }
    match c.reply().await {
        Ok(r) if r.code == 220 => {}
        Ok(r) => {
            out.push(failed("STARTTLS", r.describe()));
            return out;
        }
        Err(e) => {
            out.push(failed("STARTTLS", e));
            return out;
        }
    }
    let Ok((connector, verdict)) = s.tls.connector() else {
        return out;
    };
    let Ok(name) = rustls::pki_types::ServerName::try_from(host.to_string()) else {
        return out;
    };
    let tls = match tokio::time::timeout(s.timeout, connector.connect(name, c.stream)).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            out.push(
                Finding::new("probe.tls", CAT, Status::Fail, 40)
                    .evidence(format!("{host}: the TLS handshake failed: {e}"))
                    .advice("Offer TLS 1.2 or 1.3 with a current certificate."),
            );
            return out;
        }
        Err(_) => {
            out.push(
                Finding::new("probe.tls", CAT, Status::Fail, 40)
                    .evidence(format!("{host}: the TLS handshake timed out"))
                    .advice("Offer TLS 1.2 or 1.3 with a current certificate."),
            );
            return out;
        }
    };
    let (version, suite, peer) = {
        let (_, session) = tls.get_ref();
        (
            session
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default(),
            session
                .negotiated_cipher_suite()
                .map(|c| format!("{:?}", c.suite()))
                .unwrap_or_default(),
            session
                .peer_certificates()
                .map(|c| c.iter().map(|c| c.to_vec()).collect::<Vec<_>>())
                .unwrap_or_default(),
        )
    };
    out.extend(dane_match(dns, host, &peer).await);
    let peer = peer.into_iter().next();
    out.push(
        Finding::new("probe.tls", CAT, Status::Pass, 40)
            .evidence(format!("{host}: {version} with {suite}")),
    );
    let mut c = Conn::new(tls, s.timeout);
    // A reply now, before we said anything, answers the RSET sent in clear.
    let mut quick = Conn {
        timeout: Duration::from_millis(1500),
        ..c
    };
    let injected = quick.reply().await.ok();
    c = Conn {
        timeout: s.timeout,
        ..quick
    };
    out.push(match injected {
        Some(r) => Finding::new("probe.starttls_injection", CAT, Status::Fail, 40)
            .evidence(format!("{host} answered ({}) inside TLS a command sent in clear before the handshake (CVE-2011-0411)", r.describe()))
            .advice("Upgrade the MTA: it must discard what was pipelined after STARTTLS (RFC 3207 §4.2)."),
        None => Finding::new("probe.starttls_injection", CAT, Status::Pass, 40)
            .evidence(format!("{host} discarded a command pipelined after STARTTLS")),
    });
    out.push(match &*verdict.lock().unwrap_or_else(|e| e.into_inner()) {
        CertVerdict::Valid => Finding::new("probe.certificate", CAT, Status::Pass, 30)
            .evidence(format!("{host}: the certificate chains to a trusted root and names {host}")),
        CertVerdict::Invalid(why) => Finding::new("probe.certificate", CAT, Status::Fail, 30)
            .evidence(format!("{host}: {why}"))
            .advice(format!("Use a certificate from a public CA that names {host} (senders with MTA-STS or DANE refuse this one).")),
        CertVerdict::NotChecked => Finding::new("probe.certificate", CAT, Status::Info, 0)
            .evidence(format!("{host}: the certificate was not checked")),
    });
    if let Some(der) = peer
        && let Ok((_, cert)) = x509_parser::parse_x509_certificate(&der)
    {
        let left = cert.validity().not_after.timestamp() - palisade_queue::now_secs();
        if left < 14 * 86_400 {
            out.push(
                Finding::new(
                    "probe.expiry",
                    CAT,
                    if left <= 0 {
                        Status::Fail
                    } else {
                        Status::Warn
                    },
                    30,
                )
                .evidence(format!(
                    "{host}: the certificate expires in {} days",
                    left / 86_400
                ))
                .advice("Renew the certificate (and publish the new key's TLSA record first)."),
            );
        }
        if let Ok(x509_parser::public_key::PublicKey::RSA(rsa)) = cert.public_key().parsed()
            && rsa.key_size() < 2048
        {
            out.push(
                Finding::new("probe.key_size", CAT, Status::Warn, 10)
                    .evidence(format!("{host}: RSA key of {} bits", rsa.key_size()))
                    .advice("Use a 2048-bit (or larger) RSA or an ECDSA key."),
            );
        }
    }
    let _ = c.command("QUIT").await;
    out.extend(legacy(host, addr, s).await);
    out
}

/// RFC 7672 §3: whether the TLSA records published for `host` match the certificate
/// chain it presented (a mismatch makes DANE senders refuse to deliver).
async fn dane_match(dns: &Dns, host: &str, chain: &[Vec<u8>]) -> Vec<Finding> {
    use hickory_resolver::proto::rr::RecordType;
    use palisade_delivery::remote::dane::{Tlsa, verify};
    let name = format!("_25._tcp.{host}");
    let Ok(answer) = dns.lookup_validated(&name, RecordType::TLSA).await else {
        return Vec::new();
    };
    let records = Tlsa::from_answers(&answer.records);
    let Some((end_entity, rest)) = chain.split_first() else {
        return Vec::new();
    };
    if records.is_empty() {
        return Vec::new();
    }
    let intermediates: Vec<&[u8]> = rest.iter().map(Vec::as_slice).collect();
    vec![if verify(&records, end_entity, &intermediates, host) {
        Finding::new("probe.dane_match", CAT, Status::Pass, 30)
            .evidence(format!("{name} matches the certificate {host} presents"))
    } else {
        Finding::new("probe.dane_match", CAT, Status::Fail, 30)
            .evidence(format!("no TLSA record at {name} matches the certificate {host} presents: DANE senders will not deliver"))
            .advice("Publish the TLSA record of the current key (3 1 1), keeping the old one until the change is done.")
    }]
}

/// The end-of-data look-alikes some servers take for `<CRLF>.<CRLF>` (SMTP smuggling).
const SMUGGLING_ENDS: [(&str, &[u8]); 3] = [
    ("<LF>.<LF>", b"\n.\n"),
    ("<LF>.<CRLF>", b"\n.\r\n"),
    ("<CR>.<CR>", b"\r.\r"),
];

/// SMTP smuggling (`--probe-intrusive`): one message to `rcpt` per end-of-data
/// look-alike, each carrying a second, smuggled transaction after it. A server that
/// answers more than once after our real `<CRLF>.<CRLF>` ended the data early and ran
/// the smuggled commands. This completes DATA, so it only runs with an address the user
/// controls.
pub async fn smuggling(dns: &Dns, hosts: &[String], s: &ProbeSettings, rcpt: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for host in hosts.iter().take(MAX_HOSTS) {
        let Some(addr) = palisade_delivery::remote::mx::addresses(dns, host)
            .await
            .ok()
            .and_then(|a| a.into_iter().next())
        else {
            continue;
        };
        let mut vulnerable = Vec::new();
        let mut refused = None;
        for (name, end) in SMUGGLING_ENDS {
            match smuggle(host, addr, s, rcpt, end).await {
                Ok(true) => vulnerable.push(name),
                Ok(false) => {}
                Err(e) => refused = Some(e),
            }
        }
        out.push(if !vulnerable.is_empty() {
            Finding::new("probe.smuggling", CAT, Status::Fail, 40)
                .evidence(format!("{host} ends DATA at {} and runs what follows: SMTP smuggling lets anyone send mail that passes SPF as any of its users", vulnerable.join(", ")))
                .advice("Accept only <CRLF>.<CRLF> as the end of data and refuse bare CR and LF (RFC 5321 §4.1.1.4, §2.3.8).")
        } else if let Some(e) = refused {
            Finding::new("probe.smuggling", CAT, Status::Info, 0)
                .evidence(format!("{host}: smuggling not fully probed: {e}"))
        } else {
            Finding::new("probe.smuggling", CAT, Status::Pass, 40)
                .evidence(format!("{host} did not end DATA at a bare-LF or bare-CR dot"))
        });
    }
    out
}

/// One message with `end` in its body; true when the server answered more than once.
async fn smuggle(
    host: &str,
    addr: std::net::IpAddr,
    s: &ProbeSettings,
    rcpt: &str,
    end: &[u8],
) -> Result<bool, String> {
    let mut c = connect(host, addr, s).await.map_err(|f| f.evidence)?;
    let expect =
        |r: Result<palisade_delivery::remote::client::Reply, String>, codes: &[u16]| match r {
            Ok(r) if codes.contains(&r.code) => Ok(()),
            Ok(r) => Err(r.describe()),
            Err(e) => Err(e),
        };
    expect(c.reply().await, &[220])?;
    expect(c.command(&format!("EHLO {}", s.helo)).await, &[250])?;
    expect(c.command("MAIL FROM:<>").await, &[250])?;
    expect(c.command(&format!("RCPT TO:<{rcpt}>")).await, &[250, 251])?;
    expect(c.command("DATA").await, &[354])?;
    let mut body = format!(
        "From: <postmaster@{host}>\r\nTo: <{rcpt}>\r\nSubject: Palisade SMTP smuggling probe\r\n\r\n\
         This message tests whether {host} ends DATA early (palisade audit domain --probe-intrusive).\r\n"
    )
    .into_bytes();
    body.extend_from_slice(end);
    body.extend_from_slice(
        format!(
            "MAIL FROM:<>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\nSubject: smuggled\r\n\r\n\
             If you read this, {host} is open to SMTP smuggling.\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(b"\r\n.\r\n");
    c.send(&body).await?;
    // The one answer every server gives...
    c.reply().await?;
    // ...and any other, which only a server that ran the smuggled commands sends.
    c.timeout = Duration::from_millis(1500);
    let extra = c.reply().await.is_ok();
    c.timeout = s.timeout;
    let _ = c.command("QUIT").await;
    Ok(extra)
}

/// One STARTTLS session that sends a ClientHello offering only `version` and `suites`.
async fn offer(
    host: &str,
    addr: std::net::IpAddr,
    s: &ProbeSettings,
    version: u16,
    suites: &[u16],
) -> Result<legacy_tls::Answer, String> {
    let mut c = connect(host, addr, s).await.map_err(|f| f.evidence)?;
    let ok = |r: Result<palisade_delivery::remote::client::Reply, String>, code| match r {
        Ok(r) if r.code == code => Ok(()),
        Ok(r) => Err(r.describe()),
        Err(e) => Err(e),
    };
    ok(c.reply().await, 220)?;
    ok(c.command(&format!("EHLO {}", s.helo)).await, 250)?;
    ok(c.command("STARTTLS").await, 220)?;
    let mut random = [0u8; 32];
    aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut random)
        .map_err(|_| "no randomness".to_string())?;
    c.send(&legacy_tls::client_hello(version, suites, host, random))
        .await?;
    let mut got = std::mem::take(&mut c.buf);
    let deadline = tokio::time::Instant::now() + s.timeout;
    loop {
        match legacy_tls::answer(&got) {
            legacy_tls::Answer::Incomplete if got.len() < 16 * 1024 => {}
            other => return Ok(other),
        }
        let mut chunk = [0u8; 4096];
        use tokio::io::AsyncReadExt;
        match tokio::time::timeout_at(deadline, c.stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&chunk[..n]),
            // Closed, failed or silent: not accepted.
            _ => return Ok(legacy_tls::Answer::Refused),
        }
    }
}

/// TLS 1.0, TLS 1.1, and key exchange without forward secrecy at TLS 1.2.
async fn legacy(host: &str, addr: std::net::IpAddr, s: &ProbeSettings) -> Vec<Finding> {
    use legacy_tls::{
        Answer, LEGACY_SUITES, NO_FORWARD_SECRECY, SSL3, TLS1_0, TLS1_1, TLS1_2, WEAK_CIPHERS,
    };
    let mut out = Vec::new();
    for (version, name, id) in [
        (SSL3, "SSL 3.0", "probe.ssl3"),
        (TLS1_0, "TLS 1.0", "probe.tls1_0"),
        (TLS1_1, "TLS 1.1", "probe.tls1_1"),
    ] {
        out.push(match offer(host, addr, s, version, LEGACY_SUITES).await {
            Ok(Answer::Hello { version: v, .. }) if v == version => {
                Finding::new(id, CAT, Status::Fail, 20)
                    .evidence(format!("{host} accepts {name} (deprecated by RFC 8996)"))
                    .advice("Allow TLS 1.2 and 1.3 only.")
            }
            Ok(_) => {
                Finding::new(id, CAT, Status::Pass, 20).evidence(format!("{host} refuses {name}"))
            }
            Err(e) => Finding::new(id, CAT, Status::Info, 0)
                .evidence(format!("{host}: {name} not probed: {e}")),
        });
    }
    out.push(match offer(host, addr, s, TLS1_2, NO_FORWARD_SECRECY).await {
        Ok(Answer::Hello { suite, .. }) => Finding::new("probe.forward_secrecy", CAT, Status::Warn, 20)
            .evidence(format!("{host} accepts RSA key exchange (suite 0x{suite:04x}): recorded traffic can be decrypted once the key leaks"))
            .advice("Offer only ECDHE (or DHE) suites."),
        Ok(_) => Finding::new("probe.forward_secrecy", CAT, Status::Pass, 20)
            .evidence(format!("{host} refuses suites without forward secrecy")),
        Err(e) => Finding::new("probe.forward_secrecy", CAT, Status::Info, 0)
            .evidence(format!("{host}: not probed: {e}")),
    });
    out.push(match offer(host, addr, s, TLS1_2, WEAK_CIPHERS).await {
        Ok(Answer::Hello { suite, .. }) => Finding::new(
            "probe.weak_ciphers",
            CAT,
            Status::Fail,
            30,
        )
        .evidence(format!(
            "{host} accepts a broken cipher (suite 0x{suite:04x}: RC4, NULL, EXPORT, DES or 3DES)"
        ))
        .advice("Remove RC4, NULL, EXPORT, DES and 3DES suites (RFC 7465, SWEET32)."),
        Ok(_) => Finding::new("probe.weak_ciphers", CAT, Status::Pass, 30)
            .evidence(format!("{host} refuses RC4, NULL, EXPORT, DES and 3DES")),
        Err(e) => Finding::new("probe.weak_ciphers", CAT, Status::Info, 0)
            .evidence(format!("{host}: not probed: {e}")),
    });
    out
}
