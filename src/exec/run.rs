//! One run's shared state and the protocol that governs it: pending counters
//! and claims, output slots, the stop, ready work crossing workers, idle
//! workers sleeping, and the end of the run.
//!
//! Everything here is private to [`RunCore`], which the workers drive through
//! verbs (`claim`, `record`, `share`, `wait_for_work`, `leave`, ...): whether
//! an ordering is load-bearing is answered in this file, next to the code
//! that relies on it. The per-run state lives here, never in the immutable
//! graph, so concurrent runs of one graph never interfere.
//!
//! # Memory ordering, in brief
//!
//! - **Outputs along edges.** A task's state byte and (on success) output
//!   slot are written by the one worker that claimed it, before it releases
//!   the task's successors; whoever claims a successor happens-after every
//!   predecessor's writes (see [`RunCore::claim`]). That is what makes
//!   [`RunCore::output_of_predecessor`] sound.
//! - **Work between workers** goes through crossbeam's deques and injector,
//!   which synchronize a push with the steal that takes it.
//! - **The stop and the hungry count** are hints read `Relaxed` on the hot
//!   path (see `signals.rs` for why that is enough).
//! - **The end.** The run ends when `remaining` reaches zero (`AcqRel`); the
//!   caller reads states and slots only after every worker has left: each
//!   leaves with a `Release` decrement of the listing's presence count, and
//!   the caller's `close` is an `Acquire` compare-exchange from zero (see
//!   `registry.rs`; under loom, the workers are joined), which orders all
//!   worker writes before the report is built.
//!
//! Built with `--cfg loom`, the atomics, output slots, deques and the sleep
//! lock are loom's, and `tests/loom.rs` checks these claims on small graphs
//! (see `crate::sync` for what is and is not modelled).

use std::mem::MaybeUninit;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use crate::csr::Csr;
use crate::error::TaskFailure;
use crate::exec::fence::Fences;
use crate::exec::observed::{Attempt, Observing};
use crate::exec::registry::{self, Shared};
use crate::exec::releases::{Cause, Releases};
use crate::exec::retries::{self, RetryQueue};
use crate::exec::seat::{Hidden, Seat, Sighting};
use crate::exec::signals::Signals;
use crate::exec::sleep::Sleep;
use crate::id::TaskId;
use crate::input::RunInput;
use crate::names::Names;
use crate::options::{CancelToken, FailurePolicy, RunOptions};
use crate::part::{Part, PartRun, RemoteOutcome, Settled};
use crate::report::{Choices, Counts, GraphKey, Report, Resumable, Timing};
use crate::resource::{Inbox, ResourceTable, Returned};
use crate::retry::Retries;
use crate::skip::Skip;
use crate::state::{holds_output, State, GONE, LENT};
use crate::stop::StopReason;
use crate::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use crate::sync::cell::UnsafeCell;
use crate::sync::deque::{Injector, Steal, Worker};
use crate::sync::thread::{self, Thread};
use crate::sync::{Backoff, Mutex, OnceLock};
use crate::timeout::{self, Ticking, Timeouts, NO_LIMIT};
use crate::trigger::{TriggerRule, Triggers};
use crate::value::GraphTag;

/// How long an idle worker watches a peer run one task while that peer holds
/// ready work privately, before it rescues the work (see `seat.rs`). Long
/// enough that a rescue (a process-wide barrier, a few microseconds) is rare
/// next to the work it frees; short enough to be the latency bound the
/// README promises.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) const RESCUE_AFTER: Duration = Duration::from_micros(20);

/// How long a worker with nothing to do stays in its run before it leaves
/// (see `look_for_work`).
#[cfg(not(loom))]
const STAY_IDLE: Duration = Duration::from_micros(50);

/// What one release did to a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Other releases are still due; someone else will claim the task.
    Waiting,
    /// This was the last release and none poisoned it: the caller runs it.
    Clean,
    /// This was the last release and a failure reached the task: the caller
    /// records it skipped for this failed task.
    Poisoned(Cause),
    /// A clean release of a task with many predecessors that was not the
    /// last one, not applied: the caller keeps it (with others of the same
    /// task) and applies them later with [`RunCore::apply_deferred`].
    Deferred,
}

/// Set in `pending` once a poisoned release reached the task.
const POISONED: u32 = 1 << 31;
/// Set in `pending` from the start for a task of [`HOT_IN_DEGREE`]
/// predecessors or more: its clean releases may be deferred and combined.
const HOT: u32 = 1 << 30;
/// The releases still due.
const COUNT: u32 = HOT - 1;

/// The in-degree from which a task's releases are combined per worker
/// (`Claim::Deferred`). Below it, two workers rarely release one task at
/// once; above it, a fetch_sub per release would bounce the counter's
/// cache line between workers (a fan-in of a million tasks). Two under
/// loom, so the models' joins take the deferred path.
pub(crate) const HOT_IN_DEGREE: u32 = if cfg!(loom) { 2 } else { 16 };

/// No task has asked to stop the run (in `stopped_by`).
const NOBODY: u32 = u32::MAX;

/// The run has not stopped (in `stopped_at`).
const NOT_STOPPED: u64 = u64::MAX;

/// One task's output for one run, written once by the worker that ran it, if
/// it succeeded.
///
/// Uninitialized until then: a run does not pay to fill slots it may never
/// use. `repr(transparent)` (as are `sync::cell::UnsafeCell`, outside loom,
/// and `MaybeUninit`) so a finished run's slots become the report's outputs
/// in place.
#[repr(transparent)]
struct Slot<T>(UnsafeCell<MaybeUninit<T>>);

// SAFETY: a slot is written at most once, by the worker that claimed its task
// (claiming is exclusive: see `RunCore::claim`), and read only by tasks that
// happen-after that write (its successors; see the module's memory-ordering
// notes) or by the caller after every worker has joined. It is moved out or
// dropped at most once, when no reference into it can be alive: by its one
// reader (`take_output`, decided by one compare-exchange on the state byte,
// refused while `LENT`), by the worker that finishes its last reader
// (`release_inputs`, after an `AcqRel` countdown), or by the report. `T:
// Send` lets the output be produced on one thread and moved out or dropped
// on another; `T: Sync` lets several successors read it at once.
unsafe impl<T: Send + Sync> Sync for Slot<T> {}

impl<T> Slot<T> {
    /// The slots as the report's outputs: in place, without copying.
    #[cfg(not(loom))]
    fn into_outputs(slots: Box<[Slot<T>]>) -> Box<[MaybeUninit<T>]> {
        let slots = Box::into_raw(slots);
        // SAFETY: `Slot<T>`, `sync::cell::UnsafeCell` (outside loom) and
        // `MaybeUninit` are all `repr(transparent)`: same layout, allocation
        // handed over unchanged.
        unsafe { Box::from_raw(slots as *mut [MaybeUninit<T>]) }
    }

    /// The slots as the report's outputs. Loom's cell carries its own
    /// tracking state, so the values are moved out one by one.
    #[cfg(loom)]
    fn into_outputs(slots: Box<[Slot<T>]>) -> Box<[MaybeUninit<T>]> {
        slots
            .into_vec()
            .into_iter()
            .map(|slot| slot.0.into_inner())
            .collect()
    }
}

/// One task's timing for one run, written only by the worker that ran it.
///
/// A std cell even under loom: timings are off in the loom models.
struct TimingSlot(std::cell::UnsafeCell<Timing>);

// SAFETY: as for `Slot`: one writer, the claimant, and no reader until every
// worker has joined.
unsafe impl Sync for TimingSlot {}

/// How a claimed task ended, on its way to being recorded.
pub(crate) enum TaskEnd<T> {
    Succeeded(T),
    /// A remote task of a part run succeeded, and its output is not here.
    SucceededElsewhere,
    Failed(TaskFailure),
    /// Skipped for this cause.
    Skipped(Cause),
    Cancelled,
    /// The attempt failed and waits for another: not recorded.
    Retrying,
}

/// Why [`RunCore::take_output`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// It was taken already.
    Taken,
    /// The task did not succeed.
    NotSucceeded(State),
    /// Other tasks read it (their number), or it is kept (1).
    Shared(usize),
    /// The taker holds a reference to it.
    Lent,
}

/// What a task that uses resources got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Acquired {
    /// It holds them: run it, then release them.
    Held,
    /// The run stopped: it will be recorded cancelled and needs none.
    NotNeeded,
    /// It was parked; it comes back through the run's inbox.
    Parked,
}

/// What a look at the peers' announcements found.
enum Watched {
    Rescued(Hidden),
    Announced,
    Quiet,
}

/// A worker's private count of the tasks it finished, per state; merged
/// once, when the worker leaves the run.
#[derive(Debug, Default)]
pub(crate) struct Tally([usize; State::ALL.len()]);

impl Tally {
    #[inline]
    pub(crate) fn count(&mut self, state: State) {
        self.0[state.index()] += 1;
    }

    /// Tasks counted in every state.
    pub(crate) fn total(&self) -> usize {
        self.0.iter().sum()
    }
}

