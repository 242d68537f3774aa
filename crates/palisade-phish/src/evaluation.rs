//! How good the verdicts are on labelled mail: the figures `palisade audit corpus`
//! prints (issue 16). Pure arithmetic over (label, score, action, signals) samples.
//!
//! Counting: a phishing, scam or spam message is caught when its action is anything but
//! a plain deliver; a legitimate message is held back on the same actions. The
//! operating points ("detection at ≤ 1% held back") put the threshold where at most that
//! share of the legitimate mail scores at or above it.

use crate::verdict::Action;
use serde::Serialize;
use std::collections::BTreeMap;

/// One message's outcome.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Where it came from (the corpus sub-directory), for the per-source figures.
    pub source: String,
    pub phish: bool,
    pub score: f64,
    pub action: Action,
    /// The signals that fired, with their weights.
    pub signals: Vec<(String, f64)>,
}

/// Detection at a cap on legitimate mail held back.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OperatingPoint {
    /// The share of legitimate mail allowed at or above the threshold.
    pub cap: f64,
    /// The lowest score that keeps within the cap (`inf`: none does).
    pub threshold: f64,
    pub caught: f64,
    pub held_back: f64,
}

/// The figures for one source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceFigures {
    pub source: String,
    pub phish: bool,
    pub messages: usize,
    /// Phishing: the share caught by the configured actions; legitimate: held back.
    pub flagged: f64,
    /// Phishing sources only: detection against all legitimate mail at ≤ 1% and ≤ 2%.
    pub at_1pct: Option<f64>,
    pub at_2pct: Option<f64>,
    /// Legitimate sources only: rejected outright.
    pub rejected: usize,
}

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub phish: usize,
    pub ham: usize,
    /// `[label][action]` counts: `confusion["phish"]["tag"]`.
    pub confusion: BTreeMap<&'static str, BTreeMap<&'static str, usize>>,
    pub caught: f64,
    pub held_back: f64,
    pub ham_rejected: usize,
    pub roc_auc: f64,
    pub at_1pct: OperatingPoint,
    pub at_2pct: OperatingPoint,
    pub sources: Vec<SourceFigures>,
    /// Signals on legitimate mail held back: (name, messages, points in all).
    pub false_positive_reasons: Vec<(String, usize, f64)>,
    /// Signals on missed phishing, and how many misses had none at all.
    pub miss_reasons: Vec<(String, usize, f64)>,
    pub misses_without_signal: usize,
}

/// Every figure over `samples`.
pub fn evaluate(samples: &[Sample]) -> Report {
    let (phish, ham): (Vec<&Sample>, Vec<&Sample>) = samples.iter().partition(|s| s.phish);
    let ham_scores: Vec<f64> = ham.iter().map(|s| s.score).collect();
    let phish_scores: Vec<f64> = phish.iter().map(|s| s.score).collect();
    let held: Vec<&Sample> = ham.iter().copied().filter(|s| flagged(s)).collect();
    let missed: Vec<&Sample> = phish.iter().copied().filter(|s| !flagged(s)).collect();
    Report {
        phish: phish.len(),
        ham: ham.len(),
        confusion: confusion(samples),
        caught: share(phish.len() - missed.len(), phish.len()),
        held_back: share(held.len(), ham.len()),
        ham_rejected: ham.iter().filter(|s| s.action == Action::Reject).count(),
        roc_auc: roc_auc(&phish_scores, &ham_scores),
        at_1pct: operating_point(&phish_scores, &ham_scores, 0.01),
        at_2pct: operating_point(&phish_scores, &ham_scores, 0.02),
        sources: sources(samples, &ham_scores),
        false_positive_reasons: reasons(&held),
        miss_reasons: reasons(&missed),
        misses_without_signal: missed.iter().filter(|s| s.signals.is_empty()).count(),
    }
}

fn flagged(s: &Sample) -> bool {
    s.action != Action::Deliver
}

fn share(n: usize, of: usize) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}

fn confusion(samples: &[Sample]) -> BTreeMap<&'static str, BTreeMap<&'static str, usize>> {
    let mut m: BTreeMap<&'static str, BTreeMap<&'static str, usize>> = BTreeMap::new();
    for s in samples {
        let label = if s.phish { "phish" } else { "ham" };
        *m.entry(label)
            .or_default()
            .entry(s.action.name())
            .or_default() += 1;
    }
    m
}

/// The probability that a random phish scores above a random legitimate message (ties
/// count half): the Mann–Whitney form of the area under the ROC curve.
pub fn roc_auc(phish: &[f64], ham: &[f64]) -> f64 {
    if phish.is_empty() || ham.is_empty() {
        return 0.0;
    }
    let mut ham = ham.to_vec();
    ham.sort_by(f64::total_cmp);
    let mut wins = 0.0;
    for p in phish {
        let below = ham.partition_point(|h| h < p);
        let equal = ham.partition_point(|h| h <= p) - below;
        wins += below as f64 + equal as f64 / 2.0;
    }
    wins / (phish.len() as f64 * ham.len() as f64)
}

