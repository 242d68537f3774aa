//! Mail client autoconfiguration (`web.autoconfig`): a mail address and a password are
//! all a user types, the client finds the servers here.
//!
//! - Thunderbird (and K-9, FairEmail, Evolution): `GET
//!   https://autoconfig.DOMAIN/mail/config-v1.1.xml?emailaddress=...` and
//!   `/.well-known/autoconfig/mail/config-v1.1.xml`, the "clientConfig 1.1" format.
//! - Outlook and Apple Mail's Exchange probing: Microsoft's "POX" autodiscover, `POST
//!   https://autodiscover.DOMAIN/autodiscover/autodiscover.xml` with the address in an
//!   XML request (at most [`MAX_REQUEST`] octets, parsed with quick-xml).
//!
//! Only local domains get an answer (404 otherwise), and the answer is the same for
//! every address of a domain: it does not tell whether a mailbox exists. Submission over
//! implicit TLS comes first (RFC 8314 §3.3), STARTTLS second; IMAP only when Dovecot is
//! configured. The login name is always the whole address.

use crate::WebState;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use palisade_config::{ClientServer, ClientServers};
use palisade_types::{Address, Domain};
use quick_xml::escape::escape;
use quick_xml::events::Event;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

/// The largest autodiscover request read (a real one is about 400 octets).
pub const MAX_REQUEST: usize = 8 * 1024;

const XML: &str = "text/xml; charset=utf-8";

/// The domain a request is about: the address's, or the host name's without the
/// `autoconfig.` / `autodiscover.` label.
fn domain_of(address: Option<&str>, headers: &HeaderMap) -> Option<Domain> {
    if let Some(a) = address {
        return Address::parse(a).ok().map(|a| a.domain().clone());
    }
    let h = crate::request_host(headers)?;
    let bare = h
        .strip_prefix("autoconfig.")
        .or_else(|| h.strip_prefix("autodiscover."))
        .unwrap_or(&h);
    Domain::parse(bare).ok()
}

/// The servers to announce for `domain`, if autoconfiguration is on and it is ours.
async fn servers_for(state: &WebState, domain: &Domain) -> Result<ClientServers, Response> {
    let cfg = (state.config)();
    if !cfg.autoconfig {
        return Err(not_found());
    }
    match state.store.is_local_domain(domain).await {
        Ok(true) => Ok(cfg.client_servers()),
        Ok(false) => Err(not_found()),
        Err(e) => {
            tracing::error!(error = &e as &dyn std::error::Error, "store error");
            Err((StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response())
        }
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no configuration for this domain\n").into_response()
}

/// Thunderbird's document.
pub async fn thunderbird(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(domain) = domain_of(query.get("emailaddress").map(String::as_str), &headers) else {
        return not_found();
    };
    match servers_for(&state, &domain).await {
        Ok(servers) => (
            [(header::CONTENT_TYPE, XML)],
            client_config(&domain, &servers),
        )
            .into_response(),
        Err(r) => r,
    }
}

/// The clientConfig 1.1 document for `domain`.
pub fn client_config(domain: &Domain, s: &ClientServers) -> String {
    let d = escape(domain.as_str());
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n  \
         <emailProvider id=\"{d}\">\n    <domain>{d}</domain>\n    \
         <displayName>{d}</displayName>\n    <displayShortName>{d}</displayShortName>\n"
    );
    let server = |out: &mut String, tag: &str, kind: &str, srv: &ClientServer, socket: &str| {
        let _ = write!(
            out,
            "    <{tag} type=\"{kind}\">\n      <hostname>{}</hostname>\n      \
             <port>{}</port>\n      <socketType>{socket}</socketType>\n      \
             <authentication>password-cleartext</authentication>\n      \
             <username>%EMAILADDRESS%</username>\n    </{tag}>\n",
            escape(srv.host.as_str()),
            srv.port
        );
    };
    if let Some(i) = &s.imaps {
        server(&mut out, "incomingServer", "imap", i, "SSL");
    }
    if let Some(o) = &s.submissions {
        server(&mut out, "outgoingServer", "smtp", o, "SSL");
    }
    if let Some(o) = &s.submission {
        server(&mut out, "outgoingServer", "smtp", o, "STARTTLS");
    }
    out.push_str("  </emailProvider>\n</clientConfig>\n");
    out
}

/// Microsoft's POX autodiscover.
pub async fn autodiscover(State(state): State<Arc<WebState>>, body: Bytes) -> Response {
    let Some(address) = requested_address(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            "an autodiscover request with EMailAddress\n",
        )
            .into_response();
    };
    match servers_for(&state, address.domain()).await {
        Ok(servers) => (
            [(header::CONTENT_TYPE, XML)],
            autodiscover_response(&address, &servers),
        )
            .into_response(),
        Err(r) => r,
    }
}

