//! SPF records and explanation strings from DNS, through our §12 grammar and §7 macro
//! expansion (palisade-checks `spf`). It must never panic; an accepted record's domain
//! targets expand to names a query can be built from or refused, never past 253
//! characters; an explanation's expansion stays bounded by its macros.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_checks::spf::macros::{MacroEnv, expand, fit_domain};
use palisade_checks::spf::record::{self, MacroString, Mechanism};

fn targets(r: &record::Record) -> Vec<&MacroString> {
    let mut out: Vec<&MacroString> = r.redirect.iter().chain(r.exp.iter()).collect();
    for d in &r.directives {
        match &d.mechanism {
            Mechanism::Include(s) | Mechanism::Exists(s) => out.push(s),
            Mechanism::A(Some(s), _) | Mechanism::Mx(Some(s), _) | Mechanism::Ptr(Some(s)) => {
                out.push(s)
            }
            _ => {}
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let env = MacroEnv {
        sender: "strong-bad@email.example.com",
        ip: "2001:db8::cb01".parse().unwrap_or(std::net::Ipv6Addr::LOCALHOST.into()),
        helo: "mx.example.org",
        receiver: "receiver.test",
        now: 1_700_000_000,
    };
    if let Ok(r) = record::parse(&text) {
        for spec in targets(&r) {
            let name = fit_domain(expand(spec, &env, "email.example.com", "unknown"));
            assert!(name.len() <= 253 || !name.contains('.'));
            let _ = palisade_dns::QueryName::from_text(&name);
        }
    }
    if let Ok(ms) = record::macro_string(&text, true) {
        let out = expand(&ms, &env, "email.example.com", "unknown");
        // The longest value (the IPv6 nibbles, 63 characters) URL-escaped is 3× that.
        assert!(out.len() <= text.len() * 3 + 200 * ms.0.len());
    }
});
