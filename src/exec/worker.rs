//! The scheduling loop each worker runs: claim, run, release, steal, sleep.
//!
//! A worker holds one *current* range of tasks to release ([`Releases`]) and a
//! private stack of ranges it set aside. After running a task it continues
//! depth-first with that task's successors, so a chain or a subtree runs on
//! one worker with no queue operation at all; the rest of the current range
//! goes on the private stack. Nothing private is visible to other workers:
//! when a worker runs dry it counts itself hungry in the run's signals, and
//! busy workers that have something to give read the signals before each release,
//! then publish work to their crossbeam deque — the oldest range on their
//! stack, or the upper half of the current one — for the hungry worker to
//! steal. So the common case pays at most one relaxed load per release, and
//! work moves only when someone needs it. Workers whose tasks are slow
//! publish before every task instead (see [`Pace`]), so a long task does not
//! hide ready work from a peer that turns hungry during it.
//!
//! How a run ends, and the orderings all this relies on, are `RunCore`'s
//! (`run.rs`): this loop only calls its verbs.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::context::TaskContext;
use crate::error::TaskFailure;
use crate::exec::registry::AbortOnUnwind;
use crate::exec::registry::{self, Departure, Shared, QUANTUM};
use crate::exec::releases::{Cause, Releases};
use crate::exec::run::{Claim, Found, RunCore, Sighting, Tally, TaskEnd, Waiting};
use crate::exec::seat::Seat;
use crate::graph::Graph;
use crate::id::TaskId;
use crate::report::Timing;
use crate::sync::deque::Worker;

/// How a worker takes part in a run.
#[derive(Debug)]
pub(crate) struct Participation<'a> {
    /// Whether it may leave when the run has nothing for it, or stays.
    pub(crate) waiting: Waiting,
    /// The executor, to call more workers; `None` under loom.
    pub(crate) shared: Option<&'a Arc<Shared>>,
    /// Whether it publishes work before every task (`Some(true)`), only on
    /// demand (`Some(false)`), or as its pace says (`None`).
    pub(crate) fixed_pace: Option<bool>,
}

/// One worker's private state for one stay in a run.
struct Local<'c> {
    me: usize,
    seat: &'c Seat,
    deque: Worker<Releases>,
    /// How many finished tasks (the sum of `tally`) were already subtracted
    /// from `remaining`.
    subtracted: usize,
    tally: Tally,
    /// Tasks that failed or panicked here, handed over when the worker leaves.
    failures: Vec<(TaskId, TaskFailure)>,
    pace: Pace,
    /// What this worker remembers of its peers' announcements while idle.
    seen: Vec<Sighting>,
    joined: Instant,
}

impl Local<'_> {
    #[inline]
    fn stack_is_empty(&self) -> bool {
        // SAFETY: this worker sits in `seat` and has no announcement out.
        unsafe { self.seat.with_hidden(|hidden| hidden.stack.is_empty()) }
    }

    #[inline]
    fn stack_push(&mut self, work: Releases) {
        // SAFETY: as in `stack_is_empty`.
        unsafe { self.seat.with_hidden(|hidden| hidden.stack.push_back(work)) }
    }

    #[inline]
    fn stack_pop(&mut self) -> Option<Releases> {
        // SAFETY: as in `stack_is_empty`.
        unsafe { self.seat.with_hidden(|hidden| hidden.stack.pop_back()) }
    }

    /// Announces the private work held while the next task runs.
    #[inline]
    fn announce<T>(&mut self, core: &RunCore<'_, T>, cur: Releases) {
        // SAFETY: this worker sits in `seat`, with no announcement out.
        unsafe { self.seat.announce(cur, core.fences()) }
    }

    /// Ends the announcement; returns the current range a rescuer left.
    #[inline]
    fn retract<T>(&mut self, core: &RunCore<'_, T>, cur: Releases) -> Releases {
        // SAFETY: this worker sits in `seat` and announced.
        unsafe { self.seat.retract(cur, core.fences()) }
    }

    /// Finished tasks not yet subtracted from the run's `remaining`.
    fn unsubtracted(&mut self) -> usize {
        let finished = self.tally.total() - self.subtracted;
        self.subtracted += finished;
        finished
    }
}

