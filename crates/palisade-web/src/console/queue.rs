//! Administration: the delivery queue. Each message with each recipient's state (done,
//! waiting for a retry with the last answer, or being delivered); retry now, or delete
//! without a bounce. The CLI's `palisade queue` reads and acts through the same code
//! (`palisade_queue::view`).

use super::audit;
use super::forms::AdminPosted;
use super::pages::{self, csrf, layout, notice, page, time};
use super::quarantine::IdForm;
use super::session::{Admin, Signed};
use crate::WebState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use palisade_queue::view::{self, Queued, RcptState, ViewError};
use palisade_types::QueueId;
use std::sync::Arc;

/// Messages listed at once (the oldest: those most likely in trouble).
const SHOWN: usize = 500;

fn unavailable(e: ViewError) -> Response {
    match e {
        ViewError::Store(e) => pages::unavailable(e),
        e => {
            tracing::error!(error = &e as &dyn std::error::Error, "console: queue");
            pages::page(
                StatusCode::SERVICE_UNAVAILABLE,
                layout(
                    "Try again later",
                    None,
                    html! { p { "The queue cannot be read now." } },
                ),
            )
        }
    }
}

/// "in 5 min", "now": when a retry is due.
fn due(at: i64) -> String {
    let secs = (at - super::now()).max(0);
    match secs {
        0 => "now".to_string(),
        s if s < 120 => format!("in {s} s"),
        s if s < 7200 => format!("in {} min", s / 60),
        s => format!("in {} h", s / 3600),
    }
}

fn status(q: &Queued) -> String {
    match (q.next_attempt, q.first_error()) {
        (None, _) => "being delivered".to_string(),
        (Some(at), Some(err)) => format!("retry {}: {err}", due(at)),
        (Some(at), None) => format!("retry {}", due(at)),
    }
}

fn row(q: &Queued) -> Markup {
    let m = &q.message;
    html! { tr {
        td { a href={ "/admin/queue/" (m.id) } { (m.id) } }
        td { (time(Some(m.arrived))) } td { (m.envelope.return_path()) }
        td { (m.envelope.rcpt_to.len()) } td { (m.size) } td { (q.attempts) }
        td { (status(q)) }
    } }
}

async fn list_page(state: &WebState, who: &Signed, top: Markup) -> Response {
    let (queued, total) = match view::list(&state.queue_dir, state.store.as_ref(), SHOWN).await {
        Ok(l) => l,
        Err(e) => return unavailable(e),
    };
    let body = html! {
        (top)
        p { (total) " message(s) waiting" @if total > SHOWN { " (the " (SHOWN) " oldest shown)" } }
        @if !queued.is_empty() { div.scroll { table {
            thead { tr { th { "Id" } th { "Arrived" } th { "From" } th { "Recipients" }
                th { "Octets" } th { "Attempts" } th { "State" } } }
            tbody { @for q in &queued { (row(q)) } }
        } } }
    };
    page(StatusCode::OK, layout("Queue", Some(who), body))
}

pub async fn list(State(state): State<Arc<WebState>>, Admin(who): Admin) -> Response {
    list_page(&state, &who, html! {}).await
}

fn rcpt_state(s: &RcptState) -> (&'static str, String) {
    match s {
        RcptState::Done => ("good", "done".to_string()),
        RcptState::Delivering => ("note", "being delivered".to_string()),
        RcptState::Pending {
            next_attempt,
            error,
        } => ("warning", format!("retry {}: {error}", due(*next_attempt))),
    }
}

fn details(who: &Signed, q: &Queued, head: &[u8]) -> Markup {
    let m = &q.message;
    let e = &m.envelope;
    let id = m.id.to_string();
    html! {
        dl {
            dt { "Arrived" } dd { (time(Some(m.arrived))) }
            dt { "From" } dd { (e.return_path()) }
            dt { "Client" } dd { (e.client_ip) " (" (e.helo) ")" }
            dt { "Size" } dd { (m.size) " octets" }
            dt { "Attempts" } dd { (q.attempts) }
        }
        h2 { "Recipients" }
        div.scroll { table {
            thead { tr { th { "Recipient" } th { "State" } } }
            tbody { @for (r, s) in &q.recipients {
                @let (class, text) = rcpt_state(s);
                tr { td { (r) } td { span class={ "state " (class) } { (text) } } }
            } }
        } }
        @for (action, label) in [("retry", "Retry now"), ("delete", "Delete without a bounce")] {
            form.inline method="post" action={ "/admin/queue/" (action) } {
                (csrf(who)) input type="hidden" name="id" value=(id);
                button type="submit" { (label) }
            }
        }
        h2 { "Header" }
        pre.head { (String::from_utf8_lossy(head)) }
    }
}

pub async fn show(
    State(state): State<Arc<WebState>>,
    Admin(who): Admin,
    Path(id): Path<String>,
) -> Response {
    let Some(id) = QueueId::parse(&id) else {
        return pages::not_found();
    };
    match view::show(&state.queue_dir, state.store.as_ref(), id).await {
        Ok(Some((q, head))) => page(
            StatusCode::OK,
            layout(
                &format!("Message {id}"),
                Some(&who),
                details(&who, &q, &head),
            ),
        ),
        Ok(None) => pages::not_found(),
        Err(e) => unavailable(e),
    }
}

#[derive(Clone, Copy)]
enum Act {
    Retry,
    Delete,
}

async fn act(state: &WebState, post: &AdminPosted<IdForm>, what: Act) -> Response {
    let who = &post.0.who;
    let Some(id) = QueueId::parse(post.0.form.id.trim()) else {
        return pages::bad_request("That is not a message id.");
    };
    let (dir, store) = (&state.queue_dir, state.store.as_ref());
    let done = match what {
        Act::Retry => view::retry(dir, store, id).await,
        Act::Delete => view::delete(dir, store, id).await,
    };
    let (kind, verb) = match what {
        Act::Retry => ("web.admin.queue_retried", "will be retried within a second"),
        Act::Delete => ("web.admin.queue_deleted", "is deleted"),
    };
    let top = match done {
        Ok(true) => {
            let detail = format!("message {id}, from {}", who.ip);
            audit(state, kind, &who.user, detail).await;
            notice(true, &format!("Message {id} {verb}."))
        }
        Ok(false) => notice(false, &format!("Message {id} is no longer in the queue.")),
        Err(e) => return unavailable(e),
    };
    list_page(state, who, top).await
}

pub async fn retry(State(state): State<Arc<WebState>>, post: AdminPosted<IdForm>) -> Response {
    act(&state, &post, Act::Retry).await
}

pub async fn delete(State(state): State<Arc<WebState>>, post: AdminPosted<IdForm>) -> Response {
    act(&state, &post, Act::Delete).await
}
