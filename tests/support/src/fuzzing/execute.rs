//! The `execute` fuzz input and its check: a small DAG whose tasks succeed, fail, panic, dawdle, cancel the run or hold resources, run up to three times at once, checked outcome by outcome against the run oracle.
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
//!
//! # Resources and concurrent runs
//!
//! A case may also declare up to [`MAX_RESOURCES`] resources (capacity 1 to
//! 3) and which tasks use how many units of each, and ask for up to
//! [`MAX_RUNS`] runs started at once, from separate threads (in a
//! `std::thread::scope`, released together by a barrier), on one executor.
//! Each run runs a graph of its own, built from the same case in an arena of
//! its own: the same tasks, edges and uses, but bodies that write to that
//! run's probes, so every check above holds per run. (A body cannot tell
//! which run called it, so one `Graph` run from several threads at once
//! could not be checked task by task; `tests/all/execution.rs` checks that
//! case by the outputs alone.) The resources are shared: one set per check,
//! declared by every run's graph, so the runs contend for them.
//!
//! Each run has its own [`RunSpec`] (fail-fast or not, what may stop it from
//! outside) and its own `CancelToken`: a task that cancels stops its own run
//! only, so a stop, and the Cancelled tasks it allows, is judged per run as
//! above. A task of a stopped run that was waiting for a resource is
//! Cancelled, which those rules already allow; in a run nothing stops, every
//! task waiting for a resource must get it and end as the oracle says.
//!
//! On top of that, every task body adds the units it holds of each resource
//! to a gauge shared by all runs when it starts, and takes them off when it
//! ends (or unwinds); the check fails if a gauge ever exceeds its resource's
//! capacity, or if, after every run, a resource has units in use or tasks
//! waiting. The builder is checked too: a use that would take a task past
//! the capacity is refused with `BuildError::ResourceUnits`, and only that.
//!
//! A run that never ends is beyond a check that waits for it. One kind is
//! caught: runs with resources start on threads of their own while the
//! calling thread watches the resources, and a resource that has tasks
//! waiting and no unit in use for [`STRANDED`] (10 s) aborts the process
//! with the case, since no release will ever wake those tasks. Other hangs
//! are left to the fuzzer's `-timeout` and the stress test's watchdog.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Barrier, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use kahn::{
    Arena, BoxError, BuildError, CancelToken, Counts, Executor, Graph, InputError, Outcome,
    OwnedTaskRef, Report, Resource, RetryPolicy, RunOptions, State, StopReason, TaskContext,
    TaskId, TaskLabel, TriggerRule,
};
use kahn_bench::shapes::SplitMix64;

use super::ensure;
use crate::{executor, Oracle};

/// The most tasks a case builds; tasks past it are ignored.
pub const MAX_TASKS: usize = 256;

/// The most resources a case creates; capacities past it are ignored.
pub const MAX_RESOURCES: usize = 3;

/// The most runs a case starts at once; run specs past it are ignored.
pub const MAX_RUNS: usize = 3;

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

/// What a task is given besides its behavior, to stop itself or its run.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Arbitrary)]
pub enum TaskStop {
    /// A timeout of zero: the task, if it runs, is timed out, whatever its
    /// behavior returns.
    ZeroTimeout,
    /// A timeout of an hour, never reached: the task ends as its behavior says.
    FarTimeout,
    /// The task calls `ctx.cancel_run()` before its behavior.
    CancelRun,
    /// The task has trigger rule number `r % 4`, in the order
    /// `TriggerRule` lists them (see [`ExecCase::rule_of`]).
    Rule(u8),
    /// The task branches: before its behavior it chooses the successors
    /// whose place among its successors (in id order, modulo 8) is a set
    /// bit of the mask (see [`ExecCase::chosen_by`]).
    Branch(u8),
    /// The task has a retry policy of `1 + r % 4` attempts, with no delay
    /// or (if `r / 16` is odd) 100 µs, and fails its first `(r / 4) % 4`
    /// attempts before its behavior (see [`ExecCase::retry_of`]).
    Retry(u8),
}

/// A task's retry policy in a case, and how many attempts it fails first.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CaseRetry {
    /// Attempts in all, 1 to 4.
    pub attempts: u32,
    /// Attempts that fail before the task's behavior runs, 0 to 3.
    pub fail_first: u32,
    /// The delay between attempts.
    pub delay: Duration,
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

/// How one run of a case is started: its failure policy, and what may stop
/// it from outside. Each run has a token of its own.
#[derive(Clone, Copy, PartialEq, Eq, Arbitrary)]
pub struct RunSpec {
    /// Run with `RunOptions::fail_fast()`.
    pub fail_fast: bool,
    /// What may stop the run from outside.
    pub watch: Watch,
}

impl fmt::Debug for RunSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RunSpec {{ fail_fast: {}, watch: Watch::{:?} }}",
            self.fail_fast, self.watch
        )
    }
}

