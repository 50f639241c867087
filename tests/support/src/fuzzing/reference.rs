//! A reference builder (plain `Vec`s and a `HashMap`) that predicts every builder call's result, and the check of a built graph against it and petgraph.
//!
//! The model follows the rules the builder documents: a failed call leaves it
//! unchanged (bulk `edges` keeps the edges before the bad one); `task` checks
//! an empty name, then the task limit, then a duplicate; `edge` resolves
//! `from`, then `to`, then rejects a self-loop, then the edge limit; limits
//! are clamped to 2³¹ − 1 (edges: 2³⁰ − 1); duplicate edges count against the edge limit and
//! are merged by `build`, each successor list keeping the order its edges
//! were first added in. `weight` resolves the task, then checks the weight;
//! with priorities on (by `critical_path_first` or a weight), each
//! successor list and the source list are sorted by the model's own ranks
//! (a memoized longest path, unweighted tasks weighing 1), ties by id.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};

use kahn::{
    BuildError, Graph, GraphBuilder, OwnedTaskRef, RejectedWeight, TaskId, TaskLabel, TaskRef,
};
use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};

use super::ensure;

/// The builder's hard limit on tasks and on edges.
const LIMIT: usize = TaskId::LIMIT;
/// kahn's hard limit on edges, 2³⁰ − 1.
const EDGE_LIMIT: usize = (1 << 30) - 1;

/// What a builder should hold after the calls made to it so far.
#[derive(Debug, Clone)]
pub struct Model {
    names: Vec<Option<String>>,
    by_name: HashMap<String, u32>,
    edges: Vec<(u32, u32)>,
    max_tasks: usize,
    max_edges: usize,
    /// Whether priorities are on.
    priorities: bool,
    /// The weights set, by task.
    weights: HashMap<u32, f64>,
}

impl Default for Model {
    fn default() -> Self {
        Model::new()
    }
}

impl Model {
    /// A fresh builder: no tasks, no edges, the hard limits.
    pub fn new() -> Model {
        Model {
            names: Vec::new(),
            by_name: HashMap::new(),
            edges: Vec::new(),
            max_tasks: LIMIT,
            max_edges: EDGE_LIMIT,
            priorities: false,
            weights: HashMap::new(),
        }
    }

    /// Tasks added so far.
    pub fn task_count(&self) -> usize {
        self.names.len()
    }

    /// Edges added so far, duplicates included.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// `GraphBuilder::max_tasks`.
    pub fn max_tasks(&mut self, limit: usize) {
        self.max_tasks = limit.min(LIMIT);
    }

    /// `GraphBuilder::max_edges`.
    pub fn max_edges(&mut self, limit: usize) {
        self.max_edges = limit.min(EDGE_LIMIT);
    }

    fn next_id(&self) -> Result<TaskId, BuildError> {
        let n = self.names.len();
        if n >= self.max_tasks {
            return Err(BuildError::TooManyTasks {
                given: n + 1,
                limit: self.max_tasks,
            });
        }
        Ok(TaskId::new(n as u32))
    }

    /// `GraphBuilder::task`.
    pub fn task(&mut self, name: &str) -> Result<TaskId, BuildError> {
        if name.is_empty() {
            return Err(BuildError::EmptyName);
        }
        let id = self.next_id()?;
        if let Some(&first) = self.by_name.get(name) {
            return Err(BuildError::DuplicateName {
                name: name.to_owned(),
                first: TaskId::new(first),
            });
        }
        self.by_name.insert(name.to_owned(), id.index() as u32);
        self.names.push(Some(name.to_owned()));
        Ok(id)
    }

    /// `GraphBuilder::unnamed_task`.
    pub fn unnamed_task(&mut self) -> Result<TaskId, BuildError> {
        let id = self.next_id()?;
        self.names.push(None);
        Ok(id)
    }

    /// How errors name task `v`: its id and its name, if any.
    pub fn label(&self, v: u32) -> TaskLabel {
        TaskLabel::new(TaskId::new(v), self.names[v as usize].as_deref())
    }

