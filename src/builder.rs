//! The single-threaded, mutable stage of a graph: add tasks and edges, then `build`.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use bumpalo::collections::Vec as BumpVec;
use bumpalo::Bump;

use crate::compile::compile;
use crate::context::TaskContext;
use crate::error::{BoxError, BuildError, RejectedWeight};
use crate::graph::{Graph, Tables};
use crate::id::{OwnedTaskRef, TaskId, TaskLabel, TaskRef};
use crate::names::{NameTable, Names, Rejected, BLOCK};
use crate::pages;
use crate::priority::{self, Priorities};
use crate::resource::{Resource, ResourceTable, Use};
use crate::retry::{self, RetryPolicy};
use crate::task::{alloc_task, TaskBox};
use crate::timeout;
use crate::trigger::{self, TriggerRule};
use crate::value::{GraphTag, Output, Value};

/// Hard limit on edges, 2³⁰ − 1: an in-degree must leave the pending
/// counter's top two bits free (poisoned, and many predecessors), and edges
/// plus sources must fit the `u32` offsets of the compiled graph.
const EDGE_LIMIT: usize = (1 << 30) - 1;

/// Makes room for `more` items in `v`; `false` if the allocator refused.
///
/// bumpalo's `realloc` copies the whole old capacity, and after a large
/// hint that is mostly memory never written: copying it would touch every
/// page of it. So a mostly empty array is first cut to its items (which
/// gives the room back when it is the bump's newest allocation), and only
/// the items move.
fn try_reserve_items<T>(v: &mut BumpVec<'_, T>, more: usize) -> bool {
    if v.capacity() - v.len() >= more {
        return true;
    }
    if v.len() < v.capacity() / 2 {
        v.shrink_to_fit();
    }
    v.try_reserve(more).is_ok()
}

/// Collects tasks and edges, validating each as it comes, and freezes them
/// into a [`Graph`] with [`build`](GraphBuilder::build).
///
/// Made by [`Arena::builder`](crate::Arena::builder); everything it stores
/// lives in that arena. Errors are reported by the call that caused them and
/// leave the builder unchanged.
///
/// **Duplicate edges are merged**: adding `a -> b` twice is the same as once.
/// **Edges may be added in any order** relative to each other, but both tasks
/// must exist when the edge is added.
///
/// **Priorities** are off unless asked for: with
/// [`critical_path_first`](Self::critical_path_first) or
/// [`weight`](Self::weight), of the tasks that become ready together a
/// worker starts those with the longest path to the end of the graph first.
pub struct GraphBuilder<'a, T = ()> {
    bump: &'a Bump,
    /// The arena's name table, cleared for this graph.
    names: &'a mut NameTable,
    tasks: BumpVec<'a, TaskBox<'a, T>>,
    /// `[from, to]` per edge as added; `build` reuses this memory for the
    /// compiled graph's predecessor lists.
    edges: BumpVec<'a, [u32; 2]>,
    /// Whether every edge so far goes from a lower id to a higher one; then
    /// ids are a topological order and `build` needs no cycle check.
    forward_only: bool,
    max_tasks: usize,
    max_edges: usize,
    priorities: Priorities<'a>,
    /// The resources tasks declared they use, in order of first use.
    resources: Vec<Resource>,
    /// `(task, index into resources, units)`, one per declared pair.
    uses: BumpVec<'a, (u32, u32, u32)>,
    /// Where each resource is in `resources`, by identity.
    resource_index: HashMap<usize, u32>,
    /// Where each `(task, resource)` pair is in `uses`, so a repeated
    /// declaration adds up in O(1).
    use_index: HashMap<(u32, u32), usize>,
    timeouts: timeout::Declared<'a>,
    triggers: trigger::Declared<'a>,
    retries: retry::Declared<'a>,
    /// Tasks marked with `keep_output`, as declared.
    kept: BumpVec<'a, u32>,
    tag: GraphTag,
}

impl<'a, T> GraphBuilder<'a, T> {
    /// A builder over a rewound arena: `bump` and `names` are empty.
    pub(crate) fn new(bump: &'a Bump, names: &'a mut NameTable) -> Self {
        debug_assert_eq!(names.named(), 0, "the arena was rewound");
        GraphBuilder {
            bump,
            names,
            tasks: BumpVec::new_in(bump),
            edges: BumpVec::new_in(bump),
            forward_only: true,
            max_tasks: TaskId::LIMIT,
            max_edges: EDGE_LIMIT,
            priorities: Priorities::new(bump),
            resources: Vec::new(),
            uses: BumpVec::new_in(bump),
            resource_index: HashMap::new(),
            use_index: HashMap::new(),
            timeouts: timeout::Declared::new(bump),
            triggers: trigger::Declared::new(bump),
            retries: retry::Declared::new(bump),
            kept: BumpVec::new_in(bump),
            tag: GraphTag::next(),
        }
    }

