//! Sender authentication reads the header section through the parse the rest of the end
//! of data shares (`AuthenticatedMessage::from_parsed`) only when
//! `forged::header_section_well_formed` accepts it. On any such input, that reading
//! must be mail-auth's own, field for field: the fields, the From addresses, the body
//! offset and hashes, and every DKIM and ARC field found (issue 20).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail_auth::AuthenticatedMessage;
use palisade_checks::forged::header_section_well_formed;

type Fields<'x> = (
    Vec<(&'x [u8], &'x [u8])>,
    Vec<String>,
    u32,
    Vec<Vec<u8>>,
    Vec<(&'x [u8], &'x [u8])>,
    [usize; 4],
);

fn fields<'x>(m: &AuthenticatedMessage<'x>) -> Fields<'x> {
    (
        m.headers.clone(),
        m.from.clone(),
        m.body_offset,
        m.body_hashes.iter().map(|h| h.3.clone()).collect(),
        m.dkim_headers.iter().map(|h| (h.name, h.value)).collect(),
        [
            m.ams_headers.len(),
            m.as_headers.len(),
            m.aar_headers.len(),
            m.errors.len(),
        ],
    )
}

fuzz_target!(|data: &[u8]| {
    if !header_section_well_formed(data) {
        return;
    }
    let Some(parsed) = mail_parser::MessageParser::new().parse(data) else {
        return;
    };
    let shared = palisade_checks::authenticated_message(data, Some(&parsed));
    let own = AuthenticatedMessage::parse(data);
    assert_eq!(shared.as_ref().map(fields), own.as_ref().map(fields));
});
