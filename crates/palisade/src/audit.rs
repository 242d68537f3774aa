//! `palisade audit spf|dkim|dmarc|message`: the inbound checks, on demand, for analysts
//! and scripts. Plain output starts with the result word; `--json` prints one object.

use crate::cli::AuditCommand;
use crate::commands::Paths;
use crate::usage;
use palisade_checks::{AuthResult, Context, SpfCheck, Verdict};
use palisade_dns::Dns;
use serde_json::json;
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

/// How `audit domain` and `doctor` fetch HTTPS: like delivery does (WebPKI roots plus
/// `delivery.extra_ca_file`, `delivery.mta_sts_port`).
/// `given`, then the selectors Palisade signs `domain`'s mail with when it is a local
/// domain of this data directory (the audit would not guess dated names like
/// `ed20261206`). A machine without a store is left as it is.
async fn with_own_selectors(
    paths: &Paths,
    domain: &palisade_types::Domain,
    mut given: Vec<String>,
) -> anyhow::Result<Vec<String>> {
    if !paths.store_path().exists() {
        return Ok(given);
    }
    let store = paths.store().await?;
    if store.is_local_domain(domain).await? {
        let keys = store.list_dkim_keys(Some(domain)).await?;
        given.extend(
            keys.into_iter()
                .filter(|k| k.state != "retired")
                .map(|k| k.selector),
        );
    }
    Ok(given)
}

fn audit_settings(
    cfg: &palisade_config::Config,
    selectors: Vec<String>,
    probe_port: Option<u16>,
    intrusive_rcpt: Option<String>,
) -> anyhow::Result<palisade_audit::Settings> {
    let client =
        palisade_delivery::remote::tls::TlsClient::new(cfg.delivery.extra_ca_file.as_deref())?;
    let tls = client.https_config()?;
    Ok(palisade_audit::Settings {
        selectors,
        https: palisade_audit::posture::transport::Https {
            tls,
            port: cfg.delivery.mta_sts_port,
            timeout: std::time::Duration::from_secs(20),
        },
        probe: probe_port.map(|port| palisade_audit::probe::ProbeSettings {
            port,
            timeout: std::time::Duration::from_secs(10),
            helo: cfg.hostname.to_string(),
            tls: client,
            intrusive_rcpt,
        }),
    })
}

fn print_report(report: &palisade_audit::Report) {
    use std::io::IsTerminal;
    print!(
        "{}",
        palisade_audit::render::text(report, std::io::stdout().is_terminal())
    );
}

/// `palisade doctor`: every local domain, audited and compared with what we expect.
pub async fn doctor(paths: &Paths, json: bool) -> anyhow::Result<()> {
    let cfg = paths.load_config_or_default()?;
    let dns = Dns::new(&palisade_server::dns_settings(&cfg))?;
    let store = paths.store().await?;
    let settings = audit_settings(&cfg, Vec::new(), None, None)?;
    let reports = palisade_audit::doctor::run(&cfg, &*store, &paths.data, &dns, &settings).await?;
    if json {
        let all: Vec<serde_json::Value> =
            reports.iter().map(palisade_audit::render::json).collect();
        println!("{}", serde_json::Value::Array(all));
    } else {
        for (i, r) in reports.iter().enumerate() {
            if i > 0 {
                println!();
            }
            print_report(r);
        }
        if reports.is_empty() {
            println!("no local domains (palisade domain add DOMAIN)");
        }
    }
    match palisade_audit::doctor::exit_code(&reports) {
        0 => Ok(()),
        code => Err(crate::ExitWith(code).into()),
    }
}

