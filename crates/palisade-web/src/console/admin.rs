//! Administration: users (add, remove, reset a password, require two-factor, unlock,
//! resume sending). Every page takes [`Admin`] and every action checks the role first:
//! a user without it gets 403 before anything is read or changed. Values follow the
//! CLI's rules (`palisade_access::forms`, the strength policy).

use super::audit;
use super::forms::AdminPosted;
use super::pages::{self, csrf, field_as, layout, notice, page, time};
use super::session::{Admin, Signed};
use crate::WebState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use palisade_access::forms as rules;
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
    let body = html! { (body) (manage_forms(who)) };
    page(StatusCode::OK, layout("Users", Some(who), body))
}

/// The forms that change users, below the list.
fn manage_forms(who: &Signed) -> Markup {
    html! {
        h2 { "Add a user" }
        form method="post" action="/admin/users/add" {
            (csrf(who))
            (field_as("add-address", "address", "Mail address", "email", "off", true))
            (field_as("add-name", "name", "Display name (optional)", "text", "off", false))
            (field_as("add-password", "password", "Password", "password", "new-password", true))
            (field_as("add-confirm", "confirm", "Password again", "password", "new-password", true))
            button type="submit" { "Add" }
        }
        h2 { "Set a user's password" }
        p.hint { "Their signed-in browsers are signed out." }
        form method="post" action="/admin/users/password" {
            (csrf(who))
            (field_as("pw-address", "address", "Mail address", "email", "off", true))
            (field_as("pw-password", "password", "New password", "password", "new-password", true))
            (field_as("pw-confirm", "confirm", "New password again", "password", "new-password", true))
            button type="submit" { "Set the password" }
        }
        h2 { "Require two-factor" }
        form method="post" action="/admin/users/require-2fa" {
            (csrf(who))
            (field_as("tfa-address", "address", "Mail address", "email", "off", true))
            p.field {
                label for="tfa-on" { "Two-factor" }
                select #tfa-on name="on" {
                    option value="yes" { "required: set up before anything else" }
                    option value="no" { "not required" }
                }
            }
            button type="submit" { "Save" }
        }
        h2 { "Remove a user" }
        p.hint { "Their credentials, keys and sessions go; their mail on disk stays." }
        form method="post" action="/admin/users/remove" {
            (csrf(who))
            (field_as("rm-address", "address", "Mail address", "email", "off", true))
            (field_as("rm-again", "again", "The address again, to confirm", "email", "off", true))
            button type="submit" { "Remove" }
        }
    }
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

