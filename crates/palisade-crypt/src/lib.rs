//! OpenPGP and S/MIME for Palisade: users' keys (checked on import) and messages sealed
//! to them before they are stored.

pub mod at_rest;
pub mod openpgp;
pub mod signed;
pub mod smime;
pub mod wkd;
