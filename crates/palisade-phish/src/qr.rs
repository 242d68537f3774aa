//! QR codes in images (PNG, JPEG, GIF), whose URLs then go through the link checks:
//! "scan the code to keep your MFA active" hides the link from every text filter.
//!
//! Bounded, because the QR search is the one detector whose cost an attacker shapes:
//! - the image's dimensions are read from its header before anything is decoded, and
//!   an image with more pixels than allowed is not decoded at all ([`Skipped::TooLarge`]);
//!   the decoder's allocation limit backs that up;
//! - large images are scaled down to [`SEARCH_SIDE`] before the search;
//! - rqrr tries every pair of neighbours of every finder pattern and copies the whole
//!   image for each try, so its work grows with the cube of the number of finder
//!   patterns (a 4.6 KB PNG tiled with look-alikes kept a core busy for minutes). We
//!   binarise the image ourselves, count the finder-pattern candidates with rqrr's own
//!   1:1:3:1:1 row test in one linear pass, and search only when there are at most
//!   [`MAX_CANDIDATES`] ([`Skipped::TooComplex`] otherwise). Every finder pattern rqrr
//!   could find is one of our candidates: it searches the very bitmap we counted on.

use image::{GrayImage, ImageFormat, ImageReader};
use std::io::Cursor;

/// Why an image was not searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skipped {
    /// More pixels than the scan allows (a photo, most likely): not a reason to distrust.
    TooLarge,
    /// More finder-pattern candidates than any real mail image has: built to exhaust
    /// the search, so the message is marked as beyond the scan limit.
    TooComplex,
}

/// Longest side searched for QR codes; larger images are scaled down first (a code
/// still has several pixels per module at this size in any realistic mail image).
const SEARCH_SIDE: u32 = 1024;

/// Most finder-pattern candidates searched: three per QR code, so eight codes (real
/// codes, dense ones included, count exactly three each). 36 candidates laid out as
/// rqrr's worst case cost it about 0.1 s; a tiled image with thousands, minutes.
const MAX_CANDIDATES: usize = 24;

/// The texts of the QR codes in an image. Not an image, or an image format we do not
/// read: nothing.
pub fn decode(data: &[u8], max_pixels: u64) -> Result<Vec<String>, Skipped> {
    let Some(gray) = load(data, max_pixels)? else {
        return Ok(Vec::new());
    };
    let bitmap = Bitmap::binarise(&gray);
    if bitmap.finder_candidates(MAX_CANDIDATES + 1) > MAX_CANDIDATES {
        return Err(Skipped::TooComplex);
    }
    let (w, h) = (bitmap.w, bitmap.h);
    // A decoder bug on a crafted image must not take the scan down with it.
    let found = std::panic::catch_unwind(move || {
        let mut prepared = rqrr::PreparedImage::prepare_from_bitmap(w, h, |x, y| bitmap.dark(x, y));
        prepared
            .detect_grids()
            .into_iter()
            .take(8)
            .filter_map(|g| g.decode().ok().map(|(_, text)| text))
            .collect::<Vec<String>>()
    });
    Ok(found.unwrap_or_default())
}

/// Decodes `data` to grey, scaled to at most [`SEARCH_SIDE`]; `None` when it is not an
/// image we read.
fn load(data: &[u8], max_pixels: u64) -> Result<Option<GrayImage>, Skipped> {
    let format = match image::guess_format(data) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif)) => f,
        _ => return Ok(None),
    };
    // Dimensions come from the header alone; the decoder's allocation limit is set
    // only for the decode (with it, a too-large header is an error, not a size).
    let Ok((w, h)) = ImageReader::with_format(Cursor::new(data), format).into_dimensions() else {
        return Ok(None);
    };
    if u64::from(w) * u64::from(h) > max_pixels {
        return Err(Skipped::TooLarge);
    }
    let mut reader = ImageReader::with_format(Cursor::new(data), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(4).max(1 << 20));
    reader.limits(limits);
    let Ok(img) = reader.decode() else {
        return Ok(None);
    };
    let mut gray = img.into_luma8();
    let side = gray.width().max(gray.height());
    if side > SEARCH_SIDE {
        let scale = f64::from(SEARCH_SIDE) / f64::from(side);
        let (nw, nh) = (
            ((f64::from(gray.width()) * scale) as u32).max(1),
            ((f64::from(gray.height()) * scale) as u32).max(1),
        );
        gray = image::imageops::resize(&gray, nw, nh, image::imageops::FilterType::Triangle);
    }
    Ok(Some(gray))
}

