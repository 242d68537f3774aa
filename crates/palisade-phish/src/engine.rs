//! The content engine: one pass over a parsed message that runs every detector, weighs
//! what fired against the sender-authentication context, and adds it up to a score.
//!
//! Weights are points; the context scales the signals that legitimate mail shows too
//! (a Reply-To elsewhere, a tracker behind a link, a missing Date) by how well the
//! sender is authenticated: a DMARC-aligned transactional mail whose Reply-To differs
//! must not be quarantined for that alone, the same difference on unauthenticated mail
//! weighs much more. Signals an attacker controls regardless of authentication (a
//! lookalike domain authenticates perfectly, a program attachment is a program) are not
//! scaled.
//!
//! Bounded: parts inspected, nested messages, and wall time per message. A scan that
//! runs out of budget is a signal of its own ([`SCAN_LIMIT`]) that the verdict turns into
//! at least a tag, never a silent pass.

use crate::attachments::{self, Finding};
use crate::classifier::{self, Content, Model};
use crate::external::External;
use crate::headers::{self, Anomaly};
use crate::impersonation::{People, org_domain, reply_to_diversion, shown_foreign_domain};
use crate::links::{self, Issue, Link};
use crate::lookalike::{Kind, Lookalike, Protected};
use crate::qr;
use crate::site::{Label, SiteModel};
use crate::verdict::{Action, Thresholds};
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The content model counts at most this many log-odds (12 points by default).
const MAX_MODEL_LOGIT: f64 = 6.0;
/// The per-site model counts at most this many log-odds: under the tag thresholds.
const MAX_SITE_LOGIT: f64 = 4.5;

/// A model feature as a reader understands it.
fn shown_feature(name: &str) -> String {
    match name.split_once(':') {
        Some(("s", w)) => format!("\"{w}\" in the subject"),
        Some(("h", h)) => format!("a link to {h}"),
        Some(("lure", l)) => format!("{l} wording"),
        Some((_, w)) => format!("\"{w}\""),
        None => name.to_string(),
    }
}

/// The signal that records an incomplete scan.
pub const SCAN_LIMIT: &str = "scan_limit";

/// How a signal's weight depends on the sender's authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scaling {
    /// Attacker-controlled whatever the authentication: counted as is.
    Fixed,
    /// Shown by legitimate mail too: scaled by [`Auth::factor`].
    ByAuth,
}

/// What a signal is evidence of: each has its own score and thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Deception: impersonation, lures, dangerous links and attachments.
    Phishing,
    /// Unwanted bulk mail.
    Spam,
}
use Category::{Phishing, Spam};

/// The GTUBE test string's points: reject level whatever the thresholds (SpamAssassin
/// gives it 1000 too).
const GTUBE_POINTS: f64 = 1000.0;

/// Every signal: name (the key of `[phishing.weights]`), default weight, scaling,
/// category.
const SIGNALS: &[(&str, f64, Scaling, Category)] = &[
    ("lookalike_from", 10.0, Scaling::Fixed, Phishing),
    ("lookalike_envelope", 8.0, Scaling::Fixed, Phishing),
    ("lookalike_reply_to", 8.0, Scaling::Fixed, Phishing),
    ("lookalike_link", 8.0, Scaling::Fixed, Phishing),
    ("confusable_characters", 3.0, Scaling::Fixed, Phishing),
    ("mixed_script", 6.0, Scaling::Fixed, Phishing),
    ("other_suffix", 3.0, Scaling::ByAuth, Phishing),
    ("first_contact_lookalike", 6.0, Scaling::Fixed, Phishing),
    ("display_name_domain", 5.0, Scaling::ByAuth, Phishing),
    ("display_name_brand", 7.0, Scaling::Fixed, Phishing),
    ("display_name_person", 8.0, Scaling::Fixed, Phishing),
    ("reply_to_other_org", 3.0, Scaling::ByAuth, Phishing),
    ("reply_to_free_mail", 5.0, Scaling::ByAuth, Phishing),
    ("link_text_mismatch", 5.0, Scaling::ByAuth, Phishing),
    ("link_text_brand", 7.0, Scaling::Fixed, Phishing),
    ("link_ip", 6.0, Scaling::Fixed, Phishing),
    ("link_userinfo", 8.0, Scaling::Fixed, Phishing),
    ("link_punycode", 3.0, Scaling::ByAuth, Phishing),
    ("link_script", 6.0, Scaling::Fixed, Phishing),
    ("link_shortener", 3.0, Scaling::ByAuth, Phishing),
    ("credential_form", 8.0, Scaling::Fixed, Phishing),
    ("qr_link", 4.0, Scaling::ByAuth, Phishing),
    ("lure_language", 1.5, Scaling::ByAuth, Phishing),
    // Per distinct advance-fee, prize or investment-scam phrase, at most three.
    ("scam_language", 2.5, Scaling::ByAuth, Phishing),
    // Points per unit of the content model's log-odds (see `MAX_MODEL_LOGIT`).
    ("content_model", 2.0, Scaling::ByAuth, Phishing),
    ("attachment_program", 10.0, Scaling::Fixed, Phishing),
    ("attachment_script", 10.0, Scaling::Fixed, Phishing),
    ("attachment_disk_image", 8.0, Scaling::Fixed, Phishing),
    ("attachment_macro", 8.0, Scaling::Fixed, Phishing),
    (
        "attachment_double_extension",
        10.0,
        Scaling::Fixed,
        Phishing,
    ),
    ("attachment_bidi", 10.0, Scaling::Fixed, Phishing),
    ("attachment_disguised", 8.0, Scaling::Fixed, Phishing),
    ("attachment_active_html", 8.0, Scaling::Fixed, Phishing),
    (
        "attachment_encrypted_archive",
        4.0,
        Scaling::ByAuth,
        Phishing,
    ),
    ("several_from", 6.0, Scaling::Fixed, Phishing),
    ("several_from_with_sender", 2.0, Scaling::ByAuth, Phishing),
    ("sender_other_org", 2.0, Scaling::ByAuth, Phishing),
    ("missing_date", 1.0, Scaling::ByAuth, Phishing),
    ("missing_message_id", 0.5, Scaling::ByAuth, Phishing),
    ("encoded_address", 8.0, Scaling::Fixed, Phishing),
    ("dmarc_fail", 3.0, Scaling::Fixed, Phishing),
    ("spoofed_protected", 10.0, Scaling::Fixed, Phishing),
    ("no_authentication", 1.5, Scaling::Fixed, Phishing),
    ("arc_only", 1.0, Scaling::Fixed, Phishing),
    ("signature_invalid", 8.0, Scaling::Fixed, Phishing),
    ("signature_other_signer", 3.0, Scaling::Fixed, Phishing),
    ("malformed", 5.0, Scaling::Fixed, Phishing),
    ("mime_confusion", 10.0, Scaling::Fixed, Phishing),
    (SCAN_LIMIT, 0.0, Scaling::Fixed, Phishing),
    // Spam: scored apart (see `crate::spam`).
    ("gtube", GTUBE_POINTS, Scaling::Fixed, Spam),
    // Per styling found in the subject or the sender's name, at most two.
    ("styled_text", 5.0, Scaling::Fixed, Spam),
    // The author's domain is under a top-level domain mostly registered for abuse.
    ("abused_tld", 2.0, Scaling::Fixed, Spam),
    // External scanners (`crate::external`): points per rspamd point, malware, and a
    // scanner that could not be asked (a reason, no points).
    ("rspamd", 1.0, Scaling::Fixed, Spam),
    // The per-site model (`crate::site`): points per unit of log-odds, at most
    // `MAX_SITE_LOGIT`, so that the site's own decisions never decide alone.
    ("site_model_phish", 1.0, Scaling::Fixed, Phishing),
    ("site_model_spam", 1.0, Scaling::Fixed, Spam),
    ("virus", 100.0, Scaling::Fixed, Phishing),
    ("scanner_unavailable", 0.0, Scaling::Fixed, Phishing),
];

/// What sender authentication established about the author (the From domain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// DMARC pass: SPF or DKIM aligned with the From domain.
    Aligned,
    /// DMARC failed, but a trusted ARC sealer saw it pass (a forwarder, a list).
    ArcOnly,
    /// No DMARC pass, but SPF or DKIM passed for some other domain.
    Unaligned,
    /// Nothing authenticated at all.
    None,
    /// DMARC failed (the domain publishes a policy and nothing aligned).
    Failed,
    /// Submitted by one of our authenticated users, or a trusted client.
    Local,
    /// Authentication was not evaluated (an offline audit, or DNS could not answer):
    /// neither credit nor blame, unlike `None`, which is "checked, nothing passed".
    NotEvaluated,
}