/// Whether this worker's tasks are slow enough to publish work eagerly.
///
/// Work is normally published only when a peer is hungry, which a worker can
/// only notice between tasks. With fine-grained tasks that is within
/// nanoseconds; with tasks of milliseconds, a worker that starts one while
/// holding other ready tasks privately would keep a peer that turns hungry
/// meanwhile idle for the whole task. So each worker measures its pace —
/// after every task while its tasks are slow, after every [`Pace::LAZY_CHECK`]
/// tasks while they are fast — and, while tasks average at least
/// [`Pace::SLOW`], publishes before each task whenever its deque is empty. A
/// worker starts in that mode, so the first (perhaps long) task of a run hides
/// nothing; a deque push and pop cost well under 1% of a task that slow.
struct Pace {
    eager: bool,
    check_every: u32,
    since_check: u32,
    check_start: Instant,
}

impl Pace {
    const SLOW: Duration = Duration::from_micros(20);
    const LAZY_CHECK: u32 = 64;

    fn new() -> Pace {
        Pace {
            eager: true,
            check_every: 1,
            since_check: 0,
            check_start: Instant::now(),
        }
    }

    /// A pace that never changes: under loom the model chooses it, since a
    /// clock would make the executions loom replays differ.
    fn fixed(eager: bool) -> Pace {
        Pace {
            eager,
            check_every: u32::MAX,
            ..Pace::new()
        }
    }

    /// Counts one finished task and, when due, re-measures the pace;
    /// `true` if it did (a moment to look at slower signals too).
    #[inline]
    fn tick(&mut self) -> bool {
        self.since_check += 1;
        if self.since_check >= self.check_every {
            self.measure();
            return true;
        }
        false
    }

    #[cold]
    fn measure(&mut self) {
        if cfg!(loom) {
            self.since_check = 0;
            return;
        }
        let now = Instant::now();
        let slow = now - self.check_start >= Pace::SLOW * self.since_check;
        self.eager = slow;
        self.check_every = if slow { 1 } else { Pace::LAZY_CHECK };
        self.since_check = 0;
        self.check_start = now;
    }

    /// Time spent looking for work is not task time.
    fn restart(&mut self) {
        self.since_check = 0;
        self.check_start = Instant::now();
    }
}

/// Takes part in a run on the calling thread until it ends, or, for a
/// worker that may leave, until it has nothing for this worker or another
/// run needs it more.
pub(crate) fn participate<T: Send + Sync>(
    graph: &Graph<'_, T>,
    core: &RunCore<'_, T>,
    how: Participation<'_>,
) -> Departure {
    let Some((me, deque)) = core.take_seat() else {
        return Departure::NoWork;
    };
    // A panic here is a bug in kahn, not in a task (those are caught): abort
    // rather than leave other workers waiting for tasks that will never finish.
    let guard = AbortOnUnwind;
    let mut local = Local {
        me,
        seat: core.seat(me),
        deque,
        subtracted: 0,
        tally: Tally::default(),
        failures: Vec::new(),
        pace: how.fixed_pace.map_or_else(Pace::new, Pace::fixed),
        seen: vec![Sighting::default(); core.seat_count()],
        joined: Instant::now(),
    };
    let departure = work(graph, core, &mut local, &how);
    core.leave(&local.tally, std::mem::take(&mut local.failures));
    // SAFETY: this worker sits in its seat; `work` returns only with no
    // private work held and no announcement out.
    unsafe { local.seat.leave(local.deque) };
    std::mem::forget(guard);
    departure
}

