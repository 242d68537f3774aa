//! Phishing and impersonation heuristics, as pure functions over parsed input.
//!
//! So far: [`lookalike`], which tells whether a domain imitates one of the protected
//! domains (ours, partners', brands'). The other signals of the content engine (display
//! names, Reply-To, links, attachments, headers) and the verdict come in later slices.

pub mod lookalike;
