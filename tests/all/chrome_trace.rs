//! Chrome trace export: valid JSON, one complete event per attempt, no two
//! on one worker's track overlapping, hostile names read back as
//! themselves, tasks that did not run shown as instants, no timings an error.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kahn::{
    Arena, CancelToken, Executor, Observer, Report, RetryPolicy, RunOptions, TaskFinished, TaskId,
    TaskSkipped, TraceError, TriggerRule,
};
use kahn_bench::shapes::Shape;
use kahn_test_support::{bounded, cancelling_pair, executor, intend_panic};
use serde_json::Value as Json;

fn timed() -> RunOptions {
    RunOptions::new().record_timings(true)
}

/// The trace of `report`, parsed; panics unless it is JSON of the object
/// form with an events array.
fn parse<T>(report: &Report<'_, T>) -> Json {
    let text = report
        .to_chrome_trace()
        .expect("timings recorded")
        .to_string();
    let json: Json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    assert!(json["traceEvents"].is_array(), "{text}");
    assert_eq!(json["displayTimeUnit"], "ms");
    json
}

fn events<'j>(json: &'j Json, phase: &str) -> Vec<&'j Json> {
    json["traceEvents"]
        .as_array()
        .expect("an array")
        .iter()
        .filter(|e| e["ph"] == phase)
        .collect()
}

/// A time in the trace (µs, three decimals) as the nanoseconds it was
/// written from.
fn nanos(value: &Json) -> u64 {
    let micros = value.as_f64().expect("a number");
    assert!(micros >= 0.0, "{value}");
    (micros * 1000.0).round() as u64
}

/// The name each thread track was given, by tid.
fn thread_names(json: &Json) -> HashMap<u64, String> {
    events(json, "M")
        .into_iter()
        .filter(|e| e["name"] == "thread_name")
        .map(|e| {
            let tid = e["tid"].as_u64().expect("a tid");
            (tid, e["args"]["name"].as_str().expect("a name").to_owned())
        })
        .collect()
}

/// Checks what every trace must satisfy: one complete event per attempt,
/// each attempt of a task once, within the run; no two on one track
/// overlapping; every track that has one named after its worker;
/// instants only on the `not run` track, one per task that has no
/// attempt. Returns the complete events by task id, in attempt order.
fn check<T>(report: &Report<'_, T>, json: &Json) -> BTreeMap<u64, Vec<Json>> {
    let complete = events(json, "X");
    let attempts: u32 = report.tasks().map(|t| report.attempts(t.id)).sum();
    assert_eq!(complete.len(), attempts as usize, "one event per attempt");
    let names = thread_names(json);
    let wall = report.wall_time().as_nanos() as u64;
    let mut by_track: HashMap<u64, Vec<(u64, u64)>> = HashMap::new();
    let mut by_task: BTreeMap<u64, Vec<Json>> = BTreeMap::new();
    for event in complete {
        assert_eq!(event["pid"], 1);
        let tid = event["tid"].as_u64().expect("a tid");
        assert_eq!(
            names.get(&tid).map(String::as_str),
            Some(format!("worker {}", tid - 1).as_str()),
            "{event}"
        );
        let (start, dur) = (nanos(&event["ts"]), nanos(&event["dur"]));
        assert!(
            start + dur <= wall,
            "{event} ends after the run ({wall} ns)"
        );
        by_track.entry(tid).or_default().push((start, start + dur));
        let id = event["args"]["id"].as_u64().expect("an id");
        by_task.entry(id).or_default().push(event.clone());
    }
    for (tid, mut spans) in by_track {
        spans.sort_unstable();
        for pair in spans.windows(2) {
            assert!(
                pair[0].1 <= pair[1].0,
                "track {tid}: {:?} overlaps {:?}",
                pair[0],
                pair[1]
            );
        }
    }
    for (id, attempts) in &mut by_task {
        attempts.sort_by_key(|e| e["args"]["attempt"].as_u64());
        let numbers: Vec<u64> = attempts
            .iter()
            .map(|e| e["args"]["attempt"].as_u64().expect("a number"))
            .collect();
        let expected: Vec<u64> =
            (1..=u64::from(report.attempts(TaskId::new(*id as u32)))).collect();
        assert_eq!(numbers, expected, "task {id}");
        // Attempts follow each other: a retry starts after the attempt before.
        for pair in attempts.windows(2) {
            let end = nanos(&pair[0]["ts"]) + nanos(&pair[0]["dur"]);
            assert!(end <= nanos(&pair[1]["ts"]), "task {id}: {pair:?}");
        }
    }
    let instants = events(json, "i");
    let not_run = report
        .tasks()
        .filter(|t| report.attempts(t.id) == 0)
        .count();
    assert_eq!(instants.len(), not_run, "an instant per task not run");
    for instant in instants {
        let tid = instant["tid"].as_u64().expect("a tid");
        assert_eq!(names[&tid], "not run", "{instant}");
        assert_eq!(instant["s"], "t");
        assert!(nanos(&instant["ts"]) <= wall, "{instant}");
    }
    by_task
}