/// A black-and-white image, row by row.
struct Bitmap {
    w: usize,
    h: usize,
    dark: Vec<bool>,
}

impl Bitmap {
    /// Adaptive threshold (Bradley and Roth): a pixel is dark when it is more than 5%
    /// darker than the mean of the square around it, a side of 1/8 of the image; the
    /// means come from one summed-area table, so this is linear in the pixels.
    fn binarise(gray: &GrayImage) -> Bitmap {
        let (w, h) = (gray.width() as usize, gray.height() as usize);
        let mut sums = vec![0u64; (w + 1) * (h + 1)];
        for y in 0..h {
            let mut row = 0u64;
            for x in 0..w {
                row += u64::from(gray.as_raw()[y * w + x]);
                sums[(y + 1) * (w + 1) + x + 1] = sums[y * (w + 1) + x + 1] + row;
            }
        }
        let half = (w.max(h) / 16).max(1);
        let mut dark = Vec::with_capacity(w * h);
        for y in 0..h {
            let (y0, y1) = (y.saturating_sub(half), (y + half + 1).min(h));
            for x in 0..w {
                let (x0, x1) = (x.saturating_sub(half), (x + half + 1).min(w));
                let area = ((x1 - x0) * (y1 - y0)) as u64;
                let total = sums[y1 * (w + 1) + x1] + sums[y0 * (w + 1) + x0]
                    - sums[y0 * (w + 1) + x1]
                    - sums[y1 * (w + 1) + x0];
                let pixel = u64::from(gray.as_raw()[y * w + x]);
                dark.push(pixel * area * 100 < total * 95);
            }
        }
        Bitmap { w, h, dark }
    }

    fn dark(&self, x: usize, y: usize) -> bool {
        self.dark.get(y * self.w + x).copied().unwrap_or(false)
    }

    /// Counts finder-pattern candidates, stopping at `cap`: row hits (dark-light-dark-
    /// light-dark runs in rqrr's 1:1:3:1:1 ratio) that also pass rqrr's region test
    /// (the outer runs one connected dark region, the ring; the centre another, the
    /// stone, of 10% to 70% of the ring's area), counted once per ring. rqrr claims a
    /// ring when it makes a finder pattern of it, so it never finds more than these.
    fn finder_candidates(&self, cap: usize) -> usize {
        let mut regions = Regions::default();
        // (ring's left run, stone run, ring's right run) of every row hit.
        let mut hits: Vec<[u32; 3]> = Vec::new();
        let mut above: Vec<(usize, usize, u32)> = Vec::new();
        for y in 0..self.h {
            let row = &self.dark[y * self.w..(y + 1) * self.w];
            let here = regions.add_row(row, &above);
            let run_at = |x: usize| {
                let i = here.partition_point(|&(_, end, _)| end < x);
                here.get(i).filter(|r| r.0 <= x).map(|r| r.2)
            };
            for [l, s, r] in row_hits(row) {
                if let (Some(l), Some(s), Some(r)) = (run_at(l), run_at(s), run_at(r)) {
                    hits.push([l, s, r]);
                }
            }
            above = here;
        }
        let mut rings = std::collections::HashSet::new();
        for [l, s, r] in hits {
            let (ring, stone) = (regions.root(r), regions.root(s));
            if regions.root(l) != ring || stone == ring {
                continue;
            }
            let ratio = regions.area(stone) * 100 / regions.area(ring).max(1);
            if 10 < ratio && ratio < 70 && rings.insert(ring) && rings.len() >= cap {
                break;
            }
        }
        rings.len()
    }
}

/// Connected dark regions (4-connected, as rqrr's flood fill), built run by run with a
/// union-find.
#[derive(Default)]
struct Regions {
    parent: Vec<u32>,
    area: Vec<u64>,
}

