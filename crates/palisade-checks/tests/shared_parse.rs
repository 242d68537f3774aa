//! Sender authentication reads the header section from the parse the rest of the end of
//! data shares (`AuthenticatedMessage::from_parsed`): it must see what mail-auth's own
//! parser sees, field for field, or DKIM would verify a different message than the one
//! the other checks read. Checked on hostile constructions, on the repository's corpus
//! and, where the machine has it, on the shared corpus of real mail.

use palisade_checks::forged::header_section_well_formed;
use std::path::{Path, PathBuf};

#[path = "support/readings.rs"]
mod readings;

/// `None` when both readings agree, else what differs.
fn disagreement(raw: &[u8]) -> Option<String> {
    let (own, shared) = readings::readings(raw);
    (own != shared).then(|| format!("own parse {own:?}\nshared parse {shared:?}"))
}

const SIG: &str = "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com;\r\n\
    \ts=sel; h=from:subject; bh=AAAA; b=BBBB\r\n";

/// RFC 5322 §2.2 and §3.6.8: what [`header_section_well_formed`] accepts is read
/// through the shared parse, anything else by mail-auth alone.
#[test]
fn only_a_well_formed_header_section_is_read_through_the_shared_parse() {
    let good = [
        "From: a@example.com\r\nSubject: x\r\n\r\nbody",
        "From: a@example.com\r\nSubject: no body\r\n",
        "From : obsolete@example.com\r\n\r\n",
        "From: a@example.com\r\n\tfolded\r\n\r\n",
        "",
    ];
    let bad = [
        "no header at all",
        "From: a@example.com\r\nbogus line\r\n\r\nbody",
        " leading continuation\r\nFrom: a@example.com\r\n\r\n",
        "From: a@example.com\r\nSubject: x",
        ":empty name\r\n\r\n",
        "ARC-Seal-Note: x\r\nFrom: a@example.com\r\n\r\n",
        "From: a@example.com\nSubject: bare LF\n\n",
        "From: a@example.com\rSubject: bare CR\r\n\r\n",
        "Fr\x7fom: a@example.com\r\n\r\n",
    ];
    for g in good {
        assert!(header_section_well_formed(g.as_bytes()), "{g:?}");
    }
    for b in bad {
        assert!(!header_section_well_formed(b.as_bytes()), "{b:?}");
    }
}

#[test]
fn hostile_header_sections_read_the_same() {
    let cases = [
        format!("{SIG}From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n"),
        format!("From: a@example.com\r\n{SIG}Subject:  folded\r\n  twice\r\n\r\nbody\r\n\r\n\r\n"),
        "From: a@example.com\nSubject: bare LF\n\nbody\n".to_string(),
        "From: a@example.com\r\nSubject: no body\r\n".to_string(),
        "From: a@example.com, b@example.org\r\nFrom: c@example.net\r\n\r\nx".to_string(),
        "From : spaced@example.com\r\nSubject\t: tab\r\n\r\nx".to_string(),
        "From: \"=?utf-8?q?a=40b?=\" <a@example.com>\r\n\r\nx".to_string(),
        format!("{SIG}From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\npart\r\n--b--\r\n"),
        "ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.org; s=s; b=AAAA\r\n\
         ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=s; h=from; bh=AAAA; b=AAAA\r\n\
         ARC-Authentication-Results: i=1; example.org; dkim=pass\r\nFrom: a@example.com\r\n\r\nx"
            .to_string(),
        "DKIM-Signature: v=1; a=rsa-sha256; l=3; d=example.com; s=s; h=from; bh=AAAA; b=AAAA\r\n\
         From: a@example.com\r\n\r\nbody"
            .to_string(),
        "\r\nFrom: after an empty line@example.com\r\n\r\nx".to_string(),
        "no header at all".to_string(),
        "From: a@example.com\r\nbogus line\r\nSubject: x\r\n\r\nbody".to_string(),
        "From: a@example.com\r\n bogus continuation first\r\n\r\nbody".to_string(),
        " leading continuation\r\nFrom: a@example.com\r\n\r\nbody".to_string(),
        "From: a@example.com\rSubject: bare CR\r\n\r\nbody".to_string(),
        "From: a@example.com\r\nSubject: x".to_string(),
        "From: a@example.com\r\n\tSubject: continuation with colon\r\n\r\nx".to_string(),
        ":empty name\r\nFrom: a@example.com\r\n\r\nx".to_string(),
        "From: a@example.com\r\nX\0Nul: y\r\n\r\nx".to_string(),
        "ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.org; s=s; b=AAAA\r\n\
         ARC-Seal-Note: x\r\nFrom: a@example.com\r\n\r\nx"
            .to_string(),
        String::new(),
    ];
    let differ: Vec<String> = cases
        .iter()
        .filter_map(|c| disagreement(c.as_bytes()).map(|d| format!("{c:?}\n{d}")))
        .collect();
    assert!(differ.is_empty(), "{}", differ.join("\n\n"));
}

fn messages_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            messages_under(&p, out);
        } else if p.extension().is_some_and(|x| x == "eml") {
            out.push(p);
        }
    }
}

fn crlf(stored: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(stored.len() + stored.len() / 32);
    for (i, b) in stored.iter().enumerate() {
        if *b == b'\n' && (i == 0 || stored[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(*b);
    }
    out
}

#[test]
fn real_mail_reads_the_same() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    messages_under(&root.join("../../tests/corpus"), &mut files);
    let repository = files.len();
    messages_under(&root.join("../../../shared/corpus"), &mut files);
    assert!(repository > 0, "the repository's corpus is missing");
    let (mut differ, mut shared) = (Vec::new(), 0);
    for f in &files {
        let stored = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        // As it arrives over SMTP: every line ends in CRLF (the files keep bare LF).
        let raw = crlf(&stored);
        if let Some(d) = disagreement(&stored) {
            differ.push(format!("{} (as stored): {d}", f.display()));
        }
        shared += usize::from(header_section_well_formed(&raw));
        if let Some(d) = disagreement(&raw) {
            differ.push(format!("{}: {d}", f.display()));
        }
    }
    eprintln!(
        "{} messages compared, {shared} through the shared parse",
        files.len()
    );
    // Real mail is well formed: the shared parse is the rule, not the exception.
    assert!(
        shared * 10 >= files.len() * 9,
        "only {shared} of {} well formed",
        files.len()
    );
    assert!(
        differ.is_empty(),
        "{} differ:\n{}",
        differ.len(),
        differ[..differ.len().min(3)].join("\n")
    );
}
