//! Any bytes as an inbound message through the signature check (PGP/MIME and S/MIME
//! parsing, CMS decoding) and through sealing at rest (the header split and CMS
//! encryption to a fixed test certificate): no panic, no hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_crypt::at_rest::{Options, Recipient, seal};
use palisade_crypt::signed::{Known, check, is_signed};
use palisade_crypt::smime::SmimeCert;
use std::sync::LazyLock;

/// A self-signed test certificate (public part only), valid for a century.
const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIDHzCCAgegAwIBAgIUKERicVK3C6jjq1T5PBL+VVO6UnMwDQYJKoZIhvcNAQEL\nBQAwDzENMAsGA1UEAwwERnV6ejAgFw0yNjEyMDEyMzQ0NDhaGA8yMTI2MTEwNzIz\nNDQ0OFowDzENMAsGA1UEAwwERnV6ejCCASIwDQYJKoZIhvcNAQEBBQADggEPADCC\nAQoCggEBAJkCys0wzSszGyYI9DLsuSJBqthuhRhS5OQ+L5tRCL6xRYCMr5aButMJ\nHybuC66Xolj2fiQXcjtXAIu9K33WcFBrmLQg3YL4251MtrmO012WzrhemC3vXXi1\n5Krdz6WbKzEmryKW9Ig0Ze/sn9hYvPZcVbkj+91SEquVrsmZ954xtbHRn2E+E7/Y\nngGw1PQVMYaSzCpS0bO87Iexj+C4kvutmTv2rIklH1epEnB4Fw8Qfo8v0R+aF+Im\ncxSIjqDqh+yIYGhq+fKZjzi6B/oCY9yNnn/MkO7wnnQW7WZJua0HEvAIHkaGwoME\ngwWryrJDTICBA+uyZxP3vMy+H87B0U0CAwEAAaNxMG8wHQYDVR0OBBYEFKupJz6P\nN67xY8G3bocK7T/aYCUOMB8GA1UdIwQYMBaAFKupJz6PN67xY8G3bocK7T/aYCUO\nMA8GA1UdEwEB/wQFMAMBAf8wHAYDVR0RBBUwE4ERZnV6ekBleGFtcGxlLnRlc3Qw\nDQYJKoZIhvcNAQELBQADggEBABToFMyOOu2YJT6f36pIceN4YUqFT91j3w6DZzyP\nPShtkaDRLQeJTF448LTud25joewsZkNnNaOMbYoDJafl9Se1wp0a6K+5EQxAR5G2\nVjlDYJGN7WuTR7S08M9FaiA636xCjnTjVuwyzvGJZS7hQAezFotoZl8RdcSPi+Mp\nhNvYMZSsDm8ZQX0gJu79gUi/hbvQLp8jcvuUXbOh1D6L3NFCqQg+OtCErDPGYgf8\nLoACY3EArWFPu8LrUAJj6lm9job79u3m2Tbg4UhlHpr3rpHUENvFBJZxoNvR4CtW\noRijjUrsvzBGZtK3H2IHuHLT7ykybrW0Td7l5lzD7jqR2zg=\n-----END CERTIFICATE-----\n";

static TO: LazyLock<Recipient> = LazyLock::new(|| {
    Recipient::Smime(SmimeCert::stored(CERT).unwrap_or_else(|e| panic!("test certificate: {e}")))
});

fuzz_target!(|data: &[u8]| {
    let _ = is_signed(data);
    let _ = check(data, &Known::default(), Some("fuzz@example.test"), 1_800_000_000);
    let _ = seal(
        data,
        &TO,
        Options {
            protect_subject: true,
        },
        1_800_000_000,
    );
});
