//! `[phishing]`: the content engine's lists, thresholds and actions. Signal names in
//! `weights` are checked by `palisade_server::phishing::check_config` (this crate does
//! not know them): `config check`, server start and reload refuse a name that does not
//! exist.

use crate::validate::{ConfigError, invalid};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPhishing {
    pub enabled: Option<bool>,
    pub partners: Option<Vec<String>>,
    pub brands: Option<Vec<String>>,
    pub vips: Option<Vec<String>>,
    pub free_mail: Option<Vec<String>>,
    pub abused_tlds: Option<Vec<String>>,
    pub shorteners: Option<Vec<String>>,
    pub click_trackers: Option<Vec<String>>,
    pub tag_score: Option<f64>,
    pub quarantine_score: Option<f64>,
    pub reject_score: Option<f64>,
    pub spam_tag_score: Option<f64>,
    pub spam_quarantine_score: Option<f64>,
    pub spam_reject_score: Option<f64>,
    pub subject_prefix: Option<String>,
    pub external_banner: Option<bool>,
    pub first_contact_note: Option<bool>,
    pub attach_original: Option<bool>,
    pub outbound_action: Option<String>,
    pub scan_time_ms: Option<u64>,
    pub max_parts: Option<u64>,
    pub max_qr_pixels: Option<u64>,
    pub quarantine_retention_days: Option<u64>,
    pub weights: Option<BTreeMap<String, f64>>,
    pub report_address: Option<String>,
    pub reports_per_day: Option<u32>,
}

/// What happens to submitted mail the engine would quarantine or reject (a user's
/// account sending phishing is most likely compromised).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundAction {
    /// Deliver, log a security event.
    Log,
    /// Hold in the quarantine for an operator.
    Quarantine,
    /// Refuse with `550 5.7.1`.
    Reject,
}

impl OutboundAction {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboundAction::Log => "log",
            OutboundAction::Quarantine => "quarantine",
            OutboundAction::Reject => "reject",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PhishingConfig {
    pub enabled: bool,
    pub partners: Vec<String>,
    pub brands: Vec<String>,
    pub vips: Vec<String>,
    pub free_mail: Vec<String>,
    /// Top-level domains spam is sent from far more than other mail.
    pub abused_tlds: Vec<String>,
    pub shorteners: Vec<String>,
    pub click_trackers: Vec<String>,
    /// Scores at which a message is tagged, quarantined, rejected; `None`: never.
    pub tag_score: Option<f64>,
    pub quarantine_score: Option<f64>,
    pub reject_score: Option<f64>,
    /// The spam score's: `X-Spam-Flag: YES`, quarantine, reject; `None`: never.
    pub spam_tag_score: Option<f64>,
    pub spam_quarantine_score: Option<f64>,
    pub spam_reject_score: Option<f64>,
    pub subject_prefix: Option<String>,
    pub external_banner: bool,
    pub first_contact_note: bool,
    pub attach_original: bool,
    pub outbound_action: OutboundAction,
    pub scan_time: Duration,
    pub max_parts: usize,
    pub max_qr_pixels: u64,
    pub quarantine_retention: Duration,
    pub weights: BTreeMap<String, f64>,
    /// Where local users forward phishing (as attachments) to teach the site model.
    pub report_address: Option<palisade_types::Address>,
    /// Reported messages learnt per user per day, at most.
    pub reports_per_day: u32,
}

/// Brands phishing imitates most (public reports of the last years); extend with
/// `brands`, replace by setting it.
pub const DEFAULT_BRANDS: &[&str] = &[
    "microsoft.com",
    "office.com",
    "outlook.com",
    "live.com",
    "apple.com",
    "icloud.com",
    "google.com",
    "gmail.com",
    "amazon.com",
    "paypal.com",
    "docusign.net",
    "docusign.com",
    "dhl.com",
    "fedex.com",
    "ups.com",
    "usps.com",
    "linkedin.com",
    "facebook.com",
    "instagram.com",
    "whatsapp.com",
    "netflix.com",
    "dropbox.com",
    "adobe.com",
    "wetransfer.com",
    "chase.com",
    "wellsfargo.com",
    "bankofamerica.com",
    "americanexpress.com",
    "coinbase.com",
    "binance.com",
];

/// Top-level domains whose registrations are mostly abuse: Spamhaus's TLD reputation
/// statistics (spamhaus.org/statistics/tlds) and SpamAssassin's `FROM_SUSPICIOUS_NTLD`
/// list name them year after year (cheap or free registration, little checking). Mail
/// from them is not spam for that alone: it is one spam signal among others.
pub const DEFAULT_ABUSED_TLDS: &[&str] = &[
    "top",
    "xyz",
    "click",
    "icu",
    "cyou",
    "cfd",
    "sbs",
    "bond",
    "buzz",
    "rest",
    "quest",
    "monster",
    "lol",
    "mom",
    "cam",
    "gdn",
    "bid",
    "loan",
    "win",
    "date",
    "review",
    "stream",
    "download",
    "racing",
    "accountant",
    "party",
    "trade",
    "science",
    "work",
    "tk",
    "ml",
    "ga",
    "cf",
    "gq",
    "shop",
    "autos",
    "boats",
    "hair",
    "skin",
    "makeup",
    "beauty",
    "yachts",
    "homes",
    "motorcycles",
];

pub const DEFAULT_FREE_MAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "ymail.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "proton.me",
    "protonmail.com",
    "mail.ru",
    "yandex.ru",
    "zoho.com",
    "mail.com",
    "qq.com",
    "163.com",
];