    fn find(&self, task: TaskRef<'_>) -> Option<u32> {
        match task {
            TaskRef::Id(id) => (id.index() < self.names.len()).then_some(id.index() as u32),
            TaskRef::Name(name) => self.by_name.get(name).copied(),
        }
    }

    /// A reference as an error keeps an edge's end: a known task by name if
    /// it has one, anything else as written.
    fn ref_label(&self, task: TaskRef<'_>) -> OwnedTaskRef {
        match task {
            TaskRef::Id(id) if id.index() < self.names.len() => match &self.names[id.index()] {
                Some(name) => OwnedTaskRef::Name(name.clone()),
                None => OwnedTaskRef::Id(id),
            },
            TaskRef::Id(id) => OwnedTaskRef::Id(id),
            TaskRef::Name(name) => OwnedTaskRef::Name(name.to_owned()),
        }
    }

    /// `GraphBuilder::edge`.
    pub fn edge(&mut self, from: TaskRef<'_>, to: TaskRef<'_>) -> Result<(), BuildError> {
        let unknown = |missing: TaskRef<'_>| BuildError::UnknownTask {
            missing: match missing {
                TaskRef::Id(id) => OwnedTaskRef::Id(id),
                TaskRef::Name(name) => OwnedTaskRef::Name(name.to_owned()),
            },
            from: self.ref_label(from),
            to: self.ref_label(to),
        };
        let u = self.find(from).ok_or_else(|| unknown(from))?;
        let v = self.find(to).ok_or_else(|| unknown(to))?;
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
        self.edges.push((u, v));
        Ok(())
    }

    /// `GraphBuilder::edges`: stops at the first bad edge, keeping those before it.
    pub fn edges(&mut self, edges: &[(u32, u32)]) -> Result<(), BuildError> {
        for &(u, v) in edges {
            self.edge(TaskId::new(u).into(), TaskId::new(v).into())?;
        }
        Ok(())
    }

    /// `GraphBuilder::critical_path_first`.
    pub fn critical_path_first(&mut self) {
        self.priorities = true;
    }

    /// `GraphBuilder::weight`: resolves the task, then checks the weight.
    pub fn weight(&mut self, task: TaskRef<'_>, weight: f64) -> Result<(), BuildError> {
        let v = self
            .find(task)
            .ok_or_else(|| BuildError::WeightOfUnknownTask {
                missing: match task {
                    TaskRef::Id(id) => OwnedTaskRef::Id(id),
                    TaskRef::Name(name) => OwnedTaskRef::Name(name.to_owned()),
                },
            })?;
        let valid = (0.0..=GraphBuilder::<()>::MAX_WEIGHT).contains(&weight);
        if !valid {
            return Err(BuildError::InvalidWeight {
                task: self.label(v),
                weight: RejectedWeight(weight),
            });
        }
        self.weights.insert(v, weight);
        self.priorities = true;
        Ok(())
    }

    /// Each task's rank, if priorities are on: its weight (1 if none was
    /// set) plus the largest rank among its successors, from a memoized
    /// depth-first search (the graph must be acyclic).
    pub fn ranks(&self) -> Option<Vec<f64>> {
        if !self.priorities {
            return None;
        }
        let n = self.names.len();
        let mut succs = vec![Vec::new(); n];
        for (u, v) in self.edge_set() {
            succs[u as usize].push(v);
        }
        let mut ranks: Vec<Option<f64>> = vec![None; n];
        // An explicit stack: a chain of thousands of tasks must not
        // overflow the thread's.
        for root in 0..n as u32 {
            let mut stack = vec![root];
            while let Some(&v) = stack.last() {
                if ranks[v as usize].is_some() {
                    stack.pop();
                    continue;
                }
                let pending: Vec<u32> = succs[v as usize]
                    .iter()
                    .copied()
                    .filter(|&s| ranks[s as usize].is_none())
                    .collect();
                if pending.is_empty() {
                    let longest = succs[v as usize]
                        .iter()
                        .map(|&s| ranks[s as usize].expect("ranked"))
                        .fold(0.0, f64::max);
                    let weight = self.weights.get(&v).copied().unwrap_or(1.0);
                    ranks[v as usize] = Some(weight + longest);
                    stack.pop();
                } else {
                    stack.extend(pending);
                }
            }
        }
        Some(ranks.into_iter().map(|r| r.expect("ranked")).collect())
    }

    /// The distinct edges.
    pub fn edge_set(&self) -> BTreeSet<(u32, u32)> {
        self.edges.iter().copied().collect()
    }

    /// The same graph in petgraph, duplicate edges merged.
    fn petgraph(&self) -> DiGraph<(), ()> {
        let mut graph = DiGraph::with_capacity(self.names.len(), self.edges.len());
        for _ in 0..self.names.len() {
            graph.add_node(());
        }
        for (u, v) in self.edge_set() {
            graph.add_edge(NodeIndex::new(u as usize), NodeIndex::new(v as usize), ());
        }
        graph
    }

    /// Checks what `build` returned: the graph, if petgraph finds no cycle,
    /// with the same tasks, names and edges, and which runs every task once,
    /// after its predecessors (on one thread, so `order` needs one slot per
    /// task and each task body must store a rising sequence number in its
    /// slot: see [`record_order`]); or a cycle error whose path is a real
    /// cycle of the input, if petgraph finds one.
    pub fn check_build(
        &self,
        built: Result<Graph<'_, ()>, BuildError>,
        order: &[AtomicU32],
    ) -> Result<(), String> {
        let cyclic = toposort(&self.petgraph(), None).is_err();
        match built {
            Ok(graph) => {
                ensure!(!cyclic, "build accepted a graph petgraph finds a cycle in");
                self.check_graph(&graph)?;
                self.check_run(&graph, order)
            }
            Err(error) => {
                let _ = error.to_string();
                ensure!(
                    cyclic,
                    "build failed on an acyclic graph: {error:?} ({error})"
                );
                self.check_cycle(&error)
            }
        }
    }

    fn check_graph(&self, graph: &Graph<'_, ()>) -> Result<(), String> {
        let n = self.names.len();
        let set = self.edge_set();
        ensure!(
            graph.task_count() == n,
            "graph has {} tasks, expected {n}",
            graph.task_count()
        );
        ensure!(
            graph.edge_count() == set.len(),
            "graph has {} edges, expected {} distinct ones",
            graph.edge_count(),
            set.len()
        );
        let mut preds = vec![Vec::new(); n];
        for &(u, v) in &set {
            preds[v as usize].push(TaskId::new(u));
        }
        // Successors in the order their edges were first added, or by rank.
        let mut succs: Vec<Vec<TaskId>> = vec![Vec::new(); n];
        let mut seen = BTreeSet::new();
        for &(u, v) in &self.edges {
            if seen.insert((u, v)) {
                succs[u as usize].push(TaskId::new(v));
            }
        }
        let mut sources: Vec<TaskId> = (0..n)
            .filter(|&v| preds[v].is_empty())
            .map(|v| TaskId::new(v as u32))
            .collect();
        if let Some(ranks) = self.ranks() {
            let by_rank = |a: &TaskId, b: &TaskId| {
                ranks[b.index()]
                    .partial_cmp(&ranks[a.index()])
                    .expect("ranks are numbers")
                    .then(a.cmp(b))
            };
            for list in &mut succs {
                list.sort_by(by_rank);
            }
            sources.sort_by(by_rank);
        }
        for v in 0..n {
            let id = TaskId::new(v as u32);
            let name = self.names[v].as_deref();
            ensure!(
                graph.name(id) == name,
                "task {v} is called {:?}, expected {name:?}",
                graph.name(id)
            );
            if let Some(name) = name {
                ensure!(
                    graph.find(name) == Some(id),
                    "find({name:?}) is {:?}, expected {id:?}",
                    graph.find(name)
                );
            }
            ensure!(graph.find(id) == Some(id), "find({id:?}) lost the task");
            let got: Vec<TaskId> = graph.predecessors(id).collect();
            ensure!(
                got == preds[v],
                "predecessors of {v}: {got:?}, expected {:?} (sorted, no repeats)",
                preds[v]
            );
            let got: Vec<TaskId> = graph.successors(id).collect();
            ensure!(
                got == succs[v],
                "successors of {v}: {got:?}, expected {:?} (no repeats; {})",
                succs[v],
                self.order_rule()
            );
        }
        let got: Vec<TaskId> = graph.sources().collect();
        ensure!(
            got == sources,
            "sources {got:?}, expected {sources:?} ({})",
            self.order_rule()
        );
        let beyond = TaskId::new(n as u32);
        ensure!(
            graph.find(beyond).is_none() && graph.name(beyond).is_none(),
            "an id past the last task resolves"
        );
        ensure!(
            graph.predecessors(beyond).len() == 0 && graph.successors(beyond).len() == 0,
            "an id past the last task has neighbours"
        );
        Ok(())
    }

    /// How the model orders successor and source lists, for messages.
    fn order_rule(&self) -> &'static str {
        if self.priorities {
            "by descending rank, ties by id"
        } else {
            "successors as first added, sources by id"
        }
    }

    fn check_run(&self, graph: &Graph<'_, ()>, order: &[AtomicU32]) -> Result<(), String> {
        let n = self.names.len();
        for slot in &order[..n] {
            slot.store(0, Ordering::Relaxed);
        }
        let report = crate::executor(1).run(graph);
        ensure!(report.is_success(), "a run of no-op tasks failed: {report}");
        let at: Vec<u32> = order[..n]
            .iter()
            .map(|slot| slot.load(Ordering::Relaxed))
            .collect();
        ensure!(at.iter().all(|&t| t > 0), "a task did not run: {at:?}");
        ensure!(
            at.iter().collect::<BTreeSet<_>>().len() == n,
            "a task ran twice: {at:?}"
        );
        for (u, v) in self.edge_set() {
            ensure!(
                at[u as usize] < at[v as usize],
                "task {v} ran before its predecessor {u}"
            );
        }
        Ok(())
    }

    fn check_cycle(&self, error: &BuildError) -> Result<(), String> {
        let BuildError::Cycle { path } = error else {
            return Err(format!("build failed with {error:?}, expected a cycle"));
        };
        let set = self.edge_set();
        let ids: Vec<u32> = path.iter().map(|task| task.id().index() as u32).collect();
        ensure!(
            ids.len() >= 3 && ids.first() == ids.last(),
            "a cycle is at least two tasks with the first repeated at the end: {ids:?}"
        );
        let ring = &ids[..ids.len() - 1];
        ensure!(
            ring.iter().collect::<BTreeSet<_>>().len() == ring.len(),
            "the cycle visits a task twice: {ids:?}"
        );
        ensure!(
            ring.iter().min() == ring.first(),
            "the cycle does not start at its earliest-added task: {ids:?}"
        );
        ensure!(
            ids.iter().all(|&v| (v as usize) < self.names.len()),
            "the cycle {ids:?} names a task that does not exist"
        );
        for pair in ids.windows(2) {
            ensure!(
                set.contains(&(pair[0], pair[1])),
                "the cycle {ids:?} uses the edge {} -> {}, which was never added",
                pair[0],
                pair[1]
            );
        }
        let labels: Vec<TaskLabel> = ids.iter().map(|&v| self.label(v)).collect();
        ensure!(
            *path == labels,
            "cycle path {path:?}, expected the labels {labels:?}"
        );
        Ok(())
    }
}

/// The task body [`Model::check_build`] expects: stores the next number of
/// `clock` in the task's slot of `order`.
pub fn record_order<'s>(
    order: &'s [AtomicU32],
    clock: &'s AtomicU32,
) -> impl Fn(&kahn::TaskContext<'_, ()>) -> Result<(), kahn::BoxError> + Send + Sync + 's {
    move |ctx| {
        let at = clock.fetch_add(1, Ordering::Relaxed) + 1;
        order[ctx.id().index()].store(at, Ordering::Relaxed);
        Ok(())
    }
}
