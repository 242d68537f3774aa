//! An SPF record read by the RFC 7208 §12 grammar, strictly: CIDR lengths past 32 or 128,
//! IP literals with leading zeros, numeric or lone top labels, bad modifier names and
//! macros, non-ASCII and control characters are syntax errors, and a record with a
//! syntax error anywhere is a permerror before any evaluation (§4.6). A domain-spec may
//! hold any visible character but `%` outside a macro (`a:foo:bar/baz.example.com`).

use std::net::{Ipv4Addr, Ipv6Addr};

/// A parsed record: its directives in order and the two modifiers with a meaning (§6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub directives: Vec<Directive>,
    pub redirect: Option<MacroString>,
    pub exp: Option<MacroString>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub qualifier: Qualifier,
    pub mechanism: Mechanism,
}

/// What a matching directive makes the result (§4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    Pass,
    Fail,
    SoftFail,
    Neutral,
}

/// The CIDR lengths of `a` and `mx` (§5.6): 32 and 128 when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DualCidr {
    pub v4: u8,
    pub v6: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    All,
    Include(MacroString),
    /// No domain-spec: the domain being evaluated.
    A(Option<MacroString>, DualCidr),
    Mx(Option<MacroString>, DualCidr),
    Ptr(Option<MacroString>),
    Ip4(Ipv4Addr, u8),
    Ip6(Ipv6Addr, u8),
    Exists(MacroString),
}

/// A macro-string (§7.1) as literal text and macros to expand.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MacroString(pub Vec<Piece>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text, with `%%`, `%_` and `%-` already turned into `%`, ` ` and `%20` (§7.2).
    Literal(String),
    Macro(Macro),
}

/// `%{letter digits r delimiters}` (§7.2, §7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Macro {
    /// The macro letter, lower case.
    pub letter: char,
    /// An upper-case letter: the value is URL-escaped (§7.3).
    pub escape: bool,
    /// Keep only this many right-hand parts.
    pub keep: Option<usize>,
    pub reverse: bool,
    /// The characters the value is split at; `.` when empty.
    pub delimiters: String,
}

impl MacroString {
    /// The string uses this macro letter (to look up `p` only when needed).
    pub fn uses(&self, letter: char) -> bool {
        self.0
            .iter()
            .any(|p| matches!(p, Piece::Macro(m) if m.letter == letter))
    }
}

/// Reads `record`, or says why it is not a valid SPF record (§12).
pub fn parse(record: &str) -> Result<Record, String> {
    if let Some(c) = record.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(format!("character {c:?} is not allowed in a record (§12)"));
    }
    let mut terms = record.split(' ');
    let version = terms.next().unwrap_or_default();
    if !version.eq_ignore_ascii_case("v=spf1") {
        return Err("the record does not start with v=spf1 (§4.5)".into());
    }
    let mut parsed = Record {
        directives: Vec::new(),
        redirect: None,
        exp: None,
    };
    for term in terms.filter(|t| !t.is_empty()) {
        match modifier(term) {
            Some((name, value)) => add_modifier(&mut parsed, name, value)?,
            None => parsed.directives.push(directive(term)?),
        }
    }
    Ok(parsed)
}

/// `name=value` when the term is a modifier: `=` before any `:` or `/`.
fn modifier(term: &str) -> Option<(&str, &str)> {
    let eq = term.find('=')?;
    let first_other = term.find([':', '/']).unwrap_or(usize::MAX);
    (eq < first_other).then(|| (&term[..eq], &term[eq + 1..]))
}

/// `redirect` and `exp` at most once each (§6); other modifiers are checked and ignored.
fn add_modifier(record: &mut Record, name: &str, value: &str) -> Result<(), String> {
    let name_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !name_ok {
        return Err(format!("{name:?} is not a modifier name (§12)"));
    }
    let slot = match name.to_ascii_lowercase().as_str() {
        "redirect" => &mut record.redirect,
        "exp" => &mut record.exp,
        _ => return macro_string(value, false).map(|_| ()),
    };
    if slot.is_some() {
        return Err("redirect= or exp= appears more than once (§6)".into());
    }
    *slot = Some(domain_spec(value)?);
    Ok(())
}

