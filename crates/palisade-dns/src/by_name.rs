//! Lookups by a name built from octets, for the policy languages that compose names
//! themselves (SPF macros, RFC 7208 §7): any octet may stand in a label (RFC 2181 §11),
//! so `foo:bar/baz.example.com` or a label with spaces is a name like any other, while a
//! name that cannot go on the wire (an empty label, a label over 63 octets) is refused
//! here, before any query.

use crate::{Dns, DnsError};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A fully-qualified name that can be queried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryName(Name);

impl QueryName {
    /// `text` split at dots (one trailing dot allowed), each label taken as its octets.
    /// `None` when a label is empty or longer than 63 octets, or the name is too long
    /// (RFC 1035 §2.3.4).
    pub fn from_text(text: &str) -> Option<QueryName> {
        let text = text.strip_suffix('.').unwrap_or(text);
        if text.is_empty() || text.split('.').any(|l| l.is_empty() || l.len() > 63) {
            return None;
        }
        let mut name = Name::from_labels(text.split('.').map(str::as_bytes)).ok()?;
        name.set_fqdn(true);
        Some(QueryName(name))
    }

    /// The name in lower case, without the trailing dot; octets that are not UTF-8
    /// become U+FFFD.
    pub fn text(&self) -> String {
        let labels: Vec<String> = self
            .0
            .iter()
            .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
            .collect();
        labels.join(".")
    }
}

impl Dns {
    /// The answers of type `rtype` at `name`; NXDOMAIN and NODATA are an empty list
    /// (a "void lookup", RFC 7208 §4.6.4); anything else that fails is an error.
    async fn records_at(
        &self,
        name: &QueryName,
        rtype: RecordType,
    ) -> Result<Vec<RData>, DnsError> {
        let answers = self.answers(name.0.clone(), || name.text(), rtype).await?;
        Ok(answers.records)
    }

    /// The answers at `name` that `pick` takes (the record type's data).
    async fn picked<T>(
        &self,
        name: &QueryName,
        rtype: RecordType,
        pick: impl Fn(RData) -> Option<T>,
    ) -> Result<Vec<T>, DnsError> {
        Ok(self
            .records_at(name, rtype)
            .await?
            .into_iter()
            .filter_map(pick)
            .collect())
    }

    /// Each TXT record at `name` as its strings joined, in octets (RFC 7208 §3.3).
    pub async fn txt_at(&self, name: &QueryName) -> Result<Vec<Vec<u8>>, DnsError> {
        self.picked(name, RecordType::TXT, |r| match r {
            RData::TXT(t) => Some(t.txt_data.iter().flat_map(|s| s.iter().copied()).collect()),
            _ => None,
        })
        .await
    }

    pub async fn ipv4_at(&self, name: &QueryName) -> Result<Vec<Ipv4Addr>, DnsError> {
        self.picked(name, RecordType::A, |r| match r {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .await
    }

    pub async fn ipv6_at(&self, name: &QueryName) -> Result<Vec<Ipv6Addr>, DnsError> {
        self.picked(name, RecordType::AAAA, |r| match r {
            RData::AAAA(a) => Some(a.0),
            _ => None,
        })
        .await
    }

    /// The exchanges named by the MX records at `name`, in the order received.
    pub async fn mx_at(&self, name: &QueryName) -> Result<Vec<QueryName>, DnsError> {
        self.picked(name, RecordType::MX, |r| match r {
            RData::MX(mx) => Some(QueryName(mx.exchange)),
            _ => None,
        })
        .await
    }

    /// The names the PTR records of `ip` point to (the `in-addr.arpa`/`ip6.arpa` name).
    pub async fn ptr_of(&self, ip: IpAddr) -> Result<Vec<QueryName>, DnsError> {
        let reverse = QueryName(Name::from(ip));
        self.picked(&reverse, RecordType::PTR, |r| match r {
            RData::PTR(p) => Some(QueryName(p.0)),
            _ => None,
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_octet_in_a_label_but_no_empty_or_long_label() {
        assert_eq!(
            QueryName::from_text("foo:bar/baz.Example.com.").map(|n| n.text()),
            Some("foo:bar/baz.example.com".to_string())
        );
        assert!(QueryName::from_text("macro%percent  space%20url.example.com").is_some());
        assert!(QueryName::from_text("mail.example...com").is_none());
        assert!(QueryName::from_text(&format!("{}.example.com", "a".repeat(64))).is_none());
        assert!(QueryName::from_text("").is_none());
        assert!(QueryName::from_text(".").is_none());
    }
}
