//! What the failure semantics cost: empty-body reruns with timeouts and retry policies set on every task but never triggered, and a retry storm.
//!
//! `cargo run --release -p kahn-bench --example failures -- <shape> <tasks> <threads> <mode> [reps]`
//!
//! `mode` is one of:
//! - `plain`: no timeout, no policy (the baseline);
//! - `timeouts`: every task has a timeout of an hour;
//! - `retries`: every task has a retry policy of 3 attempts;
//! - `both`: both;
//! - `storm`: every task fails its first two attempts and succeeds on the
//!   third, with no delay (prints ns per *attempt*, three a task).
//!
//! Prints the median and the fastest of `reps` reruns (default 31) of one
//! built graph, in ns per task (per attempt for `storm`). Compare modes in
//! alternating processes, since a process on a shared VM is fast or slow
//! for its whole life.

use std::time::{Duration, Instant};

use kahn::{Arena, Executor, RetryPolicy};
use kahn_bench::shapes::Shape;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        "usage: failures <shape> <tasks> <threads> <plain|timeouts|retries|both|storm> [reps]";
    let shape: Shape = args.first().expect(usage).parse().expect(usage);
    let n: usize = args.get(1).expect(usage).parse().expect(usage);
    let threads: usize = args.get(2).expect(usage).parse().expect(usage);
    let mode = args.get(3).expect(usage).as_str();
    let reps: usize = args.get(4).map_or(31, |r| r.parse().expect(usage));
    let (timeouts, retries, storm) = match mode {
        "plain" => (false, false, false),
        "timeouts" => (true, false, false),
        "retries" => (false, true, false),
        "both" => (true, true, false),
        "storm" => (false, true, true),
        _ => panic!("{usage}"),
    };

    let g = shape.generate(n);
    let exec = Executor::with_threads(threads).expect("threads");
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.reserve(g.tasks, g.edges.len());
    for _ in 0..g.tasks {
        if storm {
            b.unnamed_task(|ctx| {
                if ctx.attempt() < 3 {
                    return Err("transient".into());
                }
                Ok(())
            })
        } else {
            b.unnamed_task(|_| Ok(()))
        }
        .expect("within limits");
    }
    b.edges(g.task_edges()).expect("known ids");
    for v in 0..g.tasks {
        let id = kahn::TaskId::new(v as u32);
        if timeouts {
            b.timeout(id, Duration::from_secs(3600)).expect("a task");
        }
        if retries {
            b.retry(id, RetryPolicy::attempts(3)).expect("a task");
        }
    }
    let graph = b.build().expect("acyclic");

    let per = if storm {
        3.0 * g.tasks as f64
    } else {
        g.tasks as f64
    };
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let start = Instant::now();
        let report = exec.run(&graph);
        let took = start.elapsed();
        assert!(report.is_success(), "{report}");
        times.push(took.as_nanos() as f64 / per);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{} {} tasks, {threads} threads, {mode}: median {:.2} ns, fastest {:.2} ns per {}",
        shape.name(),
        g.tasks,
        times[reps / 2],
        times[0],
        if storm { "attempt" } else { "task" }
    );
}
