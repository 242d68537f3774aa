//! What an audit says: findings, each with a status, the evidence it rests on, the fix
//! in one sentence and a weight; and the score they add up to.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Info,
}

/// The score's categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// TLS between servers: MTA-STS, DANE, TLS-RPT (and the live probes).
    Transport,
    /// Who may send as the domain: SPF, DKIM.
    Authentication,
    /// What receivers are told to do with failures: DMARC.
    Policy,
    /// The plumbing: MX, addresses, reverse DNS, DNSSEC.
    Hygiene,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::Transport,
        Category::Authentication,
        Category::Policy,
        Category::Hygiene,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Category::Transport => "transport",
            Category::Authentication => "authentication",
            Category::Policy => "policy",
            Category::Hygiene => "hygiene",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable, dotted (`spf.all_pass`), for scripts and the documentation.
    pub id: &'static str,
    pub category: Category,
    pub status: Status,
    /// What was seen (records quoted as published).
    pub evidence: String,
    /// How to fix it, one sentence (empty for a pass).
    pub advice: String,
    /// Points at stake: a failure costs all of them, a warning half.
    pub weight: u32,
}

impl Finding {
    pub fn new(id: &'static str, category: Category, status: Status, weight: u32) -> Finding {
        Finding {
            id,
            category,
            status,
            evidence: String::new(),
            advice: String::new(),
            weight,
        }
    }

    pub fn evidence(mut self, e: impl Into<String>) -> Finding {
        self.evidence = e.into();
        self
    }

    pub fn advice(mut self, a: impl Into<String>) -> Finding {
        self.advice = a.into();
        self
    }

    /// The points this finding takes off its category's 100.
    pub fn deduction(&self) -> u32 {
        match self.status {
            Status::Fail => self.weight,
            Status::Warn => self.weight.div_ceil(2),
            Status::Pass | Status::Info => 0,
        }
    }
}

/// Each category's 0-100 and the overall score (their mean) with a letter grade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Score {
    pub overall: u32,
    pub grade: &'static str,
    pub categories: Vec<(Category, u32)>,
}

/// 100 per category minus the deductions of its findings (never below 0).
pub fn score(findings: &[Finding]) -> Score {
    let categories: Vec<(Category, u32)> = Category::ALL
        .iter()
        .map(|&c| {
            let lost: u32 = findings
                .iter()
                .filter(|f| f.category == c)
                .map(Finding::deduction)
                .sum();
            (c, 100u32.saturating_sub(lost))
        })
        .collect();
    let overall = categories.iter().map(|(_, s)| s).sum::<u32>() / categories.len() as u32;
    Score {
        overall,
        grade: grade(overall),
        categories,
    }
}

fn grade(score: u32) -> &'static str {
    match score {
        100.. => "A+",
        90..=99 => "A",
        80..=89 => "B",
        65..=79 => "C",
        50..=64 => "D",
        _ => "F",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deductions_add_up_per_category() {
        let f = |id, c, s, w| Finding::new(id, c, s, w);
        let findings = [
            f("a", Category::Policy, Status::Fail, 40),
            f("b", Category::Policy, Status::Warn, 15),
            f("c", Category::Transport, Status::Pass, 30),
            f("d", Category::Hygiene, Status::Fail, 300),
            f("e", Category::Authentication, Status::Info, 10),
        ];
        let s = score(&findings);
        assert_eq!(
            s.categories,
            [
                (Category::Transport, 100),
                (Category::Authentication, 100),
                (Category::Policy, 52),
                (Category::Hygiene, 0),
            ]
        );
        assert_eq!((s.overall, s.grade), (63, "D"));
        assert_eq!(score(&[]).grade, "A+");
    }
}
