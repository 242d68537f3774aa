//! Which addresses an authenticated user may use as MAIL FROM, From and Sender.
//!
//! A user owns their own address, every alias that routes to them (exact or the
//! catch-all of a domain routed to them), and addresses explicitly delegated with
//! `palisade user send-as add` (an address, or `*@domain`). Nothing else: this is what
//! stops an insider, or a stolen session, from sending as somebody else.

use palisade_store::{Store, StoreError};
use palisade_types::Address;

/// Whether `user` may send as `address`.
pub async fn owns(
    store: &dyn Store,
    user: &Address,
    address: &Address,
) -> Result<bool, StoreError> {
    if address.lookup_key() == user.lookup_key() {
        return Ok(true);
    }
    // Aliases routed to the user (resolve_recipient follows exact and catch-all).
    if store
        .resolve_recipient(address)
        .await?
        .is_some_and(|target| target.lookup_key() == user.lookup_key())
    {
        return Ok(true);
    }
    store.may_send_as(user, address).await
}
