//! The envelope steps of a transaction: MAIL (the sender: rate limits, an authenticated
//! user's right to send as the address, SPF started for inbound mail) and RCPT (local,
//! routed or relayed recipients, the daily recipient quota, abuse strikes).

use super::data::Transaction;
use super::{Ctx, rejected};
use crate::{Shared, sender_auth};
use palisade_config::Config;
use palisade_smtp::{RecipientDecision, SenderDecision, Session};
use palisade_types::Address;
use palisade_types::reply;

/// MAIL FROM: a new transaction (the last one's recipients were recorded or dropped).
pub(super) async fn check_sender(
    ctx: &Ctx<'_>,
    session: &mut Session,
    txn: &mut Transaction,
    from: Option<Address>,
) {
    let (shared, cfg) = (ctx.shared, ctx.cfg);
    txn.reserved = None;
    txn.mail_from = from.clone();
    if let Some(user) = session.authenticated().map(str::to_string) {
        let d = crate::submission::check_sender(shared, cfg, &user, from.as_ref()).await;
        session.sender_decision(d);
        return;
    }
    let ip = session.client_ip();
    if !cfg.policy.is_trusted(ip) && !shared.rates.message(ip) {
        rejected("message_rate");
        tracing::info!("MAIL refused: message rate limit");
        session.sender_decision(SenderDecision::Reject(reply::MESSAGE_RATE));
        return;
    }
    if ctx.checks_on {
        let helo = session.helo().unwrap_or_default().to_string();
        // Replacing an earlier transaction's check aborts it (AbortOnDrop).
        txn.spf = None;
        match sender_auth::check_sender(shared, cfg, ip, &helo, from.as_ref()).await {
            Ok(check) => txn.spf = Some(check),
            Err(r) => {
                rejected("own_domain_sender");
                crate::rollup::rejected_sender(from.as_ref(), ip);
                session.sender_decision(SenderDecision::Reject(r));
                return;
            }
        }
    }
    session.sender_decision(SenderDecision::Accept);
}

/// RCPT TO: the decision, counted, with a strike for relay attempts and unknown users.
pub(super) async fn check_rcpt(
    ctx: &Ctx<'_>,
    session: &mut Session,
    txn: &mut Transaction,
    addr: &Address,
) {
    let (shared, cfg) = (ctx.shared, ctx.cfg);
    let d = recipient_decision(shared, cfg, session, addr, &mut txn.reserved).await;
    tracing::info!(rcpt = %addr, accepted = matches!(d, RecipientDecision::Accept), "RCPT");
    let strike = match &d {
        RecipientDecision::Reject(r) if *r == reply::NO_RELAY => Some("relay"),
        RecipientDecision::Reject(r) if *r == reply::NO_SUCH_USER => Some("unknown_rcpt"),
        _ => None,
    };
    if matches!(&d, RecipientDecision::Reject(r) if !r.is_transient()) {
        crate::rollup::rejected_sender(txn.mail_from.as_ref(), session.client_ip());
    }
    session.recipient_decision(d);
    if let Some(kind) = strike
        && abuse_strike(shared, cfg, session.client_ip(), kind).await
    {
        session.abort(&reply::BANNED);
    }
}

/// The decision for one RCPT. An authenticated user's accepted recipient is reserved
/// against `submission.max_recipients_per_day` together with the check (see
/// [`crate::quota`]), so concurrent sessions cannot overshoot it; store errors count
/// nothing recorded (the hourly and daily message quotas still hold).
async fn recipient_decision(
    shared: &Shared,
    cfg: &Config,
    session: &Session,
    addr: &Address,
    reserved: &mut Option<crate::quota::Reserved>,
) -> RecipientDecision {
    let relay_ok = session.authenticated().is_some() || cfg.policy.is_trusted(session.client_ip());
    let d = check_recipient(shared, cfg, relay_ok, addr).await;
    let (Some(user), RecipientDecision::Accept) = (session.authenticated(), &d) else {
        return d;
    };
    let recorded = recorded_recipients(shared, user).await;
    let max = cfg.submission.max_recipients_per_day;
    if shared
        .recipient_reservations
        .try_add(reserved, user, recorded, max)
    {
        d
    } else {
        rejected("recipient_quota");
        RecipientDecision::Reject(reply::RECIPIENT_QUOTA)
    }
}

/// `user`'s recipients of the last day: remembered, or asked of the store (once a
/// minute at most, see [`crate::quota`]). A store error counts nothing recorded (the
/// hourly and daily message quotas still hold).
async fn recorded_recipients(shared: &Shared, user: &str) -> u64 {
    let epoch = match shared.recipient_reservations.recorded(user) {
        Ok(n) => return n,
        Err(epoch) => epoch,
    };
    let Ok(u) = Address::parse(user) else {
        return 0;
    };
    let since = palisade_queue::now_secs() - 86_400;
    match shared.store.count_submission_recipients(&u, since).await {
        Ok(n) => {
            shared.recipient_reservations.remember(user, n, epoch);
            n
        }
        Err(e) => {
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                "cannot count recipients"
            );
            0
        }
    }
}

