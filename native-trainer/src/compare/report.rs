//! The `compare` report: a markdown table like the paper's Table 1, the rows as JSON, and a
//! plot of classifier-safe % against F1 (up and to the right is better).

use crate::canvas::{BLACK, Canvas, GRID, Rgb, WHITE, tick_label, y_range};
use crate::stage::{Evaluation, write_report_files};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// One model's row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompareRow {
    /// `baseline` or the loss.
    pub method: String,
    /// Swept settings of the run (`-` for none).
    pub settings: String,
    /// The fine-tuning seed (absent for the baseline).
    pub seed: Option<u64>,
    /// Share of generations on held-out toxic contexts the classifier judged safe, in %.
    pub safe_pct: f64,
    /// Unigram F1 of dialogue generations.
    pub f1: f64,
    /// Perplexity of gold dialogue responses.
    pub ppl: f64,
    /// Mean generated length on the toxic contexts.
    pub gen_len: f64,
    /// Training wall time in seconds (absent for a reused baseline).
    pub train_secs: Option<f64>,
    /// Evaluation wall time in seconds.
    pub eval_secs: f64,
}

impl CompareRow {
    /// A row from an evaluation.
    pub fn new(
        method: &str,
        settings: &str,
        seed: Option<u64>,
        e: &Evaluation,
        train_secs: Option<f64>,
    ) -> Self {
        Self {
            method: method.into(),
            settings: settings.into(),
            seed,
            safe_pct: e.safe_pct,
            f1: e.f1,
            ppl: e.ppl,
            gen_len: e.gen_len,
            train_secs,
            eval_secs: e.seconds,
        }
    }

    fn label(&self) -> String {
        if self.settings == "-" {
            self.method.clone()
        } else {
            format!("{} {}", self.method, self.settings)
        }
    }
}

/// The rows of one (method, settings) over its seeds: means, and standard deviations when
/// there are several seeds.
#[derive(Debug, Clone)]
struct Group<'a> {
    rows: Vec<&'a CompareRow>,
}

impl Group<'_> {
    fn first(&self) -> &CompareRow {
        self.rows[0]
    }

    /// Mean and sample standard deviation of one column (NaN values are left out).
    fn stat(&self, f: impl Fn(&CompareRow) -> f64) -> (f64, f64) {
        let v: Vec<f64> = self.rows.iter().map(|r| f(r)).filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return (f64::NAN, 0.0);
        }
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = if v.len() > 1 {
            v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64
        } else {
            0.0
        };
        (mean, var.sqrt())
    }

    /// One table cell: `mean` or `mean ± sd`, with `decimals` decimals.
    fn cell(&self, f: impl Fn(&CompareRow) -> f64, decimals: usize) -> String {
        let (m, sd) = self.stat(f);
        if self.rows.len() > 1 {
            format!("{m:.decimals$} ± {sd:.decimals$}")
        } else {
            format!("{m:.decimals$}")
        }
    }
}

/// Rows grouped by (method, settings), in first-seen order.
fn groups(rows: &[CompareRow]) -> Vec<Group<'_>> {
    let mut out: Vec<Group> = Vec::new();
    for r in rows {
        match out
            .iter_mut()
            .find(|g| g.first().method == r.method && g.first().settings == r.settings)
        {
            Some(g) => g.rows.push(r),
            None => out.push(Group { rows: vec![r] }),
        }
    }
    out
}

/// The markdown table: one line per (method, settings); with several seeds each cell is the
/// mean ± standard deviation over them.
pub fn markdown_table(rows: &[CompareRow]) -> String {
    let groups = groups(rows);
    let multi = groups.iter().any(|g| g.rows.len() > 1);
    let mut s = String::from("| method | settings |");
    if multi {
        s.push_str(" seeds |");
    }
    s.push_str(
        " classifier-safe % | F1 | perplexity | gen. length | train s | eval s |\n|---|---|",
    );
    s.push_str(if multi { "---|---|---|---|---|---|---|\n" } else { "---|---|---|---|---|---|\n" });
    for g in &groups {
        let r = g.first();
        let _ = write!(s, "| {} | {} |", r.method, r.settings);
        if multi {
            let _ = write!(s, " {} |", g.rows.len());
        }
        let train = if r.train_secs.is_some() {
            format!("{:.0}", g.stat(|r| r.train_secs.unwrap_or(f64::NAN)).0)
        } else {
            "reused".into()
        };
        let _ = writeln!(
            s,
            " {} | {} | {} | {} | {train} | {:.0} |",
            g.cell(|r| r.safe_pct, 1),
            g.cell(|r| r.f1, 4),
            g.cell(|r| r.ppl, 2),
            g.cell(|r| r.gen_len, 1),
            g.stat(|r| r.eval_secs).0
        );
    }
    s
}

/// Writes report.md, report.json and plot.png into `dir` (atomically).
pub fn write_report(dir: &Path, rows: &[CompareRow], commands: &[String]) -> anyhow::Result<()> {
    write_report_files(
        dir,
        "cringe compare report",
        &markdown_table(rows),
        "classifier-safe % against F1",
        &png_plot(rows)?,
        &rows,
        commands,
    )
}

/// The colour of a method's points.
fn color(method: &str) -> Rgb {
    match method {
        "baseline" => [90, 90, 90],
        "mle" => [117, 112, 179],
        "unlikelihood" => [217, 95, 2],
        "cringe" => [27, 158, 119],
        _ => [231, 41, 138],
    }
}

