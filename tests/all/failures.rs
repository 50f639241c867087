//! Failure isolation: skipped descendants and their root cause, panics, fail-fast, `into_result`, checked against an oracle.

use std::error::Error as _;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use kahn::{Arena, Executor, Outcome, RunOptions, State, StopReason, TaskFailure, TaskId};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use kahn_test_support::fuzzing::execute::{self, Behavior, ExecCase, Watch};
use kahn_test_support::{
    bounded, counts, executor, executors, intend_panic, spin_for, wait_for, wait_until,
};

fn skipped_for<T>(outcome: Option<Outcome<'_, T>>) -> Option<TaskId> {
    match outcome {
        Some(Outcome::Skipped { cause }) => Some(cause),
        _ => None,
    }
}

#[test]
fn descendants_of_a_failure_are_skipped_for_the_root_cause() {
    bounded(|| {
        for exec in executors() {
            let threads = exec.threads();
            let ran: Vec<AtomicU32> = (0..9).map(|_| AtomicU32::new(0)).collect();
            let mut arena = Arena::new();
            let mut b = arena.builder::<u64>();
            let body = |k: usize, value: Option<u64>| {
                let ran = &ran;
                move |_: &kahn::TaskContext<'_, u64>| {
                    ran[k].fetch_add(1, Ordering::Relaxed);
                    value.ok_or_else(|| "root failed".into())
                }
            };
            // root -> a -> c -> d, root -> b -> c (a diamond below the failure),
            // and an independent branch other -> other2.
            let root = b.task("root", body(0, None)).unwrap();
            let a = b.task("a", body(1, Some(1))).unwrap();
            let bb = b.task("b", body(2, Some(2))).unwrap();
            let c = b.task("c", body(3, Some(3))).unwrap();
            let d = b.task("d", body(4, Some(4))).unwrap();
            let other = b.task("other", body(5, Some(5))).unwrap();
            let other2 = b
                .task("other2", |ctx| Ok(ctx.input("other")? * 10))
                .unwrap();
            b.edges([
                (root, a),
                (root, bb),
                (a, c),
                (bb, c),
                (c, d),
                (other, other2),
            ])
            .unwrap();
            let graph = b.build().unwrap();
            let report = exec.run(&graph);

            let what = format!("{threads} threads: {report}");
            assert!(
                matches!(report.outcome(root), Some(Outcome::Failed(e)) if e.to_string() == "root failed"),
                "{what}"
            );
            for task in [a, bb, c, d] {
                assert_eq!(skipped_for(report.outcome(task)), Some(root), "{what}");
                assert_eq!(
                    ran[task.index()].load(Ordering::Relaxed),
                    0,
                    "{what}: a skipped task ran"
                );
            }
            assert_eq!(report.output(other), Some(&5), "{what}");
            assert_eq!(report.output(other2), Some(&50), "{what}");
            assert_eq!(ran[0].load(Ordering::Relaxed), 1);
            assert_eq!(ran[5].load(Ordering::Relaxed), 1);
            assert_eq!(report.counts(), counts(2, 1, 0, 4, 0), "{what}");
            assert_eq!(
                report.stop_reason(),
                None,
                "the default policy keeps going: {what}"
            );
            assert!(!report.is_success());
            let failures: Vec<TaskId> = report.failures().map(|t| t.id).collect();
            assert_eq!(failures, vec![root]);
        }
    });
}

#[test]
fn skip_cause_is_the_root_even_below_a_later_failure() {
    // first -> x -> second(fails if it ran) -> y: `second` never runs, so `y`
    // is skipped for `first`; on one thread a task with two failed parents is
    // skipped for one of them.
    let exec = executor(1);
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let first = b.task("first", |_| Err("first".into())).unwrap();
    let x = b.task("x", |_| Ok(())).unwrap();
    let second = b.task("second", |_| Err("second".into())).unwrap();
    let y = b.task("y", |_| Ok(())).unwrap();
    let lone = b.task("lone", |_| Err("lone".into())).unwrap();
    let both = b.task("both", |_| Ok(())).unwrap();
    b.edges([
        (first, x),
        (x, second),
        (second, y),
        (first, both),
        (lone, both),
    ])
    .unwrap();
    let graph = b.build().unwrap();
    let report = exec.run(&graph);
    assert_eq!(skipped_for(report.outcome(x)), Some(first));
    assert_eq!(skipped_for(report.outcome(second)), Some(first));
    assert_eq!(skipped_for(report.outcome(y)), Some(first));
    assert_eq!(report.state(lone), Some(State::Failed));
    assert!(matches!(skipped_for(report.outcome(both)), Some(c) if c == first || c == lone));
    assert!(
        report
            .to_string()
            .contains("skipped:  `y` (upstream `first` did not succeed)"),
        "{report}"
    );
}

