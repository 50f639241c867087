//! Criterion benches: the six standard shapes, empty task bodies, steady-state reruns.
//!
//! Group ids are `<what>/<variant>/<shape>-<n>`:
//! - `run/kahn-2t`: rerun of a compiled graph on a 2-thread executor (the
//!   headline figure: scheduling overhead per task);
//! - `run/rayon-scope-2t`: `rayon::scope` with one spawn per ready task, the
//!   usual first attempt;
//! - `run/floor-1t`: a one-thread Kahn loop over the same CSR with the body
//!   inlined, the bookkeeping floor no executor can beat;
//! - `build/by-id` and `build/by-name`: arena reset + tasks + edges + `build()`.
//!
//! After criterion's own output, a table prints each median as ns per task.
//! Run: `cargo bench --bench shapes` (add a filter such as `run/` to narrow).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use kahn::shapes::{Shape, ShapeGraph};
use kahn::{Arena, Executor};

#[path = "common/baselines.rs"]
mod baselines;
use baselines::{build_shape, spin, RayonScope, SerialFloor};

const SIZES: [usize; 2] = [1_000, 100_000];

fn build_by_id(arena: &mut Arena, g: &ShapeGraph) -> usize {
    build_shape::<()>(arena, g, |_| Ok(())).task_count()
}

fn build_by_name(arena: &mut Arena, g: &ShapeGraph, names: &[String]) -> usize {
    let mut b = arena.builder::<()>();
    b.reserve(g.tasks, g.edges.len());
    for name in names {
        b.task(name, |_| Ok(())).expect("unique name");
    }
    for &(u, v) in &g.edges {
        b.edge(names[u as usize].as_str(), names[v as usize].as_str())
            .expect("valid edge");
    }
    b.build().expect("acyclic").task_count()
}

fn bench_runs(c: &mut Criterion, executor: &Executor) {
    let mut group = c.benchmark_group("run");
    for shape in Shape::ALL {
        for n in SIZES {
            let g = shape.generate(n);
            group.throughput(Throughput::Elements(g.tasks as u64));
            let mut arena = Arena::new();
            let graph = build_shape::<()>(&mut arena, &g, |_| Ok(()));
            group.bench_function(
                BenchmarkId::new("kahn-2t", format!("{shape}-{n}")),
                |bench| {
                    bench.iter(|| {
                        let report = executor.run(&graph);
                        assert_eq!(report.counts().succeeded, g.tasks);
                    })
                },
            );
            let scope = RayonScope::new(&g, 2);
            group.bench_function(
                BenchmarkId::new("rayon-scope-2t", format!("{shape}-{n}")),
                |bench| {
                    bench.iter(|| {
                        assert_eq!(
                            scope.run(|v| {
                                black_box(v);
                            }),
                            g.tasks
                        )
                    })
                },
            );
            let floor = SerialFloor::new(&g);
            group.bench_function(
                BenchmarkId::new("floor-1t", format!("{shape}-{n}")),
                |bench| {
                    bench.iter(|| {
                        assert_eq!(
                            floor.run(|v| {
                                black_box(v);
                            }),
                            g.tasks
                        )
                    })
                },
            );
        }
    }
    group.finish();
}

/// Steps of `spin` that take about 1 µs on the machines in BENCHMARKS.md.
const SPIN_STEPS: u32 = 330;

fn bench_cpu_bodies(c: &mut Criterion, one: &Executor, two: &Executor) {
    let mut group = c.benchmark_group("cpu1us");
    let n = 10_000;
    for shape in Shape::ALL {
        let g = shape.generate(n);
        group.throughput(Throughput::Elements(g.tasks as u64));
        let mut arena = Arena::new();
        let graph = build_shape::<u64>(&mut arena, &g, |ctx| {
            Ok(spin(ctx.id().index() as u64, SPIN_STEPS))
        });
        for (variant, executor) in [("kahn-1t", one), ("kahn-2t", two)] {
            group.bench_function(BenchmarkId::new(variant, format!("{shape}-{n}")), |bench| {
                bench.iter(|| assert!(executor.run(&graph).is_success()))
            });
        }
        let floor = SerialFloor::new(&g);
        group.bench_function(
            BenchmarkId::new("floor-1t", format!("{shape}-{n}")),
            |bench| {
                bench.iter(|| {
                    assert_eq!(
                        floor.run(|v| {
                            black_box(spin(u64::from(v), SPIN_STEPS));
                        }),
                        g.tasks
                    )
                })
            },
        );
    }
    group.finish();
}

