//! SPF (RFC 7208): one record, sane syntax, an `all` that fails strangers, and the DNS
//! lookups it costs a receiver, counted through every include and redirect.

use crate::finding::{Category, Finding, Status};
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::spf::{Macro, Mechanism, Qualifier, Spf};
use palisade_dns::Dns;

const CAT: Category = Category::Authentication;
/// RFC 7208 §4.6.4.
const MAX_LOOKUPS: u32 = 10;
const MAX_VOID: u32 = 2;
/// Bounds on the walk itself (a loop of includes, a huge tree).
const MAX_DEPTH: u32 = 10;
const MAX_QUERIES: u32 = 60;

/// The `v=spf1` records among `txt` (RFC 7208 §4.5: the version, then a space or the end).
pub fn spf_records(txt: &[String]) -> Vec<&String> {
    txt.iter()
        .filter(|r| {
            let r = r.as_bytes();
            r.len() >= 6 && r[..6].eq_ignore_ascii_case(b"v=spf1") && (r.len() == 6 || r[6] == b' ')
        })
        .collect()
}

/// A domain-spec without macros, or the current domain when there is none.
fn literal(m: &Macro, current: &str) -> Option<String> {
    match m {
        Macro::Literal(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Macro::None => Some(current.to_string()),
        _ => None,
    }
}

#[derive(Default)]
struct Walk {
    lookups: u32,
    void: u32,
    queries: u32,
    /// Terms whose target uses macros (counted, not followed).
    macros: u32,
    includes: Vec<String>,
    problems: Vec<String>,
}

impl Walk {
    async fn txt(&mut self, dns: &Dns, name: &str) -> Option<Vec<String>> {
        if self.queries >= MAX_QUERIES {
            return None;
        }
        self.queries += 1;
        dns.txt(name).await.ok()
    }

    /// Whether `name` has any address (or MX, for `mx`), as a receiver would query.
    async fn resolves(&mut self, dns: &Dns, name: &str, mx: bool) -> bool {
        if self.queries >= MAX_QUERIES {
            return true;
        }
        self.queries += 1;
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        if mx {
            dns.resolver()
                .mx_lookup(fqdn)
                .await
                .is_ok_and(|l| l.answers().iter().next().is_some())
        } else {
            dns.resolver()
                .lookup_ip(fqdn)
                .await
                .is_ok_and(|l| l.iter().next().is_some())
        }
    }

    /// Follows one record (of `domain`, at `depth`).
    fn walk<'a>(
        &'a mut self,
        dns: &'a Dns,
        domain: &'a str,
        spf: &'a Spf,
        depth: u32,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            for d in spf.directives.iter() {
                match &d.mechanism {
                    Mechanism::Include { macro_string } => {
                        self.lookups += 1;
                        match literal(macro_string, domain) {
                            Some(target) => self.follow(dns, &target, depth).await,
                            None => self.macros += 1,
                        }
                    }
                    Mechanism::A { macro_string, .. } | Mechanism::Mx { macro_string, .. } => {
                        self.lookups += 1;
                        let mx = matches!(d.mechanism, Mechanism::Mx { .. });
                        match literal(macro_string, domain) {
                            Some(t) if !self.resolves(dns, &t, mx).await => self.void += 1,
                            Some(_) => {}
                            None => self.macros += 1,
                        }
                    }
                    Mechanism::Ptr { .. } | Mechanism::Exists { .. } => self.lookups += 1,
                    Mechanism::All | Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. } => {}
                }
            }
            if let Some(r) = &spf.redirect {
                self.lookups += 1;
                match literal(r, domain) {
                    Some(target) => self.follow(dns, &target, depth).await,
                    None => self.macros += 1,
                }
            }
        })
    }

    async fn follow(&mut self, dns: &Dns, target: &str, depth: u32) {
        self.includes.push(target.to_string());
        if depth >= MAX_DEPTH {
            self.problems
                .push(format!("includes nested deeper than {MAX_DEPTH}"));
            return;
        }
        let Some(txt) = self.txt(dns, target).await else {
            return;
        };
        let records = spf_records(&txt);
        match records.as_slice() {
            [] => {
                self.void += 1;
                self.problems.push(format!(
                    "{target} has no SPF record (a permerror for receivers)"
                ));
            }
            [one] => match Spf::parse(one.as_bytes()) {
                Ok(spf) => self.walk(dns, target, &spf, depth + 1).await,
                Err(_) => self
                    .problems
                    .push(format!("{target}'s SPF record does not parse: {one:?}")),
            },
            _ => self
                .problems
                .push(format!("{target} has several SPF records (a permerror)")),
        }
    }
}

