//! Passkeys (WebAuthn Level 3 through webauthn-rs): registered by a signed-in user after
//! re-authentication, listed and removed; a login with one needs no password or code
//! (user verification is required, so the passkey is two factors in itself). The relying
//! party is the server's host name, any port.
//!
//! A ceremony is two requests: its state waits here in memory (at most
//! [`MAX_CEREMONIES`], the oldest giving way; five minutes each), so both requests must
//! reach the same node.

use super::account::{reauth, two_factor_on};
use super::audit;
use super::forms::{LoginPost, Posted};
use super::pages::{
    self, csrf, field, layout, notice, page, reauth_fields, reauth_fields_as, time,
};
use super::session::{self, Signed};
use crate::WebState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use palisade_store::StoredPasskey;
use palisade_types::Address;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use webauthn_rs::prelude::*;

/// Ceremonies waiting for their second request, at most.
const MAX_CEREMONIES: usize = 1024;
/// How long a ceremony may wait (seconds).
const CEREMONY_LIFETIME: i64 = 300;

enum Ceremony {
    Register {
        user: String,
        label: String,
        state: PasskeyRegistration,
    },
    Login {
        user: Address,
        state: PasskeyAuthentication,
    },
}

/// Ceremonies in progress, by a random id.
#[derive(Default)]
pub struct Ceremonies(Mutex<HashMap<String, (i64, Ceremony)>>);

impl Ceremonies {
    fn put(&self, c: Ceremony) -> Option<String> {
        let id = session::random_token()?;
        let now = super::now();
        let mut map = self.0.lock().ok()?;
        map.retain(|_, (at, _)| now - *at < CEREMONY_LIFETIME);
        if map.len() >= MAX_CEREMONIES {
            // Full (a flood of starts): the oldest gives way, so new ones still begin.
            let oldest = map
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        map.insert(id.clone(), (now, c));
        Some(id)
    }

    fn take(&self, id: &str) -> Option<Ceremony> {
        let (at, c) = self.0.lock().ok()?.remove(id)?;
        (super::now() - at < CEREMONY_LIFETIME).then_some(c)
    }
}

/// The verifier for this server: the relying party is `hostname`, on any port.
fn verifier(state: &WebState) -> Option<Webauthn> {
    let host = (state.config)().hostname.to_string();
    let origin = Url::parse(&format!("https://{host}")).ok()?;
    WebauthnBuilder::new(&host, &origin)
        .ok()?
        .rp_name("Palisade")
        .allow_any_port(true)
        .build()
        .ok()
}

/// The user handle the authenticator keeps: derived from the mailbox, stable.
fn user_handle(user: &Address) -> Uuid {
    let d = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("palisade-user:{}", user.lookup_key()).as_bytes(),
    );
    let mut b = [0u8; 16];
    b.copy_from_slice(&d.as_ref()[..16]);
    Uuid::from_bytes(b)
}

/// A credential id as stored: base64url without padding.
fn credential_id(id: &CredentialID) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_slice())
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn refused(status: StatusCode, why: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        why.to_string(),
    )
        .into_response()
}

/// The options for the browser, with the ceremony's id beside them.
fn challenge<T: serde::Serialize>(ceremony: &str, options: &T) -> Response {
    let body = serde_json::json!({ "ceremony": ceremony, "options": options });
    json(StatusCode::OK, body.to_string())
}

fn registered(who: &Signed, list: &[StoredPasskey], tfa: bool) -> Markup {
    html! {
        @if list.is_empty() { p { "You have no passkeys." } } @else {
            div.scroll { table {
                thead { tr { th { "Label" } th { "Added" } th { "Last used" } } }
                tbody { @for k in list { tr {
                    td { (k.label) } td { (time(Some(k.created))) } td { (time(k.last_used)) }
                } } }
            } }
            h2 { "Remove a passkey" }
            form method="post" action="/account/passkeys/remove" {
                (csrf(who))
                p.field {
                    label for="remove-id" { "Passkey" }
                    select #remove-id name="id" {
                        @for k in list { option value=(k.credential_id) { (k.label) } }
                    }
                }
                (reauth_fields_as("remove-", tfa))
                button type="submit" { "Remove" }
            }
        }
        h2 { "Add a passkey" }
        form #passkey-register method="post" action="/account/passkeys/start" {
            (csrf(who))
            (field("label", "Label (which device)", "text", "off", true))
            (reauth_fields(tfa))
            button type="submit" { "Add a passkey" }
            p #passkey-status role="status" {}
        }
        script src="/console.js" {}
    }
}

