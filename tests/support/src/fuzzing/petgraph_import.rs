//! The `petgraph_import` fuzz input: a hostile `StableDiGraph` (self-loops, parallel edges, removed and reused nodes, repeated and empty names) imported with `add_petgraph`, held to "the reference model's error, or a correct graph, never a panic".

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::AtomicU32;

use arbitrary::Arbitrary;
use kahn::{Arena, BuildError, NodeTasks, TaskId, TaskLabel};
use petgraph::algo::is_cyclic_directed;
use petgraph::graph::DiGraph;
use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableDiGraph};
use petgraph::visit::{EdgeRef, IntoEdgeReferences, IntoNodeReferences, NodeIndexable};

use super::ensure;
use super::reference::{record_order, Model};

/// Names come from a pool this large, so they repeat.
pub const NAME_POOL: u8 = 24;

/// The name a name byte stands for: one of [`NAME_POOL`], or empty for 255.
pub fn name_of(k: u8) -> String {
    if k == u8::MAX {
        String::new()
    } else {
        format!("n{}", k % NAME_POOL)
    }
}

/// One change to the petgraph graph before the import.
#[derive(Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum GraphOp {
    /// `add_node`: named by [`name_of`], or unnamed.
    Node(Option<u8>),
    /// `add_edge` between the live nodes at these positions (modulo the
    /// live count; equal positions make a self-loop, a repeat a parallel
    /// edge). Nothing without a node.
    Edge(u8, u8),
    /// `remove_node` of the live node at this position (modulo), and its edges.
    RemoveNode(u8),
    /// `remove_edge` at this raw edge index, if it is an edge.
    RemoveEdge(u8),
}

impl fmt::Debug for GraphOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            GraphOp::Node(name) => write!(f, "GraphOp::Node({name:?})"),
            GraphOp::Edge(u, v) => write!(f, "GraphOp::Edge({u}, {v})"),
            GraphOp::RemoveNode(k) => write!(f, "GraphOp::RemoveNode({k})"),
            GraphOp::RemoveEdge(k) => write!(f, "GraphOp::RemoveEdge({k})"),
        }
    }
}

/// Tasks already in the builder, a petgraph graph made by `ops`, and whether
/// the import names its tasks (`add_petgraph_named`, names from the node
/// weights) or not (`add_petgraph`).
#[derive(Clone, Arbitrary)]
pub struct PetgraphCase {
    /// Import with names (`add_petgraph_named`) or without (`add_petgraph`).
    pub named: bool,
    /// Tasks added before the import (the first four), named by
    /// [`name_of`] or unnamed: the import's ids start after them, and its
    /// names may collide with theirs.
    pub before: Vec<Option<u8>>,
    /// The changes that make the petgraph graph, in order.
    pub ops: Vec<GraphOp>,
}

impl fmt::Debug for PetgraphCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "let case = PetgraphCase {{ named: {}, before: vec!{:?}, ops: vec!{:?} }};",
            self.named, self.before, self.ops
        )
    }
}

impl PetgraphCase {
    /// The tasks added before the import.
    pub fn before(&self) -> &[Option<u8>] {
        &self.before[..self.before.len().min(4)]
    }

    /// The petgraph graph the ops make; node weights are names (`None`: unnamed).
    pub fn graph(&self) -> StableDiGraph<Option<String>, ()> {
        let mut g = StableDiGraph::new();
        let live = |g: &StableDiGraph<Option<String>, ()>| g.node_indices().collect::<Vec<_>>();
        for &op in &self.ops {
            match op {
                GraphOp::Node(name) => {
                    g.add_node(name.map(name_of));
                }
                GraphOp::Edge(u, v) => {
                    let nodes = live(&g);
                    if !nodes.is_empty() {
                        let (u, v) = (
                            nodes[usize::from(u) % nodes.len()],
                            nodes[usize::from(v) % nodes.len()],
                        );
                        g.add_edge(u, v, ());
                    }
                }
                GraphOp::RemoveNode(k) => {
                    let nodes = live(&g);
                    if !nodes.is_empty() {
                        g.remove_node(nodes[usize::from(k) % nodes.len()]);
                    }
                }
                GraphOp::RemoveEdge(k) => {
                    g.remove_edge(EdgeIndex::new(usize::from(k)));
                }
            }
        }
        g
    }
}