/// Everything one run shares between its workers.
pub(crate) struct RunCore<'r, T> {
    csr: Csr<'r>,
    names: Names<'r>,
    /// `State::code` of each task once finished (0 before); one byte per
    /// task, so a run of empty tasks writes little memory. `states`,
    /// `outputs` and `pending` have one entry per task, from `new` on: the
    /// per-task path reads them unchecked for claimed tasks.
    states: Box<[AtomicU8]>,
    outputs: Box<[Slot<T>]>,
    timings: Option<Box<[TimingSlot]>>,
    /// Releases each task still waits for; `POISONED` once a failure reached it.
    pending: Box<[AtomicU32]>,
    /// For a poisoned or skipped task, its `Cause` (the failed task, or the
    /// task that passed it over), 0 for none. Allocated by the first
    /// failure or choice, so a clean run pays nothing for it.
    causes: OnceLock<Box<[AtomicU32]>>,
    /// Failures, gathered from the workers as they leave the run.
    failures: Mutex<Vec<(TaskId, TaskFailure)>>,
    /// Per-state totals, gathered from the workers as they leave the run.
    tally: [AtomicUsize; State::ALL.len()],
    /// Shared with the executor's listing of the run, which raises them.
    signals: Arc<Signals>,
    /// `StopReason::code` of the first stop; 0 until then.
    stop_reason: AtomicU8,
    /// The first task that asked to stop the run; `NOBODY` until then.
    stopped_by: AtomicU32,
    /// Nanoseconds from `start` to the first stop; `NOT_STOPPED` until then.
    stopped_at: AtomicU64,
    policy: FailurePolicy,
    watch: Option<Watch>,
    /// Tasks not yet accounted for; workers subtract what they finished when
    /// they run out of work or leave, and the run ends at zero.
    remaining: AtomicUsize,
    /// Where a run's first work (its sources) waits for a worker.
    injector: Injector<Releases>,
    /// One place per worker the run may have at once (each seat keeps
    /// what its occupant writes on cache lines of its own).
    seats: Box<[Seat]>,
    /// Shared with the inbox, which wakes sleepers when a task comes back.
    sleep: Arc<Sleep>,
    /// Where tasks parked on resources come back.
    inbox: Arc<Inbox>,
    /// The graph's resources, to take this run's waiters off their lists
    /// when it stops.
    resources: Option<&'r ResourceTable<'r>>,
    /// The graph's task timeouts, if any task has one.
    timeouts: Option<Timeouts<'r>>,
    /// Keeps the ticker that times them ticking while the run lasts.
    _ticking: Option<Ticking>,
    /// The graph's trigger rules and branching tasks, if it has any.
    triggers: Option<Triggers<'r>>,
    /// What each branching task that ran chose: its id and its chosen
    /// successors, sorted. Written by the task's worker before it releases
    /// the successors (which the lock orders before their claims).
    choices: Mutex<Choices>,
    /// The graph's retry policies, if any task has one.
    retries: Option<&'r Retries<'r>>,
    /// Tasks waiting for their next attempt, and every failed attempt.
    retry_queue: RetryQueue,
    /// The thread that started the run, woken when a retry falls due
    /// sooner than it planned to look (only for graphs with retries).
    waiter: Option<Thread>,
    /// For a resumed run, the tasks carried over from the earlier one.
    carried: Option<Box<[bool]>>,
    /// The run's input, if it was given one.
    input: Option<RunInput>,
    /// Which builder made the graph (for typed handles).
    tag: GraphTag,
    /// The tasks whose outputs stay in the report, if the graph marks any.
    kept: Option<&'r [bool]>,
    /// With early release: for each task, its readers (direct successors)
    /// that have not finished; the one that brings it to zero drops the
    /// output. `None` (and free) otherwise.
    readers: Option<Box<[AtomicU32]>>,
    fences: Fences,
    start: Instant,
    /// Whether its tasks take the watched path: timings, an observer,
    /// progress counts or a trace span. One flag for the loop to test.
    instrumented: bool,
    /// The observer, progress counts and trace span, if any.
    observing: Option<Observing<'r>>,
    /// For a part run: which tasks run here, where the others' outcomes
    /// come in, and where the owned tasks' ends go out.
    part: Option<PartRun<'r, T>>,
}

/// External reasons to stop, checked before each task starts.
struct Watch {
    token: Option<CancelToken>,
    deadline: Option<Instant>,
}

/// What a run reads of its graph. (`Graph` is not named here: the task
/// context, which a graph's task bodies take, depends on this module.)
#[derive(Clone, Copy)]
pub(crate) struct GraphParts<'r> {
    pub(crate) csr: Csr<'r>,
    pub(crate) names: Names<'r>,
    pub(crate) resources: Option<&'r ResourceTable<'r>>,
    pub(crate) timeouts: Option<Timeouts<'r>>,
    pub(crate) triggers: Option<Triggers<'r>>,
    pub(crate) retries: Option<&'r Retries<'r>>,
    pub(crate) tag: GraphTag,
    pub(crate) kept: Option<&'r [bool]>,
}

/// What an idle worker found.
pub(crate) enum Found {
    /// Published work it took.
    Work(Releases),
    /// A peer's private work it rescued.
    Rescued(Hidden),
    /// A task parked on a resource, handed back.
    Returned(Returned),
    /// A task whose next attempt is due.
    Retry(u32),
    /// The run ended.
    Over,
    /// Nothing to do for now: a worker that may leave should.
    Nothing,
}

/// How a worker waits when the run has nothing for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waiting {
    /// It may leave the run (a worker job, which rayon then keeps).
    MayLeave,
    /// It stays until the run ends, sleeping when idle (the thread that
    /// started a nested run, or a loom thread).
    Stays,
}

impl<'r, T> RunCore<'r, T> {
    /// Sets up a run of the graph compiled as `csr` for as many workers at
    /// once as it is given `seats` (fresh, or reset after an earlier run), with its sources ready to be taken. `executor`
    /// (none under loom) is where a task handed back by a resource calls a
    /// worker when the run has none.
    pub(crate) fn new(
        graph: GraphParts<'r>,
        options: &RunOptions,
        (seats, signals, fences): (Box<[Seat]>, Arc<Signals>, Fences),
        executor: Option<Arc<Shared>>,
    ) -> Self {
        let GraphParts {
            csr,
            names,
            resources,
            timeouts,
            triggers,
            retries,
            tag,
            kept,
        } = graph;
        let n = csr.task_count();
        let sleep = Arc::new(Sleep::new());
        let inbox = Arc::new(Inbox::new(wake_on_return(&sleep, &signals, executor)));
        let start = Instant::now();
        let deadline = options.effective_deadline(start);
        let watch = (options.cancel.is_some() || deadline.is_some()).then(|| Watch {
            token: options.cancel.clone(),
            deadline,
        });
        let observing = Observing::new(options, names, n);
        let core = RunCore {
            csr,
            names,
            states: (0..n).map(|_| AtomicU8::new(0)).collect(),
            outputs: (0..n)
                .map(|_| Slot(UnsafeCell::new(MaybeUninit::uninit())))
                .collect(),
            timings: options.timings.then(|| {
                (0..n)
                    .map(|_| TimingSlot(std::cell::UnsafeCell::new(Timing::default())))
                    .collect()
            }),
            pending: csr
                .init_pending
                .iter()
                .map(|&p| AtomicU32::new(if p >= HOT_IN_DEGREE { p | HOT } else { p }))
                .collect(),
            causes: OnceLock::new(),
            failures: Mutex::new(Vec::new()),
            tally: Default::default(),
            signals,
            stop_reason: AtomicU8::new(0),
            stopped_by: AtomicU32::new(NOBODY),
            stopped_at: AtomicU64::new(NOT_STOPPED),
            policy: options.policy,
            watch,
            remaining: AtomicUsize::new(n),
            injector: Injector::new(),
            seats,
            inbox,
            sleep,
            resources,
            _ticking: timeouts.map(|_| Ticking::start()),
            timeouts,
            triggers,
            choices: Mutex::new(Vec::new()),
            retries,
            retry_queue: RetryQueue::new(),
            waiter: retries.map(|_| thread::current()),
            carried: None,
            input: options.input.clone(),
            tag,
            kept,
            readers: options.release_outputs.then(|| {
                (0..n as u32)
                    .map(|v| AtomicU32::new(csr.successors(v).len() as u32))
                    .collect()
            }),
            fences,
            start,
            instrumented: options.timings || observing.is_some(),
            observing,
            part: None,
        };
        let sources = Releases {
            lo: csr.sources_start,
            hi: csr.targets.len() as u32,
            poison: None,
        };
        if !sources.is_empty() {
            core.injector.push(sources);
        }
        core
    }