impl Auth {
    /// How much the signals legitimate mail shows too count. `known`: the sender's
    /// organisation is ours, protected, or has written to us before; authentication
    /// proves who sent a message, not that they deserve trust, so a domain seen for the
    /// first time gets less credit for it.
    fn factor(self, known: bool) -> f64 {
        match self {
            Auth::Aligned if known => 0.5,
            Auth::Aligned => 0.75,
            Auth::ArcOnly | Auth::Unaligned | Auth::Local | Auth::NotEvaluated => 1.0,
            Auth::None => 1.5,
            Auth::Failed => 2.0,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Auth::Aligned => "aligned",
            Auth::ArcOnly => "arc-only",
            Auth::Unaligned => "unaligned",
            Auth::None => "none",
            Auth::Failed => "dmarc-fail",
            Auth::Local => "local",
            Auth::NotEvaluated => "not-evaluated",
        }
    }
}

/// Bounds on one scan.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// MIME parts inspected (nested messages included).
    pub max_parts: usize,
    /// Wall time for the whole scan.
    pub max_time: Duration,
    /// Image pixels decoded for QR codes, per image.
    pub max_qr_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_parts: 500,
            max_time: Duration::from_millis(500),
            max_qr_pixels: 4_000_000,
        }
    }
}

/// The engine's configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Our own domains.
    pub local_domains: Vec<String>,
    /// Partners' and brands' domains, protected like ours.
    pub protected_domains: Vec<String>,
    /// Names to protect from display-name impersonation (local users, VIPs).
    pub people: Vec<String>,
    pub free_mail: Vec<String>,
    /// Top-level domains spam is mostly sent from (without a dot: `top`, `xyz`).
    pub abused_tlds: Vec<String>,
    pub shorteners: Vec<String>,
    /// Bulk-mail click trackers and link-protection rewriters (host names): a link
    /// through one leads on elsewhere, so its text is not compared with its host.
    pub click_trackers: Vec<String>,
    /// The learned content model; `None` leaves it out.
    pub content_model: Option<std::sync::Arc<Model>>,
    /// What this site's people decided about their mail; `None` leaves it out.
    pub site_model: Option<std::sync::Arc<SiteModel>>,
    /// Weight overrides by signal name.
    pub weights: BTreeMap<String, f64>,
    pub thresholds: Thresholds,
    /// Where the spam score tags (`X-Spam-Flag: YES`), quarantines, rejects.
    pub spam_thresholds: Thresholds,
    pub limits: Limits,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            local_domains: Vec::new(),
            protected_domains: Vec::new(),
            people: Vec::new(),
            free_mail: Vec::new(),
            abused_tlds: Vec::new(),
            shorteners: Vec::new(),
            click_trackers: Vec::new(),
            content_model: None,
            site_model: None,
            weights: BTreeMap::new(),
            thresholds: Thresholds::default(),
            spam_thresholds: Thresholds::SPAM,
            limits: Limits::default(),
        }
    }
}

/// The names of every signal, for configuration checks and documentation.
pub fn signal_names() -> impl Iterator<Item = &'static str> {
    SIGNALS.iter().map(|(n, ..)| *n)
}

/// What the engine needs to know besides the message.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub auth: Auth,
    /// The envelope sender (MAIL FROM), if not null.
    pub envelope_from: Option<&'a str>,
    /// Domains the recipients' organisation has corresponded with before.
    pub correspondents: Option<&'a Protected>,
    /// Whether this is the first message from the sender's domain (None: not known).
    pub first_contact: Option<bool>,
    /// The message's OpenPGP or S/MIME signature, as the caller checked it.
    pub signature: Option<&'a SignatureState>,
    /// What external scanners (rspamd, ClamAV) said, as the caller asked them.
    pub external: &'a [External],
}

/// A cryptographic signature on the message (PGP/MIME or S/MIME), checked by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureState {
    /// It verifies; `matches_from`: the signer's key or certificate names the From address.
    Valid { matches_from: bool },
    /// It does not verify: why.
    Invalid(String),
    /// It cannot be checked (a key this server does not have, an unsupported algorithm).
    Unchecked,
}

impl Context<'_> {
    pub fn new(auth: Auth) -> Context<'static> {
        Context {
            auth,
            envelope_from: None,
            correspondents: None,
            first_contact: None,
            signature: None,
            external: &[],
        }
    }
}

/// One signal that fired.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Signal {
    pub name: &'static str,
    pub category: Category,
    /// Points after scaling by the authentication context.
    pub weight: f64,
    /// One short phrase for a person ("sender domain examp1e.com imitates example.com").
    pub reason: String,
    /// Further occurrences (other links, other attachments), at most a few.
    pub evidence: Vec<String>,
}

impl Signal {
    /// The reason in ASCII, for header fields and SMTP replies: international domain
    /// names as their A-labels (which also shows the deception), any other non-ASCII
    /// character as `?`.
    pub fn ascii_reason(&self) -> String {
        ascii(&self.reason)
    }
}

/// `s` with non-ASCII words written as A-labels where they are domain names.
pub fn ascii(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            if w.is_ascii() {
                return w.to_string();
            }
            let (core, tail) = match w.strip_suffix([',', ')', ';']) {
                Some(c) => (c, &w[c.len()..]),
                None => (w, ""),
            };
            match idna::domain_to_ascii(core) {
                Ok(a) if core.contains('.') => format!("{a}{tail}"),
                _ => w
                    .chars()
                    .map(|c| if c.is_ascii() { c } else { '?' })
                    .collect(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The organisational domain of a message's (first) author, from its header section.
pub fn author_org(message: &[u8]) -> Option<String> {
    author_org_of(&MessageParser::new().parse_headers(message)?)
}

/// [`author_org`] of a message already parsed.
pub fn author_org_of(parsed: &Message<'_>) -> Option<String> {
    org_domain(parsed.from()?.first()?.address.as_deref()?)
}

/// A message parsed once, for every reader at the end of data: the engine's detectors,
/// sender authentication (`mail_auth::AuthenticatedMessage::from_parsed`), the author's
/// domain. Never more parts are materialised than the engine looks at: a message with
/// more delimiter lines is parsed only up to the limit (`cut`).
pub struct Parsed<'m> {
    raw: &'m [u8],
    message: Option<Message<'m>>,
    /// The prefix parsed, when the message was cut at the part limit.
    cut: Option<&'m [u8]>,
}

impl<'m> Parsed<'m> {
    /// The parse when it covers the whole message (not cut at the part limit): what
    /// readers of the whole body, DKIM's body hash among them, may rely on.
    pub fn whole(&self) -> Option<&Message<'m>> {
        self.message.as_ref().filter(|_| self.cut.is_none())
    }

    /// The parse when it holds the whole header section: a cut counts delimiter lines
    /// in the header section too, and may fall before its end.
    pub fn header_section(&self) -> Option<&Message<'m>> {
        let m = self.message.as_ref()?;
        let body = m.root_part().raw_body_offset() as usize;
        self.cut.is_none_or(|c| body < c.len()).then_some(m)
    }

    /// The organisational domain of the author ([`author_org`]), from the shared parse
    /// when it holds the header section.
    pub fn author_org(&self) -> Option<String> {
        match self.header_section() {
            Some(m) => author_org_of(m),
            None => author_org(self.raw),
        }
    }
}

/// The engine's finding on one message.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Analysis {
    /// The phishing score and what it calls for.
    pub score: f64,
    pub action: Action,
    /// The spam score and what it calls for (`Tag`: `X-Spam-Flag: YES`).
    pub spam_score: f64,
    pub spam_action: Action,
    pub auth: &'static str,
    pub signals: Vec<Signal>,
    /// The author's organisational domain is not one of ours.
    pub external: bool,
    /// The author's organisational domain, if it could be read.
    pub sender_domain: Option<String>,
    pub links: usize,
    pub attachments: usize,
    pub scan_limited: bool,
}

impl Analysis {
    /// The phrases of the signals that fired, strongest first.
    pub fn reasons(&self) -> Vec<&str> {
        self.signals.iter().map(|s| s.reason.as_str()).collect()
    }

    /// What happens to the message: the stronger of the phishing and spam actions.
    pub fn disposition(&self) -> Action {
        self.action.max(self.spam_action)
    }

    /// Whether the spam score, not the phishing score, decides the disposition.
    pub fn spam_decides(&self) -> bool {
        self.spam_action > self.action
    }

    /// The signals of one category.
    pub fn signals_of(&self, category: Category) -> impl Iterator<Item = &Signal> {
        self.signals.iter().filter(move |s| s.category == category)
    }
}

