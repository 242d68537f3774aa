//! `palisade serve`: first-run setup, logging, metrics, the server, signals.

use crate::commands::Paths;
use crate::usage;
use anyhow::Context;
use metrics_exporter_prometheus::{Matcher, PrometheusRecorder};
use palisade_config::{Config, ListenerKind};
use palisade_server::Server;
use palisade_store::prelude::*;
use palisade_types::{Address, Domain};
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};

/// The mailbox a fresh install delivers its test message to.
const FIRST_DOMAIN: &str = "localhost";
const FIRST_USER: &str = "postmaster@localhost";

pub async fn serve(paths: &Paths) -> anyhow::Result<()> {
    std::fs::create_dir_all(&paths.data)
        .with_context(|| format!("creating data directory {}", paths.data.display()))?;
    let first_run = !paths.config.exists();
    if first_run {
        if paths.config_explicit {
            return Err(usage(format!(
                "config file {} does not exist",
                paths.config.display()
            )));
        }
        std::fs::write(&paths.config, palisade_config::default_toml("localhost"))
            .with_context(|| format!("writing {}", paths.config.display()))?;
    }
    let config = paths.load_config()?;
    // The format is read at start only (a reload keeps the first one).
    init_logging(config.log_format);
    let store = paths.store().await?;
    if first_run && store.list_domains().await?.is_empty() {
        seed_first_mailbox(&*store).await?;
    }
    let metrics_stop = tokio::sync::watch::channel(false);
    // Every counter feeds the dashboard's rollup, and Prometheus when it is scraped.
    let mut recorders = metrics_util::layers::FanoutBuilder::default()
        .add_recorder(palisade_server::rollup::Recorder);
    if let Some(addr) = config.metrics {
        let socket = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("starting metrics listener on {addr} (metrics.address)"))?;
        let recorder = prometheus(&config.node_id)?;
        let handle = recorder.handle();
        recorders = recorders.add_recorder(recorder);
        let render: palisade_web::MetricsSource = Arc::new(move || handle.render());
        let idle = config.smtp.idle_timeout;
        tokio::spawn(palisade_web::serve_metrics(
            socket,
            render,
            idle,
            metrics_stop.1,
        ));
    }
    metrics::set_global_recorder(recorders.build())
        .map_err(|e| anyhow::anyhow!("installing the metrics recorder: {e}"))?;
    let grace = config.smtp.shutdown_grace;
    let test_rcpt = test_recipient(&*store).await?;
    let server = Server::start(config.clone(), &paths.data, store, palisade::addons::all()).await?;
    print_banner(paths, &config, &server, test_rcpt.as_ref());
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => match paths.load_config() {
                Ok(c) => server.reload(c),
                Err(e) => tracing::error!(error = %format!("{e:#}"), "config reload failed; keeping the running config"),
            },
        }
    }
    tracing::info!("shutting down");
    server.shutdown(grace).await;
    tracing::info!("stopped");
    Ok(())
}

fn init_logging(format: palisade_config::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Internal errors would go through eprintln!, which panics when stderr cannot be
    // written: logging must never take mail down with it.
    // Colours only for a person at a terminal: a log file or journald gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LossyStderr)
        .log_internal_errors(false);
    let _ = match format {
        // One JSON object per line: timestamp, level, target, message and fields.
        palisade_config::LogFormat::Json => fmt.json().with_ansi(false).try_init(),
        palisade_config::LogFormat::Text => fmt.with_ansi(ansi).try_init(),
    };
}

/// Standard error that never fails: a line it cannot write (a full disk, a closed
/// pipe) is dropped and counted in `palisade_log_lines_dropped_total`.
struct LossyStderr;