    /// Makes this run, not started yet, a resume of an earlier run of the
    /// same graph whose outputs are `earlier` (by id, `Some` where the task
    /// succeeded): a task that succeeded then, and none of whose ancestors
    /// will run again, is carried over (its output moved in, its state
    /// Succeeded) and does not run; every other task runs, as it would in
    /// a run of the graph without the carried tasks. Returns which tasks
    /// were carried over.
    ///
    /// Sound because the carried tasks are closed upward (every
    /// predecessor of a carried task is carried): no release ever reaches
    /// one, and every task that runs waits only for tasks that run.
    ///
    /// `choices` are the earlier run's branch choices: a carried branching
    /// task's choice still decides which of its successors run.
    pub(crate) fn carry_over(&mut self, earlier: Resumable<T>) {
        let (earlier, succeeded, mut choices) = earlier;
        choices.sort_unstable_by_key(|(b, _)| *b);
        let n = self.csr.task_count();
        debug_assert_eq!(earlier.len(), n, "a report of this graph");
        // Runs again: did not succeed, or is downstream of such a task, or
        // succeeded without keeping its output (taken, released) and a
        // task that runs again reads it.
        let mut again: Vec<bool> = succeeded.iter().map(|&s| !s).collect();
        let mut todo: Vec<u32> = (0..n as u32).filter(|&v| again[v as usize]).collect();
        while let Some(v) = todo.pop() {
            for &w in self.csr.successors(v) {
                if !again[w as usize] {
                    again[w as usize] = true;
                    todo.push(w);
                }
            }
            // (Not if `p` is a branch that passed `v` over and `v` has the
            // default rule: restored, the choice skips `v` again, which then
            // reads nothing. A rule that runs `v` anyway reads it.)
            let skipped_by_choice = self
                .triggers
                .is_none_or(|t| t.rule(v) == TriggerRule::AllSucceeded);
            for &p in self.csr.predecessors(v) {
                let passed_over = skipped_by_choice
                    && choices
                        .binary_search_by_key(&p, |(b, _)| *b)
                        .is_ok_and(|at| choices[at].1.binary_search(&v).is_err());
                if !again[p as usize] && earlier[p as usize].is_none() && !passed_over {
                    again[p as usize] = true;
                    todo.push(p);
                }
            }
        }
        // Forget the sources pushed by `new`: the ready tasks differ.
        while !matches!(self.injector.steal(), Steal::Empty) {}
        let choices: Choices = choices
            .into_iter()
            .filter(|(b, _)| !again[*b as usize])
            .collect();
        // A carried branch that did not choose `v`, if any: looked up by
        // `v`'s predecessors, so a resume costs O(edges × log branches).
        let passed_over_by = |v: u32| {
            self.csr.predecessors(v).iter().copied().find(|p| {
                choices
                    .binary_search_by_key(p, |(b, _)| *b)
                    .is_ok_and(|at| choices[at].1.binary_search(&v).is_err())
            })
        };
        let mut carried = vec![false; n].into_boxed_slice();
        let mut rerun = 0;
        for (v, output) in earlier.into_iter().enumerate() {
            if !again[v] {
                // Carried with its output, or (no task that runs reads it)
                // without.
                let code = match output {
                    Some(output) => {
                        self.outputs[v].0.with_mut(|slot| {
                            // SAFETY: no worker has joined the run yet, so
                            // this thread has the slot to itself; it is
                            // uninitialized.
                            unsafe { (*slot).write(output) };
                        });
                        State::Succeeded.code()
                    }
                    None => State::Succeeded.code() | GONE,
                };
                self.states[v].store(code, Ordering::Relaxed);
                if let Some(readers) = &self.readers {
                    // Only the readers that run will finish.
                    let rerun = self.csr.successors(v as u32).iter();
                    let rerun = rerun.filter(|&&w| again[w as usize]).count();
                    readers[v].store(rerun as u32, Ordering::Relaxed);
                }
                carried[v] = true;
                continue;
            }
            rerun += 1;
            let preds = self.csr.predecessors(v as u32);
            let waits = preds.iter().filter(|&&p| again[p as usize]).count() as u32;
            let hot = if preds.len() as u32 >= HOT_IN_DEGREE {
                HOT
            } else {
                0
            };
            // A carried branch that passed `v` over releases it once more,
            // now, as its choice (which skips it); a task waiting for no
            // rerun predecessor is released once, now, from a place in
            // `targets` that names it (among the sources, or a carried
            // predecessor's successors).
            let branch = passed_over_by(v as u32);
            let from = match branch {
                Some(b) => Some(Some(b)),
                None if waits == 0 => Some(preds.first().copied()),
                None => None,
            };
            let released_now = u32::from(from.is_some());
            self.pending[v].store((waits + released_now) | hot, Ordering::Relaxed);
            let Some(from) = from else {
                continue;
            };
            let at = match from {
                None => self.csr.sources_start as usize + position(self.csr.sources(), v),
                Some(p) => {
                    let lo = self.csr.succ_off[p as usize] as usize;
                    lo + position(self.csr.successors(p), v)
                }
            } as u32;
            self.injector.push(Releases {
                lo: at,
                hi: at + 1,
                poison: branch.map(|b| Cause::chosen(TaskId::new(b))),
            });
        }
        self.remaining.store(rerun, Ordering::Relaxed);
        self.carried = Some(carried);
        *self
            .choices
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner) = choices;
    }

    /// Makes this run, not started yet, a run of `part` of its graph (the
    /// caller checked that `part` and the feed are of it, and that the feed
    /// is fresh): the remote tasks are never claimed here (each waits for
    /// one release more than it will get here) and come in through the
    /// feed; the owned tasks' ends go out to the outbox. The run still counts every task, so
    /// it ends once every remote outcome has come in too.
    ///
    /// Part runs take the watched path (`instrumented`), where the outbox
    /// is told: the plain path of other runs has no test for it.
    pub(crate) fn make_part(&mut self, part: &Part, run: PartRun<'r, T>) {
        debug_assert!(
            run.feed.is_of(GraphKey::of(&self.csr), part),
            "checked by the caller"
        );
        run.feed.attach(&self.inbox);
        for (v, &owned) in part.owned().iter().enumerate() {
            if !owned {
                let pending = self.pending[v].load(Ordering::Relaxed);
                self.pending[v].store(pending + 1, Ordering::Relaxed);
            }
        }
        self.instrumented = true;
        self.part = Some(run);
    }

    /// The part this run runs, if it is a part run.
    #[inline]
    pub(crate) fn part(&self) -> Option<&PartRun<'r, T>> {
        self.part.as_ref()
    }

    /// A part run ended: its feed has no run to hand outcomes to.
    pub(crate) fn end_part(&self) {
        if let Some(part) = &self.part {
            part.feed.detach();
        }
    }

    /// The outcome delivered for remote task `v`, as the run records it
    /// and what it passes on to its successors. Records a remote task's
    /// choice, and stops the run as the task's run stopped (a cancel) or
    /// as this run's policy says (a failure).
    ///
    /// `None` if nothing waits for `v` (a part run's inbox names a task
    /// only once its outcome is in the feed, so never in practice).
    #[cold]
    pub(crate) fn take_remote(&self, v: u32) -> Option<(TaskEnd<T>, Option<Cause>)> {
        let outcome = self.part.as_ref()?.feed.take(v)?;
        let task = TaskId::new(v);
        Some(match outcome {
            RemoteOutcome::Succeeded { output, chose } => {
                let passed_over = chose.map(|chose| {
                    self.choose(v, chose.into_iter().map(TaskId::raw).collect());
                    Cause::chosen(task)
                });
                let end = match output {
                    Some(output) => TaskEnd::Succeeded(output),
                    None => TaskEnd::SucceededElsewhere,
                };
                (end, passed_over)
            }
            RemoteOutcome::Failed(failure) => {
                self.on_failure();
                (TaskEnd::Failed(failure), Some(Cause::new(task)))
            }
            RemoteOutcome::Skipped(skip) => {
                let cause = match skip {
                    Skip::UpstreamFailed(by) => Cause::new(by),
                    _ => Cause::chosen(skip.task()),
                };
                (TaskEnd::Skipped(cause), Some(cause))
            }
            RemoteOutcome::Cancelled(reason) => {
                if let Some(reason) = reason {
                    self.stop(reason);
                }
                (TaskEnd::Cancelled, None)
            }
        })
    }

    /// Tells a part run's outbox how owned task `v` ended (`failure` only
    /// for a failed state): after `record`, before `v`'s successors are
    /// released.
    #[cold]
    pub(crate) fn tell_part(
        &self,
        v: u32,
        state: State,
        failure: Option<&TaskFailure>,
        skipped: Option<Skip>,
    ) {
        let Some(part) = &self.part else { return };
        debug_assert!(part.owns(v), "only owned tasks are told");
        let code = self.states[v as usize].load(Ordering::Relaxed);
        let output = holds_output(code).then(|| {
            self.outputs[v as usize].0.with(|slot| {
                // SAFETY: the caller recorded `v` (so the state says the
                // slot is initialized) and has not released its successors,
                // so nothing else reads, takes or drops the slot meanwhile.
                unsafe { (*slot).assume_init_ref() }
            })
        });
        let chose = (state == State::Succeeded && self.triggers.is_some_and(|t| t.branches(v)))
            .then(|| {
                let choices = self.choices.lock().unwrap_or_else(PoisonError::into_inner);
                choices
                    .iter()
                    .find(|(b, _)| *b == v)
                    .map(|(_, chosen)| chosen.iter().map(|&w| TaskId::new(w)).collect())
            })
            .flatten();
        // A task that did not run has no timing, as in the report.
        let timing = self
            .timings
            .as_ref()
            .filter(|_| state.ran())
            .map(|timings| {
                // SAFETY: written only by the worker that ran `v`, this one,
                // before it recorded `v`.
                unsafe { *timings[v as usize].0.get() }
            });
        (part.outbox)(Settled {
            task: TaskId::new(v),
            state,
            output,
            failure,
            skipped,
            chose,
            stopped: (state == State::Cancelled)
                .then(|| self.stop_reason())
                .flatten(),
            timing,
        });
    }

    /// The graph's topology.
    #[inline]
    pub(crate) fn csr(&self) -> &Csr<'r> {
        &self.csr
    }

    /// The graph's task names.
    #[inline]
    pub(crate) fn names(&self) -> &Names<'r> {
        &self.names
    }

    /// Nanoseconds since the run was set up: the clock of task deadlines.
    #[inline]
    pub(crate) fn elapsed_nanos(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(NO_LIMIT - 1)
    }

    /// The deadline of task `v`, about to start, on the timeout clock (see
    /// `timeout.rs`): [`NO_LIMIT`] unless it has a timeout.
    #[inline]
    pub(crate) fn deadline_for(&self, v: u32) -> u64 {
        match &self.timeouts {
            Some(timeouts) => timeout::deadline_after(timeouts.nanos_of(v)),
            None => NO_LIMIT,
        }
    }

    /// Task `v`'s timeout, if it has one.
    pub(crate) fn timeout_of(&self, v: u32) -> Option<Duration> {
        self.timeouts.as_ref().and_then(|t| t.of(v))
    }

    /// The graph's trigger rules and branching tasks, if it has any.
    pub(crate) fn triggers(&self) -> Option<&Triggers<'r>> {
        self.triggers.as_ref()
    }

    /// Records that branching task `b` chose `chosen` (its successors, as
    /// ids), replacing an earlier choice of this run.
    pub(crate) fn choose(&self, b: u32, mut chosen: Vec<u32>) {
        chosen.sort_unstable();
        chosen.dedup();
        let mut choices = self.choices.lock().unwrap_or_else(PoisonError::into_inner);
        match choices.iter_mut().find(|(task, _)| *task == b) {
            Some((_, old)) => *old = chosen.into_boxed_slice(),
            None => choices.push((b, chosen.into_boxed_slice())),
        }
    }

    /// Whether branching task `b` made a choice in this run.
    pub(crate) fn has_choice(&self, b: u32) -> bool {
        let choices = self.choices.lock().unwrap_or_else(PoisonError::into_inner);
        choices.iter().any(|(task, _)| *task == b)
    }

    /// Whether branching task `b` chose its successor `v`.
    fn chose(&self, b: u32, v: u32) -> bool {
        let choices = self.choices.lock().unwrap_or_else(PoisonError::into_inner);
        choices
            .iter()
            .find(|(task, _)| *task == b)
            .is_some_and(|(_, chosen)| chosen.binary_search(&v).is_ok())
    }

    /// Decides, for task `v` just claimed (`claim`), whether it runs by its
    /// trigger rule: `Clean` to run it, `Poisoned` to skip it. Every
    /// predecessor has finished and is visible (see [`claim`]).
    ///
    /// In a stopped run the task is handed on to run, which records it
    /// cancelled: cancellation wins. (A rule judged after the stop could
    /// read a predecessor cancelled, or skipped for a choice where a
    /// cancelled failure would have ranked first, and decide otherwise
    /// than the full run would have.)
    ///
    /// [`claim`]: Self::claim
    #[cold]
    pub(crate) fn apply_rule(&self, rule: TriggerRule, v: u32, claim: Claim) -> Claim {
        if self.should_stop() {
            return Claim::Clean;
        }
        let mut failure = None;
        for &p in self.csr.predecessors(v) {
            match State::from_code(self.states[p as usize].load(Ordering::Relaxed)) {
                State::Failed | State::Panicked | State::TimedOut => {
                    failure.get_or_insert(Cause::new(TaskId::new(p)));
                }
                State::Skipped => {
                    let raw = self.causes()[p as usize].load(Ordering::Relaxed);
                    if let Some(cause) = Cause::from_raw(raw).filter(|c| !c.by_choice()) {
                        failure.get_or_insert(cause);
                    }
                }
                // Only in a stopped run, which the check above saw.
                State::Cancelled => return Claim::Clean,
                State::Succeeded => {}
            }
        }
        if rule.runs(failure.is_some()) {
            Claim::Clean
        } else if rule == TriggerRule::OneFailed {
            Claim::Poisoned(Cause::chosen(TaskId::new(v)))
        } else {
            // Skipped for the failure; or, under the default rule, for the
            // choice that reached it.
            failure.map_or(claim, Claim::Poisoned)
        }
    }

    /// Why the run has stopped, if it has (read while it runs).
    pub(crate) fn stop_reason(&self) -> Option<StopReason> {
        let code = self.stop_reason.load(Ordering::Acquire);
        StopReason::from_code(code, self.stopped_by.load(Ordering::Relaxed))
    }

    /// When the run was set up: the origin of its timings.
    pub(crate) fn start(&self) -> Instant {
        self.start
    }

    // ---- Claiming and recording tasks ----

    /// Releases task `v`, found at `targets[at]`, once, from a predecessor
    /// (or the run's start) that passes on `poison` if it did not succeed;
    /// says whether the caller now owns `v`, and if so whether a failure
    /// (or a choice) reached it. With `may_defer`, a clean release of a
    /// task with many predecessors that is not the last one is not applied
    /// but handed back (`Claim::Deferred`).
    ///
    /// A by-choice cause from a branching task's own successor range is
    /// clean for the successors it chose (see [`unless_chosen`]). Causes
    /// rank: a failure replaces a choice in `causes`, never the reverse, so
    /// a task that both a failure and a branch reached is skipped for the
    /// failure.
    ///
    /// [`unless_chosen`]: Self::unless_chosen
    ///
    /// Ordering: a clean release is a `fetch_sub(AcqRel)`; the last release
    /// is only an `Acquire` load that sees 1 (nobody else touches the counter
    /// again, and a poisoned counter is never exactly 1). The other
    /// predecessors' `Release` decrements (deferred ones included, applied
    /// with `Release` by [`apply_deferred`](Self::apply_deferred)) form one
    /// release sequence, so that load synchronizes with all of them: the
    /// claimant happens-after every predecessor's state and output writes.
    ///
    /// # Safety
    /// `v < n`, as for every target of the graph (see `Csr`): the counter
    /// is read without a bounds check.
    #[inline(always)]
    pub(crate) unsafe fn claim(
        &self,
        v: u32,
        at: u32,
        poison: Option<Cause>,
        may_defer: bool,
    ) -> Claim {
        let poison = match poison {
            Some(cause) if cause.by_choice() => self.unless_chosen(cause, v, at),
            poison => poison,
        };
        debug_assert!((v as usize) < self.pending.len());
        // SAFETY: `v < n` by the caller's contract, and `pending` has `n`
        // entries (made so in `new`).
        let pending = unsafe { self.pending.get_unchecked(v as usize) };
        let seen = pending.load(Ordering::Acquire);
        if seen & !HOT == 1 {
            return match poison {
                None => Claim::Clean,
                Some(cause) => Claim::Poisoned(cause),
            };
        }
        if may_defer && seen & HOT != 0 && poison.is_none() {
            // Not the last release (the count is above 1 and only drops):
            // nothing is decided by applying it now.
            return Claim::Deferred;
        }
        let before = match poison {
            None => pending.fetch_sub(1, Ordering::AcqRel),
            Some(cause) => {
                // The cause is stored before the poisoning decrement, which
                // publishes it to the claimant (Relaxed store, AcqRel RMW).
                let slot = &self.causes()[v as usize];
                if cause.by_choice() {
                    let _ =
                        slot.compare_exchange(0, cause.raw(), Ordering::Relaxed, Ordering::Relaxed);
                } else {
                    slot.store(cause.raw(), Ordering::Relaxed);
                }
                // Poison and decrement as one step, so the claimant sees both.
                let Ok(before) = pending.fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| {
                    Some((p | POISONED) - 1)
                }) else {
                    unreachable!("the update closure never refuses")
                };
                before
            }
        };
        debug_assert!(
            before & COUNT >= 1,
            "task {v} released more often than it has predecessors"
        );
        if before & COUNT != 1 {
            Claim::Waiting
        } else if let Some(cause) = poison.filter(|c| !c.by_choice()) {
            Claim::Poisoned(cause) // this release's failure ranks first
        } else if before & POISONED == 0 && poison.is_none() {
            Claim::Clean
        } else {
            let cause = self.causes()[v as usize].load(Ordering::Relaxed);
            match Cause::from_raw(cause) {
                Some(cause) => Claim::Poisoned(cause),
                None => unreachable!("kahn: internal error: a poisoned task without a cause"),
            }
        }
    }

    /// `None` (a clean release) if `cause` is a choice of branching task
    /// `b`, released from `b`'s own successor range (`targets[at]`), and
    /// `b` chose `v`; else `cause`. A choice that reaches `v` through a task
    /// `b` passed over is not `b`'s own release, and stays a cause.
    #[cold]
    fn unless_chosen(&self, cause: Cause, v: u32, at: u32) -> Option<Cause> {
        let b = cause.task().raw() as usize;
        let own = self.csr.succ_off[b]..self.csr.succ_off[b + 1];
        if own.contains(&at) && self.chose(cause.task().raw(), v) {
            None
        } else {
            Some(cause)
        }
    }

    /// Applies `count` deferred clean releases of task `v` at once. The
    /// caller still holds one more release of `v` (it applies it with
    /// [`claim`](Self::claim)), so these never bring the count to zero and
    /// never claim.
    #[cold]
    pub(crate) fn apply_deferred(&self, v: u32, count: u32) {
        if count == 0 {
            return;
        }
        // Release: the claimant's Acquire reads a later value of this
        // counter's release sequence, and so sees the caller's finished
        // predecessors' writes.
        let before = self.pending[v as usize].fetch_sub(count, Ordering::Release);
        debug_assert!(
            before & COUNT > count,
            "task {v}: deferred releases would have claimed it"
        );
    }

    fn causes(&self) -> &[AtomicU32] {
        self.causes
            .get_or_init(|| (0..self.pending.len()).map(|_| AtomicU32::new(0)).collect())
    }

    /// Records how task `v` ended and returns its state; a failure goes to
    /// the worker's own list, handed over when it leaves the run.
    ///
    /// The state byte is `Relaxed`: it is published to `v`'s successors by
    /// the releases that follow (see [`claim`](Self::claim)), and to the
    /// report by the join at the end of the run.
    ///
    /// # Safety
    /// The caller claimed `v` (`claim` did not return `Waiting`) and has not
    /// recorded it yet; no successor of `v` has been released.
    #[inline(always)]
    pub(crate) unsafe fn record(
        &self,
        v: u32,
        end: TaskEnd<T>,
        failures: &mut Vec<(TaskId, TaskFailure)>,
    ) -> State {
        // A task that succeeded, or was passed over by choice, reads its
        // inputs no more; one that failed, was skipped for a failure or was
        // cancelled keeps them for a resume, which will run it again.
        let done_reading = match &end {
            TaskEnd::Succeeded(_) | TaskEnd::SucceededElsewhere => true,
            TaskEnd::Skipped(cause) => cause.by_choice(),
            _ => false,
        };
        // SAFETY: the caller's contract is this one.
        let state = unsafe { self.record_state(v, end, failures) };
        if let (Some(readers), true) = (&self.readers, done_reading) {
            self.release_inputs(v, readers);
        }
        state
    }

    /// [`record`](Self::record) of a task that succeeded with `output`, in
    /// a run that does not release outputs early (the caller knows it:
    /// [`releases_outputs`](Self::releases_outputs)): what the common path
    /// pays, without bounds checks (they were a tenth of an empty task's
    /// instructions).
    ///
    /// # Safety
    /// As for `record`; and `v < n`, as for every task a worker claims (a
    /// target of the graph, see `Csr`).
    #[inline(always)]
    pub(crate) unsafe fn record_success_unreleased(&self, v: u32, output: T) -> State {
        debug_assert!(self.readers.is_none());
        debug_assert!((v as usize) < self.states.len() && self.outputs.len() == self.states.len());
        // SAFETY: `v < n` (the contract) indexes `outputs` and `states` (`n`
        // each, from `new`); this worker owns `v`'s uninitialized slot until
        // it releases `v`'s successors (`record`'s contract): no overwrite.
        unsafe {
            self.outputs
                .get_unchecked(v as usize)
                .0
                .with_mut(|slot| (*slot).write(output));
            self.states
                .get_unchecked(v as usize)
                .store(State::Succeeded.code(), Ordering::Relaxed);
        }
        State::Succeeded
    }

    /// Whether the run releases outputs early.
    pub(crate) fn releases_outputs(&self) -> bool {
        self.readers.is_some()
    }

    /// # Safety
    /// As for `record`.
    #[inline(always)]
    unsafe fn record_state(
        &self,
        v: u32,
        end: TaskEnd<T>,
        failures: &mut Vec<(TaskId, TaskFailure)>,
    ) -> State {
        let state = match end {
            TaskEnd::Succeeded(output) => {
                // By the caller's contract this worker owns `v` exclusively
                // and nobody reads the slot until `v`'s successors are released.
                self.outputs[v as usize].0.with_mut(|slot| {
                    // SAFETY: exclusive access; the slot is uninitialized
                    // (written at most once per run), so nothing is overwritten.
                    unsafe { (*slot).write(output) };
                });
                State::Succeeded
            }
            TaskEnd::SucceededElsewhere => {
                let code = State::Succeeded.code() | GONE;
                self.states[v as usize].store(code, Ordering::Relaxed);
                return State::Succeeded;
            }
            TaskEnd::Failed(failure) => {
                let state = match failure {
                    TaskFailure::Failed(_) => State::Failed,
                    TaskFailure::Panicked(_) => State::Panicked,
                    TaskFailure::TimedOut { .. } => State::TimedOut,
                };
                failures.push((TaskId::new(v), failure));
                state
            }
            TaskEnd::Skipped(cause) => {
                self.causes()[v as usize].store(cause.raw(), Ordering::Relaxed);
                State::Skipped
            }
            TaskEnd::Cancelled => State::Cancelled,
            TaskEnd::Retrying => {
                unreachable!("kahn: internal error: a task waiting for a retry recorded")
            }
        };
        self.states[v as usize].store(state.code(), Ordering::Relaxed);
        state
    }

    /// With early release: `v` has succeeded or was passed over, so it
    /// reads its inputs no more; drops each one it was the last reader of,
    /// unless kept.
    ///
    /// Ordering: each reader's decrement is `AcqRel`, so the last one
    /// happens-after every other reader's reads of the output (and after
    /// the write, which happened-before the readers ran).
    #[cold]
    #[inline(never)]
    fn release_inputs(&self, v: u32, readers: &[AtomicU32]) {
        for &p in self.csr.predecessors(v) {
            if readers[p as usize].fetch_sub(1, Ordering::AcqRel) != 1 || self.is_kept(p) {
                continue;
            }
            let code = self.states[p as usize].load(Ordering::Relaxed);
            if !holds_output(code) {
                continue;
            }
            // Marked first: should the destructor panic, nothing reads the
            // slot again.
            self.states[p as usize].store((code & !LENT) | GONE, Ordering::Relaxed);
            let output = self.outputs[p as usize].0.with(|slot| {
                // SAFETY: the slot is initialized (the state said so, and
                // only this thread may now mark it `GONE`: every reader has
                // finished) and is read out once, as the mark says.
                unsafe { (*slot).assume_init_read() }
            });
            // A panicking destructor is the task's doing, not kahn's: as
            // for a timed-out task's result, it is contained here.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(output)));
        }
    }

    fn is_kept(&self, v: u32) -> bool {
        self.kept.is_some_and(|kept| kept[v as usize])
    }

    /// The run's input.
    pub(crate) fn run_input(&self) -> Option<&RunInput> {
        self.input.as_ref()
    }

    /// Which builder made the graph.
    pub(crate) fn tag(&self) -> GraphTag {
        self.tag
    }

    /// Before the running task reads the output of its predecessor `p` by
    /// reference: notes, if it is `p`'s one reader, that a reference is out
    /// (`LENT`), so the output may not be taken, and returns `p`'s state
    /// byte as of that note, which decides whether the output is there to
    /// read. Outputs with several readers are never taken: nothing to note.
    ///
    /// A read-modify-write, as in [`take_output`](Self::take_output): the
    /// task's context is `Sync`, so threads of the task's own may read and
    /// take at once, and exactly one of a note and a take comes first.
    #[inline]
    pub(crate) fn lend(&self, p: u32) -> u8 {
        let state = &self.states[p as usize];
        if self.csr.successors(p).len() == 1 {
            state.fetch_or(LENT, Ordering::AcqRel)
        } else {
            state.load(Ordering::Relaxed)
        }
    }

    /// Moves out the output of `p`, a direct predecessor of the running task
    /// `v`, if `v` is its only reader and holds no reference to it.
    pub(crate) fn take_output(&self, p: u32) -> Result<T, Refusal> {
        let readers = self.csr.successors(p).len();
        if readers != 1 || self.is_kept(p) {
            return Err(Refusal::Shared(readers));
        }
        // Only `p`'s one reader, the running task, touches the byte and the
        // slot now, but possibly from several threads of its own (its
        // context is `Sync`): one compare-exchange decides, against other
        // takes and against `lend`, and marks the slot before it is read out.
        let succeeded = State::Succeeded.code();
        let state = &self.states[p as usize];
        match state.compare_exchange(
            succeeded,
            succeeded | GONE,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {}
            Err(code) if code & GONE != 0 => return Err(Refusal::Taken),
            Err(code) if code & LENT != 0 => return Err(Refusal::Lent),
            Err(code) => return Err(Refusal::NotSucceeded(State::from_code(code))),
        }
        Ok(self.outputs[p as usize].0.with(|slot| {
            // The exchange above found exactly Succeeded (neither `GONE` nor
            // `LENT`: no reference is out) and marked it `GONE`; only one can.
            // SAFETY: so the slot is initialized and is read out once.
            unsafe { (*slot).assume_init_read() }
        }))
    }

    /// Before another attempt of `v`: the references its last attempt took
    /// to its inputs are gone with it.
    pub(crate) fn forget_loans(&self, v: u32) {
        for &p in self.csr.predecessors(v) {
            let code = self.states[p as usize].load(Ordering::Relaxed);
            if code & LENT != 0 {
                self.states[p as usize].fetch_and(!LENT, Ordering::AcqRel);
            }
        }
    }

    /// Stores `v`'s timing, if this run records timings.
    ///
    /// # Safety
    /// As for `record`.
    #[inline]
    pub(crate) unsafe fn write_timing(&self, v: u32, timing: Timing) {
        if let Some(timings) = &self.timings {
            // SAFETY: as in `record`; timing slots are read only after
            // the run has joined.
            unsafe { *timings[v as usize].0.get() = timing }
        }
    }

    /// Stores when task `v` was settled without running (skipped, not
    /// triggered, passed over), if this run records timings: a zero-length
    /// timing at that moment ([`Report::settled_at`](crate::Report::settled_at)).
    ///
    /// # Safety
    /// As for `record`.
    #[cold]
    pub(crate) unsafe fn write_settled(&self, v: u32, worker: usize) {
        if self.timings.is_some() {
            let timing = Timing {
                start: self.start.elapsed(),
                duration: Duration::ZERO,
                worker,
            };
            // SAFETY: as for `write_timing`.
            unsafe { self.write_timing(v, timing) }
        }
    }

    /// Whether tasks take the watched path (see `instrumented`).
    #[inline]
    pub(crate) fn instrumented(&self) -> bool {
        self.instrumented
    }

    /// Whether the run has a cancel token or a deadline to check before
    /// each task, besides its stop bit.
    pub(crate) fn has_watch(&self) -> bool {
        self.watch.is_some()
    }

    /// Whether a task's attempts are timed: the run records timings, or an
    /// observer or a trace wants durations.
    pub(crate) fn times_tasks(&self) -> bool {
        self.timings.is_some() || self.observing.as_ref().is_some_and(Observing::times_tasks)
    }

    /// The observer, progress counts and trace span, if any.
    #[inline]
    pub(crate) fn observing(&self) -> Option<&Observing<'r>> {
        self.observing.as_ref()
    }

    /// The run starts: tells its observer and progress handle (after any
    /// carry-over, so they count carried tasks).
    pub(crate) fn begin_observing(&mut self, options: &RunOptions) {
        let workers = self.seat_count();
        let carried = self
            .carried
            .as_ref()
            .map_or(0, |c| c.iter().filter(|&&c| c).count());
        let tasks = self.csr.task_count();
        if let Some(observing) = &mut self.observing {
            observing.begin(options, tasks, carried, workers);
        }
    }

    /// Takes the observing part out, for the end of the run (the report
    /// consumes the rest).
    pub(crate) fn take_observing(&mut self) -> Option<Observing<'r>> {
        self.observing.take()
    }

    /// How task `p`, a direct predecessor of a task that is running now
    /// (so finished, and visible: see [`claim`](Self::claim)), ended.
    pub(crate) fn state_of(&self, p: u32) -> State {
        State::from_code(self.states[p as usize].load(Ordering::Relaxed))
    }

    /// Whether task `b`, whose choice reached a skipped task, succeeded (a
    /// branch that chose, rather than a task passed over or one whose rule
    /// did not hold). In a part run, a choice can arrive before the remote
    /// branch's own outcome (through a third part); until it does, a
    /// branching task is taken to have chosen, as such a choice says.
    pub(crate) fn branched(&self, b: u32) -> bool {
        match self.states[b as usize].load(Ordering::Relaxed) {
            0 => self.triggers.is_some_and(|t| t.branches(b)),
            code => State::from_code(code) == State::Succeeded,
        }
    }

    /// The output of `p`, which must be a direct predecessor of a task that
    /// is running now.
    pub(crate) fn output_of_predecessor(&self, p: u32) -> &T {
        // Checked in every build: this one byte load is what stands between a
        // protocol bug and reading uninitialized memory. A failure panics
        // inside the asking task, which records it as Panicked.
        assert!(
            holds_output(self.states[p as usize].load(Ordering::Relaxed)),
            "kahn: internal error: a task read the output of {p}, which has none"
        );
        // `p` is a predecessor of a running task, and its state says
        // Succeeded, which `record` stores only after writing the output. The
        // running task was released by `p` (or by a later predecessor whose
        // release sequence includes `p`'s) after that write, so the write
        // happens-before this read (see `claim`).
        self.outputs[p as usize].0.with(|slot| {
            // Nobody writes the slot again in this run, it is not taken while
            // `LENT` (set by `lend` before this read, for an output with one
            // reader), and it is released only after every reader finished.
            // SAFETY: so it is initialized, and stays so while the reader runs.
            unsafe { (*slot).assume_init_ref() }
        })
    }

    // ---- Stopping ----

    /// Whether tasks should no longer start; checks the cancel token and the
    /// deadline too, and records the reason on the first hit.
    ///
    /// A claimant of a task released after the stop always sees it: the
    /// release came after the releaser saw (or set) the stop bit, and the
    /// claimant synchronizes with the release, so coherence makes this load
    /// see the bit too. So a cancelled task's successors are cancelled, never
    /// run without its output (`output_of_predecessor` checks as well).
    #[inline]
    pub(crate) fn should_stop(&self) -> bool {
        if self.stopped() {
            return true;
        }
        let Some(watch) = &self.watch else {
            return false;
        };
        if watch.token.as_ref().is_some_and(CancelToken::is_cancelled) {
            self.stop(StopReason::Cancelled);
            return true;
        }
        if watch.deadline.is_some_and(|d| Instant::now() >= d) {
            self.stop(StopReason::DeadlineExceeded);
            return true;
        }
        false
    }

    /// Whether the stop bit is up; unlike [`should_stop`](Self::should_stop),
    /// leaves the cancel token and the deadline unchecked (for runs that
    /// have neither). What makes its relaxed load enough is said there.
    #[inline]
    pub(crate) fn stopped(&self) -> bool {
        self.signals.stopped()
    }

    /// Stops the run from starting tasks, keeping the first reason given;
    /// the first stop also takes the run's tasks off resource wait lists,
    /// to be cancelled rather than wait for units.
    fn stop(&self, reason: StopReason) {
        // A task that asks names itself first, and only the first task to
        // ask may record the reason: so whoever reads the reason reads the
        // task that gave it (Release here, Acquire in `stop_reason`).
        let claimed = match reason {
            StopReason::CancelledByTask(task) => self
                .stopped_by
                .compare_exchange(NOBODY, task.raw(), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok(),
            _ => true,
        };
        let first = claimed
            && self
                .stop_reason
                .compare_exchange(0, reason.code(), Ordering::Release, Ordering::Relaxed)
                .is_ok();
        self.signals.stop();
        if first {
            // Read only by the report, after every worker has left.
            let at = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(NOT_STOPPED - 1);
            self.stopped_at.store(at, Ordering::Relaxed);
            self.withdraw_waiters();
            if self.retries.is_some() && self.retry_queue.is_waiting() {
                // Every waiting retry is due now, to be recorded with its
                // last failure; a run with no worker left needs one called.
                self.retry_queue.all_due();
                self.sleep.wake_all();
                self.inbox.call_worker();
            }
        }
    }

    fn withdraw_waiters(&self) {
        if let Some(table) = self.resources {
            table.withdraw(&self.inbox);
        }
    }

    // ---- Resources ----

    /// Takes the resources task `v` (claimed cleanly) uses, all or none.
    #[cold]
    pub(crate) fn acquire_for(&self, table: &ResourceTable<'_>, v: u32) -> Acquired {
        if self.should_stop() {
            return Acquired::NotNeeded;
        }
        if table.try_acquire(v, &self.inbox) {
            return Acquired::Held;
        }
        // A stop between the check above and the parking would have missed
        // this waiter: take it off again (see `resource.rs`).
        if self.should_stop() {
            self.withdraw_waiters();
        }
        Acquired::Parked
    }

    /// Gives back the resources of task `v` if it took them (it ran, or
    /// started and was cancelled after taking them).
    #[cold]
    pub(crate) fn release_for(&self, table: &ResourceTable<'_>, v: u32) {
        table.release(v);
    }

    /// Stops the run for task `task`, which asked to.
    pub(crate) fn cancel_by(&self, task: TaskId) {
        self.stop(StopReason::CancelledByTask(task));
    }

    // ---- Retries ----

    /// Task `v`'s attempt failed with `failure`: if its policy allows
    /// another (and the run has not stopped), tells the observer (of a
    /// watched run, which gives `attempt`), queues it for later and returns
    /// `Ok`; else gives the failure back, to be recorded.
    #[cold]
    pub(crate) fn retry_later(
        &self,
        v: u32,
        failure: TaskFailure,
        attempt: Option<&Attempt>,
    ) -> Result<(), TaskFailure> {
        let Some(policy) = self.retries.and_then(|r| r.of(v)) else {
            return Err(failure);
        };
        if self.should_stop() {
            return Err(failure);
        }
        let timing = self.timings.as_ref().map(|timings| {
            // SAFETY: this worker claimed `v`, wrote this attempt's timing
            // and has not released its successors (as for `write_timing`).
            unsafe { *timings[v as usize].0.get() }
        });
        let Some(failed) = self.retry_queue.will_retry(v, &failure, policy) else {
            return Err(failure);
        };
        let now = self.elapsed_nanos();
        let seed = now ^ (u64::from(v) << 32) ^ u64::from(failed);
        let wait = policy.wait_after(failed, retries::noise(seed));
        if let (Some(observing), Some(attempt)) = (&self.observing, attempt) {
            // Before the task is queued, where another worker may start it.
            observing.task_retried(v, attempt, &failure, wait);
        }
        self.retry_queue.log(v, failure, timing);
        let due = now.saturating_add(u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX));
        if self.retry_queue.wait(v, due) {
            // Sooner than anyone sleeping planned to look again.
            self.sleep.wake_all();
            if let Some(waiter) = &self.waiter {
                waiter.unpark();
            }
        }
        // A stop that came between the check above and the queueing made
        // the waiting tasks due without this one: it is due too.
        if self.should_stop() {
            self.retry_queue.all_due();
        }
        Ok(())
    }

    /// A task whose retry is due, if the graph has retries and one is.
    #[inline]
    pub(crate) fn take_due_retry(&self) -> Option<u32> {
        self.retries?;
        self.retry_queue.take_due(self.elapsed_nanos())
    }

    /// Whether a retry is due (a hint).
    fn retry_due(&self) -> bool {
        self.retries.is_some() && self.retry_queue.is_due(self.elapsed_nanos())
    }

    /// How long until the earliest retry is due, if one waits.
    pub(crate) fn until_retry(&self) -> Option<Duration> {
        self.retries?;
        let nanos = self.retry_queue.until_due(self.elapsed_nanos())?;
        Some(Duration::from_nanos(nanos))
    }

    /// For the thread that started the run: calls a worker if a retry is
    /// due (the run may have none left), and says how long until the next.
    pub(crate) fn call_for_retries(&self) -> Option<Duration> {
        let until = self.until_retry()?;
        if until.is_zero() {
            self.inbox.call_worker();
        }
        Some(until)
    }

    /// How claimed task `v` ends when the run stopped before it could
    /// start (again): with its last failure if it failed an attempt and
    /// was waiting for another (a retry, perhaps parked on a resource), else
    /// cancelled. The failure is the cause of its successors' skips.
    #[cold]
    pub(crate) fn stopped_end(&self, v: u32) -> (TaskEnd<T>, Option<Cause>) {
        if self.retries.is_some() && self.retry_queue.attempt_of(v) > 1 {
            let failure = self.retry_queue.give_up(v);
            (TaskEnd::Failed(failure), Some(Cause::new(TaskId::new(v))))
        } else {
            (TaskEnd::Cancelled, None)
        }
    }

    /// The attempt task `v` is on, from 1.
    pub(crate) fn attempt_of(&self, v: u32) -> u32 {
        if self.retries.is_none() {
            return 1;
        }
        self.retry_queue.attempt_of(v)
    }

    /// Reacts to a task's failure according to the run's policy.
    pub(crate) fn on_failure(&self) {
        if self.policy == FailurePolicy::FailFast {
            self.stop(StopReason::FailFast);
        }
    }

    // ---- Work between workers ----

    /// Whether some worker is looking for work.
    #[inline]
    pub(crate) fn peer_hungry(&self) -> bool {
        self.signals.someone_hungry()
    }

    /// The run's signals, for the slow paths that act on them.
    pub(crate) fn signals(&self) -> &Signals {
        &self.signals
    }

    /// Whether this run may have more than one worker, so that anyone could
    /// take work a worker publishes or announces.
    #[inline]
    pub(crate) fn has_peers(&self) -> bool {
        self.seats.len() > 1
    }

    /// The fences of the rescue handshake.
    #[inline]
    pub(crate) fn fences(&self) -> &Fences {
        &self.fences
    }

    /// Seat `i`.
    #[inline]
    pub(crate) fn seat(&self, i: usize) -> &Seat {
        &self.seats[i]
    }

    /// Sits a worker in a free seat; `None` if all are taken.
    pub(crate) fn take_seat(&self) -> Option<(usize, Worker<Releases>)> {
        self.seats
            .iter()
            .enumerate()
            .find_map(|(i, seat)| seat.try_take().map(|deque| (i, deque)))
    }

    /// How many sightings an idle worker keeps: one per seat.
    pub(crate) fn seat_count(&self) -> usize {
        self.seats.len()
    }

    /// Tells sleeping workers that work was just pushed to a deque.
    pub(crate) fn shared(&self) {
        self.sleep.wake_one();
    }

    /// Accounts for `finished` tasks a worker has not reported yet; `true`
    /// if that ended the run.
    ///
    /// # How a run ends
    ///
    /// Every task is claimed exactly once and then finished exactly once:
    /// run, skipped or cancelled (a stopped run still walks the rest of the
    /// graph, marking tasks cancelled). Workers subtract what they finished
    /// from `remaining` only when they hold no work (idle) or have published
    /// all they hold (leaving). So only a worker holding
    /// finished-but-unsubtracted tasks can bring `remaining` to zero, and
    /// zero means every task is finished and no work exists anywhere. That
    /// worker wakes all sleepers; every worker that sees zero leaves.
    pub(crate) fn subtract(&self, finished: usize) -> bool {
        if finished == 0 {
            return false;
        }
        let before = self.remaining.fetch_sub(finished, Ordering::AcqRel);
        debug_assert!(before >= finished, "more tasks finished than the graph has");
        if before == finished {
            self.sleep.wake_all();
            return true;
        }
        false
    }

    /// Called by the worker in seat `me` once it holds no work: steals,
    /// watches peers that announced private work (and rescues it from one
    /// stuck in a long task), spins, then, as `waiting` says, sleeps until
    /// there is something or returns [`Found::Nothing`] so it can leave.
    ///
    /// # Leaving and sleeping without stranding work
    ///
    /// A worker may leave or sleep only if no peer holds announced work and
    /// none will without noticing it: it raises `WANT` (if it may leave) and
    /// stays counted hungry, pays the heavy fence, and looks at the
    /// announcements once more. A peer that announces afterwards pays the
    /// light fence and then reads the signals, so it sees the hunger (or
    /// `WANT`) and publishes its work (or calls a worker) itself.
    pub(crate) fn wait_for_work(
        &self,
        me: usize,
        waiting: Waiting,
        seen: &mut [Sighting],
    ) -> Found {
        self.signals.hungry();
        let found = self.look_for_work(me, waiting, seen);
        self.signals.fed();
        found
    }

    fn look_for_work(&self, me: usize, waiting: Waiting, seen: &mut [Sighting]) -> Found {
        // `seen` is kept from one idle spell to the next: a run reuses no
        // announcement number, and a spent one must stay spent.
        let backoff = Backoff::new();
        #[cfg(not(loom))]
        let idle_since = Instant::now();
        loop {
            if self.is_over() {
                return Found::Over;
            }
            if let Some(returned) = self.inbox.take() {
                return Found::Returned(returned);
            }
            if let Some(task) = self.take_due_retry() {
                return Found::Retry(task);
            }
            if let Some(work) = self.steal(me) {
                return Found::Work(work);
            }
            match self.watch_announcements(me, seen) {
                Watched::Rescued(hidden) => return Found::Rescued(hidden),
                // Someone holds work and may share it or be rescued soon.
                Watched::Announced => {
                    backoff.snooze();
                    continue;
                }
                Watched::Quiet => {}
            }
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            match waiting {
                Waiting::MayLeave => {
                    // Stay a little before leaving, unless another run waits
                    // for a worker: a run between two waves of work would
                    // otherwise see its workers leave and be called back
                    // (and each leave pays a heavy fence).
                    #[cfg(not(loom))]
                    if idle_since.elapsed() < STAY_IDLE && !self.signals.rotate() {
                        backoff.reset();
                        std::thread::yield_now();
                        continue;
                    }
                    let mut over = false;
                    let found = mark_dry_then_look(&self.signals, &self.fences, || {
                        over = self.is_over();
                        over || self.has_visible_work() || self.any_fresh_announcement(me, seen)
                    });
                    if over {
                        return Found::Over;
                    }
                    if !found {
                        return Found::Nothing;
                    }
                }
                Waiting::Stays => {
                    self.sleep.sleep(self.until_retry(), || {
                        self.fences.heavy();
                        self.is_over()
                            || self.has_visible_work()
                            || self.any_fresh_announcement(me, seen)
                    });
                    // A worker that stays may be the run's only one (a
                    // nested run's caller) with every task parked on a
                    // resource: it wakes now and then to look at the
                    // deadline and the token, as no task start will. A stop
                    // hands the parked tasks back, to be cancelled.
                    self.should_stop();
                }
            }
            backoff.reset();
        }
    }

    /// Looks at every other seat's announcement; rescues the work of a peer
    /// that has been in one announced task for [`RESCUE_AFTER`] (under loom,
    /// seen in the same task twice).
    fn watch_announcements(&self, me: usize, seen: &mut [Sighting]) -> Watched {
        let mut announced = false;
        for (i, seat) in self.seats.iter().enumerate() {
            if i == me {
                continue;
            }
            let number = seat.announcement();
            let sighting = &mut seen[i];
            if number == 0 {
                *sighting = Sighting::default();
                continue;
            }
            if sighting.number != number {
                *sighting = Sighting {
                    number,
                    #[cfg(not(loom))]
                    since: Some(Instant::now()),
                    spent: false,
                };
                announced = true;
                continue;
            }
            if sighting.spent {
                continue;
            }
            announced = true;
            #[cfg(not(loom))]
            if sighting
                .since
                .is_some_and(|since| since.elapsed() < RESCUE_AFTER)
            {
                continue;
            }
            // Rescued, or nothing left: either way, done with this one.
            sighting.spent = true;
            if let Some(hidden) = seat.rescue(number, &self.fences) {
                return Watched::Rescued(hidden);
            }
        }
        if announced {
            Watched::Announced
        } else {
            Watched::Quiet
        }
    }

    /// Whether some other seat holds an announcement this worker has not
    /// spent (see [`Sighting::spent`]).
    fn any_fresh_announcement(&self, me: usize, seen: &[Sighting]) -> bool {
        self.seats.iter().enumerate().any(|(i, seat)| {
            let number = seat.announcement();
            i != me && number != 0 && !(seen[i].spent && seen[i].number == number)
        })
    }

    /// Whether the run has ended: every task finished and accounted for.
    pub(crate) fn is_over(&self) -> bool {
        self.remaining.load(Ordering::Acquire) == 0
    }

    /// Takes published work: the sources first, then the other seats'
    /// deques, starting after `me`.
    fn steal(&self, me: usize) -> Option<Releases> {
        loop {
            let mut retry = false;
            match self.injector.steal() {
                Steal::Success(work) => return Some(work),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            let n = self.seats.len();
            for i in 1..n {
                match self.seats[(me + i) % n].stealer().steal() {
                    Steal::Success(work) => return Some(work),
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return None;
            }
        }
    }

    /// A worker that leaves the run for another with nothing to leave
    /// behind (it rotates with no private work): the run is dry unless
    /// work is visible after the mark, as for a worker that leaves for lack
    /// of work (`look_for_work`).
    pub(crate) fn leave_empty_handed(&self) {
        if mark_dry_then_look(&self.signals, &self.fences, || self.has_visible_work()) {
            self.signals.not_dry();
        }
    }

    /// Whether any published work waits: sources or a seat's deque.
    pub(crate) fn has_visible_work(&self) -> bool {
        self.inbox.has_returned()
            || self.retry_due()
            || !self.injector.is_empty()
            || self.seats.iter().any(|s| !s.stealer().is_empty())
    }

    /// Hands over a leaving worker's counts and failures.
    pub(crate) fn leave(&self, tally: &Tally, failures: Vec<(TaskId, TaskFailure)>) {
        for (total, &count) in self.tally.iter().zip(&tally.0) {
            if count > 0 {
                total.fetch_add(count, Ordering::Relaxed);
            }
        }
        if !failures.is_empty() {
            self.failures
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(failures);
        }
    }

    // ---- The report ----

    /// Turns the finished run into its report. Call only after every worker
    /// has returned.
    /// Takes the seats back once every worker has left, to be reset and
    /// lent to a later run (their buffers keep their capacity).
    pub(crate) fn take_seats(&mut self) -> Box<[Seat]> {
        std::mem::take(&mut self.seats)
    }

    pub(crate) fn into_report(self, wall: Duration) -> Report<'r, T> {
        assert!(
            self.is_over(),
            "kahn: internal error: a report of a run that has not finished"
        );
        let tally = self.tally.map(AtomicUsize::into_inner);
        let mut counts = Counts {
            succeeded: tally[State::Succeeded.index()],
            failed: tally[State::Failed.index()],
            panicked: tally[State::Panicked.index()],
            skipped: tally[State::Skipped.index()],
            cancelled: tally[State::Cancelled.index()],
            timed_out: tally[State::TimedOut.index()],
            by_choice: 0,
            carried_over: 0,
        };
        if let Some(carried) = &self.carried {
            counts.carried_over = carried.iter().filter(|&&c| c).count();
            counts.succeeded += counts.carried_over;
        }
        debug_assert_eq!(counts.total(), self.states.len(), "every task counted once");
        let stop =
            StopReason::from_code(self.stop_reason.into_inner(), self.stopped_by.into_inner());
        let stopped_at = match self.stopped_at.into_inner() {
            NOT_STOPPED => None,
            nanos => Some(Duration::from_nanos(nanos)),
        };
        // All workers have joined, so nothing else touches the slots; the
        // report reads an output only where `states` says Succeeded and not
        // `GONE`, which is exactly where `record` wrote one and nobody took
        // or released it.
        let outputs = Slot::into_outputs(self.outputs);
        let mut failures = self
            .failures
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        failures.sort_unstable_by_key(|(id, _)| *id);
        let causes: Option<Box<[u32]>> = self.causes.into_inner().map(|causes| {
            causes
                .into_vec()
                .into_iter()
                .map(AtomicU32::into_inner)
                .collect()
        });
        // A reference a reader took is gone with it.
        let states: Box<[u8]> = self
            .states
            .into_vec()
            .into_iter()
            .map(|code| code.into_inner() & !LENT)
            .collect();
        if let (Some(causes), true) = (&causes, counts.skipped > 0) {
            counts.by_choice = states
                .iter()
                .zip(causes.iter())
                .filter(|&(&state, &cause)| {
                    state == State::Skipped.code()
                        && Cause::from_raw(cause).is_some_and(Cause::by_choice)
                })
                .count();
        }
        let timings = self.timings.map(|t| {
            t.into_vec()
                .into_iter()
                .map(|slot| slot.0.into_inner())
                .collect()
        });
        let retried = self.retry_queue.into_log();
        let choices = self
            .choices
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        Report {
            retried,
            choices,
            carried: self.carried,
            graph: GraphKey::of(&self.csr),
            tag: self.tag,
            names: self.names,
            states,
            outputs,
            failures,
            causes,
            timings,
            counts,
            wall,
            stop,
            stopped_at,
        }
    }
}

