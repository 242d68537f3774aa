//! Signing in and out.

use super::forms::{Empty, LoginPost, Posted};
use super::pages::{self, field, layout, notice, page};
use super::session::{self, LOGIN_COOKIE, Signed};
use super::{WebAttempt, audit};
use crate::WebState;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use palisade_access::login::Refused;
use serde::Deserialize;
use std::sync::Arc;

/// How long a login form stays usable (seconds).
const LOGIN_FORM_LIFETIME: i64 = 600;

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    address: String,
    password: String,
    #[serde(default)]
    code: String,
}

/// The login page with a fresh form token (in its cookie and in the form), and
/// `problem` above the form.
fn login_form(status: StatusCode, problem: Option<&str>) -> Response {
    let Some(token) = session::random_token() else {
        return page(StatusCode::SERVICE_UNAVAILABLE, html! {});
    };
    let body = html! {
        @if let Some(p) = problem { (notice(false, p)) }
        form method="post" action="/login" {
            input type="hidden" name="csrf" value=(token);
            (field("address", "Mail address", "email", "username", true))
            (field("password", "Password", "password", "current-password", true))
            p.field {
                label for="code" { "Two-factor code or recovery code (if you turned it on)" }
                input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code";
            }
            button type="submit" { "Log in" }
            " "
            button #passkey-login type="button" hidden { "Log in with a passkey" }
            p #passkey-status role="status" {}
        }
        script src="/console.js" {}
        p.hint { "App passwords are for mail programs; they do not open this console." }
    };
    let mut r = page(status, layout("Log in", None, body));
    r.headers_mut().insert(
        header::SET_COOKIE,
        session::set_cookie(LOGIN_COOKIE, &token, Some(LOGIN_FORM_LIFETIME)),
    );
    r
}

pub async fn login_page(who: Option<Signed>) -> Response {
    match who {
        Some(_) => Redirect::to("/account").into_response(),
        None => login_form(StatusCode::OK, None),
    }
}

/// What a refused login is told: never which of address, password or code was wrong.
fn refusal(r: Refused) -> Response {
    match r {
        Refused::Wrong => login_form(
            StatusCode::UNAUTHORIZED,
            Some("The address, password or code is wrong."),
        ),
        Refused::Locked => login_form(
            StatusCode::UNAUTHORIZED,
            Some(
                "This account is locked for a while after too many failed logins. Try \
                 again later, or ask your administrator to unlock it.",
            ),
        ),
        Refused::Banned => login_form(
            StatusCode::FORBIDDEN,
            Some("Too many failed logins came from your address: it is blocked for a while."),
        ),
        Refused::Unavailable => login_form(
            StatusCode::SERVICE_UNAVAILABLE,
            Some("The server cannot check logins now. Try again in a minute."),
        ),
    }
}

pub async fn login(State(state): State<Arc<WebState>>, post: LoginPost<LoginForm>) -> Response {
    let f = &post.form;
    let attempt = WebAttempt {
        username: f.address.trim(),
        password: &f.password,
        code: &f.code,
        ip: post.ip,
    };
    let user = match state.logins.login(attempt).await {
        Ok(u) => u,
        Err(r) => return refusal(r),
    };
    let now = super::now();
    let Some((id, s)) = session::open(&user, post.ip, now) else {
        return refusal(Refused::Unavailable);
    };
    if let Err(e) = state.store.put_web_session(&s).await {
        return pages::unavailable(e);
    }
    audit(&state, "web.login", &user, format!("from {}", post.ip)).await;
    signed_in(id)
}

/// To the account page with the new session's cookie (and the form's cookie gone).
pub(crate) fn signed_in(id: String) -> Response {
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, "/account")]).into_response();
    let h = r.headers_mut();
    h.append(
        header::SET_COOKIE,
        session::set_cookie(session::COOKIE, &id, None),
    );
    h.append(
        header::SET_COOKIE,
        session::set_cookie(LOGIN_COOKIE, "", Some(0)),
    );
    r
}

fn signed_out() -> Response {
    let mut r = pages::to_login();
    r.headers_mut()
        .insert("clear-site-data", HeaderValue::from_static("\"cookies\""));
    r
}

pub async fn logout(State(state): State<Arc<WebState>>, post: Posted<Empty>) -> Response {
    let w = &post.who;
    if let Err(e) = state.store.remove_web_session(&w.session.id_hash).await {
        return pages::unavailable(e);
    }
    audit(&state, "web.logout", &w.user, format!("from {}", w.ip)).await;
    signed_out()
}

pub async fn logout_everywhere(
    State(state): State<Arc<WebState>>,
    post: Posted<Empty>,
) -> Response {
    let w = &post.who;
    let ended = match state.store.remove_web_sessions(&w.user).await {
        Ok(n) => n,
        Err(e) => return pages::unavailable(e),
    };
    let detail = format!("{ended} sessions ended, from {}", w.ip);
    audit(&state, "web.logout_everywhere", &w.user, detail).await;
    signed_out()
}
