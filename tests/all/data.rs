//! Data through the graph: per-run inputs, typed outputs, moves, early
//! release, `FnMut` tasks; drop counts exact, on hand-written and random graphs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kahn::{
    Arena, BoxError, InputError, Outcome, RetryPolicy, RunOptions, TaskContext, TaskId, Value,
};
use proptest::prelude::*;

use kahn_test_support::dags::{any_dag, cases, SMALL};
use kahn_test_support::{executor, executors};

/// A value that counts how many of its kind are alive.
#[derive(Debug)]
struct Tracked {
    n: u64,
    live: Arc<AtomicUsize>,
}

impl Tracked {
    fn new(n: u64, live: &Arc<AtomicUsize>) -> Tracked {
        live.fetch_add(1, Ordering::SeqCst);
        Tracked {
            n,
            live: Arc::clone(live),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

// ---- Per-run input ----

#[test]
fn runs_of_one_graph_read_their_own_inputs_at_the_same_time() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<String>();
    b.task("extract", |ctx| {
        // Both runs are inside this task at once before either goes on.
        std::thread::sleep(Duration::from_millis(20));
        Ok(format!("rows of {}", ctx.run_input::<String>()?))
    })
    .unwrap();
    b.task("load", |ctx| {
        Ok(format!(
            "{} loaded for {}",
            ctx.input("extract")?,
            ctx.run_input::<String>()?
        ))
    })
    .unwrap();
    b.edge("extract", "load").unwrap();
    let graph = b.build().unwrap();
    let exec = executor(4);
    let dates: Vec<String> = (1..=4).map(|d| format!("2026-12-0{d}")).collect();
    let reports: Vec<_> = std::thread::scope(|s| {
        let runs: Vec<_> = dates
            .iter()
            .map(|date| {
                let graph = &graph;
                s.spawn(move || exec.run_with(graph, &RunOptions::new().input(date.clone())))
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for (date, report) in dates.iter().zip(&reports) {
        assert_eq!(
            report.output("load").map(String::as_str),
            Some(format!("rows of {date} loaded for {date}").as_str())
        );
    }
}

#[test]
fn a_missing_or_mistyped_run_input_is_an_error_that_names_the_task() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<u32>();
    b.task("partition", |ctx| Ok(*ctx.run_input::<u32>()?))
        .unwrap();
    let graph = b.build().unwrap();
    let exec = executor(2);

    let none = exec.run(&graph);
    let Some(Outcome::Failed(error)) = none.outcome("partition") else {
        panic!("no input: {none}");
    };
    let error = error.downcast_ref::<InputError>().expect("an InputError");
    assert!(
        matches!(error, InputError::NoRunInput { task, .. } if task.name() == Some("partition"))
    );
    assert!(error.to_string().contains("RunOptions::input"), "{error}");

    let wrong = exec.run_with(&graph, &RunOptions::new().input("7"));
    let Some(Outcome::Failed(error)) = wrong.outcome("partition") else {
        panic!("wrong type: {wrong}");
    };
    let text = error.to_string();
    assert!(text.contains("`u32`") && text.contains("&str"), "{text}");

    let right = exec.run_with(&graph, &RunOptions::new().input(7_u32));
    assert_eq!(right.output("partition"), Some(&7));
}

// ---- Typed outputs ----

#[test]
fn typed_handles_carry_each_type_through_a_graph() {
    for exec in executors() {
        let mut arena = Arena::new();
        let mut b = arena.builder::<Value>();
        let rows = b.typed_task("rows", |_| Ok(vec![1_u64, 2, 3])).unwrap();
        let name = b.typed_task("name", |_| Ok(String::from("sales"))).unwrap();
        let scale = b
            .typed_task("scale", |ctx| Ok(*ctx.run_input::<u64>()?))
            .unwrap();
        let total = b
            .typed_task("total", move |ctx| {
                let sum: u64 = ctx.get(rows)?.iter().sum();
                Ok((ctx.get(name)?.clone(), sum * ctx.get(scale)?))
            })
            .unwrap();
        // Name-based reads work on the same graph.
        let by_name = b
            .typed_task("by_name", |ctx| {
                Ok(ctx.input_as::<Vec<u64>>("rows")?.len() + ctx.input("name")?.type_name().len())
            })
            .unwrap();
        for from in [rows.id(), name.id(), scale.id()] {
            b.edge(from, total.id()).unwrap();
        }
        b.edges_by_name([("rows", "by_name"), ("name", "by_name")])
            .unwrap();
        let graph = b.build().unwrap();
        let mut report = exec.run_with(&graph, &RunOptions::new().input(10_u64));
        assert!(report.is_success(), "{report}");
        assert_eq!(report.get(total), Some(&(String::from("sales"), 60)));
        assert_eq!(report.output_as::<Vec<u64>>("rows"), Some(&vec![1, 2, 3]));
        assert_eq!(
            report.get(by_name),
            Some(&(3 + std::any::type_name::<String>().len()))
        );
        assert_eq!(report.take(total), Some((String::from("sales"), 60)));
        assert_eq!(report.get(total), None, "taken from the report");
        assert!(matches!(report.outcome("total"), Some(Outcome::Consumed)));
    }
}

#[test]
fn a_handle_of_another_graph_or_a_wrong_name_based_type_is_a_typed_error() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<Value>();
    let foreign = b.typed_task("a", |_| Ok(1_u8)).unwrap();
    drop(b.build().unwrap());

    let mut arena = Arena::new();
    let mut b = arena.builder::<Value>();
    let mine = b.typed_task("a", |_| Ok(1_u8)).unwrap();
    assert_eq!(mine.id(), foreign.id(), "same id, other graph");
    b.typed_task("other_graph", move |ctx| {
        ctx.get(foreign).map(|_| ()).map_err(BoxError::from)
    })
    .unwrap();
    b.typed_task("wrong_type", |ctx| {
        ctx.input_as::<String>("a")
            .map(|_| ())
            .map_err(BoxError::from)
    })
    .unwrap();
    b.typed_task("right", move |ctx| Ok(*ctx.get(mine)? + 1))
        .unwrap();
    b.edges_by_name([("a", "other_graph"), ("a", "wrong_type"), ("a", "right")])
        .unwrap();
    let graph = b.build().unwrap();
    let report = executor(2).run(&graph);
    let error = |task: &str| match report.outcome(task) {
        Some(Outcome::Failed(e)) => e.downcast_ref::<InputError>().unwrap().clone(),
        other => panic!("{task}: {other:?}"),
    };
    assert!(matches!(
        error("other_graph"),
        InputError::OtherGraph { id: 0, .. }
    ));
    let wrong = error("wrong_type");
    assert!(
        matches!(wrong, InputError::WrongType { found: "u8", .. }),
        "{wrong}"
    );
    assert!(wrong.to_string().contains("String"), "{wrong}");
    assert_eq!(report.get(mine), Some(&1));
    let mut other = Arena::new();
    let mut ob = other.builder::<Value>();
    let right_elsewhere = ob.typed_task("x", |_| Ok(2_u8)).unwrap();
    assert_eq!(
        report.get(right_elsewhere),
        None,
        "a report refuses another graph's handle"
    );
}

#[test]
fn typed_outputs_of_a_graph_run_a_thousand_times_are_all_dropped() {
    let live = Arc::new(AtomicUsize::new(0));
    let mut arena = Arena::new();
    let mut b = arena.builder::<Value>();
    let l = Arc::clone(&live);
    let src = b
        .typed_task("src", move |_| Ok(Tracked::new(1, &l)))
        .unwrap();
    let l = Arc::clone(&live);
    let mid = b
        .typed_task("mid", move |ctx| {
            Ok(vec![Tracked::new(ctx.get(src)?.n + 1, &l)])
        })
        .unwrap();
    let l = Arc::clone(&live);
    let end = b
        .typed_task("end", move |ctx| {
            Ok(Tracked::new(ctx.take(mid)?[0].n + 1, &l))
        })
        .unwrap();
    b.edge(src.id(), mid.id()).unwrap();
    b.edge(mid.id(), end.id()).unwrap();
    let graph = b.build().unwrap();
    let exec = executor(2);
    let runs = if cfg!(miri) { 20 } else { 1_000 };
    for i in 0..runs {
        let options = RunOptions::new().release_outputs(i % 2 == 0);
        let report = exec.run_with(&graph, &options);
        assert_eq!(report.get(end).map(|t| t.n), Some(3));
        drop(report);
        assert_eq!(
            live.load(Ordering::SeqCst),
            0,
            "run {i} leaked or dropped twice"
        );
    }
}

// ---- Moves ----

/// `extract -> transform -> load`, plus `extract`'s other readers as given,
/// with `transform`'s body given.
fn chain<'a>(
    arena: &'a mut Arena,
    live: &Arc<AtomicUsize>,
    transform: impl Fn(&TaskContext<'_, Option<Tracked>>) -> Result<Option<Tracked>, BoxError>
        + Send
        + Sync
        + 'a,
    second_reader: bool,
) -> kahn::Graph<'a, Option<Tracked>> {
    let mut b = arena.builder::<Option<Tracked>>();
    let l = Arc::clone(live);
    b.task("extract", move |_| Ok(Some(Tracked::new(1, &l))))
        .unwrap();
    b.task("transform", transform).unwrap();
    let l = Arc::clone(live);
    b.task("load", move |ctx| {
        let n = ctx.take_input("transform")?.map_or(0, |t| t.n);
        Ok(Some(Tracked::new(n + 1, &l)))
    })
    .unwrap();
    b.edge("extract", "transform").unwrap();
    b.edge("transform", "load").unwrap();
    if second_reader {
        b.task("audit", |ctx| {
            Ok(ctx
                .input("extract")?
                .as_ref()
                .map(|t| Tracked::new(t.n, &t.live)))
        })
        .unwrap();
        b.edge("extract", "audit").unwrap();
    }
    b.build().unwrap()
}

#[test]
fn a_value_moves_down_a_chain_and_the_report_says_it_was_consumed() {
    for exec in executors() {
        let live = Arc::new(AtomicUsize::new(0));
        let mut arena = Arena::new();
        let graph = chain(
            &mut arena,
            &live,
            |ctx| {
                let mut t = ctx.take_input("extract")?.expect("extract outputs Some");
                t.n += 1; // the very value `extract` made, owned here
                Ok(Some(t))
            },
            false,
        );
        let report = exec.run(&graph);
        assert!(report.is_success(), "{report}");
        assert!(matches!(report.outcome("extract"), Some(Outcome::Consumed)));
        assert!(matches!(
            report.outcome("transform"),
            Some(Outcome::Consumed)
        ));
        assert_eq!(report.output("load").unwrap().as_ref().unwrap().n, 3);
        assert_eq!(report.counts().succeeded, 3);
        assert_eq!(
            live.load(Ordering::SeqCst),
            1,
            "one value made and moved, plus load's"
        );
        drop(report);
        assert_eq!(live.load(Ordering::SeqCst), 0);
    }
}

#[test]
fn taking_a_shared_input_taking_twice_or_after_reading_is_refused() {
    let live = Arc::new(AtomicUsize::new(0));
    type Body = fn(&TaskContext<'_, Option<Tracked>>) -> Result<Option<Tracked>, BoxError>;
    let cases: [(Body, bool, &str); 3] = [
        (
            |ctx| ctx.take_input("extract").map_err(Into::into),
            true,
            "Shared",
        ),
        (
            |ctx| {
                let first = ctx.take_input("extract")?;
                ctx.take_input("extract")?;
                Ok(first)
            },
            false,
            "Taken",
        ),
        (
            |ctx| {
                let seen = ctx.input("extract")?.as_ref().map(|t| t.n);
                let taken = ctx.take_input("extract")?;
                assert_eq!(seen, taken.as_ref().map(|t| t.n), "never reached");
                Ok(taken)
            },
            false,
            "Lent",
        ),
    ];
    for (body, second_reader, expected) in cases {
        let mut arena = Arena::new();
        let graph = chain(&mut arena, &live, body, second_reader);
        let report = executor(2).run(&graph);
        let Some(Outcome::Failed(error)) = report.outcome("transform") else {
            panic!("{expected}: {report}");
        };
        let error = error.downcast_ref::<InputError>().unwrap();
        let found = format!("{error:?}");
        assert!(found.starts_with(expected), "{expected}: {found}");
        assert!(error.to_string().contains("`extract`"), "{error}");
        if expected == "Shared" {
            assert!(error.to_string().contains("2 tasks read it"), "{error}");
        }
        drop(report);
        assert_eq!(live.load(Ordering::SeqCst), 0, "{expected}");
    }
}

/// The outcomes of two threads of task `v` going for the output of `p`, its
/// one predecessor, at once, as `second` says: another take, or a read.
type Race = (
    Result<Option<u64>, InputError>,
    Result<Option<u64>, InputError>,
);

/// Runs `p -> v` `runs` times, `v` racing two of its threads (`second`
/// taking or reading) and checking the outcomes with `judge`; every
/// output is dropped exactly once.
fn race(runs: usize, second_takes: bool, judge: fn(&Race)) {
    let live = Arc::new(AtomicUsize::new(0));
    let mut arena = Arena::new();
    let mut b = arena.builder::<Option<Tracked>>();
    let l = Arc::clone(&live);
    b.task("p", move |_| Ok(Some(Tracked::new(7, &l)))).unwrap();
    b.task("v", move |ctx| {
        // The context is `Sync`: two threads of this task go for the same
        // input at once.
        let barrier = std::sync::Barrier::new(2);
        let outcomes = std::thread::scope(|s| {
            let first = s.spawn(|| {
                barrier.wait();
                ctx.take_input("p").map(|t| t.map(|t| t.n))
            });
            let second = s.spawn(|| {
                barrier.wait();
                if second_takes {
                    ctx.take_input("p").map(|t| t.map(|t| t.n))
                } else {
                    ctx.input("p").map(|t| t.as_ref().map(|t| t.n))
                }
            });
            (first.join().unwrap(), second.join().unwrap())
        });
        judge(&outcomes);
        Ok(None)
    })
    .unwrap();
    b.edge("p", "v").unwrap();
    let graph = b.build().unwrap();
    let exec = executor(2);
    for _ in 0..runs {
        let report = exec.run(&graph);
        assert!(report.is_success(), "{report}");
        drop(report);
        assert_eq!(live.load(Ordering::SeqCst), 0, "moved once, dropped once");
    }
}

#[test]
fn threads_of_one_task_race_to_take_and_read_and_exactly_one_wins() {
    let runs = if cfg!(miri) { 1 } else { 2_000 };
    race(runs, true, |outcomes| match outcomes {
        (Ok(Some(7)), Err(InputError::Taken { .. })) => {}
        (Err(InputError::Taken { .. }), Ok(Some(7))) => {}
        other => panic!("not exactly one take won: {other:?}"),
    });
    race(runs, false, |outcomes| match outcomes {
        (Ok(Some(7)), Err(InputError::Taken { .. })) => {}
        (Err(InputError::Lent { .. }), Ok(Some(7))) => {}
        other => panic!("a take and a read both won or both lost: {other:?}"),
    });
}

#[test]
fn a_kept_output_may_not_be_taken() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<u32>();
    b.task("a", |_| Ok(1)).unwrap();
    b.task("b", |ctx| Ok(ctx.take_input("a")? + 1)).unwrap();
    b.edge("a", "b").unwrap();
    b.keep_output("a").unwrap();
    assert!(b.keep_output("nope").is_err());
    let graph = b.build().unwrap();
    assert!(graph.keeps_output(graph.find("a").unwrap()));
    let report = executor(1).run(&graph);
    let Some(Outcome::Failed(error)) = report.outcome("b") else {
        panic!("{report}");
    };
    assert!(error.to_string().contains("kept for the report"), "{error}");
    assert_eq!(report.output("a"), Some(&1));
}

#[test]
fn a_retried_task_finds_an_input_it_took_gone_and_one_it_read_still_there() {
    let attempts = AtomicUsize::new(0);
    let mut arena = Arena::new();
    let mut b = arena.builder::<u32>();
    b.task("a", |_| Ok(1)).unwrap();
    b.task("c", |_| Ok(5)).unwrap();
    b.task("b", |ctx| {
        let attempt = attempts.fetch_add(1, Ordering::SeqCst);
        if attempt == 0 {
            // Reads `c` by reference, takes `a`, then fails.
            let _ = ctx.input("c")?;
            ctx.take_input("a")?;
            return Err("transient".into());
        }
        // The reference from the first attempt is gone with it: `c` may
        // be taken now; `a` was taken and is gone.
        let c = ctx.take_input("c")?;
        match ctx.take_input("a") {
            Err(InputError::Taken { .. }) => Ok(c),
            other => panic!("expected Taken, got {other:?}"),
        }
    })
    .unwrap();
    b.edges_by_name([("a", "b"), ("c", "b")]).unwrap();
    b.retry(
        "b",
        RetryPolicy::attempts(2).backoff(Duration::ZERO, 1.0, Duration::ZERO),
    )
    .unwrap();
    let graph = b.build().unwrap();
    let report = executor(2).run(&graph);
    assert_eq!(report.output("b"), Some(&5), "{report}");
    assert_eq!(report.attempts("b"), 2);
}

#[test]
fn a_resume_reruns_a_task_whose_taken_output_a_rerun_task_needs() {
    let runs: Vec<AtomicUsize> = (0..3).map(|_| AtomicUsize::new(0)).collect();
    let fail = std::sync::atomic::AtomicBool::new(true);
    let mut arena = Arena::new();
    let mut b = arena.builder::<Vec<u32>>();
    b.task("extract", |_| {
        runs[0].fetch_add(1, Ordering::SeqCst);
        Ok(vec![1, 2, 3])
    })
    .unwrap();
    b.task("dims", |_| {
        runs[1].fetch_add(1, Ordering::SeqCst);
        Ok(vec![10])
    })
    .unwrap();
    b.task("load", |ctx| {
        runs[2].fetch_add(1, Ordering::SeqCst);
        let mut rows = ctx.take_input("extract")?;
        if fail.load(Ordering::SeqCst) {
            return Err("the warehouse is down".into());
        }
        rows.extend(ctx.input("dims")?);
        Ok(rows)
    })
    .unwrap();
    b.task("report", |ctx| Ok(ctx.input("dims")?.clone()))
        .unwrap();
    b.edges_by_name([("extract", "load"), ("dims", "load"), ("dims", "report")])
        .unwrap();
    let graph = b.build().unwrap();
    let exec = executor(2);
    let first = exec.run(&graph);
    assert!(matches!(first.outcome("extract"), Some(Outcome::Consumed)));
    fail.store(false, Ordering::SeqCst);
    let second = exec.resume(&graph, first).unwrap();
    assert_eq!(second.output("load"), Some(&vec![1, 2, 3, 10]), "{second}");
    assert!(second.carried_over("dims") && second.carried_over("report"));
    assert!(
        !second.carried_over("extract"),
        "its output was taken: it runs again"
    );
    let counts: Vec<usize> = runs.iter().map(|r| r.load(Ordering::SeqCst)).collect();
    assert_eq!(counts, [2, 1, 2]);
}

#[test]
fn a_resume_reruns_a_branch_whose_output_a_task_it_passed_over_took() {
    let runs = AtomicUsize::new(0);
    let fail = std::sync::atomic::AtomicBool::new(true);
    let mut arena = Arena::new();
    let mut b = arena.builder::<u32>();
    b.task("check", |ctx| {
        runs.fetch_add(1, Ordering::SeqCst);
        ctx.branch(std::iter::empty::<&str>())?; // passes `join` over
        Ok(5)
    })
    .unwrap();
    // Its rule runs it anyway (nothing failed), and it takes the output.
    b.task("join", |ctx| {
        let five = ctx.take_input("check")?;
        if fail.load(Ordering::SeqCst) {
            return Err("not yet".into());
        }
        Ok(five + 1)
    })
    .unwrap();
    b.edge("check", "join").unwrap();
    b.branching("check").unwrap();
    b.trigger_rule("join", kahn::TriggerRule::NoneFailed)
        .unwrap();
    let graph = b.build().unwrap();
    let exec = executor(2);
    let first = exec.run(&graph);
    assert!(
        matches!(first.outcome("check"), Some(Outcome::Consumed)),
        "{first}"
    );
    fail.store(false, Ordering::SeqCst);
    let second = exec.resume(&graph, first).unwrap();
    assert_eq!(second.output("join"), Some(&6), "{second}");
    assert_eq!(runs.load(Ordering::SeqCst), 2, "check ran again for join");
}

// ---- Early release ----

#[test]
fn under_release_a_failed_reader_keeps_its_inputs_for_the_resume() {
    let runs: Vec<AtomicUsize> = (0..4).map(|_| AtomicUsize::new(0)).collect();
    let fail = std::sync::atomic::AtomicBool::new(true);
    let mut arena = Arena::new();
    let mut b = arena.builder::<u32>();
    b.task("extract", |_| {
        runs[0].fetch_add(1, Ordering::SeqCst);
        Ok(40)
    })
    .unwrap();
    b.task("audit", |ctx| {
        runs[1].fetch_add(1, Ordering::SeqCst);
        Ok(*ctx.input("extract")?)
    })
    .unwrap();
    b.task("load", |ctx| {
        runs[2].fetch_add(1, Ordering::SeqCst);
        if fail.load(Ordering::SeqCst) {
            return Err("the warehouse is down".into());
        }
        Ok(ctx.input("extract")? + 2)
    })
    .unwrap();
    // A branch passes `skipped` over: restored on resume, it reads nothing.
    b.task("route", |ctx| {
        runs[3].fetch_add(1, Ordering::SeqCst);
        ctx.branch(["taken"])?;
        Ok(1)
    })
    .unwrap();
    b.task("taken", |ctx| Ok(*ctx.input("route")?)).unwrap();
    b.task("skipped", |ctx| Ok(*ctx.input("route")?)).unwrap();
    b.task("after", |ctx| {
        if fail.load(Ordering::SeqCst) {
            return Err("not yet".into());
        }
        Ok(*ctx.input("taken")?)
    })
    .unwrap();
    b.edges_by_name([
        ("extract", "audit"),
        ("extract", "load"),
        ("route", "taken"),
        ("route", "skipped"),
        ("taken", "after"),
    ])
    .unwrap();
    b.branching("route").unwrap();
    let graph = b.build().unwrap();
    let exec = executor(2);
    let options = RunOptions::new().release_outputs(true);
    let first = exec.run_with(&graph, &options);
    assert_eq!(
        first.output("extract"),
        Some(&40),
        "load failed: extract is kept"
    );
    assert!(matches!(first.outcome("route"), Some(Outcome::Consumed)));
    assert!(
        matches!(first.outcome("taken"), Some(Outcome::Succeeded(_))),
        "after failed"
    );
    fail.store(false, Ordering::SeqCst);
    let second = exec.resume_with(&graph, first, &options).unwrap();
    assert!(second.is_success(), "{second}");
    assert_eq!(second.output("load"), Some(&42));
    let counts: Vec<usize> = runs.iter().map(|r| r.load(Ordering::SeqCst)).collect();
    assert_eq!(counts, [1, 1, 2, 1], "only load reran among these");
    assert!(second.carried_over("route") && second.carried_over("taken"));
}

#[test]
fn release_frees_each_output_once_its_readers_finish_and_keeps_sinks_and_kept() {
    for exec in executors() {
        let live = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut arena = Arena::new();
        let mut b = arena.builder::<Option<Tracked>>();
        // A chain of 50 stages (12 under Miri), each reading the one
        // before; stage 10 kept.
        let n = if cfg!(miri) { 12 } else { 50 };
        for v in 0..n {
            let (l, p) = (Arc::clone(&live), Arc::clone(&peak));
            b.unnamed_task(move |ctx| {
                let before = ctx
                    .inputs()
                    .map(|(_, t)| t.as_ref().unwrap().n)
                    .sum::<u64>();
                p.fetch_max(l.load(Ordering::SeqCst), Ordering::SeqCst);
                Ok(Some(Tracked::new(before + 1, &l)))
            })
            .unwrap();
            if v > 0 {
                b.edge(TaskId::new(v - 1), TaskId::new(v)).unwrap();
            }
        }
        b.keep_output(TaskId::new(10)).unwrap();
        let graph = b.build().unwrap();

        let report = exec.run_with(&graph, &RunOptions::new().release_outputs(true));
        assert!(report.is_success(), "{report}");
        assert!(
            peak.load(Ordering::SeqCst) <= 2,
            "at most the input and a kept one live"
        );
        assert_eq!(
            live.load(Ordering::SeqCst),
            2,
            "the sink and the kept stage"
        );
        assert_eq!(
            report.output(TaskId::new(10)).unwrap().as_ref().unwrap().n,
            11
        );
        assert_eq!(
            report
                .output(TaskId::new(n - 1))
                .unwrap()
                .as_ref()
                .unwrap()
                .n,
            n as u64
        );
        assert!(matches!(
            report.outcome(TaskId::new(3)),
            Some(Outcome::Consumed)
        ));
        assert_eq!(report.counts().succeeded, n as usize);
        drop(report);
        assert_eq!(live.load(Ordering::SeqCst), 0);

        // Without the option every output stays until the report goes.
        peak.store(0, Ordering::SeqCst);
        let report = exec.run(&graph);
        assert_eq!(live.load(Ordering::SeqCst), n as usize);
        assert_eq!(peak.load(Ordering::SeqCst), n as usize - 1);
        drop(report);
        assert_eq!(live.load(Ordering::SeqCst), 0);
    }
}

#[test]
fn an_output_is_not_released_while_a_slow_reader_still_needs_it() {
    for exec in executors() {
        let mut arena = Arena::new();
        let mut b = arena.builder::<String>();
        b.task("extract", |_| Ok("rows".repeat(1_000))).unwrap();
        b.task("fast", |ctx| Ok(ctx.input("extract")?[..4].to_owned()))
            .unwrap();
        b.task("slow", |ctx| {
            std::thread::sleep(Duration::from_millis(20));
            // `fast` finished long ago; the output is still here.
            Ok(ctx.input("extract")?.len().to_string())
        })
        .unwrap();
        b.edges_by_name([("extract", "fast"), ("extract", "slow")])
            .unwrap();
        let graph = b.build().unwrap();
        let report = exec.run_with(&graph, &RunOptions::new().release_outputs(true));
        assert_eq!(
            report.output("slow").map(String::as_str),
            Some("4000"),
            "{report}"
        );
        assert_eq!(report.output("fast").map(String::as_str), Some("rows"));
        assert!(matches!(report.outcome("extract"), Some(Outcome::Consumed)));
        assert!(report.is_success());
    }
}

#[test]
fn outputs_of_failed_and_cancelled_runs_are_released_exactly_once() {
    for exec in executors() {
        let live = Arc::new(AtomicUsize::new(0));
        let mut arena = Arena::new();
        let mut b = arena.builder::<Option<Tracked>>();
        let l = Arc::clone(&live);
        b.task("src", move |_| Ok(Some(Tracked::new(0, &l))))
            .unwrap();
        for k in 0..6 {
            let l = Arc::clone(&live);
            b.task(&format!("w{k}"), move |ctx| {
                let n = ctx.input("src")?.as_ref().unwrap().n;
                match k {
                    1 => Err("bad partition".into()),
                    2 => {
                        kahn_test_support::intend_panic();
                        panic!("a bug")
                    }
                    4 => {
                        ctx.cancel_run();
                        Ok(Some(Tracked::new(n, &l)))
                    }
                    _ => Ok(Some(Tracked::new(n + k, &l))),
                }
            })
            .unwrap();
            b.edge("src", format!("w{k}").as_str()).unwrap();
            b.task(&format!("after{k}"), move |ctx| {
                Ok(ctx.take_input(format!("w{k}").as_str())?)
            })
            .unwrap();
            b.edge(format!("w{k}").as_str(), format!("after{k}").as_str())
                .unwrap();
        }
        let graph = b.build().unwrap();
        for release in [false, true] {
            let options = RunOptions::new().release_outputs(release);
            let report = exec.run_with(&graph, &options);
            let held = report
                .tasks()
                .filter(|t| t.outcome.output().is_some())
                .count();
            assert_eq!(
                live.load(Ordering::SeqCst),
                held,
                "release {release}: {report}"
            );
            let stopped = report.counts().cancelled + report.counts().failed;
            assert!(stopped > 0, "{report}");
            drop(report);
            assert_eq!(live.load(Ordering::SeqCst), 0);
        }
    }
}

// ---- FnMut tasks ----

#[test]
fn an_fnmut_task_keeps_its_state_across_runs_and_concurrent_runs_take_turns() {
    let inside = AtomicUsize::new(0);
    let mut arena = Arena::new();
    let mut b = arena.builder::<usize>();
    let mut calls = 0;
    let inside = &inside;
    b.task_mut("count", move |_| {
        assert_eq!(
            inside.fetch_add(1, Ordering::SeqCst),
            0,
            "two runs inside at once"
        );
        std::thread::sleep(Duration::from_millis(2));
        calls += 1;
        inside.fetch_sub(1, Ordering::SeqCst);
        Ok(calls)
    })
    .unwrap();
    let graph = b.build().unwrap();
    let exec = executor(4);
    let mut seen: Vec<usize> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..8)
            .map(|_| s.spawn(|| *exec.run(&graph).output("count").unwrap()))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    seen.sort_unstable();
    assert_eq!(seen, (1..=8).collect::<Vec<_>>());
}

// ---- Random graphs against a sequential oracle ----

/// A DAG: its task count and edges.
type Dag = (usize, Vec<(u32, u32)>);

/// A random DAG, which of its single-reader edges move their value, and
/// whether the run releases outputs early.
fn any_data_case() -> impl Strategy<Value = (Dag, u64, bool)> {
    (any_dag(SMALL), any::<u64>(), any::<bool>())
}

/// Task `v`'s number: `v` plus its predecessors' numbers, mod 2^32.
fn oracle(n: usize, edges: &[(u32, u32)]) -> Vec<u64> {
    let mut preds = vec![Vec::new(); n];
    for &(u, v) in edges {
        if !preds[v as usize].contains(&u) {
            preds[v as usize].push(u);
        }
    }
    let mut memo: Vec<Option<u64>> = vec![None; n];
    fn number(v: usize, preds: &[Vec<u32>], memo: &mut [Option<u64>]) -> u64 {
        if let Some(x) = memo[v] {
            return x;
        }
        let mut x = v as u64;
        for &p in &preds[v] {
            x = (x + number(p as usize, preds, memo)) % (1 << 32);
        }
        memo[v] = Some(x);
        x
    }
    (0..n).map(|v| number(v, &preds, &mut memo)).collect()
}

/// The number in a task's output, whichever of three types it has.
fn number_of(value: &Value) -> u64 {
    if let Some(x) = value.downcast_ref::<u64>() {
        *x
    } else if let Some(s) = value.downcast_ref::<String>() {
        s.parse().unwrap()
    } else {
        value.downcast_ref::<Tracked>().unwrap().n
    }
}

proptest! {
    #![proptest_config(cases(96, 1))]

    #[test]
    fn typed_outputs_moves_and_release_match_a_sequential_oracle(
        ((n, edges), seed, release) in any_data_case()
    ) {
        let expected = oracle(n, &edges);
        let mut successors = vec![Vec::new(); n];
        for &(u, v) in &edges {
            if !successors[u as usize].contains(&v) {
                successors[u as usize].push(v);
            }
        }
        // An edge moves its value if it is its source's only one, by seed.
        let moves = |u: usize| successors[u].len() == 1 && (seed >> (u % 64)) & 1 == 1;
        let live = Arc::new(AtomicUsize::new(0));
        let mut arena = Arena::new();
        let mut b = arena.builder::<Value>();
        for v in 0..n {
            let live = Arc::clone(&live);
            let moves: Vec<bool> = (0..n).map(moves).collect();
            let preds: Vec<TaskId> = (0..n)
                .filter(|&u| successors[u].contains(&(v as u32)))
                .map(|u| TaskId::new(u as u32))
                .collect();
            b.unnamed_task(move |ctx| {
                let mut x = v as u64;
                // Read each predecessor: take it when its edge moves.
                for &id in &preds {
                    let number = if moves[id.index()] {
                        number_of(&ctx.take_input(id)?)
                    } else {
                        number_of(ctx.input(id)?)
                    };
                    x = (x + number) % (1 << 32);
                }
                Ok(match v % 3 {
                    0 => Value::new(x),
                    1 => Value::new(x.to_string()),
                    _ => Value::new(Tracked::new(x, &live)),
                })
            })
            .unwrap();
        }
        b.edges(edges.iter().map(|&(u, v)| (TaskId::new(u), TaskId::new(v)))).unwrap();
        let graph = b.build().unwrap();
        for exec in executors() {
            let options = RunOptions::new().release_outputs(release);
            let report = exec.run_with(&graph, &options);
            prop_assert!(report.is_success(), "{}", report);
            for v in 0..n {
                let id = TaskId::new(v as u32);
                let sink = successors[v].is_empty();
                match report.outcome(id).unwrap() {
                    Outcome::Succeeded(value) => {
                        prop_assert_eq!(number_of(value), expected[v]);
                        prop_assert!(sink || !(release || moves(v)), "task {} kept", v);
                    }
                    Outcome::Consumed => prop_assert!(!sink && (release || moves(v))),
                    other => prop_assert!(false, "task {}: {:?}", v, other),
                }
            }
            let held = report
                .tasks()
                .filter(|t| t.outcome.output().is_some_and(|o| o.downcast_ref::<Tracked>().is_some()))
                .count();
            prop_assert_eq!(live.load(Ordering::SeqCst), held);
            drop(report);
            prop_assert_eq!(live.load(Ordering::SeqCst), 0);
        }
    }
}
