//! Lookalike domains: a domain that is not one of the protected ones but is made to look
//! like one. Compared on registrable domains (public suffix list, compiled in), so
//! `mail.example.com` is `example.com` and never a lookalike of it.
//!
//! Kinds, strongest first:
//! - [`Kind::Confusable`]: the UTS #39 confusable skeletons are equal (`exаmple.com`
//!   with a Cyrillic а, `examp1e.com` where the skeleton maps 1 to l). Skeletons are
//!   only ever compared with each other, never shown.
//! - [`Kind::NearMiss`]: the registrable labels differ by at most one edit (insertion,
//!   deletion, substitution or transposition: omission, repetition, replacement, bit
//!   flips) once both are folded to what a reader sees (see [`fold`]: accents, UTS #39
//!   confusables, look-alike letter classes, hyphens); two edits for labels of ten
//!   characters or more. Labels shorter than four characters are too crowded for this
//!   to mean anything.
//! - [`Kind::Embedded`]: the protected name appears whole inside the domain
//!   (`paypal-secure-login.com`, `example.com.attacker.net`).
//! - [`Kind::MixedScript`]: a label mixes scripts beyond UTS #39's "highly restrictive"
//!   level (Latin with Cyrillic, say), whatever it imitates; a genuine `müller.de` is
//!   single-script and passes.

use unicode_security::{RestrictionLevel, RestrictionLevelDetection};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Confusable,
    NearMiss,
    Embedded,
    MixedScript,
    /// The same name under another public suffix (`paypal.co` for `paypal.com`): often
    /// the brand's own country domain, sometimes a squatter's; weighed lower.
    OtherSuffix,
}

/// A finding: `domain` (as given, lower case, Unicode) imitates `imitates`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookalike {
    pub domain: String,
    /// The protected registrable domain it imitates (empty for [`Kind::MixedScript`]).
    pub imitates: String,
    pub kind: Kind,
}

impl Lookalike {
    /// One short phrase for a verdict.
    pub fn describe(&self) -> String {
        match self.kind {
            Kind::Confusable => format!(
                "{} is written with look-alike characters to pass for {}",
                self.domain, self.imitates
            ),
            Kind::NearMiss => format!("{} imitates {}", self.domain, self.imitates),
            Kind::Embedded => format!(
                "{} borrows the name {} but belongs to someone else",
                self.domain, self.imitates
            ),
            Kind::MixedScript => format!("{} mixes alphabets in one name", self.domain),
            Kind::OtherSuffix => format!(
                "{} has the name of {} under another suffix",
                self.domain, self.imitates
            ),
        }
    }
}

#[derive(Debug)]
struct Entry {
    registrable: String,
    /// The registrable domain without its public suffix (`example` of `example.co.uk`).
    label: String,
    skeleton: String,
    /// [`fold`]ed with and without the two-letter look-alikes.
    folded: [String; 2],
}

/// The domains to protect, prepared once.
#[derive(Debug)]
pub struct Protected {
    entries: Vec<Entry>,
}

/// Lower case, no trailing dot, Unicode form of IDNA labels (`xn--`).
fn normalise(domain: &str) -> String {
    let d = domain.trim().trim_end_matches('.').to_lowercase();
    if d.split('.').any(|l| l.starts_with("xn--")) {
        let (unicode, result) = idna::domain_to_unicode(&d);
        if result.is_ok() {
            return unicode;
        }
    }
    d
}

/// The registrable domain and its label; the whole name when the list knows no suffix.
fn registrable(domain: &str) -> (String, String) {
    let ascii = idna::domain_to_ascii(domain).unwrap_or_else(|_| domain.to_string());
    let reg_ascii = psl::domain_str(&ascii).unwrap_or(&ascii).to_string();
    let suffix_len = psl::suffix_str(&ascii).map_or(0, |s| s.len() + 1);
    let label_ascii = reg_ascii
        .get(..reg_ascii.len().saturating_sub(suffix_len))
        .unwrap_or(&reg_ascii)
        .to_string();
    let to_unicode = |s: &str| idna::domain_to_unicode(s).0;
    (to_unicode(&reg_ascii), to_unicode(&label_ascii))
}

