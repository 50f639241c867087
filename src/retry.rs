//! Retries: a task's policy (how many attempts, how long between them, which failures), the `Permanent` marker, and the compiled table.
//!
//! A failed attempt that its policy retries is not recorded: the task stays
//! claimed, its successors stay waiting, and it goes to its run's retry
//! queue (`exec/retries.rs`) until its delay has passed. No worker holds it
//! meanwhile.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bumpalo::collections::Vec as BumpVec;
use bumpalo::Bump;

use crate::error::{BoxError, TaskFailure};

/// Decides whether an error is worth another attempt.
type Classifier = Arc<dyn Fn(&BoxError) -> bool + Send + Sync>;

/// How a task is retried after a failed attempt: how many attempts in all,
/// how long to wait before each next one, and which failures are retried.
///
/// Given to a task with
/// [`GraphBuilder::retry`](crate::GraphBuilder::retry). The defaults, from
/// [`RetryPolicy::attempts`]: no delay, no jitter; errors are retried
/// unless [`Permanent`] (or refused by [`retry_if`](Self::retry_if)),
/// timeouts are retried, panics are not.
///
/// The delay before attempt `k + 1` (after `k` failed attempts) is
/// `base × factor^(k−1)`, at most `cap`, less a random part of it up to
/// `jitter` (so that many tasks failing together do not retry together).
///
/// ```
/// use std::time::Duration;
/// let policy = kahn::RetryPolicy::attempts(4)
///     .backoff(Duration::from_millis(100), 2.0, Duration::from_secs(5))
///     .jitter(0.2);
/// // Waits 100 ms, 200 ms, 400 ms (each up to 20% less) between attempts.
/// # let _ = policy;
/// ```
#[derive(Clone)]
pub struct RetryPolicy {
    pub(crate) attempts: u32,
    pub(crate) base: Duration,
    pub(crate) factor: f64,
    pub(crate) cap: Duration,
    pub(crate) jitter: f64,
    pub(crate) retry_panics: bool,
    pub(crate) retry_timeouts: bool,
    pub(crate) classify: Option<Classifier>,
}

impl RetryPolicy {
    /// The longest delay a policy may ask for between two attempts: a day.
    /// A longer wait belongs to a scheduler, not to one run.
    pub const MAX_DELAY: Duration = Duration::from_secs(24 * 60 * 60);

    /// Up to `attempts` attempts in all (the first included), back to back.
    /// [`GraphBuilder::retry`](crate::GraphBuilder::retry) refuses 0.
    pub fn attempts(attempts: u32) -> RetryPolicy {
        RetryPolicy {
            attempts,
            base: Duration::ZERO,
            factor: 1.0,
            cap: Duration::ZERO,
            jitter: 0.0,
            retry_panics: false,
            retry_timeouts: true,
            classify: None,
        }
    }

    /// Waits `delay` before each next attempt.
    pub fn delay(self, delay: Duration) -> RetryPolicy {
        self.backoff(delay, 1.0, delay)
    }

    /// Waits `base` before the second attempt, `factor` times longer before
    /// each one after, and never more than `cap`.
    pub fn backoff(mut self, base: Duration, factor: f64, cap: Duration) -> RetryPolicy {
        self.base = base;
        self.factor = factor;
        self.cap = cap;
        self
    }

    /// Takes a random part, up to `fraction` (0 to 1) of each delay, off it.
    pub fn jitter(mut self, fraction: f64) -> RetryPolicy {
        self.jitter = fraction;
        self
    }

    /// Whether a panicking attempt is retried (not by default: a panic is
    /// usually a bug, which another attempt repeats).
    pub fn retry_panics(mut self, retry: bool) -> RetryPolicy {
        self.retry_panics = retry;
        self
    }

    /// Whether an attempt that ran past the task's
    /// [timeout](crate::GraphBuilder::timeout) is retried (by default, it is).
    pub fn retry_timeouts(mut self, retry: bool) -> RetryPolicy {
        self.retry_timeouts = retry;
        self
    }

    /// Retries an error only if `retryable` says so (a [`Permanent`] one
    /// never): for example, a connection reset but not a schema mismatch.
    pub fn retry_if(
        mut self,
        retryable: impl Fn(&BoxError) -> bool + Send + Sync + 'static,
    ) -> RetryPolicy {
        self.classify = Some(Arc::new(retryable));
        self
    }

    /// Whether this policy retries `failure` (the attempts left aside).
    pub(crate) fn retries(&self, failure: &TaskFailure) -> bool {
        match failure {
            TaskFailure::Failed(error) => {
                !error.is::<Permanent>() && self.classify.as_ref().is_none_or(|c| c(error))
            }
            TaskFailure::Panicked(_) => self.retry_panics,
            TaskFailure::TimedOut { .. } => self.retry_timeouts,
        }
    }

