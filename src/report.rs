//! What a run did: each task's outcome and output, timings, totals.

use std::fmt;
use std::mem::MaybeUninit;
use std::time::Duration;

use crate::csr::Csr;
use crate::error::{BoxError, RunError, ShortMessage, TaskFailure};
use crate::id::{TaskId, TaskRef};
use crate::names::Names;
use crate::skip::Skip;
use crate::state::{holds_output, Cause, State, GONE};
use crate::stop::StopReason;
use crate::value::{GraphTag, Output, Value};

/// How one task ended in one run, borrowed from its [`Report`].
///
/// Non-exhaustive: later versions may add ways for a task to end, so a
/// `match` needs a wildcard arm.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome<'r, T> {
    /// The task returned `Ok` with this output.
    Succeeded(&'r T),
    /// The task succeeded, and its output is no longer in the report: its
    /// one reader took it ([`TaskContext::take_input`](crate::TaskContext::take_input)),
    /// it was released once its readers had finished
    /// ([`RunOptions::release_outputs`](crate::RunOptions::release_outputs)),
    /// or it was taken from the report. A success for counts and
    /// [`Report::is_success`].
    Consumed,
    /// The task returned this error.
    Failed(&'r BoxError),
    /// The task panicked; this is its panic message.
    Panicked(&'r str),
    /// The task did not run because an upstream task failed, panicked or
    /// timed out.
    Skipped {
        /// The task whose failure this one was skipped for (the root cause,
        /// not an intermediate skipped task). If several upstream tasks
        /// failed, one of them.
        cause: TaskId,
    },
    /// The task did not run because a [trigger rule](crate::TriggerRule)
    /// did not hold: its own (say, an alert when nothing failed), or that
    /// of a task upstream. Not a failure.
    NotTriggered {
        /// The task whose rule did not hold: this one, or the upstream task
        /// it was skipped for.
        cause: TaskId,
    },
    /// The task did not run because a
    /// [branching](crate::GraphBuilder::branching) task upstream chose other
    /// successors. Not a failure.
    BranchNotTaken {
        /// The task that branched.
        branch: TaskId,
    },
    /// The task did not start because the run was stopped (cancel token,
    /// deadline, fail-fast, or a task's
    /// [`cancel_run`](crate::TaskContext::cancel_run)); or it started, and
    /// stopped early by returning the error of
    /// [`checkpoint`](crate::TaskContext::checkpoint) once the run had.
    Cancelled,
    /// The task returned after its
    /// [timeout](crate::GraphBuilder::timeout); what it returned was dropped.
    TimedOut {
        /// The task's timeout.
        limit: Duration,
    },
}

impl<T> Clone for Outcome<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Outcome<'_, T> {}

impl<'r, T> Outcome<'r, T> {
    /// The state, without payload.
    pub fn state(&self) -> State {
        match self {
            Outcome::Succeeded(_) | Outcome::Consumed => State::Succeeded,
            Outcome::Failed(_) => State::Failed,
            Outcome::Panicked(_) => State::Panicked,
            Outcome::Skipped { .. }
            | Outcome::NotTriggered { .. }
            | Outcome::BranchNotTaken { .. } => State::Skipped,
            Outcome::Cancelled => State::Cancelled,
            Outcome::TimedOut { .. } => State::TimedOut,
        }
    }

    /// Why the task was skipped, and which task decided it, if it was
    /// skipped (upstream failed, not triggered, branch not taken).
    pub fn skip(&self) -> Option<Skip> {
        match *self {
            Outcome::Skipped { cause } => Some(Skip::UpstreamFailed(cause)),
            Outcome::NotTriggered { cause } => Some(Skip::NotTriggered(cause)),
            Outcome::BranchNotTaken { branch } => Some(Skip::BranchNotTaken(branch)),
            _ => None,
        }
    }

    /// The output, if the task succeeded.
    pub fn output(&self) -> Option<&'r T> {
        match self {
            Outcome::Succeeded(output) => Some(output),
            _ => None,
        }
    }
}

/// When and where one task ran, if the run recorded timings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Timing {
    /// From the start of the run (see [`Report::wall_time`]) to the start of
    /// the task.
    pub start: Duration,
    /// How long the task's body took.
    pub duration: Duration,
    /// The index of the worker that ran it: its seat in the run, from 0 to
    /// the run's workers (the executor's threads, or the run's
    /// [`max_workers`](crate::RunOptions::max_workers)), not a thread id.
    pub worker: usize,
}

