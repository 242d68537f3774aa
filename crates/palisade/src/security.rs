//! `palisade security events|bans|unlock`: what the brute-force defences saw and did.

use crate::cli::{BansCommand, SecurityCommand};
use crate::commands::Paths;
use crate::usage;
use palisade_store::{Event, Store};
use serde_json::json;

/// `30m`, `1h`, `2d`, `45s` or plain seconds.
pub(crate) fn parse_since(text: &str) -> anyhow::Result<i64> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = digits.parse().map_err(|_| {
        usage(format!(
            "--since {text:?}: expected a number and s, m, h or d"
        ))
    })?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(usage(format!("--since {text:?}: the unit is s, m, h or d"))),
    };
    Ok(n.saturating_mul(factor))
}

/// When something given on the command line ends (`--expires`): a lifetime with its
/// unit from `now` (`90d`, `12h`, `30m`, `45s`), or an RFC 3339 date
/// (`2027-03-01T00:00:00Z`). A bare number is refused: `90` could mean seconds or days.
pub(crate) fn parse_expiry(flag: &str, text: &str, now: i64) -> anyhow::Result<i64> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(at) = time::OffsetDateTime::parse(text.trim(), &Rfc3339) {
        let at = at.unix_timestamp();
        if at <= now {
            return Err(usage(format!("{flag} {text:?} is in the past")));
        }
        return Ok(at);
    }
    let t = text.trim();
    if t.chars().all(|c| c.is_ascii_digit()) {
        return Err(usage(format!(
            "{flag} {text:?} needs a unit: {t}d (days), {t}h (hours), {t}m, {t}s, or an RFC 3339 date"
        )));
    }
    let d = parse_since(t).map_err(|_| {
        usage(format!(
            "{flag} {text:?}: expected a number with s, m, h or d (90d, 12h) or an RFC 3339 date (2027-03-01T00:00:00Z)"
        ))
    })?;
    if d <= 0 {
        return Err(usage(format!("{flag} {text:?} must be in the future")));
    }
    Ok(now.saturating_add(d))
}

/// A Unix time as an RFC 3339 date in UTC (`2026-12-01T16:58:40Z`), what every command
/// prints; the number itself when no date can hold it.
pub(crate) fn when(t: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_else(|| t.to_string())
}

pub async fn run(paths: &Paths, c: SecurityCommand) -> anyhow::Result<()> {
    let store = paths.store().await?;
    let now = palisade_queue::now_secs();
    match c {
        SecurityCommand::Events {
            user,
            ip,
            since,
            json,
        } => {
            let from = now - parse_since(&since)?;
            let user = user.map(|u| palisade_access::guard::account_key(&u));
            let events: Vec<Event> = store
                .events_since(from, 10_000)
                .await?
                .into_iter()
                .filter(|e| {
                    e.kind.starts_with("security.")
                        || e.kind.starts_with("auth.")
                        || e.kind.starts_with("submission.")
                })
                .filter(|e| user.as_ref().is_none_or(|u| e.subject.to_lowercase() == *u))
                .filter(|e| {
                    ip.as_ref().is_none_or(|ip| {
                        e.subject == *ip
                            || e.detail
                                .split(|c: char| c.is_whitespace() || c == ':' && !ip.contains(':'))
                                .any(|w| w.trim_end_matches([':', ',', ')']) == ip)
                    })
                })
                .collect();
            if json {
                let list: Vec<_> = events
                    .iter()
                    .map(|e| json!({"time": e.time, "kind": e.kind, "subject": e.subject, "detail": e.detail}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if events.is_empty() {
                println!("no security events since {}", when(from));
            } else {
                for e in events {
                    println!(
                        "{}  {:<26} {:<30} {}",
                        when(e.time),
                        e.kind,
                        e.subject,
                        e.detail
                    );
                }
            }
        }
        SecurityCommand::Bans(BansCommand::List { json }) => {
            let bans = store.list_bans(now).await?;
            if json {
                let list: Vec<_> = bans
                    .iter()
                    .map(|b| json!({"ip": b.key, "since": b.since, "until": b.until, "strikes": b.strikes, "reason": b.reason}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if bans.is_empty() {
                println!("no address is banned");
            } else {
                for b in bans {
                    println!(
                        "{:<40} until {}  (ban {} in a row) {}",
                        b.key,
                        when(b.until),
                        b.strikes,
                        b.reason
                    );
                }
            }
        }
        SecurityCommand::Bans(BansCommand::Remove { ip }) => {
            let parsed: std::net::IpAddr = ip
                .parse()
                .map_err(|_| usage(format!("{ip:?} is not an IP address")))?;
            // IPv6 addresses are banned by their /64.
            let key = palisade_access::guard::address_key(parsed).to_string();
            if !store.remove_ban(&key).await? {
                return Err(usage(format!("{parsed} is not banned")));
            }
            record(&store, now, "security.unbanned", &key).await;
            println!("{key} is no longer banned (a running server lets it in within 5 s)");
        }
        SecurityCommand::Unlock { user } => {
            let account = palisade_access::guard::account_key(&user);
            let lock = store.lockout(&account).await?;
            if !store.remove_lockout(&account).await? {
                return Err(usage(format!("{account} is not locked")));
            }
            store.clear_user_failures(&account).await?;
            record(&store, now, "security.unlocked", &account).await;
            match lock {
                Some(l) if l.until > now => {
                    println!("{account} unlocked (was locked: {})", l.reason)
                }
                _ => println!("{account} unlocked (its last lock had already expired)"),
            }
        }
    }
    Ok(())
}

async fn record(store: &impl Store, now: i64, kind: &str, subject: &str) {
    let _ = store
        .record_event(&Event {
            time: now,
            kind: kind.into(),
            subject: subject.into(),
            detail: "by the palisade command".into(),
        })
        .await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn since_units() {
        assert_eq!(parse_since("45").ok(), Some(45));
        assert_eq!(parse_since("30m").ok(), Some(1800));
        assert_eq!(parse_since("1h").ok(), Some(3600));
        assert_eq!(parse_since("2d").ok(), Some(172_800));
        assert!(parse_since("1w").is_err());
        assert!(parse_since("h").is_err());
    }

    #[test]
    fn an_expiry_has_a_unit_or_is_a_date() {
        let now = 1_780_000_000;
        assert_eq!(
            parse_expiry("--expires", "90d", now).ok(),
            Some(now + 90 * 86_400)
        );
        assert_eq!(
            parse_expiry("--expires", "12h", now).ok(),
            Some(now + 12 * 3600)
        );
        assert_eq!(
            parse_expiry("--expires", "2027-03-01T00:00:00Z", now).ok(),
            Some(1_803_859_200)
        );
        assert_eq!(
            parse_expiry("--expires", "2027-03-01T01:00:00+01:00", now).ok(),
            Some(1_803_859_200)
        );
        for bad in ["90", "", "0d", "90y", "2020-01-01T00:00:00Z", "2027-03-01"] {
            let e = parse_expiry("--expires", bad, now).unwrap_err().to_string();
            assert!(e.contains("--expires"), "{bad}: {e}");
        }
        let e = parse_expiry("--expires", "90", now)
            .unwrap_err()
            .to_string();
        assert!(e.contains("90d"), "{e}");
    }
}
