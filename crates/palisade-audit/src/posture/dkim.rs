//! DKIM keys (RFC 6376 §3.6.1) at the given selectors and a list of common ones: the
//! key type and size (RSA under 1024 bits fails, under 2048 warns, RFC 8301 §3.2),
//! testing mode (`t=y`), revoked keys (empty `p=`).

use crate::finding::{Category, Finding, Status};
use base64::Engine;
use palisade_dns::Dns;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;

const CAT: Category = Category::Authentication;

/// Selectors tried besides the given ones: the defaults of common providers and tools.
pub const COMMON_SELECTORS: &[&str] = &[
    "default",
    "dkim",
    "mail",
    "selector1",
    "selector2",
    "google",
    "k1",
    "k2",
    "k3",
    "s1",
    "s2",
    "key1",
    "key2",
    "smtp",
    "mx",
    "ed1",
    "rsa1",
];

/// The tags of a DKIM key record.
fn tags(record: &str) -> Vec<(String, String)> {
    record
        .split(';')
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_ascii_lowercase(),
                v.chars().filter(|c| !c.is_whitespace()).collect(),
            )
        })
        .collect()
}

/// One key record's findings (`name` is where it was found).
pub fn key_findings(name: &str, record: &str) -> Vec<Finding> {
    let tags = tags(record);
    let tag = |k: &str| tags.iter().find(|(t, _)| t == k).map(|(_, v)| v.as_str());
    let mut out = Vec::new();
    if let Some(v) = tag("v")
        && v != "DKIM1"
    {
        return vec![
            Finding::new("dkim.syntax", CAT, Status::Fail, 20)
                .evidence(format!("{name}: v={v} (RFC 6376 §3.6.1: DKIM1)"))
                .advice("Publish the key record again as the signer generated it."),
        ];
    }
    let Some(p) = tag("p") else {
        return vec![
            Finding::new("dkim.syntax", CAT, Status::Fail, 20)
                .evidence(format!("{name}: no p= tag"))
                .advice("Publish the key record again as the signer generated it."),
        ];
    };
    if p.is_empty() {
        return vec![
            Finding::new("dkim.revoked", CAT, Status::Info, 0)
                .evidence(format!("{name}: p= is empty (a revoked key)")),
        ];
    }
    if tag("t").is_some_and(|t| t.split(':').any(|f| f.trim() == "y")) {
        out.push(
            Finding::new("dkim.testing", CAT, Status::Warn, 10)
                .evidence(format!(
                    "{name}: t=y, receivers may treat its signatures as unsigned"
                ))
                .advice("Remove t=y once signing works."),
        );
    }
    let Ok(der) = base64::engine::general_purpose::STANDARD.decode(p) else {
        out.push(
            Finding::new("dkim.syntax", CAT, Status::Fail, 20)
                .evidence(format!("{name}: p= is not base64"))
                .advice("Publish the key record again as the signer generated it."),
        );
        return out;
    };
    match tag("k").unwrap_or("rsa") {
        "ed25519" => out.push(
            Finding::new("dkim.key", CAT, Status::Pass, 30)
                .evidence(format!("{name}: Ed25519 (RFC 8463)")),
        ),
        "rsa" => {
            let key = rsa::RsaPublicKey::from_public_key_der(&der)
                .or_else(|_| rsa::RsaPublicKey::from_pkcs1_der(&der));
            out.push(match key.map(|k| k.n().bits()) {
                Ok(bits) if bits < 1024 => Finding::new("dkim.rsa_weak", CAT, Status::Fail, 30)
                    .evidence(format!(
                        "{name}: RSA {bits} bits; RFC 8301 §3.2 forbids verifying under 1024"
                    ))
                    .advice("Rotate to a 2048-bit RSA or an Ed25519 key (palisade dkim rotate)."),
                Ok(bits) if bits < 2048 => Finding::new("dkim.rsa_short", CAT, Status::Warn, 10)
                    .evidence(format!("{name}: RSA {bits} bits"))
                    .advice(
                        "Rotate to a 2048-bit RSA key (RFC 8301 §3.2 recommends at least 2048).",
                    ),
                Ok(bits) => Finding::new("dkim.key", CAT, Status::Pass, 30)
                    .evidence(format!("{name}: RSA {bits} bits")),
                Err(e) => Finding::new("dkim.syntax", CAT, Status::Fail, 20)
                    .evidence(format!("{name}: p= is not an RSA public key ({e})"))
                    .advice("Publish the key record again as the signer generated it."),
            });
        }
        other => out.push(
            Finding::new("dkim.syntax", CAT, Status::Fail, 20)
                .evidence(format!("{name}: unknown key type k={other}"))
                .advice("Use k=rsa or k=ed25519."),
        ),
    }
    out
}

pub async fn check(dns: &Dns, domain: &str, selectors: &[String], out: &mut Vec<Finding>) {
    let mut tried: Vec<String> = selectors.iter().map(|s| s.to_ascii_lowercase()).collect();
    for s in COMMON_SELECTORS {
        if !tried.iter().any(|t| t == s) {
            tried.push((*s).to_string());
        }
    }
    let names: Vec<String> = tried
        .iter()
        .map(|s| format!("{s}._domainkey.{domain}"))
        .collect();
    // Every selector at once.
    let answers = futures_util::future::join_all(names.iter().map(|n| dns.txt(n))).await;
    let mut found = false;
    for (name, txt) in names.iter().zip(answers) {
        let Ok(txt) = txt else { continue };
        // A key record has p=; some publish v=DKIM1 first, some do not.
        for record in txt.iter().filter(|r| r.contains("p=")) {
            found = true;
            out.extend(key_findings(name, record));
        }
    }
    if !found {
        out.push(
            Finding::new("dkim.none", CAT, Status::Warn, 30)
                .evidence(format!(
                    "no DKIM key at the {} selectors tried ({})",
                    tried.len(),
                    tried.join(", ")
                ))
                .advice("Sign outgoing mail (palisade dkim keygen) and publish the key; name your selectors with --selector."),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_records() {
        let ed = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
        let f = key_findings("s._domainkey.x", ed);
        assert_eq!((f[0].id, f[0].status), ("dkim.key", Status::Pass));
        let f = key_findings("s", "v=DKIM1; p=");
        assert_eq!(f[0].id, "dkim.revoked");
        let f = key_findings(
            "s",
            "v=DKIM1; t=y; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
        );
        assert_eq!(f[0].id, "dkim.testing");
        assert_eq!(key_findings("s", "v=DKIM2; p=AA")[0].id, "dkim.syntax");
        assert_eq!(key_findings("s", "v=DKIM1; p=!!")[0].id, "dkim.syntax");
    }
}
