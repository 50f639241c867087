//! Criterion benches: the six standard shapes, arena against heap and kahn
//! against the baselines, at sizes criterion can sample (up to 1e5 tasks).
//!
//! Ids are `<what>/<variant>/<shape>-<n>`:
//! - `rerun/{kahn-2t, heap-2t, rayon-scope-2t, floor-1t}`: a rerun of a built
//!   graph, empty bodies: scheduling overhead per task. `heap-2t` is the heap
//!   variant (`kahn_bench::heap`), `rayon-scope-2t` one spawn per ready task over
//!   CSR, `floor-1t` a one-thread Kahn loop with the body inlined;
//! - `build/{arena, arena-by-id, heap}`: (arena rewind +) tasks + edges +
//!   validation, by name from a configuration's strings unless `by-id`;
//! - `batch/{arena, heap}`: build by name + run + drop, the ETL loop;
//! - `cpu1us/{kahn-1t, kahn-2t, heap-2t, rayon-scope-2t, floor-1t}`: ~1 µs
//!   bodies, for parallel efficiency.
//!
//! Build and batch bodies capture a counter, as real tasks capture data.
//! After criterion's own output, tables print each median per task.
//! Run: `cargo bench -p kahn-bench --bench shapes` (about 4 minutes; a filter such as
//! `rerun/` narrows it). The full harness, up to 1e7 tasks with memory and
//! allocation counts, is `cargo run --release -p kahn-bench`.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use kahn::{Arena, Executor};
use kahn_bench::baselines::{build_named, build_shape, spin, RayonScope, SerialFloor};
use kahn_bench::heap::{self, task_names, HeapGraph};
use kahn_bench::shapes::Shape;

/// Rerun sizes; build, batch and cpu1us use one size each.
const SIZES: [usize; 2] = [1_000, 100_000];
const BUILD_SIZE: usize = 100_000;
const CPU_SIZE: usize = 10_000;
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
            let names = task_names(g.tasks);
            let mut heap = HeapGraph::build(&g, &names, |_| Box::new(|_| {})).expect("valid");
            assert_eq!(heap.name(0), names.first().map(String::as_str));
            group.bench_function(id("heap-2t", shape, n), |bench| {
                bench.iter(|| assert_eq!(heap.run(pool), g.tasks))
            });
            let scope = RayonScope::new(&g, 2);
            group.bench_function(id("rayon-scope-2t", shape, n), |bench| {
                bench.iter(|| {
                    assert_eq!(
                        scope.run(|v| {
                            black_box(v);
                        }),
                        g.tasks
                    )
                })
            });
            let floor = SerialFloor::new(&g);
            group.bench_function(id("floor-1t", shape, n), |bench| {
                bench.iter(|| {
                    assert_eq!(
                        floor.run(|v| {
                            black_box(v);
                        }),
                        g.tasks
                    )
                })
            });
        }
    }
    group.finish();
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
            bench.iter(|| build_named(&mut arena, &g, &names, body).task_count())
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
                let graph = build_named(&mut arena, &g, &names, body);
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
        let names = task_names(g.tasks);
        let mut heap = HeapGraph::build(&g, &names, |_| {
            Box::new(|v| {
                spin(u64::from(v), SPIN_STEPS);
            })
        })
        .expect("valid");
        group.bench_function(id("heap-2t", shape, n), |bench| {
            bench.iter(|| assert_eq!(heap.run(pool), g.tasks))
        });
        let scope = RayonScope::new(&g, 2);
        group.bench_function(id("rayon-scope-2t", shape, n), |bench| {
            bench.iter(|| {
                assert_eq!(
                    scope.run(|v| {
                        spin(u64::from(v), SPIN_STEPS);
                    }),
                    g.tasks
                )
            })
        });
        let floor = SerialFloor::new(&g);
        group.bench_function(id("floor-1t", shape, n), |bench| {
            bench.iter(|| {
                assert_eq!(
                    floor.run(|v| {
                        spin(u64::from(v), SPIN_STEPS);
                    }),
                    g.tasks
                )
            })
        });
    }
    group.finish();
}

