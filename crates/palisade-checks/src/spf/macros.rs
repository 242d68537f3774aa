//! Macro expansion (RFC 7208 §7.3, §7.4).

use super::record::{Macro, MacroString, Piece};
use std::net::IpAddr;

/// What the macros of one check_host() evaluation expand to.
#[derive(Debug, Clone)]
pub struct MacroEnv<'a> {
    /// `<sender>`: `local@domain` (`postmaster@<HELO>` for the HELO identity).
    pub sender: &'a str,
    /// The client address, IPv4-mapped IPv6 already taken as IPv4.
    pub ip: IpAddr,
    pub helo: &'a str,
    /// Our host name (`%{r}`).
    pub receiver: &'a str,
    /// Seconds since the epoch (`%{t}`).
    pub now: u64,
}

impl MacroEnv<'_> {
    /// `%{l}`: the local part, `postmaster` when there is none (§4.3).
    fn local(&self) -> &str {
        match self.sender.rsplit_once('@') {
            Some(("", _)) | None => "postmaster",
            Some((local, _)) => local,
        }
    }

    fn sender_domain(&self) -> &str {
        self.sender.rsplit_once('@').map_or(self.sender, |(_, d)| d)
    }
}

/// `ms` expanded for the evaluation of `domain`; `p` is the validated name of the client
/// (`%{p}`), looked up by the caller only when `ms.uses('p')`.
pub fn expand(ms: &MacroString, env: &MacroEnv<'_>, domain: &str, p: &str) -> String {
    let mut out = String::new();
    for piece in &ms.0 {
        match piece {
            Piece::Literal(text) => out.push_str(text),
            Piece::Macro(m) => {
                let value = transform(&value(m.letter, env, domain, p), m);
                if m.escape {
                    url_escape(&value, &mut out);
                } else {
                    out.push_str(&value);
                }
            }
        }
    }
    out
}

/// An expanded domain-spec made to fit a query: longer than 253 characters, labels are
/// taken off the left until it fits (§7.3).
pub fn fit_domain(mut name: String) -> String {
    if name.ends_with('.') {
        name.pop();
    }
    while name.len() > 253 {
        match name.find('.') {
            Some(dot) => name.drain(..=dot),
            None => return name,
        };
    }
    name
}

fn value(letter: char, env: &MacroEnv<'_>, domain: &str, p: &str) -> String {
    match letter {
        's' => env.sender.to_string(),
        'l' => env.local().to_string(),
        'o' => env.sender_domain().to_string(),
        'd' => domain.to_string(),
        'i' => dotted(env.ip),
        'p' => p.to_string(),
        'v' if env.ip.is_ipv4() => "in-addr".to_string(),
        'v' => "ip6".to_string(),
        'h' => env.helo.to_string(),
        'c' => env.ip.to_string(),
        'r' => env.receiver.to_string(),
        't' => env.now.to_string(),
        _ => String::new(),
    }
}

/// `%{i}`: dotted quad, or 32 dot-separated nibbles for IPv6 (§7.3).
fn dotted(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let nibbles: Vec<String> = v6
                .octets()
                .iter()
                .flat_map(|b| [b >> 4, b & 0xf])
                .map(|n| format!("{n:x}"))
                .collect();
            nibbles.join(".")
        }
    }
}

/// Split at the delimiters, reverse, keep the right-hand parts, join with dots (§7.3).
fn transform(value: &str, m: &Macro) -> String {
    let delimiters = if m.delimiters.is_empty() {
        "."
    } else {
        m.delimiters.as_str()
    };
    let mut parts: Vec<&str> = value.split(|c| delimiters.contains(c)).collect();
    if m.reverse {
        parts.reverse();
    }
    if let Some(keep) = m.keep {
        let drop = parts.len().saturating_sub(keep);
        parts.drain(..drop);
    }
    parts.join(".")
}

/// URL-escaping of upper-case macros: everything but RFC 3986 unreserved characters.
fn url_escape(value: &str, out: &mut String) {
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::spf::record::macro_string;

    fn env(sender: &str, ip: &str) -> MacroEnv<'static> {
        MacroEnv {
            sender: Box::leak(sender.to_string().into_boxed_str()),
            ip: ip.parse().unwrap(),
            helo: "mx.example.org",
            receiver: "receiver.test",
            now: 1_700_000_000,
        }
    }

    fn x(spec: &str, e: &MacroEnv<'_>) -> String {
        expand(
            &macro_string(spec, true).unwrap(),
            e,
            "email.example.com",
            "unknown",
        )
    }

    /// The examples of RFC 7208 §7.4.
    #[test]
    fn rfc7208_7_4_examples() {
        let e = env("strong-bad@email.example.com", "192.0.2.3");
        assert_eq!(x("%{s}", &e), "strong-bad@email.example.com");
        assert_eq!(x("%{o}", &e), "email.example.com");
        assert_eq!(x("%{d}", &e), "email.example.com");
        assert_eq!(x("%{d4}", &e), "email.example.com");
        assert_eq!(x("%{d3}", &e), "email.example.com");
        assert_eq!(x("%{d2}", &e), "example.com");
        assert_eq!(x("%{d1}", &e), "com");
        assert_eq!(x("%{dr}", &e), "com.example.email");
        assert_eq!(x("%{d2r}", &e), "example.email");
        assert_eq!(x("%{l}", &e), "strong-bad");
        assert_eq!(x("%{l-}", &e), "strong.bad");
        assert_eq!(x("%{lr}", &e), "strong-bad");
        assert_eq!(x("%{lr-}", &e), "bad.strong");
        assert_eq!(x("%{l1r-}", &e), "strong");
        assert_eq!(
            x("%{ir}.%{v}._spf.%{d2}", &e),
            "3.2.0.192.in-addr._spf.example.com"
        );
        assert_eq!(
            x("%{lr-}.lp._spf.%{d2}", &e),
            "bad.strong.lp._spf.example.com"
        );
        assert_eq!(
            x("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", &e),
            "3.2.0.192.in-addr.strong.lp._spf.example.com"
        );
        assert_eq!(
            x("%{d2}.trusted-domains.example.net", &e),
            "example.com.trusted-domains.example.net"
        );
        let e6 = env("strong-bad@email.example.com", "2001:db8::cb01");
        assert_eq!(
            x("%{ir}.%{v}._spf.%{d2}", &e6),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
        );
    }

    #[test]
    fn rfc7208_7_3_escapes_literals_and_explanation_macros() {
        let e = env("a b@example.com", "192.0.2.3");
        assert_eq!(x("%{L}", &e), "a%20b");
        assert_eq!(x("%%%_%-", &e), "% %20");
        assert_eq!(
            x("%{c} %{r} %{t}", &e),
            "192.0.2.3 receiver.test 1700000000"
        );
        assert_eq!(x("%{l}", &env("@example.com", "192.0.2.3")), "postmaster");
    }

    #[test]
    fn rfc7208_7_3_long_names_lose_labels_on_the_left() {
        let long = format!("{}example.com", "abcdefghi.".repeat(30));
        let fitted = fit_domain(long);
        assert!(fitted.len() <= 253 && fitted.ends_with("abcdefghi.example.com"));
        assert!(fitted.starts_with("abcdefghi."));
    }
}
