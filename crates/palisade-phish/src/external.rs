//! What external scanners said about a message (issue 16, item 6): rspamd's score and
//! symbols, a virus scanner's finding, or that a scanner could not be asked. The server
//! asks them; the engine weighs their answers with its own signals, so one verdict
//! carries every reason.

/// One scanner's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum External {
    /// rspamd's score and action (its own thresholds), and its symbols that added to
    /// the score, strongest first.
    Rspamd {
        score: f64,
        action: String,
        symbols: Vec<(String, f64)>,
    },
    /// A virus scanner found malware.
    Virus { scanner: &'static str, name: String },
    /// A scanner could not be asked; the message goes on without its verdict (the
    /// configured fallback), which the reasons say.
    Unavailable {
        scanner: &'static str,
        error: String,
    },
}

/// rspamd symbols named in a reason, at most.
const MAX_SYMBOLS: usize = 5;

impl External {
    /// rspamd's reply, reduced to what the verdict uses: symbols with a positive score,
    /// strongest first (ties by name, so the reason is stable).
    pub fn rspamd(
        score: f64,
        action: &str,
        symbols: impl IntoIterator<Item = (String, f64)>,
    ) -> External {
        let mut symbols: Vec<(String, f64)> = symbols
            .into_iter()
            .filter(|(_, s)| s.is_finite() && *s > 0.0)
            .collect();
        symbols.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        symbols.truncate(MAX_SYMBOLS);
        External::Rspamd {
            score: if score.is_finite() { score } else { 0.0 },
            action: action.to_string(),
            symbols,
        }
    }

    /// The phrase for the verdict's reasons.
    pub fn describe(&self) -> String {
        match self {
            External::Rspamd {
                score,
                action,
                symbols,
            } => {
                let named: Vec<String> =
                    symbols.iter().map(|(n, s)| format!("{n} {s:.1}")).collect();
                if named.is_empty() {
                    format!("rspamd scored {score:.1} ({action})")
                } else {
                    format!("rspamd scored {score:.1} ({action}): {}", named.join(", "))
                }
            }
            External::Virus { scanner, name } => format!("{scanner} found malware: {name}"),
            External::Unavailable { scanner, error } => {
                format!(
                    "{scanner} could not scan the message ({error}); delivered without its verdict"
                )
            }
        }
    }
}

/// The malware name in a clamd reply (`stream: Eicar-Test-Signature FOUND`); `None`
/// when the reply is not a detection.
pub fn clamd_found(reply: &str) -> Option<String> {
    let line = reply.trim_end_matches(['\0', '\n', '\r']);
    let rest = line.strip_prefix("stream:").unwrap_or(line).trim();
    rest.strip_suffix(" FOUND")
        .map(|name| {
            name.trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect()
        })
        .filter(|name: &String| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rspamd_symbols_that_added_strongest_first() {
        let e = External::rspamd(
            16.5,
            "reject",
            [
                ("MIME_GOOD".to_string(), -0.1),
                ("GTUBE".to_string(), 0.0),
                ("R_SPF_FAIL".to_string(), 1.0),
                ("BAYES_SPAM".to_string(), 5.1),
                ("ABUSE_SURBL".to_string(), 5.1),
                ("NAN".to_string(), f64::NAN),
            ],
        );
        assert_eq!(
            e.describe(),
            "rspamd scored 16.5 (reject): ABUSE_SURBL 5.1, BAYES_SPAM 5.1, R_SPF_FAIL 1.0"
        );
        assert_eq!(
            External::rspamd(f64::INFINITY, "no action", []).describe(),
            "rspamd scored 0.0 (no action)"
        );
    }

    #[test]
    fn clamd_replies() {
        assert_eq!(
            clamd_found("stream: Eicar-Test-Signature FOUND\0").as_deref(),
            Some("Eicar-Test-Signature")
        );
        assert_eq!(clamd_found("stream: OK\0"), None);
        assert_eq!(clamd_found("INSTREAM size limit exceeded. ERROR\0"), None);
        assert_eq!(clamd_found("stream:  FOUND"), None);
    }
}
