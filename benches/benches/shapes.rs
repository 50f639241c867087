//! Criterion benches: the six standard shapes, arena against heap and kahn
//! against the baselines, at sizes criterion can sample (up to 1e5 tasks).
//!
//! Ids are `<what>/<variant>/<shape>-<n>`:
//! - `rerun/{kahn-2t, heap-2t, rayon-scope-2t, rayon-scope-inline-2t, shared-counters-2t, floor-1t}`:
//!   a rerun of a built graph, empty bodies: scheduling overhead per task.
//!   `heap-2t` is the heap variant (`kahn_bench::heap`), `rayon-scope-2t` one
//!   spawn per ready task over CSR, `rayon-scope-inline-2t` the same but
//!   continuing inline with one ready successor, `shared-counters-2t` kahn's
//!   design with nothing else (workers sharing atomic in-degrees), `floor-1t`
//!   a one-thread Kahn loop with the body inlined;
//! - `build/{arena, arena-bulk, arena-by-id, heap}`: (arena rewind +) tasks +
//!   edges + validation, by name from a configuration's strings (one call
//!   per item, or `bulk`: `tasks` and `edges_by_name`) unless `by-id`;
//! - `batch/{arena, heap}`: build by name + run + drop, the ETL loop;
//! - `cpu1us/{kahn-1t, kahn-2t, heap-2t, rayon-scope-2t, rayon-scope-inline-2t, shared-counters-2t, floor-1t}`:
//!   ~1 µs bodies, for parallel efficiency.
//!
//! Build and batch bodies capture a counter, as real tasks capture data.
//! After criterion's own output come the harness's tables (`report::tables`)
//! of the medians per task, with `-` for what these benches do not measure.
//! Run: `cargo bench -p kahn-bench --bench shapes` (about 5 minutes; a filter such as
//! `rerun/` narrows it). The full harness, up to 1e7 tasks with memory and
//! allocation counts, is `cargo run --release -p kahn-bench`.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use kahn::{Arena, Executor};
use kahn_bench::baselines::{
    build_named, build_shape, spin, NameCalls, RayonScope, SerialFloor, SharedCounters,
};
use kahn_bench::heap::{self, task_names, HeapGraph};
use kahn_bench::record::{self, Record};
use kahn_bench::report;
use kahn_bench::shapes::{Shape, ShapeGraph};

/// Rerun sizes; build, batch and cpu1us use one size each.
const SIZES: [usize; 2] = [1_000, 100_000];
const BUILD_SIZE: usize = 100_000;
const CPU_SIZE: usize = 10_000;
/// Criterion's samples per benchmark.
const SAMPLES: usize = 10;
/// Steps of `spin` that take about 1 µs on the machines in BENCHMARKS.md.
const SPIN_STEPS: u32 = 330;

fn id(variant: &str, shape: Shape, n: usize) -> BenchmarkId {
    BenchmarkId::new(variant, format!("{shape}-{n}"))
}

fn bench_reruns(c: &mut Criterion, executor: &Executor, pool: &rayon::ThreadPool) {
    let mut group = c.benchmark_group("rerun");
    for shape in Shape::ALL {
        for n in SIZES {
            let g = shape.generate(n);
            group.throughput(Throughput::Elements(g.tasks as u64));
            let mut arena = Arena::new();
            let graph = build_shape::<()>(&mut arena, &g, |_| Ok(()));
            group.bench_function(id("kahn-2t", shape, n), |bench| {
                bench.iter(|| assert_eq!(executor.run(&graph).counts().succeeded, g.tasks))
            });
            bench_others(&mut group, &g, n, pool, |v| {
                black_box(v);
            });
        }
    }
    group.finish();
}