/// Whether `domain` holds `reg` as its first labels (`paypal.com.evil.test`), as labels
/// inside it (`login.paypal.com.evil.test`), or followed by a hyphen
/// (`paypal.com-secure.test`).
fn embeds(domain: &str, reg: &str) -> bool {
    let at_start = domain
        .strip_prefix(reg)
        .is_some_and(|rest| rest.starts_with('.'));
    at_start
        || domain.match_indices(reg).any(|(i, _)| {
            let after = &domain[i + reg.len()..];
            after.starts_with('-') || domain[..i].ends_with('.') && after.starts_with('.')
        })
}

fn skeleton(s: &str) -> impl Iterator<Item = char> + '_ {
    unicode_security::skeleton(s)
}

/// What a reader sees, roughly: accents dropped, UTS #39 confusables mapped to their
/// prototype, then the look-alikes that matter in domain names folded together (the
/// classes dnstwist's homoglyph fuzzer draws from: rn/nn/rr/m, vv/w, cl/d, b/d,
/// c/e, i/l/1, m/n/r, 0/o, g/q), and hyphens dropped.
fn fold(label: &str, pairs: bool) -> String {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    let plain: String = label.nfd().filter(|c| !is_combining_mark(*c)).collect();
    // Skeletons can bring marks of their own (ŋ becomes n with a mark): drop them too.
    let mut s: String = skeleton(&plain)
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect();
    // Two letters for one (rn/m...) can also hide a plain edit (paypcl is paypal with
    // one letter flipped, not paypd): callers compare both ways.
    if pairs {
        for (from, to) in [
            ("rn", "m"),
            ("nn", "m"),
            ("rr", "m"),
            ("vv", "w"),
            ("cl", "d"),
        ] {
            s = s.replace(from, to);
        }
    }
    s.chars()
        .filter(|c| *c != '-')
        .map(|c| match c {
            // Letters with strokes and other extras that have no decomposition.
            'ł' | 'ɫ' | 'ɨ' => 'l',
            'ŋ' | 'ɍ' => 'm',
            'ə' | 'ǝ' => 'a',
            'ø' => 'o',
            'đ' | 'ƀ' => 'd',
            'ħ' => 'h',
            'ɇ' | 'ȼ' => 'e',
            'ʉ' => 'u',
            'ƶ' => 'z',
            'ŧ' => 't',
            'ɏ' => 'y',
            'ɉ' => 'j',
            'b' => 'd',
            'c' => 'e',
            'i' | '1' => 'l',
            'n' | 'r' => 'm',
            '0' => 'o',
            'q' => 'g',
            other => other,
        })
        .collect()
}

/// Optimal string alignment distance (Damerau-Levenshtein with adjacent transpositions),
/// giving up past `max`. A substitution costs `sub(a, b)`.
fn distance(a: &str, b: &str, max: usize, sub: impl Fn(char, char) -> usize) -> Option<usize> {
    if a.chars().count().abs_diff(b.chars().count()) > max {
        return None;
    }
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = if a[i - 1] == b[j - 1] {
                0
            } else {
                sub(a[i - 1], b[j - 1])
            };
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    let d = prev[b.len()];
    (d <= max).then_some(d)
}

/// Keyboard rows, top to bottom, of the layouts [`typo_cost`] knows.
const LAYOUTS: [[&str; 4]; 3] = [
    ["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"],
    ["1234567890", "qwertzuiop", "asdfghjkl", "yxcvbnm"],
    ["1234567890", "azertyuiop", "qsdfghjklm", "wxcvbn"],
];