/// Imports the case's graph and checks the result against the reference
/// model fed the same tasks and edges one call at a time, and against
/// petgraph: the import returns the model's first error or a map that
/// sends each node to the model's task (and holes to none); the built
/// graph is the model's (tasks, names, merged edges, a run in order) or
/// its cycle; the export is the source's edge set mapped through the
/// import's map, merged; and when every task got a name it could take,
/// petgraph finds a cycle in the source exactly when kahn refused one.
pub fn check(case: &PetgraphCase) -> Result<(), String> {
    let source = case.graph();
    let before = case.before();
    let tasks = before.len() + source.node_count();
    let order: Vec<AtomicU32> = (0..tasks).map(|_| AtomicU32::new(0)).collect();
    let clock = AtomicU32::new(0);

    // What one call per task and edge predicts.
    let mut model = Model::new();
    let mut expected_ids = vec![None; source.node_bound()];
    let expected = (|| {
        for name in before {
            match name {
                Some(k) => model.task(&name_of(*k))?,
                None => model.unnamed_task()?,
            };
        }
        for (node, name) in source.node_references() {
            let id = match name {
                Some(name) if case.named => model.task(name)?,
                _ => model.unnamed_task()?,
            };
            expected_ids[node.index()] = Some(id);
        }
        let mapped: Vec<(u32, u32)> = source
            .edge_references()
            .map(|e| {
                let end = |n: NodeIndex| expected_ids[n.index()].expect("an end is a node").index();
                (end(e.source()) as u32, end(e.target()) as u32)
            })
            .collect();
        model.edges(&mapped)
    })();

    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    for name in before {
        let added = match name {
            Some(k) => b.task(&name_of(*k), record_order(&order, &clock)),
            None => b.unnamed_task(record_order(&order, &clock)),
        };
        if added.is_err() {
            // Only possible as the model predicted, and then it stopped too.
            ensure!(
                expected.as_ref().err() == added.as_ref().err(),
                "adding the tasks before the import: got {added:?}, the model {expected:?}"
            );
            return Ok(());
        }
    }
    let body = |_| record_order(&order, &clock);
    let imported = if case.named {
        b.add_petgraph_named(&source, |(_, name)| name.as_deref(), body)
    } else {
        b.add_petgraph(&source, body)
    };
    let map = match (imported, &expected) {
        (Err(got), Err(want)) => {
            let _ = got.to_string();
            ensure!(
                got == *want,
                "the import failed with {got:?}, the model with {want:?}"
            );
            return agrees_with_petgraph(case, &source, &got);
        }
        (Err(got), Ok(())) => {
            return Err(format!(
                "the import failed with {got:?}; the model took every call"
            ))
        }
        (Ok(_), Err(want)) => {
            return Err(format!(
                "the import succeeded; the model failed with {want:?}"
            ))
        }
        (Ok(map), Ok(())) => map,
    };
    check_map(&map, &source, &expected_ids, before.len())?;
    let built = b.build();
    let cycle = built.as_ref().err().cloned();
    if let Ok(graph) = &built {
        check_export(graph, &source, &map, &model)?;
    }
    model.check_build(built, &order)?;
    match cycle {
        Some(error) => agrees_with_petgraph(case, &source, &error),
        None => {
            ensure!(
                !is_cyclic_directed(&source),
                "kahn built a graph petgraph finds a cycle in"
            );
            Ok(())
        }
    }
}

