//! Typed errors: every message names the task at fault and says what to do about it.
//!
//! Errors keep the tasks they are about as data ([`TaskLabel`]: id and name;
//! [`OwnedTaskRef`]: a reference that matched nothing, as written) and format
//! them once, in `Display`: a name in backticks (`` `load` ``), or `task #17`
//! for a task added without one.

use std::fmt;
use std::time::Duration;

use crate::id::{OwnedTaskRef, TaskId, TaskLabel};
use crate::priority::MAX_WEIGHT;
use crate::state::State;
use crate::stop::{ShownReason, StopReason};

/// The error type a task returns: any error, boxed, so `?` works on all of them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a graph could not be built.
///
/// Returned by [`GraphBuilder`](crate::GraphBuilder) methods at the call that
/// introduced the problem, or by [`build`](crate::GraphBuilder::build) for the
/// problems only the whole graph shows (cycles). A failed call leaves the
/// builder as it was (except [`edges`](crate::GraphBuilder::edges), which
/// keeps the edges before the bad one), so a caller may report the error and
/// go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A task was given an empty name.
    #[error("a task name is empty: give the task a non-empty name, or add it without one with `unnamed_task`")]
    EmptyName,
    /// Two tasks were given the same name.
    #[error("task name `{name}` is already taken by task {first}: task names must be unique")]
    DuplicateName {
        /// The name used twice.
        name: String,
        /// The task that has the name already.
        first: TaskId,
    },
    /// An edge names a task the builder does not have.
    #[error(
        "edge {from} -> {to} refers to {}: add the task before the edge",
        Unknown(missing)
    )]
    UnknownTask {
        /// The reference that matched no task, as written.
        missing: OwnedTaskRef,
        /// The edge's upstream end, as written (by name, if it is a known
        /// task with a name).
        from: OwnedTaskRef,
        /// The edge's downstream end, likewise.
        to: OwnedTaskRef,
    },
    /// An edge from a task to itself.
    #[error("edge {task} -> {task} would make {task} wait for itself: remove it")]
    SelfLoop {
        /// The task named at both ends.
        task: TaskLabel,
    },
    /// The edges form a cycle, so no task on it could ever start.
    #[error("tasks form a cycle: {}; remove one of these edges", CyclePath(.path))]
    Cycle {
        /// The tasks on the cycle in edge order; the first is repeated at the end.
        path: Vec<TaskLabel>,
    },
    /// A builder call other than `edge` names a task the builder does not have.
    #[error("`{call}` names {}: add the task first", Unknown(missing))]
    UnknownTaskFor {
        /// The builder method called.
        call: &'static str,
        /// The reference that matched no task, as written.
        missing: OwnedTaskRef,
    },
    /// A task was given a retry policy that cannot work.
    #[error("{task} was given a retry policy that cannot work: {problem}")]
    InvalidRetry {
        /// The task.
        task: TaskLabel,
        /// What is wrong with the policy.
        problem: &'static str,
    },
    /// A task would hold more units of a resource than it has, or none.
    #[error("{task} would hold {units} units of resource `{resource}`, which has {capacity}: use at least 1 and at most {capacity}, or give the resource a larger capacity")]
    ResourceUnits {
        /// The task.
        task: TaskLabel,
        /// The resource's name.
        resource: String,
        /// The units the task would hold in all (0 if it asked for none).
        units: u32,
        /// The resource's capacity.
        capacity: u32,
    },
    /// The task names of one graph would take more than 4 GiB in all.
    #[error("adding task `{task}` would take the graph's names past {limit} bytes in all: use shorter names, or add tasks without names")]
    NamesTooLong {
        /// The name of the task that did not fit.
        task: String,
        /// The most bytes a graph's names may take together.
        limit: usize,
    },
    /// More tasks than the builder's limit.
    #[error("the graph would have {given} tasks, more than its limit of {limit}")]
    TooManyTasks {
        /// How many tasks the graph would have had.
        given: usize,
        /// The limit in force ([`TaskId::LIMIT`] unless lowered with `max_tasks`).
        limit: usize,
    },
    /// More edges than the builder's limit.
    #[error("the graph would have {given} edges, more than its limit of {limit}")]
    TooManyEdges {
        /// How many edges the graph would have had.
        given: usize,
        /// The limit in force (2³⁰ − 1 unless lowered with `max_edges`).
        limit: usize,
    },
    /// A weight was given to a task the builder does not have.
    #[error(
        "a weight was given to {}: add the task before its weight",
        Unknown(missing)
    )]
    WeightOfUnknownTask {
        /// The reference that matched no task, as written.
        missing: OwnedTaskRef,
    },
    /// A task was given a weight that is negative, NaN, infinite, or above
    /// [`GraphBuilder::MAX_WEIGHT`](crate::GraphBuilder::MAX_WEIGHT).
    #[error("{task} was given the weight {weight}: a weight is a number from 0 to {max:e}, such as the task's expected seconds", max = MAX_WEIGHT)]
    InvalidWeight {
        /// The task.
        task: TaskLabel,
        /// The weight it was given.
        weight: RejectedWeight,
    },
    /// A graph given to
    /// [`add_petgraph`](crate::GraphBuilder::add_petgraph) contradicts
    /// itself: its `node_references` list a node twice or past its
    /// `node_bound`, or an edge ends at a node they did not list. petgraph's
    /// own graphs never do; a hand-written implementation of its visit
    /// traits might.
    #[cfg(feature = "petgraph")]
    #[error(
        "petgraph node index {index} {problem}: the graph's visit traits disagree with each other"
    )]
    PetgraphNode {
        /// The node, by `NodeIndexable::to_index`.
        index: usize,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// A weight [`BuildError::InvalidWeight`] rejected, as given.
///
/// Compared by its bits, so that errors can be `Eq`: a NaN equals the same
/// NaN here. Shown as `{:?}` shows an `f64` (`NaN`, `-inf`, `-1.0`, `1e300`).
#[derive(Debug, Clone, Copy)]
pub struct RejectedWeight(pub f64);

impl PartialEq for RejectedWeight {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for RejectedWeight {}

impl fmt::Display for RejectedWeight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// Shows a reference that matched nothing as "unknown task `x`" or
/// "unknown task #3".
struct Unknown<'s>(&'s OwnedTaskRef);

impl fmt::Display for Unknown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            OwnedTaskRef::Id(id) => write!(f, "unknown task {id}"),
            OwnedTaskRef::Name(name) => write!(f, "unknown task `{name}`"),
        }
    }
}