pub const DEFAULT_SHORTENERS: &[&str] = &[
    "bit.ly",
    "tinyurl.com",
    "t.co",
    "goo.gl",
    "ow.ly",
    "is.gd",
    "buff.ly",
    "rebrand.ly",
    "cutt.ly",
    "shorturl.at",
    "t.ly",
    "rb.gy",
    "tiny.cc",
    "s.id",
    "bl.ink",
];

/// Link hosts of the common bulk-mail services' click trackers and of the
/// link-protection rewriters mail gateways put in front of every link.
pub const DEFAULT_CLICK_TRACKERS: &[&str] = &[
    "sendgrid.net",
    "list-manage.com",
    "mailchi.mp",
    "mcsv.net",
    "klclick.com",
    "klclick1.com",
    "klclick2.com",
    "klclick3.com",
    "rs6.net",
    "hubspotlinks.com",
    "hubspotemail.net",
    "mandrillapp.com",
    "sparkpostmail.com",
    "awstrack.me",
    "exacttarget.com",
    "createsend1.com",
    "cmail19.com",
    "cmail20.com",
    "mlsend.com",
    "sendibt2.com",
    "sendibt3.com",
    "mjt.lu",
    "customeriomail.com",
    "en25.com",
    "mktoweb.com",
    "pstmrk.it",
    "urldefense.com",
    "urldefense.us",
    "urldefense.proofpoint.com",
    "safelinks.protection.outlook.com",
    "safelinks.protection.office365.us",
    "mimecastprotect.com",
    "protect-us.mimecast.com",
    "protect-eu.mimecast.com",
    "linkprotect.cudasvc.com",
    "secure-web.cisco.com",
];

