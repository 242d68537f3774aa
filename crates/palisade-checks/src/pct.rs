//! The DMARC `pct` tag (RFC 7489 §6.3, §6.6.4).
//!
//! mail-auth 0.13.3 implements the DMARCbis record (RFC 9989), which dropped `pct` in
//! favour of `t=`. RFC 7489 senders still publish `pct`, and the issue asks us to honour
//! it, so this reads that one tag from the same record mail-auth applied: the author
//! domain's, else the organisational domain's (public suffix list, RFC 7489 §6.6.3).

use palisade_dns::Dns;

/// The `pct` of the DMARC record governing `author_domain`: 100 when absent or invalid.
/// DNS failures also give 100 (the stricter reading; the policy itself was found).
pub async fn dmarc_pct(dns: &Dns, author_domain: &str) -> u8 {
    let author = author_domain.trim_end_matches('.').to_ascii_lowercase();
    let mut candidates = vec![author.clone()];
    if let Some(org) = psl::domain_str(&author)
        && org != author
    {
        candidates.push(org.to_string());
    }
    for domain in candidates {
        let Ok(records) = dns.txt(&format!("_dmarc.{domain}")).await else {
            return 100;
        };
        if let Some(record) = records.iter().find(|r| is_dmarc(r)) {
            return pct_of(record);
        }
    }
    100
}

pub fn is_dmarc(record: &str) -> bool {
    record
        .split(';')
        .next()
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("v=DMARC1"))
}

/// `pct=N` (0..=100); anything else counts as 100 (RFC 7489 §6.3: default 100).
pub fn pct_of(record: &str) -> u8 {
    record
        .split(';')
        .filter_map(|tag| tag.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("pct"))
        .and_then(|(_, v)| v.trim().parse::<u8>().ok())
        .filter(|p| *p <= 100)
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7489_6_3_pct() {
        assert_eq!(pct_of("v=DMARC1; p=reject; pct=25"), 25);
        assert_eq!(pct_of("v=DMARC1; p=reject"), 100);
        assert_eq!(pct_of("v=DMARC1; p=reject; pct=250"), 100);
        assert_eq!(pct_of("v=DMARC1; p=reject; pct=x"), 100);
        assert_eq!(pct_of("v=DMARC1;p=quarantine;PCT=0"), 0);
        assert!(is_dmarc("v=DMARC1; p=none"));
        assert!(!is_dmarc("v=spf1 -all"));
    }
}