impl Regions {
    /// Adds a row's dark runs, joined to the overlapping runs of the row above; returns
    /// them as (start, end, region) in order.
    fn add_row(&mut self, row: &[bool], above: &[(usize, usize, u32)]) -> Vec<(usize, usize, u32)> {
        let mut runs = Vec::new();
        let mut x = 0;
        while x < row.len() {
            if !row[x] {
                x += 1;
                continue;
            }
            let start = x;
            while x < row.len() && row[x] {
                x += 1;
            }
            let id = self.parent.len() as u32;
            self.parent.push(id);
            self.area.push((x - start) as u64);
            for &(s, e, other) in above {
                if s < x && start <= e {
                    self.union(id, other);
                }
            }
            runs.push((start, x - 1, id));
        }
        runs
    }

    fn root(&mut self, mut id: u32) -> u32 {
        while self.parent[id as usize] != id {
            let up = self.parent[self.parent[id as usize] as usize];
            self.parent[id as usize] = up;
            id = up;
        }
        id
    }

    fn union(&mut self, a: u32, b: u32) {
        let (a, b) = (self.root(a), self.root(b));
        if a != b {
            let (keep, gone) = if a < b { (a, b) } else { (b, a) };
            self.parent[gone as usize] = keep;
            self.area[keep as usize] += self.area[gone as usize];
        }
    }

    fn area(&mut self, id: u32) -> u64 {
        let root = self.root(id);
        self.area[root as usize]
    }
}

/// The start of the ring's left run, of the stone, and of the ring's right run, for
/// each 1:1:3:1:1 dark-light-dark-light-dark pattern of a row, by the same integer
/// test rqrr applies (each run within 3/4 of the mean module width of its ideal
/// length), checked when the run after the pattern turns light.
fn row_hits(row: &[bool]) -> Vec<[usize; 3]> {
    // Runs as (dark, start, length); the row's end counts as a light pixel.
    let mut runs: Vec<(bool, usize, usize)> = Vec::new();
    let mut hits = Vec::new();
    let mut start = 0;
    for x in 1..=row.len() {
        let here = row.get(x).copied().unwrap_or(false);
        if x < row.len() && here == row[x - 1] {
            continue;
        }
        runs.push((row[x - 1], start, x - start));
        start = x;
        if let [a, b, c, d, e] = runs[runs.len().saturating_sub(5)..]
            && e.0
            && !here
            && is_finder([a.2, b.2, c.2, d.2, e.2])
        {
            hits.push([a.1, c.1, e.1]);
        }
    }
    hits
}

