//! QR codes in images (PNG, JPEG, GIF), whose URLs then go through the link checks:
//! "scan the code to keep your MFA active" hides the link from every text filter.
//!
//! Bounded: the image's dimensions are read from its header before anything is
//! decoded, and an image with more pixels than allowed is not decoded at all (the
//! caller records a scan limit). The decoder's own allocation limit backs that up, and
//! large images are scaled down before the QR search, whose cost grows with pixels.

use image::{ImageFormat, ImageReader};
use std::io::Cursor;

/// The image has more pixels than the scan allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

/// Longest side searched for QR codes; larger images are scaled down first (a code
/// still has several pixels per module at this size in any realistic mail image).
const SEARCH_SIDE: u32 = 1024;

/// The texts of the QR codes in an image. Not an image, or an image format we do not
/// read: nothing.
pub fn decode(data: &[u8], max_pixels: u64) -> Result<Vec<String>, TooLarge> {
    let format = match image::guess_format(data) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif)) => f,
        _ => return Ok(Vec::new()),
    };
    // Dimensions come from the header alone; the decoder's allocation limit is set
    // only for the decode (with it, a too-large header is an error, not a size).
    let Ok((w, h)) = ImageReader::with_format(Cursor::new(data), format).into_dimensions() else {
        return Ok(Vec::new());
    };
    if u64::from(w) * u64::from(h) > max_pixels {
        return Err(TooLarge);
    }
    let mut reader = ImageReader::with_format(Cursor::new(data), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(4).max(1 << 20));
    reader.limits(limits);
    let Ok(img) = reader.decode() else {
        return Ok(Vec::new());
    };
    let mut gray = img.into_luma8();
    if gray.width().max(gray.height()) > SEARCH_SIDE {
        let scale = f64::from(SEARCH_SIDE) / f64::from(gray.width().max(gray.height()));
        let (nw, nh) = (
            ((f64::from(gray.width()) * scale) as u32).max(1),
            ((f64::from(gray.height()) * scale) as u32).max(1),
        );
        gray = image::imageops::resize(&gray, nw, nh, image::imageops::FilterType::Triangle);
    }
    let (gw, gh) = (gray.width() as usize, gray.height() as usize);
    // A decoder bug on a crafted image must not take the scan down with it.
    let found = std::panic::catch_unwind(move || {
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(gw, gh, |x, y| {
            gray.get_pixel(x as u32, y as u32).0[0]
        });
        prepared
            .detect_grids()
            .into_iter()
            .take(8)
            .filter_map(|g| g.decode().ok().map(|(_, text)| text))
            .collect::<Vec<String>>()
    });
    Ok(found.unwrap_or_default())
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
        assert_eq!(decode(&png, 4_000_000), Err(TooLarge));
    }
}