/// The heap variant (on `pool`'s two threads), both `rayon::scope`
/// baselines and `shared-counters` (each on two threads of its own) and the
/// one-thread floor on `g`, every task running `body`.
fn bench_others(
    group: &mut BenchmarkGroup<'_, WallTime>,
    g: &ShapeGraph,
    n: usize,
    pool: &rayon::ThreadPool,
    body: impl Fn(u32) + Send + Sync + Copy + 'static,
) {
    let names = task_names(g.tasks);
    let mut heap = HeapGraph::build(g, &names, |_| Box::new(body)).expect("valid");
    assert_eq!(heap.name(0), names.first().map(String::as_str));
    group.bench_function(id("heap-2t", g.shape, n), |bench| {
        bench.iter(|| assert_eq!(heap.run(pool), g.tasks))
    });
    for scope in [RayonScope::new(g, 2), RayonScope::continuing_inline(g, 2)] {
        let variant = format!("{}-2t", scope.variant());
        group.bench_function(id(&variant, g.shape, n), |bench| {
            bench.iter(|| assert_eq!(scope.run(body), g.tasks))
        });
    }
    let shared = SharedCounters::new(g, 2);
    group.bench_function(id("shared-counters-2t", g.shape, n), |bench| {
        bench.iter(|| assert_eq!(shared.run(body), g.tasks))
    });
    let floor = SerialFloor::new(g);
    group.bench_function(id("floor-1t", g.shape, n), |bench| {
        bench.iter(|| assert_eq!(floor.run(body), g.tasks))
    });
}

fn bench_builds_and_batches(c: &mut Criterion, executor: &Executor, pool: &rayon::ThreadPool) {
    let counter = AtomicUsize::new(0);
    let count = &counter;
    let body = move |_: &kahn::TaskContext<'_, ()>| {
        count.fetch_add(1, Ordering::Relaxed);
        Ok(())
    };
    let heap_body = move |_: u32| -> heap::HeapBody<'_> {
        Box::new(move |_| {
            count.fetch_add(1, Ordering::Relaxed);
        })
    };
    let n = BUILD_SIZE;
    for shape in Shape::ALL {
        let g = shape.generate(n);
        let names = task_names(g.tasks);
        let mut arena = Arena::new();

        let mut group = c.benchmark_group("build");
        group.throughput(Throughput::Elements(g.tasks as u64));
        group.bench_function(id("arena", shape, n), |bench| {
            bench.iter(|| {
                build_named(&mut arena, &g, &names, body, NameCalls::OnePerItem).task_count()
            })
        });
        group.bench_function(id("arena-bulk", shape, n), |bench| {
            bench.iter(|| build_named(&mut arena, &g, &names, body, NameCalls::Bulk).task_count())
        });
        group.bench_function(id("arena-by-id", shape, n), |bench| {
            bench.iter(|| build_shape(&mut arena, &g, body).task_count())
        });
        group.bench_function(id("heap", shape, n), |bench| {
            bench.iter(|| {
                HeapGraph::build(&g, &names, heap_body)
                    .expect("valid")
                    .task_count()
            })
        });
        group.finish();

        let mut group = c.benchmark_group("batch");
        group.throughput(Throughput::Elements(g.tasks as u64));
        group.bench_function(id("arena", shape, n), |bench| {
            bench.iter(|| {
                let graph = build_named(&mut arena, &g, &names, body, NameCalls::OnePerItem);
                assert!(executor.run(&graph).is_success());
            })
        });
        group.bench_function(id("heap", shape, n), |bench| {
            bench.iter(|| {
                let mut graph = HeapGraph::build(&g, &names, heap_body).expect("valid");
                assert_eq!(graph.run(pool), g.tasks);
            })
        });
        group.finish();
    }
}

fn bench_cpu_bodies(c: &mut Criterion, one: &Executor, two: &Executor, pool: &rayon::ThreadPool) {
    let mut group = c.benchmark_group("cpu1us");
    let n = CPU_SIZE;
    for shape in Shape::ALL {
        let g = shape.generate(n);
        group.throughput(Throughput::Elements(g.tasks as u64));
        let mut arena = Arena::new();
        let graph = build_shape::<()>(&mut arena, &g, |ctx| {
            spin(ctx.id().index() as u64, SPIN_STEPS);
            Ok(())
        });
        for (variant, executor) in [("kahn-1t", one), ("kahn-2t", two)] {
            group.bench_function(id(variant, shape, n), |bench| {
                bench.iter(|| assert!(executor.run(&graph).is_success()))
            });
        }
        bench_others(&mut group, &g, n, pool, |v| {
            spin(u64::from(v), SPIN_STEPS);
        });
    }
    group.finish();
}

/// Where criterion writes its estimates, found as criterion finds it:
/// `$CRITERION_HOME`, else `criterion/` in `$CARGO_TARGET_DIR` or in the
/// workspace's target directory (`cargo metadata`), else `target/criterion`.
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let cargo = std::env::var_os("CARGO")?;
            let output = std::process::Command::new(cargo)
                .args(["metadata", "--format-version", "1", "--no-deps"])
                .output()
                .ok()?;
            let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
            metadata["target_directory"].as_str().map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("criterion")
}

