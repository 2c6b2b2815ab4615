//! The `iterate` report's PNG plot: classifier-safe %, F1 and perplexity by round, one panel
//! each, drawn on an RGB canvas with an 8×8 bitmap font and encoded with the `png` crate (no
//! system fonts or plotting stack needed).

use super::report::RoundRow;
use font8x8::{BASIC_FONTS, UnicodeFonts};

type Rgb = [u8; 3];
const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const GRID: Rgb = [225, 225, 225];

/// An RGB image being drawn.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Self {
        Self { w, h, px: vec![255; w * h * 3] }
    }

    fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let i = (y as usize * self.w + x as usize) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    fn rect(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, c: Rgb) {
        for y in y0.round() as i64..=y1.round() as i64 {
            for x in x0.round() as i64..=x1.round() as i64 {
                self.set(x, y, c);
            }
        }
    }

    fn disc(&mut self, cx: f64, cy: f64, r: f64, c: Rgb) {
        let (x0, x1, y0, y1) = ((cx - r).floor() as i64, (cx + r).ceil() as i64, (cy - r).floor() as i64, (cy + r).ceil() as i64);
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
    fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), width: f64, c: Rgb) {
        let n = ((x1 - x0).hypot(y1 - y0) * 2.0).ceil().max(1.0) as usize;
        for i in 0..=n {
            let t = i as f64 / n as f64;
            self.disc(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, width / 2.0, c);
        }
    }

    /// Text with its top-left corner at (x, y), each font pixel drawn `scale`×`scale`.
    fn text(&mut self, x: f64, y: f64, s: &str, scale: usize, c: Rgb) {
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

    fn text_width(s: &str, scale: usize) -> f64 {
        (s.chars().count() * 8 * scale) as f64
    }

    fn encode(&self) -> anyhow::Result<Vec<u8>> {
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
fn y_range(vals: &[f64]) -> (f64, f64) {
    let finite: Vec<f64> = vals.iter().copied().filter(|v| v.is_finite()).collect();
    let (lo, hi) = finite.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    if finite.is_empty() {
        return (0.0, 1.0);
    }
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) * 0.1 };
    (lo - span * 0.15, hi + span * 0.15)
}

/// Tick label text with as many decimals as the span needs.
fn tick_label(v: f64, span: f64) -> String {
    match span {
        s if s >= 20.0 => format!("{v:.0}"),
        s if s >= 2.0 => format!("{v:.1}"),
        s if s >= 0.2 => format!("{v:.2}"),
        _ => format!("{v:.3}"),
    }
}

/// The report plot as PNG bytes: three panels (safe %, F1, perplexity) against the round.
pub fn png_plot(rows: &[RoundRow]) -> anyhow::Result<Vec<u8>> {
    let (w, h) = (1200usize, 420usize);
    let mut cv = Canvas::new(w, h);
    // (title, colour, values, fixed axis range)
    let panels: [(&str, Rgb, Vec<f64>, Option<(f64, f64)>); 3] = [
        ("classifier-safe %", [27, 158, 119], rows.iter().map(|r| r.safe_pct).collect(), Some((0.0, 100.0))),
        ("dialogue F1", [117, 112, 179], rows.iter().map(|r| r.f1).collect(), None),
        ("dialogue perplexity", [217, 95, 2], rows.iter().map(|r| r.ppl).collect(), None),
    ];
    let (left, gap, top, bottom) = (70.0, 80.0, 60.0, 70.0);
    let panel_w = (w as f64 - left - 20.0 - 2.0 * gap) / 3.0;
    let (y_top, y_bot) = (top, h as f64 - bottom);
    for (p, (title, color, vals, fixed)) in panels.iter().enumerate() {
        let x0 = left + p as f64 * (panel_w + gap);
        let x1 = x0 + panel_w;
        let (lo, hi) = fixed.unwrap_or_else(|| y_range(vals));
        let y_of = |v: f64| y_bot - (v - lo) / (hi - lo) * (y_bot - y_top);
        let x_of = |i: usize| if rows.len() <= 1 { (x0 + x1) / 2.0 } else { x0 + 20.0 + (panel_w - 40.0) * i as f64 / (rows.len() - 1) as f64 };
        cv.text(x0 + (panel_w - Canvas::text_width(title, 2)) / 2.0, 18.0, title, 2, BLACK);
        for k in 0..=4 {
            let v = lo + (hi - lo) * k as f64 / 4.0;
            let y = y_of(v);
            cv.rect(x0, y, x1, y, GRID);
            let label = tick_label(v, hi - lo);
            cv.text(x0 - 6.0 - Canvas::text_width(&label, 1), y - 4.0, &label, 1, BLACK);
        }
        cv.rect(x0, y_top, x0 + 1.0, y_bot, BLACK);
        cv.rect(x0, y_bot, x1, y_bot + 1.0, BLACK);
        for i in 0..rows.len() {
            let label = if rows[i].round == 0 { "base".to_string() } else { format!("r{}", rows[i].round) };
            cv.text(x_of(i) - Canvas::text_width(&label, 1) / 2.0, y_bot + 10.0, &label, 1, BLACK);
        }
        cv.text(x0 + (panel_w - Canvas::text_width("round", 1)) / 2.0, y_bot + 30.0, "round", 1, BLACK);
        let pts: Vec<(f64, f64)> = vals.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, &v)| (x_of(i), y_of(v))).collect();
        for pair in pts.windows(2) {
            cv.line(pair[0], pair[1], 3.0, *color);
        }
        for &(x, y) in &pts {
            cv.disc(x, y, 5.0, *color);
            cv.disc(x, y, 2.0, WHITE);
        }
    }
    cv.encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(round: usize, safe_pct: f64, f1: f64, ppl: f64) -> RoundRow {
        RoundRow { round, safe_pct, f1, ppl, gen_len: 5.0, new_examples: 0 }
    }

    #[test]
    fn plot_is_a_decodable_png_with_the_series_drawn() {
        let rows = [row(0, 30.0, 0.10, 200.0), row(1, 60.0, 0.11, 190.0), row(2, 90.0, 0.105, f64::NAN)];
        let bytes = png_plot(&rows).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (1200, 420));
        let count = |c: Rgb| buf.chunks(3).filter(|p| *p == c).count();
        assert!(count([27, 158, 119]) > 200, "safe % line drawn");
        assert!(count([217, 95, 2]) > 100, "perplexity points drawn (NaN skipped)");
        assert!(count(BLACK) > 1000, "axes and text drawn");
    }

    #[test]
    fn ranges_and_ticks() {
        assert_eq!(y_range(&[]), (0.0, 1.0));
        let (lo, hi) = y_range(&[50.0, 50.0]);
        assert!(lo < 50.0 && hi > 50.0);
        assert_eq!(tick_label(0.1234, 0.05), "0.123");
        assert_eq!(tick_label(55.0, 80.0), "55");
    }
}
