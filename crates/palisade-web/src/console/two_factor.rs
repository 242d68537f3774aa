//! Two-factor authentication (TOTP, RFC 6238) by the user: set up with a QR code and a
//! confirming code, recovery codes shown once, turned off. Setting up and turning off
//! both ask for the password first: a stolen session must not be able to take the
//! account's second factor, or remove it.

use super::account::{reauth, two_factor_on};
use super::audit;
use super::forms::Posted;
use super::pages::{self, csrf, field, layout, notice, page, reauth_fields};
use super::session::Signed;
use crate::WebState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use palisade_access::two_factor;
use serde::Deserialize;
use std::sync::Arc;

fn status(who: &Signed, on: bool) -> Markup {
    html! {
        @if on {
            p { "Two-factor authentication is " strong { "on" } ": logging in here asks for a \
                 code from your authenticator app, and mail programs use app passwords." }
            h2 { "Turn it off" }
            form method="post" action="/account/two-factor/remove" {
                (csrf(who)) (reauth_fields(true))
                button type="submit" { "Turn two-factor off" }
            }
        } @else {
            @if who.require_2fa {
                (notice(false, "Your administrator requires two-factor authentication: set it up to use the console."))
            }
            p { "Two-factor authentication is " strong { "off" } ". With it on, a stolen \
                 password alone no longer opens your account." }
            form method="post" action="/account/two-factor/start" {
                (csrf(who)) (reauth_fields(false))
                button type="submit" { "Set up two-factor" }
            }
        }
    }
}

async fn status_page(state: &WebState, who: &Signed, top: Markup) -> Response {
    match two_factor_on(state, who).await {
        Ok(on) => {
            let body = html! { (top) (status(who, on)) };
            page(
                StatusCode::OK,
                layout("Two-factor authentication", Some(who), body),
            )
        }
        Err(r) => r,
    }
}

pub async fn show(State(state): State<Arc<WebState>>, who: Signed) -> Response {
    status_page(&state, &who, html! {}).await
}

#[derive(Debug, Deserialize)]
pub struct Reauth {
    password: String,
    #[serde(default)]
    code: String,
}

/// The QR code, the secret for typing in, and the form for the first code.
fn enrolment(who: &Signed, uri: &str) -> Result<Markup, two_factor::TwoFactorError> {
    let image = two_factor::qr_data_uri(uri)?;
    let secret = uri
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .unwrap_or_default();
    Ok(html! {
        ol {
            li { "Scan this code with an authenticator app (or type the key below)." }
            li { "Enter the six-digit code the app shows." }
        }
        img.qr src=(image) width="240" height="240" alt="QR code of the two-factor key";
        p { "Key: " code #totp-secret { (secret) } }
        form method="post" action="/account/two-factor/confirm" {
            (csrf(who))
            (field("code", "Code from the app", "text", "one-time-code", true))
            button type="submit" { "Turn two-factor on" }
        }
    })
}

pub async fn start(State(state): State<Arc<WebState>>, post: Posted<Reauth>) -> Response {
    let (who, f) = (&post.who, &post.form);
    if let Err(problem) = reauth(&state, who, &f.password, &f.code).await {
        return status_page(&state, who, notice(false, &problem)).await;
    }
    match two_factor_on(&state, who).await {
        Ok(true) => return status_page(&state, who, html! {}).await,
        Ok(false) => {}
        Err(r) => return r,
    }
    let store = state.store.as_ref();
    let shown = match two_factor::begin_enrolment(store, &who.user, super::now()).await {
        Ok(uri) => enrolment(who, &uri),
        Err(e) => Err(e),
    };
    match shown {
        Ok(body) => page(StatusCode::OK, layout("Set up two-factor", Some(who), body)),
        Err(_) => {
            status_page(
                &state,
                who,
                notice(false, "The server cannot set this up now."),
            )
            .await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Confirm {
    code: String,
}

fn recovery_codes(codes: &[String]) -> Markup {
    html! {
        (notice(true, "Two-factor authentication is on. Mail programs now need app passwords."))
        h2 { "Recovery codes" }
        p { "Each opens your account once if you lose the app. They are shown only now: \
             keep them somewhere safe." }
        ul #recovery-codes { @for c in codes { li { code { (c) } } } }
    }
}

pub async fn confirm(State(state): State<Arc<WebState>>, post: Posted<Confirm>) -> Response {
    let who = &post.who;
    let store = state.store.as_ref();
    let now = super::now();
    match two_factor::confirm_enrolment(store, &who.user, &post.form.code, now).await {
        Ok(Some(codes)) => {
            let detail = format!("from {}", who.ip);
            audit(&state, "web.2fa_enabled", &who.user, detail).await;
            status_page(&state, who, recovery_codes(&codes)).await
        }
        Ok(None) => {
            let problem = "That code does not match (or the setup has expired): set it up again.";
            status_page(&state, who, notice(false, problem)).await
        }
        Err(_) => status_page(&state, who, notice(false, "The server cannot do this now.")).await,
    }
}

pub async fn remove(State(state): State<Arc<WebState>>, post: Posted<Reauth>) -> Response {
    let (who, f) = (&post.who, &post.form);
    if let Err(problem) = reauth(&state, who, &f.password, &f.code).await {
        return status_page(&state, who, notice(false, &problem)).await;
    }
    let top = match state.store.remove_totp(&who.user).await {
        Ok(true) => {
            audit(
                &state,
                "web.2fa_disabled",
                &who.user,
                format!("from {}", who.ip),
            )
            .await;
            notice(true, "Two-factor authentication is off.")
        }
        Ok(false) => notice(false, "Two-factor authentication was not on."),
        Err(e) => return pages::unavailable(e),
    };
    status_page(&state, who, top).await
}
