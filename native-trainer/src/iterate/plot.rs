//! The `iterate` report's PNG plot: classifier-safe %, F1 and perplexity by round, one panel
//! each.

use super::report::RoundRow;
use crate::canvas::{BLACK, Canvas, GRID, Rgb, WHITE, tick_label, y_range};

/// The report plot as PNG bytes: three panels (safe %, F1, perplexity) against the round.
pub fn png_plot(rows: &[RoundRow]) -> anyhow::Result<Vec<u8>> {
    let (w, h) = (1200usize, 420usize);
    let mut cv = Canvas::new(w, h);
    // (title, colour, values, fixed axis range)
    let panels: [(&str, Rgb, Vec<f64>, Option<(f64, f64)>); 3] = [
        (
            "classifier-safe %",
            [27, 158, 119],
            rows.iter().map(|r| r.safe_pct).collect(),
            Some((0.0, 100.0)),
        ),
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
        let x_of = |i: usize| {
            if rows.len() <= 1 {
                (x0 + x1) / 2.0
            } else {
                x0 + 20.0 + (panel_w - 40.0) * i as f64 / (rows.len() - 1) as f64
            }
        };
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
            let label =
                if rows[i].round == 0 { "base".to_string() } else { format!("r{}", rows[i].round) };
            cv.text(x_of(i) - Canvas::text_width(&label, 1) / 2.0, y_bot + 10.0, &label, 1, BLACK);
        }
        cv.text(
            x0 + (panel_w - Canvas::text_width("round", 1)) / 2.0,
            y_bot + 30.0,
            "round",
            1,
            BLACK,
        );
        let pts: Vec<(f64, f64)> = vals
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, &v)| (x_of(i), y_of(v)))
            .collect();
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
        let rows =
            [row(0, 30.0, 0.10, 200.0), row(1, 60.0, 0.11, 190.0), row(2, 90.0, 0.105, f64::NAN)];
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
}
