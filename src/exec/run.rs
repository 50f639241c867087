//! Per-run state: the counters, states, output slots and signals one run of a graph
//! needs, kept out of the immutable graph so runs never interfere.
//!
//! # Memory ordering
//!
//! - A task's state byte and (on success) output slot are written by the one
//!   worker that claimed it, *before* that worker releases the task's
//!   successors. A release is a
//!   `fetch_sub(AcqRel)` on the successor's `pending` counter, or, when the
//!   releaser is the last predecessor, only an `Acquire` load that sees 1 (the
//!   other predecessors' `Release` decrements form one release sequence, so the
//!   load synchronizes with all of them). Whoever claims a successor therefore
//!   happens-after every predecessor's output write: that is what makes
//!   [`RunCore::output_of_predecessor`] sound.
//! - Ready ranges that cross threads go through crossbeam's deque and
//!   injector, which synchronize push with steal.
//! - `signals` (stop bit, hungry-worker count) is read `Relaxed` on the hot
//!   path. The hungry count is only a hint. The stop bit is sticky, and that
//!   matters for data: a cancelled task releases its successors cleanly, and
//!   they must be cancelled too, never run with a predecessor that has no
//!   output. They are: the claimant synchronizes with the cancelled task's
//!   release, which came after the stop bit was set, so coherence makes its
//!   own load of `signals` see the bit. `output_of_predecessor` also checks
//!   the predecessor's state in every build, as a second line of defence.
//! - The run ends when `remaining` reaches zero (`AcqRel`); the caller reads
//!   states and slots only after rayon's broadcast has joined every worker, which
//!   orders all worker writes before the report is built (under loom,
//!   joining the model's threads does).
//!
//! Built with `--cfg loom`, these atomics, the output slots, the deques and
//! the sleep lock are loom's, and `tests/loom.rs` checks the claims above on
//! small graphs (see `crate::sync` for what is and is not modelled).

use std::mem::MaybeUninit;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use crate::compile::Csr;
use crate::error::TaskFailure;
use crate::exec::sleep::Sleep;
use crate::graph::Graph;
use crate::id::TaskId;
use crate::names::Names;
use crate::options::{FailurePolicy, RunOptions};
use crate::report::{Counts, Report, State, StopReason, Timing};
use crate::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering};
use crate::sync::cell::UnsafeCell;
use crate::sync::deque::{Injector, Stealer};
use crate::sync::{Mutex, OnceLock};

/// A range of `Csr::targets` whose tasks are each to be released once.
///
/// Successor ranges release tasks that may still wait on other predecessors;
/// the source range releases tasks whose only "predecessor" is the run's start
/// (their pending count is 1). `cause` is `TaskId::NONE` for a clean release,
/// or the failed task that poisons every task in the range.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Job {
    pub(crate) lo: u32,
    pub(crate) hi: u32,
    pub(crate) cause: u32,
}

impl Job {
    pub(crate) const EMPTY: Job = Job {
        lo: 0,
        hi: 0,
        cause: TaskId::NONE,
    };

    pub(crate) fn len(&self) -> u32 {
        self.hi - self.lo
    }
}

/// Set in `pending` once a poisoned release reached the task.
const POISONED: u32 = 1 << 31;
const COUNT: u32 = POISONED - 1;

/// Set in `signals` once the run stops starting tasks.
pub(crate) const STOP: u32 = 1 << 31;
/// The low bits of `signals`: how many workers are looking for work.
pub(crate) const HUNGRY: u32 = STOP - 1;

/// One task's output for one run, written once by the worker that ran it, if
/// it succeeded.
///
/// Uninitialized until then: a run does not pay to fill slots it may never
/// use. `repr(transparent)` (as are `sync::cell::UnsafeCell`, outside loom,
/// and `MaybeUninit`) so a finished run's slots become the report's outputs
/// in place.
#[repr(transparent)]
pub(crate) struct Slot<T>(UnsafeCell<MaybeUninit<T>>);