#[test]
fn one_complete_event_per_attempt_and_none_overlap_on_a_worker() {
    bounded(|| {
        // Some tasks run a small graph of their own on the same executor
        // (a nested run on the worker's thread), some fail their first
        // attempt and are retried, all spin a little so that the workers
        // share the work.
        let mut inner_arena = Arena::new();
        let mut ib = inner_arena.builder::<u32>();
        for _ in 0..8 {
            ib.unnamed_task(|_| Ok(1)).unwrap();
        }
        let inner = ib.build().unwrap();
        for (threads, shape) in [(2, Shape::Layered), (4, Shape::Wavefront), (4, Shape::Tree)] {
            let exec = executor(threads);
            let g = shape.generate(300);
            let mut arena = Arena::new();
            let mut b = arena.builder::<u32>();
            let inner = &inner;
            for _ in 0..g.tasks {
                b.unnamed_task(move |ctx| {
                    let id = ctx.id().index() as u32;
                    let start = std::time::Instant::now();
                    while start.elapsed() < Duration::from_micros(20) {
                        std::hint::spin_loop();
                    }
                    if id % 7 == 3 && ctx.attempt() < 1 + id % 3 {
                        return Err(format!("attempt {} of {id}", ctx.attempt()).into());
                    }
                    if id.is_multiple_of(50) {
                        let nested = exec.run(inner);
                        assert!(nested.is_success());
                    }
                    Ok(id)
                })
                .unwrap();
            }
            b.edges(g.task_edges()).unwrap();
            for v in (3..g.tasks as u32).step_by(7) {
                let zero = Duration::ZERO;
                b.retry(
                    TaskId::new(v),
                    RetryPolicy::attempts(3).backoff(zero, 1.0, zero),
                )
                .unwrap();
            }
            let graph = b.build().unwrap();
            let report = exec.run_with(&graph, &timed());
            assert!(report.is_success(), "{report}");
            let json = parse(&report);
            let by_task = check(&report, &json);
            assert_eq!(by_task.len(), g.tasks);
            assert!(report.retried().len() > 10, "{report}");
            for task in report.retried() {
                let events = &by_task[&(task.id.index() as u64)];
                assert!(events.len() > 1);
                let last = events.last().expect("an attempt");
                assert_eq!(last["cat"], "succeeded");
                for (i, earlier) in events[..events.len() - 1].iter().enumerate() {
                    assert_eq!(earlier["cat"], "failed");
                    assert_eq!(earlier["args"]["retried"], true);
                    assert_eq!(
                        earlier["args"]["error"],
                        format!("attempt {} of {}", i + 1, task.id.index())
                    );
                }
            }
            // What `write!` to a file gives is what `to_string` does.
            let path = std::env::temp_dir().join(format!(
                "kahn-chrome-trace-{}-{threads}.json",
                std::process::id()
            ));
            {
                use std::io::Write;
                let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
                write!(file, "{}", report.to_chrome_trace().unwrap()).unwrap();
                file.flush().unwrap();
            }
            let written = std::fs::read_to_string(&path).unwrap();
            std::fs::remove_file(&path).unwrap();
            assert_eq!(written, report.to_chrome_trace().unwrap().to_string());
        }
    });
}

