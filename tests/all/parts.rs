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
    RemoteOutcome, Report, RunOptions, Settled, Skip, State, StopReason, TaskContext, TaskId,
    TriggerRule,
};
use kahn_test_support::dags::{any_dag, cases};
use kahn_test_support::executor;
use proptest::prelude::*;

/// How a task of a [`Case`] ends when it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Succeed,
    Fail,
    Panic,
}

/// A DAG whose tasks end as their fates say, some with trigger rules, some
/// branching (choosing the successors whose bit is set in `choice`).
#[derive(Debug, Clone)]
struct Case {
    n: usize,
    edges: Vec<(u32, u32)>,
    fates: Vec<Fate>,
    rules: Vec<TriggerRule>,
    branching: Vec<bool>,
    choice: u64,
    /// Which part runs each task, and how many parts there are.
    owner: Vec<usize>,
    parts: usize,
}

fn any_case(max_n: usize) -> impl Strategy<Value = Case> {
    (any_dag(max_n), any::<u64>(), 1..=4usize).prop_map(|((n, edges), seed, parts)| {
        let pick = |v: usize, salt: u64| mix(seed ^ salt, v as u64);
        let fates = (0..n)
            .map(|v| match pick(v, 1) % 100 {
                0..=4 => Fate::Fail,
                5..=7 => Fate::Panic,
                _ => Fate::Succeed,
            })
            .collect();
        let rules = (0..n)
            .map(|v| match pick(v, 2) % 10 {
                0 => TriggerRule::AllDone,
                1 => TriggerRule::NoneFailed,
                2 => TriggerRule::OneFailed,
                _ => TriggerRule::AllSucceeded,
            })
            .collect();
        let branching = (0..n).map(|v| pick(v, 3) % 8 == 0).collect();
        let owner = (0..n)
            .map(|v| (pick(v, 4) % parts as u64) as usize)
            .collect();
        Case {
            n,
            edges,
            fates,
            rules,
            branching,
            choice: pick(0, 5),
            owner,
            parts,
        }
    })
}

/// A 64-bit mixing step (splitmix64's finalizer over `h` and `x`).
fn mix(h: u64, x: u64) -> u64 {
    let mut z = h.rotate_left(23) ^ x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Builds `case`: each task's output mixes its id with its inputs; a
/// branching task chooses its successors by `case.choice`.
fn build<'a>(arena: &'a mut Arena, case: &Case) -> Graph<'a, u64> {
    let mut successors = vec![Vec::new(); case.n];
    for &(u, v) in &case.edges {
        successors[u as usize].push(TaskId::new(v));
    }
    let mut b = arena.builder::<u64>();
    for (v, successors) in successors.iter().enumerate() {
        let fate = case.fates[v];
        let chosen: Vec<TaskId> = successors
            .iter()
            .copied()
            .filter(|w| mix(case.choice, w.index() as u64).is_multiple_of(2))
            .collect();
        let branching = case.branching[v];
        b.unnamed_task(move |ctx: &TaskContext<'_, u64>| {
            let mut h = mix(0, v as u64);
            for (p, x) in ctx.inputs() {
                h = mix(mix(h, p.index() as u64), *x);
            }
            if branching {
                ctx.branch(chosen.iter().copied())?;
            }
            match fate {
                Fate::Succeed => Ok(h),
                Fate::Fail => Err(format!("task {v} fails").into()),
                Fate::Panic => std::panic::resume_unwind(Box::new(format!("task {v} panics"))),
            }
        })
        .unwrap();
    }
    b.edges(
        case.edges
            .iter()
            .map(|&(u, v)| (TaskId::new(u), TaskId::new(v))),
    )
    .unwrap();
    for v in 0..case.n {
        let task = TaskId::new(v as u32);
        b.trigger_rule(task, case.rules[v]).unwrap();
        if case.branching[v] {
            b.branching(task).unwrap();
        }
    }
    b.build().unwrap()
}

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

/// Every task of `part` ends as in `whole`, and every output `part` holds
/// is `whole`'s; the tasks `owned` holds all their outputs. A skip is for a
/// failure in both or for a choice in both; the deciding task may differ
/// where several reach a task (a report names whichever reached it first,
/// in one piece as in parts), but must be one that decides it: an ancestor
/// (or the task itself, for its own rule) that failed, branched or whose
/// rule did not hold.
fn same_run(
    graph: &Graph<'_, u64>,
    whole: &Report<'_, u64>,
    part: &Report<'_, u64>,
    owned: impl Fn(TaskId) -> bool,
) -> Result<(), String> {
    for (w, p) in whole.tasks().zip(part.tasks()) {
        let task = w.id;
        let (ws, ps) = (w.outcome.state(), p.outcome.state());
        let same_kind = match (w.outcome.skip(), p.outcome.skip()) {
            (None, None) => true,
            (Some(a), Some(b)) => by_failure(a) == by_failure(b) && decides(graph, whole, task, b),
            _ => false,
        };
        if ws != ps || !same_kind {
            return Err(format!(
                "task {task}: {ws:?} ({:?}) in the whole run, {ps:?} ({:?}) in the part",
                w.outcome.skip(),
                p.outcome.skip()
            ));
        }
        match (whole.output(task), part.output(task)) {
            (Some(a), Some(b)) if a != b => {
                return Err(format!("task {task}: output {a} whole, {b} in the part"))
            }
            (Some(_), None) if owned(task) => {
                return Err(format!("task {task}: the part that ran it lost its output"))
            }
            (None, Some(_)) => return Err(format!("task {task}: an output the whole run has not")),
            _ => {}
        }
    }
    if whole.counts() != part.counts() {
        return Err(format!(
            "counts {:?} whole, {:?} in the part",
            whole.counts(),
            part.counts()
        ));
    }
    Ok(())
}

fn by_failure(skip: Skip) -> bool {
    matches!(skip, Skip::UpstreamFailed(_))
}

/// Whether `skip` can be why `task` was skipped: its deciding task is the
/// task itself or an ancestor, and ended as that kind of skip needs.
fn decides(graph: &Graph<'_, u64>, whole: &Report<'_, u64>, task: TaskId, skip: Skip) -> bool {
    let by = skip.task();
    let state = whole.state(by);
    let kind = match skip {
        Skip::UpstreamFailed(_) => {
            matches!(
                state,
                Some(State::Failed | State::Panicked | State::TimedOut)
            )
        }
        Skip::BranchNotTaken(_) => state == Some(State::Succeeded) && graph.is_branching(by),
        _ => true,
    };
    kind && (by == task || is_ancestor(graph, by, task))
}

fn is_ancestor(graph: &Graph<'_, u64>, of: TaskId, task: TaskId) -> bool {
    let mut seen = vec![false; graph.task_count()];
    let mut todo = vec![task];
    while let Some(v) = todo.pop() {
        for p in graph.predecessors(v) {
            if p == of {
                return true;
            }
            if !std::mem::replace(&mut seen[p.index()], true) {
                todo.push(p);
            }
        }
    }
    false
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
        case in any_case(if cfg!(miri) { 10 } else { 120 }),
        threads in prop::sample::select(vec![1usize, 2, 4]),
        own_executors in any::<bool>(),
    ) {

        let mut arena = Arena::new();
        let graph = build(&mut arena, &case);
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