#[test]
fn panics_become_outcomes_with_their_message() {
    bounded(|| {
        for exec in executors() {
            let threads = exec.threads();
            let mut arena = Arena::new();
            let mut b = arena.builder::<u64>();
            let literal = b
                .task("literal", |_| {
                    intend_panic();
                    panic!("a literal panic message")
                })
                .unwrap();
            let formatted = b
                .task("formatted", |_| {
                    intend_panic();
                    panic!("a formatted panic: {} + {}", 40, 2)
                })
                .unwrap();
            let opaque = b
                .task("opaque", |_| {
                    intend_panic();
                    std::panic::panic_any(42_u32)
                })
                .unwrap();
            let below = b.task("below", |ctx| Ok(*ctx.input("formatted")?)).unwrap();
            let fine = b.task("fine", |_| Ok(7)).unwrap();
            b.edge(formatted, below).unwrap();
            let graph = b.build().unwrap();
            // The process survives: run the panicking graph several times.
            for _ in 0..3 {
                let report = exec.run(&graph);
                let what = format!("{threads} threads: {report}");
                assert!(
                    matches!(report.outcome(literal), Some(Outcome::Panicked(m)) if m == "a literal panic message"),
                    "{what}"
                );
                assert!(
                    matches!(report.outcome(formatted), Some(Outcome::Panicked(m)) if m == "a formatted panic: 40 + 2"),
                    "{what}"
                );
                assert!(
                    matches!(report.outcome(opaque), Some(Outcome::Panicked(m)) if m == "the task panicked with a value that is not a string"),
                    "{what}"
                );
                assert_eq!(
                    skipped_for(report.outcome(below)),
                    Some(formatted),
                    "{what}"
                );
                assert_eq!(report.output(fine), Some(&7), "{what}");
                assert_eq!(report.counts(), counts(1, 0, 3, 1, 0));
                assert!(
                    report
                        .to_string()
                        .contains("\n  panicked: `formatted`: a formatted panic: 40 + 2"),
                    "{what}"
                );
            }
        }
    });
}

/// Random DAGs of up to 200 tasks in which up to 40% of the tasks fail or
/// panic, as cases of the `execute` fuzz check
/// (`kahn_test_support::fuzzing::execute`, against the shared run oracle),
/// which the `execute` fuzz target and the stress test use too. Nothing
/// stops these runs, so the oracle pins every outcome.
fn random_cases() -> impl Strategy<Value = ExecCase> {
    (1usize..=200, 0u8..=40)
        .prop_flat_map(|(n, fail_percent)| {
            let pairs = proptest::collection::vec((0..n as u16, 0..n as u16), 0..=3 * n);
            let rolls = proptest::collection::vec(0u8..100, n);
            (Just(fail_percent), pairs, any::<u64>(), rolls)
        })
        .prop_map(|(fail_percent, edges, order_seed, rolls)| {
            let tasks = rolls
                .into_iter()
                .map(|r| match r {
                    r if r < fail_percent / 2 => Behavior::Fail,
                    r if r < fail_percent => Behavior::Panic,
                    _ => Behavior::Ok,
                })
                .collect();
            ExecCase {
                fail_fast: false,
                watch: Watch::Nothing,
                threads: 0,
                order_seed,
                edges,
                tasks,
                resources: Vec::new(),
                uses: Vec::new(),
                more_runs: Vec::new(),
                stops: Vec::new(),
                data: 0,
            }
        })
}

fn check_random_dags(threads: usize) {
    let cases = if cfg!(miri) { 4 } else { 64 };
    bounded(move || {
        let exec = executor(threads);
        let mut config = Config::with_cases(cases);
        config.failure_persistence = None;
        let mut runner = TestRunner::new(config);
        let outcome = runner.run(&random_cases(), |case| {
            execute::check_on(exec, &case).map_err(TestCaseError::fail)
        });
        if let Err(error) = outcome {
            panic!("{threads} threads: {error}");
        }
    });
}

