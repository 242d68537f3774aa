//! DKIM, ARC and DMARC over a whole message, at the end of DATA/BDAT.

use crate::dkim_bounds;
use crate::relaxed_body::without_trailing_blank_lines;
use crate::results::{AuthResult, DmarcPolicy, SpfScope};
use crate::spf::{SpfCheck, SpfIdentity};
use mail_auth::arc::ArcError;
use mail_auth::common::crypto::Algorithm;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimError};
use mail_auth::dmarc::Policy;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::{
    ArcOutput, AuthenticatedMessage, AuthenticationResults, DkimOutput, DkimResult, DmarcResult,
    Error,
};
use palisade_dns::Dns;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct SpfReport {
    pub result: AuthResult,
    /// `mailfrom` or `helo` (RFC 7208 §2.3, §2.4).
    pub identity: SpfScope,
    pub domain: String,
    pub explanation: Option<String>,
}

/// One DKIM signature's outcome, in RFC 8601 §2.7.1 words.
#[derive(Debug, Clone, Serialize)]
pub struct DkimReport {
    pub d: String,
    pub s: String,
    pub algorithm: &'static str,
    /// pass | fail | neutral | policy | temperror | permerror | none
    pub result: AuthResult,
    pub reason: String,
    /// The signature's `i=` (AUID), empty when absent.
    #[serde(skip)]
    pub auid: String,
    /// The first 8 base64 characters of `b=` (RFC 6008 `header.b`).
    #[serde(skip)]
    pub b_prefix: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArcReport {
    /// pass | fail | none | temperror | permerror (RFC 8617 §4.4 chain validation).
    pub result: AuthResult,
    pub reason: String,
    /// ARC sets present (the highest instance number).
    pub instances: u32,
    /// `d=` of the newest ARC-Seal: who vouches for the results below.
    pub sealer: Option<String>,
    /// The newest ARC-Authentication-Results records `dmarc=pass`.
    pub sealer_saw_dmarc_pass: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DmarcReport {
    /// pass | fail | none | temperror | permerror
    pub result: AuthResult,
    /// The RFC 5322.From domain (the author domain).
    pub domain: String,
    /// The policy that applies to this author domain (p, sp or np): none | quarantine | reject.
    pub policy: DmarcPolicy,
    pub record_found: bool,
    pub spf_aligned: bool,
    pub dkim_aligned: bool,
    pub reason: String,
}

/// Everything sender authentication found about one message. Owned, serialisable.
#[derive(Debug, Clone, Serialize)]
pub struct AuthReport {
    pub spf: SpfReport,
    pub dkim: Vec<DkimReport>,
    pub arc: ArcReport,
    pub dmarc: DmarcReport,
    /// Addresses in the From header.
    pub header_from: Vec<String>,
    /// The value of the `Authentication-Results` field to add (after the field name).
    pub authentication_results: String,
    /// What an aggregate report needs, when the author domain asks for reports (`rua`).
    #[serde(skip)]
    pub dmarc_row: Option<crate::dmarc_report::DmarcRow>,
}

impl AuthReport {
    /// True when a DNS failure kept a check from reaching a result.
    pub fn dmarc_temp_error(&self) -> bool {
        self.dmarc.result == AuthResult::TempError
    }
}

pub(crate) fn algorithm_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::RsaSha1 => "rsa-sha1",
        Algorithm::RsaSha256 => "rsa-sha256",
        Algorithm::Ed25519Sha256 => "ed25519-sha256",
    }
}

fn dkim_result(r: &DkimResult) -> (AuthResult, String) {
    match r {
        DkimResult::Pass => (AuthResult::Pass, String::new()),
        // An `l=` that leaves content unsigned: valid crypto, refused by our policy.
        DkimResult::Fail(Error::Dkim(DkimError::SignatureLength))
        | DkimResult::Neutral(Error::Dkim(DkimError::SignatureLength)) => {
            (AuthResult::Policy, DkimError::SignatureLength.to_string())
        }
        // A body hash mismatch is a failed verification (RFC 6376 §6.3), whatever word
        // mail-auth uses for it.
        DkimResult::Neutral(e @ Error::Dkim(DkimError::FailedBodyHashMatch)) => {
            (AuthResult::Fail, e.to_string())
        }
        DkimResult::Fail(e) => (AuthResult::Fail, e.to_string()),
        DkimResult::Neutral(e) => (AuthResult::Neutral, e.to_string()),
        DkimResult::PermError(e) => (AuthResult::PermError, e.to_string()),
        DkimResult::TempError(e) => (AuthResult::TempError, e.to_string()),
        DkimResult::None => (AuthResult::None, String::new()),
    }
}

