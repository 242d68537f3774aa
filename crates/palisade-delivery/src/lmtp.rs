//! An LMTP client (RFC 2033): hands local mail to the mailbox server (Dovecot's LMTP
//! service) over a Unix socket or TCP.
//!
//! LMTP is SMTP with one difference that matters: after the message, the server answers
//! once for every recipient it accepted, in RCPT order (RFC 2033 §4.2), so one
//! recipient's full mailbox does not fail or duplicate the others. Each outcome is
//! exactly the server's answer for that recipient; an answer that never came is a
//! transient failure (the message may be delivered twice rather than lost, RFC 5321
//! §6.1).

use crate::remote::client::{Conn, Reply, Stream, dot_stuff, needs_utf8, parse_ehlo};
use palisade_config::Endpoint;
use palisade_queue::Outcome;
use palisade_types::Address;
use smtp_proto::{EXT_8BIT_MIME, EXT_SMTP_UTF8};
use std::time::Duration;
use tokio::net::{TcpStream, UnixStream};

/// One LMTP server and how long to wait for it.
#[derive(Debug, Clone)]
pub struct Lmtp {
    pub endpoint: Endpoint,
    /// Our name, for LHLO.
    pub hostname: String,
    pub connect_timeout: Duration,
    /// Per reply; the end of data gets twice this (RFC 5321 §4.5.3.2.6 spirit).
    pub command_timeout: Duration,
}

/// One transaction's envelope and content.
pub struct Transaction<'a> {
    /// The reverse-path, empty for `<>`.
    pub mail_from: &'a str,
    pub rcpts: &'a [Address],
    /// CRLF lines, not yet dot-stuffed.
    pub message: &'a [u8],
    pub smtputf8: bool,
}

impl Lmtp {
    /// Delivers one message to `t.rcpts`: one outcome each, in order.
    pub async fn deliver(&self, t: &Transaction<'_>) -> Vec<Outcome> {
        let mut conn = match self.connect().await {
            Ok(c) => c,
            Err(e) => return vec![self.transient(&e); t.rcpts.len()],
        };
        let outcomes = match self.transaction(&mut conn, t).await {
            Ok(o) => o,
            Err(e) => vec![self.transient(&e); t.rcpts.len()],
        };
        let _ = conn.command("QUIT").await;
        outcomes
    }

    /// Asks whether `rcpt` would be accepted (a callout): the reply to RCPT, or to MAIL
    /// if that was refused; `Err` when the server could not be asked.
    pub async fn probe(&self, rcpt: &Address) -> Result<Reply, String> {
        let mut conn = self.connect().await?;
        self.greet(&mut conn).await?;
        let mail = conn.command("MAIL FROM:<>").await?;
        let answer = if mail.code == 250 {
            conn.command(&format!("RCPT TO:<{rcpt}>")).await?
        } else {
            mail
        };
        let _ = conn.command("RSET").await;
        let _ = conn.command("QUIT").await;
        Ok(answer)
    }

    /// The greeting and LHLO (RFC 2033 §4.1: LHLO, never EHLO or HELO): the
    /// server's extensions.
    async fn greet(&self, conn: &mut Conn<Box<dyn Stream>>) -> Result<u32, String> {
        let greeting = conn.reply().await?;
        if greeting.code != 220 {
            return Err(format!("greeting: {}", greeting.describe()));
        }
        let lhlo = conn.command(&format!("LHLO {}", self.hostname)).await?;
        if lhlo.code != 250 {
            return Err(format!("LHLO: {}", lhlo.describe()));
        }
        Ok(parse_ehlo(&lhlo).capabilities)
    }

    fn transient(&self, why: &str) -> Outcome {
        Outcome::Transient(format!("451 4.4.1 LMTP {}: {why}", self.endpoint))
    }

    fn said(&self, r: &Reply) -> Outcome {
        let text = format!("LMTP {} said: {}", self.endpoint, r.describe());
        match r.code {
            200..=299 => Outcome::Delivered,
            500.. => Outcome::Permanent(text),
            _ => Outcome::Transient(text),
        }
    }

