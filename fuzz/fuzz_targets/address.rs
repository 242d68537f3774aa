#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_types::Address;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(a) = Address::parse(s)
    {
        // A parsed address round-trips, and its lookup key is itself a valid address.
        assert_eq!(Address::parse(&a.to_string()).ok().as_ref(), Some(&a));
        assert!(Address::parse(&a.lookup_key()).is_ok());
    }
});
