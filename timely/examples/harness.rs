//! The kahn-timely harness: the distributed path's cost per task next to kahn's in-process executor, the cost of an edge between two processes on loopback, and a layered graph's scaling on this machine, as markdown tables.
//!
//! `cargo run --release -p kahn-timely --example harness -- [--quick]`
//!
//! 1. **Overhead**: the six shapes with empty bodies on one timely worker
//!    in one process, `executor.run` against `kahn_timely::run` on the same
//!    graph and executor, interleaved; a part run owning every task (no
//!    timely) between them says how much is kahn's part-run path and how
//!    much the timely side.
//! 2. **Cross-process edges**: two processes of this binary on loopback,
//!    one worker each, on graphs whose edges all cross (a chain placed
//!    alternately, a layered graph placed by layer parity) and the same
//!    graphs placed in blocks; timely's own log counts the batches that
//!    crossed.
//! 3. **Scaling**: the layered shape with a ~1 µs busy body, in-process on
//!    one thread (the floor), on one process of two timely workers, and on
//!    two processes of one worker each.
//! 4. **Counts** (nothing runs): the cut edges of `Placement::blocks()` and
//!    the messages (every end to every other worker) of the layered shape
//!    at 1e5 and 1e6 tasks on 2, 8 and 64 workers, for projections.
//!
//! Section 2 and part of 3 re-run this binary with `--child` and the
//! `KAHN_TIMELY_HARNESS_*` variables (as `tests/split.rs` does); each child
//! prints its samples as lines the parent reads. Every timed repetition is
//! checked (every task succeeded), repetition 0 is a warm-up, and the
//! figures are medians over repetitions of the slowest worker's time.
//!
//! Flags: `--quick` (smaller graphs, fewer repetitions), `--reps N`,
//! `--overhead-tasks N`, `--chain N`, `--cross-tasks N`, `--scale-tasks N`,
//! `--steps N` (the busy body's xorshift steps; calibrated to ~1 µs if not
//! given), `--sections 1,2,3,4`, `--no-save` (do not write
//! `timely/results/<date>-harness.txt`; a later run of the same day is
//! appended to it).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use kahn::{Arena, Executor, Graph, Report, RunOptions, TaskId};
use kahn_bench::baselines::{build_shape, spin};
use kahn_bench::shapes::Shape;
use kahn_timely::{cut_edges, DistributedReport, Placement};
use timely::logging::{ParkEvent, TimelyEvent, TimelyEventBuilder};
use timely::worker::Worker;

/// The child's process index, in the processes a parent started.
const PROCESS_ENV: &str = "KAHN_TIMELY_HARNESS_PROCESS";
/// The children's `host:port` list, comma-separated.
const ADDRESSES_ENV: &str = "KAHN_TIMELY_HARNESS_ADDRESSES";
/// How long the children of one section may take before they are killed.
const CHILD_LIMIT: Duration = Duration::from_secs(1200);

/// The harness's one call of `kahn_timely::run`: every distributed run in
/// this file goes through here, placement and all.
fn distributed<'g>(
    worker: &mut Worker,
    executor: &Executor,
    graph: &'g Graph<'_, u64>,
    placement: &Placement,
) -> DistributedReport<'g, u64> {
    let options = kahn_timely::DistributedOptions::new().placement(placement.clone());
    kahn_timely::run(worker, executor, graph, &RunOptions::new(), &options)
        .unwrap_or_else(|e| panic!("the distributed run was refused: {e}"))
}

/// What the command line asked for.
#[derive(Clone, Debug)]
struct Params {
    quick: bool,
    reps: usize,
    overhead_tasks: usize,
    chain: usize,
    cross_tasks: usize,
    scale_tasks: usize,
    steps: Option<u32>,
    sections: Vec<u32>,
    save: bool,
    child: bool,
}

