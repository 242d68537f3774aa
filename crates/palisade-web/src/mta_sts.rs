//! Our MTA-STS policy text (RFC 8461 §3.2) and the id that goes with it in DNS (§3.1).

use palisade_config::MtaStsConfig;

/// The policy file: CRLF-separated `key: value` lines.
pub fn policy(cfg: &MtaStsConfig) -> String {
    let mut out = format!("version: STSv1\r\nmode: {}\r\n", cfg.mode.as_str());
    for mx in &cfg.mx {
        out.push_str(&format!("mx: {mx}\r\n"));
    }
    out.push_str(&format!("max_age: {}\r\n", cfg.max_age_secs));
    out
}

/// The `id` of the `_mta-sts` TXT record: derived from the policy, so it changes exactly
/// when the policy does (senders refetch on a new id) and is stable otherwise. RFC 8461
/// §3.1 allows 1-32 alphanumeric characters: 20 hex digits of SHA-256.
pub fn policy_id(policy: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, policy.as_bytes());
    digest.as_ref()[..10]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_config::MtaStsMode;

    #[test]
    fn rfc8461_3_2_policy_format_and_stable_id() {
        let cfg = MtaStsConfig {
            mode: MtaStsMode::Enforce,
            max_age_secs: 604_800,
            mx: vec!["mx.example.com".into(), "*.backup.example.com".into()],
        };
        let p = policy(&cfg);
        assert_eq!(
            p,
            "version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\n\
             mx: *.backup.example.com\r\nmax_age: 604800\r\n"
        );
        let id = policy_id(&p);
        assert_eq!(id.len(), 20);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(id, policy_id(&p), "stable");
        let testing = policy(&MtaStsConfig {
            mode: MtaStsMode::Testing,
            ..cfg
        });
        assert_ne!(policy_id(&testing), id, "a new policy gets a new id");
    }
}
