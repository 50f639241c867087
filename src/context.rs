//! What a running task sees: its id and name, its inputs, and whether to stop.

use std::fmt;

use crate::error::{BranchError, InputError, Interrupted};
use crate::exec::run::RunCore;
use crate::id::{TaskId, TaskRef};
use crate::options::StopReason;
use crate::state::State;
use crate::timeout;

/// Handed to a task body while it runs.
///
/// Every input a task reads is the output of a direct predecessor, which has
/// succeeded before the task started (a task with a failed predecessor does
/// not run, unless its [trigger rule](crate::TriggerRule) says so). Reading
/// any other task's output is an [`InputError`], since it might not have
/// run yet.
///
/// ```
/// let mut arena = kahn::Arena::new();
/// let mut b = arena.builder::<u64>();
/// b.task("a", |_| Ok(20))?;
/// b.task("b", |_| Ok(22))?;
/// b.task("sum", |ctx| Ok(ctx.input("a")? + ctx.input("b")?))?;
/// b.edge("a", "sum")?;
/// b.edge("b", "sum")?;
/// let graph = b.build()?;
/// let report = kahn::Executor::with_threads(2)?.run(&graph);
/// assert_eq!(report.output("sum"), Some(&42));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TaskContext<'r, T> {
    pub(crate) core: &'r RunCore<'r, T>,
    pub(crate) node: u32,
    pub(crate) worker: u32,
    /// When the task's timeout passes, on the timeout clock (see
    /// `timeout.rs`); `NO_LIMIT` if it has none. (Beside `worker`, it fits
    /// where padding was.)
    pub(crate) deadline: u64,
}

impl<'r, T> TaskContext<'r, T> {
    /// This task's id.
    pub fn id(&self) -> TaskId {
        TaskId::new(self.node)
    }

