//! The baselines run every shape correctly: each task once, after all its predecessors.
//!
//! The harness checks this once per shape and size it measures; here every
//! shape is checked at every size up to 64 and at 1,000, on one and two
//! threads, so a baseline that drops or reorders a task fails before it is
//! timed against kahn.

use kahn_bench::baselines::{RayonScope, SerialFloor, SharedCounters};
use kahn_bench::order::Stamps;
use kahn_bench::shapes::{Shape, ShapeGraph};

fn sizes() -> impl Iterator<Item = usize> {
    (0..=64).chain([1000])
}

/// Runs `run` (which stamps each task it runs and returns how many ran) on
/// every shape at every size, and checks each run.
fn every_shape_in_order(who: &str, run: impl Fn(&ShapeGraph, &Stamps) -> usize) {
    for shape in Shape::ALL {
        for n in sizes() {
            let g = shape.generate(n);
            let stamps = Stamps::new(g.tasks);
            let ran = run(&g, &stamps);
            let what = format!("{who} on {shape} at n = {n}");
            assert_eq!(ran, g.tasks, "{what}: tasks ran");
            stamps
                .verify(&g)
                .unwrap_or_else(|why| panic!("{what}: {why}"));
        }
    }
}

#[test]
fn rayon_scope_runs_every_shape_in_order() {
    for threads in [1, 2] {
        every_shape_in_order(&format!("rayon-scope {threads}t"), |g, stamps| {
            RayonScope::new(g, threads).run(|v| stamps.hit(v))
        });
        every_shape_in_order(&format!("rayon-scope-inline {threads}t"), |g, stamps| {
            RayonScope::continuing_inline(g, threads).run(|v| stamps.hit(v))
        });
    }
}

#[test]
fn shared_counters_run_every_shape_in_order() {
    for threads in [1, 2, 4] {
        every_shape_in_order(&format!("shared-counters {threads}t"), |g, stamps| {
            let runner = SharedCounters::new(g, threads);
            // Twice: the second run starts from counters the first used.
            runner.run(|_| {});
            runner.run(|v| stamps.hit(v))
        });
    }
}

#[test]
fn the_floor_runs_every_shape_in_order() {
    every_shape_in_order("floor", |g, stamps| {
        SerialFloor::new(g).run(|v| stamps.hit(v))
    });
}

/// The stamps themselves catch what they are there to catch.
#[test]
fn stamps_catch_a_task_twice_missing_or_early() {
    let g = Shape::Chain.generate(3);
    let stamps = Stamps::new(3);
    for v in [0, 1, 2] {
        stamps.hit(v);
    }
    assert_eq!(stamps.verify(&g), Ok(()));
    let stamps = Stamps::new(3);
    for v in [0, 2, 1] {
        stamps.hit(v);
    }
    assert_eq!(
        stamps.verify(&g),
        Err("task 2 started before its predecessor 1".into())
    );
    let stamps = Stamps::new(3);
    stamps.hit(0);
    stamps.hit(1);
    assert_eq!(stamps.verify(&g), Err("task 2 never ran".into()));
    stamps.hit(1);
    assert_eq!(stamps.verify(&g), Err("a task ran twice".into()));
}
