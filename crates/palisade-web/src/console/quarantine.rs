//! Held messages: a user's own (held for their mailbox alone), and everyone's for an
//! administrator, with a search; release (the site model learns "legitimate") or
//! delete. A message held for several people is an administrator's decision: one
//! recipient releasing it would deliver it to the others too.

use super::audit;
use super::forms::{AdminPosted, Posted};
use super::pages::{self, csrf, layout, notice, page, time};
use super::session::{Admin, Signed};
use super::{Held, QuarantineUnavailable};
use crate::WebState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use palisade_types::QueueId;
use serde::Deserialize;
use std::sync::Arc;

/// Rows shown at once.
const SHOWN: usize = 200;

fn unavailable(_: QuarantineUnavailable) -> Response {
    pages::page(
        StatusCode::SERVICE_UNAVAILABLE,
        layout(
            "Try again later",
            None,
            html! { p { "The quarantine cannot be read now." } },
        ),
    )
}

/// Whether `who` may act on `h` alone: held for their mailbox and no other.
fn only_theirs(who: &Signed, h: &Held) -> bool {
    let key = who.user.lookup_key();
    !h.mailboxes.is_empty() && h.mailboxes.iter().all(|m| m.lookup_key() == key)
}

fn row(who: &Signed, h: &Held, base: &str) -> Markup {
    let id = h.id.to_string();
    html! { tr {
        td { (time(Some(h.arrived))) } td { (h.from) } td { (h.recipients.join(", ")) }
        td { (h.subject) } td { (h.reason) }
        td.actions {
            @for (action, label) in [("release", "Release"), ("delete", "Delete")] {
                form.inline method="post" action={ (base) "/" (action) } {
                    (csrf(who)) input type="hidden" name="id" value=(id);
                    button type="submit" aria-label={ (label) " " (id) } { (label) }
                }
            }
        }
    } }
}

fn table(who: &Signed, list: &[&Held], base: &str) -> Markup {
    html! {
        @if list.is_empty() { p { "Nothing is held." } } @else {
            div.scroll { table {
                thead { tr { th { "Arrived" } th { "From" } th { "To" } th { "Subject" }
                    th { "Why it is held" } th { "Actions" } } }
                tbody { @for h in list.iter().take(SHOWN) { (row(who, h, base)) } }
            } }
        }
    }
}

async fn own_page(state: &WebState, who: &Signed, top: Markup) -> Response {
    let all = match state.quarantine.held().await {
        Ok(a) => a,
        Err(e) => return unavailable(e),
    };
    let key = who.user.lookup_key();
    let mine: Vec<&Held> = all.iter().filter(|h| only_theirs(who, h)).collect();
    let shared = all
        .iter()
        .filter(|h| !only_theirs(who, h) && h.mailboxes.iter().any(|m| m.lookup_key() == key))
        .count();
    let body = html! {
        (top)
        p { "Messages for you that the server held back, with the reason. Release one you \
             trust (it is delivered, and the server learns it was legitimate) or delete it." }
        (table(who, &mine, "/account/quarantine"))
        @if shared > 0 {
            p.hint { (shared) " more held for you and others together: your administrator decides those." }
        }
    };
    page(StatusCode::OK, layout("Quarantine", Some(who), body))
}

pub async fn own(State(state): State<Arc<WebState>>, who: Signed) -> Response {
    own_page(&state, &who, html! {}).await
}

#[derive(Debug, Deserialize)]
pub struct IdForm {
    pub(super) id: String,
}

#[derive(Clone, Copy)]
enum Act {
    Release,
    Delete,
}

