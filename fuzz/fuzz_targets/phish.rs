#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_phish::banner::{self, Banner};
use palisade_phish::{Auth, Context, Engine, Settings};
use std::sync::LazyLock;

static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    Engine::new(&Settings {
        local_domains: vec!["example.com".into()],
        protected_domains: vec!["paypal.com".into(), "microsoft.com".into()],
        people: vec!["Alice Martin".into()],
        free_mail: vec!["gmail.com".into()],
        shorteners: vec!["bit.ly".into()],
        ..Settings::default()
    })
    .expect("engine")
});

fuzz_target!(|data: &[u8]| {
    // Any bytes as a message: the scan ends within its budget with a verdict, and a
    // banner either applies to a message that still parses or is not applied.
    let a = ENGINE.analyze(data, &Context::new(Auth::None));
    assert!(a.score.is_finite() && a.score >= 0.0);
    let b = Banner {
        lines: vec!["CAUTION <b>&".into()],
        subject_prefix: Some("[SUSPICIOUS]".into()),
        attach_original: data.first().is_some_and(|b| b & 1 == 1),
        ..Banner::default()
    };
    if let Some(out) = banner::apply(data, &b) {
        assert!(mail_parser::MessageParser::new().parse(&out).is_some());
    }
});
