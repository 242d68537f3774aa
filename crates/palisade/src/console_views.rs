//! The console's views of the server's own parts: the DNS check of a domain
//! ([`LiveDoctor`]), and the quarantine as the web console sees it: the spool's `quarantine/` directory read
//! (headers only, within a bound), a release through the same commit as `palisade
//! quarantine release` (`palisade_queue::activate`: the scheduler delivers it within a
//! second), and each release a lesson for the site model.

use palisade_queue::{Spool, SpooledMessage};
use palisade_server::Shared;
use palisade_types::{Address, MessageLabel, QueueId};
use palisade_web::console::{
    Doctor, DomainAudit, Held, Quarantine, QuarantineUnavailable, RecordCheck, RecordState,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Held messages the console lists at most (the newest).
const MAX_LISTED: usize = 1000;
/// Octets of a held message read for its header section.
const HEAD_BYTES: u64 = 64 * 1024;

pub struct SpoolQuarantine(pub Arc<Shared>);

fn unavailable(e: impl std::fmt::Display) -> QuarantineUnavailable {
    tracing::error!(error = %e, "console: quarantine");
    QuarantineUnavailable
}

impl SpoolQuarantine {
    fn dir(&self) -> PathBuf {
        Spool::quarantine_dir(&palisade_server::queue_dir(&self.0.data_dir))
    }
}

/// The unfolded value of header field `name` in `head`, or "".
fn field(head: &[u8], name: &str) -> String {
    mail_parser::MessageParser::new()
        .parse_headers(head)
        .and_then(|m| m.header_raw(name).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

/// What the console shows of one file, recipients not yet resolved.
fn read_one(dir: &Path, id: QueueId) -> Option<(Held, Vec<Address>)> {
    let m = SpooledMessage::open(&dir.join(id.to_string()), id).ok()?;
    let head = m.head(HEAD_BYTES).ok()?;
    let subject = mail_parser::MessageParser::new()
        .parse_headers(&head[..])
        .and_then(|p| p.subject().map(str::to_string))
        .unwrap_or_default();
    let held = Held {
        id,
        arrived: m.arrived,
        from: m.envelope.return_path(),
        mailboxes: Vec::new(),
        recipients: m.envelope.rcpt_to.iter().map(|r| r.to_string()).collect(),
        subject,
        reason: field(&head, "X-Palisade-Quarantine"),
    };
    Some((held, m.envelope.rcpt_to))
}

fn read_all(dir: &Path) -> Result<Vec<(Held, Vec<Address>)>, QuarantineUnavailable> {
    let queue = dir.parent().unwrap_or(dir);
    let mut ids = Spool::list_quarantine(queue).map_err(unavailable)?;
    ids.reverse();
    Ok(ids
        .into_iter()
        .take(MAX_LISTED)
        .filter_map(|id| read_one(dir, id))
        .collect())
}

#[async_trait::async_trait]
impl Quarantine for SpoolQuarantine {
    async fn held(&self) -> Result<Vec<Held>, QuarantineUnavailable> {
        let dir = self.dir();
        let read = tokio::task::spawn_blocking(move || read_all(&dir))
            .await
            .map_err(unavailable)??;
        let mut out = Vec::with_capacity(read.len());
        for (mut held, rcpts) in read {
            for r in rcpts {
                let mailbox = self.0.store.resolve_recipient(&r).await;
                if let Some(m) = mailbox.map_err(unavailable)? {
                    held.mailboxes.push(m);
                }
            }
            out.push(held);
        }
        Ok(out)
    }

    async fn release(
        &self,
        id: QueueId,
        who: &Address,
        admin: bool,
    ) -> Result<bool, QuarantineUnavailable> {
        let path = self.dir().join(id.to_string());
        let Ok(m) = SpooledMessage::open(&path, id) else {
            return Ok(false);
        };
        // Read before it moves: the scheduler may deliver it at once.
        let raw = m.read_message().map_err(unavailable)?;
        let queue = palisade_server::queue_dir(&self.0.data_dir);
        palisade_queue::activate(&queue, self.0.store.as_ref(), id, &path)
            .await
            .map_err(unavailable)?;
        learn(&self.0, raw, who.lookup_key(), admin).await;
        Ok(true)
    }

    async fn delete(&self, id: QueueId) -> Result<bool, QuarantineUnavailable> {
        let path = self.dir().join(id.to_string());
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
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
