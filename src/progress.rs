//! Live progress: a handle a run counts into, which any thread reads at any time for done, failed, skipped, running and pending tasks.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crossbeam_utils::CachePadded;

use crate::state::State;

/// A run's live counts, for a progress bar or a health check: give a clone
/// to a run with [`RunOptions::progress`](crate::RunOptions::progress) and
/// read [`counts`](Self::counts) from any thread while it runs (and after:
/// the handle keeps the last run's final counts).
///
/// Cheap on both sides: each worker counts on a cache line of its own (two
/// plain stores a task), and a read sums one line per worker.
/// A run without a `Progress` pays nothing. No observer is needed.
///
/// One handle follows one run at a time: a run given the handle replaces
/// the one it followed. Give concurrent runs a handle each.
///
/// ```
/// use std::time::Duration;
/// use kahn::{Executor, Progress, RunOptions};
///
/// let mut arena = kahn::Arena::new();
/// let mut b = arena.builder::<()>();
/// for i in 0..100 {
///     b.task(&format!("t{i}"), |_| Ok(std::thread::sleep(Duration::from_micros(200))))?;
/// }
/// let graph = b.build()?;
/// let progress = Progress::new();
/// let options = RunOptions::new().progress(progress.clone());
/// let executor = Executor::with_threads(2)?;
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         while !progress.counts().finished {
///             let c = progress.counts();
///             eprintln!("{}/{} done, {} running", c.done(), c.total, c.running);
///             std::thread::sleep(Duration::from_millis(5));
///         }
///     });
///     executor.run_with(&graph, &options);
/// });
/// let c = progress.counts();
/// assert_eq!((c.succeeded, c.pending, c.running), (100, 0, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct Progress {
    current: Arc<Mutex<Option<Arc<LiveCounts>>>>,
}

impl Progress {
    /// A handle that follows no run yet (its counts are all zero).
    pub fn new() -> Progress {
        Progress::default()
    }

    /// The counts of the run this handle follows, as of now.
    ///
    /// Each worker's counts are read one after another while they change,
    /// so a read taken mid-run is a close estimate, not a snapshot:
    /// `done() + running + pending` is `total`, and the counts of ended
    /// tasks (succeeded, failed, skipped, cancelled) and of retries never
    /// go back from one read to the next. Once
    /// [`finished`](ProgressCounts::finished), they are the report's.
    pub fn counts(&self) -> ProgressCounts {
        let live = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        live.map_or_else(ProgressCounts::default, |live| live.read())
    }

    /// Starts following a new run of `tasks` tasks (`carried` of them
    /// carried over) on up to `workers` workers.
    pub(crate) fn follow(&self, tasks: usize, carried: usize, workers: usize) -> Arc<LiveCounts> {
        let live = Arc::new(LiveCounts {
            tasks,
            carried,
            workers: (0..workers).map(|_| CachePadded::default()).collect(),
            finished: AtomicBool::new(false),
        });
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&live));
        live
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Progress").field(&self.counts()).finish()
    }
}

/// A run's counts at one moment; see [`Progress::counts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProgressCounts {
    /// Tasks in the graph.
    pub total: usize,
    /// Tasks that succeeded (carried-over ones included).
    pub succeeded: usize,
    /// Tasks that failed, panicked or timed out (after their last attempt).
    pub failed: usize,
    /// Tasks skipped: upstream failed, not triggered, or branch not taken.
    pub skipped: usize,
    /// Tasks a stop kept from starting.
    pub cancelled: usize,
    /// Tasks running now.
    pub running: usize,
    /// Tasks not started yet, or waiting for another attempt.
    pub pending: usize,
    /// Attempts that failed and were retried so far.
    pub retried: usize,
    /// Whether the run has ended (the counts are then final).
    pub finished: bool,
}

impl ProgressCounts {
    /// Tasks that have ended, whatever their outcome.
    pub fn done(&self) -> usize {
        self.succeeded + self.failed + self.skipped + self.cancelled
    }
}

/// One worker's counts: written by whoever sits in that seat, read by
/// anyone.
#[derive(Debug, Default)]
pub(crate) struct WorkerCounts {
    started: AtomicU64,
    /// Attempts that ended (finished or retried).
    returned: AtomicU64,
    retried: AtomicU64,
    ended: [AtomicU64; State::ALL.len()],
}

/// The counts of one run, shared by its workers and its `Progress` handle.
#[derive(Debug)]
pub(crate) struct LiveCounts {
    tasks: usize,
    carried: usize,
    workers: Box<[CachePadded<WorkerCounts>]>,
    finished: AtomicBool,
}

// Memory ordering: each counter only grows. A worker counts an attempt's
// start before its end (both with `Release`), and a reader loads the ends
// before the starts (with `Acquire`), so no read sees more attempts ended
// than started on one worker. Counts on different workers are read at
// slightly different moments; a later read loads each one later, so no
// count goes back.
impl LiveCounts {
    /// Counts one on a worker's own line: a load and a store, not a
    /// read-modify-write, since only the worker sitting in that seat
    /// writes it (a seat changes hands under the run's synchronisation,
    /// which orders the last occupant's stores before the next one's
    /// loads). A third of the cost of `fetch_add` on an empty task.
    #[inline]
    fn add(counter: &AtomicU64) {
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Release);
    }

    pub(crate) fn started(&self, worker: usize) {
        Self::add(&self.workers[worker].started);
    }

    /// An attempt that started on `worker` returned and the task ended in
    /// `state`.
    pub(crate) fn finished(&self, worker: usize, state: State) {
        let w = &self.workers[worker];
        Self::add(&w.ended[state.index()]);
        Self::add(&w.returned);
    }

    /// An attempt that started on `worker` failed and will be retried.
    pub(crate) fn retried(&self, worker: usize) {
        let w = &self.workers[worker];
        Self::add(&w.retried);
        Self::add(&w.returned);
    }

    /// A task ended in `state` without an attempt (skipped, cancelled, or
    /// failed when a stop cut its retry wait), counted on `worker`.
    pub(crate) fn ended(&self, worker: usize, state: State) {
        Self::add(&self.workers[worker].ended[state.index()]);
    }

    /// The run ended: every task is counted.
    pub(crate) fn finish(&self) {
        self.finished.store(true, Ordering::Release);
    }

    fn read(&self) -> ProgressCounts {
        let finished = self.finished.load(Ordering::Acquire);
        let mut ended = [0_u64; State::ALL.len()];
        let (mut started, mut returned, mut retried) = (0_u64, 0_u64, 0_u64);
        for w in self.workers.iter() {
            let w_returned = w.returned.load(Ordering::Acquire);
            for (sum, count) in ended.iter_mut().zip(&w.ended) {
                *sum += count.load(Ordering::Acquire);
            }
            retried += w.retried.load(Ordering::Acquire);
            started += w.started.load(Ordering::Acquire);
            returned += w_returned;
        }
        let of = |state: State| ended[state.index()] as usize;
        let succeeded = of(State::Succeeded) + self.carried;
        let failed = of(State::Failed) + of(State::Panicked) + of(State::TimedOut);
        let (skipped, cancelled) = (of(State::Skipped), of(State::Cancelled));
        let done = (succeeded + failed + skipped + cancelled).min(self.tasks);
        let running = if finished {
            0
        } else {
            (started.saturating_sub(returned) as usize).min(self.tasks - done)
        };
        ProgressCounts {
            total: self.tasks,
            succeeded,
            failed,
            skipped,
            cancelled,
            running,
            pending: self.tasks - done - running,
            retried: retried as usize,
            finished,
        }
    }
}