fn dmarc_result(r: &DmarcResult) -> AuthResult {
    match r {
        DmarcResult::Pass => AuthResult::Pass,
        DmarcResult::Fail(_) => AuthResult::Fail,
        DmarcResult::TempError(_) => AuthResult::TempError,
        DmarcResult::PermError(_) => AuthResult::PermError,
        DmarcResult::None => AuthResult::None,
    }
}

fn dmarc_policy(p: Policy) -> DmarcPolicy {
    match p {
        Policy::Reject => DmarcPolicy::Reject,
        Policy::Quarantine => DmarcPolicy::Quarantine,
        Policy::None | Policy::Unspecified => DmarcPolicy::None,
    }
}

/// Verifies DKIM signatures; relaxed-body signatures get a second chance over the body
/// mail-auth 0.13.3 should have hashed (see `relaxed_body`). Returns each output with
/// the reason our key-record check refused it, if it did.
pub(crate) async fn verify_dkim<'x>(
    dns: &'x Dns,
    msg: &'x AuthenticatedMessage<'x>,
    normalised: Option<&'x AuthenticatedMessage<'x>>,
) -> (Vec<DkimOutput<'x>>, Vec<Option<String>>) {
    let mut outputs = dns.authenticator().verify_dkim(dns.params(msg)).await;
    if let Some(norm) = normalised {
        let second = dns.authenticator().verify_dkim(dns.params(norm)).await;
        for (out, alt) in outputs.iter_mut().zip(second) {
            let relaxed_body = out
                .signature()
                .is_some_and(|s| s.cb == Canonicalization::Relaxed);
            if relaxed_body
                && *out.result() != DkimResult::Pass
                && *alt.result() == DkimResult::Pass
            {
                *out = alt;
            }
        }
    }
    let refused = apply_key_records(dns, &mut outputs, [Some(msg), normalised]).await;
    (outputs, refused)
}

/// Our rules over mail-auth's outputs: any signature with `l=` is `policy`; a pass its
/// key record rules out (RFC 6376 §3.6.1, see [`crate::dkim_key`]) becomes a failure,
/// and its reason is returned at its index.
async fn apply_key_records<'x>(
    dns: &Dns,
    outputs: &mut [DkimOutput<'x>],
    parsed: [Option<&'x AuthenticatedMessage<'x>>; 2],
) -> Vec<Option<String>> {
    let mut reasons = vec![None; outputs.len()];
    for (i, out) in outputs.iter_mut().enumerate() {
        let Some(b) = out.signature().map(|s| s.b.clone()) else {
            continue;
        };
        // The same signature, borrowed from the message for as long as the output.
        let Some(field) = parsed
            .iter()
            .flatten()
            .flat_map(|m| m.dkim_headers.iter())
            .find(|h| h.header.b == b)
        else {
            continue;
        };
        let sig = &field.header;
        // Every `l=` signature is refused by policy, whatever else went wrong with it:
        // mail-auth reads `l=0` as no `l=` at all (a body that can be replaced whole),
        // and fails a body longer than `l=` on its hash rather than on the tag.
        if crate::dkim_key::tag_value(&String::from_utf8_lossy(field.value), "l").is_some() {
            *out = DkimOutput::fail(Error::Dkim(DkimError::SignatureLength)).with_signature(sig);
            continue;
        }
        if *out.result() != DkimResult::Pass {
            continue;
        }
        let Ok(records) = dns.txt(&format!("{}._domainkey.{}", sig.s, sig.d)).await else {
            continue;
        };
        let why =
            crate::dkim_key::key_record(&records).and_then(|r| crate::dkim_key::refusal(r, sig.a));
        if let Some(why) = why {
            *out =
                DkimOutput::fail(Error::Dkim(DkimError::UnsupportedAlgorithm)).with_signature(sig);
            reasons[i] = Some(why);
        }
    }
    reasons
}

/// DMARC (RFC 7489) over the DKIM outputs and the SPF check.
pub(crate) async fn verify_dmarc<'x>(
    dns: &Dns,
    msg: &'x AuthenticatedMessage<'x>,
    dkim: &'x [DkimOutput<'x>],
    spf: &'x SpfCheck,
) -> mail_auth::DmarcOutput {
    dns.authenticator()
        .verify_dmarc(dns.params(DmarcParameters::new(
            msg,
            dkim,
            spf.mail_from_domain(),
            &spf.output,
        )))
        .await
}

