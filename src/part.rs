//! Running the part of a graph one worker owns while its other tasks run elsewhere: the hook a distributed run (the `kahn-timely` crate) is built on.
//!
//! A part run is an ordinary run of the whole graph in which only the owned
//! tasks run here. Every other task is *remote*: no release ever claims it
//! here, and its outcome comes in through a [`RemoteFeed`], from any thread,
//! while the run lasts. A worker of the run takes it, records it as if the
//! task had ended here, and releases its successors, so an owned task waits
//! for its remote predecessors exactly as for local ones, and failures,
//! choices and stops pass across as they pass along a local edge. Each owned
//! task's end goes out through an *outbox* callback, with its output, so the
//! caller can ship it. The run ends when every task of the graph has an
//! outcome here, so its report is the whole run's.
//!
//! An in-process run pays nothing for this: a part run takes the watched
//! path that timings and observers take (see `exec/worker.rs`), and the
//! per-task path of other runs is unchanged.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{DeliveryError, TaskFailure};
use crate::id::TaskId;
use crate::names::Names;
use crate::report::{GraphKey, Timing};
use crate::resource::Inbox;
use crate::skip::Skip;
use crate::state::State;
use crate::stop::StopReason;

/// Which tasks of a graph a part run runs; the others run elsewhere. Made
/// by [`Graph::part`](crate::Graph::part).
///
/// ```
/// # let mut arena = kahn::Arena::new();
/// # let mut b = arena.builder::<u32>();
/// # b.task("a", |_| Ok(1))?;
/// # b.task("b", |_| Ok(2))?;
/// # let graph = b.build()?;
/// // This worker owns the tasks of even id.
/// let part = graph.part(|task| task.index() % 2 == 0);
/// assert!(part.owns(kahn::TaskId::new(0)));
/// assert_eq!(part.owned_count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Part {
    owned: Box<[bool]>,
    count: usize,
    graph: GraphKey,
}

impl Part {
    /// The part of the graph `graph` (of `tasks` tasks) made of the tasks
    /// for which `owns` says `true`.
    pub(crate) fn new(tasks: usize, graph: GraphKey, mut owns: impl FnMut(TaskId) -> bool) -> Part {
        let owned: Box<[bool]> = (0..tasks).map(|v| owns(TaskId::new(v as u32))).collect();
        Part {
            count: owned.iter().filter(|&&o| o).count(),
            owned,
            graph,
        }
    }

    /// Whether this part runs `task`.
    pub fn owns(&self, task: TaskId) -> bool {
        self.owned.get(task.index()).copied().unwrap_or(false)
    }

    /// How many tasks this part runs.
    pub fn owned_count(&self) -> usize {
        self.count
    }

    /// How many tasks the graph has.
    pub fn task_count(&self) -> usize {
        self.owned.len()
    }

    pub(crate) fn is_of(&self, graph: GraphKey) -> bool {
        self.graph == graph
    }

    pub(crate) fn owned(&self) -> &[bool] {
        &self.owned
    }
}

impl fmt::Debug for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Part")
            .field("owned", &self.count)
            .field("tasks", &self.owned.len())
            .finish()
    }
}

/// How a task that ran elsewhere ended, delivered to a part run with
/// [`RemoteFeed::deliver`]: what the run needs to record it as the task's
/// own run did, and to pass on to its successors.
#[derive(Debug)]
#[non_exhaustive]
pub enum RemoteOutcome<T> {
    /// It succeeded. `output` is its output if a task of this part reads
    /// it (`None` otherwise: the report then says it succeeded without an
    /// output here); `chose`, for a branching task that chose, the
    /// successors it chose.
    Succeeded {
        /// Its output, if a task here reads it.
        output: Option<T>,
        /// For a branching task that made a choice: the successors it chose.
        chose: Option<Vec<TaskId>>,
    },
    /// It failed, panicked or timed out: its successors here are skipped
    /// for it (or run, if their trigger rule says so); under fail-fast,
    /// the run here stops too.
    Failed(TaskFailure),
    /// It was skipped, for this reason.
    Skipped(Skip),
    /// It was cancelled by a stop: the run here stops for the same reason,
    /// if one is given.
    Cancelled(Option<StopReason>),
}

