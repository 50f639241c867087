//! How one run behaves: failure policy, cancellation, deadline, timings.

use crate::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
/// A token stays cancelled: make a new one for the next run.
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

    /// Records each task's start, duration and worker in the report.
    ///
    /// Off by default: two clock reads cost more than scheduling an empty
    /// task, so leave it off for graphs of very small tasks. See BENCHMARKS.md.
    pub fn record_timings(mut self, on: bool) -> RunOptions {
        self.timings = on;
        self
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
