//! The labelled corpus (tests/corpus/phish and tests/corpus/ham, see its README): the
//! engine must flag at least 95% of the phishing and at most 2% of the legitimate mail
//! (flagged: any action but deliver). Prints the confusion matrix and every miss.

use palisade_phish::lookalike::Protected;
use palisade_phish::{Action, Auth, Context, Engine, Settings};
use std::path::{Path, PathBuf};

const CORRESPONDENTS: &[&str] = &[
    "contoso.com",
    "fabrikam.com",
    "globex.com",
    "initech.com",
    "umbrella-corp.com",
];

fn engine() -> Engine {
    let s = |v: &[&str]| v.iter().map(|d| d.to_string()).collect::<Vec<_>>();
    Engine::new(&Settings {
        local_domains: s(&["northwind.com"]),
        protected_domains: s(&[
            "contoso.com",
            "fabrikam.com",
            "paypal.com",
            "microsoft.com",
            "apple.com",
            "amazon.com",
            "docusign.net",
            "dhl.com",
            "google.com",
            "linkedin.com",
            "netflix.com",
            "chase.com",
            "wellsfargo.com",
            "dropbox.com",
        ]),
        people: s(&["Alice Martin", "Bob Chen", "Carol Díaz", "Dave Okafor"]),
        free_mail: s(&[
            "gmail.com",
            "outlook.com",
            "hotmail.com",
            "yahoo.com",
            "aol.com",
            "icloud.com",
            "gmx.de",
            "proton.me",
            "mail.ru",
        ]),
        shorteners: s(&[
            "bit.ly",
            "tinyurl.com",
            "t.co",
            "goo.gl",
            "ow.ly",
            "is.gd",
            "buff.ly",
            "rebrand.ly",
            "cutt.ly",
        ]),
        ..Settings::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn corpus(label: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/corpus")
        .join(label);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files
}

/// The test metadata (`X-Corpus-*` fields at the top) and the message without them.
struct Sample {
    note: String,
    auth: Auth,
    mail_from: Option<String>,
    message: Vec<u8>,
}

fn sample(path: &Path) -> Sample {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut pos = 0;
    let (mut note, mut auth, mut mail_from) = (String::new(), None, None);
    while let Some(end) = raw[pos..].windows(2).position(|w| w == b"\r\n") {
        let line = String::from_utf8_lossy(&raw[pos..pos + end]).into_owned();
        let Some((name, value)) = line.split_once(':') else {
            break;
        };
        let value = value.trim().to_string();
        match name.to_ascii_lowercase().as_str() {
            "x-corpus-note" => note = value,
            "x-corpus-auth" => {
                let dmarc = value
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("dmarc="));
                let arc = value.split_whitespace().any(|w| w == "arc=pass");
                auth = Some(match (dmarc, arc) {
                    (Some("pass"), _) => Auth::Aligned,
                    (Some("fail"), true) => Auth::ArcOnly,
                    (Some("fail"), false) => Auth::Failed,
                    (Some("none"), _) => Auth::None,
                    other => panic!("{}: X-Corpus-Auth {other:?}", path.display()),
                });
            }
            "x-corpus-mail-from" => mail_from = Some(value),
            "x-corpus-client" => {}
            _ => break,
        }
        pos += end + 2;
    }
    Sample {
        note,
        auth: auth.unwrap_or_else(|| panic!("{}: no X-Corpus-Auth", path.display())),
        // Empty: the null sender; absent: the From address, which adds nothing.
        mail_from: mail_from.filter(|m| !m.is_empty()),
        message: raw[pos..].to_vec(),
    }
}

#[test]
fn corpus_detection_and_false_positives() {
    let engine = engine();
    let correspondents = Protected::new(CORRESPONDENTS.iter().copied());
    let mut matrix = [[0usize; 2]; 2]; // [truth: phish, ham][flagged, passed]
    let mut misses = Vec::new();
    let mut by_action = std::collections::BTreeMap::new();
    let mut ham_scores: Vec<(f64, String)> = Vec::new();
    for (truth, label) in [(0, "phish"), (1, "ham")] {
        for path in corpus(label) {
            let s = sample(&path);
            let sender = palisade_phish::engine::author_org(&s.message);
            let first_contact = sender
                .as_deref()
                .map(|o| !CORRESPONDENTS.contains(&o) && o != "northwind.com");
            let ctx = Context {
                auth: s.auth,
                envelope_from: s.mail_from.as_deref(),
                correspondents: Some(&correspondents),
                first_contact,
                // No message of the corpus is signed.
                signature: None,
                external: &[],
            };
            let a = engine.analyze(&s.message, &ctx);
            let flagged = a.disposition() != Action::Deliver;
            matrix[truth][usize::from(!flagged)] += 1;
            *by_action.entry((label, a.action)).or_insert(0) += 1;
            if truth == 1 {
                ham_scores.push((
                    a.score,
                    path.file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned(),
                ));
            }
            if flagged != (truth == 0) {
                misses.push(format!(
                    "{label} {} ({}) -> {} {:.1}: {}",
                    path.file_name().unwrap_or_default().to_string_lossy(),
                    s.note,
                    a.action.name(),
                    a.score,
                    a.signals
                        .iter()
                        .map(|s| format!("{} {:.1} [{}]", s.name, s.weight, s.reason))
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
            }
        }
    }
    let phish = matrix[0][0] + matrix[0][1];
    let ham = matrix[1][0] + matrix[1][1];
    println!("               flagged  passed");
    println!(
        "phish ({phish:>3})     {:>5}  {:>6}",
        matrix[0][0], matrix[0][1]
    );
    println!(
        "ham   ({ham:>3})     {:>5}  {:>6}",
        matrix[1][0], matrix[1][1]
    );
    for ((label, action), n) in &by_action {
        println!("{label:<5} {:<10} {n}", action.name());
    }
    ham_scores.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (score, name) in ham_scores.iter().take(5) {
        println!("highest ham: {score:.1} {name}");
    }
    for m in &misses {
        println!("MISS {m}");
    }
    assert!(
        phish >= 60 && ham >= 60,
        "the corpus holds {phish} phish, {ham} ham"
    );
    let detection = matrix[0][0] as f64 / phish as f64;
    let false_positives = matrix[1][0] as f64 / ham as f64;
    println!(
        "detection {:.1}%, false positives {:.1}%",
        detection * 100.0,
        false_positives * 100.0
    );
    assert!(detection >= 0.95, "detection {detection:.3} < 0.95");
    assert!(
        false_positives <= 0.02,
        "false positives {false_positives:.3} > 0.02"
    );
}
