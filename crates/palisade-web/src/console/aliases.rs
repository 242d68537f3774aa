//! Administration: aliases and groups (the CLI's `alias add|remove|list`), and send-as
//! delegations (`user send-as`), by the same rules (`palisade_access::aliases`).

use super::audit;
use super::forms::AdminPosted;
use super::pages::{self, csrf, field_as, layout, notice, page};
use super::session::{Admin, Signed};
use crate::WebState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use palisade_access::aliases::{self, AliasRefused};
use palisade_store::AliasSource;
use palisade_types::Address;
use serde::Deserialize;
use std::sync::Arc;

fn alias_forms(who: &Signed) -> Markup {
    html! {
        h2 { "Add an alias or a group" }
        p.hint { "One local user makes an alias (*@domain catches the rest of a domain); \
                  several addresses, or one elsewhere, make a group." }
        form method="post" action="/admin/aliases/add" {
            (csrf(who))
            (field_as("alias-source", "source", "Address (or *@domain)", "text", "off", true))
            (field_as("alias-targets", "targets", "Delivers to (addresses, separated by spaces or commas)", "text", "off", true))
            button type="submit" { "Add" }
        }
        h2 { "Send as" }
        p.hint { "Lets a user send with another address in From and MAIL FROM." }
        form method="post" action="/admin/aliases/send-as" {
            (csrf(who))
            (field_as("sa-user", "user", "User", "email", "off", true))
            (field_as("sa-address", "address", "May send as (an address or *@domain)", "text", "off", true))
            p.field {
                label for="sa-action" { "Change" }
                select #sa-action name="action" {
                    option value="add" { "allow" }
                    option value="remove" { "stop allowing" }
                }
            }
            button type="submit" { "Save" }
        }
        (pages::search("/admin/aliases/send-as", "Whose send-as delegations? (a user)", ""))
    }
}

async fn aliases_page(state: &WebState, who: &Signed, top: Markup) -> Response {
    let list = match aliases::list(state.store.as_ref()).await {
        Ok(l) => l,
        Err(e) => return pages::unavailable(e),
    };
    let body = html! {
        (top)
        @if list.is_empty() { p { "No aliases or groups." } } @else {
            div.scroll { table {
                thead { tr { th { "Address" } th { "Delivers to" } th { "Remove" } } }
                tbody { @for (source, targets) in &list { tr {
                    td { (source) } td { (targets.join(", ")) }
                    td { form.inline method="post" action="/admin/aliases/remove" {
                        (csrf(who)) input type="hidden" name="source" value=(source);
                        button type="submit" aria-label={ "Remove " (source) } { "Remove" }
                    } }
                } } }
            } }
        }
        (alias_forms(who))
    };
    page(
        StatusCode::OK,
        layout("Aliases and groups", Some(who), body),
    )
}

pub async fn show(State(state): State<Arc<WebState>>, Admin(who): Admin) -> Response {
    aliases_page(&state, &who, html! {}).await
}

#[derive(Debug, Deserialize)]
pub struct AddForm {
    source: String,
    targets: String,
}

/// The targets typed, each by the one address parser.
fn targets(text: &str) -> Result<Vec<Address>, String> {
    let list: Vec<&str> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .collect();
    if list.is_empty() || list.len() > 100 {
        return Err("Give 1 to 100 addresses.".into());
    }
    list.iter()
        .map(|t| Address::parse(t).map_err(|e| format!("{t:?}: {e}.")))
        .collect()
}

async fn add_alias(state: &WebState, who: &Signed, f: &AddForm) -> Result<Markup, Response> {
    let s = match aliases::source(&f.source) {
        Ok(s) => s,
        Err(e) => return Ok(notice(false, &format!("{:?}: {e}.", f.source.trim()))),
    };
    let targets = match targets(&f.targets) {
        Ok(t) => t,
        Err(problem) => return Ok(notice(false, &problem)),
    };
    match aliases::add(state.store.as_ref(), &s, &targets).await {
        Ok(added) => {
            let text: Vec<String> = added.iter().map(|(s, t)| format!("{s} -> {t}")).collect();
            let detail = format!("{}, from {}", text.join("; "), who.ip);
            audit(state, "web.admin.alias_added", &who.user, detail).await;
            Ok(notice(true, &format!("Added: {}.", text.join("; "))))
        }
        Err(AliasRefused::Store(
            e @ (palisade_store::StoreError::AlreadyExists { .. }
            | palisade_store::StoreError::UnknownDomain { .. }
            | palisade_store::StoreError::UnknownUser { .. }),
        )) => Ok(notice(false, &format!("{e}."))),
        Err(AliasRefused::Store(e)) => Err(pages::unavailable(e)),
        Err(e) => Ok(notice(false, &format!("{e}."))),
    }
}

