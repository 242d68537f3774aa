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

/// The CSS colour of a status.
fn colour(s: Status) -> &'static str {
    match s {
        Status::Pass => "#1a7f37",
        Status::Warn => "#9a6700",
        Status::Fail => "#cf222e",
        Status::Info => "#0969da",
    }
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Warn => "warning",
        Status::Fail => "failure",
        Status::Info => "note",
    }
}

pub(crate) const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;\
padding:0 1rem;color:#1f2328}h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid \
#d0d7de;padding-bottom:.3rem}.summary{display:flex;gap:2rem;align-items:center}\
.cats{list-style:none;padding:0}.cats li{margin:.3rem 0}.bar{display:inline-block;height:.7rem;\
background:#d0d7de;width:12rem;vertical-align:middle;margin-left:.5rem}.bar span{display:block;\
height:100%}.finding{border-left:4px solid;padding:.3rem .8rem;margin:.6rem 0}\
.finding .id{font-family:monospace;color:#57606a}.badge{color:#fff;border-radius:.3rem;\
padding:0 .4rem;font-size:.8rem;margin-right:.4rem}.fix{margin-top:.2rem}\
.evidence{word-break:break-word}footer{margin-top:2rem;color:#57606a;font-size:.8rem}";

/// A self-contained page a non-expert can read and share: the score as a gauge, each
/// category's score, then the findings grouped by category, each with what was seen,
/// what it cost and how to fix it. No script, no outside resource; every published
/// value is escaped (maud escapes what it interpolates).
pub fn html(r: &Report) -> String {
    use maud::{DOCTYPE, PreEscaped, html};
    let score = r.score.overall;
    // The gauge: a circle whose stroke covers score% of its circumference.
    let circumference = 2.0 * std::f64::consts::PI * 52.0;
    let filled = circumference * f64::from(score) / 100.0;
    let gauge_colour = match score {
        90.. => colour(Status::Pass),
        65..=89 => colour(Status::Warn),
        _ => colour(Status::Fail),
    };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Mail security of " (r.domain) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "Mail security of " (r.domain) }
                div.summary {
                    svg width="140" height="140" viewBox="0 0 140 140" role="img"
                        aria-label=(format!("score {score} of 100")) {
                        circle cx="70" cy="70" r="52" fill="none" stroke="#d0d7de" stroke-width="14" {}
                        circle cx="70" cy="70" r="52" fill="none" stroke=(gauge_colour)
                            stroke-width="14" transform="rotate(-90 70 70)"
                            stroke-dasharray=(format!("{filled:.1} {circumference:.1}")) {}
                        text x="70" y="78" text-anchor="middle" font-size="30" font-weight="bold" {
                            (score)
                        }
                    }
                    div {
                        p id="score" { "Score " strong { (score) " / 100" } ", grade " strong { (r.score.grade) } }
                        ul.cats {
                            @for (c, s) in &r.score.categories {
                                li {
                                    (c.name()) ": " (s)
                                    span.bar { span style=(format!("width:{s}%;background:{}", if *s >= 90 { colour(Status::Pass) } else if *s >= 65 { colour(Status::Warn) } else { colour(Status::Fail) })) {} }
                                }
                            }
                        }
                    }
                }
                @for c in Category::ALL {
                    @let these: Vec<_> = r.findings.iter().filter(|f| f.category == c).collect();
                    @if !these.is_empty() {
                        h2 { (c.name()) }
                        @for f in these {
                            div.finding style=(format!("border-color:{}", colour(f.status))) {
                                span.badge style=(format!("background:{}", colour(f.status))) { (status_name(f.status)) }
                                span.id { (f.id) }
                                @if f.deduction() > 0 { " (-" (f.deduction()) ")" }
                                div.evidence { (f.evidence) }
                                @if !f.advice.is_empty() && f.status != Status::Pass {
                                    div.fix { strong { "Fix: " } (f.advice) }
                                }
                            }
                        }
                    }
                }
                footer { "Made by Palisade (palisade audit domain). Each category starts at 100; a failure costs its weight, a warning half." }
            }
        }
    };
    page.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Finding, score};

    #[test]
    fn published_values_are_escaped_in_the_page() {
        let findings = vec![
            Finding::new("spf.syntax", Category::Authentication, Status::Fail, 40)
                .evidence("\"v=spf1 <script>alert(1)</script>\"")
                .advice("Fix & publish"),
        ];
        let r = Report {
            domain: "example.test".into(),
            score: score(&findings),
            findings,
        };
        let page = html(&r);
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("Fix &amp; publish"));
        assert!(
            page.contains("Score <strong>90 / 100</strong>, grade <strong>A</strong>"),
            "{page}"
        );
    }
}
