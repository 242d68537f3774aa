//! The shared resolver against a real DNS server on loopback.
#![allow(clippy::unwrap_used)]

use hickory_resolver::proto::rr::RecordType;
use palisade_dns::{Dns, DnsSettings};
use palisade_testkit::DnsAuthority;
use std::net::Ipv4Addr;
use std::time::Duration;

fn dns(a: &DnsAuthority, trusted: bool) -> Dns {
    Dns::new(&DnsSettings {
        nameservers: vec![a.addr()],
        timeout: Duration::from_secs(1),
        attempts: 1,
        dnssec_trusted: trusted,
    })
    .unwrap()
}

#[tokio::test]
async fn ad_bit_counts_only_from_a_trusted_resolver() {
    let a = DnsAuthority::start().await;
    a.a("mx.signed.test", Ipv4Addr::new(192, 0, 2, 25));
    a.set_authentic(true);
    let trusted = dns(&a, true)
        .lookup_validated("mx.signed.test", RecordType::A)
        .await
        .unwrap();
    assert_eq!(trusted.records.len(), 1);
    assert!(trusted.validated);
    let untrusted = dns(&a, false)
        .lookup_validated("mx.signed.test", RecordType::A)
        .await
        .unwrap();
    assert!(
        !untrusted.validated,
        "AD from an untrusted resolver is ignored"
    );
    a.set_authentic(false);
    let unsigned = dns(&a, true)
        .lookup_validated("mx.signed.test", RecordType::A)
        .await
        .unwrap();
    assert!(!unsigned.validated, "no AD bit, not validated");
}

#[tokio::test]
async fn txt_joins_strings_and_nxdomain_is_empty() {
    let a = DnsAuthority::start().await;
    let long = format!("v=spf1 {} -all", "ip4:192.0.2.1 ".repeat(30));
    a.txt("long.test", &long);
    let d = dns(&a, false);
    assert_eq!(d.txt("long.test").await.unwrap(), vec![long]);
    assert!(d.txt("nothing.test").await.unwrap().is_empty());
    a.silent("slow.test");
    assert!(
        d.txt("slow.test").await.is_err(),
        "a timeout is an error, not empty"
    );
}