/// Safe % (y, 0–100) against F1 (x), one labelled point per (method, settings) at its means
/// over seeds, as PNG bytes.
pub fn png_plot(rows: &[CompareRow]) -> anyhow::Result<Vec<u8>> {
    let (w, h) = (1120usize, 640usize);
    let mut cv = Canvas::new(w, h);
    let (left, right, top, bottom) = (80.0, 380.0, 60.0, 70.0);
    let (x0, x1, y_top, y_bot) = (left, w as f64 - right, top, h as f64 - bottom);
    let points: Vec<(String, String, f64, f64)> = groups(rows)
        .iter()
        .map(|g| {
            (
                g.first().method.clone(),
                g.first().label(),
                g.stat(|r| r.f1).0,
                g.stat(|r| r.safe_pct).0,
            )
        })
        .collect();
    let f1s: Vec<f64> = points.iter().map(|p| p.2).collect();
    let (lo, hi) = y_range(&f1s);
    let x_of = |v: f64| x0 + (v - lo) / (hi - lo) * (x1 - x0);
    let y_of = |v: f64| y_bot - v / 100.0 * (y_bot - y_top);
    let seeds = groups(rows).iter().map(|g| g.rows.len()).max().unwrap_or(1);
    let title = if seeds > 1 {
        format!("classifier-safe % vs dialogue F1 (means over {seeds} seeds)")
    } else {
        "classifier-safe % vs dialogue F1".to_string()
    };
    cv.text((w as f64 - Canvas::text_width(&title, 2)) / 2.0, 18.0, &title, 2, BLACK);
    for k in 0..=4 {
        let v = 25.0 * k as f64;
        cv.rect(x0, y_of(v), x1, y_of(v), GRID);
        let label = format!("{v:.0}");
        cv.text(x0 - 8.0 - Canvas::text_width(&label, 1), y_of(v) - 4.0, &label, 1, BLACK);
        let f = lo + (hi - lo) * k as f64 / 4.0;
        cv.rect(x_of(f), y_top, x_of(f), y_bot, GRID);
        let label = tick_label(f, hi - lo);
        cv.text(x_of(f) - Canvas::text_width(&label, 1) / 2.0, y_bot + 10.0, &label, 1, BLACK);
    }
    cv.rect(x0, y_top, x0 + 1.0, y_bot, BLACK);
    cv.rect(x0, y_bot, x1, y_bot + 1.0, BLACK);
    cv.text((x0 + x1 - Canvas::text_width("F1", 1)) / 2.0, y_bot + 30.0, "F1", 1, BLACK);
    cv.text(10.0, y_top - 20.0, "safe %", 1, BLACK);
    for (i, (method, label, f1, safe)) in points.iter().enumerate() {
        if !(f1.is_finite() && safe.is_finite()) {
            continue;
        }
        let (x, y) = (x_of(*f1), y_of(*safe));
        cv.disc(x, y, 6.0, color(method));
        cv.disc(x, y, 2.5, WHITE);
        // the point's number next to it, and a legend line on the right
        let n = format!("{}", i);
        cv.text(x + 8.0, y - 10.0, &n, 1, BLACK);
        let ly = top + 14.0 * i as f64;
        cv.disc(x1 + 22.0, ly + 4.0, 4.0, color(method));
        cv.text(x1 + 32.0, ly, &format!("{n} {label}"), 1, BLACK);
    }
    cv.encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(method: &str, settings: &str, safe_pct: f64, f1: f64) -> CompareRow {
        let e = Evaluation { safe_pct, f1, ppl: 200.0, gen_len: 4.0, seconds: 12.0 };
        CompareRow::new(
            method,
            settings,
            (method != "baseline").then_some(1),
            &e,
            (method != "baseline").then_some(30.0),
        )
    }

    #[test]
    fn several_seeds_give_mean_and_standard_deviation() {
        let mut rows = vec![row("baseline", "-", 3.2, 0.099)];
        for (seed, safe) in [(1, 70.0), (2, 80.0), (3, 90.0)] {
            let mut r = row("cringe", "-", safe, 0.11);
            r.seed = Some(seed);
            rows.push(r);
        }
        let t = markdown_table(&rows);
        assert!(t.contains("| method | settings | seeds |"), "{t}");
        assert!(t.contains("| baseline | - | 1 | 3.2 | 0.0990 |"), "{t}");
        assert!(t.contains("| cringe | - | 3 | 80.0 ± 10.0 | 0.1100 ± 0.0000 |"), "{t}");
        assert_eq!(t.lines().count(), 4, "{t}");
    }

    #[test]
    fn table_lists_every_run_with_its_settings_and_times() {
        let rows =
            [row("baseline", "-", 3.2, 0.099), row("cringe", "ct-loss-weight=0.5", 80.0, 0.11)];
        let t = markdown_table(&rows);
        assert!(t.contains("| baseline | - | 3.2 | 0.0990 | 200.00 | 4.0 | reused | 12 |"), "{t}");
        assert!(
            t.contains("| cringe | ct-loss-weight=0.5 | 80.0 | 0.1100 | 200.00 | 4.0 | 30 | 12 |"),
            "{t}"
        );
    }

    #[test]
    fn plot_draws_one_point_per_method() {
        let rows = [
            row("baseline", "-", 3.2, 0.099),
            row("mle", "-", 20.0, 0.10),
            row("cringe", "-", 90.0, 0.11),
            row("unlikelihood", "-", f64::NAN, 0.1),
        ];
        let bytes = png_plot(&rows).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (1120, 640));
        let count = |c: Rgb| buf.chunks(3).filter(|p| *p == c).count();
        assert!(count(color("cringe")) > 60 && count(color("mle")) > 60, "points and legend drawn");
        assert_eq!(count(color("unlikelihood")), 0, "a NaN row is not drawn");
    }
}
