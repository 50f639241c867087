//! petgraph both ways (feature `petgraph`): a kahn graph built from any directed petgraph graph, and a compiled graph's topology as a petgraph `DiGraph` for analysis.
//!
//! The import ([`GraphBuilder::add_petgraph`],
//! [`GraphBuilder::add_petgraph_named`]) reads a graph through petgraph's
//! visit traits, so `Graph`, `StableGraph` (removed nodes and all),
//! `GraphMap`, `Csr` and the filtering adaptors all work; it adds one task
//! per node and one edge per edge through the builder's own calls, so a
//! self-loop, a duplicate name or a cycle is the same [`BuildError`] as
//! when the graph is described by hand, naming the tasks. The export
//! ([`Graph::to_petgraph`] and its variants) lays a compiled graph out as a
//! `DiGraph` whose node index `i` is task `i`, so an analysis's answer
//! (dominators, a longest path, strongly connected components) maps
//! straight back to tasks.

use ::petgraph::graph::{DiGraph, NodeIndex};
use ::petgraph::visit::{
    EdgeRef, GraphProp, IntoEdgeReferences, IntoNodeReferences, NodeIndexable, NodeRef,
};
use ::petgraph::Directed;

use crate::builder::GraphBuilder;
use crate::context::TaskContext;
use crate::error::{BoxError, BuildError};
use crate::graph::Graph;
use crate::id::{TaskId, TaskLabel};

/// Which task each node of an imported petgraph graph became, and back:
/// returned by [`GraphBuilder::add_petgraph`] and
/// [`add_petgraph_named`](GraphBuilder::add_petgraph_named).
///
/// `N` is the graph's node id type (`NodeIndex` for `Graph` and
/// `StableGraph`). Nodes are looked up by their integer index, petgraph's
/// `NodeIndexable::to_index`, which for `Graph`, `StableGraph` and `Csr` is
/// `node.index()`; a `StableGraph`'s removed nodes map to no task. Tasks
/// are made in the order the graph lists its nodes (`node_references`), so
/// when the builder was empty and the graph is a `Graph` or a `Csr`, task
/// `i` is node `i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeTasks<N> {
    /// By node index: the task made of that node, if it is a node.
    tasks: Vec<Option<TaskId>>,
    /// The node each task was made of, from task `first` on.
    nodes: Vec<N>,
    /// The first task the import made.
    first: usize,
}

impl<N: Copy> NodeTasks<N> {
    /// The task made of the node whose index (`NodeIndexable::to_index`,
    /// `node.index()` for `Graph` and `StableGraph`) is `index`; `None` if
    /// the graph had no such node.
    pub fn task(&self, index: usize) -> Option<TaskId> {
        self.tasks.get(index).copied().flatten()
    }

    /// The node `task` was made of; `None` for a task the import did not
    /// make.
    pub fn node(&self, task: TaskId) -> Option<N> {
        let k = task.index().checked_sub(self.first)?;
        self.nodes.get(k).copied()
    }

    /// Each node and its task, in task order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (N, TaskId)> + '_ {
        let first = self.first;
        self.nodes
            .iter()
            .enumerate()
            .map(move |(k, &node)| (node, TaskId::new((first + k) as u32)))
    }

    /// How many tasks the import made: one per node.
    pub fn task_count(&self) -> usize {
        self.nodes.len()
    }
}

