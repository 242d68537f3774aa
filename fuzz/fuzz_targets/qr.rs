//! The QR search over any picture: the fuzz bytes are drawn as a grey image (the first
//! two bytes its size), written as a PNG and searched. The candidate count and rqrr
//! must never panic, and the search must stay bounded (issue 15: a tiled image of
//! finder patterns once ran for minutes).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (Some(&w), Some(&h)) = (data.first(), data.get(1)) else {
        return;
    };
    let (w, h) = (u32::from(w % 128) + 1, u32::from(h % 128) + 1);
    let pixels = &data[2..];
    let img = image::GrayImage::from_fn(w, h, |x, y| {
        let i = (y * w + x) as usize;
        // Few distinct levels: finder-pattern-like runs are easy to reach.
        image::Luma([pixels.get(i % pixels.len().max(1)).map_or(255, |p| p & 0xC0)])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    if img.write_to(&mut png, image::ImageFormat::Png).is_err() {
        return;
    }
    let _ = palisade_phish::qr::decode(&png.into_inner(), 1_000_000);
    // Raw bytes too: headers of every format the decoder reads.
    let _ = palisade_phish::qr::decode(data, 1_000_000);
});
