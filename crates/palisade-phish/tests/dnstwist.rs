//! Every permutation dnstwist (PyPI) makes of a protected domain with its homoglyph,
//! omission, repetition, transposition, replacement (neighbouring keys) and hyphenation
//! fuzzers is flagged. dnstwist runs at test time (.ci/run installs it). Bitsquatting is
//! left out: a bit flipped in a machine's memory gives letters a reader sees are wrong
//! (`gxample`); it is an attack on resolvers, not on a person reading a sender, and
//! flagging every such name flagged ordinary domains with it (issue 16).
#![allow(clippy::unwrap_used)]

use palisade_phish::lookalike::Protected;
use std::process::Command;

const FUZZERS: &str =
    "['homoglyph','omission','repetition','transposition','replacement','hyphenation']";

fn permutations(domain: &str) -> Vec<(String, String)> {
    let script = format!(
        "import dnstwist\n\
         f = dnstwist.Fuzzer('{domain}', dictionary=[], tld_dictionary=[])\n\
         f.generate(fuzzers={FUZZERS})\n\
         for d in f.domains:\n\
         \x20   if d['fuzzer'] != '*original':\n\
         \x20       print(d['fuzzer'], d['domain'])\n"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "dnstwist is needed (pip install dnstwist): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(f, d)| (f.to_string(), d.to_string()))
        .collect()
}

#[test]
fn every_dnstwist_permutation_is_flagged() {
    for domain in ["example.com", "paypal.com", "palisade-mail.org"] {
        let protected = Protected::new([domain]);
        let all = permutations(domain);
        assert!(all.len() > 100, "{domain}: only {} permutations", all.len());
        let missed: Vec<&(String, String)> = all
            .iter()
            // Some homoglyph permutations are the domain itself once lower-cased.
            .filter(|(_, d)| d.as_str() != domain && protected.check(d).is_none())
            .collect();
        assert!(
            missed.is_empty(),
            "{domain}: {} of {} not flagged, e.g. {:?}",
            missed.len(),
            all.len(),
            &missed[..missed.len().min(20)]
        );
    }
}
