//! `palisade security events|bans|unlock`: what the brute-force defences saw and did.

use crate::cli::{BansCommand, SecurityCommand};
use crate::commands::Paths;
use crate::usage;
use palisade_store::{Event, Store};
use serde_json::json;

/// `30m`, `1h`, `2d`, `45s` or plain seconds.
pub(crate) fn parse_since(text: &str) -> anyhow::Result<i64> {
    palisade_access::forms::duration(text).map_err(|e| usage(format!("--since {text:?}: {e}")))
}

/// When something given on the command line ends (`--expires`): see
/// [`palisade_access::forms::expiry`], the rule the web console follows too.
pub(crate) fn parse_expiry(flag: &str, text: &str, now: i64) -> anyhow::Result<i64> {
    palisade_access::forms::expiry(text, now).map_err(|e| usage(format!("{flag} {text:?}: {e}")))
}

/// A Unix time as an RFC 3339 date in UTC, what every command prints.
pub(crate) fn when(t: i64) -> String {
    palisade_access::forms::when(t)
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
                        || e.kind.starts_with("web.")
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
            let Some(key) = palisade_access::guard::lift_ban(&*store, parsed).await? else {
                return Err(usage(format!("{parsed} is not banned")));
            };
            record(&*store, now, "security.unbanned", &key).await;
            println!("{key} is no longer banned (a running server lets it in within 5 s)");
        }
        SecurityCommand::Unlock { user } => {
            let account = palisade_access::guard::account_key(&user);
            let Some(lock) = palisade_access::guard::unlock(&*store, &account).await? else {
                return Err(usage(format!("{account} is not locked")));
            };
            record(&*store, now, "security.unlocked", &account).await;
            if lock.until > now {
                println!("{account} unlocked (was locked: {})", lock.reason)
            } else {
                println!("{account} unlocked (its last lock had already expired)")
            }
        }
    }
    Ok(())
}

async fn record(store: &dyn Store, now: i64, kind: &str, subject: &str) {
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
    fn flags_name_themselves_in_errors() {
        let now = 1_780_000_000;
        assert_eq!(parse_since("30m").ok(), Some(1800));
        let e = parse_since("1w").unwrap_err().to_string();
        assert!(e.contains("--since"), "{e}");
        assert_eq!(
            parse_expiry("--expires", "12h", now).ok(),
            Some(now + 12 * 3600)
        );
        for bad in ["90", "", "0d", "2020-01-01T00:00:00Z"] {
            let e = parse_expiry("--expires", bad, now).unwrap_err().to_string();
            assert!(e.contains("--expires"), "{bad}: {e}");
        }
    }
}
