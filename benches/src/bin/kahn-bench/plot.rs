//! The SVG plot: ns per task against graph size, log-log, one panel per
//! shape and one line per variant.

use std::path::Path;

use plotters::prelude::*;

use kahn_bench::record::{self, Record};

/// Picks a line's y value (ns per task) from a record, if it belongs to it.
type Pick = Box<dyn Fn(&Record) -> Option<f64>>;

/// One line: a label, a colour, and which records it draws.
struct Series {
    label: String,
    color: RGBColor,
    pick: Pick,
}

fn series(threads: usize, batch_body: &'static str) -> Vec<Series> {
    let rerun = |variant: &'static str, t: usize| -> Pick {
        Box::new(move |r: &Record| {
            (r.variant == variant && r.body == "empty" && r.threads == t).then_some(r.rerun_ns)
        })
    };
    let batch = |variant: &'static str| -> Pick {
        Box::new(move |r: &Record| {
            (r.variant == variant && r.body == batch_body && r.threads == threads)
                .then_some(r.batch_ns)
                .flatten()
        })
    };
    vec![
        Series {
            label: format!("kahn rerun, {threads}t"),
            color: RGBColor(0x1f, 0x77, 0xb4),
            pick: rerun("arena", threads),
        },
        Series {
            label: format!("heap rerun, {threads}t"),
            color: RGBColor(0xd6, 0x27, 0x28),
            pick: rerun("heap", threads),
        },
        Series {
            label: format!("rayon::scope, {threads}t"),
            color: RGBColor(0xff, 0x7f, 0x0e),
            pick: rerun("rayon-scope", threads),
        },
        Series {
            label: format!("rayon::scope inline, {threads}t"),
            color: RGBColor(0x8c, 0x56, 0x4b),
            pick: rerun("rayon-scope-inline", threads),
        },
        Series {
            label: "floor, 1t".into(),
            color: RGBColor(0x7f, 0x7f, 0x7f),
            pick: rerun("floor", 1),
        },
        Series {
            label: format!("arena batch ({batch_body})"),
            color: RGBColor(0x2c, 0xa0, 0x2c),
            pick: batch("arena"),
        },
        Series {
            label: format!("heap batch ({batch_body})"),
            color: RGBColor(0x94, 0x67, 0xbd),
            pick: batch("heap"),
        },
    ]
}

/// Draws `records` into an SVG at `path`.
pub fn draw(records: &[Record], path: &Path) -> Result<(), String> {
    let shapes = record::shapes(records);
    if shapes.is_empty() {
        return Err("no results to plot".into());
    }
    let threads = record::kahn_threads(records);
    let batch_body = record::batch_body(records).unwrap_or("empty");
    let lines = series(threads, batch_body);

    let cols = shapes.len().min(3);
    let rows = shapes.len().div_ceil(cols);
    let size = (520 * cols as u32, 400 * rows as u32 + 40);
    let root = SVGBackend::new(path, size).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| format!("plotting {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root
        .titled(
            "ns per task against tasks (log-log; empty body reruns, and the batch loop)",
            ("sans-serif", 20),
        )
        .map_err(|e| err(&e))?;
    for (panel, shape) in root.split_evenly((rows, cols)).iter().zip(&shapes) {
        let points: Vec<Vec<(f64, f64)>> = lines
            .iter()
            .map(|s| {
                let mut p: Vec<(f64, f64)> = records
                    .iter()
                    .filter(|r| r.shape == *shape)
                    .filter_map(|r| (s.pick)(r).map(|y| (r.tasks as f64, y)))
                    .filter(|&(_, y)| y.is_finite() && y > 0.0)
                    .collect();
                p.sort_by(|a, b| a.0.total_cmp(&b.0));
                p
            })
            .collect();
        let all = points.iter().flatten();
        let (x0, x1) = all.clone().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
            (lo.min(p.0), hi.max(p.0))
        });
        let (y0, y1) = all.fold((f64::MAX, f64::MIN), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
        if x0 > x1 {
            continue;
        }
        let mut chart = ChartBuilder::on(panel)
            .caption(*shape, ("sans-serif", 18))
            .margin(8)
            .x_label_area_size(32)
            .y_label_area_size(48)
            .build_cartesian_2d(
                (x0 / 1.5..x1 * 1.5).log_scale(),
                (y0 / 1.5..y1 * 1.5).log_scale(),
            )
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("tasks")
            .y_desc("ns per task")
            .x_label_formatter(&|x| format!("{x:.0e}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(|e| err(&e))?;
        for (s, p) in lines.iter().zip(points) {
            if p.is_empty() {
                continue;
            }
            let color = s.color;
            chart
                .draw_series(LineSeries::new(p.iter().copied(), color.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(s.label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    p.iter()
                        .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
                )
                .map_err(|e| err(&e))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 11))
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))
}
