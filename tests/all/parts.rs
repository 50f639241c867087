//! Part runs against whole runs: a graph split over parts that feed one another their outcomes gives each part the whole run's report.
//!
//! Each part runs on its own thread (all on one shared executor, or on
//! executors of their own), its outbox delivering every owned task's end
//! to every other part's feed: what `kahn-timely` does across processes,
//! here in one. Random DAGs with failures, panics, trigger rules and
//! branches, split at random over one to four parts, must end exactly as
//! the whole graph run in one piece: every task's state and skip cause,
//! and every output a part holds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kahn::{
    Arena, DeliveryError, Executor, FailurePolicy, Graph, Part, PartError, RemoteFeed,
    RemoteOutcome, Report, RunOptions, Settled, Skip, State, StopReason, TaskId,
};
use kahn_test_support::dags::cases;
use kahn_test_support::executor;
use kahn_test_support::split::{same_run, SplitCase};
use proptest::prelude::*;

/// Runs `graph` split over `parts` parts (task `v` in part `owner[v]`),
/// each on its own thread, on `executor_of(i)`; every owned task's end
/// goes to every other part. Returns the parts' reports.
fn run_split<'g>(
    graph: &'g Graph<'_, u64>,
    owner: &[usize],
    parts: usize,
    options: &[RunOptions],
    executor_of: impl Fn(usize) -> &'static Executor + Sync,
) -> Vec<Report<'g, u64>> {
    let part: Vec<Part> = (0..parts)
        .map(|i| graph.part(|t| owner[t.index()] == i))
        .collect();
    let feeds: Vec<Arc<RemoteFeed<'g, u64>>> = part
        .iter()
        .map(|p| Arc::new(graph.remote_feed(p)))
        .collect();
    std::thread::scope(|scope| {
        let runs: Vec<_> = (0..parts)
            .map(|i| {
                let others: Vec<_> = (0..parts)
                    .filter(|&j| j != i)
                    .map(|j| Arc::clone(&feeds[j]))
                    .collect();
                let outbox = move |settled: Settled<'_, u64>| {
                    for feed in &others {
                        feed.deliver(settled.task, settled.to_remote(true))
                            .expect("each owned task's end is told once");
                    }
                };
                let (part, feed, executor_of) = (&part[i], Arc::clone(&feeds[i]), &executor_of);
                let options = &options[i % options.len()];
                scope.spawn(move || {
                    executor_of(i)
                        .run_part(graph, options, part, feed, outbox)
                        .expect("a part and a feed of this graph")
                })
            })
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    })
}

/// 64 cases, or `KAHN_PART_CASES` (a longer hunt for races).
fn part_cases() -> u32 {
    std::env::var("KAHN_PART_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(cases(part_cases(), 4))]

    /// Split over one to four parts on one shared executor of 1, 2 or 4
    /// threads, or each part on an executor of its own, a random graph
    /// ends in every part as it ends in one piece.
    #[test]
    fn a_split_run_ends_in_every_part_as_the_whole_run(
        seed in any::<u64>(),
        parts in 1..=4usize,
        threads in prop::sample::select(vec![1usize, 2, 4]),
        own_executors in any::<bool>(),
    ) {
        let case = SplitCase::from_seed(seed, if cfg!(miri) { 10 } else { 120 }, parts);
        let mut arena = Arena::new();
        let graph = case.build(&mut arena);
        let whole = executor(2).run(&graph);
        let reports = run_split(&graph, &case.owner, case.parts, &[RunOptions::new()], |i| {
            if own_executors { executor(1 + i % 4) } else { executor(threads) }
        });
        for (i, report) in reports.iter().enumerate() {
            if let Err(why) = same_run(&graph, &whole, report, |t| case.owner[t.index()] == i) {
                return Err(TestCaseError::fail(format!("part {i} of {}: {why}", case.parts)));
            }
        }
    }
}

/// `a → b → c` with `b` alone in part 1.
fn chain(arena: &mut Arena) -> Graph<'_, u64> {
    let mut b = arena.builder::<u64>();
    b.task("a", |_| Ok(1)).unwrap();
    b.task("b", |ctx| Ok(ctx.input("a")? + 1)).unwrap();
    b.task("c", |ctx| Ok(ctx.input("b")? + 1)).unwrap();
    b.edge("a", "b").unwrap();
    b.edge("b", "c").unwrap();
    b.build().unwrap()
}

#[test]
fn a_part_waits_for_its_remote_predecessors_and_reads_their_outputs() {
    let mut arena = Arena::new();
    let graph = chain(&mut arena);
    let owner = [0, 1, 0];
    let reports = run_split(&graph, &owner, 2, &[RunOptions::new()], |_| executor(2));
    assert_eq!(reports[0].output("c"), Some(&3));
    assert_eq!(reports[1].output("b"), Some(&2));
    for report in &reports {
        assert!(report.is_success(), "{report}");
        assert_eq!(report.counts().succeeded, 3);
    }
}

