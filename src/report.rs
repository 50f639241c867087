//! What a run did: each task's outcome and output, timings, totals.

use std::fmt;
use std::time::Duration;

use crate::error::{BoxError, RunError, TaskFailure};
use crate::id::{TaskId, TaskRef};
use crate::names::{Names, TaskLabel};

/// How one task ended in one run.
#[derive(Debug)]
pub enum Outcome<T> {
    /// The task returned `Ok` with this output.
    Succeeded(T),
    /// The task returned this error.
    Failed(BoxError),
    /// The task panicked; this is its panic message.
    Panicked(String),
    /// The task did not run because an upstream task failed or panicked.
    Skipped {
        /// The task whose failure this one was skipped for (the root cause,
        /// not an intermediate skipped task). If several upstream tasks
        /// failed, one of them.
        cause: TaskId,
    },
    /// The task did not start because the run was stopped (cancel token,
    /// deadline, or fail-fast).
    Cancelled,
}

/// An [`Outcome`] without its payload, for counting and matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// See [`Outcome::Succeeded`].
    Succeeded,
    /// See [`Outcome::Failed`].
    Failed,
    /// See [`Outcome::Panicked`].
    Panicked,
    /// See [`Outcome::Skipped`].
    Skipped,
    /// See [`Outcome::Cancelled`].
    Cancelled,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::Panicked => "panicked",
            State::Skipped => "skipped",
            State::Cancelled => "cancelled",
        })
    }
}

impl<T> Outcome<T> {
    /// The state, without payload.
    pub fn state(&self) -> State {
        match self {
            Outcome::Succeeded(_) => State::Succeeded,
            Outcome::Failed(_) => State::Failed,
            Outcome::Panicked(_) => State::Panicked,
            Outcome::Skipped { .. } => State::Skipped,
            Outcome::Cancelled => State::Cancelled,
        }
    }

    /// The output, if the task succeeded.
    pub fn output(&self) -> Option<&T> {
        match self {
            Outcome::Succeeded(output) => Some(output),
            _ => None,
        }
    }
}

/// Why a run stopped starting tasks before it ran out of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// The run's [`CancelToken`](crate::CancelToken) was cancelled.
    Cancelled,
    /// The run's deadline or timeout passed.
    DeadlineExceeded,
    /// A task failed under [`FailurePolicy::FailFast`](crate::FailurePolicy::FailFast).
    FailFast,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StopReason::Cancelled => "the run was cancelled",
            StopReason::DeadlineExceeded => "the run passed its deadline",
            StopReason::FailFast => "the run stopped at the first failure (fail-fast)",
        })
    }
}

/// When and where one task ran, if the run recorded timings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    /// From the start of the run to the start of the task.
    pub start: Duration,
    /// How long the task's body took.
    pub duration: Duration,
    /// The index of the worker thread that ran it.
    pub worker: usize,
}

/// How many tasks ended in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Tasks that returned `Ok`.
    pub succeeded: usize,
    /// Tasks that returned `Err`.
    pub failed: usize,
    /// Tasks that panicked.
    pub panicked: usize,
    /// Tasks skipped because something upstream failed.
    pub skipped: usize,
    /// Tasks not started because the run was stopped.
    pub cancelled: usize,
}

impl Counts {
    /// All tasks counted.
    pub fn total(&self) -> usize {
        self.succeeded + self.failed + self.panicked + self.skipped + self.cancelled
    }
}

/// The result of one run of a [`Graph`](crate::Graph).
///
/// Borrows the graph for task names; take outputs out with
/// [`into_outcomes`](Report::into_outcomes) to keep them past it.
pub struct Report<'g, T> {
    pub(crate) names: Names<'g>,
    pub(crate) outcomes: Vec<Outcome<T>>,
    pub(crate) timings: Option<Vec<Timing>>,
    pub(crate) counts: Counts,
    pub(crate) wall: Duration,
    pub(crate) stop: Option<StopReason>,
}

/// One task's line in a report: id, name, outcome, timing.
#[derive(Debug)]
pub struct TaskReport<'r, T> {
    /// The task's id.
    pub id: TaskId,
    /// The task's name, if it has one.
    pub name: Option<&'r str>,
    /// How it ended.
    pub outcome: &'r Outcome<T>,
    /// When it ran, if timings were recorded and it ran.
    pub timing: Option<Timing>,
}

