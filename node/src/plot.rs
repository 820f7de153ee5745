//! Score history plots for the web page, drawn with `plotters` as SVG.

use plotters::prelude::*;

/// Width and height of a plot, in CSS pixels.
const SIZE: (u32, u32) = (720, 300);

/// An SVG with every `(time, score)` point and the best score so far as a step line
/// (`higher_is_better` says which way is best); time runs from the first point.
pub(crate) fn scores_svg(
    metric: &str,
    higher_is_better: bool,
    points: &[(u64, f64)],
) -> Result<String, String> {
    let err = |e: DrawingAreaErrorKind<_>| format!("drawing the plot: {e}");
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let t0 = points.iter().map(|p| p.0).min().unwrap_or(0);
        let span = points.iter().map(|p| p.0 - t0).max().unwrap_or(0);
        let (unit, seconds) = time_unit(span);
        let minutes = |t: u64| (t - t0) as f64 / seconds;
        let x_max = points.iter().map(|p| minutes(p.0)).fold(1.0, f64::max) * 1.05;
        let (lo, hi) = points
            .iter()
            .map(|p| p.1)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            });
        let (y_lo, y_hi) = if points.is_empty() {
            (0.0, 1.0)
        } else {
            let pad = ((hi - lo) * 0.1).max(0.01);
            ((lo - pad).max(0.0), hi + pad)
        };
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..x_max, y_lo..y_hi)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(format!("{unit} since the first scored submission"))
            .y_desc(metric)
            .axis_desc_style(("sans-serif", 14))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(err)?;
        let mut best: Option<f64> = None;
        let mut steps = Vec::new();
        for &(t, v) in points {
            let better = best.is_none_or(|b| if higher_is_better { v > b } else { v < b });
            if let Some(b) = best.filter(|_| better) {
                steps.push((minutes(t), b));
            }
            if better {
                best = Some(v);
            }
            if let Some(b) = best {
                steps.push((minutes(t), b));
            }
        }
        if let (Some(b), Some(last)) = (best, steps.last().copied()) {
            steps.push((x_max.max(last.0), b));
        }
        let line = RGBColor(0x1f, 0x5f, 0xbf);
        chart
            .draw_series(LineSeries::new(steps, line.stroke_width(2)))
            .map_err(err)?
            .label("best so far")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], line.stroke_width(2))
            });
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&(t, v)| Circle::new((minutes(t), v), 4, BLACK.filled())),
            )
            .map_err(err)?
            .label("a scored submission")
            .legend(|(x, y)| Circle::new((x + 8, y), 4, BLACK.filled()));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(("sans-serif", 12))
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The x axis' unit for a history that spans `span` seconds, and its length in seconds.
fn time_unit(span: u64) -> (&'static str, f64) {
    match span {
        0..=180 => ("seconds", 1.0),
        181..=10_800 => ("minutes", 60.0),
        10_801..=259_200 => ("hours", 3600.0),
        _ => ("days", 86_400.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_every_point_and_the_best_so_far() {
        let svg = scores_svg("accuracy", true, &[(100, 0.5), (400, 0.8), (700, 0.7)]).unwrap();
        assert!(svg.starts_with("<svg"));
        // Three submissions, plus the legend's marker.
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.contains("best so far") && svg.contains("accuracy"));
        assert!(
            svg.contains("minutes since"),
            "a ten-minute history is in minutes"
        );
        let quick = scores_svg("accuracy", true, &[(100, 0.5), (103, 0.6)]).unwrap();
        assert!(quick.contains("seconds since"));
        let empty = scores_svg("mse", false, &[]).unwrap();
        assert!(empty.contains("<svg"));
    }
}
