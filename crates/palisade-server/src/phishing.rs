//! The phishing engine at the end of data, for every message a session accepts.
//!
//! Trust-header hygiene first: `X-Spam-*`, `X-Palisade-*` and forged
//! `Authentication-Results` fields go, always (a sender must not pre-label its mail).
//! Then, with `[phishing] enabled`, the engine scans the message on the blocking pool
//! and its action joins the sender-authentication verdict: `tag` rewrites the message
//! with a banner, `quarantine` holds it, `reject` refuses it with `550 5.7.1`. Every
//! inbound message gets `X-Palisade-Verdict`, `X-Palisade-Reasons`, `X-Spam-Flag` and
//! `X-Spam-Status`. Submitted mail is scanned too: a user's account sending phishing is
//! most likely compromised (`outbound_action`); its content is never changed.
//!
//! The correspondence history (which organisations each local domain has exchanged
//! mail with) feeds the first-contact signal; it is noted in memory and written to the
//! store in batches, off the message path.

use crate::Shared;
use crate::sender_auth::Checked;
use palisade_checks::verdict::{ContentCategory, Reason};
use palisade_checks::{AuthPolicy, AuthReport, AuthResult, Verdict};
use palisade_config::{Config, OutboundAction};
use palisade_phish::banner::{self, Banner};
use palisade_phish::engine::Limits;
use palisade_phish::lookalike::Protected;
use palisade_phish::{
    Action, Analysis, Auth, Category, Context, Engine, Parsed, Settings, Thresholds,
};
use palisade_store::{Event, Store};
use palisade_types::reply;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the `550` for phishing starts (metrics tell it from sender authentication's).
pub const REFUSED: &str = "Message refused as likely phishing";
/// How the `550` for spam starts.
pub const REFUSED_SPAM: &str = "Message refused as spam";

/// How long a built engine (local domains, users' names) is used before it is rebuilt.
const ENGINE_TTL: Duration = Duration::from_secs(60);
/// How long a local domain's correspondents are used before they are read again.
const HISTORY_TTL: Duration = Duration::from_secs(300);
/// Correspondents read per local domain (most frequent first); beyond, the store is
/// asked per message.
const HISTORY_LOADED: u32 = 5000;
/// Correspondents protected from lookalikes per local domain (most frequent first).
const LOOKALIKE_SET: usize = 2000;

/// The engine's settings from the configuration, our domains and users' names.
pub fn settings(cfg: &Config, local_domains: Vec<String>, names: Vec<String>) -> Settings {
    let p = &cfg.phishing;
    Settings {
        local_domains,
        protected_domains: p.partners.iter().chain(&p.brands).cloned().collect(),
        people: names
            .into_iter()
            .filter(|n| !n.is_empty())
            .chain(p.vips.iter().cloned())
            .collect(),
        free_mail: p.free_mail.clone(),
        abused_tlds: p.abused_tlds.clone(),
        shorteners: p.shorteners.clone(),
        click_trackers: p.click_trackers.clone(),
        // The content model is measured (`audit corpus --loso`) but not shipped yet.
        content_model: None,
        // Read from the store by `build_engine`.
        site_model: None,
        weights: p.weights.clone(),
        thresholds: Thresholds {
            tag: p.tag_score,
            quarantine: p.quarantine_score,
            reject: p.reject_score,
        },
        spam_thresholds: Thresholds {
            tag: p.spam_tag_score,
            quarantine: p.spam_quarantine_score,
            reject: p.spam_reject_score,
        },
        limits: Limits {
            max_parts: p.max_parts,
            max_time: p.scan_time,
            max_qr_pixels: p.max_qr_pixels,
        },
    }
}

/// Whether the `[phishing]` section builds an engine (signal names in `weights`).
pub fn check_config(cfg: &Config) -> Result<(), String> {
    Engine::new(&settings(cfg, vec![], vec![]))
        .map(|_| ())
        .map_err(|e| format!("phishing.weights: {e}"))
}

/// The engine from the configuration and the store.
pub async fn build_engine(store: &dyn Store, cfg: &Config) -> Result<Engine, String> {
    let domains = store
        .list_domains()
        .await
        .map_err(|e| format!("reading local domains: {e}"))?;
    let users = store
        .list_users(None)
        .await
        .map_err(|e| format!("reading users: {e}"))?;
    let mut s = settings(
        cfg,
        domains.iter().map(|d| d.to_string()).collect(),
        users.into_iter().map(|u| u.name).collect(),
    );
    // The site's own decisions; without them the rest of the engine still works.
    match store.site_counts().await {
        Ok(c) => {
            s.site_model = Some(Arc::new(palisade_phish::site::SiteModel::from_counts(
                c.totals, c.counts,
            )))
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the site model"),
    }
    Engine::new(&s).map_err(|e| format!("phishing.weights: {e}"))
}

/// The authentication context the engine weighs signals by.
pub fn auth_of(report: &AuthReport, policy: &AuthPolicy) -> Auth {
    let passed = |r: AuthResult| r == AuthResult::Pass;
    match report.dmarc.result {
        AuthResult::Pass => Auth::Aligned,
        AuthResult::Fail if palisade_checks::verdict::arc_vouches(report, policy).is_some() => {
            Auth::ArcOnly
        }
        AuthResult::Fail => Auth::Failed,
        _ if passed(report.spf.result) || report.dkim.iter().any(|d| passed(d.result)) => {
            Auth::Unaligned
        }
        // DNS could not answer: not checked, which is not "nothing passed".
        AuthResult::TempError => Auth::NotEvaluated,
        _ => Auth::None,
    }
}

struct Known {
    loaded: Instant,
    senders: HashSet<String>,
    /// All of them were loaded (fewer than [`HISTORY_LOADED`]).
    complete: bool,
    lookalikes: Arc<Protected>,
}

/// An engine, when it was built, and from which configuration.
type BuiltEngine = (Arc<Engine>, Instant, Arc<Config>);

/// The engine and the correspondence history, shared by sessions.
#[derive(Default)]
pub struct PhishState {
    /// The engine, when it was built, and the configuration it was built from (held,
    /// so that a newer configuration can never be mistaken for it by address).
    engine: Mutex<Option<BuiltEngine>>,
    known: Mutex<HashMap<String, Arc<Known>>>,
    /// Pairs (local org, sender org) noted since they were last written.
    pending: Mutex<HashSet<(String, String)>>,
}

impl PhishState {
    /// The engine for `cfg` (rebuilt when the configuration changed or it is older than
    /// [`ENGINE_TTL`]); `None` if it cannot be built (logged).
    pub async fn engine(&self, store: &dyn Store, cfg: &Arc<Config>) -> Option<Arc<Engine>> {
        if let Some((e, built, from)) = &*self.engine.lock().unwrap_or_else(|e| e.into_inner())
            && Arc::ptr_eq(from, cfg)
            && built.elapsed() < ENGINE_TTL
        {
            return Some(e.clone());
        }
        match build_engine(store, cfg).await {
            Ok(e) => {
                let e = Arc::new(e);
                *self.engine.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((e.clone(), Instant::now(), cfg.clone()));
                Some(e)
            }
            Err(e) => {
                tracing::error!(error = %e, "phishing engine unavailable");
                None
            }
        }
    }

    async fn known(&self, store: &dyn Store, local: &str) -> Option<Arc<Known>> {
        if let Some(k) = self
            .known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(local)
            .filter(|k| k.loaded.elapsed() < HISTORY_TTL)
        {
            return Some(k.clone());
        }
        let senders = match store.correspondents(local, HISTORY_LOADED).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the correspondence history");
                return None;
            }
        };
        let k = Arc::new(Known {
            loaded: Instant::now(),
            complete: senders.len() < HISTORY_LOADED as usize,
            lookalikes: Arc::new(Protected::new(
                senders.iter().take(LOOKALIKE_SET).map(String::as_str),
            )),
            senders: senders.into_iter().collect(),
        });
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(local.to_string(), k.clone());
        Some(k)
    }

    /// Whether `sender` is new to `local`'s organisation; `None` if unknown.
    async fn first_contact(
        &self,
        store: &dyn Store,
        known: &Known,
        local: &str,
        sender: &str,
    ) -> Option<bool> {
        let pair = (local.to_string(), sender.to_string());
        if known.senders.contains(sender)
            || self
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&pair)
        {
            return Some(false);
        }
        if known.complete {
            return Some(true);
        }
        store
            .is_correspondent(local, sender)
            .await
            .ok()
            .map(|seen| !seen)
    }

    fn note(&self, local: &str, senders: impl IntoIterator<Item = String>) {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        for s in senders {
            if s != local && p.len() < 100_000 {
                p.insert((local.to_string(), s));
            }
        }
    }

    /// Writes the noted correspondence to the store. A pair stays pending until it is
    /// written, and the cached history of each organisation written to is dropped
    /// before the pair leaves `pending`, so a sender is never "new" again in between
    /// (the cache lives [`HISTORY_TTL`]: emptying `pending` alone made first-contact
    /// notes reappear for five minutes). A failed write is tried at the next flush.
    pub async fn flush(&self, store: &dyn Store) {
        let pending: Vec<(String, String)> = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect();
        let mut by_local: HashMap<String, Vec<String>> = HashMap::new();
        for (l, s) in pending {
            by_local.entry(l).or_default().push(s);
        }
        let now = palisade_queue::now_secs();
        for (local, senders) in by_local {
            if let Err(e) = store.record_correspondents(&local, &senders, now).await {
                tracing::warn!(error = %e, "cannot record the correspondence history");
                continue;
            }
            self.known
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&local);
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            for s in senders {
                p.remove(&(local.clone(), s));
            }
        }
    }
}