#[test]
fn a_remote_failure_skips_the_tasks_downstream_here_and_names_the_failed_task() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<u64>();
    b.task("parse", |_| Err("partition 7 is malformed".into()))
        .unwrap();
    b.task("load", |ctx| Ok(*ctx.input("parse")?)).unwrap();
    b.task("audit", |_| Ok(7)).unwrap();
    b.edge("parse", "load").unwrap();
    let graph = b.build().unwrap();
    let reports = run_split(&graph, &[0, 1, 1], 2, &[RunOptions::new()], |_| executor(2));
    let parse = graph.find("parse").unwrap();
    for report in &reports {
        assert_eq!(report.state("load"), Some(State::Skipped));
        assert_eq!(
            report.outcome("load").unwrap().skip(),
            Some(Skip::UpstreamFailed(parse))
        );
        assert_eq!(report.state("audit"), Some(State::Succeeded));
        let shown = report.to_string();
        assert!(
            shown.contains("partition 7 is malformed"),
            "the failure travels: {shown}"
        );
    }
}

#[test]
fn a_remote_failure_under_fail_fast_stops_this_part_too() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<u64>();
    b.task("bad", |_| Err("no".into())).unwrap();
    // Part 1: a chain of waits that the stop cuts short.
    let started = Arc::new(AtomicUsize::new(0));
    for i in 0..50 {
        let started = Arc::clone(&started);
        b.task(&format!("step{i}"), move |_| {
            started.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(2));
            Ok(0)
        })
        .unwrap();
        if i > 0 {
            b.edge(&*format!("step{}", i - 1), &*format!("step{i}"))
                .unwrap();
        }
    }
    let graph = b.build().unwrap();
    let owner: Vec<usize> = (0..graph.task_count())
        .map(|v| usize::from(v > 0))
        .collect();
    let options = RunOptions::new().policy(FailurePolicy::FailFast);
    let reports = run_split(&graph, &owner, 2, &[options], |_| executor(2));
    for report in &reports {
        assert_eq!(report.stop_reason(), Some(StopReason::FailFast), "{report}");
        assert_eq!(report.state("bad"), Some(State::Failed));
        assert!(report.counts().cancelled > 0, "{report}");
    }
    assert!(
        started.load(Ordering::SeqCst) < 50,
        "the stop reached part 1"
    );
}

#[test]
fn a_remote_branch_choice_decides_which_successors_run_here() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<u64>();
    b.task("route", |ctx| {
        ctx.branch(["fast"])?;
        Ok(0)
    })
    .unwrap();
    b.task("fast", |_| Ok(1)).unwrap();
    b.task("slow", |_| Ok(2)).unwrap();
    b.edge("route", "fast").unwrap();
    b.edge("route", "slow").unwrap();
    b.branching("route").unwrap();
    let graph = b.build().unwrap();
    let route = graph.find("route").unwrap();
    let reports = run_split(&graph, &[0, 1, 1], 2, &[RunOptions::new()], |_| executor(2));
    for report in &reports {
        assert_eq!(report.state("fast"), Some(State::Succeeded));
        assert_eq!(
            report.outcome("slow").unwrap().skip(),
            Some(Skip::BranchNotTaken(route))
        );
    }
}

