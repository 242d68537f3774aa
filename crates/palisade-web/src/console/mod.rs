//! The web console: self-service for users, administration for administrators
//! (a role in the store), server-rendered with maud (every interpolation escaped).
//!
//! What guards a request, in order:
//! - [`headers`]: a Content-Security-Policy without inline script or style, frame
//!   denial, no caching and no referrer, on every answer;
//! - the console is not served on the MTA-STS or autoconfig host names;
//! - [`session`]: the `__Host-` cookie names a session kept server-side (its SHA-256 in
//!   the store, so any node serves it), ended when idle or old;
//! - [`forms`]: every POST must come from our own origin and carry its session's CSRF
//!   token; bodies are small;
//! - logins and re-authentication (password change, app passwords) go through
//!   [`Logins`], the server's one login decision: a guess here locks the account and
//!   bans the address exactly like one over SMTP.

mod account;
mod admin;
mod aliases;
mod auth;
mod chart;
pub mod dashboard;
mod dkim;
mod domains;
mod forms;
mod headers;
mod keys;
mod pages;
mod passkeys;
mod quarantine;
mod queue;
mod reports;
mod security;
pub mod session;
mod two_factor;

use crate::WebState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use palisade_access::login::Refused;
use palisade_types::Address;
use std::net::IpAddr;
use std::sync::Arc;

/// The largest form the console takes.
const MAX_FORM: usize = 64 * 1024;

/// One web login (or re-authentication): the account password and, with two-factor
/// on, a code.
#[derive(Debug, Clone, Copy)]
pub struct WebAttempt<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub code: &'a str,
    pub ip: IpAddr,
}

/// The server's login decision, shared with SMTP AUTH and the Dovecot socket.
#[async_trait::async_trait]
pub trait Logins: Send + Sync {
    async fn login(&self, a: WebAttempt<'_>) -> Result<Address, Refused>;
    /// Whether `ip` is banned (a passkey login is refused from there too).
    fn banned(&self, ip: IpAddr) -> bool;
}

pub use passkeys::Ceremonies;

/// A message the server holds back, as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub id: palisade_types::QueueId,
    pub arrived: i64,
    /// The reverse-path, `<>` for none.
    pub from: String,
    /// The local mailboxes it was held for (each recipient resolved through aliases).
    pub mailboxes: Vec<Address>,
    /// The recipients as the sender gave them.
    pub recipients: Vec<String>,
    pub subject: String,
    /// Why it is held, in words (`X-Palisade-Quarantine`).
    pub reason: String,
}

/// The quarantine (or another of the server's parts) could not answer; the server
/// logged why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuarantineUnavailable;

/// The server's quarantine: its spool directory and the site model it teaches.
#[async_trait::async_trait]
pub trait Quarantine: Send + Sync {
    /// Every held message, newest first.
    async fn held(&self) -> Result<Vec<Held>, QuarantineUnavailable>;
    /// Releases `id` for delivery and teaches the site model that it is legitimate (as
    /// `who`'s decision, an administrator's weighing more); false if it is not held.
    async fn release(
        &self,
        id: palisade_types::QueueId,
        who: &Address,
        admin: bool,
    ) -> Result<bool, QuarantineUnavailable>;
    /// Deletes `id`; false if it is not held.
    async fn delete(&self, id: palisade_types::QueueId) -> Result<bool, QuarantineUnavailable>;
}

/// How one published record compares with what the server expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordState {
    Good,
    Warning,
    Wrong,
    Note,
}

/// One record's live check (`doctor`'s finding): what was seen and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordCheck {
    /// Which record (`doctor.mx`, `doctor.dkim`, ...).
    pub id: String,
    pub state: RecordState,
    pub seen: String,
    /// One line; empty when all is well.
    pub fix: String,
}

/// A domain's audit (`palisade audit domain`), as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainAudit {
    /// 0 to 100.
    pub score: u32,
    pub grade: String,
    /// Each category's score.
    pub categories: Vec<(String, u32)>,
    pub findings: Vec<RecordCheck>,
}

/// The server's DNS checks, asked live.
#[async_trait::async_trait]
pub trait Doctor: Send + Sync {
    /// A local domain's records against what the server expects.
    async fn check(
        &self,
        domain: &palisade_types::Domain,
    ) -> Result<Vec<RecordCheck>, QuarantineUnavailable>;
    /// Any domain's published mail security (no probe of its servers).
    async fn audit(
        &self,
        domain: &palisade_types::Domain,
    ) -> Result<DomainAudit, QuarantineUnavailable>;
}

/// Host names that serve something else and never the console.
fn reserved_host(host: &str) -> bool {
    ["mta-sts.", "autoconfig.", "autodiscover.", "openpgpkey."]
        .iter()
        .any(|p| host.starts_with(p))
}

