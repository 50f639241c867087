//! Properties of the built-in placements on random and hostile graphs: every task on exactly one existing worker, the same answer every time, blocks' balance, and min-cut never cutting more than blocks.
//!
//! The graphs: proptest's random DAGs (ids a topological order or not,
//! with wide fan-ins), and hostile ones: empty, one task, chains, stars
//! both ways, isolated tasks, complete DAGs, complete binary trees; the
//! worker counts: 0 (taken as 1), 1, a few, more than the tasks, and huge;
//! and min-cut in a real run across timely workers.

use std::collections::BTreeMap;

use kahn::{Arena, Graph, TaskContext, TaskId};
use kahn_test_support::dags::{any_dag, any_dag_with_fan_ins, cases, LARGE, SMALL};
use kahn_timely::{cut_edges, DistributedError, Placement};
use proptest::prelude::*;

fn nothing(_: &TaskContext<'_, ()>) -> Result<(), kahn::BoxError> {
    Ok(())
}

fn build<'a>(arena: &'a mut Arena, n: usize, edges: &[(u32, u32)]) -> Graph<'a, ()> {
    let mut b = arena.builder::<()>();
    for _ in 0..n {
        b.unnamed_task(nothing).unwrap();
    }
    b.edges(edges.iter().map(|&(u, v)| (TaskId::new(u), TaskId::new(v))))
        .unwrap();
    b.build().unwrap()
}

/// The graphs no random generator is likely to draw, by name.
fn hostile(kind: u8, n: usize) -> (usize, Vec<(u32, u32)>) {
    let n32 = n as u32;
    let edges = match kind {
        // Isolated tasks.
        0 => Vec::new(),
        1 => (1..n32).map(|v| (v - 1, v)).collect(),
        // One task feeds all, and all feed one.
        2 => (1..n32).map(|v| (0, v)).collect(),
        3 => (1..n32).map(|v| (v, 0)).collect(),
        // Every forward pair: the densest DAG.
        4 => {
            let n32 = n32.min(80);
            (0..n32)
                .flat_map(|u| (u + 1..n32).map(move |v| (u, v)))
                .collect()
        }
        // A complete binary tree.
        5 => (1..n32).map(|v| ((v - 1) / 2, v)).collect(),
        // A chain with ids reversed: ids are no topological order.
        _ => (1..n32).map(|v| (v, v - 1)).collect(),
    };
    (n, edges)
}

fn workers() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0usize),
        Just(1usize),
        2usize..=9,
        10usize..=5_000,
        Just(1usize << 40),
        Just(usize::MAX),
    ]
}

/// Everything a built-in placement promises, for one graph and worker
/// count; `Err` says what broke.
fn check(n: usize, edges: &[(u32, u32)], workers: usize) -> Result<(), TestCaseError> {
    let mut arena = Arena::new();
    let graph = build(&mut arena, n, edges);
    // Another worker builds the same graph in its own arena.
    let mut other_arena = Arena::new();
    let other = build(&mut other_arena, n, edges);
    let w = workers.max(1);
    let mut cuts = Vec::new();
    for placement in [Placement::blocks(), Placement::min_cut()] {
        let owner = placement.assign(&graph, workers).unwrap();
        prop_assert_eq!(owner.len(), n, "{:?}: one worker per task", placement);
        prop_assert!(
            owner.iter().all(|&o| (o as usize) < w),
            "{:?}: a worker at or past {}",
            placement,
            w
        );
        prop_assert_eq!(
            &owner,
            &placement.assign(&graph, workers).unwrap(),
            "{:?}: not the same twice",
            placement
        );
        prop_assert_eq!(
            &owner,
            &placement.assign(&other, workers).unwrap(),
            "{:?}: not the same on another build",
            placement
        );
        // Balance: ⌊n/w⌋ or ⌈n/w⌉ tasks each, so with more workers than
        // tasks every task alone.
        let mut load = BTreeMap::<u32, usize>::new();
        for &o in &owner {
            *load.entry(o).or_default() += 1;
        }
        let (floor, ceil) = (n / w, n.div_ceil(w));
        prop_assert!(
            load.values().all(|&l| l <= ceil && l >= floor),
            "{:?}: loads {:?}, not {}..={}",
            placement,
            load,
            floor,
            ceil
        );
        if w <= n {
            prop_assert_eq!(load.len(), w, "{:?}: an idle worker", placement);
        }
        cuts.push(cut_edges(&graph, &owner));
    }
    prop_assert!(
        cuts[1] <= cuts[0],
        "min-cut cuts {} edges, blocks {}",
        cuts[1],
        cuts[0]
    );
    Ok(())
}

proptest! {
    #![proptest_config(cases(256, 8))]

    #[test]
    fn random_dags_are_placed_once_each_balanced_and_alike(
        (n, edges) in any_dag(SMALL),
        workers in workers(),
    ) {
        check(n, &edges, workers)?;
    }

    #[test]
    fn hostile_graphs_are_placed_once_each_balanced_and_alike(
        kind in 0u8..7,
        n in prop_oneof![0usize..=3, 4usize..=300, Just(2_000usize)],
        workers in workers(),
    ) {
        let (n, edges) = hostile(kind, n);
        check(n, &edges, workers)?;
    }
}

