//! The measurements: one function per variant, each checking every run it
//! times and returning an error instead of a number when a run was wrong.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use kahn::{Arena, BoxError, Counts, Executor, TaskContext};
use kahn_bench::alloc;
use kahn_bench::baselines::{
    build_named, build_shape, spin, NameCalls, RayonScope, SerialFloor, SharedCounters,
};
use kahn_bench::heap::{task_names, HeapBody, HeapGraph};
use kahn_bench::order::Stamps;
use kahn_bench::record::Record;
use kahn_bench::shapes::{Shape, ShapeGraph};

use crate::cli::{Args, Body};

/// One generated graph and the names a configuration would give its tasks.
pub struct Input {
    pub n: usize,
    pub g: ShapeGraph,
    pub names: Vec<String>,
    pub hash: String,
}

impl Input {
    pub fn new(shape: Shape, n: usize) -> Input {
        let g = shape.generate(n);
        let names = task_names(g.tasks);
        let hash = format!("{:016x}", g.edge_hash());
        Input { n, g, names, hash }
    }

    fn tasks(&self) -> usize {
        self.g.tasks
    }

    fn what(&self) -> String {
        format!("{}-{} (edge hash {})", self.g.shape, self.n, self.hash)
    }
}

/// What every case shares: the flags, the machine, the thread pools.
pub struct Bench<'a> {
    pub args: &'a Args,
    pub machine: String,
    pub cores: usize,
    /// A kahn executor and a rayon pool (for the heap variant) per thread count.
    pub pools: Vec<(usize, Executor, rayon::ThreadPool)>,
    pub one_thread: Executor,
}

impl Bench<'_> {
    fn record(&self, input: &Input, variant: &str, body: Body, threads: usize) -> Record {
        Record {
            machine: self.machine.clone(),
            cores: self.cores,
            reps: self.args.reps_for(input.tasks()),
            steps: (body == Body::Cpu).then_some(self.args.steps),
            ..Record::blank(
                &input.g,
                input.n,
                &input.hash,
                variant,
                body.name(),
                threads,
            )
        }
    }
}

/// Median and minimum of some durations, in seconds.
fn stats(xs: &mut [f64]) -> (f64, f64) {
    xs.sort_by(f64::total_cmp);
    (xs[xs.len() / 2], xs[0])
}

/// The clock of one timed repetition: it runs from just before the
/// repetition to its [`Lap::stop`], so checking and dropping can stay out.
struct Lap {
    start: Instant,
    secs: Option<f64>,
}

impl Lap {
    fn stop(&mut self) {
        let start = self.start;
        self.secs
            .get_or_insert_with(|| start.elapsed().as_secs_f64());
    }
}

/// Times `reps` calls of `rep`, each until it stops its [`Lap`] (or
/// returns), and returns the times in seconds; the first failed check ends
/// the loop.
fn time_reps(
    reps: usize,
    mut rep: impl FnMut(&mut Lap) -> Result<(), String>,
) -> Result<Vec<f64>, String> {
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let mut lap = Lap {
            start: Instant::now(),
            secs: None,
        };
        rep(&mut lap)?;
        lap.stop();
        times.extend(lap.secs);
    }
    Ok(times)
}

/// Memory high-water marks over a stretch of work.
struct Peaks {
    heap: usize,
    rss: Option<usize>,
}

impl Peaks {
    fn start() -> Peaks {
        Peaks {
            rss: alloc::rss::reset_peak(),
            heap: alloc::reset_peak(),
        }
    }

    /// Writes the peaks since [`Peaks::start`] into `rec`.
    fn record(&self, rec: &mut Record) {
        let tasks = rec.tasks as f64;
        rec.peak_heap_bytes_per_task =
            Some(alloc::peak_bytes().saturating_sub(self.heap) as f64 / tasks);
        let peak = self.rss.and(alloc::rss::peak());
        rec.peak_rss_bytes_per_task = self
            .rss
            .zip(peak)
            .map(|(start, peak)| peak.saturating_sub(start) as f64 / tasks);
        rec.peak_rss_mib = peak.map(|p| p as f64 / (1024.0 * 1024.0));
    }
}

