//! Deceptive links in HTML and text parts. URLs come from a real HTML parser
//! (html5gum's tokenizer: `<a href>`, `<form action>`) and from linkify for plain
//! text, never from regular expressions over markup; both are bounded.
//!
//! Per link: anchor text that shows a URL or domain of another organisation than the
//! href's; an IP-literal host; userinfo that dresses up the host
//! (`https://bank.com@evil.test/`); a punycode host; `data:` and `javascript:` URLs; a
//! known URL shortener. Per HTML part: a form with a password field.

use crate::impersonation::{org_domain, written_org_domain};

/// Links and forms read per part, at most (hostile parts can hold millions).
pub const MAX_LINKS: usize = crate::html::MAX_ELEMENTS;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub href: String,
    /// The visible text of an HTML anchor (none for plain-text URLs).
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// The text shows `shown`, the link goes to `actual` (organisational domains).
    TextShowsAnotherDomain {
        shown: String,
        actual: String,
    },
    IpLiteral {
        host: String,
    },
    /// `https://shown@actual/`: everything before `@` is a user name, not the host.
    UserInfo {
        shown: String,
        actual: String,
    },
    Punycode {
        host: String,
    },
    Scheme {
        scheme: String,
    },
    Shortener {
        host: String,
    },
    /// A form that posts a password (to `action`).
    CredentialForm {
        action: String,
    },
}

impl Issue {
    /// One short phrase for a verdict.
    pub fn describe(&self) -> String {
        match self {
            Issue::TextShowsAnotherDomain { shown, actual } => {
                format!("a link shows {shown} but goes to {actual}")
            }
            Issue::IpLiteral { host } => format!("a link goes to a bare IP address ({host})"),
            Issue::UserInfo { shown, actual } => {
                format!("a link dresses up as {shown} but goes to {actual}")
            }
            Issue::Punycode { host } => {
                format!("a link goes to an encoded international name ({host})")
            }
            Issue::Scheme { scheme } => format!("a {scheme}: link runs or embeds content"),
            Issue::Shortener { host } => format!("a link hides its target behind {host}"),
            Issue::CredentialForm { action } => {
                format!("the message has a form that asks for a password (sent to {action})")
            }
        }
    }
}

/// Anchors and password forms of an HTML part, and its visible text, from one pass of
/// the HTML tokenizer (see [`crate::html`]).
pub fn html(markup: &str) -> (Vec<Link>, Vec<Issue>, String) {
    let scanned = crate::html::scan(markup);
    let links = scanned
        .anchors
        .into_iter()
        .map(|(href, text)| Link {
            href,
            text: Some(text).filter(|t| !t.is_empty()),
        })
        .collect();
    let issues = scanned
        .password_forms
        .into_iter()
        .map(|action| Issue::CredentialForm { action })
        .collect();
    (links, issues, scanned.text)
}

/// URLs in plain text.
pub fn text(body: &str) -> Vec<Link> {
    let mut finder = linkify::LinkFinder::new();
    finder.kinds(&[linkify::LinkKind::Url]);
    finder
        .links(body)
        .take(MAX_LINKS)
        .map(|l| Link {
            href: l.as_str().to_string(),
            text: None,
        })
        .collect()
}

/// What the anchor text claims as a destination: a URL or a bare domain in it.
fn shown_domain(text: &str) -> Option<String> {
    text.split_whitespace().find_map(|w| {
        let w = w.trim_matches(|c: char| "()[]<>\"'.,;:!?".contains(c));
        let host = match url::Url::parse(w) {
            Ok(u) if u.host_str().is_some() => u.host_str()?.to_string(),
            _ if w.contains('.') && !w.contains('@') && !w.contains('/') => w.to_string(),
            _ => w.split('/').next().filter(|h| h.contains('.'))?.to_string(),
        };
        written_org_domain(&host)
    })
}

/// The issues of one link.
pub fn check(link: &Link, shorteners: &[&str]) -> Vec<Issue> {
    inspect(link, shorteners, &mut Orgs::default()).0
}

/// Organisational domains of hosts already seen in one message (links repeat hosts).
pub type Orgs = std::collections::HashMap<String, Option<String>>;

