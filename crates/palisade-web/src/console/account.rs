//! Self-service: the account, its password, its app passwords and its security
//! events. Every handler acts on the signed-in user only: no form names the user.

use super::forms::Posted;
use super::pages::{self, csrf, field, layout, notice, page, reauth_fields, time};
use super::session::{self, Signed};
use super::{WebAttempt, audit};
use crate::WebState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use palisade_access::forms as rules;
use palisade_access::login::Refused;
use palisade_types::AppScope;
use serde::Deserialize;
use std::sync::Arc;

/// Security events shown to their user.
const EVENTS_SHOWN: u32 = 200;

/// With two-factor on, re-authentication asks for a code too.
pub(super) async fn two_factor_on(state: &WebState, who: &Signed) -> Result<bool, Response> {
    palisade_access::two_factor::enabled(state.store.as_ref(), &who.user)
        .await
        .map_err(pages::unavailable)
}

/// Re-authentication for a sensitive action, through the login decision (a wrong
/// password here counts towards the lock and the ban like any other).
pub(super) async fn reauth(
    state: &WebState,
    who: &Signed,
    password: &str,
    code: &str,
) -> Result<(), String> {
    let username = who.user.to_string();
    let attempt = WebAttempt {
        username: &username,
        password,
        code,
        ip: who.ip,
    };
    match state.logins.login(attempt).await {
        Ok(u) if u.lookup_key() == who.user.lookup_key() => Ok(()),
        Ok(_) | Err(Refused::Wrong) => Err("Your current password or code is wrong.".into()),
        Err(Refused::Locked) => Err("Your account is locked for a while.".into()),
        Err(Refused::Banned) => Err("Your address is blocked for a while.".into()),
        Err(Refused::Unavailable) => Err("The server cannot check this now.".into()),
    }
}

pub async fn overview(State(state): State<Arc<WebState>>, who: Signed) -> Response {
    let tfa = match two_factor_on(&state, &who).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let s = &who.session;
    let body = html! {
        dl {
            dt { "Address" } dd { (who.user) }
            dt { "Two-factor authentication" } dd { @if tfa { "on" } @else { "off" } }
            dt { "Role" } dd { @if who.admin { "administrator" } @else { "user" } }
            dt { "This session" } dd { "opened " (time(Some(s.created))) " from " (s.ip) }
        }
        form method="post" action="/logout/everywhere" {
            (csrf(&who))
            button type="submit" { "Log out everywhere" }
        }
    };
    page(StatusCode::OK, layout("Your account", Some(&who), body))
}

fn password_form(who: &Signed, tfa: bool) -> Markup {
    html! {
        form method="post" action="/account/password" {
            (csrf(who))
            (reauth_fields(tfa))
            (field("new", "New password", "password", "new-password", true))
            (field("confirm", "New password again", "password", "new-password", true))
            button type="submit" { "Change the password" }
        }
    }
}

pub async fn password_page(State(state): State<Arc<WebState>>, who: Signed) -> Response {
    match two_factor_on(&state, &who).await {
        Ok(tfa) => page(
            StatusCode::OK,
            layout("Password", Some(&who), password_form(&who, tfa)),
        ),
        Err(r) => r,
    }
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    password: String,
    #[serde(default)]
    code: String,
    new: String,
    confirm: String,
}

/// The new password's hash, if the form's checks (the CLI's strength policy) pass.
async fn new_password_hash(who: &Signed, f: &PasswordForm) -> Result<String, String> {
    if f.new != f.confirm {
        return Err("The two new passwords differ.".into());
    }
    palisade_access::strength::check(&f.new, &who.user, None)
        .map_err(|r| format!("Password refused: {r}"))?;
    palisade_access::login::hash_new(&f.new)
        .await
        .map_err(|_| "The server cannot change the password now.".into())
}

