//! A loop's report files, the same for `iterate` and `compare`.

use cringe_core::fsutil::write_atomic;
use std::path::Path;

/// A loop's report files in `dir`, each written atomically: `report.md` (title, the table, the
/// plot, the commands run), `report.json` (`rows`), `plot.png` and `plot.svg`.
pub fn write_report_files<T: serde::Serialize>(
    dir: &Path,
    title: &str,
    table: &str,
    plot_alt: &str,
    figure: &crate::plot::Figure,
    rows: &T,
    commands: &[String],
) -> anyhow::Result<()> {
    let mut md =
        format!("# {title}\n\n{table}\n![{plot_alt}](plot.png)\n\n## Commands run\n\n```\n");
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