/// The issues of one link, and its host when it is a domain name (lower case).
pub fn inspect(link: &Link, shorteners: &[&str], orgs: &mut Orgs) -> (Vec<Issue>, Option<String>) {
    let mut out = Vec::new();
    let href = link.href.trim();
    let lower = href.to_ascii_lowercase();
    for scheme in ["javascript", "data", "vbscript"] {
        if lower
            .strip_prefix(scheme)
            .is_some_and(|rest| rest.starts_with(':'))
        {
            out.push(Issue::Scheme {
                scheme: scheme.into(),
            });
            return (out, None);
        }
    }
    let Ok(u) = url::Url::parse(href) else {
        return (out, None);
    };
    if !matches!(u.scheme(), "http" | "https") {
        return (out, None);
    }
    let host = match u.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(url::Host::Ipv4(ip)) => {
            out.push(Issue::IpLiteral {
                host: ip.to_string(),
            });
            return (out, None);
        }
        Some(url::Host::Ipv6(ip)) => {
            out.push(Issue::IpLiteral {
                host: ip.to_string(),
            });
            return (out, None);
        }
        None => return (out, None),
    };
    let host = host.to_ascii_lowercase();
    let actual = orgs
        .entry(host.clone())
        .or_insert_with(|| org_domain(&host))
        .clone()
        .unwrap_or_else(|| host.clone());
    if !u.username().is_empty() {
        let shown = u.username().to_string();
        if shown.contains('.') {
            out.push(Issue::UserInfo {
                shown,
                actual: actual.clone(),
            });
        }
    }
    if host.split('.').any(|l| l.starts_with("xn--")) {
        out.push(Issue::Punycode { host: host.clone() });
    }
    let on = |s: &str| {
        host.strip_suffix(s)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
    };
    if shorteners.iter().any(|s| on(s)) {
        out.push(Issue::Shortener { host: host.clone() });
    }
    if let Some(shown) = link.text.as_deref().and_then(shown_domain)
        && shown != actual
    {
        out.push(Issue::TextShowsAnotherDomain { shown, actual });
    }
    (out, Some(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: &[&str] = &["bit.ly", "tinyurl.com"];

    fn issues(html_part: &str) -> Vec<Issue> {
        let (links, mut found, _) = html(html_part);
        for l in &links {
            found.extend(check(l, SHORT));
        }
        found
    }

    #[test]
    fn anchor_text_that_shows_another_domain() {
        let got = issues(
            r#"<p>Log in at <a href="https://evil.test/login">https://www.paypal.com/signin</a></p>"#,
        );
        assert_eq!(
            got,
            vec![Issue::TextShowsAnotherDomain {
                shown: "paypal.com".into(),
                actual: "evil.test".into()
            }]
        );
        // Same organisation, or text that is not a domain: fine.
        assert!(
            issues(r#"<a href="https://click.mail.example.com/x">www.example.com</a>"#).is_empty()
        );
        assert!(issues(r#"<a href="https://evil.test/">Click here</a>"#).is_empty());
    }

    #[test]
    fn hosts_that_hide_where_a_link_goes() {
        assert_eq!(
            issues(r#"<a href="http://192.0.2.7/bank">bank</a>"#),
            vec![Issue::IpLiteral {
                host: "192.0.2.7".into()
            }]
        );
        assert_eq!(
            issues(r#"<a href="https://bank.com@evil.test/">bank</a>"#),
            vec![Issue::UserInfo {
                shown: "bank.com".into(),
                actual: "evil.test".into()
            }]
        );
        assert_eq!(
            issues(r#"<a href="https://xn--pypal-4ve.com/">paypal</a>"#),
            vec![Issue::Punycode {
                host: "xn--pypal-4ve.com".into()
            }]
        );
        assert_eq!(
            issues(r#"<a href="https://bit.ly/abc">Your invoice</a>"#),
            vec![Issue::Shortener {
                host: "bit.ly".into()
            }]
        );
        assert_eq!(
            issues(
                r#"<a href="JavaScript:alert(1)">x</a><a href="data:text/html;base64,AAAA">y</a>"#
            ),
            vec![
                Issue::Scheme {
                    scheme: "javascript".into()
                },
                Issue::Scheme {
                    scheme: "data".into()
                }
            ]
        );
    }

    #[test]
    fn forms_that_ask_for_a_password() {
        let got = issues(
            r#"<form action="https://evil.test/p"><input name=u><INPUT TYPE=PASSWORD name=p></form>"#,
        );
        assert_eq!(
            got,
            vec![Issue::CredentialForm {
                action: "https://evil.test/p".into()
            }]
        );
        assert!(issues(r#"<form action="/search"><input type=text></form>"#).is_empty());
    }

    #[test]
    fn plain_text_urls_and_hostile_markup() {
        let links = text("See https://bit.ly/x, or (https://example.com/a).");
        assert_eq!(links.len(), 2);
        assert_eq!(links[1].href, "https://example.com/a");
        // Broken and enormous markup is parsed without panicking, and bounded.
        let many = "<a href='https://e.test/'>x</a>".repeat(5000);
        assert_eq!(html(&many).0.len(), MAX_LINKS);
        let _ = html("<a href=<<<>><form><input type=password</a></<");
    }
}