/// The `EMailAddress` of an autodiscover request, if it is one and the address parses.
pub fn requested_address(body: &[u8]) -> Option<Address> {
    if body.len() > MAX_REQUEST {
        return None;
    }
    let mut reader = quick_xml::Reader::from_reader(body);
    // The whole document must be well-formed, the address in a closed element.
    let (mut inside, mut text, mut found) = (false, None, None);
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => inside = e.local_name().into_inner() == "EMailAddress",
            Event::Text(t) if inside => {
                let raw = t.xml_content(quick_xml::XmlVersion::Implicit1_0);
                text = Some(quick_xml::escape::unescape(&raw).ok()?.into_owned());
            }
            Event::End(e) => {
                if inside && e.local_name().into_inner() == "EMailAddress" {
                    found = found.or(text.take());
                }
                inside = false;
            }
            Event::Eof => return Address::parse(found?.trim()).ok(),
            _ => {}
        }
    }
}

/// The response document (schema `outlook/responseschema/2006a`).
pub fn autodiscover_response(address: &Address, s: &ClientServers) -> String {
    let login = escape(address.to_string()).into_owned();
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Autodiscover \
         xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n  \
         <Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">\n    \
         <Account>\n      <AccountType>email</AccountType>\n      <Action>settings</Action>\n",
    );
    let protocol = |out: &mut String, kind: &str, srv: &ClientServer, encryption: &str| {
        let _ = write!(
            out,
            "      <Protocol>\n        <Type>{kind}</Type>\n        <Server>{}</Server>\n        \
             <Port>{}</Port>\n        <LoginName>{login}</LoginName>\n        <SPA>off</SPA>\n        \
             <SSL>on</SSL>\n        <Encryption>{encryption}</Encryption>\n        <AuthRequired>on</AuthRequired>\n      \
             </Protocol>\n",
            escape(srv.host.as_str()),
            srv.port
        );
    };
    if let Some(i) = &s.imaps {
        protocol(&mut out, "IMAP", i, "SSL");
    }
    if let Some(o) = &s.submissions {
        protocol(&mut out, "SMTP", o, "SSL");
    } else if let Some(o) = &s.submission {
        protocol(&mut out, "SMTP", o, "TLS");
    }
    out.push_str("    </Account>\n  </Response>\n</Autodiscover>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers() -> ClientServers {
        let srv = |port| {
            Some(ClientServer {
                host: "mx.example.org".into(),
                port,
            })
        };
        ClientServers {
            submissions: srv(465),
            submission: srv(587),
            imaps: srv(993),
        }
    }

    #[test]
    fn autodiscover_requests_give_their_address_and_nothing_else() {
        let req = br#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>Alice@Example.org</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>"#;
        let a = requested_address(req).map(|a| a.to_string());
        assert_eq!(a.as_deref(), Some("Alice@example.org"));
        assert!(requested_address(b"<Autodiscover/>").is_none());
        assert!(requested_address(b"<EMailAddress>not an address</EMailAddress>").is_none());
        assert!(requested_address(b"<EMailAddress>a@b.c").is_none());
        assert!(requested_address(b"\xff\xfe<<<").is_none());
        let mut big = b"<EMailAddress>a@b.c</EMailAddress>".to_vec();
        big.resize(MAX_REQUEST + 1, b' ');
        assert!(requested_address(&big).is_none());
    }

    #[test]
    fn documents_name_implicit_tls_first_and_escape_values() {
        let d = Domain::parse("example.org").unwrap_or_else(|e| panic!("{e}"));
        let tb = client_config(&d, &servers());
        let ssl = tb.find("<port>465</port>").unwrap_or(usize::MAX);
        let starttls = tb.find("<port>587</port>").unwrap_or(0);
        assert!(ssl < starttls, "{tb}");
        assert!(tb.contains("<incomingServer type=\"imap\">"), "{tb}");
        let a = Address::parse("\"a&b\"@example.org").unwrap_or_else(|e| panic!("{e}"));
        let ms = autodiscover_response(&a, &servers());
        assert!(ms.contains("&amp;"), "{ms}");
        assert!(!ms.contains("a&b"), "{ms}");
        assert!(
            ms.contains("<Port>465</Port>") && !ms.contains("<Port>587</Port>"),
            "{ms}"
        );
    }

    #[test]
    fn the_domain_comes_from_the_address_or_the_host() {
        let mut h = HeaderMap::new();
        h.insert(
            header::HOST,
            "autoconfig.Example.ORG:443"
                .parse()
                .unwrap_or_else(|_| panic!()),
        );
        let d = |a: Option<&str>| domain_of(a, &h).map(|d| d.to_string());
        assert_eq!(d(None).as_deref(), Some("example.org"));
        assert_eq!(d(Some("bob@other.test")).as_deref(), Some("other.test"));
        assert_eq!(d(Some("nonsense")), None);
    }
}
