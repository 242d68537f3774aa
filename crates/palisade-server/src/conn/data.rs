//! One mail transaction in a session: its state between steps, the message written to
//! the spool as it arrives, and the end-of-data pipeline that reads as it runs:
//! admit (memory budget) → check (sender authentication, hygiene, phishing) → decide
//! (the verdict's destination) → commit (fsync, the `Durable` proof) → reply (`250`
//! only from that proof).

use super::checks::{self, Job, Sender};
use super::{Ctx, rejected};
use crate::sender_auth::{self, AbortOnDrop, Checked};
use crate::{Shared, trace};
use palisade_checks::verdict::{Fault, Reason, Step};
use palisade_checks::{SpfCheck, Verdict};
use palisade_config::Config;
use palisade_queue::{Destination, Durable, Prepared, SpoolWriter};
use palisade_smtp::Session;
use palisade_types::Address;
use palisade_types::reply::{self, Reply};
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::OwnedSemaphorePermit;

/// What a session carries between the steps of one transaction.
#[derive(Default)]
pub(super) struct Transaction {
    /// The SPF check started at MAIL (inbound with the checks on).
    pub spf: Option<AbortOnDrop<SpfCheck>>,
    pub mail_from: Option<Address>,
    pub rcpts: Vec<Address>,
    /// The spool file being written, from `DATA`/first `BDAT` to the end of data.
    writer: Option<SpoolWriter>,
    /// Budgeted memory for the write buffer of a transfer in progress.
    data_budget: Option<OwnedSemaphorePermit>,
    /// An authenticated user's recipients reserved against the daily quota.
    pub reserved: Option<crate::quota::Reserved>,
}

impl Transaction {
    /// Opens the spool file with our trace header; a failure refuses the content.
    pub fn start(&mut self, ctx: &Ctx<'_>, session: &mut Session, env: &palisade_types::Envelope) {
        let hide_client = env.auth.is_some() && ctx.cfg.submission.hide_client_ip;
        self.rcpts = env.rcpt_to.clone();
        self.mail_from = env.mail_from.clone();
        let now = SystemTime::now();
        let arrived = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let hostname = ctx.cfg.hostname.to_string();
        let created = ctx.shared.spool.create(env, arrived, |id| {
            trace::received(env, &hostname, id, now, hide_client)
        });
        match created {
            Ok(mut w) => {
                // The buffer of a transfer in progress is budgeted memory too.
                self.data_budget = ctx.shared.data_buffer_budget();
                if self.data_budget.is_none() {
                    w.set_write_threshold(palisade_queue::SMALL_WRITE_THRESHOLD);
                }
                self.writer = Some(w);
            }
            Err(e) => {
                tracing::error!(
                    error = &e as &dyn std::error::Error,
                    "cannot create spool file"
                );
                session.message_start_failed(reply::LOCAL_ERROR);
            }
        }
    }

    /// Appends content; a write failure refuses the rest of the message.
    pub fn append(&mut self, session: &mut Session, bytes: &[u8]) {
        if let Some(w) = self.writer.as_mut()
            && let Err(e) = w.append(bytes)
        {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                "cannot write spool file"
            );
            self.writer = None;
            session.message_start_failed(reply::LOCAL_ERROR);
        }
    }

    /// The client aborted the transfer (or it was refused): the file goes.
    pub fn abort(&mut self) {
        drop(self.data_budget.take());
        if self.writer.take().is_some() {
            rejected("message_refused");
        }
    }
}