pub async fn check(dns: &Dns, domain: &str, null_mx: bool, out: &mut Vec<Finding>) {
    let txt = match dns.txt(domain).await {
        Ok(t) => t,
        Err(e) => {
            out.push(
                Finding::new("spf.lookup", CAT, Status::Warn, 40)
                    .evidence(format!("TXT lookup failed: {e}"))
                    .advice("Make sure the domain's name servers answer TXT queries."),
            );
            return;
        }
    };
    let fix = if null_mx {
        "Publish \"v=spf1 -all\": the domain sends no mail."
    } else {
        "Publish one record naming your senders, e.g. \"v=spf1 mx -all\"."
    };
    let records = spf_records(&txt);
    let record = match records.as_slice() {
        [] => {
            out.push(
                Finding::new("spf.missing", CAT, Status::Fail, 40)
                    .evidence(format!("no v=spf1 TXT record at {domain}"))
                    .advice(fix),
            );
            return;
        }
        [one] => one.as_str(),
        many => {
            out.push(
                Finding::new("spf.multiple", CAT, Status::Fail, 40)
                    .evidence(format!(
                        "{} SPF records (RFC 7208 §4.5: a permerror): {}",
                        many.len(),
                        many.iter()
                            .map(|r| format!("{r:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                    .advice("Merge them into one record."),
            );
            return;
        }
    };
    let spf = match Spf::parse(record.as_bytes()) {
        Ok(s) => s,
        Err(e) => {
            out.push(
                Finding::new("spf.syntax", CAT, Status::Fail, 40)
                    .evidence(format!("{record:?} does not parse: {e}"))
                    .advice(fix),
            );
            return;
        }
    };
    let all = spf
        .directives
        .iter()
        .find(|d| d.mechanism == Mechanism::All)
        .map(|d| d.qualifier.clone());
    let quoted = format!("{record:?}");
    out.push(match all {
        Some(Qualifier::Fail) => {
            Finding::new("spf.all", CAT, Status::Pass, 40).evidence(quoted.clone())
        }
        Some(Qualifier::SoftFail) => Finding::new("spf.softfail", CAT, Status::Warn, 10)
            .evidence(format!(
                "{quoted} ends in ~all: receivers only mark mail from other hosts"
            ))
            .advice("Once every sender is listed, end the record with -all."),
        Some(Qualifier::Neutral) => Finding::new("spf.all_neutral", CAT, Status::Warn, 30)
            .evidence(format!(
                "{quoted} ends in ?all: it says nothing about other hosts"
            ))
            .advice("End the record with -all (or ~all while you find your senders)."),
        Some(Qualifier::Pass) => Finding::new("spf.all_pass", CAT, Status::Fail, 40)
            .evidence(format!(
                "{quoted} ends in +all: every host on the internet may send as {domain}"
            ))
            .advice("Replace +all with -all."),
        None if spf.redirect.is_some() => {
            Finding::new("spf.all", CAT, Status::Pass, 40).evidence(format!("{quoted} (redirect)"))
        }
        None => Finding::new("spf.no_all", CAT, Status::Warn, 20)
            .evidence(format!("{quoted} has no all: other hosts get neutral"))
            .advice("End the record with -all."),
    });
    if spf
        .directives
        .iter()
        .any(|d| matches!(d.mechanism, Mechanism::Ptr { .. }))
    {
        out.push(
            Finding::new("spf.ptr", CAT, Status::Warn, 10)
                .evidence(format!("{quoted} uses ptr (RFC 7208 §5.5: SHOULD NOT)"))
                .advice("Replace ptr with ip4/ip6 or a mechanisms naming your hosts."),
        );
    }
    let mut walk = Walk::default();
    walk.walk(dns, domain, &spf, 0).await;
    let via = if walk.includes.is_empty() {
        String::new()
    } else {
        format!(" (through {})", walk.includes.join(", "))
    };
    out.push(if walk.lookups > MAX_LOOKUPS {
        Finding::new("spf.lookups", CAT, Status::Fail, 30)
            .evidence(format!(
                "{} DNS-querying terms{via}; RFC 7208 §4.6.4 allows {MAX_LOOKUPS}, beyond is a permerror",
                walk.lookups
            ))
            .advice("Flatten includes into ip4/ip6 terms or drop senders you no longer use.")
    } else {
        Finding::new("spf.lookups", CAT, Status::Pass, 30)
            .evidence(format!("{} of {MAX_LOOKUPS} DNS-querying terms{via}", walk.lookups))
    });
    if walk.void > MAX_VOID {
        out.push(
            Finding::new("spf.void_lookups", CAT, Status::Fail, 20)
                .evidence(format!(
                    "{} lookups find nothing; RFC 7208 §4.6.4 allows {MAX_VOID}",
                    walk.void
                ))
                .advice("Remove terms naming domains that no longer exist or have no addresses."),
        );
    }
    if !walk.problems.is_empty() {
        out.push(
            Finding::new("spf.include_broken", CAT, Status::Fail, 20)
                .evidence(walk.problems.join("; "))
                .advice("Fix or remove the include."),
        );
    }
    if walk.macros > 0 {
        out.push(
            Finding::new("spf.macros", CAT, Status::Info, 0).evidence(format!(
                "{} terms use macros; their lookups are counted but not followed",
                walk.macros
            )),
        );
    }
}
