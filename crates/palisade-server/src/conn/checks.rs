//! The check step at the end of data: everything the verdict needs, in one task on the
//! blocking pool per message ([`crate::cpu::run_checks`]), over one parse of the
//! message that sender authentication, the phishing engine and the author's domain all
//! read.

use crate::Shared;
use crate::phishing::{Read, SessionEnvelope};
use crate::sender_auth::{self, Checked};
use palisade_checks::SpfCheck;
use palisade_checks::verdict::{Fault, Reason, Step};
use palisade_config::Config;
use palisade_queue::{Prepared, SpoolWriter};
use palisade_types::Address;
use palisade_types::reply;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Who the message is from, as far as the checks go.
pub(super) enum Sender {
    /// An authenticated user (submission): their own checks, then signing.
    User(String),
    /// Anyone else, with sender authentication on: SPF is in.
    Checked(SpfCheck),
    /// Sender checks off: forged `Authentication-Results` still go.
    StripOnly,
    /// A trusted client: nothing is checked against the sender.
    Trusted,
}

/// Everything the checks read, owned, to move to their thread.
pub(super) struct Job {
    pub shared: Arc<Shared>,
    pub cfg: Arc<Config>,
    /// The spool file being written: read back, then written out where the verdict
    /// keeps it, both on the checks' thread.
    pub writer: SpoolWriter,
    pub sender: Sender,
    pub mail_from: Option<Address>,
    pub rcpts: Vec<Address>,
    pub client_ip: IpAddr,
    pub helo: Option<String>,
}

/// The checks, run to their verdict on their own thread, which then writes the message
/// out and fsyncs it when the verdict keeps it ([`SpoolWriter::prepare`]: the session
/// only has the committer link it). Each check has its own deadline; the backstop only
/// bounds the wait if one of them does not keep it (the session goes on, the thread is
/// left to finish, and what it prepared is dropped, file and all).
pub(super) async fn run(job: Job) -> (Checked, Option<Prepared>) {
    let backstop = backstop(&job.cfg);
    match tokio::time::timeout(backstop, crate::cpu::run_checks(job.run())).await {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "checks failed");
            (Checked::deferred(Fault::ChecksFailed), None)
        }
        Err(_) => (deferred_late(backstop), None),
    }
}

/// The message written out and fsync'd where the verdict keeps it; a refused one's
/// file goes. A write that fails defers the message.
fn prepare(checked: Checked, writer: SpoolWriter) -> (Checked, Option<Prepared>) {
    let Ok(dest) = super::data::destination(&checked.verdict) else {
        return (checked, None);
    };
    match writer.prepare(&checked.edit, dest) {
        Ok(prepared) => (checked, Some(prepared)),
        Err(e) => {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                "writing the spool file"
            );
            (Checked::deferred(Fault::Commit), None)
        }
    }
}

/// Longer than every check's own deadline put together: sender authentication, the
/// engine's scan, and each external scanner's timeout.
fn backstop(cfg: &Config) -> Duration {
    let scanners = &cfg.scanners;
    sender_auth::CHECK_DEADLINE * 2
        + cfg.phishing.scan_time * 4
        + scanners
            .rspamd
            .as_ref()
            .map_or(Duration::ZERO, |r| r.timeout)
        + scanners
            .clamav
            .as_ref()
            .map_or(Duration::ZERO, |c| c.timeout)
}

fn deferred_late(after: Duration) -> Checked {
    tracing::error!(?after, "message checks timed out; message deferred");
    Checked::deferred_for(
        reply::AUTH_TEMPFAIL.with_text("Message checks took too long; try again later"),
        Reason::TimedOut {
            step: Step::Checks(after),
        },
    )
}

impl Job {
    /// The message read back, checked, and written out where the verdict keeps it.
    async fn run(mut self) -> (Checked, Option<Prepared>) {
        let message = match self.writer.read_message() {
            Ok(m) => Arc::new(m),
            Err(e) => {
                tracing::error!(error = &e as &dyn std::error::Error, "reading spool file");
                return (Checked::deferred(Fault::SpoolUnreadable), None);
            }
        };
        let checked = self.checks(&message).await;
        prepare(checked, self.writer)
    }

    /// Parse once, check the sender, then hygiene, signatures and the engine.
    async fn checks(&self, message: &Arc<Vec<u8>>) -> Checked {
        let Job {
            shared,
            cfg,
            sender,
            ..
        } = self;
        let engine = match cfg.phishing.enabled {
            true => {
                shared
                    .phishing
                    .engine(shared.store.as_ref(), &shared.config())
                    .await
            }
            false => None,
        };
        // A panic in the parser is the scan's failure (its scan-limit verdict), never
        // the end of the checks: the message would be deferred at every retry.
        let parsed = engine.as_ref().and_then(|e| {
            crate::cpu::here(|| e.parse(message))
                .inspect_err(|err| tracing::error!(error = %err, "parsing the message"))
                .ok()
        });
        let whole = parsed.as_ref().and_then(|p| p.whole());
        let (user, checked) = match sender {
            Sender::User(u) => {
                let c = crate::submission::check_message(shared, cfg, u, message.clone()).await;
                (Some(u.as_str()), c)
            }
            Sender::Checked(spf) => {
                let c = sender_auth::check_message(shared, cfg, spf, message, whole).await;
                (None, c)
            }
            Sender::StripOnly => (None, sender_auth::strip_only(cfg, message)),
            Sender::Trusted => (None, Checked::trusted()),
        };
        let read = Read {
            bytes: message,
            engine: engine.map(|e| (e, parsed.as_ref())),
        };
        let env = SessionEnvelope {
            mail_from: self.mail_from.as_ref(),
            rcpts: &self.rcpts,
            client_ip: self.client_ip,
            helo: self.helo.as_deref(),
        };
        let trusted = cfg.policy.is_trusted(self.client_ip);
        let mut checked =
            crate::phishing::screen_session(shared, cfg, checked, read, env, user, trusted).await;
        checked.message = Some(message.clone());
        checked
    }
}
