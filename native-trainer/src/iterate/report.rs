//! The `iterate` report: a markdown table, the rows as JSON, and an SVG plot per round.

use cringe_core::fsutil::write_atomic;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// One round's evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct RoundRow {
    /// 0 = baseline.
    pub round: usize,
    /// Share of generations on held-out toxic contexts the classifier judged safe, in %.
    pub safe_pct: f64,
    /// Unigram F1 of dialogue generations against gold responses.
    pub f1: f64,
    /// Perplexity of gold dialogue responses.
    pub ppl: f64,
    /// Mean generated length on the toxic contexts.
    pub gen_len: f64,
    /// Filtered iterative examples this round's model was fine-tuned with (0 for the baseline).
    pub new_examples: usize,
}

/// The markdown table.
pub fn markdown_table(rows: &[RoundRow]) -> String {
    let mut s = String::from("| round | classifier-safe % | F1 | perplexity | gen. length | new iterative examples |\n|---|---|---|---|---|---|\n");
    for r in rows {
        let name = if r.round == 0 { "baseline".to_string() } else { format!("CRINGE round {}", r.round) };
        let _ = writeln!(s, "| {name} | {:.1} | {:.4} | {:.2} | {:.1} | {} |", r.safe_pct, r.f1, r.ppl, r.gen_len, r.new_examples);
    }
    s
}

/// A two-panel SVG line chart: safe % and F1 (×100) on the left, perplexity on the right.
pub fn svg_plot(rows: &[RoundRow]) -> String {
    let (w, h, pad) = (900.0, 360.0, 50.0);
    let panel_w = (w - 3.0 * pad) / 2.0;
    let n = rows.len().max(2) as f64 - 1.0;
    let x = |panel: f64, i: usize| pad + panel * (panel_w + pad) + panel_w * i as f64 / n;
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    let ppl_max = rows.iter().map(|r| r.ppl).filter(|p| p.is_finite()).fold(1.0f64, f64::max) * 1.1;
    let panels: [(&str, f64, Vec<(&str, &str, Vec<f64>)>); 2] = [
        ("safe % and F1×100 by round", 100.0, vec![
            ("safe %", "#1b9e77", rows.iter().map(|r| r.safe_pct).collect()),
            ("F1×100", "#7570b3", rows.iter().map(|r| r.f1 * 100.0).collect()),
        ]),
        ("perplexity by round", ppl_max, vec![("ppl", "#d95f02", rows.iter().map(|r| r.ppl).collect())]),
    ];
    for (p, (title, ymax, series)) in panels.iter().enumerate() {
        let p = p as f64;
        let (x0, x1, y0, y1) = (x(p, 0), x(p, 0) + panel_w, h - pad, pad);
        let y = |v: f64| y0 - (v / ymax).clamp(0.0, 1.0) * (y0 - y1);
        let _ = writeln!(s, "<text x=\"{x0}\" y=\"{}\" font-weight=\"bold\">{title}</text>", y1 - 15.0);
        let _ = writeln!(s, "<line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\" stroke=\"black\"/><line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x0}\" y2=\"{y1}\" stroke=\"black\"/>");
        for k in 0..=4 {
            let v = ymax * k as f64 / 4.0;
            let _ = writeln!(s, "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{v:.0}</text>", x0 - 5.0, y(v) + 4.0);
        }
        for i in 0..rows.len() {
            let _ = writeln!(s, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", x(p, i), y0 + 16.0, rows[i].round);
        }
        for (j, (name, color, vals)) in series.iter().enumerate() {
            let pts: Vec<String> = vals.iter().enumerate().map(|(i, v)| format!("{:.1},{:.1}", x(p, i), y(*v))).collect();
            let _ = writeln!(s, "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>", pts.join(" "));
            for pt in &pts {
                let (cx, cy) = pt.split_once(',').unwrap();
                let _ = writeln!(s, "<circle cx=\"{cx}\" cy=\"{cy}\" r=\"3\" fill=\"{color}\"/>");
            }
            let _ = writeln!(s, "<text x=\"{}\" y=\"{}\" fill=\"{color}\">{name}</text>", x1 - 70.0, y1 + 14.0 * j as f64);
        }
    }
    s.push_str("</svg>\n");
    s
}

/// Writes report.md, report.json and plot.svg into `dir` (atomically).
pub fn write_report(dir: &Path, rows: &[RoundRow], commands: &[String]) -> anyhow::Result<()> {
    let mut md = String::from("# cringe iterate report\n\n");
    md.push_str(&markdown_table(rows));
    md.push_str("\n![safe %, F1 and perplexity by round](plot.svg)\n\n## Commands run\n\n```\n");
    for c in commands {
        md.push_str(c);
        md.push('\n');
    }
    md.push_str("```\n");
    write_atomic(&dir.join("report.md"), md.as_bytes())?;
    write_atomic(&dir.join("report.json"), serde_json::to_string_pretty(rows)?.as_bytes())?;
    write_atomic(&dir.join("plot.svg"), svg_plot(rows).as_bytes())?;
    Ok(())
}
