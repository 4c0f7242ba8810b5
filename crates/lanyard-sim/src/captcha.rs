//! Captcha images for the simulators: real PNG / GIF pictures a person can read.
//!
//! The glyphs come from a small embedded 5×8 bitmap font (digits, A–Z, a–z; row 7 is the
//! descender row). Each glyph is scaled up, drawn in a dark colour with a small random offset,
//! over a light background with a few faint noise lines and dots drawn *under* the glyphs, so
//! the noise never hides a stroke.
//!
//! - [`render_png`]: 130×50 RGB PNG (SiYuan-style).
//! - [`render_gif`]: 100×28 GIF87a (ShopXO-style: the gif crate writes GIF89a with a graphic
//!   control extension; we drop that extension and stamp the header `GIF87a`, which is then a
//!   valid 87a file).
//! - [`random_answer`]: `len` characters drawn from `charset`.

use rand::Rng;

/// Size of [`render_png`] images.
pub const PNG_WIDTH: u32 = 130;
pub const PNG_HEIGHT: u32 = 50;
/// Size of [`render_gif`] images (as ShopXO's `Verify`).
pub const GIF_WIDTH: u16 = 100;
pub const GIF_HEIGHT: u16 = 28;

/// ShopXO's default captcha character set (`common_images_verify_rand_type` 0).
pub const SHOPXO_DIGITS: &str = "23456789";

const GLYPH_W: usize = 5;
const GLYPH_H: usize = 8;

/// One glyph: 8 rows, bit 4 is the leftmost column.
type Glyph = [u8; GLYPH_H];

const DIGITS: [Glyph; 10] = [
    [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E, 0], // 0
    [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E, 0], // 1
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F, 0], // 2
    [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E, 0], // 3
    [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02, 0], // 4
    [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E, 0], // 5
    [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E, 0], // 6
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08, 0], // 7
    [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E, 0], // 8
    [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C, 0], // 9
];

const UPPER: [Glyph; 26] = [
    [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0], // A
    [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E, 0], // B
    [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E, 0], // C
    [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C, 0], // D
    [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F, 0], // E
    [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10, 0], // F
    [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F, 0], // G
    [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11, 0], // H
    [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E, 0], // I
    [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C, 0], // J
    [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11, 0], // K
    [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F, 0], // L
    [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11, 0], // M
    [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0], // N
    [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E, 0], // O
    [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10, 0], // P
    [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D, 0], // Q
    [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11, 0], // R
    [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E, 0], // S
    [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0], // T
    [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E, 0], // U
    [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04, 0], // V
    [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A, 0], // W
    [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11, 0], // X
    [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0], // Y
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F, 0], // Z
];

const LOWER: [Glyph; 26] = [
    [0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F, 0x00], // a
    [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E, 0x00], // b
    [0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E, 0x00], // c
    [0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F, 0x00], // d
    [0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E, 0x00], // e
    [0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08, 0x00], // f
    [0x00, 0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E], // g
    [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00], // h
    [0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E, 0x00], // i
    [0x02, 0x00, 0x06, 0x02, 0x02, 0x02, 0x12, 0x0C], // j
    [0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12, 0x00], // k
    [0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00], // l
    [0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11, 0x00], // m
    [0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00], // n
    [0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E, 0x00], // o
    [0x00, 0x00, 0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10], // p
    [0x00, 0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x01], // q
    [0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10, 0x00], // r
    [0x00, 0x00, 0x0F, 0x10, 0x0E, 0x01, 0x1E, 0x00], // s
    [0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06, 0x00], // t
    [0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D, 0x00], // u
    [0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04, 0x00], // v
    [0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A, 0x00], // w
    [0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x00], // x
    [0x00, 0x00, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x0E], // y
    [0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F, 0x00], // z
];

/// Drawn for characters the font lacks: a hollow box.
const UNKNOWN: Glyph = [0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F, 0];
const BLANK: Glyph = [0; GLYPH_H];

