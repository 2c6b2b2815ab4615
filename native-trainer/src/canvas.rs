//! A small RGB canvas for the reports' PNG plots: rectangles, discs, thick lines and text in
//! an 8×8 bitmap font, encoded with the `png` crate (no system fonts or plotting stack needed).

use font8x8::{BASIC_FONTS, UnicodeFonts};

/// An RGB colour.
pub type Rgb = [u8; 3];
/// White.
pub const WHITE: Rgb = [255, 255, 255];
/// Black.
pub const BLACK: Rgb = [0, 0, 0];
/// Grid lines.
pub const GRID: Rgb = [225, 225, 225];

/// An RGB image being drawn.
pub struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    /// A white canvas of `w`×`h` pixels.
    pub fn new(w: usize, h: usize) -> Self {
        Self { w, h, px: vec![255; w * h * 3] }
    }

    /// Sets one pixel (outside the canvas: ignored).
    pub fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let i = (y as usize * self.w + x as usize) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    /// A filled rectangle between two corners.
    pub fn rect(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, c: Rgb) {
        for y in y0.round() as i64..=y1.round() as i64 {
            for x in x0.round() as i64..=x1.round() as i64 {
                self.set(x, y, c);
            }
        }
    }

    /// A filled disc.
    pub fn disc(&mut self, cx: f64, cy: f64, r: f64, c: Rgb) {
        let (x0, x1, y0, y1) = (
            (cx - r).floor() as i64,
            (cx + r).ceil() as i64,
            (cy - r).floor() as i64,
            (cy + r).ceil() as i64,
        );
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (dx, dy) = (x as f64 - cx, y as f64 - cy);
                if dx * dx + dy * dy <= r * r {
                    self.set(x, y, c);
                }
            }
        }
    }

    /// A line `width` pixels thick (discs stamped every half pixel).
    pub fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), width: f64, c: Rgb) {
        let n = ((x1 - x0).hypot(y1 - y0) * 2.0).ceil().max(1.0) as usize;
        for i in 0..=n {
            let t = i as f64 / n as f64;
            self.disc(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, width / 2.0, c);
        }
    }

    /// Text with its top-left corner at (x, y), each font pixel drawn `scale`×`scale`.
    pub fn text(&mut self, x: f64, y: f64, s: &str, scale: usize, c: Rgb) {
        for (k, ch) in s.chars().enumerate() {
            let glyph = BASIC_FONTS.get(ch).or_else(|| BASIC_FONTS.get('?')).unwrap_or([0; 8]);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        let px = x as i64 + ((k * 8 + col) * scale) as i64;
                        let py = y as i64 + (row * scale) as i64;
                        for dy in 0..scale as i64 {
                            for dx in 0..scale as i64 {
                                self.set(px + dx, py + dy, c);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Width in pixels of `s` drawn at `scale`.
    pub fn text_width(s: &str, scale: usize) -> f64 {
        (s.chars().count() * 8 * scale) as f64
    }

    /// The image as PNG bytes.
    pub fn encode(&self) -> anyhow::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, self.w as u32, self.h as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header()?;
        writer.write_image_data(&self.px)?;
        writer.finish()?;
        Ok(out)
    }
}

/// Axis range with some headroom; a flat series gets a visible band around its value.
pub fn y_range(vals: &[f64]) -> (f64, f64) {
    let finite: Vec<f64> = vals.iter().copied().filter(|v| v.is_finite()).collect();
    let (lo, hi) =
        finite.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    if finite.is_empty() {
        return (0.0, 1.0);
    }
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) * 0.1 };
    (lo - span * 0.15, hi + span * 0.15)
}

/// Tick label text with as many decimals as the span needs.
pub fn tick_label(v: f64, span: f64) -> String {
    match span {
        s if s >= 20.0 => format!("{v:.0}"),
        s if s >= 2.0 => format!("{v:.1}"),
        s if s >= 0.2 => format!("{v:.2}"),
        _ => format!("{v:.3}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_ticks() {
        assert_eq!(y_range(&[]), (0.0, 1.0));
        let (lo, hi) = y_range(&[50.0, 50.0]);
        assert!(lo < 50.0 && hi > 50.0);
        assert_eq!(tick_label(0.1234, 0.05), "0.123");
        assert_eq!(tick_label(55.0, 80.0), "55");
    }
}