proptest! {
    #![proptest_config(cases(24, 2))]

    #[test]
    fn large_dags_with_fan_ins_are_placed_once_each_balanced_and_alike(
        (n, edges) in any_dag_with_fan_ins(LARGE),
        workers in workers(),
    ) {
        check(n, &edges, workers)?;
    }
}

#[test]
fn the_empty_graph_has_nothing_to_place_or_cut() {
    let mut arena = Arena::new();
    let graph = build(&mut arena, 0, &[]);
    for placement in [Placement::blocks(), Placement::min_cut()] {
        for workers in [0, 1, 7, usize::MAX] {
            let owner = placement.assign(&graph, workers).unwrap();
            assert!(owner.is_empty());
            assert_eq!(cut_edges(&graph, &owner), 0);
        }
    }
}

#[test]
fn long_chains_and_wide_stars_are_placed_without_recursion() {
    let n = 200_000;
    for kind in [1, 2, 3, 6] {
        let (n, edges) = hostile(kind, n);
        let mut arena = Arena::new();
        let graph = build(&mut arena, n, &edges);
        for workers in [1, 3, 64] {
            let blocks = Placement::blocks().assign(&graph, workers).unwrap();
            let min_cut = Placement::min_cut().assign(&graph, workers).unwrap();
            assert!(min_cut.iter().all(|&o| (o as usize) < workers));
            assert!(cut_edges(&graph, &min_cut) <= cut_edges(&graph, &blocks));
            if kind == 1 || kind == 6 {
                // A chain cut once per worker boundary, no more.
                assert_eq!(cut_edges(&graph, &min_cut), workers - 1, "kind {kind}");
            }
        }
    }
}

/// What min-cut is for: a tree a level-by-level order cuts almost
/// everywhere stays in subtrees.
#[test]
fn min_cut_keeps_subtrees_together_where_blocks_splits_levels() {
    let (n, edges) = hostile(5, (1 << 14) - 1);
    let mut arena = Arena::new();
    let graph = build(&mut arena, n, &edges);
    for workers in [2, 4, 8] {
        let blocks = cut_edges(
            &graph,
            &Placement::blocks().assign(&graph, workers).unwrap(),
        );
        let min_cut = cut_edges(
            &graph,
            &Placement::min_cut().assign(&graph, workers).unwrap(),
        );
        assert!(blocks > n / 3, "{workers} workers: blocks cuts {blocks}");
        assert!(
            min_cut < n / 100,
            "{workers} workers: min-cut cuts {min_cut}"
        );
    }
}

#[test]
fn a_custom_placement_is_taken_as_given_and_refused_outside_the_workers() {
    let (n, edges) = hostile(5, 100);
    let mut arena = Arena::new();
    let graph = build(&mut arena, n, &edges);
    let owner = Placement::with(|task, workers| task.index() * 7 % workers)
        .assign(&graph, 5)
        .unwrap();
    assert!(owner
        .iter()
        .enumerate()
        .all(|(v, &o)| o as usize == v * 7 % 5));
    let outside = Placement::with(|task, workers| task.index() % (workers + 1)).assign(&graph, 5);
    assert!(matches!(
        outside,
        Err(DistributedError::PlacedOutside {
            worker: 5,
            workers: 5,
            ..
        })
    ));
}

/// Min-cut in a real run: every worker computes it alone, the hashes
/// agree, and the split run ends every task as a run in one piece does.
#[test]
fn workers_agree_on_min_cut_and_run_as_one_piece() {
    use std::sync::OnceLock;

    use kahn::{Executor, RunOptions};
    use kahn_test_support::split::{same_run, SplitCase};

    fn executor() -> &'static Executor {
        static EXECUTOR: OnceLock<Executor> = OnceLock::new();
        EXECUTOR.get_or_init(|| Executor::with_threads(2).expect("two threads start"))
    }
    for workers in [2, 3] {
        let guards = timely::execute(timely::Config::process(workers), |worker| {
            for seed in 0..6 {
                let case = SplitCase::from_seed(seed, 200, worker.peers());
                let mut arena = Arena::new();
                let graph = case.build(&mut arena);
                let whole = executor().run(&graph);
                let split = kahn_timely::run(
                    worker,
                    executor(),
                    &graph,
                    &RunOptions::new(),
                    &kahn_timely::DistributedOptions::new().placement(Placement::min_cut()),
                )
                .map_err(|e| format!("seed {seed}: {e}"))?;
                let me = split.worker();
                same_run(&graph, &whole, split.report(), |t| {
                    split.worker_of(t) == Some(me)
                })
                .map_err(|why| format!("seed {seed}, worker {me}: {why}"))?;
            }
            Ok::<(), String>(())
        })
        .unwrap();
        for result in guards.join() {
            result.unwrap().unwrap();
        }
    }
}