#[test]
fn hostile_names_and_messages_read_back_as_themselves() {
    let names = [
        "plain",
        "quote \" inside",
        "back\\slash\\",
        "two\nlines",
        "ends with a backslash \\",
        "\"",
        "données → 🚀 日本",
        "}]},{\"ph\":\"X\"",
        "bell \u{7}, tab \t, nul \u{0}, unit sep \u{1f}, del \u{7f}",
        "\r\u{8}\u{c}\u{2028}",
    ];
    let message = "row \"7\":\n\tbad \\ value \u{1} → ✗";
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    for name in names {
        b.task(name, |_| Ok(())).unwrap();
    }
    b.task("fails", move |_| Err(message.into())).unwrap();
    b.unnamed_task(|_| Ok(())).unwrap();
    b.edge("fails", TaskId::new(names.len() as u32 + 1))
        .unwrap();
    let graph = b.build().unwrap();
    let report = executor(2).run_with(&graph, &timed());
    let json = parse(&report);
    check(&report, &json);
    let complete = events(&json, "X");
    for (i, name) in names.iter().enumerate() {
        let event = complete
            .iter()
            .find(|e| e["args"]["id"] == i)
            .unwrap_or_else(|| panic!("no event for {name:?}"));
        assert_eq!(event["name"], *name);
        assert_eq!(event["cat"], "succeeded");
    }
    let failed = complete
        .iter()
        .find(|e| e["name"] == "fails")
        .expect("the failure");
    assert_eq!(failed["cat"], "failed");
    assert_eq!(failed["args"]["error"], message);
    assert_eq!(failed["cname"], "bad");
    let skipped = &events(&json, "i")[0];
    assert_eq!(skipped["name"], format!("task #{}", names.len() + 1));
    assert_eq!(skipped["args"]["cause"], "fails");

    // The process's name is escaped too.
    let text = report
        .to_chrome_trace()
        .unwrap()
        .process_name(names[1])
        .to_string();
    let json: Json = serde_json::from_str(&text).unwrap();
    let process = events(&json, "M")
        .into_iter()
        .find(|e| e["name"] == "process_name")
        .expect("the process's name")
        .clone();
    assert_eq!(process["args"]["name"], names[1]);
    assert_eq!(process["pid"], 1);
}

#[test]
fn retried_attempts_are_events_with_their_errors() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<u32>();
    b.task("flaky", |ctx| {
        if ctx.attempt() < 3 {
            return Err(format!("reset #{}", ctx.attempt()).into());
        }
        Ok(1)
    })
    .unwrap();
    b.task("buggy", |ctx| {
        intend_panic();
        panic!("bug on attempt {}", ctx.attempt())
    })
    .unwrap();
    b.task("verbose", |_| Err("x".repeat(10_000).into()))
        .unwrap();
    let policy = RetryPolicy::attempts(3)
        .delay(Duration::from_millis(1))
        .retry_panics(true);
    for name in ["flaky", "buggy", "verbose"] {
        b.retry(name, policy.clone()).unwrap();
    }
    let graph = b.build().unwrap();
    let report = executor(2).run_with(&graph, &timed());
    let json = parse(&report);
    let by_task = check(&report, &json);

    let flaky = &by_task[&0];
    let shown: Vec<(&str, &str, Option<&str>, bool)> = flaky
        .iter()
        .map(|e| {
            (
                e["cat"].as_str().unwrap(),
                e["args"]["outcome"].as_str().unwrap(),
                e["args"]["error"].as_str(),
                e["args"]["retried"] == true,
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("failed", "failed", Some("reset #1"), true),
            ("failed", "failed", Some("reset #2"), true),
            ("succeeded", "succeeded", None, false),
        ]
    );
    // The backoff: each retry starts a millisecond after the attempt before.
    for pair in flaky.windows(2) {
        let end = nanos(&pair[0]["ts"]) + nanos(&pair[0]["dur"]);
        assert!(nanos(&pair[1]["ts"]) >= end + 1_000_000, "{pair:?}");
    }

    let buggy = &by_task[&1];
    assert_eq!(buggy.len(), 3);
    for (i, event) in buggy.iter().enumerate() {
        assert_eq!(event["cat"], "panicked");
        assert_eq!(event["cname"], "terrible");
        assert_eq!(event["args"]["error"], format!("bug on attempt {}", i + 1));
        assert_eq!(event["args"]["retried"] == true, i < 2);
    }

    // A long message is cut, and says how long it was.
    for event in &by_task[&2] {
        let error = event["args"]["error"].as_str().unwrap();
        assert!(error.len() < 600, "{}", error.len());
        assert!(error.starts_with("xxx"), "{error}");
        assert!(
            error.ends_with("[message cut: 10000 bytes in all]"),
            "{error}"
        );
    }
}

