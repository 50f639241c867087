//! Stopping a run: cancel tokens from other threads and from tasks, deadlines and timeouts.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kahn::{Arena, CancelToken, Executor, Outcome, RunOptions, State, StopReason, TaskId};

use kahn_test_support::fixtures::add_sleeping_chain;
use kahn_test_support::{bounded, executor, executors, wait_until};

#[test]
fn cancelling_from_another_thread_stops_a_running_run() {
    bounded(|| {
        for exec in executors() {
            let threads = exec.threads();
            let token = CancelToken::new();
            let (started_tx, started_rx) = mpsc::channel::<()>();
            let ran: Vec<AtomicU32> = (0..6).map(|_| AtomicU32::new(0)).collect();
            let mut arena = Arena::new();
            let mut b = arena.builder::<&'static str>();
            // `watcher` runs until it sees the cancel; a chain waits behind it.
            let watcher = b
                .task("watcher", |ctx| {
                    ran[0].fetch_add(1, Ordering::SeqCst);
                    assert!(!ctx.is_cancelled(), "not cancelled yet");
                    started_tx.send(()).unwrap();
                    if !wait_until(Duration::from_secs(20), || ctx.is_cancelled()) {
                        return Err("never saw the cancel".into());
                    }
                    Ok("returned early")
                })
                .unwrap();
            let mut prev = watcher;
            let mut chain = Vec::new();
            for k in 1..6 {
                let ran = &ran;
                let next = b
                    .unnamed_task(move |_| {
                        ran[k].fetch_add(1, Ordering::SeqCst);
                        Ok("ran")
                    })
                    .unwrap();
                b.edge(prev, next).unwrap();
                chain.push(next);
                prev = next;
            }
            let graph = b.build().unwrap();

            let options = RunOptions::new().cancel_token(token.clone());
            let canceller = token.clone();
            let report = std::thread::scope(|s| {
                s.spawn(move || {
                    started_rx
                        .recv_timeout(Duration::from_secs(20))
                        .expect("the watcher started");
                    canceller.cancel();
                });
                exec.run_with(&graph, &options)
            });
            let what = format!("{threads} threads: {report}");
            assert!(token.is_cancelled());
            assert_eq!(report.stop_reason(), Some(StopReason::Cancelled), "{what}");
            assert_eq!(report.output(watcher), Some(&"returned early"), "{what}");
            for &t in &chain {
                assert_eq!(report.state(t), Some(State::Cancelled), "{what}");
            }
            assert_eq!(ran[0].load(Ordering::SeqCst), 1);
            assert!(
                ran[1..].iter().all(|r| r.load(Ordering::SeqCst) == 0),
                "{what}: a cancelled task ran"
            );
            assert_eq!(report.counts().cancelled, 5);
            assert!(!report.is_success());
            assert!(
                report
                    .to_string()
                    .contains("\n  stopped early: the run was cancelled"),
                "{what}"
            );
        }
    });
}

