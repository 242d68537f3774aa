//! `palisade dkim keygen|list|rotate|activate` and `palisade dns records`.

use crate::cli::DkimCommand;
use crate::commands::{Paths, parse_domain};
use crate::usage;
use palisade_checks::dkim_keys::{self, KeyError, TXT_STRING_MAX};
use palisade_checks::signing::KeyAlgorithm;
use palisade_store::{DkimKey, Store};
use palisade_types::Domain;

/// The key's record as a zone-file line; for a value longer than one string, a second
/// line with the name and whole value as DNS web consoles take them (they split it).
fn record_lines(k: &DkimKey) -> Vec<String> {
    let r = dkim_keys::record(k);
    let mut lines = vec![r.zone_line()];
    if r.value.len() > TXT_STRING_MAX {
        lines.push(format!(
            "; in a DNS web console: name {}._domainkey, type TXT, value {}",
            k.selector, r.value
        ));
    }
    lines
}

/// A refusal of the person's request is a usage error; the rest is the machinery's.
fn key_error(e: KeyError) -> anyhow::Error {
    match e {
        KeyError::BadSelector(_) | KeyError::NoSelector { .. } | KeyError::Exists { .. } => {
            usage(e.to_string())
        }
        e => e.into(),
    }
}

async fn keygen(
    store: &dyn Store,
    domain: &Domain,
    algorithm: Option<String>,
    selector: Option<String>,
) -> anyhow::Result<()> {
    if !store.is_local_domain(domain).await? {
        return Err(usage(format!("{domain} is not a local domain")));
    }
    let algorithms = match algorithm.as_deref().and_then(KeyAlgorithm::parse) {
        Some(a) => vec![a],
        None => vec![KeyAlgorithm::Ed25519, KeyAlgorithm::Rsa],
    };
    if selector.is_some() && algorithms.len() > 1 {
        return Err(usage("--selector needs --algorithm (one key per selector)"));
    }
    let now = palisade_queue::now_secs();
    let made = dkim_keys::keygen(store, domain, &algorithms, selector.as_deref(), now)
        .await
        .map_err(key_error)?;
    println!("Publish, then mail from {domain} is signed with the active keys:\n");
    for k in &made {
        let lines = record_lines(k);
        println!("  {}    ({})", lines[0], k.state);
        for l in &lines[1..] {
            println!("  {l}");
        }
    }
    Ok(())
}

fn list(keys: &[DkimKey]) {
    println!(
        "{:<24} {:<16} {:<8} {:<8} CREATED",
        "DOMAIN", "SELECTOR", "ALG", "STATE"
    );
    for k in keys {
        println!(
            "{:<24} {:<16} {:<8} {:<8} {}",
            k.domain,
            k.selector,
            k.algorithm,
            k.state,
            crate::security::when(k.created)
        );
    }
}

pub async fn run(paths: &Paths, c: DkimCommand) -> anyhow::Result<()> {
    let store = paths.store().await?;
    match c {
        DkimCommand::Keygen {
            domain,
            algorithm,
            selector,
        } => keygen(&*store, &parse_domain(&domain)?, algorithm, selector).await?,
        DkimCommand::List { domain } => {
            let domain = domain.map(|d| parse_domain(&d)).transpose()?;
            list(&store.list_dkim_keys(domain.as_ref()).await?);
        }
        DkimCommand::Rotate { domain } => {
            let domain = parse_domain(&domain)?;
            let made = dkim_keys::rotate(&*store, &domain, palisade_queue::now_secs())
                .await
                .map_err(key_error)?;
            println!("New keys (pending). Publish them, wait for the DNS TTL, then activate:\n");
            for k in &made {
                for l in record_lines(k) {
                    println!("  {l}");
                }
                println!("  then: palisade dkim activate {domain} {}", k.selector);
            }
        }
        DkimCommand::Activate { domain, selector } => {
            let domain = parse_domain(&domain)?;
            let retired = dkim_keys::activate(&*store, &domain, &selector)
                .await
                .map_err(key_error)?;
            for r in retired {
                println!("retired {r} (keep its record published a few days for mail in transit)");
            }
            println!("{selector} now signs mail from {domain}");
        }
    }
    Ok(())
}