#[test]
fn tasks_that_did_not_run_are_instants_on_their_own_track() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<u32>();
    b.task("bad", |_| Err("no".into())).unwrap();
    b.task("below", |_| Ok(1)).unwrap();
    b.task("further below", |_| Ok(1)).unwrap();
    b.task("ok", |_| Ok(1)).unwrap();
    b.task("alert", |_| Ok(1)).unwrap();
    b.task("after alert", |_| Ok(1)).unwrap();
    b.task("route", |ctx| {
        ctx.branch(["left"])?;
        Ok(1)
    })
    .unwrap();
    b.task("left", |_| Ok(1)).unwrap();
    b.task("right", |_| Ok(1)).unwrap();
    b.edges_by_name([
        ("bad", "below"),
        ("below", "further below"),
        ("ok", "alert"),
        ("alert", "after alert"),
        ("route", "left"),
        ("route", "right"),
    ])
    .unwrap();
    b.branching("route").unwrap();
    b.trigger_rule("alert", TriggerRule::OneFailed).unwrap();
    let graph = b.build().unwrap();
    let report = executor(2).run_with(&graph, &timed());
    let json = parse(&report);
    check(&report, &json);
    let end = |task: &str| {
        let t = report.timing(task).expect("it ran");
        (t.start + t.duration).as_nanos() as u64
    };
    let instants: HashMap<&str, &Json> = events(&json, "i")
        .into_iter()
        .map(|e| (e["name"].as_str().unwrap(), e))
        .collect();
    let wall = report.wall_time().as_nanos() as u64;
    let at = |task: &str| nanos(&instants[task]["ts"]);
    // Each stands when it was settled: after what decided it, before the
    // run's end, and below its upstream skip.
    let expect = [
        ("below", "skipped", Some(("cause", "bad", 0)), end("bad")),
        (
            "further below",
            "skipped",
            Some(("cause", "bad", 0)),
            at("below"),
        ),
        ("alert", "not triggered", None, end("ok")),
        (
            "after alert",
            "not triggered",
            Some(("cause", "alert", 4)),
            at("alert"),
        ),
        (
            "right",
            "branch not taken",
            Some(("branch", "route", 6)),
            end("route"),
        ),
    ];
    assert_eq!(instants.len(), expect.len(), "{json}");
    for (name, what, decider, after) in expect {
        let event = instants[name];
        assert_eq!(event["cat"], what, "{event}");
        assert_eq!(event["args"]["outcome"], what, "{event}");
        let ts = nanos(&event["ts"]);
        assert!(after <= ts && ts <= wall, "{after} <= {event} <= {wall}");
        if let Some((key, by, id)) = decider {
            assert_eq!(event["args"][key], by, "{event}");
            assert_eq!(event["args"][format!("{key}_id")], id, "{event}");
        } else {
            assert!(event["args"].get("cause").is_none(), "{event}");
        }
    }

    // Cancelled before the start: nothing ran, every task is an instant
    // that says why, and so does the run.
    let token = CancelToken::new();
    token.cancel();
    let report = executor(2).run_with(&graph, &timed().cancel_token(token));
    let json = parse(&report);
    check(&report, &json);
    let instants = events(&json, "i");
    assert_eq!(instants.len(), graph.task_count());
    for event in instants {
        assert_eq!(event["cat"], "cancelled", "{event}");
        assert!(
            event["args"]["stop_reason"]
                .as_str()
                .is_some_and(|r| r.contains("cancel")),
            "{event}"
        );
    }
    assert!(events(&json, "X").is_empty());
    assert!(json["otherData"]["stop_reason"].is_string(), "{json}");
    assert_eq!(json["otherData"]["tasks"], graph.task_count());
    let stopped_at = report.stopped_at().expect("cancelled").as_nanos() as u64;
    assert_eq!(nanos(&json["otherData"]["stopped_at_us"]), stopped_at);
    for event in events(&json, "i") {
        assert_eq!(nanos(&event["ts"]), stopped_at, "{event}");
    }
}

