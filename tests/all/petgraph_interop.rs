//! petgraph both ways (feature `petgraph`): graphs imported with `add_petgraph`, their errors, and the export's topology, against petgraph's own view.

use std::collections::{BTreeSet, HashMap};

use kahn::{Arena, BuildError, Executor, TaskContext, TaskId, TaskLabel};
use kahn_test_support::fuzzing::petgraph_import::{self, GraphOp, PetgraphCase};
use petgraph::algo::{is_cyclic_directed, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::graphmap::DiGraphMap;
use petgraph::stable_graph::StableDiGraph;
use petgraph::visit::{EdgeRef, Reversed};
use proptest::prelude::*;

/// A task body that adds its node's own number to the sum of its inputs.
fn summing(
    own: u64,
) -> impl Fn(&TaskContext<'_, u64>) -> Result<u64, kahn::BoxError> + Send + Sync {
    move |ctx| Ok(own + ctx.inputs().map(|(_, input)| *input).sum::<u64>())
}

/// The edges of an export, by node index, as listed.
fn edges<W>(graph: &DiGraph<W, ()>) -> Vec<(usize, usize)> {
    graph
        .edge_references()
        .map(|e| (e.source().index(), e.target().index()))
        .collect()
}

#[test]
fn an_imported_graph_exports_as_its_source_with_parallel_edges_merged() {
    let mut g = DiGraph::<&str, ()>::new();
    let n: Vec<NodeIndex> = ["extract", "clean", "join", "load", "report"]
        .into_iter()
        .map(|name| g.add_node(name))
        .collect();
    g.extend_with_edges([
        (n[0], n[1]),
        (n[1], n[2]),
        (n[0], n[2]),
        (n[2], n[3]),
        (n[3], n[4]),
    ]);
    g.extend_with_edges([(n[1], n[2]), (n[1], n[2])]); // parallel
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let map = b
        .add_petgraph_named(&g, |(_, name)| Some(*name), |_| |_: &_| Ok(()))
        .unwrap();
    let graph = b.build().unwrap();
    assert_eq!(graph.task_count(), 5);
    assert_eq!(graph.edge_count(), 5, "the two parallel edges are merged");
    for &node in &n {
        let task = map.task(node.index()).unwrap();
        assert_eq!(
            task.index(),
            node.index(),
            "an empty builder and a Graph: task i is node i"
        );
        assert_eq!(graph.name(task), Some(g[node]));
        assert_eq!(map.node(task), Some(node));
    }
    let source: BTreeSet<(usize, usize)> = g
        .edge_references()
        .map(|e| (e.source().index(), e.target().index()))
        .collect();
    let exported = edges(&graph.to_petgraph());
    assert_eq!(exported.len(), source.len(), "each edge once: {exported:?}");
    assert_eq!(exported.into_iter().collect::<BTreeSet<_>>(), source);
    let labelled = graph.to_petgraph_labelled();
    let names: Vec<&str> = labelled.node_weights().map(|l| l.name().unwrap()).collect();
    assert_eq!(names, ["extract", "clean", "join", "load", "report"]);
}

#[test]
fn a_stable_graph_with_removed_nodes_maps_around_the_holes() {
    let mut g = StableDiGraph::<u64, ()>::new();
    let n: Vec<NodeIndex> = (0..6).map(|i| g.add_node(i)).collect();
    g.extend_with_edges([
        (n[0], n[2]),
        (n[1], n[2]),
        (n[2], n[5]),
        (n[3], n[4]),
        (n[4], n[5]),
    ]);
    g.remove_node(n[1]);
    g.remove_node(n[4]);
    let mut arena = Arena::new();
    let mut b = arena.builder::<u64>();
    b.unnamed_task(|_| Ok(1000)).unwrap(); // ids of the import start at 1
    let map = b.add_petgraph(&g, |(_, &own)| summing(own)).unwrap();
    assert_eq!(map.task_count(), 4);
    assert_eq!(map.task(n[1].index()), None, "a removed node is no task");
    assert_eq!(map.task(n[4].index()), None);
    assert_eq!(map.task(99), None, "past the node bound");
    assert_eq!(
        map.node(TaskId::new(0)),
        None,
        "a task from before the import"
    );
    let expected = [(n[0], 1), (n[2], 2), (n[3], 3), (n[5], 4)];
    assert_eq!(
        map.iter()
            .map(|(node, id)| (node, id.index()))
            .collect::<Vec<_>>(),
        expected
    );
    let graph = b.build().unwrap();
    // The edges that survive, and only they: 0 -> 2 -> 5; 3 is alone now.
    let exported: BTreeSet<(usize, usize)> = edges(&graph.to_petgraph()).into_iter().collect();
    assert_eq!(exported, BTreeSet::from([(1, 2), (2, 4)]));
    let report = Executor::with_threads(2).unwrap().run(&graph);
    let output = |node: NodeIndex| *report.output(map.task(node.index()).unwrap()).unwrap();
    assert_eq!(output(n[2]), 2);
    assert_eq!(output(n[3]), 3);
    assert_eq!(output(n[5]), 7);
    assert_eq!(report.output(TaskId::new(0)), Some(&1000));
}

#[test]
fn a_self_loop_is_the_builders_error_naming_the_node() {
    let mut g = DiGraph::<&str, ()>::new();
    let a = g.add_node("extract");
    let b_ = g.add_node("load");
    g.add_edge(a, b_, ());
    g.add_edge(b_, b_, ());
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let error = b
        .add_petgraph_named(&g, |(_, name)| Some(*name), |_| |_: &_| Ok(()))
        .unwrap_err();
    assert_eq!(
        error,
        BuildError::SelfLoop {
            task: TaskLabel::new(TaskId::new(1), Some("load"))
        }
    );
    assert!(error.to_string().contains("`load` -> `load`"), "{error}");
}

#[test]
fn a_cycle_is_reported_with_its_whole_path_of_names() {
    let mut g = StableDiGraph::<&str, ()>::new();
    let n: Vec<NodeIndex> = ["source", "a", "gone", "b", "c"]
        .into_iter()
        .map(|name| g.add_node(name))
        .collect();
    g.extend_with_edges([
        (n[0], n[1]),
        (n[1], n[3]),
        (n[3], n[4]),
        (n[4], n[1]),
        (n[2], n[3]),
    ]);
    g.remove_node(n[2]);
    assert!(is_cyclic_directed(&g));
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.add_petgraph_named(&g, |(_, name)| Some(*name), |_| |_: &_| Ok(()))
        .unwrap();
    let Err(BuildError::Cycle { path }) = b.build() else {
        panic!("expected a cycle")
    };
    let names: Vec<&str> = path.iter().map(|task| task.name().unwrap()).collect();
    assert_eq!(names, ["a", "b", "c", "a"]);
    let ids: Vec<usize> = path.iter().map(|task| task.id().index()).collect();
    assert_eq!(ids, [1, 2, 3, 1], "ids of tasks, around the removed node");
}

#[test]
fn a_name_used_twice_is_a_duplicate_name_and_none_is_unnamed() {
    let mut g = DiGraph::<Option<&str>, ()>::new();
    let a = g.add_node(Some("load"));
    let anonymous = g.add_node(None);
    let b_ = g.add_node(Some("load"));
    g.add_edge(a, anonymous, ());
    g.add_edge(anonymous, b_, ());
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let error = b
        .add_petgraph_named(&g, |(_, name)| *name, |_| |_: &_| Ok(()))
        .unwrap_err();
    assert_eq!(
        error,
        BuildError::DuplicateName {
            name: "load".into(),
            first: TaskId::new(0)
        }
    );
    // Without the duplicate, the unnamed node is an unnamed task.
    g[b_] = Some("archive");
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let map = b
        .add_petgraph_named(&g, |(_, name)| *name, |_| |_: &_| Ok(()))
        .unwrap();
    let graph = b.build().unwrap();
    let task = map.task(anonymous.index()).unwrap();
    assert_eq!(graph.name(task), None);
    assert_eq!(
        graph.to_petgraph_labelled()[NodeIndex::new(1)].to_string(),
        "task #1"
    );
    // A name the import would give twice, to a task from before: refused too.
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.task("archive", |_| Ok(())).unwrap();
    let error = b
        .add_petgraph_named(&g, |(_, name)| *name, |_| |_: &_| Ok(()))
        .unwrap_err();
    assert!(matches!(error, BuildError::DuplicateName { first, .. } if first == TaskId::new(0)));
}

#[test]
fn an_empty_name_is_refused_as_by_task() {
    let mut g = DiGraph::<&str, ()>::new();
    g.add_node("");
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let error = b
        .add_petgraph_named(&g, |(_, name)| Some(*name), |_| |_: &_| Ok(()))
        .unwrap_err();
    assert_eq!(error, BuildError::EmptyName);
}

#[test]
fn graph_maps_and_adaptors_import_too() {
    let mut g = DiGraphMap::<&str, ()>::new();
    g.add_edge("extract", "clean", ());
    g.add_edge("clean", "load", ());
    g.add_node("unused");
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.add_petgraph_named(&g, |(name, _)| Some(name), |_| |_: &_| Ok(()))
        .unwrap();
    let graph = b.build().unwrap();
    assert_eq!(graph.task_count(), 4);
    let clean = graph.find("clean").unwrap();
    let succ: Vec<_> = graph
        .successors(clean)
        .map(|t| graph.name(t).unwrap())
        .collect();
    assert_eq!(succ, ["load"]);

    // Reversed: every edge backwards.
    let mut d = DiGraph::<&str, ()>::new();
    let x = d.add_node("x");
    let y = d.add_node("y");
    d.add_edge(x, y, ());
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.add_petgraph_named(Reversed(&d), |(_, name)| Some(*name), |_| |_: &_| Ok(()))
        .unwrap();
    let graph = b.build().unwrap();
    let y = graph.find("y").unwrap();
    assert_eq!(
        graph.successors(y).collect::<Vec<_>>(),
        [graph.find("x").unwrap()]
    );
}

/// The run of an imported graph gives what petgraph computes in a
/// topological order: each task's output is its number plus its inputs.
#[test]
fn a_run_of_an_imported_graph_matches_a_petgraph_oracle() {
    // A layered random DAG, fixed seed, with parallel edges.
    let mut g = DiGraph::<u64, ()>::new();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let nodes: Vec<NodeIndex> = (0..200).map(|i| g.add_node(i * 3 + 1)).collect();
    for (i, &v) in nodes.iter().enumerate().skip(1) {
        for _ in 0..next() % 4 {
            let u = nodes[(next() % i as u64) as usize];
            g.add_edge(u, v, ());
        }
    }
    let mut want: HashMap<NodeIndex, u64> = HashMap::new();
    for v in toposort(&g, None).unwrap() {
        let preds: BTreeSet<NodeIndex> = g.neighbors_directed(v, petgraph::Incoming).collect();
        let sum: u64 = preds.iter().map(|p| want[p]).sum();
        want.insert(v, g[v] + sum);
    }
    let mut arena = Arena::new();
    let mut b = arena.builder::<u64>();
    let map = b.add_petgraph(&g, |(_, &own)| summing(own)).unwrap();
    let graph = b.build().unwrap();
    for threads in [1, 4] {
        let report = Executor::with_threads(threads).unwrap().run(&graph);
        assert!(report.is_success(), "{report}");
        for (node, task) in map.iter() {
            assert_eq!(report.output(task), Some(&want[&node]), "node {node:?}");
        }
    }
}

fn ops() -> impl Strategy<Value = Vec<GraphOp>> {
    let op = prop_oneof![
        4 => proptest::option::weighted(0.8, any::<u8>()).prop_map(GraphOp::Node),
        6 => (any::<u8>(), any::<u8>()).prop_map(|(u, v)| GraphOp::Edge(u, v)),
        1 => any::<u8>().prop_map(GraphOp::RemoveNode),
        1 => any::<u8>().prop_map(GraphOp::RemoveEdge),
    ];
    proptest::collection::vec(op, 0..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 8 } else { 256 }))]

    /// A random `StableDiGraph` with removals, self-loops and parallel
    /// edges imports as the fuzz target's check demands: the reference
    /// model's error or its graph, the export equal to the merged edge set,
    /// and kahn refusing a cycle exactly when petgraph finds one.
    #[test]
    fn random_stable_graphs_import_as_the_model_says(
        named in any::<bool>(),
        before in proptest::collection::vec(proptest::option::of(0u8..petgraph_import::NAME_POOL), 0..3),
        ops in ops(),
    ) {
        let case = PetgraphCase { named, before, ops };
        prop_assert_eq!(petgraph_import::check(&case), Ok(()), "{:?}", case);
    }

    /// With names unique, the import fails (a self-loop) or builds (or
    /// finds a cycle) exactly as petgraph's `is_cyclic_directed` says.
    #[test]
    fn unique_names_fail_exactly_on_petgraph_cycles(ops in ops()) {
        let case = PetgraphCase { named: false, before: Vec::new(), ops };
        let source = case.graph();
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        let built = b
            .add_petgraph(&source, |_| |_: &_| Ok(()))
            .and_then(|_| b.build().map(|_| ()));
        prop_assert_eq!(built.is_err(), is_cyclic_directed(&source), "{:?}", built);
    }
}

