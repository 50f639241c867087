//! `Report::summary`: an owned account of a run that outlives the graph,
//! and (feature `serde`) round-trips through JSON.

use std::time::Duration;

use kahn::{Arena, RetryPolicy, RunOptions, Skip, State, TaskId, TriggerRule};

use kahn_test_support::{cancelling_pair, executor};

fn summary_of_a_mixed_run() -> kahn::RunSummary {
    let mut arena = Arena::new();
    let mut b = arena.builder::<u32>();
    b.task("extract", |_| Ok(1)).unwrap();
    b.task("parse", |_| Err("row 7: expected 6 fields, found 7".into()))
        .unwrap();
    b.task("load", |ctx| Ok(*ctx.input("parse")?)).unwrap();
    b.task("flaky", |ctx| {
        if ctx.attempt() < 3 {
            return Err("connection reset".into());
        }
        Ok(3)
    })
    .unwrap();
    b.task("alert", |_| Ok(0)).unwrap();
    b.task("moved", |ctx| ctx.take_input("extract").map_err(Into::into))
        .unwrap();
    b.unnamed_task(|_| {
        kahn_test_support::intend_panic();
        panic!("a bug")
    })
    .unwrap();
    b.edges_by_name([("extract", "moved"), ("parse", "load"), ("flaky", "alert")])
        .unwrap();
    b.trigger_rule("alert", TriggerRule::OneFailed).unwrap();
    let zero = Duration::ZERO;
    b.retry("flaky", RetryPolicy::attempts(3).backoff(zero, 1.0, zero))
        .unwrap();
    let graph = b.build().unwrap();
    let report = executor(2).run_with(&graph, &RunOptions::new().record_timings(true));
    report.summary()
}

#[test]
fn a_summary_tells_every_outcome_and_outlives_the_graph() {
    let summary = summary_of_a_mixed_run();
    let task = |name: &str| {
        summary
            .tasks
            .iter()
            .find(|t| t.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing: {summary:?}"))
    };
    assert_eq!(summary.tasks.len(), 7);
    assert_eq!(summary.counts.failed, 1);
    assert_eq!(summary.counts.panicked, 1);
    assert_eq!(summary.stopped, None);
    assert_eq!(summary.stopped_at, None);
    assert!(summary.wall_time > Duration::ZERO);

    let parse = task("parse");
    assert_eq!(parse.state, State::Failed);
    assert_eq!(
        parse.error.as_deref(),
        Some("row 7: expected 6 fields, found 7")
    );
    assert_eq!(parse.attempts, 1);
    let load = task("load");
    assert_eq!(load.state, State::Skipped);
    assert_eq!(load.skipped, Some(Skip::UpstreamFailed(TaskId::new(1))));
    assert_eq!(load.attempts, 0);
    assert_eq!(load.timing, None);
    // Skipped once `parse` had failed, and the run knows when: timings were
    // recorded. Tasks that ran have a timing instead.
    let parse_end = parse.timing.map(|t| t.start + t.duration).expect("it ran");
    let skipped = load.settled_at.expect("skipped in a timed run");
    assert!(parse_end <= skipped && skipped <= summary.wall_time);
    assert_eq!(parse.settled_at, None);
    let flaky = task("flaky");
    assert_eq!((flaky.state, flaky.attempts), (State::Succeeded, 3));
    assert_eq!(flaky.failed_attempts.len(), 2);
    assert_eq!(flaky.attempt_timings.len(), 2, "one per failed attempt");
    assert!(flaky.attempt_timings[1].start >= flaky.attempt_timings[0].start);
    assert!(task("parse").attempt_timings.is_empty());
    assert!(
        flaky.failed_attempts[0].contains("connection reset"),
        "{flaky:?}"
    );
    assert_eq!(
        task("alert").skipped,
        Some(Skip::NotTriggered(TaskId::new(4)))
    );
    let flaky_end = flaky.timing.map(|t| t.start + t.duration).expect("ran");
    assert!(task("alert").settled_at >= Some(flaky_end));
    assert!(task("extract").output_consumed && !task("moved").output_consumed);
    let unnamed = &summary.tasks[6];
    assert_eq!(
        (unnamed.name.as_deref(), unnamed.state),
        (None, State::Panicked)
    );
    assert_eq!(unnamed.error.as_deref(), Some("a bug"));
    assert!(task("extract").timing.is_some(), "timings were recorded");
}

#[test]
fn a_skipped_task_has_a_moment_only_when_timings_are_recorded() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.task("extract", |_| Err("down".into())).unwrap();
    b.task("load", |_| Ok(())).unwrap();
    b.edge("extract", "load").unwrap();
    let graph = b.build().unwrap();
    for threads in [1, 2, 4] {
        let untimed = executor(threads).run(&graph);
        assert_eq!(untimed.state("load"), Some(State::Skipped));
        assert_eq!(untimed.settled_at("load"), None);
        assert_eq!(untimed.summary().tasks[1].settled_at, None);
        let timed = executor(threads).run_with(&graph, &RunOptions::new().record_timings(true));
        let at = timed.settled_at("load").expect("timed");
        let extract = timed.timing("extract").expect("it ran");
        assert!(extract.start + extract.duration <= at && at <= timed.wall_time());
        assert_eq!(timed.settled_at("extract"), None);
        assert_eq!(timed.settled_at("no such task"), None);
        let line = timed.tasks().nth(1).expect("two tasks");
        assert_eq!((line.settled_at, line.timing), (Some(at), None));
        assert_eq!(timed.summary().tasks[1].settled_at, Some(at));
    }
}

