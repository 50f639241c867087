//! Property tests against petgraph: `build` accepts exactly the acyclic graphs
//! and compiles their adjacency faithfully, and runs on 1, 2 and 4 threads
//! respect every edge, run each task once, and pass outputs along edges.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use kahn::{Arena, BuildError, Executor, Graph, Outcome, TaskId};
use petgraph::algo::{is_cyclic_directed, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;
use proptest::prelude::*;
use proptest::sample::Index;

/// Outputs are reduced modulo this prime so sums never overflow.
const PRIME: u64 = 1_000_000_007;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: if cfg!(miri) { 4 } else { cases },
        // Do not write regression files into the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One executor per thread count, started once for the whole binary.
fn executors() -> &'static [Executor; 3] {
    static EXECUTORS: OnceLock<[Executor; 3]> = OnceLock::new();
    EXECUTORS.get_or_init(|| [1, 2, 4].map(|threads| Executor::with_threads(threads).unwrap()))
}

/// Graphs that may have cycles: `n` tasks and edges without self-loops
/// (duplicates kept). The first `raw` edges keep a random direction, the rest
/// point from the lower id to the higher, so about half the graphs are
/// acyclic and the rest have cycles of all lengths.
fn any_graph() -> impl Strategy<Value = (usize, Vec<(u32, u32)>)> {
    let max_n: usize = if cfg!(miri) { 8 } else { 60 };
    (
        0..max_n,
        prop::collection::vec((any::<Index>(), any::<Index>()), 0..180),
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

/// DAGs: `n` tasks and edges without self-loops, duplicates kept. Edges go
/// from a lower rank to a higher one; in half the cases the ranks are the ids
/// themselves (the builder's forward-only fast path), in the other half a
/// random permutation of them, so ids are not a topological order.
fn any_dag(max_n: usize) -> impl Strategy<Value = (usize, Vec<(u32, u32)>)> {
    (0..=max_n).prop_flat_map(|n| {
        let pairs = prop::collection::vec((any::<Index>(), any::<Index>()), 0..=3 * n);
        let ranks = Just((0..n as u32).collect::<Vec<u32>>()).prop_shuffle();
        (pairs, ranks, any::<bool>()).prop_map(move |(pairs, ranks, shuffle)| {
            let edges = pairs
                .iter()
                .map(|(a, b)| (a.index(n), b.index(n)))
                .filter(|(u, v)| u != v)
                .map(|(u, v)| (u.min(v), u.max(v)))
                .map(|(u, v)| {
                    if shuffle {
                        (ranks[u], ranks[v])
                    } else {
                        (u as u32, v as u32)
                    }
                })
                .collect();
            (n, edges)
        })
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

/// Tasks with an even id get a name, odd ones do not, so both labels show up.
fn label(v: u32) -> String {
    if v % 2 == 0 {
        format!("`n{v}`")
    } else {
        format!("task #{v}")
    }
}

/// Per-run record of when each task started and ended, on one shared clock.
struct Recorder {
    clock: AtomicU64,
    runs: Vec<AtomicU64>,
    start: Vec<AtomicU64>,
    end: Vec<AtomicU64>,
}

impl Recorder {
    fn new(n: usize) -> Recorder {
        let zeros = || (0..n).map(|_| AtomicU64::new(0)).collect();
        Recorder {
            clock: AtomicU64::new(1),
            runs: zeros(),
            start: zeros(),
            end: zeros(),
        }
    }

    fn reset(&self) {
        for slot in self.runs.iter().chain(&self.start).chain(&self.end) {
            slot.store(0, Ordering::SeqCst);
        }
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst)
    }
}

/// Builds the DAG with tasks that record their start and end and output
/// `(id + sum of inputs) mod PRIME`.
fn build_dag<'a>(
    arena: &'a mut Arena,
    n: usize,
    edges: &[(u32, u32)],
    rec: &Arc<Recorder>,
) -> Graph<'a, u64> {
    let mut b = arena.builder::<u64>();
    b.reserve(n, edges.len());
    for _ in 0..n {
        let rec = Arc::clone(rec);
        b.add_task(move |ctx| {
            let v = ctx.id().index();
            rec.start[v].store(rec.tick(), Ordering::SeqCst);
            rec.runs[v].fetch_add(1, Ordering::SeqCst);
            let sum = ctx.inputs().fold(v as u64, |acc, (_, x)| (acc + x) % PRIME);
            rec.end[v].store(rec.tick(), Ordering::SeqCst);
            Ok(sum)
        })
        .unwrap();
    }
    b.edges(edges.iter().map(|&(u, v)| (TaskId::new(u), TaskId::new(v))))
        .unwrap();
    b.build().unwrap()
}

/// The expected outputs, computed sequentially in petgraph's topological order.
fn oracle(n: usize, edges: &[(u32, u32)]) -> Vec<u64> {
    let g = petgraph_of(n, edges);
    let order = toposort(&g, None).expect("a DAG");
    let mut out = vec![0u64; n];
    for node in order {
        let v = node.index();
        out[v] = neighbours(&g, v, Direction::Incoming)
            .iter()
            .fold(v as u64, |acc, p| (acc + out[p.index()]) % PRIME);
    }
    out
}

/// Checks one run: every task succeeded once, every edge's upstream task
/// ended before its downstream task started, and outputs match the oracle.
fn check_run(
    report: &kahn::Report<'_, u64>,
    rec: &Recorder,
    edges: &[(u32, u32)],
    expected: &[u64],
) -> Result<(), TestCaseError> {
    let n = expected.len();
    prop_assert_eq!(report.len(), n);
    prop_assert!(report.is_success(), "{}", report);
    prop_assert_eq!(report.counts().succeeded, n);
    prop_assert_eq!(report.counts().total(), n);
    for (v, want) in expected.iter().enumerate() {
        prop_assert_eq!(rec.runs[v].load(Ordering::SeqCst), 1, "task {} ran once", v);
        let outcome = report.outcome(TaskId::new(v as u32));
        prop_assert!(
            matches!(outcome, Some(Outcome::Succeeded(x)) if x == want),
            "task {}: {:?}",
            v,
            outcome
        );
    }
    for &(u, v) in edges {
        let end_u = rec.end[u as usize].load(Ordering::SeqCst);
        let start_v = rec.start[v as usize].load(Ordering::SeqCst);
        prop_assert!(
            end_u < start_v,
            "edge {} -> {}: {} ended at {}, {} started at {}",
            u,
            v,
            u,
            end_u,
            v,
            start_v
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn build_accepts_exactly_the_acyclic_graphs((n, edges) in any_graph()) {
        let g = petgraph_of(n, &edges);
        let acyclic = toposort(&g, None).is_ok();
        prop_assert_eq!(acyclic, !is_cyclic_directed(&g));

        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        for v in 0..n {
            if v % 2 == 0 {
                b.task(&format!("n{v}"), |_| Ok(())).unwrap();
            } else {
                b.add_task(|_| Ok(())).unwrap();
            }
        }
        // Half by name through edge(), half by id through edges().
        let (by_name, by_id) = edges.split_at(edges.len() / 2);
        for &(u, v) in by_name {
            let name = |x: u32| if x % 2 == 0 { format!("n{x}") } else { String::new() };
            match (name(u).as_str(), name(v).as_str()) {
                ("", "") => b.edge(TaskId::new(u), TaskId::new(v)),
                ("", to) => b.edge(TaskId::new(u), to),
                (from, "") => b.edge(from, TaskId::new(v)),
                (from, to) => b.edge(from, to),
            }
            .unwrap();
        }
        b.edges(by_id.iter().map(|&(u, v)| (TaskId::new(u), TaskId::new(v)))).unwrap();
        prop_assert_eq!(b.edge_count(), edges.len());

        let built = b.build();
        match built {
            Ok(graph) => {
                prop_assert!(acyclic, "built a graph petgraph finds cyclic");
                prop_assert_eq!(graph.task_count(), n);
                let distinct: BTreeSet<(u32, u32)> = edges.iter().copied().collect();
                prop_assert_eq!(graph.edge_count(), distinct.len());
                let mut sources = Vec::new();
                for v in 0..n {
                    let t = TaskId::new(v as u32);
                    let preds = neighbours(&g, v, Direction::Incoming);
                    prop_assert_eq!(graph.predecessors(t).collect::<Vec<_>>(), preds.clone(), "predecessors of {}", v);
                    let mut succs: Vec<TaskId> = graph.successors(t).collect();
                    succs.sort();
                    prop_assert_eq!(succs, neighbours(&g, v, Direction::Outgoing), "successors of {}", v);
                    if preds.is_empty() {
                        sources.push(t);
                    }
                }
                let mut got: Vec<TaskId> = graph.sources().collect();
                got.sort();
                prop_assert_eq!(got, sources);
            }
            Err(BuildError::Cycle { path, ids }) => {
                prop_assert!(!acyclic, "refused a graph petgraph finds acyclic: {:?}", ids);
                prop_assert!(ids.len() >= 3, "{:?}", ids);
                prop_assert_eq!(ids.first(), ids.last());
                let input: BTreeSet<(u32, u32)> = edges.iter().copied().collect();
                for pair in ids.windows(2) {
                    let edge = (pair[0].index() as u32, pair[1].index() as u32);
                    prop_assert!(input.contains(&edge), "{:?} of {:?} is not an input edge", edge, ids);
                }
                let distinct: BTreeSet<TaskId> = ids[1..].iter().copied().collect();
                prop_assert_eq!(distinct.len(), ids.len() - 1, "not a simple cycle: {:?}", ids);
                let labels: Vec<String> = ids.iter().map(|t| label(t.index() as u32)).collect();
                prop_assert_eq!(path, labels);
            }
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        };
    }

    #[test]
    fn runs_respect_edges_and_pass_outputs(
        (n, edges) in any_dag(if cfg!(miri) { 12 } else { 300 })
    ) {
        let rec = Arc::new(Recorder::new(n));
        let mut arena = Arena::new();
        let graph = build_dag(&mut arena, n, &edges, &rec);
        let expected = oracle(n, &edges);
        for executor in executors() {
            rec.reset();
            let report = executor.run(&graph);
            check_run(&report, &rec, &edges, &expected)?;
        }
    }
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn reruns_of_one_graph_give_identical_outputs(
        (n, edges) in any_dag(if cfg!(miri) { 12 } else { 200 })
    ) {
        let rec = Arc::new(Recorder::new(n));
        let mut arena = Arena::new();
        let graph = build_dag(&mut arena, n, &edges, &rec);
        let expected = oracle(n, &edges);
        let mut first: Option<Vec<u64>> = None;
        for run in 0..5 {
            rec.reset();
            let report = executors()[run % 3].run(&graph);
            check_run(&report, &rec, &edges, &expected)?;
            let outputs: Vec<u64> = report.into_outputs().into_iter().map(|o| o.unwrap()).collect();
            match &first {
                None => first = Some(outputs),
                Some(first) => prop_assert_eq!(first, &outputs, "run {} differs from run 0", run),
            }
        }
    }
}

/// The cycle property is only worth something if the strategy makes both
/// kinds of graph: check it yields plenty of each.
#[test]
fn any_graph_makes_both_cyclic_and_acyclic_graphs() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = any_graph();
    let samples = if cfg!(miri) { 20 } else { 200 };
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