/// The scheduling loop: claim, run, release, share; then look for work.
#[inline]
fn work<T: Send + Sync>(
    graph: &Graph<'_, T>,
    core: &RunCore<'_, T>,
    local: &mut Local<'_>,
    how: &Participation<'_>,
) -> Departure {
    let targets = core.csr().targets;
    // With no other seat there is nobody to share or announce work to.
    let has_peers = core.has_peers();
    let may_rotate = how.waiting == Waiting::MayLeave;
    let mut cur = Releases::EMPTY;
    loop {
        while cur.lo < cur.hi {
            let v = targets[cur.lo as usize];
            cur.lo += 1;
            let next = match core.claim(v, cur.poison) {
                Claim::Waiting => continue,
                Claim::Poisoned(cause) => skip_claimed(core, local, v, cause),
                Claim::Clean => {
                    // Private work this worker holds while it runs `v`: a
                    // chain holds none and pays nothing here.
                    let mut holding = has_peers && (!cur.is_empty() || !local.stack_is_empty());
                    if holding {
                        local.announce(core, cur);
                        // After the announcement's fence: a peer that turned
                        // hungry without seeing it is seen here.
                        if local.pace.eager || core.give_wanted() {
                            cur = local.retract(core, cur);
                            local.share(core, &mut cur, how.shared);
                            holding = !cur.is_empty() || !local.stack_is_empty();
                            if holding {
                                local.announce(core, cur);
                            }
                        }
                    }
                    let next = run_claimed(graph, core, local, v);
                    if holding {
                        cur = local.retract(core, cur);
                    }
                    next
                }
            };
            if local.pace.tick()
                && may_rotate
                && core.signals().rotate()
                && local.joined.elapsed() >= QUANTUM
            {
                // Another run has no worker: publish everything and move.
                // Oldest first, so that a worker taking this seat again
                // pops it (LIFO) in the order this one would have run it:
                // a run's schedule on one thread stays deterministic.
                while let Some(work) = local.stack_pop_front() {
                    local.deque.push(work);
                }
                for work in [cur, next] {
                    if !work.is_empty() {
                        local.deque.push(work);
                    }
                }
                core.shared();
                if core.subtract(local.unsubtracted()) {
                    return Departure::Over;
                }
                return Departure::Rotated;
            }
            if !next.is_empty() {
                if !cur.is_empty() {
                    local.stack_push(cur);
                }
                cur = next;
            }
        }
        cur = match local.stack_pop().or_else(|| local.deque.pop()) {
            Some(work) => work,
            None => {
                if core.subtract(local.unsubtracted()) {
                    return Departure::Over;
                }
                match core.wait_for_work(local.me, how.waiting, &mut local.seen) {
                    Found::Work(work) => {
                        local.pace.restart();
                        work
                    }
                    Found::Rescued(hidden) => {
                        local.pace.restart();
                        // SAFETY: this worker sits in its seat, with no
                        // announcement out; its own stack is empty.
                        unsafe { local.seat.with_hidden(|mine| mine.stack = hidden.stack) };
                        hidden.cur
                    }
                    Found::Over => return Departure::Over,
                    Found::Nothing => return Departure::NoWork,
                }
            }
        };
    }
}

