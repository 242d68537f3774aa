//! Administration: users (unlock, resume sending). Every handler takes [`Admin`]: a
//! user without the role gets 403 before anything is read.

use super::audit;
use super::forms::Posted;
use super::pages::{self, csrf, layout, notice, page, time};
use super::session::{Admin, Signed};
use crate::WebState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use palisade_types::Address;
use serde::Deserialize;
use std::sync::Arc;

/// Users listed at once; a search narrows the rest.
const USERS_SHOWN: usize = 200;

#[derive(Debug, Default, Deserialize)]
pub struct UserQuery {
    #[serde(default)]
    q: String,
}

fn user_row(who: &Signed, u: &palisade_store::User) -> Markup {
    let address = u.address.to_string();
    html! { tr {
        td { (address) } td { (u.name) } td { (time(Some(u.created))) }
        td.actions {
            form.inline method="post" action="/admin/users/unlock" {
                (csrf(who)) input type="hidden" name="address" value=(address);
                button type="submit" aria-label={ "Unlock " (address) } { "Unlock" }
            }
            form.inline method="post" action="/admin/users/resume" {
                (csrf(who)) input type="hidden" name="address" value=(address);
                button type="submit" aria-label={ "Let " (address) " send again" } { "Resume sending" }
            }
        }
    } }
}

async fn users_page(state: &WebState, who: &Signed, q: &str, top: Markup) -> Response {
    let all = match state.store.list_users(None).await {
        Ok(u) => u,
        Err(e) => return pages::unavailable(e),
    };
    let needle = q.trim().to_lowercase();
    let matching: Vec<_> = all
        .iter()
        .filter(|u| {
            needle.is_empty()
                || u.address.lookup_key().contains(&needle)
                || u.name.to_lowercase().contains(&needle)
        })
        .collect();
    let body = html! {
        (top)
        (pages::search("/admin/users", "Find a user", q))
        p { (matching.len()) " of " (all.len()) " users"
            @if matching.len() > USERS_SHOWN { ", the first " (USERS_SHOWN) " shown" } }
        div.scroll { table {
            thead { tr { th { "Address" } th { "Name" } th { "Added" } th { "Actions" } } }
            tbody { @for u in matching.iter().take(USERS_SHOWN) { (user_row(who, u)) } }
        } }
    };
    page(StatusCode::OK, layout("Users", Some(who), body))
}

pub async fn users(
    State(state): State<Arc<WebState>>,
    Admin(who): Admin,
    Query(q): Query<UserQuery>,
) -> Response {
    users_page(&state, &who, &q.q, html! {}).await
}

#[derive(Debug, Deserialize)]
pub struct UserForm {
    address: String,
}

/// The form's user in the store's form (the one parser every identity goes through,
/// then its lookup key), whatever spelling was posted.
fn target(f: &UserForm) -> Result<Address, Markup> {
    Address::parse(f.address.trim())
        .and_then(|a| Address::parse(&a.lookup_key()))
        .map_err(|_| notice(false, "That is not a mail address."))
}

/// The 403 for `post` unless it is by an administrator.
fn not_admin(post: &Posted<UserForm>) -> Option<Response> {
    (!post.who.admin).then(|| pages::forbidden(&post.who, "This action is for administrators."))
}

/// Unlocks `user`'s account for the administrator `who`; the notice saying how it went.
pub(super) async fn unlock_user(
    state: &WebState,
    who: &Signed,
    user: &Address,
) -> Result<Markup, Response> {
    let account = palisade_access::guard::account_key(&user.to_string());
    match palisade_access::guard::unlock(state.store.as_ref(), &account).await {
        Ok(Some(_)) => {
            let detail = format!("by {} from {}", who.user, who.ip);
            audit(state, "web.admin.unlocked", user, detail).await;
            Ok(notice(true, &format!("{account} is unlocked.")))
        }
        Ok(None) => Ok(notice(false, &format!("{account} is not locked."))),
        Err(e) => Err(pages::unavailable(e)),
    }
}

pub async fn unlock(State(state): State<Arc<WebState>>, post: Posted<UserForm>) -> Response {
    if let Some(r) = not_admin(&post) {
        return r;
    }
    let who = &post.who;
    let top = match target(&post.form) {
        Ok(user) => match unlock_user(&state, who, &user).await {
            Ok(n) => n,
            Err(r) => return r,
        },
        Err(m) => m,
    };
    users_page(&state, who, "", top).await
}

pub async fn resume(State(state): State<Arc<WebState>>, post: Posted<UserForm>) -> Response {
    if let Some(r) = not_admin(&post) {
        return r;
    }
    let who = &post.who;
    let top = match target(&post.form) {
        Ok(user) => match state.store.resume_user(&user).await {
            Ok(true) => {
                let detail = format!("by {} from {}", who.user, who.ip);
                audit(&state, "web.admin.sending_resumed", &user, detail).await;
                notice(true, &format!("{user} may send again."))
            }
            Ok(false) => notice(false, &format!("{user} is not suspended.")),
            Err(e) => return pages::unavailable(e),
        },
        Err(m) => m,
    };
    users_page(&state, who, "", top).await
}
