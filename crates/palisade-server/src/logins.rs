//! One login decision for every service: SMTP AUTH on the submission ports and the
//! Dovecot auth socket ([`crate::auth_socket`]) both come here, so a password guessed
//! over IMAP locks the account and bans the address exactly as one over SMTP does, and
//! the security events read the same whichever door was tried.

use crate::Shared;
use palisade_access::login::{Attempt, Login, Refused};
use palisade_config::Config;
use palisade_store::Event;
use palisade_types::reply::{self, Reply};

/// Records a security event; a store failure is logged, never fatal to the session.
pub(crate) async fn event(shared: &Shared, kind: &str, subject: &str, detail: String) {
    let e = Event {
        time: palisade_queue::now_secs(),
        kind: kind.to_string(),
        subject: subject.to_string(),
        detail,
    };
    if let Err(err) = shared.store.record_event(&e).await {
        tracing::warn!(
            error = &err as &dyn std::error::Error,
            "cannot record event"
        );
    }
}

/// The SMTP reply for a refusal: `535` wrong, `454`-class locked or a store failure,
/// `421` banned.
pub fn reply_for(r: Refused) -> Reply {
    match r {
        Refused::Wrong => reply::AUTH_FAILED,
        Refused::Locked => reply::ACCOUNT_LOCKED,
        Refused::Banned => reply::BANNED,
        Refused::Unavailable => reply::SASL_TEMPFAIL,
    }
}

/// The canonical address on success; otherwise why not (a ban is by this attempt or
/// earlier, here or on another node).
pub async fn decide(
    shared: &Shared,
    cfg: &Config,
    a: Attempt<'_>,
) -> Result<palisade_types::Address, Refused> {
    let service = a.door.name();
    if shared.bans.banned(a.ip, a.now) {
        return Err(Refused::Banned);
    }
    let login = palisade_access::login::attempt(&shared.store, &cfg.security, a).await;
    let subject = palisade_types::identity(a.username);
    match login {
        Ok(Login::Accepted(user)) => {
            tracing::info!(user = %user, service, "login succeeded");
            metrics::counter!("palisade_auth_total", "result" => "ok", "service" => service)
                .increment(1);
            Ok(user)
        }
        Ok(Login::Refused(consequences)) => {
            tracing::info!(user = %a.username, service, "login failed");
            metrics::counter!("palisade_auth_total", "result" => "failed", "service" => service)
                .increment(1);
            let detail = format!("from {} ({service})", a.ip);
            event(shared, "auth.fail", &subject, detail).await;
            if let Some(block) = &consequences.locked {
                tracing::warn!(user = %a.username, reason = %block.reason, "account locked");
                metrics::counter!("palisade_lockouts_total").increment(1);
            }
            if let Some(block) = &consequences.banned {
                crate::bans::made(shared, a.ip, block, "auth");
                return Err(Refused::Banned);
            }
            Err(Refused::Wrong)
        }
        Ok(Login::Locked(block, consequences)) => {
            if let Some(ban) = &consequences.banned {
                crate::bans::made(shared, a.ip, ban, "auth");
                return Err(Refused::Banned);
            }
            tracing::info!(user = %a.username, service, until = block.until, "login refused: account locked");
            metrics::counter!("palisade_auth_total", "result" => "locked", "service" => service)
                .increment(1);
            let detail = format!("from {} ({service}): {}", a.ip, block.reason);
            event(shared, "auth.locked", &subject, detail).await;
            Err(Refused::Locked)
        }
        Err(e) => {
            tracing::error!(error = &e as &dyn std::error::Error, "login check failed");
            Err(Refused::Unavailable)
        }
    }
}