fn list(v: Option<Vec<String>>, default: &[&str]) -> Vec<String> {
    v.unwrap_or_else(|| default.iter().map(|s| s.to_string()).collect())
        .into_iter()
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

fn score(key: &str, v: Option<f64>, default: Option<f64>) -> Result<Option<f64>, ConfigError> {
    match v {
        None => Ok(default),
        Some(0.0) => Ok(None),
        Some(x) if x.is_finite() && x > 0.0 && x < 1000.0 => Ok(Some(x)),
        Some(_) => Err(invalid(key, "must be a number between 0 (off) and 1000")),
    }
}

/// `{prefix}tag_score`, `{prefix}quarantine_score`, `{prefix}reject_score`: each off
/// (0) or in range, and rising.
fn thresholds(
    prefix: &str,
    given: [Option<f64>; 3],
    default: [Option<f64>; 3],
) -> Result<[Option<f64>; 3], ConfigError> {
    let keys = ["tag_score", "quarantine_score", "reject_score"].map(|k| format!("{prefix}{k}"));
    let mut out = [None; 3];
    for i in 0..3 {
        out[i] = score(&format!("phishing.{}", keys[i]), given[i], default[i])?;
    }
    let on: Vec<f64> = out.iter().flatten().copied().collect();
    if on.windows(2).any(|w| w[0] > w[1]) {
        return Err(invalid(
            format!("phishing.{}", keys[1]),
            format!(
                "scores must rise: {} <= {} <= {}",
                keys[0], keys[1], keys[2]
            ),
        ));
    }
    Ok(out)
}

pub fn phishing_config(p: Option<RawPhishing>) -> Result<PhishingConfig, ConfigError> {
    let p = p.unwrap_or_default();
    let [tag_score, quarantine_score, reject_score] = thresholds(
        "",
        [p.tag_score, p.quarantine_score, p.reject_score],
        [Some(5.0), Some(10.0), Some(25.0)],
    )?;
    // Spam: SpamAssassin's required score, rspamd's reject.
    let [spam_tag_score, spam_quarantine_score, spam_reject_score] = thresholds(
        "spam_",
        [
            p.spam_tag_score,
            p.spam_quarantine_score,
            p.spam_reject_score,
        ],
        [Some(5.0), None, Some(15.0)],
    )?;
    let outbound_action = match p.outbound_action.as_deref().unwrap_or("quarantine") {
        "log" => OutboundAction::Log,
        "quarantine" => OutboundAction::Quarantine,
        "reject" => OutboundAction::Reject,
        other => {
            return Err(invalid(
                "phishing.outbound_action",
                format!("{other:?}: expected log, quarantine or reject"),
            ));
        }
    };
    let mut weights = BTreeMap::new();
    for (k, w) in p.weights.unwrap_or_default() {
        if !w.is_finite() || !(0.0..=100.0).contains(&w) {
            return Err(invalid(
                format!("phishing.weights.{k}"),
                "must be a number between 0 and 100",
            ));
        }
        weights.insert(k, w);
    }
    let ms = p.scan_time_ms.unwrap_or(500);
    if !(10..=60_000).contains(&ms) {
        return Err(invalid("phishing.scan_time_ms", "must be 10..=60000"));
    }
    let max_parts = p.max_parts.unwrap_or(500);
    if !(1..=100_000).contains(&max_parts) {
        return Err(invalid("phishing.max_parts", "must be 1..=100000"));
    }
    if let Some(prefix) = &p.subject_prefix
        && (prefix.len() > 40 || !prefix.chars().all(|c| c.is_ascii_graphic() || c == ' '))
    {
        return Err(invalid(
            "phishing.subject_prefix",
            "at most 40 printable ASCII characters",
        ));
    }
    let days = p.quarantine_retention_days.unwrap_or(30);
    if !(1..=3650).contains(&days) {
        return Err(invalid(
            "phishing.quarantine_retention_days",
            "must be 1..=3650",
        ));
    }
    let report_address = match p.report_address.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(a) => Some(
            palisade_types::Address::parse(a)
                .map_err(|e| invalid("phishing.report_address", format!("{a:?}: {e}")))?,
        ),
    };
    let reports_per_day = p.reports_per_day.unwrap_or(20);
    if !(1..=1000).contains(&reports_per_day) {
        return Err(invalid("phishing.reports_per_day", "must be 1..=1000"));
    }
    Ok(PhishingConfig {
        report_address,
        reports_per_day,
        enabled: p.enabled.unwrap_or(true),
        partners: list(p.partners, &[]),
        brands: list(p.brands, DEFAULT_BRANDS),
        vips: p
            .vips
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        free_mail: list(p.free_mail, DEFAULT_FREE_MAIL),
        abused_tlds: list(p.abused_tlds, DEFAULT_ABUSED_TLDS),
        shorteners: list(p.shorteners, DEFAULT_SHORTENERS),
        click_trackers: list(p.click_trackers, DEFAULT_CLICK_TRACKERS),
        tag_score,
        quarantine_score,
        reject_score,
        spam_tag_score,
        spam_quarantine_score,
        spam_reject_score,
        subject_prefix: p
            .subject_prefix
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        external_banner: p.external_banner.unwrap_or(false),
        first_contact_note: p.first_contact_note.unwrap_or(false),
        attach_original: p.attach_original.unwrap_or(false),
        outbound_action,
        scan_time: Duration::from_millis(ms),
        max_parts: max_parts as usize,
        max_qr_pixels: p
            .max_qr_pixels
            .unwrap_or(4_000_000)
            .clamp(10_000, 100_000_000),
        quarantine_retention: Duration::from_secs(days * 86_400),
        weights,
    })
}
