//! Mail addresses as used in the envelope (RFC 5321 §4.1.2, RFC 6531 §3.3).
//!
//! smtp-proto extracts the path from `MAIL FROM:<...>`; this module decides whether
//! what it extracted is an address Palisade is willing to handle, and normalises
//! the domain (ASCII lower case) so that lookups are case-insensitive as RFC 5321
//! §2.4 requires for domains. Local parts are kept as sent (they are case-sensitive
//! on the wire); Palisade's own mailbox lookups fold case.

use std::fmt;

/// A validated domain, ASCII lower-cased. U-labels are allowed (SMTPUTF8) and kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(String);

/// A validated `local@domain` address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    local: String,
    domain: Domain,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("address is empty")]
    Empty,
    #[error("address has no '@'")]
    NoAt,
    #[error("address is longer than {max} octets")]
    TooLong { max: usize },
    #[error("local part is empty or invalid")]
    BadLocalPart,
    #[error("domain {0:?} is invalid")]
    BadDomain(String),
    #[error("address contains a control character")]
    ControlCharacter,
    #[error(
        "local part {0:?} cannot name a mailbox: it must be a dot-atom (RFC 5322 section 3.4.1: letters, digits and !#$%&'*+-=?^_`{{|}}~, single dots between them, none first or last), without '/'"
    )]
    NotMailboxName(String),
}

/// RFC 5321 §4.5.3.1.3: a path is at most 256 octets, so an address at most 254.
pub const MAX_ADDRESS_LEN: usize = 254;
/// RFC 5321 §4.5.3.1.1.
pub const MAX_LOCAL_PART_LEN: usize = 64;

impl Domain {
    pub fn parse(s: &str) -> Result<Domain, AddressError> {
        let d = s.strip_suffix('.').unwrap_or(s);
        if d.is_empty() || d.len() > 253 {
            return Err(AddressError::BadDomain(s.to_string()));
        }
        if d.starts_with('[') {
            return parse_address_literal(d);
        }
        for label in d.split('.') {
            let ok = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| {
                    c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && !c.is_control())
                });
            if !ok {
                return Err(AddressError::BadDomain(s.to_string()));
            }
        }
        Ok(Domain(d.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_ascii(&self) -> bool {
        self.0.is_ascii()
    }
}

/// `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 §4.1.3).
fn parse_address_literal(d: &str) -> Result<Domain, AddressError> {
    let inner = d
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| AddressError::BadDomain(d.to_string()))?;
    let valid = match inner.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("IPv6:") => {
            inner[5..].parse::<std::net::Ipv6Addr>().is_ok()
        }
        _ => inner.parse::<std::net::Ipv4Addr>().is_ok(),
    };
    if valid {
        Ok(Domain(d.to_ascii_lowercase()))
    } else {
        Err(AddressError::BadDomain(d.to_string()))
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Address {
    /// Parses `local@domain`; the domain is the part after the last `@`, so a quoted
    /// local part containing `@` stays in the local part (and is refused for relay
    /// by policy, see [`Address::has_routing_characters`]).
    pub fn parse(s: &str) -> Result<Address, AddressError> {
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        if s.len() > MAX_ADDRESS_LEN {
            return Err(AddressError::TooLong {
                max: MAX_ADDRESS_LEN,
            });
        }
        if s.chars().any(|c| c.is_control()) {
            return Err(AddressError::ControlCharacter);
        }
        let (local, domain) = s.rsplit_once('@').ok_or(AddressError::NoAt)?;
        if local.is_empty() || local.len() > MAX_LOCAL_PART_LEN {
            return Err(AddressError::BadLocalPart);
        }
        Ok(Address {
            local: unquoted(local).unwrap_or(local).to_string(),
            domain: Domain::parse(domain)?,
        })
    }

    /// Whether this address can name a mailbox or alias we create: its local part a
    /// dot-atom (RFC 5322 §3.4.1; quoted local parts and odd dots are legal on the
    /// wire, but no name an administrator means to create), non-ASCII letters allowed
    /// (RFC 6531 §3.3), and no `/` (mailboxes are directories).
    pub fn check_mailbox_name(&self) -> Result<(), AddressError> {
        let atext = |c: char| {
            c.is_alphanumeric()
                || (!c.is_ascii() && !c.is_control())
                || "!#$%&'*+-=?^_`{|}~".contains(c)
        };
        let ok = self
            .local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(atext));
        if ok {
            Ok(())
        } else {
            Err(AddressError::NotMailboxName(self.local.clone()))
        }
    }

    /// The identity every security decision about this address is keyed on (lockouts,
    /// failure counts, bans, rate limits, quotas, sender binding): the local part with
    /// ASCII letters lower-cased (as mailbox lookups fold them), `@`, the domain in
    /// lower-case A-labels without a trailing dot. Each spelling a client may type for
    /// one mailbox (`ALICE@Example.COM.`, `"alice"@example.com`, `alice@bücher.example`
    /// and `alice@xn--bcher-kva.example`) has one identity.
    pub fn identity(&self) -> String {
        let domain = idna::domain_to_ascii(self.domain.as_str())
            .unwrap_or_else(|_| self.domain.as_str().to_string());
        format!("{}@{}", self.local.to_ascii_lowercase(), domain)
    }

    pub fn local(&self) -> &str {
        &self.local
    }

    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    pub fn is_ascii(&self) -> bool {
        self.local.is_ascii() && self.domain.is_ascii()
    }

    /// True for the address forms relay attacks use: `user%other@local`,
    /// `other!user@local` (UUCP bang path) and a quoted local part holding `@`.
    /// RFC 5321 §3.6.1 lets a server refuse these; Palisade always does.
    pub fn has_routing_characters(&self) -> bool {
        self.local.contains(['%', '!', '@'])
    }

    /// The mailbox key used for lookups: ASCII letters of the local part lower-cased.
    /// Non-ASCII letters are kept as sent: Unicode lower-casing can lengthen a string
    /// (`İ` is 2 octets, its lower case 3), and a key must stay a valid address.
    pub fn lookup_key(&self) -> String {
        format!("{}@{}", self.local.to_ascii_lowercase(), self.domain)
    }
}