/// rqrr's ratio test for the five run lengths of a 1:1:3:1:1 finder-pattern row.
fn is_finder(runs: [usize; 5]) -> bool {
    const RATIO: [usize; 5] = [1, 1, 3, 1, 1];
    let avg = (runs[0] + runs[1] + runs[3] + runs[4]) / 4;
    let err = avg * 3 / 4;
    runs.iter()
        .zip(RATIO)
        .all(|(&r, k)| r + err >= k * avg && r <= k * avg + err)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A QR code rendered by the qrcode crate, `scale` pixels per module, as `format`.
    fn qr_image(text: &str, scale: u32, format: ImageFormat) -> Vec<u8> {
        let code = qrcode::QrCode::new(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let modules = code.width() as u32;
        let colors = code.to_colors();
        let side = (modules + 8) * scale;
        let img = image::GrayImage::from_fn(side, side, |x, y| {
            let (mx, my) = ((x / scale).wrapping_sub(4), (y / scale).wrapping_sub(4));
            let dark = mx < modules
                && my < modules
                && colors[(my * modules + mx) as usize] == qrcode::Color::Dark;
            image::Luma([if dark { 0 } else { 255 }])
        });
        let mut out = Cursor::new(Vec::new());
        // GIF has no grey-only colour type.
        image::DynamicImage::from(img)
            .into_rgb8()
            .write_to(&mut out, format)
            .unwrap_or_else(|e| panic!("{e}"));
        out.into_inner()
    }

    #[test]
    fn qr_codes_in_png_jpeg_and_gif() {
        let url = "https://micros0ft-login.example/verify?u=1";
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Gif] {
            let img = qr_image(url, 6, format);
            assert_eq!(
                decode(&img, 4_000_000),
                Ok(vec![url.to_string()]),
                "{format:?}"
            );
        }
    }

    #[test]
    fn a_large_photo_sized_qr_is_scaled_and_still_read() {
        let img = qr_image("https://example.test/x", 60, ImageFormat::Png);
        assert_eq!(
            decode(&img, 4_000_000),
            Ok(vec!["https://example.test/x".to_string()])
        );
    }

    #[test]
    fn an_image_without_a_code_is_nothing() {
        let img = image::GrayImage::from_fn(200, 100, |x, _| image::Luma([(x % 256) as u8]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(decode(&out.into_inner(), 4_000_000), Ok(Vec::new()));
    }

    #[test]
    fn not_an_image_is_nothing() {
        assert_eq!(decode(b"hello", 1_000_000), Ok(Vec::new()));
        assert_eq!(
            decode(b"\x89PNG\r\n\x1a\nbroken", 1_000_000),
            Ok(Vec::new())
        );
    }

    #[test]
    fn a_huge_image_is_refused_before_decoding() {
        // A PNG header claiming 100,000 x 100,000 pixels, and nothing behind it.
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&100_000u32.to_be_bytes());
        png.extend_from_slice(&100_000u32.to_be_bytes());
        png.extend_from_slice(&[8, 0, 0, 0, 0]);
        let crc = crc32fast::hash(&png[12..]);
        png.extend_from_slice(&crc.to_be_bytes());
        // An empty IDAT chunk: where the header ends.
        png.extend_from_slice(b"\0\0\0\0IDAT");
        png.extend_from_slice(&crc32fast::hash(b"IDAT").to_be_bytes());
        assert_eq!(decode(&png, 4_000_000), Err(Skipped::TooLarge));
    }

    /// A `side` x `side` PNG tiled with finder-pattern look-alikes of `module` pixels per
    /// module, `gap` modules apart.
    fn finder_tiles(side: u32, module: u32, gap: u32) -> Vec<u8> {
        let cell = (7 + gap) * module;
        let img = image::GrayImage::from_fn(side, side, |x, y| {
            let (mx, my) = ((x % cell) / module, (y % cell) / module);
            let ring = mx < 7 && my < 7 && (mx == 0 || mx == 6 || my == 0 || my == 6);
            let stone = (2..5).contains(&mx) && (2..5).contains(&my);
            image::Luma([if ring || stone { 0 } else { 255 }])
        });
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png)
            .unwrap_or_else(|e| panic!("{e}"));
        out.into_inner()
    }

    /// Issue 15, High 2: a 2000x2000 PNG of a few KB tiled with QR finder-pattern
    /// look-alikes kept rqrr busy for minutes. Now it is counted in one pass and
    /// refused as too complex, whatever the tile size.
    #[test]
    fn qr_finder_pattern_bomb_is_refused_without_a_search() {
        for (module, gap) in [(2, 1), (6, 3), (4, 1), (4, 2), (5, 2), (8, 1), (20, 2)] {
            let png = finder_tiles(2000, module, gap);
            assert_eq!(
                decode(&png, 4_000_000),
                Err(Skipped::TooComplex),
                "module {module} px, gap {gap}, {} bytes",
                png.len()
            );
        }
    }

    /// Modules that blur away in the scaling to the search size leave few candidates:
    /// searched, quickly, and nothing found.
    #[test]
    fn finder_patterns_finer_than_the_search_size_are_nothing() {
        for (module, gap) in [(1, 1), (3, 1)] {
            let png = finder_tiles(2000, module, gap);
            assert_eq!(decode(&png, 4_000_000), Ok(Vec::new()), "{module} px");
        }
    }

    /// The count stays under the limit for real codes: a dense one (version 10 and up)
    /// and two codes in one image are still read.
    #[test]
    fn dense_and_paired_codes_stay_under_the_candidate_limit() {
        let long = format!("https://example.test/{}", "a1B2".repeat(60));
        let img = qr_image(&long, 4, ImageFormat::Png);
        for text in [long.as_str(), "https://example.test/x"] {
            let code = image::load_from_memory(&qr_image(text, 4, ImageFormat::Png))
                .unwrap_or_else(|e| panic!("{e}"))
                .into_luma8();
            let bitmap = Bitmap::binarise(&code);
            let n = bitmap.finder_candidates(usize::MAX);
            assert_eq!(n, 3, "three finder patterns");
        }
        assert_eq!(decode(&img, 4_000_000), Ok(vec![long.clone()]));
    }
}
