//! `palisade audit message`: the phishing verdict `serve` would reach, with every signal,
//! its evidence and weight, and the sender authentication it was weighed by.

use crate::commands::Paths;
use palisade_checks::SpfCheck;
use palisade_config::Config;
use palisade_dns::Dns;
use palisade_phish::lookalike::Protected;
use palisade_phish::{Analysis, Context, Engine};
use serde_json::json;

/// SPF, DKIM, ARC and DMARC of the message; SPF only with a client address.
async fn authenticate(
    dns: &Dns,
    raw: &[u8],
    ip: Option<&str>,
    helo: &str,
    mail_from: &str,
    hostname: &str,
) -> anyhow::Result<palisade_checks::AuthReport> {
    let spf = match ip {
        Some(ip) => crate::audit::spf(dns, ip, helo, mail_from, hostname).await?,
        None => {
            let domain = mail_from.rsplit_once('@').map_or(mail_from, |(_, d)| d);
            SpfCheck {
                output: mail_auth::SpfOutput::new(domain.to_string()),
                identity: palisade_checks::spf::SpfIdentity::MailFrom(mail_from.to_string()),
                ip: std::net::IpAddr::from([0, 0, 0, 0]),
                helo: helo.to_string(),
            }
        }
    };
    Ok(palisade_checks::authenticate(dns, raw, &spf, hostname).await)
}

/// The engine as `serve` builds it: with the data directory's domains and users' names
/// when there is a store, from the configuration alone if not.
pub(crate) async fn engine(paths: &Paths, cfg: &Config) -> anyhow::Result<Engine> {
    if !paths.store_path().exists() {
        return Engine::new(&palisade_server::phishing::settings(cfg, vec![], vec![]))
            .map_err(|e| anyhow::anyhow!("phishing.weights: {e}"));
    }
    let store = paths.store().await?;
    palisade_server::phishing::build_engine(&*store, cfg)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}

/// The engine, and the correspondence history of the message's sender when there is a
/// store.
async fn engine_and_history(
    paths: &Paths,
    cfg: &Config,
    raw: &[u8],
) -> anyhow::Result<(Engine, Option<Protected>, Option<bool>)> {
    let engine = engine(paths, cfg).await?;
    if !paths.store_path().exists() {
        return Ok((engine, None, None));
    }
    let store = paths.store().await?;
    // The recipients' organisation: the first To address in a local domain.
    let parsed = mail_parser::MessageParser::new().parse_headers(raw);
    let local = parsed
        .as_ref()
        .and_then(|m| m.to())
        .into_iter()
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address.as_deref())
        .filter_map(palisade_phish::impersonation::org_domain)
        .find(|o| engine.is_local(o));
    let sender = palisade_phish::engine::author_org(raw);
    let (Some(local), Some(sender)) = (local, sender) else {
        return Ok((engine, None, None));
    };
    let known = store.correspondents(&local, 2000).await?;
    let first = !store.is_correspondent(&local, &sender).await?;
    Ok((
        engine,
        Some(Protected::new(known.iter().map(String::as_str))),
        Some(first),
    ))
}

/// What the configured external scanners say, as `serve` would ask them; a scanner
/// whose fallback is `tempfail` and that cannot be asked is an error here.
async fn scanners(
    cfg: &Config,
    message: &std::sync::Arc<Vec<u8>>,
    ip: Option<&str>,
    helo: &str,
    mail_from: &str,
) -> anyhow::Result<Vec<palisade_phish::external::External>> {
    use palisade_server::scanners::{Asked, Envelope, ScannerState, ask};
    let env = Envelope {
        mail_from: Some(mail_from.to_string()).filter(|m| m.contains('@')),
        client_ip: ip.and_then(|i| i.parse().ok()),
        helo: Some(helo.to_string()).filter(|h| !h.is_empty()),
        ..Envelope::default()
    };
    match ask(&ScannerState::default(), &cfg.scanners, message, &env).await {
        Asked::Answers(a) => Ok(a),
        Asked::Defer(why) => Err(crate::usage(format!(
            "{why} (serve would answer 451 4.3.0; set on_failure = \"deliver\" to go on without it)"
        ))),
    }
}

/// How the result is shown.
pub struct Output {
    pub json: bool,
    /// With the message's path and transport facts.
    pub report: bool,
    /// Also as a page in this file.
    pub html: Option<std::path::PathBuf>,
}