/// How many tasks ended in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Counts {
    /// Tasks that returned `Ok`.
    pub succeeded: usize,
    /// Tasks that returned `Err`.
    pub failed: usize,
    /// Tasks that panicked.
    pub panicked: usize,
    /// Tasks skipped because something upstream failed, or passed over by
    /// a branch or a trigger rule.
    pub skipped: usize,
    /// Tasks not started because the run was stopped.
    pub cancelled: usize,
    /// Tasks that returned after their timeout.
    pub timed_out: usize,
    /// Of `skipped`, those passed over by a branch or a trigger rule, not
    /// skipped for a failure (not counted again in [`total`](Self::total)).
    pub by_choice: usize,
    /// Of `succeeded`, in a [resumed](crate::Executor::resume) run, those
    /// carried over from the earlier run without running again (not
    /// counted again in [`total`](Self::total)).
    pub carried_over: usize,
}

impl Counts {
    /// How many tasks ended in `state`.
    pub fn of(&self, state: State) -> usize {
        match state {
            State::Succeeded => self.succeeded,
            State::Failed => self.failed,
            State::Panicked => self.panicked,
            State::Skipped => self.skipped,
            State::Cancelled => self.cancelled,
            State::TimedOut => self.timed_out,
        }
    }

    /// All tasks counted.
    pub fn total(&self) -> usize {
        self.succeeded
            + self.failed
            + self.panicked
            + self.skipped
            + self.cancelled
            + self.timed_out
    }
}

/// The result of one run of a [`Graph`](crate::Graph).
///
/// Borrows the graph for task names; take outputs out with
/// [`into_outputs`](Report::into_outputs) to keep them past it.
pub struct Report<'g, T> {
    pub(crate) names: Names<'g>,
    /// `State::code` of each task, by id, with `GONE` where a task succeeded
    /// and its output was moved out or released.
    pub(crate) states: Box<[u8]>,
    /// Each task's output, initialized exactly where `states` says
    /// Succeeded and not `GONE` (`holds_output`).
    pub(crate) outputs: Box<[MaybeUninit<T>]>,
    /// The tasks that failed or panicked, sorted by id.
    pub(crate) failures: Vec<(TaskId, TaskFailure)>,
    /// For each task, the `Cause` it was skipped for, as its raw bits; only
    /// meaningful where `states` says Skipped, and absent if nothing was.
    pub(crate) causes: Option<Box<[u32]>>,
    pub(crate) timings: Option<Vec<Timing>>,
    pub(crate) counts: Counts,
    pub(crate) wall: Duration,
    pub(crate) stop: Option<StopReason>,
    /// From the start to the first stop, if the run was stopped.
    pub(crate) stopped_at: Option<Duration>,
    /// The failed attempts of each task that a retry policy ran again
    /// (all but its last attempt), with their timings if recorded, by id.
    pub(crate) retried: Vec<(TaskId, Failed)>,
    /// For a resumed run, the tasks carried over from the earlier run.
    pub(crate) carried: Option<Box<[bool]>>,
    /// What each branching task that ran chose (for a resume from this
    /// report: a carried branch's choice still holds).
    pub(crate) choices: Choices,
    /// Which graph ran, to refuse resuming another graph from this report.
    pub(crate) graph: GraphKey,
    /// Which builder made the graph, to refuse another graph's handles.
    pub(crate) tag: GraphTag,
}

/// One task's failed attempts: their failures, and when and where each ran
/// if the run records timings (one for each failure, else none).
#[derive(Debug, Default)]
pub(crate) struct Failed {
    pub(crate) failures: Vec<TaskFailure>,
    pub(crate) timings: Vec<Timing>,
}

