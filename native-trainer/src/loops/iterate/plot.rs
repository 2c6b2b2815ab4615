//! The `iterate` report's figure: classifier-safe %, F1 and perplexity by round, one panel
//! each (PNG and SVG).

use super::report::RoundRow;
use crate::plot::{Axes, Draw, Figure, axes, marker, padded_range, render};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One panel: a metric by round.
struct Panel {
    title: &'static str,
    y_desc: &'static str,
    color: RGBColor,
    values: Vec<f64>,
    /// A fixed axis range (safe % is always 0–100), else one fitted to the values.
    fixed: Option<(f64, f64)>,
}

/// The three panels side by side.
struct RoundsPlot<'a> {
    rows: &'a [RoundRow],
    panels: [Panel; 3],
}

/// The report figure: three panels (safe %, F1, perplexity) against the round.
pub fn figure(rows: &[RoundRow]) -> anyhow::Result<Figure> {
    let col = |f: fn(&RoundRow) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    let panels = [
        Panel {
            title: "classifier-safe %",
            y_desc: "safe % (higher is better)",
            color: RGBColor(27, 158, 119),
            values: col(|r| r.eval.safe_pct),
            fixed: Some((0.0, 100.0)),
        },
        Panel {
            title: "dialogue F1",
            y_desc: "unigram F1 (higher is better)",
            color: RGBColor(117, 112, 179),
            values: col(|r| r.eval.f1),
            fixed: None,
        },
        Panel {
            title: "dialogue perplexity",
            y_desc: "perplexity (lower is better)",
            color: RGBColor(217, 95, 2),
            values: col(|r| r.eval.ppl),
            fixed: None,
        },
    ];
    render(1200, 420, &RoundsPlot { rows, panels })
}

/// "base" for round 0, "r1", "r2", … after it.
fn round_name(round: usize) -> String {
    if round == 0 { "base".into() } else { format!("r{round}") }
}

impl Draw for RoundsPlot<'_> {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let n = self.rows.len().max(1);
        let rounds: Vec<usize> = self.rows.iter().map(|r| r.round).collect();
        let name_at = |x: f64| {
            let i = x.round();
            match rounds.get(i as usize) {
                Some(&r) if (x - i).abs() < 1e-6 && i >= 0.0 => round_name(r),
                _ => String::new(),
            }
        };
        for (panel, cell) in self.panels.iter().zip(area.split_evenly((1, 3))) {
            let y = match panel.fixed {
                Some((lo, hi)) => lo..hi,
                None => padded_range(&panel.values),
            };
            let spec = Axes {
                title: panel.title,
                x_desc: "round",
                x: -0.3..(n - 1) as f64 + 0.3,
                x_labels: n,
                x_label: &name_at,
                y_desc: panel.y_desc,
                y,
            };
            let mut chart = axes(&cell, &spec)?;
            let points: Vec<(f64, f64)> = panel
                .values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(i, &v)| (i as f64, v))
                .collect();
            chart.draw_series(LineSeries::new(points.clone(), panel.color.stroke_width(3)))?;
            marker(&mut chart, &points, panel.color, 6)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(round: usize, safe_pct: f64, f1: f64, ppl: f64) -> RoundRow {
        let eval =
            crate::stage::Evaluation { safe_pct, f1, ppl, gen_len: 5.0, ..Default::default() };
        RoundRow { round, eval, new_examples: 0 }
    }

    #[test]
    fn figure_draws_each_series_in_png_and_names_the_axes_in_svg() {
        let rows =
            [row(0, 30.0, 0.10, 200.0), row(1, 60.0, 0.11, 190.0), row(2, 90.0, 0.105, f64::NAN)];
        let fig = figure(&rows).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(fig.png)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (1200, 420));
        let count = |c: [u8; 3]| buf.chunks(3).filter(|p| *p == c).count();
        assert!(count([27, 158, 119]) > 200, "safe % line drawn");
        assert!(count([117, 112, 179]) > 200, "F1 line drawn");
        assert!(count([217, 95, 2]) > 100, "perplexity points drawn (NaN skipped)");
        for text in ["classifier-safe %", "dialogue perplexity", "round", "base", "r2"] {
            assert!(crate::plot::svg_has_text(&fig.svg, text), "{text} missing from the SVG");
        }
    }
}
