//! `palisade dkim keygen|list|rotate|activate` and `palisade dns records`.

use crate::cli::DkimCommand;
use crate::commands::{Paths, parse_domain, store_result};
use crate::usage;
use palisade_checks::signing::{self, KeyAlgorithm};
use palisade_store::{DkimKey, Store};
use palisade_types::Domain;

/// Selectors name the algorithm and the day: `ed20261201`, `rsa20261201` (a suffix
/// keeps them unique when rotated twice a day).
fn default_selector(algorithm: KeyAlgorithm, taken: &[DkimKey]) -> String {
    let days = palisade_queue::now_secs() / 86_400;
    let (y, m, d) = palisade_server::trace::civil_from_days(days);
    let base = format!(
        "{}{y:04}{m:02}{d:02}",
        match algorithm {
            KeyAlgorithm::Ed25519 => "ed",
            KeyAlgorithm::Rsa => "rsa",
        }
    );
    let mut candidate = base.clone();
    let mut n = 1;
    while taken.iter().any(|k| k.selector == candidate) {
        n += 1;
        candidate = format!("{base}n{n}");
    }
    candidate
}

/// A DNS character-string holds at most 255 octets (RFC 1035 §3.3); a longer TXT value
/// is published as several, which receivers join (RFC 6376 §3.6.2.2).
const TXT_STRING_MAX: usize = 255;

/// `value` as the quoted character-strings of one zone-file line, each at most
/// [`TXT_STRING_MAX`] octets (the value is ASCII: base64 and tag names).
fn txt_strings(value: &str) -> String {
    value
        .as_bytes()
        .chunks(TXT_STRING_MAX)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The key's record as a zone-file line; for a value longer than one string, a second
/// line with the name and whole value as DNS web consoles take them (they split it).
fn record_lines(k: &DkimKey) -> Vec<String> {
    let alg = KeyAlgorithm::parse(&k.algorithm).unwrap_or(KeyAlgorithm::Rsa);
    let value = signing::dns_record(alg, &k.public_key);
    let name = format!("{}._domainkey.{}", k.selector, k.domain);
    let mut lines = vec![format!("{name}. TXT {}", txt_strings(&value))];
    if value.len() > TXT_STRING_MAX {
        lines.push(format!(
            "; in a DNS web console: name {}._domainkey, type TXT, value {value}",
            k.selector
        ));
    }
    lines
}

async fn create(
    store: &dyn Store,
    domain: &Domain,
    algorithm: KeyAlgorithm,
    selector: Option<String>,
    state: &str,
) -> anyhow::Result<DkimKey> {
    let existing = store.list_dkim_keys(Some(domain)).await?;
    let selector = match selector {
        Some(s) if s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => {
            return Err(usage(format!(
                "selector {s:?}: letters, digits and '-' only"
            )));
        }
        Some(s) => s,
        None => default_selector(algorithm, &existing),
    };
    let key = tokio::task::spawn_blocking(move || signing::generate(algorithm)).await??;
    let k = DkimKey {
        domain: domain.clone(),
        selector,
        algorithm: algorithm.name().to_string(),
        private_key: key.private_pkcs8,
        public_key: key.public,
        state: state.to_string(),
        created: palisade_queue::now_secs(),
    };
    store_result(store.add_dkim_key(&k).await)?;
    Ok(k)
}

pub async fn run(paths: &Paths, c: DkimCommand) -> anyhow::Result<()> {
    let store = paths.store().await?;
    match c {
        DkimCommand::Keygen {
            domain,
            algorithm,
            selector,
        } => {
            let domain = parse_domain(&domain)?;
            if !store.is_local_domain(&domain).await? {
                return Err(usage(format!("{domain} is not a local domain")));
            }
            let algorithms = match algorithm.as_deref().and_then(KeyAlgorithm::parse) {
                Some(a) => vec![a],
                None => vec![KeyAlgorithm::Ed25519, KeyAlgorithm::Rsa],
            };
            if selector.is_some() && algorithms.len() > 1 {
                return Err(usage("--selector needs --algorithm (one key per selector)"));
            }
            let existing = store.list_dkim_keys(Some(&domain)).await?;
            println!("Publish, then mail from {domain} is signed with the active keys:\n");
            for a in algorithms {
                // The first key of an algorithm signs at once; later ones wait (rotate).
                let state = if existing
                    .iter()
                    .any(|k| k.algorithm == a.name() && k.state == "active")
                {
                    "pending"
                } else {
                    "active"
                };
                let k = create(&store, &domain, a, selector.clone(), state).await?;
                let lines = record_lines(&k);
                println!("  {}    ({state})", lines[0]);
                for l in &lines[1..] {
                    println!("  {l}");
                }
            }
        }
        DkimCommand::List { domain } => {
            let domain = domain.map(|d| parse_domain(&d)).transpose()?;
            println!(
                "{:<24} {:<16} {:<8} {:<8} CREATED",
                "DOMAIN", "SELECTOR", "ALG", "STATE"
            );
            for k in store.list_dkim_keys(domain.as_ref()).await? {
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
        DkimCommand::Rotate { domain } => {
            let domain = parse_domain(&domain)?;
            println!("New keys (pending). Publish them, wait for the DNS TTL, then activate:\n");
            for a in [KeyAlgorithm::Ed25519, KeyAlgorithm::Rsa] {
                let k = create(&store, &domain, a, None, "pending").await?;
                for l in record_lines(&k) {
                    println!("  {l}");
                }
                println!("  then: palisade dkim activate {domain} {}", k.selector);
            }
        }
        DkimCommand::Activate { domain, selector } => {
            let domain = parse_domain(&domain)?;
            let keys = store.list_dkim_keys(Some(&domain)).await?;
            let Some(target) = keys.iter().find(|k| k.selector == selector) else {
                return Err(usage(format!("no DKIM selector {selector} for {domain}")));
            };
            for k in keys.iter().filter(|k| {
                k.algorithm == target.algorithm && k.state == "active" && k.selector != selector
            }) {
                store
                    .set_dkim_key_state(&domain, &k.selector, "retired")
                    .await?;
                println!(
                    "retired {} (keep its record published a few days for mail in transit)",
                    k.selector
                );
            }
            store
                .set_dkim_key_state(&domain, &selector, "active")
                .await?;
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
    print_records(paths, &cfg, &store, &domain).await
}

/// Every record `domain` should publish, as `doctor` checks it (the mail-client SRV and
/// autoconfiguration records excepted: printed, not yet checked): `dns records` and
/// `init` print this and nothing else. The report addresses named are made to exist.
pub async fn print_records(
    paths: &Paths,
    cfg: &palisade_config::Config,
    store: &palisade_store::SqliteStore,
    domain: &Domain,
) -> anyhow::Result<()> {
    let host = cfg.hostname.to_string();
    let keys: Vec<DkimKey> = store
        .list_dkim_keys(Some(domain))
        .await?
        .into_iter()
        .filter(|k| k.state != "retired")
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
    store: &palisade_store::SqliteStore,
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