/// The end of data: every step of the pipeline, then the reply.
pub(super) async fn end_of_data(ctx: &Ctx<'_>, session: &mut Session, txn: &mut Transaction) {
    // Given back before the checks' share is taken: waiting for that while holding this
    // could deadlock sessions against each other.
    drop(txn.data_budget.take());
    let user = session.authenticated().map(str::to_string);
    let _budget = admit(ctx, txn.writer.as_ref()).await;
    let (checked, prepared) = match check(ctx, session, txn, user.as_deref()).await {
        Some((checked, prepared)) => (Some(checked), prepared),
        None => (None, None),
    };
    // Refused before the checks ran (or without a file): the file goes.
    drop(txn.writer.take());
    let outcome = decide_and_commit(
        ctx.shared,
        ctx.cfg,
        checked,
        prepared,
        (&txn.rcpts, user.as_deref()),
    )
    .await;
    if let (Ok(_), Some(user)) = (&outcome, user.as_deref()) {
        after_submission(ctx, txn, user);
    }
    reply(session, txn, outcome, user.is_some());
}

/// Memory for the checks, budgeted by message size and held until commit. The phishing
/// scan holds about four more copies of the message (parsed parts, the cleaned and the
/// bannered message).
async fn admit(ctx: &Ctx<'_>, writer: Option<&SpoolWriter>) -> Option<OwnedSemaphorePermit> {
    let w = writer?;
    let copies = if ctx.cfg.phishing.enabled { 5 } else { 1 };
    ctx.shared
        .check_budget(w.message_len().saturating_mul(copies))
        .await
}

/// Sender authentication (or the user's own checks), then hygiene and the phishing
/// engine, for every message that reached the spool: SPF is awaited here, the rest runs
/// on one thread of the blocking pool ([`checks::run`]).
async fn check(
    ctx: &Ctx<'_>,
    session: &Session,
    txn: &mut Transaction,
    user: Option<&str>,
) -> Option<(Checked, Option<Prepared>)> {
    let sender = match (user, txn.spf.take()) {
        (Some(user), _) => Sender::User(user.to_string()),
        (None, Some(spf)) => match spf_result(spf).await {
            Ok(spf) => Sender::Checked(spf),
            Err(deferred) => return Some((deferred, None)),
        },
        (None, None) if ctx.strip_forged => Sender::StripOnly,
        (None, None) => Sender::Trusted,
    };
    let job = Job {
        shared: ctx.shared.clone(),
        cfg: ctx.cfg.clone(),
        writer: txn.writer.take()?,
        sender,
        mail_from: txn.mail_from.clone(),
        rcpts: txn.rcpts.clone(),
        client_ip: session.client_ip(),
        helo: session.helo().map(str::to_string),
    };
    Some(checks::run(job).await)
}

/// The SPF check started at MAIL, awaited; a deferral when it fails or takes too long.
async fn spf_result(mut spf: AbortOnDrop<SpfCheck>) -> Result<SpfCheck, Checked> {
    match tokio::time::timeout(sender_auth::SPF_DEADLINE, &mut spf.0).await {
        Ok(Ok(spf)) => Ok(spf),
        Ok(Err(_)) => Err(Checked::deferred(Fault::SpfTaskFailed)),
        Err(_) => {
            tracing::warn!("SPF evaluation timed out; message deferred");
            Err(Checked::deferred_for(
                reply::SPF_TEMPFAIL,
                Reason::TimedOut { step: Step::Spf },
            ))
        }
    }
}

/// A submitted message is counted against its user's limits (containment).
fn after_submission(ctx: &Ctx<'_>, txn: &mut Transaction, user: &str) {
    let Ok(user) = Address::parse(user) else {
        return;
    };
    let mut domains: Vec<String> = txn.rcpts.iter().map(|r| r.domain().to_string()).collect();
    domains.sort();
    domains.dedup();
    crate::containment::after_submission(
        ctx.shared.clone(),
        ctx.shared.config(),
        user,
        domains,
        txn.rcpts.len() as u64,
        txn.reserved.take(),
    );
}

