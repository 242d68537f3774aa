//! What the audit reads from other people's servers and messages, as any bytes: a TLS
//! server's answer to the probes' ClientHello (and the ClientHello reader of the weak
//! test server's twin), a message's Received path for `audit message --report`, and a
//! DKIM key record: no panic, no hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_audit::{legacy_tls, message, posture};

fuzz_target!(|data: &[u8]| {
    let _ = legacy_tls::answer(data);
    let _ = legacy_tls::parse_client_hello(data);
    let t = message::transport(data);
    let _ = message::text(&t);
    let _ = posture::dkim::key_findings("s._domainkey.fuzz.test", &String::from_utf8_lossy(data));
});