fn glyph(c: char) -> &'static Glyph {
    match c {
        '0'..='9' => &DIGITS[c as usize - '0' as usize],
        'A'..='Z' => &UPPER[c as usize - 'A' as usize],
        'a'..='z' => &LOWER[c as usize - 'a' as usize],
        ' ' => &BLANK,
        _ => &UNKNOWN,
    }
}

// Palette indices shared by both encoders.
const BG: u8 = 0;
const NOISE: [u8; 3] = [1, 2, 3];
const INK: [u8; 4] = [4, 5, 6, 7];

/// 8 colours: a light background, three faint noise tints, four dark inks.
fn palette(rng: &mut impl Rng) -> [[u8; 3]; 8] {
    let bg = [
        rng.random_range(238..=252),
        rng.random_range(238..=252),
        rng.random_range(238..=252),
    ];
    [
        bg,
        [200, 205, 225],
        [215, 200, 190],
        [195, 215, 200],
        [30, 50, 140],
        [150, 25, 35],
        [20, 100, 45],
        [90, 30, 120],
    ]
}

/// An indexed-colour canvas.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            px: vec![BG; w * h],
        }
    }

    fn set(&mut self, x: i32, y: i32, c: u8) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            self.px[y as usize * self.w + x as usize] = c;
        }
    }

    /// A 1-pixel line (Bresenham).
    fn line(&mut self, (mut x0, mut y0): (i32, i32), (x1, y1): (i32, i32), c: u8) {
        let dx = (x1 - x0).abs();
        let dy = -(y1 - y0).abs();
        let sx = if x0 < x1 { 1 } else { -1 };
        let sy = if y0 < y1 { 1 } else { -1 };
        let mut err = dx + dy;
        loop {
            self.set(x0, y0, c);
            if x0 == x1 && y0 == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x0 += sx;
            }
            if e2 <= dx {
                err += dx;
                y0 += sy;
            }
        }
    }

    /// Noise under the text: a few faint lines and sparse dots.
    fn noise(&mut self, rng: &mut impl Rng, lines: usize, dots: usize) {
        let (w, h) = (self.w as i32, self.h as i32);
        for i in 0..lines {
            let c = NOISE[i % NOISE.len()];
            let a = (0, rng.random_range(0..h));
            let b = (w - 1, rng.random_range(0..h));
            self.line(a, b, c);
        }
        for _ in 0..dots {
            let c = NOISE[rng.random_range(0..NOISE.len())];
            self.set(rng.random_range(0..w), rng.random_range(0..h), c);
        }
    }

    /// Draws `text` centred, each glyph scaled by `scale` with a small random offset.
    fn text(&mut self, rng: &mut impl Rng, text: &str, scale: usize, gap: usize, jitter: i32) {
        let n = text.chars().count();
        if n == 0 {
            return;
        }
        let gw = GLYPH_W * scale;
        let gh = GLYPH_H * scale;
        let total = n * gw + (n - 1) * gap;
        let x0 = (self.w as i32 - total as i32) / 2;
        // Centre the 7 rows above the descender row; descenders may hang a little lower.
        let y0 = (self.h as i32 - (gh - scale) as i32) / 2;
        for (i, ch) in text.chars().enumerate() {
            let g = glyph(ch);
            let ink = INK[rng.random_range(0..INK.len())];
            let gx = x0 + (i * (gw + gap)) as i32 + rng.random_range(-jitter..=jitter);
            let gy = y0 + rng.random_range(-jitter..=jitter);
            for (row, bits) in g.iter().enumerate() {
                for col in 0..GLYPH_W {
                    if bits & (0x10 >> col) == 0 {
                        continue;
                    }
                    for dy in 0..scale {
                        for dx in 0..scale {
                            self.set(
                                gx + (col * scale + dx) as i32,
                                gy + (row * scale + dy) as i32,
                                ink,
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Largest scale (and the gap that goes with it) at which `n` glyphs fit in `w`×`h`.
fn layout(n: usize, w: usize, h: usize) -> (usize, usize) {
    let n = n.max(1);
    let mut best = (1, 1);
    for scale in 1..=8 {
        let gap = scale;
        let width = n * GLYPH_W * scale + (n - 1) * gap;
        // 7 visible rows plus room for the offset jitter.
        if width + 8 <= w && 7 * scale + 4 <= h {
            best = (scale, gap);
        }
    }
    best
}

fn draw(text: &str, w: usize, h: usize, rng: &mut impl Rng) -> Canvas {
    let mut c = Canvas::new(w, h);
    let (scale, gap) = layout(text.chars().count(), w, h);
    c.noise(rng, 3, w * h / 40);
    let jitter = if h >= 40 { 3 } else { 2 };
    c.text(rng, text, scale, gap, jitter);
    c
}

/// A 130×50 RGB PNG showing `text`.
pub fn render_png(text: &str) -> Vec<u8> {
    let mut rng = rand::rng();
    let pal = palette(&mut rng);
    let canvas = draw(text, PNG_WIDTH as usize, PNG_HEIGHT as usize, &mut rng);
    let rgb: Vec<u8> = canvas.px.iter().flat_map(|&i| pal[i as usize]).collect();
    let mut out = Vec::with_capacity(2048);
    {
        let mut enc = png::Encoder::new(&mut out, PNG_WIDTH, PNG_HEIGHT);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().expect("png header to a Vec");
        writer.write_image_data(&rgb).expect("png data to a Vec");
        writer.finish().expect("png end to a Vec");
    }
    out
}

/// A 100×28 GIF87a showing `text` (ShopXO's captcha format).
pub fn render_gif(text: &str) -> Vec<u8> {
    let mut rng = rand::rng();
    let pal = palette(&mut rng);
    let canvas = draw(text, GIF_WIDTH as usize, GIF_HEIGHT as usize, &mut rng);
    let flat: Vec<u8> = pal.iter().flatten().copied().collect();
    let mut out = Vec::with_capacity(1024);
    {
        let mut enc =
            gif::Encoder::new(&mut out, GIF_WIDTH, GIF_HEIGHT, &flat).expect("gif header to a Vec");
        let frame = gif::Frame::from_indexed_pixels(GIF_WIDTH, GIF_HEIGHT, canvas.px, None);
        enc.write_frame(&frame).expect("gif frame to a Vec");
    }
    to_gif87a(out)
}

/// Drops every extension block (87a has none) and stamps the header `GIF87a`.
fn to_gif87a(gif89: Vec<u8>) -> Vec<u8> {
    fn skip_sub_blocks(b: &[u8], mut i: usize) -> Option<usize> {
        loop {
            let len = *b.get(i)? as usize;
            i += 1 + len;
            if len == 0 {
                return Some(i);
            }
        }
    }
    fn convert(b: &[u8]) -> Option<Vec<u8>> {
        let flags = *b.get(10)?;
        let gct = if flags & 0x80 != 0 {
            3 << ((flags & 7) + 1)
        } else {
            0
        };
        let mut i = 13 + gct;
        let mut out = Vec::with_capacity(b.len());
        out.extend_from_slice(b"GIF87a");
        out.extend_from_slice(b.get(6..i)?);
        loop {
            match *b.get(i)? {
                0x21 => i = skip_sub_blocks(b, i + 2)?,
                0x2C => {
                    let start = i;
                    let lflags = *b.get(i + 9)?;
                    let lct = if lflags & 0x80 != 0 {
                        3 << ((lflags & 7) + 1)
                    } else {
                        0
                    };
                    // descriptor, local table, LZW minimum code size, then data sub-blocks
                    i = skip_sub_blocks(b, i + 10 + lct + 1)?;
                    out.extend_from_slice(b.get(start..i)?);
                }
                0x3B => {
                    out.push(0x3B);
                    return Some(out);
                }
                _ => return None,
            }
        }
    }
    convert(&gif89).unwrap_or(gif89)
}

/// `len` characters drawn uniformly from `charset` (empty charset: empty answer).
pub fn random_answer(charset: &str, len: usize) -> String {
    let chars: Vec<char> = charset.chars().collect();
    if chars.is_empty() {
        return String::new();
    }
    let mut rng = rand::rng();
    (0..len)
        .map(|_| chars[rng.random_range(0..chars.len())])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn be32(b: &[u8]) -> u32 {
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    #[test]
    fn png_is_130x50_and_decodes() {
        let png = render_png("Ab3x");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!((be32(&png[16..20]), be32(&png[20..24])), (130, 50));
        let dec = png::Decoder::new(&png[..]);
        let mut reader = dec.read_info().expect("png decodes");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("frame");
        assert_eq!((info.width, info.height), (130, 50));
    }

    #[test]
    fn gif_is_87a_100x28_and_decodes() {
        let gif = render_gif("8249");
        assert_eq!(&gif[..6], b"GIF87a");
        assert_eq!(u16::from_le_bytes([gif[6], gif[7]]), 100);
        assert_eq!(u16::from_le_bytes([gif[8], gif[9]]), 28);
        // 8-colour global table (24 bytes) right after the screen descriptor, then straight to
        // the image descriptor: no extension blocks.
        assert_eq!(gif[10] & 0x87, 0x82);
        assert_eq!(gif[13 + 24], 0x2C);
        assert_eq!(gif.last(), Some(&0x3B));
        let mut opts = gif::DecodeOptions::new();
        opts.set_color_output(gif::ColorOutput::Indexed);
        let mut dec = opts.read_info(&gif[..]).expect("gif decodes");
        let frame = dec.read_next_frame().expect("frame").expect("one frame");
        assert_eq!((frame.width, frame.height), (100, 28));
        // Some ink was drawn.
        assert!(frame.buffer.iter().any(|&p| INK.contains(&p)));
    }

    /// `LANYARD_CAPTCHA_DUMP=/tmp cargo test -p lanyard-sim captcha` writes samples to look at.
    #[test]
    fn dump_samples_when_asked() {
        if let Some(dir) = std::env::var_os("LANYARD_CAPTCHA_DUMP") {
            let dir = std::path::PathBuf::from(dir);
            std::fs::write(dir.join("captcha-sample.png"), render_png("K7pQ2x")).unwrap();
            std::fs::write(dir.join("captcha-sample4.png"), render_png("3858")).unwrap();
            std::fs::write(dir.join("captcha-sample.gif"), render_gif("8249")).unwrap();
            let all: String = ('A'..='Z').collect();
            std::fs::write(dir.join("captcha-upper.png"), render_png(&all[..10])).unwrap();
            let all: String = ('a'..='z').collect();
            std::fs::write(dir.join("captcha-lower.png"), render_png(&all[..10])).unwrap();
        }
    }

    #[test]
    fn every_glyph_has_ink_and_fits() {
        for c in ('0'..='9').chain('A'..='Z').chain('a'..='z') {
            let g = glyph(c);
            assert!(g.iter().any(|&r| r != 0), "{c} is blank");
            assert!(g.iter().all(|&r| r < 0x20), "{c} is wider than 5");
        }
    }

    #[test]
    fn answers_come_from_the_charset() {
        let a = random_answer(SHOPXO_DIGITS, 4);
        assert_eq!(a.len(), 4);
        assert!(a.chars().all(|c| SHOPXO_DIGITS.contains(c)));
        assert_eq!(random_answer("", 4), "");
        // Long texts still fit (smaller scale), no panic.
        assert!(!render_png("abcdefghijkl").is_empty());
        assert!(!render_gif("").is_empty());
    }
}
