//! What looking at a run costs: writing a large graph (and its report) as Graphviz DOT, or its run as a Chrome trace.
//!
//! ```text
//! cargo run --release -p kahn-bench --example observe -- dot <shape> <tasks>
//! cargo run --release -p kahn-bench --example observe -- trace <shape> <tasks>
//! ```
//!
//! Builds the shape, runs it once (recording timings for `trace`), and
//! times the export written out whole into a `String` (median of 5, in
//! ms): `graph.to_dot()` without and with the report's colours, or
//! `report.to_chrome_trace()`; and prints the size of the text.

use std::time::Instant;

use kahn::{Arena, Executor, RunOptions};
use kahn_bench::baselines::build_shape;
use kahn_bench::shapes::Shape;

const USAGE: &str = "usage: observe (dot | trace) <shape> <tasks>";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(mode @ ("dot" | "trace")), Some(shape), Some(tasks)) = (
        args.first().map(String::as_str),
        args.get(1).and_then(|s| s.parse::<Shape>().ok()),
        args.get(2).and_then(|s| s.parse::<usize>().ok()),
    ) else {
        panic!("{USAGE}");
    };
    let g = shape.generate(tasks);
    let mut arena = Arena::new();
    let graph = build_shape::<()>(&mut arena, &g, |_| Ok(()));
    let options = RunOptions::new().record_timings(mode == "trace");
    let report = Executor::with_threads(2)
        .expect("threads")
        .run_with(&graph, &options);
    let variants: &[&str] = if mode == "dot" {
        &["graph only", "with the report"]
    } else {
        &["Chrome trace"]
    };
    for &variant in variants {
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..5 {
            let start = Instant::now();
            let text = match variant {
                "graph only" => graph.to_dot().to_string(),
                "with the report" => graph.to_dot().report(&report).to_string(),
                _ => report.to_chrome_trace().expect("timed").to_string(),
            };
            times.push(start.elapsed().as_secs_f64() * 1e3);
            bytes = text.len();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{shape:?} {} tasks, {} edges, {variant}: {:.0} ms, {:.1} MiB of {}",
            g.tasks,
            g.edges.len(),
            times[2],
            bytes as f64 / (1 << 20) as f64,
            if mode == "dot" { "DOT" } else { "JSON" }
        );
    }
}
