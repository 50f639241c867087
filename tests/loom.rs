//! Loom models of the executor's concurrency protocol: pending counters,
//! ready ranges and deques, sleeping and waking, and how a run ends.
//!
//! Built only with `--cfg loom`, which swaps the executor's atomics, locks,
//! output slots and deques for loom's (see `src/sync.rs` for what is and is
//! not modelled). Run it in release mode, in its own target directory so the
//! different flags do not rebuild the normal one:
//!
//! ```sh
//! CARGO_TARGET_DIR=target/loom RUSTFLAGS="--cfg loom" cargo test --release --test loom
//! ```
//!
//! Each model runs a small graph on two loom threads (the model's own and
//! one spawned; three for one diamond), each running the real worker loop,
//! and checks every execution loom explores: the whole report (each task's
//! state, output and skip cause; the counts; the stop reason), how often
//! each task body ran, and that the run ends: `__loom::run` returns only
//! once every worker has returned and been joined, and a worker that never
//! wakes is a deadlock loom reports. The pace of the workers is fixed per model, since it
//! normally depends on the clock: `eager` publishes work before every task,
//! `on demand` only when a peer is hungry.
//!
//! Loom bounds how often a thread is preempted: [`PREEMPTIONS`] (3) here,
//! 2 for the three-worker diamond. The whole suite takes about half a
//! minute on two cores. `LOOM_MAX_PREEMPTIONS=4` (which applies to every
//! model) explores more: append `-- --skip three_workers` and the other
//! models take about a minute and a half. `LOOM_LOG=1 LOOM_LOCATION=1`
//! prints a failing execution.
//!
//! The models do catch protocol bugs: with the pending counter's
//! `fetch_sub` weakened to `Relaxed`, or the `Acquire` load by which the last
//! release claims a task (`RunCore::claim`) weakened to `Relaxed`, the
//! diamond's join reads a predecessor's state before it is visible (and
//! panics on it; all three diamond models fail, checked 2026-12-01); without the
//! `SeqCst` fence in `Sleep::wake_all`, every model finds the lost
//! end-of-run wake-up that leaves a worker asleep (loom: "deadlock");
//! without the light fence of `Seat::retract` (the holder's side of the
//! rescue handshake), `a_long_task_does_not_hide_its_sibling` finds the
//! holder and its rescuer writing the same private work ("Causality
//! violation: Concurrent write accesses to `UnsafeCell`", checked
//! 2026-12-01). That model also found a real bug while it was written: a
//! second, failed rescue of an announcement already rescued cleared the
//! flag the holder had yet to see, and the rescued task ran twice. With a
//! resource's release not handing its waiter back to the run,
//! `a_resource_released_while_another_task_waits` finds both workers asleep
//! with the waiter parked (loom: "deadlock", checked 2026-12-01). With a
//! task's second announcement (made again after sharing) numbered as its
//! first, `what_is_left_after_sharing_is_not_hidden` finds the peer taking
//! it for the first, already spent, and never rescuing what it holds
//! (loom: "exceeded maximum number of branches", checked 2026-12-04).
//!
//! The registry's listing of a run (who may free a run, and when) is
//! modelled on its own, over a stand-in run: with the last worker's
//! `leave` weakened to `Relaxed`, or the starter's `close` to `Relaxed`,
//! or a closed listing still letting a worker join,
//! `a_run_is_freed_only_after_its_workers_left` finds a worker's read of
//! the run racing with its freeing ("Causality violation"); without the
//! last worker's `unpark`, the starter sleeps forever ("deadlock"; checked
//! 2026-12-02). Without either `SeqCst` fence of the word a worker turned
//! away from a full run leaves (`Listing::join_or_leave_word` and
//! `Listing::leave`), `a_worker_turned_away_from_a_full_run_is_answered`
//! finds the call lost: the job turned away and the worker leaving without
//! word (checked 2026-12-05). Without the job's second request for workers
//! when its second look joins a run with a seat still free,
//! `a_free_seat_left_behind_a_turned_away_job_is_asked_for` finds the
//! leavers' requests cleared and nobody asking (checked 2026-12-05).
#![cfg(loom)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};

use kahn::{
    Arena, BoxError, CancelToken, Counts, Graph, GraphBuilder, Outcome, Resource, RunOptions,
    StopReason, TaskContext, TaskId,
};
use kahn_test_support::intend_panic;

/// Loom's preemption bound unless `LOOM_MAX_PREEMPTIONS` says otherwise.
const PREEMPTIONS: usize = 3;

/// Worker threads per run.
const THREADS: usize = 2;

/// Checks `f` in every execution loom explores, and says how many there were.
fn model(f: impl Fn() + Sync + Send + 'static) {
    model_bounded(PREEMPTIONS, f);
}