impl Params {
    fn parse() -> Result<Params, String> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let quick = args.iter().any(|a| a == "--quick");
        let mut p = Params {
            quick,
            reps: if quick { 5 } else { 10 },
            overhead_tasks: if quick { 10_000 } else { 100_000 },
            chain: if quick { 500 } else { 5_000 },
            cross_tasks: if quick { 10_000 } else { 100_000 },
            scale_tasks: if quick { 10_000 } else { 100_000 },
            steps: None,
            sections: vec![1, 2, 3, 4],
            save: true,
            child: false,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .ok_or_else(|| format!("{flag} wants a value"))
                    .cloned()
            };
            let number = |v: String| {
                v.replace('_', "")
                    .parse::<f64>()
                    .map(|x| x as usize)
                    .map_err(|e| format!("{flag} {v}: {e}"))
            };
            match flag.as_str() {
                "--quick" => {}
                "--no-save" => p.save = false,
                "--child" => p.child = true,
                "--reps" => p.reps = number(value()?)?.max(1),
                "--overhead-tasks" => p.overhead_tasks = number(value()?)?,
                "--chain" => p.chain = number(value()?)?.max(2),
                "--cross-tasks" => p.cross_tasks = number(value()?)?,
                "--scale-tasks" => p.scale_tasks = number(value()?)?,
                "--steps" => p.steps = Some(number(value()?)? as u32),
                "--sections" => {
                    p.sections = value()?
                        .split(',')
                        .map(|s| s.trim().parse().map_err(|e| format!("--sections {s}: {e}")))
                        .collect::<Result<_, _>>()?
                }
                "-h" | "--help" => {
                    return Err("usage: harness [--quick] [--reps N] [--overhead-tasks N] \
                                [--chain N] [--cross-tasks N] [--scale-tasks N] [--steps N] \
                                [--sections 1,2,3,4] [--no-save]"
                        .into())
                }
                other => return Err(format!("unknown flag `{other}` (try --help)")),
            }
        }
        Ok(p)
    }

    /// The flags a child gets: the sizes, with the steps fixed.
    fn child_args(&self, section: u32, steps: u32) -> Vec<String> {
        let mut args = vec![
            "--child".to_string(),
            "--sections".into(),
            section.to_string(),
        ];
        for (flag, v) in [
            ("--reps", self.reps),
            ("--chain", self.chain),
            ("--cross-tasks", self.cross_tasks),
            ("--scale-tasks", self.scale_tasks),
            ("--steps", steps as usize),
        ] {
            args.push(flag.into());
            args.push(v.to_string());
        }
        args
    }
}

/// Samples as text lines, so a child process can hand them to its parent:
/// `S key rep worker seconds` and `I key worker value`.
#[derive(Default)]
struct Log(Vec<String>);

impl Log {
    fn sample(&mut self, key: &str, rep: usize, worker: usize, secs: f64) {
        self.0.push(format!("S\t{key}\t{rep}\t{worker}\t{secs:e}"));
    }

    fn info(&mut self, key: &str, worker: usize, value: f64) {
        self.0.push(format!("I\t{key}\t{worker}\t{value:e}"));
    }
}

/// The samples of a section, read back: per key, per repetition, the
/// slowest worker's seconds; per key, per worker, an informational value.
#[derive(Default)]
struct Figures {
    samples: BTreeMap<String, BTreeMap<usize, f64>>,
    infos: BTreeMap<String, BTreeMap<usize, f64>>,
}

impl Figures {
    fn absorb<'a>(&mut self, lines: impl IntoIterator<Item = &'a str>) {
        for line in lines {
            let f: Vec<&str> = line.split('\t').collect();
            match f[..] {
                ["S", key, rep, worker, secs] => {
                    let (rep, _worker): (usize, usize) =
                        (rep.parse().unwrap(), worker.parse().unwrap());
                    let secs: f64 = secs.parse().unwrap();
                    let slot = self
                        .samples
                        .entry(key.to_string())
                        .or_default()
                        .entry(rep)
                        .or_insert(0.0);
                    *slot = slot.max(secs);
                }
                ["I", key, worker, value] => {
                    self.infos
                        .entry(key.to_string())
                        .or_default()
                        .insert(worker.parse().unwrap(), value.parse().unwrap());
                }
                _ => {}
            }
        }
    }

    /// The median over repetitions of the slowest worker's seconds.
    fn median(&self, key: &str) -> f64 {
        let reps = self
            .samples
            .get(key)
            .unwrap_or_else(|| panic!("no samples of {key}"));
        median(reps.values().copied().collect())
    }

    /// The median over repetitions of `num / den`, each pair timed back to
    /// back in one repetition.
    fn ratio(&self, num: &str, den: &str) -> f64 {
        let (a, b) = (&self.samples[num], &self.samples[den]);
        median(
            a.iter()
                .filter_map(|(rep, x)| b.get(rep).map(|y| x / y))
                .collect(),
        )
    }

    /// An informational value: worker `worker`'s, or the sum over workers.
    fn info(&self, key: &str, worker: Option<usize>) -> f64 {
        let per = self
            .infos
            .get(key)
            .unwrap_or_else(|| panic!("no info {key}"));
        match worker {
            Some(w) => per[&w],
            None => per.values().sum(),
        }
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    assert!(!xs.is_empty(), "a median of nothing");
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Seconds `f` took, and what it returned (dropped by the caller, off the clock).
fn timed<R>(f: impl FnOnce() -> R) -> (f64, R) {
    let start = Instant::now();
    let r = f();
    (start.elapsed().as_secs_f64(), r)
}

/// Panics unless every task of the run succeeded.
fn check(report: &Report<'_, u64>, what: &str) {
    let counts = report.counts();
    assert!(
        counts.succeeded == report.task_count() && counts.total() == counts.succeeded,
        "{what}: not every task succeeded: {counts:?}"
    );
}

/// A part run that owns every task, with an outbox that only counts: kahn's
/// part-run path without timely.
fn part_run<'g>(executor: &Executor, graph: &'g Graph<'_, u64>) -> Report<'g, u64> {
    let part = graph.part(|_| true);
    let feed = Arc::new(graph.remote_feed(&part));
    let told = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&told);
    let report = executor
        .run_part(graph, &RunOptions::new(), &part, feed, move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        })
        .expect("the part and feed are this graph's");
    assert_eq!(told.load(Ordering::Relaxed), graph.task_count());
    report
}

