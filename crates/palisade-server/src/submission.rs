//! Authenticated submission (RFC 6409, RFC 4954): credentials, the sender binding, and
//! the submission fix-ups.
//!
//! The binding is on by default and cannot be bypassed by a client: MAIL FROM, and the
//! From and Sender header fields, must each be an address the authenticated user owns
//! (their own, an alias routed to them, or a `send-as` delegation). Otherwise MAIL gets
//! `553 5.7.1` and the end of data `550 5.7.1`.

use crate::Shared;
use crate::logins::event;
use crate::sender_auth::Checked;
use palisade_access::sasl::{self, SaslError};
use palisade_checks::Verdict;
use palisade_checks::verdict::{Fault, Reason};
use palisade_config::Config;
use palisade_queue::Edit;
use palisade_smtp::{Mechanism, SenderDecision};
use palisade_types::reply::{self, Reply};
use palisade_types::{Address, AppScope};
use std::net::IpAddr;
use std::sync::Arc;

/// Checks SASL responses; the identity on success (the user's address, canonical).
pub async fn authenticate(
    shared: &Shared,
    cfg: &Config,
    client: IpAddr,
    mechanism: Mechanism,
    responses: &[String],
) -> Result<String, Reply> {
    let creds = match (mechanism, responses) {
        (Mechanism::Plain, [r]) => sasl::plain(r),
        (Mechanism::Login, [u, p]) => sasl::login(u, p),
        _ => Err(SaslError::Malformed("SASL")),
    };
    let creds = match creds {
        Ok(c) => c,
        Err(SaslError::Base64) => return Err(reply::AUTH_BAD_BASE64),
        Err(e) => {
            tracing::info!(error = %e, "AUTH failed: malformed response");
            metrics::counter!("palisade_auth_total", "result" => "failed").increment(1);
            return Err(reply::AUTH_FAILED);
        }
    };
    use palisade_access::login::{Attempt, Door};
    let attempt = Attempt {
        username: &creds.username,
        password: &creds.password,
        ip: client,
        door: Door::Mail(AppScope::Submission),
        now: palisade_queue::now_secs(),
    };
    crate::logins::decide(shared, cfg, attempt)
        .await
        .map(|user| user.to_string())
        .map_err(crate::logins::reply_for)
}

fn user_of(identity: &str) -> Option<Address> {
    Address::parse(identity).ok()
}

/// MAIL FROM of an authenticated session: the null path or an owned address.
pub async fn check_sender(
    shared: &Shared,
    cfg: &Config,
    identity: &str,
    from: Option<&Address>,
) -> SenderDecision {
    if let Some(user) = user_of(identity)
        && let Some(r) = crate::containment::refuse(shared, cfg, &user).await
    {
        return SenderDecision::Reject(r);
    }
    let (Some(user), Some(from)) = (user_of(identity), from) else {
        // `<>` (e.g. an autoresponder) claims no identity.
        return SenderDecision::Accept;
    };
    match palisade_access::sender::owns(shared.store.as_ref(), &user, from).await {
        Ok(true) => SenderDecision::Accept,
        Ok(false) => {
            tracing::info!(user = %user, from = %from, "MAIL FROM not owned");
            event(
                shared,
                "submission.sender_refused",
                &user.to_string(),
                format!("MAIL FROM {from}"),
            )
            .await;
            SenderDecision::Reject(reply::SENDER_NOT_OWNED)
        }
        Err(e) => {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                "store error checking sender"
            );
            SenderDecision::Reject(reply::LOCAL_ERROR)
        }
    }
}

/// What the From and Sender fields claim, every instance of each.
struct HeaderSenders {
    /// From fields present.
    from_fields: usize,
    /// A From or Sender field with no mailbox address (a bare name, an empty group).
    missing_address: bool,
    /// Addresses claimed: each mailbox's address and every address its display name
    /// shows once RFC 2047 words are decoded (a name reading `bob@example.com` is a
    /// claim to be bob, whatever address follows it).
    claimed: Vec<String>,
}

fn header_senders(message: &[u8]) -> HeaderSenders {
    let mut out = HeaderSenders {
        from_fields: 0,
        missing_address: false,
        claimed: Vec::new(),
    };
    let Some(parsed) = mail_parser::MessageParser::new().parse_headers(message) else {
        return out;
    };
    for h in parsed.headers() {
        let from = h.name == mail_parser::HeaderName::From;
        if !from && h.name != mail_parser::HeaderName::Sender {
            continue;
        }
        out.from_fields += usize::from(from);
        let Some(list) = h.value.as_address() else {
            out.missing_address = true;
            continue;
        };
        let mut mailboxes = 0;
        for addr in list.iter() {
            mailboxes += 1;
            match addr.address.as_deref() {
                Some(a) => out.claimed.push(a.to_string()),
                None => out.missing_address = true,
            }
            out.claimed
                .extend(addresses_in(addr.name.as_deref().unwrap_or("")));
        }
        out.missing_address |= mailboxes == 0;
    }
    out
}

