//! The password policy, applied whenever a password is set or changed: at least 12
//! characters, not the address or containing it (or its local part), not in the bundled
//! list of commonly breached passwords, and a zxcvbn score of at least 3 with the
//! user's address and name as context. A refusal says why and what would help.
//!
//! The breached list is Django's list of 20,000 common passwords (compiled by Royce
//! Williams; Django is BSD-3-Clause), kept as sorted 8-byte SHA-256 prefixes of the
//! lowercased passwords (`data/common-passwords.bin`, 157 KB, rebuilt by
//! `data/make_common_passwords.py`). It is checked offline: nothing leaves the machine.

use palisade_types::Address;

/// Shorter passwords are refused whatever their score.
pub const MIN_LENGTH: usize = 12;
/// zxcvbn's scale is 0 to 4; 3 means "safely unguessable: moderate protection from an
/// offline slow-hash scenario".
pub const MIN_SCORE: u8 = 3;

static COMMON: &[u8] = include_bytes!("../data/common-passwords.bin");

/// Why a password was refused, and what would help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: String,
    pub suggestions: Vec<String>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)?;
        for s in &self.suggestions {
            write!(f, " {s}")?;
        }
        Ok(())
    }
}

fn refuse(reason: impl Into<String>, suggestions: &[&str]) -> Refusal {
    Refusal {
        reason: reason.into(),
        suggestions: suggestions.iter().map(|s| s.to_string()).collect(),
    }
}

/// True if `password` (lowercased, trimmed, as Django compares) is on the bundled list.
pub fn is_commonly_breached(password: &str) -> bool {
    let normalised = password.trim().to_lowercase();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, normalised.as_bytes());
    let key = &digest.as_ref()[..8];
    let n = COMMON.len() / 8;
    let (mut lo, mut hi) = (0usize, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let entry = &COMMON[mid * 8..mid * 8 + 8];
        match entry.cmp(key) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
        }
    }
    false
}

/// Checks a new password for `user` (with an optional display name).
pub fn check(password: &str, user: &Address, name: Option<&str>) -> Result<(), Refusal> {
    // SASL PLAIN separates its fields with NUL (RFC 4616 §2): a password holding one
    // could be set but never typed into a mail client; other control characters
    // cannot be typed either.
    if password.chars().any(char::is_control) {
        return Err(refuse(
            "The password contains a control character (such as NUL, a tab or a line break), which mail clients cannot send (RFC 4616 section 2).",
            &["Use letters, digits, spaces and punctuation only."],
        ));
    }
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(refuse(
            format!("The password has {length} characters; at least {MIN_LENGTH} are needed."),
            &["Use a few unrelated words, or let a password manager make one."],
        ));
    }
    let lower = password.to_lowercase();
    let address = user.to_string().to_lowercase();
    let local = user.local().to_lowercase();
    if lower.contains(&address) || (local.chars().count() >= 3 && lower.contains(&local)) {
        return Err(refuse(
            "The password contains the account's address.",
            &["Choose one that has nothing to do with the account."],
        ));
    }
    if is_commonly_breached(password) {
        return Err(refuse(
            "The password is on a list of commonly used passwords that attackers try first.",
            &["Choose one that is not in any list: a few unrelated words, or a generated one."],
        ));
    }
    // What an attacker knows: the address, its parts and the user's name.
    let name = name.map(str::to_lowercase).unwrap_or_default();
    let mut inputs: Vec<&str> = vec![address.as_str(), local.as_str(), user.domain().as_str()];
    inputs.extend(local.split(['.', '_', '-', '+']).filter(|t| t.len() >= 3));
    inputs.extend(user.domain().as_str().split('.').filter(|t| t.len() >= 3));
    inputs.extend(name.split_whitespace());
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    let score = u8::from(estimate.score());
    if score < MIN_SCORE {
        let feedback = estimate.feedback();
        let warning = feedback
            .and_then(|f| f.warning())
            .map(|w| format!(" {w}"))
            .unwrap_or_default();
        let mut suggestions: Vec<String> = feedback
            .map(|f| f.suggestions().iter().map(|s| s.to_string()).collect())
            .unwrap_or_default();
        if suggestions.is_empty() {
            suggestions.push("Add another word or two; uncommon words are better.".into());
        }
        return Err(Refusal {
            reason: format!(
                "The password is too easy to guess (strength {score} of 4, at least {MIN_SCORE} needed).{warning}"
            ),
            suggestions,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Address {
        Address::parse("alice.smith@example.org").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_bundled_list_is_whole_and_sorted() {
        assert_eq!(COMMON.len() % 8, 0);
        assert!(COMMON.len() / 8 >= 19_000, "{} entries", COMMON.len() / 8);
        assert!(
            COMMON
                .chunks(8)
                .zip(COMMON.chunks(8).skip(1))
                .all(|(a, b)| a < b)
        );
    }

    #[test]
    fn breached_passwords_are_found_case_insensitively() {
        for p in ["password", "123456", "qwerty", "Password", " iloveyou "] {
            assert!(is_commonly_breached(p), "{p}");
        }
        assert!(!is_commonly_breached("violet ferry granite spoon"));
    }

    #[test]
    fn policy_refusals_say_why() {
        let a = alice();
        let short = check("Tr0ub4dor&3", &a, None).expect_err("short");
        assert!(short.reason.contains("at least 12"), "{short}");
        let own = check("my alice.smith@example.org pw", &a, None).expect_err("address");
        assert!(own.reason.contains("address"), "{own}");
        let local = check("xx-alice.smith-2026", &a, None).expect_err("local part");
        assert!(local.reason.contains("address"), "{local}");
        let common = check("baseball1234", &a, None);
        assert!(common.is_err(), "{common:?}");
        let weak = check("aaaaaaaaaaaaaaaa", &a, None).expect_err("weak");
        assert!(weak.reason.contains("strength"), "{weak}");
        assert!(!weak.suggestions.is_empty());
        assert!(check("violet ferry granite spoon", &a, Some("Alice Smith")).is_ok());
    }

    /// Issue 15, Low: a NUL byte was accepted in a password, which SASL PLAIN (RFC 4616
    /// §2) cannot carry.
    #[test]
    fn rfc4616_2_control_characters_are_refused() {
        for pw in [
            "violet ferry\0granite spoon",
            "violet ferry\tgranite spoon",
            "violet\nferry granite",
        ] {
            let r = check(pw, &alice(), None).expect_err("refused");
            assert!(r.reason.contains("control character"), "{r}");
        }
        assert_eq!(check("violet ferry granite spoon", &alice(), None), Ok(()));
    }
}