/// What timely's log says about one run on this worker: the batches this
/// worker sent to other workers, the records in them, and how often the
/// worker parked.
#[derive(Default, Clone, Copy)]
struct Tally {
    batches: usize,
    records: i64,
    parks: usize,
}

/// Runs `f` with timely's event log on, counting into a [`Tally`].
fn tallied<R>(worker: &mut Worker, f: impl FnOnce(&mut Worker) -> R) -> (Tally, R) {
    let tally = Rc::new(RefCell::new(Tally::default()));
    let sink = Rc::clone(&tally);
    worker
        .log_register()
        .expect("timely's workers log")
        .insert::<TimelyEventBuilder, _>("timely", move |_, data| {
            let Some(data) = data else { return };
            let mut t = sink.borrow_mut();
            for (_, event) in data.iter() {
                match event {
                    TimelyEvent::Messages(m) if m.is_send && m.source != m.target => {
                        t.batches += 1;
                        t.records += m.record_count;
                    }
                    TimelyEvent::Park(ParkEvent::Park(_)) => t.parks += 1,
                    _ => {}
                }
            }
        });
    let r = f(worker);
    {
        let mut register = worker.log_register().expect("timely's workers log");
        register.flush();
        register.remove("timely");
    }
    let t = *tally.borrow();
    (t, r)
}

/// A graph of one task: a distributed run of it is a barrier, so that the
/// run timed next starts on every worker at about the same moment.
fn barrier(worker: &mut Worker, executor: &Executor) {
    let mut arena = Arena::new();
    let mut b = arena.builder::<u64>();
    b.task("barrier", |_| Ok(0)).expect("one task");
    let graph = b.build().expect("one task");
    drop(distributed(worker, executor, &graph, &Placement::blocks()));
}

/// Section 1 on the one worker: the six shapes, in-process, as a part run
/// and distributed, interleaved, on one and on two executor threads.
fn overhead(worker: &mut Worker, p: &Params) -> Log {
    let mut log = Log::default();
    for threads in [1, 2] {
        let executor = Executor::with_threads(threads).expect("the threads start");
        for shape in Shape::ALL {
            let g = shape.generate(p.overhead_tasks);
            let mut arena = Arena::new();
            let graph = build_shape::<u64>(&mut arena, &g, |_| Ok(0));
            let key = format!("{shape}/{threads}");
            log.info(&format!("tasks/{shape}"), 0, g.tasks as f64);
            log.info(&format!("edges/{shape}"), 0, g.edges.len() as f64);
            for rep in 0..=p.reps {
                let (s, r) = timed(|| executor.run(&graph));
                check(&r, "in-process");
                drop(r);
                log.sample(&format!("inproc/{key}"), rep, 0, s);
                let (s, r) = timed(|| part_run(&executor, &graph));
                check(&r, "part run");
                drop(r);
                log.sample(&format!("part/{key}"), rep, 0, s);
                let (s, r) = timed(|| distributed(worker, &executor, &graph, &Placement::blocks()));
                check(r.report(), "distributed");
                drop(r);
                log.sample(&format!("dist/{key}"), rep, 0, s);
                let (s, owner) = timed(|| Placement::blocks().assign(&graph, 1));
                assert!(owner.is_ok());
                log.sample(&format!("assign/{key}"), rep, 0, s);
            }
            let (tally, r) = tallied(worker, |worker| {
                distributed(worker, &executor, &graph, &Placement::blocks())
            });
            check(r.report(), "distributed, logged");
            log.info(&format!("parks/{key}"), 0, tally.parks as f64);
            drop(r);
            drop(graph);
            drop(arena);

            // The same graph with stamping bodies: where each variant's
            // time goes, before its first task, between its first and last
            // task, after its last.
            let mut arena = Arena::new();
            let graph = build_shape::<u64>(&mut arena, &g, |_| {
                Stamps::hit();
                Ok(0)
            });
            for rep in 0..=p.reps {
                let (spans, r) = Stamps::around(|| executor.run(&graph));
                check(&r, "in-process, stamped");
                drop(r);
                spans.log(&mut log, &format!("inproc/{key}"), rep);
                let (spans, r) = Stamps::around(|| part_run(&executor, &graph));
                check(&r, "part run, stamped");
                drop(r);
                spans.log(&mut log, &format!("part/{key}"), rep);
                let (spans, r) =
                    Stamps::around(|| distributed(worker, &executor, &graph, &Placement::blocks()));
                check(r.report(), "distributed, stamped");
                drop(r);
                spans.log(&mut log, &format!("dist/{key}"), rep);
            }
        }
    }
    log
}

