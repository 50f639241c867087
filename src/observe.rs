//! Observer hooks: a trait whose methods a run calls as it starts, runs, retries, skips and ends tasks.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::TaskFailure;
use crate::id::TaskId;
use crate::names::Names;
use crate::report::Counts;
use crate::skip::Skip;
use crate::state::State;
use crate::stop::StopReason;

/// What a run tells as it goes: give one to a run with
/// [`RunOptions::observer`](crate::RunOptions::observer).
///
/// Every method has a default that does nothing, so an observer implements
/// only what it needs. A run without an observer pays nothing for the
/// hooks: the executor tests one flag per task, which it tests anyway.
///
/// **Where the calls run.** Each task event is called on the worker thread
/// that caused it, inside the run: while it runs, that worker runs no task,
/// so keep the methods short (count, push to a channel, update a bar) and
/// do anything slow elsewhere. Calls for different tasks come from several
/// threads at once (hence `Sync`), in no global order; for one task they
/// come in order: [`task_started`](Self::task_started), then
/// [`task_retried`](Self::task_retried) or
/// [`task_finished`](Self::task_finished) on the same thread, and so on
/// for each attempt. A task's `task_finished` or
/// [`task_skipped`](Self::task_skipped) comes before any event of the
/// tasks downstream of it. [`run_started`](Self::run_started) comes before
/// every task event of the run, [`run_ended`](Self::run_ended) after all of
/// them, both on the thread that called `run`. The methods must not panic:
/// a panic in one called on a worker is not caught (it would leave the run
/// half recorded) and aborts the process, like any panic inside the
/// executor.
///
/// One observer may watch several runs, one after another or at once: each
/// event carries the run's [`RunId`].
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use kahn::{Executor, Observer, RunOptions, TaskFinished};
///
/// #[derive(Default)]
/// struct Failures(AtomicUsize);
///
/// impl Observer for Failures {
///     fn task_finished(&self, task: &TaskFinished<'_>) {
///         if let Some(failure) = task.failure {
///             eprintln!("{} failed: {failure}", task.label());
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///     }
/// }
///
/// let mut arena = kahn::Arena::new();
/// let mut b = arena.builder::<u32>();
/// b.task("extract", |_| Ok(1))?;
/// b.task("load", |_| Err("the warehouse is down".into()))?;
/// b.edge("extract", "load")?;
/// let graph = b.build()?;
/// let failures = Arc::new(Failures::default());
/// let options = RunOptions::new().observer(failures.clone());
/// Executor::with_threads(2)?.run_with(&graph, &options);
/// assert_eq!(failures.0.load(Ordering::Relaxed), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Observer: Send + Sync {
    /// The run is set up and about to start its first task.
    fn run_started(&self, run: &RunStarted) {
        let _ = run;
    }

    /// An attempt of a task is about to start, on this thread.
    fn task_started(&self, task: &TaskStarted<'_>) {
        let _ = task;
    }

    /// A task's last attempt returned: it succeeded, failed, panicked, timed
    /// out, or was cancelled (it returned
    /// [`Interrupted`](crate::Interrupted) after the run stopped).
    fn task_finished(&self, task: &TaskFinished<'_>) {
        let _ = task;
    }

    /// An attempt failed and the task's retry policy runs it again after
    /// `delay`; another [`task_started`](Self::task_started) follows unless
    /// the run stops first (then [`task_skipped`](Self::task_skipped) says
    /// it ended with this failure).
    fn task_retried(&self, task: &TaskRetried<'_>) {
        let _ = task;
    }

    /// A task ended without running (again): skipped (upstream failed, not
    /// triggered, branch not taken), or cancelled by a stop before it
    /// started, or failed because a stop cut short its wait for another
    /// attempt.
    fn task_skipped(&self, task: &TaskSkipped<'_>) {
        let _ = task;
    }

    /// Every task has ended; the report is about to be returned.
    fn run_ended(&self, run: &RunEnded) {
        let _ = run;
    }
}

/// Tells the runs an [`Observer`] watches apart: unique in the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(pub(crate) u64);

impl RunId {
    /// The number behind the id (runs are numbered from 1 in the order
    /// they start, across the process).
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "run {}", self.0)
    }
}

