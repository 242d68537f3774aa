//! The per-site model (issue 16, item 4): what this site's people decided about their
//! own mail (a quarantined message released is legitimate, one deleted as phishing is
//! phishing, `palisade learn` in bulk), counted per feature in the store that every
//! node shares, and read back as a naive-Bayes judgement, like SpamAssassin's and
//! rspamd's Bayes.
//!
//! Features are the content model's ([`crate::classifier::features`]: words of the
//! subject and the text, link hosts, lure kinds), so our own header fields never train
//! it. Each decision weighs what its maker's role allows ([`ADMIN_WEIGHT`],
//! [`USER_WEIGHT`]); the model says nothing until it has [`MIN_EXAMPLES`] (weighted) of
//! legitimate mail and of the class it judges, and no word moves it more than
//! [`MAX_TOKEN`] log-odds, so a few poisoned decisions cannot make it decide alone.

use crate::classifier::Feature;
use std::collections::HashMap;

pub use palisade_types::MessageLabel as Label;

/// An administrator's decision counts this much.
pub const ADMIN_WEIGHT: f64 = 1.0;
/// A user's decision about their own mail counts this much.
pub const USER_WEIGHT: f64 = 0.25;
/// Weighted examples of legitimate mail, and of the class judged, before the model
/// says anything.
pub const MIN_EXAMPLES: f64 = 20.0;
/// The most one feature moves the log-odds.
pub const MAX_TOKEN: f64 = 2.0;
/// Features weighed per message: the most telling ones (Graham's "interesting" tokens).
const TELLING: usize = 30;

/// Learnt counts: weighted messages per label, and per feature bucket the weighted
/// messages of each label that had it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiteModel {
    pub totals: [f64; 3],
    pub counts: HashMap<u32, [f64; 3]>,
}

/// The model's judgement of one message for one class.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    /// Log-odds of the class against legitimate mail.
    pub logit: f64,
    /// The features that pushed towards the class most, strongest first.
    pub top: Vec<String>,
}

impl SiteModel {
    /// From the store's counts (`totals` and `counts` in [`Label::index`] order).
    pub fn from_counts(
        totals: [f64; 3],
        counts: impl IntoIterator<Item = (u32, [f64; 3])>,
    ) -> SiteModel {
        SiteModel {
            totals,
            counts: counts.into_iter().collect(),
        }
    }

    /// Weighted examples learnt for a label.
    pub fn examples(&self, label: Label) -> f64 {
        self.totals[label.index()]
    }

    /// `features` judged as `class` against legitimate mail; `None` while the model has
    /// too few examples of either.
    pub fn judge(&self, features: &[Feature], class: Label) -> Option<Judged> {
        let (c, h) = (class.index(), Label::Ham.index());
        let (nc, nh) = (self.totals[c], self.totals[h]);
        if class == Label::Ham || nc < MIN_EXAMPLES || nh < MIN_EXAMPLES {
            return None;
        }
        let mut parts: Vec<(&str, f64)> = features
            .iter()
            .filter_map(|(bucket, name)| {
                let n = self.counts.get(bucket)?;
                // Seen in at least two decisions: one message's words are not a pattern.
                if n[c] + n[h] < 2.0 {
                    return None;
                }
                let p = |k: f64, total: f64| ((k + 1.0) / (total + 2.0)).ln();
                let l = (p(n[c], nc) - p(n[h], nh)).clamp(-MAX_TOKEN, MAX_TOKEN);
                Some((name.as_str(), l))
            })
            .collect();
        parts.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(b.0)));
        parts.truncate(TELLING);
        let logit = parts.iter().map(|(_, l)| l).sum();
        parts.retain(|(_, l)| *l > 0.0);
        Some(Judged {
            logit,
            top: parts.iter().take(5).map(|(n, _)| n.to_string()).collect(),
        })
    }

    /// Adds (or, with a negative weight, takes back) one decision, for tests and for
    /// stores that keep the counts in memory.
    pub fn add(&mut self, buckets: &[u32], label: Label, weight: f64) {
        let i = label.index();
        self.totals[i] += weight;
        for b in buckets {
            self.counts.entry(*b).or_default()[i] += weight;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::classifier::{Content, features};

    fn f(text: &str) -> Vec<Feature> {
        features(&Content {
            body: text.into(),
            ..Content::default()
        })
    }

    fn buckets(text: &str) -> Vec<u32> {
        f(text).into_iter().map(|(b, _)| b).collect()
    }

    #[test]
    fn silent_until_it_has_enough_examples_then_learns_the_site() {
        let mut m = SiteModel::default();
        let phish = "your parcel is held pay the customs fee here";
        let ham = "the build of the board passed all tests today";
        for _ in 0..19 {
            m.add(&buckets(phish), Label::Phish, ADMIN_WEIGHT);
            m.add(&buckets(ham), Label::Ham, ADMIN_WEIGHT);
        }
        assert_eq!(m.judge(&f(phish), Label::Phish), None);
        m.add(&buckets(phish), Label::Phish, ADMIN_WEIGHT);
        m.add(&buckets(ham), Label::Ham, ADMIN_WEIGHT);
        let j = m
            .judge(&f("customs fee for your parcel"), Label::Phish)
            .unwrap();
        assert!(j.logit > 4.0, "{j:?}");
        assert!(j.top.contains(&"w:customs".to_string()), "{j:?}");
        let j = m
            .judge(&f("the board passed the tests"), Label::Phish)
            .unwrap();
        assert!(j.logit < -4.0, "{j:?}");
        // Nothing learnt about spam yet.
        assert_eq!(m.judge(&f(phish), Label::Spam), None);
        // A decision taken back.
        m.add(&buckets(phish), Label::Phish, -ADMIN_WEIGHT);
        assert_eq!(m.examples(Label::Phish), 19.0);
    }

    #[test]
    fn one_word_cannot_decide() {
        let mut m = SiteModel::default();
        for i in 0..40 {
            m.add(
                &buckets(&format!("invoice attached {}", "x".repeat(i % 3 + 2))),
                Label::Phish,
                1.0,
            );
            m.add(&buckets("lunch friday"), Label::Ham, 1.0);
        }
        let j = m.judge(&f("invoice"), Label::Phish).unwrap();
        assert!(j.logit <= MAX_TOKEN, "{j:?}");
    }
}