/// Says when `bad` and `route` ended and when `alert` was settled without
/// running, as an observer sees them: after each was recorded (and, with
/// timings, after its moment was written).
#[derive(Default)]
struct Ends {
    bad_ended: AtomicBool,
    route_ended: AtomicBool,
    alert_settled: AtomicBool,
}

impl Observer for Ends {
    fn task_finished(&self, task: &TaskFinished<'_>) {
        match task.name {
            Some("bad") => self.bad_ended.store(true, Ordering::SeqCst),
            Some("route") => self.route_ended.store(true, Ordering::SeqCst),
            _ => {}
        }
    }
    fn task_skipped(&self, task: &TaskSkipped<'_>) {
        if task.name == Some("alert") {
            self.alert_settled.store(true, Ordering::SeqCst);
        }
    }
}

/// Waits (up to 10 s) until `flag` is set.
fn wait_for(flag: &AtomicBool) -> Result<(), kahn::BoxError> {
    let start = std::time::Instant::now();
    while !flag.load(Ordering::SeqCst) {
        if start.elapsed() > Duration::from_secs(10) {
            return Err("the awaited task never ended".into());
        }
        std::thread::yield_now();
    }
    Ok(())
}

#[test]
fn tasks_that_did_not_run_stand_when_they_were_settled_not_at_the_run_end() {
    // `alert`'s rule is judged once `ok` has run, before `slow` ends:
    // `slow` waits until the run has settled `alert`, then a little more.
    // So `alert` stands before `slow`'s end, and so before the run's end,
    // where it once stood. `late` ends only after `bad` (which fails) and
    // `route` (which chooses `left`) did. `join` waits for `bad` and
    // `late`, so its skip is settled after `late`'s end, not at the end of
    // `bad` that it names; `right` waits for `route` and `late`, so it is
    // passed over after `late`'s end, not at `route`'s.
    for threads in [2, 4] {
        bounded(move || {
            let ends = Arc::new(Ends::default());
            let mut arena = Arena::new();
            let mut b = arena.builder::<()>();
            b.task("ok", |_| Ok(())).unwrap();
            b.task("alert", |_| Ok(())).unwrap();
            let seen = Arc::clone(&ends);
            b.task("slow", move |_| {
                wait_for(&seen.alert_settled)?;
                std::thread::sleep(Duration::from_millis(5));
                Ok(())
            })
            .unwrap();
            b.task("bad", |_| Err("no".into())).unwrap();
            let seen = Arc::clone(&ends);
            b.task("late", move |_| {
                wait_for(&seen.bad_ended)?;
                wait_for(&seen.route_ended)
            })
            .unwrap();
            b.task("join", |_| Ok(())).unwrap();
            b.task("route", |ctx| {
                ctx.branch(["left"])?;
                Ok(())
            })
            .unwrap();
            b.task("left", |_| Ok(())).unwrap();
            b.task("right", |_| Ok(())).unwrap();
            b.edges_by_name([
                ("ok", "alert"),
                ("bad", "join"),
                ("late", "join"),
                ("route", "left"),
                ("route", "right"),
                ("late", "right"),
            ])
            .unwrap();
            b.trigger_rule("alert", TriggerRule::OneFailed).unwrap();
            b.branching("route").unwrap();
            let graph = b.build().unwrap();
            let observer: Arc<dyn Observer> = ends.clone();
            // Its own executor: `slow` and `late` wait for other tasks,
            // which a shared executor's other tests could hold up.
            let executor = Executor::with_threads(threads).unwrap();
            let report = executor.run_with(&graph, &timed().observer(observer));
            let json = parse(&report);
            check(&report, &json);
            let end = |task: &str| {
                let t = report.timing(task).expect("it ran");
                t.start + t.duration
            };
            let instants: HashMap<&str, &Json> = events(&json, "i")
                .into_iter()
                .map(|e| (e["name"].as_str().unwrap(), e))
                .collect();
            assert_eq!(instants.len(), 3, "{json}");
            let alert = nanos(&instants["alert"]["ts"]);
            assert_eq!(instants["alert"]["cat"], "not triggered");
            assert!(end("ok").as_nanos() as u64 <= alert, "{json}");
            assert!(alert < end("slow").as_nanos() as u64, "{json}");
            // Each settled once `late`, its slowest input, had ended.
            let late = end("late").as_nanos() as u64;
            let wall = report.wall_time().as_nanos() as u64;
            let settled = [
                ("join", "skipped", "cause", "bad"),
                ("right", "branch not taken", "branch", "route"),
            ];
            for (name, what, key, by) in settled {
                let event = instants[name];
                assert_eq!(event["cat"], what, "{event}");
                assert_eq!(event["args"][key], by, "{event}");
                assert!(end(by) < end("late"), "{json}");
                let ts = nanos(&event["ts"]);
                assert!(late <= ts && ts <= wall, "{late} <= {event} <= {wall}");
            }
            // The trace shows what the report says.
            for name in ["alert", "join", "right"] {
                let at = report.settled_at(name).expect("skipped in a timed run");
                assert_eq!(nanos(&instants[name]["ts"]), at.as_nanos() as u64);
            }
        });
    }
}