/// The import's map sends each live node to the model's task, each hole
/// to none, and each task back to its node.
fn check_map(
    map: &NodeTasks<NodeIndex>,
    source: &StableDiGraph<Option<String>, ()>,
    expected: &[Option<TaskId>],
    first: usize,
) -> Result<(), String> {
    ensure!(
        map.task_count() == source.node_count(),
        "the import made {} tasks of {} nodes",
        map.task_count(),
        source.node_count()
    );
    for (index, &want) in expected
        .iter()
        .enumerate()
        .chain([(source.node_bound(), &None)])
    {
        let got = map.task(index);
        ensure!(
            got == want,
            "node index {index} mapped to {got:?}, expected {want:?}"
        );
        if let Some(task) = want {
            let node = map.node(task);
            ensure!(
                node == Some(NodeIndex::new(index)),
                "task {task:?} maps back to {node:?}, not node {index}"
            );
        }
    }
    for k in 0..first {
        let node = map.node(TaskId::new(k as u32));
        ensure!(
            node.is_none(),
            "task {k}, added before the import, maps to {node:?}"
        );
    }
    let listed: Vec<(NodeIndex, TaskId)> = map.iter().collect();
    let want: Vec<(NodeIndex, TaskId)> = source
        .node_indices()
        .map(|n| (n, expected[n.index()].expect("a live node has a task")))
        .collect();
    ensure!(
        listed == want,
        "the map lists {listed:?}, expected {want:?}"
    );
    Ok(())
}

/// The export has node `i` for task `i`, labelled as the model labels it,
/// and exactly the source's edges mapped through the import, once each.
fn check_export(
    graph: &kahn::Graph<'_, ()>,
    source: &StableDiGraph<Option<String>, ()>,
    map: &NodeTasks<NodeIndex>,
    model: &Model,
) -> Result<(), String> {
    let ids = graph.to_petgraph();
    let labelled = graph.to_petgraph_labelled();
    ensure!(
        ids.node_count() == graph.task_count() && labelled.node_count() == graph.task_count(),
        "the exports have {} and {} nodes, the graph {} tasks",
        ids.node_count(),
        labelled.node_count(),
        graph.task_count()
    );
    for (index, &id) in ids.node_weights().enumerate() {
        ensure!(id.index() == index, "export node {index} weighs {id:?}");
    }
    for (index, label) in labelled.node_weights().enumerate() {
        let want: TaskLabel = model.label(index as u32);
        ensure!(
            *label == want,
            "export node {index} is labelled {label:?}, expected {want:?}"
        );
    }
    let task = |n: NodeIndex| map.task(n.index()).expect("an end is a node").index();
    let want: BTreeSet<(usize, usize)> = source
        .edge_references()
        .map(|e| (task(e.source()), task(e.target())))
        .collect();
    for got in [edge_list(&ids), edge_list(&labelled)] {
        ensure!(
            got.len() == want.len() && got.iter().copied().collect::<BTreeSet<_>>() == want,
            "the export has the edges {got:?}, expected {want:?} once each"
        );
    }
    Ok(())
}

/// An exported graph's edges, by node index, as listed.
fn edge_list<W>(graph: &DiGraph<W, ()>) -> Vec<(usize, usize)> {
    graph
        .edge_references()
        .map(|e| (e.source().index(), e.target().index()))
        .collect()
}

/// An import or build error is petgraph's verdict where petgraph has one:
/// a self-loop or a cycle exactly when petgraph finds the source cyclic,
/// unless a name error came first (then the edges were never read).
fn agrees_with_petgraph(
    case: &PetgraphCase,
    source: &StableDiGraph<Option<String>, ()>,
    error: &BuildError,
) -> Result<(), String> {
    let cyclic = is_cyclic_directed(source);
    match error {
        BuildError::SelfLoop { .. } | BuildError::Cycle { .. } => {
            ensure!(
                cyclic,
                "kahn refused a cycle petgraph does not find: {error:?}"
            );
        }
        BuildError::DuplicateName { .. } | BuildError::EmptyName => {
            // The tasks before the import stopped the check had they failed.
            ensure!(
                case.named,
                "a name error from an import without names: {error:?}"
            );
        }
        other => return Err(format!("an error no such input can cause: {other:?}")),
    }
    Ok(())
}