#[test]
fn random_dags_match_the_oracle_on_1_thread() {
    check_random_dags(1);
}

#[test]
fn random_dags_match_the_oracle_on_2_threads() {
    check_random_dags(2);
}

#[test]
fn random_dags_match_the_oracle_on_4_threads() {
    check_random_dags(4);
}

/// `join` waits for `bad` (fails) and `good` (succeeds), which run at the
/// same time on two workers; `good` finishes a little after `bad`, sweeping
/// the delay. Whatever the interleaving, `join` must be skipped for `bad`.
///
/// The bug: `RunCore::claim` reads the pending count, sees 2, and only then
/// (after allocating the run's cause array, which takes long for a big graph)
/// poisons and decrements it with `fetch_update`. If `good`'s clean release
/// lands in between, the update finds a count of 1 with no poison bit, and
/// `claim` returns `Some(TaskId::NONE)`: `join` runs as if both predecessors
/// had succeeded (and its `ctx.input("bad")` hits an `unreachable!`).
#[test]
fn a_failed_predecessor_racing_a_clean_release_still_skips_the_join() {
    let (trials, fillers) = if cfg!(miri) { (2, 10) } else { (100, 20_000) };
    bounded(move || {
        // An executor of its own: the race needs this test's `good` and
        // `bad` on two idle workers at once, which another test's run on
        // a shared executor could hold.
        let exec = Executor::with_threads(2).unwrap();
        let bad_done = AtomicBool::new(false);
        let good_started = AtomicBool::new(false);
        let delay = AtomicU32::new(0);
        let join_ran = AtomicUsize::new(0);
        let mut arena = Arena::new();
        let mut b = arena.builder::<u32>();
        // While `warmup` runs, the second worker goes hungry, so the first one
        // then hands it `good` and runs `bad` itself.
        b.task("warmup", |_| {
            std::thread::sleep(Duration::from_millis(2));
            Ok(0)
        })
        .unwrap();
        let bad = b
            .task("bad", |_| {
                wait_for(&good_started, Duration::from_millis(100));
                bad_done.store(true, Ordering::SeqCst);
                Err("bad fails".into())
            })
            .unwrap();
        let good = b
            .task("good", |_| {
                good_started.store(true, Ordering::SeqCst);
                wait_for(&bad_done, Duration::from_millis(100));
                spin_for(Duration::from_micros(u64::from(
                    delay.load(Ordering::SeqCst),
                )));
                Ok(1)
            })
            .unwrap();
        let join = b
            .task("join", |_| {
                join_ran.fetch_add(1, Ordering::SeqCst);
                Ok(2)
            })
            .unwrap();
        b.edge(bad, join).unwrap();
        b.edge(good, join).unwrap();
        // Many tasks below `join`, so the run's per-task arrays are big.
        for _ in 0..fillers {
            let filler = b.unnamed_task(|_| Ok(3)).unwrap();
            b.edge(join, filler).unwrap();
        }
        let graph = b.build().unwrap();
        for trial in 0..trials {
            bad_done.store(false, Ordering::SeqCst);
            good_started.store(false, Ordering::SeqCst);
            delay.store(trial % 20 * 10, Ordering::SeqCst);
            let report = exec.run(&graph);
            assert_eq!(report.state(good), Some(State::Succeeded));
            assert_eq!(report.state(bad), Some(State::Failed));
            assert_eq!(
                skipped_for(report.outcome(join)),
                Some(bad),
                "trial {trial}: `join` ran although `bad` failed ({} runs so far); its outcome: {:?}",
                join_ran.load(Ordering::SeqCst),
                report.outcome(join)
            );
            assert_eq!(report.counts().skipped, 1 + fillers);
        }
        assert_eq!(join_ran.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn fail_fast_on_one_thread_cancels_everything_not_started() {
    // One thread runs the sources in id order and goes depth-first, so the
    // failing first source runs first, its descendants are skipped, and every
    // other task is then cancelled.
    let exec = executor(1);
    let others = if cfg!(miri) { 5 } else { 50 };
    for panics in [false, true] {
        let ran = AtomicUsize::new(0);
        let mut arena = Arena::new();
        let mut b = arena.builder::<usize>();
        let bad = if panics {
            b.task("bad", |_| {
                intend_panic();
                panic!("fail-fast panic")
            })
            .unwrap()
        } else {
            b.task("bad", |_| Err("fail-fast error".into())).unwrap()
        };
        let independent: Vec<TaskId> = (0..others)
            .map(|i| {
                let ran = &ran;
                b.unnamed_task(move |_| {
                    ran.fetch_add(1, Ordering::SeqCst);
                    Ok(i)
                })
                .unwrap()
            })
            .collect();
        let child = b.task("child", |_| Ok(0)).unwrap();
        let grandchild = b.task("grandchild", |_| Ok(0)).unwrap();
        b.edges([(bad, child), (child, grandchild)]).unwrap();
        let graph = b.build().unwrap();
        let report = exec.run_with(&graph, &RunOptions::new().fail_fast());
        assert_eq!(report.stop_reason(), Some(StopReason::FailFast), "{report}");
        let expected = if panics {
            State::Panicked
        } else {
            State::Failed
        };
        assert_eq!(report.state(bad), Some(expected));
        assert_eq!(skipped_for(report.outcome(child)), Some(bad));
        assert_eq!(skipped_for(report.outcome(grandchild)), Some(bad));
        for &t in &independent {
            assert_eq!(report.state(t), Some(State::Cancelled), "{report}");
        }
        assert_eq!(ran.load(Ordering::SeqCst), 0, "a cancelled task ran");
        let counts = report.counts();
        assert_eq!(
            (counts.succeeded, counts.skipped, counts.cancelled),
            (0, 2, others)
        );
        assert_eq!(counts.failed + counts.panicked, 1);
        assert!(
            report
                .to_string()
                .contains("\n  stopped early: the run stopped at the first failure (fail-fast)"),
            "{report}"
        );
    }
}

#[test]
fn fail_fast_keeps_what_finished_before_the_failure() {
    let exec = executor(1);
    let mut arena = Arena::new();
    let mut b = arena.builder::<u32>();
    b.task("g0", |_| Ok(1)).unwrap();
    b.task("g1", |_| Ok(2)).unwrap();
    b.task("bad", |_| Err("no".into())).unwrap();
    for i in 0..5 {
        b.task(&format!("later{i}"), |_| Ok(3)).unwrap();
    }
    b.task("after_g0", |ctx| Ok(ctx.input("g0")? + 10)).unwrap();
    b.edge("g0", "after_g0").unwrap();
    let graph = b.build().unwrap();
    let report = exec.run_with(&graph, &RunOptions::new().fail_fast());
    assert_eq!(report.output("g0"), Some(&1));
    assert_eq!(report.output("g1"), Some(&2));
    assert_eq!(
        report.output("after_g0"),
        Some(&11),
        "depth-first: g0's successor runs before g1"
    );
    assert_eq!(report.state("bad"), Some(State::Failed));
    for i in 0..5 {
        assert_eq!(
            report.state(format!("later{i}").as_str()),
            Some(State::Cancelled)
        );
    }
    assert_eq!(report.stop_reason(), Some(StopReason::FailFast));
}

#[test]
fn fail_fast_on_many_threads_never_runs_a_cancelled_task() {
    let (others, sleep) = if cfg!(miri) {
        (6, Duration::ZERO)
    } else {
        (100, Duration::from_millis(2))
    };
    bounded(move || {
        for exec in [2, 4].map(executor) {
            let threads = exec.threads();
            let ran: Vec<AtomicU32> = (0..others).map(|_| AtomicU32::new(0)).collect();
            let mut arena = Arena::new();
            let mut b = arena.builder::<usize>();
            let bad = b.task("bad", |_| Err("stop".into())).unwrap();
            let independent: Vec<TaskId> = (0..others)
                .map(|i| {
                    let ran = &ran;
                    b.unnamed_task(move |_| {
                        ran[i].fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(sleep);
                        Ok(i)
                    })
                    .unwrap()
                })
                .collect();
            let mut prev = bad;
            let mut chain = Vec::new();
            for _ in 0..3 {
                let next = b.unnamed_task(|_| Ok(0)).unwrap();
                b.edge(prev, next).unwrap();
                chain.push(next);
                prev = next;
            }
            let graph = b.build().unwrap();
            let report = exec.run_with(&graph, &RunOptions::new().fail_fast());
            let what = format!("{threads} threads: {report}");
            assert_eq!(report.stop_reason(), Some(StopReason::FailFast), "{what}");
            assert_eq!(report.state(bad), Some(State::Failed), "{what}");
            for &t in &chain {
                assert_eq!(skipped_for(report.outcome(t)), Some(bad), "{what}");
            }
            let mut counts = counts(0, 1, 0, 3, 0);
            for (i, &t) in independent.iter().enumerate() {
                let runs = ran[i].load(Ordering::SeqCst);
                match report.outcome(t).unwrap() {
                    Outcome::Succeeded(x) => {
                        assert_eq!((*x, runs), (i, 1), "{what}");
                        counts.succeeded += 1;
                    }
                    Outcome::Cancelled => {
                        assert_eq!(runs, 0, "{what}: cancelled task {i} ran");
                        counts.cancelled += 1;
                    }
                    other => panic!("{what}: independent task {i} ended {:?}", other.state()),
                }
            }
            assert_eq!(report.counts(), counts, "{what}");
        }
    });
}

#[test]
fn under_fail_fast_a_running_task_sees_the_stop() {
    bounded(|| {
        // An executor of its own: `watcher` and `bad` wait for each other on
        // two workers, which another test's run on a shared executor could
        // hold (and runs that wait across workers can deadlock each other).
        let exec = Executor::with_threads(2).unwrap();
        let watching = AtomicBool::new(false);
        let failing = AtomicBool::new(false);
        let mut arena = Arena::new();
        let mut b = arena.builder::<&'static str>();
        // While `warmup` sleeps, the other worker goes hungry; the first then
        // hands it half of `warmup`'s successors, so `watcher` and `bad` run
        // at the same time on different workers.
        b.task("warmup", |_| {
            std::thread::sleep(Duration::from_millis(100));
            Ok("warm")
        })
        .unwrap();
        b.task("watcher", |ctx| {
            watching.store(true, Ordering::SeqCst);
            if !wait_until(Duration::from_secs(10), || ctx.is_cancelled()) {
                let why = if failing.load(Ordering::SeqCst) {
                    "never saw the stop"
                } else {
                    "`bad` never ran"
                };
                return Err(why.into());
            }
            Ok("saw the stop")
        })
        .unwrap();
        b.task("bad", |ctx| {
            if !wait_for(&watching, Duration::from_secs(10)) {
                return Err("`watcher` did not run alongside".into());
            }
            assert!(!ctx.is_cancelled(), "nothing failed yet");
            failing.store(true, Ordering::SeqCst);
            Err("bad".into())
        })
        .unwrap();
        b.edge("warmup", "watcher").unwrap();
        b.edge("warmup", "bad").unwrap();
        let graph = b.build().unwrap();
        let report = exec.run_with(&graph, &RunOptions::new().fail_fast());
        assert_eq!(report.output("watcher"), Some(&"saw the stop"), "{report}");
        assert!(
            matches!(report.outcome("bad"), Some(Outcome::Failed(e)) if e.to_string() == "bad"),
            "{report}"
        );
        assert_eq!(report.stop_reason(), Some(StopReason::FailFast));
    });
}

/// A task error with a type of its own, to find it again through `source()`.
#[derive(Debug)]
struct DiskFull {
    device: &'static str,
}

impl fmt::Display for DiskFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "disk {} is full", self.device)
    }
}

impl std::error::Error for DiskFull {}

#[test]
fn into_result_is_ok_for_a_clean_run() {
    let exec = executor(2);
    let mut arena = Arena::new();
    let mut b = arena.builder::<u64>();
    b.task("a", |_| Ok(1)).unwrap();
    b.task("b", |ctx| Ok(ctx.input("a")? + 1)).unwrap();
    b.edge("a", "b").unwrap();
    let graph = b.build().unwrap();
    let report = exec.run(&graph).into_result().expect("a clean run is Ok");
    assert_eq!(report.output("b"), Some(&2));
    let through_question_mark = || -> Result<u64, Box<dyn std::error::Error>> {
        let report = exec.run(&graph).into_result()?;
        Ok(*report.output("b").unwrap())
    };
    assert_eq!(through_question_mark().unwrap(), 2);
}

#[test]
fn into_result_names_every_failure_and_sources_the_first_error() {
    let exec = executor(2);
    let mut arena = Arena::new();
    let mut b = arena.builder::<u64>();
    b.task("crash", |_| {
        intend_panic();
        panic!("kaboom")
    })
    .unwrap();
    b.task("disk", |_| Err(Box::new(DiskFull { device: "sda" })))
        .unwrap();
    b.task("net", |_| Err("timeout".into())).unwrap();
    b.task("ok", |_| Ok(1)).unwrap();
    b.task("child", |ctx| Ok(*ctx.input("disk")?)).unwrap();
    b.edge("disk", "child").unwrap();
    let graph = b.build().unwrap();

    let error = exec
        .run(&graph)
        .into_result()
        .expect_err("the run had failures");
    assert_eq!(
        error.to_string(),
        "1 of 5 tasks succeeded; 3 failed (`crash` panicked: kaboom; `disk` failed: disk sda is full; `net` failed: timeout); 1 skipped"
    );
    let failures = error.failures();
    let names: Vec<Option<&str>> = failures.iter().map(|(task, _)| task.name()).collect();
    assert_eq!(names, [Some("crash"), Some("disk"), Some("net")]);
    let ids: Vec<TaskId> = failures.iter().map(|(task, _)| task.id()).collect();
    let expected: Vec<TaskId> = ["crash", "disk", "net"]
        .map(|name| graph.find(name).unwrap())
        .into();
    assert_eq!(ids, expected, "failures name their tasks by id too");
    assert!(matches!(&failures[0].1, TaskFailure::Panicked(m) if m == "kaboom"));
    assert!(
        matches!(&failures[1].1, TaskFailure::Failed(e) if e.to_string() == "disk sda is full")
    );
    assert_eq!(failures[2].1.to_string(), "failed: timeout");
    assert_eq!(
        (error.skipped(), error.cancelled(), error.stop_reason()),
        (1, 0, None)
    );
    // The source is the first *error* (the panic before it has none).
    let source = error.source().expect("a task returned an error");
    assert_eq!(
        source.downcast_ref::<DiskFull>().map(|d| d.device),
        Some("sda")
    );

    // Through `?` into a boxed error, the message survives.
    let boxed: Box<dyn std::error::Error + Send + Sync> =
        exec.run(&graph).into_result().unwrap_err().into();
    assert!(boxed
        .to_string()
        .starts_with("1 of 5 tasks succeeded; 3 failed"));
}

#[test]
fn into_result_cuts_long_failure_lists_and_reports_panics_without_source() {
    let exec = executor(1);
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    for i in 0..5 {
        b.task(&format!("p{i}"), move |_| {
            intend_panic();
            panic!("p{i} panicked")
        })
        .unwrap();
    }
    let graph = b.build().unwrap();
    let error = exec.run(&graph).into_result().unwrap_err();
    assert_eq!(
        error.to_string(),
        "0 of 5 tasks succeeded; 5 failed (`p0` panicked: p0 panicked; `p1` panicked: p1 panicked; `p2` panicked: p2 panicked; and 2 more)"
    );
    assert_eq!(error.failures().len(), 5);
    assert!(
        error.source().is_none(),
        "panics carry no error to be a source"
    );

    // Fail-fast: the cancelled tasks and the reason are in the message too.
    let error = exec
        .run_with(&graph, &RunOptions::new().fail_fast())
        .into_result()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "0 of 5 tasks succeeded; 1 failed (`p0` panicked: p0 panicked); 4 cancelled; the run stopped at the first failure (fail-fast)"
    );
    assert_eq!(
        (error.cancelled(), error.stop_reason()),
        (4, Some(StopReason::FailFast))
    );
}

