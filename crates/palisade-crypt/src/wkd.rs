//! The Web Key Directory (draft-koch-openpgp-webkey-service-16 §3.1): where other
//! people's mail clients find our users' OpenPGP keys.
//!
//! A key is found by the SHA-1 of the mail address's local part, lower-cased (ASCII
//! only, §3.1), encoded in z-base-32 (RFC 6189 §5.1.6): 32 characters.

use data_encoding::{Encoding, Specification};
use sha1::{Digest, Sha1};
use std::sync::LazyLock;

static ZBASE32: LazyLock<Encoding> = LazyLock::new(|| {
    let mut spec = Specification::new();
    spec.symbols.push_str("ybndrfg8ejkmcpqxot1uwisza345h769");
    spec.encoding()
        .unwrap_or_else(|e| panic!("z-base-32 alphabet: {e}"))
});

/// The `hu/` name of a local part.
pub fn local_part_hash(local: &str) -> String {
    ZBASE32.encode(&Sha1::digest(local.to_ascii_lowercase().as_bytes()))
}

/// True for something shaped like a [`local_part_hash`] (32 z-base-32 characters).
pub fn is_hash(s: &str) -> bool {
    s.len() == 32 && ZBASE32.decode(s.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drafts_example() {
        // draft-koch-openpgp-webkey-service §3.1: Joe.Doe@Example.ORG.
        assert_eq!(
            local_part_hash("Joe.Doe"),
            "iy9q119eutrkn8s1mk4r39qejnbu3n5q"
        );
        assert!(is_hash("iy9q119eutrkn8s1mk4r39qejnbu3n5q"));
        assert!(!is_hash("iy9q119eutrkn8s1mk4r39qejnbu3n5"));
        assert!(!is_hash("../../../../../../../etc/passwd/"));
    }
}