pub(crate) async fn verify_arc<'x>(
    dns: &'x Dns,
    msg: &'x AuthenticatedMessage<'x>,
    normalised: Option<&'x AuthenticatedMessage<'x>>,
) -> ArcOutput<'x> {
    let out = dns.authenticator().verify_arc(dns.params(msg)).await;
    if let Some(norm) = normalised
        && *out.result() != DkimResult::Pass
    {
        let alt = dns.authenticator().verify_arc(dns.params(norm)).await;
        if *alt.result() == DkimResult::Pass {
            return alt;
        }
    }
    out
}

fn arc_report(msg: &AuthenticatedMessage<'_>, out: &ArcOutput<'_>) -> ArcReport {
    let (result, reason) = match out.result() {
        DkimResult::Pass => (AuthResult::Pass, String::new()),
        DkimResult::None => (AuthResult::None, String::new()),
        // A broken chain is "fail" in RFC 8617 §4.4 terms.
        DkimResult::Neutral(e) | DkimResult::Fail(e) => (AuthResult::Fail, e.to_string()),
        DkimResult::PermError(Error::Arc(ArcError::BrokenChain)) => {
            (AuthResult::Fail, ArcError::BrokenChain.to_string())
        }
        DkimResult::PermError(e) => (AuthResult::PermError, e.to_string()),
        DkimResult::TempError(e) => (AuthResult::TempError, e.to_string()),
    };
    let newest_seal = msg.as_headers.iter().max_by_key(|h| h.header.i);
    let instances = newest_seal.map_or(0, |h| h.header.i);
    let sealer_saw_dmarc_pass = msg
        .aar_headers
        .iter()
        .find(|h| h.header.i == instances)
        .is_some_and(|h| records_dmarc_pass(h.value));
    ArcReport {
        result,
        reason,
        instances,
        sealer: newest_seal.map(|h| h.header.d.to_ascii_lowercase()),
        sealer_saw_dmarc_pass,
    }
}

/// Whether an ARC-Authentication-Results value carries a `dmarc=pass` resinfo.
fn records_dmarc_pass(value: &[u8]) -> bool {
    String::from_utf8_lossy(value).split(';').any(|part| {
        part.trim()
            .to_ascii_lowercase()
            .split_whitespace()
            .next()
            .is_some_and(|t| t == "dmarc=pass")
    })
}

/// Runs DKIM, ARC and DMARC over `raw` (the message as received, without our trace
/// headers) and builds the `Authentication-Results` value with authserv-id `hostname`.
pub async fn authenticate(dns: &Dns, raw: &[u8], spf: &SpfCheck, hostname: &str) -> AuthReport {
    authenticate_parsed(dns, raw, None, spf, hostname).await
}

