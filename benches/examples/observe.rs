//! What looking at a run costs: writing a large graph (and its report) as Graphviz DOT, or its run as a Chrome trace; and what watching a run costs per task.
//!
//! ```text
//! cargo run --release -p kahn-bench --example observe -- dot <shape> <tasks>
//! cargo run --release -p kahn-bench --example observe -- trace <shape> <tasks>
//! cargo run --release -p kahn-bench --example observe -- hooks <shape> <tasks> <threads> <rounds>
//! cargo run --release -p kahn-bench --example observe --features kahn/tracing -- hooks …
//! ```
//!
//! `dot` and `trace` build the shape, run it once (recording timings for
//! `trace`), and time the export written out whole into a `String`
//! (median of 5, in ms): `graph.to_dot()` without and with the report's
//! colours, or `report.to_chrome_trace()`; and print the size of the text.
//!
//! `hooks` reruns the shape with empty bodies, `rounds` times each way, the
//! ways interleaved round by round so that a noisy machine weighs on all of
//! them alike: unwatched; with a [`Progress`]; with an [`Observer`] that
//! counts finished tasks; with timings recorded. It prints each way's
//! median nanoseconds a task and its ratio to the unwatched runs of the
//! same process. Built with `--features kahn/tracing` and no subscriber,
//! the unwatched way is what the feature costs a run nobody traces.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use kahn::{Arena, Executor, Observer, Progress, RunOptions, TaskFinished};
use kahn_bench::baselines::build_shape;
use kahn_bench::shapes::Shape;

const USAGE: &str =
    "usage: observe (dot | trace) <shape> <tasks> | observe hooks <shape> <tasks> <threads> <rounds>";

/// Counts finished tasks: the least an observer does.
#[derive(Default)]
struct Count(AtomicU64);

impl Observer for Count {
    fn task_finished(&self, _: &TaskFinished<'_>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn hooks(args: &[String]) {
    let (Some(shape), Some(tasks), Some(threads), Some(rounds)) = (
        args.first().and_then(|s| s.parse::<Shape>().ok()),
        args.get(1).and_then(|s| s.parse::<usize>().ok()),
        args.get(2).and_then(|s| s.parse::<usize>().ok()),
        args.get(3).and_then(|s| s.parse::<usize>().ok()),
    ) else {
        panic!("{USAGE}");
    };
    let g = shape.generate(tasks);
    let mut arena = Arena::new();
    let graph = build_shape::<()>(&mut arena, &g, |_| Ok(()));
    let executor = Executor::with_threads(threads).expect("threads");
    let count = Arc::new(Count::default());
    let ways = [
        ("unwatched", RunOptions::new()),
        ("progress", RunOptions::new().progress(Progress::new())),
        ("observer", RunOptions::new().observer(count.clone())),
        ("timings", RunOptions::new().record_timings(true)),
    ];
    let mut ns: Vec<Vec<f64>> = vec![Vec::new(); ways.len()];
    for _ in 0..rounds {
        for (way, (_, options)) in ways.iter().enumerate() {
            let start = Instant::now();
            let report = executor.run_with(&graph, options);
            ns[way].push(start.elapsed().as_nanos() as f64 / g.tasks as f64);
            assert!(report.is_success());
        }
    }
    assert_eq!(count.0.load(Ordering::Relaxed), (rounds * g.tasks) as u64);
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let medians: Vec<f64> = ns.iter_mut().map(median).collect();
    for ((name, _), m) in ways.iter().zip(&medians) {
        println!(
            "{shape:?} {} tasks, {threads} threads: {name:<9} {m:7.1} ns/task, x{:.2}",
            g.tasks,
            m / medians[0]
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("hooks") {
        return hooks(&args[1..]);
    }
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
