//! The left-hand side of an alias: one address, or a whole domain's catch-all.

use std::fmt;
use std::str::FromStr;

use palisade_types::{Address, AddressError, Domain};

/// What an alias matches.
///
/// Written `local@domain` or `*@domain`. A literal `*` is a legal local part
/// (RFC 5321 atext), so the address `*@domain` cannot be an exact alias source:
/// it always means the catch-all.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AliasSource {
    /// Exactly this address (local part compared case-insensitively).
    Address(Address),
    /// Every address of the domain that is neither a user nor an exact alias.
    CatchAll(Domain),
}

impl AliasSource {
    /// Parses `*@domain` as a catch-all and anything else as an address.
    pub fn parse(s: &str) -> Result<AliasSource, AddressError> {
        match s.strip_prefix("*@") {
            Some(domain) => Ok(AliasSource::CatchAll(Domain::parse(domain)?)),
            None => Ok(AliasSource::Address(Address::parse(s)?)),
        }
    }

    /// The domain the alias belongs to; it must be a local domain.
    pub fn domain(&self) -> &Domain {
        match self {
            AliasSource::Address(a) => a.domain(),
            AliasSource::CatchAll(d) => d,
        }
    }

    /// The key backends store and match on: [`Address::lookup_key`] or `*@domain`.
    pub fn lookup_key(&self) -> String {
        match self {
            AliasSource::Address(a) => a.lookup_key(),
            AliasSource::CatchAll(d) => catch_all_key(d),
        }
    }
}

/// The stored form of a domain's catch-all source, shared with the backends so
/// the resolver and the writer cannot disagree on it.
pub(crate) fn catch_all_key(domain: &Domain) -> String {
    format!("*@{domain}")
}

impl fmt::Display for AliasSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AliasSource::Address(a) => a.fmt(f),
            AliasSource::CatchAll(d) => write!(f, "*@{d}"),
        }
    }
}

impl FromStr for AliasSource {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<AliasSource, AddressError> {
        AliasSource::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_both_forms() {
        let c = AliasSource::parse("*@Example.ORG").expect("catch-all");
        assert_eq!(
            c,
            AliasSource::CatchAll(Domain::parse("example.org").expect("domain"))
        );
        assert_eq!(c.to_string(), "*@example.org");
        assert_eq!(c.lookup_key(), "*@example.org");

        let a: AliasSource = "Postmaster@example.org".parse().expect("address");
        assert_eq!(a.to_string(), "Postmaster@example.org");
        assert_eq!(a.lookup_key(), "postmaster@example.org");
        assert_eq!(a.domain().as_str(), "example.org");
    }

    #[test]
    fn rejects_bad_forms() {
        assert!(AliasSource::parse("*@").is_err());
        assert!(AliasSource::parse("*@bad..domain").is_err());
        assert!(AliasSource::parse("nobody").is_err());
    }
}
