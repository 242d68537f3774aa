//! Deceptive links in HTML and text parts. URLs come from a real HTML parser
//! (html5gum's tokenizer: `<a href>`, `<form action>`) and from linkify for plain
//! text, never from regular expressions over markup; both are bounded.
//!
//! Per link: anchor text that shows a URL or domain of another organisation than the
//! href's; an IP-literal host; userinfo that dresses up the host
//! (`https://bank.com@evil.test/`); a punycode host; `data:` and `javascript:` URLs; a
//! known URL shortener. Per HTML part: a form with a password field.

use crate::impersonation::{org_domain, written_org_domain};
use std::net::IpAddr;

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
    /// `redirector`: `actual` is a click tracker or link-protection service, so where
    /// the link ends up cannot be told from the link.
    TextShowsAnotherDomain {
        shown: String,
        actual: String,
        redirector: bool,
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
            Issue::TextShowsAnotherDomain { shown, actual, .. } => {
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

/// File name extensions that are also top-level domains: a bare word ending in one
/// (`detector.sv`, `setup.py`) is a file someone names, not a site.
const FILE_EXTENSIONS: &[&str] = &[
    "py", "rs", "sh", "md", "pl", "pm", "sv", "so", "cc", "ps", "ml", "mov", "zip",
];

/// A bare word that is a file name: an extension above, or an underscore (never in a
/// host name, RFC 952/1123).
fn reads_as_file_name(word: &str) -> bool {
    let ext = word
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    word.contains('_') || FILE_EXTENSIONS.contains(&ext.as_str())
}

/// What the anchor text claims as a destination: a URL or a bare domain in it.
fn shown_domain(text: &str) -> Option<String> {
    text.split_whitespace().find_map(|w| {
        let w = w.trim_matches(|c: char| "()[]<>\"'.,;:!?".contains(c));
        // Only a word with a scheme can be a URL without a base (most are not).
        let parsed = w.contains(':').then(|| url::Url::parse(w));
        let host = match parsed.and_then(Result::ok) {
            Some(u) if u.host_str().is_some() => u.host_str()?.to_string(),
            _ if w.contains('.') && !w.contains('@') && !w.contains('/') => {
                if reads_as_file_name(w) {
                    return None;
                }
                w.to_string()
            }
            _ => w.split('/').next().filter(|h| h.contains('.'))?.to_string(),
        };
        written_org_domain(&host)
    })
}

/// An address a phishing page could be served from: not private, loopback, link-local,
/// shared (RFC 6598) or unspecified. Links to those are what people paste when they
/// talk about their own networks (`http://192.168.10.2`). The documentation ranges
/// (RFC 5737, RFC 3849) stand for public addresses in examples and tests, and count.
fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || a == 0
                || a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || first & 0xfe00 == 0xfc00
                || first & 0xffc0 == 0xfe80)
        }
    }
}

/// Services links go through: URL shorteners (which hide the target) and redirectors
/// (bulk-mail click trackers and link-protection rewriters, which lead on to it). Host
/// names, each matching itself and its subdomains.
#[derive(Debug, Clone, Copy, Default)]
pub struct Services<'a> {
    pub shorteners: &'a [&'a str],
    pub redirectors: &'a [&'a str],
}

/// The issues of one link.
pub fn check(link: &Link, services: &Services<'_>) -> Vec<Issue> {
    inspect(link, services, &mut Seen::default()).0
}

/// What the checks read of an http(s) URL: its user name and host.
#[derive(Debug, Clone)]
struct Origin {
    username: String,
    host: url::Host<String>,
}

/// Per message: organisational domains of hosts and origins of URL prefixes already
/// seen (links repeat hosts: a newsletter's hundreds of links go to two or three).
#[derive(Debug, Default)]
pub struct Seen {
    orgs: std::collections::HashMap<String, Option<String>>,
    origins: std::collections::HashMap<String, Option<Origin>>,
}

/// The origin of `href` when it is an http(s) URL. `scheme://authority` with printable
/// ASCII only is parsed once per message, as `scheme://authority/`: the user name and
/// host are the same as the whole URL's (WHATWG URL §4.4: the authority ends at the
/// first `/`, `\`, `?` or `#`, and the path and query never fail a parse). Anything
/// else is parsed whole, without its query and fragment (`?` and `#` end the authority
/// too), which are often the longest part of a tracked link.
fn origin(href: &str, seen: &mut Seen) -> Option<Origin> {
    let whole = |href: &str| {
        let u = url::Url::parse(href).ok()?;
        matches!(u.scheme(), "http" | "https").then_some(())?;
        Some(Origin {
            username: u.username().to_string(),
            host: u.host()?.to_owned(),
        })
    };
    let Some(prefix) = authority_prefix(href) else {
        return whole(href.find(['?', '#']).map_or(href, |i| &href[..i]));
    };
    if let Some(o) = seen.origins.get(prefix) {
        return o.clone();
    }
    let o = whole(&format!("{prefix}/"));
    seen.origins.insert(prefix.to_string(), o.clone());
    o
}

/// `http://authority` or `https://authority` at the start of `href` (scheme in any
/// case), when the authority is not empty and is printable ASCII.
fn authority_prefix(href: &str) -> Option<&str> {
    let lower = |n: usize| href.get(..n).map(str::to_ascii_lowercase);
    let start = if lower(8)? == "https://" {
        8
    } else if lower(7)? == "http://" {
        7
    } else {
        return None;
    };
    let end = href[start..]
        .find(['/', '\\', '?', '#'])
        .map_or(href.len(), |i| start + i);
    let authority = &href[start..end];
    (!authority.is_empty() && authority.bytes().all(|b| b.is_ascii_graphic()))
        .then_some(&href[..end])
}

