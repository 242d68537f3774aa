//! A user's own keys: OpenPGP keys and S/MIME certificates (imported, listed with
//! fingerprint and expiry, removed), encryption at rest and the outbound encryption
//! policy. Every change re-authenticates; the checks are the CLI's
//! (`palisade_crypt::user_keys`).

use super::account::{reauth, two_factor_on};
use super::audit;
use super::forms::Posted;
use super::pages::{self, csrf, layout, notice, page, reauth_fields_as, time};
use super::session::Signed;
use crate::WebState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use palisade_crypt::policy::OutboundPolicy;
use palisade_crypt::user_keys::{self, AtRest, Removal};
use palisade_store::UserKey;
use serde::Deserialize;
use std::sync::Arc;

/// The outbound choices: a policy of the user's own, or their domain's.
const OUTBOUND: [(&str, &str); 4] = [
    ("domain", "as my domain says"),
    ("never", "never"),
    ("opportunistic", "to every recipient whose key is known"),
    ("required", "always (recipients without a key are bounced)"),
];

fn key_table(list: &[UserKey]) -> Markup {
    html! {
        @if list.is_empty() { p { "You have no keys." } } @else {
            div.scroll { table {
                thead { tr { th { "Kind" } th { "Fingerprint" } th { "Expires" } th { "Names" } } }
                tbody { @for k in list { tr {
                    td { @if k.kind == "smime" { "S/MIME" } @else { "OpenPGP" } }
                    td { code { (k.fingerprint) } } td { (time(k.expires)) }
                    td { (k.user_ids.replace('\n', ", ")) }
                } } }
            } }
        }
    }
}

struct Settings {
    at_rest: bool,
    outbound: Option<String>,
}

fn forms(who: &Signed, list: &[UserKey], s: &Settings, tfa: bool) -> Markup {
    let own = s.outbound.as_deref().unwrap_or("domain");
    html! {
        h2 { "Import a key" }
        form method="post" action="/account/keys/import" {
            (csrf(who))
            p.field {
                label for="key" { "ASCII-armoured OpenPGP public key, or a PEM S/MIME certificate" }
                textarea #key name="key" rows="8" required {}
            }
            (reauth_fields_as("import-", tfa))
            button type="submit" { "Import" }
        }
        h2 { "Encryption" }
        form method="post" action="/account/keys/settings" {
            (csrf(who))
            p.field {
                label for="at-rest" { "Mail stored for me" }
                select #at-rest name="at_rest" {
                    option value="off" selected[!s.at_rest] { "as it arrives" }
                    option value="on" selected[s.at_rest] { "encrypted to my key" }
                }
            }
            p.field {
                label for="outbound" { "Mail I send, encrypted" }
                select #outbound name="outbound" {
                    @for (v, text) in OUTBOUND { option value=(v) selected[v == own] { (text) } }
                }
            }
            (reauth_fields_as("settings-", tfa))
            button type="submit" { "Save" }
        }
        @if !list.is_empty() {
            h2 { "Remove a key" }
            form method="post" action="/account/keys/remove" {
                (csrf(who))
                p.field {
                    label for="fingerprint" { "Key" }
                    select #fingerprint name="fingerprint" {
                        @for k in list { option value=(k.fingerprint) { (k.fingerprint) } }
                    }
                }
                (reauth_fields_as("remove-", tfa))
                button type="submit" { "Remove" }
            }
        }
    }
}

async fn keys_page(state: &WebState, who: &Signed, top: Markup) -> Response {
    let store = &state.store;
    let read = async {
        Ok::<_, palisade_store::StoreError>((
            store.user_keys(&who.user).await?,
            Settings {
                at_rest: store.encrypt_at_rest(&who.user).await?,
                outbound: store.outbound_encryption(&who.user).await?,
            },
        ))
    };
    let (list, settings) = match read.await {
        Ok(r) => r,
        Err(e) => return pages::unavailable(e),
    };
    let tfa = match two_factor_on(state, who).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let body = html! { (top) (key_table(&list)) (forms(who, &list, &settings, tfa)) };
    page(
        StatusCode::OK,
        layout("Keys and encryption", Some(who), body),
    )
}