    /// The wait after `failed` failed attempts (1 or more), before jitter.
    pub(crate) fn delay_after(&self, failed: u32) -> Duration {
        let scale = self
            .factor
            .powi(i32::try_from(failed - 1).unwrap_or(i32::MAX));
        let secs = self.base.as_secs_f64() * scale;
        Duration::try_from_secs_f64(secs)
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    /// The wait after `failed` failed attempts, with jitter from `noise`
    /// (a uniform number in `[0, 1)`).
    pub(crate) fn wait_after(&self, failed: u32, noise: f64) -> Duration {
        let delay = self.delay_after(failed);
        delay.mul_f64(1.0 - self.jitter * noise)
    }

    /// Why this policy cannot be used, if it cannot.
    pub(crate) fn problem(&self) -> Option<&'static str> {
        if self.attempts == 0 {
            Some("a task needs at least one attempt")
        } else if !(self.factor.is_finite() && self.factor >= 1.0) {
            Some("the backoff factor must be a finite number of at least 1")
        } else if !(0.0..=1.0).contains(&self.jitter) {
            Some("the jitter must be a fraction from 0 to 1")
        } else if self.base > Self::MAX_DELAY || self.cap > Self::MAX_DELAY {
            Some("a delay may be at most a day (RetryPolicy::MAX_DELAY)")
        } else {
            None
        }
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("attempts", &self.attempts)
            .field("base", &self.base)
            .field("factor", &self.factor)
            .field("cap", &self.cap)
            .field("jitter", &self.jitter)
            .field("retry_panics", &self.retry_panics)
            .field("retry_timeouts", &self.retry_timeouts)
            .field("retry_if", &self.classify.is_some())
            .finish()
    }
}

/// An error no retry can fix: a task returns it (`Err(Permanent::new(e).into())`,
/// or [`permanent(e)`](crate::permanent)) and its
/// [retry policy](RetryPolicy) gives up at once. Shows and sources as the
/// error it wraps.
#[derive(Debug)]
pub struct Permanent(BoxError);

impl Permanent {
    /// Marks `error` as permanent.
    pub fn new(error: impl Into<BoxError>) -> Permanent {
        Permanent(error.into())
    }

    /// The error it wraps.
    pub fn into_inner(self) -> BoxError {
        self.0
    }

    /// The error it wraps.
    pub fn get(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl fmt::Display for Permanent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Permanent {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// `error`, marked as one no retry can fix, as a task's error: for
/// `return Err(kahn::permanent("the partition is malformed"))`.
pub fn permanent(error: impl Into<BoxError>) -> BoxError {
    Box::new(Permanent::new(error))
}

/// The policies declared so far, as `(task, index into policies)`; a later
/// one for a task replaces an earlier one.
pub(crate) struct Declared<'a> {
    tasks: BumpVec<'a, (u32, u32)>,
    policies: Vec<RetryPolicy>,
}

impl<'a> Declared<'a> {
    pub(crate) fn new(bump: &'a Bump) -> Self {
        Declared {
            tasks: BumpVec::new_in(bump),
            policies: Vec::new(),
        }
    }

    pub(crate) fn set(&mut self, task: u32, policy: RetryPolicy) {
        self.tasks.push((task, self.policies.len() as u32));
        self.policies.push(policy);
    }

    /// The table of a graph of `n` tasks; `None` if no task has a policy.
    pub(crate) fn compile(self, bump: &'a Bump, n: usize) -> Option<Retries<'a>> {
        if self.tasks.is_empty() {
            return None;
        }
        let index = bump.alloc_slice_fill_copy(n, NONE);
        for &(task, policy) in self.tasks.iter() {
            index[task as usize] = policy;
        }
        Some(Retries {
            index,
            policies: self.policies.into(),
        })
    }
}

/// No policy, in `Retries::index`.
const NONE: u32 = u32::MAX;

/// Each task's retry policy: four bytes of arena a task (an index), and
/// the policies, for graphs where some task has one.
pub(crate) struct Retries<'a> {
    index: &'a [u32],
    policies: Box<[RetryPolicy]>,
}

impl Retries<'_> {
    /// Task `v`'s policy, if it has one.
    #[inline]
    pub(crate) fn of(&self, v: u32) -> Option<&RetryPolicy> {
        match self.index[v as usize] {
            NONE => None,
            i => self.policies.get(i as usize),
        }
    }
}
