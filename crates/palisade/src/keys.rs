//! `palisade user key import|list|remove`, `palisade user encrypt-at-rest` and
//! `palisade user signing import|show|remove`.

use crate::cli::{KeyCommand, SigningCommand};
use crate::commands::parse_address;
use crate::usage;
use palisade_crypt::openpgp::OpenPgpKey;
use palisade_crypt::smime::SmimeCert;
use palisade_store::{SqliteStore, Store, UserKey};
use palisade_types::Address;
use std::io::Read;

/// The addresses a key may name for `user`: the user's own and the aliases that deliver
/// to it (a catch-all names no one).
async fn addresses_of(store: &SqliteStore, user: &Address) -> anyhow::Result<Vec<String>> {
    let mut out = vec![user.to_string()];
    for (source, target) in store.list_aliases().await? {
        let source = source.to_string();
        if target.lookup_key() == user.lookup_key() && !source.starts_with("*@") {
            out.push(source);
        }
    }
    Ok(out)
}

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

pub async fn run(store: &SqliteStore, c: KeyCommand) -> anyhow::Result<()> {
    match c {
        KeyCommand::Import { user, file } => {
            let a = parse_address(&user)?;
            if store.password_hash(&a).await?.is_none() {
                return Err(usage(format!("no user {a}")));
            }
            let text = read_key(&file)?;
            let addresses = addresses_of(store, &a).await?;
            let now = palisade_queue::now_secs();
            let refused = |e: &dyn std::fmt::Display| usage(format!("{}: {e}", file.display()));
            let row = if text.contains("-----BEGIN CERTIFICATE-----") {
                let (cert, info) =
                    SmimeCert::check(&text, &addresses, now).map_err(|e| refused(&e))?;
                UserKey {
                    kind: "smime".into(),
                    fingerprint: info.fingerprint,
                    data: cert.pem()?,
                    user_ids: info.addresses.join("\n"),
                    expires: Some(info.expires),
                    added: now,
                }
            } else {
                let (key, info) =
                    OpenPgpKey::check(&text, &addresses, now).map_err(|e| refused(&e))?;
                UserKey {
                    kind: "openpgp".into(),
                    fingerprint: info.fingerprint,
                    // Stored as rPGP writes it back: what is kept is what was checked.
                    data: key.armored()?,
                    user_ids: info.user_ids.join("\n"),
                    expires: info.expires,
                    added: now,
                }
            };
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
            let keys = store.user_keys(&a).await?;
            let last = keys.len() == 1 && keys[0].fingerprint.eq_ignore_ascii_case(&fingerprint);
            if last && store.encrypt_at_rest(&a).await? {
                // Mail for the user would have no key to be sealed to.
                return Err(usage(format!(
                    "{fingerprint} is {a}'s only key and encryption at rest is on: \
                     turn it off first (palisade user encrypt-at-rest {a} off)"
                )));
            }
            if !store.remove_user_key(&a, &fingerprint).await? {
                return Err(usage(format!("{a} has no key {fingerprint}")));
            }
            println!("removed key {fingerprint} of {a}");
        }
    }
    Ok(())
}

pub async fn encrypt_at_rest(store: &SqliteStore, user: &str, on: bool) -> anyhow::Result<()> {
    let a = parse_address(user)?;
    if on && store.user_keys(&a).await?.is_empty() {
        return Err(usage(format!(
            "{a} has no key: import one first (palisade user key import {a} FILE)"
        )));
    }
    if !store.set_encrypt_at_rest(&a, on).await? {
        return Err(usage(format!("no user {a}")));
    }
    if on {
        println!("mail for {a} is now encrypted to their key before it is stored");
    } else {
        println!("mail for {a} is now stored as it arrives");
    }
    Ok(())
}

pub async fn signing(
    store: &SqliteStore,
    data: &std::path::Path,
    c: SigningCommand,
) -> anyhow::Result<()> {
    use palisade_crypt::secret::Secret;
    use palisade_crypt::sign::SigningIdentity;
    use palisade_server::smime_signing::{seal_context, secret_path};
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
            let addresses = addresses_of(store, &a).await?;
            let now = palisade_queue::now_secs();
            let (_, info) = SigningIdentity::check(&cert_pem, &key_pem, &addresses, now)
                .map_err(|e| usage(format!("{}: {e}", certificate.display())))?;
            std::fs::create_dir_all(data)?;
            let secret = Secret::load_or_create(&secret_path(data))?;
            let row = palisade_store::SigningKey {
                certificate: cert_pem,
                sealed_key: secret.seal(key_pem.as_bytes(), &seal_context(&a)),
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
