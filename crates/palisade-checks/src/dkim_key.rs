//! Key record restrictions (RFC 6376 §3.6.1) that mail-auth parses but does not apply:
//! `h=` (the hash algorithms the key may be used with), `k=` (its type) and `s=` (the
//! services it is for: `email` or `*`). A signature that verified with a key whose
//! record rules it out fails, with the reason. Checked after mail-auth, on passes only
//! (these rules can only turn a pass into a failure), with the record read through the
//! same resolver and cache.

use mail_auth::common::crypto::Algorithm;

/// Why the key record `record` does not allow a signature made with `algorithm`.
pub fn refusal(record: &str, algorithm: Algorithm) -> Option<String> {
    let (hash, key_type) = match algorithm {
        Algorithm::RsaSha1 => ("sha1", "rsa"),
        Algorithm::RsaSha256 => ("sha256", "rsa"),
        Algorithm::Ed25519Sha256 => ("sha256", "ed25519"),
    };
    let tag = |name: &str| tag_value(record, name).map(|v| v.to_ascii_lowercase());
    let list = |v: &str| -> Vec<String> {
        v.split(':')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    };
    if let Some(h) = tag("h")
        && !list(&h).iter().any(|x| x == hash)
    {
        return Some(format!(
            "the key record allows only h={h} (RFC 6376 section 3.6.1); the signature uses {hash}"
        ));
    }
    let k = tag("k").unwrap_or_else(|| "rsa".into());
    if k != key_type {
        return Some(format!(
            "the key record is k={k}; the signature needs a {key_type} key (RFC 6376 section 3.6.1)"
        ));
    }
    if let Some(s) = tag("s")
        && !list(&s).iter().any(|x| x == "email" || x == "*")
    {
        return Some(format!(
            "the key is for s={s}, not email (RFC 6376 section 3.6.1)"
        ));
    }
    None
}

/// The key record among the TXT records of a key's name: the first with `p=`.
pub fn key_record(records: &[String]) -> Option<&str> {
    records
        .iter()
        .map(String::as_str)
        .find(|r| tag_value(r, "p").is_some())
}

/// The value of tag `name` in a DKIM tag-list (RFC 6376 §3.2: a signature field or a
/// key record), whitespace removed; `None` when the tag is absent.
pub fn tag_value(list: &str, name: &str) -> Option<String> {
    list.split(';').find_map(|t| {
        let (n, v) = t.split_once('=')?;
        (n.trim() == name).then(|| v.split_whitespace().collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6376_3_6_1_hash_algorithms_key_type_and_service() {
        let rsa = Algorithm::RsaSha256;
        assert_eq!(refusal("v=DKIM1; k=rsa; p=AAAA", rsa), None);
        assert_eq!(refusal("v=DKIM1; h=sha1:sha256; p=AAAA", rsa), None);
        assert_eq!(refusal("v=DKIM1; s=email; p=AAAA", rsa), None);
        assert_eq!(refusal("v=DKIM1; s=*; p=AAAA", rsa), None);
        let sha1_only = refusal("v=DKIM1; h=sha1; p=AAAA", rsa).unwrap_or_default();
        assert!(sha1_only.contains("h=sha1"), "{sha1_only}");
        assert_eq!(refusal("v=DKIM1; h=sha1; p=AAAA", Algorithm::RsaSha1), None);
        assert!(refusal("v=DKIM1; k=ed25519; p=AAAA", rsa).is_some());
        assert!(refusal("v=DKIM1; p=AAAA", Algorithm::Ed25519Sha256).is_some());
        assert_eq!(refusal("k=ed25519; p=AAAA", Algorithm::Ed25519Sha256), None);
        assert!(refusal("v=DKIM1; s=tls; p=AAAA", rsa).is_some());
        assert_eq!(refusal("v=DKIM1; s=tls:email; p=AAAA", rsa), None);
    }

    #[test]
    fn the_key_record_is_the_one_with_a_key() {
        let records = vec!["some text".to_string(), "v=DKIM1; p=AAAA".to_string()];
        assert_eq!(key_record(&records), Some("v=DKIM1; p=AAAA"));
    }
}
