//! DKIM header selection over any message: our bounds (palisade-checks `dkim_bounds`)
//! first, then mail-auth's selection of every `h=` field for each signature left. It
//! must never panic, and with the bounds its work is at most `MAX_SIGNED_FIELDS` ×
//! `MAX_HEADER_FIELDS` comparisons per signature (issue 15: it was quadratic).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail_auth::AuthenticatedMessage;
use palisade_checks::dkim_bounds::{self, MAX_HEADER_FIELDS, MAX_SIGNED_FIELDS};

fuzz_target!(|data: &[u8]| {
    let Some(mut msg) = AuthenticatedMessage::parse(data) else {
        return;
    };
    let screened = dkim_bounds::screen(&mut msg);
    let _ = dkim_bounds::arc_resinfo(&screened);
    for h in &msg.dkim_headers {
        assert!(h.header.h.len() <= MAX_SIGNED_FIELDS);
        assert!(msg.headers.len() <= MAX_HEADER_FIELDS);
        let selected = msg.signed_headers(&h.header.h, h.name, h.value).count();
        assert!(selected <= h.header.h.len() + 1);
    }
});