/// The issues of one link, and its host when it is a domain name (lower case).
pub fn inspect(
    link: &Link,
    services: &Services<'_>,
    seen: &mut Seen,
) -> (Vec<Issue>, Option<String>) {
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
    let Some(u) = origin(href, seen) else {
        return (out, None);
    };
    let ip = match u.host {
        url::Host::Domain(d) => Err(d),
        url::Host::Ipv4(ip) => Ok(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Ok(IpAddr::V6(ip)),
    };
    let host = match ip {
        Err(domain) => domain,
        Ok(ip) => {
            if is_public(ip) {
                out.push(Issue::IpLiteral {
                    host: ip.to_string(),
                });
            }
            return (out, None);
        }
    };
    let host = host.to_ascii_lowercase();
    let actual = seen
        .orgs
        .entry(host.clone())
        .or_insert_with(|| org_domain(&host))
        .clone()
        .unwrap_or_else(|| host.clone());
    if !u.username.is_empty() {
        let shown = u.username;
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
    if services.shorteners.iter().any(|s| on(s)) {
        out.push(Issue::Shortener { host: host.clone() });
    }
    if let Some(shown) = link.text.as_deref().and_then(shown_domain)
        && shown != actual
    {
        let redirector = services.redirectors.iter().any(|s| on(s));
        out.push(Issue::TextShowsAnotherDomain {
            shown,
            actual,
            redirector,
        });
    }
    (out, Some(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICES: Services<'static> = Services {
        shorteners: &["bit.ly", "tinyurl.com"],
        redirectors: &["sendgrid.net", "safelinks.protection.outlook.com"],
    };

    fn issues(html_part: &str) -> Vec<Issue> {
        let (links, mut found, _) = html(html_part);
        for l in &links {
            found.extend(check(l, &SERVICES));
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
                actual: "evil.test".into(),
                redirector: false,
            }]
        );
        // Through a redirector: still reported, marked so (the caller weighs it).
        let tracked = issues(
            r#"<a href="https://u123.ct.sendgrid.net/ls/click?upn=abc">www.shop-example.com</a>"#,
        );
        assert_eq!(
            tracked,
            vec![Issue::TextShowsAnotherDomain {
                shown: "shop-example.com".into(),
                actual: "sendgrid.net".into(),
                redirector: true,
            }]
        );
        // Issue 16: file names with an extension that is also a TLD are not domains.
        for name in ["x4xx_rfdc_ctrl.py", "detector.sv", "README.md"] {
            let link = format!(r#"<a href="https://github.com/x/y/blob/main/{name}">{name}</a>"#);
            assert!(issues(&link).is_empty(), "{name}");
        }
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
        // Addresses of one's own network are talked about, not phished from.
        for private in [
            "10.35.18.121",
            "192.168.10.2",
            "0.0.0.0",
            "[fe80::1]",
            "[fd00::5]",
        ] {
            let link = format!(r#"<a href="http://{private}/">x</a>"#);
            assert!(issues(&link).is_empty(), "{private}");
        }
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

    /// WHATWG URL §4.4 (authority state): `?` and `#` end the authority, so the query
    /// left out of the parse never changes the user name or host the checks read.
    #[test]
    fn the_query_never_moves_the_host() {
        let one = |href: &str| {
            check(
                &Link {
                    href: href.into(),
                    text: None,
                },
                &SERVICES,
            )
        };
        assert_eq!(
            one("https://shop.test/?next=https://paypal.com@evil.test/"),
            []
        );
        assert_eq!(one("https://shop.test#paypal.com@evil.test"), []);
        assert_eq!(
            one("https://paypal.com@evil.test?from=mail"),
            [Issue::UserInfo {
                shown: "paypal.com".into(),
                actual: "evil.test".into(),
            }]
        );
        assert_eq!(
            one("https://192.0.2.7?x=1"),
            [Issue::IpLiteral {
                host: "192.0.2.7".into()
            }]
        );
        assert_eq!(one("https://exa?mple.test@evil.test/"), []);
    }

    /// The origin read from a URL's `scheme://authority` prefix is the whole URL's
    /// (WHATWG URL §4.4), for the forms that make the prefix and those that do not.
    #[test]
    fn origin_from_the_prefix_is_the_whole_urls() {
        let whole = |href: &str| {
            let u = url::Url::parse(href).ok()?;
            matches!(u.scheme(), "http" | "https").then_some(())?;
            Some((u.username().to_string(), u.host()?.to_owned()))
        };
        let mut seen = Seen::default();
        for href in [
            "https://click.example/ls/click?upn=1",
            "HTTPS://PayPal.com@Evil.TEST/x?y#z",
            "http://user:pw@host.test:8080/a\\b",
            "https:///host.test/three-slashes",
            "https:\\\\host.test\\path",
            "https://host.test:99999/bad-port",
            "https://[::1]/",
            "https://0x7f.1/",
            "https://xn--pypal-4ve.com/",
            "https://ex%61mple.test/",
            "https://exa mple.test/",
            "https://a\tb.test/",
            "https://",
            "https://@/",
            "mailto:someone@example.test",
            "ftp://files.test/",
        ] {
            let got = origin(href, &mut seen).map(|o| (o.username, o.host));
            assert_eq!(got, whole(href), "{href}");
        }
    }
}