    /// Reserves room for `tasks` more tasks and `edges` more edges, so a large
    /// graph does not regrow its task and edge arrays (and leave the old ones
    /// in the arena).
    ///
    /// The counts are hints, and may come from input you do not control: a
    /// request is cut to the builder's limits ([`max_tasks`](Self::max_tasks),
    /// [`max_edges`](Self::max_edges)) and so that reserving never makes room
    /// for more than [`RESERVE_TASKS`](Self::RESERVE_TASKS) tasks and
    /// [`RESERVE_EDGES`](Self::RESERVE_EDGES) edges in all (room for a
    /// 10-million-task graph with four edges per task). So hints alone never
    /// take more than 2 GiB of address space, however many calls make them,
    /// a repeated hint never regrows (and copies) arrays an earlier one
    /// reserved, and memory is touched only as tasks and edges fill it. A
    /// request the allocator cannot meet is ignored. For input you do not
    /// control, set the limits first: they cut the reservation too. Beyond
    /// that the arrays grow as tasks and edges arrive, and the limits are
    /// enforced then.
    pub fn reserve(&mut self, tasks: usize, edges: usize) {
        let tasks = tasks
            .min(Self::RESERVE_TASKS.saturating_sub(self.tasks.len()))
            .min(self.max_tasks.saturating_sub(self.tasks.len()));
        let edges = edges
            .min(Self::RESERVE_EDGES.saturating_sub(self.edges.len()))
            .min(self.max_edges.saturating_sub(self.edges.len()));
        if try_reserve_items(&mut self.tasks, tasks) {
            pages::advise_spare(self.names.huge_pages, &self.tasks);
        }
        self.names.reserve(self.tasks.len(), tasks);
        self.reserve_edges(edges);
    }

    /// The most tasks [`reserve`](Self::reserve) makes room for, over all calls
    /// (2²⁴, about 16.8 million).
    pub const RESERVE_TASKS: usize = 1 << 24;

    /// The most edges [`reserve`](Self::reserve) makes room for, over all calls
    /// (2²⁶, about 67 million).
    pub const RESERVE_EDGES: usize = 1 << 26;

    /// Sets the number of tasks this builder accepts (never above
    /// [`TaskId::LIMIT`]); for graphs that come from input you do not control.
    pub fn max_tasks(&mut self, limit: usize) -> &mut Self {
        self.max_tasks = limit.min(TaskId::LIMIT);
        self
    }

    /// Sets the number of edges this builder accepts (never above 2³⁰ − 1,
    /// about a billion).
    /// Edges are counted as added, duplicates included, so the limit also
    /// bounds the memory an edge list from untrusted input can take.
    pub fn max_edges(&mut self, limit: usize) -> &mut Self {
        self.max_edges = limit.min(EDGE_LIMIT);
        self
    }

    /// Orders the graph critical path first: of the tasks that become ready
    /// together (the sources, or the successors a task releases), a worker
    /// starts those with the longest path to the end of the graph first,
    /// counted in tasks (or in [`weight`](Self::weight)s, where given).
    ///
    /// [`build`](Self::build) gives each task a *rank*, its weight (1 unless
    /// set) plus the largest rank among its successors, and sorts each
    /// task's [`successors`](Graph::successors) and the graph's
    /// [`sources`](Graph::sources) by descending rank, ties by id. Workers
    /// take ready tasks from the front of those lists and go on depth-first
    /// with the successors of the task they just ran, so the longest chain
    /// starts first and its next task is always taken next. That is an
    /// order, not a global priority queue: a worker finishes the successors
    /// of its task before the work it set aside, whatever their ranks, and a
    /// hungry worker is given a busy one's oldest set-aside work or the
    /// lower-ranked half of its current list.
    ///
    /// A run costs exactly what it costs without priorities. `build` sorts
    /// the lists, in O(E log d) for out-degrees `d`, and takes eight bytes
    /// of arena per task for the ranks.
    pub fn critical_path_first(&mut self) -> &mut Self {
        self.priorities.turn_on();
        self
    }

