//! Critical-path priorities: `build` sorts successor and source lists by rank (the heaviest path to the end), checked against a recursive longest-path oracle; without the option the lists are as added; weights are validated; and a one-thread run starts the critical path first.
//!
//! The oracle computes each task's rank by a memoized recursion over the
//! distinct edges, independently of kahn's pass in reverse topological
//! order; both add a weight to the largest successor rank, so their ranks
//! agree to the bit and ties are exact.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};

use kahn::{Arena, BuildError, Graph, GraphBuilder, OwnedTaskRef, RejectedWeight, TaskId};
use kahn_test_support::dags::{any_dag, cases, task_name, LARGE, SMALL};
use kahn_test_support::executor;
use proptest::prelude::*;

/// How a property test turns priorities on.
#[derive(Debug, Clone, Copy)]
enum Switch {
    /// `critical_path_first()` only: every task weighs 1.
    TaskCount,
    /// Weights only (which turn the option on); at least one is set.
    Weights,
    /// Both, `critical_path_first()` after some weights.
    Both,
}

/// A weight for each task, or none: small whole numbers (so ranks tie), any
/// value up to a million, or the extremes `weight` accepts.
fn any_weights(n: usize) -> impl Strategy<Value = Vec<Option<f64>>> {
    let weight = prop_oneof![
        4 => Just(None),
        3 => (0..4u8).prop_map(|w| Some(f64::from(w))),
        2 => (0.0..1e6f64).prop_map(Some),
        1 => prop::sample::select(vec![0.0, -0.0, f64::MIN_POSITIVE, GraphBuilder::<()>::MAX_WEIGHT])
            .prop_map(Some),
    ];
    prop::collection::vec(weight, n)
}

/// A DAG, a weight or none for each task, and how priorities are turned on.
#[derive(Debug, Clone)]
struct WeightedDag {
    n: usize,
    edges: Vec<(u32, u32)>,
    weights: Vec<Option<f64>>,
    switch: Switch,
}

/// A DAG from [`any_dag`], with weights and a way to switch priorities on.
fn weighted_dag(max_n: usize) -> impl Strategy<Value = WeightedDag> {
    any_dag(max_n).prop_flat_map(|(n, edges)| {
        let switch = prop_oneof![
            Just(Switch::TaskCount),
            Just(Switch::Weights),
            Just(Switch::Both)
        ];
        (any_weights(n), switch).prop_map(move |(weights, switch)| WeightedDag {
            n,
            edges: edges.clone(),
            weights,
            switch,
        })
    })
}

/// Builds `n` tasks (named as in the property tests) and `edges`, then
/// `configure`s the builder.
fn build<'a>(
    arena: &'a mut Arena,
    n: usize,
    edges: &[(u32, u32)],
    configure: impl FnOnce(&mut GraphBuilder<'a, ()>),
) -> Graph<'a, ()> {
    let mut b = arena.builder::<()>();
    for v in 0..n as u32 {
        match task_name(v) {
            Some(name) => b.task(&name, |_| Ok(())).unwrap(),
            None => b.unnamed_task(|_| Ok(())).unwrap(),
        };
    }
    b.edges(edges.iter().map(|&(u, v)| (TaskId::new(u), TaskId::new(v))))
        .unwrap();
    configure(&mut b);
    b.build().expect("a DAG builds")
}

/// Each task's rank by recursion: its weight (1 if none) plus the largest
/// rank among its successors, 0 for none.
fn oracle_ranks(n: usize, edges: &[(u32, u32)], weights: &[Option<f64>]) -> Vec<f64> {
    fn rank(
        v: usize,
        succs: &[BTreeSet<u32>],
        weights: &[Option<f64>],
        memo: &mut [Option<f64>],
    ) -> f64 {
        if let Some(r) = memo[v] {
            return r;
        }
        let mut longest = 0.0f64;
        for &s in &succs[v] {
            longest = longest.max(rank(s as usize, succs, weights, memo));
        }
        let r = weights[v].unwrap_or(1.0) + longest;
        memo[v] = Some(r);
        r
    }
    let mut succs = vec![BTreeSet::new(); n];
    for &(u, v) in edges {
        succs[u as usize].insert(v);
    }
    let mut memo = vec![None; n];
    (0..n)
        .map(|v| rank(v, &succs, weights, &mut memo))
        .collect()
}