impl<T> RemoteOutcome<T> {
    /// A task this outcome names (the one that decided a skip, the one
    /// whose cancel stopped the run, a chosen successor) that is not below
    /// `tasks`, if any: an outcome from a corrupt or foreign message.
    fn named_outside(&self, tasks: usize) -> Option<TaskId> {
        let outside = |task: &TaskId| task.index() >= tasks;
        match self {
            RemoteOutcome::Succeeded {
                chose: Some(chose), ..
            } => chose.iter().copied().find(outside),
            RemoteOutcome::Skipped(skip) => Some(skip.task()).filter(outside),
            RemoteOutcome::Cancelled(Some(StopReason::CancelledByTask(by))) => {
                Some(*by).filter(outside)
            }
            _ => None,
        }
    }
}

/// How an owned task of a part run ended, as the run's outbox is told,
/// before any of its successors is released.
#[derive(Debug)]
#[non_exhaustive]
pub struct Settled<'a, T> {
    /// The task.
    pub task: TaskId,
    /// How it ended.
    pub state: State,
    /// Its output, if it succeeded (and nothing took it yet).
    pub output: Option<&'a T>,
    /// Its error, if it failed, panicked or timed out.
    pub failure: Option<&'a TaskFailure>,
    /// Why it was skipped, if it was.
    pub skipped: Option<Skip>,
    /// For a branching task that made a choice: the successors it chose.
    pub chose: Option<Vec<TaskId>>,
    /// For a cancelled task: why the run stopped.
    pub stopped: Option<StopReason>,
    /// When and on which worker it ran, if the run records timings.
    pub timing: Option<Timing>,
}

impl<'a, T> Settled<'a, T> {
    /// This end as another part run records it: `with_output` says
    /// whether that run reads the output (it is cloned then).
    pub fn to_remote(&self, with_output: bool) -> RemoteOutcome<T>
    where
        T: Clone,
    {
        match self.state {
            State::Succeeded => RemoteOutcome::Succeeded {
                output: self.output.filter(|_| with_output).cloned(),
                chose: self.chose.clone(),
            },
            State::Skipped => match self.skipped {
                Some(skip) => RemoteOutcome::Skipped(skip),
                None => RemoteOutcome::Cancelled(self.stopped),
            },
            State::Cancelled => RemoteOutcome::Cancelled(self.stopped),
            State::Failed | State::Panicked | State::TimedOut => {
                RemoteOutcome::Failed(match self.failure {
                    Some(failure) => failure.duplicate(),
                    None => TaskFailure::Failed("failed elsewhere".into()),
                })
            }
        }
    }
}

/// Where the outcomes of a part run's remote tasks come in, from any
/// thread, before or while the run lasts.
///
/// One feed serves one run: make it with
/// [`Graph::remote_feed`](crate::Graph::remote_feed), hand it (in
/// an `Arc`, to keep a clone where the outcomes arrive) to
/// [`Executor::run_part`](crate::Executor::run_part), and deliver each
/// remote task's outcome once. Outcomes delivered before the run starts
/// wait for it.
pub struct RemoteFeed<'g, T> {
    names: Names<'g>,
    owned: Box<[bool]>,
    graph: GraphKey,
    inner: Mutex<Feed<T>>,
}

struct Feed<T> {
    /// Outcomes delivered and not yet taken by a worker, by task.
    waiting: Vec<Option<RemoteOutcome<T>>>,
    delivered: Box<[bool]>,
    /// Delivered before the run attached.
    early: VecDeque<u32>,
    /// The run's inbox, while a run is attached.
    inbox: Option<Arc<Inbox>>,
    /// Whether a run has been attached (a feed serves one).
    used: bool,
}