/// Where `v` is in `list`, which holds it.
fn position(list: &[u32], v: usize) -> usize {
    match list.iter().position(|&w| w as usize == v) {
        Some(at) => at,
        None => unreachable!("kahn: internal error: task {v} is not where the graph says"),
    }
}

/// A worker's side of the dry handshake (see `signals.rs`): marks the run
/// dry, pays the heavy fence, then looks for work once more with `look`.
/// Whether it found any. Work handed in after the look clears the mark;
/// work handed in before it is seen.
fn mark_dry_then_look(signals: &Signals, fences: &Fences, look: impl FnOnce() -> bool) -> bool {
    signals.leaving_dry();
    fences.heavy();
    look()
}

/// What a resource does when it hands a parked task back to this run (and
/// what a retry falling due, a remote outcome and a stop do): wake a
/// sleeping worker, and call one if the run may have none. A run its
/// workers left dry waits for a worker again: the registry recomputes
/// which runs must rotate (so that, if every thread serves another run,
/// theirs move) before the call.
fn wake_on_return(
    sleep: &Arc<Sleep>,
    signals: &Arc<Signals>,
    executor: Option<Arc<Shared>>,
) -> Box<dyn Fn() -> bool + Send + Sync> {
    let (sleep, signals) = (Arc::clone(sleep), Arc::clone(signals));
    Box::new(move || {
        let woke = sleep.wake_one();
        let was_dry = signals.work_arrived();
        if let Some(shared) = &executor {
            if was_dry {
                shared.refresh_rotation();
            }
            return registry::spawn_worker(shared) || woke;
        }
        true
    })
}

