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

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crate::context::TaskContext;
use crate::error::TaskFailure;
use crate::exec::run::{Cause, Claim, Releases, RunCore, Tally, TaskEnd};
use crate::graph::Graph;
use crate::id::TaskId;
use crate::report::Timing;
use crate::sync::deque::Worker;

/// One worker's private state for one run.
struct Local {
    me: usize,
    deque: Worker<Releases>,
    stack: VecDeque<Releases>,
    /// How many finished tasks (the sum of `tally`) were already subtracted
    /// from `remaining`.
    subtracted: usize,
    tally: Tally,
    /// Tasks that failed or panicked here, handed over when the worker leaves.
    failures: Vec<(TaskId, TaskFailure)>,
    pace: Pace,
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
    #[cfg(loom)]
    fn fixed(eager: bool) -> Pace {
        Pace {
            eager,
            ..Pace::new()
        }
    }

    /// Counts one finished task and, when due, re-measures the pace.
    #[inline]
    fn tick(&mut self) {
        self.since_check += 1;
        if self.since_check >= self.check_every {
            self.measure();
        }
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

/// Runs worker `me` until the run ends.
pub(crate) fn work<T: Send + Sync>(
    graph: &Graph<'_, T>,
    core: &RunCore<'_, T>,
    me: usize,
    deque: Worker<Releases>,
) {
    work_at_pace(graph, core, me, deque, Pace::new());
}

/// Runs worker `me` until the run ends, publishing work eagerly or only on
/// demand throughout, as a loom model asks.
#[cfg(loom)]
pub(crate) fn work_fixed_pace<T: Send + Sync>(
    graph: &Graph<'_, T>,
    core: &RunCore<'_, T>,
    me: usize,
    deque: Worker<Releases>,
    eager: bool,
) {
    work_at_pace(graph, core, me, deque, Pace::fixed(eager));
}

#[inline]
fn work_at_pace<T: Send + Sync>(
    graph: &Graph<'_, T>,
    core: &RunCore<'_, T>,
    me: usize,
    deque: Worker<Releases>,
    pace: Pace,
) {
    // A panic here is a bug in kahn, not in a task (those are caught): abort
    // rather than leave other workers waiting for tasks that will never finish.
    let guard = AbortOnUnwind;
    let mut local = Local {
        me,
        deque,
        stack: VecDeque::new(),
        subtracted: 0,
        tally: Tally::default(),
        failures: Vec::new(),
        pace,
    };
    let targets = core.csr().targets;
    // With no other worker there is nobody to publish work for.
    let has_peers = core.has_peers();
    let mut cur = Releases::EMPTY;
    loop {
        while cur.lo < cur.hi {
            // Only a worker with something to give looks at the signals: a
            // chain never does.
            let can_give = cur.len() >= 2 || !local.stack.is_empty();
            if can_give && ((local.pace.eager && has_peers) || core.signals_raised()) {
                local.share(core, &mut cur);
            }
            let v = targets[cur.lo as usize];
            cur.lo += 1;
            let next = match core.claim(v, cur.poison) {
                Claim::Waiting => continue,
                Claim::Clean => run_claimed(graph, core, &mut local, v),
                Claim::Poisoned(cause) => skip_claimed(core, &mut local, v, cause),
            };
            local.pace.tick();
            if next.lo < next.hi {
                if cur.lo < cur.hi {
                    local.stack.push_back(cur);
                }
                cur = next;
            }
        }
        cur = match local.stack.pop_back().or_else(|| local.deque.pop()) {
            Some(work) => work,
            None => {
                let finished = local.tally.total() - local.subtracted;
                local.subtracted += finished;
                match core.wait_for_work(local.me, finished) {
                    Some(work) => {
                        local.pace.restart();
                        work
                    }
                    None => break,
                }
            }
        };
    }
    core.leave(&local.tally, std::mem::take(&mut local.failures));
    std::mem::forget(guard);
}

/// Runs task `v`, which this worker claimed cleanly — or, if the run has
/// stopped, records it cancelled — and returns the releases of its successors.
#[inline]
fn run_claimed<T: Send + Sync>(
    graph: &Graph<'_, T>,
    core: &RunCore<'_, T>,
    local: &mut Local,
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
fn skip_claimed<T>(core: &RunCore<'_, T>, local: &mut Local, v: u32, cause: TaskId) -> Releases {
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
    local: &mut Local,
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

impl Local {
    /// Called when this worker has work to give and the run's signals are
    /// raised or its tasks are slow: if a peer is hungry (or may become so
    /// during a slow task) and nothing is published yet, publish the oldest
    /// set-aside range or the upper half of the current one.
    #[cold]
    fn share<T>(&mut self, core: &RunCore<'_, T>, cur: &mut Releases) {
        if !(core.peer_hungry() || self.pace.eager) || !self.deque.is_empty() {
            return;
        }
        let gift = if let Some(work) = self.stack.pop_front() {
            work
        } else if cur.len() >= 2 {
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
}

/// Aborts the process if dropped during a panic; `forget` it on success.
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        // Under loom, a failed check (a deadlock, a data race on a slot)
        // unwinds through the worker: let loom report it.
        if cfg!(loom) {
            return;
        }
        eprintln!("kahn: internal error: a worker panicked outside a task; aborting");
        std::process::abort();
    }
}