/// Where criterion writes its estimates: `$CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else `target/criterion`.
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from("target"), PathBuf::from)
        .join("criterion")
}

/// Criterion's median estimate for one benchmark id, in ns per task.
fn per_task(what: &str, variant: &str, shape: Shape, n: usize) -> Option<f64> {
    let path = criterion_home()
        .join(what)
        .join(variant)
        .join(format!("{shape}-{n}"))
        .join("new/estimates.json");
    let json = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&json).ok()?;
    let ns = value["median"]["point_estimate"].as_f64()?;
    Some(ns / shape.generate(n).tasks as f64)
}

fn cell(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_owned(), |x| format!("{x:.1}"))
}

fn print_tables() {
    println!("\nrerun, empty bodies: median ns per task (criterion estimates)");
    println!(
        "{:<18} {:>9} {:>9} {:>9} {:>9} {:>10} {:>11}",
        "shape-n", "kahn-2t", "heap-2t", "scope-2t", "floor-1t", "kahn/floor", "kahn/scope"
    );
    for shape in Shape::ALL {
        for n in SIZES {
            let get = |variant| per_task("rerun", variant, shape, n);
            let (k, h, s, f) = (
                get("kahn-2t"),
                get("heap-2t"),
                get("rayon-scope-2t"),
                get("floor-1t"),
            );
            if k.is_none() && h.is_none() && s.is_none() && f.is_none() {
                continue;
            }
            let r = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| format!("{:.2}", a / b));
            println!(
                "{:<18} {:>9} {:>9} {:>9} {:>9} {:>10} {:>11}",
                format!("{shape}-{n}"),
                cell(k),
                cell(h),
                cell(s),
                cell(f),
                r(k, f).unwrap_or_default(),
                r(k, s).unwrap_or_default()
            );
        }
    }

    let n = BUILD_SIZE;
    println!("\nbuild and batch at {n} tasks: median ns per task");
    println!(
        "{:<12} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11}",
        "shape",
        "build arena",
        "arena by-id",
        "build heap",
        "batch arena",
        "batch heap",
        "heap/arena"
    );
    for shape in Shape::ALL {
        let (ba, bi, bh) = (
            per_task("build", "arena", shape, n),
            per_task("build", "arena-by-id", shape, n),
            per_task("build", "heap", shape, n),
        );
        let (xa, xh) = (
            per_task("batch", "arena", shape, n),
            per_task("batch", "heap", shape, n),
        );
        if [ba, bi, bh, xa, xh].iter().all(Option::is_none) {
            continue;
        }
        println!(
            "{:<12} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11}",
            shape.name(),
            cell(ba),
            cell(bi),
            cell(bh),
            cell(xa),
            cell(xh),
            xa.zip(xh)
                .map(|(a, h)| format!("{:.2}x", h / a))
                .unwrap_or_default()
        );
    }

    let n = CPU_SIZE;
    println!("\n~1 us bodies at {n} tasks: efficiency floor-1t / (2 x variant), scale kahn-1t / (2 x kahn-2t)");
    println!(
        "{:<12} {:>9} {:>9} {:>9} {:>9}",
        "shape", "kahn-2t", "heap-2t", "scope-2t", "scale"
    );
    for shape in Shape::ALL {
        let floor = per_task("cpu1us", "floor-1t", shape, n);
        let eff = |variant| {
            floor
                .zip(per_task("cpu1us", variant, shape, n))
                .map(|(f, t)| format!("{:.1}%", 100.0 * f / (2.0 * t)))
                .unwrap_or_else(|| "-".into())
        };
        let scale = per_task("cpu1us", "kahn-1t", shape, n)
            .zip(per_task("cpu1us", "kahn-2t", shape, n))
            .map(|(one, two)| format!("{:.1}%", 100.0 * one / (2.0 * two)))
            .unwrap_or_else(|| "-".into());
        if floor.is_some() {
            println!(
                "{:<12} {:>9} {:>9} {:>9} {:>9}",
                shape.name(),
                eff("kahn-2t"),
                eff("heap-2t"),
                eff("rayon-scope-2t"),
                scale
            );
        }
    }
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(10)
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
    print_tables();
}