/// A graph whose visit traits contradict each other: its
/// `node_references` leave out (or repeat) one node that its edges use.
#[derive(Clone, Copy)]
struct Inconsistent<'g> {
    graph: &'g DiGraph<u32, ()>,
    /// The node `node_references` leaves out.
    hidden: Option<usize>,
    /// The node `node_references` lists twice.
    twice: Option<usize>,
    /// What `node_bound` says.
    bound: usize,
}

impl petgraph::visit::GraphBase for Inconsistent<'_> {
    type NodeId = NodeIndex;
    type EdgeId = petgraph::graph::EdgeIndex;
}

impl petgraph::visit::GraphRef for Inconsistent<'_> {}

impl petgraph::visit::Data for Inconsistent<'_> {
    type NodeWeight = u32;
    type EdgeWeight = ();
}

impl petgraph::visit::GraphProp for Inconsistent<'_> {
    type EdgeType = petgraph::Directed;
}

impl petgraph::visit::NodeIndexable for Inconsistent<'_> {
    fn node_bound(&self) -> usize {
        self.bound
    }
    fn to_index(&self, a: NodeIndex) -> usize {
        a.index()
    }
    fn from_index(&self, i: usize) -> NodeIndex {
        NodeIndex::new(i)
    }
}

impl<'g> petgraph::visit::IntoNodeIdentifiers for Inconsistent<'g> {
    type NodeIdentifiers = std::vec::IntoIter<NodeIndex>;
    fn node_identifiers(self) -> Self::NodeIdentifiers {
        use petgraph::visit::IntoNodeReferences;
        self.node_references()
            .map(|(n, _)| n)
            .collect::<Vec<_>>()
            .into_iter()
    }
}

