use super::*;
use crate::message::{ArcReport, DmarcReport, SpfReport};

/// The result a table row names (the tables read best in the RFC's own words).
fn res(word: &str) -> AuthResult {
    match word {
        "pass" => AuthResult::Pass,
        "fail" => AuthResult::Fail,
        "softfail" => AuthResult::SoftFail,
        "neutral" => AuthResult::Neutral,
        "temperror" => AuthResult::TempError,
        "permerror" => AuthResult::PermError,
        "none" => AuthResult::None,
        other => panic!("no such result in the tables: {other}"),
    }
}

fn pol(word: &str) -> DmarcPolicy {
    match word {
        "reject" => DmarcPolicy::Reject,
        "quarantine" => DmarcPolicy::Quarantine,
        "none" => DmarcPolicy::None,
        other => panic!("no such policy in the tables: {other}"),
    }
}

/// A report with the given SPF, DMARC result and policy, and ARC sealer/result.
fn report(spf: &str, dmarc: &str, policy: &str) -> AuthReport {
    AuthReport {
        spf: SpfReport {
            result: res(spf),
            identity: crate::SpfScope::MailFrom,
            domain: "sender.test".into(),
            explanation: None,
        },
        dkim: Vec::new(),
        arc: ArcReport {
            result: AuthResult::None,
            reason: String::new(),
            instances: 0,
            sealer: None,
            sealer_saw_dmarc_pass: false,
        },
        dmarc: DmarcReport {
            result: res(dmarc),
            domain: "sender.test".into(),
            policy: pol(policy),
            record_found: !matches!(dmarc, "none" | "temperror"),
            spf_aligned: false,
            dkim_aligned: false,
            reason: "SPF: no pass; DKIM: no pass".into(),
        },
        header_from: vec!["a@sender.test".into()],
        authentication_results: String::new(),
        dmarc_row: None,
    }
}

fn with_arc(mut r: AuthReport, result: &str, sealer: &str, saw_pass: bool) -> AuthReport {
    r.arc = ArcReport {
        result: res(result),
        reason: String::new(),
        instances: 1,
        sealer: Some(sealer.into()),
        sealer_saw_dmarc_pass: saw_pass,
    };
    r
}

const OUTSIDE: Context = Context {
    client_authenticated: false,
    from_is_local: false,
    sampled: true,
};

