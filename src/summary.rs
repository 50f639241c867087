//! An owned summary of a report: what ran, failed and was skipped and why, with attempts and timings, for logs and files (serialisable with the feature `serde`).

use std::time::Duration;

use crate::id::TaskId;
use crate::report::{Counts, Outcome, Report, Timing};
use crate::skip::Skip;
use crate::state::State;

/// What a run did, owned (it borrows neither the graph nor the report) and,
/// with the cargo feature `serde`, serialisable: for a log line, a run
/// history, a dashboard. Made by [`Report::summary`].
///
/// ```
/// let mut arena = kahn::Arena::new();
/// let mut b = arena.builder::<u32>();
/// b.task("extract", |_| Ok(1))?;
/// b.task("load", |_| Err("the warehouse is down".into()))?;
/// b.edge("extract", "load")?;
/// let graph = b.build()?;
/// let summary = kahn::Executor::with_threads(2)?.run(&graph).summary();
/// drop(graph); // the summary outlives both
/// assert_eq!(summary.counts.failed, 1);
/// let load = &summary.tasks[1];
/// assert_eq!(load.name.as_deref(), Some("load"));
/// assert_eq!(load.error.as_deref(), Some("the warehouse is down"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct RunSummary {
    /// Every task, by id.
    pub tasks: Vec<TaskSummary>,
    /// How many tasks ended in each state.
    pub counts: Counts,
    /// From the run's start to its end.
    pub wall_time: Duration,
    /// Why the run stopped early, as a sentence; `None` if it did not.
    pub stopped: Option<String>,
    /// When it was told to stop, from its start ([`Report::stopped_at`]);
    /// `None` if it was not (and in summaries written before this field).
    #[cfg_attr(feature = "serde", serde(default))]
    pub stopped_at: Option<Duration>,
}

/// One task of a [`RunSummary`].
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct TaskSummary {
    /// The task's id.
    pub id: TaskId,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// How it ended.
    pub state: State,
    /// For a task that failed, panicked or timed out: the error, the panic
    /// message, or the timeout, as a sentence.
    pub error: Option<String>,
    /// For a skipped task: why, and which task decided it.
    pub skipped: Option<Skip>,
    /// Attempts it made (more than one under a retry policy; 0 if it did
    /// not run, or was carried over).
    pub attempts: u32,
    /// The errors of its attempts before the last, oldest first.
    pub failed_attempts: Vec<String>,
    /// Carried over from the earlier run by a resume, not run again.
    pub carried_over: bool,
    /// It succeeded, and its output is not in the report: taken by its one
    /// reader, or released early.
    pub output_consumed: bool,
    /// When and on which worker it ran (its last attempt), if the run
    /// recorded timings.
    pub timing: Option<Timing>,
    /// When and on which worker its attempts before the last ran, oldest
    /// first, if the run recorded timings.
    pub attempt_timings: Vec<Timing>,
    /// For a skipped task, when the run skipped it, from its start, if the
    /// run recorded timings ([`Report::settled_at`]; `None` in summaries
    /// written before this field).
    #[cfg_attr(feature = "serde", serde(default))]
    pub settled_at: Option<Duration>,
}

impl<T> Report<'_, T> {
    /// An owned summary of this report, every task's outcome with its error
    /// text, skip reason, attempts and timing; see [`RunSummary`].
    pub fn summary(&self) -> RunSummary {
        let tasks = self
            .tasks()
            .map(|task| {
                let id = task.id;
                let (error, skipped) = match task.outcome {
                    Outcome::Failed(error) => (Some(error.to_string()), None),
                    Outcome::Panicked(message) => (Some(message.to_owned()), None),
                    Outcome::TimedOut { limit } => {
                        (Some(format!("it ran past its timeout of {limit:?}")), None)
                    }
                    outcome => (None, outcome.skip()),
                };
                TaskSummary {
                    id,
                    name: task.name.map(str::to_owned),
                    state: task.outcome.state(),
                    error,
                    skipped,
                    attempts: self.attempts(id),
                    failed_attempts: self
                        .failed_attempts(id)
                        .iter()
                        .map(|failure| failure.to_string())
                        .collect(),
                    carried_over: self.carried_over(id),
                    output_consumed: matches!(task.outcome, Outcome::Consumed),
                    timing: task.timing,
                    attempt_timings: self.attempt_timings(id).to_vec(),
                    settled_at: task.settled_at,
                }
            })
            .collect();
        RunSummary {
            tasks,
            counts: self.counts(),
            wall_time: self.wall_time(),
            stopped: self.stop_reason_shown(),
            stopped_at: self.stopped_at(),
        }
    }
}