pub async fn dns_records(paths: &Paths, domain: &str) -> anyhow::Result<()> {
    let domain = parse_domain(domain)?;
    let cfg = paths.load_config_or_default()?;
    let store = paths.store().await?;
    if !store.is_local_domain(&domain).await? {
        return Err(crate::usage(format!(
            "{domain} is not a local domain: add it first (palisade domain add {domain})"
        )));
    }
    print_records(paths, &cfg, &*store, &domain).await
}

/// Every record `domain` should publish, as `doctor` checks it (the mail-client SRV and
/// autoconfiguration records excepted: printed, not yet checked): `dns records` and
/// `init` print this and nothing else. The report addresses named are made to exist.
pub async fn print_records(
    paths: &Paths,
    cfg: &palisade_config::Config,
    store: &dyn palisade_store::Store,
    domain: &Domain,
) -> anyhow::Result<()> {
    let host = cfg.hostname.to_string();
    let keys: Vec<DkimKey> = store
        .list_dkim_keys(Some(domain))
        .await?
        .into_iter()
        .filter(|k| k.state != dkim_keys::RETIRED)
        .collect();
    println!("{domain}. MX 10 {host}.");
    println!("{domain}. TXT \"v=spf1 mx -all\"");
    if keys.is_empty() {
        println!("; no DKIM keys yet: palisade dkim keygen {domain}");
    }
    for k in &keys {
        for l in record_lines(k) {
            println!("{l}");
        }
    }
    // p=reject, the policy doctor asks for: this server signs all it sends (DKIM) and
    // the SPF record names it.
    println!(
        "_dmarc.{domain}. TXT \"v=DMARC1; p=reject; rua=mailto:{}\"",
        cfg.reports.dmarc_rua(domain)
    );
    println!(
        "; p=reject suits a domain whose mail all leaves through this server; if other services send as {domain}, publish p=none first and move up"
    );
    let policy = palisade_web::mta_sts::policy(&cfg.mta_sts);
    // The id follows the policy: it changes when the policy does (RFC 8461 §3.1).
    println!(
        "_mta-sts.{domain}. TXT \"v=STSv1; id={}\"",
        palisade_web::mta_sts::policy_id(&policy)
    );
    let web = if cfg.web.is_some() {
        "serves"
    } else {
        "would serve (set web.address)"
    };
    println!(
        "mta-sts.{domain}. CNAME {host}.   ; {web} /.well-known/mta-sts.txt over HTTPS, mode {}; its certificate must name mta-sts.{domain}",
        cfg.mta_sts.mode.as_str()
    );
    println!(
        "_smtp._tls.{domain}. TXT \"v=TLSRPTv1; rua=mailto:{}\"",
        cfg.reports.tls_rua(domain)
    );
    print_tlsa(cfg, &paths.data);
    print_client_records(cfg, domain);
    println!("; and A/AAAA records of {host} with this server's public addresses, and a");
    println!("; PTR record of each address pointing to {host} (many receivers refuse mail");
    println!("; from addresses without one).");
    report_mailboxes(cfg, store, domain).await
}

