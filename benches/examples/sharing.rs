//! What sharing the in-degree counters between threads costs on a shape, and what kahn adds to it, measured at the same moments.
//!
//! `cargo run --release -p kahn-bench --example sharing -- <shape> <tasks> <threads> [rounds] [steps]`
//!
//! Runs the floor (one thread, plain counters), `shared-counters` (kahn's
//! design with nothing else: workers sharing atomic in-degrees, see
//! `kahn_bench::baselines::SharedCounters`) and kahn in turn, with empty
//! bodies, or with `steps` xorshift steps a task (the harness's `cpu` body
//! is 330: about 1 µs on the Xeon, about 530 ns on an AMD EPYC) to compare parallel efficiencies in one process:
//! each round gives each of them one untimed run (which absorbs the
//! previous one's threads winding down) and then [`BLOCK`] timed runs back
//! to back, and keeps the block's median. Prints, over `rounds` rounds
//! (default 21), each one's median in ns per task and the medians of the
//! rounds' ratios; with a body, also each one's parallel efficiency (the
//! floor's time ÷ (threads × its time), from the rounds' medians).
//!
//! Why in turn: on a shared VM, what a cache line costs to move between
//! the two vCPUs changes with where the host puts them, and it changes
//! within a minute. The harness measures one variant after another, so a
//! ratio of two of its rows may compare two placements; here each ratio
//! compares blocks run within a few milliseconds of each other.

use std::hint::black_box;
use std::time::Instant;

use kahn::{Arena, Executor};
use kahn_bench::baselines::{spin, SerialFloor, SharedCounters};
use kahn_bench::shapes::Shape;
use kahn_bench::turns::{block_median, median_of};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: sharing <shape> <tasks> <threads> [rounds] [steps]";
    let shape: Shape = args.first().expect(usage).parse().expect(usage);
    let n: usize = args.get(1).expect(usage).parse().expect(usage);
    let threads: usize = args.get(2).expect(usage).parse().expect(usage);
    let rounds: usize = args.get(3).map_or(21, |r| r.parse().expect(usage));
    let steps: u32 = args.get(4).map_or(0, |s| s.parse().expect(usage));
    let body = move |v: u32| {
        if steps == 0 {
            _ = black_box(v);
        } else {
            spin(u64::from(v), steps);
        }
    };

    let g = shape.generate(n);
    let floor = SerialFloor::new(&g);
    let shared = SharedCounters::new(&g, threads);
    let executor = Executor::with_threads(threads).expect("threads");
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    for _ in 0..g.tasks {
        // Empty bodies exactly as before `steps` existed, so that the
        // figures of earlier sections compare.
        if steps == 0 {
            b.unnamed_task(|_| Ok(())).expect("a task");
        } else {
            b.unnamed_task(move |ctx| {
                spin(ctx.id().index() as u64, steps);
                Ok(())
            })
            .expect("a task");
        }
    }
    b.edges(g.task_edges()).expect("the shape's edges");
    let graph = b.build().expect("acyclic");

    let block = |run: &dyn Fn() -> usize| block_median(g.tasks, BLOCK, run);
    let trip_before = round_trip_ns();
    let mut rows: Vec<[f64; 3]> = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        rows.push([
            block(&|| floor.run(body)),
            block(&|| shared.run(body)),
            block(&|| executor.run(&graph).counts().succeeded),
        ]);
    }
    let of = |pick: &dyn Fn(&[f64; 3]) -> f64| median_of(rows.iter().map(pick).collect());
    println!(
        "{shape} {} tasks, {threads} threads, {rounds} rounds of {BLOCK}: floor {:.1}, \
         shared-counters {:.1}, kahn {:.1} ns a task; shared/floor {:.2}×, kahn/shared {:.2}×, \
         kahn/floor {:.2}×; a cache line's round trip between two threads {trip_before:.0} ns \
         before, {:.0} after",
        g.tasks,
        of(&|r| r[0]),
        of(&|r| r[1]),
        of(&|r| r[2]),
        of(&|r| r[1] / r[0]),
        of(&|r| r[2] / r[1]),
        of(&|r| r[2] / r[0]),
        round_trip_ns(),
    );
    if steps > 0 {
        let t = threads as f64;
        println!(
            "parallel efficiency with {steps} steps a task: shared-counters {:.1}%, kahn {:.1}%",
            100.0 * of(&|r| r[0] / (t * r[1])),
            100.0 * of(&|r| r[0] / (t * r[2])),
        );
    }
}

/// The median time, in ns, for two threads to pass a cache line to each
/// other and back (each waits for the other's store): what moving a
/// counter's line between the workers costs at this moment, about twice.
fn round_trip_ns() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    const TRIPS: u64 = 2_000;
    let line = AtomicU64::new(0);
    let wait_for = |value: u64| {
        while line.load(Ordering::Acquire) != value {
            std::hint::spin_loop();
        }
    };
    let times = std::thread::scope(|s| {
        s.spawn(|| {
            for trip in 0..TRIPS * 5 {
                wait_for(2 * trip + 1);
                line.store(2 * trip + 2, Ordering::Release);
            }
        });
        (0..5)
            .map(|batch| {
                let t = Instant::now();
                for trip in batch * TRIPS..(batch + 1) * TRIPS {
                    line.store(2 * trip + 1, Ordering::Release);
                    wait_for(2 * trip + 2);
                }
                t.elapsed().as_secs_f64() * 1e9 / TRIPS as f64
            })
            .collect()
    });
    median_of(times)
}

/// Timed runs of each in a round, back to back.
const BLOCK: usize = 10;
