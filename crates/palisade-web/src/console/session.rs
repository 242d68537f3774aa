//! Console sessions: a random 256-bit id in a `__Host-` cookie (`Secure`, `HttpOnly`,
//! `SameSite=Strict`, no `Domain`), its SHA-256 in the store with the user, the CSRF
//! token and the times that end it: idle for [`IDLE`] or older than [`ABSOLUTE`].

use super::pages;
use crate::WebState;
use axum::extract::{ConnectInfo, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use palisade_store::WebSession;
use palisade_types::Address;
use std::net::IpAddr;
use std::sync::Arc;

/// The session cookie.
pub const COOKIE: &str = "__Host-palisade";
/// The login form's token (a signed-out browser has no session to hold one).
pub const LOGIN_COOKIE: &str = "__Host-palisade-login";
/// A session unused this long (seconds) ends.
pub const IDLE: i64 = 30 * 60;
/// A session ends this long (seconds) after the login, used or not.
pub const ABSOLUTE: i64 = 12 * 3600;
/// `last_seen` is written at most this often (seconds), not on every request.
const TOUCH_EVERY: i64 = 60;

/// 256 random bits, hex.
pub fn random_token() -> Option<String> {
    let mut b = [0u8; 32];
    aws_lc_rs::rand::fill(&mut b).ok()?;
    Some(hex(&b))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// What the store keeps of a cookie's value.
pub fn id_hash(id: &str) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, id.as_bytes()).as_ref())
}

/// Equal, in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// The value of cookie `name` from the request's Cookie headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value for `name`: `Max-Age=0` deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let age = max_age
        .map(|a| format!("; Max-Age={a}"))
        .unwrap_or_default();
    let v = format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict{age}");
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The address the request came from.
pub fn client_ip(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<crate::listener::Peer>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.0.ip())
}

/// Whether `s` is still in force at `now`.
fn live(s: &WebSession, now: i64) -> bool {
    now - s.last_seen < IDLE && now - s.created < ABSOLUTE
}

/// A new session for `user`; the cookie's value and the stored record.
pub fn open(user: &Address, ip: IpAddr, now: i64) -> Option<(String, WebSession)> {
    let id = random_token()?;
    let s = WebSession {
        id_hash: id_hash(&id),
        user: user.lookup_key(),
        csrf: random_token()?,
        created: now,
        last_seen: now,
        ip: ip.to_string(),
    };
    Some((id, s))
}

/// A signed-in request: the session, its user and their role.
#[derive(Debug, Clone)]
pub struct Signed {
    pub user: Address,
    pub session: WebSession,
    pub admin: bool,
    /// An administrator requires two-factor of this user.
    pub require_2fa: bool,
    pub ip: IpAddr,
}

/// The pages a user whose administrator requires two-factor may reach before turning
/// it on.
const BEFORE_TWO_FACTOR: [&str; 4] = [
    "/account/two-factor",
    "/account/two-factor/start",
    "/account/two-factor/confirm",
    "/logout",
];

impl Signed {
    /// The session of `parts`, if there is one in force; `Err` only if the store failed.
    async fn find(parts: &Parts, state: &WebState) -> Result<Option<Signed>, Response> {
        let Some(id) = cookie(&parts.headers, COOKIE) else {
            return Ok(None);
        };
        let now = super::now();
        let key = id_hash(id);
        let store = &state.store;
        let found = store.web_session(&key).await.map_err(pages::unavailable)?;
        let Some(session) = found.filter(|s| live(s, now)) else {
            return Ok(None);
        };
        let Ok(user) = Address::parse(&session.user) else {
            return Ok(None);
        };
        if now - session.last_seen >= TOUCH_EVERY {
            store
                .touch_web_session(&key, now)
                .await
                .map_err(pages::unavailable)?;
        }
        let flags = store
            .account_flags(&user)
            .await
            .map_err(pages::unavailable)?;
        let Some(flags) = flags else {
            return Ok(None);
        };
        Ok(Some(Signed {
            user,
            session,
            admin: flags.admin,
            require_2fa: flags.require_2fa,
            ip: client_ip(parts),
        }))
    }

    /// With two-factor required and not on, every page but its setup sends there.
    async fn owes_two_factor(&self, parts: &Parts, state: &WebState) -> Result<bool, Response> {
        if !self.require_2fa || BEFORE_TWO_FACTOR.contains(&parts.uri.path()) {
            return Ok(false);
        }
        let on = palisade_access::two_factor::enabled(state.store.as_ref(), &self.user)
            .await
            .map_err(pages::unavailable)?;
        Ok(!on)
    }
}

impl FromRequestParts<Arc<WebState>> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<WebState>,
    ) -> Result<Self, Self::Rejection> {
        let who = Signed::find(parts, state)
            .await?
            .ok_or_else(pages::to_login)?;
        if who.owes_two_factor(parts, state).await? {
            return Err(axum::response::Redirect::to("/account/two-factor").into_response());
        }
        Ok(who)
    }
}

impl OptionalFromRequestParts<Arc<WebState>> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<WebState>,
    ) -> Result<Option<Self>, Self::Rejection> {
        Signed::find(parts, state).await
    }
}

/// A signed-in administrator; anyone else gets 403.
#[derive(Debug, Clone)]
pub struct Admin(pub Signed);

impl FromRequestParts<Arc<WebState>> for Admin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<WebState>,
    ) -> Result<Self, Self::Rejection> {
        let who = <Signed as FromRequestParts<_>>::from_request_parts(parts, state).await?;
        if !who.admin {
            return Err(pages::forbidden(&who, "This page is for administrators."));
        }
        Ok(Admin(who))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-palisade-login=x"),
        );
        h.append(
            header::COOKIE,
            HeaderValue::from_static("__Host-palisade=y"),
        );
        assert_eq!(cookie(&h, COOKIE), Some("y"));
        assert_eq!(cookie(&h, LOGIN_COOKIE), Some("x"));
        assert_eq!(cookie(&h, "b"), None);
    }

    #[test]
    fn host_cookies_are_secure_http_only_and_strict() {
        let v = set_cookie(COOKIE, "v", None);
        assert_eq!(
            v.to_str().ok(),
            Some("__Host-palisade=v; Path=/; Secure; HttpOnly; SameSite=Strict")
        );
    }

    #[test]
    fn sessions_end_when_idle_or_old() {
        let s = |created, last_seen| WebSession {
            id_hash: String::new(),
            user: String::new(),
            csrf: String::new(),
            created,
            last_seen,
            ip: String::new(),
        };
        assert!(live(&s(0, 100), 100 + IDLE - 1));
        assert!(!live(&s(0, 100), 100 + IDLE));
        assert!(!live(&s(0, ABSOLUTE - 10), ABSOLUTE));
        let tokens = (random_token(), random_token());
        assert!(matches!(tokens, (Some(a), Some(b)) if a.len() == 64 && a != b));
    }
}