pub async fn add(
    State(state): State<Arc<WebState>>,
    AdminPosted(post): AdminPosted<AddForm>,
) -> Response {
    match add_alias(&state, &post.who, &post.form).await {
        Ok(top) => aliases_page(&state, &post.who, top).await,
        Err(r) => r,
    }
}

#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    source: String,
}

pub async fn remove(
    State(state): State<Arc<WebState>>,
    AdminPosted(post): AdminPosted<RemoveForm>,
) -> Response {
    let who = &post.who;
    let top = match AliasSource::parse(post.form.source.trim()) {
        Err(e) => notice(false, &format!("{e}.")),
        Ok(s) => match aliases::remove(state.store.as_ref(), &s).await {
            Ok(true) => {
                audit(
                    &state,
                    "web.admin.alias_removed",
                    &who.user,
                    format!("{s}, from {}", who.ip),
                )
                .await;
                notice(true, &format!("{s} is removed."))
            }
            Ok(false) => notice(false, &format!("There is no alias or group {s}.")),
            Err(e) => return pages::unavailable(e),
        },
    };
    aliases_page(&state, who, top).await
}

#[derive(Debug, Deserialize)]
pub struct SendAsForm {
    user: String,
    address: String,
    action: String,
}

async fn send_as(state: &WebState, who: &Signed, f: &SendAsForm) -> Result<Markup, Response> {
    let Ok(user) = Address::parse(f.user.trim()) else {
        return Ok(notice(false, "The user is not a mail address."));
    };
    let target = match aliases::send_as_target(&f.address) {
        Ok(t) => t,
        Err(e) => return Ok(notice(false, &format!("{:?}: {e}.", f.address.trim()))),
    };
    let store = &state.store;
    let (done, kind, said) = if f.action == "remove" {
        let removed = store
            .remove_send_as(&user, &target)
            .await
            .map_err(pages::unavailable)?;
        (
            removed,
            "web.admin.send_as_removed",
            "may no longer send as",
        )
    } else {
        match store.add_send_as(&user, &target).await {
            Ok(()) => (true, "web.admin.send_as_added", "may now send as"),
            Err(e @ palisade_store::StoreError::AlreadyExists { .. })
            | Err(e @ palisade_store::StoreError::UnknownUser { .. }) => {
                return Ok(notice(false, &format!("{e}.")));
            }
            Err(e) => return Err(pages::unavailable(e)),
        }
    };
    if !done {
        return Ok(notice(false, &format!("{user} has no send-as {target}.")));
    }
    audit(
        state,
        kind,
        &user,
        format!("send-as {target}, by {} from {}", who.user, who.ip),
    )
    .await;
    Ok(notice(true, &format!("{user} {said} {target}.")))
}

pub async fn send_as_change(
    State(state): State<Arc<WebState>>,
    AdminPosted(post): AdminPosted<SendAsForm>,
) -> Response {
    match send_as(&state, &post.who, &post.form).await {
        Ok(top) => aliases_page(&state, &post.who, top).await,
        Err(r) => r,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct UserQuery {
    #[serde(default)]
    q: String,
}

/// A user's send-as delegations (`?user=`), for the administrator.
pub async fn send_as_list(
    State(state): State<Arc<WebState>>,
    Admin(who): Admin,
    Query(q): Query<UserQuery>,
) -> Response {
    let Ok(user) = Address::parse(q.q.trim()) else {
        return aliases_page(&state, &who, notice(false, "Name a user.")).await;
    };
    match state.store.list_send_as(&user).await {
        Ok(list) if list.is_empty() => {
            aliases_page(
                &state,
                &who,
                notice(
                    true,
                    &format!("{user} sends only as themselves and their aliases."),
                ),
            )
            .await
        }
        Ok(list) => {
            let text = format!("{user} may also send as {}.", list.join(", "));
            aliases_page(&state, &who, notice(true, &text)).await
        }
        Err(e) => pages::unavailable(e),
    }
}
