//! The scheduling loop each worker runs: claim, run, release, steal, sleep.
//!
//! A worker holds one *current* range of tasks to release ([`Job`]) and a
//! private stack of ranges it set aside. After running a task it continues
//! depth-first with that task's successors, so a chain or a subtree runs on
//! one worker with no queue operation at all; the rest of the current range
//! goes on the private stack. Nothing private is visible to other workers:
//! when a worker runs dry it raises the `HUNGRY` count in `signals`, and busy
//! workers that have something to give read `signals` before each release,
//! then publish work to their crossbeam deque — the oldest range on their
//! stack, or the upper half of the current one — for the hungry worker to
//! steal. So the common case pays at most one relaxed load per release, and
//! work moves only when someone needs it. Workers whose tasks are slow
//! publish before every task instead (see [`Pace`]), so a long task does not
//! hide ready work from a peer that turns hungry during it.
//!
//! # How a run ends
//!
//! Every task is claimed exactly once and then finished exactly once: run,
//! skipped or cancelled (a stopped run still walks the rest of the graph,
//! marking tasks cancelled without running them). Each worker counts what it
//! finished and subtracts the count from `remaining` when it runs out of work.
//! Only a worker holding finished-but-unsubtracted tasks can bring `remaining`
//! to zero, so zero means every task is finished and no work exists anywhere.
//! That worker wakes all sleepers; every worker that sees zero leaves, and the
//! executor's broadcast returns when all have left.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crate::context::TaskContext;
use crate::error::TaskFailure;
use crate::exec::run::{Finish, Job, RunCore, Tally, HUNGRY};
use crate::graph::Graph;
use crate::id::TaskId;
use crate::report::Timing;
use crate::sync::atomic::Ordering;
use crate::sync::deque::{Steal, Worker};
use crate::sync::Backoff;

/// One worker's private state for one run.
struct Local {
    me: usize,
    deque: Worker<Job>,
    stack: VecDeque<Job>,
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
    deque: Worker<Job>,
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
    deque: Worker<Job>,
    eager: bool,
) {
    work_at_pace(graph, core, me, deque, Pace::fixed(eager));
}

#[inline]
fn work_at_pace<T: Send + Sync>(
    graph: &Graph<'_, T>,
    core: &RunCore<'_, T>,
    me: usize,
    deque: Worker<Job>,
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
    let targets = core.csr.targets;
    // With no other worker there is nobody to publish work for.
    let has_peers = core.stealers.len() > 1;
    let mut cur = Job::EMPTY;
    loop {
        while cur.lo < cur.hi {
            // Only a worker with something to give looks at the signals: a
            // chain never does.
            let can_give = cur.len() >= 2 || !local.stack.is_empty();
            if can_give
                && ((local.pace.eager && has_peers) || core.signals.load(Ordering::Relaxed) != 0)
            {
                local.share(core, &mut cur);
            }
            let v = targets[cur.lo as usize];
            cur.lo += 1;
            let Some(cause) = core.claim(v, cur.cause) else {
                continue;
            };
            let next = finish(graph, core, &mut local, v, cause);
            local.pace.tick();
            if next.lo < next.hi {
                if cur.lo < cur.hi {
                    local.stack.push_back(cur);
                }
                cur = next;
            }
        }
        cur = match local.stack.pop_back().or_else(|| local.deque.pop()) {
            Some(job) => job,
            None => match find_work(core, &mut local) {
                Some(job) => {
                    local.pace.restart();
                    job
                }
                None => break,
            },
        };
    }
    core.add_tally(&local.tally);
    core.add_failures(std::mem::take(&mut local.failures));
    std::mem::forget(guard);
}