/// The prepared engine: protected sets built once, shared by every scan.
pub struct Engine {
    local: Vec<String>,
    protected: Protected,
    people: People,
    free_mail: Vec<String>,
    abused_tlds: Vec<String>,
    shorteners: Vec<String>,
    /// Host names of click trackers and link-protection rewriters.
    click_trackers: Vec<String>,
    model: Option<std::sync::Arc<Model>>,
    site: Option<std::sync::Arc<SiteModel>>,
    weights: BTreeMap<&'static str, (f64, Scaling, Category)>,
    thresholds: Thresholds,
    spam_thresholds: Thresholds,
    limits: Limits,
}

impl Engine {
    /// Fails on a weight for a signal that does not exist (a typo would silently do
    /// nothing otherwise).
    pub fn new(s: &Settings) -> Result<Engine, String> {
        let mut weights: BTreeMap<&'static str, (f64, Scaling, Category)> = SIGNALS
            .iter()
            .map(|(n, w, sc, c)| (*n, (*w, *sc, *c)))
            .collect();
        for (name, w) in &s.weights {
            let Some(entry) = weights.get_mut(name.as_str()) else {
                return Err(format!(
                    "unknown signal {name:?}; known: {}",
                    signal_names().collect::<Vec<_>>().join(", ")
                ));
            };
            if !w.is_finite() || *w < 0.0 {
                return Err(format!("weight of {name} must be a number >= 0"));
            }
            entry.0 = *w;
        }
        let local: Vec<String> = s
            .local_domains
            .iter()
            .filter_map(|d| org_domain(d))
            .collect();
        Ok(Engine {
            protected: Protected::new(
                s.local_domains
                    .iter()
                    .chain(&s.protected_domains)
                    .map(String::as_str),
            ),
            local,
            people: People::new(s.people.iter().map(String::as_str)),
            free_mail: s.free_mail.iter().map(|d| d.to_ascii_lowercase()).collect(),
            abused_tlds: s
                .abused_tlds
                .iter()
                .map(|t| t.trim_start_matches('.').to_ascii_lowercase())
                .collect(),
            shorteners: s
                .shorteners
                .iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
            click_trackers: s
                .click_trackers
                .iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
            model: s.content_model.clone(),
            site: s.site_model.clone(),
            weights,
            thresholds: s.thresholds,
            spam_thresholds: s.spam_thresholds,
            limits: s.limits,
        })
    }

    /// The verdict when a scan could not finish (a detector panicked): the scan limit's.
    pub fn scan_failed(&self, auth: Auth) -> Analysis {
        Analysis {
            score: 0.0,
            action: crate::verdict::decide(0.0, true, &self.thresholds),
            auth: auth.name(),
            spam_score: 0.0,
            spam_action: Action::Deliver,
            signals: vec![Signal {
                name: SCAN_LIMIT,
                category: Phishing,
                weight: 0.0,
                reason: "scan limit reached (the scan failed)".into(),
                evidence: Vec::new(),
            }],
            external: true,
            sender_domain: None,
            links: 0,
            attachments: 0,
            scan_limited: true,
        }
    }

    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// Whether an organisational domain is one of ours.
    pub fn is_local(&self, org: &str) -> bool {
        self.local.iter().any(|l| l == org)
    }

    /// Scans one message (as received: header section and body).
    pub fn analyze(&self, message: &[u8], ctx: &Context<'_>) -> Analysis {
        self.analyze_parsed(&self.parse(message), ctx)
    }

    /// Parses a message as the engine reads it (see [`Parsed`]).
    pub fn parse<'m>(&self, message: &'m [u8]) -> Parsed<'m> {
        let limit = crate::mime_bounds::delimiter_limit(self.limits.max_parts);
        let cut = crate::mime_bounds::truncated(message, limit);
        Parsed {
            raw: message,
            message: MessageParser::new().parse(cut.unwrap_or(message)),
            cut,
        }
    }

    /// [`Engine::analyze`] of a message parsed by [`Engine::parse`].
    pub fn analyze_parsed(&self, parsed: &Parsed<'_>, ctx: &Context<'_>) -> Analysis {
        let (mut scan, sender_domain) = self.read(parsed, ctx);
        scan.learned();
        scan.external();
        scan.authentication(sender_domain.as_deref());
        if scan.limited {
            scan.fire(SCAN_LIMIT, "scan limit reached".into());
        }
        self.conclude(scan, sender_domain)
    }

    /// What the content model reads of a message (for training it).
    pub fn content(&self, message: &[u8]) -> Content {
        self.read(&self.parse(message), &Context::new(Auth::NotEvaluated))
            .0
            .content()
    }

    /// Every detector but the content model and authentication; the author's
    /// organisational domain.
    fn read<'s>(
        &'s self,
        parsed: &Parsed<'_>,
        ctx: &'s Context<'s>,
    ) -> (Scan<'s, 's>, Option<String>) {
        let message = parsed.raw;
        let mut scan = Scan {
            engine: self,
            ctx,
            signals: BTreeMap::new(),
            started: Instant::now(),
            parts: 0,
            links: Vec::new(),
            attachments: 0,
            limited: false,
            sender_org: None,
            list: crate::lists::List::default(),
            hosts: Vec::new(),
            lures: Vec::new(),
            text: String::new(),
            factor: ctx.auth.factor(false),
            html_text: false,
            subject_len: 0,
        };
        scan.limited |= parsed.cut.is_some();
        let sender_domain = match &parsed.message {
            Some(m) => {
                let from = m
                    .from()
                    .and_then(|a| a.first())
                    .and_then(|a| a.address.as_deref());
                let known = ctx.first_contact == Some(false)
                    || from
                        .and_then(|f| f.rsplit_once('@'))
                        .is_some_and(|(_, d)| self.protected.is_protected(d));
                scan.factor = ctx.auth.factor(known);
                scan.list = crate::lists::List::of(m);
                let org = scan.addresses(m);
                scan.abused_tld(org.as_deref());
                scan.sender_org = org.clone();
                scan.text.push_str(m.subject().unwrap_or_default());
                scan.text.push('\n');
                scan.subject_len = scan.text.len();
                scan.presentation(m);
                org
            }
            None => {
                scan.fire("malformed", "the message cannot be read as email".into());
                None
            }
        };
        let anomalies = match parsed.header_section() {
            Some(m) => headers::check_parsed(m),
            None => headers::check(message),
        };
        for a in anomalies {
            scan.anomaly(a);
        }
        if let Some(m) = &parsed.message {
            scan.walk(m, 0);
            scan.boundaries(m, message);
        }
        if let Some(cut) = parsed.cut {
            scan.names_only(&message[cut.len()..]);
        }
        scan.check_links();
        scan.wording();
        if crate::spam::has_gtube(&scan.text) {
            scan.fire(
                "gtube",
                "the message carries the GTUBE spam test string".into(),
            );
        }
        (scan, sender_domain)
    }

    /// The score and action from what fired.
    fn conclude(&self, scan: Scan<'_, '_>, sender_domain: Option<String>) -> Analysis {
        let ctx = scan.ctx;
        let external = sender_domain.as_deref().is_none_or(|d| !self.is_local(d));
        let mut signals: Vec<Signal> = scan.signals.into_values().collect();
        signals.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.name.cmp(b.name)));
        let total = |c: Category| {
            let sum: f64 = signals
                .iter()
                .filter(|s| s.category == c)
                .map(|s| s.weight)
                .sum();
            // `+ 0.0`: an empty float sum is -0.0.
            (sum * 10.0).round() / 10.0 + 0.0
        };
        let (score, spam_score) = (total(Phishing), total(Spam));
        Analysis {
            action: crate::verdict::decide(score, scan.limited, &self.thresholds),
            score,
            spam_action: crate::verdict::decide(spam_score, false, &self.spam_thresholds),
            spam_score,
            auth: ctx.auth.name(),
            signals,
            external,
            sender_domain,
            links: scan.links.len(),
            attachments: scan.attachments,
            scan_limited: scan.limited,
        }
    }
}

/// The state of one scan.
struct Scan<'e, 'c> {
    engine: &'e Engine,
    ctx: &'c Context<'c>,
    /// By signal name: one entry per signal, the strongest occurrence first.
    signals: BTreeMap<&'static str, Signal>,
    started: Instant,
    parts: usize,
    links: Vec<Link>,
    attachments: usize,
    limited: bool,
    /// The author's organisational domain.
    sender_org: Option<String>,
    /// The mailing list the message says it came through.
    list: crate::lists::List,
    /// Hosts the links go to, sorted (after `check_links`).
    hosts: Vec<String>,
    /// Lure kinds in the text (after `wording`).
    lures: Vec<crate::lure::Lure>,
    /// Subject and body text, for the wording checks (bounded).
    text: String,
    /// What [`Scaling::ByAuth`] signals are multiplied by.
    factor: f64,
    /// `text` holds HTML text (plain-text bodies are then left out).
    html_text: bool,
    /// Where the subject ends in `text`.
    subject_len: usize,
}