impl std::io::Write for LossyStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if std::io::stderr().write_all(buf).is_err() {
            metrics::counter!("palisade_log_lines_dropped_total").increment(1);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// A fresh install gets the domain `localhost` and the mailbox `postmaster@localhost`,
/// so the first test message has somewhere to land. Its password is locked ("!" is not
/// a password hash); set one with `palisade user passwd`.
async fn seed_first_mailbox(store: &dyn Store) -> anyhow::Result<()> {
    let domain = Domain::parse(FIRST_DOMAIN)?;
    let user = Address::parse(FIRST_USER)?;
    store.add_domain(&domain).await?;
    store.add_user(&user, "!").await?;
    Ok(())
}

/// Where the banner's test message goes, and the mailbox it lands in: the first
/// domain's postmaster when it delivers somewhere, else the first user; none without a
/// mailbox.
async fn test_recipient(store: &dyn Store) -> anyhow::Result<Option<(Address, Address)>> {
    for d in store.list_domains().await? {
        let postmaster = Address::parse(&format!("postmaster@{d}"))?;
        if let Some(mailbox) = store.resolve_recipient(&postmaster).await? {
            return Ok(Some((postmaster, mailbox)));
        }
    }
    let first = store.list_users(None).await?.into_iter().next();
    Ok(first.map(|u| (u.address.clone(), u.address)))
}

/// A command that sends a test message to `rcpt` at `addr` from this machine and is
/// accepted under any policy: the sender is in `.invalid` (RFC 2606: never a domain,
/// so no SPF or DMARC can fail it), with the Date and Message-ID a real message has.
fn test_command(addr: std::net::SocketAddr, rcpt: &Address) -> String {
    // A listener on every address is reached on loopback.
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!(
        "python3 -c \"import smtplib, email.utils as u; smtplib.SMTP('{ip}', {}).sendmail('{TEST_SENDER}', ['{rcpt}'], \
         f'From: {TEST_SENDER}\\r\\nTo: {rcpt}\\r\\nDate: {{u.formatdate()}}\\r\\nMessage-ID: {{u.make_msgid()}}\\r\\n\
         Subject: hello\\r\\n\\r\\nIt works.\\r\\n'.encode())\"",
        addr.port()
    )
}

/// The banner's test sender (see [`test_command`]).
const TEST_SENDER: &str = "check@sender.invalid";

fn print_banner(
    paths: &Paths,
    config: &Config,
    server: &Server,
    test_rcpt: Option<&(Address, Address)>,
) {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Palisade {} is running as {}.",
        env!("CARGO_PKG_VERSION"),
        config.hostname
    );
    for l in &config.listeners {
        let addr = server.address(&l.name).unwrap_or(l.address);
        let what = match l.kind {
            ListenerKind::Smtp => "SMTP (STARTTLS offered)",
            ListenerKind::Submission => "submission (STARTTLS)",
            ListenerKind::Submissions => "submission (implicit TLS)",
        };
        let _ = writeln!(out, "  {:<12} {addr:<22} {what}", l.name);
    }
    if let Some(m) = config.metrics {
        let _ = writeln!(out, "  {:<12} http://{m}/metrics", "metrics");
    }
    let smtp = config
        .listeners
        .iter()
        .find(|l| l.kind == ListenerKind::Smtp);
    match (smtp, test_rcpt) {
        (Some(smtp), Some((rcpt, mailbox))) => {
            let addr = server.address(&smtp.name).unwrap_or(smtp.address);
            let _ = writeln!(out, "\nSend a test message from this machine:");
            let _ = writeln!(out, "  {}", test_command(addr, rcpt));
            let new = palisade_delivery::maildir::mailbox_dir(
                &palisade_server::mail_dir(&paths.data),
                mailbox,
            )
            .join("new");
            let _ = writeln!(
                out,
                "It lands in {}/ (see the queue with: palisade --data {} queue list)",
                new.display(),
                paths.data.display()
            );
        }
        (Some(_), None) => {
            let _ = writeln!(
                out,
                "\nNo mailbox yet: add one (palisade --data {} user add you@DOMAIN), then restart for a test command.",
                paths.data.display()
            );
        }
        (None, _) => {
            let _ = writeln!(out, "\nNo SMTP listener: this server receives no mail.");
        }
    }
    let _ = writeln!(
        out,
        "Stop with Ctrl-C (SIGTERM); reload config and certificates with SIGHUP."
    );
    // A closed or full standard output must not stop the server from starting.
    let _ = std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes());
}

/// The Prometheus exporter's recorder, with the buckets of our histograms.
/// The Prometheus recorder; every series carries `node` (this node's `node_id`), so a
/// cluster's nodes can be told apart and summed.
fn prometheus(node: &str) -> anyhow::Result<PrometheusRecorder> {
    Ok(metrics_exporter_prometheus::PrometheusBuilder::new()
        .add_global_label("node", node)
        .set_buckets_for_metric(
            Matcher::Full("palisade_delivery_latency_seconds".into()),
            &[
                0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 300.0, 3600.0,
            ],
        )
        .context("metrics buckets")?
        .set_buckets_for_metric(
            Matcher::Full("palisade_spool_commit_batch_size".into()),
            &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0],
        )
        .context("metrics buckets")?
        .build_recorder())
}
