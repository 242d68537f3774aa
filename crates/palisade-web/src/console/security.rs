//! Administration: the brute-force defences at work. Bans in force (lift), locked
//! accounts (unlock) and the security events, searched.

use super::audit;
use super::forms::AdminPosted;
use super::pages::{self, csrf, layout, notice, page, search, time};
use super::session::{Admin, Signed};
use crate::WebState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use palisade_store::{Block, Event};
use palisade_types::Address;
use serde::Deserialize;
use std::sync::Arc;

/// Events read for the page (newest first) and shown at most.
const EVENTS_READ: u32 = 2000;
const EVENTS_SHOWN: usize = 300;

/// A table of blocks, each with a button posting `field=key` to `action`.
fn blocks(who: &Signed, list: &[Block], action: &str, field: &str, button: &str) -> Markup {
    html! {
        @if list.is_empty() { p { "None." } } @else {
            div.scroll { table {
                thead { tr { th { "Who" } th { "Since" } th { "Until" } th { "Why" } th { (button) } } }
                tbody { @for b in list { tr {
                    td { (b.key) } td { (time(Some(b.since))) } td { (time(Some(b.until))) }
                    td { (b.reason) }
                    td { form.inline method="post" action=(action) {
                        (csrf(who)) input type="hidden" name=(field) value=(b.key);
                        button type="submit" aria-label={ (button) " " (b.key) } { (button) }
                    } }
                } } }
            } }
        }
    }
}

fn events(list: &[&Event]) -> Markup {
    html! {
        div.scroll { table {
            thead { tr { th { "When" } th { "What" } th { "About" } th { "Details" } } }
            tbody { @for e in list.iter().take(EVENTS_SHOWN) { tr {
                td { (time(Some(e.time))) } td { (e.kind) } td { (e.subject) } td { (e.detail) }
            } } }
        } }
    }
}

async fn security_page(state: &WebState, who: &Signed, q: &str, top: Markup) -> Response {
    let now = super::now();
    let store = &state.store;
    let read = async {
        Ok::<_, palisade_store::StoreError>((
            store.list_bans(now).await?,
            store.list_lockouts(now).await?,
            store.recent_events(EVENTS_READ).await?,
        ))
    };
    let (bans, locks, all) = match read.await {
        Ok(r) => r,
        Err(e) => return pages::unavailable(e),
    };
    let needle = q.trim().to_lowercase();
    let found: Vec<&Event> = all
        .iter()
        .filter(|e| {
            needle.is_empty()
                || [&e.kind, &e.subject, &e.detail]
                    .iter()
                    .any(|f| f.to_lowercase().contains(&needle))
        })
        .collect();
    let body = html! {
        (top)
        h2 { "Addresses banned" }
        p.hint { "A lifted ban lets the address in within five seconds, on every node." }
        (blocks(who, &bans, "/admin/security/lift", "ip", "Lift"))
        h2 { "Accounts locked" }
        (blocks(who, &locks, "/admin/security/unlock", "address", "Unlock"))
        h2 { "Security events" }
        (search("/admin/security", "Kind, user, address or detail", q))
        p { (found.len()) " of the latest " (all.len()) }
        (events(&found))
    };
    page(StatusCode::OK, layout("Security", Some(who), body))
}

#[derive(Debug, Default, Deserialize)]
pub struct Search {
    #[serde(default)]
    q: String,
}

pub async fn show(
    State(state): State<Arc<WebState>>,
    Admin(who): Admin,
    Query(s): Query<Search>,
) -> Response {
    security_page(&state, &who, &s.q, html! {}).await
}

#[derive(Debug, Deserialize)]
pub struct LiftForm {
    ip: String,
}

pub async fn lift(
    State(state): State<Arc<WebState>>,
    AdminPosted(post): AdminPosted<LiftForm>,
) -> Response {
    let who = &post.who;
    let Ok(ip) = post.form.ip.trim().parse::<std::net::IpAddr>() else {
        return pages::bad_request("That is not an IP address.");
    };
    let top = match palisade_access::guard::lift_ban(state.store.as_ref(), ip).await {
        Ok(Some(key)) => {
            let detail = format!("{key} by {} from {}", who.user, who.ip);
            audit(&state, "web.admin.unbanned", &who.user, detail).await;
            notice(true, &format!("{key} is no longer banned."))
        }
        Ok(None) => notice(false, &format!("{ip} is not banned.")),
        Err(e) => return pages::unavailable(e),
    };
    security_page(&state, who, "", top).await
}

#[derive(Debug, Deserialize)]
pub struct UnlockForm {
    address: String,
}

pub async fn unlock(
    State(state): State<Arc<WebState>>,
    AdminPosted(post): AdminPosted<UnlockForm>,
) -> Response {
    let who = &post.who;
    let top = match Address::parse(post.form.address.trim()) {
        Ok(user) => match super::admin::unlock_user(&state, who, &user).await {
            Ok(n) => n,
            Err(r) => return r,
        },
        Err(_) => notice(false, "That is not a mail address."),
    };
    security_page(&state, who, "", top).await
}