pub async fn unlock(
    State(state): State<Arc<WebState>>,
    AdminPosted(post): AdminPosted<UserForm>,
) -> Response {
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

pub async fn resume(
    State(state): State<Arc<WebState>>,
    AdminPosted(post): AdminPosted<UserForm>,
) -> Response {
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

#[derive(Debug, Deserialize)]
pub struct NewUser {
    address: String,
    #[serde(default)]
    name: String,
    password: String,
    confirm: String,
}

/// The new user's address, name and password hash, by the CLI's rules.
async fn read_new_user(state: &WebState, f: &NewUser) -> Result<(Address, String, String), String> {
    let user = rules::new_mailbox(&f.address).map_err(|e| format!("Address: {e}."))?;
    let name = rules::display_name(&f.name).map_err(|e| format!("Name: {e}."))?;
    match state.store.is_local_domain(user.domain()).await {
        Ok(true) => {}
        Ok(false) => return Err(format!("{} is not a local domain.", user.domain())),
        Err(_) => return Err("The server cannot check the domain now.".into()),
    }
    let hash = new_hash(&user, &f.password, &f.confirm).await?;
    Ok((user, name, hash))
}

/// The hash of a password an administrator sets, by the strength policy.
async fn new_hash(user: &Address, password: &str, confirm: &str) -> Result<String, String> {
    if password != confirm {
        return Err("The two passwords differ.".into());
    }
    palisade_access::strength::check(password, user, None)
        .map_err(|r| format!("Password refused: {r}"))?;
    palisade_access::login::hash_new(password)
        .await
        .map_err(|_| "The server cannot set a password now.".into())
}

async fn add_user(state: &WebState, who: &Signed, f: &NewUser) -> Result<Markup, Response> {
    let (user, name, hash) = match read_new_user(state, f).await {
        Ok(r) => r,
        Err(problem) => return Ok(notice(false, &problem)),
    };
    let store = state.store.as_ref();
    match store.add_user(&user, &hash).await {
        Ok(()) => {}
        Err(palisade_store::StoreError::AlreadyExists { .. }) => {
            return Ok(notice(false, &format!("{user} exists already.")));
        }
        Err(e) => return Err(pages::unavailable(e)),
    }
    let named = if name.is_empty() {
        Ok(true)
    } else {
        store.set_user_name(&user, &name).await
    };
    let postmaster = rules::ensure_postmaster(store, user.domain(), &user).await;
    named.and(postmaster).map_err(pages::unavailable)?;
    let detail = format!("by {} from {}", who.user, who.ip);
    audit(state, "web.admin.user_added", &user, detail).await;
    Ok(notice(true, &format!("{user} is added.")))
}

pub async fn add(
    State(state): State<Arc<WebState>>,
    AdminPosted(post): AdminPosted<NewUser>,
) -> Response {
    let who = &post.who;
    match add_user(&state, who, &post.form).await {
        Ok(top) => users_page(&state, who, "", top).await,
        Err(r) => r,
    }
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    address: String,
    password: String,
    confirm: String,
}

async fn set_password(
    state: &WebState,
    who: &Signed,
    f: &PasswordForm,
) -> Result<Markup, Response> {
    let Ok(user) = Address::parse(f.address.trim()).and_then(|a| Address::parse(&a.lookup_key()))
    else {
        return Ok(notice(false, "That is not a mail address."));
    };
    let hash = match new_hash(&user, &f.password, &f.confirm).await {
        Ok(h) => h,
        Err(problem) => return Ok(notice(false, &problem)),
    };
    let store = &state.store;
    if !store
        .set_password_hash(&user, &hash)
        .await
        .map_err(pages::unavailable)?
    {
        return Ok(notice(false, &format!("There is no user {user}.")));
    }
    store
        .remove_web_sessions(&user)
        .await
        .map_err(pages::unavailable)?;
    let detail = format!("by {} from {}", who.user, who.ip);
    audit(state, "web.admin.password_set", &user, detail).await;
    Ok(notice(true, &format!("{user} has a new password.")))
}

pub async fn password(
    State(state): State<Arc<WebState>>,
    AdminPosted(post): AdminPosted<PasswordForm>,
) -> Response {
    let who = &post.who;
    match set_password(&state, who, &post.form).await {
        Ok(top) => users_page(&state, who, "", top).await,
        Err(r) => r,
    }
}

#[derive(Debug, Deserialize)]
pub struct RequireForm {
    address: String,
    on: String,
}

pub async fn require_2fa(
    State(state): State<Arc<WebState>>,
    AdminPosted(post): AdminPosted<RequireForm>,
) -> Response {
    let who = &post.who;
    let on = post.form.on == "yes";
    let top = match target(&UserForm {
        address: post.form.address.clone(),
    }) {
        Ok(user) => match state.store.set_require_2fa(&user, on).await {
            Ok(true) => {
                let kind = if on {
                    "web.admin.2fa_required"
                } else {
                    "web.admin.2fa_not_required"
                };
                audit(
                    &state,
                    kind,
                    &user,
                    format!("by {} from {}", who.user, who.ip),
                )
                .await;
                let said = if on {
                    "must set up two-factor"
                } else {
                    "need not use two-factor"
                };
                notice(true, &format!("{user} {said}."))
            }
            Ok(false) => notice(false, &format!("There is no user {user}.")),
            Err(e) => return pages::unavailable(e),
        },
        Err(m) => m,
    };
    users_page(&state, who, "", top).await
}

#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    address: String,
    again: String,
}

pub async fn remove(
    State(state): State<Arc<WebState>>,
    AdminPosted(post): AdminPosted<RemoveForm>,
) -> Response {
    let who = &post.who;
    let f = &post.form;
    let top = match target(&UserForm {
        address: f.address.clone(),
    }) {
        Ok(user) if !f.again.trim().eq_ignore_ascii_case(f.address.trim()) => {
            notice(false, &format!("The two addresses differ: {user} is kept."))
        }
        Ok(user) if user.lookup_key() == who.user.lookup_key() => {
            notice(false, "You cannot remove yourself here.")
        }
        Ok(user) => match state.store.remove_user(&user).await {
            Ok(true) => {
                let detail = format!("by {} from {}", who.user, who.ip);
                audit(&state, "web.admin.user_removed", &user, detail).await;
                notice(true, &format!("{user} is removed."))
            }
            Ok(false) => notice(false, &format!("There is no user {user}.")),
            Err(palisade_store::StoreError::InUse { .. }) => notice(
                false,
                &format!("{user} is still the target of an alias: remove that first."),
            ),
            Err(e) => return pages::unavailable(e),
        },
        Err(m) => m,
    };
    users_page(&state, who, "", top).await
}
