//! The frozen, compiled graph: immutable, `Sync`, run any number of times.

use std::fmt;

use bumpalo::boxed::Box as BumpBox;

use crate::csr::Csr;
use crate::id::{TaskId, TaskRef};
use crate::names::Names;
use crate::part::{Part, RemoteFeed};
use crate::prefetch::prefetch;
use crate::report::GraphKey;
use crate::resource::{Resource, ResourceTable};
use crate::retry::{Retries, RetryPolicy};
use crate::task::TaskBox;
use crate::timeout::Timeouts;
use crate::trigger::{TriggerRule, Triggers};
use crate::value::GraphTag;

/// A validated, compiled task graph.
///
/// Made by [`GraphBuilder::build`](crate::GraphBuilder::build). It borrows its
/// [`Arena`](crate::Arena) for `'a`, holds no per-run state, and is `Sync`:
/// run it as often as you like, from as many threads as you like, with an
/// [`Executor`](crate::Executor). Dropping it drops the task closures.
pub struct Graph<'a, T = ()> {
    pub(crate) csr: Csr<'a>,
    pub(crate) names: Names<'a>,
    pub(crate) tasks: BumpBox<'a, [TaskBox<'a, T>]>,
    pub(crate) tables: Tables<'a>,
    /// Which builder made it, so typed handles of other graphs are refused.
    pub(crate) tag: GraphTag,
}

/// The per-task tables a graph has beyond its topology, names and bodies,
/// each `None` (and free) unless some task uses it.
pub(crate) struct Tables<'a> {
    /// Which tasks use which resources.
    pub(crate) resources: Option<ResourceTable<'a>>,
    /// Each task's timeout.
    pub(crate) timeouts: Option<Timeouts<'a>>,
    /// Each task's trigger rule and whether it branches (`None` if every
    /// task has the default rule and none branches).
    pub(crate) triggers: Option<Triggers<'a>>,
    /// Each task's retry policy.
    pub(crate) retries: Option<Retries<'a>>,
    /// The tasks whose outputs early release keeps for the report, and
    /// that may not be taken.
    pub(crate) kept: Option<&'a [bool]>,
}