/// Shows a cycle as `` `a` -> `b` -> `a` ``.
struct CyclePath<'p>(&'p [TaskLabel]);

impl fmt::Display for CyclePath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, task) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" -> ")?;
            }
            write!(f, "{task}")?;
        }
        Ok(())
    }
}

/// Why a task could not read another task's output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The graph has no such task.
    #[error("{asker} asked for the output of {}", Unknown(missing))]
    UnknownTask {
        /// The task that asked.
        asker: TaskLabel,
        /// The reference that matched no task, as written.
        missing: OwnedTaskRef,
    },
    /// A task asked for its own output, which does not exist while it runs.
    #[error("{task} asked for its own output, which does not exist until it returns")]
    OwnOutput {
        /// The task that asked.
        task: TaskLabel,
    },
    /// The task exists but is not a direct predecessor, so its output is not
    /// guaranteed to exist yet.
    #[error("{asker} asked for the output of {task}, which is not one of its direct predecessors: add the edge {task} -> {asker}")]
    NotAPredecessor {
        /// The task that asked.
        asker: TaskLabel,
        /// The task whose output was asked for.
        task: TaskLabel,
    },
    /// The task is a direct predecessor that did not succeed, so it has no
    /// output: only a task with a [trigger rule](crate::TriggerRule) runs
    /// after that.
    #[error("{asker} asked for the output of {task}, which {state} and has none: check `upstream` first")]
    NotSucceeded {
        /// The task that asked.
        asker: TaskLabel,
        /// The predecessor.
        task: TaskLabel,
        /// How the predecessor ended.
        state: State,
    },
    /// The predecessor's output is no longer there: this task took it
    /// already ([`take_input`](crate::TaskContext::take_input), in this
    /// attempt or an earlier one).
    #[error("{asker} asked for the output of {task}, which it already took: take an input once, and read it by reference if you need it twice")]
    Taken {
        /// The task that asked.
        asker: TaskLabel,
        /// The predecessor.
        task: TaskLabel,
    },
    /// The output may not be moved out: other tasks read it too, or it is
    /// kept for the report.
    #[error("{asker} cannot take the output of {task}: {}; read it by reference with `input`", Sharers(*readers))]
    Shared {
        /// The task that asked.
        asker: TaskLabel,
        /// The predecessor.
        task: TaskLabel,
        /// The predecessor's direct successors; 1 if the output is only
        /// shared with the report (see
        /// [`GraphBuilder::keep_output`](crate::GraphBuilder::keep_output)).
        readers: usize,
    },
    /// The task read the output by reference (`input`, `inputs`, `get`)
    /// earlier in this attempt, so moving it out would leave that
    /// reference dangling.
    #[error("{asker} cannot take the output of {task} after reading it by reference: take it first, and read the value you took")]
    Lent {
        /// The task that asked.
        asker: TaskLabel,
        /// The predecessor.
        task: TaskLabel,
    },
    /// A typed handle ([`Output`](crate::Output)) of another graph.
    #[error("{asker} read an output handle of another graph (task #{id} there): use the handles of the builder that made this graph")]
    OtherGraph {
        /// The task that asked.
        asker: TaskLabel,
        /// The handle's task id, in its own graph.
        id: u32,
    },
    /// The output is not of the type asked for (name-based reads of a
    /// [`Value`](crate::Value) graph).
    #[error("{asker} read the output of {task} as `{expected}`, but it is a `{found}`")]
    WrongType {
        /// The task that asked.
        asker: TaskLabel,
        /// The predecessor.
        task: TaskLabel,
        /// The type asked for.
        expected: &'static str,
        /// The type the output has.
        found: &'static str,
    },
    /// The run was given no input ([`RunOptions::input`](crate::RunOptions::input)).
    #[error("{task} read the run's input as `{expected}`, but the run was started without one: give it with `RunOptions::input`")]
    NoRunInput {
        /// The task that asked.
        task: TaskLabel,
        /// The type asked for.
        expected: &'static str,
    },
    /// The run's input is of another type than the one asked for.
    #[error("{task} read the run's input as `{expected}`, but the run was given a `{found}`")]
    RunInputType {
        /// The task that asked.
        task: TaskLabel,
        /// The type asked for.
        expected: &'static str,
        /// The type the run was given.
        found: &'static str,
    },
}