impl<'a, T> GraphBuilder<'a, T> {
    /// Adds every node of the directed petgraph graph `graph` as an unnamed
    /// task whose body `task` makes from the node, and every edge as an
    /// edge; returns which task each node became. See
    /// [`add_petgraph_named`](Self::add_petgraph_named), which this is with
    /// no names.
    ///
    /// ```
    /// use petgraph::graph::DiGraph;
    /// use kahn::Executor;
    ///
    /// // A graph from elsewhere: each node a number, each task the sum of
    /// // its node's number and its inputs.
    /// let mut g = DiGraph::<u64, ()>::new();
    /// let a = g.add_node(1);
    /// let b = g.add_node(10);
    /// let c = g.add_node(100);
    /// g.extend_with_edges([(a, c), (b, c)]);
    ///
    /// let mut arena = kahn::Arena::new();
    /// let mut builder = arena.builder::<u64>();
    /// let ids = builder.add_petgraph(&g, |(_, &own)| {
    ///     move |ctx: &kahn::TaskContext<'_, u64>| {
    ///         Ok(own + ctx.inputs().map(|(_, input)| *input).sum::<u64>())
    ///     }
    /// })?;
    /// let graph = builder.build()?;
    /// let report = Executor::with_threads(2)?.run(&graph);
    /// assert_eq!(report.output(ids.task(c.index()).unwrap()), Some(&111));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`add_petgraph_named`](Self::add_petgraph_named).
    pub fn add_petgraph<G, F, B>(
        &mut self,
        graph: G,
        task: F,
    ) -> Result<NodeTasks<G::NodeId>, BuildError>
    where
        G: IntoNodeReferences + IntoEdgeReferences + NodeIndexable + GraphProp<EdgeType = Directed>,
        F: FnMut(G::NodeRef) -> B,
        B: Fn(&TaskContext<'_, T>) -> Result<T, BoxError> + Send + Sync + 'a,
    {
        self.add_petgraph_named(graph, |_| None::<&str>, task)
    }

    /// Adds every node of the directed petgraph graph `graph` as a task
    /// named by `name` (`None`: unnamed) whose body `task` makes from the
    /// node, and every edge as an edge (`source` before `target`); returns
    /// which task each node became.
    ///
    /// `graph` is anything petgraph's visit traits can list the nodes and
    /// edges of: `&Graph`, `&StableGraph` (removed nodes and edges are not
    /// there), `&GraphMap`, `&Csr`, `&List`, or an adaptor over them
    /// (`NodeFiltered`, `EdgeFiltered`, `Reversed`). Undirected graphs do
    /// not compile: an edge of one has no direction to run in. Both
    /// closures get each node as petgraph lists it (`(NodeIndex, &weight)`
    /// for `Graph` and `StableGraph`), in that order: the k-th node listed
    /// becomes the task whose id is [`task_count`](Self::task_count) before
    /// the call, plus k.
    ///
    /// The nodes and edges go through the builder's own calls
    /// ([`task`](Self::task) or [`unnamed_task`](Self::unnamed_task), then
    /// [`edges`](Self::edges)), so they are checked as ever: parallel edges
    /// are merged, a self-loop is [`BuildError::SelfLoop`] and a name used
    /// twice [`BuildError::DuplicateName`], and a cycle is found by
    /// [`build`](Self::build) and reported with its whole path
    /// ([`BuildError::Cycle`]), every task named as `name` named it.
    ///
    /// ```
    /// use petgraph::algo::dominators::simple_fast;
    /// use petgraph::graph::{DiGraph, NodeIndex};
    /// use kahn::{BuildError, Executor};
    ///
    /// // An ETL pipeline kept as a petgraph graph of step names.
    /// let mut g = DiGraph::<&str, ()>::new();
    /// let extract = g.add_node("extract");
    /// let clean_eu = g.add_node("clean eu");
    /// let clean_us = g.add_node("clean us");
    /// let load = g.add_node("load");
    /// g.extend_with_edges([(extract, clean_eu), (extract, clean_us)]);
    /// g.extend_with_edges([(clean_eu, load), (clean_us, load)]);
    ///
    /// let mut arena = kahn::Arena::new();
    /// let mut b = arena.builder::<String>();
    /// b.add_petgraph_named(&g, |(_, step)| Some(*step), |(_, &step)| {
    ///     move |ctx: &kahn::TaskContext<'_, String>| {
    ///         let inputs: Vec<&str> = ctx.inputs().map(|(_, s)| s.as_str()).collect();
    ///         Ok(format!("{step}({})", inputs.join(", ")))
    ///     }
    /// })?;
    /// let graph = b.build()?;
    /// let report = Executor::with_threads(2)?.run(&graph);
    /// // Inputs come in id order, and ids in the graph's node order.
    /// assert_eq!(
    ///     report.output("load").unwrap(),
    ///     "load(clean eu(extract()), clean us(extract()))"
    /// );
    ///
    /// // And back, for analysis: every path to `load` passes `extract`.
    /// let topology = graph.to_petgraph();
    /// let node = |name| NodeIndex::new(graph.find(name).unwrap().index());
    /// let dominators = simple_fast(&topology, node("extract"));
    /// assert_eq!(dominators.immediate_dominator(node("load")), Some(node("extract")));
    ///
    /// // A cycle in the source graph is kahn's usual error, naming its tasks.
    /// g.add_edge(load, extract, ());
    /// let mut arena = kahn::Arena::new();
    /// let mut b = arena.builder::<String>();
    /// b.add_petgraph_named(&g, |(_, step)| Some(*step), |_| |_: &_| Ok(String::new()))?;
    /// let Err(BuildError::Cycle { path }) = b.build() else { panic!("a cycle") };
    /// let names: Vec<_> = path.iter().map(|task| task.name().unwrap()).collect();
    /// assert_eq!(names[0], "extract");
    /// assert_eq!(names.last(), Some(&"extract"));
    /// assert!(names.contains(&"load"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// Stops at the first bad node or edge and keeps the tasks and edges
    /// before it, as the builder's bulk calls do; a builder that failed an
    /// import is usually dropped.
    ///
    /// # Errors
    /// As [`task`](Self::task), [`unnamed_task`](Self::unnamed_task) and
    /// [`edges`](Self::edges), for the first bad node or edge (an empty
    /// name is [`BuildError::EmptyName`]: return `None` for an unnamed
    /// task); [`BuildError::PetgraphNode`] if the graph's visit traits
    /// contradict each other.
    pub fn add_petgraph_named<G, N, S, F, B>(
        &mut self,
        graph: G,
        mut name: N,
        mut task: F,
    ) -> Result<NodeTasks<G::NodeId>, BuildError>
    where
        G: IntoNodeReferences + IntoEdgeReferences + NodeIndexable + GraphProp<EdgeType = Directed>,
        N: FnMut(G::NodeRef) -> Option<S>,
        S: AsRef<str>,
        F: FnMut(G::NodeRef) -> B,
        B: Fn(&TaskContext<'_, T>) -> Result<T, BoxError> + Send + Sync + 'a,
    {
        let bound = graph.node_bound();
        let mut map = NodeTasks {
            tasks: vec![None; bound],
            nodes: Vec::new(),
            first: self.task_count(),
        };
        let nodes = graph.node_references();
        self.reserve(nodes.size_hint().0, 0);
        for node in nodes {
            let index = graph.to_index(node.id());
            let slot = map.tasks.get_mut(index).ok_or(BuildError::PetgraphNode {
                index,
                problem: "is past the graph's node_bound",
            })?;
            if slot.is_some() {
                return Err(BuildError::PetgraphNode {
                    index,
                    problem: "is listed twice by node_references",
                });
            }
            let id = match name(node) {
                Some(name) => self.task(name.as_ref(), task(node))?,
                None => self.unnamed_task(task(node))?,
            };
            *slot = Some(id);
            map.nodes.push(node.id());
        }
        // Through the bulk path; an end that is no node stops it there.
        let mut stray = None;
        let ends = |node: G::NodeId| {
            let index = graph.to_index(node);
            map.task(index).ok_or(index)
        };
        let edges = graph.edge_references().map_while(|edge| {
            match (ends(edge.source()), ends(edge.target())) {
                (Ok(u), Ok(v)) => Some((u, v)),
                (Err(index), _) | (_, Err(index)) => {
                    stray = Some(index);
                    None
                }
            }
        });
        self.edges(edges)?;
        if let Some(index) = stray {
            return Err(BuildError::PetgraphNode {
                index,
                problem: "is the end of an edge but not a node node_references listed",
            });
        }
        Ok(map)
    }
}

impl<T> Graph<'_, T> {
    /// This graph's topology as a petgraph [`DiGraph`], each node weighing
    /// its task's id, each edge weighing nothing: for petgraph's analyses
    /// (dominators, longest paths, strongly connected components, …).
    ///
    /// Node index `i` is task `i` (so the weights are `0, 1, 2, …` as
    /// [`TaskId`]s), and an analysis's answer maps straight back:
    /// `TaskId::new(node.index() as u32)`. The edges are the graph's, once
    /// each (the builder merged duplicates), listed by source task, each
    /// task's in [`successors`](Graph::successors) order.
    ///
    /// ```
    /// use petgraph::algo::toposort;
    /// use kahn::TaskId;
    /// let mut arena = kahn::Arena::new();
    /// let mut b = arena.builder::<()>();
    /// for name in ["load", "extract", "clean"] {
    ///     b.task(name, |_| Ok(()))?;
    /// }
    /// b.edges_by_name([("extract", "clean"), ("clean", "load"), ("extract", "clean")])?;
    /// let graph = b.build()?;
    ///
    /// let topology = graph.to_petgraph();
    /// assert_eq!(topology.edge_count(), 2);
    /// let order: Vec<&str> = toposort(&topology, None)
    ///     .unwrap()
    ///     .into_iter()
    ///     .map(|node| graph.name(TaskId::new(node.index() as u32)).unwrap())
    ///     .collect();
    /// assert_eq!(order, ["extract", "clean", "load"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_petgraph(&self) -> DiGraph<TaskId, ()> {
        self.to_petgraph_with(|id| id)
    }

