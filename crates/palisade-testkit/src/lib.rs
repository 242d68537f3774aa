//! Test helpers shared by Palisade's integration tests.
//!
//! [`DnsAuthority`] is a real DNS server on loopback (UDP and TCP on one port), written on
//! hickory-proto, that answers from in-memory zones. It can also be told never to answer
//! for some names (to provoke `temperror`) and to set the AD bit (a validating resolver's
//! "authentic data", for the DNSSEC trust policy). Names it does not know get NXDOMAIN,
//! so mail-auth's DMARC tree walk up to the root ends cleanly.

mod dns;

pub use dns::DnsAuthority;

mod weak_smtp;

mod daemons;

mod ports;

/// A free loopback port to hand to a daemon.
pub use ports::free_port;

/// clamd and rspamd from Debian's packages, for one test.
pub use daemons::{Daemon, EICAR, EICAR_SIGNATURE};

/// A deliberately weak SMTP server, for the audit probes.
pub use weak_smtp::WeakSmtp;
