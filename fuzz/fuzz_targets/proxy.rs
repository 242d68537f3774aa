//! PROXY protocol v1/v2 headers: any bytes give a client address, none, or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = palisade_server::proxy::parse(data);
});
