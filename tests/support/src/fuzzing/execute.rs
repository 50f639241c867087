//! The `execute` fuzz input and its check: a small DAG whose tasks succeed, fail, panic, dawdle or cancel the run, checked outcome by outcome against the run oracle.
//!
//! The fuzz target, the failure proptest and the stress test all check runs
//! here. The run oracle ([`crate::Oracle`], through [`ExecCase::oracle`])
//! says how each task ends when nothing stops the run: Skipped if any
//! ancestor fails or panics, else as its own body says. A run that is stopped (a task cancels
//! the token, a failure under fail-fast, a token cancelled or a deadline
//! passed before the start) has several right answers, depending on which
//! tasks had started when the stop landed; [`check_on`] then checks what must
//! hold in every interleaving:
//!
//! - a task ran at most once, and ran iff its outcome is Succeeded, Failed or
//!   Panicked, that outcome being what its body returned;
//! - a task that ran started after each predecessor's body ended, and every
//!   predecessor Succeeded; its inputs were exactly its predecessors'
//!   outputs, intact;
//! - a task is Skipped iff one of its ancestors Failed or Panicked in this
//!   run, and its `cause` is such an ancestor;
//! - every other task that did not run is Cancelled, which needs a stop;
//! - each task ends as the oracle says, or Cancelled;
//! - `stop_reason` is set iff something stopped the run, and names one of
//!   the things that did; on the worker that ran a stopping task, no task
//!   starts after it (on one thread: no task at all);
//! - the counts and the failure list agree with the outcomes.
//!
//! With no stop, these pin the report to the oracle exactly.

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use arbitrary::Arbitrary;
use kahn::{
    Arena, BoxError, CancelToken, Counts, Executor, InputError, Outcome, OwnedTaskRef, RunOptions,
    State, StopReason, TaskContext, TaskId, TaskLabel,
};
use kahn_bench::shapes::SplitMix64;

use super::ensure;
use crate::{executor, Oracle};

/// The most tasks a case builds; tasks past it are ignored.
pub const MAX_TASKS: usize = 256;

/// The message of a non-string panic payload, as kahn reports it.
const OPAQUE_PANIC: &str = "the task panicked with a value that is not a string";

/// What a task's body does.
#[derive(Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum Behavior {
    /// Returns its output.
    Ok,
    /// Returns an error.
    Fail,
    /// Panics with a formatted message.
    Panic,
    /// Panics with a payload that is not a string.
    PanicAny,
    /// Sleeps this many microseconds, then returns its output.
    Sleep(u8),
    /// Spins this many microseconds, then returns its output.
    Spin(u8),
    /// Cancels the run's token, then returns its output.
    Cancel,
}

impl Behavior {
    /// How the task ends if it runs.
    fn state(self) -> State {
        match self {
            Behavior::Fail => State::Failed,
            Behavior::Panic | Behavior::PanicAny => State::Panicked,
            Behavior::Ok | Behavior::Sleep(_) | Behavior::Spin(_) | Behavior::Cancel => {
                State::Succeeded
            }
        }
    }
}

impl fmt::Debug for Behavior {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Behavior::Ok => write!(f, "Behavior::Ok"),
            Behavior::Fail => write!(f, "Behavior::Fail"),
            Behavior::Panic => write!(f, "Behavior::Panic"),
            Behavior::PanicAny => write!(f, "Behavior::PanicAny"),
            Behavior::Sleep(us) => write!(f, "Behavior::Sleep({us})"),
            Behavior::Spin(us) => write!(f, "Behavior::Spin({us})"),
            Behavior::Cancel => write!(f, "Behavior::Cancel"),
        }
    }
}

/// What may stop the run from outside, set up before it starts.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Arbitrary)]
pub enum Watch {
    /// No token (unless a task cancels one), no deadline.
    Nothing,
    /// The token is cancelled before the run: nothing may start.
    CancelledBefore,
    /// A timeout of zero: nothing may start.
    ZeroTimeout,
    /// A timeout that never passes: an hour, or (when `order_seed` is odd)
    /// `Duration::MAX`, which overflows `Instant` and so sets no deadline.
    FarTimeout,
}