/// Checks that a run of `input` ran every task once: the ran count (or the
/// report's succeeded count) and, for the count body, the shared counter.
fn check(
    input: &Input,
    who: &str,
    ran: usize,
    counter: Option<&AtomicUsize>,
) -> Result<(), String> {
    let tasks = input.tasks();
    if ran != tasks {
        return Err(format!(
            "{who} on {}: {ran} of {tasks} tasks ran",
            input.what()
        ));
    }
    if let Some(counter) = counter {
        let counted = counter.swap(0, Ordering::Relaxed);
        if counted != tasks {
            return Err(format!(
                "{who} on {}: the count body counted {counted} for {tasks} tasks",
                input.what()
            ));
        }
    }
    Ok(())
}

fn kahn_ran(counts: Counts) -> usize {
    if counts.total() == counts.succeeded {
        counts.succeeded
    } else {
        usize::MAX // something failed, panicked, was skipped or cancelled
    }
}

/// Runs each variant once with order stamps and checks the order: every
/// task once, after all its predecessors. Untimed.
pub fn verify(bench: &Bench<'_>, input: &Input, threads: usize) -> Result<(), String> {
    let (_, executor, pool) = pool_for(bench, threads);
    let in_order = |stamps: &Stamps, who: &str| {
        stamps
            .verify(&input.g)
            .map_err(|why| format!("{who} on {}: {why}", input.what()))
    };
    let stamps = Stamps::new(input.tasks());
    let s = &stamps;
    let mut arena = Arena::new();
    let graph = build_shape::<()>(&mut arena, &input.g, move |ctx| {
        s.hit(ctx.id().index() as u32);
        Ok(())
    });
    let counts = executor.run(&graph).counts();
    check(input, "kahn (order check)", kahn_ran(counts), None)?;
    in_order(&stamps, &format!("kahn {threads}t"))?;
    drop(graph);
    drop(arena);

    let stamps = Stamps::new(input.tasks());
    let s = &stamps;
    let mut heap = HeapGraph::build(&input.g, &input.names, |_| Box::new(move |v| s.hit(v)))
        .map_err(|e| format!("heap on {}: {e}", input.what()))?;
    let last = input.tasks().checked_sub(1).map(|v| v as u32);
    if heap.task_count() != input.tasks()
        || last.and_then(|v| heap.name(v)) != input.names.last().map(String::as_str)
    {
        return Err(format!(
            "heap on {}: tasks or names lost in the build",
            input.what()
        ));
    }
    check(input, "heap (order check)", heap.run(pool), None)?;
    in_order(&stamps, &format!("heap {threads}t"))?;
    drop(heap);

    for scope in [
        RayonScope::new(&input.g, threads),
        RayonScope::continuing_inline(&input.g, threads),
    ] {
        let stamps = Stamps::new(input.tasks());
        let who = format!("{} {threads}t", scope.variant());
        check(
            input,
            &format!("{who} (order check)"),
            scope.run(|v| stamps.hit(v)),
            None,
        )?;
        in_order(&stamps, &who)?;
    }

    let stamps = Stamps::new(input.tasks());
    let who = format!("shared-counters {threads}t");
    check(
        input,
        &format!("{who} (order check)"),
        SharedCounters::new(&input.g, threads).run(|v| stamps.hit(v)),
        None,
    )?;
    in_order(&stamps, &who)?;

    let stamps = Stamps::new(input.tasks());
    let floor = SerialFloor::new(&input.g);
    check(
        input,
        "floor (order check)",
        floor.run(|v| stamps.hit(v)),
        None,
    )?;
    in_order(&stamps, "floor")
}

fn pool_for<'b>(bench: &'b Bench<'_>, threads: usize) -> &'b (usize, Executor, rayon::ThreadPool) {
    bench
        .pools
        .iter()
        .find(|(t, ..)| *t == threads)
        .expect("a pool per thread count")
}

/// kahn: build by name into an arena, run on kahn's executor.
pub fn arena(
    bench: &Bench<'_>,
    input: &Input,
    body: Body,
    threads: usize,
    floor_secs: Option<f64>,
) -> Result<Record, String> {
    let counter = AtomicUsize::new(0);
    let c = &counter;
    let steps = bench.args.steps;
    match body {
        Body::Empty => arena_case(bench, input, body, threads, floor_secs, None, |_| Ok(())),
        Body::Count => arena_case(
            bench,
            input,
            body,
            threads,
            floor_secs,
            Some(c),
            move |_| {
                c.fetch_add(1, Ordering::Relaxed);
                Ok(())
            },
        ),
        Body::Cpu => arena_case(bench, input, body, threads, floor_secs, None, move |ctx| {
            spin(ctx.id().index() as u64, steps);
            Ok(())
        }),
    }
}

