//! Build properties against petgraph: `build` accepts exactly the acyclic graphs, compiles them faithfully, and otherwise reports a real cycle.
//!
//! Edges go in three ways: one `edge` call each (by name, by id, or
//! mixed), `edges_by_name` in bulk, and `edges` by id in bulk.
//!
//! On small graphs (many cases) and graphs of a few thousand tasks with
//! cycles of every scale threaded through them (fewer cases): an acyclic
//! graph builds with the same tasks, names, deduplicated predecessors and
//! successors, and sources as petgraph's; a cyclic one fails with a `Cycle`
//! error that walks a simple cycle of input edges from its earliest task,
//! each task shown by its label.

use std::collections::BTreeSet;

use kahn::{Arena, BuildError, TaskId};
use kahn_test_support::dags::{any_dag, cases, task_label, task_name, LARGE};
use petgraph::algo::{is_cyclic_directed, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;
use proptest::prelude::*;
use proptest::sample::Index;

/// Graphs that may have cycles: `n` tasks and edges without self-loops
/// (duplicates kept). The first `raw` edges keep a random direction, the rest
/// point from the lower id to the higher, so about half the graphs are
/// acyclic and the rest have cycles of all lengths.
fn any_graph() -> impl Strategy<Value = (usize, Vec<(u32, u32)>)> {
    let max_n: usize = if cfg!(miri) { 8 } else { 60 };
    (
        0..max_n,
        prop::collection::vec((any::<Index>(), any::<Index>()), 0..3 * max_n),
        0..4usize,
    )
        .prop_map(|(n, pairs, raw)| {
            if n == 0 {
                return (0, Vec::new());
            }
            let edges = pairs
                .iter()
                .enumerate()
                .map(|(i, (a, b))| {
                    let (u, v) = (a.index(n) as u32, b.index(n) as u32);
                    if i < raw {
                        (u, v)
                    } else {
                        (u.min(v), u.max(v))
                    }
                })
                .filter(|(u, v)| u != v)
                .collect();
            (n, edges)
        })
}

/// Large graphs that may have cycles: a DAG from [`any_dag`] and, in about
/// two cases out of three, one or two cycles threaded through it. A cycle is a
/// path of new edges through tasks taken in the DAG's topological order
/// (every `stride`-th task from a random one, 2 to about 4000 of them, so
/// cycles of every scale) closed by an edge from its last task back to its
/// first. The new edges sit together at a random place in the edge list.
/// Random edges alone would rarely close a cycle in a graph this sparse.
fn large_graph() -> impl Strategy<Value = (usize, Vec<(u32, u32)>)> {
    let cycle = (any::<Index>(), 1..8usize, 1..13u32, any::<Index>());
    let cycles = prop::collection::vec(cycle, 0..3);
    (any_dag(LARGE), cycles, any::<Index>()).prop_map(|((n, mut edges), cycles, at)| {
        let order = toposort(&petgraph_of(n, &edges), None).expect("a DAG");
        let order: Vec<u32> = order.into_iter().map(|v| v.index() as u32).collect();
        let mut added = Vec::new();
        for (start, stride, scale, len) in cycles {
            if n < 2 {
                break;
            }
            let first = start.index(n);
            let len = 2 + len.index(1 << scale);
            let path: Vec<u32> = order[first..]
                .iter()
                .step_by(stride)
                .take(len)
                .copied()
                .collect();
            if path.len() >= 2 {
                added.extend(path.windows(2).map(|w| (w[0], w[1])));
                added.push((path[path.len() - 1], path[0]));
            }
        }
        let place = at.index(edges.len() + 1);
        edges.splice(place..place, added);
        (n, edges)
    })
}

fn petgraph_of(n: usize, edges: &[(u32, u32)]) -> DiGraph<(), ()> {
    let mut g = DiGraph::new();
    for _ in 0..n {
        g.add_node(());
    }
    for &(u, v) in edges {
        g.add_edge(NodeIndex::new(u as usize), NodeIndex::new(v as usize), ());
    }
    g
}

/// The neighbours of `v` in petgraph, deduplicated and sorted, as task ids.
fn neighbours(g: &DiGraph<(), ()>, v: usize, dir: Direction) -> Vec<TaskId> {
    let set: BTreeSet<usize> = g
        .neighbors_directed(NodeIndex::new(v), dir)
        .map(NodeIndex::index)
        .collect();
    set.into_iter().map(|i| TaskId::new(i as u32)).collect()
}

/// Builds `n` tasks and `edges` (half by name or id through `edge`, half in
/// bulk through `edges`) and checks `build` against petgraph: same tasks,
/// same deduplicated adjacency and sources when acyclic; otherwise a
/// `Cycle` error naming a simple cycle of input edges, from its lowest id.
fn check_build(n: usize, edges: &[(u32, u32)]) -> Result<(), TestCaseError> {
    let g = petgraph_of(n, edges);
    let acyclic = toposort(&g, None).is_ok();
    prop_assert_eq!(acyclic, !is_cyclic_directed(&g));

    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    for v in 0..n as u32 {
        match task_name(v) {
            Some(name) => b.task(&name, |_| Ok(())).unwrap(),
            None => b.unnamed_task(|_| Ok(())).unwrap(),
        };
    }
    let (by_name, rest) = edges.split_at(edges.len() / 3);
    let (in_bulk, by_id) = rest.split_at(rest.len() / 2);
    // In bulk by name where both ends have one; the others one by one.
    let both_named = |&(u, v): &(u32, u32)| task_name(u).is_some() && task_name(v).is_some();
    let named: Vec<(String, String)> = in_bulk
        .iter()
        .filter(|edge| both_named(edge))
        .map(|&(u, v)| (task_name(u).unwrap(), task_name(v).unwrap()))
        .collect();
    let unnamed = in_bulk.iter().filter(|edge| !both_named(edge));
    b.edges_by_name(named.iter().map(|(u, v)| (u.as_str(), v.as_str())))
        .unwrap();
    for &(u, v) in by_name.iter().chain(unnamed) {
        match (task_name(u), task_name(v)) {
            (None, None) => b.edge(TaskId::new(u), TaskId::new(v)),
            (None, Some(to)) => b.edge(TaskId::new(u), to.as_str()),
            (Some(from), None) => b.edge(from.as_str(), TaskId::new(v)),
            (Some(from), Some(to)) => b.edge(from.as_str(), to.as_str()),
        }
        .unwrap();
    }
    b.edges(by_id.iter().map(|&(u, v)| (TaskId::new(u), TaskId::new(v))))
        .unwrap();
    prop_assert_eq!(b.edge_count(), edges.len());

    match b.build() {
        Ok(graph) => {
            prop_assert!(acyclic, "built a graph petgraph finds cyclic");
            prop_assert_eq!(graph.task_count(), n);
            let distinct: BTreeSet<(u32, u32)> = edges.iter().copied().collect();
            prop_assert_eq!(graph.edge_count(), distinct.len());
            let mut sources = Vec::new();
            for v in 0..n {
                let t = TaskId::new(v as u32);
                let preds = neighbours(&g, v, Direction::Incoming);
                prop_assert_eq!(
                    graph.predecessors(t).collect::<Vec<_>>(),
                    preds.clone(),
                    "predecessors of {}",
                    v
                );
                let mut succs: Vec<TaskId> = graph.successors(t).collect();
                succs.sort();
                prop_assert_eq!(
                    succs,
                    neighbours(&g, v, Direction::Outgoing),
                    "successors of {}",
                    v
                );
                prop_assert_eq!(graph.name(t).map(str::to_owned), task_name(v as u32));
                if preds.is_empty() {
                    sources.push(t);
                }
            }
            let mut got: Vec<TaskId> = graph.sources().collect();
            got.sort();
            prop_assert_eq!(got, sources);
        }
        Err(BuildError::Cycle { path }) => {
            let ids: Vec<TaskId> = path.iter().map(|task| task.id()).collect();
            prop_assert!(
                !acyclic,
                "refused a graph petgraph finds acyclic: {:?}",
                ids
            );
            prop_assert!(ids.len() >= 3, "{:?}", ids);
            prop_assert_eq!(ids.first(), ids.last());
            let input: BTreeSet<(u32, u32)> = edges.iter().copied().collect();
            for pair in ids.windows(2) {
                let edge = (pair[0].index() as u32, pair[1].index() as u32);
                prop_assert!(
                    input.contains(&edge),
                    "{:?} of {:?} is not an input edge",
                    edge,
                    ids
                );
            }
            let distinct: BTreeSet<TaskId> = ids[1..].iter().copied().collect();
            prop_assert_eq!(
                distinct.len(),
                ids.len() - 1,
                "not a simple cycle: {:?}",
                ids
            );
            prop_assert_eq!(
                distinct.first(),
                ids.first(),
                "the cycle starts at its earliest-added task"
            );
            let shown: Vec<String> = path.iter().map(|task| task.to_string()).collect();
            let labels: Vec<String> = ids.iter().map(|t| task_label(t.index() as u32)).collect();
            prop_assert_eq!(shown, labels);
        }
        Err(other) => prop_assert!(false, "unexpected error {:?}", other),
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(256, 4))]

    #[test]
    fn build_accepts_exactly_the_acyclic_graphs((n, edges) in any_graph()) {
        check_build(n, &edges)?;
    }
}