/// Writes the correspondence history every few seconds, and applies the quarantine's
/// retention period at start and then hourly.
pub async fn history_loop(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut last_expiry: Option<Instant> = None;
    loop {
        tick.tick().await;
        shared.phishing.flush(shared.store.as_ref()).await;
        if last_expiry.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
            last_expiry = Some(Instant::now());
            let retention = shared.config().phishing.quarantine_retention;
            let before = palisade_queue::now_secs() - retention.as_secs() as i64;
            match shared.store.expire_held(before).await {
                Ok(ids) => {
                    for id in ids {
                        tracing::info!(queue_id = %id, "quarantined message past its retention deleted");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "quarantine retention failed"),
            }
        }
    }
}

/// What the engine's verdict adds to a message.
#[derive(Debug, Default)]
pub struct Rendered {
    /// `X-Palisade-Verdict`, `X-Palisade-Reasons`, `X-Spam-Flag`, `X-Spam-Status`.
    pub fields: String,
    /// The banner to write into the message, if any.
    pub banner: Option<Banner>,
}

/// One header field value: IDNs as A-labels, then printable ASCII, at most `max` octets.
fn field_value(s: &str, max: usize) -> String {
    crate::sender_auth::header_safe(&palisade_phish::engine::ascii(s), max)
}