    /// Sets `task`'s weight for [`critical_path_first`](Self::critical_path_first)
    /// (which it turns on): how much the task adds to the length of every path
    /// through it, such as its expected seconds. A task without a weight
    /// weighs 1; setting a weight again replaces it.
    ///
    /// Weights are numbers from 0 to [`MAX_WEIGHT`](Self::MAX_WEIGHT), so
    /// ranks (sums of weights along a path) never overflow or become NaN.
    ///
    /// # Errors
    /// [`BuildError::WeightOfUnknownTask`] if the builder has no such task;
    /// [`BuildError::InvalidWeight`] if `weight` is negative, NaN, infinite
    /// or above `MAX_WEIGHT`. Either leaves the builder unchanged.
    pub fn weight<'n>(
        &mut self,
        task: impl Into<TaskRef<'n>>,
        weight: f64,
    ) -> Result<(), BuildError> {
        let task = task.into();
        let v = self
            .find(task)
            .ok_or_else(|| BuildError::WeightOfUnknownTask {
                missing: task.to_owned_ref(),
            })?;
        if !priority::is_valid_weight(weight) {
            return Err(BuildError::InvalidWeight {
                task: self.label(v),
                weight: RejectedWeight(weight),
            });
        }
        self.priorities.set_weight(v, weight, self.tasks.len());
        Ok(())
    }

    /// The largest weight a task may have: 10²⁹⁸. A path has fewer than 2³¹
    /// tasks, so its total weight stays far below `f64::MAX`.
    pub const MAX_WEIGHT: f64 = priority::MAX_WEIGHT;

    /// The number of tasks added so far.
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// The number of edges added so far, duplicates included.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Adds a task called `name` whose body is `body`, and returns its id.
    ///
    /// The body gets a [`TaskContext`] to read its predecessors' outputs and
    /// returns `Ok(output)` or any error (`?` converts it). It may run on any
    /// worker thread, once per run.
    ///
    /// # Errors
    /// [`BuildError::EmptyName`], [`BuildError::DuplicateName`],
    /// [`BuildError::TooManyTasks`], [`BuildError::NamesTooLong`].
    pub fn task<F>(&mut self, name: &str, body: F) -> Result<TaskId, BuildError>
    where
        F: Fn(&TaskContext<'_, T>) -> Result<T, BoxError> + Send + Sync + 'a,
    {
        let hash = self.names.hash(name);
        self.hashed_task(name, hash, body)
    }

    /// [`task`](Self::task) for a name already hashed by the name table.
    fn hashed_task<F>(&mut self, name: &str, hash: u32, body: F) -> Result<TaskId, BuildError>
    where
        F: Fn(&TaskContext<'_, T>) -> Result<T, BoxError> + Send + Sync + 'a,
    {
        if name.is_empty() {
            return Err(BuildError::EmptyName);
        }
        let id = self.next_id()?;
        match self.names.push_hashed(id.raw(), name, hash) {
            Ok(()) => {}
            Err(Rejected::Taken(first)) => {
                return Err(BuildError::DuplicateName {
                    name: name.to_owned(),
                    first: TaskId::new(first),
                })
            }
            Err(Rejected::TooLong) => {
                return Err(BuildError::NamesTooLong {
                    task: name.to_owned(),
                    limit: NameTable::BYTE_LIMIT,
                })
            }
        }
        self.tasks.push(alloc_task(self.bump, body));
        Ok(id)
    }

    /// Adds many named tasks, in bulk: for task lists read from
    /// configuration. The k-th task added gets the id [`task_count`]
    /// had before the call, plus k. The names are hashed a batch at a
    /// time and their places in the name table loaded together, so the
    /// cache misses of a large graph overlap. Stops at the first bad task,
    /// keeping the tasks before it.
    ///
    /// All bodies have one type: make them with one function.
    ///
    /// ```
    /// # use kahn::{BoxError, TaskContext};
    /// let config = [("extract", 1), ("clean", 2), ("load", 3)];
    /// let step = |cost: u64| move |_: &TaskContext<'_, u64>| Ok::<_, BoxError>(cost);
    /// let mut arena = kahn::Arena::new();
    /// let mut b = arena.builder::<u64>();
    /// b.tasks(config.iter().map(|&(name, cost)| (name, step(cost))))?;
    /// b.edges_by_name([("extract", "clean"), ("clean", "load")])?;
    /// assert_eq!(b.build()?.task_count(), 3);
    /// # Ok::<(), kahn::BuildError>(())
    /// ```
    ///
    /// [`task_count`]: Self::task_count
    ///
    /// # Errors
    /// As [`task`](Self::task), for the first bad task.
    pub fn tasks<'n, I, F>(&mut self, tasks: I) -> Result<(), BuildError>
    where
        I: IntoIterator<Item = (&'n str, F)>,
        F: Fn(&TaskContext<'_, T>) -> Result<T, BoxError> + Send + Sync + 'a,
    {
        /// Tasks whose names are looked at together.
        const BATCH: usize = 16;
        let mut tasks = tasks.into_iter();
        let room = self.max_tasks.saturating_sub(self.tasks.len());
        let hint = tasks.size_hint().0.min(room).min(Self::RESERVE_TASKS);
        if hint > 0 {
            self.reserve(hint, 0);
        }
        let mut batch: [Option<(&str, F)>; BATCH] = Default::default();
        loop {
            let mut count = 0;
            for task in tasks.by_ref().take(BATCH) {
                batch[count] = Some(task);
                count += 1;
            }
            if count == 0 {
                return Ok(());
            }
            // Hash the batch and start loading its slots, then add it.
            let mut hashes = [0u32; BATCH];
            for (hash, (name, _)) in hashes.iter_mut().zip(batch[..count].iter().flatten()) {
                *hash = self.names.hash(name);
                self.names.prefetch_home(*hash);
            }
            for (task, hash) in batch[..count].iter_mut().zip(hashes) {
                let (name, body) = task.take().expect("filled above");
                self.hashed_task(name, hash, body)?;
            }
        }
    }

    /// Adds a task without a name and returns its id; errors and reports show
    /// it as `task #id`. For generated graphs that need no names.
    ///
    /// # Errors
    /// [`BuildError::TooManyTasks`].
    pub fn unnamed_task<F>(&mut self, body: F) -> Result<TaskId, BuildError>
    where
        F: Fn(&TaskContext<'_, T>) -> Result<T, BoxError> + Send + Sync + 'a,
    {
        let id = self.next_id()?;
        self.tasks.push(alloc_task(self.bump, body));
        Ok(id)
    }

    fn next_id(&self) -> Result<TaskId, BuildError> {
        let n = self.tasks.len();
        if n >= self.max_tasks {
            return Err(BuildError::TooManyTasks {
                given: n + 1,
                limit: self.max_tasks,
            });
        }
        Ok(TaskId::new(n as u32))
    }

    /// Adds an edge: `to` starts only after `from` succeeded, and may read its output.
    ///
    /// # Errors
    /// [`BuildError::UnknownTask`], [`BuildError::SelfLoop`],
    /// [`BuildError::TooManyEdges`]. Cycles are found by [`build`](Self::build).
    pub fn edge<'n, 'm>(
        &mut self,
        from: impl Into<TaskRef<'n>>,
        to: impl Into<TaskRef<'m>>,
    ) -> Result<(), BuildError> {
        let (from, to) = (from.into(), to.into());
        let (u, v) = match (from, to) {
            // Both lookups at once, so their cache misses overlap.
            (TaskRef::Name(a), TaskRef::Name(b)) => {
                let [u, v] = self.names.find_batch(&[a, b]);
                (u, v)
            }
            _ => (self.find(from), self.find(to)),
        };
        let u = self.resolved(u, from, from, to)?;
        let v = self.resolved(v, to, from, to)?;
        self.push_edge((u, v))
    }

    /// Adds many edges by id, in bulk; for generated graphs. Stops at the
    /// first bad edge, keeping the edges before it.
    ///
    /// # Errors
    /// As [`edge`](Self::edge).
    pub fn edges<I>(&mut self, edges: I) -> Result<(), BuildError>
    where
        I: IntoIterator<Item = (TaskId, TaskId)>,
    {
        let edges = edges.into_iter();
        // Trust the iterator's length only as far as the edge limit allows,
        // and reserve at most a million edges ahead of validating them.
        let room = self.max_edges.saturating_sub(self.edges.len());
        self.reserve_edges(edges.size_hint().0.min(room).min(1 << 20));
        let n = self.tasks.len() as u32;
        for (from, to) in edges {
            let (u, v) = (from.raw(), to.raw());
            if u >= n || v >= n || u == v || self.edges.len() >= self.max_edges {
                // Let the careful path build the right error.
                return self.edge(from, to);
            }
            self.push_valid_edge(u, v);
        }
        Ok(())
    }

    /// Adds many edges by name, in bulk: for edge lists read from
    /// configuration. The names are looked up a batch at a time, so their
    /// cache misses overlap; on a graph too big for the caches that is
    /// several times faster than one [`edge`](Self::edge) call per pair.
    /// Stops at the first bad edge, keeping the edges before it.
    ///
    /// ```
    /// let mut arena = kahn::Arena::new();
    /// let mut b = arena.builder::<()>();
    /// for name in ["extract", "clean", "load"] {
    ///     b.task(name, |_| Ok(()))?;
    /// }
    /// let config = [("extract", "clean"), ("clean", "load")];
    /// b.edges_by_name(config)?;
    /// assert_eq!(b.build()?.edge_count(), 2);
    /// # Ok::<(), kahn::BuildError>(())
    /// ```
    ///
    /// # Errors
    /// As [`edge`](Self::edge), for the first bad edge.
    pub fn edges_by_name<'n, I>(&mut self, edges: I) -> Result<(), BuildError>
    where
        I: IntoIterator<Item = (&'n str, &'n str)>,
    {
        /// Pairs resolved together: two names each.
        const PAIRS: usize = BLOCK / 2;
        let mut edges = edges.into_iter();
        let room = self.max_edges.saturating_sub(self.edges.len());
        self.reserve_edges(edges.size_hint().0.min(room).min(1 << 20));
        let mut names = [""; 2 * PAIRS];
        let mut found = [None; 2 * PAIRS];
        loop {
            let mut count = 0;
            for (from, to) in edges.by_ref().take(PAIRS) {
                names[2 * count] = from;
                names[2 * count + 1] = to;
                count += 1;
            }
            if count == 0 {
                return Ok(());
            }
            self.names
                .find_many(&names[..2 * count], &mut found[..2 * count]);
            for pair in 0..count {
                match (found[2 * pair], found[2 * pair + 1]) {
                    (Some(u), Some(v)) if u != v && self.edges.len() < self.max_edges => {
                        self.push_valid_edge(u, v);
                    }
                    // Let the careful path build the right error.
                    _ => self.edge(names[2 * pair], names[2 * pair + 1])?,
                }
            }
        }
    }

    fn push_edge(&mut self, (u, v): (u32, u32)) -> Result<(), BuildError> {
        if u == v {
            return Err(BuildError::SelfLoop {
                task: self.label(u),
            });
        }
        if self.edges.len() >= self.max_edges {
            return Err(BuildError::TooManyEdges {
                given: self.edges.len() + 1,
                limit: self.max_edges,
            });
        }
        self.push_valid_edge(u, v);
        Ok(())
    }

    /// Appends a checked edge.
    #[inline]
    fn push_valid_edge(&mut self, u: u32, v: u32) {
        self.forward_only &= u < v;
        self.edges.push([u, v]);
    }

    /// Room for `more` edges, if the allocator has it.
    fn reserve_edges(&mut self, more: usize) {
        if try_reserve_items(&mut self.edges, more) {
            pages::advise_spare(self.names.huge_pages, &self.edges);
        }
    }

    /// `found`, the task `task` (one end of `from -> to`) resolved to, or
    /// the error that names it.
    fn resolved(
        &mut self,
        found: Option<u32>,
        task: TaskRef<'_>,
        from: TaskRef<'_>,
        to: TaskRef<'_>,
    ) -> Result<u32, BuildError> {
        found.ok_or_else(|| BuildError::UnknownTask {
            missing: task.to_owned_ref(),
            from: self.as_written(from),
            to: self.as_written(to),
        })
    }

    /// A reference as the user wrote it, but by name if it is a known task's id.
    fn as_written(&mut self, task: TaskRef<'_>) -> OwnedTaskRef {
        match task {
            TaskRef::Id(id) if id.index() < self.tasks.len() => {
                self.label(id.raw()).as_task_ref().to_owned_ref()
            }
            other => other.to_owned_ref(),
        }
    }

    fn label(&self, v: u32) -> TaskLabel {
        TaskLabel::new(TaskId::new(v), self.names.name(v as usize))
    }

    /// Declares that `task` holds one unit of `resource` while it runs: at
    /// most [`capacity`](Resource::capacity) such tasks run at once, across
    /// every graph and run that uses the resource. A task waiting for a
    /// resource holds no worker, and a task that uses several takes all or
    /// none, so tasks cannot deadlock over resources.
    ///
    /// # Errors
    /// [`BuildError::UnknownTaskFor`]; [`BuildError::ResourceUnits`] if the
    /// task would need more units than the resource has.
    pub fn uses<'n>(
        &mut self,
        task: impl Into<TaskRef<'n>>,
        resource: &Resource,
    ) -> Result<(), BuildError> {
        self.uses_units(task, resource, 1)
    }

    /// As [`uses`](Self::uses), for `units` units (a task that opens two
    /// connections); declaring the same resource again for a task adds up.
    ///
    /// # Errors
    /// [`BuildError::UnknownTaskFor`]; [`BuildError::ResourceUnits`] if
    /// `units` is 0 or the task's total exceeds the resource's capacity.
    pub fn uses_units<'n>(
        &mut self,
        task: impl Into<TaskRef<'n>>,
        resource: &Resource,
        units: u32,
    ) -> Result<(), BuildError> {
        let v = self.find_for("uses", task.into())?;
        let next = self.resources.len() as u32;
        let index = *self.resource_index.entry(resource.key()).or_insert(next);
        let existing = self.use_index.get(&(v, index)).copied();
        let total = existing.map_or(0, |i| self.uses[i].2).saturating_add(units);
        if units == 0 || total > resource.capacity() {
            return Err(BuildError::ResourceUnits {
                task: self.label(v),
                resource: resource.name().to_owned(),
                units: total,
                capacity: resource.capacity(),
            });
        }
        if index == next {
            self.resources.push(resource.clone());
        }
        match existing {
            Some(i) => self.uses[i].2 = total,
            None => {
                self.use_index.insert((v, index), self.uses.len());
                self.uses.push((v, index, units));
            }
        }
        Ok(())
    }

    /// The task a reference points at, if the builder has it.
    /// Gives `task` a timeout: how long it may run before it is told to
    /// stop and, if it returns later, recorded as
    /// [`TimedOut`](crate::Outcome::TimedOut), whatever it returned. Its
    /// descendants are then skipped, as after a failure. Setting a timeout
    /// again replaces it.
    ///
    /// **A timeout is cooperative.** Rust cannot stop a running thread, so
    /// a task past its limit keeps its worker until it returns: it must
    /// look. From its limit on, [`TaskContext::is_cancelled`] is true, and
    /// [`TaskContext::checkpoint`] returns an error for `?`. A task that
    /// never looks is recorded as timed out when it returns, no sooner.
    ///
    /// The clock starts when the task starts. It counts in ticks of 1 ms,
    /// kept by a thread of kahn's that ticks while a run with timeouts is
    /// under way (and sleeps otherwise), so that looking at it is one load
    /// from memory, far cheaper than `Instant`: a task is told to stop, and
    /// counted as timed out, up to two ticks after its limit (later if the
    /// machine is so loaded that the ticker waits for a core), never
    /// before. A timeout of zero is always past; a limit too long for 64
    /// bits of nanoseconds (over 584 years) is no limit. Graphs where no
    /// task has a timeout pay nothing for the feature; those where some do
    /// take eight bytes of arena a task and two loads of the tick count a
    /// timed task (see BENCHMARKS.md).
    ///
    /// ```
    /// use std::time::Duration;
    /// use kahn::{Executor, Outcome};
    /// let mut arena = kahn::Arena::new();
    /// let mut b = arena.builder::<u64>();
    /// b.task("poll", |ctx| {
    ///     let mut polls = 0;
    ///     loop {
    ///         ctx.checkpoint()?; // an error once the timeout has passed
    ///         polls += 1;
    ///         std::thread::sleep(Duration::from_millis(1));
    ///     }
    /// })?;
    /// b.timeout("poll", Duration::from_millis(20))?;
    /// let graph = b.build()?;
    /// let report = Executor::with_threads(1)?.run(&graph);
    /// assert!(matches!(report.outcome("poll"), Some(Outcome::TimedOut { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`BuildError::UnknownTaskFor`] if the builder has no such task.
    ///
    /// [`TaskContext::is_cancelled`]: crate::TaskContext::is_cancelled
    /// [`TaskContext::checkpoint`]: crate::TaskContext::checkpoint
    pub fn timeout<'n>(
        &mut self,
        task: impl Into<TaskRef<'n>>,
        limit: std::time::Duration,
    ) -> Result<(), BuildError> {
        let v = self.find_for("timeout", task.into())?;
        self.timeouts.set(v, limit);
        Ok(())
    }

    /// Sets when `task` runs, once its predecessors have all finished (see
    /// [`TriggerRule`]); setting a rule again replaces it. A cleanup task
    /// that must always run, an alert that runs only when something failed:
    ///
    /// ```
    /// use kahn::{Executor, Outcome, TriggerRule};
    /// let mut arena = kahn::Arena::new();
    /// let mut b = arena.builder::<&str>();
    /// b.task("load", |_| Err("the warehouse is down".into()))?;
    /// b.task("cleanup", |_| Ok("temp files removed"))?;
    /// b.task("alert", |ctx| {
    ///     let load = ctx.upstream("load")?;
    ///     assert_eq!(load, kahn::State::Failed);
    ///     Ok("paged the on-call")
    /// })?;
    /// b.edge("load", "cleanup")?;
    /// b.edge("load", "alert")?;
    /// b.trigger_rule("cleanup", TriggerRule::AllDone)?;
    /// b.trigger_rule("alert", TriggerRule::OneFailed)?;
    /// let graph = b.build()?;
    /// let report = Executor::with_threads(2)?.run(&graph);
    /// assert_eq!(report.output("cleanup"), Some(&"temp files removed"));
    /// assert_eq!(report.output("alert"), Some(&"paged the on-call"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// Graphs where every task has the default rule and none branches pay
    /// nothing for the feature; others take a byte of arena a task, and
    /// a look at each predecessor's state when a task with a rule is
    /// released.
    ///
    /// # Errors
    /// [`BuildError::UnknownTaskFor`] if the builder has no such task.
    pub fn trigger_rule<'n>(
        &mut self,
        task: impl Into<TaskRef<'n>>,
        rule: TriggerRule,
    ) -> Result<(), BuildError> {
        let v = self.find_for("trigger_rule", task.into())?;
        self.triggers.rule(v, rule);
        Ok(())
    }

    /// Lets `task` choose at run time which of its direct successors run,
    /// with [`TaskContext::branch`](crate::TaskContext::branch). Those it
    /// does not choose are skipped as
    /// [branch not taken](crate::Outcome::BranchNotTaken), which is not a
    /// failure: their descendants follow their trigger rules (the default
    /// skips them too; [`TriggerRule::NoneFailed`] runs a join after the
    /// branch), and the run can still be a success. A branching task that
    /// does not call `branch` runs all its successors.
    ///
    /// ```
    /// use kahn::{Executor, Outcome, TriggerRule};
    /// let mut arena = kahn::Arena::new();
    /// let mut b = arena.builder::<u32>();
    /// b.task("check", |ctx| {
    ///     let new_data = false;
    ///     ctx.branch([if new_data { "load" } else { "skip_load" }])?;
    ///     Ok(0)
    /// })?;
    /// b.task("load", |_| Ok(1))?;
    /// b.task("skip_load", |_| Ok(2))?;
    /// b.task("report", |ctx| Ok(ctx.inputs().count() as u32))?;
    /// b.edges_by_name([("check", "load"), ("check", "skip_load")])?;
    /// b.edges_by_name([("load", "report"), ("skip_load", "report")])?;
    /// b.branching("check")?;
    /// b.trigger_rule("report", TriggerRule::NoneFailed)?;
    /// let graph = b.build()?;
    /// let report = Executor::with_threads(2)?.run(&graph);
    /// assert!(matches!(report.outcome("load"), Some(Outcome::BranchNotTaken { .. })));
    /// assert_eq!(report.output("report"), Some(&1));
    /// assert!(report.is_success());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`BuildError::UnknownTaskFor`] if the builder has no such task.
    pub fn branching<'n>(&mut self, task: impl Into<TaskRef<'n>>) -> Result<(), BuildError> {
        let v = self.find_for("branching", task.into())?;
        self.triggers.branching(v);
        Ok(())
    }

    /// Gives `task` a retry policy: a failed attempt that the policy
    /// retries is not recorded; the task waits out the policy's delay
    /// *without holding a worker* (other tasks run meanwhile, and an idle
    /// run sleeps until the earliest retry is due) and runs again. Its
    /// successors wait for its last attempt. A stop (cancel token, deadline,
    /// fail-fast) ends the wait: the task is recorded with its last failure.
    /// The report gives each task's attempts and the errors of the failed
    /// ones ([`Report::attempts`](crate::Report::attempts)); inside the
    /// task, [`TaskContext::attempt`](crate::TaskContext::attempt) says
    /// which attempt is running. Setting a policy again replaces it.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::time::Duration;
    /// use kahn::{Executor, RetryPolicy};
    /// let calls = AtomicU32::new(0);
    /// let mut arena = kahn::Arena::new();
    /// let mut b = arena.builder::<&str>();
    /// b.task("extract", |_| {
    ///     if calls.fetch_add(1, Ordering::SeqCst) < 2 {
    ///         return Err("connection reset".into()); // transient
    ///     }
    ///     Ok("rows")
    /// })?;
    /// b.task("parse", |_| Err(kahn::permanent("malformed header")))?;
    /// let policy = RetryPolicy::attempts(5).backoff(
    ///     Duration::from_millis(1),
    ///     2.0,
    ///     Duration::from_millis(50),
    /// );
    /// b.retry("extract", policy.clone())?;
    /// b.retry("parse", policy)?;
    /// let graph = b.build()?;
    /// let report = Executor::with_threads(2)?.run(&graph);
    /// assert_eq!(report.output("extract"), Some(&"rows"));
    /// assert_eq!(report.attempts("extract"), 3);
    /// assert_eq!(report.attempts("parse"), 1, "a permanent error is not retried");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`BuildError::UnknownTaskFor`] if the builder has no such task;
    /// [`BuildError::InvalidRetry`] for a policy of no attempts, a backoff
    /// factor below 1 or not finite, a jitter outside 0 to 1, or a delay
    /// above [`RetryPolicy::MAX_DELAY`].
    pub fn retry<'n>(
        &mut self,
        task: impl Into<TaskRef<'n>>,
        policy: RetryPolicy,
    ) -> Result<(), BuildError> {
        let v = self.find_for("retry", task.into())?;
        if let Some(problem) = policy.problem() {
            return Err(BuildError::InvalidRetry {
                task: self.label(v),
                problem,
            });
        }
        self.retries.set(v, policy);
        Ok(())
    }

    /// Keeps `task`'s output in the report under
    /// [early release](crate::RunOptions::release_outputs), as a sink's is
    /// kept; its readers may not [take](crate::TaskContext::take_input) it.
    /// For the intermediate results a caller wants back (row counts, a
    /// manifest) from a graph whose other outputs are freed as it runs.
    ///
    /// # Errors
    /// [`BuildError::UnknownTaskFor`] if the builder has no such task.
    pub fn keep_output<'n>(&mut self, task: impl Into<TaskRef<'n>>) -> Result<(), BuildError> {
        let v = self.find_for("keep_output", task.into())?;
        self.kept.push(v);
        Ok(())
    }

    /// Adds a task whose body is `FnMut`: it may keep and change state of
    /// its own from one run to the next (a buffer it reuses, a connection it
    /// opens once, a counter) with no `Mutex` in your code.
    ///
    /// The trade-off: the body sits behind a lock of kahn's, so runs of the
    /// graph that reach this task at the same time run it one after the
    /// other (the lock is never contended within one run: a task runs once
    /// per run). A body that panicked leaves its state as the panic left it
    /// for the next run. Its body must not start a run of its own graph that
    /// reaches it (that would wait for itself). For state that belongs to
    /// one run rather than to the graph, give the run an
    /// [input](crate::RunOptions::input).
    ///
    /// ```
    /// let mut arena = kahn::Arena::new();
    /// let mut b = arena.builder::<usize>();
    /// let mut seen = Vec::new(); // owned by the task, kept between runs
    /// b.task_mut("dedupe", move |ctx| {
    ///     let batch = *ctx.run_input::<u32>()?;
    ///     if !seen.contains(&batch) {
    ///         seen.push(batch);
    ///     }
    ///     Ok(seen.len())
    /// })?;
    /// let graph = b.build()?;
    /// let executor = kahn::Executor::with_threads(2)?;
    /// for batch in [7_u32, 8, 7] {
    ///     let _ = executor.run_with(&graph, &kahn::RunOptions::new().input(batch));
    /// }
    /// let report = executor.run_with(&graph, &kahn::RunOptions::new().input(9_u32));
    /// assert_eq!(report.output("dedupe"), Some(&3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`task`](Self::task).
    pub fn task_mut<F>(&mut self, name: &str, body: F) -> Result<TaskId, BuildError>
    where
        F: FnMut(&TaskContext<'_, T>) -> Result<T, BoxError> + Send + 'a,
    {
        let body = Mutex::new(body);
        self.task(name, move |ctx| {
            let mut body = body.lock().unwrap_or_else(PoisonError::into_inner);
            body(ctx)
        })
    }

    /// The id of `task`, or the error that `call` names an unknown task.
    fn find_for(&self, call: &'static str, task: TaskRef<'_>) -> Result<u32, BuildError> {
        self.find(task).ok_or_else(|| BuildError::UnknownTaskFor {
            call,
            missing: task.to_owned_ref(),
        })
    }

    fn find(&self, task: TaskRef<'_>) -> Option<u32> {
        match task {
            TaskRef::Id(id) => (id.index() < self.tasks.len()).then_some(id.raw()),
            TaskRef::Name(name) => self.names.find(name),
        }
    }

    /// The resources table of a graph of `n` tasks: each task's uses in
    /// the resources' global locking order; `None` if no task uses any.
    fn resource_table(&mut self, n: usize) -> Option<ResourceTable<'a>> {
        if self.uses.is_empty() {
            return None;
        }
        // Resources by creation order: the order every graph locks them in.
        let mut order: Vec<usize> = (0..self.resources.len()).collect();
        order.sort_by_key(|&i| self.resources[i].serial());
        let mut rank = vec![0u32; order.len()];
        for (position, &i) in order.iter().enumerate() {
            rank[i] = position as u32;
        }
        self.uses
            .sort_unstable_by_key(|&(task, r, _)| (task, rank[r as usize]));
        let off = self.bump.alloc_slice_fill_copy(n + 1, 0u32);
        for &(task, _, _) in self.uses.iter() {
            off[task as usize + 1] += 1;
        }
        for i in 0..n {
            off[i + 1] += off[i];
        }
        let uses = self
            .bump
            .alloc_slice_fill_iter(self.uses.iter().map(|&(_, r, units)| Use {
                resource: rank[r as usize],
                units,
            }));
        let resources = order
            .into_iter()
            .map(|i| self.resources[i].clone())
            .collect();
        Some(ResourceTable {
            resources,
            off,
            uses,
        })
    }

    /// Validates the whole graph and compiles it for running.
    ///
    /// Runs in O(tasks + edges), or O(tasks + edges × log out-degree) with
    /// [priorities](Self::critical_path_first). The builder's memory stays
    /// in the arena.
    ///
    /// # Errors
    /// [`BuildError::Cycle`], carrying every task on one cycle in order.
    pub fn build(mut self) -> Result<Graph<'a, T>, BuildError> {
        let n = self.tasks.len();
        let priorities = std::mem::replace(&mut self.priorities, Priorities::new(self.bump));
        let weights = priorities.into_weights(self.bump, n);
        let edges =
            std::mem::replace(&mut self.edges, BumpVec::new_in(self.bump)).into_bump_slice_mut();
        let csr = match compile(
            self.bump,
            n,
            edges,
            self.forward_only,
            weights,
            self.names.huge_pages,
        ) {
            Ok(csr) => csr,
            Err(cycle) => {
                let path = cycle.iter().map(|&v| self.label(v)).collect();
                return Err(BuildError::Cycle { path });
            }
        };
        let resources = self.resource_table(n);
        let GraphBuilder {
            bump,
            names,
            tasks,
            timeouts,
            triggers,
            retries,
            kept,
            tag,
            ..
        } = self;
        let names: &'a NameTable = names;
        let kept = (!kept.is_empty()).then(|| {
            let table = bump.alloc_slice_fill_copy(n, false);
            for &v in kept.iter() {
                table[v as usize] = true;
            }
            &*table
        });
        let tables = Tables {
            resources,
            timeouts: timeouts.compile(bump, n),
            triggers: triggers.compile(bump, n),
            retries: retries.compile(bump, n),
            kept,
        };
        Ok(Graph::new(
            csr,
            Names::new(names, n),
            tasks.into_boxed_slice(),
            tables,
            tag,
        ))
    }
}

