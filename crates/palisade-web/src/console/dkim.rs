//! Administration: a domain's DKIM keys. Generate the first keys (they sign at once),
//! rotate (new keys wait, `pending`, while their records reach DNS), activate (the key
//! replaced is retired). Each key's record is shown as its name and value, ready to
//! paste into a DNS console. The CLI's `palisade dkim` does the same through the same
//! code (`palisade_checks::dkim_keys`).

use super::audit;
use super::domains::domain_page;
use super::forms::AdminPosted;
use super::pages::{self, csrf, notice, time};
use super::session::Signed;
use crate::WebState;
use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use palisade_checks::dkim_keys::{self, KeyError};
use palisade_checks::signing::KeyAlgorithm;
use palisade_store::DkimKey;
use palisade_types::Domain;
use serde::Deserialize;
use std::sync::Arc;

fn state_class(state: &str) -> &'static str {
    match state {
        dkim_keys::ACTIVE => "good",
        dkim_keys::PENDING => "warning",
        _ => "note",
    }
}

fn key_row(who: &Signed, k: &DkimKey) -> Markup {
    let r = dkim_keys::record(k);
    html! { tr {
        td { (k.selector) } td { (k.algorithm) }
        td { span class={ "state " (state_class(&k.state)) } { (k.state) } }
        td { (time(Some(k.created))) }
        td { dl.record {
            dt { "Name" } dd { code { (r.name) } }
            dt { "Type" } dd { "TXT" }
            dt { "Value" } dd { code.value { (r.value) } }
        } }
        td.actions { @if k.state != dkim_keys::ACTIVE {
            form.inline method="post" action="/admin/dkim/activate" {
                (csrf(who))
                input type="hidden" name="domain" value=(k.domain);
                input type="hidden" name="selector" value=(k.selector);
                button type="submit" aria-label={ "Activate " (k.selector) } { "Activate" }
            }
        } }
    } }
}

/// The keys of `domain`, and the forms that make new ones.
pub(super) fn keys(who: &Signed, domain: &Domain, keys: &[DkimKey]) -> Markup {
    let any_active = keys.iter().any(|k| k.state == dkim_keys::ACTIVE);
    let (action, label, hint) = if any_active {
        (
            "/admin/dkim/rotate",
            "Rotate: new keys",
            "New keys wait until you activate them: publish their records first, and \
             activate once DNS answers with them.",
        )
    } else {
        (
            "/admin/dkim/generate",
            "Generate keys",
            "An Ed25519 and an RSA key; they sign mail at once, so publish their records now.",
        )
    };
    html! {
        @if keys.is_empty() { p { "No keys yet: mail from " (domain) " is not signed." } }
        @else { div.scroll { table.keys {
            thead { tr { th { "Selector" } th { "Algorithm" } th { "State" } th { "Created" }
                th { "Record to publish" } th { "Actions" } } }
            tbody { @for k in keys { (key_row(who, k)) } }
        } } }
        form method="post" action=(action) {
            (csrf(who)) input type="hidden" name="domain" value=(domain);
            p.hint { (hint) }
            button type="submit" { (label) }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct KeyForm {
    domain: String,
    #[serde(default)]
    selector: String,
}

#[derive(Clone, Copy)]
enum Act {
    Generate,
    Rotate,
    Activate,
}

/// Does `what`; the notice that says how it went.
async fn act(state: &WebState, d: &Domain, selector: &str, what: Act) -> Result<String, KeyError> {
    let (store, now) = (state.store.as_ref(), super::now());
    let both = [KeyAlgorithm::Ed25519, KeyAlgorithm::Rsa];
    let names = |made: Vec<DkimKey>| {
        let s: Vec<String> = made.into_iter().map(|k| k.selector).collect();
        s.join(" and ")
    };
    Ok(match what {
        Act::Generate => {
            let made = dkim_keys::keygen(store, d, &both, None, now).await?;
            format!("Keys {} made: publish their records below.", names(made))
        }
        Act::Rotate => {
            let made = dkim_keys::rotate(store, d, now).await?;
            format!(
                "Keys {} made and waiting: publish their records, then activate them.",
                names(made)
            )
        }
        Act::Activate => {
            let retired = dkim_keys::activate(store, d, selector).await?;
            let mut text = format!("{selector} now signs mail from {d}.");
            if !retired.is_empty() {
                text.push_str(&format!(
                    " Retired {}: keep its record published a few days for mail in transit.",
                    retired.join(", ")
                ));
            }
            text
        }
    })
}

async fn handle(state: &WebState, post: &AdminPosted<KeyForm>, what: Act) -> Response {
    let who = &post.0.who;
    let form = &post.0.form;
    let Ok(domain) = Domain::parse(form.domain.trim()) else {
        return pages::bad_request("That is not a domain name.");
    };
    match state.store.is_local_domain(&domain).await {
        Ok(true) => {}
        Ok(false) => return pages::not_found(),
        Err(e) => return pages::unavailable(e),
    }
    let selector = form.selector.trim();
    let top = match act(state, &domain, selector, what).await {
        Ok(text) => {
            let detail = format!("{domain}: {text} From {}", who.ip);
            audit(state, "web.admin.dkim", &who.user, detail).await;
            notice(true, &text)
        }
        Err(KeyError::Store(e)) => return pages::unavailable(e),
        Err(e @ (KeyError::Signing(_) | KeyError::Interrupted)) => {
            tracing::error!(error = &e as &dyn std::error::Error, "console: DKIM key");
            notice(false, "The key could not be made. Try again.")
        }
        Err(e) => notice(false, &format!("{e}.")),
    };
    domain_page(state, who, &domain, top).await
}

pub async fn generate(State(state): State<Arc<WebState>>, post: AdminPosted<KeyForm>) -> Response {
    handle(&state, &post, Act::Generate).await
}

pub async fn rotate(State(state): State<Arc<WebState>>, post: AdminPosted<KeyForm>) -> Response {
    handle(&state, &post, Act::Rotate).await
}

pub async fn activate(State(state): State<Arc<WebState>>, post: AdminPosted<KeyForm>) -> Response {
    handle(&state, &post, Act::Activate).await
}