pub async fn run(paths: &Paths, c: AuditCommand) -> anyhow::Result<()> {
    let cfg = paths.load_config_or_default()?;
    let dns = Dns::new(&palisade_server::dns_settings(&cfg))?;
    let hostname = cfg.hostname.to_string();
    match c {
        AuditCommand::Domain {
            domain,
            selectors,
            json,
            html,
            probe,
            port,
            probe_intrusive,
            rcpt,
        } => {
            let probe = probe || probe_intrusive;
            let rcpt = match (probe_intrusive, rcpt) {
                (true, Some(r)) => Some(
                    palisade_types::Address::parse(&r)
                        .map_err(|e| usage(format!("--rcpt {r}: {e}")))?
                        .to_string(),
                ),
                (true, None) => {
                    return Err(usage(
                        "--probe-intrusive needs --rcpt ADDRESS (an address you control: the probe sends it mail)",
                    ));
                }
                (false, _) => None,
            };
            let domain = palisade_types::Domain::parse(&domain)
                .map_err(|e| usage(format!("{domain}: {e}")))?;
            let selectors = with_own_selectors(paths, &domain, selectors).await?;
            let settings = audit_settings(&cfg, selectors, probe.then_some(port), rcpt)?;
            // Probes take seconds: say so on a terminal, then clear the line.
            use std::io::IsTerminal;
            let progress = probe && std::io::stderr().is_terminal();
            if progress {
                eprint!("auditing {domain} and probing its MX hosts on port {port}...");
            }
            let report = palisade_audit::audit_domain(&dns, domain.as_str(), &settings).await;
            if progress {
                eprint!("\r\x1b[K");
            }
            if let Some(file) = &html {
                std::fs::write(file, palisade_audit::render::html(&report))
                    .map_err(|e| usage(format!("{}: {e}", file.display())))?;
            }
            if json {
                println!("{}", palisade_audit::render::json(&report));
            } else {
                print_report(&report);
            }
        }
        AuditCommand::Spf {
            ip,
            helo,
            mail_from,
            json,
        } => {
            let spf = spf(&dns, &ip, &helo, &mail_from, &hostname).await?;
            let explanation = explain_spf(&spf);
            if json {
                println!(
                    "{}",
                    json!({
                        "result": spf.auth_result(),
                        "explanation": explanation,
                        "domain": spf.domain(),
                        "identity": identity_name(&spf),
                        "ip": spf.ip.to_string(),
                        "helo": spf.helo,
                        "mail_from": spf.mail_from(),
                    })
                );
            } else {
                println!("{} ({explanation})", spf.auth_result());
            }
        }
        AuditCommand::Dkim { file, json } => {
            let raw = read_message(&file)?;
            let Some(results) = palisade_checks::verify_dkim_reports(&dns, &raw).await else {
                return Err(usage(format!("{}: not an email message", file.display())));
            };
            if json {
                println!("{}", json!({ "results": results }));
            } else if results.is_empty() {
                println!("none (the message has no DKIM-Signature)");
            } else {
                for r in &results {
                    let reason = if r.reason.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", r.reason)
                    };
                    println!("{} d={} s={} a={}{reason}", r.result, r.d, r.s, r.algorithm);
                }
            }
        }
        AuditCommand::Dmarc {
            file,
            ip,
            helo,
            mail_from,
            json,
        } => {
            let raw = read_message(&file)?;
            if !palisade_checks::is_message(&raw) {
                return Err(usage(format!("{}: not an email message", file.display())));
            }
            let spf = spf(&dns, &ip, &helo, &mail_from, &hostname).await?;
            let report = palisade_checks::authenticate(&dns, &raw, &spf, &hostname).await;
            let pct = if report.dmarc.record_found {
                palisade_checks::dmarc_pct(&dns, &report.dmarc.domain).await
            } else {
                100
            };
            let policy = palisade_server::sender_auth::policy(&cfg);
            // Local domains come from the data directory's store, when there is one.
            let from_is_local = match (
                paths.store_path().exists(),
                palisade_types::Domain::parse(&report.dmarc.domain),
            ) {
                (true, Ok(d)) => paths.store().await?.is_local_domain(&d).await?,
                _ => false,
            };
            let ctx = Context {
                client_authenticated: false,
                from_is_local,
                sampled: true,
            };
            let verdict = palisade_checks::decide(&report, &ctx, &policy);
            let disposition = disposition(&verdict);
            if json {
                let mut v = serde_json::to_value(&report)?;
                v["dmarc"]["pct"] = json!(pct);
                v["disposition"] = disposition;
                println!("{v}");
            } else {
                print_dmarc(&report, pct, &verdict);
            }
        }
        AuditCommand::Corpus {
            phish,
            ham,
            json,
            list,
            loso,
            train,
            site_learn,
        } => {
            let out = crate::audit_corpus::Output {
                json,
                list,
                loso,
                train,
                site_learn,
            };
            crate::audit_corpus::run(paths, &cfg, &phish, &ham, out).await?;
        }
        AuditCommand::Message {
            file,
            ip,
            helo,
            mail_from,
            json,
            report,
            html,
        } => {
            let raw = read_message(&file)?;
            if !palisade_checks::is_message(&raw) {
                return Err(usage(format!("{}: not an email message", file.display())));
            }
            crate::audit_message::run(
                paths,
                &cfg,
                &dns,
                &raw,
                ip.as_deref(),
                &helo,
                &mail_from,
                crate::audit_message::Output {
                    json,
                    report: report || html.is_some(),
                    html,
                },
            )
            .await?;
        }
    }
    Ok(())
}

/// Reads a message from a file or `-`. Files saved with bare LF line ends (as most tools
/// write them) are converted to CRLF, the form DKIM signs (RFC 6376 §5.3).
pub(crate) fn read_message(file: &Path) -> anyhow::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let read = if file.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut raw).map(|_| ())
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut raw).map(|_| ()))
    };
    read.map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
    if !raw.windows(2).any(|w| w == b"\r\n") {
        let mut crlf = Vec::with_capacity(raw.len() + raw.len() / 32);
        for b in raw {
            if b == b'\n' {
                crlf.push(b'\r');
            }
            crlf.push(b);
        }
        raw = crlf;
    }
    Ok(raw)
}

