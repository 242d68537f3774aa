//! `palisade user 2fa enable|disable|check` and `palisade user app-password add|list|revoke`.

use crate::cli::{AppPasswordCommand, TwoFactorCommand};
use crate::commands::parse_address;
use crate::security::{parse_expiry, when};
use crate::usage;
use palisade_access::two_factor;
use palisade_store::Event;
use palisade_store::prelude::*;
use palisade_types::Address;
use serde_json::json;
use std::io::{BufRead, IsTerminal, Write};

/// One line from the terminal (with a prompt) or from stdin.
fn read_line(prompt: &str) -> anyhow::Result<String> {
    print!("{prompt}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if !std::io::stdin().is_terminal() {
        println!();
    }
    Ok(line.trim().to_string())
}

async fn existing_user(store: &dyn Store, user: &str) -> anyhow::Result<Address> {
    let a = parse_address(user)?;
    if store.password_hash(&a).await?.is_none() {
        return Err(usage(format!("no user {a}")));
    }
    Ok(a)
}

async fn event(store: &dyn Store, kind: &str, user: &Address, detail: String) {
    let _ = store
        .record_event(&Event {
            time: palisade_queue::now_secs(),
            kind: kind.into(),
            subject: user.to_string(),
            detail,
        })
        .await;
}

pub async fn run(store: &dyn Store, c: TwoFactorCommand) -> anyhow::Result<()> {
    let now = palisade_queue::now_secs();
    match c {
        TwoFactorCommand::Enable { user } => {
            let user = existing_user(store, &user).await?;
            if two_factor::enabled(store, &user).await? {
                return Err(usage(format!(
                    "{user} has two-factor on already; disable it first to change the seed"
                )));
            }
            let uri = two_factor::begin_enrolment(store, &user, now).await?;
            println!("Scan this with an authenticator app, or enter the URI by hand:\n");
            println!("{}", two_factor::qr_for_terminal(&uri)?);
            println!("{uri}\n");
            let code = read_line("Enter the code the app shows: ")?;
            let confirmed =
                two_factor::confirm_enrolment(store, &user, &code, palisade_queue::now_secs())
                    .await?;
            let Some(codes) = confirmed else {
                return Err(usage(
                    "that code does not match; nothing changed (run the command again)",
                ));
            };
            event(
                store,
                "security.2fa_enabled",
                &user,
                "by palisade user 2fa enable".into(),
            )
            .await;
            println!("Two-factor authentication is on for {user}.");
            println!(
                "Mail clients now need app passwords: palisade user app-password add {user} --label NAME"
            );
            println!("Recovery codes (each works once; keep them somewhere safe):");
            for c in codes {
                println!("  {c}");
            }
        }
        TwoFactorCommand::Disable { user } => {
            let user = parse_address(&user)?;
            if !store.remove_totp(&user).await? {
                return Err(usage(format!("{user} does not have two-factor on")));
            }
            event(
                store,
                "security.2fa_disabled",
                &user,
                "by palisade user 2fa disable".into(),
            )
            .await;
            println!("two-factor authentication is off for {user}");
        }
        TwoFactorCommand::Check { user } => {
            let user = existing_user(store, &user).await?;
            if !two_factor::enabled(store, &user).await? {
                return Err(usage(format!("{user} does not have two-factor on")));
            }
            let code = read_line("Code: ")?;
            if two_factor::verify_code(store, &user, &code, now).await? {
                println!("valid");
            } else {
                event(
                    store,
                    "auth.2fa_failed",
                    &user,
                    "palisade user 2fa check".into(),
                )
                .await;
                return Err(usage("invalid, or already used"));
            }
        }
    }
    Ok(())
}

pub async fn app_passwords(store: &dyn Store, c: AppPasswordCommand) -> anyhow::Result<()> {
    let now = palisade_queue::now_secs();
    match c {
        AppPasswordCommand::Add {
            user,
            label,
            scope,
            expires,
            from_net,
        } => {
            let user = existing_user(store, &user).await?;
            let label = palisade_access::forms::app_password_label(&label)
                .map_err(|e| usage(format!("--label: {e}")))?;
            let expires = expires
                .map(|e| parse_expiry("--expires", &e, now))
                .transpose()?;
            let from_net = from_net
                .map(|n| {
                    palisade_access::forms::network(&n)
                        .map_err(|e| usage(format!("--from-net {n:?} {e}")))
                })
                .transpose()?;
            let password = match two_factor::add_app_password(
                store, &user, &label, scope, expires, from_net, now,
            )
            .await
            {
                Err(two_factor::TwoFactorError::Store(
                    palisade_store::StoreError::AlreadyExists { .. },
                )) => {
                    return Err(usage(format!(
                        "{user} already has an app password labelled {label:?}"
                    )));
                }
                other => other?,
            };
            event(
                store,
                "security.app_password_added",
                &user,
                format!("label {label:?}, scope {scope}"),
            )
            .await;
            println!("App password {label:?} for {user} (shown once; it cannot be recovered):\n");
            println!("  {password}\n");
        }
        AppPasswordCommand::List { user, json } => {
            let user = parse_address(&user)?;
            let list = store.list_app_passwords(&user).await?;
            if json {
                let v: Vec<_> = list
                    .iter()
                    .map(|p| json!({"label": p.label, "scope": p.scope.name(), "expires": p.expires, "from_net": p.from_net, "created": p.created, "last_used": p.last_used, "last_ip": p.last_ip}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else if list.is_empty() {
                println!("{user} has no app passwords");
            } else {
                println!(
                    "{:<20} {:<11} {:<21} {:<21} LAST USED",
                    "LABEL", "SCOPE", "EXPIRES", "CREATED"
                );
                for p in list {
                    let used = match (p.last_used, &p.last_ip) {
                        (Some(t), Some(ip)) => format!("{} from {ip}", when(t)),
                        _ => "never".into(),
                    };
                    println!(
                        "{:<20} {:<11} {:<21} {:<21} {used}",
                        p.label,
                        p.scope,
                        p.expires.map_or("never".into(), when),
                        when(p.created)
                    );
                }
            }
        }
        AppPasswordCommand::Revoke { user, label } => {
            let user = parse_address(&user)?;
            if !store.revoke_app_password(&user, &label).await? {
                return Err(usage(format!(
                    "{user} has no app password labelled {label:?}"
                )));
            }
            event(
                store,
                "security.app_password_revoked",
                &user,
                format!("label {label:?}"),
            )
            .await;
            println!("revoked {label:?} of {user}");
        }
    }
    Ok(())
}