pub async fn change_password(
    State(state): State<Arc<WebState>>,
    post: Posted<PasswordForm>,
) -> Response {
    let (who, f) = (&post.who, &post.form);
    let tfa = match two_factor_on(&state, who).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let checked = match reauth(&state, who, &f.password, &f.code).await {
        Ok(()) => new_password_hash(who, f).await,
        Err(e) => Err(e),
    };
    let hash = match checked {
        Ok(h) => h,
        Err(problem) => {
            let body = html! { (notice(false, &problem)) (password_form(who, tfa)) };
            return page(StatusCode::OK, layout("Password", Some(who), body));
        }
    };
    let store = &state.store;
    if let Err(e) = store.set_password_hash(&who.user, &hash).await {
        return pages::unavailable(e);
    }
    // Every other browser signed in as this user is signed out; this one continues
    // with a new session.
    if let Err(e) = store.remove_web_sessions(&who.user).await {
        return pages::unavailable(e);
    }
    audit(
        &state,
        "web.password_changed",
        &who.user,
        format!("from {}", who.ip),
    )
    .await;
    let Some((id, s)) = session::open(&who.user, who.ip, super::now()) else {
        return pages::to_login();
    };
    match store.put_web_session(&s).await {
        Ok(()) => super::auth::signed_in(id),
        Err(e) => pages::unavailable(e),
    }
}

fn app_password_list(who: &Signed, list: &[palisade_store::AppPassword]) -> Markup {
    html! {
        @if list.is_empty() { p { "You have no app passwords." } }
        @else {
            div.scroll { table {
                thead { tr { th { "Label" } th { "Opens" } th { "Expires" } th { "Network" }
                    th { "Last used" } th { span.sr { "Revoke" } } } }
                tbody { @for p in list { tr {
                    td { (p.label) } td { (p.scope) } td { (time(p.expires)) }
                    td { (p.from_net.as_deref().unwrap_or("any")) }
                    td { (time(p.last_used)) @if let Some(ip) = &p.last_ip { " from " (ip) } }
                    td { form method="post" action="/account/app-passwords/revoke" {
                        (csrf(who))
                        input type="hidden" name="label" value=(p.label);
                        button type="submit" aria-label={ "Revoke " (p.label) } { "Revoke" }
                    } }
                } } }
            } }
        }
    }
}

fn app_password_form(who: &Signed, tfa: bool) -> Markup {
    html! {
        h2 { "New app password" }
        form method="post" action="/account/app-passwords" {
            (csrf(who))
            (field("label", "Label (which program or device)", "text", "off", true))
            p.field {
                label for="scope" { "Opens" }
                select id="scope" name="scope" {
                    @for s in AppScope::ALL { option value=(s.name()) { (scope_text(s)) } }
                }
            }
            (field("expires", "Expires after (90d, 12h) or on (2027-03-01T00:00:00Z); empty: never", "text", "off", false))
            (field("network", "Only from this network (CIDR); empty: any", "text", "off", false))
            (reauth_fields(tfa))
            button type="submit" { "Create" }
        }
    }
}

fn scope_text(s: AppScope) -> &'static str {
    match s {
        AppScope::Submission => "Sending mail (SMTP submission)",
        AppScope::Imap => "Reading mail (IMAP)",
    }
}

/// The app password page with `top` above the list.
async fn app_passwords_page(state: &WebState, who: &Signed, top: Markup) -> Response {
    let tfa = match two_factor_on(state, who).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let list = match state.store.list_app_passwords(&who.user).await {
        Ok(l) => l,
        Err(e) => return pages::unavailable(e),
    };
    let body = html! { (top) (app_password_list(who, &list)) (app_password_form(who, tfa)) };
    page(StatusCode::OK, layout("App passwords", Some(who), body))
}

pub async fn app_passwords(State(state): State<Arc<WebState>>, who: Signed) -> Response {
    app_passwords_page(&state, &who, html! {}).await
}

