//! `palisade audit corpus`: the engine over labelled mail, with the figures of
//! `palisade_phish::evaluation` (issue 16). Offline: authentication is not evaluated, so
//! it neither helps nor hurts a message; OpenPGP and S/MIME signatures are checked as
//! `serve` checks them.

use crate::commands::Paths;
use crate::usage;
use palisade_config::Config;
use palisade_phish::evaluation::{self, Report, Sample};
use palisade_phish::{Action, Auth, Context, Engine};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Files larger than this are not messages anyone would be sent (the server's own
/// default size limit is far below it); they are counted as skipped.
const MAX_FILE: u64 = 64 * 1024 * 1024;
/// How deep sources may nest under the directories given.
const MAX_DEPTH: usize = 4;

/// How the result is shown.
pub struct Output {
    pub json: bool,
    /// Every false positive and miss, one per line (or in the JSON).
    pub list: bool,
}

pub async fn run(
    paths: &Paths,
    cfg: &Config,
    phish: &Path,
    ham: &Path,
    out: Output,
) -> anyhow::Result<()> {
    let engine = crate::audit_message::engine(paths, cfg).await?;
    let (mut samples, mut files) = (Vec::new(), Vec::new());
    let mut skipped = Vec::new();
    for (dir, is_phish) in [(phish, true), (ham, false)] {
        for (source, file) in messages(dir)? {
            match score(&engine, &file).await? {
                Some(mut s) => {
                    s.source = source;
                    s.phish = is_phish;
                    samples.push(s);
                    files.push(file);
                }
                None => skipped.push(file),
            }
        }
    }
    if samples.iter().all(|s| s.phish) || samples.iter().all(|s| !s.phish) {
        return Err(usage("both --phish and --ham need at least one message"));
    }
    let report = evaluation::evaluate(&samples);
    let wrong: Vec<(&PathBuf, &Sample)> = files
        .iter()
        .zip(&samples)
        .filter(|(_, s)| s.phish == (s.action == Action::Deliver))
        .collect();
    if out.json {
        let mut v = serde_json::to_value(&report)?;
        v["skipped"] = serde_json::json!(skipped);
        if out.list {
            v["wrong"] = wrong
                .iter()
                .map(|(f, s)| serde_json::json!({"file": f, "phish": s.phish, "action": s.action, "score": s.score, "signals": s.signals}))
                .collect();
        }
        println!("{v}");
    } else {
        print(&report, &skipped);
        for (file, s) in wrong.iter().filter(|_| out.list) {
            let names: Vec<&str> = s.signals.iter().map(|(n, _)| n.as_str()).collect();
            let what = if s.phish { "missed" } else { "held back" };
            println!(
                "{what}: {} {} {:.1} {}",
                file.display(),
                s.action.name(),
                s.score,
                names.join(",")
            );
        }
    }
    Ok(())
}

/// Every file under `dir` with its source: the first sub-directory it is in, or the
/// directory's own name for files directly in it. Sorted, so runs are comparable.
fn messages(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let own = dir
        .file_name()
        .map_or_else(|| ".".to_string(), |n| n.to_string_lossy().into_owned());
    let mut out = Vec::new();
    walk(dir, dir, &own, 0, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(
    root: &Path,
    dir: &Path,
    own: &str,
    depth: usize,
    out: &mut Vec<(String, PathBuf)>,
) -> anyhow::Result<()> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| usage(format!("cannot read {}: {e}", dir.display())))?;
    for entry in entries {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() && depth < MAX_DEPTH {
            walk(root, &path, own, depth + 1, out)?;
        } else if path.is_file() {
            let source = path
                .strip_prefix(root)
                .ok()
                .and_then(|rel| rel.components().nth(1).and(rel.components().next()))
                .map_or_else(
                    || own.to_string(),
                    |c| c.as_os_str().to_string_lossy().into_owned(),
                );
            out.push((source, path));
        }
    }
    Ok(())
}

/// The engine's outcome for one file; `None` when it is too large or not a message.
async fn score(engine: &Engine, file: &Path) -> anyhow::Result<Option<Sample>> {
    if std::fs::metadata(file)?.len() > MAX_FILE {
        return Ok(None);
    }
    let raw = crate::audit::read_message(file)?;
    if !palisade_checks::is_message(&raw) {
        return Ok(None);
    }
    let raw = Arc::new(raw);
    let signature = palisade_server::signatures::check(None, Arc::clone(&raw)).await;
    let state = signature.as_ref().map(palisade_server::signatures::state);
    let ctx = Context {
        signature: state.as_ref(),
        ..Context::new(Auth::NotEvaluated)
    };
    let a = engine.analyze(&raw, &ctx);
    Ok(Some(Sample {
        source: String::new(),
        phish: false,
        score: a.score,
        action: a.action,
        signals: a
            .signals
            .iter()
            .map(|s| (s.name.to_string(), s.weight))
            .collect(),
    }))
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn print(r: &Report, skipped: &[PathBuf]) {
    println!(
        "{} phishing and {} legitimate messages ({} skipped: too large or not a message); authentication not evaluated",
        r.phish,
        r.ham,
        skipped.len()
    );
    println!(
        "{:<12}{:>9}{:>9}{:>12}{:>9}",
        "", "deliver", "tag", "quarantine", "reject"
    );
    for (label, name) in [("phish", "phishing"), ("ham", "legitimate")] {
        let row = r.confusion.get(label);
        let n = |a: &str| row.and_then(|m| m.get(a)).copied().unwrap_or(0);
        println!(
            "{name:<12}{:>9}{:>9}{:>12}{:>9}",
            n("deliver"),
            n("tag"),
            n("quarantine"),
            n("reject")
        );
    }
    println!(
        "caught {}, legitimate held back {}, legitimate rejected {}",
        pct(r.caught),
        pct(r.held_back),
        r.ham_rejected
    );
    println!("ROC AUC {:.3}", r.roc_auc);
    for p in [r.at_1pct, r.at_2pct] {
        println!(
            "with at most {} held back: score >= {:.1} catches {} (holds back {})",
            pct(p.cap),
            p.threshold,
            pct(p.caught),
            pct(p.held_back)
        );
    }
    println!("per source:");
    for s in &r.sources {
        match (s.at_1pct, s.at_2pct) {
            (Some(a1), Some(a2)) => println!(
                "  phishing   {:<32}{:>6}  caught {:>6}  at 1%: {:>6}  at 2%: {:>6}",
                s.source,
                s.messages,
                pct(s.flagged),
                pct(a1),
                pct(a2)
            ),
            _ => println!(
                "  legitimate {:<32}{:>6}  held back {:>6}  rejected {}",
                s.source,
                s.messages,
                pct(s.flagged),
                s.rejected
            ),
        }
    }
    print_reasons(
        "signals on legitimate mail held back",
        &r.false_positive_reasons,
    );
    print_reasons("signals on missed phishing", &r.miss_reasons);
    println!(
        "missed phishing with no signal at all: {}",
        r.misses_without_signal
    );
}

fn print_reasons(title: &str, reasons: &[(String, usize, f64)]) {
    println!("{title}:");
    for (name, count, points) in reasons.iter().take(15) {
        println!("  {name:<32}{count:>6} messages {points:>9.1} points");
    }
}