/// Runs, skips or cancels task `v`, which this worker has claimed, and
/// returns the range that releases its successors.
#[inline]
fn finish<T: Send + Sync>(
    graph: &Graph<'_, T>,
    core: &RunCore<'_, T>,
    local: &mut Local,
    v: u32,
    cause: u32,
) -> Job {
    let mut next_cause = TaskId::NONE;
    let finish = if cause != TaskId::NONE {
        next_cause = cause;
        Finish::Skipped(cause)
    } else if core.should_stop() {
        Finish::Cancelled
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
                start: started - core.start,
                duration: started.elapsed(),
                worker: local.me,
            };
            // SAFETY: this worker claimed `v` and has not released its successors.
            unsafe { core.write_timing(v, timing) };
        }
        match result {
            Ok(Ok(output)) => Finish::Succeeded(output),
            Ok(Err(error)) => {
                next_cause = v;
                core.on_failure();
                Finish::Failed(TaskFailure::Failed(error))
            }
            Err(payload) => {
                next_cause = v;
                core.on_failure();
                Finish::Failed(TaskFailure::Panicked(panic_message(payload)))
            }
        }
    };
    // SAFETY: this worker claimed `v` (the caller got `Some` from `claim`),
    // records it once, here, and releases the successors only afterwards.
    let state = unsafe { core.record(v, finish, &mut local.failures) };
    local.tally.count(state);
    let (lo, hi) = (
        core.csr.succ_off[v as usize],
        core.csr.succ_off[v as usize + 1],
    );
    Job {
        lo,
        hi,
        cause: next_cause,
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
    /// Called when this worker has work to give and `signals` is non-zero or
    /// its tasks are slow: if a peer is hungry (or may become so during a slow
    /// task) and nothing is published yet, publish the oldest set-aside range
    /// or the upper half of the current one.
    #[cold]
    fn share<T: Send + Sync>(&mut self, core: &RunCore<'_, T>, cur: &mut Job) {
        let hungry = core.signals.load(Ordering::Relaxed) & HUNGRY != 0;
        if !(hungry || self.pace.eager) || !self.deque.is_empty() {
            return;
        }
        let gift = if let Some(job) = self.stack.pop_front() {
            job
        } else if cur.len() >= 2 {
            let mid = cur.lo + cur.len() / 2;
            let upper = Job {
                lo: mid,
                hi: cur.hi,
                cause: cur.cause,
            };
            cur.hi = mid;
            upper
        } else {
            return;
        };
        self.deque.push(gift);
        core.sleep.wake_one();
    }
}

/// Looks for work once this worker has none: steals, spins, then sleeps.
/// Returns `None` when the run is over.
fn find_work<T: Send + Sync>(core: &RunCore<'_, T>, local: &mut Local) -> Option<Job> {
    let finished = local.tally.total() - local.subtracted;
    if finished > 0 {
        local.subtracted += finished;
        let before = core.remaining.fetch_sub(finished, Ordering::AcqRel);
        debug_assert!(before >= finished, "more tasks finished than the graph has");
        if before == finished {
            core.sleep.wake_all();
            return None;
        }
    }
    core.signals.fetch_add(1, Ordering::SeqCst);
    let backoff = Backoff::new();
    let job = loop {
        if core.remaining.load(Ordering::Acquire) == 0 {
            break None;
        }
        if let Some(job) = steal(core, local.me) {
            break Some(job);
        }
        if backoff.is_completed() {
            core.sleep
                .sleep(|| core.remaining.load(Ordering::Acquire) == 0 || has_visible_work(core));
            backoff.reset();
        } else {
            backoff.snooze();
        }
    };
    core.signals.fetch_sub(1, Ordering::SeqCst);
    job
}

fn steal<T>(core: &RunCore<'_, T>, me: usize) -> Option<Job> {
    loop {
        let mut retry = false;
        match core.injector.steal() {
            Steal::Success(job) => return Some(job),
            Steal::Retry => retry = true,
            Steal::Empty => {}
        }
        let n = core.stealers.len();
        for i in 1..n {
            match core.stealers[(me + i) % n].steal() {
                Steal::Success(job) => return Some(job),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
        }
        if !retry {
            return None;
        }
    }
}

fn has_visible_work<T>(core: &RunCore<'_, T>) -> bool {
    !core.injector.is_empty() || core.stealers.iter().any(|s| !s.is_empty())
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