// SAFETY: a slot is written at most once, by the worker that claimed its task
// (claiming is exclusive: see `RunCore::claim`), and read only by tasks that
// happen-after that write (its successors; see the module's memory-ordering
// notes) or by the caller after every worker has joined. `T: Send` lets the
// output be produced on one thread and moved out on another; `T: Sync` lets
// several successors read it at once.
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
pub(crate) struct TimingSlot(std::cell::UnsafeCell<Timing>);

// SAFETY: as for `Slot`: one writer, the claimant, and no reader until every
// worker has joined.
unsafe impl Sync for TimingSlot {}

/// Everything one run shares between its workers.
pub(crate) struct RunCore<'r, T> {
    pub(crate) csr: Csr<'r>,
    pub(crate) names: Names<'r>,
    /// `State::code` of each task once finished (0 before); one byte per
    /// task, so a run of empty tasks writes little memory.
    states: Box<[AtomicU8]>,
    outputs: Box<[Slot<T>]>,
    /// Failures, gathered from the workers as they leave the run.
    failures: Mutex<Vec<(TaskId, TaskFailure)>>,
    timings: Option<Box<[TimingSlot]>>,
    /// Releases each task still waits for; `POISONED` once a failure reached it.
    pending: Box<[AtomicU32]>,
    /// For a poisoned or skipped task, the failed task that caused it.
    /// Allocated by the first failure, so a clean run pays nothing for it.
    causes: OnceLock<Box<[AtomicU32]>>,
    /// `STOP` bit and hungry-worker count; see `STOP` and `HUNGRY`.
    pub(crate) signals: AtomicU32,
    stop_reason: AtomicU8,
    /// Tasks not yet accounted for; workers subtract what they finished when
    /// they run out of work, and the run ends at zero.
    pub(crate) remaining: AtomicUsize,
    tally: [AtomicUsize; 6],
    policy: FailurePolicy,
    watch: Option<Watch>,
    pub(crate) start: Instant,
    pub(crate) injector: Injector<Job>,
    pub(crate) stealers: Vec<Stealer<Job>>,
    pub(crate) sleep: Sleep,
}

/// External reasons to stop, checked before each task starts.
struct Watch {
    token: Option<crate::CancelToken>,
    deadline: Option<Instant>,
}

impl<'r, T> RunCore<'r, T> {
    pub(crate) fn new(
        graph: &'r Graph<'_, T>,
        options: &RunOptions,
        stealers: Vec<Stealer<Job>>,
    ) -> Self {
        let n = graph.task_count();
        let start = Instant::now();
        let deadline = options.effective_deadline(start);
        let watch = (options.cancel.is_some() || deadline.is_some()).then(|| Watch {
            token: options.cancel.clone(),
            deadline,
        });
        let core = RunCore {
            csr: graph.csr,
            names: graph.names,
            states: (0..n).map(|_| AtomicU8::new(0)).collect(),
            outputs: (0..n)
                .map(|_| Slot(UnsafeCell::new(MaybeUninit::uninit())))
                .collect(),
            failures: Mutex::new(Vec::new()),
            timings: options.timings.then(|| {
                (0..n)
                    .map(|_| TimingSlot(std::cell::UnsafeCell::new(Timing::default())))
                    .collect()
            }),
            pending: graph
                .csr
                .init_pending
                .iter()
                .map(|&p| AtomicU32::new(p))
                .collect(),
            causes: OnceLock::new(),
            signals: AtomicU32::new(0),
            stop_reason: AtomicU8::new(0),
            remaining: AtomicUsize::new(n),
            tally: Default::default(),
            policy: options.policy,
            watch,
            start,
            injector: Injector::new(),
            stealers,
            sleep: Sleep::new(),
        };
        let sources = Job {
            lo: graph.csr.sources_start,
            hi: graph.csr.targets.len() as u32,
            cause: TaskId::NONE,
        };
        if sources.len() > 0 {
            core.injector.push(sources);
        }
        core
    }