/// Runs task `v`, which this worker claimed cleanly — or, if the run has
/// stopped, records it cancelled — and returns the releases of its successors.
#[inline]
fn run_claimed<T: Send + Sync>(
    graph: &Graph<'_, T>,
    core: &RunCore<'_, T>,
    local: &mut Local<'_>,
    v: u32,
) -> Releases {
    let mut poison = None;
    let end = if core.should_stop() {
        TaskEnd::Cancelled
    } else {
        let started = core.records_timings().then(Instant::now);
        let ctx = TaskContext {
            core,
            node: v,
            worker: local.me,
        };
        let result = catch_unwind(AssertUnwindSafe(|| (graph.tasks[v as usize])(&ctx)));
        if let Some(started) = started {
            let timing = Timing {
                start: started - core.start(),
                duration: started.elapsed(),
                worker: local.me,
            };
            // SAFETY: this worker claimed `v` and has not released its successors.
            unsafe { core.write_timing(v, timing) };
        }
        match result {
            Ok(Ok(output)) => TaskEnd::Succeeded(output),
            Ok(Err(error)) => {
                poison = Some(Cause::new(TaskId::new(v)));
                core.on_failure();
                TaskEnd::Failed(TaskFailure::Failed(error))
            }
            Err(payload) => {
                poison = Some(Cause::new(TaskId::new(v)));
                core.on_failure();
                TaskEnd::Failed(TaskFailure::Panicked(panic_message(payload)))
            }
        }
    };
    settle(core, local, v, end, poison)
}

/// Records task `v`, which a failure reached, as skipped for `cause`, and
/// returns the releases that pass the same cause to its successors.
fn skip_claimed<T>(
    core: &RunCore<'_, T>,
    local: &mut Local<'_>,
    v: u32,
    cause: TaskId,
) -> Releases {
    settle(
        core,
        local,
        v,
        TaskEnd::Skipped(cause),
        Some(Cause::new(cause)),
    )
}

/// Records how claimed task `v` ended and returns the releases of its
/// successors, poisoned by `poison` if it did not succeed. Always inlined:
/// as a call it costs a chain of empty tasks a third more.
#[inline(always)]
fn settle<T>(
    core: &RunCore<'_, T>,
    local: &mut Local<'_>,
    v: u32,
    end: TaskEnd<T>,
    poison: Option<Cause>,
) -> Releases {
    // SAFETY: this worker claimed `v` (`claim` did not say `Waiting`),
    // records it once, here, and releases the successors only afterwards.
    let state = unsafe { core.record(v, end, &mut local.failures) };
    local.tally.count(state);
    let succ_off = core.csr().succ_off;
    Releases {
        lo: succ_off[v as usize],
        hi: succ_off[v as usize + 1],
        poison,
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let message = if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else if let Some(message) = payload.downcast_ref::<&'static str>() {
        (*message).to_owned()
    } else {
        "the task panicked with a value that is not a string".to_owned()
    };
    // The payload is the task's value: its destructor may panic too, and
    // that must not escape into the scheduler (it would abort).
    if let Err(nested) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(nested);
    }
    message
}

impl Local<'_> {
    /// Called before a task, with the announcement retracted, when this
    /// worker holds private work and a peer is hungry, the run wants
    /// another worker, or its tasks are slow: publishes the oldest
    /// set-aside range or the upper half of the current one (if nothing is
    /// published yet), and calls a worker if the run wants one.
    #[cold]
    fn share<T>(
        &mut self,
        core: &RunCore<'_, T>,
        cur: &mut Releases,
        shared: Option<&Arc<Shared>>,
    ) {
        let want = shared.is_some() && core.signals().wants_workers();
        if !(want || core.peer_hungry() || self.pace.eager) {
            return;
        }
        if self.deque.is_empty() {
            let gift = if let Some(work) = self.stack_pop_front() {
                work
            } else if !cur.is_empty() {
                let mid = cur.lo + cur.len() / 2;
                let upper = Releases {
                    lo: mid,
                    hi: cur.hi,
                    poison: cur.poison,
                };
                cur.hi = mid;
                upper
            } else {
                return;
            };
            self.deque.push(gift);
            core.shared();
        }
        if let Some(shared) = shared.filter(|_| want) {
            if !registry::spawn_from_worker(shared) {
                // The executor is full; a job that finishes asks again.
                core.signals().enough_workers();
            }
        }
    }

    #[inline]
    fn stack_pop_front(&mut self) -> Option<Releases> {
        // SAFETY: as in `stack_is_empty`.
        unsafe { self.seat.with_hidden(|hidden| hidden.stack.pop_front()) }
    }
}
