//! Sender authentication reads the header section through the parse the rest of the end
//! of data shares (`AuthenticatedMessage::from_parsed`) only when
//! `forged::header_section_well_formed` accepts it. On any such input, that reading
//! must be mail-auth's own, field for field: the fields, the From addresses, the body
//! offset and hashes, and every DKIM and ARC field found (issue 20).
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_checks::forged::header_section_well_formed;

#[path = "../../crates/palisade-checks/tests/support/readings.rs"]
mod readings;

fuzz_target!(|data: &[u8]| {
    if !header_section_well_formed(data) {
        return;
    }
    let (own, shared) = readings::readings(data);
    assert_eq!(shared, own);
});