/// A DAG of at most [`MAX_TASKS`] tasks, what each does, and how it is run.
#[derive(Clone, Arbitrary)]
pub struct ExecCase {
    /// Run with `RunOptions::fail_fast()`.
    pub fail_fast: bool,
    /// What may stop the run from outside.
    pub watch: Watch,
    /// The parallel run uses `2 + threads % 3` workers (one run is always on one).
    pub threads: u8,
    /// Seeds the hidden topological order the edges are oriented by.
    pub order_seed: u64,
    /// Pairs of tasks, taken modulo the task count; self-pairs are dropped
    /// and the rest oriented along the hidden order (see [`ExecCase::dag_edges`]).
    pub edges: Vec<(u16, u16)>,
    /// One per task, by id.
    pub tasks: Vec<Behavior>,
}

impl fmt::Debug for ExecCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "let case = ExecCase {{ fail_fast: {}, watch: Watch::{:?}, threads: {}, \
             order_seed: {}, edges: vec!{:?}, tasks: vec!{:?} }};",
            self.fail_fast, self.watch, self.threads, self.order_seed, self.edges, self.tasks
        )
    }
}

impl ExecCase {
    /// The number of tasks built.
    pub fn task_count(&self) -> usize {
        self.tasks.len().min(MAX_TASKS)
    }

    /// The workers of the parallel run.
    pub fn threads(&self) -> usize {
        2 + usize::from(self.threads % 3)
    }

    /// The edges as built: each pair taken modulo the task count, pairs of one
    /// task dropped, the rest pointing from the task earlier in a hidden
    /// order (a shuffle seeded by `order_seed`) to the later one. So the graph
    /// is acyclic, yet ids are not a topological order.
    pub fn dag_edges(&self) -> Vec<(u32, u32)> {
        let n = self.task_count();
        if n == 0 {
            return Vec::new();
        }
        let mut rank: Vec<u32> = (0..n as u32).collect();
        let mut rng = SplitMix64(self.order_seed);
        for i in (1..n).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            rank.swap(i, j);
        }
        self.edges
            .iter()
            .map(|&(a, b)| (usize::from(a) % n, usize::from(b) % n))
            .filter(|(a, b)| a != b)
            .map(|(a, b)| {
                let (a, b) = (a as u32, b as u32);
                if rank[a as usize] < rank[b as usize] {
                    (a, b)
                } else {
                    (b, a)
                }
            })
            .collect()
    }

    /// The run oracle of this case: its graph, and each task's body.
    pub fn oracle(&self) -> Oracle {
        let n = self.task_count();
        Oracle::new(n, &self.dag_edges(), |v| self.tasks[v].state())
    }
}

/// Runs the case on one thread and on `case.threads()`, checking both, on
/// the shared executors.
pub fn check(case: &ExecCase) -> Result<(), String> {
    check_on(executor(1), case)?;
    check_on(executor(case.threads()), case)
}

/// What task `v` outputs: a heap value, so a torn or dropped output shows.
fn output(v: usize) -> String {
    format!("output of task {v}")
}

/// What each task saw while it ran, written by the task itself.
#[derive(Default)]
struct Probe {
    runs: AtomicU32,
    /// Ticks of the run's clock when the body started and ended (0: never).
    start: AtomicU32,
    end: AtomicU32,
    worker: AtomicUsize,
}

/// Builds the case's graph, runs it once on `exec`, and checks the report.
pub fn check_on(exec: &Executor, case: &ExecCase) -> Result<(), String> {
    check_against(exec, case, case)
}

/// Runs the tasks of `run` but checks the report against `case`, which must
/// have as many tasks; with `run == case` this is [`check_on`]. A test flips
/// one task in `case` to prove the check notices.
pub fn check_against(exec: &Executor, run: &ExecCase, case: &ExecCase) -> Result<(), String> {
    check_run(exec, run, case).map_err(|e| format!("{} threads: {e}", exec.threads()))
}