/// A DAG of at most [`MAX_TASKS`] tasks, what each does, which resources
/// each uses, and how many runs of it start at once, each how.
///
/// The fields that came with resources and concurrent runs are the last
/// three, after `tasks`: `arbitrary` decodes a `Vec` field by a continuation
/// byte per element whether or not it is the last, so an input made before
/// them decodes to the same case, with no resources and one run.
#[derive(Clone, Arbitrary)]
pub struct ExecCase {
    /// The first run uses `RunOptions::fail_fast()`.
    pub fail_fast: bool,
    /// What may stop the first run from outside.
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
    /// One resource each, of capacity `1 + c % 3`, shared by every run;
    /// only the first [`MAX_RESOURCES`] count.
    pub resources: Vec<u8>,
    /// `(task, resource, units)`: task `task % n` declares `1 + units %
    /// capacity` units of resource `resource % r` (ignored if there is no
    /// task or no resource); see [`ExecCase::declared_uses`].
    pub uses: Vec<(u8, u8, u8)>,
    /// The runs started at the same time as the first (which `fail_fast`
    /// and `watch` describe), each of a graph of its own built from this
    /// case; only the first [`MAX_RUNS`] − 1 count.
    pub more_runs: Vec<RunSpec>,
    /// `(task, stop)`: task `task % n` gets a timeout or cancels its run
    /// (see [`ExecCase::timeout_of`], [`ExecCase::cancels_run`]). Last, so
    /// that inputs made before it decode as they did.
    pub stops: Vec<(u8, TaskStop)>,
    /// Bit 0: every run releases outputs early
    /// ([`RunOptions::release_outputs`]); bit 1: a task takes the inputs
    /// it is the only reader of (see [`ExecCase::takes`]); bits 2 and 3:
    /// every run's worker limit (see [`ExecCase::worker_limit`]). Last, so
    /// that inputs made before it decode as they did (with 0).
    pub data: u8,
}

/// One `uses_units` call of a case, as [`ExecCase::declared_uses`] says.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DeclaredUse {
    /// The task, by id.
    pub task: usize,
    /// The resource, by index.
    pub resource: usize,
    /// The units asked for in this call.
    pub units: u32,
    /// The task's units of the resource with this call's: the builder
    /// refuses the call iff this exceeds the capacity.
    pub total: u32,
}

