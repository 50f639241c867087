//! The baselines run every shape correctly: each task once, after all its predecessors.
//!
//! The harness checks this once per shape and size it measures; here every
//! shape is checked at every size up to 64 and at 1,000, on one and two
//! threads, so a baseline that drops or reorders a task fails before it is
//! timed against kahn.

use kahn_bench::baselines::{RayonScope, SerialFloor};
use kahn_bench::order::Stamps;
use kahn_bench::shapes::Shape;

fn sizes() -> impl Iterator<Item = usize> {
    (0..=64).chain([1000])
}

#[test]
fn rayon_scope_runs_every_shape_in_order() {
    for threads in [1, 2] {
        for shape in Shape::ALL {
            for n in sizes() {
                let g = shape.generate(n);
                for scope in [
                    RayonScope::new(&g, threads),
                    RayonScope::continuing_inline(&g, threads),
                ] {
                    let stamps = Stamps::new(g.tasks);
                    let ran = scope.run(|v| stamps.hit(v));
                    let what = format!("{} {threads}t on {shape} at n = {n}", scope.variant());
                    assert_eq!(ran, g.tasks, "{what}: tasks ran");
                    stamps
                        .verify(&g)
                        .unwrap_or_else(|why| panic!("{what}: {why}"));
                }
            }
        }
    }
}

#[test]
fn the_floor_runs_every_shape_in_order() {
    for shape in Shape::ALL {
        for n in sizes() {
            let g = shape.generate(n);
            let stamps = Stamps::new(g.tasks);
            let ran = SerialFloor::new(&g).run(|v| stamps.hit(v));
            assert_eq!(ran, g.tasks, "floor on {shape} at n = {n}: tasks ran");
            stamps
                .verify(&g)
                .unwrap_or_else(|why| panic!("floor on {shape} at n = {n}: {why}"));
        }
    }
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
