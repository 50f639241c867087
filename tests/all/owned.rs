//! `OwnedGraph` (feature `owned`): a graph that owns its arena, shared
//! across threads, dropped from any of them, its arena given back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use kahn::{Arena, ArenaPool, BuildError, OwnedGraph, RunOptions};

use kahn_test_support::executor;

/// Counts the drops of the task closures that capture it.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn pipeline(arena: Arena, drops: &Arc<AtomicUsize>) -> OwnedGraph<u64> {
    let token = DropCount(Arc::clone(drops));
    OwnedGraph::build(arena, move |b| {
        b.task("extract", move |ctx| {
            let _ = &token;
            Ok(*ctx.run_input::<u64>()?)
        })?;
        b.task("double", |ctx| Ok(ctx.input("extract")? * 2))?;
        b.edge("extract", "double")?;
        Ok::<(), BuildError>(())
    })
    .unwrap()
}

/// Runs of the owned graph per thread (few under Miri).
const RUNS: u64 = if cfg!(miri) { 2 } else { 50 };

#[test]
fn an_owned_graph_runs_from_threads_that_share_it_and_is_dropped_by_the_last() {
    let drops = Arc::new(AtomicUsize::new(0));
    let graph = Arc::new(pipeline(Arena::new(), &drops));
    assert_eq!(graph.task_count(), 2);
    let runners: Vec<_> = (0..3_u64)
        .map(|k| {
            let graph = Arc::clone(&graph);
            std::thread::spawn(move || {
                let exec = executor(2);
                let mut sum = 0;
                for i in 0..RUNS {
                    let report = graph.run_with(exec, &RunOptions::new().input(k * 100 + i));
                    sum += report.output("double").copied().unwrap();
                }
                sum
            })
        })
        .collect();
    // The owner lets go while the others still run it.
    drop(graph);
    let sums: Vec<u64> = runners.into_iter().map(|r| r.join().unwrap()).collect();
    let expected: Vec<u64> = (0..3_u64)
        .map(|k| (0..RUNS).map(|i| 2 * (k * 100 + i)).sum())
        .collect();
    assert_eq!(sums, expected);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the task closures dropped once, by the last holder"
    );
}

#[test]
fn an_owned_graph_gives_its_arena_back_on_demand_or_to_its_pool() {
    let drops = Arc::new(AtomicUsize::new(0));
    let graph = pipeline(Arena::new(), &drops);
    let report = graph.run_with(executor(1), &RunOptions::new().input(4_u64));
    assert_eq!(report.output("double"), Some(&8));
    drop(report);
    let mut arena = graph.into_arena();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(arena.allocated_bytes() > 0, "the arena keeps its memory");
    // The arena builds the next graph.
    let mut b = arena.builder::<u8>();
    b.task("x", |_| Ok(1)).unwrap();
    assert_eq!(executor(1).run(&b.build().unwrap()).output("x"), Some(&1));

    let pool = ArenaPool::new();
    let graph: OwnedGraph<u8> = OwnedGraph::build_in(&pool, |b| {
        b.task("x", |_| Ok(1))?;
        Ok::<(), BuildError>(())
    })
    .unwrap();
    assert!(pool.is_empty(), "the graph holds the pool's arena");
    std::thread::spawn(move || drop(graph)).join().unwrap();
    assert_eq!(
        pool.len(),
        1,
        "dropped on another thread, its arena is back"
    );
    let again: OwnedGraph<u8> = OwnedGraph::build_in(&pool, |b| {
        b.task("y", |_| Ok(2))?;
        Ok::<(), BuildError>(())
    })
    .unwrap();
    assert!(pool.is_empty(), "the pooled arena was reused");
    assert_eq!(again.run(executor(1)).output("y"), Some(&2));
}

#[test]
fn an_owned_graph_that_does_not_build_returns_the_error() {
    let cycle = OwnedGraph::<()>::build(Arena::new(), |b| {
        b.task("a", |_| Ok(()))?;
        b.task("b", |_| Ok(()))?;
        b.edges_by_name([("a", "b"), ("b", "a")])?;
        Ok::<(), BuildError>(())
    });
    assert!(matches!(cycle, Err(BuildError::Cycle { .. })));

    #[derive(Debug, PartialEq)]
    enum ConfigError {
        Bad(&'static str),
        Build,
    }
    impl From<BuildError> for ConfigError {
        fn from(_: BuildError) -> Self {
            ConfigError::Build
        }
    }
    let described = OwnedGraph::<()>::build(Arena::new(), |_| Err(ConfigError::Bad("no tasks")));
    assert_eq!(described.err(), Some(ConfigError::Bad("no tasks")));
}

#[test]
fn an_owned_graph_resumes_from_its_own_report() {
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let f = Arc::clone(&fail);
    let graph: OwnedGraph<u32> = OwnedGraph::build(Arena::new(), move |b| {
        b.task("a", |_| Ok(1))?;
        b.task("b", move |ctx| {
            if f.load(Ordering::SeqCst) {
                return Err("down".into());
            }
            Ok(ctx.input("a")? + 1)
        })?;
        b.edge("a", "b")?;
        Ok::<(), BuildError>(())
    })
    .unwrap();
    let exec = executor(2);
    let first = graph.run(exec);
    assert!(!first.is_success());
    fail.store(false, Ordering::SeqCst);
    let second = graph.resume_with(exec, first, &RunOptions::new()).unwrap();
    assert_eq!(second.output("b"), Some(&2));
    assert!(second.carried_over("a"));
    assert_eq!(
        graph.with_graph(|g| g.find("b").map(|id| id.index())),
        Some(1)
    );
}
