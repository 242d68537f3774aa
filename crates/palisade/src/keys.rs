//! `palisade user key import|list|remove`, `palisade user encrypt-at-rest` and
//! `palisade user signing import|show|remove`.

use crate::cli::{KeyCommand, SigningCommand};
use crate::commands::parse_address;
use crate::usage;
use palisade_crypt::user_keys::{self, AtRest, Removal};
use palisade_store::prelude::*;
use std::io::Read;

fn read_key(file: &std::path::Path) -> anyhow::Result<String> {
    let mut text = String::new();
    let read = if file.as_os_str() == "-" {
        std::io::stdin().take(1 << 20).read_to_string(&mut text)
    } else {
        std::fs::File::open(file).and_then(|f| f.take(1 << 20).read_to_string(&mut text))
    };
    read.map_err(|e| usage(format!("{}: {e}", file.display())))?;
    Ok(text)
}

pub async fn run(store: &dyn Store, c: KeyCommand) -> anyhow::Result<()> {
    match c {
        KeyCommand::Import { user, file } => {
            let a = parse_address(&user)?;
            if store.password_hash(&a).await?.is_none() {
                return Err(usage(format!("no user {a}")));
            }
            let text = read_key(&file)?;
            let addresses = user_keys::addresses_of(store, &a).await?;
            let now = palisade_queue::now_secs();
            let row = user_keys::check(&text, &addresses, now)
                .map_err(|e| usage(format!("{}: {e}", file.display())))?;
            store.add_user_key(&a, &row).await?;
            let kind = if row.kind == "smime" {
                "S/MIME certificate"
            } else {
                "OpenPGP key"
            };
            println!(
                "imported {kind} {} for {a} ({})",
                row.fingerprint,
                row.user_ids.replace('\n', ", ")
            );
        }
        KeyCommand::List { user } => {
            let a = parse_address(&user)?;
            for k in store.user_keys(&a).await? {
                let expires = k.expires.map_or("never expires".to_string(), |e| {
                    format!("expires {}", crate::security::when(e))
                });
                println!(
                    "{} {}  {}  ({})",
                    k.kind,
                    k.fingerprint,
                    expires,
                    k.user_ids.replace('\n', ", ")
                );
            }
        }
        KeyCommand::Remove { user, fingerprint } => {
            let a = parse_address(&user)?;
            match user_keys::remove(store, &a, &fingerprint).await? {
                Removal::Removed => println!("removed key {fingerprint} of {a}"),
                Removal::NoSuchKey => return Err(usage(format!("{a} has no key {fingerprint}"))),
                // Mail for the user would have no key to be sealed to.
                Removal::LastKeySealing => {
                    return Err(usage(format!(
                        "{fingerprint} is {a}'s only key and encryption at rest is on: \
                         turn it off first (palisade user encrypt-at-rest {a} off)"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// A running server caches whether a mailbox's mail is sealed, and sees a change made
/// by this process within [`palisade_store::LookupCache::TTL`]: waiting that long before
/// saying "now" makes it true for the next message it delivers.
pub async fn until_running_server_sees_it() {
    tokio::time::sleep(palisade_store::LookupCache::TTL).await;
}

pub async fn encrypt_at_rest(store: &dyn Store, user: &str, on: bool) -> anyhow::Result<()> {
    let a = parse_address(user)?;
    match user_keys::set_encrypt_at_rest(store, &a, on).await? {
        AtRest::Done => {}
        AtRest::NoKey => {
            return Err(usage(format!(
                "{a} has no key: import one first (palisade user key import {a} FILE)"
            )));
        }
        AtRest::NoUser => return Err(usage(format!("no user {a}"))),
    }
    until_running_server_sees_it().await;
    if on {
        println!("mail for {a} is now encrypted to their key before it is stored");
    } else {
        println!("mail for {a} is now stored as it arrives");
    }
    Ok(())
}

pub async fn signing(store: &dyn Store, c: SigningCommand) -> anyhow::Result<()> {
    use palisade_crypt::sign::SigningIdentity;
    match c {
        SigningCommand::Import {
            user,
            certificate,
            key,
        } => {
            let a = parse_address(&user)?;
            if store.password_hash(&a).await?.is_none() {
                return Err(usage(format!("no user {a}")));
            }
            let cert_pem = read_key(&certificate)?;
            let key_pem = read_key(&key)?;
            let addresses = user_keys::addresses_of(store, &a).await?;
            let now = palisade_queue::now_secs();
            let (_, info) = SigningIdentity::check(&cert_pem, &key_pem, &addresses, now)
                .map_err(|e| usage(format!("{}: {e}", certificate.display())))?;
            let row = palisade_store::SigningKey {
                certificate: cert_pem,
                private_key: key_pem,
                fingerprint: info.fingerprint,
                expires: info.expires,
                added: now,
            };
            if !store.put_signing_key(&a, &row).await? {
                return Err(usage(format!("no user {a}")));
            }
            println!(
                "{a}'s mail is now signed with certificate {} (expires {}; {})",
                row.fingerprint,
                crate::security::when(row.expires),
                info.addresses.join(", ")
            );
        }
        SigningCommand::Show { user } => {
            let a = parse_address(&user)?;
            match store.signing_key(&a).await? {
                Some(k) => println!(
                    "smime {}  expires {}",
                    k.fingerprint,
                    crate::security::when(k.expires)
                ),
                None => println!("{a} does not sign their mail"),
            }
        }
        SigningCommand::Remove { user } => {
            let a = parse_address(&user)?;
            if !store.remove_signing_key(&a).await? {
                return Err(usage(format!("{a} has no signing certificate")));
            }
            println!("{a}'s mail is no longer signed; the key is deleted");
        }
    }
    Ok(())
}