/// Words that, next to a brand's name, still make a display name the brand's own
/// ("PayPal Service", "Microsoft 365 Security Team"); any other word makes it a
/// person's or another company's ("Chase Smith").
const CORPORATE_WORDS: &[&str] = &[
    "service",
    "services",
    "support",
    "team",
    "security",
    "billing",
    "account",
    "accounts",
    "customer",
    "customers",
    "care",
    "notification",
    "notifications",
    "alert",
    "alerts",
    "help",
    "helpdesk",
    "desk",
    "center",
    "centre",
    "online",
    "noreply",
    "no",
    "reply",
    "info",
    "admin",
    "administrator",
    "it",
    "express",
    "payment",
    "payments",
    "bank",
    "banking",
    "mail",
    "email",
    "delivery",
    "shipping",
    "verification",
    "official",
    "inc",
    "ltd",
    "llc",
    "corp",
    "the",
    "your",
    "department",
    "dept",
    "message",
    "messages",
    "member",
    "members",
    "premium",
    "prime",
    "pay",
    "wallet",
    "cloud",
    "drive",
    "docs",
    "sign",
    "id",
    "office",
    "outlook",
    "teams",
    "store",
];

/// Text kept for the wording checks, at most.
const MAX_TEXT: usize = 128 * 1024;

/// The signal an attachment finding fires; `None` for one beyond the scan limit.
fn signal_of(f: &Finding) -> Option<&'static str> {
    Some(match f {
        Finding::Executable { .. } => "attachment_program",
        Finding::Script { .. } => "attachment_script",
        Finding::DiskImage { .. } => "attachment_disk_image",
        Finding::Macro { .. } => "attachment_macro",
        Finding::DoubleExtension { .. } => "attachment_double_extension",
        Finding::BidiControl { .. } => "attachment_bidi",
        Finding::Disguised { .. } => "attachment_disguised",
        Finding::ActiveHtml { .. } => "attachment_active_html",
        Finding::EncryptedArchive { .. } => "attachment_encrypted_archive",
        Finding::InArchive { entry, .. } => return signal_of(entry),
        Finding::ScanLimit { .. } => return None,
    })
}

/// Evidence kept per signal, beyond the first reason.
const MAX_EVIDENCE: usize = 5;
/// Nested messages (message/rfc822 inside message/rfc822) followed at most.
const MAX_DEPTH: usize = 4;
/// Links read per message, at most (each part is bounded too).
const MAX_MESSAGE_LINKS: usize = 5000;
/// Characters of a reason kept (they end up in header fields and banners).
const MAX_REASON: usize = 200;

/// A reason as shown to people: control and bidirectional-override characters (which
/// could forge lines or reorder text in a banner or a log) become `?`, at most
/// [`MAX_REASON`] characters.
fn clean(reason: &str) -> String {
    let mut out: String = reason
        .chars()
        .map(|c| {
            let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}');
            if c.is_control() || bidi { '?' } else { c }
        })
        .take(MAX_REASON)
        .collect();
    if reason.chars().count() > MAX_REASON {
        out.push('…');
    }
    out
}

impl Scan<'_, '_> {
    fn fire(&mut self, name: &'static str, reason: String) {
        self.fire_scaled(name, reason, 1.0);
    }

    fn fire_scaled(&mut self, name: &'static str, reason: String, factor: f64) {
        let reason = clean(&reason);
        let (base, scaling, category) =
            self.engine
                .weights
                .get(name)
                .copied()
                .unwrap_or((0.0, Scaling::Fixed, Phishing));
        let weight = match scaling {
            Scaling::Fixed => base,
            Scaling::ByAuth => base * self.factor,
        } * factor;
        match self.signals.get_mut(name) {
            Some(s) => {
                if weight > s.weight {
                    let old = std::mem::replace(&mut s.reason, reason);
                    s.weight = weight;
                    s.evidence.insert(0, old);
                } else if s.evidence.len() < MAX_EVIDENCE && s.reason != reason {
                    s.evidence.push(reason);
                }
                s.evidence.truncate(MAX_EVIDENCE);
                s.evidence.dedup();
            }
            None => {
                self.signals.insert(
                    name,
                    Signal {
                        name,
                        category,
                        weight,
                        reason,
                        evidence: Vec::new(),
                    },
                );
            }
        }
    }

    fn over_budget(&mut self) -> bool {
        if !self.limited
            && (self.parts >= self.engine.limits.max_parts
                || self.started.elapsed() > self.engine.limits.max_time)
        {
            self.limited = true;
        }
        self.limited
    }

    fn lookalike(&mut self, name: &'static str, what: &str, l: &Lookalike) {
        match l.kind {
            Kind::OtherSuffix => self.fire(
                "other_suffix",
                format!("{what} {} has the name of {}", l.domain, l.imitates),
            ),
            Kind::MixedScript => self.fire(
                "mixed_script",
                format!("{what} {} mixes alphabets", l.domain),
            ),
            Kind::Confusable => {
                self.fire(name, format!("{what} {} imitates {}", l.domain, l.imitates));
                self.fire(
                    "confusable_characters",
                    format!("{} is spelt with look-alike characters", l.domain),
                );
            }
            Kind::NearMiss | Kind::Embedded => {
                self.fire(name, format!("{what} {} imitates {}", l.domain, l.imitates));
            }
        }
    }

    /// The author's domain is under a top-level domain mostly registered for abuse (a
    /// spam signal; never for our own domains or a sender this site knows).
    fn abused_tld(&mut self, org: Option<&str>) {
        let Some(org) = org else {
            return;
        };
        let tld = org.rsplit('.').next().unwrap_or_default();
        if self.engine.abused_tlds.iter().any(|t| t == tld)
            && !self.engine.is_local(org)
            && self.ctx.first_contact != Some(false)
        {
            self.fire(
                "abused_tld",
                format!("the sender's domain is under .{tld}, a top-level domain mostly registered for spam"),
            );
        }
    }

    /// From, Reply-To, envelope: lookalikes, display names, diversion. Returns the
    /// author's organisational domain.
    fn addresses(&mut self, m: &Message<'_>) -> Option<String> {
        let engine = self.engine;
        let from = m.from().and_then(|a| a.first());
        let from_addr = from.and_then(|a| a.address.as_deref()).unwrap_or_default();
        let from_domain = from_addr.rsplit_once('@').map(|(_, d)| d.to_string());
        let from_org = from_domain.as_deref().and_then(org_domain);
        if let Some(d) = &from_domain
            && let Some(l) = engine.protected.check(d)
        {
            self.lookalike("lookalike_from", "sender domain", &l);
        }
        if let (Some(corr), Some(d), Some(org)) = (self.ctx.correspondents, &from_domain, &from_org)
            && !engine.is_local(org)
            && self.ctx.first_contact != Some(false)
            && let Some(l) = corr.check(d)
            && l.kind != Kind::MixedScript
        {
            self.fire(
                "first_contact_lookalike",
                format!(
                    "first message from {org}, which imitates your correspondent {}",
                    l.imitates
                ),
            );
        }
        if let Some(env) = self.ctx.envelope_from
            && let Some((_, d)) = env.rsplit_once('@')
            && org_domain(d) != from_org
            && let Some(l) = self.imitation(d)
        {
            self.lookalike("lookalike_envelope", "envelope sender domain", &l);
        }
        let external = from_org.as_deref().is_none_or(|o| !engine.is_local(o));
        if let Some(name) = from.and_then(|a| a.name.as_deref()) {
            let sender = from_org.as_deref().unwrap_or("");
            let real = if sender.is_empty() {
                "elsewhere"
            } else {
                sender
            };
            match shown_foreign_domain(name, sender) {
                Some(shown)
                    if engine.protected.is_protected(&shown)
                        || engine.protected.check(&shown).is_some() =>
                {
                    self.fire(
                        "display_name_brand",
                        format!("the sender's name shows {shown} but the mail comes from {real}"),
                    );
                }
                Some(shown) if !self.name_explained(name, from_addr, from_org.as_deref()) => self
                    .fire(
                        "display_name_domain",
                        format!("the sender's name shows {shown} but the mail comes from {real}"),
                    ),
                Some(_) => {}
                None => {
                    // The brand's own other domain (docusign.com for docusign.net) is
                    // the brand: protected, and named by the word itself.
                    let own = |word: &str| {
                        from_org.as_deref().is_some_and(|o| {
                            engine.protected.is_protected(o) && o.split('.').next() == Some(word)
                        })
                    };
                    if let Some((word, brand)) = self.brand_in_name(name)
                        && org_domain(&brand).as_deref() != from_org.as_deref()
                        && !own(&word)
                    {
                        self.fire(
                            "display_name_brand",
                            format!(
                                "the sender's name says {word} ({brand}) but the mail comes from {real}"
                            ),
                        );
                    }
                }
            }
            if external && let Some(person) = engine.people.impersonated(name) {
                self.fire(
                    "display_name_person",
                    format!("the sender's name imitates {person}, but the mail comes from outside"),
                );
            }
        }
        let reply_to = m
            .reply_to()
            .and_then(|a| a.first())
            .and_then(|a| a.address.as_deref());
        if let Some(rt) = reply_to
            && let Some((_, d)) = rt.rsplit_once('@')
        {
            if org_domain(d) != from_org
                && let Some(l) = self.imitation(d)
            {
                self.lookalike("lookalike_reply_to", "reply address domain", &l);
            }
            let free: Vec<&str> = engine.free_mail.iter().map(String::as_str).collect();
            if let Some(div) = reply_to_diversion(from_addr, rt, &free)
                && !self.list_explains_reply_to(from_org.as_deref(), &div.reply_to_org)
            {
                let (name, kind) = if div.free_mail {
                    ("reply_to_free_mail", "a free-mail address")
                } else {
                    ("reply_to_other_org", "another organisation")
                };
                self.fire(
                    name,
                    format!(
                        "replies go to {kind} ({}), not the sender",
                        div.reply_to_org
                    ),
                );
            }
        }
        from_org
    }

