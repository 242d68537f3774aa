//! Aliases, groups and send-as delegations as the CLI and the console both change them.
//!
//! One local user as the target makes a plain alias (a catch-all allowed); anything
//! else is a group of an exact source address whose members may live anywhere (those
//! elsewhere are forwarded with SRS).

use crate::forms::FieldError;
use palisade_store::{AliasSource, Store, StoreError};
use palisade_types::{Address, Domain};

/// Why an alias or a group was not made.
#[derive(Debug, thiserror::Error)]
pub enum AliasRefused {
    #[error("a catch-all routes to one local user; groups and forwards take an exact address")]
    CatchAllGroup,
    #[error("{0} cannot forward to itself")]
    ToItself(Address),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An alias's source: an address a mailbox could have, or `*@domain`.
pub fn source(text: &str) -> Result<AliasSource, FieldError> {
    let s = AliasSource::parse(text.trim()).map_err(|e| FieldError(e.to_string()))?;
    if let AliasSource::Address(a) = &s {
        a.check_mailbox_name()
            .map_err(|e| FieldError(e.to_string()))?;
    }
    Ok(s)
}

/// Routes `s` to `targets`: what was added, as (source, target) pairs.
pub async fn add(
    store: &dyn Store,
    s: &AliasSource,
    targets: &[Address],
) -> Result<Vec<(String, Address)>, AliasRefused> {
    if let [one] = targets
        && store.is_local_domain(one.domain()).await?
    {
        // Taken already (an alias, a group or a user): the target joins it as a member.
        match store.add_alias(s, one).await {
            Err(StoreError::AlreadyExists { .. }) if matches!(s, AliasSource::Address(_)) => {}
            other => {
                other?;
                return Ok(vec![(s.to_string(), one.clone())]);
            }
        }
    }
    let AliasSource::Address(source) = s else {
        return Err(AliasRefused::CatchAllGroup);
    };
    let mut added = Vec::new();
    for t in targets {
        if t.lookup_key() == source.lookup_key() {
            return Err(AliasRefused::ToItself(source.clone()));
        }
        store.add_forward(source, t).await?;
        added.push((source.to_string(), t.clone()));
    }
    Ok(added)
}

/// Removes the alias or group `s`; false if there was neither.
pub async fn remove(store: &dyn Store, s: &AliasSource) -> Result<bool, StoreError> {
    let alias = store.remove_alias(s).await?;
    let members = match s {
        AliasSource::Address(a) => store.remove_forwards(a).await?,
        AliasSource::CatchAll(_) => 0,
    };
    Ok(alias || members > 0)
}

/// Every alias and group: (source, targets), aliases first.
pub async fn list(store: &dyn Store) -> Result<Vec<(String, Vec<String>)>, StoreError> {
    let mut out: Vec<(String, Vec<String>)> = store
        .list_aliases()
        .await?
        .into_iter()
        .map(|(s, t)| (s.to_string(), vec![t.to_string()]))
        .collect();
    let mut groups: Vec<(Address, Vec<String>)> = Vec::new();
    for (s, t) in store.list_forwards().await? {
        match groups.last_mut() {
            Some((last, members)) if *last == s => members.push(t.to_string()),
            _ => groups.push((s, vec![t.to_string()])),
        }
    }
    out.extend(groups.into_iter().map(|(s, m)| (s.to_string(), m)));
    Ok(out)
}

/// A send-as target as stored: an address's lookup key, or `*@domain`.
pub fn send_as_target(text: &str) -> Result<String, FieldError> {
    let t = text.trim();
    match t.strip_prefix("*@") {
        Some(d) => Domain::parse(d)
            .map(|d| format!("*@{d}"))
            .map_err(|e| FieldError(e.to_string())),
        None => Address::parse(t)
            .map(|a| a.lookup_key())
            .map_err(|e| FieldError(e.to_string())),
    }
}
