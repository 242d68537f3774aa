//! `palisade audit message --report`: the path a message took, reconstructed from its
//! Received fields (RFC 5321 §4.4), with what each hop says of its encryption: the
//! `with` protocol (RFC 3848: ESMTPS and ESMTPSA mean TLS) and the TLS version and
//! cipher where the receiving server wrote them; plus the authentication results other
//! servers recorded and whether the message is encrypted or asked to skip TLS policy
//! (`TLS-Required: No`, RFC 8689 §5).

use mail_parser::{MessageParser, Protocol, TlsVersion};
use serde::Serialize;

/// One hop, as the receiving server recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    pub from: Option<String>,
    pub from_ip: Option<String>,
    pub by: Option<String>,
    pub with: Option<String>,
    pub tls_version: Option<String>,
    pub tls_cipher: Option<String>,
    /// `Some(true)`: the hop says it used TLS; `Some(false)`: it says it did not;
    /// `None`: it does not say.
    pub encrypted: Option<bool>,
    /// The hop used SSL or TLS 1.0/1.1 (RFC 8996 deprecates them).
    pub weak_tls: bool,
    pub date: Option<String>,
}

/// What the message itself says about how it travelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transport {
    /// Oldest hop first.
    pub hops: Vec<Hop>,
    /// Hops that say they were not encrypted.
    pub plain_hops: usize,
    pub weak_tls_hops: usize,
    /// `TLS-Required: No`: the sender asked receivers to ignore TLS policies.
    pub tls_required_no: bool,
    /// The body is encrypted (PGP/MIME, S/MIME enveloped data, inline PGP).
    pub encrypted_body: bool,
    /// Authentication-Results fields other servers added (newest first), as written.
    pub authentication_results: Vec<String>,
}

fn tls_encrypts(p: Protocol) -> Option<bool> {
    let name = p.to_string();
    match name.as_str() {
        "ESMTPS" | "ESMTPSA" | "LMTPS" | "LMTPSA" | "UTF8SMTPS" | "UTF8SMTPSA" | "UTF8LMTPS"
        | "UTF8LMTPSA" => Some(true),
        "SMTP" | "ESMTP" | "ESMTPA" | "LMTP" | "LMTPA" | "UTF8SMTP" | "UTF8SMTPA" | "UTF8LMTP"
        | "UTF8LMTPA" => Some(false),
        _ => None,
    }
}