#[test]
fn into_parts_keeps_the_outputs_of_a_failed_run() {
    for exec in executors() {
        let mut arena = Arena::new();
        let mut b = arena.builder::<String>();
        b.task("extract", |_| Ok("rows".to_owned())).unwrap();
        b.task("clean", |ctx| {
            Ok(format!("clean {}", ctx.input("extract")?))
        })
        .unwrap();
        b.task("load", |_| Err("the warehouse refused the batch".into()))
            .unwrap();
        b.task("report", |ctx| Ok(ctx.input("load")?.clone()))
            .unwrap();
        b.task("audit", |_| Ok("audited".to_owned())).unwrap();
        b.edge("extract", "clean").unwrap();
        b.edge("clean", "load").unwrap();
        b.edge("load", "report").unwrap();
        let graph = b.build().unwrap();
        let id = |name| graph.find(name).unwrap().index();

        let (outputs, error) = exec.run(&graph).into_parts();
        assert_eq!(outputs.len(), 5);
        assert_eq!(outputs[id("extract")].as_deref(), Some("rows"));
        assert_eq!(outputs[id("clean")].as_deref(), Some("clean rows"));
        assert_eq!(outputs[id("audit")].as_deref(), Some("audited"));
        assert_eq!(
            (&outputs[id("load")], &outputs[id("report")]),
            (&None, &None)
        );
        let error = error.expect("`load` failed");
        let failed: Vec<_> = error.failures().iter().map(|(t, _)| t.clone()).collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(
            (failed[0].id().index(), failed[0].name()),
            (id("load"), Some("load"))
        );
        assert_eq!(error.skipped(), 1);
        assert_eq!(
            error.to_string(),
            "3 of 5 tasks succeeded; 1 failed (`load` failed: the warehouse refused the batch); 1 skipped"
        );

        // A clean run splits into every output and no error.
        let mut arena = Arena::new();
        let mut b = arena.builder::<u8>();
        b.task("a", |_| Ok(1)).unwrap();
        let graph = b.build().unwrap();
        let (outputs, error) = exec.run(&graph).into_parts();
        assert_eq!((outputs, error.is_none()), (vec![Some(1)], true));
    }
}