/// The lowest threshold with at most `cap` of `ham` at or above it, and what it catches.
pub fn operating_point(phish: &[f64], ham: &[f64], cap: f64) -> OperatingPoint {
    let mut candidates: Vec<f64> = phish.iter().chain(ham).copied().collect();
    candidates.sort_by(f64::total_cmp);
    candidates.dedup();
    let above = |xs: &[f64], t: f64| xs.iter().filter(|x| **x >= t).count();
    let allowed = (cap * ham.len() as f64).floor() as usize;
    let threshold = candidates
        .into_iter()
        .find(|t| above(ham, *t) <= allowed)
        .unwrap_or(f64::INFINITY);
    OperatingPoint {
        cap,
        threshold,
        caught: share(above(phish, threshold), phish.len()),
        held_back: share(above(ham, threshold), ham.len()),
    }
}

fn sources(samples: &[Sample], ham_scores: &[f64]) -> Vec<SourceFigures> {
    let mut by: BTreeMap<(bool, &str), Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        by.entry((s.phish, &s.source)).or_default().push(s);
    }
    by.into_iter()
        .map(|((phish, source), group)| {
            let scores: Vec<f64> = group.iter().map(|s| s.score).collect();
            let at = |cap| phish.then(|| operating_point(&scores, ham_scores, cap).caught);
            SourceFigures {
                source: source.to_string(),
                phish,
                messages: group.len(),
                flagged: share(group.iter().filter(|s| flagged(s)).count(), group.len()),
                at_1pct: at(0.01),
                at_2pct: at(0.02),
                rejected: group
                    .iter()
                    .filter(|s| !phish && s.action == Action::Reject)
                    .count(),
            }
        })
        .collect()
}

/// Signal names by how many of `samples` they fired on, most first.
fn reasons(samples: &[&Sample]) -> Vec<(String, usize, f64)> {
    let mut by: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
    for s in samples {
        for (name, weight) in &s.signals {
            let e = by.entry(name).or_default();
            e.0 += 1;
            e.1 += weight;
        }
    }
    let mut out: Vec<(String, usize, f64)> = by
        .into_iter()
        .map(|(n, (c, w))| (n.to_string(), c, w))
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample(source: &str, phish: bool, score: f64) -> Sample {
        let action = crate::verdict::decide(score, false, &Default::default());
        Sample {
            source: source.into(),
            phish,
            score,
            action,
            signals: if score > 0.0 {
                vec![("lure_language".into(), score)]
            } else {
                vec![]
            },
        }
    }

    #[test]
    fn roc_auc_counts_pairs_and_ties() {
        assert_eq!(roc_auc(&[3.0, 4.0], &[1.0, 2.0]), 1.0);
        assert_eq!(roc_auc(&[1.0, 2.0], &[3.0, 4.0]), 0.0);
        assert_eq!(roc_auc(&[1.0], &[1.0]), 0.5);
        assert_eq!(roc_auc(&[2.0, 0.0], &[1.0, 1.0]), 0.5);
    }

    #[test]
    fn operating_point_keeps_within_the_cap() {
        let ham: Vec<f64> = (0..100).map(f64::from).collect();
        let phish = [50.0, 99.0, 99.5, 120.0];
        // 1% of 100: one legitimate message may reach the threshold: 99.
        let p = operating_point(&phish, &ham, 0.01);
        assert_eq!(p.threshold, 99.0);
        assert_eq!(p.caught, 0.75);
        assert_eq!(p.held_back, 0.01);
        let none = operating_point(&[1.0], &[5.0, 5.0], 0.01);
        assert_eq!(none.threshold, f64::INFINITY);
        assert_eq!(none.caught, 0.0);
    }

    #[test]
    fn report_counts_actions_sources_and_reasons() {
        let samples = [
            sample("lists", false, 0.0),
            sample("lists", false, 6.0),
            sample("news", false, 30.0),
            sample("scam", true, 12.0),
            sample("scam", true, 0.0),
        ];
        let r = evaluate(&samples);
        assert_eq!((r.phish, r.ham, r.ham_rejected), (2, 3, 1));
        assert_eq!(r.confusion["ham"]["tag"], 1);
        assert_eq!(r.confusion["phish"]["quarantine"], 1);
        assert_eq!(r.caught, 0.5);
        assert_eq!(r.misses_without_signal, 1);
        assert_eq!(
            r.false_positive_reasons,
            [("lure_language".into(), 2, 36.0)]
        );
        let lists = r.sources.iter().find(|s| s.source == "lists").unwrap();
        assert_eq!(
            (lists.messages, lists.flagged, lists.at_1pct),
            (2, 0.5, None)
        );
    }
}