/// Says who else reads an output that a task tried to take.
struct Sharers(usize);

impl fmt::Display for Sharers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("it is kept for the report (`keep_output`)"),
            n => write!(f, "{n} tasks read it"),
        }
    }
}

/// Why [`TaskContext::branch`](crate::TaskContext::branch) refused a choice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BranchError {
    /// The task was not declared as one that branches.
    #[error("{task} chose its successors but may not branch: declare it with `GraphBuilder::branching` before `build`")]
    NotBranching {
        /// The task.
        task: TaskLabel,
    },
    /// The task chose a task that is not one of its direct successors.
    #[error("{task} chose {}, which is not one of its direct successors: choose among the tasks it has edges to", Chosen(chosen))]
    NotASuccessor {
        /// The task that branched.
        task: TaskLabel,
        /// What it chose, as written.
        chosen: OwnedTaskRef,
    },
}

/// Shows a chosen task as `` `x` `` or "task #3".
struct Chosen<'s>(&'s OwnedTaskRef);

impl fmt::Display for Chosen<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            OwnedTaskRef::Id(id) => write!(f, "task {id}"),
            OwnedTaskRef::Name(name) => write!(f, "`{name}`"),
        }
    }
}

/// Why [`TaskContext::checkpoint`](crate::TaskContext::checkpoint) told a
/// task to stop: return it with `?`.
///
/// A task that returns it is recorded as what stopped it: timed out after
/// its own timeout, or [cancelled](crate::Outcome::Cancelled) when its run
/// was stopped (not failed: it did as it was told).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Interrupted {
    /// The task ran past its timeout.
    #[error("{task} ran past its timeout of {limit:?}")]
    TimedOut {
        /// The task.
        task: TaskLabel,
        /// Its timeout.
        limit: Duration,
    },
    /// The run was stopped while the task ran.
    #[error("{task} stopped early: {reason}")]
    RunStopped {
        /// The task.
        task: TaskLabel,
        /// Why the run was stopped.
        reason: StopReason,
    },
}

/// Why an [`Executor`](crate::Executor) could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecutorError {
    /// A thread count of zero was asked for.
    #[error("an executor needs at least one worker thread")]
    ZeroThreads,
    /// More threads were asked for than an executor may have.
    #[error("an executor may have at most {limit} worker threads, not {requested}: a DAG run gains nothing from more threads than cores")]
    TooManyThreads {
        /// The number asked for.
        requested: usize,
        /// [`Executor::MAX_THREADS`](crate::Executor::MAX_THREADS).
        limit: usize,
    },
    /// The operating system refused to start the worker threads.
    #[error("could not start the executor's worker threads: {0}")]
    ThreadPool(#[from] rayon::ThreadPoolBuildError),
}