    /// Releases task `v` once, from a predecessor (or the run's start) whose
    /// own failure, if any, is `cause`. Returns `Some(cause)` if this release
    /// was the last one, so the caller now owns `v`; the cause is `NONE` unless
    /// some release poisoned `v`.
    #[inline]
    pub(crate) fn claim(&self, v: u32, cause: u32) -> Option<u32> {
        let pending = &self.pending[v as usize];
        // The last release needs no read-modify-write: nobody else will touch
        // the counter again. A poisoned counter is never exactly 1.
        if pending.load(Ordering::Acquire) == 1 {
            return Some(cause);
        }
        let before = if cause == TaskId::NONE {
            pending.fetch_sub(1, Ordering::AcqRel)
        } else {
            self.causes()[v as usize].store(cause, Ordering::Relaxed);
            // Poison and decrement as one step, so the claimant sees both.
            let Ok(before) = pending.fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| {
                Some((p | POISONED) - 1)
            }) else {
                unreachable!("the update closure never refuses")
            };
            before
        };
        debug_assert!(
            before & COUNT >= 1,
            "task {v} released more often than it has predecessors"
        );
        if before & COUNT != 1 {
            None
        } else if cause != TaskId::NONE {
            Some(cause) // this release poisoned the task itself
        } else if before & POISONED == 0 {
            Some(TaskId::NONE)
        } else {
            Some(self.causes()[v as usize].load(Ordering::Relaxed))
        }
    }

    fn causes(&self) -> &[AtomicU32] {
        self.causes.get_or_init(|| {
            (0..self.pending.len())
                .map(|_| AtomicU32::new(TaskId::NONE))
                .collect()
        })
    }

    /// Records how task `v` finished and returns its state; a failure goes
    /// to the worker's own list, merged when the worker leaves the run.
    ///
    /// # Safety
    /// The caller claimed `v` (`claim` returned `Some`) and has not recorded
    /// it yet; no successor of `v` has been released.
    #[inline]
    pub(crate) unsafe fn record(
        &self,
        v: u32,
        finish: Finish<T>,
        failures: &mut Vec<(TaskId, TaskFailure)>,
    ) -> State {
        let state = match finish {
            Finish::Succeeded(output) => {
                // By the caller's contract this worker owns `v` exclusively
                // and nobody reads the slot until `v`'s successors are released.
                self.outputs[v as usize].0.with_mut(|slot| {
                    // SAFETY: exclusive access; the slot is uninitialized
                    // (written at most once per run), so nothing is overwritten.
                    unsafe { (*slot).write(output) };
                });
                State::Succeeded
            }
            Finish::Failed(failure) => {
                let state = match failure {
                    TaskFailure::Failed(_) => State::Failed,
                    TaskFailure::Panicked(_) => State::Panicked,
                };
                failures.push((TaskId::new(v), failure));
                state
            }
            Finish::Skipped(cause) => {
                self.causes()[v as usize].store(cause, Ordering::Relaxed);
                State::Skipped
            }
            Finish::Cancelled => State::Cancelled,
        };
        self.states[v as usize].store(state.code(), Ordering::Relaxed);
        state
    }

    /// Adds a leaving worker's failures.
    pub(crate) fn add_failures(&self, failures: Vec<(TaskId, TaskFailure)>) {
        if !failures.is_empty() {
            self.failures
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(failures);
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

    pub(crate) fn records_timings(&self) -> bool {
        self.timings.is_some()
    }

    /// The output of `p`, which must be a direct predecessor of a task that
    /// is running now.
    pub(crate) fn output_of_predecessor(&self, p: u32) -> &T {
        // Checked in every build: this one byte load is what stands between a
        // protocol bug and reading uninitialized memory. A failure panics
        // inside the asking task, which records it as Panicked.
        assert_eq!(
            self.states[p as usize].load(Ordering::Relaxed),
            State::Succeeded.code(),
            "kahn: internal error: a task ran before its predecessor {p} succeeded"
        );
        // `p` is a predecessor of a running task, and its state says
        // Succeeded, which `record` stores only after writing the output. The
        // running task was released by `p` (or by a later predecessor whose
        // release sequence includes `p`'s) after that write, so the write
        // happens-before this read (memory ordering notes).
        self.outputs[p as usize].0.with(|slot| {
            // SAFETY: the slot is initialized, and nobody writes it again in
            // this run, so a shared reference to it is valid for the run.
            unsafe { (*slot).assume_init_ref() }
        })
    }

    /// Whether tasks should no longer start; checks the cancel token and the
    /// deadline too, and records the reason on the first hit.
    #[inline]
    pub(crate) fn should_stop(&self) -> bool {
        if self.signals.load(Ordering::Relaxed) & STOP != 0 {
            return true;
        }
        let Some(watch) = &self.watch else {
            return false;
        };
        if watch
            .token
            .as_ref()
            .is_some_and(crate::CancelToken::is_cancelled)
        {
            self.stop(StopReason::Cancelled);
            return true;
        }
        if watch.deadline.is_some_and(|d| Instant::now() >= d) {
            self.stop(StopReason::DeadlineExceeded);
            return true;
        }
        false
    }

    pub(crate) fn stop(&self, reason: StopReason) {
        let code = match reason {
            StopReason::Cancelled => 1,
            StopReason::DeadlineExceeded => 2,
            StopReason::FailFast => 3,
        };
        let _ = self
            .stop_reason
            .compare_exchange(0, code, Ordering::Relaxed, Ordering::Relaxed);
        self.signals.fetch_or(STOP, Ordering::Relaxed);
    }

    /// Reacts to a task's failure according to the run's policy.
    pub(crate) fn on_failure(&self) {
        if self.policy == FailurePolicy::FailFast {
            self.stop(StopReason::FailFast);
        }
    }

    /// Adds one worker's counts of non-successes.
    pub(crate) fn add_tally(&self, tally: &Tally) {
        for (total, &count) in self.tally.iter().zip(&tally.0) {
            if count > 0 {
                total.fetch_add(count, Ordering::Relaxed);
            }
        }
    }

    /// Turns the finished run into its report. Call only after every worker
    /// has returned.
    pub(crate) fn into_report(self, wall: Duration) -> Report<'r, T> {
        assert_eq!(
            self.remaining.load(Ordering::Acquire),
            0,
            "kahn: internal error: a report of a run that has not finished"
        );
        let tally = self.tally.map(AtomicUsize::into_inner);
        let count = |state: State| tally[usize::from(state.code())];
        let counts = Counts {
            succeeded: self.states.len()
                - count(State::Failed)
                - count(State::Panicked)
                - count(State::Skipped)
                - count(State::Cancelled),
            failed: count(State::Failed),
            panicked: count(State::Panicked),
            skipped: count(State::Skipped),
            cancelled: count(State::Cancelled),
        };
        let stop = match self.stop_reason.into_inner() {
            1 => Some(StopReason::Cancelled),
            2 => Some(StopReason::DeadlineExceeded),
            3 => Some(StopReason::FailFast),
            _ => None,
        };
        // All workers have joined, so nothing else touches the slots; the
        // report reads an output only where `states` says Succeeded, which is
        // exactly where `record` wrote one.
        let outputs = Slot::into_outputs(self.outputs);
        let mut failures = self
            .failures
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        failures.sort_unstable_by_key(|(id, _)| *id);
        let causes = self.causes.into_inner().map(|causes| {
            causes
                .into_vec()
                .into_iter()
                .map(AtomicU32::into_inner)
                .collect()
        });
        let states = self
            .states
            .into_vec()
            .into_iter()
            .map(AtomicU8::into_inner)
            .collect();
        let timings = self.timings.map(|t| {
            t.into_vec()
                .into_iter()
                .map(|slot| slot.0.into_inner())
                .collect()
        });
        Report {
            names: self.names,
            states,
            outputs,
            failures,
            causes,
            timings,
            counts,
            wall,
            stop,
        }
    }
}

/// How a claimed task finished, on its way to being recorded.
pub(crate) enum Finish<T> {
    Succeeded(T),
    Failed(TaskFailure),
    /// Skipped for this failed task.
    Skipped(u32),
    Cancelled,
}

/// A worker's private count of tasks per state (indexed by `State::code`);
/// merged once when the worker leaves the run.
#[derive(Debug, Default)]
pub(crate) struct Tally(pub(crate) [usize; 6]);

impl Tally {
    #[inline]
    pub(crate) fn count(&mut self, state: State) {
        self.0[usize::from(state.code())] += 1;
    }

    /// Tasks counted in every state.
    pub(crate) fn total(&self) -> usize {
        self.0.iter().sum()
    }
}
