//! Why a task did not run although its run went on: `Skip`, and the one wording of it that reports, observers and `tracing` events share.

use std::fmt;

use crate::id::{TaskId, TaskRef};

/// Why a task was skipped, and the task that decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Skip {
    /// An upstream task (this one) failed, panicked or timed out.
    UpstreamFailed(TaskId),
    /// A trigger rule did not hold: this task's own, or that of the
    /// upstream task given.
    NotTriggered(TaskId),
    /// This branching task chose other successors.
    BranchNotTaken(TaskId),
}

impl Skip {
    /// The task that decided it: the upstream task that did not succeed,
    /// the task whose trigger rule did not hold, or the branch.
    pub fn task(self) -> TaskId {
        match self {
            Skip::UpstreamFailed(task) | Skip::NotTriggered(task) | Skip::BranchNotTaken(task) => {
                task
            }
        }
    }

    /// This reason in words, for the skipped task `own`, showing the task
    /// that decided it as `decider` (by name where it has one).
    pub(crate) fn words(self, own: Option<TaskId>, decider: TaskRef<'_>) -> SkipWords<'_> {
        SkipWords {
            reason: self,
            own,
            decider,
        }
    }
}

/// Shows the deciding task by id: `upstream task #3 did not succeed`. An
/// observer's [`TaskSkipped::why`](crate::TaskSkipped::why) names it instead.
impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.words(None, TaskRef::Id(self.task())).fmt(f)
    }
}

/// A [`Skip`] in words; the one wording that the report's `Display`,
/// `Skip`'s own, observers and `tracing` events share.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SkipWords<'n> {
    reason: Skip,
    /// The skipped task, if known: its own rule reads "its trigger rule".
    own: Option<TaskId>,
    decider: TaskRef<'n>,
}

impl fmt::Display for SkipWords<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let decider = self.decider;
        match self.reason {
            Skip::UpstreamFailed(_) => write!(f, "upstream {decider} did not succeed"),
            Skip::NotTriggered(task) if Some(task) == self.own => {
                f.write_str("not triggered: its trigger rule did not hold")
            }
            Skip::NotTriggered(_) => {
                write!(
                    f,
                    "not triggered: the trigger rule of {decider} did not hold"
                )
            }
            Skip::BranchNotTaken(_) => write!(f, "branch not taken at {decider}"),
        }
    }
}
