//! `palisade audit corpus`: the engine over labelled mail, with the figures of
//! `palisade_phish::evaluation` (issue 16). Offline: authentication is not evaluated, so
//! it neither helps nor hurts a message; OpenPGP and S/MIME signatures are checked as
//! `serve` checks them.

use crate::commands::Paths;
use crate::usage;
use palisade_config::Config;
use palisade_phish::classifier::{self, Example, Model, Training};
use palisade_phish::evaluation::{self, Report, Sample};
use palisade_phish::{Action, Auth, Context, Engine};
use palisade_server::learning::{buckets, reader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Files larger than this are not messages anyone would be sent (the server's own
/// default size limit is far below it); they are counted as skipped.
const MAX_FILE: u64 = 64 * 1024 * 1024;
/// How deep sources may nest under the directories given.
const MAX_DEPTH: usize = 4;

/// How the result is shown, and what else is done with the corpus.
pub struct Output {
    pub json: bool,
    /// Every false positive and miss, one per line (or in the JSON).
    pub list: bool,
    /// Leave one source out: each source is judged by an engine whose content model
    /// was trained without it.
    pub loso: bool,
    /// Train the content model on the whole corpus and write it here.
    pub train: Option<PathBuf>,
    /// A site's own learning: the first N messages of each source are the site's
    /// decisions (`palisade learn`), the rest are judged with the site model they make.
    pub site_learn: Option<usize>,
}

/// One labelled message.
struct Labelled {
    source: String,
    phish: bool,
    file: PathBuf,
    raw: Arc<Vec<u8>>,
}

pub async fn run(
    paths: &Paths,
    cfg: &Config,
    phish: &Path,
    ham: &Path,
    out: Output,
) -> anyhow::Result<()> {
    let (corpus, skipped) = load(phish, ham)?;
    if corpus.iter().all(|m| m.phish) || corpus.iter().all(|m| !m.phish) {
        return Err(usage("both --phish and --ham need at least one message"));
    }
    if let Some(file) = &out.train {
        let model = trained(&corpus, &features(&corpus), None);
        std::fs::write(file, model.to_bytes())
            .map_err(|e| usage(format!("{}: {e}", file.display())))?;
        println!(
            "content model trained on {} messages: {}",
            corpus.len(),
            file.display()
        );
        return Ok(());
    }
    if let Some(n) = out.site_learn {
        let (taught, judged): (Vec<Labelled>, Vec<Labelled>) = first_of_each_source(corpus, n);
        let engine = site_engine(cfg, &taught)?;
        let mut samples = Vec::with_capacity(judged.len());
        for m in &judged {
            samples.push(score(&engine, m).await);
        }
        println!(
            "site learning: {} messages learnt ({n} of each source), {} judged",
            taught.len(),
            judged.len()
        );
        return report(&judged, &samples, &skipped, &out);
    }
    let samples = if out.loso {
        leave_one_source_out(cfg, &corpus).await?
    } else {
        let engine = crate::audit_message::engine(paths, cfg).await?;
        let mut samples = Vec::with_capacity(corpus.len());
        for m in &corpus {
            samples.push(score(&engine, m).await);
        }
        samples
    };
    report(&corpus, &samples, &skipped, &out)
}

/// The first `n` messages of each source, and the rest.
fn first_of_each_source(corpus: Vec<Labelled>, n: usize) -> (Vec<Labelled>, Vec<Labelled>) {
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    corpus.into_iter().partition(|m| {
        let k = seen.entry(m.source.clone()).or_default();
        *k += 1;
        *k <= n
    })
}

/// The configured engine with a site model learnt from `taught` (as an administrator's
/// decisions: phish as phishing, ham as legitimate).
fn site_engine(cfg: &Config, taught: &[Labelled]) -> anyhow::Result<Engine> {
    use palisade_phish::site::{ADMIN_WEIGHT, Label, SiteModel};
    let reader = reader();
    let mut model = SiteModel::default();
    for m in taught {
        let label = if m.phish { Label::Phish } else { Label::Ham };
        model.add(&buckets(&reader, &m.raw), label, ADMIN_WEIGHT);
    }
    let mut s = palisade_server::phishing::settings(cfg, vec![], vec![]);
    s.site_model = Some(Arc::new(model));
    Engine::new(&s).map_err(|e| usage(format!("phishing.weights: {e}")))
}

/// The file's contents if it is a message no larger than [`MAX_FILE`].
pub fn read_if_message(file: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    if std::fs::metadata(file)?.len() > MAX_FILE {
        return Ok(None);
    }
    Ok(Some(crate::audit::read_message(file)?).filter(|r| palisade_checks::is_message(r)))
}

/// Every message under the two directories; files too large or not messages apart.
fn load(phish: &Path, ham: &Path) -> anyhow::Result<(Vec<Labelled>, Vec<PathBuf>)> {
    let (mut corpus, mut skipped) = (Vec::new(), Vec::new());
    for (dir, is_phish) in [(phish, true), (ham, false)] {
        for (source, file) in messages(dir)? {
            match read_if_message(&file)? {
                Some(raw) => corpus.push(Labelled {
                    source,
                    phish: is_phish,
                    file,
                    raw: Arc::new(raw),
                }),
                None => skipped.push(file),
            }
        }
    }
    Ok((corpus, skipped))
}

/// The model's features of every message. The text is read without a time limit, so
/// training does not depend on the machine.
fn features(corpus: &[Labelled]) -> Vec<Vec<u32>> {
    let reader = reader();
    corpus.iter().map(|m| buckets(&reader, &m.raw)).collect()
}

/// A model trained on every message but `without`'s source.
fn trained(corpus: &[Labelled], features: &[Vec<u32>], without: Option<&str>) -> Model {
    let set: Vec<Example> = corpus
        .iter()
        .zip(features)
        .filter(|(m, _)| Some(m.source.as_str()) != without)
        .map(|(m, f)| Example {
            features: f.clone(),
            phish: m.phish,
            source: m.source.clone(),
        })
        .collect();
    classifier::train(&set, Training::default())
}

/// Each source judged by the engine as configured, with a content model trained on the
/// other sources only.
async fn leave_one_source_out(cfg: &Config, corpus: &[Labelled]) -> anyhow::Result<Vec<Sample>> {
    let mut sources: Vec<&str> = corpus.iter().map(|m| m.source.as_str()).collect();
    sources.sort_unstable();
    sources.dedup();
    let mut samples: Vec<Option<Sample>> = vec![None; corpus.len()];
    let features = features(corpus);
    for source in sources {
        let model = trained(corpus, &features, Some(source));
        let mut settings = palisade_server::phishing::settings(cfg, vec![], vec![]);
        settings.content_model = Some(Arc::new(model));
        let engine =
            Engine::new(&settings).map_err(|e| anyhow::anyhow!("phishing.weights: {e}"))?;
        for (i, m) in corpus
            .iter()
            .enumerate()
            .filter(|(_, m)| m.source == source)
        {
            samples[i] = Some(score(&engine, m).await);
        }
    }
    Ok(samples.into_iter().flatten().collect())
}

fn report(
    corpus: &[Labelled],
    samples: &[Sample],
    skipped: &[PathBuf],
    out: &Output,
) -> anyhow::Result<()> {
    let report = evaluation::evaluate(samples);
    let wrong: Vec<(&PathBuf, &Sample)> = corpus
        .iter()
        .map(|m| &m.file)
        .zip(samples)
        .filter(|(_, s)| s.phish == (s.action == Action::Deliver))
        .collect();
    if out.json {
        let mut v = serde_json::to_value(&report)?;
        v["skipped"] = serde_json::json!(skipped);
        v["leave_one_source_out"] = serde_json::json!(out.loso);
        if out.list {
            v["wrong"] = wrong
                .iter()
                .map(|(f, s)| serde_json::json!({"file": f, "phish": s.phish, "action": s.action, "score": s.score, "signals": s.signals}))
                .collect();
        }
        println!("{v}");
    } else {
        if out.loso {
            println!(
                "leave-one-source-out: each source judged with a content model trained without it"
            );
        }
        print(&report, skipped);
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
pub fn messages(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
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

/// The engine's outcome for one message, offline: authentication not evaluated,
/// OpenPGP and S/MIME signatures checked as `serve` checks them.
async fn score(engine: &Engine, m: &Labelled) -> Sample {
    let signature = palisade_server::signatures::check(None, Arc::clone(&m.raw)).await;
    let state = signature.as_ref().map(palisade_server::signatures::state);
    let ctx = Context {
        signature: state.as_ref(),
        ..Context::new(Auth::NotEvaluated)
    };
    let a = engine.analyze(&m.raw, &ctx);
    Sample {
        source: m.source.clone(),
        phish: m.phish,
        // Ranked by both scores; held back by either action.
        score: a.score + a.spam_score,
        action: a.disposition(),
        signals: a
            .signals
            .iter()
            .map(|s| (s.name.to_string(), s.weight))
            .collect(),
    }
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