impl<'g> petgraph::visit::IntoNodeReferences for Inconsistent<'g> {
    type NodeRef = (NodeIndex, &'g u32);
    type NodeReferences = std::vec::IntoIter<(NodeIndex, &'g u32)>;
    fn node_references(self) -> Self::NodeReferences {
        let mut nodes: Vec<_> = self
            .graph
            .node_references()
            .filter(|(n, _)| Some(n.index()) != self.hidden)
            .collect();
        if let Some(i) = self.twice {
            nodes.push((NodeIndex::new(i), &self.graph[NodeIndex::new(i)]));
        }
        nodes.into_iter()
    }
}

impl<'g> petgraph::visit::IntoEdgeReferences for Inconsistent<'g> {
    type EdgeRef = petgraph::graph::EdgeReference<'g, ()>;
    type EdgeReferences = petgraph::graph::EdgeReferences<'g, ()>;
    fn edge_references(self) -> Self::EdgeReferences {
        self.graph.edge_references()
    }
}

#[test]
fn visit_traits_that_contradict_each_other_are_a_typed_error_not_a_panic() {
    let mut g = DiGraph::<u32, ()>::new();
    let a = g.add_node(0);
    let b_ = g.add_node(1);
    let c = g.add_node(2);
    g.extend_with_edges([(a, b_), (b_, c)]);
    let cases = [
        (
            Some(1),
            None,
            3,
            1,
            "is the end of an edge but not a node node_references listed",
        ),
        (None, Some(2), 3, 2, "is listed twice by node_references"),
        (None, None, 2, 2, "is past the graph's node_bound"),
    ];
    for (hidden, twice, bound, index, problem) in cases {
        let graph = Inconsistent {
            graph: &g,
            hidden,
            twice,
            bound,
        };
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        let error = b.add_petgraph(graph, |_| |_: &_| Ok(())).unwrap_err();
        assert_eq!(error, BuildError::PetgraphNode { index, problem });
        assert!(
            error.to_string().contains(&format!("node index {index}")),
            "{error}"
        );
    }
}