#[allow(clippy::too_many_arguments)]
pub async fn run(
    paths: &Paths,
    cfg: &Config,
    dns: &Dns,
    raw: &[u8],
    ip: Option<&str>,
    helo: &str,
    mail_from: &str,
    out: Output,
) -> anyhow::Result<()> {
    let json = out.json;
    let transport = out.report.then(|| palisade_audit::message::transport(raw));
    let report = authenticate(dns, raw, ip, helo, mail_from, cfg.hostname.as_str()).await?;
    let policy = palisade_server::sender_auth::policy(cfg);
    let auth = palisade_server::phishing::auth_of(&report, &policy);
    let (engine, correspondents, first_contact) = engine_and_history(paths, cfg, raw).await?;
    let message = std::sync::Arc::new(raw.to_vec());
    let external = scanners(cfg, &message, ip, helo, mail_from).await?;
    let signature = if paths.store_path().exists() {
        let store = paths.store().await?;
        palisade_server::signatures::check(Some(&*store), message).await
    } else {
        palisade_server::signatures::check(None, message).await
    };
    let state = signature.as_ref().map(palisade_server::signatures::state);
    let ctx = Context {
        auth,
        envelope_from: Some(mail_from).filter(|m| m.contains('@')),
        correspondents: correspondents.as_ref(),
        first_contact,
        signature: state.as_ref(),
        external: &external,
    };
    let a = engine.analyze(raw, &ctx);
    if json {
        let mut v = serde_json::to_value(&a)?;
        v["authentication"] = json!({
            "spf": if ip.is_some() { report.spf.result.as_str() } else { "not evaluated" },
            "dkim": report.dkim.iter().map(|d| json!({"d": d.d, "result": d.result})).collect::<Vec<_>>(),
            "arc": report.arc.result,
            "dmarc": report.dmarc.result,
            "from_domain": report.dmarc.domain,
        });
        v["first_contact"] = json!(first_contact);
        v["signature"] = match &signature {
            Some(c) => {
                let (method, result, comment) = palisade_crypt::signed::auth_result(c);
                json!({
                    "method": method,
                    "result": result,
                    "comment": comment,
                    "signer": c.signer,
                    "addresses": c.addresses,
                    "known": c.known,
                    "matches_from": c.matches_from,
                })
            }
            None => json!(null),
        };
        v["thresholds"] = json!({
            "tag": cfg.phishing.tag_score,
            "quarantine": cfg.phishing.quarantine_score,
            "reject": cfg.phishing.reject_score,
        });
        v["spam_thresholds"] = json!({
            "tag": cfg.phishing.spam_tag_score,
            "quarantine": cfg.phishing.spam_quarantine_score,
            "reject": cfg.phishing.spam_reject_score,
        });
        if let Some(t) = &transport {
            v["transport"] = serde_json::to_value(t)?;
        }
        println!("{v}");
    } else {
        if let Some(t) = &transport {
            print!("{}", palisade_audit::message::text(t));
        }
        print(&a, &report, ip.is_some(), first_contact);
        println!("signature: {}", signature_line(signature.as_ref()));
    }
    if let (Some(file), Some(t)) = (&out.html, &transport) {
        let verdict = palisade_audit::message::Verdict {
            action: a.disposition().name().to_string(),
            score: a.score,
            spam_score: a.spam_score,
            authentication: authentication_line(&report, ip.is_some()),
            signature: signature_line(signature.as_ref()),
            signals: a
                .signals
                .iter()
                .map(|s| (s.name.to_string(), s.weight, s.reason.clone()))
                .collect(),
        };
        let subject = mail_parser::MessageParser::new()
            .parse_headers(raw)
            .and_then(|m| m.subject().map(str::to_string))
            .unwrap_or_default();
        std::fs::write(file, palisade_audit::message::html(&subject, t, &verdict))
            .map_err(|e| crate::usage(format!("{}: {e}", file.display())))?;
    }
    Ok(())
}

/// `method=result (comment)` of a signature check, or `none`.
fn signature_line(c: Option<&palisade_crypt::signed::SignatureCheck>) -> String {
    match c {
        Some(c) => {
            let (method, result, comment) = palisade_crypt::signed::auth_result(c);
            format!("{method}={result} ({comment})")
        }
        None => "none".into(),
    }
}

/// `spf=... dkim=d=result,... arc=... dmarc=...`; SPF only when it was evaluated.
fn authentication_line(report: &palisade_checks::AuthReport, spf: bool) -> String {
    let dkim: Vec<String> = report
        .dkim
        .iter()
        .map(|d| format!("{}={}", d.d, d.result))
        .collect();
    format!(
        "spf={} dkim={} arc={} dmarc={}",
        if spf {
            report.spf.result.as_str()
        } else {
            "not-evaluated"
        },
        if dkim.is_empty() {
            "none".to_string()
        } else {
            dkim.join(",")
        },
        report.arc.result,
        report.dmarc.result,
    )
}

fn print(a: &Analysis, report: &palisade_checks::AuthReport, spf: bool, first: Option<bool>) {
    println!(
        "{} (phishing score {:.1}; spam score {:.1})",
        a.disposition().name(),
        a.score,
        a.spam_score,
    );
    println!(
        "authentication: {} (from {}), weighed as {}",
        authentication_line(report, spf),
        if report.dmarc.domain.is_empty() {
            "?"
        } else {
            &report.dmarc.domain
        },
        a.auth
    );
    if let Some(first) = first {
        println!(
            "first contact: {}",
            if first {
                "yes, never corresponded with"
            } else {
                "no, a known correspondent"
            }
        );
    }
    println!(
        "scanned: {} link(s), {} attachment(s){}",
        a.links,
        a.attachments,
        if a.scan_limited {
            ", stopped at the scan limit"
        } else {
            ""
        }
    );
    if a.signals.is_empty() {
        println!("no signals");
    }
    for s in &a.signals {
        println!("{:>6.1}  {:<28} {}", s.weight, s.name, s.reason);
        for e in &s.evidence {
            println!("{:>6}  {:<28} also: {e}", "", "");
        }
    }
}
