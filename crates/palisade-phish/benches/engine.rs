//! Time to analyse a typical message: a 50 KiB HTML newsletter (tracking links, tables,
//! a text alternative) with two attachments (a PDF and an XLSX workbook), on one core.
//! Also a variant with a photo attachment, which the QR decoder reads.
//!
//! `cargo bench -p palisade-phish --bench engine` prints median and p99 per variant, the
//! median of the MIME parse alone, and the engine's own time (the difference);
//! `-- --write-sample FILE` writes the message for the throughput benchmark
//! (bench/phishing.sh). Bounded: a fixed number of iterations.

use palisade_phish::{Auth, Context, Engine, Settings};
use std::io::Write;
use std::time::{Duration, Instant};

/// Iterations per message, unless `--iterations N` says otherwise (callgrind wants few).
const ITERATIONS: usize = 2000;

fn b64(data: &[u8]) -> String {
    use base64::Engine as _;
    let s = base64::engine::general_purpose::STANDARD.encode(data);
    s.as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn html(target: usize) -> String {
    let mut h = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>td{font:14px sans-serif}\
         .btn{background:#0a66c2;color:#fff}</style></head><body><table width=\"600\">",
    );
    let mut i = 0;
    while h.len() < target {
        h.push_str(&format!(
            "<tr><td><h2>Story {i}: what changed this week</h2><p>Lorem ipsum dolor sit amet, \
             consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore \
             magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation.</p>\
             <a class=\"btn\" href=\"https://click.news-mailer.example/ls/click?upn=abc{i}def\">Read more</a> \
             <a href=\"https://www.shop.example/articles/{i}?utm_source=newsletter\">www.shop.example/articles</a>\
             <img src=\"https://click.news-mailer.example/open/{i}.gif\" width=\"1\" height=\"1\" alt=\"\"></td></tr>"
        ));
        i += 1;
    }
    h.push_str("</table><p><a href=\"https://click.news-mailer.example/unsub\">Unsubscribe</a></p></body></html>");
    h
}

fn pdf() -> Vec<u8> {
    let mut p = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n".to_vec();
    while p.len() < 12 * 1024 {
        p.extend_from_slice(
            b"BT /F1 12 Tf 72 712 Td (Invoice line item, quantity, amount) Tj ET\n",
        );
    }
    p.extend_from_slice(b"%%EOF\n");
    p
}

fn xlsx() -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, body) in [
            ("[Content_Types].xml", "<Types/>".repeat(20)),
            (
                "xl/workbook.xml",
                "<workbook><sheets/></workbook>".repeat(50),
            ),
            (
                "xl/worksheets/sheet1.xml",
                "<row><c t=\"n\"><v>42</v></c></row>".repeat(250),
            ),
        ] {
            z.start_file(name, opts).unwrap_or_else(|e| panic!("{e}"));
            z.write_all(body.as_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
        }
        z.finish().unwrap_or_else(|e| panic!("{e}"));
    }
    buf.into_inner()
}

fn photo() -> Vec<u8> {
    let img = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 251) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap_or_else(|e| panic!("{e}"));
    out.into_inner()
}

/// The message: multipart/mixed of (text + 50 KiB HTML) and two attachments.
fn sample(with_photo: bool) -> Vec<u8> {
    let text = "Story of the week. Read more at https://www.shop.example/articles\r\n".repeat(120);
    let mut m = String::from(
        "From: Shop News <news@shop.example>\r\nTo: alice@northwind.example\r\n\
         Subject: This week at the shop\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\
         Message-ID: <weekly-48@shop.example>\r\nList-Unsubscribe: <https://click.news-mailer.example/unsub>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"mixed\"\r\n\r\n\
         --mixed\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n\
         --alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
    );
    m.push_str(&text);
    m.push_str("\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
    // Soft line breaks every 76 characters, as senders write it.
    let html = html(50 * 1024);
    for chunk in html.as_bytes().chunks(75) {
        m.push_str(&String::from_utf8_lossy(chunk).replace('=', "=3D"));
        m.push_str("=\r\n");
    }
    m.push_str("\r\n--alt--\r\n");
    let mut attachments = vec![
        ("invoice-2026-11.pdf", "application/pdf", pdf()),
        (
            "figures.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            xlsx(),
        ),
    ];
    if with_photo {
        attachments.push(("team.jpg", "image/jpeg", photo()));
    }
    for (name, ctype, data) in attachments {
        m.push_str(&format!(
            "--mixed\r\nContent-Type: {ctype}; name=\"{name}\"\r\nContent-Disposition: attachment; \
             filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            b64(&data)
        ));
    }
    m.push_str("--mixed--\r\n");
    m.into_bytes()
}

fn engine() -> Engine {
    let s = |v: &[&str]| v.iter().map(|d| d.to_string()).collect::<Vec<_>>();
    Engine::new(&Settings {
        local_domains: s(&["northwind.example"]),
        protected_domains: s(&[
            "paypal.com",
            "microsoft.com",
            "apple.com",
            "amazon.com",
            "docusign.net",
            "google.com",
            "dhl.com",
            "linkedin.com",
        ]),
        people: s(&["Alice Martin", "Bob Chen"]),
        free_mail: s(&["gmail.com", "outlook.com"]),
        shorteners: s(&["bit.ly", "tinyurl.com"]),
        ..Settings::default()
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The median of `iterations` runs of `f`.
fn median(iterations: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..iterations)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    (times[iterations / 2], times[iterations * 99 / 100])
}

fn measure(name: &str, engine: &Engine, msg: &[u8], iterations: usize) {
    let ctx = Context::new(Auth::Aligned);
    // Warm-up, and a check that the message is what it claims to be.
    let a = engine.analyze(msg, &ctx);
    assert!(a.attachments >= 2, "{a:?}");
    assert!(!a.scan_limited, "{a:?}");
    let (med, p99) = median(iterations, || {
        std::hint::black_box(engine.analyze(std::hint::black_box(msg), &ctx));
    });
    // The MIME parse the engine is handed, alone (the target leaves it out).
    let (parse, _) = median(iterations, || {
        std::hint::black_box(mail_parser::MessageParser::new().parse(std::hint::black_box(msg)));
    });
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<44} {:>6.1} KiB  median {:.3} ms  p99 {:.3} ms  parse {:.3} ms  engine {:.3} ms  ({} links, {} attachments, verdict {} {:.1})",
        msg.len() as f64 / 1024.0,
        ms(med),
        ms(p99),
        ms(parse),
        ms(med.saturating_sub(parse)),
        a.links,
        a.attachments,
        a.action.name(),
        a.score
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--write-sample") {
        let path = args
            .get(i + 1)
            .unwrap_or_else(|| panic!("--write-sample FILE"));
        std::fs::write(path, sample(false)).unwrap_or_else(|e| panic!("{path}: {e}"));
        return;
    }
    let engine = engine();
    // `-- typical`: the first variant only (for profiling).
    let only_typical = args.iter().any(|a| a == "typical");
    let iterations = args
        .iter()
        .position(|a| a == "--iterations")
        .and_then(|i| args.get(i + 1)?.parse::<usize>().ok())
        .unwrap_or(ITERATIONS)
        .clamp(1, 1_000_000);
    measure(
        "50 KiB HTML + PDF + XLSX",
        &engine,
        &sample(false),
        iterations,
    );
    if !only_typical {
        measure(
            "50 KiB HTML + PDF + XLSX + 640x480 JPEG",
            &engine,
            &sample(true),
            iterations,
        );
    }
}
