//! Palisade's shared vocabulary.
//!
//! - [`Reply`] is what goes on the wire: a basic code, an RFC 3463 enhanced code and text.
//!   The [`reply`] module names every reply Palisade sends, so a code is chosen once.
//! - [`Address`] and [`Domain`] are validated, normalised mail addresses (RFC 5321 §4.1.2).
//! - [`Envelope`] is what MAIL/RCPT established for one message.
//! - [`QueueId`] and [`SessionId`] name messages and connections in logs and on disk.
//!
//! No I/O and no async runtime live here: every other crate may depend on this one.

pub mod address;
pub mod calendar;
pub mod envelope;
pub mod id;
pub mod label;
pub mod message;
pub mod reply;
pub mod scope;

pub use address::{Address, AddressError, Domain, identity};
pub use envelope::{BodyType, Envelope, TlsInfo};
pub use id::{QueueId, SessionId};
pub use label::MessageLabel;
pub use message::{MAX_HOPS, header_end, received_count};
pub use reply::Reply;
pub use scope::AppScope;