fn arena_case<F>(
    bench: &Bench<'_>,
    input: &Input,
    body_kind: Body,
    threads: usize,
    floor_secs: Option<f64>,
    counter: Option<&AtomicUsize>,
    body: F,
) -> Result<Record, String>
where
    F: Fn(&TaskContext<'_, ()>) -> Result<(), BoxError> + Send + Sync + Copy,
{
    let (_, executor, _) = pool_for(bench, threads);
    let mut rec = bench.record(input, "arena", body_kind, threads);
    let (tasks, reps) = (input.tasks(), rec.reps);
    let ns = |secs: f64| secs * 1e9 / tasks as f64;
    let who = format!("kahn {threads}t, {} body", body_kind.name());
    let (g, names) = (&input.g, &input.names);
    let run = |graph: &kahn::Graph<'_, ()>| {
        let counts = executor.run(graph).counts();
        check(input, &who, kahn_ran(counts), counter)
    };

    let mut arena = Arena::new();
    let mut first_run = None;
    if body_kind != Body::Cpu {
        // The batch loop, from a fresh arena: the first batch grows it.
        let peaks = Peaks::start();
        let before = alloc::allocations();
        let t = Instant::now();
        let graph = build_named(&mut arena, g, names, body, NameCalls::OnePerItem);
        rec.first_build_ns = Some(ns(t.elapsed().as_secs_f64()));
        let t = Instant::now();
        let result = run(&graph);
        first_run = Some(ns(t.elapsed().as_secs_f64()));
        result?;
        drop(graph);
        rec.first_batch_allocs_per_task =
            Some((alloc::allocations() - before) as f64 / tasks as f64);
        peaks.record(&mut rec);

        let before = alloc::allocations();
        let mut times = time_reps(reps, |lap| {
            let graph = build_named(&mut arena, g, names, body, NameCalls::OnePerItem);
            let result = run(&graph);
            drop(graph);
            lap.stop();
            result
        })?;
        let per_batch = (alloc::allocations() - before) as f64 / reps as f64;
        rec.batch_allocs = Some(per_batch);
        rec.batch_allocs_per_task = Some(per_batch / tasks as f64);
        rec.batch_ns = Some(ns(stats(&mut times).0));

        let mut times = time_reps(reps, |lap| {
            let graph = build_named(&mut arena, g, names, body, NameCalls::OnePerItem);
            lap.stop();
            drop(black_box(graph));
            Ok(())
        })?;
        rec.build_ns = Some(ns(stats(&mut times).0));

        let mut times = time_reps(reps, |lap| {
            let graph = build_shape(&mut arena, g, body);
            lap.stop();
            drop(black_box(graph));
            Ok(())
        })?;
        rec.build_by_id_ns = Some(ns(stats(&mut times).0));
    }

    let graph = build_named(&mut arena, g, names, body, NameCalls::OnePerItem);
    rec.topology_bytes_per_task = Some(graph.topology_bytes() as f64 / tasks as f64);
    if first_run.is_none() {
        let t = Instant::now();
        let result = run(&graph);
        first_run = Some(ns(t.elapsed().as_secs_f64()));
        result?;
    }
    rec.first_run_ns = first_run;
    let before = alloc::allocations();
    let mut times = time_reps(reps, |lap| {
        let result = run(&graph);
        lap.stop();
        result
    })?;
    rec.rerun_allocs_per_task = (alloc::allocations() - before) as f64 / (reps * tasks) as f64;
    let (median, min) = stats(&mut times);
    (rec.rerun_ns, rec.rerun_min_ns) = (ns(median), ns(min));

    if body_kind == Body::Empty {
        // What recording per-task timings costs.
        let options = kahn::RunOptions::new().record_timings(true);
        let mut times = time_reps(reps, |lap| {
            let counts = executor.run_with(&graph, &options).counts();
            lap.stop();
            check(input, &format!("{who}, timings on"), kahn_ran(counts), None)
        })?;
        rec.rerun_timings_ns = Some(ns(stats(&mut times).0));
    }
    if body_kind == Body::Cpu {
        rec.efficiency = floor_secs.map(|f| f / (threads as f64 * median));
        let mut one = time_reps(reps, |lap| {
            let counts = bench.one_thread.run(&graph).counts();
            lap.stop();
            check(input, "kahn 1t, cpu body", kahn_ran(counts), None)
        })?;
        rec.scaling = Some(stats(&mut one).0 / (threads as f64 * median));
    }
    drop(graph);
    rec.arena_bytes_per_task = Some(arena.allocated_bytes() as f64 / tasks as f64);
    Ok(rec)
}