/// [`authenticate`] reading the header section from `parsed`, a whole parse of `raw`
/// (mail-parser) that other readers of the message share, instead of parsing it again.
pub async fn authenticate_parsed<'x>(
    dns: &Dns,
    raw: &'x [u8],
    parsed: Option<&mail_parser::Message<'x>>,
    spf: &SpfCheck,
    hostname: &str,
) -> AuthReport {
    let spf_report = SpfReport {
        result: spf.auth_result(),
        identity: match spf.identity {
            SpfIdentity::MailFrom(_) => SpfScope::MailFrom,
            SpfIdentity::Helo(_) => SpfScope::Helo,
        },
        domain: spf.domain().to_string(),
        explanation: spf.output.explanation().map(str::to_string),
    };
    let mut results = AuthenticationResults::new(hostname);
    results = match &spf.identity {
        SpfIdentity::MailFrom(from) => {
            results.with_spf_mailfrom_result(&spf.output, spf.ip, from, &spf.helo)
        }
        SpfIdentity::Helo(helo) => results.with_spf_ehlo_result(&spf.output, spf.ip, helo),
    };
    let Some(mut msg) = authenticated_message(raw, parsed) else {
        // No header section to speak of: nothing is signed and there is no author.
        return AuthReport {
            spf: spf_report,
            dkim: Vec::new(),
            arc: ArcReport {
                result: AuthResult::None,
                reason: String::new(),
                instances: 0,
                sealer: None,
                sealer_saw_dmarc_pass: false,
            },
            dmarc: DmarcReport {
                result: AuthResult::None,
                domain: String::new(),
                policy: DmarcPolicy::None,
                record_found: false,
                spf_aligned: false,
                dkim_aligned: false,
                reason: "the message has no header section".into(),
            },
            header_from: Vec::new(),
            authentication_results: header_value(&results),
            dmarc_row: None,
        };
    };
    let screened = dkim_bounds::screen(&mut msg);
    let normalised_raw = without_trailing_blank_lines(raw);
    let normalised = normalised_raw.as_deref().and_then(parse_screened);
    let (dkim, key_refused) = verify_dkim(dns, &msg, normalised.as_ref()).await;
    let arc = verify_arc(dns, &msg, normalised.as_ref()).await;
    let dmarc = verify_dmarc(dns, &msg, &dkim, spf).await;
    if screened.arc.is_none() {
        results = results.with_arc_result(&arc, spf.ip);
    }
    results = results.with_dmarc_result(&dmarc);
    let dkim_reports = all_dkim_reports(&msg, &dkim, &key_refused, &screened);
    let mut arc_report = arc_report(&msg, &arc);
    if let Some(reason) = &screened.arc {
        arc_report.result = AuthResult::Fail;
        arc_report.reason = reason.clone();
    }
    let dmarc_reason = match (dmarc.spf_result(), dmarc.dkim_result()) {
        (DmarcResult::Pass, _) | (_, DmarcResult::Pass) => String::new(),
        (s, d) => format!("SPF: {}; DKIM: {}", dmarc_reason(s), dmarc_reason(d)),
    };
    AuthReport {
        spf: spf_report,
        dkim: dkim_reports.clone(),
        arc: arc_report,
        dmarc: DmarcReport {
            result: dmarc_result(&dmarc.result()),
            domain: dmarc.domain().to_string(),
            policy: dmarc_policy(dmarc.policy()),
            record_found: dmarc.dmarc_record().is_some(),
            spf_aligned: *dmarc.spf_result() == DmarcResult::Pass,
            dkim_aligned: *dmarc.dkim_result() == DmarcResult::Pass,
            reason: dmarc_reason,
        },
        header_from: msg.from.clone(),
        authentication_results: header_value(&results)
            + &dkim_resinfo(&dkim_reports)
            + &dkim_bounds::arc_resinfo(&screened),
        dmarc_row: crate::dmarc_report::row(&dkim, spf, &dmarc),
    }
}

fn dkim_report(o: &DkimOutput<'_>) -> DkimReport {
    use base64::Engine;
    let (result, reason) = dkim_result(o.result());
    let sig = o.signature();
    let b = sig.map(|s| base64::engine::general_purpose::STANDARD.encode(&s.b[..s.b.len().min(6)]));
    DkimReport {
        d: sig.map(|s| s.d.clone()).unwrap_or_default(),
        s: sig.map(|s| s.s.clone()).unwrap_or_default(),
        algorithm: sig.map_or("", |s| algorithm_name(s.a)),
        result,
        reason,
        auid: sig.map(|s| s.i.clone()).unwrap_or_default(),
        b_prefix: b.unwrap_or_default(),
    }
}

/// The `dkim=` resinfo of every signature (RFC 8601 §2.7.1), ours rather than
/// mail-auth's so that each carries the result we decided (`policy` for what our
/// policy refuses) and the reason for anything but a pass (§2.2: the reason before the
/// properties).
fn dkim_resinfo(reports: &[DkimReport]) -> String {
    let mut out = String::new();
    for r in reports {
        out.push_str(&format!(";\r\n\tdkim={}", r.result));
        if r.result != AuthResult::Pass && !r.reason.is_empty() {
            out.push_str(&format!(" reason=\"{}\"", dkim_bounds::quoted(&r.reason)));
        }
        if r.auid.is_empty() {
            out.push_str(&format!(" header.d={}", dkim_bounds::pvalue(&r.d)));
        } else {
            // RFC 8601 §2.2 pvalue: `[local-part] "@" domain` as it is, anything else
            // quoted.
            let plain = r
                .auid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "@.-_+=".contains(c));
            if plain {
                out.push_str(&format!(" header.i={}", r.auid));
            } else {
                out.push_str(&format!(" header.i=\"{}\"", dkim_bounds::quoted(&r.auid)));
            }
        }
        out.push_str(&format!(" header.s={}", dkim_bounds::pvalue(&r.s)));
        if !r.b_prefix.is_empty() {
            out.push_str(&format!(" header.b={}", dkim_bounds::pvalue(&r.b_prefix)));
        }
    }
    out
}