impl<'g, T> RemoteFeed<'g, T> {
    /// A feed for a run of `part` of the graph whose names are `names`.
    pub(crate) fn new(names: Names<'g>, part: &Part) -> RemoteFeed<'g, T> {
        let n = part.owned.len();
        RemoteFeed {
            names,
            owned: part.owned.clone(),
            graph: part.graph,
            inner: Mutex::new(Feed {
                waiting: (0..n).map(|_| None).collect(),
                delivered: vec![false; n].into_boxed_slice(),
                early: VecDeque::new(),
                inbox: None,
                used: false,
            }),
        }
    }

    /// Delivers how remote task `task` ended. A worker of the run records
    /// it and releases its successors; before the run starts, it waits.
    ///
    /// # Errors
    /// [`DeliveryError`] if `task` is not in the graph, is owned by this
    /// part, or was delivered already, or if the outcome names a task that
    /// is not in the graph.
    pub fn deliver(&self, task: TaskId, outcome: RemoteOutcome<T>) -> Result<(), DeliveryError> {
        let v = task.index();
        if v >= self.owned.len() {
            return Err(DeliveryError::NotInGraph {
                task,
                tasks: self.owned.len(),
            });
        }
        if self.owned[v] {
            return Err(DeliveryError::OwnedHere {
                task: self.names.label(task),
            });
        }
        if let Some(named) = outcome.named_outside(self.owned.len()) {
            return Err(DeliveryError::NamesOutside {
                task: self.names.label(task),
                named,
                tasks: self.owned.len(),
            });
        }
        let inbox = {
            let mut feed = self.lock();
            if std::mem::replace(&mut feed.delivered[v], true) {
                return Err(DeliveryError::AlreadyDelivered {
                    task: self.names.label(task),
                });
            }
            feed.waiting[v] = Some(outcome);
            match &feed.inbox {
                Some(inbox) => Arc::clone(inbox),
                None => {
                    feed.early.push_back(v as u32);
                    return Ok(());
                }
            }
        };
        inbox.hand_back_remote(v as u32);
        Ok(())
    }

    /// How many remote tasks have been delivered.
    pub fn delivered(&self) -> usize {
        self.lock().delivered.iter().filter(|&&d| d).count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Feed<T>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn is_of(&self, graph: GraphKey, part: &Part) -> bool {
        self.graph == graph && self.owned == part.owned
    }

    /// Marks the feed as serving a run; `false` if it served one before.
    pub(crate) fn take_for_run(&self) -> bool {
        !std::mem::replace(&mut self.lock().used, true)
    }

    /// Attaches the run whose inbox is `inbox`, queueing what was delivered
    /// early there (without waking: the run has not started).
    pub(crate) fn attach(&self, inbox: &Arc<Inbox>) {
        let mut feed = self.lock();
        for v in std::mem::take(&mut feed.early) {
            inbox.queue_remote(v);
        }
        feed.inbox = Some(Arc::clone(inbox));
    }

    /// The run ended: later deliveries have no run to go to.
    pub(crate) fn detach(&self) {
        self.lock().inbox = None;
    }

    /// The outcome delivered for `v`, taken by the worker that records it.
    pub(crate) fn take(&self, v: u32) -> Option<RemoteOutcome<T>> {
        self.lock().waiting[v as usize].take()
    }
}

impl<T> fmt::Debug for RemoteFeed<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteFeed")
            .field("tasks", &self.owned.len())
            .field("delivered", &self.delivered())
            .finish_non_exhaustive()
    }
}

/// What an owned task's end is told to: the caller's outbox.
pub(crate) type Outbox<'o, T> = dyn Fn(Settled<'_, T>) + Send + Sync + 'o;

/// A part run as the run sees it.
pub(crate) struct PartRun<'r, T> {
    pub(crate) feed: Arc<RemoteFeed<'r, T>>,
    pub(crate) outbox: Box<Outbox<'r, T>>,
}

impl<T> PartRun<'_, T> {
    pub(crate) fn owns(&self, v: u32) -> bool {
        self.feed.owned[v as usize]
    }
}