/// What a resume takes from the earlier run: its outputs by id (`Some`
/// where it holds one), which tasks succeeded (with or without their
/// output), and its branch choices.
pub(crate) type Resumable<T> = (Vec<Option<T>>, Box<[bool]>, Choices);

/// What the branching tasks of a run chose: each one's id and its chosen
/// successors, sorted.
pub(crate) type Choices = Vec<(u32, Box<[u32]>)>;

/// What tells one compiled graph from another: where its topology lives,
/// and its size. (Two graphs alive at once never share an address.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GraphKey {
    targets: usize,
    tasks: usize,
    edges: usize,
}

impl GraphKey {
    pub(crate) fn of(csr: &Csr<'_>) -> GraphKey {
        GraphKey {
            targets: csr.targets.as_ptr() as usize,
            tasks: csr.task_count(),
            edges: csr.edge_count(),
        }
    }
}

/// One task's line in a report: id, name, outcome, timing.
#[derive(Debug)]
#[non_exhaustive]
pub struct TaskReport<'r, T> {
    /// The task's id.
    pub id: TaskId,
    /// The task's name, if it has one.
    pub name: Option<&'r str>,
    /// How it ended.
    pub outcome: Outcome<'r, T>,
    /// When it ran, if timings were recorded and it ran.
    pub timing: Option<Timing>,
    /// When the run skipped it, if timings were recorded and it was
    /// skipped here ([`Report::settled_at`]).
    pub settled_at: Option<Duration>,
}