/// The header fields and banner for a verdict. Pure.
pub fn render(a: &Analysis, p: &palisade_config::PhishingConfig, first_contact: bool) -> Rendered {
    let mut fields = format!(
        "X-Palisade-Verdict: {}; score={:.1}; spam={}; spam-score={:.1}\r\n",
        a.action.name(),
        a.score,
        yes_no(a.spam_action != Action::Deliver).to_ascii_lowercase(),
        a.spam_score
    );
    if !a.signals.is_empty() {
        let reasons: Vec<String> = a.signals.iter().map(|s| s.ascii_reason()).collect();
        fields.push_str(&format!(
            "X-Palisade-Reasons: {}\r\n",
            fold(&field_value(&reasons.join("; "), 1800))
        ));
    }
    fields.push_str(&spam_fields(a, p));
    let mut lines = Vec::new();
    if a.action == Action::Tag {
        lines.push(format!(
            "CAUTION: this message may be phishing (score {:.1}). Check before you click, open or answer:",
            a.score
        ));
        lines.extend(a.signals.iter().map(|s| format!("- {}", s.reason)));
    }
    let sender = a.sender_domain.as_deref().unwrap_or("an unknown domain");
    if p.external_banner && a.external {
        lines.push(format!(
            "This message comes from outside your organisation ({sender})."
        ));
    }
    if p.first_contact_note && first_contact && a.external {
        lines.push(format!(
            "This is the first message your organisation receives from {sender}."
        ));
    }
    let prefix = if a.action == Action::Tag {
        p.subject_prefix.clone()
    } else {
        None
    };
    let banner = (!lines.is_empty() || prefix.is_some()).then(|| Banner {
        lines,
        subject_prefix: prefix,
        attach_original: p.attach_original && a.action == Action::Tag,
        max_parts: p.max_parts,
    });
    Rendered { fields, banner }
}

