//! Why a run stopped starting tasks early: a cancel, its deadline, fail-fast, or a task's call.

use std::fmt;

use crate::id::{TaskId, TaskLabel};
use crate::names::Names;

/// Why a run stopped starting tasks before it ran out of them.
///
/// A run records the first reason given: one byte, and the task for
/// [`CancelledByTask`](StopReason::CancelledByTask).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// The run's [`CancelToken`](crate::CancelToken) was cancelled.
    Cancelled,
    /// The run's deadline or timeout passed.
    DeadlineExceeded,
    /// A task failed under [`FailurePolicy::FailFast`](crate::FailurePolicy::FailFast).
    FailFast,
    /// This task called
    /// [`TaskContext::cancel_run`](crate::TaskContext::cancel_run).
    CancelledByTask(TaskId),
}

impl StopReason {
    /// The byte a run records for this reason (never 0, "not stopped").
    pub(crate) fn code(self) -> u8 {
        match self {
            StopReason::Cancelled => 1,
            StopReason::DeadlineExceeded => 2,
            StopReason::FailFast => 3,
            StopReason::CancelledByTask(_) => 4,
        }
    }

    /// The reason a recorded byte stands for, with the task recorded
    /// beside it; `None` for 0 (not stopped).
    pub(crate) fn from_code(code: u8, task: u32) -> Option<StopReason> {
        [
            StopReason::Cancelled,
            StopReason::DeadlineExceeded,
            StopReason::FailFast,
            StopReason::CancelledByTask(TaskId::new(task)),
        ]
        .into_iter()
        .find(|reason| reason.code() == code)
    }

    /// The reason with its task named, where it has one, as summaries show it.
    pub(crate) fn shown(self, names: &Names<'_>) -> ShownReason {
        ShownReason {
            reason: self,
            task: match self {
                StopReason::CancelledByTask(task) => Some(names.label(task)),
                _ => None,
            },
        }
    }
}

/// A stop reason with its task by name, owned, as summaries show it.
#[derive(Debug, Clone)]
pub(crate) struct ShownReason {
    pub(crate) reason: StopReason,
    task: Option<TaskLabel>,
}

impl fmt::Display for ShownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.task {
            Some(task) => write!(f, "{task} cancelled the run"),
            None => self.reason.fmt(f),
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Cancelled => f.write_str("the run was cancelled"),
            StopReason::DeadlineExceeded => f.write_str("the run passed its deadline"),
            StopReason::FailFast => f.write_str("the run stopped at the first failure (fail-fast)"),
            StopReason::CancelledByTask(task) => write!(f, "task {task} cancelled the run"),
        }
    }
}
