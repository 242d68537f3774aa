//! The doctor a running server runs by itself: `palisade doctor` every
//! `doctor.interval_secs`, its findings in the log and its scores in a gauge.

use palisade_server::Shared;
use std::sync::Arc;
use std::time::Duration;

/// The HTTPS client the doctor fetches MTA-STS policies with (the delivery's trust).
pub fn https(cfg: &palisade_config::Config) -> Option<palisade_audit::posture::transport::Https> {
    let tls = palisade_delivery::remote::tls::TlsClient::new(cfg.delivery.extra_ca_file.as_deref())
        .and_then(|c| c.https_config());
    match tls {
        Ok(tls) => Some(palisade_audit::posture::transport::Https {
            tls,
            port: cfg.delivery.mta_sts_port,
            timeout: Duration::from_secs(20),
        }),
        Err(e) => {
            tracing::warn!(error = %e, "doctor: no HTTPS client");
            None
        }
    }
}

/// Runs the doctor every `doctor.interval_secs` (read anew each round; zero pauses it):
/// the findings that are not a pass go to the log, each domain's score to the
/// `palisade_doctor_score` gauge.
pub async fn every_interval(shared: Arc<Shared>) {
    loop {
        let interval = shared.config().doctor_interval;
        if interval.is_zero() {
            tokio::time::sleep(Duration::from_secs(60)).await;
            continue;
        }
        tokio::time::sleep(interval).await;
        // One node of those sharing the store runs it.
        if palisade_server::cluster::lead(&shared, "doctor", interval).await {
            round(&shared).await;
        }
    }
}

/// One round of the doctor over every local domain.
async fn round(shared: &Shared) {
    let cfg = shared.config();
    let Some(https) = https(&cfg) else {
        return;
    };
    let settings = palisade_audit::Settings {
        selectors: Vec::new(),
        https,
        probe: None,
    };
    let reports = palisade_audit::doctor::run(
        &cfg,
        shared.store.as_ref(),
        &shared.data_dir,
        &shared.dns(),
        &settings,
    )
    .await;
    let reports = match reports {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = &e as &dyn std::error::Error, "doctor: store");
            return;
        }
    };
    for r in reports {
        metrics::gauge!("palisade_doctor_score", "domain" => r.domain.clone())
            .set(f64::from(r.score.overall));
        for f in r.findings.iter().filter(|f| {
            matches!(
                f.status,
                palisade_audit::Status::Warn | palisade_audit::Status::Fail
            )
        }) {
            tracing::warn!(domain = %r.domain, finding = f.id, status = ?f.status, evidence = %f.evidence, fix = %f.advice, "doctor");
        }
        tracing::info!(domain = %r.domain, score = r.score.overall, grade = r.score.grade, "doctor");
    }
}