/// Why [`Executor::resume`](crate::Executor::resume) refused a report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResumeError {
    /// The report is of a run of another graph.
    #[error("the report is of a run of another graph (of {report_tasks} tasks; this one has {graph_tasks}): resume a graph from a report of its own run")]
    OtherGraph {
        /// The tasks of the graph the report is of.
        report_tasks: usize,
        /// The tasks of the graph to resume.
        graph_tasks: usize,
    },
}

/// Why [`RemoteFeed::deliver`](crate::RemoteFeed::deliver) refused an
/// outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The task is not in the graph.
    #[error("task {task} is not in the graph, which has {tasks} tasks: deliver outcomes of this graph's tasks")]
    NotInGraph {
        /// The id delivered.
        task: TaskId,
        /// How many tasks the graph has.
        tasks: usize,
    },
    /// The task runs in this part: its outcome is this run's own.
    #[error("task {task} is owned by this part and runs here: deliver only the outcomes of tasks that run elsewhere")]
    OwnedHere {
        /// The task.
        task: TaskLabel,
    },
    /// The outcome names a task the graph does not have (as the task that
    /// decided a skip, stopped the run, or was chosen by a branch).
    #[error("the outcome delivered for task {task} names task {named}, but the graph has {tasks} tasks: the outcome is not of this graph")]
    NamesOutside {
        /// The task delivered.
        task: TaskLabel,
        /// The task its outcome names.
        named: TaskId,
        /// How many tasks the graph has.
        tasks: usize,
    },
    /// The task's outcome was delivered before.
    #[error("the outcome of task {task} was delivered already: each remote task ends once")]
    AlreadyDelivered {
        /// The task.
        task: TaskLabel,
    },
}

/// Why [`Executor::run_part`](crate::Executor::run_part) did not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PartError {
    /// The part, or its feed, was made for another graph.
    #[error("the part or its feed was made for another graph: make both with `Graph::part` and `Graph::remote_feed` of the graph being run")]
    OtherGraph,
    /// The feed served a run already.
    #[error("the remote feed served a run already: make a new `RemoteFeed` for each run")]
    FeedUsed,
}

/// Why [`Report::to_chrome_trace`](crate::Report::to_chrome_trace) has no
/// timeline to give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The run recorded no timings, so the report knows what ended how,
    /// but not when or on which worker.
    #[error("the run recorded no timings, so there is no timeline to export: run it with `RunOptions::new().record_timings(true)`")]
    NoTimings,
}

/// What a task that did not succeed ended with, owned so it outlives the run.
#[derive(Debug)]
#[non_exhaustive]
pub enum TaskFailure {
    /// The task returned this error.
    Failed(BoxError),
    /// The task panicked with this message.
    Panicked(String),
    /// The task returned after its timeout, this long.
    TimedOut {
        /// The task's timeout.
        limit: Duration,
    },
}

/// In full: a report's and a [`RunError`]'s summaries show it shortened
/// (see [`TaskFailure::shortened`]); match on the variant for the error itself.
impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskFailure::Failed(error) => write!(f, "failed: {error}"),
            TaskFailure::Panicked(message) => write!(f, "panicked: {message}"),
            TaskFailure::TimedOut { limit } => write!(f, "timed out: {}", TimedOutAfter(*limit)),
        }
    }
}

impl TaskFailure {
    /// The most bytes of one task's message a summary shows: a report's or
    /// a [`RunError`]'s `Display` cuts a longer message there and says how
    /// long it was.
    pub const SHOWN_BYTES: usize = 500;

    /// This failure as summaries show it: like its `Display`, but a message
    /// longer than [`SHOWN_BYTES`](Self::SHOWN_BYTES) is cut, with a note
    /// of its full length, so that one task's 32 MiB error does not drown
    /// the others. The message is formatted once, into nothing: cutting
    /// it allocates nothing.
    pub fn shortened(&self) -> impl fmt::Display + '_ {
        Shortened(self)
    }

    /// A copy of this failure, the error as its message (a boxed error
    /// cannot be cloned): for a part run's outbox to pass on.
    pub(crate) fn duplicate(&self) -> TaskFailure {
        match self {
            TaskFailure::Failed(error) => TaskFailure::Failed(error.to_string().into()),
            TaskFailure::Panicked(message) => TaskFailure::Panicked(message.clone()),
            TaskFailure::TimedOut { limit } => TaskFailure::TimedOut { limit: *limit },
        }
    }
}

/// Shows a failure cut to [`TaskFailure::SHOWN_BYTES`] of message.
struct Shortened<'f>(&'f TaskFailure);

impl fmt::Display for Shortened<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.0 {
            TaskFailure::Failed(_) => "failed",
            TaskFailure::Panicked(_) => "panicked",
            TaskFailure::TimedOut { .. } => "timed out",
        };
        write!(f, "{verb}: {}", ShortMessage(self.0))
    }
}

