//! What passing data costs and saves: early release's peak memory, the typed (`Value`) path's cost per task, moves against clones.
//!
//! ```text
//! cargo run --release -p kahn-bench --example data -- release <threads> [tasks] [mib]
//! cargo run --release -p kahn-bench --example data -- typed <shape> <tasks> <threads> [reps]
//! cargo run --release -p kahn-bench --example data -- move <tasks> <threads> [mib] [reps]
//! ```
//!
//! - `release`: a layered pipeline (the `layered` benchmark shape, 10,000
//!   tasks by default) whose tasks each output `mib` MiB (default 1), filled
//!   so the pages are really touched, and read one byte of each input. Runs
//!   it without and then with `RunOptions::release_outputs`, each in a fresh
//!   graph, and prints the peak heap bytes (the counting allocator) and the
//!   peak resident set (`VmHWM`, where the kernel lets it be reset) of each.
//! - `typed`: empty-body reruns of a shape with one output type (`u64`)
//!   and with typed outputs (`Value`, a box per task), alternating in one
//!   process; prints both medians in ns per task and the difference.
//! - `move`: a chain whose tasks pass a `mib` MiB vector down, cloning it
//!   (`input` + `clone`) or moving it (`take_input`), alternating; prints
//!   both medians in µs per task.

use std::time::Instant;

use kahn::{Arena, Executor, Graph, RunOptions, TaskId, Value};
use kahn_bench::alloc::{self, rss, Counting};
use kahn_bench::baselines::build_shape;
use kahn_bench::shapes::Shape;
use kahn_bench::turns::median_of;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const USAGE: &str = "usage: data release <threads> [tasks] [mib]
       data typed <shape> <tasks> <threads> [reps]
       data move <tasks> <threads> [mib] [reps]";

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: Option<T>) -> T {
    match args.get(i) {
        Some(a) => a.parse().unwrap_or_else(|_| panic!("{USAGE}")),
        None => default.unwrap_or_else(|| panic!("{USAGE}")),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("release") => release(
            arg(&args, 1, None),
            arg(&args, 2, Some(10_000)),
            arg(&args, 3, Some(1)),
        ),
        Some("typed") => typed(
            arg(&args, 1, None),
            arg(&args, 2, None),
            arg(&args, 3, None),
            arg(&args, 4, Some(31)),
        ),
        Some("move") => moves(
            arg(&args, 1, None),
            arg(&args, 2, None),
            arg(&args, 3, Some(1)),
            arg(&args, 4, Some(11)),
        ),
        _ => panic!("{USAGE}"),
    }
}

fn release(threads: usize, tasks: usize, mib: usize) {
    let g = Shape::Layered.generate(tasks);
    let exec = Executor::with_threads(threads).expect("threads");
    println!(
        "layered, {} tasks, {} edges, {mib} MiB per output, {threads} threads",
        g.tasks,
        g.edges.len()
    );
    for release in [false, true] {
        let mut arena = Arena::new();
        let graph = build_shape::<Vec<u8>>(&mut arena, &g, move |ctx| {
            let seen = ctx.inputs().map(|(_, v)| u64::from(v[0])).sum::<u64>();
            Ok(vec![(seen % 251) as u8 + 1; mib << 20])
        });
        let sinks = (0..g.tasks)
            .filter(|&v| graph.successors(TaskId::new(v as u32)).len() == 0)
            .count();
        let heap_before = alloc::reset_peak();
        let rss_before = rss::reset_peak();
        let start = Instant::now();
        let report = exec.run_with(&graph, &RunOptions::new().release_outputs(release));
        let wall = start.elapsed();
        assert!(report.is_success(), "{report}");
        let heap_peak = alloc::peak_bytes() - heap_before;
        let held = alloc::live_bytes() - heap_before;
        let rss_peak = rss_before.and_then(|_| rss::peak());
        drop(report);
        println!(
            "release_outputs({release}): peak heap {:.1} MiB, held by the report {:.1} MiB ({sinks} sinks), peak RSS {}, wall {:.2} s",
            mib_of(heap_peak),
            mib_of(held),
            rss_peak.map_or("n/a".into(), |b| format!("{:.1} MiB", mib_of(b))),
            wall.as_secs_f64()
        );
    }
}

fn mib_of(bytes: usize) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn typed(shape: Shape, tasks: usize, threads: usize, reps: usize) {
    let g = shape.generate(tasks);
    let exec = Executor::with_threads(threads).expect("threads");
    let (mut one, mut many) = (Arena::new(), Arena::new());
    let plain = build_shape::<u64>(&mut one, &g, |_| Ok(0));
    let typed = build_shape::<Value>(&mut many, &g, |_| Ok(Value::new(0_u64)));
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let start = Instant::now();
        drop(std::hint::black_box(exec.run(&plain)));
        a.push(start.elapsed().as_nanos() as f64 / g.tasks as f64);
        let start = Instant::now();
        drop(std::hint::black_box(exec.run(&typed)));
        b.push(start.elapsed().as_nanos() as f64 / g.tasks as f64);
    }
    let (a, b) = (median_of(a), median_of(b));
    println!(
        "{shape:?} {tasks} tasks, {threads} threads: u64 {a:.1} ns/task, Value {b:.1} ns/task, +{:.1} ns/task ({:.2}x)",
        b - a,
        b / a
    );
}

fn moves(tasks: usize, threads: usize, mib: usize, reps: usize) {
    let exec = Executor::with_threads(threads).expect("threads");
    fn build(arena: &mut Arena, tasks: usize, mib: usize, take: bool) -> Graph<'_, Vec<u8>> {
        let mut b = arena.builder::<Vec<u8>>();
        b.unnamed_task(move |_| Ok(vec![1; mib << 20]))
            .expect("task");
        for v in 1..tasks as u32 {
            let from = TaskId::new(v - 1);
            b.unnamed_task(move |ctx| {
                let mut data = if take {
                    ctx.take_input(from)?
                } else {
                    ctx.input(from)?.clone()
                };
                let at = v as usize % data.len();
                data[at] ^= 1;
                Ok(data)
            })
            .expect("task");
            b.edge(from, TaskId::new(v)).expect("edge");
        }
        b.build().expect("a chain")
    }
    let (mut one, mut two) = (Arena::new(), Arena::new());
    let cloned = build(&mut one, tasks, mib, false);
    let moved = build(&mut two, tasks, mib, true);
    let options = RunOptions::new().release_outputs(true);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let start = Instant::now();
        drop(exec.run_with(&cloned, &options));
        a.push(start.elapsed().as_nanos() as f64 / 1e3 / tasks as f64);
        let start = Instant::now();
        drop(exec.run_with(&moved, &options));
        b.push(start.elapsed().as_nanos() as f64 / 1e3 / tasks as f64);
    }
    let (a, b) = (median_of(a), median_of(b));
    println!(
        "chain of {tasks}, {mib} MiB passed down, {threads} threads: clone {a:.1} µs/task, move {b:.1} µs/task ({:.1}x)",
        a / b
    );
}
