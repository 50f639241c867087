//! What a running task sees: its id and name, its inputs, and whether to stop.

use std::any::Any;
use std::fmt;

use crate::error::{BranchError, InputError, Interrupted};
use crate::exec::run::{Refusal, RunCore};
use crate::id::{TaskId, TaskRef};
use crate::state::{holds_output, State};
use crate::stop::StopReason;
use crate::timeout;
use crate::value::{Output, Value};

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
        self.read(id)
    }

    /// The output of predecessor `id`, by reference.
    fn read(&self, id: TaskId) -> Result<&'r T, InputError> {
        let p = id.raw();
        let code = self.core.lend(p);
        if holds_output(code) {
            return Ok(self.core.output_of_predecessor(p));
        }
        let (asker, task) = (
            self.core.names().label(self.id()),
            self.core.names().label(id),
        );
        match State::from_code(code) {
            State::Succeeded => Err(InputError::Taken { asker, task }),
            state => Err(InputError::NotSucceeded { asker, task, state }),
        }
    }

    /// Moves the output of `task`, a direct predecessor, out of the run and
    /// into this task, by name or id: for a large value that flows down a
    /// chain, with no copy. Allowed when this task is the output's only
    /// reader: `task` has no other direct successor, is not
    /// [kept](crate::GraphBuilder::keep_output) for the report, and this
    /// task has not read it by reference ([`input`](Self::input),
    /// [`inputs`](Self::inputs)) in this attempt. The report then shows
    /// `task` as [`Outcome::Consumed`](crate::Outcome::Consumed).
    ///
    /// A taken input is gone for a later attempt of this task too (under a
    /// [retry policy](crate::GraphBuilder::retry)), which then gets
    /// [`InputError::Taken`]: take it where the task can no longer fail, or
    /// read it by reference in a task that may be retried.
    ///
    /// ```
    /// let mut arena = kahn::Arena::new();
    /// let mut b = arena.builder::<Vec<u64>>();
    /// b.task("extract", |_| Ok((0..1_000).collect()))?;
    /// b.task("transform", |ctx| {
    ///     let mut rows = ctx.take_input("extract")?; // moved, not cloned
    ///     rows.retain(|r| r % 2 == 0);
    ///     Ok(rows)
    /// })?;
    /// b.edge("extract", "transform")?;
    /// let graph = b.build()?;
    /// let report = kahn::Executor::with_threads(2)?.run(&graph);
    /// assert_eq!(report.output("transform").map(Vec::len), Some(500));
    /// assert!(matches!(report.outcome("extract"), Some(kahn::Outcome::Consumed)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`input`](Self::input); also [`InputError::Shared`] if other
    /// tasks read it or it is kept, [`InputError::Lent`] if this task read
    /// it by reference first, [`InputError::Taken`] if it took it already.
    pub fn take_input<'n>(&self, task: impl Into<TaskRef<'n>>) -> Result<T, InputError> {
        let id = self.predecessor(task.into())?;
        self.core.take_output(id.raw()).map_err(|refusal| {
            let (asker, task) = (
                self.core.names().label(self.id()),
                self.core.names().label(id),
            );
            match refusal {
                Refusal::Taken => InputError::Taken { asker, task },
                Refusal::NotSucceeded(state) => InputError::NotSucceeded { asker, task, state },
                Refusal::Shared(readers) => InputError::Shared {
                    asker,
                    task,
                    readers,
                },
                Refusal::Lent => InputError::Lent { asker, task },
            }
        })
    }

    /// The run's input, given with
    /// [`RunOptions::input`](crate::RunOptions::input), which has an example.
    ///
    /// # Errors
    /// [`InputError::NoRunInput`] if the run was given none,
    /// [`InputError::RunInputType`] if it is not an `I`.
    pub fn run_input<I: Any>(&self) -> Result<&'r I, InputError> {
        let task = || self.core.names().label(self.id());
        let expected = std::any::type_name::<I>();
        let Some(input) = self.core.run_input() else {
            return Err(InputError::NoRunInput {
                task: task(),
                expected,
            });
        };
        input.get().ok_or_else(|| InputError::RunInputType {
            task: task(),
            expected,
            found: input.type_name(),
        })
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
    /// a branch. An input this task [took](Self::take_input) is left out.
    pub fn inputs(&self) -> impl Iterator<Item = (TaskId, &'r T)> + 'r {
        let core = self.core;
        core.csr()
            .predecessors(self.node)
            .iter()
            .filter(move |&&p| holds_output(core.lend(p)))
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

    /// The index of the worker running this task: its seat in the run, from
    /// 0 (always 0 in a run with one worker: on a one-thread executor, or
    /// with [`max_workers(1)`](crate::RunOptions::max_workers)).
    pub fn worker_index(&self) -> usize {
        self.worker as usize
    }
}

/// Typed reads in a graph whose tasks output different types.
impl<'r> TaskContext<'r, Value> {
    /// The output behind a typed handle, a direct predecessor's, as its own
    /// type. See [`Output`] for an example.
    ///
    /// # Errors
    /// [`InputError::OtherGraph`] for a handle of another graph; else as
    /// [`input`](Self::input).
    pub fn get<U: Any>(&self, output: Output<U>) -> Result<&'r U, InputError> {
        let id = self.own(output)?;
        self.predecessor(TaskRef::Id(id))?;
        let value = self.read(id)?;
        value
            .downcast_ref()
            .ok_or_else(|| self.wrong_type::<U>(id, value))
    }

    /// Moves the output behind a typed handle into this task, as its own
    /// type, when this task is its only reader; see
    /// [`take_input`](Self::take_input).
    ///
    /// # Errors
    /// [`InputError::OtherGraph`] for a handle of another graph; else as
    /// [`take_input`](Self::take_input).
    pub fn take<U: Any>(&self, output: Output<U>) -> Result<U, InputError> {
        let id = self.own(output)?;
        let value = self.take_input(id)?;
        // A handle of this graph always has its task's type.
        value
            .downcast()
            .map_err(|value| self.wrong_type::<U>(id, &value))
    }

    /// The output of `task`, a direct predecessor, by name or id, as a `U`:
    /// the name-based way to read a typed output.
    ///
    /// # Errors
    /// [`InputError::WrongType`] if it is not a `U`; else as
    /// [`input`](Self::input).
    pub fn input_as<'n, U: Any>(&self, task: impl Into<TaskRef<'n>>) -> Result<&'r U, InputError> {
        let id = self.predecessor(task.into())?;
        let value = self.read(id)?;
        value
            .downcast_ref()
            .ok_or_else(|| self.wrong_type::<U>(id, value))
    }

    /// `output`'s task, if the handle is of this graph.
    fn own<U>(&self, output: Output<U>) -> Result<TaskId, InputError> {
        if output.graph() == self.core.tag() {
            Ok(output.id())
        } else {
            Err(InputError::OtherGraph {
                asker: self.core.names().label(self.id()),
                id: output.id().raw(),
            })
        }
    }

    fn wrong_type<U>(&self, id: TaskId, value: &Value) -> InputError {
        InputError::WrongType {
            asker: self.core.names().label(self.id()),
            task: self.core.names().label(id),
            expected: std::any::type_name::<U>(),
            found: value.type_name(),
        }
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