/// Shows a failure's message alone, cut to [`TaskFailure::SHOWN_BYTES`].
pub(crate) struct ShortMessage<'f>(pub(crate) &'f TaskFailure);

impl fmt::Display for ShortMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message: &dyn fmt::Display = match self.0 {
            TaskFailure::Failed(error) => error,
            TaskFailure::Panicked(message) => message,
            TaskFailure::TimedOut { limit } => return TimedOutAfter(*limit).fmt(f),
        };
        let mut cut = Cut {
            out: f,
            room: TaskFailure::SHOWN_BYTES,
            total: 0,
        };
        fmt::write(&mut cut, format_args!("{message}"))?;
        let total = cut.total;
        if total > TaskFailure::SHOWN_BYTES {
            write!(f, "… [message cut: {total} bytes in all]")?;
        }
        Ok(())
    }
}

/// A timed-out task's message: "it ran past its timeout of 20ms".
struct TimedOutAfter(Duration);

impl fmt::Display for TimedOutAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "it ran past its timeout of {:?}", self.0)
    }
}

/// Passes on the first `room` bytes written to it (ending on a character
/// boundary) and counts the rest.
struct Cut<'a, 'f> {
    out: &'a mut fmt::Formatter<'f>,
    room: usize,
    total: usize,
}

impl fmt::Write for Cut<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.total += s.len();
        if self.room == 0 {
            return Ok(());
        }
        let mut end = s.len().min(self.room);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        // A character that does not fit ends what is shown.
        self.room = if end < s.len() { 0 } else { self.room - end };
        self.out.write_str(&s[..end])
    }
}

/// A failure shows the task's own error in its message, so, like
/// `std::io::Error` wrapping a custom error, its `source` is that error's
/// source: a chain printer shows each message once.
impl std::error::Error for TaskFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TaskFailure::Failed(error) => error.source(),
            TaskFailure::Panicked(_) | TaskFailure::TimedOut { .. } => None,
        }
    }
}

/// A run that did not finish every task, as an error for `?`.
///
/// Made by [`Report::into_result`](crate::Report::into_result), or beside
/// the outputs that did succeed by
/// [`Report::into_parts`](crate::Report::into_parts). It owns its data, so
/// it can be returned past the graph and the arena. Its `Display` is one
/// line: the totals and the first three failures, each message cut to
/// [`TaskFailure::SHOWN_BYTES`]; [`failures`](Self::failures) has them all,
/// whole.
#[derive(Debug)]
pub struct RunError {
    pub(crate) failures: Vec<(TaskLabel, TaskFailure)>,
    pub(crate) skipped: usize,
    pub(crate) cancelled: usize,
    pub(crate) total: usize,
    pub(crate) stop: Option<ShownReason>,
}

impl RunError {
    /// The tasks that failed, panicked or timed out, as `(task, failure)`, in id order;
    /// each task by id and, if it has one, by name.
    pub fn failures(&self) -> &[(TaskLabel, TaskFailure)] {
        &self.failures
    }

    /// How many tasks were skipped: because something upstream failed, or
    /// passed over by a branch or a trigger rule.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// How many tasks never started because the run was stopped.
    pub fn cancelled(&self) -> usize {
        self.cancelled
    }

    /// Why the run was stopped early, if it was.
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.stop.as_ref().map(|shown| shown.reason)
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = self.total - self.failures.len() - self.skipped - self.cancelled;
        write!(f, "{done} of {} tasks succeeded", self.total)?;
        if !self.failures.is_empty() {
            write!(f, "; {} failed (", self.failures.len())?;
            for (i, (task, failure)) in self.failures.iter().enumerate().take(3) {
                if i > 0 {
                    f.write_str("; ")?;
                }
                write!(f, "{task} {}", failure.shortened())?;
            }
            if self.failures.len() > 3 {
                write!(f, "; and {} more", self.failures.len() - 3)?;
            }
            f.write_str(")")?;
        }
        if self.skipped > 0 {
            write!(f, "; {} skipped", self.skipped)?;
        }
        if self.cancelled > 0 {
            write!(f, "; {} cancelled", self.cancelled)?;
        }
        if let Some(stop) = &self.stop {
            write!(f, "; {stop}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.failures.iter().find_map(|(_, failure)| match failure {
            TaskFailure::Failed(error) => Some(&**error as &(dyn std::error::Error + 'static)),
            TaskFailure::Panicked(_) | TaskFailure::TimedOut { .. } => None,
        })
    }
}