proptest! {
    #![proptest_config(cases(64, 4))]

    #[test]
    fn large_graphs_build_as_petgraph_says((n, edges) in large_graph()) {
        check_build(n, &edges)?;
    }
}

/// The cycle properties are only worth something if the strategies make both
/// kinds of graph: check they yield plenty of each. (Only the generators run
/// here, no kahn code, so Miri has nothing to check.)
#[test]
#[cfg_attr(miri, ignore)]
fn graph_strategies_make_both_cyclic_and_acyclic_graphs() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let samples = 200;
    for (strategy, samples) in [
        (any_graph().boxed(), samples),
        (large_graph().boxed(), samples / 5),
    ] {
        let mut runner = TestRunner::deterministic();
        let mut cyclic = 0;
        let mut nontrivial = 0;
        for _ in 0..samples {
            let (n, edges) = strategy.new_tree(&mut runner).unwrap().current();
            let g = petgraph_of(n, &edges);
            cyclic += usize::from(is_cyclic_directed(&g));
            nontrivial += usize::from(!edges.is_empty());
        }
        assert!(
            cyclic * 5 >= samples,
            "only {cyclic} of {samples} graphs are cyclic"
        );
        assert!(
            cyclic * 5 <= samples * 4,
            "{cyclic} of {samples} graphs are cyclic"
        );
        assert!(
            nontrivial * 2 >= samples,
            "only {nontrivial} of {samples} graphs have edges"
        );
    }
}