#[test]
fn cancelling_many_independent_tasks_midway_cancels_the_rest() {
    bounded(|| {
        for exec in executors() {
            let threads = exec.threads();
            let n = if cfg!(miri) { 10 } else { 200 };
            let token = CancelToken::new();
            // When each task started, as 1, 2, 3, ...; 0 if it never did.
            let clock = AtomicUsize::new(0);
            let started: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
            let mut arena = Arena::new();
            let mut b = arena.builder::<usize>();
            for i in 0..n {
                let (clock, started, token) = (&clock, &started, &token);
                b.unnamed_task(move |_| {
                    started[i].store(clock.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                    if i == n / 4 {
                        // A clone cancels for everyone.
                        token.clone().cancel();
                    }
                    Ok(i)
                })
                .unwrap();
            }
            let graph = b.build().unwrap();
            let report = exec.run_with(&graph, &RunOptions::new().cancel_token(token.clone()));
            let what = format!("{threads} threads: {report}");
            assert_eq!(report.stop_reason(), Some(StopReason::Cancelled), "{what}");
            assert_eq!(
                report.state(TaskId::new(n as u32 / 4)),
                Some(State::Succeeded),
                "{what}"
            );
            let mut cancelled = 0;
            for (i, started) in started.iter().enumerate() {
                let started = started.load(Ordering::SeqCst);
                match report.outcome(TaskId::new(i as u32)).unwrap() {
                    Outcome::Succeeded(x) => assert!(*x == i && started > 0, "{what}"),
                    Outcome::Cancelled => {
                        assert_eq!(started, 0, "{what}: cancelled task {i} ran");
                        cancelled += 1;
                    }
                    other => panic!("{what}: task {i} ended {:?}", other.state()),
                }
            }
            assert_eq!(report.counts().cancelled, cancelled);
            assert_eq!(report.counts().succeeded, n - cancelled);
            if threads == 1 {
                // One thread runs one task at a time: none started after the
                // one that cancelled, whatever order the scheduler chose.
                let canceller = started[n / 4].load(Ordering::SeqCst);
                assert_eq!(n - cancelled, canceller, "{what}");
            }
        }
    });
}

#[test]
fn a_token_cancelled_before_the_run_cancels_every_task() {
    bounded(|| {
        for exec in executors() {
            let threads = exec.threads();
            let ran = AtomicU32::new(0);
            let mut arena = Arena::new();
            let mut b = arena.builder::<u32>();
            let mut prev = None;
            for i in 0..20 {
                let ran = &ran;
                let t = b
                    .unnamed_task(move |_| {
                        ran.fetch_add(1, Ordering::SeqCst);
                        Ok(i)
                    })
                    .unwrap();
                if let Some(p) = prev.filter(|_| i % 3 != 0) {
                    b.edge(p, t).unwrap();
                }
                prev = Some(t);
            }
            let graph = b.build().unwrap();
            let token = CancelToken::new();
            token.cancel();
            let options = RunOptions::new().cancel_token(token);
            for _ in 0..2 {
                // The token stays cancelled, so a second run is cancelled too.
                let report = exec.run_with(&graph, &options);
                assert!(
                    report
                        .tasks()
                        .all(|t| t.outcome.state() == State::Cancelled),
                    "{report}"
                );
                assert_eq!(report.counts().cancelled, 20);
                assert_eq!(report.stop_reason(), Some(StopReason::Cancelled));
                let error = report.into_result().unwrap_err();
                assert_eq!(
                    error.to_string(),
                    "0 of 20 tasks succeeded; 20 cancelled; the run was cancelled"
                );
                assert!(error.failures().is_empty());
            }
            assert_eq!(
                ran.load(Ordering::SeqCst),
                0,
                "{threads} threads: a task ran"
            );

            // A fresh token does not stop the run.
            let report = exec.run_with(&graph, &RunOptions::new().cancel_token(CancelToken::new()));
            assert!(report.is_success(), "{report}");
            assert_eq!(report.stop_reason(), None);
        }
    });
}

#[test]
fn a_cancelled_run_keeps_the_outputs_of_finished_tasks() {
    bounded(|| {
        for exec in [1, 2].map(executor) {
            let token = CancelToken::new();
            let mut arena = Arena::new();
            let mut b = arena.builder::<String>();
            b.task("first", |_| Ok("first output".to_owned())).unwrap();
            b.task("second", |ctx| {
                token.cancel();
                assert!(ctx.is_cancelled(), "a task sees the cancel it made");
                Ok(format!("{} and second", ctx.input("first")?))
            })
            .unwrap();
            b.task("third", |ctx| Ok(ctx.input("second")?.clone()))
                .unwrap();
            b.task("fourth", |ctx| Ok(ctx.input("third")?.clone()))
                .unwrap();
            b.edges([
                (TaskId::new(0), TaskId::new(1)),
                (TaskId::new(1), TaskId::new(2)),
                (TaskId::new(2), TaskId::new(3)),
            ])
            .unwrap();
            let graph = b.build().unwrap();
            let report = exec.run_with(&graph, &RunOptions::new().cancel_token(token.clone()));
            assert_eq!(
                report.output("first").map(String::as_str),
                Some("first output")
            );
            assert_eq!(
                report.output("second").map(String::as_str),
                Some("first output and second")
            );
            assert_eq!(report.state("third"), Some(State::Cancelled));
            assert_eq!(report.state("fourth"), Some(State::Cancelled));
            assert_eq!(report.stop_reason(), Some(StopReason::Cancelled));
            let outputs = report.into_outputs();
            assert_eq!(outputs[1].as_deref(), Some("first output and second"));
            assert_eq!(outputs[2], None, "a cancelled task has no output");
        }
    });
}

#[test]
fn in_a_cancelled_run_descendants_of_a_failure_are_still_skipped() {
    // One thread: `bad` runs first, cancels, and fails; its child is skipped
    // for it, and the tasks not started are cancelled.
    let exec = executor(1);
    let token = CancelToken::new();
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let bad = b
        .task("bad", |_| {
            token.cancel();
            Err("bad".into())
        })
        .unwrap();
    let x = b.task("x", |_| Ok(())).unwrap();
    let child = b.task("child", |_| Ok(())).unwrap();
    b.edge(bad, child).unwrap();
    let graph = b.build().unwrap();
    let report = exec.run_with(&graph, &RunOptions::new().cancel_token(token.clone()));
    assert_eq!(report.state(bad), Some(State::Failed));
    assert!(
        matches!(report.outcome(child), Some(Outcome::Skipped { cause }) if cause == bad),
        "{report}"
    );
    assert_eq!(report.state(x), Some(State::Cancelled));
    assert_eq!(report.stop_reason(), Some(StopReason::Cancelled));
}

/// Builds a chain of `len` tasks that each sleep `step`, runs it with
/// `options`, and checks the deadline semantics. Returns how many ran.
fn check_deadline_chain(
    exec: &Executor,
    len: usize,
    step: Duration,
    limit: Duration,
    options: &RunOptions,
) -> usize {
    let ran: Vec<AtomicU32> = (0..len).map(|_| AtomicU32::new(0)).collect();
    let mut arena = Arena::new();
    let mut b = arena.builder::<usize>();
    for i in 0..len {
        let ran = &ran;
        let t = b
            .unnamed_task(move |_| {
                ran[i].fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(step);
                Ok(i)
            })
            .unwrap();
        if i > 0 {
            b.edge(TaskId::new(i as u32 - 1), t).unwrap();
        }
    }
    let graph = b.build().unwrap();
    let report = exec.run_with(&graph, &options.clone().record_timings(true));
    let what = format!("{report}");
    assert_eq!(
        report.stop_reason(),
        Some(StopReason::DeadlineExceeded),
        "{what}"
    );
    // A prefix succeeded, the rest was cancelled.
    let succeeded = report
        .tasks()
        .take_while(|t| t.outcome.state() == State::Succeeded)
        .count();
    for (i, task) in report.tasks().enumerate() {
        let expected = if i < succeeded {
            State::Succeeded
        } else {
            State::Cancelled
        };
        assert_eq!(task.outcome.state(), expected, "task {i}: {what}");
        assert_eq!(
            ran[i].load(Ordering::SeqCst),
            u32::from(i < succeeded),
            "task {i}: {what}"
        );
    }
    // The chain is far longer than the limit, so its end was cancelled; the
    // first task started long before the limit (a generous margin).
    assert!(succeeded >= 1 && succeeded < len, "{what}");
    // A task started only if its predecessor had ended before the limit:
    // with each taking at least `step`, at most limit / step + 1 can start.
    for i in 1..succeeded {
        let before = report.timing(TaskId::new(i as u32 - 1)).unwrap();
        assert!(
            before.start + before.duration < limit,
            "task {i} started after the limit: {what}"
        );
    }
    assert!(
        succeeded as u32 <= (limit.as_nanos() / step.as_nanos()) as u32 + 1,
        "{what}"
    );
    assert!(
        report
            .to_string()
            .contains("\n  stopped early: the run passed its deadline"),
        "{what}"
    );
    succeeded
}

#[test]
// Wall-clock limits of a few hundred milliseconds mean nothing under Miri,
// which interprets the run's setup alone more slowly than that.
#[cfg_attr(miri, ignore)]
fn a_timeout_cancels_the_tasks_that_would_start_after_it() {
    bounded(|| {
        // One thread runs on the calling thread: no pool to share.
        let exec = executor(1);
        let (step, limit) = (Duration::from_millis(100), Duration::from_millis(350));
        check_deadline_chain(exec, 20, step, limit, &RunOptions::new().timeout(limit));
    });
}

#[test]
// A wall-clock limit Miri cannot keep, as above.
#[cfg_attr(miri, ignore)]
fn a_deadline_cancels_the_tasks_that_would_start_after_it() {
    bounded(|| {
        // An executor of its own: the chain must start well before the
        // deadline, and another test's run on a shared executor could hold
        // its workers past it.
        let exec = Executor::with_threads(2).unwrap();
        let (step, limit) = (Duration::from_millis(100), Duration::from_millis(350));
        // The run starts after `deadline` is computed, so its limit is a bit
        // shorter than `limit` from the run's own start: still within bounds.
        let options = RunOptions::new().deadline(Instant::now() + limit);
        check_deadline_chain(&exec, 20, step, limit, &options);
    });
}

#[test]
fn a_deadline_in_the_past_cancels_every_task() {
    bounded(|| {
        for exec in executors() {
            let threads = exec.threads();
            let n = if cfg!(miri) { 10 } else { 50 };
            let ran = AtomicU32::new(0);
            let mut arena = Arena::new();
            let mut b = arena.builder::<()>();
            for _ in 0..n {
                b.unnamed_task(|_| {
                    ran.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                })
                .unwrap();
            }
            b.edge(TaskId::new(0), TaskId::new(1)).unwrap();
            let graph = b.build().unwrap();
            let past = Instant::now()
                .checked_sub(Duration::from_secs(1))
                .unwrap_or_else(Instant::now);
            for options in [
                RunOptions::new().deadline(past),
                RunOptions::new().timeout(Duration::ZERO),
                // Whichever of deadline and timeout comes first wins.
                RunOptions::new()
                    .deadline(past)
                    .timeout(Duration::from_secs(3600)),
                RunOptions::new()
                    .deadline(Instant::now() + Duration::from_secs(3600))
                    .timeout(Duration::ZERO),
            ] {
                let report = exec.run_with(&graph, &options);
                assert_eq!(report.counts().cancelled, n, "{options:?}: {report}");
                assert_eq!(report.stop_reason(), Some(StopReason::DeadlineExceeded));
            }
            assert_eq!(
                ran.load(Ordering::SeqCst),
                0,
                "{threads} threads: a task ran after the deadline"
            );
            // A far deadline does nothing.
            let report = exec.run_with(
                &graph,
                &RunOptions::new().timeout(Duration::from_secs(3600)),
            );
            assert!(
                report.is_success() && report.stop_reason().is_none(),
                "{report}"
            );
        }
    });
}

#[test]
// A wall-clock limit Miri cannot keep, as above.
#[cfg_attr(miri, ignore)]
fn a_running_task_sees_the_deadline_pass() {
    bounded(|| {
        for threads in [1, 2] {
            // An executor of its own: `long` must start well before the
            // 50 ms deadline, and another test's run on a shared executor
            // could hold its workers past it.
            let exec = Executor::with_threads(threads).unwrap();
            let mut arena = Arena::new();
            let mut b = arena.builder::<&'static str>();
            b.task("long", |ctx| {
                if !wait_until(Duration::from_secs(20), || ctx.is_cancelled()) {
                    return Err("never saw the deadline".into());
                }
                Ok("stopped at the deadline")
            })
            .unwrap();
            b.task("next", |_| Ok("ran")).unwrap();
            b.edge("long", "next").unwrap();
            let graph = b.build().unwrap();
            let report = exec.run_with(
                &graph,
                &RunOptions::new().timeout(Duration::from_millis(50)),
            );
            assert_eq!(
                report.output("long"),
                Some(&"stopped at the deadline"),
                "{report}"
            );
            assert_eq!(report.state("next"), Some(State::Cancelled));
            assert_eq!(report.stop_reason(), Some(StopReason::DeadlineExceeded));
            assert!(report.wall_time() >= Duration::from_millis(40), "{report}");
        }
    });
}

#[test]
fn a_task_can_cancel_its_own_run_and_is_named_as_the_reason() {
    bounded(|| {
        for exec in executors() {
            let threads = exec.threads();
            let ran = AtomicUsize::new(0);
            let mut arena = Arena::new();
            let mut b = arena.builder::<u32>();
            // `sensor` finds the batch incomplete and stops the run; `load`
            // and `publish` wait for it; `check` watches for the stop.
            let sensor = b
                .task("sensor", |ctx| {
                    assert!(!ctx.is_cancelled());
                    ctx.cancel_run();
                    assert!(ctx.is_cancelled(), "the asking task sees its own stop");
                    Ok(1)
                })
                .unwrap();
            b.task("load", |_| {
                ran.fetch_add(1, Ordering::SeqCst);
                Ok(2)
            })
            .unwrap();
            b.task("publish", |_| {
                ran.fetch_add(1, Ordering::SeqCst);
                Ok(3)
            })
            .unwrap();
            b.edge("sensor", "load").unwrap();
            b.edge("load", "publish").unwrap();
            let graph = b.build().unwrap();

            let report = exec.run(&graph);
            assert_eq!(ran.load(Ordering::SeqCst), 0, "{threads} threads: {report}");
            assert_eq!(
                report.output("sensor"),
                Some(&1),
                "the asking task succeeded"
            );
            assert_eq!(report.state("load"), Some(State::Cancelled));
            assert_eq!(report.state("publish"), Some(State::Cancelled));
            assert_eq!(
                report.stop_reason(),
                Some(StopReason::CancelledByTask(sensor))
            );
            assert!(
                report
                    .to_string()
                    .contains("\n  stopped early: `sensor` cancelled the run"),
                "{report}"
            );
            let error = report.into_result().unwrap_err();
            assert_eq!(
                error.stop_reason(),
                Some(StopReason::CancelledByTask(sensor))
            );
            assert!(
                error
                    .to_string()
                    .ends_with("; 2 cancelled; `sensor` cancelled the run"),
                "{error}"
            );
            assert_eq!(
                StopReason::CancelledByTask(sensor).to_string(),
                "task #0 cancelled the run",
                "without the graph, by id"
            );
        }
    });
}

#[test]
fn the_first_stop_is_the_reason_even_when_a_task_cancels_later() {
    bounded(|| {
        let exec = executor(1);
        let token = CancelToken::new();
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        b.task("first", |_| {
            token.cancel();
            Ok(())
        })
        .unwrap();
        b.task("second", |ctx| {
            ctx.cancel_run();
            Ok(())
        })
        .unwrap();
        let graph = b.build().unwrap();
        // On one thread `first` runs first; it cancels the token, and
        // `second` never starts.
        let report = exec.run_with(&graph, &RunOptions::new().cancel_token(token.clone()));
        assert_eq!(
            report.stop_reason(),
            Some(StopReason::Cancelled),
            "{report}"
        );
        assert_eq!(report.state("second"), Some(State::Cancelled));

        // Both ask, `a` first: the reason names `a`, not `b`.
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        let a = b
            .task("a", |ctx| {
                ctx.cancel_run();
                Ok(())
            })
            .unwrap();
        b.task("b", |ctx| {
            ctx.cancel_run();
            Ok(())
        })
        .unwrap();
        b.edge("a", "b").unwrap();
        let graph = b.build().unwrap();
        for exec in executors() {
            let report = exec.run(&graph);
            assert_eq!(report.stop_reason(), Some(StopReason::CancelledByTask(a)));
            assert_eq!(report.state("b"), Some(State::Cancelled));
        }
    });
}

#[test]
fn a_run_after_a_task_cancelled_one_starts_clean() {
    let exec = executor(2);
    let calls = AtomicUsize::new(0);
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.task("sometimes", |ctx| {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            ctx.cancel_run();
        }
        Ok(())
    })
    .unwrap();
    b.task("after", |_| Ok(())).unwrap();
    b.edge("sometimes", "after").unwrap();
    let graph = b.build().unwrap();
    let first = exec.run(&graph);
    assert_eq!(first.state("after"), Some(State::Cancelled));
    let second = exec.run(&graph);
    assert!(
        second.is_success(),
        "the stop belonged to the first run: {second}"
    );
    assert_eq!(second.stop_reason(), None);
}