fn bench_builds(c: &mut Criterion) {
    let mut group = c.benchmark_group("build");
    for shape in [Shape::Chain, Shape::Layered] {
        let n = 100_000;
        let g = shape.generate(n);
        group.throughput(Throughput::Elements(g.tasks as u64));
        let mut arena = Arena::new();
        group.bench_function(BenchmarkId::new("by-id", format!("{shape}-{n}")), |bench| {
            bench.iter(|| build_by_id(&mut arena, &g))
        });
        let names: Vec<String> = (0..g.tasks).map(|i| format!("{shape}/task-{i}")).collect();
        group.bench_function(
            BenchmarkId::new("by-name", format!("{shape}-{n}")),
            |bench| bench.iter(|| build_by_name(&mut arena, &g, &names)),
        );
    }
    group.finish();
}

/// Reads criterion's median estimate (ns per iteration) for one benchmark id.
fn median_ns(id: &str) -> Option<f64> {
    let path = format!("target/criterion/{id}/new/estimates.json");
    let json = std::fs::read_to_string(path).ok()?;
    let median = &json[json.find("\"median\"")?..];
    let value = &median[median.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = value
        .find(|c: char| c != '.' && c != '-' && c != 'e' && c != '+' && !c.is_ascii_digit())?;
    value[..end].parse().ok()
}

fn print_table() {
    println!("\nmedian ns per task (criterion estimates):");
    println!(
        "{:<20} {:>12} {:>12} {:>12} {:>10}",
        "shape-n", "kahn-2t", "scope-2t", "floor-1t", "kahn/floor"
    );
    for shape in Shape::ALL {
        for n in SIZES {
            let tasks = shape.generate(n).tasks as f64;
            let id = format!("{shape}-{n}");
            let per_task =
                |variant: &str| median_ns(&format!("run/{variant}/{id}")).map(|t| t / tasks);
            let (kahn, scope, floor) = (
                per_task("kahn-2t"),
                per_task("rayon-scope-2t"),
                per_task("floor-1t"),
            );
            if let (Some(k), Some(s), Some(f)) = (kahn, scope, floor) {
                println!("{id:<20} {k:>12.1} {s:>12.1} {f:>12.1} {:>10.2}", k / f);
            }
        }
    }
    println!("\nparallel efficiency with ~1 us bodies, 10000 tasks: floor-1t / (2 x kahn-2t)");
    for shape in Shape::ALL {
        let id = format!("{shape}-10000");
        let kahn = median_ns(&format!("cpu1us/kahn-2t/{id}"));
        let floor = median_ns(&format!("cpu1us/floor-1t/{id}"));
        if let (Some(k), Some(f)) = (kahn, floor) {
            println!("{id:<20} {:>7.1}%", 100.0 * f / (2.0 * k));
        }
    }
    for shape in [Shape::Chain, Shape::Layered] {
        let id = format!("{shape}-100000");
        let tasks = shape.generate(100_000).tasks as f64;
        for variant in ["by-id", "by-name"] {
            if let Some(t) = median_ns(&format!("build/{variant}/{id}")) {
                println!("build/{variant}/{id:<12} {:>8.1} ns per task", t / tasks);
            }
        }
    }
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let executor = Executor::with_threads(2).expect("threads");
    bench_runs(&mut c, &executor);
    bench_cpu_bodies(
        &mut c,
        &Executor::with_threads(1).expect("threads"),
        &executor,
    );
    bench_builds(&mut c);
    c.final_summary();
    print_table();
}