/// Tasks with an output type of their own, in a graph of [`Value`]s.
impl<'a> GraphBuilder<'a, Value> {
    /// Adds a task called `name` whose body returns a `U`, and returns the
    /// typed handle its readers use:
    /// [`TaskContext::get`](crate::TaskContext::get) and
    /// [`take`](crate::TaskContext::take) in the tasks it has edges to,
    /// [`Report::get`](crate::Report::get) afterwards. Reading it by name
    /// works too ([`TaskContext::input_as`](crate::TaskContext::input_as)).
    /// See [`Output`] for an example.
    ///
    /// # Errors
    /// As [`task`](Self::task).
    pub fn typed_task<U, F>(&mut self, name: &str, body: F) -> Result<Output<U>, BuildError>
    where
        U: Any + Send + Sync,
        F: Fn(&TaskContext<'_, Value>) -> Result<U, BoxError> + Send + Sync + 'a,
    {
        let id = self.task(name, move |ctx| body(ctx).map(Value::new))?;
        Ok(Output::new(id, self.tag))
    }

    /// [`typed_task`](Self::typed_task) without a name.
    ///
    /// # Errors
    /// As [`unnamed_task`](Self::unnamed_task).
    pub fn unnamed_typed_task<U, F>(&mut self, body: F) -> Result<Output<U>, BuildError>
    where
        U: Any + Send + Sync,
        F: Fn(&TaskContext<'_, Value>) -> Result<U, BoxError> + Send + Sync + 'a,
    {
        let id = self.unnamed_task(move |ctx| body(ctx).map(Value::new))?;
        Ok(Output::new(id, self.tag))
    }
}

impl<T> std::fmt::Debug for GraphBuilder<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphBuilder")
            .field("tasks", &self.tasks.len())
            .field("edges", &self.edges.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::Arena;

    /// KiB of the mapping that holds `addr` that are in memory.
    #[cfg(all(target_os = "linux", not(miri)))]
    fn resident_kib(addr: *const u8) -> usize {
        let rss = crate::pages::smaps_field(addr as usize, "Rss");
        rss.trim_end_matches("kB")
            .trim()
            .parse()
            .expect("Rss in kB")
    }

    /// A larger hint after a large one moves the arrays, and only what they
    /// hold may be copied: copying their whole old capacity (as bumpalo's
    /// `realloc` does) would write tens of MiB nobody asked for.
    #[test]
    #[cfg(all(target_os = "linux", not(miri)))]
    fn a_growing_hint_copies_the_items_not_the_room() {
        let mut arena = Arena::new();
        let mut b = arena.builder::<u32>();
        b.reserve(1 << 21, 1 << 21);
        for name in ["a", "b", "c"] {
            b.task(name, |_| Ok(1)).unwrap();
        }
        b.edge("a", "b").unwrap();
        b.edge("b", "c").unwrap();
        let (tasks, edges) = (b.tasks.capacity(), b.edges.capacity());
        b.reserve(1 << 22, 1 << 22);
        assert!(
            b.tasks.capacity() > tasks && b.edges.capacity() > edges,
            "moved"
        );
        // The old capacities were 32 and 16 MiB; the items are 64 bytes.
        let tasks = resident_kib(b.tasks.as_ptr().cast());
        let edges = resident_kib(b.edges.as_ptr().cast());
        assert!(
            tasks < 4096 && edges < 4096,
            "{tasks} KiB, {edges} KiB resident"
        );
        let graph = b.build().unwrap();
        assert_eq!(graph.task_count(), 3);
        assert_eq!(
            graph.find("c").map(|c| graph.predecessors(c).len()),
            Some(1)
        );
        assert_eq!(graph.edge_count(), 2);
    }
}