async fn console_hosts_only(req: Request, next: Next) -> Response {
    match crate::request_host(req.headers()) {
        Some(h) if !reserved_host(&h) => next.run(req).await,
        _ => pages::not_found(),
    }
}

async fn home(who: Option<session::Signed>) -> Redirect {
    match who {
        Some(_) => Redirect::to("/account"),
        None => Redirect::to("/login"),
    }
}

async fn script() -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/javascript; charset=utf-8",
        )],
        include_str!("console.js"),
    )
        .into_response()
}

async fn stylesheet() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("console.css"),
    )
        .into_response()
}

/// The console's routes, each behind the host check and the security headers.
pub fn routes() -> Router<Arc<WebState>> {
    Router::new()
        .route("/", get(home))
        .route("/console.css", get(stylesheet))
        .route("/console.js", get(script))
        .route("/login/passkey/start", post(passkeys::login_start))
        .route("/login/passkey/finish", post(passkeys::login_finish))
        .route("/account/passkeys", get(passkeys::show))
        .route("/account/passkeys/start", post(passkeys::register_start))
        .route("/account/passkeys/finish", post(passkeys::register_finish))
        .route("/account/passkeys/remove", post(passkeys::remove))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/logout/everywhere", post(auth::logout_everywhere))
        .route("/account", get(account::overview))
        .route(
            "/account/password",
            get(account::password_page).post(account::change_password),
        )
        .route(
            "/account/app-passwords",
            get(account::app_passwords).post(account::add_app_password),
        )
        .route(
            "/account/app-passwords/revoke",
            post(account::revoke_app_password),
        )
        .route("/account/events", get(account::events))
        .route("/account/keys", get(keys::show))
        .route("/account/keys/import", post(keys::import))
        .route("/account/keys/settings", post(keys::settings))
        .route("/account/keys/remove", post(keys::remove))
        .route("/account/two-factor", get(two_factor::show))
        .route("/account/two-factor/start", post(two_factor::start))
        .route("/account/two-factor/confirm", post(two_factor::confirm))
        .route("/account/two-factor/remove", post(two_factor::remove))
        .route("/account/quarantine", get(quarantine::own))
        .route("/account/quarantine/release", post(quarantine::own_release))
        .route("/account/quarantine/delete", post(quarantine::own_delete))
        .route("/admin/quarantine", get(quarantine::all))
        .route("/admin/quarantine/release", post(quarantine::admin_release))
        .route("/admin/quarantine/delete", post(quarantine::admin_delete))
        .route("/admin", get(dashboard::show))
        .route("/admin/reports", get(reports::show))
        .route("/admin/reports/audit", get(reports::audit))
        .route("/admin/queue", get(queue::list))
        .route("/admin/queue/retry", post(queue::retry))
        .route("/admin/queue/delete", post(queue::delete))
        .route("/admin/queue/{id}", get(queue::show))
        .route("/admin/security", get(security::show))
        .route("/admin/security/lift", post(security::lift))
        .route("/admin/security/unlock", post(security::unlock))
        .route("/admin/aliases", get(aliases::show))
        .route("/admin/aliases/add", post(aliases::add))
        .route("/admin/aliases/remove", post(aliases::remove))
        .route(
            "/admin/aliases/send-as",
            get(aliases::send_as_list).post(aliases::send_as_change),
        )
        .route("/admin/dkim/generate", post(dkim::generate))
        .route("/admin/dkim/rotate", post(dkim::rotate))
        .route("/admin/dkim/activate", post(dkim::activate))
        .route("/admin/domains", get(domains::list))
        .route("/admin/domains/add", post(domains::add))
        .route("/admin/domains/remove", post(domains::remove))
        .route("/admin/domains/{domain}", get(domains::show))
        .route("/admin/users", get(admin::users))
        .route("/admin/users/unlock", post(admin::unlock))
        .route("/admin/users/resume", post(admin::resume))
        .route("/admin/users/add", post(admin::add))
        .route("/admin/users/password", post(admin::password))
        .route("/admin/users/require-2fa", post(admin::require_2fa))
        .route("/admin/users/remove", post(admin::remove))
        .layer(DefaultBodyLimit::max(MAX_FORM))
        .layer(middleware::from_fn(console_hosts_only))
        .layer(middleware::from_fn(headers::secure))
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Records what was done as a security event about `about`; a store failure is
/// logged (the action itself stands).
pub(crate) async fn audit(state: &WebState, kind: &str, about: &Address, detail: String) {
    let e = palisade_store::Event {
        time: now(),
        kind: kind.to_string(),
        subject: about.identity(),
        detail,
    };
    if let Err(err) = state.store.record_event(&e).await {
        tracing::warn!(
            error = &err as &dyn std::error::Error,
            "console: cannot record event"
        );
    }
}