impl fmt::Debug for ExecCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "let case = ExecCase {{ fail_fast: {}, watch: Watch::{:?}, threads: {}, \
             order_seed: {}, edges: vec!{:?}, tasks: vec!{:?}, resources: vec!{:?}, \
             uses: vec!{:?}, more_runs: vec!{:?}, stops: vec!{:?}, data: {} }};",
            self.fail_fast,
            self.watch,
            self.threads,
            self.order_seed,
            self.edges,
            self.tasks,
            self.resources,
            self.uses,
            self.more_runs,
            self.stops,
            self.data
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

    /// The run oracle of this case: its graph, how each task ends, its
    /// trigger rules and branches. Resources change no outcome, only when
    /// tasks may start.
    pub fn oracle(&self) -> Oracle {
        let n = self.task_count();
        Oracle::with_triggers(
            n,
            &self.dag_edges(),
            |v| self.ends(v),
            |v| self.rule_of(v),
            |v| self.chosen_by(v),
        )
    }

    /// Task `v`'s trigger rule: the last `Rule` of `stops` for it.
    pub fn rule_of(&self, v: usize) -> TriggerRule {
        const RULES: [TriggerRule; 4] = [
            TriggerRule::AllSucceeded,
            TriggerRule::AllDone,
            TriggerRule::OneFailed,
            TriggerRule::NoneFailed,
        ];
        self.stops_of(v)
            .filter_map(|stop| match stop {
                TaskStop::Rule(r) => Some(RULES[usize::from(r) % 4]),
                _ => None,
            })
            .last()
            .unwrap_or_default()
    }

    /// The successors task `v` chooses, by id, if it branches (the last
    /// `Branch` of `stops` for it): those whose place among its successors
    /// in id order, modulo 8, is a set bit of the mask.
    pub fn chosen_by(&self, v: usize) -> Option<Vec<u32>> {
        let mask = self
            .stops_of(v)
            .filter_map(|stop| match stop {
                TaskStop::Branch(mask) => Some(mask),
                _ => None,
            })
            .last()?;
        let mut successors: Vec<u32> = self
            .dag_edges()
            .into_iter()
            .filter(|&(u, _)| u as usize == v)
            .map(|(_, w)| w)
            .collect();
        successors.sort_unstable();
        successors.dedup();
        Some(
            successors
                .into_iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << (i % 8)) != 0)
                .map(|(_, w)| w)
                .collect(),
        )
    }

    /// Task `v`'s retry policy, if it has one: the last `Retry` of `stops`.
    pub fn retry_of(&self, v: usize) -> Option<CaseRetry> {
        self.stops_of(v)
            .filter_map(|stop| match stop {
                TaskStop::Retry(r) => Some(CaseRetry {
                    attempts: 1 + u32::from(r % 4),
                    fail_first: u32::from((r / 4) % 4),
                    delay: Duration::from_micros(if (r / 16) % 2 == 1 { 100 } else { 0 }),
                }),
                _ => None,
            })
            .last()
    }

    /// How many times task `v`'s body runs, if it runs and nothing stops
    /// the run: each attempt its retry policy allows until one does not
    /// fail, or fails with what the policy does not retry (a panic).
    pub fn attempts_of(&self, v: usize) -> u32 {
        let Some(retry) = self.retry_of(v) else {
            return 1;
        };
        let always_fails = self.timeout_of(v) == Some(Duration::ZERO)
            || retry.fail_first >= retry.attempts
            || self.tasks[v] == Behavior::Fail;
        if always_fails {
            retry.attempts
        } else {
            retry.fail_first + 1
        }
    }

    /// Whether no task has a trigger rule or branches: then a task is
    /// skipped exactly when a failure upstream reached it.
    pub fn is_plain(&self) -> bool {
        !self
            .stops
            .iter()
            .any(|(_, stop)| matches!(stop, TaskStop::Rule(_) | TaskStop::Branch(_)))
    }

    /// How task `v` ends if it runs: timed out if its timeout is zero;
    /// failed if it fails every attempt its retry policy allows; else as its
    /// behavior says.
    pub fn ends(&self, v: usize) -> State {
        match (self.timeout_of(v), self.retry_of(v)) {
            (Some(Duration::ZERO), _) => State::TimedOut,
            (_, Some(retry)) if retry.fail_first >= retry.attempts => State::Failed,
            _ => self.tasks[v].state(),
        }
    }

    /// The timeout of task `v`: the last `ZeroTimeout` or `FarTimeout` of
    /// `stops` for it.
    pub fn timeout_of(&self, v: usize) -> Option<Duration> {
        self.stops_of(v)
            .filter_map(|stop| match stop {
                TaskStop::ZeroTimeout => Some(Duration::ZERO),
                TaskStop::FarTimeout => Some(Duration::from_secs(3600)),
                _ => None,
            })
            .last()
    }

    /// Whether task `v` cancels its run.
    pub fn cancels_run(&self, v: usize) -> bool {
        self.stops_of(v).any(|stop| stop == TaskStop::CancelRun)
    }

    fn stops_of(&self, v: usize) -> impl Iterator<Item = TaskStop> + '_ {
        let n = self.task_count();
        self.stops
            .iter()
            .filter(move |&&(task, _)| n > 0 && usize::from(task) % n == v)
            .map(|&(_, stop)| stop)
    }

    /// The capacities of the resources, 1 to 3 each.
    pub fn capacities(&self) -> Vec<u32> {
        self.resources
            .iter()
            .take(MAX_RESOURCES)
            .map(|&c| 1 + u32::from(c) % 3)
            .collect()
    }

    /// The `uses_units` calls, in order: each `(task, resource, units)`
    /// taken modulo the task count and the resource count, its units made
    /// 1 to the capacity. Calls for the same task and resource add up, so
    /// `total` may exceed the capacity; the builder refuses such a call and
    /// leaves the task's total as it was.
    pub fn declared_uses(&self) -> Vec<DeclaredUse> {
        let (n, capacities) = (self.task_count(), self.capacities());
        if n == 0 || capacities.is_empty() {
            return Vec::new();
        }
        let mut held = vec![0u32; n * capacities.len()];
        self.uses
            .iter()
            .map(|&(task, resource, units)| {
                let (task, resource) = (
                    usize::from(task) % n,
                    usize::from(resource) % capacities.len(),
                );
                let capacity = capacities[resource];
                let units = 1 + u32::from(units) % capacity;
                let slot = &mut held[task * capacities.len() + resource];
                let total = *slot + units;
                if total <= capacity {
                    *slot = total;
                }
                DeclaredUse {
                    task,
                    resource,
                    units,
                    total,
                }
            })
            .collect()
    }

    /// What each task holds while it runs, by id: `(resource, units)` for
    /// every resource it uses, by resource index.
    pub fn holdings(&self) -> Vec<Vec<(usize, u32)>> {
        let (n, capacities) = (self.task_count(), self.capacities());
        let r = capacities.len();
        let mut units = vec![0u32; n * r];
        for d in self.declared_uses() {
            if d.total <= capacities[d.resource] {
                units[d.task * r + d.resource] = d.total;
            }
        }
        (0..n)
            .map(|v| {
                (0..r)
                    .filter(|&i| units[v * r + i] > 0)
                    .map(|i| (i, units[v * r + i]))
                    .collect()
            })
            .collect()
    }

    /// Whether every run releases outputs early.
    pub fn releases(&self) -> bool {
        self.data & 1 != 0
    }

    /// The worker limit every run has ([`RunOptions::max_workers`]), from
    /// bits 2 and 3 of `data`: none for 0, else 1 to 3.
    pub fn worker_limit(&self) -> Option<usize> {
        match (self.data >> 2) & 3 {
            0 => None,
            limit => Some(usize::from(limit)),
        }
    }

    /// How many workers a run of this case may have on `exec`.
    pub fn workers_on(&self, exec: &Executor) -> usize {
        self.worker_limit()
            .map_or(exec.threads(), |limit| limit.min(exec.threads()))
    }

    /// The predecessors task `v` takes its input from (with `take_input`)
    /// rather than reads: with bit 1 of `data`, each predecessor whose only
    /// successor is `v`, unless `v` has a retry policy (a retried attempt
    /// would find the input gone).
    pub fn takes(&self, v: usize) -> Vec<u32> {
        if self.data & 2 == 0 || self.retry_of(v).is_some() {
            return Vec::new();
        }
        let edges = self.dag_edges();
        let mut preds: Vec<u32> = edges
            .iter()
            .filter(|&&(_, b)| b as usize == v)
            .map(|&(a, _)| a)
            .collect();
        preds.sort_unstable();
        preds.dedup();
        preds.retain(|&p| edges.iter().all(|&(a, b)| a != p || b as usize == v));
        preds
    }

    /// Whether task `v`'s output may be gone from a report
    /// ([`Outcome::Consumed`]): it has a reader, and the run releases
    /// outputs or its one reader takes it.
    pub fn may_consume(&self, v: usize) -> bool {
        let edges = self.dag_edges();
        let readers: Vec<u32> = edges
            .iter()
            .filter(|&&(a, _)| a as usize == v)
            .map(|&(_, b)| b)
            .collect();
        !readers.is_empty()
            && (self.releases() || self.takes(readers[0] as usize).contains(&(v as u32)))
    }

    /// How each run is started: the first as `fail_fast` and `watch` say,
    /// then up to [`MAX_RUNS`] − 1 of `more_runs`.
    pub fn runs(&self) -> Vec<RunSpec> {
        let first = RunSpec {
            fail_fast: self.fail_fast,
            watch: self.watch,
        };
        std::iter::once(first)
            .chain(self.more_runs.iter().copied())
            .take(MAX_RUNS)
            .collect()
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

/// One run's record: what its tasks saw, and its token.
struct RunLog {
    probes: Vec<Probe>,
    clock: AtomicU32,
    problems: Mutex<Vec<String>>,
    token: CancelToken,
}

impl RunLog {
    fn new(n: usize) -> RunLog {
        RunLog {
            probes: (0..n).map(|_| Probe::default()).collect(),
            clock: AtomicU32::new(1),
            problems: Mutex::new(Vec::new()),
            token: CancelToken::new(),
        }
    }

    fn report_problem(&self, problem: String) {
        self.problems
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(problem);
    }
}

/// The units of one resource that running task bodies hold, across every
/// run of a check, and the most they ever held at once.
#[derive(Default)]
struct Gauge {
    now: AtomicU32,
    most: AtomicU32,
}

/// A task body's units, taken off their gauges when the body ends or
/// unwinds.
struct Held<'s> {
    gauges: &'s [Gauge],
    holding: &'s [(usize, u32)],
}

