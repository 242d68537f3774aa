//! Sender authentication for inbound mail (RFC 7208, 6376, 8463, 8617, 7489, 8601).
//!
//! The flow, as the server drives it:
//! 1. at `MAIL FROM`, [`spf::check_spf`] evaluates the MAIL FROM identity (or the HELO
//!    identity for the null reverse-path, RFC 7208 §2.4) with the real client IP;
//! 2. at the end of DATA/BDAT, [`message::authenticate`] verifies DKIM, ARC and DMARC
//!    over the whole message and returns an owned [`AuthReport`], including the
//!    `Authentication-Results` header to add;
//! 3. [`verdict::decide`] turns the report, the context (is the author domain one of
//!    ours, was this message sampled by `pct`) and the [`verdict::AuthPolicy`] into a
//!    [`verdict::Verdict`]: accept, quarantine, reject or defer. It is a pure function.
//!
//! [`forged::forged_auth_results`] finds `Authentication-Results` fields that claim our
//! authserv-id (RFC 8601 §5: they are forgeries and must go before delivery).
//! DKIM, ARC and DMARC verification are mail-auth's, with strict checks of ours in front
//! (`dkim_bounds`, `dkim_key`); SPF's check_host() is ours (`spf`), as mail-auth's
//! could not be made to follow RFC 7208 from outside.

pub mod arc_seal;
pub mod dkim_bounds;
pub mod dkim_key;
pub mod dkim_keys;
pub mod dmarc_received;
pub mod dmarc_report;
pub mod forged;
pub mod message;
pub mod pct;
pub mod relaxed_body;
pub mod results;
pub mod signing;
pub mod spf;
pub mod verdict;

pub use message::{
    ArcReport, AuthReport, DkimReport, DmarcReport, authenticate, authenticate_parsed,
    authenticated_message, is_message, verify_dkim_reports,
};
pub use pct::dmarc_pct;
pub use results::{AuthResult, DmarcPolicy, SpfScope};
pub use spf::{SpfCheck, check_spf};
pub use verdict::{AuthPolicy, Context, Reason, Verdict, decide};