async fn list_page(state: &WebState, who: &Signed, top: Markup) -> Response {
    let tfa = match two_factor_on(state, who).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match state.store.passkeys(&who.user).await {
        Ok(list) => {
            let body = html! { (top) (registered(who, &list, tfa)) };
            page(StatusCode::OK, layout("Passkeys", Some(who), body))
        }
        Err(e) => pages::unavailable(e),
    }
}

pub async fn show(State(state): State<Arc<WebState>>, who: Signed) -> Response {
    list_page(&state, &who, html! {}).await
}

#[derive(Debug, Deserialize)]
pub struct StartForm {
    label: String,
    password: String,
    #[serde(default)]
    code: String,
}

/// Registration, first request: re-authenticated, the options for
/// `navigator.credentials.create`.
pub async fn register_start(
    State(state): State<Arc<WebState>>,
    post: Posted<StartForm>,
) -> Response {
    let (who, f) = (&post.who, &post.form);
    let label = match palisade_access::forms::app_password_label(&f.label) {
        Ok(l) => l,
        Err(e) => return refused(StatusCode::BAD_REQUEST, &format!("Label: {e}.")),
    };
    if let Err(problem) = reauth(&state, who, &f.password, &f.code).await {
        return refused(StatusCode::FORBIDDEN, &problem);
    }
    let existing = match state.store.passkeys(&who.user).await {
        Ok(l) => l,
        Err(e) => return pages::unavailable(e),
    };
    let exclude: Vec<CredentialID> = existing
        .iter()
        .filter_map(|k| serde_json::from_str::<Passkey>(&k.passkey).ok())
        .map(|p| p.cred_id().clone())
        .collect();
    let name = who.user.to_string();
    let started = verifier(&state).and_then(|w| {
        w.start_passkey_registration(user_handle(&who.user), &name, &name, Some(exclude))
            .ok()
    });
    let Some((options, state_)) = started else {
        return refused(StatusCode::SERVICE_UNAVAILABLE, "Passkeys are unavailable.");
    };
    let ceremony = Ceremony::Register {
        user: who.user.lookup_key(),
        label,
        state: state_,
    };
    match state.ceremonies.put(ceremony) {
        Some(id) => challenge(&id, &options),
        None => refused(StatusCode::SERVICE_UNAVAILABLE, "Try again."),
    }
}

#[derive(Debug, Deserialize)]
pub struct FinishForm {
    ceremony: String,
    credential: String,
}

/// Registration, second request: the authenticator's answer, verified and stored.
pub async fn register_finish(
    State(state): State<Arc<WebState>>,
    post: Posted<FinishForm>,
) -> Response {
    let (who, f) = (&post.who, &post.form);
    let Some(Ceremony::Register {
        user,
        label,
        state: reg,
    }) = state.ceremonies.take(&f.ceremony)
    else {
        return refused(StatusCode::BAD_REQUEST, "The request expired: try again.");
    };
    if user != who.user.lookup_key() {
        return refused(StatusCode::FORBIDDEN, "Not your request.");
    }
    let answer = serde_json::from_str::<RegisterPublicKeyCredential>(&f.credential).ok();
    let key = answer.and_then(|a| verifier(&state)?.finish_passkey_registration(&a, &reg).ok());
    let Some(key) = key else {
        return refused(
            StatusCode::BAD_REQUEST,
            "The passkey could not be verified.",
        );
    };
    let stored = StoredPasskey {
        credential_id: credential_id(key.cred_id()),
        user,
        label: label.clone(),
        passkey: serde_json::to_string(&key).unwrap_or_default(),
        created: super::now(),
        last_used: None,
    };
    if let Err(e) = state.store.add_passkey(&stored).await {
        return pages::unavailable(e);
    }
    let detail = format!("label {label:?}, from {}", who.ip);
    audit(&state, "web.passkey_added", &who.user, detail).await;
    json(StatusCode::OK, "{\"ok\":true}".into())
}

#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    id: String,
    password: String,
    #[serde(default)]
    code: String,
}