impl<'g, T> Report<'g, T> {
    /// The id of a task, by name or id; `None` if the graph has no such
    /// task.
    pub fn find<'n>(&self, task: impl Into<TaskRef<'n>>) -> Option<TaskId> {
        self.names.find(task.into())
    }

    /// The outcome of a task, by name or id; `None` if the graph has no such task.
    pub fn outcome<'n>(&self, task: impl Into<TaskRef<'n>>) -> Option<Outcome<'_, T>> {
        let id = self.names.find(task.into())?;
        Some(self.outcome_of(id))
    }

    fn outcome_of(&self, id: TaskId) -> Outcome<'_, T> {
        let i = id.index();
        match State::from_code(self.states[i]) {
            State::Succeeded if holds_output(self.states[i]) => {
                // Code that moves an output out sets `GONE` or consumes the
                // report (see `RunCore::into_report`).
                // SAFETY: so `outputs[i]` is initialized: Succeeded, not `GONE`.
                Outcome::Succeeded(unsafe { self.outputs[i].assume_init_ref() })
            }
            State::Succeeded => Outcome::Consumed,
            State::Failed | State::Panicked | State::TimedOut => match self.failure(id) {
                TaskFailure::Failed(error) => Outcome::Failed(error),
                TaskFailure::Panicked(message) => Outcome::Panicked(message),
                TaskFailure::TimedOut { limit } => Outcome::TimedOut { limit: *limit },
            },
            State::Skipped => {
                let cause = self
                    .causes
                    .as_ref()
                    .and_then(|causes| Cause::from_raw(causes[i]))
                    .expect("kahn: internal error: a skipped task without a cause");
                let task = cause.task();
                if !cause.by_choice() {
                    Outcome::Skipped { cause: task }
                } else if State::from_code(self.states[task.index()]) == State::Succeeded {
                    // Only a branching task that succeeded passes over
                    // tasks and still runs.
                    Outcome::BranchNotTaken { branch: task }
                } else {
                    Outcome::NotTriggered { cause: task }
                }
            }
            State::Cancelled => Outcome::Cancelled,
        }
    }

    fn failure(&self, id: TaskId) -> &TaskFailure {
        let at = self
            .failures
            .binary_search_by_key(&id, |(failed, _)| *failed)
            .expect("kahn: internal error: a failed task without its failure");
        &self.failures[at].1
    }

    /// The output of a task that succeeded; `None` if it did not, if its
    /// output was [consumed](Outcome::Consumed), or if there is no such task.
    pub fn output<'n>(&self, task: impl Into<TaskRef<'n>>) -> Option<&T> {
        self.outcome(task)?.output()
    }

    /// Moves the output of a task that succeeded out of the report (which
    /// then shows it as [`Outcome::Consumed`]); `None` where
    /// [`output`](Self::output) would be.
    pub fn take_output<'n>(&mut self, task: impl Into<TaskRef<'n>>) -> Option<T> {
        let i = self.names.find(task.into())?.index();
        if !holds_output(self.states[i]) {
            return None;
        }
        // The mark first: should anything below unwind, neither `Drop` nor
        // `into_outputs` reads the slot again.
        self.states[i] |= GONE;
        // SAFETY: initialized (the state said Succeeded, not `GONE`) and
        // read out once: the state now says `GONE`.
        Some(unsafe { self.outputs[i].assume_init_read() })
    }

    /// The name of a task, e.g. of a `Skipped` task's `cause`; `None` for
    /// unnamed tasks and unknown ids.
    pub fn name(&self, task: TaskId) -> Option<&'g str> {
        self.names.name(task)
    }

    /// The state of a task, by name or id.
    pub fn state<'n>(&self, task: impl Into<TaskRef<'n>>) -> Option<State> {
        let id = self.names.find(task.into())?;
        Some(State::from_code(self.states[id.index()]))
    }

    /// When a task ran; `None` unless timings were recorded and it started.
    pub fn timing<'n>(&self, task: impl Into<TaskRef<'n>>) -> Option<Timing> {
        let id = self.names.find(task.into())?;
        self.timing_of(id)
    }

    /// When the run settled a task it did not run because of a failure
    /// upstream, its trigger rule or a branch (its state is `Skipped`),
    /// from the run's start: after the last of its predecessors ended. `None`
    /// unless timings were recorded and the task was skipped here (not for
    /// a task that ran, was cancelled or carried over, nor, in a
    /// distributed run, for a task another worker settled).
    ///
    /// ```
    /// use kahn::{Arena, Executor, RunOptions};
    /// let mut arena = Arena::new();
    /// let mut b = arena.builder::<()>();
    /// b.task("extract", |_| Err("the source is down".into()))?;
    /// b.task("load", |_| Ok(()))?;
    /// b.edge("extract", "load")?;
    /// let graph = b.build()?;
    /// let options = RunOptions::new().record_timings(true);
    /// let report = Executor::with_threads(2)?.run_with(&graph, &options);
    /// let extract = report.timing("extract").expect("it ran");
    /// let skipped = report.settled_at("load").expect("skipped, with timings");
    /// assert!(skipped >= extract.start + extract.duration);
    /// assert_eq!(report.settled_at("extract"), None); // it ran: see `timing`
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn settled_at<'n>(&self, task: impl Into<TaskRef<'n>>) -> Option<Duration> {
        let id = self.names.find(task.into())?;
        self.settled_at_of(id)
    }

    fn timing_of(&self, id: TaskId) -> Option<Timing> {
        let ran = State::from_code(self.states[id.index()]).ran() && !self.was_carried(id);
        ran.then(|| self.timings.as_ref().map(|t| t[id.index()]))
            .flatten()
    }

    /// Every task, in id order.
    pub fn tasks(&self) -> impl ExactSizeIterator<Item = TaskReport<'_, T>> + '_ {
        (0..self.states.len()).map(move |i| self.task_report(TaskId::new(i as u32)))
    }

    fn task_report(&self, id: TaskId) -> TaskReport<'_, T> {
        TaskReport {
            id,
            name: self.names.name(id),
            outcome: self.outcome_of(id),
            timing: self.timing_of(id),
            settled_at: self.settled_at_of(id),
        }
    }

    /// How many times task `task` ran in this run: its failed attempts
    /// that a [retry policy](crate::GraphBuilder::retry) ran again, plus the
    /// last one, if it ran (succeeded, failed, panicked or timed out). 0
    /// for a task that never ran, or that the graph does not have.
    pub fn attempts<'n>(&self, task: impl Into<TaskRef<'n>>) -> u32 {
        let Some(id) = self.names.find(task.into()) else {
            return 0;
        };
        let last = State::from_code(self.states[id.index()]).ran() && !self.was_carried(id);
        self.failed_attempts(id).len() as u32 + u32::from(last)
    }

    /// The failures of task `task`'s attempts before its last, oldest
    /// first: empty unless a retry policy ran it again. Its last attempt's
    /// failure, if it failed, is its [outcome](Self::outcome).
    pub fn failed_attempts<'n>(&self, task: impl Into<TaskRef<'n>>) -> &[TaskFailure] {
        let Some(id) = self.names.find(task.into()) else {
            return &[];
        };
        match self.retried.binary_search_by_key(&id, |(task, _)| *task) {
            Ok(at) => &self.retried[at].1.failures,
            Err(_) => &[],
        }
    }

    /// When and where each of task `task`'s attempts before its last ran,
    /// oldest first, one for each of its [failed
    /// attempts](Self::failed_attempts): empty unless the run [recorded
    /// timings](crate::RunOptions::record_timings) and a retry policy ran
    /// the task again. Its last attempt's is its [timing](Self::timing).
    pub fn attempt_timings<'n>(&self, task: impl Into<TaskRef<'n>>) -> &[Timing] {
        let Some(id) = self.names.find(task.into()) else {
            return &[];
        };
        match self.retried.binary_search_by_key(&id, |(task, _)| *task) {
            Ok(at) => &self.retried[at].1.timings,
            Err(_) => &[],
        }
    }

    /// Whether task `task`'s outcome was carried over from the earlier run
    /// this one [resumed](crate::Executor::resume): it succeeded then, and
    /// did not run again. `false` in a run that resumed nothing.
    pub fn carried_over<'n>(&self, task: impl Into<TaskRef<'n>>) -> bool {
        self.names
            .find(task.into())
            .is_some_and(|id| self.was_carried(id))
    }

    pub(crate) fn settled_at_of(&self, id: TaskId) -> Option<Duration> {
        let skipped = State::from_code(self.states[id.index()]) == State::Skipped;
        if !skipped || self.was_carried(id) {
            return None;
        }
        let timing = self.timings.as_ref()?[id.index()];
        // An unwritten slot is the default; a written one has a worker or
        // a moment past the start (a clock too coarse to tick between the
        // start and a skip gives `None`, as if unrecorded).
        (timing != Timing::default()).then_some(timing.start)
    }

    pub(crate) fn was_carried(&self, id: TaskId) -> bool {
        self.carried.as_ref().is_some_and(|c| c[id.index()])
    }

    /// Forgets that `task` succeeded, as Airflow's "clear" does: drops its
    /// output and counts it cancelled, so that a
    /// [resume](crate::Executor::resume) from this report runs it again,
    /// and everything below it. For a task whose input changed after it
    /// ran (a partition re-delivered, say). `false`, and nothing changes,
    /// if the task did not succeed or the graph has no such task.
    pub fn clear<'n>(&mut self, task: impl Into<TaskRef<'n>>) -> bool {
        let Some(id) = self.names.find(task.into()) else {
            return false;
        };
        let i = id.index();
        if State::from_code(self.states[i]) != State::Succeeded {
            return false;
        }
        let held = holds_output(self.states[i]);
        // The state first: should the output's destructor panic, the
        // report's own `Drop` will not drop it again.
        self.states[i] = State::Cancelled.code();
        self.counts.succeeded -= 1;
        self.counts.cancelled += 1;
        if let Some(carried) = self.carried.as_mut().filter(|c| c[i]) {
            carried[i] = false;
            self.counts.carried_over -= 1;
        }
        if held {
            // SAFETY: the output was initialized (the state said Succeeded,
            // not `GONE`) and is read out once: the state no longer says
            // Succeeded, so neither `Drop` nor `into_outputs` touches it again.
            drop(unsafe { self.outputs[i].assume_init_read() });
        }
        true
    }

    /// Whether this is a report of a run of `graph` (so that
    /// [`Executor::resume`](crate::Executor::resume) accepts it).
    pub fn is_of<U>(&self, graph: &crate::Graph<'_, U>) -> bool {
        self.graph == GraphKey::of(&graph.csr)
    }

    /// The tasks a retry policy ran more than once, in id order.
    pub fn retried(&self) -> impl ExactSizeIterator<Item = TaskReport<'_, T>> + '_ {
        self.retried
            .iter()
            .map(move |(id, _)| self.task_report(*id))
    }

    /// The tasks that failed, panicked or timed out, in id order.
    pub fn failures(&self) -> impl ExactSizeIterator<Item = TaskReport<'_, T>> + '_ {
        self.failures
            .iter()
            .map(move |(id, _)| self.task_report(*id))
    }

    /// How many tasks ended in each state.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Whether every task succeeded, or was passed over by a branch or a
    /// trigger rule: none failed, panicked, timed out, was skipped for a
    /// failure, or was cancelled.
    pub fn is_success(&self) -> bool {
        self.counts.succeeded + self.counts.by_choice == self.states.len()
    }

    /// How long the run took, from its setup to the last worker leaving; the
    /// same origin as [`Timing::start`].
    pub fn wall_time(&self) -> Duration {
        self.wall
    }

    /// Why the run was told to stop, if it was: its token was cancelled, its
    /// deadline passed, or a task failed under fail-fast, while it was
    /// running. Set even when no task was left to cancel (running tasks may
    /// still have seen it through `is_cancelled`); `counts().cancelled` says
    /// how many tasks it kept from starting.
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.stop
    }

    /// When the run was told to stop, from its start (the origin of
    /// [`Timing::start`]), if it was: the moment a worker, or the thread
    /// waiting for the run, recorded the first [`stop_reason`]. A cancel
    /// or a deadline is seen when a worker next starts a task, or within
    /// about 10 ms if none does; fail-fast and a task's
    /// [`cancel_run`](crate::TaskContext::cancel_run) stop the run at once.
    /// Tasks not started by then are cancelled; the run ends when the tasks
    /// already running have returned.
    ///
    /// ```
    /// use kahn::{Arena, Executor, Outcome};
    /// use std::time::Duration;
    /// let mut arena = Arena::new();
    /// let mut b = arena.builder::<()>();
    /// b.task("extract", |_| {
    ///     std::thread::sleep(Duration::from_millis(20));
    ///     Ok(())
    /// })?;
    /// b.task("check", |ctx| {
    ///     ctx.cancel_run(); // say the batch is bad: stop here
    ///     Ok(())
    /// })?;
    /// b.task("load", |_| Ok(()))?;
    /// b.edge("extract", "check")?;
    /// b.edge("check", "load")?;
    /// let graph = b.build()?;
    /// let report = Executor::with_threads(2)?.run(&graph);
    /// let stopped_at = report.stopped_at().expect("`check` stopped the run");
    /// assert!(stopped_at >= Duration::from_millis(20)); // after `extract`
    /// assert!(stopped_at <= report.wall_time());
    /// assert!(matches!(report.outcome("load"), Some(Outcome::Cancelled)));
    ///
    /// let mut arena = Arena::new();
    /// let mut b = arena.builder::<()>();
    /// b.task("only", |_| Ok(()))?;
    /// let graph = b.build()?;
    /// assert_eq!(Executor::with_threads(2)?.run(&graph).stopped_at(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// [`stop_reason`]: Report::stop_reason
    pub fn stopped_at(&self) -> Option<Duration> {
        self.stopped_at
    }

    /// Why the run stopped early, as a sentence naming the task if one
    /// stopped it.
    pub(crate) fn stop_reason_shown(&self) -> Option<String> {
        self.stop.map(|stop| stop.shown(&self.names).to_string())
    }

    /// The number of tasks in the graph that ran.
    pub fn task_count(&self) -> usize {
        self.states.len()
    }

    /// The outputs, which tasks succeeded, and the branch choices, for a
    /// resume.
    pub(crate) fn into_resumable(mut self) -> Resumable<T> {
        let choices = std::mem::take(&mut self.choices);
        let succeeded = self
            .states
            .iter()
            .map(|&code| State::from_code(code) == State::Succeeded)
            .collect();
        (self.into_outputs(), succeeded, choices)
    }

    /// Moves the outputs out, by task id: `Some` for tasks that succeeded
    /// (and whose output was not [consumed](Outcome::Consumed)). The result
    /// no longer borrows the graph.
    pub fn into_outputs(mut self) -> Vec<Option<T>> {
        let outputs = std::mem::take(&mut self.outputs);
        outputs
            .into_vec()
            .into_iter()
            .zip(self.states.iter())
            .map(|(output, &state)| {
                // SAFETY: initialized where the state says Succeeded and not
                // `GONE`; taken out of `self` above, so `Drop` will not drop
                // it again.
                holds_output(state).then(|| unsafe { output.assume_init() })
            })
            .collect()
    }

    /// `Ok(self)` if every task succeeded, else a [`RunError`] that owns the
    /// failures, for `?`. The error drops the outputs of the tasks that did
    /// succeed; [`into_parts`](Self::into_parts) keeps them.
    pub fn into_result(mut self) -> Result<Self, RunError> {
        match self.take_error() {
            None => Ok(self),
            Some(error) => Err(error),
        }
    }

    /// Splits the report into the outputs, by task id (`Some` for the tasks
    /// that succeeded and whose output was not consumed, as
    /// [`into_outputs`](Self::into_outputs) gives them),
    /// and the [`RunError`] [`into_result`](Self::into_result) would give,
    /// if any task did not succeed: a failed run loses none of the work
    /// that did succeed. Neither part borrows the graph.
    ///
    /// ```
    /// let mut arena = kahn::Arena::new();
    /// let mut b = arena.builder::<u32>();
    /// b.task("good", |_| Ok(7))?;
    /// b.task("bad", |_| Err("the source file is missing".into()))?;
    /// let graph = b.build()?;
    /// let good = graph.find("good").unwrap();
    /// let report = kahn::Executor::with_threads(1)?.run(&graph);
    ///
    /// let (outputs, error) = report.into_parts();
    /// assert_eq!(outputs[good.index()], Some(7));
    /// let error = error.expect("`bad` failed");
    /// assert_eq!(error.failures()[0].0.name(), Some("bad"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_parts(mut self) -> (Vec<Option<T>>, Option<RunError>) {
        let error = self.take_error();
        (self.into_outputs(), error)
    }

    /// The run's error if it did not fully succeed, with the failures moved
    /// into it (the report keeps its states, outputs and counts).
    fn take_error(&mut self) -> Option<RunError> {
        if self.is_success() {
            return None;
        }
        let failures = std::mem::take(&mut self.failures)
            .into_iter()
            .map(|(id, failure)| (self.names.label(id), failure))
            .collect();
        Some(RunError {
            failures,
            skipped: self.counts.skipped,
            cancelled: self.counts.cancelled,
            total: self.counts.total(),
            stop: self.stop.map(|stop| stop.shown(&self.names)),
        })
    }

    /// How to show task `id` in the summary.
    fn shown(&self, id: TaskId) -> TaskRef<'g> {
        self.names.shown(id)
    }
}