#[test]
fn a_huge_message_is_cut_in_summaries_and_whole_in_the_api() {
    const HUGE: usize = 32 << 20;
    let exec = executor(2);
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.task("bulky", |_| Err("x".repeat(HUGE).into())).unwrap();
    // Three-byte characters: the cut at 500 bytes falls inside one.
    b.task("euros", |_| Err("€".repeat(1000).into())).unwrap();
    b.task("crash", |_| {
        intend_panic();
        panic!("{}", "p".repeat(HUGE))
    })
    .unwrap();
    b.task("terse", |_| Err("short and whole".into())).unwrap();
    let graph = b.build().unwrap();
    let report = exec.run(&graph);

    let shown = report.to_string();
    assert!(
        shown.len() < 4 * 1024,
        "the summary stays short: {} bytes",
        shown.len()
    );
    let cut = format!("… [message cut: {HUGE} bytes in all]");
    let bulky = format!(
        "\n  failed:   `bulky`: {}{cut}",
        "x".repeat(TaskFailure::SHOWN_BYTES)
    );
    assert!(shown.contains(&bulky), "{shown}");
    let crash = format!(
        "\n  panicked: `crash`: {}{cut}",
        "p".repeat(TaskFailure::SHOWN_BYTES)
    );
    assert!(shown.contains(&crash), "{shown}");
    let euros = format!(
        "`euros`: {}… [message cut: 3000 bytes in all]",
        "€".repeat(166)
    );
    assert!(
        shown.contains(&euros),
        "cut on a character boundary: {shown}"
    );
    assert!(
        shown.contains("\n  failed:   `terse`: short and whole\n")
            || shown.ends_with("`terse`: short and whole")
    );

    // The full message is still there.
    match report.outcome("bulky") {
        Some(Outcome::Failed(error)) => assert_eq!(error.to_string().len(), HUGE),
        other => panic!("bulky: {other:?}"),
    }
    match report.outcome("crash") {
        Some(Outcome::Panicked(message)) => assert_eq!(message.len(), HUGE),
        other => panic!("crash: {other:?}"),
    }

    let error = report.into_result().unwrap_err();
    let shown = error.to_string();
    assert!(
        shown.len() < 4 * 1024,
        "the error stays short: {} bytes",
        shown.len()
    );
    assert!(
        shown.contains(&format!("`bulky` failed: {}{cut}", "x".repeat(500))),
        "{shown}"
    );
    let (_, bulky) = &error.failures()[0];
    assert_eq!(
        bulky.to_string().len(),
        "failed: ".len() + HUGE,
        "a failure's own Display is whole"
    );
    assert_eq!(
        bulky.shortened().to_string(),
        format!("failed: {}{cut}", "x".repeat(500))
    );
}