fn check_run(exec: &Executor, run: &ExecCase, case: &ExecCase) -> Result<(), String> {
    let n = case.task_count();
    ensure!(
        run.task_count() == n && run.dag_edges() == case.dag_edges(),
        "the run and the expectation have different graphs"
    );
    let oracle = case.oracle();
    let probes: Vec<Probe> = (0..n).map(|_| Probe::default()).collect();
    let clock = AtomicU32::new(1);
    let problems = Mutex::new(Vec::<String>::new());
    let token = CancelToken::new();
    let mut arena = Arena::new();
    let mut b = arena.builder::<String>();
    for v in 0..n {
        let body = task_body(
            v,
            run.tasks[v],
            oracle.predecessors(v),
            &probes,
            &clock,
            &problems,
            &token,
            n,
        );
        // Odd tasks have names, so lookups by name are exercised too.
        let added = if v % 2 == 1 {
            b.task(&format!("t{v}"), body)
        } else {
            b.unnamed_task(body)
        };
        ensure!(
            added == Ok(TaskId::new(v as u32)),
            "adding task {v}: {added:?}"
        );
    }
    let edges = case.dag_edges();
    b.edges(edges.iter().map(|&(u, v)| (TaskId::new(u), TaskId::new(v))))
        .map_err(|e| format!("edges of a DAG: {e}"))?;
    let graph = b.build().map_err(|e| format!("build of a DAG: {e}"))?;

    let cancels = run.tasks[..n].contains(&Behavior::Cancel);
    let mut options = RunOptions::new();
    if case.fail_fast {
        options = options.fail_fast();
    }
    if cancels || case.watch == Watch::CancelledBefore {
        options = options.cancel_token(token.clone());
    }
    match case.watch {
        Watch::Nothing => {}
        Watch::CancelledBefore => token.cancel(),
        Watch::ZeroTimeout => options = options.timeout(Duration::ZERO),
        Watch::FarTimeout if case.order_seed % 2 == 1 => options = options.timeout(Duration::MAX),
        Watch::FarTimeout => options = options.timeout(Duration::from_secs(3600)),
    }
    let report = exec.run_with(&graph, &options);
    let what = || format!("{report}");

    let problems = std::mem::take(&mut *problems.lock().unwrap_or_else(PoisonError::into_inner));
    ensure!(problems.is_empty(), "tasks saw: {problems:?}\n{}", what());
    ensure!(
        report.task_count() == n,
        "the report has {} tasks, not {n}",
        report.task_count()
    );

    let states: Vec<State> = (0..n)
        .map(|v| {
            report
                .state(TaskId::new(v as u32))
                .expect("an id of the graph")
        })
        .collect();
    let runs: Vec<u32> = probes
        .iter()
        .map(|p| p.runs.load(Ordering::SeqCst))
        .collect();
    let tick = |v: usize| {
        let p = &probes[v];
        (p.start.load(Ordering::SeqCst), p.end.load(Ordering::SeqCst))
    };
    let mut counts = Counts::default();
    let mut failed = Vec::new();
    for v in 0..n {
        let id = TaskId::new(v as u32);
        let behavior = case.tasks[v];
        let outcome = report.outcome(id).expect("an id of the graph");
        ensure!(runs[v] <= 1, "task {v} ran {} times\n{}", runs[v], what());
        let ran = runs[v] == 1;
        ensure!(
            outcome.state() == oracle.states()[v] || outcome.state() == State::Cancelled,
            "task {v} ({behavior:?}) {}, the oracle says {} (or cancelled)\n{}",
            outcome.state(),
            oracle.states()[v],
            what()
        );
        if v % 2 == 1 {
            let by_name = report.state(format!("t{v}").as_str());
            ensure!(by_name == Some(states[v]), "task t{v} by name: {by_name:?}");
        }
        match outcome {
            Outcome::Succeeded(out) => {
                ensure!(*out == output(v), "task {v} output {out:?}");
                counts.succeeded += 1;
            }
            Outcome::Failed(error) => {
                let message = error.to_string();
                ensure!(
                    message == format!("task {v} failed on purpose"),
                    "task {v} failed with {message:?}"
                );
                counts.failed += 1;
                failed.push(id);
            }
            Outcome::Panicked(message) => {
                let want = match behavior {
                    Behavior::PanicAny => OPAQUE_PANIC.to_owned(),
                    _ => format!("task {v} panicked on purpose"),
                };
                ensure!(message == want, "task {v} panicked with {message:?}");
                counts.panicked += 1;
                failed.push(id);
            }
            Outcome::Skipped { cause } => {
                let c = cause.index();
                ensure!(
                    oracle.is_ancestor(c, v),
                    "task {v} skipped for {cause:?}, not one of its ancestors\n{}",
                    what()
                );
                ensure!(
                    matches!(states[c], State::Failed | State::Panicked),
                    "task {v} skipped for {cause:?}, which {}\n{}",
                    states[c],
                    what()
                );
                counts.skipped += 1;
            }
            Outcome::Cancelled => counts.cancelled += 1,
            other => return Err(format!("task {v} ended in an unknown way: {other:?}")),
        }
        let started = matches!(
            outcome.state(),
            State::Succeeded | State::Failed | State::Panicked
        );
        ensure!(
            ran == started,
            "task {v} is {} but its body ran {} times\n{}",
            outcome.state(),
            runs[v],
            what()
        );
        ensure!(
            !ran || outcome.state() == behavior.state(),
            "task {v} ({behavior:?}) ran and ended {}",
            outcome.state()
        );
        if ran {
            let (start, _) = tick(v);
            for &p in oracle.predecessors(v) {
                let (_, end) = tick(p as usize);
                ensure!(
                    states[p as usize] == State::Succeeded && end != 0 && end < start,
                    "task {v} started at tick {start}, its predecessor {p} is {} and ended at tick {end}\n{}",
                    states[p as usize],
                    what()
                );
            }
        }
        let doomed = oracle.is_doomed(v, &states);
        ensure!(
            doomed == (outcome.state() == State::Skipped),
            "task {v} is {}, yet {} of its ancestors failed\n{}",
            outcome.state(),
            if doomed { "one" } else { "none" },
            what()
        );
        if ran {
            let worker = probes[v].worker.load(Ordering::SeqCst);
            ensure!(
                worker < exec.threads(),
                "task {v} ran on worker {worker} of {}",
                exec.threads()
            );
        }
    }
    ensure!(
        report.counts() == counts,
        "counts {:?}, the outcomes add up to {counts:?}",
        report.counts()
    );
    let listed: Vec<TaskId> = report.failures().map(|t| t.id).collect();
    ensure!(
        listed == failed,
        "failures() lists {listed:?}, expected {failed:?}"
    );
    ensure!(
        report.is_success() == (counts.succeeded == n),
        "is_success() is {} with {counts:?}",
        report.is_success()
    );

    // What stopped the run, and who.
    let cancelled_by: Vec<usize> = (0..n)
        .filter(|&v| runs[v] == 1 && case.tasks[v] == Behavior::Cancel)
        .collect();
    let failed_fast: Vec<usize> = if case.fail_fast {
        failed.iter().map(|id| id.index()).collect()
    } else {
        Vec::new()
    };
    let mut reasons = Vec::new();
    if n > 0 {
        match case.watch {
            Watch::CancelledBefore => reasons.push(StopReason::Cancelled),
            Watch::ZeroTimeout => reasons.push(StopReason::DeadlineExceeded),
            Watch::Nothing | Watch::FarTimeout => {}
        }
    }
    if !cancelled_by.is_empty() {
        reasons.push(StopReason::Cancelled);
    }
    if !failed_fast.is_empty() {
        reasons.push(StopReason::FailFast);
    }
    match report.stop_reason() {
        None => {
            ensure!(
                reasons.is_empty(),
                "no stop reason, yet {reasons:?} happened\n{}",
                what()
            );
            ensure!(
                states == oracle.states(),
                "nothing stopped the run, yet it differs from the oracle {:?}\n{}",
                oracle.states(),
                what()
            );
        }
        Some(reason) => ensure!(
            reasons.contains(&reason),
            "stop reason {reason:?}, but only {reasons:?} happened\n{}",
            what()
        ),
    }
    if matches!(case.watch, Watch::CancelledBefore | Watch::ZeroTimeout) {
        ensure!(
            counts.cancelled == n,
            "the run was stopped before it began, yet {counts:?}"
        );
    }
    for &s in cancelled_by.iter().chain(&failed_fast) {
        let (_, stopped) = tick(s);
        let worker = probes[s].worker.load(Ordering::SeqCst);
        for v in (0..n).filter(|&v| runs[v] == 1) {
            let (start, _) = tick(v);
            ensure!(
                probes[v].worker.load(Ordering::SeqCst) != worker || start < stopped,
                "task {v} started on worker {worker} after task {s} stopped the run there\n{}",
                what()
            );
        }
    }
    Ok(())
}