pub(crate) async fn spf(
    dns: &Dns,
    ip: &str,
    helo: &str,
    mail_from: &str,
    hostname: &str,
) -> anyhow::Result<SpfCheck> {
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| usage(format!("--ip {ip:?} is not an IPv4 or IPv6 address")))?;
    // RFC 7208 §4.3: a MAIL FROM without a local part means postmaster@domain.
    let mail_from = match mail_from {
        "" => None,
        m if m.contains('@') => Some(m.to_string()),
        d => Some(format!("postmaster@{d}")),
    };
    let helo = if helo.is_empty() {
        mail_from
            .as_deref()
            .and_then(|m| m.rsplit_once('@'))
            .map_or(String::new(), |(_, d)| d.to_string())
    } else {
        helo.to_string()
    };
    Ok(palisade_checks::check_spf(dns, ip, &helo, mail_from.as_deref(), hostname).await)
}

fn identity_name(spf: &SpfCheck) -> &'static str {
    match spf.identity {
        palisade_checks::spf::SpfIdentity::MailFrom(_) => "mailfrom",
        palisade_checks::spf::SpfIdentity::Helo(_) => "helo",
    }
}

/// One sentence for each RFC 7208 §2.6 result, plus the domain's own `exp=` text.
fn explain_spf(spf: &SpfCheck) -> String {
    let (ip, d) = (spf.ip, spf.domain());
    let base = match spf.auth_result() {
        AuthResult::Pass => format!("{ip} is authorised to send for {d}"),
        AuthResult::Fail => format!("{ip} is not authorised to send for {d}"),
        AuthResult::SoftFail => format!("{ip} is probably not authorised to send for {d}"),
        AuthResult::Neutral => format!("{d} makes no assertion about {ip}"),
        AuthResult::None => format!("{d} publishes no SPF record (or is not a domain)"),
        AuthResult::TempError => format!("a temporary DNS error prevented checking {d}"),
        AuthResult::PermError | AuthResult::Policy => {
            format!("the SPF record of {d} is invalid or exceeds the lookup limits")
        }
    };
    match spf.output.explanation() {
        Some(exp) => format!("{base}; {d} says: {exp}"),
        None => base,
    }
}

/// The verdict for `--json`: the reason in plain words (`reason`, or `note` for an
/// acceptance) and as its type (`why`: `kind` and its fields).
fn disposition(v: &Verdict) -> serde_json::Value {
    let text = v.reason().map(ToString::to_string);
    let mut out = match v {
        Verdict::Accept { .. } => json!({"action": "accept", "note": text}),
        Verdict::Quarantine { .. } => json!({"action": "quarantine", "reason": text}),
        Verdict::Reject { reply, .. } => {
            json!({"action": "reject", "reply": reply.to_string(), "reason": text})
        }
        Verdict::Defer { reply, .. } => {
            json!({"action": "defer", "reply": reply.to_string(), "reason": text})
        }
    };
    out["why"] = json!(v.reason());
    out
}

fn print_dmarc(r: &palisade_checks::AuthReport, pct: u8, v: &Verdict) {
    let yes = |b: bool| if b { "yes" } else { "no" };
    println!(
        "dmarc={} header.from={} policy={} pct={pct} record={}",
        r.dmarc.result,
        r.dmarc.domain,
        r.dmarc.policy,
        yes(r.dmarc.record_found)
    );
    println!(
        "spf={} {}={} aligned={}",
        r.spf.result,
        r.spf.identity,
        r.spf.domain,
        yes(r.dmarc.spf_aligned)
    );
    if r.dkim.is_empty() {
        println!("dkim=none");
    }
    for d in &r.dkim {
        println!(
            "dkim={} d={} s={} a={} {}",
            d.result, d.d, d.s, d.algorithm, d.reason
        );
    }
    println!("dkim aligned={}", yes(r.dmarc.dkim_aligned));
    println!(
        "arc={} instances={} sealer={}",
        r.arc.result,
        r.arc.instances,
        r.arc.sealer.as_deref().unwrap_or("-")
    );
    if !r.dmarc.reason.is_empty() {
        println!("reason: {}", r.dmarc.reason);
    }
    match v {
        Verdict::Accept { note: None } => println!("disposition: accept"),
        Verdict::Accept { note: Some(n) } => println!("disposition: accept ({n})"),
        Verdict::Quarantine { reason } => println!("disposition: quarantine ({reason})"),
        Verdict::Reject { reply, .. } => println!("disposition: reject ({reply})"),
        Verdict::Defer { reply, .. } => println!("disposition: defer ({reply})"),
    }
}
