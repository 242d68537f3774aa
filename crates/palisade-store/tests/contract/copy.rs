//! `store copy` (issue 21): a populated SQLite store copied to PostgreSQL and back gives
//! the same rows, table by table; a second copy adds nothing.

use super::*;
use backend::{Schema, test_secret};
use palisade_store::copy::{Direction, TABLES, TableCount, copy};
use palisade_store::dashboard::{HourlyCount, Tally};
use palisade_store::{
    AppPassword, Block, DkimKey, Lesson, PgStore, SigningKey, SqliteStore, StoredPasskey,
    StsPolicyRow, TlsResultRow, WebSession,
};
use palisade_types::{AppScope, MessageLabel};
use sqlx::Connection;

const T: i64 = 1_700_000_000;

async fn sqlite_at(path: &std::path::Path) -> SqliteStore {
    SqliteStore::open(path)
        .await
        .expect("open")
        .with_secret(test_secret())
        .await
        .expect("key")
}

async fn accounts(s: &dyn Store) {
    let alice = addr("alice@example.org");
    s.add_domain(&dom("example.org")).await.expect("domain");
    s.add_user(&alice, "$argon2id$alice").await.expect("user");
    s.add_user(&addr("bob@example.org"), "$argon2id$bob")
        .await
        .expect("user");
    s.add_alias(&source("sales@example.org"), &alice)
        .await
        .expect("alias");
    s.add_forward(&addr("bob@example.org"), &addr("bob@elsewhere.test"))
        .await
        .expect("forward");
    s.put_srs_address("srs1", "someone@remote.test", T)
        .await
        .expect("srs");
    s.add_send_as(&alice, "team@example.org")
        .await
        .expect("send-as");
    s.suspend_user(&addr("bob@example.org"), T, "spam run")
        .await
        .expect("suspend");
    s.put_totp(&alice, "JBSWY3DPEHPK3PXP", true, T)
        .await
        .expect("totp");
    s.set_recovery_codes(&alice, &["$code1".into()])
        .await
        .expect("codes");
    let app = AppPassword {
        id: 0,
        user: alice.lookup_key(),
        label: "phone".into(),
        hash: "$argon2id$app".into(),
        scope: AppScope::Imap,
        expires: None,
        from_net: Some("192.0.2.0/24".into()),
        created: T,
        last_used: None,
        last_ip: None,
    };
    s.add_app_password(&app).await.expect("app password");
}

async fn keys(s: &dyn Store) {
    let alice = addr("alice@example.org");
    let dkim = DkimKey {
        domain: dom("example.org"),
        selector: "s1".into(),
        algorithm: "ed25519".into(),
        private_key: "MC4CAQAwBQYDK2VwBCIEIKEY".into(),
        public_key: "MCowBQYDK2VwAyEAPUB".into(),
        state: "active".into(),
        created: T,
    };
    s.add_dkim_key(&dkim).await.expect("dkim");
    let key = UserKey {
        kind: "openpgp".into(),
        fingerprint: "AB12".into(),
        data: "-----BEGIN PGP PUBLIC KEY BLOCK-----".into(),
        user_ids: "alice@example.org".into(),
        expires: None,
        added: T,
    };
    assert!(s.add_user_key(&alice, &key).await.expect("user key"));
    let signing = SigningKey {
        certificate: "-----BEGIN CERTIFICATE-----".into(),
        private_key: "-----BEGIN PRIVATE KEY-----".into(),
        fingerprint: "CD34".into(),
        expires: T + 86_400,
        added: T,
    };
    assert!(s.put_signing_key(&alice, &signing).await.expect("signing"));
    s.server_secret("srs", &[1; 32]).await.expect("secret");
}

async fn security(s: &dyn Store) {
    let alice = addr("alice@example.org");
    s.record_auth_failure("alice@example.org", "192.0.2.9", "fp", T)
        .await
        .expect("failure");
    let block = Block {
        key: "192.0.2.9".into(),
        since: T,
        until: T + 600,
        strikes: 1,
        reason: "guessing".into(),
    };
    s.put_ban(&block).await.expect("ban");
    let lock = Block {
        key: "alice@example.org".into(),
        ..block
    };
    s.put_lockout(&lock).await.expect("lockout");
    s.record_strike("192.0.2.9", "auth", T)
        .await
        .expect("strike");
    s.record_login("alice@example.org", "192.0.2.1", T)
        .await
        .expect("login");
    s.put_rate_counts("connect", T / 60, "mx1", &[("192.0.2.9".into(), 3)])
        .await
        .expect("rates");
    s.record_submission(&alice, T, &["remote.test".into()], 2)
        .await
        .expect("submission");
}

