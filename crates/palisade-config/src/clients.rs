//! What mail clients are told about this server: the submission ports and Dovecot's
//! IMAPS, for autoconfiguration documents and the SRV records of RFC 6186.

use crate::validate::{Config, ListenerKind};

/// One server a mail client connects to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientServer {
    pub host: String,
    pub port: u16,
}

/// The servers a mail client may use; `None` where this installation offers none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientServers {
    /// Submission over implicit TLS (RFC 8314 §3.3, usually 465): preferred.
    pub submissions: Option<ClientServer>,
    /// Submission with STARTTLS (RFC 6409, usually 587).
    pub submission: Option<ClientServer>,
    /// Dovecot's IMAP over implicit TLS (usually 993), when `[dovecot]` is set.
    pub imaps: Option<ClientServer>,
}

impl Config {
    /// The first listener of each submission kind (a listener on port 0, as in tests
    /// before binding, is not announced), and Dovecot's IMAPS.
    pub fn client_servers(&self) -> ClientServers {
        let host = self.hostname.to_string();
        let port_of = |kind: ListenerKind| {
            self.listeners
                .iter()
                .find(|l| l.kind == kind && l.address.port() != 0)
                .map(|l| ClientServer {
                    host: host.clone(),
                    port: l.address.port(),
                })
        };
        ClientServers {
            submissions: port_of(ListenerKind::Submissions),
            submission: port_of(ListenerKind::Submission),
            imaps: self
                .dovecot
                .imaps
                .as_ref()
                .map(|(host, port)| ClientServer {
                    host: host.clone(),
                    port: *port,
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn listeners_and_dovecot_make_the_client_servers() {
        let cfg = crate::parse(
            "hostname = \"mx.example.org\"\n\
             [listener.in]\naddress = \"[::]:25\"\nkind = \"smtp\"\n\
             [listener.sub]\naddress = \"[::]:587\"\nkind = \"submission\"\n\
             [listener.subs]\naddress = \"[::]:465\"\nkind = \"submissions\"\n\
             [dovecot]\nimap_host = \"imap.example.org\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let c = cfg.client_servers();
        assert_eq!(
            c.submissions.map(|s| (s.host, s.port)),
            Some(("mx.example.org".into(), 465))
        );
        assert_eq!(c.submission.map(|s| s.port), Some(587));
        assert_eq!(
            c.imaps.map(|s| (s.host, s.port)),
            Some(("imap.example.org".into(), 993))
        );
        let bare =
            crate::parse("hostname = \"mx.example.org\"\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bare.client_servers(), Default::default());
    }
}