/// Address-like words of a display name: `local@domain.tld`, stripped of the
/// punctuation around them.
fn addresses_in(name: &str) -> Vec<String> {
    name.split(|c: char| c.is_whitespace() || "<>()[]\"',;:".contains(c))
        .filter(|w| {
            w.rsplit_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
        })
        .map(str::to_string)
        .collect()
}

fn refused(reply: reply::Reply, reason: Reason) -> Checked {
    Checked {
        verdict: Verdict::Reject { reply, reason },
        ..Checked::trusted()
    }
}

fn has_field(message: &[u8], name: &[u8]) -> bool {
    palisade_checks::forged::header_fields(message)
        .iter()
        .any(|r| {
            let f = &message[r.clone()];
            f.len() > name.len()
                && f[..name.len()].eq_ignore_ascii_case(name)
                && f[name.len()] == b':'
        })
}

/// End of data for an authenticated session: the header binding, then Date and
/// Message-ID when the client left them out (RFC 6409 §8.2, §8.3).
pub async fn check_message(
    shared: &Arc<Shared>,
    cfg: &Config,
    identity: &str,
    message: Arc<Vec<u8>>,
) -> Checked {
    let Some(user) = user_of(identity) else {
        return Checked::deferred(Fault::IdentityNotAnAddress);
    };
    let senders = header_senders(&message);
    if senders.from_fields == 0 || senders.missing_address {
        let why = if senders.from_fields == 0 {
            Reason::NoFrom
        } else {
            Reason::SenderWithoutAddress
        };
        tracing::info!(user = %user, "{why}");
        return refused(reply::NO_FROM, why);
    }
    for addr in senders.claimed {
        let owned = match Address::parse(&addr) {
            Ok(a) => palisade_access::sender::owns(shared.store.as_ref(), &user, &a).await,
            Err(_) => Ok(false),
        };
        match owned {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(user = %user, header = %addr, "header sender not owned");
                event(
                    shared,
                    "submission.header_refused",
                    &user.to_string(),
                    format!("From/Sender {addr}"),
                )
                .await;
                return refused(
                    reply::HEADER_NOT_OWNED,
                    Reason::NotOwned {
                        address: addr,
                        user: user.to_string(),
                    },
                );
            }
            Err(e) => {
                tracing::error!(error = &e as &dyn std::error::Error, "store error");
                return Checked::deferred(Fault::Store);
            }
        }
    }
    let mut prepend = String::new();
    if !has_field(&message, b"date") {
        prepend.push_str(&format!(
            "Date: {}\r\n",
            crate::trace::rfc5322_date(std::time::SystemTime::now())
        ));
    }
    if !has_field(&message, b"message-id") {
        prepend.push_str(&format!(
            "Message-ID: <{}.{}@{}>\r\n",
            palisade_types::QueueId::generate(),
            palisade_queue::now_secs(),
            cfg.hostname
        ));
    }
    let mut prepend = prepend.into_bytes();
    // S/MIME first (the user's signature covers what they wrote), DKIM over the result.
    let signing = match crate::smime_signing::identity(shared.store.as_ref(), &user).await {
        Ok(id) => id,
        Err(refused) => return refused,
    };
    let replace = match signing {
        Some(id) => {
            let host = cfg.hostname.to_string();
            match crate::smime_signing::sign(id, message.clone(), prepend.clone(), host).await {
                Ok(Some(signed)) => {
                    // The added fields are inside the signed message now.
                    prepend.clear();
                    Some(signed)
                }
                Ok(None) => None,
                Err(refused) => return refused,
            }
        }
        None => None,
    };
    let dkim = match &replace {
        Some(signed) => {
            shared
                .dkim_keys
                .sign(shared.store.as_ref(), signed, b"")
                .await
        }
        None => {
            shared
                .dkim_keys
                .sign(shared.store.as_ref(), &message, &prepend)
                .await
        }
    };
    match dkim {
        Ok(mut signatures) => {
            signatures.extend_from_slice(&prepend);
            prepend = signatures;
        }
        Err(e) => {
            tracing::error!(error = %e, "DKIM signing failed");
            return Checked::deferred(Fault::DkimSigning);
        }
    }
    Checked {
        verdict: Verdict::Accept { note: None },
        edit: Edit {
            prepend,
            remove: palisade_checks::forged::forged_auth_results(&message, cfg.hostname.as_str()),
            replace,
        },
        message: Some(message),
        authenticated: true,
        dmarc_row: None,
        auth: palisade_phish::Auth::Local,
    }
}
