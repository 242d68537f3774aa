//! `[store]`: where the state lives. Absent, the embedded SQLite file in the data
//! directory (one node, nothing else to run); with `url = "postgres://…"`, a PostgreSQL
//! database several nodes share. `PALISADE_STORE_URL` in the environment overrides the
//! file's `url` (so the password can stay out of the config file).

use crate::validate::{ConfigError, invalid};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub url: Option<String>,
    pub max_connections: Option<u32>,
    pub secret_key_file: Option<std::path::PathBuf>,
}

/// The environment variable holding the secret key itself (32 bytes in base64) that
/// seals private keys and TOTP seeds in the store; it wins over `store.secret_key_file`.
pub const SECRET_KEY_ENV: &str = "PALISADE_SECRET_KEY";

/// The key file's name in the data directory, unless `store.secret_key_file` names one.
pub const SECRET_KEY_FILE: &str = "secret.key";

/// The environment variable that overrides `store.url`.
pub const STORE_URL_ENV: &str = "PALISADE_STORE_URL";

/// Connections a node keeps to PostgreSQL unless `store.max_connections` says otherwise.
const DEFAULT_CONNECTIONS: u32 = 10;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StoreConfig {
    /// `palisade.db` in the data directory.
    #[default]
    Embedded,
    /// A PostgreSQL database (`url` may hold a password: never log it whole).
    Postgres { url: String, max_connections: u32 },
}

impl StoreConfig {
    /// This configuration with its URL replaced by `url` (from `key`, an environment
    /// variable), keeping the configured pool size.
    pub fn with_url(self, key: &str, url: &str) -> Result<StoreConfig, ConfigError> {
        let max_connections = match self {
            StoreConfig::Postgres {
                max_connections, ..
            } => max_connections,
            StoreConfig::Embedded => DEFAULT_CONNECTIONS,
        };
        store_url(key, url, max_connections)
    }
}

pub(crate) fn store_config(raw: Option<RawStore>) -> Result<StoreConfig, ConfigError> {
    let raw = raw.unwrap_or_default();
    let max_connections = match raw.max_connections {
        None => DEFAULT_CONNECTIONS,
        Some(n @ 2..=1000) => n,
        Some(n) => {
            return Err(invalid(
                "store.max_connections",
                format!("{n}: 2 to 1000 (a node needs one for listening and one for work)"),
            ));
        }
    };
    match raw.url {
        None => Ok(StoreConfig::Embedded),
        Some(url) => store_url("store.url", &url, max_connections),
    }
}

/// Checks a store URL (`store.url` or [`STORE_URL_ENV`], named by `key`).
fn store_url(key: &str, url: &str, max_connections: u32) -> Result<StoreConfig, ConfigError> {
    let scheme_ok = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if !scheme_ok {
        return Err(invalid(
            key,
            "must be a postgres:// URL (leave it out for the embedded store)",
        ));
    }
    Ok(StoreConfig::Postgres {
        url: url.to_string(),
        max_connections,
    })
}

/// `node_id`, checked; absent, the machine's host name (Linux's
/// `/proc/sys/kernel/hostname`), or `node` where that is not a usable name.
pub(crate) fn node_id(raw: Option<String>) -> Result<String, ConfigError> {
    match raw {
        Some(id) if usable_node_id(&id) => Ok(id),
        Some(id) => Err(invalid(
            "node_id",
            format!(
                "{id:?}: 1 to 63 letters, digits, '.', '-' or '_', starting with a letter or digit"
            ),
        )),
        None => Ok(system_host_name()
            .filter(|h| usable_node_id(h))
            .unwrap_or_else(|| "node".into())),
    }
}

fn usable_node_id(id: &str) -> bool {
    let first_ok = id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    first_ok
        && id.len() <= 63
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

fn system_host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
}
