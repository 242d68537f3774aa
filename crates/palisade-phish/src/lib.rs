//! The phishing and impersonation engine.
//!
//! Detectors are pure functions over parsed input: [`lookalike`] (domains that imitate
//! ours, partners' and brands'), [`impersonation`] (display names, Reply-To diversion),
//! [`links`] (deceptive links, password forms), [`attachments`] (by name, type and
//! content; archives listed within bounds), [`headers`] (header anomalies) and [`qr`]
//! (QR codes in images). [`engine`] runs them all over one message, weighs what fired
//! by the sender-authentication context and adds it up; [`verdict`] maps the score to an
//! action; [`banner`] writes the warning into a tagged message.

pub mod attachments;
pub mod banner;
pub mod classifier;
pub mod engine;
pub mod evaluation;
pub mod external;
pub mod headers;
pub mod html;
pub mod impersonation;
pub mod links;
pub mod lists;
pub mod lookalike;
pub mod lure;
pub mod mime_bounds;
pub mod qr;
pub mod site;
pub mod spam;
pub mod verdict;

pub use engine::{
    Analysis, Auth, Category, Context, Engine, Parsed, Settings, Signal, SignatureState,
};
pub use verdict::{Action, Thresholds};