/// As [`model`], with preemptions bounded by `bound` unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise.
fn model_bounded(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(bound);
    }
    let executions = std::sync::Arc::new(AtomicU32::new(0));
    let counter = std::sync::Arc::clone(&executions);
    let start = std::time::Instant::now();
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        f();
    });
    eprintln!(
        "{} executions in {:.1?} (preemption bound {})",
        executions.load(Ordering::Relaxed),
        start.elapsed(),
        builder.preemption_bound.unwrap_or(usize::MAX),
    );
}

/// Builds a graph in a leaked arena: loom threads need `'static` borrows,
/// and the graph is built once, outside the model, for all its executions.
fn leak_graph<T: 'static>(
    build: impl FnOnce(&mut GraphBuilder<'static, T>),
) -> &'static Graph<'static, T> {
    let arena: &'static mut Arena = Box::leak(Box::new(Arena::new()));
    let mut builder = arena.builder::<T>();
    build(&mut builder);
    Box::leak(Box::new(
        builder.build().expect("the model's graph is valid"),
    ))
}

/// Adds edges between named tasks.
fn edges<T>(b: &mut GraphBuilder<'static, T>, edges: &[(&str, &str)]) {
    for &(from, to) in edges {
        b.edge(from, to)
            .expect("an edge between tasks of the model");
    }
}

/// How often each task body ran in the current execution; one static per
/// test (tests run in parallel), reset at the start of each execution. (Loom runs its threads on
/// the model's one OS thread, so plain std atomics count exactly.)
struct Runs([AtomicU32; 8]);

impl Runs {
    const fn new() -> Runs {
        Runs([const { AtomicU32::new(0) }; 8])
    }

    fn reset(&self) {
        for count in &self.0 {
            count.store(0, Ordering::Relaxed);
        }
    }

    fn count(&self, task: TaskId) -> u32 {
        self.0[task.index()].load(Ordering::Relaxed)
    }

    /// Adds a task whose body counts its runs, then does `body`.
    fn task<T: 'static>(
        &'static self,
        b: &mut GraphBuilder<'static, T>,
        name: &str,
        body: impl Fn(&TaskContext<'_, T>) -> Result<T, BoxError> + Send + Sync + 'static,
    ) {
        b.task(name, move |ctx| {
            self.0[ctx.id().index()].fetch_add(1, Ordering::Relaxed);
            body(ctx)
        })
        .expect("a fresh task name");
    }
}