/// The verdict's kind, reply code and enhanced code.
type Kind = (&'static str, Option<u16>, Option<(u8, u16, u16)>);

fn kind(v: &Verdict) -> Kind {
    match v {
        Verdict::Reject { reply, .. } | Verdict::Defer { reply, .. } => {
            (v.name(), Some(reply.code), reply.enhanced)
        }
        _ => (v.name(), None, None),
    }
}

#[test]
fn table() {
    let p = AuthPolicy::default();
    let spf_reject = AuthPolicy {
        spf_fail_reject: true,
        ..AuthPolicy::default()
    };
    let unsampled = Context {
        sampled: false,
        ..OUTSIDE
    };
    let local = Context {
        from_is_local: true,
        ..OUTSIDE
    };
    let cases: Vec<(&str, AuthReport, Context, &AuthPolicy, Kind)> = vec![
        (
            "dmarc pass",
            report("pass", "pass", "reject"),
            OUTSIDE,
            &p,
            ("accept", None, None),
        ),
        (
            "rfc7489 p=reject",
            report("fail", "fail", "reject"),
            OUTSIDE,
            &p,
            ("reject", Some(550), Some((5, 7, 1))),
        ),
        (
            "rfc7489 p=quarantine",
            report("fail", "fail", "quarantine"),
            OUTSIDE,
            &p,
            ("quarantine", None, None),
        ),
        (
            "rfc7489 p=none",
            report("fail", "fail", "none"),
            OUTSIDE,
            &p,
            ("accept", None, None),
        ),
        (
            "rfc7489_6_6_4 reject outside pct",
            report("fail", "fail", "reject"),
            unsampled,
            &p,
            ("quarantine", None, None),
        ),
        (
            "rfc7489_6_6_4 quarantine outside pct",
            report("fail", "fail", "quarantine"),
            unsampled,
            &p,
            ("accept", None, None),
        ),
        (
            "dns failure never rejects",
            report("temperror", "temperror", "reject"),
            OUTSIDE,
            &p,
            ("defer", Some(451), Some((4, 7, 0))),
        ),
        (
            "unknown record on dns failure defers",
            report("pass", "temperror", "none"),
            OUTSIDE,
            &p,
            ("defer", Some(451), Some((4, 7, 0))),
        ),
        (
            "spf fail without dmarc is tagged",
            report("fail", "none", "none"),
            OUTSIDE,
            &p,
            ("accept", None, None),
        ),
        (
            "spf fail without dmarc, spf_fail=reject",
            report("fail", "none", "none"),
            OUTSIDE,
            &spf_reject,
            ("reject", Some(550), Some((5, 7, 23))),
        ),
        (
            "spf temperror, spf_fail=reject",
            report("temperror", "none", "none"),
            OUTSIDE,
            &spf_reject,
            ("defer", Some(451), Some((4, 7, 24))),
        ),
        (
            "own domain spoofed, p=none",
            report("fail", "fail", "none"),
            local,
            &p,
            ("reject", Some(550), Some((5, 7, 1))),
        ),
        (
            "own domain without any dmarc record",
            report("none", "none", "none"),
            local,
            &p,
            ("reject", Some(550), Some((5, 7, 1))),
        ),
        (
            "authenticated client",
            report("fail", "fail", "reject"),
            Context {
                client_authenticated: true,
                ..local
            },
            &p,
            ("accept", None, None),
        ),
    ];
    for (name, r, ctx, pol, want) in cases {
        assert_eq!(kind(&decide(&r, &ctx, pol)), want, "{name}");
    }
}

#[test]
fn rfc8617_7_2_trusted_sealer_overrides_dmarc_failure() {
    let p = AuthPolicy {
        trusted_arc_sealers: vec!["lists.example.org".into()],
        ..AuthPolicy::default()
    };
    let r = with_arc(
        report("fail", "fail", "reject"),
        "pass",
        "lists.example.org",
        true,
    );
    assert!(matches!(
        decide(&r, &OUTSIDE, &p),
        Verdict::Accept { note: Some(_) }
    ));
    // Untrusted sealer, broken chain, or a sealer that did not see dmarc=pass: no override.
    for (result, sealer, saw) in [
        ("pass", "evil.example", true),
        ("fail", "lists.example.org", true),
        ("pass", "lists.example.org", false),
    ] {
        let r = with_arc(report("fail", "fail", "reject"), result, sealer, saw);
        assert_eq!(
            decide(&r, &OUTSIDE, &p).name(),
            "reject",
            "{result} {sealer} {saw}"
        );
    }
}

#[test]
fn reject_text_names_domain_and_reason() {
    let v = decide(
        &report("fail", "fail", "reject"),
        &OUTSIDE,
        &AuthPolicy::default(),
    );
    let Verdict::Reject { reply, .. } = v else {
        panic!("expected reject, got {v:?}");
    };
    assert!(reply.text.contains("sender.test"), "{}", reply.text);
    assert!(reply.text.contains("DKIM"), "{}", reply.text);
}

#[test]
fn dmarc_not_enforced_only_tags() {
    let p = AuthPolicy {
        dmarc_enforce: false,
        ..AuthPolicy::default()
    };
    assert_eq!(
        decide(&report("fail", "fail", "reject"), &OUTSIDE, &p).name(),
        "accept"
    );
}

#[test]
fn rfc7489_6_6_1_several_author_domains_are_refused() {
    let mut r = report("pass", "none", "none");
    r.header_from = vec!["ceo@bank.test".into(), "x@evil.test".into()];
    let v = decide(&r, &OUTSIDE, &AuthPolicy::default());
    assert_eq!(kind(&v), ("reject", Some(550), Some((5, 7, 1))));
    r.header_from = vec!["a@bank.test".into(), "b@BANK.test".into()];
    assert_eq!(
        decide(&r, &OUTSIDE, &AuthPolicy::default()).name(),
        "accept"
    );
}

#[test]
fn own_domain_without_dmarc_record_passes_when_aligned_itself() {
    let local = Context {
        from_is_local: true,
        ..OUTSIDE
    };
    let mut r = report("fail", "none", "none");
    r.dmarc.domain = "local.test".into();
    r.header_from = vec!["ceo@local.test".into()];
    r.dkim = vec![crate::message::DkimReport {
        d: "mail.local.test".into(),
        s: "s1".into(),
        algorithm: "ed25519-sha256",
        result: AuthResult::Pass,
        reason: String::new(),
        auid: String::new(),
        b_prefix: String::new(),
    }];
    assert_eq!(decide(&r, &local, &AuthPolicy::default()).name(), "accept");
    r.dkim[0].d = "local.test.evil.test".into();
    assert_eq!(decide(&r, &local, &AuthPolicy::default()).name(), "reject");
    r.dkim.clear();
    r.spf.result = AuthResult::Pass;
    r.spf.domain = "bounces.local.test".into();
    assert_eq!(decide(&r, &local, &AuthPolicy::default()).name(), "accept");
}