    /// A display name that shows a domain for an innocent reason: it is the mailbox's
    /// own name (`"guilin.wang" <guilin.wang@...>`), or the list wrote itself into From
    /// and the member's name and domain into the display name ("Jane (example.org) via
    /// List", RFC 7960 §4.1.3.1). Brands shown are still checked.
    fn name_explained(&self, name: &str, from_addr: &str, from_org: Option<&str>) -> bool {
        let local = from_addr.rsplit_once('@').map_or("", |(l, _)| l);
        name.trim().eq_ignore_ascii_case(local)
            || from_org.is_some_and(|o| self.list.is_list_org(o))
    }

    /// Replies go to the list, or the list wrote itself into From and the author into
    /// Reply-To (RFC 7960 §4.1.3.1): see [`crate::lists`].
    fn list_explains_reply_to(&self, from_org: Option<&str>, reply_to_org: &str) -> bool {
        self.list.is_list_org(reply_to_org) || from_org.is_some_and(|o| self.list.is_list_org(o))
    }

    fn anomaly(&mut self, a: Anomaly) {
        if let Anomaly::SenderOfAnotherOrganisation { sender, .. } = &a
            && self.list.is_list_org(sender)
        {
            // The list delivering a member's post (RFC 5322 §3.6.2).
            return;
        }
        let name = match a {
            Anomaly::SeveralFrom {
                with_sender: true, ..
            } => "several_from_with_sender",
            Anomaly::SeveralFrom { .. } => "several_from",
            Anomaly::SenderOfAnotherOrganisation { .. } => "sender_other_org",
            Anomaly::MissingDate => "missing_date",
            Anomaly::MissingMessageId => "missing_message_id",
            Anomaly::EncodedAddress { .. } => "encoded_address",
        };
        self.fire(name, a.describe());
    }

    /// Every part, depth first, within the budget.
    /// The checks that cost nothing, on names read from the part of the message past
    /// the parse bound (see [`crate::mime_bounds`]).
    fn names_only(&mut self, rest: &[u8]) {
        for n in crate::mime_bounds::names_in(rest) {
            self.attachments += 1;
            for f in attachments::inspect(&n, None, &[]) {
                self.finding(&f);
            }
        }
    }

    fn walk(&mut self, m: &Message<'_>, depth: usize) {
        for part in &m.parts {
            let name = part.attachment_name();
            if self.over_budget() {
                // What is left gets the checks that cost nothing: a program named as
                // one is still found after the budget ran out.
                if let Some(n) = name {
                    self.attachments += 1;
                    for f in attachments::inspect(n, None, &[]) {
                        self.finding(&f);
                    }
                }
                continue;
            }
            self.parts += 1;
            let ctype = part.content_type().map(|c| {
                let sub = c.subtype().unwrap_or_default();
                format!("{}/{}", c.ctype(), sub).to_ascii_lowercase()
            });
            match &part.body {
                PartType::Html(html) if name.is_none() => {
                    let (found, issues, text) = links::html(html);
                    self.add_html_text(&text);
                    self.add_links(found);
                    for i in issues {
                        self.link_issue(i);
                    }
                }
                PartType::Text(text) if name.is_none() => {
                    if !self.html_text {
                        self.add_text(text);
                    }
                    self.add_links(links::text(text));
                }
                PartType::Message(inner) => {
                    if depth + 1 >= MAX_DEPTH {
                        self.limited = true;
                        continue;
                    }
                    self.walk(inner, depth + 1);
                }
                PartType::Multipart(_) => {}
                PartType::Text(_) | PartType::Html(_) => self.attachment(
                    name.unwrap_or("attachment"),
                    ctype.as_deref(),
                    part.contents(),
                ),
                PartType::Binary(data) | PartType::InlineBinary(data) => {
                    let label = name.unwrap_or("inline part");
                    self.attachment(label, ctype.as_deref(), data);
                    if ctype.as_deref().is_some_and(|t| t.starts_with("image/")) {
                        self.qr(label, data);
                    }
                }
            }
        }
    }

    /// A multipart boundary inside a line: RFC 2046 §5.1.1 delimiters start lines, and
    /// mail readers split only there, but a lenient parser may split mid-line too; the
    /// two would then see different messages, which only an attacker wants. Flagged, and
    /// the raw message is read for links as a reader would see them.
    fn boundaries(&mut self, m: &Message<'_>, raw: &[u8]) {
        let mut confused = false;
        for part in m.parts.iter().take(50) {
            let Some(b) = part.content_type().and_then(|c| c.attribute("boundary")) else {
                continue;
            };
            let delimiter = format!("--{b}");
            confused |= memchr::memmem::find_iter(raw, delimiter.as_bytes())
                .take(10_000)
                .any(|at| at > 0 && raw[at - 1] != b'\n');
            if confused {
                break;
            }
        }
        if confused {
            self.fire(
                "mime_confusion",
                "a MIME boundary is hidden inside a line, so filters and mail readers see different messages".into(),
            );
            let text = String::from_utf8_lossy(&raw[..raw.len().min(1 << 20)]).into_owned();
            let (found, issues, _) = links::html(&text);
            self.add_links(found);
            for i in issues {
                self.link_issue(i);
            }
        }
    }

    fn add_links(&mut self, found: Vec<Link>) {
        let room = MAX_MESSAGE_LINKS.saturating_sub(self.links.len());
        if found.len() > room {
            self.limited = true;
        }
        self.links.extend(found.into_iter().take(room));
    }

    fn attachment(&mut self, name: &str, ctype: Option<&str>, data: &[u8]) {
        self.attachments += 1;
        for f in attachments::inspect(name, ctype, data) {
            self.finding(&f);
        }
    }

    fn finding(&mut self, f: &Finding) {
        match signal_of(f) {
            // An entry of an archive is weighed as the entry, described with the archive.
            Some(name) => self.fire(name, f.describe()),
            None => self.limited = true,
        }
    }

    fn qr(&mut self, name: &str, data: &[u8]) {
        if self.over_budget() {
            return;
        }
        let texts = match qr::decode(data, self.engine.limits.max_qr_pixels) {
            Ok(texts) => texts,
            // A photo too large to search is not a reason to distrust the message.
            Err(qr::Skipped::TooLarge) => return,
            // An image built to exhaust the search is beyond the scan limit.
            Err(qr::Skipped::TooComplex) => {
                self.limited = true;
                return;
            }
        };
        {
            for t in texts {
                let found = links::text(&t);
                if let Some(l) = found.first() {
                    self.fire(
                        "qr_link",
                        format!("the image {name} holds a QR code that opens {}", l.href),
                    );
                }
                self.add_links(found);
            }
        }
    }

    /// What `domain` imitates: a protected domain, or a correspondent of ours.
    fn imitation(&self, domain: &str) -> Option<Lookalike> {
        self.engine.protected.check(domain).or_else(|| {
            self.ctx
                .correspondents?
                .check(domain)
                .filter(|l| l.kind != Kind::MixedScript)
        })
    }