#[test]
fn outcomes_delivered_before_the_run_starts_wait_for_it() {
    let mut arena = Arena::new();
    let graph = chain(&mut arena);
    let a = graph.find("a").unwrap();
    let b = graph.find("b").unwrap();
    let part = graph.part(|t| t.index() == 2);
    let feed = Arc::new(graph.remote_feed(&part));
    feed.deliver(
        a,
        RemoteOutcome::Succeeded {
            output: None,
            chose: None,
        },
    )
    .unwrap();
    feed.deliver(
        b,
        RemoteOutcome::Succeeded {
            output: Some(20),
            chose: None,
        },
    )
    .unwrap();
    assert_eq!(feed.delivered(), 2);
    let told = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&told);
    let report = executor(2)
        .run_part(&graph, &RunOptions::new(), &part, feed, move |s| {
            assert_eq!(s.task.index(), 2);
            count.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    assert_eq!(report.output("c"), Some(&21));
    assert_eq!(
        report.output("a"),
        None,
        "a ran elsewhere and nobody here read it"
    );
    assert_eq!(report.state("a"), Some(State::Succeeded));
    assert_eq!(
        told.load(Ordering::SeqCst),
        1,
        "only the owned task is told"
    );
}

#[test]
fn a_feed_refuses_owned_unknown_and_repeated_tasks_by_name() {
    let mut arena = Arena::new();
    let graph = chain(&mut arena);
    let part = graph.part(|t| t.index() == 1);
    let feed = graph.remote_feed(&part);
    let done = || RemoteOutcome::<u64>::Cancelled(None);
    let err = feed.deliver(TaskId::new(1), done()).unwrap_err();
    assert!(matches!(err, DeliveryError::OwnedHere { .. }));
    assert!(err.to_string().contains("`b`"), "{err}");
    let err = feed.deliver(TaskId::new(9), done()).unwrap_err();
    assert!(
        matches!(err, DeliveryError::NotInGraph { tasks: 3, .. }),
        "{err}"
    );
    // An outcome that names a task the graph does not have: from a
    // corrupt or foreign message, refused before it is recorded.
    let outside = [
        RemoteOutcome::<u64>::Skipped(Skip::UpstreamFailed(TaskId::new(7))),
        RemoteOutcome::Cancelled(Some(StopReason::CancelledByTask(TaskId::new(3)))),
        RemoteOutcome::Succeeded {
            output: None,
            chose: Some(vec![TaskId::new(1), TaskId::new(u32::MAX)]),
        },
    ];
    for outcome in outside {
        let err = feed.deliver(TaskId::new(0), outcome).unwrap_err();
        assert!(
            matches!(err, DeliveryError::NamesOutside { tasks: 3, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("`a`"), "{err}");
    }
    feed.deliver(TaskId::new(0), done()).unwrap();
    let err = feed.deliver(TaskId::new(0), done()).unwrap_err();
    assert!(matches!(err, DeliveryError::AlreadyDelivered { .. }));
    assert!(err.to_string().contains("`a`"), "{err}");
}

#[test]
fn a_part_or_feed_of_another_graph_and_a_used_feed_are_refused() {
    let mut one = Arena::new();
    let mut two = Arena::new();
    let graph = chain(&mut one);
    let other = chain(&mut two);
    let part = other.part(|_| true);
    let feed = Arc::new(graph.remote_feed(&graph.part(|_| true)));
    let exec = executor(1);
    let err = exec
        .run_part(&graph, &RunOptions::new(), &part, feed, |_| {})
        .unwrap_err();
    assert_eq!(err, PartError::OtherGraph);
    let part = graph.part(|_| true);
    let feed = Arc::new(graph.remote_feed(&part));
    let report = exec
        .run_part(&graph, &RunOptions::new(), &part, Arc::clone(&feed), |_| {})
        .unwrap();
    assert!(
        report.is_success(),
        "a part that owns everything is a whole run"
    );
    let err = exec
        .run_part(&graph, &RunOptions::new(), &part, feed, |_| {})
        .unwrap_err();
    assert_eq!(err, PartError::FeedUsed);
}

#[test]
fn a_part_that_owns_nothing_records_every_delivered_outcome() {
    let mut arena = Arena::new();
    let graph = chain(&mut arena);
    let part = graph.part(|_| false);
    let feed = Arc::new(graph.remote_feed(&part));
    let delivering = Arc::clone(&feed);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            for v in 0..3 {
                let outcome = RemoteOutcome::Succeeded {
                    output: Some(v),
                    chose: None,
                };
                delivering.deliver(TaskId::new(v as u32), outcome).unwrap();
            }
        });
        let report = executor(2)
            .run_part(&graph, &RunOptions::new(), &part, feed, |_| {
                unreachable!("no task is owned")
            })
            .unwrap();
        assert!(report.is_success());
        assert_eq!(report.output("c"), Some(&2));
    });
}

/// Outcomes that arrive late, from a relay thread, as `kahn-timely`
/// delivers them: each part's ends go through a channel to a relay that
/// hands them on after a short pause.
#[test]
fn late_deliveries_from_a_relay_thread_still_end_every_part() {
    use std::sync::mpsc;
    for seed in 0..40u64 {
        let parts = 4;
        let case = SplitCase::from_seed(seed, 120, parts);
        let mut arena = Arena::new();
        let graph = case.build(&mut arena);
        let whole = executor(2).run(&graph);
        let part: Vec<Part> = (0..parts)
            .map(|i| graph.part(|t| case.owner[t.index()] == i))
            .collect();
        let feeds: Vec<Arc<RemoteFeed<'_, u64>>> = part
            .iter()
            .map(|p| Arc::new(graph.remote_feed(p)))
            .collect();
        let (tx, rx) = mpsc::channel::<(usize, TaskId, RemoteOutcome<u64>)>();
        let reports: Vec<Report<'_, u64>> = std::thread::scope(|scope| {
            let relay_feeds = feeds.clone();
            scope.spawn(move || {
                for (from, task, outcome) in rx {
                    std::thread::sleep(Duration::from_micros(200));
                    relay_feeds[from].deliver(task, outcome).unwrap();
                }
            });
            let runs: Vec<_> = (0..parts)
                .map(|i| {
                    let tx = tx.clone();
                    let outbox = move |settled: Settled<'_, u64>| {
                        for j in (0..parts).filter(|&j| j != i) {
                            tx.send((j, settled.task, settled.to_remote(true))).unwrap();
                        }
                    };
                    let (part, feed, graph) = (&part[i], Arc::clone(&feeds[i]), &graph);
                    scope.spawn(move || {
                        executor(2)
                            .run_part(graph, &RunOptions::new(), part, feed, outbox)
                            .unwrap()
                    })
                })
                .collect();
            drop(tx);
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        for (i, report) in reports.iter().enumerate() {
            same_run(&graph, &whole, report, |t| case.owner[t.index()] == i)
                .unwrap_or_else(|why| panic!("seed {seed}, part {i}: {why}"));
        }
    }
}
