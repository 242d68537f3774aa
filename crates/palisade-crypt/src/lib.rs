//! OpenPGP and S/MIME for Palisade: users' keys (checked on import) and messages sealed
//! to them before they are stored.

pub mod at_rest;
mod ber;
pub mod openpgp;
pub mod policy;
pub mod sign;
pub mod signed;
pub mod smime;
pub mod user_keys;
pub mod wkd;

/// Bytes as upper-case hex, as gpg and openssl print fingerprints.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