    /// A protected name in a display name that is otherwise only corporate words.
    fn brand_in_name(&self, name: &str) -> Option<(String, String)> {
        let words: Vec<String> = name
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        let mut found = None;
        for w in &words {
            if CORPORATE_WORDS.contains(&w.as_str()) || w.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            match self.engine.protected.named(w) {
                Some(brand) if found.is_none() => found = Some((w.clone(), brand.to_string())),
                _ => return None,
            }
        }
        found
    }

    /// The text of an HTML body replaces what the plain-text bodies gave (usually the
    /// same words, an alternative of it), so the wording is read once.
    fn add_html_text(&mut self, text: &str) {
        if !self.html_text {
            self.html_text = true;
            self.text.truncate(self.subject_len);
        }
        self.add_text(text);
    }

    fn add_text(&mut self, text: &str) {
        let room = MAX_TEXT.saturating_sub(self.text.len());
        let mut end = room.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.text.push_str(&text[..end]);
        self.text.push('\n');
    }

    fn wording(&mut self) {
        let crate::lure::Wording { lures: found, scam } = crate::lure::read(&self.text, 3);
        if !found.is_empty() {
            let kinds: Vec<&str> = found.iter().map(|l| l.describe()).collect();
            self.fire_scaled(
                "lure_language",
                format!("the text {}", kinds.join(" and ")),
                found.len() as f64,
            );
        }
        self.lures = found;
        if !scam.is_empty() {
            let quoted: Vec<String> = scam.iter().map(|p| format!("\"{p}\"")).collect();
            self.fire_scaled(
                "scam_language",
                format!(
                    "the text reads like an advance-fee or prize scam ({})",
                    quoted.join(", ")
                ),
                scam.len() as f64,
            );
        }
    }

    /// The external scanners' answers, as signals.
    fn external(&mut self) {
        for e in self.ctx.external {
            match e {
                External::Rspamd { score, action, .. } => {
                    // rspamd's own action counts at least as much as our matching
                    // threshold (its thresholds may differ from ours).
                    let t = &self.engine.spam_thresholds;
                    let floor = match action.as_str() {
                        "reject" => t.reject.or(t.quarantine).or(t.tag),
                        "add header" | "rewrite subject" => t.tag,
                        _ => None,
                    };
                    // In rspamd points: the floor divided by what one of them weighs.
                    let per_point = self.engine.weights.get("rspamd").map_or(0.0, |w| w.0);
                    let floor = floor
                        .filter(|_| per_point > 0.0)
                        .map_or(0.0, |f| f / per_point);
                    let factor = score.max(floor);
                    if factor > 0.0 && per_point > 0.0 {
                        self.fire_scaled("rspamd", e.describe(), factor);
                    }
                }
                External::Virus { .. } => self.fire("virus", e.describe()),
                External::Unavailable { .. } => self.fire("scanner_unavailable", e.describe()),
            }
        }
    }