/// A summary: totals, then why and when the run was stopped if it was,
/// then every failure, then what was skipped for it.
/// Long lists are cut at ten lines each, and each message at
/// [`TaskFailure::SHOWN_BYTES`] (the report keeps it whole: see
/// [`outcome`](Report::outcome)).
impl<T> fmt::Display for Report<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_LINES: usize = 10;
        let c = self.counts;
        write!(
            f,
            "ran {} tasks in {:.3?}: {} succeeded, {} failed, {} panicked, {} skipped, {} cancelled",
            self.task_count(),
            self.wall,
            c.succeeded,
            c.failed,
            c.panicked,
            c.skipped,
            c.cancelled
        )?;
        if c.timed_out > 0 {
            write!(f, ", {} timed out", c.timed_out)?;
        }
        if c.carried_over > 0 {
            write!(
                f,
                "\n  resumed: {} succeeded tasks carried over from the earlier run, not run again",
                c.carried_over
            )?;
        }
        if let Some(stop) = self.stop {
            write!(f, "\n  stopped early: {}", stop.shown(&self.names))?;
            if let Some(at) = self.stopped_at {
                write!(f, ", {at:.3?} into the run")?;
            }
        }
        for (id, failure) in self.failures.iter().take(MAX_LINES) {
            let label = self.shown(*id);
            let message = ShortMessage(failure);
            match failure {
                TaskFailure::Failed(_) => write!(f, "\n  failed:   {label}: {message}")?,
                TaskFailure::Panicked(_) => write!(f, "\n  panicked: {label}: {message}")?,
                TaskFailure::TimedOut { .. } => write!(f, "\n  timed out: {label}: {message}")?,
            }
        }
        if self.failures.len() > MAX_LINES {
            write!(
                f,
                "\n  … and {} more failures",
                self.failures.len() - MAX_LINES
            )?;
        }
        for (
            id,
            Failed {
                failures: failed, ..
            },
        ) in self.retried.iter().take(MAX_LINES)
        {
            let label = self.shown(*id);
            let state = State::from_code(self.states[id.index()]);
            let attempts = self.attempts(*id);
            let plural = if attempts == 1 { "" } else { "s" };
            write!(
                f,
                "\n  retried:  {label}: {attempts} attempt{plural}, {state}; first failure: {}",
                failed[0].shortened()
            )?;
        }
        if self.retried.len() > MAX_LINES {
            write!(
                f,
                "\n  … and {} more retried",
                self.retried.len() - MAX_LINES
            )?;
        }
        let skipped = self.tasks().filter(|t| t.outcome.state() == State::Skipped);
        for task in skipped.take(MAX_LINES) {
            let label = self.shown(task.id);
            write!(f, "\n  skipped:  {label}")?;
            if let Some(skip) = task.outcome.skip() {
                let words = skip.words(Some(task.id), self.shown(skip.task()));
                write!(f, " ({words})")?;
            }
        }
        if c.skipped > MAX_LINES {
            write!(f, "\n  … and {} more skipped", c.skipped - MAX_LINES)?;
        }
        Ok(())
    }
}

