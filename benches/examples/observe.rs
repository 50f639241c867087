//! What looking at a run costs: writing a large graph (and its report) as Graphviz DOT.
//!
//! ```text
//! cargo run --release -p kahn-bench --example observe -- dot <shape> <tasks>
//! ```
//!
//! Builds the shape, runs it once, and times `graph.to_dot()` written out
//! whole, without and with the report's colours (median of 5, in ms), and
//! prints the size of the text.

use std::time::Instant;

use kahn::{Arena, Executor};
use kahn_bench::baselines::build_shape;
use kahn_bench::shapes::Shape;

const USAGE: &str = "usage: observe dot <shape> <tasks>";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some("dot"), Some(shape), Some(tasks)) = (
        args.first().map(String::as_str),
        args.get(1).and_then(|s| s.parse::<Shape>().ok()),
        args.get(2).and_then(|s| s.parse::<usize>().ok()),
    ) else {
        panic!("{USAGE}");
    };
    let g = shape.generate(tasks);
    let mut arena = Arena::new();
    let graph = build_shape::<()>(&mut arena, &g, |_| Ok(()));
    let report = Executor::with_threads(2).expect("threads").run(&graph);
    for coloured in [false, true] {
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..5 {
            let start = Instant::now();
            let dot = if coloured {
                graph.to_dot().report(&report).to_string()
            } else {
                graph.to_dot().to_string()
            };
            times.push(start.elapsed().as_secs_f64() * 1e3);
            bytes = dot.len();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{shape:?} {} tasks, {} edges, {}: {:.0} ms, {:.1} MiB of DOT",
            g.tasks,
            g.edges.len(),
            if coloured {
                "with the report"
            } else {
                "graph only"
            },
            times[2],
            bytes as f64 / (1 << 20) as f64
        );
    }
}
