//! The reports' figures, drawn with `plotters` into a PNG and an SVG from one drawing function,
//! and the axes helper the `iterate` and `compare` plots share.
//!
//! Why embedded text: plotters' default font engine asks the system for fonts, which a fresh
//! server or CI machine may not have. DejaVu Sans (from the `dejavu` crate) is registered with
//! plotters' `ab_glyph` engine instead, so every machine draws the same pixels.

use std::ops::Range;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// A report figure in the two formats reports carry.
pub struct Figure {
    /// PNG bytes.
    pub png: Vec<u8>,
    /// SVG text.
    pub svg: String,
}

/// Something that draws itself onto any plotters backend: a figure is drawn twice from it.
pub trait Draw {
    /// Draws onto `area` (already white).
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static;
}

/// The font family every text is drawn in.
pub const FONT: &str = "sans-serif";

/// A chart on a real-valued plane.
pub type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Registers the embedded DejaVu Sans as [`FONT`] (once per process).
fn register_font() -> anyhow::Result<()> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let mut ok =
            plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        ok = ok.and(plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold()));
        ok.map_err(|_| "the embedded DejaVu Sans font did not load".to_string())
    })
    .clone()
    .map_err(anyhow::Error::msg)
}

/// Draws `what` at `w`×`h` pixels, as PNG and as SVG.
pub fn render(w: u32, h: u32, what: &impl Draw) -> anyhow::Result<Figure> {
    register_font()?;
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        area.fill(&WHITE)?;
        what.draw(&area)?;
        area.present()?;
    }
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        area.fill(&WHITE)?;
        what.draw(&area)?;
        area.present()?;
    }
    Ok(Figure { png: encode_png(&rgb, w, h)?, svg })
}

/// RGB pixels as PNG bytes.
fn encode_png(rgb: &[u8], w: u32, h: u32) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
}

/// What a chart's axes show.
pub struct Axes<'a> {
    /// Caption above the chart.
    pub title: &'a str,
    /// The x axis: its name, range, at most how many labels, and their text.
    pub x_desc: &'a str,
    pub x: Range<f64>,
    pub x_labels: usize,
    pub x_label: &'a dyn Fn(f64) -> String,
    /// The y axis: its name and range.
    pub y_desc: &'a str,
    pub y: Range<f64>,
}

/// A chart with a title, labelled axes and a light grid, on `area`.
pub fn axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    a: &Axes,
) -> anyhow::Result<Chart<'a, DB>>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .caption(a.title, (FONT, 22).into_font().style(FontStyle::Bold))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(a.x.clone(), a.y.clone())?;
    let y_span = a.y.end - a.y.start;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
        .x_desc(a.x_desc)
        .y_desc(a.y_desc)
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 14))
        .x_labels(a.x_labels)
        .x_label_formatter(&|v| (a.x_label)(*v))
        .y_label_formatter(&|v| tick_label(*v, y_span))
        .y_labels(6)
        .draw()?;
    Ok(chart)
}

/// Axis range with some headroom; a flat series gets a visible band around its value.
pub fn padded_range(vals: &[f64]) -> Range<f64> {
    let finite: Vec<f64> = vals.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return 0.0..1.0;
    }
    let (lo, hi) =
        finite.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) * 0.1 };
    lo - span * 0.15..hi + span * 0.15
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

/// A marker: a filled disc of `color` with a white centre.
pub fn marker<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    points: &[(f64, f64)],
    color: RGBColor,
    radius: i32,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    chart.draw_series(points.iter().map(|&p| Circle::new(p, radius, color.filled())))?;
    chart.draw_series(points.iter().map(|&p| Circle::new(p, radius / 2, WHITE.filled())))?;
    Ok(())
}

/// Whether `svg` draws `text` as one text element (tests read figures with it).
#[cfg(test)]
pub fn svg_has_text(svg: &str, text: &str) -> bool {
    svg.contains(&format!(">\n{text}\n</text>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_have_headroom_and_ticks_enough_decimals() {
        assert_eq!(padded_range(&[]), 0.0..1.0);
        let r = padded_range(&[50.0, 50.0, f64::NAN]);
        assert!(r.start < 50.0 && r.end > 50.0);
        assert_eq!(tick_label(0.1234, 0.05), "0.123");
        assert_eq!(tick_label(55.0, 80.0), "55");
    }

    struct Text;
    impl Draw for Text {
        fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
        where
            DB::ErrorType: 'static,
        {
            area.draw(&plotters::element::Text::new("Ag", (10, 10), (FONT, 40)))?;
            Ok(())
        }
    }

    #[test]
    fn text_is_drawn_with_the_embedded_font_into_png_and_svg() {
        let fig = render(80, 60, &Text).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(fig.png)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut buf).unwrap();
        let dark = buf.chunks(3).filter(|p| p.iter().all(|&c| c < 100)).count();
        assert!(dark > 100, "glyphs rasterised ({dark} dark pixels)");
        assert!(fig.svg.starts_with("<svg") && svg_has_text(&fig.svg, "Ag"), "{}", fig.svg);
    }
}
