//! From score to action: one pure, table-tested function (DESIGN §7).

use serde::Serialize;

/// What happens to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Deliver,
    /// Delivered with a warning banner (and a subject prefix, if configured).
    Tag,
    Quarantine,
    /// Refused at the end of data with `550 5.7.1`.
    Reject,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Deliver => "deliver",
            Action::Tag => "tag",
            Action::Quarantine => "quarantine",
            Action::Reject => "reject",
        }
    }
}

/// Scores at which each action starts; `None` turns that action off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub tag: Option<f64>,
    pub quarantine: Option<f64>,
    pub reject: Option<f64>,
}

impl Thresholds {
    /// The spam score's defaults: `X-Spam-Flag: YES` from 5 (SpamAssassin's
    /// `required_score`), refused from 15 (rspamd's `reject`), never quarantined.
    pub const SPAM: Thresholds = Thresholds {
        tag: Some(5.0),
        quarantine: None,
        reject: Some(15.0),
    };
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            tag: Some(5.0),
            quarantine: Some(10.0),
            reject: Some(25.0),
        }
    }
}

/// The action for a score. A scan that hit its limits is tagged at least: what was
/// not read cannot be vouched for.
pub fn decide(score: f64, scan_limited: bool, t: &Thresholds) -> Action {
    let reached = |th: Option<f64>| th.is_some_and(|th| score >= th);
    let by_score = if reached(t.reject) {
        Action::Reject
    } else if reached(t.quarantine) {
        Action::Quarantine
    } else if reached(t.tag) {
        Action::Tag
    } else {
        Action::Deliver
    };
    if scan_limited {
        by_score.max(Action::Tag)
    } else {
        by_score
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_map_to_actions() {
        let t = Thresholds::default();
        let off = Thresholds {
            tag: Some(5.0),
            quarantine: None,
            reject: None,
        };
        for (score, limited, th, want) in [
            (0.0, false, t, Action::Deliver),
            (4.9, false, t, Action::Deliver),
            (5.0, false, t, Action::Tag),
            (9.9, false, t, Action::Tag),
            (10.0, false, t, Action::Quarantine),
            (25.0, false, t, Action::Reject),
            (0.0, true, t, Action::Tag),
            (12.0, true, t, Action::Quarantine),
            (99.0, false, off, Action::Tag),
            (
                99.0,
                false,
                Thresholds {
                    tag: None,
                    quarantine: None,
                    reject: None,
                },
                Action::Deliver,
            ),
        ] {
            assert_eq!(
                decide(score, limited, &th),
                want,
                "{score} {limited} {th:?}"
            );
        }
    }
}
