//! SMTP AUTH (RFC 4954) in the session: which mechanisms, when, and the SASL rounds.
//!
//! The session only sequences the exchange: it collects the client's base64 responses
//! (one for PLAIN, RFC 4616; two for LOGIN) and asks the driver to check them
//! ([`Step::Authenticate`]). Decoding and the credential check live outside, off the
//! I/O path, so this stays sans-IO and free of crypto.

use super::{AuthMode, Mechanism, Session, State, Step};
use palisade_types::reply;

/// `334 VXNlcm5hbWU6` ("Username:") and `334 UGFzc3dvcmQ6` ("Password:"), as every
/// LOGIN client expects.
const LOGIN_USERNAME: &str = "VXNlcm5hbWU6";
const LOGIN_PASSWORD: &str = "UGFzc3dvcmQ6";

impl Session {
    /// AUTH is advertised and accepted now.
    pub(super) fn auth_offered(&self) -> bool {
        match self.cfg.auth {
            AuthMode::Off => false,
            AuthMode::TlsOnly => self.tls.is_some(),
            AuthMode::Plaintext => true,
        }
    }

    pub(super) fn auth(&mut self, mechanism: u64, initial: String) -> Option<Step> {
        if self.cfg.auth == AuthMode::Off {
            self.error(&reply::NOT_IMPLEMENTED);
            return None;
        }
        if !self.auth_offered() {
            // RFC 8314 / RFC 4954 §4: no credentials before TLS.
            self.error(&reply::TLS_REQUIRED);
            return None;
        }
        match &self.state {
            State::ExpectHello => {
                self.error(&reply::HELLO_FIRST);
                return None;
            }
            State::ExpectMail => {}
            // RFC 4954 §4: not during a mail transaction.
            _ => {
                self.error(&reply::BAD_SEQUENCE);
                return None;
            }
        }
        if self.authenticated.is_some() {
            self.error(&reply::ALREADY_AUTHENTICATED);
            return None;
        }
        let mechanism = match mechanism {
            smtp_proto::AUTH_PLAIN => Mechanism::Plain,
            smtp_proto::AUTH_LOGIN => Mechanism::Login,
            _ => {
                self.error(&reply::AUTH_MECHANISM);
                return None;
            }
        };
        let mut responses = Vec::new();
        if !initial.is_empty() {
            // RFC 4954 §4: "=" is an empty initial response.
            responses.push(if initial == "=" {
                String::new()
            } else {
                initial
            });
        }
        self.next_round(mechanism, responses)
    }

    /// Asks for the next response, or hands the finished exchange to the driver.
    fn next_round(&mut self, mechanism: Mechanism, responses: Vec<String>) -> Option<Step> {
        let needed = match mechanism {
            Mechanism::Plain => 1,
            Mechanism::Login => 2,
        };
        if responses.len() >= needed {
            self.state = State::AwaitAuth;
            return Some(Step::Authenticate {
                mechanism,
                responses,
            });
        }
        let challenge = match (mechanism, responses.len()) {
            (Mechanism::Login, 0) => LOGIN_USERNAME,
            (Mechanism::Login, _) => LOGIN_PASSWORD,
            (Mechanism::Plain, _) => "",
        };
        self.reply_raw(334, challenge.to_string());
        self.state = State::Sasl {
            mechanism,
            responses,
        };
        None
    }

    /// One client line inside the exchange.
    pub(super) fn sasl_response(&mut self, line: &[u8]) -> Option<Step> {
        let State::Sasl {
            mechanism,
            mut responses,
        } = std::mem::replace(&mut self.state, State::ExpectMail)
        else {
            return None;
        };
        let text = String::from_utf8_lossy(line)
            .trim_end_matches(['\r', '\n'])
            .to_string();
        if text == "*" {
            // RFC 4954 §4: the client cancels.
            self.error(&reply::AUTH_CANCELLED);
            return None;
        }
        responses.push(text);
        self.next_round(mechanism, responses)
    }

    /// The driver's answer to [`Step::Authenticate`]: the identity, or the reply to send.
    pub fn auth_result(&mut self, result: Result<String, reply::Reply>) {
        if !matches!(self.state, State::AwaitAuth) {
            debug_assert!(false, "auth_result without Authenticate");
            return;
        }
        self.state = State::ExpectMail;
        match result {
            Ok(identity) => {
                self.authenticated = Some(identity);
                self.reply(&reply::AUTH_OK);
            }
            Err(r) if r.is_transient() => self.reply(&r),
            // Failures count towards the error limit: guessing ends in 421.
            Err(r) => self.error(&r),
        }
    }
}
