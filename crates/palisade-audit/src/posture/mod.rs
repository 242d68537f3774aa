//! The DNS posture of a domain: each area's checks, in the order a report shows them.

pub mod dkim;
pub mod dmarc;
pub mod mx;
pub mod spf;
pub mod transport;