#[derive(Debug, Deserialize)]
pub struct NewAppPassword {
    label: String,
    scope: String,
    #[serde(default)]
    expires: String,
    #[serde(default)]
    network: String,
    password: String,
    #[serde(default)]
    code: String,
}

/// The request as the CLI's rules read it: label, scope, expiry, network.
type AppRequest = (String, AppScope, Option<i64>, Option<ipnet::IpNet>);

fn read_app_request(f: &NewAppPassword, now: i64) -> Result<AppRequest, String> {
    let label = rules::app_password_label(&f.label).map_err(|e| format!("Label: {e}."))?;
    let scope = rules::scope(&f.scope).map_err(|e| format!("Opens: {e}."))?;
    fn optional(s: &str) -> Option<&str> {
        Some(s.trim()).filter(|s| !s.is_empty())
    }
    let expires = optional(&f.expires)
        .map(|e| rules::expiry(e, now))
        .transpose()
        .map_err(|e| format!("Expires: {e}."))?;
    let network = optional(&f.network)
        .map(rules::network)
        .transpose()
        .map_err(|e| format!("Network {e}."))?;
    Ok((label, scope, expires, network))
}

pub async fn add_app_password(
    State(state): State<Arc<WebState>>,
    post: Posted<NewAppPassword>,
) -> Response {
    let (who, f) = (&post.who, &post.form);
    let now = super::now();
    let request = match read_app_request(f, now) {
        Ok(r) => reauth(&state, who, &f.password, &f.code).await.map(|()| r),
        Err(e) => Err(e),
    };
    let (label, scope, expires, network) = match request {
        Ok(r) => r,
        Err(problem) => return app_passwords_page(&state, who, notice(false, &problem)).await,
    };
    let store = state.store.as_ref();
    let made = palisade_access::two_factor::add_app_password(
        store, &who.user, &label, scope, expires, network, now,
    )
    .await;
    let top = match made {
        Ok(password) => {
            let detail = format!("label {label:?}, scope {scope}, from {}", who.ip);
            audit(&state, "web.app_password_added", &who.user, detail).await;
            html! {
                (notice(true, &format!("App password {label:?} created. It is shown once: copy it into the program now.")))
                p.secret { output #new-app-password { (password) } }
            }
        }
        Err(palisade_access::two_factor::TwoFactorError::Store(
            palisade_store::StoreError::AlreadyExists { .. },
        )) => notice(
            false,
            &format!("You already have an app password labelled {label:?}."),
        ),
        Err(_) => notice(false, "The server cannot create an app password now."),
    };
    app_passwords_page(&state, who, top).await
}

#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    label: String,
}

pub async fn revoke_app_password(
    State(state): State<Arc<WebState>>,
    post: Posted<RevokeForm>,
) -> Response {
    let (who, label) = (&post.who, &post.form.label);
    let top = match state.store.revoke_app_password(&who.user, label).await {
        Ok(true) => {
            let detail = format!("label {label:?}, from {}", who.ip);
            audit(&state, "web.app_password_revoked", &who.user, detail).await;
            notice(true, &format!("App password {label:?} revoked."))
        }
        Ok(false) => notice(
            false,
            &format!("You have no app password labelled {label:?}."),
        ),
        Err(e) => return pages::unavailable(e),
    };
    app_passwords_page(&state, who, top).await
}

pub async fn events(State(state): State<Arc<WebState>>, who: Signed) -> Response {
    let list = match state.store.events_about(&who.user, EVENTS_SHOWN).await {
        Ok(l) => l,
        Err(e) => return pages::unavailable(e),
    };
    let body = html! {
        p { "Logins, failed attempts, locks and changes to your account, newest first. \
             One you do not recognise may mean someone else knows your password." }
        div.scroll { table {
            thead { tr { th { "When" } th { "What" } th { "Details" } } }
            tbody { @for e in &list { tr { td { (time(Some(e.time))) } td { (e.kind) } td { (e.detail) } } } }
        } }
    };
    page(StatusCode::OK, layout("Security events", Some(&who), body))
}
