//! A loop's report files, the same for `iterate` and `compare`.

use cringe_core::fsutil::write_atomic;
use std::path::Path;

/// What a loop's `report.md` holds besides its commands.
pub struct ReportText<'a> {
    /// The title.
    pub title: &'a str,
    /// The markdown table (and anything to read with it).
    pub table: &'a str,
    /// The plot's alt text.
    pub plot_alt: &'a str,
    /// More markdown sections after the plot (may be empty).
    pub sections: &'a str,
}

/// A loop's report files in `dir`, each written atomically: `report.md` (title, the table, the
/// plot, the sections, the commands run), `report.json` (`rows`), `plot.png` and `plot.svg`.
pub fn write_report_files<T: serde::Serialize>(
    dir: &Path,
    text: &ReportText,
    figure: &crate::plot::Figure,
    rows: &T,
    commands: &[String],
) -> anyhow::Result<()> {
    let ReportText { title, table, plot_alt, sections } = text;
    let mut md = format!("# {title}\n\n{table}\n![{plot_alt}](plot.png)\n\n{sections}");
    md.push_str("## Commands run\n\n```\n");
    for c in commands {
        md.push_str(c);
        md.push('\n');
    }
    md.push_str("```\n");
    write_atomic(&dir.join("report.md"), md.as_bytes())?;
    write_atomic(&dir.join("report.json"), serde_json::to_string_pretty(rows)?.as_bytes())?;
    write_atomic(&dir.join("plot.png"), &figure.png)?;
    write_atomic(&dir.join("plot.svg"), figure.svg.as_bytes())?;
    Ok(())
}
