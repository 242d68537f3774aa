//! Mail client autoconfiguration (issue 18): Thunderbird's autoconfig and Microsoft's
//! autodiscover over the real HTTPS listener, and the SRV records of RFC 6186 in `dns
//! records`.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

struct Setup {
    ts: TestServer,
    client: reqwest::Client,
    port: u16,
    submissions: u16,
    _certs: tempfile::TempDir,
}

async fn setup() -> Setup {
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new(certs.path());
    let names = [HOST, "autoconfig.local.test", "autodiscover.local.test"];
    let (cert, key) = ca.issue("web", &names);
    let submissions = free_port();
    let ts = start(&format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n[web]\naddress = \"127.0.0.1:0\"\nautoconfig = true\n\
         [listener.clients]\naddress = \"127.0.0.1:{submissions}\"\nkind = \"submissions\"\n\
         [dovecot]\nimap_host = \"imap.local.test\"\n",
        cert.display(),
        key.display()
    ))
    .await;
    let web = ts.addr("web");
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(ca.ca_file()).unwrap()).unwrap(),
        )
        .resolve("autoconfig.local.test", web)
        .resolve("autodiscover.local.test", web)
        .build()
        .unwrap();
    Setup {
        ts,
        client,
        port: web.port(),
        submissions,
        _certs: certs,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thunderbird_autoconfig_names_imaps_and_implicit_tls_submission() {
    let s = setup().await;
    let url = format!(
        "https://autoconfig.local.test:{}/mail/config-v1.1.xml?emailaddress=alice%40local.test",
        s.port
    );
    let r = s.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/xml")
    );
    let doc = r.text().await.unwrap();
    assert!(doc.contains("<clientConfig version=\"1.1\">"), "{doc}");
    assert!(doc.contains("<domain>local.test</domain>"), "{doc}");
    let imap = "<incomingServer type=\"imap\">\n      <hostname>imap.local.test</hostname>\n      <port>993</port>\n      <socketType>SSL</socketType>";
    assert!(doc.contains(imap), "{doc}");
    let smtp = format!(
        "<outgoingServer type=\"smtp\">\n      <hostname>{HOST}</hostname>\n      <port>{}</port>\n      <socketType>SSL</socketType>",
        s.submissions
    );
    assert!(doc.contains(&smtp), "{doc}");
    assert!(doc.contains("<username>%EMAILADDRESS%</username>"), "{doc}");
    // The .well-known path with the host naming the domain gives the same document.
    let r = s
        .client
        .get(format!(
            "https://autoconfig.local.test:{}/.well-known/autoconfig/mail/config-v1.1.xml",
            s.port
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), doc);
    // Not one of ours: nothing.
    let r = s
        .client
        .get(format!(
            "https://autoconfig.local.test:{}/mail/config-v1.1.xml?emailaddress=x%40elsewhere.test",
            s.port
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    s.ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_autodiscover_answers_pox_requests_and_refuses_junk() {
    let s = setup().await;
    let url = format!(
        "https://autodiscover.local.test:{}/Autodiscover/Autodiscover.xml",
        s.port
    );
    let request = r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>bob@local.test</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>"#;
    let r = s.client.post(&url).body(request).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let doc = r.text().await.unwrap();
    assert!(
        doc.contains("<LoginName>bob@local.test</LoginName>"),
        "{doc}"
    );
    assert!(
        doc.contains(
            "<Type>IMAP</Type>\n        <Server>imap.local.test</Server>\n        <Port>993</Port>"
        ),
        "{doc}"
    );
    assert!(
        doc.contains(&format!(
            "<Type>SMTP</Type>\n        <Server>{HOST}</Server>\n        <Port>{}</Port>",
            s.submissions
        )),
        "{doc}"
    );
    // Malformed, oversized, or another domain's address.
    let r = s
        .client
        .post(&url)
        .body("<Autodiscover>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = s
        .client
        .post(&url)
        .body(vec![b' '; 9 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let other = request.replace("bob@local.test", "bob@elsewhere.test");
    let r = s.client.post(&url).body(other).send().await.unwrap();
    assert_eq!(r.status(), 404);
    s.ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc6186_srv_records_are_printed() {
    let s = setup().await;
    // The CLI reads the configuration the server runs with from the data directory.
    std::fs::write(s.ts.dir.path().join("palisade.toml"), &s.ts.toml).unwrap();
    let out = cli(&s.ts, &["dns", "records", "local.test"]);
    let want = format!(
        "_submissions._tcp.local.test. SRV 0 1 {} {HOST}.",
        s.submissions
    );
    assert!(out.contains(&want), "{out}");
    assert!(
        out.contains("_imaps._tcp.local.test. SRV 0 1 993 imap.local.test."),
        "{out}"
    );
    assert!(out.contains("_imap._tcp.local.test. SRV 0 0 0 ."), "{out}");
    assert!(
        out.contains(&format!("autoconfig.local.test. CNAME {HOST}.")),
        "{out}"
    );
    assert!(
        out.contains(&format!("autodiscover.local.test. CNAME {HOST}.")),
        "{out}"
    );
    s.ts.shutdown().await;
}
