//! The console's views of the server's own parts: the DNS check of a domain
//! ([`LiveDoctor`]), and the quarantine as the web console sees it: the held messages in
//! the store (whichever node received them), a release through the same path as
//! `palisade quarantine release` (`palisade_server::quarantine::release`: queued on this
//! node, the scheduler delivers it within a second), and each release a lesson for the
//! site model.

use palisade_server::Shared;
use palisade_store::HeldMessage;
use palisade_types::{Address, MessageLabel, QueueId};
use palisade_web::console::{
    Doctor, DomainAudit, Held, Quarantine, QuarantineUnavailable, RecordCheck, RecordState,
};
use std::sync::Arc;

/// Held messages the console lists at most (the newest).
const MAX_LISTED: u32 = 1000;

pub struct StoreQuarantine(pub Arc<Shared>);

fn unavailable(e: impl std::fmt::Display) -> QuarantineUnavailable {
    tracing::error!(error = %e, "console: quarantine");
    QuarantineUnavailable
}

impl StoreQuarantine {
    /// What this node holds but has not moved into the store yet (its move runs every
    /// second): moved now, so the console shows a message as soon as it is held.
    async fn move_local(&self) {
        let queue = palisade_server::queue_dir(&self.0.data_dir);
        let node = self.0.config().node_id.clone();
        let store = self.0.store.as_ref();
        if let Err(e) = palisade_server::quarantine::move_to_store(&queue, store, &node).await {
            tracing::warn!(error = %e, "cannot move held messages into the store");
        }
    }

    /// What the console shows of `m`, its recipients resolved to local mailboxes.
    async fn shown(&self, m: HeldMessage) -> Result<Held, QuarantineUnavailable> {
        let mut mailboxes = Vec::new();
        for r in m.recipients.iter().filter_map(|r| Address::parse(r).ok()) {
            let mailbox = self.0.store.resolve_recipient(&r).await;
            if let Some(m) = mailbox.map_err(unavailable)? {
                mailboxes.push(m);
            }
        }
        Ok(Held {
            id: m.id,
            arrived: m.arrived,
            from: m.sender,
            mailboxes,
            recipients: m.recipients,
            subject: m.subject,
            reason: m.reason,
        })
    }
}

#[async_trait::async_trait]
impl Quarantine for StoreQuarantine {
    async fn held(&self) -> Result<Vec<Held>, QuarantineUnavailable> {
        self.move_local().await;
        let all = self.0.store.list_held(MAX_LISTED).await;
        let mut out = Vec::new();
        for m in all.map_err(unavailable)? {
            out.push(self.shown(m).await?);
        }
        Ok(out)
    }

    async fn release(
        &self,
        id: QueueId,
        who: &Address,
        admin: bool,
    ) -> Result<bool, QuarantineUnavailable> {
        self.move_local().await;
        let queue = palisade_server::queue_dir(&self.0.data_dir);
        let released = palisade_server::quarantine::release(&queue, self.0.store.as_ref(), id)
            .await
            .map_err(unavailable)?;
        let Some(raw) = released else {
            return Ok(false);
        };
        learn(&self.0, raw, who.lookup_key(), admin).await;
        Ok(true)
    }

    async fn delete(&self, id: QueueId) -> Result<bool, QuarantineUnavailable> {
        self.move_local().await;
        self.0.store.remove_held(id).await.map_err(unavailable)
    }
}

/// A release is a decision that the message is legitimate: the site model learns it.
async fn learn(shared: &Shared, raw: Vec<u8>, who: String, admin: bool) {
    use palisade_phish::site::{ADMIN_WEIGHT, USER_WEIGHT};
    let weight = if admin { ADMIN_WEIGHT } else { USER_WEIGHT };
    let who = if admin { "admin".to_string() } else { who };
    let lesson = tokio::task::spawn_blocking(move || {
        let reader = palisade_server::learning::reader();
        palisade_server::learning::lesson(&reader, &raw, MessageLabel::Ham, &who, weight)
    })
    .await;
    if let Ok(l) = lesson
        && let Err(e) = shared.store.learn(&l).await
    {
        tracing::warn!(
            error = &e as &dyn std::error::Error,
            "cannot learn a release"
        );
    }
}

/// The doctor's comparison of one domain's records, asked from the console.
pub struct LiveDoctor(pub Arc<Shared>);

fn record_state(s: palisade_audit::Status) -> RecordState {
    match s {
        palisade_audit::Status::Pass => RecordState::Good,
        palisade_audit::Status::Warn => RecordState::Warning,
        palisade_audit::Status::Fail => RecordState::Wrong,
        palisade_audit::Status::Info => RecordState::Note,
    }
}

#[async_trait::async_trait]
impl Doctor for LiveDoctor {
    async fn check(
        &self,
        domain: &palisade_types::Domain,
    ) -> Result<Vec<RecordCheck>, QuarantineUnavailable> {
        let cfg = self.0.config();
        let https = crate::doctor::https(&cfg).ok_or(QuarantineUnavailable)?;
        let store = self.0.store.as_ref();
        let e = palisade_audit::doctor::expected(&cfg, store, &self.0.data_dir, domain)
            .await
            .map_err(unavailable)?;
        let findings = palisade_audit::doctor::compare(&self.0.dns(), &e, &https).await;
        Ok(findings.into_iter().map(record_check).collect())
    }

    async fn audit(
        &self,
        domain: &palisade_types::Domain,
    ) -> Result<DomainAudit, QuarantineUnavailable> {
        let cfg = self.0.config();
        let https = crate::doctor::https(&cfg).ok_or(QuarantineUnavailable)?;
        // A local domain's own selectors first, as `palisade audit domain` does.
        let keys = self.0.store.list_dkim_keys(Some(domain)).await;
        let selectors: Vec<String> = keys
            .map_err(unavailable)?
            .into_iter()
            .filter(|k| k.state != palisade_checks::dkim_keys::RETIRED)
            .map(|k| k.selector)
            .collect();
        let settings = palisade_audit::Settings {
            selectors: Vec::new(),
            https,
            probe: None,
        };
        let dns = self.0.dns();
        let r =
            palisade_audit::audit_domain_with(&dns, domain.as_str(), &settings, &selectors).await;
        Ok(DomainAudit {
            score: r.score.overall,
            grade: r.score.grade.to_string(),
            categories: r
                .score
                .categories
                .iter()
                .map(|(c, n)| (c.name().to_string(), *n))
                .collect(),
            findings: r.findings.into_iter().map(record_check).collect(),
        })
    }
}

fn record_check(f: palisade_audit::Finding) -> RecordCheck {
    RecordCheck {
        id: f.id.to_string(),
        state: record_state(f.status),
        seen: f.evidence,
        fix: f.advice,
    }
}