pub async fn show(State(state): State<Arc<WebState>>, who: Signed) -> Response {
    keys_page(&state, &who, html! {}).await
}

#[derive(Debug, Deserialize)]
pub struct ImportForm {
    key: String,
    password: String,
    #[serde(default)]
    code: String,
}

pub async fn import(State(state): State<Arc<WebState>>, post: Posted<ImportForm>) -> Response {
    let (who, f) = (&post.who, &post.form);
    if let Err(problem) = reauth(&state, who, &f.password, &f.code).await {
        return keys_page(&state, who, notice(false, &problem)).await;
    }
    let store = state.store.as_ref();
    let addresses = match user_keys::addresses_of(store, &who.user).await {
        Ok(a) => a,
        Err(e) => return pages::unavailable(e),
    };
    let top = match user_keys::check(&f.key, &addresses, super::now()) {
        Err(e) => notice(false, &format!("The key is refused: {e}")),
        Ok(row) => match store.add_user_key(&who.user, &row).await {
            Ok(_) => {
                let detail = format!("{} {}, from {}", row.kind, row.fingerprint, who.ip);
                audit(&state, "web.key_added", &who.user, detail).await;
                notice(true, &format!("Key {} imported.", row.fingerprint))
            }
            Err(e) => return pages::unavailable(e),
        },
    };
    keys_page(&state, who, top).await
}

#[derive(Debug, Deserialize)]
pub struct SettingsForm {
    at_rest: String,
    outbound: String,
    password: String,
    #[serde(default)]
    code: String,
}

/// Applies the settings form; the notice saying how it went.
async fn apply(state: &WebState, who: &Signed, f: &SettingsForm) -> Result<Markup, Response> {
    let own = match f.outbound.as_str() {
        "domain" => None,
        other => match other.parse::<OutboundPolicy>() {
            Ok(p) => Some(p.as_str()),
            Err(_) => return Ok(notice(false, "Unknown outbound policy.")),
        },
    };
    let store = state.store.as_ref();
    let on = f.at_rest == "on";
    match user_keys::set_encrypt_at_rest(store, &who.user, on).await {
        Ok(AtRest::Done) => {}
        Ok(AtRest::NoKey) => {
            return Ok(notice(
                false,
                "Import a key first: mail is encrypted to it.",
            ));
        }
        Ok(AtRest::NoUser) => return Err(pages::to_login()),
        Err(e) => return Err(pages::unavailable(e)),
    }
    store
        .set_outbound_encryption(&who.user, own)
        .await
        .map_err(pages::unavailable)?;
    let detail = format!(
        "at rest {}, outbound {}, from {}",
        f.at_rest, f.outbound, who.ip
    );
    audit(state, "web.encryption_set", &who.user, detail).await;
    Ok(notice(true, "Saved."))
}

pub async fn settings(State(state): State<Arc<WebState>>, post: Posted<SettingsForm>) -> Response {
    let (who, f) = (&post.who, &post.form);
    let top = match reauth(&state, who, &f.password, &f.code).await {
        Err(problem) => notice(false, &problem),
        Ok(()) => match apply(&state, who, f).await {
            Ok(n) => n,
            Err(r) => return r,
        },
    };
    keys_page(&state, who, top).await
}

#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    fingerprint: String,
    password: String,
    #[serde(default)]
    code: String,
}

pub async fn remove(State(state): State<Arc<WebState>>, post: Posted<RemoveForm>) -> Response {
    let (who, f) = (&post.who, &post.form);
    if let Err(problem) = reauth(&state, who, &f.password, &f.code).await {
        return keys_page(&state, who, notice(false, &problem)).await;
    }
    let top = match user_keys::remove(state.store.as_ref(), &who.user, &f.fingerprint).await {
        Ok(Removal::Removed) => {
            let detail = format!("{}, from {}", f.fingerprint, who.ip);
            audit(&state, "web.key_removed", &who.user, detail).await;
            notice(true, "The key is removed.")
        }
        Ok(Removal::NoSuchKey) => notice(false, "There is no such key."),
        Ok(Removal::LastKeySealing) => notice(
            false,
            "It is your only key and your mail is encrypted to it: turn that off first.",
        ),
        Err(e) => return pages::unavailable(e),
    };
    keys_page(&state, who, top).await
}