/// Criterion's median estimate for one benchmark id, in ns per task of `g`.
fn per_task(what: &str, variant: &str, g: &ShapeGraph, n: usize) -> Option<f64> {
    let path = criterion_home()
        .join(what)
        .join(variant)
        .join(format!("{}-{n}", g.shape))
        .join("new/estimates.json");
    let json = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&json).ok()?;
    let ns = value["median"]["point_estimate"].as_f64()?;
    Some(ns / g.tasks as f64)
}

/// The estimates criterion has for these benches, as the harness's records
/// (the variants and bodies named as the harness names them), so that
/// `report::tables` prints them as it prints the harness's.
fn records() -> Vec<Record> {
    let mut records = Vec::new();
    for shape in Shape::ALL {
        for n in SIZES {
            let g = shape.generate(n);
            for (variant, id, threads) in [
                ("arena", "kahn-2t", 2),
                ("heap", "heap-2t", 2),
                ("rayon-scope", "rayon-scope-2t", 2),
                ("rayon-scope-inline", "rayon-scope-inline-2t", 2),
                ("shared-counters", "shared-counters-2t", 2),
                ("floor", "floor-1t", 1),
            ] {
                if let Some(ns) = per_task("rerun", id, &g, n) {
                    records.push(Record {
                        rerun_ns: ns,
                        ..blank(&g, n, variant, "empty", threads)
                    });
                }
            }
        }

        let (n, g) = (BUILD_SIZE, shape.generate(BUILD_SIZE));
        let get = |what, variant| per_task(what, variant, &g, n);
        let (build, by_id, batch) = (
            get("build", "arena"),
            get("build", "arena-by-id"),
            get("batch", "arena"),
        );
        if build.or(by_id).or(batch).is_some() {
            records.push(Record {
                build_ns: build,
                build_by_id_ns: by_id,
                batch_ns: batch,
                ..blank(&g, n, "arena", "count", 2)
            });
        }
        let (build, batch) = (get("build", "heap"), get("batch", "heap"));
        if build.or(batch).is_some() {
            records.push(Record {
                build_ns: build,
                batch_ns: batch,
                ..blank(&g, n, "heap", "count", 2)
            });
        }

        let (n, g) = (CPU_SIZE, shape.generate(CPU_SIZE));
        let cpu = |variant| per_task("cpu1us", variant, &g, n);
        let (floor, one) = (cpu("floor-1t"), cpu("kahn-1t"));
        for (variant, id, threads) in [
            ("floor", "floor-1t", 1),
            ("arena", "kahn-2t", 2),
            ("heap", "heap-2t", 2),
            ("rayon-scope", "rayon-scope-2t", 2),
            ("rayon-scope-inline", "rayon-scope-inline-2t", 2),
            ("shared-counters", "shared-counters-2t", 2),
        ] {
            if let Some(ns) = cpu(id) {
                records.push(Record {
                    rerun_ns: ns,
                    steps: Some(SPIN_STEPS),
                    efficiency: floor.map(|f| f / (threads as f64 * ns)),
                    scaling: one
                        .filter(|_| variant == "arena")
                        .map(|one| one / (2.0 * ns)),
                    ..blank(&g, n, variant, "cpu", threads)
                });
            }
        }
    }
    records
}

/// A record of this machine with nothing measured yet.
fn blank(g: &ShapeGraph, n: usize, variant: &str, body: &str, threads: usize) -> Record {
    let hash = format!("{:016x}", g.edge_hash());
    Record {
        machine: record::cpu_model(),
        cores: record::cores(),
        reps: SAMPLES,
        ..Record::blank(g, n, &hash, variant, body, threads)
    }
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .configure_from_args();
    let executor = Executor::with_threads(2).expect("threads");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("threads");
    bench_reruns(&mut c, &executor, &pool);
    bench_builds_and_batches(&mut c, &executor, &pool);
    bench_cpu_bodies(
        &mut c,
        &Executor::with_threads(1).expect("threads"),
        &executor,
        &pool,
    );
    c.final_summary();
    // `--test` and `--list` measure nothing, so there would be only older
    // estimates to show.
    let measured = !std::env::args().any(|a| a == "--test" || a == "--list");
    let records = if measured { records() } else { Vec::new() };
    if !records.is_empty() {
        println!(
            "\nmedian ns per task from criterion's estimates; kahn, heap and rayon::scope on 2 threads\n{}",
            report::tables(&records)
        );
    }
}