/// The content of a quoted local part that needs no quoting (a dot-atom, RFC 5322
/// §3.4.1): `"alice"` and `alice` are the same mailbox (RFC 5321 §4.1.2), so it is kept
/// in the plain form. `None` for anything else, which stays quoted as sent.
fn unquoted(local: &str) -> Option<&str> {
    let inner = local.strip_prefix('"')?.strip_suffix('"')?;
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let dot_atom = !inner.is_empty()
        && inner
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(atext));
    dot_atom.then_some(inner)
}

/// The identity of what a client typed as a user name (see [`Address::identity`]); for
/// a name that is no address, the typed text trimmed and lower-cased, bounded, so that
/// failures under it are still counted under one key.
pub fn identity(typed: &str) -> String {
    match Address::parse(typed.trim()) {
        Ok(a) => a.identity(),
        Err(_) => typed.trim().to_lowercase().chars().take(320).collect(),
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_lowercases_domain() {
        let a = Address::parse("Alice@Example.COM").expect("valid");
        assert_eq!(a.local(), "Alice");
        assert_eq!(a.domain().as_str(), "example.com");
        assert_eq!(a.lookup_key(), "alice@example.com");
    }

    #[test]
    fn rejects_bad_forms() {
        assert_eq!(Address::parse(""), Err(AddressError::Empty));
        assert_eq!(Address::parse("nobody"), Err(AddressError::NoAt));
        assert_eq!(Address::parse("@x.org"), Err(AddressError::BadLocalPart));
        assert!(matches!(
            Address::parse("a@-x.org"),
            Err(AddressError::BadDomain(_))
        ));
        assert!(matches!(
            Address::parse("a@x..org"),
            Err(AddressError::BadDomain(_))
        ));
        assert_eq!(
            Address::parse("a\0b@x.org"),
            Err(AddressError::ControlCharacter)
        );
        let long = format!("{}@x.org", "a".repeat(65));
        assert_eq!(Address::parse(&long), Err(AddressError::BadLocalPart));
    }

    #[test]
    fn address_literals() {
        assert!(Address::parse("a@[192.0.2.1]").is_ok());
        assert!(Address::parse("a@[IPv6:2001:db8::1]").is_ok());
        assert!(Address::parse("a@[999.0.2.1]").is_err());
    }

    #[test]
    fn routing_characters_are_flagged() {
        for s in [
            "u%other@local.test",
            "other!u@local.test",
            "u@other@local.test",
        ] {
            assert!(Address::parse(s).expect(s).has_routing_characters(), "{s}");
        }
        assert!(
            !Address::parse("u.v+tag@local.test")
                .expect("valid")
                .has_routing_characters()
        );
    }

    #[test]
    fn lookup_key_never_grows() {
        let local = format!("{}İ", "a".repeat(62));
        let a = Address::parse(&format!("{local}@x.test")).expect("64 octets");
        assert!(Address::parse(&a.lookup_key()).is_ok());
    }

    #[test]
    fn utf8_addresses() {
        let a = Address::parse("θσερ@παράδειγμα.δοκιμή").expect("valid");
        assert!(!a.is_ascii());
    }

    /// Issue 15, Medium 7: one identity for every spelling of one mailbox.
    #[test]
    fn identity_is_one_for_every_spelling() {
        for typed in [
            "alice@example.com",
            "ALICE@Example.COM",
            "alice@example.com.",
            " Alice@EXAMPLE.com. ",
            "\"alice\"@example.com",
        ] {
            assert_eq!(identity(typed), "alice@example.com", "{typed}");
        }
        assert_eq!(
            identity("alice@bücher.example"),
            identity("alice@xn--bcher-kva.example")
        );
        assert_eq!(
            identity("alice@BÜCHER.example"),
            "alice@xn--bcher-kva.example"
        );
        // Quoting that matters stays.
        assert_eq!(identity("\"a b\"@example.com"), "\"a b\"@example.com");
        assert_eq!(identity("not an address"), "not an address");
    }

    #[test]
    fn rfc5321_4_1_2_quoted_dot_atom_is_the_plain_local_part() {
        let a = Address::parse("\"john.smith\"@example.com").expect("valid");
        assert_eq!(a.local(), "john.smith");
        assert_eq!(
            Address::parse("\"a..b\"@x.org").expect("valid").local(),
            "\"a..b\""
        );
        assert_eq!(Address::parse("\"\"@x.org").expect("valid").local(), "\"\"");
    }

    #[test]
    fn mailbox_names_are_dot_atoms_without_slashes() {
        for ok in ["alice", "a.b", "o'brien", "x+tag", "jörg", "*"] {
            let a = Address::parse(&format!("{ok}@x.org")).expect("valid");
            assert_eq!(a.check_mailbox_name(), Ok(()), "{ok}");
        }
        for bad in ["../../etc", ".a", "a.", "a..b", "a/b", "\"a b\"", "a b"] {
            let Ok(a) = Address::parse(&format!("{bad}@x.org")) else {
                continue;
            };
            assert!(a.check_mailbox_name().is_err(), "{bad}");
        }
    }
}
