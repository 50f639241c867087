//! Observers and live progress: every event once and in order, agreeing with the report, on random graphs and on every kind of end; progress counts read mid-run and at the end.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kahn::{
    Arena, CancelToken, Executor, Observer, Outcome, Progress, Report, RetryPolicy, RunEnded,
    RunId, RunOptions, RunStarted, Skip, State, TaskFinished, TaskId, TaskRetried, TaskSkipped,
    TaskStarted, TriggerRule,
};
use kahn_test_support::dags::{any_dag, cases};
use kahn_test_support::{bounded, executor, executors, intend_panic, wait_until};
use proptest::prelude::*;

/// One event, as the recorder keeps it.
#[derive(Debug, Clone, PartialEq)]
enum Event {
    RunStarted(RunId, usize, usize),
    Started(RunId, TaskId, usize, u32),
    Finished(RunId, TaskId, usize, u32, State, Option<String>),
    Retried(RunId, TaskId, usize, u32, String),
    Skipped(RunId, TaskId, State, Option<Skip>),
    RunEnded(RunId, kahn::Counts),
}

/// Keeps every event, in the order the hooks were called (a lock orders
/// them: a hook that happened before another is before it here).
#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

impl Recorder {
    fn push(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }

    fn take(&self) -> Vec<Event> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

impl Observer for Recorder {
    fn run_started(&self, run: &RunStarted) {
        self.push(Event::RunStarted(run.run, run.tasks, run.carried_over));
    }
    fn task_started(&self, t: &TaskStarted<'_>) {
        self.push(Event::Started(t.run, t.id, t.worker, t.attempt));
    }
    fn task_finished(&self, t: &TaskFinished<'_>) {
        let failure = t.failure.map(ToString::to_string);
        self.push(Event::Finished(
            t.run, t.id, t.worker, t.attempt, t.state, failure,
        ));
    }
    fn task_retried(&self, t: &TaskRetried<'_>) {
        self.push(Event::Retried(
            t.run,
            t.id,
            t.worker,
            t.attempt,
            t.failure.to_string(),
        ));
    }
    fn task_skipped(&self, t: &TaskSkipped<'_>) {
        self.push(Event::Skipped(t.run, t.id, t.state, t.reason));
    }
    fn run_ended(&self, run: &RunEnded) {
        self.push(Event::RunEnded(run.run, run.counts));
    }
}

/// Checks `events` (of one run) against `report` of a graph with `preds`
/// (each task's direct predecessors): framed by run start and end, every
/// task's events in order and as the report says it ended, each task's
/// end before anything of its successors.
fn check_events<T>(events: &[Event], report: &Report<'_, T>, preds: &[Vec<u32>]) {
    let n = report.task_count();
    let Some(Event::RunStarted(run, tasks, carried)) = events.first() else {
        panic!("the run starts first: {events:?}");
    };
    assert_eq!(*tasks, n);
    assert_eq!(*carried, report.counts().carried_over);
    let Some(Event::RunEnded(end_run, counts)) = events.last() else {
        panic!("the run ends last: {events:?}");
    };
    assert_eq!((end_run, *counts), (run, report.counts()));
    // Where each task ended (index into `events`), and its events in order.
    let mut ended_at = vec![None; n];
    let mut started_at = vec![None; n];
    let mut per_task: Vec<Vec<&Event>> = vec![Vec::new(); n];
    for (at, event) in events[1..events.len() - 1].iter().enumerate() {
        let (r, id) = match event {
            Event::Started(r, id, ..)
            | Event::Finished(r, id, ..)
            | Event::Retried(r, id, ..)
            | Event::Skipped(r, id, ..) => (r, id),
            other => panic!("one start and one end per run: {other:?}"),
        };
        assert_eq!(r, run, "one run's events");
        let v = id.index();
        assert!(
            ended_at[v].is_none(),
            "nothing after a task's end: {event:?}"
        );
        match event {
            Event::Finished(..) | Event::Skipped(..) => ended_at[v] = Some(at),
            Event::Started(..) if started_at[v].is_none() => started_at[v] = Some(at),
            _ => {}
        }
        per_task[v].push(event);
    }
    for v in 0..n {
        let id = TaskId::new(v as u32);
        let state = report.state(id).unwrap();
        if report.carried_over(id) {
            assert!(per_task[v].is_empty(), "a carried task has no events");
            continue;
        }
        let end = ended_at[v].unwrap_or_else(|| panic!("task {v} never ended: {events:?}"));
        for &p in &preds[v] {
            if report.carried_over(TaskId::new(p)) {
                continue;
            }
            let first = started_at[v].unwrap_or(end);
            assert!(
                ended_at[p as usize].unwrap() < first,
                "task {p} ended before its successor {v} did anything"
            );
        }
        // Attempts: (started, retried)*, then started + finished, or a skip.
        let events = &per_task[v];
        let mut attempt = 0;
        let mut i = 0;
        while i + 1 < events.len() {
            let Event::Started(_, _, worker, a) = events[i] else {
                panic!("task {v}: {events:?}");
            };
            attempt += 1;
            assert_eq!(*a, attempt, "attempts count from 1");
            match events[i + 1] {
                Event::Retried(_, _, w, a, _) => assert_eq!((w, a), (worker, &attempt)),
                Event::Finished(_, _, w, a, s, failure) => {
                    assert_eq!((w, a, *s), (worker, &attempt, state), "task {v}");
                    assert_eq!(
                        failure.is_some(),
                        matches!(s, State::Failed | State::Panicked | State::TimedOut),
                        "task {v}: {failure:?}"
                    );
                    if let Some(Outcome::Failed(error)) = report.outcome(id) {
                        assert_eq!(failure.clone(), Some(format!("failed: {error}")));
                    }
                }
                ref other => panic!("task {v}: {other:?} after a start"),
            }
            i += 2;
        }
        match events.get(i) {
            None => {}
            Some(Event::Skipped(_, _, s, reason)) => {
                assert_eq!(*s, state, "task {v}");
                let expected = match report.outcome(id).unwrap() {
                    Outcome::Skipped { cause } => Some(Skip::UpstreamFailed(cause)),
                    Outcome::NotTriggered { cause } => Some(Skip::NotTriggered(cause)),
                    Outcome::BranchNotTaken { branch } => Some(Skip::BranchNotTaken(branch)),
                    _ => None,
                };
                assert_eq!(*reason, expected, "task {v}");
            }
            Some(other) => panic!("task {v}: {other:?} last"),
        }
        assert_eq!(attempt, report.attempts(id), "task {v}: {events:?}");
        // A stop that cut a retry wait made the retried attempt the last.
        let cut = matches!(events.last(), Some(Event::Skipped(_, _, State::Failed, _)));
        assert_eq!(
            per_task[v]
                .iter()
                .filter(|e| matches!(e, Event::Retried(..)))
                .count(),
            report.failed_attempts(id).len() + usize::from(cut)
        );
    }
}

fn predecessors(n: usize, edges: &[(u32, u32)]) -> Vec<Vec<u32>> {
    let mut preds = vec![Vec::new(); n];
    for &(a, b) in edges {
        preds[b as usize].push(a);
    }
    preds
}

#[test]
fn an_observer_sees_every_kind_of_end_in_order() {
    bounded(|| {
        for exec in executors() {
            let mut arena = Arena::new();
            let mut b = arena.builder::<u32>();
            let calls = Arc::new(Mutex::new(0));
            let flaky_calls = Arc::clone(&calls);
            b.task("extract", |_| Ok(1)).unwrap(); // 0
            b.task("flaky", move |_| {
                let mut calls = flaky_calls.lock().unwrap();
                *calls += 1;
                if *calls < 3 {
                    return Err(format!("reset {calls}").into());
                }
                Ok(2)
            })
            .unwrap(); // 1
            b.task("parse", |_| Err("row 7 is malformed".into()))
                .unwrap(); // 2
            b.task("load", |ctx| Ok(*ctx.input("parse")?)).unwrap(); // 3
            b.task("bug", |_| {
                intend_panic();
                panic!("a bug")
            })
            .unwrap(); // 4
            b.task("alert", |_| Ok(0)).unwrap(); // 5
            b.task("choose", |ctx| {
                ctx.branch(["left"])?;
                Ok(0)
            })
            .unwrap(); // 6
            b.task("left", |_| Ok(0)).unwrap(); // 7
            b.task("right", |_| Ok(0)).unwrap(); // 8
            b.task("after_right", |_| Ok(0)).unwrap(); // 9
            b.task("cleanup", |_| Ok(0)).unwrap(); // 10
            let edges = [
                (0, 1),
                (0, 2),
                (2, 3),
                (1, 5),
                (0, 6),
                (6, 7),
                (6, 8),
                (8, 9),
                (3, 10),
                (4, 10),
            ];
            b.edges(edges.iter().map(|&(a, c)| (TaskId::new(a), TaskId::new(c))))
                .unwrap();
            b.branching("choose").unwrap();
            b.trigger_rule("alert", TriggerRule::OneFailed).unwrap();
            b.trigger_rule("cleanup", TriggerRule::AllDone).unwrap();
            let zero = Duration::ZERO;
            b.retry("flaky", RetryPolicy::attempts(3).backoff(zero, 1.0, zero))
                .unwrap();
            let graph = b.build().unwrap();
            let recorder = Arc::new(Recorder::default());
            let options = RunOptions::new().observer(recorder.clone());
            let report = exec.run_with(&graph, &options);
            let events = recorder.take();
            check_events(&events, &report, &predecessors(11, &edges));
            // Every kind showed up.
            assert_eq!(report.attempts("flaky"), 3);
            assert_eq!(report.state("load"), Some(State::Skipped));
            assert!(matches!(
                report.outcome("alert"),
                Some(Outcome::NotTriggered { .. })
            ));
            assert!(matches!(
                report.outcome("right"),
                Some(Outcome::BranchNotTaken { .. })
            ));
            assert_eq!(report.state("cleanup"), Some(State::Succeeded));
            assert!(events.iter().any(|e| matches!(
                e,
                Event::Finished(_, _, _, 1, State::Panicked, Some(m)) if m == "panicked: a bug"
            )));
            assert!(events.iter().any(|e| matches!(
                e,
                Event::Retried(_, _, _, 2, m) if m == "failed: reset 2"
            )));
            *calls.lock().unwrap() = 0;
        }
    });
}

#[test]
fn stops_show_as_cancelled_and_cut_retries_as_failed() {
    let exec = executor(2);
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let tried = AtomicBool::new(false);
    b.task("down", |_| {
        tried.store(true, Ordering::SeqCst);
        Err("connection refused".into())
    })
    .unwrap();
    b.task("sensor", |ctx| {
        // Stops the run once `down` waits for its second attempt.
        assert!(wait_until(Duration::from_secs(60), || tried.load(Ordering::SeqCst)));
        std::thread::sleep(Duration::from_millis(20));
        ctx.cancel_run();
        Ok(())
    })
    .unwrap();
    b.task("later", |_| Ok(())).unwrap();
    b.edge("sensor", "later").unwrap();
    b.retry(
        "down",
        RetryPolicy::attempts(3).delay(Duration::from_secs(60)),
    )
    .unwrap();
    let graph = b.build().unwrap();
    let recorder = Arc::new(Recorder::default());
    let report = exec.run_with(&graph, &RunOptions::new().observer(recorder.clone()));
    let events = recorder.take();
    check_events(&events, &report, &[vec![], vec![], vec![1]]);
    assert!(events.contains(&Event::Skipped(
        match events[0] {
            Event::RunStarted(run, ..) => run,
            _ => unreachable!(),
        },
        TaskId::new(0),
        State::Failed,
        None
    )));
    assert_eq!(report.state("later"), Some(State::Cancelled));
}

#[test]
fn one_observer_tells_concurrent_runs_apart() {
    let exec = executor(2);
    let mut arena = Arena::new();
    let mut b = arena.builder::<u32>();
    for i in 0..50 {
        b.task(&format!("t{i}"), |ctx| Ok(*ctx.run_input::<u32>()?))
            .unwrap();
    }
    let graph = b.build().unwrap();
    let recorder = Arc::new(Recorder::default());
    let options = |i: u32| RunOptions::new().observer(recorder.clone()).input(i);
    let (first, second) = std::thread::scope(|s| {
        let first = s.spawn(|| exec.run_with(&graph, &options(1)));
        let second = exec.run_with(&graph, &options(2));
        (first.join().unwrap(), second)
    });
    let events = recorder.take();
    let runs: Vec<RunId> = events
        .iter()
        .filter_map(|e| match e {
            Event::RunStarted(run, ..) => Some(*run),
            _ => None,
        })
        .collect();
    assert_eq!(runs.len(), 2);
    assert_ne!(runs[0], runs[1]);
    let of = |run: RunId| -> Vec<Event> {
        events
            .iter()
            .filter(|e| match e {
                Event::RunStarted(r, ..)
                | Event::Started(r, ..)
                | Event::Finished(r, ..)
                | Event::Retried(r, ..)
                | Event::Skipped(r, ..)
                | Event::RunEnded(r, ..) => *r == run,
            })
            .cloned()
            .collect()
    };
    // Both runs end alike, so either report checks either run's events.
    check_events(&of(runs[0]), &first, &vec![vec![]; 50]);
    check_events(&of(runs[1]), &second, &vec![vec![]; 50]);
    assert_eq!(first.output("t7"), Some(&1));
    assert_eq!(second.output("t7"), Some(&2));
}

#[test]
fn a_resumed_run_tells_only_what_runs_again() {
    let exec = executor(2);
    let fixed = AtomicBool::new(false);
    let mut arena = Arena::new();
    let mut b = arena.builder::<u32>();
    b.task("extract", |_| Ok(1)).unwrap();
    b.task("parse", |ctx| {
        if fixed.load(Ordering::SeqCst) {
            Ok(ctx.input("extract")? + 1)
        } else {
            Err("malformed".into())
        }
    })
    .unwrap();
    b.edge("extract", "parse").unwrap();
    let graph = b.build().unwrap();
    let recorder = Arc::new(Recorder::default());
    let options = RunOptions::new().observer(recorder.clone());
    let first = exec.run_with(&graph, &options);
    check_events(&recorder.take(), &first, &[vec![], vec![0]]);
    fixed.store(true, Ordering::SeqCst);
    let second = exec.resume_with(&graph, first, &options).unwrap();
    let events = recorder.take();
    check_events(&events, &second, &[vec![], vec![0]]);
    assert!(matches!(events[0], Event::RunStarted(_, 2, 1)));
    assert_eq!(events.len(), 4, "start, parse's start and finish, end");
}

/// A random DAG whose tasks fail where `fails` says.
fn run_random(
    exec: &Executor,
    n: usize,
    edges: &[(u32, u32)],
    fails: &[bool],
    options: &RunOptions,
) -> (Vec<Event>, Vec<Vec<u32>>, kahn::Counts) {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    for &fail in &fails[..n] {
        b.unnamed_task(move |_| if fail { Err("no".into()) } else { Ok(()) })
            .unwrap();
    }
    b.edges(edges.iter().map(|&(a, c)| (TaskId::new(a), TaskId::new(c))))
        .unwrap();
    let graph = b.build().unwrap();
    let recorder = Arc::new(Recorder::default());
    let report = exec.run_with(&graph, &options.clone().observer(recorder.clone()));
    let events = recorder.take();
    let preds = predecessors(n, edges);
    check_events(&events, &report, &preds);
    (events, preds, report.counts())
}

proptest! {
    #![proptest_config(cases(48, 4))]

    #[test]
    fn observers_agree_with_reports_on_random_graphs(
        (n, edges) in any_dag(40),
        fails in proptest::collection::vec(proptest::bool::weighted(0.15), 40),
        fail_fast in any::<bool>(),
    ) {
        bounded(move || {
            for exec in executors() {
                let options = if fail_fast { RunOptions::new().fail_fast() } else { RunOptions::new() };
                run_random(exec, n, &edges, &fails, &options);
            }
        });
    }
}

#[test]
fn progress_counts_while_a_run_is_under_way_and_after() {
    bounded(|| {
        for exec in executors() {
            let progress = Progress::new();
            assert_eq!(progress.counts(), Default::default(), "no run yet");
            let gate = AtomicBool::new(false);
            let mut arena = Arena::new();
            let mut b = arena.builder::<()>();
            for i in 0..10 {
                b.task(&format!("quick{i}"), |_| Ok(())).unwrap();
            }
            b.task("fails", |_| Err("no".into())).unwrap();
            b.task("skipped", |_| Ok(())).unwrap();
            b.task("slow", |_| {
                while !gate.load(Ordering::SeqCst) {
                    std::thread::yield_now();
                }
                Ok(())
            })
            .unwrap();
            b.task("last", |_| Ok(())).unwrap();
            b.edges_by_name([("fails", "skipped"), ("slow", "last")])
                .unwrap();
            let graph = b.build().unwrap();
            let options = RunOptions::new().progress(progress.clone());
            std::thread::scope(|s| {
                let run = s.spawn(|| exec.run_with(&graph, &options));
                // While `slow` runs, everything else but `last` has ended.
                assert!(wait_until(Duration::from_secs(60), || {
                    let c = progress.counts();
                    c.done() == 12 && c.running == 1
                }));
                let c = progress.counts();
                assert_eq!(
                    (
                        c.total,
                        c.succeeded,
                        c.failed,
                        c.skipped,
                        c.running,
                        c.pending
                    ),
                    (14, 10, 1, 1, 1, 1),
                    "{c:?}"
                );
                assert!(!c.finished);
                gate.store(true, Ordering::SeqCst);
                let report = run.join().unwrap();
                let c = progress.counts();
                assert!(c.finished);
                let counts = report.counts();
                assert_eq!(
                    (
                        c.succeeded,
                        c.failed,
                        c.skipped,
                        c.cancelled,
                        c.running,
                        c.pending
                    ),
                    (counts.succeeded, counts.failed, counts.skipped, 0, 0, 0)
                );
                assert_eq!(c.done(), c.total);
            });
        }
    });
}

#[test]
fn progress_counts_retries_carried_tasks_and_stops() {
    let exec = executor(2);
    let progress = Progress::new();
    let token = CancelToken::new();
    let mut arena = Arena::new();
    let mut b = arena.builder::<u32>();
    let calls = Mutex::new(0);
    b.task("extract", |_| Ok(1)).unwrap();
    b.task("flaky", |_| {
        let mut calls = calls.lock().unwrap();
        *calls += 1;
        if *calls < 3 {
            return Err("reset".into());
        }
        Ok(2)
    })
    .unwrap();
    b.task("parse", |ctx| {
        ctx.input("extract")?;
        Err("malformed".into())
    })
    .unwrap();
    b.edges_by_name([("extract", "parse"), ("extract", "flaky")])
        .unwrap();
    b.retry("flaky", RetryPolicy::attempts(3)).unwrap();
    let graph = b.build().unwrap();
    let options = RunOptions::new().progress(progress.clone());
    let first = exec.run_with(&graph, &options);
    let c = progress.counts();
    assert_eq!((c.succeeded, c.failed, c.retried, c.done()), (2, 1, 2, 3));
    // A resume counts what it carries over as succeeded from the start.
    let second = exec.resume_with(&graph, first, &options).unwrap();
    let c = progress.counts();
    assert_eq!((c.succeeded, c.failed, c.retried), (2, 1, 0), "{second}");
    // A run cancelled before it starts counts its tasks cancelled.
    token.cancel();
    exec.run_with(&graph, &options.clone().cancel_token(token));
    let c = progress.counts();
    assert_eq!((c.cancelled, c.done(), c.finished), (3, 3, true));
}

/// Keeps what [`TaskSkipped::why`] says of each skipped task.
#[derive(Default)]
struct Whys(Mutex<Vec<(String, String)>>);

impl Observer for Whys {
    fn task_skipped(&self, t: &TaskSkipped<'_>) {
        let why = t.why().map_or_else(|| "-".to_owned(), |w| w.to_string());
        self.0.lock().unwrap().push((t.label().to_string(), why));
    }
}

#[test]
fn a_skipped_task_says_why_naming_the_task_that_decided() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<u32>();
    b.task("extract", |_| Ok(1)).unwrap();
    b.task("parse", |_| Err("row 7 is malformed".into()))
        .unwrap();
    b.task("load", |ctx| Ok(*ctx.input("parse")?)).unwrap();
    b.task("alert", |_| Ok(0)).unwrap();
    b.task("page_log", |_| Ok(0)).unwrap();
    b.task("route", |ctx| {
        ctx.branch(["left"])?;
        Ok(0)
    })
    .unwrap();
    b.task("left", |_| Ok(0)).unwrap();
    b.task("right", |_| Ok(0)).unwrap();
    let below = b.unnamed_task(|_| Ok(0)).unwrap();
    b.edges_by_name([
        ("extract", "parse"),
        ("parse", "load"),
        ("extract", "alert"),
        ("alert", "page_log"),
        ("extract", "route"),
        ("route", "left"),
        ("route", "right"),
    ])
    .unwrap();
    b.edge(below, "page_log").unwrap();
    b.edge("parse", below).unwrap();
    b.branching("route").unwrap();
    b.trigger_rule("alert", TriggerRule::OneFailed).unwrap();
    let graph = b.build().unwrap();
    let whys = Arc::new(Whys::default());
    let report = executor(2).run_with(&graph, &RunOptions::new().observer(whys.clone()));
    let mut seen = whys.0.lock().unwrap().clone();
    seen.sort();
    let want = [
        ("`alert`", "not triggered: its trigger rule did not hold"),
        ("`load`", "upstream `parse` did not succeed"),
        ("`page_log`", "upstream `parse` did not succeed"),
        ("`right`", "branch not taken at `route`"),
        ("task #8", "upstream `parse` did not succeed"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|&(t, w)| (t.to_owned(), w.to_owned()))
        .collect();
    assert_eq!(seen, want, "{report}");
    // `Skip` alone shows the deciding task by id.
    let skip = |name| report.summary().tasks[graph.find(name).unwrap().index()].skipped;
    assert_eq!(
        skip("right").unwrap().to_string(),
        "branch not taken at task #5"
    );
    assert_eq!(
        skip("load").unwrap().to_string(),
        "upstream task #1 did not succeed"
    );
    assert_eq!(
        skip("alert").unwrap().to_string(),
        "not triggered: the trigger rule of task #3 did not hold"
    );
    assert_eq!(skip("alert").unwrap().task(), TaskId::new(3));
}