#[test]
fn a_stopped_run_says_why_by_name() {
    let mut arena = Arena::new();
    let graph = cancelling_pair(&mut arena, "sensor", "load");
    let summary = executor(1).run(&graph).summary();
    let stopped = summary.stopped.expect("the run was stopped");
    assert!(stopped.contains("`sensor`"), "{stopped}");
    assert_eq!(summary.tasks[1].state, State::Cancelled);
    let stopped_at = summary.stopped_at.expect("and says when");
    assert!(stopped_at <= summary.wall_time, "{stopped_at:?}");
}

#[cfg(feature = "serde")]
#[test]
fn a_summary_round_trips_through_json() {
    let summary = summary_of_a_mixed_run();
    let json = serde_json::to_string_pretty(&summary).expect("serialises");
    assert!(json.contains("\"name\": \"parse\""), "{json}");
    assert!(json.contains("\"UpstreamFailed\": 1"), "{json}");
    assert!(json.contains("\"state\": \"Panicked\""), "{json}");
    let back: kahn::RunSummary = serde_json::from_str(&json).expect("deserialises");
    assert_eq!(back, summary);
    // A task written before `settled_at` existed still reads, without it.
    let mut older: serde_json::Value = serde_json::from_str(&json).unwrap();
    let load = older["tasks"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["name"] == "load")
        .unwrap();
    assert!(load["settled_at"].is_object(), "{load}");
    load.as_object_mut().unwrap().remove("settled_at");
    let back: kahn::RunSummary = serde_json::from_value(older).expect("reads without it");
    let load = back
        .tasks
        .iter()
        .find(|t| t.name.as_deref() == Some("load"));
    assert_eq!(load.unwrap().settled_at, None);

    // A stopped run's summary carries when it stopped; one written before
    // that field existed still reads, as not stopped.
    let mut arena = Arena::new();
    let graph = cancelling_pair(&mut arena, "sensor", "load");
    let stopped = executor(1).run(&graph).summary();
    let json = serde_json::to_value(&stopped).expect("serialises");
    assert!(json["stopped_at"].is_object(), "{json}");
    let back: kahn::RunSummary = serde_json::from_value(json.clone()).expect("deserialises");
    assert_eq!(back, stopped);
    let mut older = json;
    older.as_object_mut().unwrap().remove("stopped_at");
    let back: kahn::RunSummary = serde_json::from_value(older).expect("reads without it");
    assert_eq!(back.stopped_at, None);
    assert_eq!(back.stopped, stopped.stopped);
}
