//! Administration: local domains. Added and removed by the CLI's rules; each domain's
//! records checked live against DNS (the `doctor`'s comparison), each one green or red
//! with its fix in one line.

use super::forms::AdminPosted;
use super::pages::{self, csrf, field_as, layout, notice, page};
use super::session::{Admin, Signed};
use super::{RecordCheck, RecordState, audit};
use crate::WebState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use palisade_access::forms as rules;
use palisade_types::Domain;
use serde::Deserialize;
use std::sync::Arc;

async fn list_page(state: &WebState, who: &Signed, top: Markup) -> Response {
    let domains = match state.store.list_domains().await {
        Ok(d) => d,
        Err(e) => return pages::unavailable(e),
    };
    let body = html! {
        (top)
        ul { @for d in &domains { li { a href={ "/admin/domains/" (d) } { (d) } } } }
        h2 { "Add a domain" }
        form method="post" action="/admin/domains/add" {
            (csrf(who))
            (field_as("add-domain", "domain", "Domain name", "text", "off", true))
            button type="submit" { "Add" }
        }
        h2 { "Remove a domain" }
        p.hint { "Only a domain without users or aliases can go." }
        form method="post" action="/admin/domains/remove" {
            (csrf(who))
            (field_as("rm-domain", "domain", "Domain name", "text", "off", true))
            button type="submit" { "Remove" }
        }
    };
    page(StatusCode::OK, layout("Domains", Some(who), body))
}

pub async fn list(State(state): State<Arc<WebState>>, Admin(who): Admin) -> Response {
    list_page(&state, &who, html! {}).await
}

fn state_text(s: RecordState) -> (&'static str, &'static str) {
    match s {
        RecordState::Good => ("good", "in order"),
        RecordState::Warning => ("warning", "to improve"),
        RecordState::Wrong => ("wrong", "wrong or missing"),
        RecordState::Note => ("note", "note"),
    }
}

pub(super) fn checks(list: &[RecordCheck]) -> Markup {
    html! {
        div.scroll { table.checks {
            thead { tr { th { "Record" } th { "State" } th { "Seen" } th { "Fix" } } }
            tbody { @for c in list {
                @let (class, text) = state_text(c.state);
                tr { td { (c.id.trim_start_matches("doctor.")) }
                    td { span class={ "state " (class) } { (text) } }
                    td { (c.seen) } td { (c.fix) } }
            } }
        } }
    }
}

pub async fn show(
    State(state): State<Arc<WebState>>,
    Admin(who): Admin,
    Path(domain): Path<String>,
) -> Response {
    let Ok(domain) = Domain::parse(&domain) else {
        return pages::not_found();
    };
    domain_page(&state, &who, &domain, html! {}).await
}

/// A local domain's page: its DKIM keys with their records, and the live check of
/// every record it should publish.
pub(super) async fn domain_page(
    state: &WebState,
    who: &Signed,
    domain: &Domain,
    top: Markup,
) -> Response {
    match state.store.is_local_domain(domain).await {
        Ok(true) => {}
        Ok(false) => return pages::not_found(),
        Err(e) => return pages::unavailable(e),
    }
    let keys = match state.store.list_dkim_keys(Some(domain)).await {
        Ok(k) => k,
        Err(e) => return pages::unavailable(e),
    };
    let records = match state.doctor.check(domain).await {
        Ok(list) => html! {
            p { "Each record " (domain) " should publish, as DNS answers now." }
            (checks(&list))
        },
        Err(_) => notice(false, "The records cannot be checked now."),
    };
    let body = html! {
        (top)
        h2 { "DKIM keys" }
        (super::dkim::keys(who, domain, &keys))
        h2 { "DNS records" }
        (records)
    };
    page(
        StatusCode::OK,
        layout(&format!("Domain {domain}"), Some(who), body),
    )
}

#[derive(Debug, Deserialize)]
pub struct DomainForm {
    domain: String,
}

pub async fn add(
    State(state): State<Arc<WebState>>,
    AdminPosted(post): AdminPosted<DomainForm>,
) -> Response {
    let who = &post.who;
    let top = match rules::new_domain(&post.form.domain) {
        Err(e) => notice(false, &format!("{:?} {e}.", post.form.domain.trim())),
        Ok(d) => match state.store.add_domain(&d).await {
            Ok(()) => {
                let postmaster = (state.config)().postmaster.clone();
                if let Some(p) = postmaster {
                    let made = rules::ensure_postmaster(state.store.as_ref(), &d, &p).await;
                    if let Err(e) = made {
                        return pages::unavailable(e);
                    }
                }
                let detail = format!("domain {d} added from {}", who.ip);
                audit(&state, "web.admin.domain_added", &who.user, detail).await;
                notice(
                    true,
                    &format!("{d} is added: open it below to see the records to publish."),
                )
            }
            Err(palisade_store::StoreError::AlreadyExists { .. }) => {
                notice(false, &format!("{d} is a local domain already."))
            }
            Err(e) => return pages::unavailable(e),
        },
    };
    list_page(&state, who, top).await
}

pub async fn remove(
    State(state): State<Arc<WebState>>,
    AdminPosted(post): AdminPosted<DomainForm>,
) -> Response {
    let who = &post.who;
    let top = match Domain::parse(post.form.domain.trim()) {
        Err(_) => notice(false, "That is not a domain name."),
        Ok(d) => match state.store.remove_domain(&d).await {
            Ok(true) => {
                let detail = format!("domain {d} removed from {}", who.ip);
                audit(&state, "web.admin.domain_removed", &who.user, detail).await;
                notice(true, &format!("{d} is removed."))
            }
            Ok(false) => notice(false, &format!("{d} is not a local domain.")),
            Err(palisade_store::StoreError::InUse { .. }) => notice(
                false,
                &format!("{d} still has users or aliases: remove them first."),
            ),
            Err(e) => return pages::unavailable(e),
        },
    };
    list_page(&state, who, top).await
}
