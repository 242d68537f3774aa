//! The rules for what a person types, shared by the CLI and the web console: one
//! implementation, so a value the CLI refuses is refused by the console too, with the
//! same reason.

use palisade_store::{AliasSource, Store, StoreError};
use palisade_types::{Address, AppScope, Domain};

/// Why a typed value was refused, in words for the person who typed it (the caller
/// adds which field or flag).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FieldError(pub String);

fn refuse(why: impl Into<String>) -> FieldError {
    FieldError(why.into())
}

/// A length of time: `45s`, `30m`, `1h`, `2d`, or plain seconds.
pub fn duration(text: &str) -> Result<i64, FieldError> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = digits
        .parse()
        .map_err(|_| refuse("expected a number and s, m, h or d"))?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(refuse("the unit is s, m, h or d")),
    };
    Ok(n.saturating_mul(factor))
}

/// When something ends: a lifetime with its unit from `now` (`90d`, `12h`, `30m`,
/// `45s`), or an RFC 3339 date (`2027-03-01T00:00:00Z`). A bare number is refused:
/// `90` could mean seconds or days.
pub fn expiry(text: &str, now: i64) -> Result<i64, FieldError> {
    use time::format_description::well_known::Rfc3339;
    let t = text.trim();
    if let Ok(at) = time::OffsetDateTime::parse(t, &Rfc3339) {
        let at = at.unix_timestamp();
        if at <= now {
            return Err(refuse("is in the past"));
        }
        return Ok(at);
    }
    if t.chars().all(|c| c.is_ascii_digit()) {
        return Err(refuse(format!(
            "needs a unit: {t}d (days), {t}h (hours), {t}m, {t}s, or an RFC 3339 date"
        )));
    }
    let d = duration(t).map_err(|_| {
        refuse(
            "expected a number with s, m, h or d (90d, 12h) or an RFC 3339 date \
             (2027-03-01T00:00:00Z)",
        )
    })?;
    if d <= 0 {
        return Err(refuse("must be in the future"));
    }
    Ok(now.saturating_add(d))
}

/// A Unix time as an RFC 3339 date in UTC (`2026-12-01T16:58:40Z`), as the CLI and
/// the console show it; the number itself when no date can hold it.
pub fn when(t: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_else(|| t.to_string())
}

/// A new mailbox's address: parsed by the one address parser, and a name a mailbox
/// may have (RFC 5322 atoms, no quoting).
pub fn new_mailbox(text: &str) -> Result<Address, FieldError> {
    let a = Address::parse(text.trim()).map_err(|e| refuse(e.to_string()))?;
    a.check_mailbox_name().map_err(|e| refuse(e.to_string()))?;
    Ok(a)
}

/// A name this server is to be or serve: a fully-qualified domain name (RFC 1123 §2.1:
/// the top label of a host name is never all digits, so `192.0.2.1` is an address, not
/// a name; one label alone, `mx`, is not fully qualified and would publish `MX 10 mx.`).
pub fn new_domain(text: &str) -> Result<Domain, FieldError> {
    let d = Domain::parse(text.trim()).map_err(|e| refuse(format!("is not a domain name: {e}")))?;
    let labels: Vec<&str> = d.as_str().split('.').collect();
    let top = labels.last().copied().unwrap_or_default();
    if d.as_str().starts_with('[') || top.chars().all(|c| c.is_ascii_digit()) {
        return Err(refuse(
            "is an IP address, not a domain name: give the name (e.g. example.com)",
        ));
    }
    if labels.len() < 2 {
        return Err(refuse(format!(
            "is not a fully-qualified domain name: give the whole name (e.g. {d}.example.com)"
        )));
    }
    Ok(d)
}

/// A display name: one line of at most 100 characters, trimmed ("" clears it).
pub fn display_name(text: &str) -> Result<String, FieldError> {
    let n = text.trim();
    if n.chars().count() > 100 || n.chars().any(char::is_control) {
        return Err(refuse("a name is one line of at most 100 characters"));
    }
    Ok(n.to_string())
}

/// RFC 5321 §4.5.1: every domain we accept mail for has a postmaster. When
/// `postmaster@domain` reaches nobody yet, it becomes an alias of `target`; the
/// postmaster address when it was made so.
pub async fn ensure_postmaster(
    store: &dyn Store,
    domain: &Domain,
    target: &Address,
) -> Result<Option<Address>, StoreError> {
    let Ok(postmaster) = Address::parse(&format!("postmaster@{domain}")) else {
        return Ok(None);
    };
    if store.resolve_recipient(&postmaster).await?.is_some() {
        return Ok(None);
    }
    store
        .add_alias(&AliasSource::Address(postmaster.clone()), target)
        .await?;
    Ok(Some(postmaster))
}

/// An app password's label: 1 to 64 printable characters, trimmed.
pub fn app_password_label(text: &str) -> Result<String, FieldError> {
    let label = text.trim();
    if label.is_empty() || label.len() > 64 || label.chars().any(char::is_control) {
        return Err(refuse("1 to 64 printable characters"));
    }
    Ok(label.to_string())
}

/// A network in CIDR notation (`192.0.2.0/24`, `2001:db8::/32`).
pub fn network(text: &str) -> Result<ipnet::IpNet, FieldError> {
    text.trim()
        .parse()
        .map_err(|_| refuse("is not a network (CIDR, such as 192.0.2.0/24)"))
}

/// An app password's scope by its name.
pub fn scope(text: &str) -> Result<AppScope, FieldError> {
    AppScope::parse(text.trim()).ok_or_else(|| {
        let names: Vec<&str> = AppScope::ALL.iter().map(|s| s.name()).collect();
        refuse(format!("is one of {}", names.join(", ")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_have_units() {
        assert_eq!(duration("45").ok(), Some(45));
        assert_eq!(duration("30m").ok(), Some(1800));
        assert_eq!(duration("1h").ok(), Some(3600));
        assert_eq!(duration("2d").ok(), Some(172_800));
        assert!(duration("1w").is_err());
        assert!(duration("h").is_err());
    }

    #[test]
    fn an_expiry_has_a_unit_or_is_a_date() {
        let now = 1_780_000_000;
        assert_eq!(expiry("90d", now).ok(), Some(now + 90 * 86_400));
        assert_eq!(expiry("12h", now).ok(), Some(now + 12 * 3600));
        assert_eq!(
            expiry("2027-03-01T00:00:00Z", now).ok(),
            Some(1_803_859_200)
        );
        assert_eq!(
            expiry("2027-03-01T01:00:00+01:00", now).ok(),
            Some(1_803_859_200)
        );
        for bad in ["90", "", "0d", "90y", "2020-01-01T00:00:00Z", "2027-03-01"] {
            assert!(expiry(bad, now).is_err(), "{bad}");
        }
        let e = expiry("90", now).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("90d")));
    }

    #[test]
    fn labels_networks_and_scopes() {
        assert_eq!(app_password_label("  phone ").ok(), Some("phone".into()));
        assert!(app_password_label("").is_err());
        assert!(app_password_label(&"x".repeat(65)).is_err());
        assert!(app_password_label("a\u{7}b").is_err());
        assert!(network("192.0.2.0/24").is_ok());
        assert!(network("192.0.2.1").is_err());
        assert_eq!(scope("imap").ok(), Some(AppScope::Imap));
        assert!(scope("web").is_err());
    }
}