fn directive(term: &str) -> Result<Directive, String> {
    let (qualifier, body) = match term.as_bytes().first() {
        Some(b'+') => (Qualifier::Pass, &term[1..]),
        Some(b'-') => (Qualifier::Fail, &term[1..]),
        Some(b'~') => (Qualifier::SoftFail, &term[1..]),
        Some(b'?') => (Qualifier::Neutral, &term[1..]),
        _ => (Qualifier::Pass, term),
    };
    let (name, rest) = split_name(body);
    let mechanism = match name.to_ascii_lowercase().as_str() {
        "all" if rest.is_empty() => Mechanism::All,
        "include" => Mechanism::Include(required_spec(term, rest)?),
        "exists" => Mechanism::Exists(required_spec(term, rest)?),
        "a" => {
            let (spec, cidr) = target_and_cidr(term, rest)?;
            Mechanism::A(spec, cidr)
        }
        "mx" => {
            let (spec, cidr) = target_and_cidr(term, rest)?;
            Mechanism::Mx(spec, cidr)
        }
        "ptr" if rest.is_empty() => Mechanism::Ptr(None),
        "ptr" => Mechanism::Ptr(Some(required_spec(term, rest)?)),
        "ip4" => ip4(term, rest)?,
        "ip6" => ip6(term, rest)?,
        _ => return Err(format!("{term:?} is not a mechanism (§5)")),
    };
    Ok(Directive {
        qualifier,
        mechanism,
    })
}

/// The mechanism name and what follows it (`:` or `/` onwards).
fn split_name(body: &str) -> (&str, &str) {
    let end = body.find([':', '/']).unwrap_or(body.len());
    (&body[..end], &body[end..])
}

/// `":" domain-spec`, required (include, exists, ptr with a target).
fn required_spec(term: &str, rest: &str) -> Result<MacroString, String> {
    match rest.strip_prefix(':') {
        Some(spec) => domain_spec(spec),
        None => Err(format!("{term:?} needs a domain (§5)")),
    }
}

/// `a` and `mx`: `[":" domain-spec] [dual-cidr-length]`. The domain-spec may itself hold
/// `/`, so the CIDR lengths are taken off its end: `//N`, then `/N`.
fn target_and_cidr(term: &str, rest: &str) -> Result<(Option<MacroString>, DualCidr), String> {
    let (mut body, mut cidr) = (rest, DualCidr { v4: 32, v6: 128 });
    if let Some((head, len)) = body.rsplit_once("//").filter(|(_, l)| is_digits(l)) {
        cidr.v6 = cidr_length(len, 128).map_err(|e| format!("{term:?}: {e}"))?;
        body = head;
    }
    if let Some((head, len)) = body.rsplit_once('/').filter(|(_, l)| is_digits(l)) {
        cidr.v4 = cidr_length(len, 32).map_err(|e| format!("{term:?}: {e}"))?;
        body = head;
    }
    match body.strip_prefix(':') {
        Some(spec) => Ok((Some(domain_spec(spec)?), cidr)),
        None if body.is_empty() => Ok((None, cidr)),
        None => Err(format!(
            "{term:?} has a bad CIDR length or target (§5.3, §5.4)"
        )),
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A CIDR length: digits without a leading zero, at most `max` (§12).
fn cidr_length(n: &str, max: u8) -> Result<u8, String> {
    let no_lead = n == "0" || !n.starts_with('0');
    match n.parse::<u8>() {
        Ok(v) if is_digits(n) && no_lead && v <= max => Ok(v),
        _ => Err(format!("CIDR length /{n} is not 0 to {max} (§12)")),
    }
}

/// `ip4:` address and optional length, the address without leading zeros (§12 qnum).
fn ip4(term: &str, rest: &str) -> Result<Mechanism, String> {
    let (addr, len) = ip_and_length(term, rest, 32)?;
    let strict = addr.split('.').count() == 4
        && addr
            .split('.')
            .all(|p| !p.is_empty() && p.len() <= 3 && (p.len() == 1 || !p.starts_with('0')));
    match addr.parse::<Ipv4Addr>() {
        Ok(ip) if strict => Ok(Mechanism::Ip4(ip, len)),
        _ => Err(format!("{addr:?} is not an IPv4 address (§5.6)")),
    }
}

fn ip6(term: &str, rest: &str) -> Result<Mechanism, String> {
    let (addr, len) = ip_and_length(term, rest, 128)?;
    match addr.parse::<Ipv6Addr>() {
        Ok(ip) => Ok(Mechanism::Ip6(ip, len)),
        _ => Err(format!("{addr:?} is not an IPv6 address (§5.6)")),
    }
}

fn ip_and_length<'a>(term: &str, rest: &'a str, max: u8) -> Result<(&'a str, u8), String> {
    let net = rest
        .strip_prefix(':')
        .ok_or_else(|| format!("{term:?} needs an address (§5.6)"))?;
    match net.split_once('/') {
        Some((a, l)) => Ok((a, cidr_length(l, max)?)),
        None => Ok((net, max)),
    }
}

/// `domain-spec = macro-string domain-end`; domain-end is `"." toplabel ["."]` or a
/// macro expansion (§7.1).
fn domain_spec(spec: &str) -> Result<MacroString, String> {
    let parsed = macro_string(spec, false)?;
    if spec.is_empty() {
        return Err("an empty domain (§7.1)".into());
    }
    if spec.ends_with('}') || spec.ends_with("%%") || spec.ends_with("%_") || spec.ends_with("%-") {
        return Ok(parsed);
    }
    let trimmed = spec.strip_suffix('.').unwrap_or(spec);
    let Some((_, top)) = trimmed.rsplit_once('.') else {
        return Err(format!("{spec:?} has no top label (§7.1 domain-end)"));
    };
    if toplabel(top) {
        Ok(parsed)
    } else {
        Err(format!("{top:?} is not a top label (§7.1)"))
    }
}

/// `toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )`.
fn toplabel(l: &str) -> bool {
    let alnum = l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let has_alpha = l.bytes().any(|b| b.is_ascii_alphabetic());
    let hyphen_form = l.contains('-') && !l.starts_with('-') && !l.ends_with('-');
    !l.is_empty() && alnum && (has_alpha && !l.contains('-') || hyphen_form)
}

/// `macro-string = *( macro-expand / macro-literal )` (§7.1). `c`, `r` and `t` only in
/// explanations (`exp`, §7.3).
pub fn macro_string(s: &str, exp: bool) -> Result<MacroString, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            literal.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => literal.push('%'),
            Some('_') => literal.push(' '),
            Some('-') => literal.push_str("%20"),
            Some('{') => {
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                let after = chars.as_str();
                let Some(end) = after.find('}') else {
                    return Err(format!("unterminated macro in {s:?} (§7.1)"));
                };
                pieces.push(Piece::Macro(macro_expand(s, &after[..end], exp)?));
                chars = after[end + 1..].chars();
            }
            _ => return Err(format!("a lone % in {s:?} (§7.1)")),
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(MacroString(pieces))
}