/// `tasks` sorted by descending rank, ties by id.
fn by_rank(mut tasks: Vec<TaskId>, ranks: &[f64]) -> Vec<TaskId> {
    tasks.sort_by(|a, b| {
        ranks[b.index()]
            .partial_cmp(&ranks[a.index()])
            .expect("ranks are numbers")
            .then(a.cmp(b))
    });
    tasks
}

/// Each task's successors in the order their edges were first added.
fn as_added(n: usize, edges: &[(u32, u32)]) -> Vec<Vec<TaskId>> {
    let mut seen = BTreeSet::new();
    let mut succs = vec![Vec::new(); n];
    for &(u, v) in edges {
        if seen.insert((u, v)) {
            succs[u as usize].push(TaskId::new(v));
        }
    }
    succs
}

fn check_ranked(case: &WeightedDag) -> Result<(), TestCaseError> {
    let WeightedDag {
        n,
        ref edges,
        ref weights,
        switch,
    } = *case;
    let mut weights = weights.clone();
    if matches!(switch, Switch::Weights) && n > 0 && weights.iter().all(Option::is_none) {
        // Weights alone must turn the option on: set one.
        weights[0] = Some(1.0);
    }
    let mut plain_arena = Arena::new();
    let plain = build(&mut plain_arena, n, edges, |_| {});
    let mut arena = Arena::new();
    let graph = build(&mut arena, n, edges, |b| {
        if matches!(switch, Switch::TaskCount) {
            b.critical_path_first();
            return;
        }
        for (v, w) in weights.iter().enumerate() {
            if let Some(w) = *w {
                // By name where the task has one, else by id.
                match task_name(v as u32) {
                    Some(name) => b.weight(name.as_str(), w).unwrap(),
                    None => b.weight(TaskId::new(v as u32), w).unwrap(),
                }
            }
        }
        if matches!(switch, Switch::Both) {
            b.critical_path_first();
        }
    });
    let used: Vec<Option<f64>> = match switch {
        Switch::TaskCount => vec![None; n],
        Switch::Weights | Switch::Both => weights,
    };
    let ranks = oracle_ranks(n, edges, &used);
    prop_assert_eq!(graph.task_count(), plain.task_count());
    prop_assert_eq!(graph.edge_count(), plain.edge_count());
    let mut sources = Vec::new();
    for v in 0..n {
        let t = TaskId::new(v as u32);
        let got: Vec<TaskId> = graph.successors(t).collect();
        let plain_succs: Vec<TaskId> = plain.successors(t).collect();
        prop_assert_eq!(&got, &by_rank(plain_succs, &ranks), "successors of {}", v);
        prop_assert_eq!(
            graph.predecessors(t).collect::<Vec<_>>(),
            plain.predecessors(t).collect::<Vec<_>>(),
            "predecessors of {} stay sorted by id",
            v
        );
        if graph.predecessors(t).len() == 0 {
            sources.push(t);
        }
    }
    prop_assert_eq!(
        graph.sources().collect::<Vec<_>>(),
        by_rank(sources, &ranks)
    );
    Ok(())
}

/// Without the option, successors are in the order their edges were first
/// added and sources in id order, as before priorities existed.
fn check_unranked(n: usize, edges: &[(u32, u32)]) -> Result<(), TestCaseError> {
    let mut arena = Arena::new();
    let graph = build(&mut arena, n, edges, |_| {});
    let expected = as_added(n, edges);
    let mut sources = Vec::new();
    for (v, expected) in expected.iter().enumerate() {
        let t = TaskId::new(v as u32);
        prop_assert_eq!(
            &graph.successors(t).collect::<Vec<_>>(),
            expected,
            "successors of {}",
            v
        );
        if graph.predecessors(t).len() == 0 {
            sources.push(t);
        }
    }
    prop_assert_eq!(graph.sources().collect::<Vec<_>>(), sources);
    Ok(())
}

proptest! {
    #![proptest_config(cases(256, 4))]

    #[test]
    fn lists_are_sorted_by_rank(case in weighted_dag(SMALL)) {
        check_ranked(&case)?;
    }

    #[test]
    fn without_priorities_lists_are_as_added((n, edges) in any_dag(SMALL)) {
        check_unranked(n, &edges)?;
    }
}

proptest! {
    #![proptest_config(cases(32, 2))]

    #[test]
    fn large_graphs_are_sorted_by_rank(case in weighted_dag(LARGE)) {
        check_ranked(&case)?;
    }
}