fn yes_no(b: bool) -> &'static str {
    if b { "Yes" } else { "No" }
}

/// `X-Spam-Flag`, `X-Spam-Status` and `X-Spam-Score`, as SpamAssassin writes them and
/// mail clients' junk filters read them: about spam only (phishing has its own
/// `X-Palisade-Verdict`).
fn spam_fields(a: &Analysis, p: &palisade_config::PhishingConfig) -> String {
    let spam = a.spam_action != Action::Deliver;
    let required = p
        .spam_tag_score
        .or(p.spam_quarantine_score)
        .or(p.spam_reject_score)
        .unwrap_or(0.0);
    let tests: Vec<&str> = a.signals_of(Category::Spam).map(|s| s.name).collect();
    format!(
        "X-Spam-Flag: {}\r\nX-Spam-Score: {:.1}\r\nX-Spam-Status: {}, score={:.1} required={:.1} tests={}\r\n",
        yes_no(spam).to_ascii_uppercase(),
        a.spam_score,
        yes_no(spam),
        a.spam_score,
        required,
        fold(&tests.join(","))
    )
}

/// A long header value folded at spaces or commas (RFC 5322 §2.2.3: lines of at most
/// 78 characters where possible).
fn fold(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 16);
    let mut line = 20; // room for the field name
    for piece in value.split_inclusive([' ', ',']) {
        if !out.is_empty() && line + piece.len() > 76 {
            if out.ends_with(' ') {
                out.pop();
            }
            out.push_str("\r\n ");
            line = 1;
        }
        out.push_str(piece);
        line += piece.len();
    }
    out.trim_end().to_string()
}

/// Who the message is from, as far as the engine is concerned.
pub struct Origin<'a> {
    pub auth: Auth,
    pub mail_from: Option<String>,
    /// The organisational domain of the recipients' organisation (inbound) or of the
    /// submitting user (outbound).
    pub local_org: Option<String>,
    /// Relayed for a trusted client to other domains only: outbound mail.
    pub relayed: bool,
    /// The organisational domains of the recipients (outbound: noted as correspondents).
    pub rcpt_orgs: Vec<String>,
    /// The authenticated user, for submitted mail.
    pub submitter: Option<&'a str>,
    /// The client is in `policy.trusted_networks`.
    pub trusted: bool,
    /// The recipients, the client and its HELO name, for external scanners.
    pub rcpts: Vec<String>,
    pub client_ip: Option<std::net::IpAddr>,
    pub helo: Option<String>,
}

/// A session's envelope and client, as [`screen_session`] reads them.
pub struct SessionEnvelope<'a> {
    pub mail_from: Option<&'a palisade_types::Address>,
    pub rcpts: &'a [palisade_types::Address],
    pub client_ip: std::net::IpAddr,
    pub helo: Option<&'a str>,
}

/// The message as the end of data read it: its bytes, and the engine with its parse of
/// them when the phishing engine is on.
pub struct Read<'a> {
    pub bytes: &'a Arc<Vec<u8>>,
    /// The engine, and its parse unless parsing failed (a panic: the scan-limit verdict).
    pub engine: Option<(Arc<Engine>, Option<&'a Parsed<'a>>)>,
}