impl<'g, T> Report<'g, T> {
    /// The outcome of a task, by name or id; `None` if the graph has no such task.
    pub fn outcome<'n>(&self, task: impl Into<TaskRef<'n>>) -> Option<&Outcome<T>> {
        let id = self.names.find(task.into())?;
        self.outcomes.get(id.index())
    }

    /// The output of a task that succeeded; `None` if it did not, or if there
    /// is no such task.
    pub fn output<'n>(&self, task: impl Into<TaskRef<'n>>) -> Option<&T> {
        self.outcome(task)?.output()
    }

    /// The name of a task, e.g. of a `Skipped` task's `cause`; `None` for
    /// unnamed tasks and unknown ids.
    pub fn name(&self, task: TaskId) -> Option<&'g str> {
        self.names.name(task)
    }

    /// The state of a task, by name or id.
    pub fn state<'n>(&self, task: impl Into<TaskRef<'n>>) -> Option<State> {
        self.outcome(task).map(Outcome::state)
    }

    /// When a task ran; `None` unless timings were recorded and it started.
    pub fn timing<'n>(&self, task: impl Into<TaskRef<'n>>) -> Option<Timing> {
        let id = self.names.find(task.into())?;
        let timing = *self.timings.as_ref()?.get(id.index())?;
        matches!(
            self.outcomes[id.index()],
            Outcome::Succeeded(_) | Outcome::Failed(_) | Outcome::Panicked(_)
        )
        .then_some(timing)
    }

    /// Every task, in id order.
    pub fn tasks(&self) -> impl ExactSizeIterator<Item = TaskReport<'_, T>> + '_ {
        self.outcomes.iter().enumerate().map(move |(i, outcome)| {
            let id = TaskId::new(i as u32);
            let timing = self.timings.as_ref().map(|t| t[i]).filter(|_| {
                matches!(
                    outcome,
                    Outcome::Succeeded(_) | Outcome::Failed(_) | Outcome::Panicked(_)
                )
            });
            TaskReport {
                id,
                name: self.names.name(id),
                outcome,
                timing,
            }
        })
    }

    /// The tasks that failed or panicked, in id order.
    pub fn failures(&self) -> impl Iterator<Item = TaskReport<'_, T>> + '_ {
        self.tasks()
            .filter(|t| matches!(t.outcome, Outcome::Failed(_) | Outcome::Panicked(_)))
    }

    /// How many tasks ended in each state.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Whether every task succeeded.
    pub fn is_success(&self) -> bool {
        self.counts.succeeded == self.outcomes.len()
    }

    /// How long the run took, from first task to last.
    pub fn wall_time(&self) -> Duration {
        self.wall
    }

    /// Why the run stopped early, if it did.
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.stop
    }

    /// The number of tasks.
    pub fn len(&self) -> usize {
        self.outcomes.len()
    }

    /// Whether the graph had no tasks.
    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
    }

    /// The outcomes by task id, detached from the graph.
    pub fn into_outcomes(self) -> Vec<Outcome<T>> {
        self.outcomes
    }

    /// `Ok(self)` if every task succeeded, else a [`RunError`] that owns the
    /// failures, for `?`.
    pub fn into_result(self) -> Result<Self, RunError> {
        if self.is_success() {
            return Ok(self);
        }
        let Report {
            names,
            outcomes,
            counts,
            stop,
            ..
        } = self;
        let failures = outcomes
            .into_iter()
            .enumerate()
            .filter_map(|(i, outcome)| {
                let failure = match outcome {
                    Outcome::Failed(error) => TaskFailure::Failed(error),
                    Outcome::Panicked(message) => TaskFailure::Panicked(message),
                    _ => return None,
                };
                Some((names.label(TaskId::new(i as u32)).to_string(), failure))
            })
            .collect();
        Err(RunError {
            failures,
            skipped: counts.skipped,
            cancelled: counts.cancelled,
            total: counts.total(),
            stop,
        })
    }

    fn label(&self, id: TaskId) -> TaskLabel<'g> {
        self.names.label(id)
    }
}

/// A summary: totals, then every failure, then what was skipped for it.
/// Long lists are cut at ten lines each.
impl<T> fmt::Display for Report<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_LINES: usize = 10;
        let c = self.counts;
        write!(
            f,
            "ran {} tasks in {:.3?}: {} succeeded, {} failed, {} panicked, {} skipped, {} cancelled",
            self.outcomes.len(),
            self.wall,
            c.succeeded,
            c.failed,
            c.panicked,
            c.skipped,
            c.cancelled
        )?;
        if let Some(stop) = self.stop {
            write!(f, "\n  stopped early: {stop}")?;
        }
        let mut shown = 0;
        for (i, outcome) in self.outcomes.iter().enumerate() {
            let label = self.label(TaskId::new(i as u32));
            match outcome {
                Outcome::Failed(error) => write!(f, "\n  failed:   {label}: {error}")?,
                Outcome::Panicked(message) => write!(f, "\n  panicked: {label}: {message}")?,
                _ => continue,
            }
            shown += 1;
            if shown == MAX_LINES && c.failed + c.panicked > MAX_LINES {
                write!(
                    f,
                    "\n  … and {} more failures",
                    c.failed + c.panicked - MAX_LINES
                )?;
                break;
            }
        }
        let mut shown = 0;
        for (i, outcome) in self.outcomes.iter().enumerate() {
            if let Outcome::Skipped { cause } = outcome {
                let label = self.label(TaskId::new(i as u32));
                write!(
                    f,
                    "\n  skipped:  {label} (because {} did not succeed)",
                    self.label(*cause)
                )?;
                shown += 1;
                if shown == MAX_LINES && c.skipped > MAX_LINES {
                    write!(f, "\n  … and {} more skipped", c.skipped - MAX_LINES)?;
                    break;
                }
            }
        }
        Ok(())
    }
}

impl<T: fmt::Debug> fmt::Debug for Report<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report")
            .field("counts", &self.counts)
            .field("wall", &self.wall)
            .field("stop", &self.stop)
            .field("outcomes", &self.outcomes)
            .finish()
    }
}