impl<T: fmt::Debug> fmt::Debug for Report<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcomes: Vec<_> = self.tasks().map(|t| t.outcome).collect();
        f.debug_struct("Report")
            .field("counts", &self.counts)
            .field("wall", &self.wall)
            .field("stop", &self.stop)
            .field("outcomes", &outcomes)
            .finish()
    }
}

impl<T> Drop for Report<'_, T> {
    fn drop(&mut self) {
        if !std::mem::needs_drop::<T>() {
            return;
        }
        for (output, &state) in self.outputs.iter_mut().zip(self.states.iter()) {
            if holds_output(state) {
                // SAFETY: initialized where the state says Succeeded and not
                // `GONE`, and dropped only here, once (`into_outputs` empties
                // `outputs`; `take_output` and `clear` change the state).
                unsafe { output.assume_init_drop() };
            }
        }
    }
}

/// Typed reads of a graph whose tasks output different types.
impl<'g> Report<'g, Value> {
    /// The output behind a typed handle, as its own type; `None` if the
    /// task did not succeed, its output was [consumed](Outcome::Consumed),
    /// or the handle is of another graph.
    pub fn get<U: std::any::Any>(&self, output: Output<U>) -> Option<&U> {
        if output.graph() != self.tag {
            return None;
        }
        self.output(output.id())?.downcast_ref()
    }

    /// Moves the output behind a typed handle out of the report; `None`
    /// where [`get`](Self::get) would be.
    pub fn take<U: std::any::Any>(&mut self, output: Output<U>) -> Option<U> {
        self.get(output)?;
        let value = self.take_output(output.id())?;
        value.downcast().ok()
    }

    /// The output of a task, by name or id, as a `U`; `None` if it did not
    /// succeed, has no output in the report, or is not a `U`.
    pub fn output_as<'n, U: std::any::Any>(&self, task: impl Into<TaskRef<'n>>) -> Option<&U> {
        self.output(task)?.downcast_ref()
    }
}