/// The first start and the last end of any task, as nanoseconds since
/// [`Stamps::base`]: a stamping body costs two atomic updates, the same in
/// every variant.
struct Stamps;

static FIRST: AtomicU64 = AtomicU64::new(u64::MAX);
static LAST: AtomicU64 = AtomicU64::new(0);

/// Seconds before the first task, from the first task to the last, and
/// after the last, of one run.
struct Spans([f64; 3]);

impl Stamps {
    fn base() -> Instant {
        static BASE: OnceLock<Instant> = OnceLock::new();
        *BASE.get_or_init(Instant::now)
    }

    fn now() -> u64 {
        Stamps::base().elapsed().as_nanos() as u64
    }

    /// A task's body: stamps it.
    fn hit() {
        let t = Stamps::now();
        FIRST.fetch_min(t, Ordering::Relaxed);
        LAST.fetch_max(t, Ordering::Relaxed);
    }

    /// Runs `f` (a run of a graph of stamping bodies) and splits its time.
    fn around<R>(f: impl FnOnce() -> R) -> (Spans, R) {
        FIRST.store(u64::MAX, Ordering::Relaxed);
        LAST.store(0, Ordering::Relaxed);
        let start = Stamps::now();
        let r = f();
        let end = Stamps::now();
        let (first, last) = (FIRST.load(Ordering::Relaxed), LAST.load(Ordering::Relaxed));
        assert!(
            start <= first && first <= last && last <= end,
            "stamps out of order"
        );
        let secs = |ns: u64| ns as f64 * 1e-9;
        (
            Spans([secs(first - start), secs(last - first), secs(end - last)]),
            r,
        )
    }
}

impl Spans {
    fn log(&self, log: &mut Log, key: &str, rep: usize) {
        for (what, secs) in ["pre", "mid", "post"].iter().zip(self.0) {
            log.sample(&format!("{what}/{key}"), rep, 0, secs);
        }
    }
}

/// Section 2 on each of two processes: graphs whose edges all cross,
/// against the same graphs in blocks and in one piece.
fn cross(worker: &mut Worker, p: &Params) -> Log {
    let mut log = Log::default();
    let me = worker.index();
    let executor = Executor::with_threads(1).expect("a thread starts");
    let cases: [(&str, Shape, usize); 2] = [
        ("chain", Shape::Chain, p.chain),
        ("layered", Shape::Layered, p.cross_tasks),
    ];
    for (name, shape, n) in cases {
        let g = shape.generate(n);
        let width = g.tasks.isqrt().max(1);
        let mut arena = Arena::new();
        let graph = build_shape::<u64>(&mut arena, &g, |_| Ok(0));
        // The chain alternately, the layered graph by layer parity: every
        // edge crosses.
        let crossing = match shape {
            Shape::Chain => Placement::with(|t: TaskId, w| t.index() % w),
            _ => Placement::with(move |t: TaskId, w| (t.index() / width) % w),
        };
        let placements = [("all", crossing), ("blocks", Placement::blocks())];
        if me == 0 {
            log.info(&format!("tasks/{name}"), 0, g.tasks as f64);
            log.info(&format!("edges/{name}"), 0, g.edges.len() as f64);
            for (how, placement) in &placements {
                let owner = placement
                    .assign(&graph, worker.peers())
                    .expect("placed inside");
                log.info(
                    &format!("cut/{name}/{how}"),
                    0,
                    cut_edges(&graph, &owner) as f64,
                );
            }
        }
        for rep in 0..=p.reps {
            // In one piece on this process's one thread, the other waiting.
            if me == 0 {
                let (s, r) = timed(|| executor.run(&graph));
                check(&r, "in-process");
                drop(r);
                log.sample(&format!("inproc/{name}"), rep, me, s);
            }
            for (how, placement) in &placements {
                barrier(worker, &executor);
                let (s, r) = timed(|| distributed(worker, &executor, &graph, placement));
                check(r.report(), "distributed");
                drop(r);
                log.sample(&format!("dist/{name}/{how}"), rep, me, s);
            }
        }
        for (how, placement) in &placements {
            barrier(worker, &executor);
            let (tally, r) = tallied(worker, |worker| {
                distributed(worker, &executor, &graph, placement)
            });
            check(r.report(), "distributed, logged");
            drop(r);
            log.info(&format!("batches/{name}/{how}"), me, tally.batches as f64);
            log.info(&format!("records/{name}/{how}"), me, tally.records as f64);
            log.info(&format!("parks/{name}/{how}"), me, tally.parks as f64);
        }
    }
    log
}