/// Every way a weight can be refused, each leaving the builder as it was:
/// after only refused weights, the graph is built without priorities.
#[test]
fn bad_weights_are_errors_that_name_the_task() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.task("load", |_| Ok(())).unwrap();
    let unnamed = b.unnamed_task(|_| Ok(())).unwrap();
    b.task("late", |_| Ok(())).unwrap();
    let above = f64::from_bits(GraphBuilder::<()>::MAX_WEIGHT.to_bits() + 1);
    for weight in [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -1.0,
        -5e-324,
        above,
        f64::MAX,
    ] {
        let error = b.weight("load", weight).unwrap_err();
        let BuildError::InvalidWeight {
            task,
            weight: given,
        } = &error
        else {
            panic!("weight {weight:?}: {error:?}");
        };
        assert_eq!((task.id(), task.name()), (TaskId::new(0), Some("load")));
        assert_eq!(*given, RejectedWeight(weight));
        assert_eq!(
            error.to_string(),
            format!(
                "`load` was given the weight {weight:?}: a weight is a number from 0 to 1e298, \
                 such as the task's expected seconds"
            )
        );
    }
    let error = b.weight(unnamed, f64::NAN).unwrap_err();
    assert_eq!(
        error.to_string(),
        "task #1 was given the weight NaN: a weight is a number from 0 to 1e298, such as the task's expected seconds"
    );
    for (missing, shown) in [
        (
            b.weight("extract", 1.0),
            "a weight was given to unknown task `extract`: add the task before its weight",
        ),
        (
            b.weight(TaskId::new(3), 1.0),
            "a weight was given to unknown task #3: add the task before its weight",
        ),
    ] {
        let error = missing.unwrap_err();
        assert!(matches!(
            &error,
            BuildError::WeightOfUnknownTask {
                missing: OwnedTaskRef::Name(_) | OwnedTaskRef::Id(_)
            }
        ));
        assert_eq!(error.to_string(), shown);
    }
    // The unknown task is checked first, whatever the weight.
    assert!(matches!(
        b.weight("extract", f64::NAN),
        Err(BuildError::WeightOfUnknownTask { .. })
    ));
    b.edge("late", "load").unwrap();
    b.edge("late", unnamed).unwrap();
    let graph = b.build().unwrap();
    let late = graph.find("late").unwrap();
    assert_eq!(
        graph.successors(late).collect::<Vec<_>>(),
        [TaskId::new(0), TaskId::new(1)],
        "refused weights left priorities off"
    );
}

/// The bounds themselves are weights: 0, -0.0 (as 0), the smallest
/// positive `f64` and `MAX_WEIGHT`; a later weight replaces an earlier one.
#[test]
fn weights_at_the_bounds_are_accepted_and_the_last_one_counts() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let root = b.task("root", |_| Ok(())).unwrap();
    let kids: Vec<TaskId> = (0..4)
        .map(|_| b.unnamed_task(|_| Ok(())).unwrap())
        .collect();
    for &kid in &kids {
        b.edge(root, kid).unwrap();
    }
    b.weight(kids[0], 0.0).unwrap();
    b.weight(kids[1], -0.0).unwrap();
    b.weight(kids[2], GraphBuilder::<()>::MAX_WEIGHT).unwrap();
    b.weight(kids[3], f64::MIN_POSITIVE).unwrap();
    b.weight(kids[2], 1.0).unwrap(); // replaces MAX_WEIGHT
    let graph = b.build().unwrap();
    // Ranks 0, 0, 1, MIN_POSITIVE: the tie between 0 and -0.0 goes by id.
    assert_eq!(
        graph.successors(root).collect::<Vec<_>>(),
        [kids[2], kids[3], kids[0], kids[1]]
    );
}

/// Ranks of long chains of the heaviest weight stay finite and ordered:
/// had they overflowed to infinity, the two chains would tie and the
/// shorter one, added first, would come first.
#[test]
fn heavy_long_chains_do_not_overflow() {
    let len = if cfg!(miri) { 20 } else { 5_000 };
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let mut heads = Vec::new();
    for chain_len in [len - 1, len] {
        let head = b.unnamed_task(|_| Ok(())).unwrap();
        b.weight(head, GraphBuilder::<()>::MAX_WEIGHT).unwrap();
        let mut last = head;
        for _ in 1..chain_len {
            let next = b.unnamed_task(|_| Ok(())).unwrap();
            b.weight(next, GraphBuilder::<()>::MAX_WEIGHT).unwrap();
            b.edge(last, next).unwrap();
            last = next;
        }
        heads.push(head);
    }
    let graph = b.build().unwrap();
    assert_eq!(graph.sources().collect::<Vec<_>>(), [heads[1], heads[0]]);
}

