//! A captcha image drawn on the terminal itself, so a person need not open a file to read it:
//! each character cell shows two pixels, the upper one as the foreground colour of `▀` (upper
//! half block) and the lower one as the background, both in 24-bit colour
//! (`ESC[38;2;r;g;bm`, `ESC[48;2;r;g;bm`), the colours reset at the end of every line.
//!
//! PNG and GIF (what the five services send) are decoded; other types (JPEG, WebP, BMP) are not
//! drawn, and the person opens the file announced next to the drawing instead. Transparent
//! pixels are laid on white, as a browser on a light page would show them.

use std::fmt::Write as _;

/// Never wider than this many columns, whatever the terminal: a captcha needs no more.
pub const MAX_COLUMNS: usize = 80;
/// Images larger than this are not decoded (a captcha is a few thousand pixels).
const MAX_PIXELS: usize = 4 * 1024 * 1024;

/// An image as 8-bit RGB rows, transparency already laid on white.
struct Rgb {
    width: usize,
    height: usize,
    pixels: Vec<[u8; 3]>,
}

/// The drawing of `image` at most `columns` wide (and never wider than the image), one
/// terminal line per two pixel rows; `None` when the image cannot be decoded here.
pub fn render(image: &[u8], media_type: &str, columns: usize) -> Option<String> {
    let decoded = match media_type {
        "image/png" => decode_png(image),
        "image/gif" => decode_gif(image),
        _ => None,
    }?;
    let columns = columns.clamp(1, MAX_COLUMNS);
    Some(draw(&scale(&decoded, columns)))
}

/// The width of the terminal on stderr (where the drawing goes), at most [`MAX_COLUMNS`].
pub fn terminal_columns() -> usize {
    let measured = stderr_columns().or_else(|| {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
    });
    measured
        .filter(|&c| c > 0)
        .unwrap_or(MAX_COLUMNS)
        .min(MAX_COLUMNS)
}

#[cfg(unix)]
fn stderr_columns() -> Option<usize> {
    // SAFETY: TIOCGWINSZ writes one `winsize` into the struct we pass and reads nothing else.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0).then_some(usize::from(size.ws_col))
}

#[cfg(not(unix))]
fn stderr_columns() -> Option<usize> {
    None
}

/// Whether colour output is allowed: not when NO_COLOR is set to anything (no-color.org), nor
/// on a console that cannot show it.
pub fn colour_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && crate::output::console_shows_colours()
}

fn on_white(rgba: [u8; 4]) -> [u8; 3] {
    let alpha = u32::from(rgba[3]);
    let blend = |c: u8| ((u32::from(c) * alpha + 255 * (255 - alpha)) / 255) as u8;
    [blend(rgba[0]), blend(rgba[1]), blend(rgba[2])]
}

fn decode_png(bytes: &[u8]) -> Option<Rgb> {
    let mut decoder = png::Decoder::new_with_limits(
        bytes,
        png::Limits {
            bytes: MAX_PIXELS * 4,
        },
    );
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().ok()?;
    let mut buffer = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buffer).ok()?;
    let (width, height) = (frame.width as usize, frame.height as usize);
    if width == 0 || height == 0 || width.checked_mul(height)? > MAX_PIXELS {
        return None;
    }
    let channels = frame.color_type.samples();
    let mut pixels = Vec::with_capacity(width * height);
    for row in buffer[..frame.buffer_size()].chunks(frame.line_size) {
        for px in row[..width * channels].chunks_exact(channels) {
            let rgba = match channels {
                1 => [px[0], px[0], px[0], 255],
                2 => [px[0], px[0], px[0], px[1]],
                3 => [px[0], px[1], px[2], 255],
                _ => [px[0], px[1], px[2], px[3]],
            };
            pixels.push(on_white(rgba));
        }
    }
    (pixels.len() == width * height).then_some(Rgb {
        width,
        height,
        pixels,
    })
}

/// The first frame of a GIF, on its logical screen (white where the frame does not cover it).
fn decode_gif(bytes: &[u8]) -> Option<Rgb> {
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    options.set_memory_limit(gif::MemoryLimit::Bytes(std::num::NonZeroU64::new(
        (MAX_PIXELS * 4) as u64,
    )?));
    let mut decoder = options.read_info(bytes).ok()?;
    let (width, height) = (decoder.width() as usize, decoder.height() as usize);
    if width == 0 || height == 0 || width.checked_mul(height)? > MAX_PIXELS {
        return None;
    }
    let frame = decoder.read_next_frame().ok()??;
    let mut pixels = vec![[255u8; 3]; width * height];
    let (left, top) = (usize::from(frame.left), usize::from(frame.top));
    let frame_width = usize::from(frame.width);
    for (i, px) in frame.buffer.chunks_exact(4).enumerate() {
        let (x, y) = (left + i % frame_width.max(1), top + i / frame_width.max(1));
        if x < width && y < height {
            pixels[y * width + x] = on_white([px[0], px[1], px[2], px[3]]);
        }
    }
    Some(Rgb {
        width,
        height,
        pixels,
    })
}

