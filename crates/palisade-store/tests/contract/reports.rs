//! The contract of reports: tests that run on every backend (see `backend.rs`).

use super::*;
use palisade_store::{StsPolicyRow, TlsResultRow};

fn tls(domain: &str, day: i64, mx: &str, result: &str, count: i64) -> TlsResultRow {
    TlsResultRow {
        domain: domain.into(),
        day,
        policy_type: "sts".into(),
        mx: mx.into(),
        result: result.into(),
        count,
    }
}

async fn tls_results_are_summed_and_taken_once(b: Backend) {
    let (_dir, s) = open(b).await;
    s.record_tls_results(&[]).await.expect("nothing to record");
    // Rows with one key are summed, within a batch and across batches.
    s.record_tls_results(&[
        tls("b.test", 100, "mx.b.test", "success", 2),
        tls("a.test", 100, "mx.a.test", "success", 1),
        tls("b.test", 100, "mx.b.test", "success", 3),
        tls("a.test", 101, "mx.a.test", "success", 4),
    ])
    .await
    .expect("record");
    s.record_tls_results(&[
        tls("a.test", 100, "mx.a.test", "success", 1),
        tls("a.test", 100, "mx.a.test", "certificate-expired", 1),
    ])
    .await
    .expect("record");

    // Days before 101 only, by domain then day.
    let taken = s.take_tls_results(101).await.expect("take");
    assert_eq!(taken.len(), 3, "{taken:?}");
    assert_eq!(taken[0].domain, "a.test");
    assert_eq!(taken[1].domain, "a.test");
    assert!(taken.contains(&tls("a.test", 100, "mx.a.test", "success", 2)));
    assert!(taken.contains(&tls("a.test", 100, "mx.a.test", "certificate-expired", 1)));
    assert_eq!(taken[2], tls("b.test", 100, "mx.b.test", "success", 5));
    assert!(
        s.take_tls_results(101).await.expect("take").is_empty(),
        "taken once"
    );

    // Only what was recorded since the last take goes out.
    s.record_tls_results(&[tls("b.test", 100, "mx.b.test", "success", 7)])
        .await
        .expect("record");
    assert_eq!(
        s.take_tls_results(101).await.expect("take"),
        [tls("b.test", 100, "mx.b.test", "success", 7)]
    );
    assert_eq!(
        s.take_tls_results(102).await.expect("take"),
        [tls("a.test", 101, "mx.a.test", "success", 4)]
    );
    // The console still sees the totals.
    assert_eq!(
        s.tls_results(100).await.expect("read").len(),
        4,
        "reported rows are kept"
    );
    assert!(s.tls_results(100).await.expect("read").contains(&tls(
        "b.test",
        100,
        "mx.b.test",
        "success",
        12
    )));
    // Ninety days after, they are forgotten.
    assert!(s.take_tls_results(191).await.expect("take").is_empty());
    assert_eq!(
        s.tls_results(0).await.expect("read"),
        [tls("a.test", 101, "mx.a.test", "success", 4)]
    );
}

async fn mta_sts_policies_are_cached_per_domain(b: Backend) {
    let (_dir, s) = open(b).await;
    let policy = |domain: &str, id: &str, expires: i64| StsPolicyRow {
        domain: domain.into(),
        id: id.into(),
        policy: format!("version: STSv1\nmode: enforce\n# {id}"),
        expires,
    };
    assert_eq!(s.mta_sts_policy("a.test").await.expect("read"), None);
    s.put_mta_sts_policy(&policy("a.test", "1", 100), 50)
        .await
        .expect("put");
    s.put_mta_sts_policy(&policy("b.test", "1", 1000), 50)
        .await
        .expect("put");
    assert_eq!(
        s.mta_sts_policy("a.test").await.expect("read"),
        Some(policy("a.test", "1", 100))
    );
    // A new fetch replaces the domain's policy.
    s.put_mta_sts_policy(&policy("b.test", "2", 2000), 60)
        .await
        .expect("put");
    assert_eq!(
        s.mta_sts_policy("b.test").await.expect("read"),
        Some(policy("b.test", "2", 2000))
    );
    // Expired but not yet forgotten: still returned.
    assert!(s.mta_sts_policy("a.test").await.expect("read").is_some());
    // Caching another policy later forgets the expired ones.
    s.put_mta_sts_policy(&policy("c.test", "1", 3000), 101)
        .await
        .expect("put");
    assert_eq!(s.mta_sts_policy("a.test").await.expect("read"), None);
    assert!(s.mta_sts_policy("b.test").await.expect("read").is_some());
    assert!(s.mta_sts_policy("c.test").await.expect("read").is_some());
}

async fn received_reports_refuse_duplicates_and_list_by_domain_then_date(b: Backend) {
    let (_dir, s) = open(b).await;
    let report = |org: &str, id: &str, domain: &str, begin: i64| ReceivedReport {
        org_name: org.into(),
        report_id: id.into(),
        domain: domain.into(),
        received: begin + 100,
        begin,
        end: begin + 86_400,
        document: format!("{{\"org\":\"{org}\"}}"),
    };
    let first = report("google.com", "1", "b.test", 20);
    s.add_dmarc_report(&first).await.expect("add");
    // The same report again (a retry), even with another body, is refused.
    let retry = ReceivedReport {
        document: "{}".into(),
        ..first.clone()
    };
    let err = s.add_dmarc_report(&retry).await.expect_err("duplicate");
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
    // The same id from another organisation is another report.
    let other_org = report("yahoo.com", "1", "a.test", 30);
    let earlier = report("yahoo.com", "2", "b.test", 10);
    s.add_dmarc_report(&other_org).await.expect("add");
    s.add_dmarc_report(&earlier).await.expect("add");
    assert_eq!(
        s.list_dmarc_reports(None).await.expect("list"),
        vec![other_org, earlier.clone(), first.clone()]
    );
    assert_eq!(
        s.list_dmarc_reports(Some("b.test")).await.expect("list"),
        vec![earlier, first]
    );
}

async fn dmarc_evaluations_empty_batches_are_fine(b: Backend) {
    let (_dir, s) = open(b).await;
    s.record_dmarc_evaluations(&[]).await.expect("record none");
    s.remove_dmarc_evaluations(&[]).await.expect("remove none");
    assert!(
        s.pending_dmarc_evaluations(10)
            .await
            .expect("read")
            .is_empty()
    );
    let e = |n: i64| DmarcEvaluation {
        id: 0,
        time: n,
        domain: "a.test".into(),
        document: n.to_string(),
    };
    s.record_dmarc_evaluations(&[e(3), e(1), e(2)])
        .await
        .expect("record");
    let pending = s.pending_dmarc_evaluations(10).await.expect("read");
    let times: Vec<i64> = pending.iter().map(|p| p.time).collect();
    assert_eq!(times, [3, 1, 2], "in the order recorded");
    s.remove_dmarc_evaluations(&[pending[1].id, 999_999])
        .await
        .expect("remove");
    let left: Vec<i64> = s
        .pending_dmarc_evaluations(10)
        .await
        .expect("read")
        .iter()
        .map(|p| p.time)
        .collect();
    assert_eq!(left, [3, 2]);
}

contract!(
    tls_results_are_summed_and_taken_once,
    mta_sts_policies_are_cached_per_domain,
    received_reports_refuse_duplicates_and_list_by_domain_then_date,
    dmarc_evaluations_empty_batches_are_fine,
);