/// Priorities do not hide a cycle.
#[test]
fn a_cycle_is_still_an_error() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    for name in ["a", "b", "c"] {
        b.task(name, |_| Ok(())).unwrap();
    }
    b.edge("a", "b").unwrap();
    b.edge("b", "c").unwrap();
    b.edge("c", "b").unwrap();
    b.critical_path_first();
    b.weight("c", 2.0).unwrap();
    let error = b.build().unwrap_err();
    assert_eq!(
        error.to_string(),
        "tasks form a cycle: `b` -> `c` -> `b`; remove one of these edges"
    );
}

/// Sources `i0..i9` (ids 0 to 9), then the head of a chain of five tasks
/// (id 10): on one thread, the first task to start is `i0` without
/// priorities and the chain head with them, and with them the whole chain
/// runs before any other source (the worker goes on depth-first).
#[test]
fn one_thread_starts_the_critical_path_first() {
    for ranked in [false, true] {
        let clock = AtomicU32::new(0);
        let started: Vec<AtomicU32> = (0..15).map(|_| AtomicU32::new(0)).collect();
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        let record = |ctx: &kahn::TaskContext<'_, ()>| {
            started[ctx.id().index()]
                .store(clock.fetch_add(1, Ordering::Relaxed) + 1, Ordering::Relaxed);
            Ok(())
        };
        for i in 0..10 {
            b.task(&format!("i{i}"), record).unwrap();
        }
        let chain: Vec<TaskId> = (0..5)
            .map(|k| b.task(&format!("chain{k}"), record).unwrap())
            .collect();
        for pair in chain.windows(2) {
            b.edge(pair[0], pair[1]).unwrap();
        }
        if ranked {
            b.critical_path_first();
        }
        let graph = b.build().unwrap();
        for rerun in 0..3 {
            clock.store(0, Ordering::Relaxed);
            assert!(executor(1).run(&graph).is_success());
            let at = |t: TaskId| started[t.index()].load(Ordering::Relaxed);
            let first = (0..15)
                .find(|&v| started[v].load(Ordering::Relaxed) == 1)
                .unwrap();
            if ranked {
                assert_eq!(
                    first,
                    chain[0].index(),
                    "rerun {rerun}: the chain head starts first"
                );
                let order: Vec<u32> = chain.iter().map(|&t| at(t)).collect();
                assert_eq!(
                    order,
                    [1, 2, 3, 4, 5],
                    "rerun {rerun}: the chain runs first, in a row"
                );
            } else {
                assert_eq!(first, 0, "rerun {rerun}: `i0` starts first");
                assert!(
                    at(chain[0]) > 10,
                    "rerun {rerun}: the chain head starts after `i0..i9`"
                );
            }
        }
    }
}

/// Weights, not task counts, decide: a lone task that weighs 10 starts
/// before a chain of three that weighs 3.
#[test]
fn a_heavy_task_starts_before_a_longer_light_chain() {
    let clock = AtomicU32::new(0);
    let started: Vec<AtomicU32> = (0..4).map(|_| AtomicU32::new(0)).collect();
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let record = |ctx: &kahn::TaskContext<'_, ()>| {
        started[ctx.id().index()]
            .store(clock.fetch_add(1, Ordering::Relaxed) + 1, Ordering::Relaxed);
        Ok(())
    };
    for name in ["a", "b", "c", "heavy"] {
        b.task(name, record).unwrap();
    }
    b.edge("a", "b").unwrap();
    b.edge("b", "c").unwrap();
    b.weight("heavy", 10.0).unwrap();
    let graph = b.build().unwrap();
    let heavy = graph.find("heavy").unwrap();
    assert_eq!(graph.sources().collect::<Vec<_>>(), [heavy, TaskId::new(0)]);
    assert!(executor(1).run(&graph).is_success());
    assert_eq!(started[heavy.index()].load(Ordering::Relaxed), 1);
}