async fn queue_and_reports(s: &dyn Store) {
    let id = QueueId::parse("00000000deadbeef").expect("id");
    let status = QueueStatus {
        id,
        attempts: 2,
        next_attempt: T + 300,
        last_error: Some("451 4.4.1 later".into()),
        delivered: vec!["x@remote.test".into()],
        updated: T,
    };
    s.put_queue_status(&status).await.expect("queue");
    s.record_dsn(id, "y@remote.test", T).await.expect("dsn");
    let evaluation = DmarcEvaluation {
        id: 0,
        time: T,
        domain: "example.org".into(),
        document: "{}".into(),
    };
    s.record_dmarc_evaluations(&[evaluation])
        .await
        .expect("dmarc");
    let report = ReceivedReport {
        org_name: "google.com".into(),
        report_id: "r1".into(),
        domain: "example.org".into(),
        received: T,
        begin: T - 86_400,
        end: T,
        document: "{}".into(),
    };
    s.add_dmarc_report(&report).await.expect("report");
    let tls = TlsResultRow {
        domain: "remote.test".into(),
        day: T / 86_400,
        policy_type: "sts".into(),
        mx: "mx.remote.test".into(),
        result: "success".into(),
        count: 4,
    };
    s.record_tls_results(&[tls]).await.expect("tls");
    let policy = StsPolicyRow {
        domain: "remote.test".into(),
        id: "1".into(),
        policy: "version: STSv1\nmode: enforce".into(),
        expires: T + 86_400,
    };
    s.put_mta_sts_policy(&policy, T).await.expect("sts");
}

async fn history_and_console(s: &dyn Store) {
    let event = Event {
        time: T,
        kind: "login".into(),
        subject: "alice@example.org".into(),
        detail: "from 192.0.2.1".into(),
    };
    s.record_event(&event).await.expect("event");
    s.record_correspondents("alice@example.org", &["remote.test".into()], T)
        .await
        .expect("correspondents");
    let lesson = Lesson {
        digest: "m1".into(),
        label: MessageLabel::Spam,
        who: "admin".into(),
        weight: 1.5,
        time: T,
        buckets: vec![7, 9],
    };
    assert!(s.learn(&lesson).await.expect("learn"));
    let session = WebSession {
        id_hash: "h1".into(),
        user: "alice@example.org".into(),
        csrf: "c1".into(),
        created: T,
        last_seen: T,
        ip: "192.0.2.1".into(),
    };
    s.put_web_session(&session).await.expect("session");
    let passkey = StoredPasskey {
        credential_id: "k1".into(),
        user: "alice@example.org".into(),
        label: "laptop".into(),
        passkey: "{}".into(),
        created: T,
        last_used: None,
    };
    s.add_passkey(&passkey).await.expect("passkey");
    let count = HourlyCount {
        hour: T / 3600,
        tally: Tally::Received,
        key: String::new(),
        count: 5,
    };
    s.add_hourly_counts("mx1", &[count]).await.expect("counts");
    let held = palisade_store::HeldMessage {
        id: QueueId::parse("00000000000000b1").expect("id"),
        node: "mx1".into(),
        arrived: T,
        sender: "a@remote.test".into(),
        recipients: vec!["alice@example.org".into()],
        subject: "held".into(),
        reason: "phishing".into(),
        size: 3,
    };
    s.hold(&held, &[0, 1, 2]).await.expect("hold");
}