#[test]
fn a_stopped_run_says_when_it_stopped_and_a_run_that_was_not_does_not() {
    bounded(|| {
        for exec in executors() {
            let threads = exec.threads();
            let mut arena = Arena::new();
            let mut b = arena.builder::<u64>();
            add_sleeping_chain(&mut b, 8, Duration::from_millis(10));
            b.task("bad", |_| {
                std::thread::sleep(Duration::from_millis(5));
                Err("the source is empty".into())
            })
            .unwrap();
            let graph = b.build().unwrap();
            let timed = RunOptions::new().record_timings(true);

            // A deadline: the stop comes at it or after, within the run.
            let limit = Duration::from_millis(25);
            let report = exec.run_with(&graph, &timed.clone().timeout(limit));
            assert_eq!(report.stop_reason(), Some(StopReason::DeadlineExceeded));
            let at = report.stopped_at().expect("stopped by its deadline");
            assert!(at >= limit, "{threads} threads: {at:?}");
            assert!(at <= report.wall_time(), "{threads} threads: {at:?}");
            assert!(report.counts().cancelled > 0, "{threads} threads: {report}");
            let said =
                format!("\n  stopped early: the run passed its deadline, {at:.3?} into the run");
            assert!(
                report.to_string().contains(&said),
                "{threads} threads: {report}"
            );

            // Fail-fast: the stop comes when `bad` has failed, within the run.
            let report = exec.run_with(&graph, &timed.clone().fail_fast());
            assert_eq!(report.stop_reason(), Some(StopReason::FailFast));
            let bad = report.timing("bad").expect("it ran");
            let at = report.stopped_at().expect("stopped by fail-fast");
            assert!(
                at >= bad.start + bad.duration,
                "{threads} threads: {at:?} {bad:?}"
            );
            assert!(at <= report.wall_time(), "{threads} threads: {at:?}");

            // Run to its end, failure and all: never stopped.
            let report = exec.run_with(&graph, &timed);
            assert_eq!(report.stop_reason(), None);
            assert_eq!(report.stopped_at(), None, "{threads} threads");
            assert!(!report.to_string().contains("into the run"), "{report}");
        }
    });
}
