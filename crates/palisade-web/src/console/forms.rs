//! Posted forms: from our own origin only, with the session's CSRF token (or, for the
//! login form, the token of its pre-login cookie), parsed from a bounded body.

use super::pages;
use super::session::{self, Signed};
use crate::WebState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

#[derive(Deserialize)]
struct Token {
    #[serde(default)]
    csrf: String,
}

/// A form without fields (log out).
#[derive(Debug, Deserialize)]
pub struct Empty {}

/// Fetch Metadata and Origin, where the browser sent them, must name our own origin:
/// a cross-site POST is refused before its token is even looked at.
fn same_origin(h: &HeaderMap) -> bool {
    let site_ok = h
        .get("sec-fetch-site")
        .is_none_or(|v| v.as_bytes() == b"same-origin");
    let origin_ok = match (h.get(header::ORIGIN), h.get(header::HOST)) {
        (None, _) => true,
        (Some(o), Some(host)) => o
            .to_str()
            .ok()
            .zip(host.to_str().ok())
            .is_some_and(|(o, host)| o.eq_ignore_ascii_case(&format!("https://{host}"))),
        (Some(_), None) => false,
    };
    site_ok && origin_ok
}

/// The body of `req` as `T` and its token.
async fn parse<T: DeserializeOwned>(
    req: Request,
    state: &Arc<WebState>,
) -> Result<(T, String), Response> {
    let body = Bytes::from_request(req, state)
        .await
        .map_err(|_| pages::bad_request("The form is too large."))?;
    let token: Token = serde_urlencoded::from_bytes(&body)
        .map_err(|_| pages::bad_request("The form could not be read."))?;
    let form = serde_urlencoded::from_bytes(&body)
        .map_err(|_| pages::bad_request("The form is missing a field."))?;
    Ok((form, token.csrf))
}

/// A form posted by a signed-in user, with the session's token.
pub struct Posted<T> {
    pub who: Signed,
    pub form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<Arc<WebState>> for Posted<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Arc<WebState>) -> Result<Self, Response> {
        if !same_origin(req.headers()) {
            return Err(pages::cross_site());
        }
        let (mut parts, body) = req.into_parts();
        let who = <Signed as FromRequestParts<_>>::from_request_parts(&mut parts, state).await?;
        let (form, token) = parse(Request::from_parts(parts, body), state).await?;
        if !session::same_secret(&token, &who.session.csrf) {
            return Err(pages::cross_site());
        }
        Ok(Posted { who, form })
    }
}

/// A form posted by an administrator; anyone else gets 403 before it is looked at.
pub struct AdminPosted<T>(pub Posted<T>);

impl<T: DeserializeOwned + Send> FromRequest<Arc<WebState>> for AdminPosted<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Arc<WebState>) -> Result<Self, Response> {
        let post = Posted::<T>::from_request(req, state).await?;
        if !post.who.admin {
            return Err(pages::forbidden(
                &post.who,
                "This action is for administrators.",
            ));
        }
        Ok(AdminPosted(post))
    }
}

/// The login form, with the token its page set in [`session::LOGIN_COOKIE`] (so a
/// third site cannot sign a browser in to an account of its choosing).
pub struct LoginPost<T> {
    pub form: T,
    pub ip: std::net::IpAddr,
}

impl<T: DeserializeOwned + Send> FromRequest<Arc<WebState>> for LoginPost<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Arc<WebState>) -> Result<Self, Response> {
        if !same_origin(req.headers()) {
            return Err(pages::cross_site());
        }
        let (parts, body) = req.into_parts();
        let expected = session::cookie(&parts.headers, session::LOGIN_COOKIE)
            .unwrap_or_default()
            .to_string();
        let ip = session::client_ip(&parts);
        let (form, token) = parse(Request::from_parts(parts, body), state).await?;
        if expected.is_empty() || !session::same_secret(&token, &expected) {
            return Err(pages::cross_site());
        }
        Ok(LoginPost { form, ip })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.insert(*n, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_our_own_origin_may_post() {
        let host = ("host", "mail.example.com:8443");
        assert!(same_origin(&headers(&[host])));
        assert!(same_origin(&headers(&[
            host,
            ("origin", "https://mail.example.com:8443"),
            ("sec-fetch-site", "same-origin"),
        ])));
        assert!(!same_origin(&headers(&[
            host,
            ("origin", "https://evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            host,
            ("origin", "http://mail.example.com:8443")
        ])));
        assert!(!same_origin(&headers(&[
            host,
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(!same_origin(&headers(&[
            host,
            ("sec-fetch-site", "same-site")
        ])));
    }
}