/// Section 3 on each of the workers: the layered graph with the busy body,
/// its floor on worker 0 (the others waiting), then distributed in blocks
/// and striped, each after a barrier; `two` (an executor of two threads, in
/// one process) is timed in one piece too, as kahn's own scaling.
fn scaling(
    worker: &mut Worker,
    p: &Params,
    steps: u32,
    floor: &Executor,
    shared: &Executor,
    two: Option<&Executor>,
) -> Log {
    let mut log = Log::default();
    let me = worker.index();
    let g = Shape::Layered.generate(p.scale_tasks);
    let mut arena = Arena::new();
    let graph = build_shape::<u64>(&mut arena, &g, move |ctx| {
        Ok(spin(ctx.id().index() as u64, steps))
    });
    // Blocks (bands of layers: worker 1 waits for worker 0's band), and
    // each layer split across the workers (every layer parallel, most
    // edges cut).
    let placements = [
        ("blocks", Placement::blocks()),
        ("striped", Placement::with(|t: TaskId, w| t.index() % w)),
    ];
    if me == 0 {
        log.info("tasks", 0, g.tasks as f64);
        log.info("edges", 0, g.edges.len() as f64);
        for (how, placement) in &placements {
            let owner = placement
                .assign(&graph, worker.peers())
                .expect("placed inside");
            log.info(&format!("cut/{how}"), 0, cut_edges(&graph, &owner) as f64);
        }
    }
    for rep in 0..=p.reps {
        if me == 0 {
            let (s, r) = timed(|| floor.run(&graph));
            check(&r, "floor");
            drop(r);
            log.sample("floor", rep, me, s);
            if let Some(two) = two {
                let (s, r) = timed(|| two.run(&graph));
                check(&r, "in-process, two threads");
                drop(r);
                log.sample("inproc2", rep, me, s);
            }
        }
        for (how, placement) in &placements {
            barrier(worker, shared);
            let (s, r) = timed(|| distributed(worker, shared, &graph, placement));
            check(r.report(), "distributed");
            drop(r);
            log.sample(&format!("dist/{how}"), rep, me, s);
        }
    }
    log
}

/// xorshift steps for a body of about 1 µs, and the body's time; both the
/// fastest of several tries, the machine being shared.
fn calibrate(fixed: Option<u32>) -> (u32, f64) {
    let fastest = |xs: Vec<f64>| xs.into_iter().fold(f64::INFINITY, f64::min);
    let per_step = fastest(
        (0..9)
            .map(|i| {
                let (s, _) = timed(|| spin(i, 1_000_000));
                s / 1e6
            })
            .collect(),
    );
    let steps = fixed.unwrap_or(((1e-6 / per_step).round() as u32).max(1));
    let body = fastest(
        (0..9)
            .map(|i| {
                let (s, _) = timed(|| (0..10_000u64).map(|k| spin(k ^ i, steps)).sum::<u64>());
                s / 1e4
            })
            .collect(),
    );
    (steps, body)
}

/// Starts `n` processes of this binary on loopback ports that were free a
/// moment ago, with `args`; their stdout piped, their stderr ours.
fn start_children(n: usize, args: &[String]) -> Vec<Child> {
    let addresses = kahn_timely::loopback_addresses(n).expect("free loopback ports");
    (0..n)
        .map(|i| {
            Command::new(std::env::current_exe().expect("this binary"))
                .args(args)
                .env(PROCESS_ENV, i.to_string())
                .env(ADDRESSES_ENV, addresses.join(","))
                .stdout(Stdio::piped())
                .spawn()
                .expect("a child starts")
        })
        .collect()
}