/// Where mail clients find the servers: SRV records (RFC 6186, with RFC 8314 §5.1's
/// preference for implicit TLS) and, with `web.autoconfig`, the autoconfiguration hosts.
fn print_client_records(cfg: &palisade_config::Config, domain: &Domain) {
    let servers = cfg.client_servers();
    let srv = |service: &str, priority: u16, s: &palisade_config::ClientServer| {
        println!(
            "_{service}._tcp.{domain}. SRV {priority} 1 {} {}.",
            s.port, s.host
        );
    };
    if let Some(s) = &servers.submissions {
        srv("submissions", 0, s);
    }
    if let Some(s) = &servers.submission {
        srv("submission", 10, s);
    }
    match &servers.imaps {
        Some(s) => {
            srv("imaps", 0, s);
            // RFC 6186 §4: target "." says the service is not offered.
            println!("_imap._tcp.{domain}. SRV 0 0 0 .   ; IMAP only over TLS (993)");
        }
        None => println!("; no IMAP server configured ([dovecot]): no _imaps._tcp record"),
    }
    let host = &cfg.hostname;
    if cfg.autoconfig {
        println!("autoconfig.{domain}. CNAME {host}.   ; Thunderbird's autoconfig");
        println!("autodiscover.{domain}. CNAME {host}.   ; Outlook's autodiscover");
        let port = cfg.web.map_or(443, |a| a.port());
        println!("_autodiscover._tcp.{domain}. SRV 0 1 {port} {host}.");
    } else {
        println!("; set web.autoconfig for autoconfig.{domain} and autodiscover.{domain}");
    }
}

/// The TLSA record of the certificate in force, and whether it survives a renewal.
fn print_tlsa(cfg: &palisade_config::Config, data: &std::path::Path) {
    use palisade_config::CertSource;
    let host = cfg.hostname.as_str();
    let in_force = cfg.certificate(data);
    let lasting = match in_force.source {
        CertSource::AwaitingAcme => {
            // The self-signed key will be replaced by the ACME one: a record for it now
            // would turn DANE senders away once the certificate arrives.
            println!(
                "; TLSA: once the ACME certificate is issued, run this again for the record of its key"
            );
            println!(";   (ACME keeps that key across renewals, so the record stays valid)");
            return;
        }
        CertSource::Acme => {
            "the ACME certificate's key is kept across renewals: this TLSA record stays valid"
        }
        CertSource::Operator => {
            "a renewal with a new key breaks this record: publish the new key's record beside it first (certbot: --reuse-key keeps the key)"
        }
        CertSource::SelfSigned => {
            "self-signed: its key changes when it is made anew each year; set [acme] or [tls] for a lasting one"
        }
    };
    let Some((hash, _)) = std::fs::read(&in_force.files.cert)
        .ok()
        .as_deref()
        .and_then(palisade_audit::doctor::tlsa_3_1_1)
    else {
        println!("; TLSA: no certificate yet (start the server once, or set [acme] or [tls])");
        return;
    };
    println!(
        "_25._tcp.{host}. TLSA 3 1 1 {}   ; DANE-EE, needs DNSSEC",
        hex::encode(hash)
    );
    println!("; {lasting}");
}

/// The report addresses the records name receive mail: a local one that does not is
/// made an alias of its domain's postmaster; when nothing can receive it yet, a comment
/// says what to do.
async fn report_mailboxes(
    cfg: &palisade_config::Config,
    store: &dyn palisade_store::Store,
    domain: &Domain,
) -> anyhow::Result<()> {
    let mut named = vec![cfg.reports.dmarc_rua(domain), cfg.reports.tls_rua(domain)];
    named.dedup();
    for addr in named {
        let a = palisade_types::Address::parse(&addr)?;
        if !store.is_local_domain(a.domain()).await? || store.resolve_recipient(&a).await?.is_some()
        {
            continue;
        }
        let postmaster = palisade_types::Address::parse(&format!("postmaster@{}", a.domain()))?;
        match store.resolve_recipient(&postmaster).await? {
            Some(target) => {
                let source = palisade_store::AliasSource::Address(a.clone());
                store.add_alias(&source, &target).await?;
                println!("; {a} did not exist: it is now an alias of {target}, so reports arrive");
            }
            None => println!(
                "; {a} receives no mail yet: add a user to {} (its postmaster@ delivers to the first)",
                a.domain()
            ),
        }
    }
    Ok(())
}
