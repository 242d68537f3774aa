//! Ports for daemons a test starts and must name before they listen.

use std::hash::{BuildHasher, RandomState};
use std::net::TcpListener;

/// Below Linux's default ephemeral range (32768–60999): a port handed out here is never
/// taken meanwhile by an outgoing connection or by a listener bound to port 0, which is
/// how "bind to 0, read the port, release it" loses races to parallel tests.
const RANGE: std::ops::Range<u16> = 20_000..32_000;

/// A loopback port that was free a moment ago, chosen at random below the ephemeral range
/// (bound, then released: the caller hands it to a daemon that binds it itself).
pub fn free_port() -> u16 {
    let span = u64::from(RANGE.end - RANGE.start);
    let seed = RandomState::new().hash_one(std::time::Instant::now());
    for i in 0..span {
        let port = RANGE.start + ((seed.wrapping_add(i * 7919)) % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {RANGE:?}")
}
