//! Phishing and impersonation heuristics, as pure functions over parsed input.
//!
//! So far: [`lookalike`], whether a domain imitates one of the protected domains (ours,
//! partners', brands'), and [`impersonation`], display names that show another domain
//! or a protected person's name, and Reply-To diversion, and [`links`], deceptive links
//! and password forms, and [`attachments`], dangerous attachments by name, type and
//! content, archives listed within bounds, and [`headers`], header anomalies. The other
//! signals of the content engine (authentication context, QR codes, first contact) and
//! the verdict come in later slices.

pub mod attachments;
pub mod headers;
pub mod impersonation;
pub mod links;
pub mod lookalike;