/// [`screen`] for a session's message: works out its origin from the envelope.
pub async fn screen_session(
    shared: &Arc<Shared>,
    cfg: &Config,
    checked: Checked,
    message: Read<'_>,
    env: SessionEnvelope<'_>,
    submitter: Option<&str>,
    trusted: bool,
) -> Checked {
    if matches!(
        checked.verdict,
        Verdict::Reject { .. } | Verdict::Defer { .. }
    ) {
        return checked;
    }
    let (mail_from, rcpts) = (env.mail_from, env.rcpts);
    let org = |d: &str| palisade_phish::impersonation::org_domain(d);
    // Inbound: the organisation of the first local recipient (a trusted client may
    // relay to other domains: then there is none, and the mail is treated as outbound).
    // A local domain without a registrable form (localhost) stands for itself.
    let org_or_self = |d: &str| Some(org(d).unwrap_or_else(|| d.to_ascii_lowercase()));
    let mut local_org = None;
    for r in rcpts.iter().take(16) {
        if shared
            .lookups
            .is_local_domain(shared.store.as_ref(), r.domain())
            .await
            .unwrap_or(false)
        {
            local_org = org_or_self(r.domain().as_str());
            break;
        }
    }
    let relayed = submitter.is_none() && local_org.is_none();
    if let Some(u) = submitter {
        local_org = u.rsplit_once('@').and_then(|(_, d)| org_or_self(d));
    }
    let mut rcpt_orgs: Vec<String> = rcpts
        .iter()
        .filter_map(|r| org(r.domain().as_str()))
        .filter(|o| Some(o) != local_org.as_ref())
        .collect();
    rcpt_orgs.sort();
    rcpt_orgs.dedup();
    let origin = Origin {
        auth: checked.auth,
        mail_from: mail_from.map(|a| a.to_string()),
        local_org,
        relayed,
        rcpt_orgs,
        submitter,
        trusted,
        rcpts: rcpts.iter().take(100).map(|r| r.to_string()).collect(),
        client_ip: Some(env.client_ip),
        helo: env.helo.map(str::to_string),
    };
    screen(shared, cfg, checked, message, origin).await
}