/// The body of task `v`: records that it ran and when, checks its inputs,
/// then does what `behavior` says.
#[allow(clippy::too_many_arguments)]
fn task_body<'s>(
    v: usize,
    behavior: Behavior,
    preds: &'s [u32],
    probes: &'s [Probe],
    clock: &'s AtomicU32,
    problems: &'s Mutex<Vec<String>>,
    token: &'s CancelToken,
    n: usize,
) -> impl Fn(&TaskContext<'_, String>) -> Result<String, BoxError> + Send + Sync + 's {
    move |ctx| {
        let probe = &probes[v];
        probe.runs.fetch_add(1, Ordering::SeqCst);
        probe.worker.store(ctx.worker_index(), Ordering::SeqCst);
        probe
            .start
            .store(clock.fetch_add(1, Ordering::SeqCst), Ordering::SeqCst);
        if let Err(problem) = check_inputs(ctx, v, preds, n) {
            problems
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(format!("task {v}: {problem}"));
        }
        let end = || {
            probe
                .end
                .store(clock.fetch_add(1, Ordering::SeqCst), Ordering::SeqCst);
        };
        match behavior {
            Behavior::Ok => {}
            Behavior::Fail => {
                end();
                return Err(format!("task {v} failed on purpose").into());
            }
            Behavior::Panic => {
                end();
                crate::intend_panic();
                panic!("task {v} panicked on purpose");
            }
            Behavior::PanicAny => {
                end();
                crate::intend_panic();
                std::panic::panic_any(v);
            }
            Behavior::Sleep(us) => std::thread::sleep(Duration::from_micros(u64::from(us))),
            Behavior::Spin(us) => crate::spin_for(Duration::from_micros(u64::from(us))),
            Behavior::Cancel => {
                token.cancel();
                if !ctx.is_cancelled() {
                    problems
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(format!(
                            "task {v}: cancelled the token but is_cancelled() is false"
                        ));
                }
            }
        }
        end();
        Ok(output(v))
    }
}

/// What a task sees of its inputs: exactly its predecessors' outputs, and a
/// typed error for anything else it asks for.
fn check_inputs(
    ctx: &TaskContext<'_, String>,
    v: usize,
    preds: &[u32],
    n: usize,
) -> Result<(), String> {
    let me = TaskId::new(v as u32);
    ensure!(ctx.id() == me, "ctx.id() is {:?}", ctx.id());
    let name = (v % 2 == 1).then(|| format!("t{v}"));
    ensure!(
        ctx.name() == name.as_deref(),
        "ctx.name() is {:?}",
        ctx.name()
    );
    ensure!(
        ctx.input_count() == preds.len(),
        "input_count() is {}",
        ctx.input_count()
    );
    let inputs: Vec<(u32, &String)> = ctx
        .inputs()
        .map(|(id, out)| (id.index() as u32, out))
        .collect();
    let ids: Vec<u32> = inputs.iter().map(|&(id, _)| id).collect();
    ensure!(
        ids == preds,
        "inputs() came from {ids:?}, expected {preds:?}"
    );
    for &(p, out) in &inputs {
        ensure!(*out == output(p as usize), "the input from {p} is {out:?}");
        let by_ref = if p % 2 == 1 {
            ctx.input(format!("t{p}").as_str())
        } else {
            ctx.input(TaskId::new(p))
        };
        ensure!(by_ref == Ok(out), "input({p}) is {by_ref:?}");
    }
    let label = TaskLabel::new(me, name.as_deref());
    let own = ctx.input(me);
    ensure!(
        own == Err(InputError::OwnOutput {
            task: label.clone()
        }),
        "input(own id) is {own:?}"
    );
    let beyond = ctx.input(TaskId::new(n as u32));
    ensure!(
        beyond
            == Err(InputError::UnknownTask {
                asker: label.clone(),
                missing: OwnedTaskRef::Id(TaskId::new(n as u32)),
            }),
        "input(id past the last) is {beyond:?}"
    );
    if let Some(other) =
        (0..n as u32).find(|&u| u as usize != v && preds.binary_search(&u).is_err())
    {
        let got = ctx.input(TaskId::new(other));
        let other_name = format!("t{other}");
        let other_label = TaskLabel::new(
            TaskId::new(other),
            (other % 2 == 1).then_some(other_name.as_str()),
        );
        ensure!(
            got == Err(InputError::NotAPredecessor {
                asker: label,
                task: other_label,
            }),
            "input({other}), not a predecessor, is {got:?}"
        );
    }
    Ok(())
}