/// The message as mail-auth reads it: from the shared parse when there is one (it must
/// be a parse of all of `raw`) and the header section is well formed, else parsed here
/// by mail-auth itself; `None` without a header section. mail-parser and mail-auth
/// read a malformed section differently (a line without a colon ends it for one, not
/// the other): there, verification keeps mail-auth's own reading.
pub fn authenticated_message<'x>(
    raw: &'x [u8],
    parsed: Option<&mail_parser::Message<'x>>,
) -> Option<AuthenticatedMessage<'x>> {
    match parsed {
        Some(p) if crate::forged::header_section_well_formed(raw) => {
            Some(AuthenticatedMessage::from_parsed(p, raw, true)).filter(|m| !m.headers.is_empty())
        }
        _ => AuthenticatedMessage::parse(raw),
    }
}

/// DKIM alone (for `palisade audit dkim`); `None` when `raw` has no header section.
pub async fn verify_dkim_reports(dns: &Dns, raw: &[u8]) -> Option<Vec<DkimReport>> {
    let mut msg = AuthenticatedMessage::parse(raw)?;
    let screened = dkim_bounds::screen(&mut msg);
    let normalised_raw = without_trailing_blank_lines(raw);
    let normalised = normalised_raw.as_deref().and_then(parse_screened);
    let (dkim, key_refused) = verify_dkim(dns, &msg, normalised.as_ref()).await;
    Some(all_dkim_reports(&msg, &dkim, &key_refused, &screened))
}

/// Parses and applies the same bounds (for the second, normalised-body pass).
fn parse_screened(raw: &[u8]) -> Option<AuthenticatedMessage<'_>> {
    let mut msg = AuthenticatedMessage::parse(raw)?;
    dkim_bounds::screen(&mut msg);
    Some(msg)
}

/// Every signature's report: those verified (with our key-record reasons), then those
/// the bounds refused.
fn all_dkim_reports(
    msg: &AuthenticatedMessage<'_>,
    dkim: &[DkimOutput<'_>],
    key_refused: &[Option<String>],
    screened: &dkim_bounds::Screened,
) -> Vec<DkimReport> {
    // mail-auth reports signatures it refused while parsing (an `l=`, a bad tag) first,
    // in order, without the signature: their d= and s= come from the field itself, so
    // no signature is left unnamed.
    let mut unparsed = msg
        .errors
        .iter()
        .filter(|h| matches!(h.header, Error::Dkim(_)))
        .map(|h| {
            let field = String::from_utf8_lossy(h.value);
            let tag = |name| crate::dkim_key::tag_value(&field, name).unwrap_or_default();
            (tag("d"), tag("s"))
        });
    let refused = screened.dkim.iter().map(|r| DkimReport {
        d: r.d.clone(),
        s: r.s.clone(),
        algorithm: r.algorithm,
        result: AuthResult::Policy,
        reason: r.reason.clone(),
        auid: String::new(),
        b_prefix: String::new(),
    });
    let verified = dkim.iter().zip(key_refused).map(|(o, why)| {
        let mut r = dkim_report(o);
        if o.signature().is_none()
            && let Some((d, s)) = unparsed.next()
        {
            (r.d, r.s) = (d, s);
        }
        if let Some(why) = why {
            r.reason = why.clone();
        }
        r
    });
    verified.chain(refused).collect()
}

/// True when `raw` has a header section mail-auth can read.
pub fn is_message(raw: &[u8]) -> bool {
    AuthenticatedMessage::parse(raw).is_some()
}

fn dmarc_reason(r: &DmarcResult) -> String {
    match r {
        DmarcResult::Pass => "aligned pass".into(),
        DmarcResult::Fail(Error::NotAligned) => "passed but not aligned with From".into(),
        DmarcResult::Fail(e) | DmarcResult::PermError(e) => e.to_string(),
        DmarcResult::TempError(e) => format!("temporary DNS failure ({e})"),
        DmarcResult::None => "no pass".into(),
    }
}

/// The field value mail-auth writes, without `Authentication-Results: ` and the CRLF.
fn header_value(results: &AuthenticationResults<'_>) -> String {
    let field = results.to_header();
    field
        .strip_prefix("Authentication-Results: ")
        .unwrap_or(&field)
        .trim_end_matches("\r\n")
        .to_string()
}
