//! The `compare` report: a markdown table like the paper's Table 1, the rows as JSON, and a
//! plot of classifier-safe % against F1 (up and to the right is better).

use crate::plot::{Axes, Draw, FONT, Figure, axes, marker, padded_range, render, tick_label};
use crate::stage::{Evaluation, FormScore, ReportText, TaskPerplexity, write_report_files};
use plotters::coord::Shift;
use plotters::prelude::*;
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
    /// Distinct-2 of the replies on the toxic contexts (mean over the forms).
    #[serde(default)]
    pub distinct_2: f64,
    /// Each safety form's scores (one unnamed form unless the config names several).
    #[serde(default)]
    pub forms: Vec<FormScore>,
    /// The perplexity-only tasks.
    #[serde(default)]
    pub perplexity: Vec<TaskPerplexity>,
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
            distinct_2: e.distinct_2,
            forms: e.forms.clone(),
            perplexity: e.perplexity.clone(),
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
/// mean ± standard deviation over them. With several safety forms each gets its safe %
/// column; each perplexity task its column.
pub fn markdown_table(rows: &[CompareRow]) -> String {
    let groups = groups(rows);
    let multi = groups.iter().any(|g| g.rows.len() > 1);
    let forms: Vec<String> = match rows.first() {
        Some(r) if r.forms.len() > 1 => r.forms.iter().map(|f| f.form.clone()).collect(),
        _ => Vec::new(),
    };
    let ppl_tasks: Vec<String> =
        rows.first().map_or(Vec::new(), |r| r.perplexity.iter().map(|p| p.name.clone()).collect());
    let mut head: Vec<String> = vec!["method".into(), "settings".into()];
    if multi {
        head.push("seeds".into());
    }
    if forms.is_empty() {
        head.push("classifier-safe %".into());
    }
    head.extend(forms.iter().map(|f| format!("safe % ({f})")));
    head.extend(["F1".into(), "perplexity".into()]);
    head.extend(ppl_tasks.iter().map(|t| format!("ppl ({t})")));
    head.extend(["distinct-2", "gen. length", "train s", "eval s"].map(String::from));
    let mut s = format!("| {} |\n|{}\n", head.join(" | "), "---|".repeat(head.len()));
    for g in &groups {
        let r = g.first();
        let mut cells = vec![r.method.clone(), r.settings.clone()];
        if multi {
            cells.push(g.rows.len().to_string());
        }
        if forms.is_empty() {
            cells.push(g.cell(|r| r.safe_pct, 1));
        }
        for i in 0..forms.len() {
            cells.push(g.cell(|r| r.forms.get(i).map_or(f64::NAN, |f| f.safe_pct), 1));
        }
        cells.extend([g.cell(|r| r.f1, 4), g.cell(|r| r.ppl, 2)]);
        for i in 0..ppl_tasks.len() {
            cells.push(g.cell(|r| r.perplexity.get(i).map_or(f64::NAN, |p| p.ppl), 2));
        }
        cells.extend([g.cell(|r| r.distinct_2, 3), g.cell(|r| r.gen_len, 1)]);
        cells.push(if r.train_secs.is_some() {
            format!("{:.0}", g.stat(|r| r.train_secs.unwrap_or(f64::NAN)).0)
        } else {
            "reused".into()
        });
        cells.push(format!("{:.0}", g.stat(|r| r.eval_secs).0));
        let _ = writeln!(s, "| {} |", cells.join(" | "));
    }
    s
}

/// Writes report.md, report.json, plot.png and plot.svg into `dir` (atomically).
pub fn write_report(dir: &Path, rows: &[CompareRow], commands: &[String]) -> anyhow::Result<()> {
    let text = ReportText {
        title: "cringe compare report",
        table: &markdown_table(rows),
        plot_alt: "classifier-safe % against F1",
        sections: "",
    };
    write_report_files(dir, &text, &figure(rows)?, &rows, commands)
}

/// The colour of a method's points.
fn color(method: &str) -> RGBColor {
    match method {
        "baseline" => RGBColor(90, 90, 90),
        "mle" => RGBColor(117, 112, 179),
        "unlikelihood" => RGBColor(217, 95, 2),
        "cringe" => RGBColor(27, 158, 119),
        _ => RGBColor(231, 41, 138),
    }
}

/// One point of the plot: a (method, settings) at its means over seeds.
struct Point {
    method: String,
    label: String,
    f1: f64,
    safe: f64,
}

/// Safe % against F1 with a numbered legend on the right.
struct SafetyVsF1 {
    points: Vec<Point>,
    seeds: usize,
}

