//! The RFC 7208 §12 record grammar, checked strictly in front of mail-auth, which
//! accepts records the grammar refuses (CIDR lengths past 32 or 128, IP literals with
//! leading zeros, numeric or lone top labels, bad modifier names, macros, non-ASCII and
//! control characters). A record with a syntax error anywhere is a permerror before any
//! evaluation (§4.6). This checks syntax only; evaluation stays mail-auth's.

/// Why `record` is not a valid SPF record (§12), or `Ok` when it is.
pub fn check_record(record: &str) -> Result<(), String> {
    if let Some(c) = record.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(format!("character {c:?} is not allowed in a record (§12)"));
    }
    let mut terms = record.split(' ');
    let version = terms.next().unwrap_or_default();
    if !version.eq_ignore_ascii_case("v=spf1") {
        return Err("the record does not start with v=spf1 (§4.5)".into());
    }
    let (mut redirects, mut exps) = (0, 0);
    for term in terms.filter(|t| !t.is_empty()) {
        match modifier(term) {
            Some((name, value)) => {
                let lower = name.to_ascii_lowercase();
                redirects += usize::from(lower == "redirect");
                exps += usize::from(lower == "exp");
                check_modifier(&lower, name, value)?;
            }
            None => check_directive(term)?,
        }
    }
    if redirects > 1 || exps > 1 {
        return Err("redirect= or exp= appears more than once (§6)".into());
    }
    Ok(())
}

/// `name=value` when the term is a modifier: `=` before any `:` or `/`.
fn modifier(term: &str) -> Option<(&str, &str)> {
    let eq = term.find('=')?;
    let first_other = term.find([':', '/']).unwrap_or(usize::MAX);
    (eq < first_other).then(|| (&term[..eq], &term[eq + 1..]))
}

fn check_modifier(lower: &str, name: &str, value: &str) -> Result<(), String> {
    let name_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !name_ok {
        return Err(format!("{name:?} is not a modifier name (§12)"));
    }
    match lower {
        "redirect" => domain_spec(value, false),
        "exp" => domain_spec(value, false),
        _ => macro_string(value, false),
    }
}

fn check_directive(term: &str) -> Result<(), String> {
    let body = term.strip_prefix(['+', '-', '?', '~']).unwrap_or(term);
    let (name, rest) = split_name(body);
    match name.to_ascii_lowercase().as_str() {
        "all" if rest.is_empty() => Ok(()),
        "include" | "exists" => match rest.strip_prefix(':') {
            Some(spec) => domain_spec(spec, false),
            None => Err(format!("{term:?} needs a domain (§5.2, §5.7)")),
        },
        "a" | "mx" => target_and_cidr(term, rest, true),
        "ptr" => match rest.strip_prefix(':') {
            Some(spec) => domain_spec(spec, false),
            None if rest.is_empty() => Ok(()),
            None => Err(format!("{term:?} is not a ptr mechanism (§5.5)")),
        },
        "ip4" => ip_mechanism(term, rest, 32),
        "ip6" => ip_mechanism(term, rest, 128),
        _ => Err(format!("{term:?} is not a mechanism (§5)")),
    }
}

/// The mechanism name and what follows it (`:` or `/` onwards).
fn split_name(body: &str) -> (&str, &str) {
    let end = body.find([':', '/']).unwrap_or(body.len());
    (&body[..end], &body[end..])
}

/// `a` and `mx`: `[":" domain-spec] [dual-cidr-length]`.
fn target_and_cidr(term: &str, rest: &str, dual: bool) -> Result<(), String> {
    let (spec, cidr) = match rest.strip_prefix(':') {
        Some(r) => {
            let slash = r.find('/').unwrap_or(r.len());
            (Some(&r[..slash]), &r[slash..])
        }
        None => (None, rest),
    };
    if let Some(spec) = spec {
        domain_spec(spec, false)?;
    }
    if cidr.is_empty() {
        return Ok(());
    }
    dual_cidr(cidr, dual).map_err(|e| format!("{term:?}: {e}"))
}