    async fn connect(&self) -> Result<Conn<Box<dyn Stream>>, String> {
        let stream: Box<dyn Stream> = match &self.endpoint {
            Endpoint::Unix(path) => Box::new(
                tokio::time::timeout(self.connect_timeout, UnixStream::connect(path))
                    .await
                    .map_err(|_| "connect timeout".to_string())?
                    .map_err(|e| format!("connect: {e}"))?,
            ),
            Endpoint::Tcp { host, port } => Box::new(
                tokio::time::timeout(
                    self.connect_timeout,
                    TcpStream::connect((host.as_str(), *port)),
                )
                .await
                .map_err(|_| "connect timeout".to_string())?
                .map_err(|e| format!("connect: {e}"))?,
            ),
        };
        Ok(Conn::new(stream, self.command_timeout))
    }

    /// Greeting, LHLO, MAIL, RCPT each, DATA, and the per-recipient answers. `Err` only
    /// for a failure that says nothing about any single recipient.
    async fn transaction(
        &self,
        conn: &mut Conn<Box<dyn Stream>>,
        t: &Transaction<'_>,
    ) -> Result<Vec<Outcome>, String> {
        let caps = self.greet(conn).await?;
        // RFC 6531 §3.4: the parameter matters only for a message that needs it
        // (non-ASCII addresses or header fields). Dovecot 2.3 never offers SMTPUTF8, so
        // a message merely flagged by its sender goes without the parameter.
        let utf8 = t.smtputf8 && needs_utf8(t.mail_from, t.rcpts, t.message);
        if utf8 && caps & EXT_SMTP_UTF8 == 0 {
            let refused = Outcome::Permanent(format!(
                "553 5.6.7 LMTP {} does not support SMTPUTF8, which this message needs",
                self.endpoint
            ));
            return Ok(vec![refused; t.rcpts.len()]);
        }
        let mut mail = format!("MAIL FROM:<{}>", t.mail_from);
        if caps & EXT_8BIT_MIME != 0 && t.message.iter().any(|b| *b >= 0x80) {
            mail.push_str(" BODY=8BITMIME");
        }
        if utf8 {
            mail.push_str(" SMTPUTF8");
        }
        let r = conn.command(&mail).await?;
        if r.code != 250 {
            return Ok(vec![self.said(&r); t.rcpts.len()]);
        }
        let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(t.rcpts.len());
        for rcpt in t.rcpts {
            let r = conn.command(&format!("RCPT TO:<{rcpt}>")).await?;
            // Any 2xx accepts (251/252 too): it is owed an answer after the data.
            let accepted = (200..300).contains(&r.code);
            outcomes.push((!accepted).then(|| self.said(&r)));
        }
        let accepted = outcomes.iter().filter(|o| o.is_none()).count();
        if accepted == 0 {
            let _ = conn.command("RSET").await;
            return Ok(outcomes.into_iter().flatten().collect());
        }
        let r = conn.command("DATA").await?;
        if r.code != 354 {
            let o = self.said(&r);
            return Ok(outcomes
                .into_iter()
                .map(|x| x.unwrap_or(o.clone()))
                .collect());
        }
        conn.timeout = conn.timeout.saturating_mul(2);
        conn.send(&dot_stuff(t.message)).await?;
        // RFC 2033 §4.2: one reply per accepted recipient, in RCPT order.
        // After a failed read the rest are unknown too: not waited for again.
        let mut answers = Vec::with_capacity(accepted);
        for _ in 0..accepted {
            match conn.reply().await {
                Ok(r) => answers.push(self.said(&r)),
                Err(e) => {
                    answers.push(self.transient(&format!("end of data: {e}")));
                    break;
                }
            }
        }
        let lost = answers.last().cloned();
        let mut answers = answers.into_iter();
        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.or_else(|| answers.next())
                    .or_else(|| lost.clone())
                    .unwrap_or_else(|| self.transient("no answer"))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// A scripted LMTP server: answers each command line with the next reply; after
    /// the message, `after_data` (one reply per accepted recipient).
    async fn scripted(
        listener: tokio::net::UnixListener,
        rcpt: Vec<&'static str>,
        after_data: &'static str,
    ) -> Vec<String> {
        let (s, _) = listener.accept().await.unwrap_or_else(|e| panic!("{e}"));
        let (r, mut w) = s.into_split();
        let mut lines = BufReader::new(r).lines();
        let mut seen = Vec::new();
        let mut rcpt = rcpt.into_iter();
        w.write_all(b"220 lmtp ready\r\n").await.unwrap_or_default();
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line.clone());
            let reply = match line.split(' ').next().unwrap_or_default() {
                "LHLO" => "250-lmtp\r\n250-8BITMIME\r\n250 PIPELINING\r\n".to_string(),
                "MAIL" => "250 2.1.0 ok\r\n".into(),
                "RCPT" => format!("{}\r\n", rcpt.next().unwrap_or("500 what")),
                "DATA" => {
                    w.write_all(b"354 go\r\n").await.unwrap_or_default();
                    while let Ok(Some(l)) = lines.next_line().await {
                        if l == "." {
                            break;
                        }
                        seen.push(l);
                    }
                    after_data.into()
                }
                "QUIT" => "221 bye\r\n".into(),
                _ => "500 what\r\n".into(),
            };
            w.write_all(reply.as_bytes()).await.unwrap_or_default();
        }
        seen
    }

    fn addr(s: &str) -> Address {
        Address::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn rfc2033_4_2_one_answer_per_accepted_recipient_in_order() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("lmtp");
        let listener = tokio::net::UnixListener::bind(&path).unwrap_or_else(|e| panic!("{e}"));
        let server = tokio::spawn(scripted(
            listener,
            // 251 accepts too (it is owed an answer after the data).
            vec![
                "250 2.1.5 ok",
                "550 5.1.1 no such user",
                "251 2.1.5 forwarded",
            ],
            "250 2.0.0 saved\r\n452 4.2.2 mailbox full\r\n",
        ));
        let lmtp = Lmtp {
            endpoint: Endpoint::Unix(path),
            hostname: "mx.example.org".into(),
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(5),
        };
        let rcpts = [
            addr("a@example.org"),
            addr("b@example.org"),
            addr("c@example.org"),
        ];
        let t = Transaction {
            mail_from: "s@example.net",
            rcpts: &rcpts,
            message: b"Subject: x\r\n\r\n.leading dot\r\n",
            smtputf8: false,
        };
        let got = lmtp.deliver(&t).await;
        assert_eq!(got[0], Outcome::Delivered);
        assert!(
            matches!(&got[1], Outcome::Permanent(t) if t.contains("550 5.1.1")),
            "{got:?}"
        );
        assert!(
            matches!(&got[2], Outcome::Transient(t) if t.contains("452 4.2.2")),
            "{got:?}"
        );
        let seen = server.await.unwrap_or_default();
        // RFC 2033 §4.1: LHLO, never EHLO; the dot-stuffed line arrived stuffed.
        assert_eq!(
            seen.first().map(String::as_str),
            Some("LHLO mx.example.org")
        );
        assert!(seen.iter().any(|l| l == "MAIL FROM:<s@example.net>"));
        assert!(seen.iter().any(|l| l == "..leading dot"), "{seen:?}");
    }

    #[tokio::test]
    async fn an_unreachable_server_defers_every_recipient() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let lmtp = Lmtp {
            endpoint: Endpoint::Unix(dir.path().join("nothing")),
            hostname: "mx.example.org".into(),
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(5),
        };
        let rcpts = [addr("a@example.org"), addr("b@example.org")];
        let t = Transaction {
            mail_from: "",
            rcpts: &rcpts,
            message: b"\r\n",
            smtputf8: false,
        };
        let got = lmtp.deliver(&t).await;
        assert_eq!(got.len(), 2);
        assert!(
            got.iter()
                .all(|o| matches!(o, Outcome::Transient(t) if t.starts_with("451 4.4.1"))),
            "{got:?}"
        );
    }
}
