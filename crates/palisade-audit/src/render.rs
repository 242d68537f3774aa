//! The report for a terminal (grouped by category, colour when it is one) and as JSON.

use crate::Report;
use crate::finding::{Category, Status};
use std::fmt::Write;

fn mark(s: Status, colour: bool) -> &'static str {
    match (s, colour) {
        (Status::Pass, false) => "PASS",
        (Status::Warn, false) => "WARN",
        (Status::Fail, false) => "FAIL",
        (Status::Info, false) => "INFO",
        (Status::Pass, true) => "\x1b[32mPASS\x1b[0m",
        (Status::Warn, true) => "\x1b[33mWARN\x1b[0m",
        (Status::Fail, true) => "\x1b[31mFAIL\x1b[0m",
        (Status::Info, true) => "\x1b[36mINFO\x1b[0m",
    }
}

/// The terminal report: the score, then each category's findings with the points each
/// one cost and its fix.
pub fn text(r: &Report, colour: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} / 100, grade {}",
        r.domain, r.score.overall, r.score.grade
    );
    for (c, s) in &r.score.categories {
        let _ = write!(out, "  {} {s}", c.name());
    }
    out.push('\n');
    for c in Category::ALL {
        let these: Vec<_> = r.findings.iter().filter(|f| f.category == c).collect();
        if these.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{}", c.name().to_uppercase());
        for f in these {
            let cost = match f.deduction() {
                0 => String::new(),
                n => format!(" (-{n})"),
            };
            let _ = writeln!(
                out,
                "  {} {}{cost}: {}",
                mark(f.status, colour),
                f.id,
                f.evidence
            );
            if !f.advice.is_empty() && f.status != Status::Pass {
                let _ = writeln!(out, "       fix: {}", f.advice);
            }
        }
    }
    out
}

/// Every finding with its id, category, status, evidence, advice and weight.
pub fn json(r: &Report) -> serde_json::Value {
    let categories: serde_json::Map<String, serde_json::Value> = r
        .score
        .categories
        .iter()
        .map(|(c, s)| (c.name().to_string(), serde_json::json!(s)))
        .collect();
    serde_json::json!({
        "domain": r.domain,
        "score": r.score.overall,
        "grade": r.score.grade,
        "categories": categories,
        "findings": r.findings.iter().map(|f| serde_json::json!({
            "id": f.id,
            "category": f.category,
            "status": f.status,
            "evidence": f.evidence,
            "advice": f.advice,
            "weight": f.weight,
            "deduction": f.deduction(),
        })).collect::<Vec<_>>(),
    })
}
