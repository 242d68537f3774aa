//! The Sender Rewriting Scheme (SRS): a forwarded message leaves with a reverse-path in
//! our own domain, so the next hop's SPF check (RFC 7208) asks about us, who really
//! sent it, not about the original sender, whose SPF record does not name us. The
//! original sender is kept inside the address, under an HMAC, for bounces:
//!
//! `SRS0=HHHH=TT=example.net=alice@forwarder.example`
//!
//! - `HHHH`: the first four base32 letters of HMAC-SHA256 over `TT`, the domain and the
//!   local part (lower case: intermediaries may change the case);
//! - `TT`: the day, modulo 1024, in two base32 letters. A bounce is taken back for
//!   [`MAX_AGE_DAYS`] days; an address nobody signed, or an old one, is refused, so
//!   the scheme is no open relay.
//!
//! The key is derived from the installation secret in the store, so every node sharing
//! it can take a bounce back.
//!
//! A reverse-path whose rewritten form would pass the 64-octet local part of RFC 5321
//! §4.5.3.1.1 (VERP bounce addresses of mailing lists and bulk senders often do) gets
//! a short form instead, `SRSX=HHHH=TT=ID@forwarder.example`, where `ID` names the
//! original in the store ([`Rewritten::Stored`]).

use aws_lc_rs::hmac;
use palisade_types::{Address, Domain};

/// How long a rewritten address is honoured for bounces.
pub const MAX_AGE_DAYS: i64 = 21;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const PREFIX: &str = "srs0=";
const SHORT_PREFIX: &str = "srsx=";
/// RFC 5321 §4.5.3.1.1.
const MAX_LOCAL: usize = 64;

/// A rewritten reverse-path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rewritten {
    /// The original is inside the address.
    Inline(Address),
    /// The original is too long to fit: store `id` -> original, then use `address`.
    Stored { id: String, address: Address },
}

/// What an SRS address of ours stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reversed {
    Original(Address),
    /// A short form: the original is in the store under this id.
    Stored(String),
}

pub struct Srs {
    key: hmac::Key,
}

impl Srs {
    /// The scheme keyed from the installation secret (its own derived key).
    pub fn new(secret: &[u8]) -> Srs {
        let base = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let derived = hmac::sign(&base, b"palisade srs v1");
        Srs {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        }
    }

    fn hash(&self, day: &str, domain: &str, local: &str) -> String {
        let input = format!("{day}={domain}={local}").to_lowercase();
        let tag = hmac::sign(&self.key, input.as_bytes());
        base32(tag.as_ref()).chars().take(4).collect()
    }

    /// The reverse-path for `original` forwarded by `ours` on day `now` (seconds).
    pub fn forward(&self, original: &Address, ours: &Domain, now: i64) -> Option<Rewritten> {
        let day = day_code(now);
        let (local, domain) = (original.local(), original.domain().as_str());
        let hash = self.hash(&day, domain, local);
        let inline = format!("SRS0={hash}={day}={domain}={local}");
        if inline.len() <= MAX_LOCAL {
            return Address::parse(&format!("{inline}@{ours}"))
                .ok()
                .map(Rewritten::Inline);
        }
        let mut raw = [0u8; 10];
        aws_lc_rs::rand::fill(&mut raw).ok()?;
        let id = base32(&raw);
        let hash = self.hash(&day, "", &id);
        let address = Address::parse(&format!("SRSX={hash}={day}={id}@{ours}")).ok()?;
        Some(Rewritten::Stored { id, address })
    }

    /// What `srs` stands for, if we made it and it is recent enough.
    pub fn reverse(&self, srs: &Address, now: i64) -> Option<Reversed> {
        let local = srs.local();
        let prefix = local.get(..PREFIX.len())?;
        if prefix.eq_ignore_ascii_case(SHORT_PREFIX) {
            let mut parts = local.get(PREFIX.len()..)?.splitn(3, '=');
            let (hash, day, id) = (parts.next()?, parts.next()?, parts.next()?);
            let id = id.to_ascii_lowercase();
            return self
                .signed(hash, day, "", &id, now)
                .then_some(Reversed::Stored(id));
        }
        if !prefix.eq_ignore_ascii_case(PREFIX) {
            return None;
        }
        let mut parts = local.get(PREFIX.len()..)?.splitn(4, '=');
        let (hash, day, domain, orig_local) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if !self.signed(hash, day, domain, orig_local, now) {
            return None;
        }
        Address::parse(&format!("{orig_local}@{domain}"))
            .ok()
            .map(Reversed::Original)
    }

    /// The hash is ours (compared in constant time) and the day recent.
    fn signed(&self, hash: &str, day: &str, domain: &str, local: &str, now: i64) -> bool {
        let want = self.hash(day, domain, local);
        let same = aws_lc_rs::constant_time::verify_slices_are_equal(
            want.as_bytes(),
            hash.to_ascii_lowercase().as_bytes(),
        )
        .is_ok();
        same && recent(day, now)
    }
}