/// What a model expects of one task.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Succeeded(u64),
    Failed(&'static str),
    Panicked(&'static str),
    /// Skipped because this task failed.
    Skipped(&'static str),
    Cancelled,
    /// Succeeded with this output if it started before the run stopped,
    /// Cancelled otherwise.
    SucceededOrCancelled(u64),
}

/// Runs `graph` once on `threads` workers (see `kahn::__loom::run` for
/// `eager`), then checks the whole report against `expected` (every task of
/// the graph, by name) and the run counts; returns the tasks that
/// succeeded, as a bit set by id, for models whose outcome depends on the
/// interleaving.
fn run_and_check(
    graph: &'static Graph<'static, u64>,
    runs: &Runs,
    options: &RunOptions,
    (threads, eager): (usize, bool),
    expected: &[(&str, Expect)],
    stop: Option<StopReason>,
) -> u32 {
    runs.reset();
    let report = &kahn::__loom::run(graph, options, threads, eager);
    assert_eq!(report.task_count(), graph.task_count());
    assert_eq!(
        expected.len(),
        graph.task_count(),
        "the model names every task"
    );
    let mut counts = Counts::default();
    let mut succeeded = 0u32;
    for &(name, expect) in expected {
        let id = graph.find(name).expect("a task of the graph");
        let outcome = report.outcome(id).expect("a task of the report");
        let ran = runs.count(id);
        match (expect, outcome) {
            (Expect::Succeeded(want), Outcome::Succeeded(&got))
            | (Expect::SucceededOrCancelled(want), Outcome::Succeeded(&got)) => {
                assert_eq!(got, want, "`{name}`'s output");
                assert_eq!(ran, 1, "`{name}` succeeded, so it ran once");
                for p in graph.predecessors(id) {
                    assert!(
                        matches!(report.outcome(p), Some(Outcome::Succeeded(_))),
                        "`{name}` ran after a predecessor that did not succeed"
                    );
                }
                counts.succeeded += 1;
                succeeded |= 1 << id.index();
            }
            (Expect::Failed(want), Outcome::Failed(error)) => {
                assert_eq!(error.to_string(), want, "`{name}`'s error");
                assert_eq!(ran, 1, "`{name}` failed, so it ran once");
                counts.failed += 1;
            }
            (Expect::Panicked(want), Outcome::Panicked(message)) => {
                assert_eq!(message, want, "`{name}`'s panic");
                assert_eq!(ran, 1, "`{name}` panicked, so it ran once");
                counts.panicked += 1;
            }
            (Expect::Skipped(cause), Outcome::Skipped { cause: got }) => {
                assert_eq!(graph.name(got), Some(cause), "`{name}`'s skip cause");
                assert_eq!(ran, 0, "`{name}` was skipped, so it never ran");
                counts.skipped += 1;
            }
            (Expect::Cancelled | Expect::SucceededOrCancelled(_), Outcome::Cancelled) => {
                assert_eq!(ran, 0, "`{name}` was cancelled, so it never started");
                counts.cancelled += 1;
            }
            (expect, outcome) => panic!("`{name}`: expected {expect:?}, got {outcome:?}"),
        }
    }
    assert_eq!(report.counts(), counts);
    assert_eq!(report.stop_reason(), stop);
    succeeded
}

/// `a -> b -> c`, passing outputs along: a run that never leaves one worker
/// unless the other steals the rest of the chain.
fn chain_of_three(runs: &'static Runs, eager: bool) {
    let graph = leak_graph(|b| {
        runs.task(b, "a", |_| Ok(1));
        runs.task(b, "b", |ctx| Ok(ctx.input("a")? + 1));
        runs.task(b, "c", |ctx| Ok(ctx.input("b")? * 10));
        b.edge("a", "b").unwrap();
        b.edge("b", "c").unwrap();
    });
    model(move || {
        run_and_check(
            graph,
            runs,
            &RunOptions::new(),
            (THREADS, eager),
            &[
                ("a", Expect::Succeeded(1)),
                ("b", Expect::Succeeded(2)),
                ("c", Expect::Succeeded(20)),
            ],
            None,
        );
    });
}

/// Which ends a stopped run gave an independent two-task chain `first ->
/// second`, over all executions: both cancelled, only `second`, or neither.
/// A model asserts that loom reached all three, so the stop really races
/// the chain.
struct ChainEnds(AtomicU32);

impl ChainEnds {
    const fn new() -> ChainEnds {
        ChainEnds(AtomicU32::new(0))
    }

    /// Records one execution from the bits [`check`] returns, a bit per
    /// task that succeeded.
    fn record(&self, succeeded: u32, first: TaskId, second: TaskId) {
        let chain = succeeded & ((1 << first.index()) | (1 << second.index()));
        self.0.fetch_or(1 << chain.count_ones(), Ordering::Relaxed);
    }

    fn assert_all_reached(&self, first: &str, second: &str) {
        assert_eq!(
            self.0.load(Ordering::Relaxed),
            0b111,
            "executions where `{first}` and `{second}` were cancelled, where only \
             `{second}` was, and where neither was"
        );
    }
}

#[test]
fn chain_of_three_eager() {
    static RUNS: Runs = Runs::new();
    chain_of_three(&RUNS, true);
}

#[test]
fn chain_of_three_on_demand() {
    static RUNS: Runs = Runs::new();
    chain_of_three(&RUNS, false);
}

/// `a -> b, a -> c, b -> d, c -> d`: `b` and `c` may run on different
/// workers, and `d` is claimed by whichever releases it last, and must see
/// both outputs.
fn diamond(runs: &'static Runs, threads: usize, bound: usize, eager: bool) {
    let graph = leak_graph(|b| {
        runs.task(b, "a", |_| Ok(1));
        runs.task(b, "b", |ctx| Ok(ctx.input("a")? + 1));
        runs.task(b, "c", |ctx| Ok(ctx.input("a")? + 2));
        runs.task(b, "d", |ctx| Ok(ctx.input("b")? * 10 + ctx.input("c")?));
        edges(b, &[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]);
    });
    model_bounded(bound, move || {
        run_and_check(
            graph,
            runs,
            &RunOptions::new(),
            (threads, eager),
            &[
                ("a", Expect::Succeeded(1)),
                ("b", Expect::Succeeded(2)),
                ("c", Expect::Succeeded(3)),
                ("d", Expect::Succeeded(23)),
            ],
            None,
        );
    });
}

#[test]
fn diamond_eager() {
    static RUNS: Runs = Runs::new();
    diamond(&RUNS, THREADS, PREEMPTIONS, true);
}

#[test]
fn diamond_on_demand() {
    static RUNS: Runs = Runs::new();
    diamond(&RUNS, THREADS, PREEMPTIONS, false);
}

/// The diamond on three workers: two of them may be hungry at once, and
/// the run must still end with every one of them woken and returned.
/// (Fewer preemptions: a third thread multiplies the interleavings.)
#[test]
fn diamond_three_workers() {
    static RUNS: Runs = Runs::new();
    diamond(&RUNS, 3, 2, true);
}

/// `a -> bad -> lost`, `a -> good`, and `join` after both `bad` and `good`:
/// `bad` fails, so `lost` and `join` are skipped because of it (`join` gets
/// one poisoned and one clean release, in either order, possibly at once);
/// `good` runs with `a`'s output.
#[test]
fn failing_branch() {
    static RUNS: Runs = Runs::new();
    let graph = leak_graph(|b| {
        RUNS.task(b, "a", |_| Ok(1));
        RUNS.task(b, "bad", |ctx| {
            ctx.input("a")?;
            Err("bad failed".into())
        });
        RUNS.task(b, "good", |ctx| Ok(ctx.input("a")? + 1));
        RUNS.task(b, "lost", |_| Ok(0));
        RUNS.task(b, "join", |_| Ok(0));
        edges(
            b,
            &[
                ("a", "bad"),
                ("a", "good"),
                ("bad", "lost"),
                ("bad", "join"),
                ("good", "join"),
            ],
        );
    });
    model(move || {
        run_and_check(
            graph,
            &RUNS,
            &RunOptions::new(),
            (THREADS, true),
            &[
                ("a", Expect::Succeeded(1)),
                ("bad", Expect::Failed("bad failed")),
                ("good", Expect::Succeeded(2)),
                ("lost", Expect::Skipped("bad")),
                ("join", Expect::Skipped("bad")),
            ],
            None,
        );
    });
}

/// Two sources: `boom` panics, `calm` succeeds; `join` after both is skipped
/// because of `boom`, and `tail` after `calm` runs.
#[test]
fn panicking_task() {
    static RUNS: Runs = Runs::new();
    let graph = leak_graph(|b| {
        // Marked, so the shared silencer keeps it (one per execution) out
        // of the output.
        RUNS.task(b, "boom", |_| {
            intend_panic();
            panic!("expected panic: boom")
        });
        RUNS.task(b, "calm", |_| Ok(7));
        RUNS.task(b, "join", |_| Ok(0));
        RUNS.task(b, "tail", |ctx| Ok(ctx.input("calm")? + 1));
        edges(b, &[("boom", "join"), ("calm", "join"), ("calm", "tail")]);
    });
    model(move || {
        run_and_check(
            graph,
            &RUNS,
            &RunOptions::new(),
            (THREADS, true),
            &[
                ("boom", Expect::Panicked("expected panic: boom")),
                ("calm", Expect::Succeeded(7)),
                ("join", Expect::Skipped("boom")),
                ("tail", Expect::Succeeded(8)),
            ],
            None,
        );
    });
}

/// `stopper` cancels the run's token from inside and succeeds; its
/// successors `x` and `y` are cancelled. The independent `other -> z` ran
/// or was cancelled depending on the interleaving, and `z` never ran after a
/// cancelled `other`. All three ways must occur among the executions.
///
/// (`other` comes first: the worker that takes both sources keeps `other`
/// and publishes `stopper`. The other order, where `z` is cancelled between
/// `other` and `z` on one worker while the peer runs `stopper`, is not
/// reached by loom's search: its partial-order reduction keeps one last
/// access per atomic, and the stopping worker's own loads of `signals`
/// hide the race between its `fetch_or` and the peer's load.)
#[test]
fn cancellation_from_inside_a_task() {
    static RUNS: Runs = Runs::new();
    // The token of the current execution: the task closures are built once,
    // outside the model, and a token stays cancelled.
    static TOKEN: Mutex<Option<CancelToken>> = Mutex::new(None);
    static ENDS: ChainEnds = ChainEnds::new();
    let graph = leak_graph(|b| {
        RUNS.task(b, "other", |_| Ok(5));
        RUNS.task(b, "z", |ctx| Ok(ctx.input("other")? + 1));
        RUNS.task(b, "stopper", |ctx| {
            let token = TOKEN.lock().unwrap_or_else(PoisonError::into_inner);
            token.as_ref().expect("set by the model").cancel();
            drop(token);
            // A task sees its own cancellation. This also sets the run's STOP
            // bit here, a loom atomic: the token's own flag is a std one,
            // which loom does not see (see `src/sync.rs`).
            assert!(ctx.is_cancelled(), "the task that cancelled sees it");
            Ok(1)
        });
        RUNS.task(b, "x", |ctx| Ok(ctx.input("stopper")? + 1));
        RUNS.task(b, "y", |ctx| Ok(ctx.input("stopper")? + 2));
        edges(b, &[("stopper", "x"), ("stopper", "y"), ("other", "z")]);
    });
    let other = graph.find("other").unwrap();
    let z = graph.find("z").unwrap();
    model(move || {
        let token = CancelToken::new();
        *TOKEN.lock().unwrap_or_else(PoisonError::into_inner) = Some(token.clone());
        let options = RunOptions::new().cancel_token(token);
        let succeeded = run_and_check(
            graph,
            &RUNS,
            &options,
            (THREADS, true),
            &[
                ("stopper", Expect::Succeeded(1)),
                ("x", Expect::Cancelled),
                ("y", Expect::Cancelled),
                ("other", Expect::SucceededOrCancelled(5)),
                ("z", Expect::SucceededOrCancelled(6)),
            ],
            Some(StopReason::Cancelled),
        );
        ENDS.record(succeeded, other, z);
    });
    ENDS.assert_all_reached("other", "z");
}

/// Under fail-fast, `bad` fails: `after` is skipped because of it, and the
/// independent `s1 -> s2` ran or was cancelled depending on the
/// interleaving (never `s2` without `s1`).
#[test]
fn fail_fast() {
    static RUNS: Runs = Runs::new();
    static ENDS: ChainEnds = ChainEnds::new();
    let graph = leak_graph(|b| {
        RUNS.task(b, "bad", |_| Err("bad failed".into()));
        RUNS.task(b, "after", |_| Ok(0));
        RUNS.task(b, "s1", |_| Ok(1));
        RUNS.task(b, "s2", |ctx| Ok(ctx.input("s1")? + 1));
        edges(b, &[("bad", "after"), ("s1", "s2")]);
    });
    let (s1, s2) = (graph.find("s1").unwrap(), graph.find("s2").unwrap());
    model(move || {
        let options = RunOptions::new().fail_fast();
        let succeeded = run_and_check(
            graph,
            &RUNS,
            &options,
            (THREADS, true),
            &[
                ("bad", Expect::Failed("bad failed")),
                ("after", Expect::Skipped("bad")),
                ("s1", Expect::SucceededOrCancelled(1)),
                ("s2", Expect::SucceededOrCancelled(2)),
            ],
            Some(StopReason::FailFast),
        );
        ENDS.record(succeeded, s1, s2);
    });
    ENDS.assert_all_reached("s1", "s2");
}

/// Set by `short` in [`a_long_task_does_not_hide_its_sibling`]; std, since
/// loom runs every thread on one OS thread, and the waiting task yields to
/// loom between looks.
static SHORT_RAN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `a -> {long, short}` on two workers publishing only on demand: `long`
/// cannot end until `short` has run, so the run ends only if the worker
/// that takes `long` (holding `short` privately) lets the other one have
/// `short` while `long` runs: by publishing it to a hungry peer before
/// starting `long`, or by the peer rescuing it from the announcement. A
/// protocol that hid `short` behind `long` would spin here until loom's
/// branch limit.
#[test]
fn a_long_task_does_not_hide_its_sibling() {
    static RUNS: Runs = Runs::new();
    let graph = leak_graph(|b| {
        RUNS.task(b, "a", |_| Ok(1));
        RUNS.task(b, "long", |ctx| {
            while !SHORT_RAN.load(Ordering::Relaxed) {
                loom::thread::yield_now();
            }
            Ok(ctx.input("a")? + 1)
        });
        RUNS.task(b, "short", |ctx| {
            SHORT_RAN.store(true, Ordering::Relaxed);
            Ok(ctx.input("a")? + 2)
        });
        edges(b, &[("a", "long"), ("a", "short")]);
    });
    model(move || {
        SHORT_RAN.store(false, Ordering::Relaxed);
        run_and_check(
            graph,
            &RUNS,
            &RunOptions::new(),
            (THREADS, false),
            &[
                ("a", Expect::Succeeded(1)),
                ("long", Expect::Succeeded(2)),
                ("short", Expect::Succeeded(3)),
            ],
            None,
        );
    });
}

/// Set by `s1` and `s2` in [`what_is_left_after_sharing_is_not_hidden`].
static SIBLINGS_RAN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// `a -> {long, s1, s2}` on two workers publishing only on demand: `long`
/// cannot end until `s1` and `s2` have run. The worker that takes `long`
/// holds both; if its peer is hungry it shares one and announces the other
/// again, so the peer, after running the shared one, must rescue the other
/// from the second announcement. That one needs a number of its own: under
/// the first's, a peer that tried to rescue the first just as it was
/// retracted would take the second for the spent first and never rescue
/// it, and `long` would spin until loom's branch limit.
#[test]
fn what_is_left_after_sharing_is_not_hidden() {
    static RUNS: Runs = Runs::new();
    let graph = leak_graph(|b| {
        RUNS.task(b, "a", |_| Ok(1));
        RUNS.task(b, "long", |ctx| {
            while SIBLINGS_RAN.load(Ordering::Relaxed) < 2 {
                loom::thread::yield_now();
            }
            Ok(ctx.input("a")? + 1)
        });
        for (name, add) in [("s1", 2), ("s2", 3)] {
            RUNS.task(b, name, move |ctx| {
                SIBLINGS_RAN.fetch_add(1, Ordering::Relaxed);
                Ok(ctx.input("a")? + add)
            });
        }
        edges(b, &[("a", "long"), ("a", "s1"), ("a", "s2")]);
    });
    model(move || {
        SIBLINGS_RAN.store(0, Ordering::Relaxed);
        run_and_check(
            graph,
            &RUNS,
            &RunOptions::new(),
            (THREADS, false),
            &[
                ("a", Expect::Succeeded(1)),
                ("long", Expect::Succeeded(2)),
                ("s1", Expect::Succeeded(3)),
                ("s2", Expect::Succeeded(4)),
            ],
            None,
        );
    });
}

/// Two runs at once on two workers, each joining the other's run when its
/// own is done (a diamond and a chain): every report is whole, and both
/// runs end, whichever worker finishes which tasks.
#[test]
fn a_worker_joins_a_run_another_is_in() {
    static ONE: Runs = Runs::new();
    static TWO: Runs = Runs::new();
    let one = leak_graph(|b| {
        ONE.task(b, "a", |_| Ok(1));
        ONE.task(b, "b", |ctx| Ok(ctx.input("a")? + 1));
        ONE.task(b, "c", |ctx| Ok(ctx.input("a")? + 2));
        ONE.task(b, "d", |ctx| Ok(ctx.input("b")? * 10 + ctx.input("c")?));
        edges(b, &[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]);
    });
    let two = leak_graph(|b| {
        TWO.task(b, "x", |_| Ok(5));
        TWO.task(b, "y", |ctx| Ok(ctx.input("x")? * 2));
        TWO.task(b, "z", |_| Ok(7));
        edges(b, &[("x", "y")]);
    });
    model(move || {
        ONE.reset();
        TWO.reset();
        let (first, second) = kahn::__loom::run_two(one, two, &RunOptions::new());
        for (report, runs, expected) in [
            (&first, &ONE, &[("a", 1), ("b", 2), ("c", 3), ("d", 23)][..]),
            (&second, &TWO, &[("x", 5), ("y", 10), ("z", 7)][..]),
        ] {
            assert!(report.is_success(), "{report}");
            for &(name, want) in expected {
                assert_eq!(report.output(name), Some(&want), "`{name}`");
                let id = report_task(report, name);
                assert_eq!(runs.count(id), 1, "`{name}` ran once");
            }
        }
    });
}

/// Who may free a run, and when: the registry's listing of a run (the
/// protocol that keeps a run's state, on its starter's stack, alive while
/// worker jobs of the executor's pool are in it). One worker visits the run
/// and ends it; another visits too, before, during or after, and may be
/// turned away once the run is closed; the starter waits, closes the
/// listing and frees the run. No worker's read of the run may race with
/// the freeing (loom checks the cell), and the starter must be woken by the
/// last worker out, without the timeout of the real `park` (loom's has
/// none: a lost wake-up is a deadlock).
#[test]
fn a_run_is_freed_only_after_its_workers_left() {
    model(|| {
        let run = std::sync::Arc::new(kahn::__loom::ListedRun::new(THREADS));
        let ender = {
            let run = std::sync::Arc::clone(&run);
            loom::thread::spawn(move || assert!(run.visit(true), "an open run with a free seat"))
        };
        let late = {
            let run = std::sync::Arc::clone(&run);
            loom::thread::spawn(move || run.visit(false))
        };
        run.wait_and_free();
        ender.join().unwrap();
        late.join().unwrap();
    });
}

/// A worker job called for a run with one seat while the worker in it is
/// on its way out (a run limited by `RunOptions::max_workers`): either the
/// job gets the seat, or the leaving worker learns that a job was turned
/// away, and calls another. A call lost between the two would leave work
/// published for the run with nobody to take it.
#[test]
fn a_worker_turned_away_from_a_full_run_is_answered() {
    model(|| {
        let run = std::sync::Arc::new(kahn::__loom::ListedRun::new(1));
        let visited = std::sync::Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        let visitors: Vec<_> = (0..2)
            .map(|_| {
                let (run, visited) = (std::sync::Arc::clone(&run), std::sync::Arc::clone(&visited));
                loom::thread::spawn(move || {
                    let visit = run.visit_or_leave_word();
                    // The second to finish ends the run, so that the run is
                    // never closed before both have looked.
                    if visited.fetch_add(1, Ordering::AcqRel) == 1 {
                        run.end();
                    }
                    visit
                })
            })
            .collect();
        // The starter waits first: a visitor's leave may wake it.
        run.wait_and_free();
        let visits: Vec<_> = visitors.into_iter().map(|v| v.join().unwrap()).collect();
        for (me, peer) in [(0, 1), (1, 0)] {
            let (peer_joined, peer_answers) = visits[peer];
            if !visits[me].0 {
                assert!(
                    peer_joined && peer_answers,
                    "a worker was turned away and the one in the run left without a word"
                );
            }
        }
    });
}

/// A run of three seats, all taken: one worker stays, two leave (each then
/// asks for a worker, as a leaving job does), while a called job looks. If
/// the job joins with a seat still free, the run must still ask for a
/// worker for it, or a leaver must have found the job's word: the job
/// clears the run's request when it finds it full, and may clear the
/// requests of workers that left between its two looks.
#[test]
fn a_free_seat_left_behind_a_turned_away_job_is_asked_for() {
    model(|| {
        let run = std::sync::Arc::new(kahn::__loom::ListedRun::new(3));
        for _ in 0..3 {
            assert!(run.enter(), "a fresh run with three seats");
        }
        let leavers: Vec<_> = (0..2)
            .map(|_| {
                let run = std::sync::Arc::clone(&run);
                loom::thread::spawn(move || run.leave_as_worker())
            })
            .collect();
        let joined = run.job();
        let answered = leavers.into_iter().any(|l| l.join().unwrap());
        if joined {
            assert!(
                run.wants_workers() || answered,
                "the job took a seat, one is still free, and nobody asks for a worker"
            );
        } else {
            assert!(
                answered,
                "the job was turned away and no leaver found its word"
            );
        }
        // The worker that stayed, then the job, leave; the run ends.
        let _ = run.leave_as_worker();
        if joined {
            let _ = run.leave_as_worker();
        }
        run.end();
        run.wait_and_free();
    });
}

/// A worker leaving a run for lack of work marks it dry, so that other
/// runs' workers are not asked to move to it, while a task is handed back
/// to it (a resource released, a retry due, a remote outcome). Either the
/// worker's last look finds the task and it stays, or the run is not left
/// marked dry: a run marked dry with work waiting would get no worker
/// while every thread serves another run.
#[test]
fn a_task_handed_back_as_the_last_worker_leaves_is_not_left_dry() {
    model(|| {
        let run = std::sync::Arc::new(kahn::__loom::DryRun::new());
        let feed = {
            let run = std::sync::Arc::clone(&run);
            loom::thread::spawn(move || run.hand_in())
        };
        let stays = run.last_look();
        feed.join().unwrap();
        assert!(
            stays || !run.dry(),
            "the worker left without seeing the task, and the run is marked dry"
        );
    });
}

/// Two independent tasks that each need the one unit of a resource, on two
/// workers publishing eagerly: one runs, the other is parked on the
/// resource (or finds it free, depending on the interleaving); the release
/// hands the parked one back to the run, a worker runs it, and the run
/// ends. Never both at once, each once, and nothing left held.
#[test]
fn a_resource_released_while_another_task_waits() {
    static RUNS: Runs = Runs::new();
    static HOLDING: AtomicU32 = AtomicU32::new(0);
    let lock = Resource::new("lock", 1);
    let held = |_: &TaskContext<'_, u64>| {
        assert_eq!(HOLDING.fetch_add(1, Ordering::Relaxed), 0, "held twice");
        loom::thread::yield_now();
        HOLDING.fetch_sub(1, Ordering::Relaxed);
        Ok(1)
    };
    let graph = leak_graph(|b| {
        RUNS.task(b, "a", |_| Ok(1));
        RUNS.task(b, "x", held);
        RUNS.task(b, "y", held);
        edges(b, &[("a", "x"), ("a", "y")]);
        b.uses("x", &lock).expect("a task of the model");
        b.uses("y", &lock).expect("a task of the model");
    });
    model(move || {
        HOLDING.store(0, Ordering::Relaxed);
        run_and_check(
            graph,
            &RUNS,
            &RunOptions::new(),
            (THREADS, true),
            &[
                ("a", Expect::Succeeded(1)),
                ("x", Expect::Succeeded(1)),
                ("y", Expect::Succeeded(1)),
            ],
            None,
        );
        assert_eq!(lock.in_use(), 0);
        assert_eq!(lock.waiting(), 0);
    });
}

/// As above, but the task holding the resource fails under fail-fast: the
/// other is taken off the wait list and cancelled (or, if it got the
/// resource first, runs and the failing one is cancelled), and the run ends
/// with nothing held or waiting.
#[test]
fn a_stop_withdraws_a_task_waiting_for_a_resource() {
    static RUNS: Runs = Runs::new();
    let lock = Resource::new("lock", 1);
    let graph = leak_graph(|b| {
        RUNS.task(b, "a", |_| Ok(1));
        RUNS.task(b, "fails", |_| {
            loom::thread::yield_now();
            Err("no".into())
        });
        RUNS.task(b, "other", |_| Ok(2));
        edges(b, &[("a", "fails"), ("a", "other")]);
        b.uses("fails", &lock).expect("a task of the model");
        b.uses("other", &lock).expect("a task of the model");
    });
    let options = RunOptions::new().fail_fast();
    model(move || {
        RUNS.reset();
        let report = kahn::__loom::run(graph, &options, THREADS, true);
        let fails = report_task(&report, "fails");
        let other = report_task(&report, "other");
        let outcomes = (report.outcome(fails), report.outcome(other));
        match outcomes {
            (Some(Outcome::Failed(_)), Some(Outcome::Cancelled)) => {
                assert_eq!(RUNS.count(other), 0);
                assert_eq!(report.stop_reason(), Some(StopReason::FailFast));
            }
            (Some(Outcome::Failed(_)), Some(Outcome::Succeeded(&2))) => {
                assert_eq!(RUNS.count(other), 1);
            }
            outcomes => panic!("unexpected outcomes {outcomes:?}\n{report}"),
        }
        assert_eq!(lock.in_use(), 0);
        assert_eq!(lock.waiting(), 0);
    });
}

/// The id of task `name` in `report`'s graph.
fn report_task(report: &kahn::Report<'_, u64>, name: &str) -> TaskId {
    report
        .tasks()
        .find(|t| t.name == Some(name))
        .map(|t| t.id)
        .expect("a task of the report")
}

/// `a -> {flaky, other}`: `flaky` fails its first attempt and is retried
/// with no delay, while the other worker may be finishing `other`, the
/// run's last task but for it. The retry waits in the run's queue, not on
/// a worker; whichever worker is idle takes it (a sleeping one is woken by
/// the queueing), and the run ends only once it has run again.
#[test]
fn a_retry_waits_while_another_worker_finishes_the_last_task() {
    static RUNS: Runs = Runs::new();
    let graph = leak_graph(|b| {
        RUNS.task(b, "a", |_| Ok(1));
        RUNS.task(b, "flaky", |ctx| {
            if ctx.attempt() == 1 {
                return Err("try again".into());
            }
            Ok(ctx.input("a")? + 1)
        });
        RUNS.task(b, "other", |ctx| Ok(ctx.input("a")? + 2));
        edges(b, &[("a", "flaky"), ("a", "other")]);
        b.retry("flaky", kahn::RetryPolicy::attempts(2))
            .expect("a task of the model");
    });
    model(move || {
        RUNS.reset();
        let report = kahn::__loom::run(graph, &RunOptions::new(), THREADS, true);
        assert!(report.is_success(), "{report}");
        assert_eq!(report.output("flaky"), Some(&2));
        assert_eq!(report.output("other"), Some(&3));
        assert_eq!(report.attempts("flaky"), 2);
        assert_eq!(RUNS.count(report_task(&report, "flaky")), 2);
    });
}

/// `check` branches to `x` only; `x` and `y` both lead to `join`, which
/// runs when none failed. The skip of `y` (released with `check`'s choice)
/// and the clean release of `x` race on two workers, and `join`'s claim
/// must see both: it runs exactly once, after `x`, and `y` never runs.
#[test]
fn a_branch_skip_races_a_successor_release() {
    static RUNS: Runs = Runs::new();
    let graph = leak_graph(|b| {
        RUNS.task(b, "check", |ctx| {
            ctx.branch(["x"])?;
            Ok(0)
        });
        RUNS.task(b, "x", |_| Ok(1));
        RUNS.task(b, "y", |_| Ok(2));
        RUNS.task(b, "join", |ctx| Ok(ctx.inputs().map(|(_, v)| *v).sum()));
        edges(
            b,
            &[("check", "x"), ("check", "y"), ("x", "join"), ("y", "join")],
        );
        b.branching("check").expect("a task of the model");
        b.trigger_rule("join", kahn::TriggerRule::NoneFailed)
            .expect("a task of the model");
    });
    model(move || {
        RUNS.reset();
        let report = kahn::__loom::run(graph, &RunOptions::new(), THREADS, true);
        assert!(report.is_success(), "{report}");
        assert!(matches!(
            report.outcome("y"),
            Some(Outcome::BranchNotTaken { .. })
        ));
        assert_eq!(report.output("join"), Some(&1));
        assert_eq!(RUNS.count(report_task(&report, "y")), 0);
        assert_eq!(RUNS.count(report_task(&report, "join")), 1);
    });
}