pub async fn remove(State(state): State<Arc<WebState>>, post: Posted<RemoveForm>) -> Response {
    let (who, f) = (&post.who, &post.form);
    if let Err(problem) = reauth(&state, who, &f.password, &f.code).await {
        return list_page(&state, who, notice(false, &problem)).await;
    }
    let top = match state.store.remove_passkey(&who.user, &f.id).await {
        Ok(true) => {
            audit(
                &state,
                "web.passkey_removed",
                &who.user,
                format!("from {}", who.ip),
            )
            .await;
            notice(true, "The passkey is removed.")
        }
        Ok(false) => notice(false, "There is no such passkey."),
        Err(e) => return pages::unavailable(e),
    };
    list_page(&state, who, top).await
}

#[derive(Debug, Deserialize)]
pub struct LoginStart {
    address: String,
}

/// Login, first request: the options for `navigator.credentials.get` with the user's
/// passkeys.
pub async fn login_start(
    State(state): State<Arc<WebState>>,
    post: LoginPost<LoginStart>,
) -> Response {
    if state.logins.banned(post.ip) {
        return refused(
            StatusCode::FORBIDDEN,
            "Your address is blocked for a while.",
        );
    }
    let Ok(user) =
        Address::parse(post.form.address.trim()).and_then(|a| Address::parse(&a.lookup_key()))
    else {
        return refused(StatusCode::BAD_REQUEST, "That is not a mail address.");
    };
    let keys: Vec<Passkey> = match state.store.passkeys(&user).await {
        Ok(l) => l
            .iter()
            .filter_map(|k| serde_json::from_str(&k.passkey).ok())
            .collect(),
        Err(e) => return pages::unavailable(e),
    };
    if keys.is_empty() {
        return refused(
            StatusCode::UNAUTHORIZED,
            "No passkey is registered for that address.",
        );
    }
    let Some((options, auth)) =
        verifier(&state).and_then(|w| w.start_passkey_authentication(&keys).ok())
    else {
        return refused(StatusCode::SERVICE_UNAVAILABLE, "Passkeys are unavailable.");
    };
    match state.ceremonies.put(Ceremony::Login { user, state: auth }) {
        Some(id) => challenge(&id, &options),
        None => refused(StatusCode::SERVICE_UNAVAILABLE, "Try again."),
    }
}

/// Login, second request: the assertion verified, its counter kept, a session opened.
pub async fn login_finish(
    State(state): State<Arc<WebState>>,
    post: LoginPost<FinishForm>,
) -> Response {
    let f = &post.form;
    let Some(Ceremony::Login { user, state: auth }) = state.ceremonies.take(&f.ceremony) else {
        return refused(StatusCode::BAD_REQUEST, "The request expired: try again.");
    };
    let answer = serde_json::from_str::<PublicKeyCredential>(&f.credential).ok();
    let result = answer.and_then(|a| {
        verifier(&state)?
            .finish_passkey_authentication(&a, &auth)
            .ok()
    });
    let Some(result) = result else {
        audit(
            &state,
            "web.passkey_failed",
            &user,
            format!("from {}", post.ip),
        )
        .await;
        return refused(
            StatusCode::UNAUTHORIZED,
            "The passkey could not be verified.",
        );
    };
    if let Err(r) = keep_counter(&state, &user, &result).await {
        return r;
    }
    let Some((id, s)) = session::open(&user, post.ip, super::now()) else {
        return refused(StatusCode::SERVICE_UNAVAILABLE, "Try again.");
    };
    if let Err(e) = state.store.put_web_session(&s).await {
        return pages::unavailable(e);
    }
    audit(
        &state,
        "web.login",
        &user,
        format!("from {} (passkey)", post.ip),
    )
    .await;
    super::auth::signed_in(id)
}

/// Stores the passkey's new counter and backup state after `result`.
async fn keep_counter(
    state: &WebState,
    user: &Address,
    result: &AuthenticationResult,
) -> Result<(), Response> {
    let keys = state
        .store
        .passkeys(user)
        .await
        .map_err(pages::unavailable)?;
    for k in keys {
        let Ok(mut key) = serde_json::from_str::<Passkey>(&k.passkey) else {
            continue;
        };
        if key.update_credential(result).is_some() {
            let json = serde_json::to_string(&key).unwrap_or(k.passkey);
            let now = super::now();
            state
                .store
                .touch_passkey(&k.credential_id, &json, now)
                .await
                .map_err(pages::unavailable)?;
        }
    }
    Ok(())
}
