//! What travels between workers: a hello with the graph's fingerprint, each task's end (with its output, to the workers whose tasks read it), and a stop.

use std::time::Duration;

use kahn::{RemoteOutcome, Settled, Skip, State, StopReason, TaskFailure, TaskId, Timing};
use serde::{Deserialize, Serialize};

/// A message, the worker it goes to (timely's exchange routes by `to`) and
/// the worker it comes from (every message tells the receiver its sender
/// is alive).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Envelope<T> {
    pub(crate) to: u32,
    pub(crate) from: u32,
    pub(crate) message: Message<T>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Message<T> {
    /// Sent by every worker to every worker before any task runs.
    Hello(Hello),
    /// A task of the sender's part ended. `output` travels only to the
    /// workers that run one of its successors.
    Ended {
        task: u32,
        end: End,
        output: Option<T>,
        /// When it ran, on its worker's clock (the runs start together,
        /// after the hello), if the run records timings.
        timing: Option<Timing>,
    },
    /// The sender's run was cancelled: stop here too.
    Stop,
    /// Nothing else to say for a while: the sender is still there.
    Alive,
    /// The sender's run has every outcome: it will close once every
    /// worker has said so.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Hello {
    pub(crate) from: u32,
    /// Shared by the workers of one process, different across processes.
    pub(crate) process: u64,
    pub(crate) tasks: u64,
    pub(crate) graph: u64,
    pub(crate) placement: u64,
}

/// How a task ended, in a form that crosses processes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum End {
    Succeeded { chose: Option<Vec<u32>> },
    Failed(String),
    Panicked(String),
    TimedOut(Duration),
    Skipped { kind: u8, by: u32 },
    Cancelled(Option<Stop>),
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) enum Stop {
    Cancelled,
    DeadlineExceeded,
    FailFast,
    CancelledByTask(u32),
}

impl End {
    /// The end told to a part run's outbox.
    pub(crate) fn of<T>(settled: &Settled<'_, T>) -> End {
        match settled.state {
            State::Succeeded => End::Succeeded {
                chose: settled
                    .chose
                    .as_ref()
                    .map(|chose| chose.iter().map(|t| t.index() as u32).collect()),
            },
            State::Skipped => match settled.skipped {
                Some(skip) => {
                    let kind = match skip {
                        Skip::UpstreamFailed(_) => 0,
                        Skip::BranchNotTaken(_) => 2,
                        _ => 1,
                    };
                    End::Skipped {
                        kind,
                        by: skip.task().index() as u32,
                    }
                }
                None => End::Cancelled(settled.stopped.map(Stop::of)),
            },
            State::Cancelled => End::Cancelled(settled.stopped.map(Stop::of)),
            _ => match settled.failure {
                Some(TaskFailure::Panicked(message)) => End::Panicked(message.clone()),
                Some(TaskFailure::TimedOut { limit }) => End::TimedOut(*limit),
                Some(failure) => End::Failed(match failure {
                    TaskFailure::Failed(error) => error.to_string(),
                    other => other.to_string(),
                }),
                None => End::Failed(format!("{} elsewhere", settled.state)),
            },
        }
    }

    /// The end as the receiving part run records it.
    pub(crate) fn into_remote<T>(self, output: Option<T>) -> RemoteOutcome<T> {
        match self {
            End::Succeeded { chose } => RemoteOutcome::Succeeded {
                output,
                chose: chose.map(|chose| chose.into_iter().map(TaskId::new).collect()),
            },
            End::Failed(message) => RemoteOutcome::Failed(TaskFailure::Failed(message.into())),
            End::Panicked(message) => RemoteOutcome::Failed(TaskFailure::Panicked(message)),
            End::TimedOut(limit) => RemoteOutcome::Failed(TaskFailure::TimedOut { limit }),
            End::Skipped { kind, by } => {
                let by = TaskId::new(by);
                RemoteOutcome::Skipped(match kind {
                    0 => Skip::UpstreamFailed(by),
                    2 => Skip::BranchNotTaken(by),
                    _ => Skip::NotTriggered(by),
                })
            }
            End::Cancelled(stop) => RemoteOutcome::Cancelled(stop.map(Stop::into_reason)),
        }
    }
}

impl Stop {
    fn of(reason: StopReason) -> Stop {
        match reason {
            StopReason::DeadlineExceeded => Stop::DeadlineExceeded,
            StopReason::FailFast => Stop::FailFast,
            StopReason::CancelledByTask(task) => Stop::CancelledByTask(task.index() as u32),
            _ => Stop::Cancelled,
        }
    }

    fn into_reason(self) -> StopReason {
        match self {
            Stop::Cancelled => StopReason::Cancelled,
            Stop::DeadlineExceeded => StopReason::DeadlineExceeded,
            Stop::FailFast => StopReason::FailFast,
            Stop::CancelledByTask(task) => StopReason::CancelledByTask(TaskId::new(task)),
        }
    }
}