    /// Styled text in the subject and the author's display name (see [`crate::spam`]).
    fn presentation(&mut self, m: &Message<'_>) {
        let name = m
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.name.as_deref())
            .unwrap_or_default();
        let subject = m.subject().unwrap_or_default();
        let mut found: Vec<(&str, crate::spam::Styling)> = Vec::new();
        for (what, text) in [("subject", subject), ("sender's name", name)] {
            for st in crate::spam::styling(text) {
                if !found.iter().any(|(_, f)| *f == st) {
                    found.push((what, st));
                }
            }
        }
        if found.is_empty() {
            return;
        }
        let said: Vec<String> = found
            .iter()
            .map(|(what, st)| format!("the {what} {}", st.describe()))
            .collect();
        self.fire_scaled(
            "styled_text",
            format!("{}, which hides its words from filters", said.join(" and ")),
            found.len().min(2) as f64,
        );
    }

    /// What the content model reads (after `check_links` and `wording`).
    fn content(&self) -> Content {
        let subject_len = self.subject_len.min(self.text.len());
        Content {
            subject: self.text[..subject_len].trim().to_string(),
            body: self.text[subject_len..].to_string(),
            hosts: self.hosts.clone(),
            lures: self.lures.iter().map(|l| l.name()).collect(),
        }
    }

    /// The learned content model's and the site model's readings, as points when they
    /// lean to phishing or spam.
    fn learned(&mut self) {
        if self.engine.model.is_none() && self.engine.site.is_none() {
            return;
        }
        let features = classifier::features(&self.content());
        if let Some(site) = self.engine.site.clone() {
            for (label, signal, what) in [
                (Label::Phish, "site_model_phish", "phishing"),
                (Label::Spam, "site_model_spam", "spam"),
            ] {
                let Some(j) = site.judge(&features, label) else {
                    continue;
                };
                if j.logit > 0.0 {
                    let words: Vec<String> = j.top.iter().map(|n| shown_feature(n)).collect();
                    self.fire_scaled(
                        signal,
                        format!(
                            "mail this site marked as {what} reads like this: {}",
                            words.join(", ")
                        ),
                        j.logit.min(MAX_SITE_LOGIT),
                    );
                }
            }
        }
        let Some(model) = self.engine.model.clone() else {
            return;
        };
        let scored = model.score(&features);
        if scored.logit <= 0.0 {
            return;
        }
        let words: Vec<String> = scored.top.iter().map(|(n, _)| shown_feature(n)).collect();
        self.fire_scaled(
            "content_model",
            format!("the wording resembles phishing: {}", words.join(", ")),
            scored.logit.min(MAX_MODEL_LOGIT),
        );
    }

    fn link_issue(&mut self, i: Issue) {
        let name = match &i {
            Issue::TextShowsAnotherDomain { shown, .. }
                if self.engine.protected.is_protected(shown)
                    && !(self.ctx.auth == Auth::Aligned
                        && self.sender_org.as_deref() == Some(shown.as_str())) =>
            {
                "link_text_brand"
            }
            // Into the sender's own organisation, or on through a click tracker or a
            // link-protection rewriter: nothing says the reader is misled about where.
            Issue::TextShowsAnotherDomain {
                actual, redirector, ..
            } if *redirector || self.sender_org.as_deref() == Some(actual.as_str()) => {
                return;
            }
            Issue::TextShowsAnotherDomain { .. } => "link_text_mismatch",
            Issue::IpLiteral { .. } => "link_ip",
            Issue::UserInfo { .. } => "link_userinfo",
            Issue::Punycode { .. } => "link_punycode",
            Issue::Scheme { .. } => "link_script",
            Issue::Shortener { .. } => "link_shortener",
            Issue::CredentialForm { .. } => "credential_form",
        };
        self.fire(name, i.describe());
    }

    /// Link checks and lookalike link targets, once per distinct link.
    fn check_links(&mut self) {
        let mut links = std::mem::take(&mut self.links);
        links.sort_by(|a, b| (&a.href, &a.text).cmp(&(&b.href, &b.text)));
        links.dedup();
        let shorteners: Vec<&str> = self.engine.shorteners.iter().map(String::as_str).collect();
        let redirectors: Vec<&str> = self
            .engine
            .click_trackers
            .iter()
            .map(String::as_str)
            .collect();
        let services = links::Services {
            shorteners: &shorteners,
            redirectors: &redirectors,
        };
        let mut hosts: Vec<String> = Vec::new();
        let mut seen = links::Seen::default();
        for (i, link) in links.iter().enumerate() {
            if i % 64 == 0 && self.over_budget() {
                break;
            }
            let (issues, host) = links::inspect(link, &services, &mut seen);
            for i in issues {
                self.link_issue(i);
            }
            hosts.extend(host);
        }
        hosts.sort();
        hosts.dedup();
        for (i, h) in hosts.iter().enumerate() {
            if i % 16 == 0 && self.over_budget() {
                break;
            }
            let Some(l) = self.imitation(h) else {
                continue;
            };
            // An authenticated brand linking to its own other domains
            // (paypal.com mail with links to paypal-communication.com).
            let own = self.ctx.auth == Auth::Aligned
                && self.sender_org.as_deref() == Some(l.imitates.as_str());
            if !own {
                self.lookalike("lookalike_link", "a link's domain", &l);
            }
        }
        self.links = links;
        self.hosts = hosts;
    }

    fn authentication(&mut self, sender_org: Option<&str>) {
        let protected = sender_org.is_some_and(|o| self.engine.protected.is_protected(o));
        match self.ctx.auth {
            Auth::Failed if protected => self.fire(
                "spoofed_protected",
                format!(
                    "the message claims to be from {} but failed its authentication",
                    sender_org.unwrap_or_default()
                ),
            ),
            Auth::Failed => self.fire(
                "dmarc_fail",
                "the sender's domain says this message is not from it (DMARC failed)".into(),
            ),
            Auth::None => self.fire(
                "no_authentication",
                "nothing authenticates the sender".into(),
            ),
            Auth::ArcOnly => self.fire(
                "arc_only",
                "authenticated only by a forwarder's seal (ARC)".into(),
            ),
            Auth::Aligned | Auth::Unaligned | Auth::Local | Auth::NotEvaluated => {}
        }
        // A signature that does not verify: the signed part was changed on the way, or
        // the signature is made up to look trustworthy.
        match self.ctx.signature {
            Some(SignatureState::Invalid(why)) => self.fire(
                "signature_invalid",
                format!("the message's signature does not verify ({why})"),
            ),
            Some(SignatureState::Valid {
                matches_from: false,
            }) => self.fire(
                "signature_other_signer",
                "the message is signed, but not by its sender's address".into(),
            ),
            Some(SignatureState::Valid { matches_from: true } | SignatureState::Unchecked)
            | None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::new(&Settings {
            local_domains: vec!["example.com".into()],
            protected_domains: vec!["paypal.com".into(), "docusign.net".into()],
            people: vec!["Alice Martin".into()],
            free_mail: vec!["gmail.com".into()],
            shorteners: vec!["bit.ly".into()],
            ..Settings::default()
        })
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn msg(from: &str, extra: &str, body: &str) -> Vec<u8> {
        format!(
            "From: {from}\r\nTo: bob@example.com\r\nSubject: s\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@x>\r\n{extra}\r\n{body}"
        )
        .into_bytes()
    }

    fn names(a: &Analysis) -> Vec<&'static str> {
        a.signals.iter().map(|s| s.name).collect()
    }

    #[test]
    fn reasons_in_ascii() {
        assert_eq!(
            ascii("sender domain pаypal.com imitates paypal.com"),
            "sender domain xn--pypal-4ve.com imitates paypal.com"
        );
        assert_eq!(ascii("the name (Jörg) shows"), "the name (J?rg) shows");
        assert_eq!(
            author_org(b"From: A <a@mail.Example.co.uk>\r\n\r\n").as_deref(),
            Some("example.co.uk")
        );
    }

    #[test]
    fn spam_is_scored_apart_from_phishing() {
        let e = engine();
        let gtube = msg(
            "Friend <a@friend.test>",
            "",
            &format!("Hello.\r\n{}\r\n", crate::spam::GTUBE),
        );
        let a = e.analyze(&gtube, &Context::new(Auth::Aligned));
        assert_eq!((a.action, a.score), (Action::Deliver, 0.0), "{a:?}");
        assert_eq!(a.spam_action, Action::Reject, "{a:?}");
        assert_eq!(a.disposition(), Action::Reject);
        assert!(a.spam_decides());
        assert_eq!(
            a.signals_of(Category::Spam)
                .map(|s| s.name)
                .collect::<Vec<_>>(),
            ["gtube"]
        );
        // Styled subject (Subject: "𝗟𝗮𝘀𝘁 chance") and a padded sender name: two
        // stylings, tagged as spam, no phishing points.
        let styled = b"From: \"Deals          Team\" <a@shop.test>\r\nTo: b@local.test\r\n\
Subject: =?UTF-8?B?8J2Xn/Cdl67wnZiA8J2YgSBjaGFuY2U6IDUwJSBPRkY=?=\r\n\
Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <s@shop.test>\r\n\r\nSale.\r\n";
        let a = e.analyze(styled, &Context::new(Auth::Aligned));
        assert_eq!(a.action, Action::Deliver, "{a:?}");
        assert_eq!((a.spam_action, a.spam_score), (Action::Tag, 10.0), "{a:?}");
        assert!(
            a.signals[0].reason.contains("mathematical letters"),
            "{a:?}"
        );
        assert!(a.signals[0].reason.contains("padded"), "{a:?}");
    }

    #[test]
    fn external_scanners_join_the_verdict() {
        let e = engine();
        let m = msg("Friend <a@friend.test>", "", "Hello.\r\n");
        let with = |external: &[External]| {
            let ctx = Context {
                external,
                ..Context::new(Auth::Aligned)
            };
            e.analyze(&m, &ctx)
        };
        let calm = with(&[External::rspamd(2.0, "no action", [("X".into(), 2.0)])]);
        assert_eq!((calm.spam_score, calm.spam_action), (2.0, Action::Deliver));
        assert_eq!(
            calm.signals[0].reason,
            "rspamd scored 2.0 (no action): X 2.0"
        );
        // rspamd's reject stands even when its score is under our threshold.
        let rejected = with(&[External::rspamd(3.0, "reject", [])]);
        assert_eq!(rejected.spam_action, Action::Reject, "{rejected:?}");
        let header = with(&[External::rspamd(1.0, "add header", [])]);
        assert_eq!(header.spam_action, Action::Tag, "{header:?}");
        let ham = with(&[External::rspamd(-3.0, "no action", [])]);
        assert_eq!((ham.spam_score, ham.signals.len()), (0.0, 0));
        let virus = with(&[External::Virus {
            scanner: "ClamAV",
            name: "Eicar-Test-Signature".into(),
        }]);
        assert_eq!(virus.disposition(), Action::Reject);
        assert_eq!(
            virus.signals[0].reason,
            "ClamAV found malware: Eicar-Test-Signature"
        );
        let down = with(&[External::Unavailable {
            scanner: "rspamd",
            error: "connection refused".into(),
        }]);
        assert_eq!((down.disposition(), down.score), (Action::Deliver, 0.0));
        assert_eq!(names(&down), ["scanner_unavailable"]);
    }

    #[test]
    fn unknown_weights_are_refused() {
        let s = Settings {
            weights: [("lookalike_form".to_string(), 3.0)].into(),
            ..Settings::default()
        };
        let e = Engine::new(&s).err().unwrap_or_default();
        assert!(e.contains("unknown signal \"lookalike_form\""), "{e}");
    }

    #[test]
    fn a_lookalike_sender_is_quarantined_even_when_it_authenticates() {
        let a = engine().analyze(
            &msg("PayPal <service@paypa1.com>", "", "Hello\r\n"),
            &Context::new(Auth::Aligned),
        );
        assert_eq!(a.action, Action::Quarantine, "{a:?}");
        assert_eq!(
            a.signals[0].reason,
            "sender domain paypa1.com imitates paypal.com"
        );
    }

    #[test]
    fn reply_to_elsewhere_weighs_by_authentication() {
        let m = msg(
            "DocuSign <dse@docusign.net>",
            "Reply-To: someone@gmail.com\r\n",
            "Please sign\r\n",
        );
        let aligned = engine().analyze(&m, &Context::new(Auth::Aligned));
        assert_eq!(aligned.action, Action::Deliver, "{aligned:?}");
        assert_eq!(names(&aligned), ["reply_to_free_mail"]);
        let bare = engine().analyze(&m, &Context::new(Auth::None));
        assert_eq!(bare.action, Action::Tag, "{bare:?}");
        let failed = engine().analyze(&m, &Context::new(Auth::Failed));
        assert_eq!(failed.action, Action::Quarantine, "{failed:?}");
        assert!(names(&failed).contains(&"spoofed_protected"));
    }

    #[test]
    fn a_genuine_idn_sender_is_clean() {
        let a = engine().analyze(
            &msg("Jörg Müller <joerg@xn--mller-kva.de>", "", "Grüße\r\n"),
            &Context::new(Auth::Aligned),
        );
        assert_eq!((a.action, a.score), (Action::Deliver, 0.0), "{a:?}");
        assert!(a.external);
    }

    #[test]
    fn ceo_name_from_outside_but_not_from_inside() {
        let outside = engine().analyze(
            &msg(
                "Alice Martin <alice.ceo@gmail.com>",
                "",
                "Wire 40k today\r\n",
            ),
            &Context::new(Auth::Aligned),
        );
        assert_eq!(names(&outside), ["display_name_person"]);
        assert_eq!(outside.action, Action::Tag);
        let inside = engine().analyze(
            &msg("Alice Martin <alice@example.com>", "", "Lunch?\r\n"),
            &Context::new(Auth::Local),
        );
        assert_eq!(inside.score, 0.0, "{inside:?}");
        assert!(!inside.external);
    }

    #[test]
    fn first_contact_from_a_lookalike_of_a_correspondent() {
        let corr = Protected::new(["globex.com"]);
        let m = msg("Accounts <ar@g1obex.com>", "", "Invoice 4411 attached\r\n");
        let ctx = Context {
            correspondents: Some(&corr),
            first_contact: Some(true),
            ..Context::new(Auth::Aligned)
        };
        let a = engine().analyze(&m, &ctx);
        assert_eq!(names(&a), ["first_contact_lookalike"]);
        assert_eq!(
            a.signals[0].reason,
            "first message from g1obex.com, which imitates your correspondent globex.com"
        );
        let known = Context {
            first_contact: Some(false),
            ..ctx
        };
        assert_eq!(engine().analyze(&m, &known).score, 0.0);
    }

    #[test]
    fn links_and_attachments_count_once_per_signal() {
        let body = "--b\r\nContent-Type: text/html\r\n\r\n<a href=\"http://203.0.113.5/a\">x</a><a href=\"http://203.0.113.6/b\">y</a>\r\n--b\r\nContent-Type: application/octet-stream; name=run.exe\r\nContent-Disposition: attachment; filename=run.exe\r\nContent-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--b--\r\n";
        let m = msg(
            "a@shop.test",
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n",
            body,
        );
        let a = engine().analyze(&m, &Context::new(Auth::Aligned));
        assert_eq!(names(&a), ["attachment_program", "link_ip"], "{a:?}");
        let ip = &a.signals[1];
        assert_eq!(ip.evidence.len(), 1, "{ip:?}");
        assert_eq!((a.links, a.attachments), (2, 1));
        assert_eq!(a.action, Action::Quarantine);
    }

    #[test]
    fn a_boundary_inside_a_line_is_flagged_and_the_hidden_part_read() {
        let body = "--x\r\nContent-Type: text/html\r\n\r\n<p>Hello</p><!----x-->\
             <form action=https://evil.test/c><input type=password></form>\r\n--x--\r\n";
        let m = msg(
            "a@shop.test",
            "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=x\r\n",
            body,
        );
        let a = engine().analyze(&m, &Context::new(Auth::Aligned));
        assert!(names(&a).contains(&"mime_confusion"), "{a:?}");
        assert!(names(&a).contains(&"credential_form"), "{a:?}");
        assert!(a.action >= Action::Quarantine, "{a:?}");
        // Ordinary multiparts are not confused.
        let ok = msg(
            "a@shop.test",
            "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=x\r\n",
            "--x\r\nContent-Type: text/plain\r\n\r\nHello\r\n--x--\r\n",
        );
        assert_eq!(
            engine().analyze(&ok, &Context::new(Auth::Aligned)).score,
            0.0
        );
    }

    #[test]
    fn the_budget_skips_the_rest_but_names_are_still_read() {
        let mut body = String::new();
        for i in 0..30 {
            body.push_str(&format!(
                "--b\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n"
            ));
        }
        body.push_str("--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=setup.exe\r\n\r\nx\r\n--b--\r\n");
        let m = msg(
            "a@shop.test",
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n",
            &body,
        );
        let mut e = engine();
        e.limits.max_parts = 10;
        let a = e.analyze(&m, &Context::new(Auth::Aligned));
        assert!(a.scan_limited);
        assert!(names(&a).contains(&"attachment_program"), "{a:?}");
        assert_eq!(a.action, Action::Quarantine);
    }

    /// Delimiter-like fields before From cut the parse inside the header section: the
    /// anomalies and the author's domain are read from the whole section all the same.
    #[test]
    fn a_cut_in_the_header_section_leaves_the_author_readable() {
        let mut head = String::new();
        for i in 0..30 {
            head.push_str(&format!("--x{i}: y\r\n"));
        }
        let m = format!("{head}From: A <a@mail.example.co.uk>\r\n\r\nhello\r\n");
        let mut e = engine();
        e.limits.max_parts = 10;
        let p = e.parse(m.as_bytes());
        assert!(p.whole().is_none() && p.header_section().is_none());
        assert_eq!(p.author_org().as_deref(), Some("example.co.uk"));
        let a = e.analyze_parsed(&p, &Context::new(Auth::Aligned));
        assert!(a.scan_limited);
        assert!(names(&a).contains(&"missing_date"), "{a:?}");
        let whole = engine().parse(m.as_bytes());
        assert!(whole.header_section().is_some() && whole.whole().is_some());
    }

    #[test]
    fn a_signature_that_does_not_verify_is_a_signal() {
        let m = msg("Bob <bob@partner.test>", "", "Hello");
        let with = |sig: &SignatureState| {
            let ctx = Context {
                signature: Some(sig),
                ..Context::new(Auth::Aligned)
            };
            engine().analyze(&m, &ctx)
        };
        let a = with(&SignatureState::Invalid("digest mismatch".into()));
        assert_eq!(names(&a), ["signature_invalid"]);
        assert!(a.signals[0].reason.contains("digest mismatch"));
        let a = with(&SignatureState::Valid {
            matches_from: false,
        });
        assert_eq!(names(&a), ["signature_other_signer"]);
        for fine in [
            SignatureState::Valid { matches_from: true },
            SignatureState::Unchecked,
        ] {
            assert!(names(&with(&fine)).is_empty());
        }
    }

    #[test]
    fn reasons_lose_control_and_bidi_characters() {
        let r = clean("name\r\nIT: verified safe\u{202e}exe.pdf");
        assert_eq!(r, "name??IT: verified safe?exe.pdf");
        assert_eq!(clean(&"x".repeat(500)).chars().count(), MAX_REASON + 1);
    }

    #[test]
    fn hostile_structures_end_in_a_verdict() {
        let e = engine();
        let ctx = Context::new(Auth::None);
        // 3,000 nested multiparts, each one level deeper.
        let mut deep = String::from("From: a@shop.test\r\nMIME-Version: 1.0\r\n");
        for i in 0..3000 {
            deep.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"
            ));
        }
        deep.push_str("Content-Type: text/plain\r\n\r\nhi\r\n");
        let a = e.analyze(deep.as_bytes(), &ctx);
        assert!(a.score.is_finite());
        // Messages inside messages, 50 deep: followed to a bound, then a scan limit.
        let mut nested = String::from("Subject: in\r\n\r\nhello\r\n");
        for _ in 0..50 {
            nested = format!("From: a@shop.test\r\nContent-Type: message/rfc822\r\n\r\n{nested}");
        }
        let a = e.analyze(nested.as_bytes(), &ctx);
        assert!(a.scan_limited, "{a:?}");
        assert_eq!(a.action, Action::Tag);
        // A 1 MiB header field, broken encodings, malformed HTML.
        let huge = format!(
            "From: a@shop.test\r\nSubject: {}\r\nContent-Type: text/html; charset=x-unknown\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n@@@not base64 <a href=\"</a>\r\n",
            "x".repeat(1 << 20)
        );
        assert!(e.analyze(huge.as_bytes(), &ctx).score.is_finite());
        assert!(e.analyze(b"", &ctx).score.is_finite());
        assert!(e.analyze(&[0xff; 4096], &ctx).score.is_finite());
    }

    #[test]
    fn a_scan_over_budget_is_tagged_never_passed() {
        let mut body = String::new();
        for i in 0..50 {
            body.push_str(&format!(
                "--b\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n"
            ));
        }
        body.push_str("--b--\r\n");
        let m = msg(
            "a@shop.test",
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n",
            &body,
        );
        let mut e = engine();
        e.limits.max_parts = 10;
        let a = e.analyze(&m, &Context::new(Auth::Aligned));
        assert!(a.scan_limited);
        assert_eq!(a.action, Action::Tag);
        assert_eq!(a.reasons(), ["scan limit reached"]);
    }

    /// A sender under a top-level domain mostly registered for abuse scores spam
    /// points, too few to tag alone; never our own domain, nor a sender the site knows.
    #[test]
    fn abused_top_level_domains_are_a_spam_signal() {
        let e = Engine::new(&Settings {
            local_domains: vec!["example.shop".into()],
            abused_tlds: vec![".Shop".into(), "top".into()],
            ..Settings::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let ctx = Context::new(Auth::NotEvaluated);
        let a = e.analyze(&msg("Deals <d@mail.offers.top>", "", "Hi\r\n"), &ctx);
        assert_eq!(names(&a), ["abused_tld"], "{a:?}");
        assert_eq!((a.score, a.spam_score), (0.0, 2.0));
        assert_eq!(a.spam_action, Action::Deliver);
        assert!(a.reasons()[0].contains(".top"), "{:?}", a.reasons());
        for from in [
            "Us <us@example.shop>",
            "Shop <s@offers.com>",
            "x@top.example",
        ] {
            let a = e.analyze(&msg(from, "", "Hi\r\n"), &ctx);
            assert!(!names(&a).contains(&"abused_tld"), "{from}: {a:?}");
        }
        let known = Context {
            first_contact: Some(false),
            ..Context::new(Auth::Aligned)
        };
        let a = e.analyze(&msg("Deals <d@offers.shop>", "", "Hi\r\n"), &known);
        assert!(!names(&a).contains(&"abused_tld"), "{a:?}");
    }
}