/// `[ip4-cidr-length] ["/" ip6-cidr-length]`: "/24", "//64", "/24//64".
fn dual_cidr(cidr: &str, dual: bool) -> Result<(), String> {
    let (v4, v6) = match cidr.split_once("//") {
        Some((v4, v6)) => (v4, Some(v6)),
        None => (cidr, None),
    };
    if !v4.is_empty() {
        cidr_length(v4.strip_prefix('/').ok_or("bad CIDR length")?, 32)?;
    }
    match v6 {
        Some(v6) if dual => cidr_length(v6, 128),
        Some(_) => Err("bad CIDR length".into()),
        None => Ok(()),
    }
}

/// A CIDR length: digits without a leading zero, at most `max` (§12).
fn cidr_length(n: &str, max: u32) -> Result<(), String> {
    let digits = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    let no_lead = n == "0" || !n.starts_with('0');
    match n.parse::<u32>() {
        Ok(v) if digits && no_lead && v <= max => Ok(()),
        _ => Err(format!("CIDR length /{n} is not 0 to {max} (§12)")),
    }
}

fn ip_mechanism(term: &str, rest: &str, max: u32) -> Result<(), String> {
    let net = rest
        .strip_prefix(':')
        .ok_or_else(|| format!("{term:?} needs an address (§5.6)"))?;
    let (addr, len) = match net.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (net, None),
    };
    let ok = if max == 32 {
        strict_ipv4(addr)
    } else {
        addr.parse::<std::net::Ipv6Addr>().is_ok()
    };
    if !ok {
        return Err(format!(
            "{addr:?} is not an IP{} address (§5.6)",
            if max == 32 { "v4" } else { "v6" }
        ));
    }
    match len {
        Some(l) => cidr_length(l, max),
        None => Ok(()),
    }
}

/// Dotted quad without leading zeros (§12 qnum).
fn strict_ipv4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
                && p.parse::<u8>().is_ok()
        })
}

/// `domain-spec = macro-string domain-end`; domain-end is `"." toplabel ["."]` or a
/// macro expansion.
fn domain_spec(spec: &str, exp: bool) -> Result<(), String> {
    macro_string(spec, exp)?;
    if spec.is_empty() {
        return Err("an empty domain (§7.1)".into());
    }
    if spec.ends_with('}') || spec.ends_with("%%") || spec.ends_with("%_") || spec.ends_with("%-") {
        return Ok(());
    }
    let trimmed = spec.strip_suffix('.').unwrap_or(spec);
    let Some((_, top)) = trimmed.rsplit_once('.') else {
        return Err(format!("{spec:?} has no top label (§7.1 domain-end)"));
    };
    if toplabel(top) {
        Ok(())
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

/// `macro-string = *( macro-expand / macro-literal )` (§7.1). `c`, `r` and `t` only
/// in explanations (§7.3).
fn macro_string(s: &str, exp: bool) -> Result<(), String> {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        match chars.next() {
            Some('%' | '_' | '-') => {}
            Some('{') => {
                let letter = chars.next().map(|c| c.to_ascii_lowercase());
                let allowed = if exp { "slodiphcrtv" } else { "slodiphv" };
                if !letter.is_some_and(|l| allowed.contains(l)) {
                    return Err(format!("bad macro letter in {s:?} (§7.2)"));
                }
                let mut body = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => body.push(c),
                        None => return Err(format!("unterminated macro in {s:?} (§7.1)")),
                    }
                }
                let digits: String = body.chars().take_while(char::is_ascii_digit).collect();
                let rest = &body[digits.len()..];
                let rest = rest.strip_prefix(['r', 'R']).unwrap_or(rest);
                if digits.parse::<u32>().is_ok_and(|n| n == 0)
                    || !rest.chars().all(|c| ".-+,/_=".contains(c))
                {
                    return Err(format!("bad macro transformer in {s:?} (§7.1)"));
                }
            }
            _ => return Err(format!("a lone % in {s:?} (§7.1)")),
        }
    }
    Ok(())
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
            assert_eq!(check_record(r), Ok(()), "{r}");
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
            assert!(check_record(r).is_err(), "{r}");
        }
    }
}