/// Rows that differ between two SQLite files, table by table (none when equal). The key
/// check is each store's own (sealed with a fresh nonce), so it is left out.
async fn differences(a: &std::path::Path, b: &std::path::Path) -> Vec<String> {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", a.display()))
        .await
        .expect("connect");
    sqlx::query("ATTACH DATABASE ? AS other")
        .bind(b.display().to_string())
        .execute(&mut conn)
        .await
        .expect("attach");
    let mut differ = Vec::new();
    for table in TABLES {
        let filter = if *table == "server_secrets" {
            " WHERE name <> 'secret-key-check'"
        } else {
            ""
        };
        for (x, y) in [("main", "other"), ("other", "main")] {
            let sql = format!(
                "SELECT COUNT(*) FROM (SELECT * FROM {x}.{table}{filter} \
                 EXCEPT SELECT * FROM {y}.{table}{filter})"
            );
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut conn)
                .await
                .expect("compare");
            if n > 0 {
                differ.push(format!("{table}: {n} rows of {x} not in {y}"));
            }
        }
    }
    differ
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_and_back_keeps_every_row() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let (a_path, b_path) = (dir.path().join("a.db"), dir.path().join("b.db"));
    let a = sqlite_at(&a_path).await;
    accounts(&a).await;
    keys(&a).await;
    security(&a).await;
    queue_and_reports(&a).await;
    history_and_console(&a).await;

    let schema = Schema::create().await;
    let pg = PgStore::connect_with(schema.options(), 4, "mx1")
        .await
        .expect("connect")
        .with_secret(test_secret())
        .await
        .expect("key");
    let counts = copy(&a, &pg, Direction::SqliteToPostgres)
        .await
        .expect("copy");
    let empty: Vec<&TableCount> = counts.iter().filter(|c| c.source == 0).collect();
    assert!(empty.is_empty(), "tables the test leaves empty: {empty:?}");
    let again = copy(&a, &pg, Direction::SqliteToPostgres)
        .await
        .expect("again");
    assert_eq!(again, counts, "a second copy adds nothing");

    // PostgreSQL answers as SQLite did, sealed values included.
    let alice = addr("alice@example.org");
    assert_eq!(
        pg.list_dkim_keys(None).await.expect("read"),
        a.list_dkim_keys(None).await.expect("read")
    );
    assert_eq!(
        pg.totp(&alice).await.expect("read"),
        a.totp(&alice).await.expect("read")
    );
    assert_eq!(
        pg.signing_key(&alice).await.expect("read"),
        a.signing_key(&alice).await.expect("read")
    );
    assert_eq!(
        pg.list_users(None).await.expect("read"),
        a.list_users(None).await.expect("read")
    );
    assert_eq!(
        pg.list_queue_status().await.expect("read"),
        a.list_queue_status().await.expect("read")
    );
    let event = Event {
        time: T + 1,
        kind: "later".into(),
        subject: "alice@example.org".into(),
        detail: String::new(),
    };
    pg.record_event(&event)
        .await
        .expect("the event sequence moved past the copied rows");

    let b = sqlite_at(&b_path).await;
    let back = copy(&b, &pg, Direction::PostgresToSqlite)
        .await
        .expect("back");
    assert!(back.iter().all(|c| c.source == c.target), "{back:?}");
    a.close().await;
    b.close().await;
    let differ = differences(&a_path, &b_path).await;
    assert_eq!(
        differ,
        ["events: 1 rows of other not in main"],
        "only the later event"
    );
}

/// The copy's table list is every table of both schemas but each store's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_copy_names_every_table() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let sqlite = sqlite_at(&dir.path().join("s.db")).await;
    sqlite.close().await;
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", dir.path().join("s.db").display()))
            .await
            .expect("connect");
    let mut in_sqlite: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name NOT IN ('_sqlx_migrations', 'schema_version', 'nodes', 'leases')",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables");
    let schema = Schema::create().await;
    let pg = PgStore::connect_with(schema.options(), 2, "mx1")
        .await
        .expect("connect");
    drop(pg);
    let mut pg_conn = sqlx::PgConnection::connect_with(&schema.options())
        .await
        .expect("connect");
    let mut in_pg: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::TEXT FROM information_schema.tables \
         WHERE table_schema = current_schema() \
         AND table_name NOT IN ('_sqlx_migrations', 'nodes', 'leases')",
    )
    .fetch_all(&mut pg_conn)
    .await
    .expect("tables");
    let mut named: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    for list in [&mut in_sqlite, &mut in_pg, &mut named] {
        list.sort();
    }
    assert_eq!(in_sqlite, named);
    assert_eq!(in_pg, named);
}
