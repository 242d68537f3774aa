//! Palisade's account access policy: password hashing, SMTP AUTH credentials
//! ([`sasl`]), the login check ([`login`]) and which addresses a user may send as
//! ([`sender`]).
//!
//! - [`hash_password`] turns a password into an Argon2id PHC string
//!   (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) with a fresh random salt;
//!   the store keeps only that string.
//! - [`verify_password`] checks a login attempt against a stored PHC string.
//! - [`needs_rehash`] tells the caller, after a successful login, whether the stored
//!   string was made with weaker settings than today's, so it can be replaced while
//!   the plaintext is at hand.
//! - [`AccessError`] is the only error: hashing itself failed.
//!
//! Flow at login: `verify_password(stored, pw)`; if true and `needs_rehash(stored)`,
//! `hash_password(pw)` and write the result back.
//!
//! Hashing is deliberately slow (tens of milliseconds, 19 MiB): async callers run
//! these functions on a blocking pool, never on an I/O thread.

pub mod aliases;
pub mod checkpassword;
pub mod forms;
pub mod guard;
pub mod limits;
pub mod login;
pub mod sasl;
pub mod sender;
pub mod strength;
pub mod two_factor;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Argon2id memory cost in KiB (19 MiB).
///
/// [`ARGON2_M_COST`], [`ARGON2_T_COST`] and [`ARGON2_P_COST`] are OWASP's
/// recommended minimum for Argon2id (Password Storage Cheat Sheet: m=19456 KiB,
/// t=2, p=1), which is also the argon2 crate's default. Raising any of them makes [`needs_rehash`] report
/// older hashes so they are upgraded at the next successful login.
pub const ARGON2_M_COST: u32 = 19 * 1024;
/// Argon2id iterations (time cost); see [`ARGON2_M_COST`].
pub const ARGON2_T_COST: u32 = 2;
/// Argon2id lanes (parallelism); see [`ARGON2_M_COST`].
pub const ARGON2_P_COST: u32 = 1;
/// Hash output length in bytes; shorter stored outputs are rehashed.
const OUTPUT_LEN: usize = 32;

/// Something in the hashing machinery failed; a wrong password is not an error.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The Argon2 parameters were refused (only possible if the constants above
    /// are edited to something out of range).
    #[error("invalid Argon2 parameters m={m_cost} t={t_cost} p={p_cost}")]
    Params {
        m_cost: u32,
        t_cost: u32,
        p_cost: u32,
        #[source]
        source: argon2::Error,
    },
    /// Hashing failed: the OS random source for the salt, or an over-long password.
    #[error("password hashing failed")]
    Hash {
        #[source]
        source: argon2::password_hash::Error,
    },
}

/// The hasher with the current parameters. Built per call because it is cheap
/// and keeps the parameters in one place.
fn hasher() -> Result<Argon2<'static>, AccessError> {
    let params = Params::new(
        ARGON2_M_COST,
        ARGON2_T_COST,
        ARGON2_P_COST,
        Some(OUTPUT_LEN),
    )
    .map_err(|source| AccessError::Params {
        m_cost: ARGON2_M_COST,
        t_cost: ARGON2_T_COST,
        p_cost: ARGON2_P_COST,
        source,
    })?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` with Argon2id and a random 16-byte salt from the OS, returning
/// the PHC string to store.
pub fn hash_password(password: &str) -> Result<String, AccessError> {
    let hash: PasswordHash = hasher()?
        .hash_password(password.as_bytes())
        .map_err(|source| AccessError::Hash { source })?;
    Ok(hash.to_string())
}

/// True if `password` matches the stored PHC string `phc`.
///
/// A malformed or non-Argon2 string is simply "no match": a corrupt record must
/// never let anyone in, and the caller has nothing better to do with the detail.
/// The parameters come from `phc` itself, so hashes made under older constants
/// still verify. The final comparison is constant-time inside the argon2 crate.
pub fn verify_password(phc: &str, password: &str) -> bool {
    // The `Argon2` instance's own parameters are ignored for verification; any
    // valid instance will do, so fall back to the default if ours were refused.
    let verifier = hasher().unwrap_or_default();
    verifier.verify_password(password.as_bytes(), phc).is_ok()
}

/// True if `phc` was made with weaker settings than the current ones (another
/// algorithm or version, or any cost or output length below today's), or cannot
/// be parsed at all. Callers rehash after a successful [`verify_password`].
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return true;
    };
    if hash.algorithm != Algorithm::Argon2id.ident()
        || hash.version != Some(u32::from(Version::V0x13))
    {
        return true;
    }
    let Ok(params) = Params::try_from(&hash) else {
        return true;
    };
    params.m_cost() < ARGON2_M_COST
        || params.t_cost() < ARGON2_T_COST
        || params.p_cost() < ARGON2_P_COST
        || params.output_len().unwrap_or(0) < OUTPUT_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hash made the slow way with small costs, to stand in for a record
    /// written under older, weaker constants.
    fn weak_hash(password: &str, m: u32, t: u32, p: u32) -> String {
        let params = Params::new(m, t, p, Some(OUTPUT_LEN)).expect("valid params");
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(password.as_bytes())
            .expect("hash")
            .to_string()
    }

    #[test]
    fn hash_is_argon2id_phc_with_current_params() {
        let h = hash_password("correct horse").expect("hash");
        assert!(
            h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "unexpected PHC string {h}"
        );
        assert!(!needs_rehash(&h));
    }

    #[test]
    fn verify_accepts_right_and_rejects_wrong_password() {
        let h = hash_password("correct horse").expect("hash");
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "correct horsE"));
        assert!(!verify_password(&h, ""));
    }

    #[test]
    fn salts_are_random() {
        let a = hash_password("same").expect("hash");
        let b = hash_password("same").expect("hash");
        assert_ne!(a, b);
        assert!(verify_password(&a, "same") && verify_password(&b, "same"));
    }

    #[test]
    fn malformed_hashes_never_verify() {
        for bad in [
            "",
            "plaintext",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$",
            "$scrypt$ln=16,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        ] {
            assert!(!verify_password(bad, ""), "{bad:?} verified");
            assert!(needs_rehash(bad), "{bad:?} not flagged for rehash");
        }
    }

    #[test]
    fn weaker_params_need_rehash_but_still_verify() {
        for (m, t, p) in [
            (ARGON2_M_COST / 2, ARGON2_T_COST, ARGON2_P_COST),
            (ARGON2_M_COST, 1, ARGON2_P_COST),
        ] {
            let h = weak_hash("pw", m, t, p);
            assert!(verify_password(&h, "pw"));
            assert!(needs_rehash(&h), "m={m} t={t} p={p}");
        }
        // Stronger than required is fine as it is.
        let strong = weak_hash("pw", ARGON2_M_COST, ARGON2_T_COST + 1, ARGON2_P_COST);
        assert!(!needs_rehash(&strong));
    }

    #[test]
    fn other_argon2_variants_need_rehash() {
        let params =
            Params::new(ARGON2_M_COST, ARGON2_T_COST, ARGON2_P_COST, None).expect("valid params");
        let h = Argon2::new(Algorithm::Argon2i, Version::V0x13, params)
            .hash_password(b"pw")
            .expect("hash")
            .to_string();
        assert!(verify_password(&h, "pw"));
        assert!(needs_rehash(&h));
    }
}