impl<'s> Held<'s> {
    fn take(gauges: &'s [Gauge], holding: &'s [(usize, u32)]) -> Held<'s> {
        for &(r, units) in holding {
            let now = gauges[r].now.fetch_add(units, Ordering::SeqCst) + units;
            gauges[r].most.fetch_max(now, Ordering::SeqCst);
        }
        Held { gauges, holding }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        for &(r, units) in self.holding {
            self.gauges[r].now.fetch_sub(units, Ordering::SeqCst);
        }
    }
}

/// Builds the case's graph, runs it on `exec` (as many times at once as the
/// case says), and checks every report.
pub fn check_on(exec: &Executor, case: &ExecCase) -> Result<(), String> {
    check_against(exec, case, case)
}

/// Runs the tasks of `run`, with the resource uses `run` declares, but
/// checks the reports against `case`, which must have the same graph; the
/// resources, the runs and how each is started are `case`'s. With
/// `run == case` this is [`check_on`]. Tests flip one task in `case`, or
/// leave the uses out of `run`, to prove the check notices.
pub fn check_against(exec: &Executor, run: &ExecCase, case: &ExecCase) -> Result<(), String> {
    check_runs(exec, run, case).map_err(|e| format!("{} threads: {e}", exec.threads()))
}

fn check_runs(exec: &Executor, run: &ExecCase, case: &ExecCase) -> Result<(), String> {
    let n = case.task_count();
    ensure!(
        run.task_count() == n && run.dag_edges() == case.dag_edges(),
        "the run and the expectation have different graphs"
    );
    let oracle = case.oracle();
    let capacities = case.capacities();
    let resources: Vec<Resource> = capacities
        .iter()
        .enumerate()
        .map(|(i, &capacity)| Resource::new(format!("r{i}"), capacity))
        .collect();
    let gauges: Vec<Gauge> = resources.iter().map(|_| Gauge::default()).collect();
    let holdings = case.holdings();
    let specs = case.runs();
    let logs: Vec<RunLog> = specs.iter().map(|_| RunLog::new(n)).collect();
    let mut arenas: Vec<Arena> = specs.iter().map(|_| Arena::new()).collect();
    let mut graphs = Vec::with_capacity(specs.len());
    for (arena, log) in arenas.iter_mut().zip(&logs) {
        let parts = Parts {
            run,
            oracle: &oracle,
            log,
            resources: &resources,
            gauges: &gauges,
            holdings: &holdings,
        };
        graphs.push(build(arena, parts)?);
    }
    let options: Vec<RunOptions> = specs
        .iter()
        .zip(&logs)
        .map(|(&spec, log)| run_options(run, case, spec, log))
        .collect();

    let mut reports: Vec<Report<'_, String>> = if graphs.len() == 1 && resources.is_empty() {
        vec![exec.run_with(&graphs[0], &options[0])]
    } else {
        // Separate threads, released together, so the runs overlap; this
        // one watches the resources while they run.
        let start = Barrier::new(graphs.len());
        let (ended, ends) = mpsc::channel();
        std::thread::scope(|scope| {
            let started: Vec<_> = graphs
                .iter()
                .zip(&options)
                .map(|(graph, options)| {
                    let (start, ended) = (&start, ended.clone());
                    scope.spawn(move || {
                        start.wait();
                        let report = exec.run_with(graph, options);
                        let _ = ended.send(());
                        report
                    })
                })
                .collect();
            drop(ended);
            watch_for_stranded_waiters(&ends, graphs.len(), &resources, case);
            started
                .into_iter()
                .map(|run| run.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    };

    let k = specs.len();
    for (i, ((report, log), &spec)) in reports.iter().zip(&logs).zip(&specs).enumerate() {
        check_report(exec, case, spec, &oracle, log, report).map_err(|e| {
            if k == 1 {
                e
            } else {
                format!("run {} of {k} at once: {e}", i + 1)
            }
        })?;
    }
    // One run with no token to cancel: resume it, and check the resume.
    let cancels_token = case.tasks[..n].contains(&Behavior::Cancel);
    if reports.len() == 1 && !cancels_token && !logs[0].token.is_cancelled() {
        let report = reports.pop().expect("one report");
        check_resume(exec, case, &oracle, &logs[0], &graphs[0], report)
            .map_err(|e| format!("on resume: {e}"))?;
    }
    for (i, ((resource, gauge), &capacity)) in
        resources.iter().zip(&gauges).zip(&capacities).enumerate()
    {
        let most = gauge.most.load(Ordering::SeqCst);
        ensure!(
            most <= capacity,
            "resource r{i} (capacity {capacity}) had {most} units held at once by running tasks, over {k} runs"
        );
        ensure!(
            resource.in_use() == 0 && resource.waiting() == 0,
            "after every run, resource r{i} has {} units in use and {} tasks waiting",
            resource.in_use(),
            resource.waiting()
        );
    }
    Ok(())
}

/// Resumes the run `earlier` reports and checks the resume: exactly the
/// tasks that succeeded with nothing above them that did not are carried
/// over (their bodies do not run again, their outputs are intact), and,
/// if nothing stops the resumed run, every task ends as the oracle says,
/// each rerun task running as many times as a full run would.
fn check_resume(
    exec: &Executor,
    case: &ExecCase,
    oracle: &Oracle,
    log: &RunLog,
    graph: &Graph<'_, String>,
    earlier: Report<'_, String>,
) -> Result<(), String> {
    let n = case.task_count();
    let before: Vec<u32> = log
        .probes
        .iter()
        .map(|p| p.runs.load(Ordering::SeqCst))
        .collect();
    let mut again: Vec<bool> = (0..n)
        .map(|v| earlier.state(TaskId::new(v as u32)) != Some(State::Succeeded))
        .collect();
    // Consumed outputs (taken, released): a task that succeeded without
    // its output in the report runs again if a task that runs again reads
    // it, unless it is a branch that passed that task over.
    let consumed: Vec<bool> = (0..n)
        .map(|v| {
            let id = TaskId::new(v as u32);
            !again[v] && matches!(earlier.outcome(id), Some(Outcome::Consumed))
        })
        .collect();
    let edges = case.dag_edges();
    let mut todo: Vec<usize> = (0..n).filter(|&v| again[v]).collect();
    while let Some(v) = todo.pop() {
        for &(a, b) in &edges {
            if a as usize == v && !again[b as usize] {
                again[b as usize] = true;
                todo.push(b as usize);
            }
            let passed_over = case.rule_of(v) == TriggerRule::AllSucceeded
                && case
                    .chosen_by(a as usize)
                    .is_some_and(|chosen| !chosen.contains(&(v as u32)));
            if b as usize == v && consumed[a as usize] && !again[a as usize] && !passed_over {
                again[a as usize] = true;
                todo.push(a as usize);
            }
        }
    }
    let resumed = exec
        .resume(graph, earlier)
        .map_err(|e| format!("the resume was refused: {e}"))?;
    let what = || format!("{resumed}");
    let problems =
        std::mem::take(&mut *log.problems.lock().unwrap_or_else(PoisonError::into_inner));
    ensure!(problems.is_empty(), "tasks saw: {problems:?}\n{}", what());
    let carried = (0..n).filter(|&v| !again[v]).count();
    ensure!(
        resumed.counts().carried_over == carried,
        "{} tasks carried over, expected {carried}\n{}",
        resumed.counts().carried_over,
        what()
    );
    let stopped = resumed.stop_reason().is_some();
    for v in 0..n {
        let id = TaskId::new(v as u32);
        let ran = log.probes[v].runs.load(Ordering::SeqCst) - before[v];
        ensure!(
            resumed.carried_over(id) != again[v],
            "task {v} carried over: {}, expected {}\n{}",
            resumed.carried_over(id),
            !again[v],
            what()
        );
        if !again[v] {
            // Carried with its output, or without it (consumed before, or
            // taken now by a reader that ran again).
            let intact = resumed.output(id) == Some(&output(v))
                || (case.may_consume(v) && matches!(resumed.outcome(id), Some(Outcome::Consumed)));
            ensure!(
                ran == 0 && intact,
                "carried task {v} ran {ran} times, output {:?} (consumed before: {})\n{}",
                resumed.output(id),
                consumed[v],
                what()
            );
            continue;
        }
        if stopped {
            continue;
        }
        let state = resumed.state(id).expect("an id of the graph");
        ensure!(
            state == oracle.states()[v],
            "task {v} {state} on resume, the oracle says {}\n{}",
            oracle.states()[v],
            what()
        );
        let want = if oracle.runs(v) {
            case.attempts_of(v)
        } else {
            0
        };
        ensure!(
            ran == want,
            "task {v} ran {ran} times on resume, not {want}\n{}",
            what()
        );
        ensure!(
            state != State::Skipped
                || oracle.skipped_by_choice(v)
                    != matches!(resumed.outcome(id), Some(Outcome::Skipped { .. })),
            "task {v} skipped for the wrong kind of reason on resume\n{}",
            what()
        );
    }
    Ok(())
}

/// How long a resource may have tasks waiting and no unit in use, while
/// runs are still going, before the check calls them stranded.
pub const STRANDED: Duration = Duration::from_secs(10);

/// Waits until `runs` runs have sent on `ends`, and aborts the process if
/// meanwhile a resource has tasks waiting and no unit in use for
/// [`STRANDED`]: such a waiter fits, but only a release wakes waiters, and
/// none will come, so its run can never end and the check could only hang.
/// (The state passes in a moment when a released unit is promised to a
/// woken waiter that has not taken it yet.) The abort names the resource and
/// prints the case; the fuzzer keeps the input as a crash, and a hang found
/// this way is told apart from a run that is only slow.
fn watch_for_stranded_waiters(
    ends: &mpsc::Receiver<()>,
    runs: usize,
    resources: &[Resource],
    case: &ExecCase,
) {
    let mut ended = 0;
    let mut stranded_since = None;
    while ended < runs {
        match ends.recv_timeout(Duration::from_millis(100)) {
            Ok(()) => ended += 1,
            // A run's thread panicked: joining it tells.
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                let stranded = resources
                    .iter()
                    .position(|r| r.in_use() == 0 && r.waiting() > 0);
                let Some(i) = stranded else {
                    stranded_since = None;
                    continue;
                };
                let since = *stranded_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= STRANDED {
                    // Past libtest's capture, which the abort would lose.
                    let _ = writeln!(
                        std::io::stderr(),
                        "kahn hung: resource r{i} has had {} tasks waiting and no unit in use for \
                         {STRANDED:?}, with {} of {runs} runs still going; no release will wake \
                         them\n{case:?}",
                        resources[i].waiting(),
                        runs - ended
                    );
                    std::process::abort();
                }
            }
        }
    }
}

/// What one run's graph is built from.
struct Parts<'s> {
    /// The tasks and uses to build.
    run: &'s ExecCase,
    oracle: &'s Oracle,
    log: &'s RunLog,
    resources: &'s [Resource],
    gauges: &'s [Gauge],
    /// What each task's body counts itself as holding (the expectation's).
    holdings: &'s [Vec<(usize, u32)>],
}