/// Counts an SMTP-level abuse event; true when it got the address banned.
async fn abuse_strike(shared: &Shared, cfg: &Config, ip: std::net::IpAddr, kind: &str) -> bool {
    match palisade_access::guard::strike(
        shared.store.as_ref(),
        &cfg.security,
        ip,
        kind,
        palisade_queue::now_secs(),
    )
    .await
    {
        Ok(Some(block)) => {
            crate::bans::made(shared, ip, &block, "abuse");
            true
        }
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                "cannot record an abuse strike"
            );
            false
        }
    }
}

/// Decides a RCPT: local domains deliver to existing mailboxes, routed domains to the
/// recipients their server knows; other domains are relayed only for authenticated users
/// and clients in `policy.trusted_networks` (like Postfix's `permit_sasl_authenticated,
/// permit_mynetworks`).
async fn check_recipient(
    shared: &Shared,
    cfg: &Config,
    relay_ok: bool,
    rcpt: &Address,
) -> RecipientDecision {
    let store = &shared.store;
    let mut rcpt = rcpt.clone();
    match shared
        .lookups
        .is_local_domain(store.as_ref(), rcpt.domain())
        .await
    {
        Ok(true) => {}
        Ok(false) if cfg.routes.contains_key(rcpt.domain().as_str()) => {
            return routed_recipient(shared, &rcpt).await;
        }
        Ok(false)
            if rcpt.local().eq_ignore_ascii_case("postmaster")
                && *rcpt.domain() == cfg.hostname =>
        {
            // `RCPT TO:<postmaster>` (RFC 5321 §4.5.1) goes to the first local domain's postmaster.
            match store
                .list_domains()
                .await
                .ok()
                .and_then(|d| d.into_iter().next())
            {
                Some(d) => match Address::parse(&format!("postmaster@{d}")) {
                    Ok(a) => rcpt = a,
                    Err(_) => return RecipientDecision::Reject(reply::NO_SUCH_USER),
                },
                None => return RecipientDecision::Reject(reply::NO_SUCH_USER),
            }
        }
        Ok(false) if relay_ok => {
            metrics::counter!("palisade_relay_accepted_total").increment(1);
            return RecipientDecision::Accept;
        }
        Ok(false) => {
            rejected("relay_denied");
            return RecipientDecision::Reject(reply::NO_RELAY);
        }
        Err(e) => {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                "store error checking domain"
            );
            return RecipientDecision::Reject(reply::LOCAL_ERROR);
        }
    }
    match shared
        .lookups
        .resolve_recipient(store.as_ref(), &rcpt)
        .await
    {
        Ok(Some(_)) => RecipientDecision::Accept,
        Ok(None) => group_or_bounce(shared, &rcpt).await,
        Err(e) => {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                "store error resolving recipient"
            );
            RecipientDecision::Reject(reply::LOCAL_ERROR)
        }
    }
}

/// An address with no mailbox of its own: a group or a forward (`palisade alias add
/// SOURCE TARGET...`), or one of our SRS addresses that a bounce comes back to.
async fn group_or_bounce(shared: &Shared, rcpt: &Address) -> RecipientDecision {
    use palisade_delivery::Forwarder;
    match shared.lookups.forwards(shared.store.as_ref(), rcpt).await {
        Ok(targets) if !targets.is_empty() => return RecipientDecision::Accept,
        Ok(_) => {}
        Err(e) => {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                "store error reading forwards"
            );
            return RecipientDecision::Reject(reply::LOCAL_ERROR);
        }
    }
    if shared.forwarding.reverse(rcpt).await.is_some() {
        return RecipientDecision::Accept;
    }
    rejected("no_such_user");
    RecipientDecision::Reject(reply::NO_SUCH_USER)
}

/// A routed domain (`[route]`) takes mail from anyone, for the recipients its own
/// server says exist (a cached callout; not asked when the route says so).
async fn routed_recipient(shared: &Shared, rcpt: &Address) -> RecipientDecision {
    use palisade_delivery::route::Verified;
    match shared.router.verify_routed(rcpt).await {
        None | Some(Verified::Exists) => RecipientDecision::Accept,
        Some(Verified::Unknown(said)) => {
            tracing::info!(%rcpt, %said, "routed recipient refused by its server");
            rejected("no_such_user");
            RecipientDecision::Reject(reply::NO_SUCH_USER)
        }
        Some(Verified::Unavailable(why) | Verified::Unreachable(why)) => {
            tracing::warn!(%rcpt, %why, "cannot verify a routed recipient");
            RecipientDecision::Reject(reply::RECIPIENT_UNVERIFIED)
        }
    }
}
