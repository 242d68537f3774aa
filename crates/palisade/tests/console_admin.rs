//! The web console's administration of the server's moving parts (issue 19), over the
//! real HTTPS listener: the queue with each recipient's state, DKIM keys through their
//! life, received DMARC reports and TLS results, a domain audit against the loopback
//! DNS authority, and the dashboard drawn from the hourly counts.
#![allow(clippy::unwrap_used)]

mod common;

use common::console::*;
use common::*;
use palisade_store::{DashboardStore, HourlyCount, Tally};
use reqwest::StatusCode;

/// The 16-hex-digit ids linked from the queue page.
fn queue_ids(body: &str) -> Vec<String> {
    body.split("href=\"/admin/queue/")
        .skip(1)
        .map(|s| s[..16].to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_sees_each_recipients_state_and_retries_or_deletes() {
    let s = setup("[queue]\nretry_initial_secs = 600\n").await;
    // Bob's Maildir is a file: delivery fails for now and the messages wait.
    let bob = s.ts.maildir("bob@local.test");
    let _ = std::fs::remove_dir_all(bob.parent().unwrap());
    std::fs::create_dir_all(bob.parent().unwrap().parent().unwrap()).unwrap();
    std::fs::write(bob.parent().unwrap(), b"in the way").unwrap();
    for subject in ["first", "second"] {
        held_mail(&s.ts, "bob@local.test", subject).await;
    }
    let mut carol = admin_carol(&s).await;
    let mut page = carol.get("/admin/queue").await;
    for _ in 0..200 {
        if page.body.matches("retry in").count() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        page = carol.get("/admin/queue").await;
    }
    assert!(page.body.contains("2 message(s) waiting"), "{}", page.body);
    let ids = queue_ids(&page.body);
    assert_eq!(ids.len(), 2, "{}", page.body);

    let shown = carol.get(&format!("/admin/queue/{}", ids[0])).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(
        shown.body.contains("<td>bob@local.test</td>")
            && shown.body.contains("state warning")
            && shown.body.contains("maildir"),
        "the recipient waits, with the last error: {}",
        shown.body
    );
    assert!(
        shown.body.contains("Subject: "),
        "the header: {}",
        shown.body
    );
    assert_eq!(
        carol.get("/admin/queue/0000000000000000").await.status,
        StatusCode::NOT_FOUND
    );

    // A user without the role sees nothing and changes nothing.
    let mut alice = user_alice(&s).await;
    let token = alice.get("/account").await.csrf();
    assert_eq!(
        alice.get("/admin/queue").await.status,
        StatusCode::FORBIDDEN
    );
    let r = alice
        .post("/admin/queue/delete", &[("csrf", &token), ("id", &ids[1])])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let token = shown.csrf();
    let r = carol
        .post("/admin/queue/delete", &[("csrf", &token), ("id", &ids[1])])
        .await;
    assert!(r.body.contains("is deleted"), "{}", r.body);
    let r = carol
        .post("/admin/queue/delete", &[("csrf", &token), ("id", &ids[1])])
        .await;
    assert!(r.body.contains("no longer in the queue"), "{}", r.body);
    std::fs::remove_file(bob.parent().unwrap()).unwrap();
    let r = carol
        .post("/admin/queue/retry", &[("csrf", &token), ("id", &ids[0])])
        .await;
    assert!(r.body.contains("will be retried"), "{}", r.body);
    s.ts.wait_for_mail("bob", 1).await;
    let events = cli(&s.ts, &["security", "events", "--user", "carol@local.test"]);
    assert!(
        events.contains("web.admin.queue_deleted") && events.contains("web.admin.queue_retried"),
        "{events}"
    );
    s.ts.shutdown().await;
}

/// Mail from outside to `rcpt`, accepted.
async fn held_mail(ts: &TestServer, rcpt: &str, subject: &str) {
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("EHLO client.test", "250").await;
    c.expect("MAIL FROM:<>", "250").await;
    c.expect(&format!("RCPT TO:<{rcpt}>"), "250").await;
    c.expect("DATA", "354").await;
    let m = format!("Subject: {subject}\r\n\r\nHi.\r\n.\r\n");
    c.send(m.as_bytes()).await;
    assert!(c.reply().await.starts_with("250"));
    c.cmd("QUIT").await;
}

/// The selector and state of each key row of a domain page, in order.
fn keys(body: &str) -> Vec<(String, String)> {
    let table = body
        .split("<table class=\"keys\">")
        .nth(1)
        .unwrap_or_default();
    let table = table.split("</table>").next().unwrap();
    table
        .split("<tr><td>")
        .skip(1)
        .map(|row| {
            let selector = row.split("</td>").next().unwrap().to_string();
            let state = row.split("<span class=\"state ").nth(1).unwrap();
            let state = state.split('>').nth(1).unwrap().split('<').next().unwrap();
            (selector, state.to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_generates_rotates_and_activates_dkim_keys() {
    let s = setup("").await;
    let mut carol = admin_carol(&s).await;
    let page = carol.get("/admin/domains/local.test").await;
    assert!(page.body.contains("No keys yet"), "{}", page.body);
    let token = page.csrf();
    let form = [("csrf", token.as_str()), ("domain", "local.test")];
    let made = carol.post("/admin/dkim/generate", &form).await;
    let first = keys(&made.body);
    assert_eq!(first.len(), 2, "{}", made.body);
    assert!(first.iter().all(|(_, st)| st == "active"), "{first:?}");
    assert!(
        made.body
            .contains(&format!("{}._domainkey.local.test", first[0].0))
            && made.body.contains("v=DKIM1; k=ed25519; p="),
        "the record to publish: {}",
        made.body
    );

    let rotated = carol.post("/admin/dkim/rotate", &form).await;
    let now = keys(&rotated.body);
    assert_eq!(now.len(), 4, "{}", rotated.body);
    let pending: Vec<&String> = now
        .iter()
        .filter(|(_, st)| st == "pending")
        .map(|(sel, _)| sel)
        .collect();
    assert_eq!(pending.len(), 2, "{now:?}");
    let ed = pending.iter().find(|s| s.starts_with("ed")).unwrap();
    let form = [
        ("csrf", token.as_str()),
        ("domain", "local.test"),
        ("selector", ed.as_str()),
    ];
    let activated = carol.post("/admin/dkim/activate", &form).await;
    assert!(
        activated
            .body
            .contains(&format!("{ed} now signs mail from local.test")),
        "{}",
        activated.body
    );
    let after = keys(&activated.body);
    let state = |sel: &str| after.iter().find(|(s, _)| s == sel).unwrap().1.clone();
    assert_eq!(state(ed), "active");
    assert_eq!(state(&first[0].0), "retired", "the Ed25519 key it replaced");
    // The CLI sees the same keys.
    let listed = cli(&s.ts, &["dkim", "list", "local.test"]);
    assert!(
        listed.contains(ed.as_str()) && listed.contains("retired"),
        "{listed}"
    );
    // An unknown selector is refused in words; another user's attempt is 403.
    let form = [
        ("csrf", token.as_str()),
        ("domain", "local.test"),
        ("selector", "nope"),
    ];
    let r = carol.post("/admin/dkim/activate", &form).await;
    assert!(r.body.contains("no DKIM selector nope"), "{}", r.body);
    let mut alice = user_alice(&s).await;
    let t = alice.get("/account").await.csrf();
    let r = alice
        .post(
            "/admin/dkim/rotate",
            &[("csrf", &t), ("domain", "local.test")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    s.ts.shutdown().await;
}

/// An RFC 7489 appendix C aggregate report about local.test from `org`: `ip` sent
/// `n` messages, `pass` of them passing DKIM.
fn report_xml(org: &str, id: &str, ip: &str, pass: u32, fail: u32) -> String {
    let record = |n: u32, dkim: &str| {
        format!(
            "<record><row><source_ip>{ip}</source_ip><count>{n}</count><policy_evaluated>\
             <disposition>none</disposition><dkim>{dkim}</dkim><spf>fail</spf>\
             </policy_evaluated></row><identifiers><header_from>local.test</header_from>\
             </identifiers><auth_results><spf><domain>local.test</domain><result>fail</result>\
             </spf></auth_results></record>"
        )
    };
    format!(
        "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>{org}</org_name>\
         <email>noreply@{org}</email><report_id>{id}</report_id><date_range>\
         <begin>1765065600</begin><end>1765151999</end></date_range></report_metadata>\
         <policy_published><domain>local.test</domain><adkim>r</adkim><aspf>r</aspf>\
         <p>reject</p><sp>reject</sp><pct>100</pct></policy_published>{}{}</feedback>",
        record(pass, "pass"),
        record(fail, "fail")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_show_dmarc_sources_tls_results_and_a_domain_audit() {
    let s = setup_with_dns("", audited_dns("v=spf1 -all").await).await;
    for (org, id, ip, pass, fail) in [
        ("big.example", "r1", "192.0.2.10", 7, 1),
        ("small.example", "r2", "198.51.100.7", 0, 2),
    ] {
        let msg = format!(
            "From: noreply@{org}\r\nSubject: Report Domain: local.test\r\n\
             Content-Type: text/xml\r\n\r\n{}\r\n",
            report_xml(org, id, ip, pass, fail)
        );
        let f = s.ts.dir.path().join(format!("{id}.eml"));
        std::fs::write(&f, msg).unwrap();
        cli(&s.ts, &["reports", "dmarc", "import", f.to_str().unwrap()]);
    }
    seed_tls_results(&s.ts, 5, 2).await;
    let mut carol = admin_carol(&s).await;
    let page = carol.get("/admin/reports").await;
    assert_eq!(page.status, StatusCode::OK);
    let b = &page.body;
    let row = |start: &str| {
        b.split("<tr>")
            .find(|r| r.starts_with(start))
            .unwrap_or_else(|| panic!("no row {start}: {b}"))
            .to_string()
    };
    // local.test: 10 messages, 7 passed.
    let domain = row("<td><a href=\"/admin/reports?domain=local.test\">");
    assert!(domain.contains("<td>10</td><td>70.0 %</td>"), "{domain}");
    let source = row(
        "<td>small.example</td><td><a href=\"/admin/reports?source=198.51.100.7\">198.51.100.7</a></td>",
    );
    assert!(
        source.contains("<td>2</td><td>0</td><td>2</td><td>0.0 %</td>"),
        "{source}"
    );
    assert!(
        b.contains("<svg") && b.contains("passed DMARC 7"),
        "the chart: {b}"
    );
    let yesterday = day_label(palisade_queue::now_secs() / 86_400 - 1);
    let expired = row(&format!(
        "<td>{yesterday}</td><td>peer.test</td><td>sts</td><td>mx.peer.test</td>\
         <td><span class=\"state wrong\">certificate-expired</span>"
    ));
    assert!(expired.contains("</span></td><td>2</td></tr>"), "{expired}");

    let audit = carol.get("/admin/reports/audit?q=Audited.Test").await;
    assert_eq!(audit.status, StatusCode::OK);
    assert!(audit.body.contains("Score <strong>"), "{}", audit.body);
    assert!(
        audit.body.contains("v=spf1 -all"),
        "the SPF record as published: {}",
        audit.body
    );
    // One source's pass and fail over time.
    let one = carol.get("/admin/reports?source=198.51.100.7").await;
    assert!(one.body.contains("from 198.51.100.7"), "{}", one.body);
    assert!(
        one.body.contains("<td>2</td><td>0.0 %</td>"),
        "{}",
        one.body
    );
    assert!(one.body.contains("failed DMARC 2") && !one.body.contains("big.example"));
    let bad = carol.get("/admin/reports/audit?q=not..a..domain").await;
    assert!(bad.body.contains("not a domain name"), "{}", bad.body);
    let mut alice = user_alice(&s).await;
    assert_eq!(
        alice.get("/admin/reports").await.status,
        StatusCode::FORBIDDEN
    );
    s.ts.shutdown().await;
}

fn day_label(day: i64) -> String {
    let (y, m, d) = palisade_types::calendar::civil_from_days(day);
    format!("{y}-{m:02}-{d:02}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_sums_every_nodes_hourly_counts() {
    let s = setup("").await;
    let hour = palisade_queue::now_secs() / 3600;
    let row = |h: i64, tally, key: &str, count| HourlyCount {
        hour: h,
        tally,
        key: key.to_string(),
        count,
    };
    // Two nodes this hour, one of them yesterday too, and a count of last year.
    let a = [
        row(hour, Tally::Received, "", 40),
        row(hour, Tally::Sent, "", 3),
        row(hour, Tally::Rejected, "no_such_user", 4),
        row(hour, Tally::RejectedSender, "spam.test", 4),
        row(hour - 30, Tally::Received, "", 100),
        row(hour - 500 * 24, Tally::Received, "", 1000),
    ];
    let b = [
        row(hour, Tally::Received, "", 2),
        row(hour, Tally::SenderVerdict, "quarantine", 5),
        row(hour, Tally::RejectedSender, "spam.test", 1),
        row(hour, Tally::RejectedSender, "odd.test", 2),
    ];
    s.ts.store.add_hourly_counts("a", &a).await.unwrap();
    s.ts.store.add_hourly_counts("b", &b).await.unwrap();
    let mut carol = admin_carol(&s).await;
    let page = carol.get("/admin").await;
    assert_eq!(page.status, StatusCode::OK);
    let card = |label: &str| {
        let at = page.body.find(&format!("</span>{label}</div>")).unwrap();
        let n = &page.body[..at];
        n[n.rfind('>').unwrap() + 1..].to_string()
    };
    assert_eq!(
        card("received"),
        "142",
        "both nodes, two days: {}",
        page.body
    );
    assert_eq!(card("sent"), "3");
    assert_eq!(card("refused"), "4");
    assert!(page.body.contains("received (142)"), "the chart's legend");
    let senders = page.body.split("Senders refused most").nth(1).unwrap();
    let spam = senders.find("spam.test").unwrap();
    assert!(
        spam < senders.find("odd.test").unwrap(),
        "most first: {senders}"
    );
    assert!(
        senders.contains("<td>spam.test</td><td>5</td>"),
        "{senders}"
    );
    assert!(page.body.contains("sender authentication: quarantine"));
    let year = carol.get("/admin?range=365d").await;
    let svg = year.body.split("<svg").nth(1).unwrap();
    assert!(svg.contains("received: 100"), "yesterday's bar: {svg}");
    assert!(
        !year.body.contains("1142"),
        "older than a year is not shown"
    );
    let mut alice = user_alice(&s).await;
    assert_eq!(alice.get("/admin").await.status, StatusCode::FORBIDDEN);
    s.ts.shutdown().await;
}