/// True when `a` looks like an SRS address (whether or not it is ours).
pub fn is_srs(a: &Address) -> bool {
    a.local()
        .get(..PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(PREFIX) || p.eq_ignore_ascii_case(SHORT_PREFIX))
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
    }
    out
}

fn day_number(now: i64) -> i64 {
    now.div_euclid(86_400).rem_euclid(1024)
}

fn day_code(now: i64) -> String {
    let d = day_number(now) as usize;
    let pair = [ALPHABET[d >> 5], ALPHABET[d & 31]];
    String::from_utf8_lossy(&pair).into_owned()
}

/// `code` names a day within [`MAX_AGE_DAYS`] before `now` (modulo 1024 days).
fn recent(code: &str, now: i64) -> bool {
    let pos = |c: u8| ALPHABET.iter().position(|a| *a == c.to_ascii_lowercase());
    let b = code.as_bytes();
    let (Some(hi), Some(lo)) = (
        b.first().and_then(|c| pos(*c)),
        b.get(1).and_then(|c| pos(*c)),
    ) else {
        return false;
    };
    if b.len() != 2 {
        return false;
    }
    let then = (hi << 5 | lo) as i64;
    let age = (day_number(now) - then).rem_euclid(1024);
    age <= MAX_AGE_DAYS
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn a(s: &str) -> Address {
        Address::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn inline(r: Option<Rewritten>) -> Address {
        match r {
            Some(Rewritten::Inline(a)) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rfc5321_4_5_3_1_1_long_reverse_paths_get_the_short_stored_form() {
        let srs = Srs::new(b"installation secret");
        let verp = a("bounces+123456-abcd-alice=example.org@em1234.sendgrid.net");
        let Some(Rewritten::Stored { id, address }) = srs.forward(&verp, &ours(), NOW) else {
            panic!("expected the short form");
        };
        assert!(address.local().len() <= MAX_LOCAL, "{address}");
        assert!(address.local().starts_with("SRSX="), "{address}");
        assert_eq!(
            srs.reverse(&address, NOW),
            Some(Reversed::Stored(id.clone()))
        );
        // Another id under the same hash is refused.
        let forged = a(&address.to_string().replace(&id, "aaaaaaaaaaaaaaaa"));
        assert!(srs.reverse(&forged, NOW).is_none());
        assert!(
            srs.reverse(&address, NOW + (MAX_AGE_DAYS + 1) * 86_400)
                .is_none()
        );
    }

    fn ours() -> Domain {
        Domain::parse("forwarder.example").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn forward_and_back() {
        let srs = Srs::new(b"installation secret");
        let fwd = inline(srs.forward(&a("Alice@Example.NET"), &ours(), NOW));
        assert!(fwd.to_string().starts_with("SRS0="), "{fwd}");
        assert!(
            fwd.to_string()
                .ends_with("=example.net=Alice@forwarder.example"),
            "{fwd}"
        );
        assert_eq!(
            srs.reverse(&fwd, NOW),
            Some(Reversed::Original(a("Alice@example.net")))
        );
        // Any case on the way back.
        let upper = a(&fwd.to_string().to_uppercase());
        assert!(srs.reverse(&upper, NOW + 86_400).is_some());
    }

    #[test]
    fn forged_stale_and_foreign_addresses_are_refused() {
        let srs = Srs::new(b"installation secret");
        let fwd = inline(srs.forward(&a("alice@example.net"), &ours(), NOW));
        // Too old.
        assert!(
            srs.reverse(&fwd, NOW + (MAX_AGE_DAYS + 1) * 86_400)
                .is_none()
        );
        assert!(srs.reverse(&fwd, NOW + MAX_AGE_DAYS * 86_400).is_some());
        // Another installation's key.
        assert!(Srs::new(b"other secret").reverse(&fwd, NOW).is_none());
        // The original swapped for another (the relay attack SRS must stop).
        let forged = a(&fwd.to_string().replace("=alice@", "=mallory@"));
        assert!(srs.reverse(&forged, NOW).is_none());
        for bad in [
            "SRS0=abcd@forwarder.example",
            "srs0=@forwarder.example",
            "bob@forwarder.example",
        ] {
            assert!(srs.reverse(&a(bad), NOW).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_day_wraps_at_1024() {
        let last = 1023 * 86_400;
        let srs = Srs::new(b"k");
        let fwd = inline(srs.forward(&a("x@example.net"), &ours(), last));
        // Two days later the counter has wrapped to 1.
        assert!(srs.reverse(&fwd, last + 2 * 86_400).is_some());
    }
}