/// The reply to the end of data: `250` from the proof, or the refusal, counted.
fn reply(
    session: &mut Session,
    txn: &Transaction,
    outcome: Result<Durable, Refused>,
    submitted: bool,
) {
    match outcome {
        Ok(durable) => {
            let direction = if submitted { "outbound" } else { "inbound" };
            metrics::counter!("palisade_messages_accepted_total", "direction" => direction)
                .increment(1);
            tracing::info!(queue_id = %durable.id(), "message queued");
            acknowledge(session, &durable);
        }
        Err(Refused { reply, reason }) => {
            // A temporary refusal comes back with every retry: counted by reason, not
            // by sender.
            let deferred = reply.is_transient();
            if !deferred {
                crate::rollup::rejected_sender(txn.mail_from.as_ref(), session.client_ip());
            }
            tracing::info!(reply = %reply, %reason, "message not accepted");
            rejected(reason.label(deferred));
            session.message_failed(reply);
        }
    }
}

/// A message not accepted: the reply the client gets and why.
pub(super) struct Refused {
    reply: Reply,
    reason: Reason,
}

impl Refused {
    fn local(fault: Fault) -> Refused {
        Refused {
            reply: reply::LOCAL_ERROR,
            reason: Reason::Local { fault },
        }
    }
}

/// The one place a message's `250` is made, and only from the committer's proof that
/// the message and its envelope are fsync'd. `clippy.toml` forbids every other call of
/// `Session::message_queued` (the protocol crate cannot name the queue's type).
#[allow(clippy::disallowed_methods)]
fn acknowledge(session: &mut Session, durable: &Durable) {
    session.message_queued(durable.id());
}

/// Where the verdict sends the message, committed there (or the refusal). A message for
/// our DMARC report address that authenticated is also parsed as a report, and one for
/// the phishing report address from one of our users is learnt from, after the commit.
async fn decide_and_commit(
    shared: &Arc<Shared>,
    cfg: &Config,
    checked: Option<Checked>,
    prepared: Option<Prepared>,
    (rcpts, submitter): (&[Address], Option<&str>),
) -> Result<Durable, Refused> {
    let checked = checked.unwrap_or_else(Checked::trusted);
    let dest = destination(&checked.verdict)?;
    if dest == Destination::Quarantine {
        metrics::counter!("palisade_messages_quarantined_total").increment(1);
    }
    let active = dest == Destination::Active;
    let report = match &cfg.reports.dmarc_address {
        Some(a) if active && checked.authenticated && rcpts.contains(a) => checked.message.clone(),
        _ => None,
    };
    // A phishing report from one of our users (never anyone else's mail to the address).
    let phishing_report = match (&cfg.phishing.report_address, submitter) {
        (Some(a), Some(user)) if active && rcpts.contains(a) => {
            checked.message.clone().map(|m| (user.to_string(), m))
        }
        _ => None,
    };
    let durable = commit(prepared).await?;
    if let Some((user, message)) = phishing_report {
        crate::learning::receive_report_in_background(shared.clone(), user, message);
    }
    if let Some(row) = &checked.dmarc_row {
        shared
            .dmarc_recorder
            .record(row, palisade_queue::now_secs());
    }
    if let Some(message) = report {
        crate::reports::receive_in_background(shared.clone(), message);
    }
    Ok(durable)
}

/// The spool directory a verdict sends the message to, or its refusal.
pub(super) fn destination(verdict: &Verdict) -> Result<Destination, Refused> {
    match verdict {
        Verdict::Accept { .. } => Ok(Destination::Active),
        Verdict::Quarantine { .. } => Ok(Destination::Quarantine),
        Verdict::Reject { reply, reason } | Verdict::Defer { reply, reason } => Err(Refused {
            reply: reply.clone(),
            reason: reason.clone(),
        }),
    }
}

/// Makes the message durable: the committer links the file the checks wrote out and
/// fsync'd where the verdict sends it, and fsyncs the directory.
async fn commit(prepared: Option<Prepared>) -> Result<Durable, Refused> {
    let Some(prepared) = prepared else {
        return Err(Refused::local(Fault::SpoolUnreadable));
    };
    prepared.commit().await.map_err(|e| {
        tracing::error!(
            error = &e as &dyn std::error::Error,
            "commit failed; message not accepted"
        );
        Refused::local(Fault::Commit)
    })
}