/// [`Observer::run_started`]'s event.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunStarted {
    /// Which run.
    pub run: RunId,
    /// Tasks in the graph.
    pub tasks: usize,
    /// Of those, tasks a [resume](crate::Executor::resume) carried over:
    /// they will not run, and no event tells of them.
    pub carried_over: usize,
    /// Worker threads the run may use at once.
    pub workers: usize,
}

/// [`Observer::task_started`]'s event.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TaskStarted<'a> {
    /// Which run.
    pub run: RunId,
    /// The task.
    pub id: TaskId,
    /// Its name, if it has one.
    pub name: Option<&'a str>,
    /// The index of the worker running it (as in [`Timing::worker`](crate::Timing::worker)).
    pub worker: usize,
    /// Which attempt this is, from 1.
    pub attempt: u32,
}

/// [`Observer::task_finished`]'s event.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TaskFinished<'a> {
    /// Which run.
    pub run: RunId,
    /// The task.
    pub id: TaskId,
    /// Its name, if it has one.
    pub name: Option<&'a str>,
    /// The index of the worker that ran it.
    pub worker: usize,
    /// Which attempt this was, from 1 (the task's number of attempts).
    pub attempt: u32,
    /// How it ended: `Succeeded`, `Failed`, `Panicked`, `TimedOut` or
    /// `Cancelled`.
    pub state: State,
    /// What went wrong, for `Failed`, `Panicked` and `TimedOut`.
    pub failure: Option<&'a TaskFailure>,
    /// How long this attempt's body took.
    pub duration: Duration,
}

/// [`Observer::task_retried`]'s event.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TaskRetried<'a> {
    /// Which run.
    pub run: RunId,
    /// The task.
    pub id: TaskId,
    /// Its name, if it has one.
    pub name: Option<&'a str>,
    /// The index of the worker that ran the attempt.
    pub worker: usize,
    /// Which attempt failed, from 1.
    pub attempt: u32,
    /// How it failed.
    pub failure: &'a TaskFailure,
    /// How long the failed attempt's body took.
    pub duration: Duration,
    /// How long the task waits before its next attempt (holding no worker).
    pub delay: Duration,
}

/// [`Observer::task_skipped`]'s event.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TaskSkipped<'a> {
    /// Which run.
    pub run: RunId,
    /// The task.
    pub id: TaskId,
    /// Its name, if it has one.
    pub name: Option<&'a str>,
    /// How it ended: `Skipped`, `Cancelled`, or `Failed` (a stop ended its
    /// wait for another attempt; its failure is its last attempt's, which
    /// [`Observer::task_retried`] told).
    pub state: State,
    /// For `Skipped`: why, and which task decided it.
    pub reason: Option<Skip>,
    /// The graph's names, for [`why`](Self::why).
    pub(crate) names: Names<'a>,
}

impl TaskSkipped<'_> {
    /// For `Skipped`: why, in words that name the task that decided it,
    /// as the report does: ``upstream `parse` did not succeed``, ``branch
    /// not taken at `route` ``, `not triggered: its trigger rule did not
    /// hold`. `None` for a cancelled or failed task.
    pub fn why(&self) -> Option<impl fmt::Display + '_> {
        let reason = self.reason?;
        Some(reason.words(Some(self.id), self.names.shown(reason.task())))
    }
}

/// [`Observer::run_ended`]'s event.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunEnded {
    /// Which run.
    pub run: RunId,
    /// How many tasks ended in each state (as in the report).
    pub counts: Counts,
    /// From the run's start to its end.
    pub wall_time: Duration,
    /// Why the run stopped early, if it did.
    pub stop_reason: Option<StopReason>,
}

macro_rules! label {
    ($event:ident) => {
        impl $event<'_> {
            /// The task as a message names it (`Display`): its name in
            /// backticks, or `task #id`.
            pub fn label(&self) -> crate::id::TaskRef<'_> {
                match self.name {
                    Some(name) => crate::id::TaskRef::Name(name),
                    None => crate::id::TaskRef::Id(self.id),
                }
            }
        }
    };
}
label!(TaskStarted);
label!(TaskFinished);
label!(TaskRetried);
label!(TaskSkipped);

/// An observer in [`RunOptions`](crate::RunOptions): shared, and shown by
/// `Debug` without asking the observer to be `Debug`.
#[derive(Clone)]
pub(crate) struct SharedObserver(pub(crate) Arc<dyn Observer>);

impl fmt::Debug for SharedObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Observer")
    }
}