/// The inside of `%{...}`: letter, digits, `r`, delimiters (§7.1).
fn macro_expand(s: &str, body: &str, exp: bool) -> Result<Macro, String> {
    let mut chars = body.chars();
    let letter = chars.next().unwrap_or(' ');
    let allowed = if exp { "slodiphcrtv" } else { "slodiphv" };
    if !allowed.contains(letter.to_ascii_lowercase()) {
        return Err(format!("bad macro letter in {s:?} (§7.2)"));
    }
    let rest = chars.as_str();
    let digits: &str = &rest[..rest.bytes().take_while(u8::is_ascii_digit).count()];
    let rest = &rest[digits.len()..];
    let (reverse, delimiters) = match rest.strip_prefix(['r', 'R']) {
        Some(d) => (true, d),
        None => (false, rest),
    };
    let keep = match digits {
        "" => None,
        d => Some(
            d.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("bad macro transformer in {s:?} (§7.1)"))?,
        ),
    };
    if !delimiters.chars().all(|c| ".-+,/_=".contains(c)) {
        return Err(format!("bad macro delimiter in {s:?} (§7.1)"));
    }
    Ok(Macro {
        letter: letter.to_ascii_lowercase(),
        escape: letter.is_ascii_uppercase(),
        keep,
        reverse,
        delimiters: delimiters.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7208_12_valid_records() {
        for r in [
            "v=spf1 -all",
            "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx:mail.example.com/24//64 ~all",
            "v=spf1 include:_spf.example.com exists:%{i}.%{l1r+-}._spf.%{d} ?all",
            "v=spf1 a:foo-bar.com redirect=_spf.example.com",
            "v=spf1 ptr ptr:example.com moo.cow-far_out=man:dog/cat exp=explain.%{d}",
            "v=spf1 a//64 a/0 ip4:0.0.0.0/0",
            "V=SPF1 A -ALL",
        ] {
            assert!(parse(r).is_ok(), "{r}: {:?}", parse(r).err());
        }
    }

    #[test]
    fn rfc7208_12_syntax_errors_are_refused() {
        for r in [
            "v=spf1 a/33 -all",
            "v=spf1 ip4:1.2.3.4/032 -all",
            "v=spf1 ip6:::1/129 -all",
            "v=spf1 ip4:1.2.3.04 -all",
            "v=spf1 ip4:1.2.3 -all",
            "v=spf1 a:foo.1.2 -all",
            "v=spf1 a:museum -all",
            "v=spf1 mx:example.-com -all",
            "v=spf1 =bar -all",
            "v=spf1 1foo=bar -all",
            "v=spf1 redirect=a.example redirect=b.example",
            "v=spf1 exists:%{z}.example.com",
            "v=spf1 a:%{c}.example.com",
            "v=spf1 a:foo%.example.com",
            "v=spf1 \u{e9}all",
            "v=spf1 a\u{7}ll",
            "v=spf1 foo -all",
            "v=spf1 include -all",
        ] {
            assert!(parse(r).is_err(), "{r}");
        }
    }
}
