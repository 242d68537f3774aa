//! Display-name impersonation and Reply-To diversion.
//!
//! - A display name that shows an address or a domain (`"paypal.com Support"
//!   <x@evil.test>`, `"ceo@example.com" <x@evil.test>`) other than the sender's own
//!   organisational domain: the name is all most mail clients show.
//! - A display name that is, or looks like (UTS #39 skeletons, word order and
//!   punctuation ignored), the name of someone protected (a local user, a VIP) on mail
//!   from outside.
//! - A Reply-To in another organisational domain than From: answers go elsewhere,
//!   more suspicious when that is a free-mail provider.

/// The organisational (registrable) domain of an address or host, lower case.
pub fn org_domain(address_or_host: &str) -> Option<String> {
    let host = address_or_host
        .rsplit_once('@')
        .map_or(address_or_host, |(_, d)| d)
        .trim()
        .trim_end_matches('.')
        .trim_matches(|c| c == '<' || c == '>')
        .to_lowercase();
    let ascii = idna::domain_to_ascii(&host).ok()?;
    let reg = psl::domain_str(&ascii)?;
    Some(idna::domain_to_unicode(reg).0)
}

/// [`org_domain`] of a host or address written in text, only if it ends in a suffix the
/// public suffix list knows (so "Ph.D" or "J.Smith" are not taken for domains).
pub fn written_org_domain(address_or_host: &str) -> Option<String> {
    let host = address_or_host
        .rsplit_once('@')
        .map_or(address_or_host, |(_, d)| d);
    let ascii = idna::domain_to_ascii(&host.to_lowercase()).ok()?;
    psl::suffix(ascii.as_bytes()).filter(|s| s.is_known())?;
    org_domain(host)
}

/// Address- or domain-like words in a display name whose organisational domain is not
/// `sender_org`; the first one found. A person's initial joined to the surname
/// ("Jane Q.Public") is a name, whatever top-level domain the surname happens to be.
pub fn shown_foreign_domain(display: &str, sender_org: &str) -> Option<String> {
    display
        .split(|c: char| c.is_whitespace() || "\"'()<>[],;:".contains(c))
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| w.contains('.') && w.len() > 3 && !is_initial_and_name(w))
        .filter_map(written_org_domain)
        .find(|org| org != sender_org)
}

/// `Q.Public`: one letter, a dot, and a capitalised word.
fn is_initial_and_name(word: &str) -> bool {
    let Some((initial, name)) = word.split_once('.') else {
        return false;
    };
    let mut rest = name.chars();
    initial.chars().count() == 1
        && initial.chars().all(char::is_uppercase)
        && rest.next().is_some_and(char::is_uppercase)
        && rest.clone().count() > 0
        && rest.all(char::is_lowercase)
}

/// A person's name reduced for comparison: confusables mapped, case and punctuation
/// dropped, words sorted (so "Smith, Alice" is "Alice Smith").
fn name_key(name: &str) -> String {
    let skeleton: String = unicode_security::skeleton(name)
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut words: Vec<&str> = skeleton.split_whitespace().collect();
    words.sort_unstable();
    words.join(" ")
}

/// The names to protect (local users, VIPs), prepared once.
pub struct People {
    names: Vec<(String, String)>,
}

impl People {
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> People {
        People {
            names: names
                .into_iter()
                .map(|n| (n.trim().to_string(), name_key(n)))
                // One-word names ("Info", "Admin") match too much to mean anything.
                .filter(|(_, k)| k.split(' ').count() >= 2)
                .collect(),
        }
    }

    /// The protected name `display` is or imitates.
    pub fn impersonated(&self, display: &str) -> Option<&str> {
        let key = name_key(display);
        self.names
            .iter()
            .find(|(_, k)| *k == key)
            .map(|(n, _)| n.as_str())
    }
}

/// A Reply-To that takes the answers to another organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diversion {
    pub reply_to_org: String,
    /// The Reply-To domain is a free-mail provider (anyone can have an address there).
    pub free_mail: bool,
}

pub fn reply_to_diversion(from: &str, reply_to: &str, free_mail: &[&str]) -> Option<Diversion> {
    let (f, r) = (org_domain(from)?, org_domain(reply_to)?);
    (f != r).then(|| Diversion {
        free_mail: free_mail.iter().any(|d| d.eq_ignore_ascii_case(&r)),
        reply_to_org: r,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organisational_domains() {
        assert_eq!(
            org_domain("a@mail.example.co.uk").as_deref(),
            Some("example.co.uk")
        );
        assert_eq!(org_domain("x@Müller.DE").as_deref(), Some("müller.de"));
        assert_eq!(org_domain("x@localhost"), None);
    }

    #[test]
    fn display_names_that_show_another_domain() {
        assert_eq!(
            shown_foreign_domain("PayPal.com Support", "evil.test").as_deref(),
            Some("paypal.com")
        );
        assert_eq!(
            shown_foreign_domain("\"ceo@example.com\"", "evil.test").as_deref(),
            Some("example.com")
        );
        // The sender's own domain, or words that are not domains, are fine.
        assert_eq!(
            shown_foreign_domain("Example.com billing", "example.com"),
            None
        );
        assert_eq!(
            shown_foreign_domain("Dr. J. Smith, Ph.D.", "example.com"),
            None
        );
        // Issue 16: an initial joined to the surname is a name (.wang is a TLD).
        assert_eq!(shown_foreign_domain("Jane Q.Wang", "example.com"), None);
        assert_eq!(
            shown_foreign_domain("Jane q.wang", "example.com").as_deref(),
            Some("q.wang")
        );
        assert_eq!(shown_foreign_domain("Alice Smith", "example.com"), None);
    }

    #[test]
    fn names_of_protected_people_and_their_lookalikes() {
        let p = People::new(["Alice Smith", "Bob Jones", "Admin"]);
        assert_eq!(p.impersonated("Alice Smith"), Some("Alice Smith"));
        assert_eq!(p.impersonated("smith, alice"), Some("Alice Smith"));
        assert_eq!(
            p.impersonated("Аlice Smith"),
            Some("Alice Smith"),
            "Cyrillic А"
        );
        assert_eq!(p.impersonated("Alice Smithers"), None);
        assert_eq!(
            p.impersonated("Admin"),
            None,
            "one-word names are not protected"
        );
    }

    #[test]
    fn reply_to_in_another_organisation() {
        let free = ["gmail.com", "outlook.com"];
        assert_eq!(
            reply_to_diversion("ceo@example.com", "ceo@mail.example.com", &free),
            None
        );
        assert_eq!(
            reply_to_diversion("ceo@example.com", "ceo.example@gmail.com", &free),
            Some(Diversion {
                reply_to_org: "gmail.com".into(),
                free_mail: true
            })
        );
        // Another organisation, not free mail: still a diversion, a weaker one.
        assert_eq!(
            reply_to_diversion("billing@vendor.test", "pay@other-vendor.test", &free)
                .map(|d| d.free_mail),
            Some(false)
        );
    }
}