    /// This task's name, if it was added with one.
    pub fn name(&self) -> Option<&'r str> {
        self.core.names().name(self.id())
    }

    /// The output of `task`, a direct predecessor of this one, by name or id.
    ///
    /// # Errors
    /// [`InputError`] if `task` does not exist or is not a direct
    /// predecessor. It converts into the task's error type, so `?` works.
    pub fn input<'n>(&self, task: impl Into<TaskRef<'n>>) -> Result<&'r T, InputError> {
        let id = self.predecessor(task.into())?;
        match self.core.state_of(id.raw()) {
            State::Succeeded => Ok(self.core.output_of_predecessor(id.raw())),
            state => Err(InputError::NotSucceeded {
                asker: self.core.names().label(self.id()),
                task: self.core.names().label(id),
                state,
            }),
        }
    }

    /// `task`, if it is a direct predecessor of this task; else why not.
    fn predecessor(&self, task: TaskRef<'_>) -> Result<TaskId, InputError> {
        let asker = || self.core.names().label(self.id());
        let Some(id) = self.core.names().find(task) else {
            return Err(InputError::UnknownTask {
                asker: asker(),
                missing: task.to_owned_ref(),
            });
        };
        if id == self.id() {
            return Err(InputError::OwnOutput { task: asker() });
        }
        if !self.is_predecessor(id) {
            return Err(InputError::NotAPredecessor {
                asker: asker(),
                task: self.core.names().label(id),
            });
        }
        Ok(id)
    }

    fn is_predecessor(&self, id: TaskId) -> bool {
        self.core
            .csr()
            .predecessors(self.node)
            .binary_search(&id.raw())
            .is_ok()
    }

    /// The outputs of the direct predecessors that succeeded, with their
    /// ids, in id order: all of them, unless this task has a
    /// [trigger rule](crate::TriggerRule) that runs it after a failure or
    /// a branch.
    pub fn inputs(&self) -> impl Iterator<Item = (TaskId, &'r T)> + 'r {
        let core = self.core;
        core.csr()
            .predecessors(self.node)
            .iter()
            .filter(move |&&p| core.state_of(p) == State::Succeeded)
            .map(move |&p| (TaskId::new(p), core.output_of_predecessor(p)))
    }

    /// How direct predecessor `task` ended (it has, before this task
    /// starts), by name or id: for a task with a
    /// [trigger rule](crate::TriggerRule) that runs it after a failure.
    ///
    /// # Errors
    /// [`InputError::UnknownTask`], [`InputError::OwnOutput`] or
    /// [`InputError::NotAPredecessor`], as for [`input`](Self::input).
    pub fn upstream<'n>(&self, task: impl Into<TaskRef<'n>>) -> Result<State, InputError> {
        let id = self.predecessor(task.into())?;
        Ok(self.core.state_of(id.raw()))
    }

    /// Runs only `chosen` of this task's direct successors, by name or id;
    /// the others are skipped as
    /// [branch not taken](crate::Outcome::BranchNotTaken). The task must be
    /// declared with [`GraphBuilder::branching`](crate::GraphBuilder::branching),
    /// which has an example. The choice takes effect if the task then
    /// succeeds (a failure skips every successor, as always); a later call
    /// replaces it; choosing nothing passes over every successor.
    ///
    /// # Errors
    /// [`BranchError::NotBranching`] if the task was not declared;
    /// [`BranchError::NotASuccessor`] for a choice that is not a direct
    /// successor. Either leaves the earlier choice, if any, in force.
    pub fn branch<'n, I>(&self, chosen: I) -> Result<(), BranchError>
    where
        I: IntoIterator,
        I::Item: Into<TaskRef<'n>>,
    {
        let task = || self.core.names().label(self.id());
        if !self.core.triggers().is_some_and(|t| t.branches(self.node)) {
            return Err(BranchError::NotBranching { task: task() });
        }
        let successors = self.core.csr().successors(self.node);
        let mut ids = Vec::new();
        for choice in chosen {
            let choice = choice.into();
            match self.core.names().find(choice) {
                Some(id) if successors.contains(&id.raw()) => ids.push(id.raw()),
                _ => {
                    return Err(BranchError::NotASuccessor {
                        task: task(),
                        chosen: choice.to_owned_ref(),
                    })
                }
            }
        }
        self.core.choose(self.node, ids);
        Ok(())
    }

    /// The name of any task in the graph, e.g. of an id from
    /// [`inputs`](Self::inputs); `None` for unnamed tasks and unknown ids.
    pub fn name_of(&self, task: TaskId) -> Option<&'r str> {
        self.core.names().name(task)
    }

    /// The number of direct predecessors.
    pub fn input_count(&self) -> usize {
        self.core.csr().predecessors(self.node).len()
    }

    /// Whether this task should stop: the run has been told to stop
    /// (cancel token, deadline, a failure under fail-fast, or a task's
    /// [`cancel_run`](Self::cancel_run)), or this task has run past its
    /// [timeout](crate::GraphBuilder::timeout). A long task may poll this
    /// and return early; [`checkpoint`](Self::checkpoint) does both in one
    /// call.
    pub fn is_cancelled(&self) -> bool {
        // The run's stop first: looking records its reason (a token
        // cancelled, a deadline passed) in the report.
        self.core.should_stop() || self.past_deadline()
    }

    /// `Err` if this task should stop (see
    /// [`is_cancelled`](Self::is_cancelled)), saying why, for `?` in a
    /// loop. Returned from the task, the error records it as what stopped
    /// it: [timed out](crate::Outcome::TimedOut) past its own timeout,
    /// [cancelled](crate::Outcome::Cancelled) when the run was stopped.
    ///
    /// ```
    /// # let mut arena = kahn::Arena::new();
    /// # let mut b = arena.builder::<u64>();
    /// b.task("scan", |ctx| {
    ///     let mut total = 0;
    ///     for batch in 0..1_000u64 {
    ///         ctx.checkpoint()?;
    ///         total += batch; // one batch of real work
    ///     }
    ///     Ok(total)
    /// })?;
    /// # Ok::<(), kahn::BuildError>(())
    /// ```
    ///
    /// # Errors
    /// [`Interrupted::TimedOut`] past the task's timeout (checked first),
    /// [`Interrupted::RunStopped`] once the run has stopped.
    pub fn checkpoint(&self) -> Result<(), Interrupted> {
        let stopped = self.core.should_stop();
        if self.past_deadline() {
            return Err(Interrupted::TimedOut {
                task: self.core.names().label(self.id()),
                limit: self.core.timeout_of(self.node).unwrap_or_default(),
            });
        }
        if stopped {
            return Err(Interrupted::RunStopped {
                task: self.core.names().label(self.id()),
                reason: self.core.stop_reason().unwrap_or(StopReason::Cancelled),
            });
        }
        Ok(())
    }

    fn past_deadline(&self) -> bool {
        timeout::is_past(self.deadline)
    }

    /// Which attempt of this task is running: 1, or more if a
    /// [retry policy](crate::GraphBuilder::retry) ran it again after a
    /// failure.
    pub fn attempt(&self) -> u32 {
        self.core.attempt_of(self.node)
    }

    /// Stops the whole run, as a cancelled [`CancelToken`] would: no task
    /// starts after this (each is recorded
    /// [`Cancelled`](crate::Outcome::Cancelled)), running tasks see
    /// [`is_cancelled`](Self::is_cancelled), and the report's
    /// [`stop_reason`](crate::Report::stop_reason) is
    /// [`StopReason::CancelledByTask`] with this task, unless the run had
    /// stopped for another reason first. This task itself ends as its body
    /// returns: `Ok` is a success. For a sensor that finds the batch
    /// incomplete, say, and would rather stop the run than fail.
    ///
    /// ```
    /// use kahn::{Executor, Outcome, StopReason};
    /// let mut arena = kahn::Arena::new();
    /// let mut b = arena.builder::<()>();
    /// let sensor = b.task("sensor", |ctx| {
    ///     let files_arrived = false;
    ///     if !files_arrived {
    ///         ctx.cancel_run();
    ///     }
    ///     Ok(())
    /// })?;
    /// b.task("load", |_| Ok(()))?;
    /// b.edge("sensor", "load")?;
    /// let graph = b.build()?;
    /// let report = Executor::with_threads(2)?.run(&graph);
    /// assert_eq!(report.stop_reason(), Some(StopReason::CancelledByTask(sensor)));
    /// assert!(matches!(report.outcome("load"), Some(Outcome::Cancelled)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// [`CancelToken`]: crate::CancelToken
    pub fn cancel_run(&self) {
        self.core.cancel_by(self.id());
    }

    /// The index of the worker running this task, from 0 (always 0 in a
    /// one-thread or nested run).
    pub fn worker_index(&self) -> usize {
        self.worker as usize
    }
}

impl<T> fmt::Debug for TaskContext<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskContext")
            .field("task", &self.core.names().shown(self.id()))
            .field("worker", &self.worker)
            .finish()
    }
}