/// The message's path and transport facts.
pub fn transport(raw: &[u8]) -> Transport {
    let parsed = MessageParser::new().parse_headers(raw);
    let mut hops: Vec<Hop> = parsed
        .as_ref()
        .map(|m| {
            m.received_all()
                .map(|r| {
                    let tls = r.tls_version;
                    let weak = matches!(
                        tls,
                        Some(
                            TlsVersion::SSLv2
                                | TlsVersion::SSLv3
                                | TlsVersion::TLSv1_0
                                | TlsVersion::TLSv1_1
                        )
                    );
                    let encrypted = match (tls, r.with.and_then(tls_encrypts)) {
                        (Some(_), _) => Some(true),
                        (None, said) => said,
                    };
                    Hop {
                        from: r.from.as_ref().map(|h| h.to_string()),
                        from_ip: r.from_ip.map(|i| i.to_string()),
                        by: r.by.as_ref().map(|h| h.to_string()),
                        with: r.with.map(|p| p.to_string()),
                        tls_version: tls.map(|t| t.to_string()),
                        tls_cipher: r.tls_cipher.as_ref().map(|c| c.to_string()),
                        encrypted,
                        weak_tls: weak,
                        date: r.date.as_ref().map(|d| d.to_rfc822()),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    hops.reverse();
    let fields = palisade_checks::forged::header_fields(raw);
    let value = |name: &str| -> Vec<String> {
        fields
            .iter()
            .filter_map(|r| {
                let f = String::from_utf8_lossy(&raw[r.clone()]);
                let (n, v) = f.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.split_whitespace().collect::<Vec<_>>().join(" "))
            })
            .collect()
    };
    let content_type = value("content-type")
        .first()
        .cloned()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let body_start = fields.last().map_or(0, |f| f.end);
    let body = &raw[body_start.min(raw.len())..];
    let inline_pgp = body
        .windows(27)
        .take(4096)
        .any(|w| w == b"-----BEGIN PGP MESSAGE-----");
    let encrypted_body = content_type.starts_with("multipart/encrypted")
        || (content_type.contains("pkcs7-mime")
            && !content_type.contains("signed-data")
            && !content_type.contains("certs-only"))
        || inline_pgp;
    Transport {
        plain_hops: hops.iter().filter(|h| h.encrypted == Some(false)).count(),
        weak_tls_hops: hops.iter().filter(|h| h.weak_tls).count(),
        hops,
        tls_required_no: value("tls-required")
            .iter()
            .any(|v| v.eq_ignore_ascii_case("no")),
        encrypted_body,
        authentication_results: value("authentication-results"),
    }
}

/// The terminal lines for a transport report.
pub fn text(t: &Transport) -> String {
    use std::fmt::Write;
    let mut out = String::from("path (oldest hop first):\n");
    if t.hops.is_empty() {
        out.push_str("  no Received fields\n");
    }
    for (i, h) in t.hops.iter().enumerate() {
        let tls = match (h.encrypted, &h.tls_version) {
            (Some(true), Some(v)) => {
                format!("TLS {v}{}", if h.weak_tls { " (deprecated)" } else { "" })
            }
            (Some(true), None) => "TLS".to_string(),
            (Some(false), _) => "NOT ENCRYPTED".to_string(),
            (None, _) => "encryption not recorded".to_string(),
        };
        let _ = writeln!(
            out,
            "  {}. {} -> {} with {}: {tls}",
            i + 1,
            h.from.as_deref().or(h.from_ip.as_deref()).unwrap_or("?"),
            h.by.as_deref().unwrap_or("?"),
            h.with.as_deref().unwrap_or("?"),
        );
    }
    let _ = writeln!(
        out,
        "transport: {} hop(s), {} not encrypted, {} with deprecated TLS{}",
        t.hops.len(),
        t.plain_hops,
        t.weak_tls_hops,
        if t.tls_required_no {
            "; TLS-Required: No (the sender waived TLS policies)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "body: {}",
        if t.encrypted_body {
            "encrypted"
        } else {
            "not encrypted"
        }
    );
    for ar in &t.authentication_results {
        let _ = writeln!(out, "recorded by a server: Authentication-Results: {ar}");
    }
    out
}

/// The verdict part of a message report, as `audit message` computed it.
pub struct Verdict {
    pub action: String,
    /// The phishing score.
    pub score: f64,
    pub spam_score: f64,
    /// `spf=... dkim=... arc=... dmarc=...`.
    pub authentication: String,
    /// The signature check, or `none`.
    pub signature: String,
    /// (signal, weight, reason).
    pub signals: Vec<(String, f64, String)>,
}

/// The message report as a self-contained page: verdict, path, authentication.
pub fn html(subject: &str, t: &Transport, v: &Verdict) -> String {
    use maud::{DOCTYPE, PreEscaped, html};
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Message report: " (subject) }
                style { (PreEscaped(crate::render::STYLE)) }
            }
            body {
                h1 { "Message report" }
                p { "Subject: " strong { (subject) } }
                p id="verdict" { "Verdict " strong { (v.action) } " (phishing score " (format!("{:.1}", v.score)) ", spam score " (format!("{:.1}", v.spam_score)) ")" }
                p { "Authentication: " (v.authentication) }
                p { "Signature: " (v.signature) ". Body: " (if t.encrypted_body { "encrypted" } else { "not encrypted" }) "." }
                @if t.tls_required_no { p { strong { "TLS-Required: No" } ": the sender asked servers to ignore TLS policies." } }
                h2 { "Path, oldest hop first" }
                table {
                    tr { th { "#" } th { "from" } th { "by" } th { "with" } th { "encryption" } }
                    @for (i, h) in t.hops.iter().enumerate() {
                        tr {
                            td { (i + 1) }
                            td { (h.from.as_deref().or(h.from_ip.as_deref()).unwrap_or("?")) }
                            td { (h.by.as_deref().unwrap_or("?")) }
                            td { (h.with.as_deref().unwrap_or("?")) }
                            td {
                                @match (h.encrypted, &h.tls_version) {
                                    (Some(true), Some(ver)) => { "TLS " (ver) @if h.weak_tls { " (deprecated)" } }
                                    (Some(true), None) => { "TLS" }
                                    (Some(false), _) => { strong { "not encrypted" } }
                                    (None, _) => { "not recorded" }
                                }
                            }
                        }
                    }
                }
                h2 { "Signals" }
                @if v.signals.is_empty() { p { "none" } }
                @for (name, weight, reason) in &v.signals {
                    div.finding style="border-color:#9a6700" {
                        span.id { (name) } " (" (format!("{weight:.1}")) ")"
                        div.evidence { (reason) }
                    }
                }
                @if !t.authentication_results.is_empty() {
                    h2 { "Authentication-Results recorded on the way" }
                    @for ar in &t.authentication_results { div.evidence { (ar) } }
                }
                footer { "Made by Palisade (palisade audit message --report)." }
            }
        }
    };
    page.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops_oldest_first_with_their_tls() {
        let m = b"Received: from mx.b.test (mx.b.test [192.0.2.2]) by mx.c.test with ESMTPS id 1\r\n\
                  \t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384); Tue, 1 Dec 2026 10:00:02 +0000\r\n\
                  Received: from client.a.test (client.a.test [192.0.2.1]) by mx.b.test with ESMTP id 2;\r\n\
                  \tTue, 1 Dec 2026 10:00:01 +0000\r\n\
                  Authentication-Results: mx.c.test; spf=pass smtp.mailfrom=a.test\r\n\
                  TLS-Required: No\r\nSubject: x\r\n\r\nbody\r\n";
        let t = transport(m);
        assert_eq!(t.hops.len(), 2);
        assert_eq!(t.hops[0].by.as_deref(), Some("mx.b.test"));
        assert_eq!(t.hops[0].encrypted, Some(false));
        assert_eq!(t.hops[1].encrypted, Some(true));
        assert_eq!(t.hops[1].tls_version.as_deref(), Some("TLSv1.3"));
        assert_eq!(t.plain_hops, 1);
        assert!(t.tls_required_no && !t.encrypted_body);
        assert_eq!(
            t.authentication_results,
            ["mx.c.test; spf=pass smtp.mailfrom=a.test"]
        );
    }
}