/// The heap variant: `Box<Node>`s and a `HashMap<String, u32>`, built fresh.
pub fn heap(
    bench: &Bench<'_>,
    input: &Input,
    body: Body,
    threads: usize,
    floor_secs: Option<f64>,
) -> Result<Record, String> {
    let counter = AtomicUsize::new(0);
    let c = &counter;
    let steps = bench.args.steps;
    match body {
        Body::Empty => heap_case(bench, input, body, threads, floor_secs, None, |_| {
            Box::new(|_| {})
        }),
        Body::Count => heap_case(bench, input, body, threads, floor_secs, Some(c), |_| {
            Box::new(move |_| {
                c.fetch_add(1, Ordering::Relaxed);
            })
        }),
        Body::Cpu => heap_case(bench, input, body, threads, floor_secs, None, |_| {
            Box::new(move |v| {
                spin(u64::from(v), steps);
            })
        }),
    }
}

fn heap_case<'c>(
    bench: &Bench<'_>,
    input: &Input,
    body_kind: Body,
    threads: usize,
    floor_secs: Option<f64>,
    counter: Option<&AtomicUsize>,
    make_body: impl Fn(u32) -> HeapBody<'c> + Copy,
) -> Result<Record, String> {
    let (_, _, pool) = pool_for(bench, threads);
    let mut rec = bench.record(input, "heap", body_kind, threads);
    let (tasks, reps) = (input.tasks(), rec.reps);
    let ns = |secs: f64| secs * 1e9 / tasks as f64;
    let who = format!("heap {threads}t, {} body", body_kind.name());
    let build = || {
        HeapGraph::build(&input.g, &input.names, make_body)
            .map_err(|e| format!("heap on {}: {e}", input.what()))
    };
    let run = |graph: &mut HeapGraph<'_>| check(input, &who, graph.run(pool), counter);

    let mut first_run = None;
    if body_kind != Body::Cpu {
        let peaks = Peaks::start();
        let before = alloc::allocations();
        let t = Instant::now();
        let mut graph = build()?;
        rec.first_build_ns = Some(ns(t.elapsed().as_secs_f64()));
        let t = Instant::now();
        let result = run(&mut graph);
        first_run = Some(ns(t.elapsed().as_secs_f64()));
        result?;
        drop(graph);
        rec.first_batch_allocs_per_task =
            Some((alloc::allocations() - before) as f64 / tasks as f64);
        peaks.record(&mut rec);

        let before = alloc::allocations();
        let mut times = time_reps(reps, |lap| {
            let mut graph = build()?;
            let result = run(&mut graph);
            drop(graph);
            lap.stop();
            result
        })?;
        let per_batch = (alloc::allocations() - before) as f64 / reps as f64;
        rec.batch_allocs = Some(per_batch);
        rec.batch_allocs_per_task = Some(per_batch / tasks as f64);
        rec.batch_ns = Some(ns(stats(&mut times).0));

        let mut times = time_reps(reps, |lap| {
            let graph = build()?;
            lap.stop();
            drop(black_box(graph));
            Ok(())
        })?;
        rec.build_ns = Some(ns(stats(&mut times).0));
    }

    let mut graph = build()?;
    if first_run.is_none() {
        let t = Instant::now();
        let result = run(&mut graph);
        first_run = Some(ns(t.elapsed().as_secs_f64()));
        result?;
    }
    rec.first_run_ns = first_run;
    let before = alloc::allocations();
    let mut times = time_reps(reps, |lap| {
        let result = run(&mut graph);
        lap.stop();
        result
    })?;
    rec.rerun_allocs_per_task = (alloc::allocations() - before) as f64 / (reps * tasks) as f64;
    let (median, min) = stats(&mut times);
    (rec.rerun_ns, rec.rerun_min_ns) = (ns(median), ns(min));
    if body_kind == Body::Cpu {
        rec.efficiency = floor_secs.map(|f| f / (threads as f64 * median));
    }
    Ok(rec)
}

