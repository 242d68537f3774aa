//! What DKIM/ARC/DMARC verification reads of a message, by mail-auth's own parser and
//! through the shared parse (`palisade_checks::authenticated_message`), for comparing
//! the two. Shared by `tests/shared_parse.rs` and the `shared_parse` fuzz target.

use mail_auth::AuthenticatedMessage;

/// The fields, the From addresses, the body offset and hashes, every DKIM field found,
/// and the counts of ARC fields and of errors.
pub type Fields<'x> = (
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

/// mail-auth's own reading of `raw`, then the reading through mail-parser's parse of it.
pub fn readings(raw: &[u8]) -> (Option<Fields<'_>>, Option<Fields<'_>>) {
    let own = palisade_checks::authenticated_message(raw, None);
    let parsed = mail_parser::MessageParser::new().parse(raw);
    let shared = palisade_checks::authenticated_message(raw, parsed.as_ref());
    (own.as_ref().map(fields), shared.as_ref().map(fields))
}
