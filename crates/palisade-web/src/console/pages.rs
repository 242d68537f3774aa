//! The console's pages: one layout, the shared pieces of every form, and the error
//! pages. maud escapes every value it interpolates.

use super::session::Signed;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};
use palisade_access::forms::when;

/// The pages a signed-in user reaches from the navigation.
const USER_PAGES: [(&str, &str); 8] = [
    ("/account", "Account"),
    ("/account/password", "Password"),
    ("/account/two-factor", "Two-factor"),
    ("/account/passkeys", "Passkeys"),
    ("/account/app-passwords", "App passwords"),
    ("/account/keys", "Keys"),
    ("/account/quarantine", "Quarantine"),
    ("/account/events", "Security events"),
];

/// A full page: the navigation (for a signed-in user), the title and `body`.
pub fn layout(title: &str, who: Option<&Signed>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Palisade" }
                link rel="stylesheet" href="/console.css";
            }
            body {
                a.skip href="#main" { "Skip to the content" }
                header {
                    a.brand href="/" { "Palisade" }
                    @if let Some(w) = who { (navigation(w)) }
                }
                main #main { h1 { (title) } (body) }
            }
        }
    }
}

fn navigation(w: &Signed) -> Markup {
    html! {
        nav aria-label="Main" {
            @for (href, label) in USER_PAGES { a href=(href) { (label) } }
            @if w.admin {
                a href="/admin" { "Dashboard" }
                a href="/admin/domains" { "Domains" }
                a href="/admin/users" { "Users" }
                a href="/admin/aliases" { "Aliases" }
                a href="/admin/quarantine" { "All quarantine" }
                a href="/admin/queue" { "Queue" }
                a href="/admin/security" { "Security" }
                a href="/admin/reports" { "Reports" }
            }
        }
        form.inline method="post" action="/logout" {
            (csrf(w))
            button type="submit" { "Log out " (w.user) }
        }
    }
}

/// The session's CSRF token, in every form that changes something.
pub fn csrf(w: &Signed) -> Markup {
    html! { input type="hidden" name="csrf" value=(w.session.csrf); }
}

/// A labelled input; `kind` is its type, `auto` its autocomplete hint.
pub fn field(name: &str, label: &str, kind: &str, auto: &str, required: bool) -> Markup {
    field_as(name, name, label, kind, auto, required)
}

/// [`field`] with an id of its own, for a page with two forms that share field names.
pub fn field_as(id: &str, name: &str, label: &str, kind: &str, auto: &str, req: bool) -> Markup {
    html! {
        p.field {
            label for=(id) { (label) }
            input id=(id) name=(name) type=(kind) autocomplete=(auto) required[req];
        }
    }
}

/// A search box that GETs `action?q=...`.
pub fn search(action: &str, label: &str, q: &str) -> Markup {
    html! {
        form.search method="get" action=(action) role="search" {
            label for="q" { (label) }
            input id="q" name="q" type="search" value=(q);
            button type="submit" { "Search" }
        }
    }
}

/// The password (and, with two-factor on, the code) that confirm a sensitive action.
pub fn reauth_fields(two_factor: bool) -> Markup {
    reauth_fields_as("", two_factor)
}

/// [`reauth_fields`] whose ids start with `prefix` (a second form on the page).
pub fn reauth_fields_as(prefix: &str, two_factor: bool) -> Markup {
    let code_label = "Code from your authenticator app (or a recovery code)";
    let (pw, code) = (format!("{prefix}password"), format!("{prefix}code"));
    html! {
        fieldset {
            legend { "Confirm it is you" }
            (field_as(&pw, "password", "Your current password", "password", "current-password", true))
            @if two_factor {
                (field_as(&code, "code", code_label, "text", "one-time-code", true))
            }
        }
    }
}

/// A message after an action: `ok` is a status, otherwise an alert.
pub fn notice(ok: bool, text: &str) -> Markup {
    html! {
        @if ok { p.notice.ok role="status" { (text) } }
        @else { p.notice.error role="alert" { (text) } }
    }
}

/// A Unix time for people, or "never".
pub fn time(t: Option<i64>) -> String {
    t.map_or_else(|| "never".to_string(), when)
}

pub fn page(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

fn message(status: StatusCode, title: &str, who: Option<&Signed>, text: &str) -> Response {
    page(status, layout(title, who, html! { p { (text) } }))
}

pub fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Not found",
        None,
        "There is no such page.",
    )
}

pub fn bad_request(text: &str) -> Response {
    message(StatusCode::BAD_REQUEST, "Bad request", None, text)
}

/// A POST without our origin or its token: a forged request, or a stale page.
pub fn cross_site() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Refused",
        None,
        "This form was sent from another site, or the page was too old. Reload the page \
         and try again.",
    )
}

pub fn forbidden(who: &Signed, text: &str) -> Response {
    message(StatusCode::FORBIDDEN, "Not allowed", Some(who), text)
}

/// The store failed: logged, and the visitor asked to try again.
pub fn unavailable(e: palisade_store::StoreError) -> Response {
    tracing::error!(error = &e as &dyn std::error::Error, "console: store error");
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again later",
        None,
        "The server cannot answer this now. Try again in a minute.",
    )
}

/// Not signed in (or the session ended): to the login page.
pub fn to_login() -> Response {
    let mut r = Redirect::to("/login").into_response();
    *r.status_mut() = StatusCode::SEE_OTHER;
    r.headers_mut().insert(
        header::SET_COOKIE,
        super::session::set_cookie(super::session::COOKIE, "", Some(0)),
    );
    r
}
