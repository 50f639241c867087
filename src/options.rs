//! How one run behaves (failure policy, cancellation, deadline, timings,
//! its input, early release, how many workers it may have), and why a run
//! stopped early.

use std::any::Any;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::input::RunInput;
use crate::observe::{Observer, SharedObserver};
use crate::progress::Progress;
use crate::sync::atomic::{AtomicBool, Ordering};

/// What a run does after a task fails or panics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Skip what depends on the failed task; finish everything independent of it.
    #[default]
    Continue,
    /// Start no new task after the first failure: tasks downstream of it are
    /// Skipped, every other task not yet started is Cancelled.
    FailFast,
}

/// A handle that stops runs from any thread; clones share one flag.
///
/// Once cancelled, tasks not yet started become
/// [`Cancelled`](crate::Outcome::Cancelled); running tasks finish, and can
/// notice with [`TaskContext::is_cancelled`](crate::TaskContext::is_cancelled).
/// A token stays cancelled, and cannot be reset: a run that saw it
/// cancelled and the next run that watches it could not tell one
/// cancellation from the other. Make a fresh token for each run
/// (`CancelToken::new()` is one small allocation), and keep a clone of it
/// wherever that run may be stopped from. A task can stop its own run with
/// [`TaskContext::cancel_run`](crate::TaskContext::cancel_run), with no
/// token at all.
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
}

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Cancels every run watching this token.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Release);
    }

    /// Whether [`cancel`](Self::cancel) was called on this token or a clone.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }
}

/// Options for one run; `RunOptions::default()` is what
/// [`Executor::run`](crate::Executor::run) uses.
///
/// ```
/// use std::time::Duration;
/// let options = kahn::RunOptions::new()
///     .fail_fast()
///     .timeout(Duration::from_secs(30))
///     .record_timings(true);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub(crate) policy: FailurePolicy,
    pub(crate) cancel: Option<CancelToken>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) timings: bool,
    pub(crate) input: Option<RunInput>,
    pub(crate) release_outputs: bool,
    pub(crate) observer: Option<SharedObserver>,
    pub(crate) progress: Option<Progress>,
    pub(crate) max_workers: Option<NonZeroUsize>,
}

impl RunOptions {
    /// The defaults: keep going after failures, no cancellation, no deadline,
    /// no timings.
    pub fn new() -> RunOptions {
        RunOptions::default()
    }

    /// Sets what happens after a failure.
    pub fn policy(mut self, policy: FailurePolicy) -> RunOptions {
        self.policy = policy;
        self
    }

    /// Shorthand for `policy(FailurePolicy::FailFast)`.
    pub fn fail_fast(self) -> RunOptions {
        self.policy(FailurePolicy::FailFast)
    }

    /// Stops the run when `token` is cancelled.
    pub fn cancel_token(mut self, token: CancelToken) -> RunOptions {
        self.cancel = Some(token);
        self
    }

    /// The cancel token a run with these options watches, if it was given
    /// one: for code that runs a graph on the caller's behalf (a
    /// distributed run passes a cancel on to every process).
    pub fn cancel(&self) -> Option<&CancelToken> {
        self.cancel.as_ref()
    }

    /// Starts no task after `deadline`.
    pub fn deadline(mut self, deadline: Instant) -> RunOptions {
        self.deadline = Some(deadline);
        self
    }

    /// Starts no task once `timeout` has passed since the run began.
    pub fn timeout(mut self, timeout: Duration) -> RunOptions {
        self.timeout = Some(timeout);
        self
    }

    /// Records each task's start, duration and worker in the report, and
    /// when the run settled each task it skipped, found not triggered or
    /// passed over by a branch (where the [Chrome
    /// trace](crate::ChromeTrace) places it).
    ///
    /// Off by default: two clock reads per task that runs (one per task
    /// settled without running) cost more than scheduling an empty task,
    /// so leave it off for graphs of very small tasks. See BENCHMARKS.md.
    pub fn record_timings(mut self, on: bool) -> RunOptions {
        self.timings = on;
        self
    }