    /// As [`to_petgraph`](Self::to_petgraph), each node weighing its
    /// task's [`TaskLabel`] (its id and name, shown as the name or
    /// `task #id`), for petgraph's `Dot` or an analysis that reports by name.
    ///
    /// ```
    /// use petgraph::algo::kosaraju_scc;
    /// let mut arena = kahn::Arena::new();
    /// let mut b = arena.builder::<()>();
    /// b.task("extract", |_| Ok(()))?;
    /// let audit = b.unnamed_task(|_| Ok(()))?;
    /// b.edge("extract", audit)?;
    /// let graph = b.build()?;
    ///
    /// let labelled = graph.to_petgraph_labelled();
    /// assert_eq!(labelled[petgraph::graph::NodeIndex::new(0)].to_string(), "`extract`");
    /// assert_eq!(labelled[petgraph::graph::NodeIndex::new(1)].to_string(), "task #1");
    /// // A DAG: every strongly connected component is one task.
    /// assert!(kosaraju_scc(&labelled).iter().all(|scc| scc.len() == 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_petgraph_labelled(&self) -> DiGraph<TaskLabel, ()> {
        self.to_petgraph_with(|id| TaskLabel::new(id, self.name(id)))
    }

    /// As [`to_petgraph`](Self::to_petgraph), each node weighing what
    /// `weight` makes of its task's id: a name, a cost for a longest-path
    /// analysis, a report's outcome.
    ///
    /// ```
    /// let mut arena = kahn::Arena::new();
    /// let mut b = arena.builder::<()>();
    /// b.task("extract", |_| Ok(()))?;
    /// b.task("load", |_| Ok(()))?;
    /// b.edge("extract", "load")?;
    /// let graph = b.build()?;
    ///
    /// let names = graph.to_petgraph_with(|id| graph.name(id).unwrap_or("?"));
    /// assert_eq!(names.node_weights().collect::<Vec<_>>(), [&"extract", &"load"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_petgraph_with<W>(&self, mut weight: impl FnMut(TaskId) -> W) -> DiGraph<W, ()> {
        let n = self.task_count();
        let mut out = DiGraph::with_capacity(n, self.edge_count());
        // Task ids are under 2³¹ − 1, so every one is a valid `u32` index
        // (petgraph reserves only `u32::MAX`).
        for v in 0..n {
            let index = out.add_node(weight(TaskId::new(v as u32)));
            debug_assert_eq!(index.index(), v, "node index i is task i");
        }
        for v in 0..n {
            for w in self.successors(TaskId::new(v as u32)) {
                out.add_edge(NodeIndex::new(v), NodeIndex::new(w.index()), ());
            }
        }
        out
    }
}