impl<'a, T> Graph<'a, T> {
    pub(crate) fn new(
        csr: Csr<'a>,
        names: Names<'a>,
        tasks: BumpBox<'a, [TaskBox<'a, T>]>,
        tables: Tables<'a>,
        tag: GraphTag,
    ) -> Self {
        // Checked always (it is one comparison): `body_unchecked` relies on it.
        assert_eq!(csr.task_count(), tasks.len(), "one compiled node per task");
        debug_assert_eq!(names.len(), tasks.len(), "one name slot per task");
        Graph {
            csr,
            names,
            tasks,
            tables,
            tag,
        }
    }

    /// Task `v`'s body, without a bounds check: the executor calls one
    /// per task, where the check was part of a tenth of an empty task's
    /// instructions.
    ///
    /// # Safety
    /// `v < n`, as for every task a worker claims (a target, see `Csr`).
    #[inline(always)]
    pub(crate) unsafe fn body_unchecked(&self, v: u32) -> &TaskBox<'a, T> {
        debug_assert!((v as usize) < self.tasks.len());
        // SAFETY: `v < n` by the caller's contract, and `tasks` has one
        // entry per compiled node (asserted in `new`).
        unsafe { self.tasks.get_unchecked(v as usize) }
    }

    /// Starts loading task `v`'s entry in the body table, so that a claim
    /// of `v` soon after does not wait for it; nothing is read.
    #[inline(always)]
    pub(crate) fn prefetch_body(&self, v: u32) {
        prefetch(self.tasks.as_ptr().wrapping_add(v as usize));
    }

    /// Whether task `id`'s output is [kept](crate::GraphBuilder::keep_output)
    /// in the report under early release; `false` for unknown ids.
    pub fn keeps_output(&self, id: TaskId) -> bool {
        matches!(self.tables.kept, Some(kept) if kept.get(id.index()) == Some(&true))
    }

    /// Task `id`'s [retry policy](crate::GraphBuilder::retry), if it has one.
    pub fn retry_policy(&self, id: TaskId) -> Option<&RetryPolicy> {
        let retries = self.tables.retries.as_ref()?;
        (id.index() < self.task_count())
            .then(|| retries.of(id.raw()))
            .flatten()
    }

    /// Task `id`'s [trigger rule](crate::GraphBuilder::trigger_rule); the
    /// default for unknown ids.
    pub fn trigger_rule(&self, id: TaskId) -> TriggerRule {
        match &self.tables.triggers {
            Some(t) if id.index() < self.task_count() => t.rule(id.raw()),
            _ => TriggerRule::default(),
        }
    }

    /// Whether task `id` [may branch](crate::GraphBuilder::branching).
    pub fn is_branching(&self, id: TaskId) -> bool {
        matches!(&self.tables.triggers, Some(t) if id.index() < self.task_count() && t.branches(id.raw()))
    }

    /// Task `id`'s timeout (see
    /// [`GraphBuilder::timeout`](crate::GraphBuilder::timeout)); `None` if
    /// it has none or there is no such task.
    pub fn timeout_of(&self, id: TaskId) -> Option<std::time::Duration> {
        let timeouts = self.tables.timeouts.as_ref()?;
        (id.index() < self.task_count())
            .then(|| timeouts.of(id.raw()))
            .flatten()
    }

    /// The resources task `id` uses while it runs, with units; empty if it
    /// uses none or there is no such task.
    pub fn resources_of(&self, id: TaskId) -> impl Iterator<Item = (&Resource, u32)> + '_ {
        self.tables
            .resources
            .as_ref()
            .filter(|_| id.index() < self.task_count())
            .into_iter()
            .flat_map(move |table| {
                table
                    .uses_of(id.raw())
                    .iter()
                    .map(move |u| (&table.resources[u.resource as usize], u.units))
            })
    }

    /// The part of this graph made of the tasks for which `owns` says
    /// `true`: what one worker of a distributed run runs, with
    /// [`Executor::run_part`](crate::Executor::run_part).
    pub fn part(&self, owns: impl FnMut(TaskId) -> bool) -> Part {
        Part::new(self.task_count(), GraphKey::of(&self.csr), owns)
    }

    /// A feed for one run of `part` of this graph: where the outcomes of
    /// the tasks that run elsewhere come in (see
    /// [`Executor::run_part`](crate::Executor::run_part)).
    pub fn remote_feed(&self, part: &Part) -> RemoteFeed<'_, T> {
        RemoteFeed::new(self.names, part)
    }

    /// The number of tasks.
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// The number of distinct edges (duplicates were merged by `build`).
    pub fn edge_count(&self) -> usize {
        self.csr.edge_count()
    }

    /// Bytes of the compiled topology: the CSR arrays (offsets, successors,
    /// sorted predecessors, pending counts) and the table of task pointers.
    ///
    /// About `12 + size_of::<usize>() * 2` bytes per task plus 8 per edge.
    /// Task closures and their captures, names, and whatever the builder
    /// left in the arena are not counted;
    /// [`Arena::allocated_bytes`](crate::Arena::allocated_bytes) covers all
    /// of those. Use it to size memory for very large graphs.
    pub fn topology_bytes(&self) -> usize {
        self.csr.bytes() + std::mem::size_of_val::<[TaskBox<'a, T>]>(&self.tasks)
    }

    /// The id of a task, by name or id; `None` if the graph has no such task.
    pub fn find<'n>(&self, task: impl Into<TaskRef<'n>>) -> Option<TaskId> {
        self.names.find(task.into())
    }

    /// The name a task was added with; `None` for unnamed tasks or unknown ids.
    pub fn name(&self, id: TaskId) -> Option<&str> {
        self.names.name(id)
    }

    /// The tasks `id` waits for, in id order.
    pub fn predecessors(&self, id: TaskId) -> impl ExactSizeIterator<Item = TaskId> + '_ {
        self.csr
            .predecessors(id.raw())
            .iter()
            .map(|&p| TaskId::new(p))
    }

    /// The tasks that wait for `id`, in the order their edges were first
    /// added; with [priorities](crate::GraphBuilder::critical_path_first), by
    /// descending rank (the heaviest path to the end of the graph first),
    /// ties by id. After running `id`, a worker goes on with them in this
    /// order.
    pub fn successors(&self, id: TaskId) -> impl ExactSizeIterator<Item = TaskId> + '_ {
        self.csr
            .successors(id.raw())
            .iter()
            .map(|&s| TaskId::new(s))
    }

    /// The tasks with no predecessors, where every run starts: in id order;
    /// with [priorities](crate::GraphBuilder::critical_path_first), by
    /// descending rank, ties by id. A run starts them in this order.
    pub fn sources(&self) -> impl ExactSizeIterator<Item = TaskId> + '_ {
        self.csr.sources().iter().map(|&s| TaskId::new(s))
    }
}

impl<T> fmt::Debug for Graph<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph")
            .field("tasks", &self.task_count())
            .field("edges", &self.edge_count())
            .finish()
    }
}
