//! The forged Authentication-Results finder: ranges must lie inside the message, sorted.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ranges = palisade_checks::forged::forged_auth_results(data, "mx.example.com");
    let mut last = 0;
    for r in ranges {
        assert!(r.start >= last && r.start < r.end && r.end <= data.len());
        last = r.end;
    }
});
