//! Two copies of kahn (a base commit and the working tree) timed in one process, interleaved: what a change to the executor costs or saves, with the machine's drift taken out.
//!
//! Run through `benches/ab/run <base-rev> <rounds> <shape>:<tasks>:<threads>...`,
//! which exports the two libraries as the crates `kahn_one` and `kahn_two`,
//! runs this once with the base in `one`, once with it in `two`, and
//! combines the two.
//!
//! For each case it builds the shape once per contender (the one-thread
//! floor of `kahn_bench::baselines`, `kahn_one`, `kahn_two`), then runs
//! rounds: each contender gets one untimed run and a block of [`BLOCK`]
//! timed runs, in an order that rotates from round to round, and keeps the
//! block's median. It prints one line per case: the shape, tasks and
//! threads, then the medians over the rounds of the floor, `one` and `two`
//! in ns a task, and the median of the rounds' `two ÷ one`.
//!
//! Why in one process: on a shared VM a process, or a minute, is fast or
//! slow as a whole, so two harness runs one after the other differ by
//! 20–50% on rows whose code did not change. Why twice, swapped: the same
//! code compiled as two crates in one binary ran up to 13% apart (23% with
//! sixteen codegen units), depending on where it lands, so each commit
//! takes each slot once.

use std::hint::black_box;

use kahn_bench::baselines::SerialFloor;
use kahn_bench::shapes::{Shape, ShapeGraph};
use kahn_bench::turns::{block_median, median_of};

/// Timed runs of each contender in a round, back to back.
const BLOCK: usize = 10;

/// Builds `g` with one copy of kahn (the two have the same API but
/// different types) and returns a closure that runs it once and returns
/// how many tasks succeeded.
macro_rules! contender {
    ($kahn:ident, $g:expr, $threads:expr, $arena:ident) => {{
        let executor = $kahn::Executor::with_threads($threads).expect("threads");
        let mut b = $arena.builder::<()>();
        for _ in 0..$g.tasks {
            b.unnamed_task(|_| Ok(())).expect("a task");
        }
        let edges = $g
            .edges
            .iter()
            .map(|&(u, v)| ($kahn::TaskId::new(u), $kahn::TaskId::new(v)));
        b.edges(edges).expect("the shape's edges");
        let graph = b.build().expect("acyclic");
        move || executor.run(&graph).counts().succeeded
    }};
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: kahn-ab <rounds> <shape>:<tasks>:<threads>... (through benches/ab/run)";
    let rounds: usize = args.first().and_then(|a| a.parse().ok()).expect(usage);
    assert!(args.len() > 1, "{usage}");
    for case in &args[1..] {
        let parts: Vec<&str> = case.split(':').collect();
        let [shape, tasks, threads] = parts[..] else {
            panic!("{usage}: bad case {case:?}");
        };
        let shape: Shape = shape.parse().expect(usage);
        let tasks: f64 = tasks.parse().expect(usage);
        let threads: usize = threads.parse().expect(usage);
        let g = shape.generate(tasks as usize);
        let [floor, one, two, ratio] = compare(&g, threads, rounds);
        println!(
            "{shape} {} {threads} {floor:.3} {one:.3} {two:.3} {ratio:.4}",
            g.tasks
        );
    }
}

/// Runs one case: the medians of the floor, `one` and `two`, and of the
/// rounds' `two ÷ one`.
fn compare(g: &ShapeGraph, threads: usize, rounds: usize) -> [f64; 4] {
    let floor = SerialFloor::new(g);
    let mut arena_one = kahn_one::Arena::new();
    let one = contender!(kahn_one, g, threads, arena_one);
    let mut arena_two = kahn_two::Arena::new();
    let two = contender!(kahn_two, g, threads, arena_two);

    let block = |run: &dyn Fn() -> usize| block_median(g.tasks, BLOCK, run);
    let mut rows: Vec<[f64; 3]> = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let mut row = [0.0; 3];
        for k in 0..3 {
            let which = (k + round) % 3;
            row[which] = match which {
                0 => block(&|| floor.run(|v| _ = black_box(v))),
                1 => block(&one),
                _ => block(&two),
            };
        }
        rows.push(row);
    }
    let of = |pick: &dyn Fn(&[f64; 3]) -> f64| median_of(rows.iter().map(pick).collect());
    [
        of(&|r| r[0]),
        of(&|r| r[1]),
        of(&|r| r[2]),
        of(&|r| r[2] / r[1]),
    ]
}