#[test]
fn cancelled_tasks_stand_where_the_run_stopped_not_where_it_ended() {
    // `stopper` stops the run while `slow` runs (each waits for the other
    // at a barrier, so the order is fixed); `slow` then returns, and the
    // run ends after it: `after` was cancelled at the stop, well before.
    bounded(|| {
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        let meet = std::sync::Arc::new(std::sync::Barrier::new(2));
        let met = std::sync::Arc::clone(&meet);
        b.task("slow", move |_| {
            met.wait(); // both running
            met.wait(); // the run is stopped
            std::thread::sleep(Duration::from_millis(20));
            Ok(())
        })
        .unwrap();
        b.task("stopper", move |ctx| {
            meet.wait();
            ctx.cancel_run();
            meet.wait();
            Ok(())
        })
        .unwrap();
        b.task("after", |_| Ok(())).unwrap();
        b.edge("stopper", "after").unwrap();
        let graph = b.build().unwrap();
        let report = executor(2).run_with(&graph, &timed());
        let json = parse(&report);
        check(&report, &json);
        let slow = report.timing("slow").expect("it ran");
        let stopped_at = report.stopped_at().expect("`stopper` stopped the run");
        assert!(
            stopped_at < slow.start + slow.duration,
            "{stopped_at:?} {slow:?}"
        );
        assert!(slow.start + slow.duration <= report.wall_time());
        let instants = events(&json, "i");
        assert_eq!(instants.len(), 1, "{json}");
        assert_eq!(instants[0]["name"], "after");
        assert_eq!(instants[0]["cat"], "cancelled");
        assert_eq!(nanos(&instants[0]["ts"]), stopped_at.as_nanos() as u64);
        assert_eq!(
            nanos(&json["otherData"]["stopped_at_us"]),
            stopped_at.as_nanos() as u64
        );
    });
}

#[test]
fn carried_over_tasks_are_instants_at_the_start() {
    let mut arena = Arena::new();
    let graph = cancelling_pair(&mut arena, "first", "second");
    let exec = executor(1);
    let report = exec.run_with(&graph, &timed());
    let resumed = exec.resume_with(&graph, report, &timed()).unwrap();
    let json = parse(&resumed);
    let by_task = check(&resumed, &json);
    assert_eq!(by_task.keys().copied().collect::<Vec<_>>(), [1]);
    let instants = events(&json, "i");
    assert_eq!(instants.len(), 1);
    assert_eq!(instants[0]["name"], "first");
    assert_eq!(instants[0]["cat"], "carried over");
    assert_eq!(nanos(&instants[0]["ts"]), 0);
}

#[test]
fn a_report_without_timings_has_no_timeline() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.task("a", |_| Ok(())).unwrap();
    let graph = b.build().unwrap();
    let report = executor(1).run(&graph);
    let error = report.to_chrome_trace().unwrap_err();
    assert_eq!(error, TraceError::NoTimings);
    assert!(
        error.to_string().contains("record_timings(true)"),
        "{error}"
    );
    // An empty graph's run, timed, is an empty timeline, still valid.
    let mut arena = Arena::new();
    let empty = arena.builder::<()>().build().unwrap();
    let report = executor(1).run_with(&empty, &timed());
    let json = parse(&report);
    check(&report, &json);
    assert!(events(&json, "X").is_empty() && events(&json, "i").is_empty());
}