/// Whether `a` and `b` touch on the keyboard `rows`: side by side, or one row apart
/// with the lower row's key below or below-left of the upper one's.
fn touch(rows: &[&str; 4], a: char, b: char) -> bool {
    let at = |c: char| {
        rows.iter()
            .enumerate()
            .find_map(|(r, row)| row.find(c).map(|col| (r, col)))
    };
    let (Some((ra, ca)), Some((rb, cb))) = (at(a), at(b)) else {
        return false;
    };
    (ra == rb && ca.abs_diff(cb) == 1)
        || (rb + 1 == ra && (cb == ca || cb == ca + 1))
        || (ra + 1 == rb && (ca == cb || ca == cb + 1))
}

/// For each ASCII character, its neighbours on any of [`LAYOUTS`] (bit `n`: character
/// `n`): the edit distance asks for every pair of letters it compares, so the rows are
/// searched once, not at each comparison.
static NEIGHBOURS: std::sync::LazyLock<[u128; 128]> = std::sync::LazyLock::new(|| {
    let mut table = [0u128; 128];
    for (a, bits) in (0u8..128).zip(table.iter_mut()) {
        for b in 0u8..128 {
            if LAYOUTS
                .iter()
                .any(|rows| touch(rows, char::from(a), char::from(b)))
            {
                *bits |= 1 << b;
            }
        }
    }
    table
});

/// A slip of the finger: `a` and `b` are neighbours on a QWERTY, QWERTZ or AZERTY
/// keyboard (the model dnstwist's replacement fuzzer uses). Any other letter swapped for
/// another is plain to see (`pcloud` is not `icloud`), and costs two edits.
fn typo_cost(a: char, b: char) -> usize {
    match (u8::try_from(a), u8::try_from(b)) {
        (Ok(a), Ok(b)) if a < 128 && b < 128 && NEIGHBOURS[usize::from(a)] & (1 << b) != 0 => 1,
        _ => 2,
    }
}

/// Letters that differ after [`fold`] are ones a reader tells apart: two edits.
fn seen_cost(_: char, _: char) -> usize {
    2
}