/// A run's dry mark and inbox, for the loom model of the handshake between
/// a worker leaving for lack of work and a task handed back meanwhile: the
/// worker's side through `look_for_work`'s own handshake (looking only at
/// the inbox), the hand-back's through the inbox's own wake-up, as a
/// resource or a part run's feed makes it.
#[cfg(loom)]
#[doc(hidden)]
#[derive(Debug)]
pub struct DryRun {
    signals: Arc<Signals>,
    inbox: Inbox,
}

#[cfg(loom)]
impl DryRun {
    /// A run with nothing in it, not marked dry.
    #[allow(clippy::new_without_default)]
    pub fn new() -> DryRun {
        let (sleep, signals) = (Arc::new(Sleep::new()), Arc::new(Signals::new()));
        let inbox = Inbox::new(wake_on_return(&sleep, &signals, None));
        DryRun { signals, inbox }
    }

    /// A worker's last look before it leaves for lack of work, through the
    /// same handshake as `look_for_work`'s, at the inbox. Whether it found
    /// work (and stays).
    pub fn last_look(&self) -> bool {
        mark_dry_then_look(&self.signals, &Fences::symmetric(), || {
            self.inbox.has_returned()
        })
    }

    /// Hands a task in, as a part run's feed does (the same wake-up as a
    /// resource's hand-back).
    pub fn hand_in(&self) {
        self.inbox.hand_back_remote(0);
    }

    /// Whether the run is marked dry.
    pub fn dry(&self) -> bool {
        self.signals.dry()
    }
}