/// A baseline over CSR, which is not built from names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// The one-thread Kahn loop with the body inlined.
    Floor,
    /// `rayon::scope` on this many threads, one spawn per ready task.
    RayonScope(usize),
    /// `rayon::scope` on this many threads, continuing inline with one
    /// ready successor.
    RayonScopeInline(usize),
    /// Workers on this many threads sharing atomic in-degrees, with nothing
    /// else of an executor.
    SharedCounters(usize),
}

impl Baseline {
    /// The variant's name in the records.
    pub fn variant(self) -> &'static str {
        match self {
            Baseline::Floor => "floor",
            Baseline::RayonScope(_) => "rayon-scope",
            Baseline::RayonScopeInline(_) => "rayon-scope-inline",
            Baseline::SharedCounters(_) => "shared-counters",
        }
    }

    fn threads(self) -> usize {
        match self {
            Baseline::Floor => 1,
            Baseline::RayonScope(t)
            | Baseline::RayonScopeInline(t)
            | Baseline::SharedCounters(t) => t,
        }
    }
}

/// Measures a baseline. Returns the record and the median run in seconds
/// (the floor's is the reference of parallel efficiency).
pub fn baseline(
    bench: &Bench<'_>,
    input: &Input,
    body: Body,
    which: Baseline,
    floor_secs: Option<f64>,
) -> Result<(Record, f64), String> {
    let counter = AtomicUsize::new(0);
    let c = &counter;
    let steps = bench.args.steps;
    // A macro, not a `dyn Fn`: the floor's body must be inlined into its loop.
    macro_rules! with_body {
        ($runner:expr) => {{
            let runner = $runner;
            match body {
                Body::Empty => baseline_case(bench, input, body, which, floor_secs, None, || {
                    runner.run(|v| {
                        black_box(v);
                    })
                }),
                Body::Count => {
                    baseline_case(bench, input, body, which, floor_secs, Some(c), || {
                        runner.run(|_| {
                            c.fetch_add(1, Ordering::Relaxed);
                        })
                    })
                }
                Body::Cpu => baseline_case(bench, input, body, which, floor_secs, None, || {
                    runner.run(|v| {
                        spin(u64::from(v), steps);
                    })
                }),
            }
        }};
    }
    match which {
        Baseline::Floor => with_body!(SerialFloor::new(&input.g)),
        Baseline::RayonScope(t) => with_body!(RayonScope::new(&input.g, t)),
        Baseline::RayonScopeInline(t) => with_body!(RayonScope::continuing_inline(&input.g, t)),
        Baseline::SharedCounters(t) => with_body!(SharedCounters::new(&input.g, t)),
    }
}

/// Times `run`, which runs every task once with the chosen body.
fn baseline_case(
    bench: &Bench<'_>,
    input: &Input,
    body_kind: Body,
    which: Baseline,
    floor_secs: Option<f64>,
    counter: Option<&AtomicUsize>,
    run: impl Fn() -> usize,
) -> Result<(Record, f64), String> {
    let (variant, t) = (which.variant(), which.threads());
    let mut rec = bench.record(input, variant, body_kind, t);
    let (tasks, reps) = (input.tasks(), rec.reps);
    let ns = |secs: f64| secs * 1e9 / tasks as f64;
    let who = format!("{variant} {t}t, {} body", body_kind.name());
    let timed = |lap: &mut Lap| {
        let ran = run();
        lap.stop();
        check(input, &who, ran, counter)
    };
    rec.first_run_ns = Some(ns(time_reps(1, timed)?[0]));
    let before = alloc::allocations();
    let mut times = time_reps(reps, timed)?;
    rec.rerun_allocs_per_task = (alloc::allocations() - before) as f64 / (reps * tasks) as f64;
    let (median, min) = stats(&mut times);
    (rec.rerun_ns, rec.rerun_min_ns) = (ns(median), ns(min));
    if body_kind == Body::Cpu {
        rec.efficiency = Some(floor_secs.unwrap_or(median) / (t as f64 * median));
    }
    Ok((rec, median))
}
