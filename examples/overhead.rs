//! Measures kahn's scheduling overhead and parallel efficiency on the six
//! standard shapes, against a one-thread Kahn loop (the bookkeeping floor).
//!
//! ```sh
//! cargo run --release --example overhead -- [--threads 2] [--sizes 100000,1000000] [--reps 11] [--steps 330]
//! ```
//!
//! For each shape and size it prints, as medians over `--reps` runs:
//! - `build`: arena rewind + tasks + edges by id + `build()`, ns per task,
//!   once the arena has grown to the graph's size;
//! - `empty`: a rerun of the compiled graph with empty task bodies, ns per task,
//!   for kahn on `--threads` threads and for the floor;
//! - `scope`: the same graph with `rayon::scope`, one spawn per ready task;
//! - `timed`: kahn with `record_timings(true)`;
//! - `eff`: with a CPU-bound body of `--steps` xorshift steps (about 1 µs),
//!   floor time / (threads × kahn time): 100% is a perfect speedup;
//! - `scale`: the same against kahn on one thread, i.e. how well kahn's own
//!   work spreads over the threads, apart from its per-task overhead.
//!
//! Every run is checked: every task ran exactly once.

use std::hint::black_box;
use std::time::Instant;

use kahn::shapes::Shape;
use kahn::{Arena, Executor, RunOptions};

#[path = "../benches/common/baselines.rs"]
mod baselines;
use baselines::{build_shape, spin, RayonScope, SerialFloor};

struct Args {
    threads: usize,
    sizes: Vec<usize>,
    reps: usize,
    steps: u32,
    shapes: Vec<Shape>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        threads: 2,
        sizes: vec![100_000, 1_000_000],
        reps: 11,
        steps: 330,
        shapes: Shape::ALL.to_vec(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--threads" => {
                args.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?
            }
            "--reps" => args.reps = value()?.parse().map_err(|e| format!("--reps: {e}"))?,
            "--steps" => args.steps = value()?.parse().map_err(|e| format!("--steps: {e}"))?,
            "--sizes" => {
                args.sizes = value()?
                    .split(',')
                    .map(|s| s.parse().map_err(|e| format!("--sizes: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--shapes" => {
                args.shapes = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(args)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let executor = Executor::with_threads(args.threads)?;
    let one_thread = Executor::with_threads(1)?;
    println!(
        "threads={} reps={} steps={} (ns per task, medians; eff = floor / (threads x kahn))",
        args.threads, args.reps, args.steps
    );
    println!(
        "{:<12} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>6} {:>6}",
        "shape", "tasks", "build", "empty", "floor", "scope", "timed", "ratio", "eff", "scale"
    );
    let mut arena = Arena::new();
    for &n in &args.sizes {
        for &shape in &args.shapes {
            let g = shape.generate(n);
            let tasks = g.tasks as f64;

            // Two untimed builds first: the arena grows to this graph's size
            // (a steady batch loop reuses it; growing is a first-batch cost).
            for _ in 0..2 {
                drop(black_box(build_shape::<()>(&mut arena, &g, |_| Ok(()))));
            }
            let mut builds = Vec::new();
            for _ in 0..args.reps.min(5) {
                let t = Instant::now();
                let graph = build_shape::<()>(&mut arena, &g, |_| Ok(()));
                builds.push(t.elapsed().as_secs_f64());
                drop(black_box(graph));
            }

            let graph = build_shape::<()>(&mut arena, &g, |_| Ok(()));
            let time_runs = |options: &RunOptions| {
                median(
                    (0..args.reps)
                        .map(|_| {
                            let t = Instant::now();
                            let report = executor.run_with(&graph, options);
                            let elapsed = t.elapsed().as_secs_f64();
                            assert_eq!(
                                report.counts().succeeded,
                                g.tasks,
                                "every task succeeded once"
                            );
                            elapsed
                        })
                        .collect(),
                )
            };
            let empty = time_runs(&RunOptions::new());
            let timed = time_runs(&RunOptions::new().record_timings(true));
            drop(graph);

            let floor = SerialFloor::new(&g);
            let floor_empty = median(
                (0..args.reps)
                    .map(|_| {
                        let t = Instant::now();
                        assert_eq!(
                            floor.run(|v| {
                                black_box(v);
                            }),
                            g.tasks
                        );
                        t.elapsed().as_secs_f64()
                    })
                    .collect(),
            );

            let scope = RayonScope::new(&g, args.threads);
            let scope_empty = median(
                (0..args.reps)
                    .map(|_| {
                        let t = Instant::now();
                        assert_eq!(
                            scope.run(|v| {
                                black_box(v);
                            }),
                            g.tasks
                        );
                        t.elapsed().as_secs_f64()
                    })
                    .collect(),
            );
            drop(scope);

            // The report proves every task succeeded once; a shared counter in
            // the body would add a contended atomic the floor does not pay.
            let steps = args.steps;
            let graph = build_shape::<u64>(&mut arena, &g, move |ctx| {
                Ok(spin(ctx.id().index() as u64, steps))
            });
            let cpu_reps = args.reps.min(5);
            let time_cpu = |executor: &Executor| {
                median(
                    (0..cpu_reps)
                        .map(|_| {
                            let t = Instant::now();
                            let report = executor.run(&graph);
                            let elapsed = t.elapsed().as_secs_f64();
                            assert_eq!(report.counts().succeeded, g.tasks, "every task ran once");
                            elapsed
                        })
                        .collect(),
                )
            };
            let kahn_cpu = time_cpu(&executor);
            let kahn_cpu_one = time_cpu(&one_thread);
            drop(graph);
            let floor_cpu = median(
                (0..cpu_reps)
                    .map(|_| {
                        let t = Instant::now();
                        assert_eq!(
                            floor.run(|v| {
                                black_box(spin(u64::from(v), steps));
                            }),
                            g.tasks
                        );
                        t.elapsed().as_secs_f64()
                    })
                    .collect(),
            );
            let ns = |secs: f64| secs * 1e9 / tasks;
            println!(
                "{:<12} {:>9} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>7.2} {:>5.1}% {:>5.1}%",
                shape.name(),
                g.tasks,
                ns(median(builds)),
                ns(empty),
                ns(floor_empty),
                ns(scope_empty),
                ns(timed),
                empty / floor_empty,
                100.0 * floor_cpu / (args.threads as f64 * kahn_cpu),
                100.0 * kahn_cpu_one / (args.threads as f64 * kahn_cpu)
            );
        }
    }
    Ok(())
}