/// Does `act` on `id` for `who`; the notice that says how it went.
async fn act(state: &WebState, who: &Signed, id: QueueId, act: Act) -> Result<Markup, Response> {
    let q = &state.quarantine;
    let done = match act {
        Act::Release => q.release(id, &who.user, who.admin).await,
        Act::Delete => q.delete(id).await,
    };
    let (kind, verb) = match act {
        Act::Release => ("web.quarantine_released", "released for delivery"),
        Act::Delete => ("web.quarantine_deleted", "deleted"),
    };
    match done.map_err(unavailable)? {
        true => {
            audit(
                state,
                kind,
                &who.user,
                format!("message {id}, from {}", who.ip),
            )
            .await;
            Ok(notice(true, &format!("Message {id} {verb}.")))
        }
        false => Ok(notice(false, &format!("Message {id} is no longer held."))),
    }
}

/// The user's own action on one of their messages.
async fn own_act(state: &WebState, post: &Posted<IdForm>, what: Act) -> Response {
    let who = &post.who;
    let Some(id) = QueueId::parse(post.form.id.trim()) else {
        return pages::bad_request("That is not a message id.");
    };
    let held = match state.quarantine.held().await {
        Ok(all) => all.into_iter().find(|h| h.id == id),
        Err(e) => return unavailable(e),
    };
    // Never someone else's message: the same answer as for one that is not held.
    let top = match held {
        Some(h) if only_theirs(who, &h) => match act(state, who, id, what).await {
            Ok(n) => n,
            Err(r) => return r,
        },
        _ => notice(false, &format!("Message {id} is no longer held.")),
    };
    own_page(state, who, top).await
}

pub async fn own_release(State(state): State<Arc<WebState>>, post: Posted<IdForm>) -> Response {
    own_act(&state, &post, Act::Release).await
}

pub async fn own_delete(State(state): State<Arc<WebState>>, post: Posted<IdForm>) -> Response {
    own_act(&state, &post, Act::Delete).await
}

#[derive(Debug, Default, Deserialize)]
pub struct Search {
    #[serde(default)]
    q: String,
}

fn matches(h: &Held, needle: &str) -> bool {
    needle.is_empty()
        || [&h.from, &h.subject, &h.reason]
            .iter()
            .any(|f| f.to_lowercase().contains(needle))
        || h.recipients
            .iter()
            .any(|r| r.to_lowercase().contains(needle))
        || h.id.to_string() == needle
        || time(Some(h.arrived)).to_lowercase().contains(needle)
}

async fn all_page(state: &WebState, who: &Signed, q: &str, top: Markup) -> Response {
    let all = match state.quarantine.held().await {
        Ok(a) => a,
        Err(e) => return unavailable(e),
    };
    let needle = q.trim().to_lowercase();
    let found: Vec<&Held> = all.iter().filter(|h| matches(h, &needle)).collect();
    let body = html! {
        (top)
        (pages::search("/admin/quarantine", "Sender, recipient, subject, reason, date (2026-12-07) or id", q))
        p { (found.len()) " of " (all.len()) " held" }
        (table(who, &found, "/admin/quarantine"))
    };
    page(
        StatusCode::OK,
        layout("Quarantine (everyone)", Some(who), body),
    )
}

pub async fn all(
    State(state): State<Arc<WebState>>,
    Admin(who): Admin,
    Query(s): Query<Search>,
) -> Response {
    all_page(&state, &who, &s.q, html! {}).await
}

async fn admin_act(state: &WebState, post: &Posted<IdForm>, what: Act) -> Response {
    let who = &post.who;
    let Some(id) = QueueId::parse(post.form.id.trim()) else {
        return pages::bad_request("That is not a message id.");
    };
    match act(state, who, id, what).await {
        Ok(top) => all_page(state, who, "", top).await,
        Err(r) => r,
    }
}

pub async fn admin_release(
    State(state): State<Arc<WebState>>,
    AdminPosted(post): AdminPosted<IdForm>,
) -> Response {
    admin_act(&state, &post, Act::Release).await
}

pub async fn admin_delete(
    State(state): State<Arc<WebState>>,
    AdminPosted(post): AdminPosted<IdForm>,
) -> Response {
    admin_act(&state, &post, Act::Delete).await
}