/// `image` scaled to `columns` wide at most (never enlarged), keeping its proportions: each
/// target pixel is the average of the source pixels it covers, so thin strokes stay visible.
fn scale(image: &Rgb, columns: usize) -> Rgb {
    let width = image.width.min(columns).max(1);
    let height = ((image.height * width).div_ceil(image.width)).max(1);
    let mut pixels = Vec::with_capacity(width * height);
    for y in 0..height {
        let (y0, y1) = span(y, height, image.height);
        for x in 0..width {
            let (x0, x1) = span(x, width, image.width);
            let mut sum = [0u32; 3];
            for sy in y0..y1 {
                for sx in x0..x1 {
                    let p = image.pixels[sy * image.width + sx];
                    for c in 0..3 {
                        sum[c] += u32::from(p[c]);
                    }
                }
            }
            let n = ((y1 - y0) * (x1 - x0)) as u32;
            pixels.push(sum.map(|s| (s / n) as u8));
        }
    }
    Rgb {
        width,
        height,
        pixels,
    }
}

/// The source range `[start, end)` that target index `i` of `target` covers in `source`.
fn span(i: usize, target: usize, source: usize) -> (usize, usize) {
    let start = i * source / target;
    let end = ((i + 1) * source / target).max(start + 1).min(source);
    (start, end)
}

fn draw(image: &Rgb) -> String {
    let mut out = String::new();
    for top in (0..image.height).step_by(2) {
        for x in 0..image.width {
            let upper = image.pixels[top * image.width + x];
            // An odd last row has white below it.
            let lower = if top + 1 < image.height {
                image.pixels[(top + 1) * image.width + x]
            } else {
                [255; 3]
            };
            let _ = write!(
                out,
                "\x1b[38;2;{};{};{}m\x1b[48;2;{};{};{}m▀",
                upper[0], upper[1], upper[2], lower[0], lower[1], lower[2]
            );
        }
        out.push_str("\x1b[0m\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `width`×`height` RGBA PNG whose left half is black and right half white.
    fn half_black_png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        let mut data = Vec::new();
        for _ in 0..height {
            for x in 0..width {
                let v = if x < width / 2 { 0 } else { 255 };
                data.extend_from_slice(&[v, v, v, 255]);
            }
        }
        writer.write_image_data(&data).unwrap();
        writer.finish().unwrap();
        bytes
    }

    #[test]
    fn a_png_is_drawn_with_half_blocks_in_true_colour() {
        let drawing = render(&half_black_png(8, 4), "image/png", 80).unwrap();
        let lines: Vec<&str> = drawing.lines().collect();
        assert_eq!(lines.len(), 2, "two pixel rows per line: {drawing:?}");
        for line in &lines {
            assert_eq!(line.matches('▀').count(), 8, "never enlarged");
            assert!(
                line.starts_with("\x1b[38;2;0;0;0m\x1b[48;2;0;0;0m▀"),
                "{line:?}"
            );
            assert!(line.contains("\x1b[38;2;255;255;255m\x1b[48;2;255;255;255m▀"));
            assert!(line.ends_with("\x1b[0m"), "reset after each line: {line:?}");
        }
    }

    #[test]
    fn a_wide_image_is_scaled_to_the_columns_keeping_its_proportions() {
        let drawing = render(&half_black_png(400, 100), "image/png", 50).unwrap();
        let lines: Vec<&str> = drawing.lines().collect();
        assert_eq!(lines[0].matches('▀').count(), 50);
        // 400×100 → 50×13 pixels → 7 lines.
        assert_eq!(lines.len(), 7);
        let capped = render(&half_black_png(400, 100), "image/png", 500).unwrap();
        assert_eq!(capped.lines().next().unwrap().matches('▀').count(), 80);
    }

    #[test]
    fn a_gif_is_drawn_and_other_types_are_not() {
        let mut bytes = Vec::new();
        {
            let palette = [0u8, 0, 0, 255, 0, 0];
            let mut encoder = gif::Encoder::new(&mut bytes, 4, 2, &palette).unwrap();
            let frame = gif::Frame {
                width: 4,
                height: 2,
                buffer: std::borrow::Cow::Borrowed(&[0, 1, 1, 0, 1, 0, 0, 1]),
                ..gif::Frame::default()
            };
            encoder.write_frame(&frame).unwrap();
        }
        let drawing = render(&bytes, "image/gif", 80).unwrap();
        assert_eq!(drawing.lines().count(), 1);
        assert!(
            drawing.starts_with("\x1b[38;2;0;0;0m\x1b[48;2;255;0;0m▀"),
            "{drawing:?}"
        );
        assert_eq!(render(b"\xFF\xD8\xFF\xE0", "image/jpeg", 80), None);
        assert_eq!(render(b"\x89PNG\r\n\x1a\nbroken", "image/png", 80), None);
    }
}