impl Protected {
    pub fn new<'a>(domains: impl IntoIterator<Item = &'a str>) -> Protected {
        let mut entries: Vec<Entry> = Vec::new();
        for d in domains {
            let (registrable, label) = registrable(&normalise(d));
            if label.chars().count() < 3 || entries.iter().any(|e| e.registrable == registrable) {
                continue;
            }
            entries.push(Entry {
                skeleton: skeleton(&registrable).collect(),
                folded: [fold(&label, true), fold(&label, false)],
                registrable,
                label,
            });
        }
        Protected { entries }
    }

    /// The protected registrable domain whose name `word` is, or looks like
    /// ("PayPal", "Micros0ft", "DHL"): for names that show a brand.
    pub fn named(&self, word: &str) -> Option<&str> {
        let w = word.trim().to_lowercase();
        if w.chars().count() < 3 {
            return None;
        }
        let folded = [fold(&w, true), fold(&w, false)];
        self.entries
            .iter()
            .find(|e| e.label == w || folded[0] == e.folded[0] || folded[1] == e.folded[1])
            .map(|e| e.registrable.as_str())
    }

    /// Whether `domain`'s registrable domain is one of the protected ones.
    pub fn is_protected(&self, domain: &str) -> bool {
        let (reg, _) = registrable(&normalise(domain));
        self.entries.iter().any(|e| e.registrable == reg)
    }

    /// Whether `domain` imitates a protected domain (None for the real ones). Text with
    /// ASCII punctuation no host name can hold (`gmail.com>` from a garbled address) is
    /// no domain, and imitates nothing.
    pub fn check(&self, domain: &str) -> Option<Lookalike> {
        let domain = normalise(domain);
        if domain
            .chars()
            .any(|c| c.is_ascii_punctuation() && c != '-' && c != '.')
        {
            return None;
        }
        let (reg, label) = registrable(&domain);
        if self.entries.iter().any(|e| e.registrable == reg) {
            return None;
        }
        let found = |imitates: &str, kind| {
            Some(Lookalike {
                domain: domain.clone(),
                imitates: imitates.to_string(),
                kind,
            })
        };
        let sk: String = skeleton(&reg).collect();
        if let Some(e) = self.entries.iter().find(|e| e.skeleton == sk) {
            return found(&e.registrable, Kind::Confusable);
        }
        if let Some(e) = self.entries.iter().find(|e| e.label == label) {
            return found(&e.registrable, Kind::OtherSuffix);
        }
        let folded = [fold(&label, true), fold(&label, false)];
        for e in &self.entries {
            // Short names are too crowded for typos to mean anything: only what reads
            // the same (`paypa1`, `rnicrosoft`) counts; from six letters one slip
            // (`paypall`, `pyapal`), from ten two.
            let max = match e.label.chars().count() {
                0..4 => continue,
                4..6 => 0,
                6..10 => 1,
                _ => 2,
            };
            let near = folded
                .iter()
                .zip(&e.folded)
                .any(|(a, b)| distance(a, b, max, seen_cost).is_some())
                || distance(&label, &e.label, max, typo_cost).is_some();
            if near {
                return found(&e.registrable, Kind::NearMiss);
            }
        }
        // Words of the registrable label only: a protected name as a subdomain of
        // someone else's domain is how SaaS tenants are named (northwind.slack.com);
        // in the registrable label it is someone borrowing the name
        // (paypal-secure-login.com, micros0ft-login.top).
        let words: Vec<[String; 2]> = label
            .split('-')
            .filter(|w| w.chars().count() >= 3)
            .map(|w| [fold(w, true), fold(w, false)])
            .collect();
        for e in &self.entries {
            let embeds_name = label.contains('-')
                && words
                    .iter()
                    .any(|w| w[0] == e.folded[0] || w[1] == e.folded[1]);
            let embeds_domain = embeds(&domain, &e.registrable);
            if embeds_name || embeds_domain {
                return found(&e.registrable, Kind::Embedded);
            }
        }
        let mixed = domain
            .split('.')
            .any(|l| l.detect_restriction_level() > RestrictionLevel::HighlyRestrictive);
        if mixed {
            return found("", Kind::MixedScript);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    /// The table answers what the keyboard rows say, for every pair of characters.
    #[test]
    fn the_neighbour_table_is_the_keyboards() {
        let mut pairs = 0;
        for a in (0u8..128).map(char::from).chain(['é', 'ß']) {
            for b in (0u8..128).map(char::from).chain(['é', 'ß']) {
                let rows = LAYOUTS.iter().any(|l| touch(l, a, b));
                assert_eq!(typo_cost(a, b), if rows { 1 } else { 2 }, "{a:?} {b:?}");
                pairs += usize::from(rows);
            }
        }
        assert!(pairs > 100, "{pairs} neighbouring pairs");
        assert_eq!(typo_cost('q', 'w'), 1);
        assert_eq!(typo_cost('z', 'a'), 1, "one row apart");
        assert_eq!(typo_cost('p', 'i'), 2);
    }

    use super::*;

    fn protected() -> Protected {
        Protected::new(["example.com", "paypal.com", "bank.co.uk", "müller.de"])
    }

    fn kind(d: &str) -> Option<Kind> {
        protected().check(d).map(|l| l.kind)
    }

    #[test]
    fn the_real_domains_and_their_subdomains_pass() {
        for d in [
            "example.com",
            "MAIL.Example.com.",
            "paypal.com",
            "www.bank.co.uk",
            "müller.de",
            "xn--mller-kva.de",
        ] {
            assert_eq!(kind(d), None, "{d}");
        }
    }

    #[test]
    fn unrelated_domains_pass_including_genuine_idns() {
        for d in [
            "gmail.com",
            "bücher.de",
            "münchen.de",
            "exam.com",
            "docusign.net",
            "日本語.jp",
        ] {
            assert_eq!(kind(d), None, "{d}");
        }
    }

    #[test]
    fn uts39_confusables() {
        assert_eq!(kind("exаmple.com"), Some(Kind::Confusable), "Cyrillic а");
        assert_eq!(
            kind("xn--exmple-4nf.com"),
            Some(Kind::Confusable),
            "punycode of the same"
        );
        assert_eq!(kind("examp1e.com"), Some(Kind::Confusable));
        assert_eq!(kind("paypa1.com"), Some(Kind::Confusable));
        assert_eq!(kind("exarnple.com"), Some(Kind::Confusable), "rn for m");
    }

    #[test]
    fn near_misses_by_one_edit_or_visual_swap() {
        for d in [
            "exmple.com",    // omission
            "exaample.com",  // repetition
            "examlpe.com",   // transposition
            "exsmple.com",   // replacement by a neighbouring key
            "exa-mple.com",  // hyphenation
            "exarnplle.com", // rn -> m, with a letter repeated
            "paypai.com",    // i reads as l
        ] {
            assert_eq!(kind(d), Some(Kind::NearMiss), "{d}");
        }
    }

    #[test]
    fn text_that_is_no_host_name_imitates_nothing() {
        let brands = Protected::new(["gmail.com"]);
        assert_eq!(brands.check("gmail.com>"), None);
        assert_eq!(brands.check("<pet_name>stowe.gmail.com"), None);
        assert!(brands.check("gmail.co").is_some());
    }

    /// Issue 16: real domains that were called imitations because they are one or two
    /// edits from a short brand name. A reader tells them apart at a glance.
    #[test]
    fn short_names_and_plain_differences_are_not_lookalikes() {
        let brands = Protected::new([
            "live.com",
            "icloud.com",
            "gmail.com",
            "fedex.com",
            "example.com",
        ]);
        for d in [
            "llvm.org",
            "clang.llvm.org",
            "musl.libc.org",
            "u.pcloud.link",
            "ymail.com",
            "webex.com",
            "exbmple.com",
            "gxample.com",
        ] {
            assert_eq!(brands.check(d), None, "{d}");
        }
    }

    #[test]
    fn the_same_name_under_another_suffix() {
        for d in ["example.net", "bank.com", "paypal.co.uk"] {
            assert_eq!(kind(d), Some(Kind::OtherSuffix), "{d}");
        }
    }

    #[test]
    fn embedded_names() {
        assert_eq!(kind("paypal-secure-login.com"), Some(Kind::Embedded));
        assert_eq!(kind("example.com.attacker.net"), Some(Kind::Embedded));
        assert_eq!(kind("login.paypal.com-verify.net"), Some(Kind::Embedded));
        assert_eq!(
            kind("paypa1-login.top"),
            Some(Kind::Embedded),
            "look-alike word"
        );
        assert_eq!(kind("secure-bank.net"), Some(Kind::Embedded));
        // A tenant subdomain of a service is not borrowing the name.
        assert_eq!(kind("example.slack.com"), None);
        assert_eq!(kind("paypalsecure.com"), None, "no word boundary");
    }

    #[test]
    fn uts39_mixed_script_labels() {
        assert_eq!(
            kind("аpple.test"),
            Some(Kind::MixedScript),
            "Cyrillic а in a Latin label"
        );
        assert_eq!(kind("bücher.de"), None);
    }

    #[test]
    fn descriptions_are_plain_words() {
        let l = protected()
            .check("examp1e.com")
            .unwrap_or_else(|| panic!("found"));
        assert_eq!(
            l.describe(),
            "examp1e.com is written with look-alike characters to pass for example.com"
        );
    }

    #[test]
    fn osa_distance() {
        assert_eq!(distance("example", "exmaple", 2, seen_cost), Some(1));
        assert_eq!(distance("example", "exbmple", 2, seen_cost), Some(2));
        assert_eq!(distance("example", "exbmple", 1, seen_cost), None);
        assert_eq!(distance("example", "exsmple", 1, typo_cost), Some(1));
        assert_eq!(distance("icloud", "pcloud", 1, typo_cost), None);
        assert_eq!(distance("example", "example", 1, seen_cost), Some(0));
        assert_eq!(distance("example", "elpmaxe", 2, seen_cost), None);
    }
}