/// Waits for every child (killing all after [`CHILD_LIMIT`]) and returns
/// their output, in process order.
fn collect_children(mut children: Vec<Child>) -> Result<Vec<String>, String> {
    // Each child's pipe is read on a thread of its own, so none blocks on a full pipe.
    let readers: Vec<_> = children
        .iter_mut()
        .map(|c| {
            let mut out = c.stdout.take().expect("piped");
            std::thread::spawn(move || {
                let mut s = String::new();
                out.read_to_string(&mut s).map(|_| s)
            })
        })
        .collect();
    let start = Instant::now();
    let mut status = vec![None; children.len()];
    while status.iter().any(Option::is_none) {
        for (child, status) in children.iter_mut().zip(status.iter_mut()) {
            if status.is_none() {
                *status = child.try_wait().map_err(|e| e.to_string())?;
            }
        }
        if start.elapsed() > CHILD_LIMIT {
            for child in &mut children {
                let _ = child.kill();
            }
            return Err(format!(
                "the children did not finish within {CHILD_LIMIT:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some((i, s)) = status
        .iter()
        .enumerate()
        .find(|(_, s)| !s.is_some_and(|s| s.success()))
    {
        return Err(format!("process {i} of the children failed: {s:?}"));
    }
    readers
        .into_iter()
        .map(|r| r.join().expect("reader").map_err(|e| e.to_string()))
        .collect()
}

/// The child's side: one worker of a two-process cluster, running the
/// section it was given and printing its lines.
fn child(p: &Params) -> Result<(), String> {
    let me: usize = std::env::var(PROCESS_ENV)
        .map_err(|_| format!("--child wants {PROCESS_ENV}"))?
        .parse()
        .map_err(|e| format!("{PROCESS_ENV}: {e}"))?;
    let addresses: Vec<String> = std::env::var(ADDRESSES_ENV)
        .map_err(|_| format!("--child wants {ADDRESSES_ENV}"))?
        .split(',')
        .map(String::from)
        .collect();
    let config = timely::Config {
        communication: timely::CommunicationConfig::Cluster {
            threads: 1,
            process: me,
            addresses,
            report: false,
            zerocopy: false,
        },
        worker: timely::WorkerConfig::default(),
    };
    let p = p.clone();
    let guards = timely::execute(config, move |worker| {
        if p.sections.contains(&2) {
            cross(worker, &p)
        } else {
            let one = Executor::with_threads(1).expect("a thread starts");
            let steps = p.steps.expect("the parent fixes the steps");
            scaling(worker, &p, steps, &one, &one, None)
        }
    })?;
    for log in guards.join() {
        let log = log.map_err(|e| format!("a worker panicked: {e}"))?;
        for line in log.0 {
            println!("{line}");
        }
    }
    Ok(())
}

/// What `cmd` prints, trimmed, or `?`.
fn shell(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "?".into(), |s| s.trim().to_string())
}

/// The 1, 5 and 15 minute load averages (the machine is shared).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Appends to the report and prints as it goes.
struct Out(String);

impl Out {
    fn line(&mut self, s: impl AsRef<str>) {
        println!("{}", s.as_ref());
        self.0.push_str(s.as_ref());
        self.0.push('\n');
    }
}

fn us(secs: f64) -> String {
    format!("{:.2}", secs * 1e6)
}

fn ms(secs: f64) -> String {
    format!("{:.1}", secs * 1e3)
}

fn main() {
    let p = match Params::parse() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("{why}");
            std::process::exit(2);
        }
    };
    if p.child {
        if let Err(why) = child(&p) {
            eprintln!("harness child: {why}");
            std::process::exit(1);
        }
        return;
    }
    let mut out = Out(String::new());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let nproc = std::thread::available_parallelism().map_or(0, usize::from);
    let args: Vec<String> = std::env::args().skip(1).collect();
    out.line("# kahn-timely harness");
    out.line("");
    out.line(format!(
        "- command: `cargo run --release -p kahn-timely --example harness --{}{}`",
        if args.is_empty() { "" } else { " " },
        args.join(" ")
    ));
    out.line(format!(
        "- date: {}",
        shell("date", &["-u", "+%Y-%m-%d %H:%M:%S UTC"])
    ));
    out.line(format!("- machine: nproc {nproc}, {cpu}"));
    out.line(format!("- load average at start: {}", load_average()));
    out.line(format!(
        "- commit: {}",
        shell("git", &["rev-parse", "--short", "HEAD"])
    ));
    out.line(format!(
        "- repetitions: {} timed (after one warm-up) per figure; medians; ratios are medians of per-repetition ratios of runs timed back to back",
        p.reps
    ));

    if p.sections.contains(&1) {
        section_overhead(&mut out, &p);
    }
    if p.sections.contains(&2) {
        section_cross(&mut out, &p);
    }
    if p.sections.contains(&3) {
        section_scaling(&mut out, &p);
    }
    if p.sections.contains(&4) {
        section_counts(&mut out, &p);
    }

    out.line("");
    out.line(format!("- load average at the end: {}", load_average()));
    if p.save {
        let date = shell("date", &["-u", "+%Y-%m-%d"]);
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/results");
        let name = if p.quick {
            format!("{dir}/{date}-harness-quick.txt")
        } else {
            format!("{dir}/{date}-harness.txt")
        };
        std::fs::create_dir_all(dir).expect("the results directory");
        // Runs of one day go into one file, one after another.
        let earlier = std::fs::read_to_string(&name).unwrap_or_default();
        let text = if earlier.is_empty() {
            out.0
        } else {
            format!("{earlier}\n---\n\n{}", out.0)
        };
        std::fs::write(&name, text).expect("the results file");
        eprintln!("wrote {name} (appended if it was there)");
    }
}

fn section_overhead(out: &mut Out, p: &Params) {
    let pp = p.clone();
    let guards = timely::execute(timely::Config::thread(), move |worker| {
        overhead(worker, &pp)
    })
    .expect("one worker starts");
    let mut f = Figures::default();
    for log in guards.join() {
        f.absorb(log.expect("the worker").0.iter().map(String::as_str));
    }
    out.line("");
    out.line(format!(
        "## 1. Per-task overhead: 1 timely worker in 1 process against in-process (empty bodies, ~{} tasks)",
        p.overhead_tasks
    ));
    out.line("");
    out.line("ns per task, medians. `part run`: `Executor::run_part` owning every task, outbox counting (kahn's part-run path, no timely). `distributed`: `kahn_timely::run`, `Placement::blocks()`. `assign`: `Placement::blocks().assign` alone (part of `distributed`). `parks`: the timely worker's parks in one logged run, per task.");
    out.line("");
    out.line("| shape | tasks | threads | in-process | part run | distributed | assign | part / in-process | distributed / in-process | parks per task |");
    out.line("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for threads in [1, 2] {
        for shape in Shape::ALL {
            let key = format!("{shape}/{threads}");
            let tasks = f.info(&format!("tasks/{shape}"), Some(0));
            let ns =
                |what: &str| format!("{:.0}", f.median(&format!("{what}/{key}")) / tasks * 1e9);
            out.line(format!(
                "| {shape} | {tasks} | {threads} | {} | {} | {} | {} | {:.2} | {:.2} | {:.3} |",
                ns("inproc"),
                ns("part"),
                ns("dist"),
                ns("assign"),
                f.ratio(&format!("part/{key}"), &format!("inproc/{key}")),
                f.ratio(&format!("dist/{key}"), &format!("inproc/{key}")),
                f.info(&format!("parks/{key}"), Some(0)) / tasks,
            ));
        }
    }
    spans_table(out, &f);
}

/// Section 1's second table: where each variant's time goes.
fn spans_table(out: &mut Out, f: &Figures) {
    out.line("");
    out.line("Where the time goes: the same runs with stamping bodies (each task updates a shared first-start and last-end), ns per task, medians: before the first task starts (`pre`), from the first task to the last (`tasks`), after the last ends (`post`).");
    out.line("");
    out.line("| shape | threads | in-process pre | tasks | post | part run pre | tasks | post | distributed pre | tasks | post |");
    out.line("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for threads in [1, 2] {
        for shape in Shape::ALL {
            let key = format!("{shape}/{threads}");
            let tasks = f.info(&format!("tasks/{shape}"), Some(0));
            let mut row = format!("| {shape} | {threads} |");
            for variant in ["inproc", "part", "dist"] {
                for what in ["pre", "mid", "post"] {
                    let ns = f.median(&format!("{what}/{variant}/{key}")) / tasks * 1e9;
                    row.push_str(&format!(" {ns:.0} |"));
                }
            }
            out.line(row);
        }
    }
}

fn section_cross(out: &mut Out, p: &Params) {
    let children = start_children(2, &p.child_args(2, 0));
    let outputs = match collect_children(children) {
        Ok(o) => o,
        Err(why) => {
            out.line(format!("\nsection 2 failed: {why}"));
            return;
        }
    };
    let mut f = Figures::default();
    for o in &outputs {
        f.absorb(o.lines());
    }
    out.line("");
    out.line("## 2. Cross-process edges: 2 processes × 1 worker on loopback, 1 executor thread each (empty bodies)");
    out.line("");
    out.line("`all`: every edge crosses (the chain placed alternately, the layered graph by layer parity); `blocks`: `Placement::blocks()`. Each task's end goes to the other worker: messages = tasks. Extra = distributed − in-process (in-process: process 0's one thread, timed back to back). Batches: the exchange's batches sent to the other worker (timely's log, one logged run, both workers), each an epoch's ends.");
    out.line("");
    out.line("| graph | tasks | edges | placement | cut edges | in-process ms | distributed ms | dist / in-process | extra µs per cut edge | extra µs per message | batches | ends per batch | parks |");
    out.line("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for name in ["chain", "layered"] {
        let tasks = f.info(&format!("tasks/{name}"), Some(0));
        let edges = f.info(&format!("edges/{name}"), Some(0));
        let inproc = f.median(&format!("inproc/{name}"));
        for how in ["all", "blocks"] {
            let key = format!("dist/{name}/{how}");
            let dist = f.median(&key);
            let cut = f.info(&format!("cut/{name}/{how}"), Some(0));
            let extra = dist - inproc;
            let batches = f.info(&format!("batches/{name}/{how}"), None);
            let records = f.info(&format!("records/{name}/{how}"), None);
            out.line(format!(
                "| {name} | {tasks} | {edges} | {how} | {cut} | {} | {} | {:.2} | {} | {} | {batches} | {:.1} | {} |",
                ms(inproc),
                ms(dist),
                f.ratio(&key, &format!("inproc/{name}")),
                if cut > 0.0 { us(extra / cut) } else { "–".into() },
                us(extra / tasks),
                records / batches.max(1.0),
                f.info(&format!("parks/{name}/{how}"), None),
            ));
        }
        // The chain placed alternately against in blocks: the same
        // messages, `cut − 1` more hops on the critical path.
        if name == "chain" {
            let hops = f.info("cut/chain/all", Some(0)) - f.info("cut/chain/blocks", Some(0));
            let per_hop = (f.median("dist/chain/all") - f.median("dist/chain/blocks")) / hops;
            out.line(format!(
                "| chain | | | all − blocks | {hops} more | | | | {} (latency per hop) | | | | |",
                us(per_hop)
            ));
        }
    }
}

fn section_scaling(out: &mut Out, p: &Params) {
    let (steps, body) = calibrate(p.steps);
    // (a) and (b): one process, two timely workers sharing an executor of
    // two threads; the floor on a one-thread executor, on worker 0.
    let pp = p.clone();
    let floor = Arc::new(Executor::with_threads(1).expect("a thread starts"));
    let two = Arc::new(Executor::with_threads(2).expect("the threads start"));
    let guards = timely::execute(timely::Config::process(2), move |worker| {
        scaling(worker, &pp, steps, &floor, &two, Some(&two))
    })
    .expect("two workers start");
    let mut one = Figures::default();
    for log in guards.join() {
        one.absorb(log.expect("a worker").0.iter().map(String::as_str));
    }
    // (c): two processes of one worker and one executor thread each.
    let children = start_children(2, &p.child_args(3, steps));
    let two_processes = collect_children(children).map(|outputs| {
        let mut f = Figures::default();
        for o in &outputs {
            f.absorb(o.lines());
        }
        f
    });
    out.line("");
    out.line(format!(
        "## 3. Scaling: layered, ~{} tasks, busy body of {steps} xorshift steps ({:.2} µs, fastest of 9 tries)",
        p.scale_tasks,
        body * 1e6
    ));
    out.line("");
    out.line("Makespan medians (the slowest worker's run, each distributed run after a barrier run). Efficiency = floor / (2 × makespan), floor = in-process on 1 thread, timed back to back in the same process. `blocks`: `Placement::blocks()` (bands of layers); `striped`: task id mod 2 (each layer split, most edges cut).");
    out.line("");
    out.line("| configuration | placement | cut edges | floor ms | makespan ms | efficiency | floor / makespan |");
    out.line("|---|---|---:|---:|---:|---:|---:|");
    let floor = one.median("floor");
    out.line(format!(
        "| (a) in-process, 1 thread (floor) | – | 0 | {} | {} | 0.50 | 1.00 |",
        ms(floor),
        ms(floor)
    ));
    let inproc2 = one.median("inproc2");
    out.line(format!(
        "| in-process, 2 threads (kahn alone) | – | 0 | {} | {} | {:.2} | {:.2} |",
        ms(floor),
        ms(inproc2),
        0.5 / one.ratio("inproc2", "floor"),
        1.0 / one.ratio("inproc2", "floor"),
    ));
    let rows = |out: &mut Out, f: &Figures, what: &str| {
        let floor = f.median("floor");
        for how in ["blocks", "striped"] {
            let key = format!("dist/{how}");
            let r = f.ratio(&key, "floor");
            out.line(format!(
                "| {what} | {how} | {} | {} | {} | {:.2} | {:.2} |",
                f.info(&format!("cut/{how}"), Some(0)),
                ms(floor),
                ms(f.median(&key)),
                0.5 / r,
                1.0 / r
            ));
        }
    };
    rows(
        out,
        &one,
        "(b) 1 process × 2 workers, executor of 2 threads shared",
    );
    match two_processes {
        Ok(f) => rows(
            out,
            &f,
            "(c) 2 processes × 1 worker, 1 executor thread each",
        ),
        Err(why) => out.line(format!("| (c) failed: {why} | | | | | | |")),
    }
}

fn section_counts(out: &mut Out, p: &Params) {
    out.line("");
    out.line("## 4. Counts for larger clusters (nothing runs): layered, `Placement::blocks()`");
    out.line("");
    out.line("Messages: every end goes to every other worker, tasks × (workers − 1); each worker sends about tasks × (workers − 1) / workers and receives as many. Blocks of a topological order are bands of layers: each band waits for most of the band before it.");
    out.line("");
    out.line("| tasks | edges | workers | cut edges | cut / edges | messages | messages per worker (sent) |");
    out.line("|---:|---:|---:|---:|---:|---:|---:|");
    let sizes: &[usize] = if p.quick {
        &[100_000]
    } else {
        &[100_000, 1_000_000]
    };
    for &n in sizes {
        let g = Shape::Layered.generate(n);
        let mut arena = Arena::new();
        let graph = build_shape::<u64>(&mut arena, &g, |_| Ok(0));
        for workers in [2usize, 8, 64] {
            let owner = Placement::blocks()
                .assign(&graph, workers)
                .expect("blocks place inside");
            let cut = cut_edges(&graph, &owner);
            let messages = g.tasks * (workers - 1);
            out.line(format!(
                "| {} | {} | {workers} | {cut} | {:.3} | {messages} | {} |",
                g.tasks,
                g.edges.len(),
                cut as f64 / g.edges.len() as f64,
                messages / workers
            ));
        }
    }
}
