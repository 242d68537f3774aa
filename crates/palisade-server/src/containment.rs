//! Compromised-account containment for submission: per-user quotas that refuse (not
//! delay) past the limit, and an anomaly check that suspends a user's sending when they
//! suddenly send far more than usual, or to many new recipient domains at once. A
//! suspension is a security event and a notice to the domain's postmaster; it lasts
//! until `palisade user resume USER`.

use crate::Shared;
use palisade_config::Config;
use palisade_store::Event;
use palisade_types::Address;
use palisade_types::reply::{self, Reply};
use std::sync::Arc;

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
/// The burst check never fires below this many messages in 10 minutes.
const BURST_FLOOR: u64 = 30;

/// At MAIL FROM: the reply refusing this user's transaction, if any.
pub async fn refuse(shared: &Shared, cfg: &Config, user: &Address) -> Option<Reply> {
    let store = shared.store.as_ref();
    let now = palisade_queue::now_secs();
    match store.suspension(user).await {
        Ok(Some((_, reason))) => {
            tracing::info!(user = %user, %reason, "sending suspended");
            return Some(reply::ACCOUNT_SUSPENDED);
        }
        Ok(None) => {}
        Err(e) => {
            tracing::error!(error = &e as &dyn std::error::Error, "store error");
            return Some(reply::LOCAL_ERROR);
        }
    }
    let s = &cfg.submission;
    let (hour, day) = match (
        store.count_submissions(user, now - HOUR).await,
        store.count_submissions(user, now - DAY).await,
    ) {
        (Ok(h), Ok(d)) => (h, d),
        _ => return Some(reply::LOCAL_ERROR),
    };
    if hour >= s.max_messages_per_hour || day >= s.max_messages_per_day {
        tracing::info!(user = %user, hour, day, "submission quota exceeded");
        metrics::counter!("palisade_submission_quota_refused_total").increment(1);
        return Some(reply::QUOTA_EXCEEDED);
    }
    None
}

/// After a submitted message is committed: count it, and suspend on an anomaly. The
/// transaction's quota reservation is given back once the count is in the store.
pub fn after_submission(
    shared: Arc<Shared>,
    cfg: Arc<Config>,
    user: Address,
    domains: Vec<String>,
    recipients: u64,
    reserved: Option<crate::quota::Reserved>,
) {
    tokio::spawn(async move {
        let store = shared.store.as_ref();
        let now = palisade_queue::now_secs();
        // Only other organisations' domains are "new recipient domains": writing to a
        // colleague is not what a hijacked account does.
        let mut remote = Vec::with_capacity(domains.len());
        for d in domains {
            let local = match palisade_types::Domain::parse(&d) {
                Ok(dom) => shared
                    .lookups
                    .is_local_domain(store, &dom)
                    .await
                    .unwrap_or(false),
                Err(_) => false,
            };
            if !local {
                remote.push(d);
            }
        }
        let recorded = store
            .record_submission(&user, now, &remote, recipients)
            .await;
        // Recorded (or lost): the store's count takes over from the reservation.
        if let Some(r) = reserved {
            r.settle(recorded.is_ok());
        }
        if let Err(e) = recorded {
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                "cannot record submission"
            );
            return;
        }
        let Some(reason) = anomaly(&shared, &cfg, &user, now).await else {
            return;
        };
        if let Err(e) = store.suspend_user(&user, now, &reason).await {
            tracing::error!(error = &e as &dyn std::error::Error, "cannot suspend user");
            return;
        }
        tracing::warn!(user = %user, %reason, "sending suspended");
        metrics::counter!("palisade_users_suspended_total").increment(1);
        let _ = store
            .record_event(&Event {
                time: now,
                kind: "security.sending_suspended".into(),
                subject: user.to_string(),
                detail: reason.clone(),
            })
            .await;
        notify_postmaster(&shared, &cfg, &user, &reason).await;
    });
}

async fn anomaly(shared: &Shared, cfg: &Config, user: &Address, now: i64) -> Option<String> {
    let store = shared.store.as_ref();
    let s = &cfg.submission;
    if s.burst_factor > 0 {
        let recent = store.count_submissions(user, now - 600).await.ok()?;
        let week = store.count_submissions(user, now - 7 * DAY).await.ok()?;
        // The usual 10-minute rate over a week (1008 ten-minute slots).
        let usual = week.saturating_sub(recent) / 1008;
        let limit = (usual.max(1) * s.burst_factor).max(BURST_FLOOR);
        if recent > limit {
            return Some(format!(
                "{recent} messages in 10 minutes, above {limit} ({}x the usual rate)",
                s.burst_factor
            ));
        }
    }
    if s.max_new_domains_per_hour > 0 {
        let new = store.count_new_domains(user, now - HOUR).await.ok()?;
        if new > s.max_new_domains_per_hour {
            return Some(format!(
                "{new} new recipient domains within an hour (limit {})",
                s.max_new_domains_per_hour
            ));
        }
    }
    None
}

/// A plain notice to postmaster@<the user's domain>, queued like any message.
async fn notify_postmaster(shared: &Shared, cfg: &Config, user: &Address, reason: &str) {
    let Ok(postmaster) = Address::parse(&format!("postmaster@{}", user.domain())) else {
        return;
    };
    let body = format!(
        "From: Palisade <MAILER-DAEMON@{host}>\r\nTo: {postmaster}\r\n\
         Subject: Sending suspended for {user}\r\nAuto-Submitted: auto-generated\r\n\
         Date: {date}\r\n\r\n\
         Palisade suspended outgoing mail for {user}: {reason}.\r\n\
         This can mean the account's password or an app password was stolen.\r\n\
         Check the account, then lift the suspension with:\r\n\
         \r\n    palisade user resume {user}\r\n",
        host = cfg.hostname,
        date = crate::trace::rfc5322_date(std::time::SystemTime::now()),
    );
    let envelope = crate::outbox::envelope(None, vec![postmaster], cfg.hostname.as_str());
    let outbox = crate::outbox::Outbox::Spool {
        spool: &shared.spool,
        store: shared.store.as_ref(),
        keys: &shared.dkim_keys,
    };
    let result = outbox.send(&envelope, body.as_bytes()).await;
    if let Err(e) = result {
        tracing::error!(
            error = &e as &dyn std::error::Error,
            "cannot queue suspension notice"
        );
    }
}
