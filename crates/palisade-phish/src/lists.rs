//! Mailing-list mail (RFC 2919 List-Id, RFC 2369 List-Post).
//!
//! A list delivering a member's post names itself in Sender (RFC 5322 §3.6.2), often
//! sends replies to itself with Reply-To, and, where the author's domain publishes a
//! strict DMARC policy, writes its own address into From and the author's into Reply-To
//! (RFC 7960 §4.1.3.1). None of that is a sign of deception. But list headers are
//! written by whoever sends the message, so they only explain Sender and Reply-To
//! fields that point at the list's own organisation: they cancel those signals and
//! never add trust of their own.

use crate::impersonation::org_domain;
use mail_parser::Message;

/// The organisational domains a message's list headers name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct List {
    orgs: Vec<String>,
}

impl List {
    /// The list the message says it came through; empty when it names none.
    pub fn of(m: &Message<'_>) -> List {
        let mut orgs = Vec::new();
        if let Some(id) = m.header_raw("List-Id") {
            // `phrase <list-label.namespace>`: the namespace is a domain (RFC 2919 §2).
            let inner = id.rsplit_once('<').map_or(id, |(_, r)| r);
            let inner = inner.split('>').next().unwrap_or_default().trim();
            orgs.extend(org_domain(inner));
        }
        if let Some(post) = m.header_raw("List-Post") {
            orgs.extend(post.split("mailto:").skip(1).filter_map(|rest| {
                let address = rest.split(['>', '?', ',']).next().unwrap_or_default();
                org_domain(address.trim())
            }));
        }
        orgs.sort();
        orgs.dedup();
        List { orgs }
    }

    /// `org` is the list's organisational domain.
    pub fn is_list_org(&self, org: &str) -> bool {
        self.orgs.iter().any(|o| o == org)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn list(headers: &str) -> List {
        let raw = format!("{headers}From: a@example.org\r\n\r\nbody\r\n");
        List::of(&MessageParser::new().parse(raw.as_bytes()).unwrap())
    }

    #[test]
    fn rfc2919_list_id_and_rfc2369_list_post_name_the_list() {
        let l = list(
            "List-Id: USRP users <usrp-users.lists.ettus.com>\r\n\
List-Post: <mailto:usrp-users@lists.ettus.com>\r\n",
        );
        assert_eq!(l.orgs, ["ettus.com"]);
        let l = list(
            "List-ID: <open-iscsi.googlegroups.com>\r\nList-Post: \
<https://groups.google.com/group/open-iscsi/post>, <mailto:open-iscsi@googlegroups.com>\r\n",
        );
        assert_eq!(l.orgs, ["googlegroups.com"]);
        assert!(l.is_list_org("googlegroups.com"));
        assert!(!l.is_list_org("google.com"));
        assert_eq!(list("List-Post: NO\r\n").orgs, Vec::<String>::new());
        assert_eq!(list("").orgs, Vec::<String>::new());
    }
}