/// The end-of-data step: hygiene, scan, and the combined verdict.
pub async fn screen(
    shared: &Arc<Shared>,
    cfg: &Config,
    mut checked: Checked,
    read: Read<'_>,
    origin: Origin<'_>,
) -> Checked {
    let message = read.bytes;
    if matches!(
        checked.verdict,
        Verdict::Reject { .. } | Verdict::Defer { .. }
    ) {
        return checked;
    }
    // Trusted networks are inside our trust boundary for Authentication-Results
    // (RFC 8601 §5); our own X-Palisade-* and the X-Spam-* verdicts come only from us.
    let authserv_id =
        (!origin.trusted || origin.submitter.is_some()).then_some(cfg.hostname.as_str());
    let mut remove = palisade_checks::forged::untrusted_fields(message, authserv_id);
    remove.extend(std::mem::take(&mut checked.edit.remove));
    remove.sort_by_key(|r| (r.start, r.end));
    remove.dedup();
    // Overlapping ranges (one field found twice) merge into one.
    let mut merged: Vec<std::ops::Range<usize>> = Vec::with_capacity(remove.len());
    for r in remove {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    checked.edit.remove = merged;
    // Inbound signed mail: the signature's result for the reader and for the engine.
    let signature = match origin.submitter {
        None => crate::signatures::check(Some(shared.store.as_ref()), message.clone()).await,
        Some(_) => None,
    };
    if let Some(c) = &signature {
        let field = crate::signatures::field(cfg.hostname.as_str(), c);
        checked.edit.prepend.extend_from_slice(field.as_bytes());
    }
    let signature = signature.as_ref().map(crate::signatures::state);
    let Some((engine, parsed)) = read.engine else {
        return checked;
    };
    let store = shared.store.as_ref();
    let sender_org = match parsed {
        Some(p) => p.author_org(),
        None => palisade_phish::engine::author_org(message),
    };
    let (mut known, mut first_contact) = (None, None);
    if let (Some(local), Some(sender)) = (&origin.local_org, &sender_org)
        && origin.submitter.is_none()
        && !engine.is_local(sender)
    {
        known = shared.phishing.known(store, local).await;
        if let Some(k) = &known {
            first_contact = shared.phishing.first_contact(store, k, local, sender).await;
        }
    }
    let scan_env = crate::scanners::Envelope {
        mail_from: origin.mail_from.clone(),
        rcpts: origin.rcpts.clone(),
        client_ip: origin.client_ip,
        helo: origin.helo.clone(),
        user: origin.submitter.map(str::to_string),
    };
    let external =
        match crate::scanners::ask(&shared.scanners, &cfg.scanners, message, &scan_env).await {
            crate::scanners::Asked::Answers(a) => a,
            crate::scanners::Asked::Defer(why) => return Checked::scanner_deferred(why),
        };
    let ctx = Context {
        auth: origin.auth,
        envelope_from: origin.mail_from.as_deref(),
        correspondents: known.as_ref().map(|k| k.lookalikes.as_ref()),
        first_contact,
        signature: signature.as_ref(),
        external: &external,
    };
    // The engine runs here, on the checks' thread, and keeps its own time budget
    // (`scan_time`); a detector that overran it would hold the message until the
    // checks' backstop defers it. A panic in a detector must not pass the message
    // unscanned, nor defer it for ever (it would panic again at every retry): the scan
    // limit's verdict.
    let scanned = match parsed {
        Some(p) => crate::cpu::here(|| engine.analyze_parsed(p, &ctx)),
        None => Err(crate::cpu::CpuFailed::parse()),
    };
    let analysis = scanned.unwrap_or_else(|e| {
        tracing::error!(error = %e, "phishing scan failed");
        engine.scan_failed(origin.auth)
    });
    record(&analysis, origin.submitter);
    if let Some(user) = origin.submitter {
        return outbound(shared, cfg, checked, &analysis, user, &origin).await;
    }
    if origin.relayed {
        // Relayed for a trusted client to other domains: outbound mail, never rewritten.
        return outbound(shared, cfg, checked, &analysis, "a trusted client", &origin).await;
    }
    if let (Some(local), Some(sender)) = (&origin.local_org, &analysis.sender_domain)
        && analysis.action == Action::Deliver
        && origin.auth == Auth::Aligned
    {
        shared.phishing.note(local, [sender.clone()]);
    }
    let rendered = render(&analysis, &cfg.phishing, first_contact == Some(true));
    checked
        .edit
        .prepend
        .extend_from_slice(rendered.fields.as_bytes());
    let verdict = Decided::of(&analysis);
    match analysis.disposition() {
        Action::Reject => {
            let first = verdict.reasons.first().cloned().unwrap_or_default();
            checked.verdict = Verdict::Reject {
                reply: reply::Reply::new(550, (5, 7, 1), "").with_text(format!(
                    "{}: {}",
                    verdict.refused,
                    field_value(&first, 300)
                )),
                reason: verdict.reason(),
            };
            return checked;
        }
        Action::Quarantine | Action::Tag => {
            let reason = verdict.reason();
            // Held already (DMARC p=quarantine): the engine's reason goes on record too,
            // so whoever reads the quarantine sees both.
            let held = matches!(checked.verdict, Verdict::Quarantine { .. });
            let quarantine = analysis.disposition() == Action::Quarantine;
            if held || quarantine {
                checked.edit.prepend.extend_from_slice(
                    format!(
                        "X-Palisade-Quarantine: {}\r\n",
                        field_value(&reason.to_string(), 900)
                    )
                    .as_bytes(),
                );
            }
            if !held && quarantine {
                checked.verdict = Verdict::Quarantine { reason };
            }
        }
        Action::Deliver => {}
    }
    // The banner also goes on held mail: a release delivers without scanning again.
    if let Some(b) = rendered.banner
        && analysis.disposition() != Action::Quarantine
    {
        let mut clean = Vec::with_capacity(message.len());
        palisade_queue::copy_kept(message, &checked.edit.remove, &mut clean);
        let bannered = crate::cpu::cpu(move || banner::apply(&clean, &b))
            .await
            .ok()
            .flatten();
        if let Some(m) = bannered {
            checked.edit.replace = Some(m);
            checked.edit.remove.clear();
        }
    }
    checked
}

/// Which score decided, and its reasons (ASCII), for replies and records.
struct Decided {
    /// How a `550` starts.
    refused: &'static str,
    what: ContentCategory,
    score: f64,
    reasons: Vec<String>,
}

impl Decided {
    fn of(a: &Analysis) -> Decided {
        let (refused, what, score, category) = if a.spam_decides() {
            (
                REFUSED_SPAM,
                ContentCategory::Spam,
                a.spam_score,
                Category::Spam,
            )
        } else {
            (
                REFUSED,
                ContentCategory::Phishing,
                a.score,
                Category::Phishing,
            )
        };
        Decided {
            refused,
            what,
            score,
            reasons: a.signals_of(category).map(|s| s.ascii_reason()).collect(),
        }
    }

    fn reason(&self) -> Reason {
        Reason::Content {
            category: self.what,
            score: self.score,
            signals: self.reasons.clone(),
        }
    }

    fn submitted(&self) -> Reason {
        Reason::SubmittedContent {
            category: self.what,
            score: self.score,
            signals: self.reasons.clone(),
        }
    }
}

/// Submitted mail: never rewritten; what the engine would quarantine or reject is
/// held, refused or only logged (`outbound_action`), with a security event.
async fn outbound(
    shared: &Arc<Shared>,
    cfg: &Config,
    mut checked: Checked,
    a: &Analysis,
    user: &str,
    origin: &Origin<'_>,
) -> Checked {
    if a.disposition() < Action::Quarantine {
        if let Some(local) = &origin.local_org {
            shared
                .phishing
                .note(local, origin.rcpt_orgs.iter().cloned());
        }
        return checked;
    }
    let d = Decided::of(a);
    let detail = format!(
        "submitted mail scored {:.1} as {} ({}): {}",
        d.score,
        d.what,
        cfg.phishing.outbound_action.as_str(),
        d.reasons.join("; ")
    );
    tracing::warn!(user, score = d.score, category = %d.what, reasons = %d.reasons.join("; "), "outbound phishing or spam");
    let e = Event {
        time: palisade_queue::now_secs(),
        kind: "phishing.outbound".into(),
        subject: user.to_string(),
        detail: detail.clone(),
    };
    if let Err(err) = shared.store.record_event(&e).await {
        tracing::warn!(error = %err, "cannot record event");
    }
    match cfg.phishing.outbound_action {
        OutboundAction::Log => {}
        OutboundAction::Quarantine => {
            checked.edit.prepend.extend_from_slice(
                format!("X-Palisade-Quarantine: {}\r\n", field_value(&detail, 900)).as_bytes(),
            );
            checked.verdict = Verdict::Quarantine {
                reason: d.submitted(),
            };
        }
        OutboundAction::Reject => {
            checked.verdict = Verdict::Reject {
                reply: reply::Reply::new(
                    550,
                    (5, 7, 1),
                    "Message refused: it looks like phishing or spam; your administrator has been told",
                ),
                reason: d.submitted(),
            };
        }
    }
    checked
}

fn record(a: &Analysis, submitter: Option<&str>) {
    let direction = if submitter.is_some() {
        "outbound"
    } else {
        "inbound"
    };
    metrics::counter!("palisade_phishing_verdicts_total", "direction" => direction, "action" => a.action.name())
        .increment(1);
    metrics::counter!("palisade_spam_verdicts_total", "direction" => direction, "action" => a.spam_action.name())
        .increment(1);
    for s in &a.signals {
        metrics::counter!("palisade_phishing_signals_total", "signal" => s.name).increment(1);
    }
    if a.disposition() != Action::Deliver {
        tracing::info!(
            direction,
            action = a.action.name(),
            score = a.score,
            spam_action = a.spam_action.name(),
            spam_score = a.spam_score,
            reasons = %a.reasons().join("; "),
            "phishing verdict"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis(action: Action, score: f64, reasons: &[(&'static str, &str)]) -> Analysis {
        let spam_action = if reasons.iter().any(|(n, _)| *n == "gtube") {
            Action::Reject
        } else {
            Action::Deliver
        };
        Analysis {
            score,
            action,
            spam_score: if spam_action == Action::Deliver {
                0.0
            } else {
                1000.0
            },
            spam_action,
            auth: "none",
            signals: reasons
                .iter()
                .map(|(n, r)| palisade_phish::Signal {
                    name: n,
                    category: if *n == "gtube" {
                        Category::Spam
                    } else {
                        Category::Phishing
                    },
                    weight: 1.0,
                    reason: r.to_string(),
                    evidence: vec![],
                })
                .collect(),
            external: true,
            sender_domain: Some("pаypal.com".into()),
            links: 0,
            attachments: 0,
            scan_limited: false,
        }
    }

    fn config(extra: &str) -> palisade_config::PhishingConfig {
        palisade_config::parse(&format!("[phishing]\n{extra}"))
            .unwrap_or_else(|e| panic!("{e}"))
            .phishing
    }

    #[test]
    fn a_clean_message_gets_the_fields_and_no_banner() {
        let r = render(&analysis(Action::Deliver, 0.0, &[]), &config(""), false);
        assert_eq!(
            r.fields,
            "X-Palisade-Verdict: deliver; score=0.0; spam=no; spam-score=0.0\r\n\
             X-Spam-Flag: NO\r\nX-Spam-Score: 0.0\r\nX-Spam-Status: No, score=0.0 required=5.0 tests=\r\n"
        );
        assert_eq!(r.banner.map(|b| b.lines), None);
    }

    #[test]
    fn a_tagged_message_gets_reasons_in_ascii_a_banner_and_the_prefix() {
        let a = analysis(
            Action::Tag,
            7.5,
            &[(
                "lookalike_from",
                "sender domain pаypal.com imitates paypal.com",
            )],
        );
        let r = render(&a, &config("subject_prefix = \"[SUSPICIOUS]\""), false);
        assert!(r.fields.contains(
            "X-Palisade-Reasons: sender domain xn--pypal-4ve.com imitates paypal.com\r\n"
        ));
        // Phishing is not spam: the junk-filter fields stay "No".
        assert!(
            r.fields
                .contains("X-Spam-Flag: NO\r\nX-Spam-Score: 0.0\r\nX-Spam-Status: No,"),
            "{}",
            r.fields
        );
        let b = r.banner.unwrap_or_else(|| panic!("banner"));
        assert_eq!(b.subject_prefix.as_deref(), Some("[SUSPICIOUS]"));
        assert_eq!(b.lines[1], "- sender domain pаypal.com imitates paypal.com");
    }

    #[test]
    fn spam_fields_are_about_spam_and_spam_gets_no_phishing_banner() {
        let a = analysis(Action::Deliver, 0.0, &[("gtube", "the GTUBE string")]);
        let r = render(&a, &config(""), false);
        assert!(
            r.fields.contains(
                "X-Palisade-Verdict: deliver; score=0.0; spam=yes; spam-score=1000.0\r\n"
            ),
            "{}",
            r.fields
        );
        assert!(r.fields.contains(
            "X-Spam-Flag: YES\r\nX-Spam-Score: 1000.0\r\nX-Spam-Status: Yes, score=1000.0 required=5.0 tests=gtube\r\n"
        ));
        assert!(r.banner.is_none());
        let d = Decided::of(&a);
        assert_eq!((d.refused, d.what), (REFUSED_SPAM, ContentCategory::Spam));
        assert_eq!(
            d.reason().to_string(),
            "spam score 1000.0: the GTUBE string"
        );
    }

    #[test]
    fn external_and_first_contact_notes_by_config() {
        let a = analysis(Action::Deliver, 0.0, &[]);
        assert!(render(&a, &config(""), true).banner.is_none());
        let r = render(
            &a,
            &config("external_banner = true\nfirst_contact_note = true"),
            true,
        );
        let b = r.banner.unwrap_or_else(|| panic!("banner"));
        assert_eq!(
            b.lines,
            [
                "This message comes from outside your organisation (pаypal.com).",
                "This is the first message your organisation receives from pаypal.com."
            ]
        );
        assert_eq!(b.subject_prefix, None, "only tagged mail gets the prefix");
    }

    #[test]
    fn long_values_are_folded() {
        let v = fold(&["word"; 40].join(" "));
        assert!(v.split("\r\n").all(|l| l.len() <= 78), "{v}");
        assert_eq!(v.replace("\r\n ", " "), ["word"; 40].join(" "));
    }

    /// Issue 15, Low (an earlier note): a flush emptied the noted pairs while the
    /// cached history (five minutes) did not have them yet, so "first message from X"
    /// came back for every message in those minutes.
    #[tokio::test]
    async fn a_sender_stays_known_after_the_history_is_written() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = palisade_store::SqliteStore::open(&dir.path().join("db"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let state = PhishState::default();
        let first = |k: Arc<Known>| {
            let state = &state;
            let store = &store;
            async move {
                state
                    .first_contact(store, &k, "local.test", "sender.test")
                    .await
            }
        };
        let known = state
            .known(&store, "local.test")
            .await
            .unwrap_or_else(|| panic!("known"));
        assert_eq!(first(known.clone()).await, Some(true));
        state.note("local.test", ["sender.test".to_string()]);
        assert_eq!(first(known).await, Some(false));
        state.flush(&store).await;
        let known = state
            .known(&store, "local.test")
            .await
            .unwrap_or_else(|| panic!("known"));
        assert_eq!(
            first(known).await,
            Some(false),
            "still known after the flush"
        );
    }
}
