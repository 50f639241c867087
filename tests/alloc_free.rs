//! Proves the arena's promise: after warm-up, rebuilding a graph of the same
//! size (named or not, with critical-path weights or not) and rerunning a
//! compiled graph make no heap allocation per task.
//!
//! Its own test binary because it installs a counting global allocator (the
//! harness's, from kahn-bench), and a single `#[test]` so no other test
//! allocates while it counts.

use std::sync::Arc;

use kahn::{Arena, Executor, TaskId};
use kahn_bench::alloc::{self, Counting};
use kahn_bench::shapes::Shape;

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = alloc::allocations();
    f();
    alloc::allocations() - before
}

/// Builds `shape` at `n` tasks into `arena`, named or not, with a weight on
/// every task (`ranked`) or none, and runs it once. Every closure captures
/// an `Arc`, so the closures own heap data (no copy of it).
fn batch(
    arena: &mut Arena,
    executor: &Executor,
    shape: Shape,
    n: usize,
    (named, ranked): (bool, bool),
    shared: &Arc<u64>,
) -> usize {
    let generated = shape.generate(n);
    // Names are made before counting starts: they are the caller's strings.
    let names: Vec<String> = if named {
        (0..generated.tasks).map(|i| format!("task-{i}")).collect()
    } else {
        Vec::new()
    };
    allocations_during(|| {
        let mut b = arena.builder::<u64>();
        for i in 0..generated.tasks {
            let shared = Arc::clone(shared);
            let body = move |_: &kahn::TaskContext<'_, u64>| Ok(*shared + 1);
            match names.get(i) {
                Some(name) => b.task(name, body).expect("fresh name"),
                None => b.unnamed_task(body).expect("under the limit"),
            };
        }
        b.edges(generated.task_edges()).expect("valid edges");
        if ranked {
            for i in 0..generated.tasks as u32 {
                b.weight(TaskId::new(i), f64::from(i % 7))
                    .expect("a valid weight");
            }
        }
        let graph = b.build().expect("acyclic");
        let report = executor.run(&graph);
        assert!(report.is_success());
    })
}

#[test]
fn rebuild_after_reset_and_rerun_allocate_nothing_per_task() {
    // Its own executor: this binary has a single test, so nothing to share
    // it with, and it is started before any counting.
    let executor = Executor::with_threads(2).expect("threads");
    let shared = Arc::new(41u64);
    let (small, large) = if cfg!(miri) {
        (20, 200)
    } else {
        (1_000, 100_000)
    };

    for shape in [Shape::Layered, Shape::Tree, Shape::Diamond] {
        for (named, ranked) in [(false, false), (true, false), (false, true)] {
            let how = (named, ranked);
            let mut arena = Arena::new();
            // Warm up: the arena grows to the graph's size; later batches reuse it.
            for _ in 0..3 {
                batch(&mut arena, &executor, shape, large, how, &shared);
            }
            let steady_large = batch(&mut arena, &executor, shape, large, how, &shared);

            let mut arena_small = Arena::new();
            for _ in 0..3 {
                batch(&mut arena_small, &executor, shape, small, how, &shared);
            }
            let steady_small = batch(&mut arena_small, &executor, shape, small, how, &shared);

            // A run allocates a fixed number of buffers (per-run slots and
            // counters, the listing, the report), independent of the task
            // count; seats, deques and stacks are reused from earlier runs.
            // A longer run may add a few per idle spell, not per task: a
            // worker called from the pool (a boxed rayon job) or a rescue
            // (the rescued seat's stack starts over). A per-task allocation
            // would add 99,000.
            assert!(
                steady_large <= steady_small + 64,
                "{shape} named={named} ranked={ranked}: {steady_large} allocations for {large} tasks vs {steady_small} for {small}"
            );
            assert!(
                steady_small < 200,
                "{shape} named={named} ranked={ranked}: {steady_small} allocations for a {small}-task batch"
            );
        }
    }

    // Rerunning one compiled graph: allocations do not grow with the task count.
    let mut per_size = Vec::new();
    for n in [small, large] {
        let generated = Shape::Layered.generate(n);
        let mut arena = Arena::new();
        let mut b = arena.builder::<u64>();
        for _ in 0..generated.tasks {
            b.unnamed_task(|_| Ok(1)).expect("under the limit");
        }
        b.edges(generated.task_edges()).expect("valid edges");
        let graph = b.build().expect("acyclic");
        executor.run(&graph);
        per_size.push(allocations_during(|| {
            assert!(executor.run(&graph).is_success());
        }));
    }
    assert!(
        per_size[1] <= per_size[0] + 64,
        "rerun allocations grew with size: {per_size:?}"
    );
    assert_eq!(
        Arc::strong_count(&shared),
        1,
        "every closure's captured Arc was dropped"
    );
}