/// Safe % (y, 0–100) against F1 (x), one numbered point per (method, settings) at its means
/// over seeds, as PNG and SVG.
pub fn figure(rows: &[CompareRow]) -> anyhow::Result<Figure> {
    let groups = groups(rows);
    let points = groups
        .iter()
        .map(|g| Point {
            method: g.first().method.clone(),
            label: g.first().label(),
            f1: g.stat(|r| r.f1).0,
            safe: g.stat(|r| r.safe_pct).0,
        })
        .collect();
    let seeds = groups.iter().map(|g| g.rows.len()).max().unwrap_or(1);
    render(1120, 640, &SafetyVsF1 { points, seeds })
}

impl Draw for SafetyVsF1 {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (w, _) = area.dim_in_pixel();
        let (plot_area, legend) = area.split_horizontally(w.saturating_sub(360));
        let title = if self.seeds > 1 {
            format!("classifier-safe % vs dialogue F1 (means over {} seeds)", self.seeds)
        } else {
            "classifier-safe % vs dialogue F1".to_string()
        };
        let x = padded_range(&self.points.iter().map(|p| p.f1).collect::<Vec<_>>());
        let span = x.end - x.start;
        let label = |v: f64| tick_label(v, span);
        let spec = Axes {
            title: &title,
            x_desc: "dialogue F1 (higher is better)",
            x: x.clone(),
            x_labels: 6,
            x_label: &label,
            y_desc: "classifier-safe %",
            y: 0.0..100.0,
        };
        let mut chart = axes(&plot_area, &spec)?;
        let text = (FONT, 15).into_font();
        for (i, p) in self.points.iter().enumerate() {
            let ly = 60 + 22 * i as i32;
            legend.draw(&Circle::new((12, ly), 5, color(&p.method).filled()))?;
            legend.draw(&Text::new(format!("{i}  {}", p.label), (26, ly - 8), text.clone()))?;
            if !(p.f1.is_finite() && p.safe.is_finite()) {
                continue;
            }
            marker(&mut chart, &[(p.f1, p.safe)], color(&p.method), 7)?;
            let number = Text::new(format!("{i}"), (9, -22), text.clone());
            chart.draw_series([EmptyElement::at((p.f1, p.safe)) + number])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(method: &str, settings: &str, safe_pct: f64, f1: f64) -> CompareRow {
        let e = Evaluation {
            safe_pct,
            f1,
            ppl: 200.0,
            gen_len: 4.0,
            distinct_2: 0.5,
            forms: Vec::new(),
            dialogue_examples: 10,
            perplexity: Vec::new(),
            seconds: 12.0,
        };
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
        assert!(
            t.contains("| baseline | - | 3.2 | 0.0990 | 200.00 | 0.500 | 4.0 | reused | 12 |"),
            "{t}"
        );
        assert!(
            t.contains(
                "| cringe | ct-loss-weight=0.5 | 80.0 | 0.1100 | 200.00 | 0.500 | 4.0 | 30 | 12 |"
            ),
            "{t}"
        );
    }

    #[test]
    fn each_safety_form_and_perplexity_task_gets_its_column() {
        let form = |name: &str, safe_pct: f64| FormScore {
            form: name.into(),
            safe_pct,
            gen_len: 30.0,
            distinct_1: 0.4,
            distinct_2: 0.8,
            contexts: 95,
        };
        let mut r = row("cringe", "-", 75.0, 0.1);
        r.forms = vec![form("continuation", 60.0), form("chat", 90.0)];
        r.perplexity =
            vec![TaskPerplexity { name: "safe responses".into(), ppl: 117.3, examples: 200 }];
        let t = markdown_table(&[r]);
        assert!(
            t.contains("| method | settings | safe % (continuation) | safe % (chat) | F1 | perplexity | ppl (safe responses) | distinct-2 |"),
            "{t}"
        );
        assert!(
            t.contains("| cringe | - | 60.0 | 90.0 | 0.1000 | 200.00 | 117.30 | 0.500 |"),
            "{t}"
        );
    }

    #[test]
    fn plot_draws_one_numbered_point_per_method_with_a_legend() {
        let rows = [
            row("baseline", "-", 3.2, 0.099),
            row("mle", "-", 20.0, 0.10),
            row("cringe", "-", 90.0, 0.11),
            row("unlikelihood", "-", f64::NAN, 0.1),
        ];
        let fig = figure(&rows).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(fig.png)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (1120, 640));
        let count = |c: RGBColor| buf.chunks(3).filter(|p| *p == [c.0, c.1, c.2]).count();
        assert!(count(color("cringe")) > 150 && count(color("mle")) > 150, "points and legend");
        let legend_only = count(color("unlikelihood"));
        assert!(legend_only > 20 && legend_only < 150, "a NaN row is in the legend only");
        for text in [
            "classifier-safe % vs dialogue F1",
            "dialogue F1 (higher is better)",
            "3  unlikelihood",
            "2",
        ] {
            assert!(crate::plot::svg_has_text(&fig.svg, text), "{text} missing from the SVG");
        }
    }
}