/// Builds one run's graph of `parts.run` in `arena`, checking that the
/// builder takes every task and edge, and refuses exactly the uses that
/// would take a task past a resource's capacity.
fn build<'s>(arena: &'s mut Arena, parts: Parts<'s>) -> Result<Graph<'s, String>, String> {
    let Parts {
        run,
        oracle,
        log,
        resources,
        gauges,
        holdings,
    } = parts;
    let n = run.task_count();
    let mut b = arena.builder::<String>();
    for (v, holding) in holdings.iter().enumerate() {
        let body = task_body(
            v,
            (run.tasks[v], run.cancels_run(v), run.chosen_by(v)),
            run.retry_of(v).map_or(0, |r| r.fail_first),
            (oracle.predecessors(v), run.takes(v)),
            log,
            (gauges, holding),
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
    let edges = run.dag_edges();
    b.edges(edges.iter().map(|&(u, v)| (TaskId::new(u), TaskId::new(v))))
        .map_err(|e| format!("edges of a DAG: {e}"))?;
    for v in 0..n {
        let id = TaskId::new(v as u32);
        if let Some(limit) = run.timeout_of(v) {
            b.timeout(id, limit)
                .map_err(|e| format!("timeout of task {v}: {e}"))?;
        }
        let rule = run.rule_of(v);
        if rule != TriggerRule::AllSucceeded {
            b.trigger_rule(id, rule)
                .map_err(|e| format!("trigger rule of task {v}: {e}"))?;
        }
        if run.chosen_by(v).is_some() {
            b.branching(id)
                .map_err(|e| format!("branching task {v}: {e}"))?;
        }
        if let Some(retry) = run.retry_of(v) {
            let policy = RetryPolicy::attempts(retry.attempts).delay(retry.delay);
            b.retry(id, policy)
                .map_err(|e| format!("retry policy of task {v}: {e}"))?;
        }
    }
    for d in run.declared_uses() {
        let resource = &resources[d.resource];
        let name = format!("t{}", d.task);
        let declared = if d.task % 2 == 1 {
            b.uses_units(name.as_str(), resource, d.units)
        } else {
            b.uses_units(TaskId::new(d.task as u32), resource, d.units)
        };
        let want = if d.total <= resource.capacity() {
            Ok(())
        } else {
            Err(BuildError::ResourceUnits {
                task: TaskLabel::new(
                    TaskId::new(d.task as u32),
                    (d.task % 2 == 1).then_some(name.as_str()),
                ),
                resource: resource.name().to_owned(),
                units: d.total,
                capacity: resource.capacity(),
            })
        };
        ensure!(declared == want, "{d:?}: {declared:?}, expected {want:?}");
    }
    b.build().map_err(|e| format!("build of a DAG: {e}"))
}

/// The options of one run of `run`, checked as `case`, started as `spec`.
fn run_options(run: &ExecCase, case: &ExecCase, spec: RunSpec, log: &RunLog) -> RunOptions {
    let n = case.task_count();
    let cancels = run.tasks[..n].contains(&Behavior::Cancel);
    let mut options = RunOptions::new();
    if spec.fail_fast {
        options = options.fail_fast();
    }
    options = options.release_outputs(case.releases());
    if let Some(limit) = case.worker_limit() {
        options = options.max_workers(limit);
    }
    if cancels || spec.watch == Watch::CancelledBefore {
        options = options.cancel_token(log.token.clone());
    }
    match spec.watch {
        Watch::Nothing => {}
        Watch::CancelledBefore => log.token.cancel(),
        Watch::ZeroTimeout => options = options.timeout(Duration::ZERO),
        Watch::FarTimeout if case.order_seed % 2 == 1 => options = options.timeout(Duration::MAX),
        Watch::FarTimeout => options = options.timeout(Duration::from_secs(3600)),
    }
    options
}

/// Checks one run's report, started as `spec`, against the oracle and what
/// its tasks saw.
fn check_report(
    exec: &Executor,
    case: &ExecCase,
    spec: RunSpec,
    oracle: &Oracle,
    log: &RunLog,
    report: &Report<'_, String>,
) -> Result<(), String> {
    let n = case.task_count();
    let probes = &log.probes;
    let what = || format!("{report}");

    let problems =
        std::mem::take(&mut *log.problems.lock().unwrap_or_else(PoisonError::into_inner));
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
    let stopped = report.stop_reason();
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
        let ran = runs[v] >= 1;
        let attempts = report.attempts(id);
        ensure!(
            attempts == runs[v] && runs[v] <= case.attempts_of(v),
            "task {v} ran {} times, the report says {attempts}, at most {} expected\n{}",
            runs[v],
            case.attempts_of(v),
            what()
        );
        if stopped.is_none() {
            ensure!(
                runs[v] == 0 || runs[v] == case.attempts_of(v),
                "task {v} ran {} times in a run nothing stopped, not {}\n{}",
                runs[v],
                case.attempts_of(v),
                what()
            );
        }
        // A stop cuts a retry's wait short: the task fails with its last
        // failure, which the oracle did not foresee, and what is below it
        // is skipped for it.
        let cut_short = stopped.is_some()
            && case.retry_of(v).is_some()
            && outcome.state() == State::Failed
            && attempts < case.attempts_of(v);
        ensure!(
            outcome.state() == oracle.states()[v]
                || outcome.state() == State::Cancelled
                || cut_short
                || (stopped.is_some() && outcome.state() == State::Skipped),
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
                    matches!(states[c], State::Failed | State::Panicked | State::TimedOut),
                    "task {v} skipped for {cause:?}, which {}\n{}",
                    states[c],
                    what()
                );
                counts.skipped += 1;
            }
            Outcome::NotTriggered { cause } => {
                let c = cause.index();
                ensure!(
                    (c == v || oracle.is_ancestor(c, v))
                        && case.rule_of(c) == TriggerRule::OneFailed
                        && states[c] == State::Skipped,
                    "task {v} not triggered for task {c} ({:?}, {})\n{}",
                    case.rule_of(c),
                    states[c],
                    what()
                );
                counts.skipped += 1;
                counts.by_choice += 1;
            }
            Outcome::BranchNotTaken { branch } => {
                let c = branch.index();
                ensure!(
                    oracle.is_ancestor(c, v)
                        && case.chosen_by(c).is_some()
                        && states[c] == State::Succeeded,
                    "task {v} not taken at task {c} ({:?}, {})\n{}",
                    case.chosen_by(c),
                    states[c],
                    what()
                );
                counts.skipped += 1;
                counts.by_choice += 1;
            }
            Outcome::Consumed => {
                ensure!(
                    case.may_consume(v),
                    "task {v} has no output in the report, but nothing may take or release it"
                );
                counts.succeeded += 1;
            }
            Outcome::Cancelled => counts.cancelled += 1,
            Outcome::TimedOut { limit } => {
                ensure!(
                    limit == Duration::ZERO && case.timeout_of(v) == Some(limit),
                    "task {v} timed out after {limit:?}, its timeout is {:?}",
                    case.timeout_of(v)
                );
                counts.timed_out += 1;
                failed.push(id);
            }
            other => return Err(format!("task {v} ended in an unknown way: {other:?}")),
        }
        let started = matches!(
            outcome.state(),
            State::Succeeded | State::Failed | State::Panicked | State::TimedOut
        );
        ensure!(
            ran == started,
            "task {v} is {} but its body ran {} times\n{}",
            outcome.state(),
            runs[v],
            what()
        );
        ensure!(
            !ran || outcome.state() == case.ends(v) || cut_short,
            "task {v} ({behavior:?}, timeout {:?}) ran and ended {}",
            case.timeout_of(v),
            outcome.state()
        );
        if ran {
            // Under the default rule every predecessor succeeded; under any
            // rule, every one that ran had ended.
            let (start, _) = tick(v);
            let default_rule = case.rule_of(v) == TriggerRule::AllSucceeded;
            for &p in oracle.predecessors(v) {
                let (_, end) = tick(p as usize);
                let p_ran = runs[p as usize] >= 1;
                ensure!(
                    (!default_rule || states[p as usize] == State::Succeeded)
                        && (!p_ran || (end != 0 && end < start)),
                    "task {v} ({:?}) started at tick {start}, its predecessor {p} is {} and ended at tick {end}\n{}",
                    case.rule_of(v),
                    states[p as usize],
                    what()
                );
            }
        }
        if case.is_plain() {
            let doomed = oracle.is_doomed(v, &states);
            ensure!(
                doomed == (outcome.state() == State::Skipped),
                "task {v} is {}, yet {} of its ancestors failed\n{}",
                outcome.state(),
                if doomed { "one" } else { "none" },
                what()
            );
        }
        if ran {
            let worker = probes[v].worker.load(Ordering::SeqCst);
            ensure!(
                worker < case.workers_on(exec),
                "task {v} ran on worker {worker} of {}",
                case.workers_on(exec)
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
        report.is_success() == (counts.succeeded + counts.by_choice == n),
        "is_success() is {} with {counts:?}",
        report.is_success()
    );

    // What stopped the run, and who: a task that got past the attempts it
    // fails first (which return before anything else).
    let got_past = |v: usize| runs[v] > case.retry_of(v).map_or(0, |r| r.fail_first);
    let cancelled_by: Vec<usize> = (0..n)
        .filter(|&v| got_past(v) && case.tasks[v] == Behavior::Cancel)
        .collect();
    let failed_fast: Vec<usize> = if spec.fail_fast {
        failed.iter().map(|id| id.index()).collect()
    } else {
        Vec::new()
    };
    let mut reasons = Vec::new();
    if n > 0 {
        match spec.watch {
            Watch::CancelledBefore => reasons.push(StopReason::Cancelled),
            Watch::ZeroTimeout => reasons.push(StopReason::DeadlineExceeded),
            Watch::Nothing | Watch::FarTimeout => {}
        }
    }
    if !cancelled_by.is_empty() {
        reasons.push(StopReason::Cancelled);
    }
    let run_cancelled_by: Vec<usize> = (0..n)
        .filter(|&v| got_past(v) && case.cancels_run(v))
        .collect();
    reasons.extend(
        run_cancelled_by
            .iter()
            .map(|&v| StopReason::CancelledByTask(TaskId::new(v as u32))),
    );
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
            for v in (0..n).filter(|&v| states[v] == State::Skipped) {
                let by_choice = !matches!(
                    report.outcome(TaskId::new(v as u32)),
                    Some(Outcome::Skipped { .. })
                );
                ensure!(
                    by_choice == oracle.skipped_by_choice(v),
                    "task {v} was skipped {}, the oracle says {}\n{}",
                    if by_choice {
                        "by choice"
                    } else {
                        "for a failure"
                    },
                    if by_choice {
                        "for a failure"
                    } else {
                        "by choice"
                    },
                    what()
                );
            }
        }
        Some(reason) => ensure!(
            reasons.contains(&reason),
            "stop reason {reason:?}, but only {reasons:?} happened\n{}",
            what()
        ),
    }
    if matches!(spec.watch, Watch::CancelledBefore | Watch::ZeroTimeout) {
        ensure!(
            counts.cancelled == n,
            "the run was stopped before it began, yet {counts:?}"
        );
    }
    // A retried task may have been recorded failed by the stop itself
    // (its wait cut short), after others ran on its worker: it may not be
    // the stopper, so it proves nothing here.
    for &s in cancelled_by
        .iter()
        .chain(&failed_fast)
        .chain(&run_cancelled_by)
        .filter(|&&s| case.retry_of(s).is_none())
    {
        let (_, stopped) = tick(s);
        let worker = probes[s].worker.load(Ordering::SeqCst);
        for v in (0..n).filter(|&v| runs[v] >= 1) {
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

/// The body of task `v`: counts the units it holds, records that it ran and
/// when, checks its inputs, then does what `behavior` says.
fn task_body<'s>(
    v: usize,
    (behavior, cancels_run, chosen): (Behavior, bool, Option<Vec<u32>>),
    fail_first: u32,
    (preds, takes): (&'s [u32], Vec<u32>),
    log: &'s RunLog,
    (gauges, holding): (&'s [Gauge], &'s [(usize, u32)]),
    n: usize,
) -> impl Fn(&TaskContext<'_, String>) -> Result<String, BoxError> + Send + Sync + 's {
    move |ctx| {
        // Taken first and given back last (on return or unwind), so the
        // gauge counts only while kahn holds the units for this task.
        let _held = Held::take(gauges, holding);
        let probe = &log.probes[v];
        let clock = &log.clock;
        probe.runs.fetch_add(1, Ordering::SeqCst);
        probe.worker.store(ctx.worker_index(), Ordering::SeqCst);
        probe
            .start
            .store(clock.fetch_add(1, Ordering::SeqCst), Ordering::SeqCst);
        if let Err(problem) = check_inputs(ctx, v, (preds, &takes), n) {
            log.report_problem(format!("task {v}: {problem}"));
        }
        let end = || {
            probe
                .end
                .store(clock.fetch_add(1, Ordering::SeqCst), Ordering::SeqCst);
        };
        if ctx.attempt() <= fail_first {
            end();
            return Err(format!("task {v} failed on purpose").into());
        }
        if let Some(chosen) = &chosen {
            let ids = chosen.iter().map(|&w| TaskId::new(w));
            if let Err(error) = ctx.branch(ids) {
                log.report_problem(format!("task {v}: branch refused: {error}"));
            }
        }
        if cancels_run {
            ctx.cancel_run();
            if !ctx.is_cancelled() {
                log.report_problem(format!(
                    "task {v}: cancelled its run but is_cancelled() is false"
                ));
            }
        }
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
                log.token.cancel();
                if !ctx.is_cancelled() {
                    log.report_problem(format!(
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
    (preds, takes): (&[u32], &[u32]),
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
    // The inputs are the predecessors that succeeded (all of them, unless
    // a trigger rule ran this task after a failure or a branch); asking
    // for another's output is a typed error.
    let label = TaskLabel::new(me, name.as_deref());
    let mut succeeded = Vec::new();
    for &p in preds {
        let state = ctx
            .upstream(TaskId::new(p))
            .map_err(|e| format!("upstream({p}): {e}"))?;
        if state == State::Succeeded && takes.contains(&p) {
            // Moved out once; gone after that, to reads and takes alike.
            let taken = ctx.take_input(TaskId::new(p));
            ensure!(
                taken == Ok(output(p as usize)),
                "take_input({p}) is {taken:?}"
            );
            let again = ctx.take_input(TaskId::new(p)).map(|_| ());
            let read = ctx.input(TaskId::new(p)).map(|_| ());
            for (what, got) in [("take_input", again), ("input", read)] {
                ensure!(
                    matches!(got, Err(InputError::Taken { .. })),
                    "{what}({p}) after the take is {got:?}"
                );
            }
            continue;
        }
        if state == State::Succeeded {
            succeeded.push(p);
            continue;
        }
        let got = ctx.input(TaskId::new(p));
        let p_name = format!("t{p}");
        let want = InputError::NotSucceeded {
            asker: label.clone(),
            task: TaskLabel::new(TaskId::new(p), (p % 2 == 1).then_some(p_name.as_str())),
            state,
        };
        ensure!(got == Err(want), "input({p}), which {state}, is {got:?}");
    }
    let inputs: Vec<(u32, &String)> = ctx
        .inputs()
        .map(|(id, out)| (id.index() as u32, out))
        .collect();
    let ids: Vec<u32> = inputs.iter().map(|&(id, _)| id).collect();
    ensure!(
        ids == succeeded,
        "inputs() came from {ids:?}, expected {succeeded:?}"
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