    /// Gives the run an input that every task reads with
    /// [`TaskContext::run_input`](crate::TaskContext::run_input): a batch
    /// date, a partition path, a configuration. Several runs of one graph
    /// may each have their own, at the same time. The value is kept in an
    /// `Arc`, shared by the run's tasks and by clones of these options; for
    /// a large value you also keep elsewhere, give an `Arc` of it.
    ///
    /// ```
    /// use kahn::{Executor, RunOptions};
    /// let mut arena = kahn::Arena::new();
    /// let mut b = arena.builder::<String>();
    /// b.task("path", |ctx| Ok(format!("s3://bucket/{}/", ctx.run_input::<&str>()?)))?;
    /// let graph = b.build()?;
    /// let executor = Executor::with_threads(2)?;
    /// let (monday, tuesday) = std::thread::scope(|s| {
    ///     let monday = s.spawn(|| executor.run_with(&graph, &RunOptions::new().input("2026-11-30")));
    ///     let tuesday = executor.run_with(&graph, &RunOptions::new().input("2026-12-01"));
    ///     (monday.join().unwrap(), tuesday)
    /// });
    /// assert_eq!(monday.output("path").unwrap(), "s3://bucket/2026-11-30/");
    /// assert_eq!(tuesday.output("path").unwrap(), "s3://bucket/2026-12-01/");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn input<I: Any + Send + Sync>(mut self, value: I) -> RunOptions {
        self.input = Some(RunInput::new(value));
        self
    }

    /// Drops each task's output as soon as every task that reads it (its
    /// direct successors) has finished, rather than with the report: peak
    /// memory is then what is in flight, not the sum of every stage. The
    /// outputs of sinks (tasks with no successors) and of tasks marked with
    /// [`GraphBuilder::keep_output`](crate::GraphBuilder::keep_output) stay
    /// in the report; a released output shows there as
    /// [`Outcome::Consumed`](crate::Outcome::Consumed). Off by default.
    ///
    /// Only readers that succeeded or were passed over (a branch not
    /// taken, a trigger rule that did not hold) count: a reader that
    /// failed, was skipped for a failure or was cancelled keeps its inputs
    /// until the report is dropped, so a
    /// [resume](crate::Executor::resume) runs it again without recomputing
    /// them. A resume that reruns a task whose inputs were released (a
    /// cleanup task downstream of the failure, say) runs the tasks that
    /// made them again too; mark what such a task reads with
    /// [`keep_output`](crate::GraphBuilder::keep_output) to avoid that.
    ///
    /// ```
    /// use kahn::{Executor, Outcome, RunOptions};
    /// let mut arena = kahn::Arena::new();
    /// let mut b = arena.builder::<Vec<u8>>();
    /// b.task("extract", |_| Ok(vec![0; 1 << 20]))?;
    /// b.task("compress", |ctx| Ok(ctx.input("extract")?[..16].to_vec()))?;
    /// b.edge("extract", "compress")?;
    /// let graph = b.build()?;
    /// let options = RunOptions::new().release_outputs(true);
    /// let report = Executor::with_threads(2)?.run_with(&graph, &options);
    /// assert!(matches!(report.outcome("extract"), Some(Outcome::Consumed)));
    /// assert_eq!(report.output("compress").map(Vec::len), Some(16));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release_outputs(mut self, on: bool) -> RunOptions {
        self.release_outputs = on;
        self
    }

    /// Calls `observer` as the run starts, runs, retries and skips tasks,
    /// and ends: see [`Observer`] for what is called where. Keep a clone of
    /// the `Arc` to read what it gathered. Options cloned share it.
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> RunOptions {
        self.observer = Some(SharedObserver(observer));
        self
    }

    /// Counts the run's progress into `progress`, which any thread reads
    /// at any time: see [`Progress`]. Give concurrent runs a handle each.
    pub fn progress(mut self, progress: Progress) -> RunOptions {
        self.progress = Some(progress);
        self
    }

    /// Lets at most `workers` of the executor's threads work on this run
    /// at once, so at most that many of its tasks run at the same time.
    /// The other threads stay free for other runs, and for the rayon work
    /// (`par_iter`, `join`) that tasks start, which this limit does not
    /// count. No limit by default: a run takes every thread it can use.
    ///
    /// Two reasons to set it:
    /// - **Sharing.** A background batch limited to one or two workers
    ///   leaves the rest of the pool to the runs that must finish first.
    ///   (To limit only some tasks, such as those that call one database,
    ///   give them a [`Resource`](crate::Resource) instead.)
    /// - **Small graphs, back to back.** A run of a few thousand tiny
    ///   tasks can cost more on two workers than on one, since the second
    ///   must be woken and the tasks' counters then move between cores.
    ///   `max_workers(1)` runs it as a one-thread executor would, while
    ///   the executor keeps its other threads for larger runs. See "Threads:
    ///   what to know" in the README, and BENCHMARKS.md for the figures.
    ///
    /// A limit above the executor's threads is no limit, and 0 counts as 1:
    /// a run always has a worker. Under a limit, tasks that wait for each
    /// other (a rendezvous, a channel between two tasks) must not need more
    /// of them running at once than the limit, as on an executor of that
    /// many threads: with `max_workers(1)`, a task that waits for a sibling
    /// to start waits forever. A nested run (started from inside a task)
    /// counts the task's own thread, which works on it, as one of its
    /// workers. In a part run, the limit is this process's.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use kahn::{Executor, RunOptions};
    /// let running = AtomicUsize::new(0);
    /// let most = AtomicUsize::new(0);
    /// let mut arena = kahn::Arena::new();
    /// let mut b = arena.builder::<()>();
    /// for i in 0..8 {
    ///     b.task(&format!("load-{i}"), |_| {
    ///         let now = running.fetch_add(1, Ordering::SeqCst) + 1;
    ///         most.fetch_max(now, Ordering::SeqCst);
    ///         std::thread::sleep(std::time::Duration::from_millis(2));
    ///         running.fetch_sub(1, Ordering::SeqCst);
    ///         Ok(())
    ///     })?;
    /// }
    /// let graph = b.build()?;
    /// let executor = Executor::with_threads(4)?;
    /// let report = executor.run_with(&graph, &RunOptions::new().max_workers(2));
    /// assert!(report.is_success());
    /// assert!(most.load(Ordering::SeqCst) <= 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_workers(mut self, workers: usize) -> RunOptions {
        self.max_workers = Some(NonZeroUsize::new(workers).unwrap_or(NonZeroUsize::MIN));
        self
    }

    /// How many workers a run with these options has seats for on an
    /// executor of `threads` threads.
    pub(crate) fn seats(&self, threads: usize) -> usize {
        self.max_workers.map_or(threads, |m| m.get().min(threads))
    }

    /// The instant after which no task starts, from deadline and timeout.
    pub(crate) fn effective_deadline(&self, start: Instant) -> Option<Instant> {
        let from_timeout = self.timeout.and_then(|t| start.checked_add(t));
        match (self.deadline, from_timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
