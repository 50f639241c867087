//! Per-task timeouts: cooperative stops, the timed-out outcome, and what a
//! checkpoint records when the run stops instead.

use std::error::Error as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kahn::{
    Arena, BuildError, CancelToken, Interrupted, Outcome, OwnedTaskRef, RunOptions, State,
    StopReason, TaskFailure,
};

use kahn_test_support::{bounded, executor, executors, intend_panic, wait_until};

const LIMIT: Duration = Duration::from_millis(20);

/// Well past a limit: deadlines are counted in ticks of 1 ms and may pass
/// up to two ticks late, plus however long the ticker thread waits for a
/// core on a loaded machine; never early.
const LATE: Duration = Duration::from_millis(80);

/// Counts drops, to show a timed-out task's output is dropped exactly once.
struct Counted<'a>(&'a AtomicUsize);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
// Wall-clock limits mean nothing under Miri's interpreter.
#[cfg_attr(miri, ignore)]
fn a_task_past_its_timeout_is_timed_out_and_its_descendants_skipped() {
    bounded(|| {
        for exec in executors() {
            let threads = exec.threads();
            let mut arena = Arena::new();
            let mut b = arena.builder::<u32>();
            // `poll` checks until its timeout stops it; `quick` has a limit
            // it keeps; `slow` has none and outlives `poll`'s limit.
            let poll = b
                .task("poll", |ctx| {
                    assert!(!ctx.is_cancelled(), "not yet");
                    loop {
                        ctx.checkpoint()?;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                })
                .unwrap();
            b.task("quick", |ctx| {
                assert!(!ctx.is_cancelled());
                Ok(1)
            })
            .unwrap();
            b.task("slow", |ctx| {
                std::thread::sleep(LIMIT * 2);
                assert!(!ctx.is_cancelled(), "another task's timeout is not mine");
                Ok(2)
            })
            .unwrap();
            b.task("after", |ctx| Ok(*ctx.input("poll")?)).unwrap();
            b.edge("poll", "after").unwrap();
            b.timeout("poll", LIMIT).unwrap();
            b.timeout("quick", Duration::from_secs(60)).unwrap();
            let graph = b.build().unwrap();
            assert_eq!(graph.timeout_of(poll), Some(LIMIT));
            assert_eq!(graph.timeout_of(graph.find("slow").unwrap()), None);

            let report = exec.run_with(&graph, &RunOptions::new().record_timings(true));
            let what = format!("{threads} threads: {report}");
            assert!(
                matches!(report.outcome("poll"), Some(Outcome::TimedOut { limit }) if limit == LIMIT),
                "{what}"
            );
            assert_eq!(report.state("poll"), Some(State::TimedOut));
            let took = report
                .timing("poll")
                .expect("a timed-out task ran")
                .duration;
            assert!(took >= LIMIT, "{took:?}: {what}");
            assert!(
                matches!(report.outcome("after"), Some(Outcome::Skipped { cause }) if cause == poll),
                "{what}"
            );
            assert_eq!(
                (report.output("quick"), report.output("slow")),
                (Some(&1), Some(&2))
            );
            let counts = report.counts();
            assert_eq!(
                (
                    counts.succeeded,
                    counts.timed_out,
                    counts.skipped,
                    counts.total()
                ),
                (2, 1, 1, 4),
                "{what}"
            );
            assert!(!report.is_success());
            assert!(
                report.to_string().contains(
                    ", 1 timed out\n  timed out: `poll`: it ran past its timeout of 20ms"
                ),
                "{what}"
            );
            assert_eq!(report.failures().map(|t| t.id).collect::<Vec<_>>(), [poll]);

            let error = report.into_result().unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("`poll` timed out: it ran past its timeout of 20ms"),
                "{error}"
            );
            assert!(
                matches!(error.failures()[0].1, TaskFailure::TimedOut { limit } if limit == LIMIT)
            );
            assert!(error.source().is_none(), "a timeout carries no task error");
        }
    });
}

#[test]
#[cfg_attr(miri, ignore)]
fn a_task_that_never_looks_is_timed_out_when_it_returns_whatever_it_returned() {
    bounded(|| {
        let drops = AtomicUsize::new(0);
        let exec = executor(2);
        let mut arena = Arena::new();
        let mut b = arena.builder::<Counted<'_>>();
        b.task("ok_late", |_| {
            std::thread::sleep(LATE);
            Ok(Counted(&drops))
        })
        .unwrap();
        b.task("err_late", |_| {
            std::thread::sleep(LATE);
            Err("a real error, but late".into())
        })
        .unwrap();
        b.task("panic_late", |_| {
            std::thread::sleep(LATE);
            intend_panic();
            panic!("late and panicking")
        })
        .unwrap();
        b.task("in_time", |_| Ok(Counted(&drops))).unwrap();
        for task in ["ok_late", "err_late", "panic_late", "in_time"] {
            b.timeout(task, LIMIT).unwrap();
        }
        let graph = b.build().unwrap();
        let report = exec.run(&graph);
        for task in ["ok_late", "err_late", "panic_late"] {
            assert_eq!(
                report.state(task),
                Some(State::TimedOut),
                "{task}: {report}"
            );
        }
        assert_eq!(report.state("in_time"), Some(State::Succeeded));
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "the late output was dropped at once"
        );
        drop(report);
        assert_eq!(drops.load(Ordering::SeqCst), 2, "and only once");
    });
}

#[test]
#[cfg_attr(miri, ignore)]
fn a_task_sees_its_timeout_through_is_cancelled() {
    bounded(|| {
        let exec = executor(1);
        let mut arena = Arena::new();
        let mut b = arena.builder::<&'static str>();
        b.task("watch", |ctx| {
            if wait_until(Duration::from_secs(20), || ctx.is_cancelled()) {
                Ok("saw it")
            } else {
                Err("never saw the timeout".into())
            }
        })
        .unwrap();
        b.timeout("watch", LIMIT).unwrap();
        let graph = b.build().unwrap();
        let report = exec.run(&graph);
        // It returned Ok, but after its limit: timed out all the same.
        assert_eq!(report.state("watch"), Some(State::TimedOut), "{report}");
        assert!(report.wall_time() >= LIMIT);
        assert_eq!(
            report.stop_reason(),
            None,
            "a task's timeout does not stop the run"
        );
    });
}

#[test]
fn a_zero_timeout_times_out_every_run_and_a_huge_one_is_no_limit() {
    for exec in executors() {
        let mut arena = Arena::new();
        let mut b = arena.builder::<u8>();
        let zero = b
            .task("zero", |ctx| Ok(u8::from(ctx.is_cancelled())))
            .unwrap();
        let huge = b
            .task("huge", |ctx| Ok(u8::from(ctx.is_cancelled())))
            .unwrap();
        b.timeout(zero, Duration::ZERO).unwrap();
        b.timeout(huge, Duration::MAX).unwrap();
        let graph = b.build().unwrap();
        assert_eq!(graph.timeout_of(zero), Some(Duration::ZERO));
        assert_eq!(graph.timeout_of(huge), None, "over 584 years is no limit");
        let report = exec.run(&graph);
        assert_eq!(report.state("zero"), Some(State::TimedOut));
        assert_eq!(report.output("huge"), Some(&0));
    }
}

#[test]
fn a_timeout_for_a_task_the_builder_lacks_is_a_typed_error() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.task("a", |_| Ok(())).unwrap();
    b.timeout("a", LIMIT).unwrap();
    b.timeout("a", LIMIT * 2).unwrap();
    let error = b.timeout("nope", LIMIT).unwrap_err();
    assert_eq!(
        error,
        BuildError::UnknownTaskFor {
            call: "timeout",
            missing: OwnedTaskRef::Name("nope".into())
        }
    );
    assert_eq!(
        error.to_string(),
        "`timeout` names unknown task `nope`: add the task first"
    );
    let graph = b.build().unwrap();
    assert_eq!(
        graph.timeout_of(graph.find("a").unwrap()),
        Some(LIMIT * 2),
        "the last one counts"
    );
    assert_eq!(graph.timeout_of(kahn::TaskId::new(7)), None);
}

#[test]
#[cfg_attr(miri, ignore)]
fn under_fail_fast_a_timeout_stops_the_run() {
    bounded(|| {
        let exec = executor(1);
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        b.task("first", |ctx| loop {
            ctx.checkpoint()?;
            std::thread::sleep(Duration::from_millis(1));
        })
        .unwrap();
        b.task("second", |_| Ok(())).unwrap();
        b.timeout("first", LIMIT).unwrap();
        let graph = b.build().unwrap();
        let report = exec.run_with(&graph, &RunOptions::new().fail_fast());
        assert_eq!(report.state("first"), Some(State::TimedOut), "{report}");
        assert_eq!(report.state("second"), Some(State::Cancelled));
        assert_eq!(report.stop_reason(), Some(StopReason::FailFast));
    });
}

#[test]
fn a_checkpoint_in_a_stopped_run_records_the_task_cancelled_not_failed() {
    bounded(|| {
        for exec in executors() {
            let token = CancelToken::new();
            let mut arena = Arena::new();
            let mut b = arena.builder::<()>();
            b.task("worker", |ctx| {
                token.cancel();
                match ctx.checkpoint() {
                    Err(Interrupted::RunStopped { task, reason }) => {
                        assert_eq!(
                            (task.name(), reason),
                            (Some("worker"), StopReason::Cancelled)
                        );
                    }
                    other => panic!("expected the run's stop, got {other:?}"),
                }
                ctx.checkpoint()?;
                Ok(())
            })
            .unwrap();
            // An `Interrupted` returned while the run goes on is a failure.
            b.task("impostor", |ctx| {
                Err(Interrupted::RunStopped {
                    task: ctx
                        .name()
                        .map(|n| kahn::TaskLabel::new(ctx.id(), Some(n)))
                        .unwrap(),
                    reason: StopReason::Cancelled,
                }
                .into())
            })
            .unwrap();
            b.edge("impostor", "worker").unwrap();
            let graph = b.build().unwrap();
            let report = exec.run_with(&graph, &RunOptions::new().cancel_token(token.clone()));
            assert_eq!(report.state("impostor"), Some(State::Failed), "{report}");
            assert_eq!(report.state("worker"), Some(State::Skipped), "{report}");

            // Without the impostor upstream, `worker` runs and is cancelled.
            let token = CancelToken::new();
            let mut arena = Arena::new();
            let mut b = arena.builder::<()>();
            b.task("worker", |ctx| {
                token.cancel();
                ctx.checkpoint()?;
                Ok(())
            })
            .unwrap();
            b.task("next", |_| Ok(())).unwrap();
            b.edge("worker", "next").unwrap();
            let graph = b.build().unwrap();
            let report = exec.run_with(&graph, &RunOptions::new().cancel_token(token.clone()));
            assert_eq!(report.state("worker"), Some(State::Cancelled), "{report}");
            assert_eq!(report.state("next"), Some(State::Cancelled));
            assert_eq!(report.counts().failed, 0);
            assert!(report.failures().next().is_none());
        }
    });
}

#[test]
#[cfg_attr(miri, ignore)]
fn checkpoint_says_timed_out_before_run_stopped() {
    bounded(|| {
        let exec = executor(1);
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        b.task("both", |ctx| {
            std::thread::sleep(LATE);
            ctx.cancel_run();
            let error = ctx.checkpoint().unwrap_err();
            assert!(
                matches!(&error, Interrupted::TimedOut { task, limit } if task.name() == Some("both") && *limit == LIMIT),
                "{error:?}"
            );
            assert_eq!(error.to_string(), "`both` ran past its timeout of 20ms");
            Err(error.into())
        })
        .unwrap();
        b.timeout("both", LIMIT).unwrap();
        let graph = b.build().unwrap();
        let report = exec.run(&graph);
        assert_eq!(report.state("both"), Some(State::TimedOut), "{report}");
    });
}

/// Found by the stress test: a task past its timeout that cancelled the
/// token and then asked `is_cancelled` must still record the token's stop,
/// even when no task is left to start after it.
#[test]
fn a_timed_out_task_that_sees_a_cancel_still_records_the_stop() {
    for exec in executors() {
        let token = CancelToken::new();
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        b.task("last", |ctx| {
            token.cancel();
            assert!(ctx.is_cancelled());
            Ok(())
        })
        .unwrap();
        b.timeout("last", Duration::ZERO).unwrap();
        let graph = b.build().unwrap();
        let report = exec.run_with(&graph, &RunOptions::new().cancel_token(token.clone()));
        assert_eq!(report.state("last"), Some(State::TimedOut), "{report}");
        assert_eq!(
            report.stop_reason(),
            Some(StopReason::Cancelled),
            "{report}"
        );
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn a_task_is_told_its_timeout_passed_no_sooner_than_the_limit() {
    bounded(|| {
        for exec in executors() {
            let limit = Duration::from_millis(3);
            let mut arena = Arena::new();
            let mut b = arena.builder::<()>();
            for i in 0..64 {
                let name = format!("t{i}");
                b.task(&name, |ctx| {
                    while !ctx.is_cancelled() {
                        std::hint::spin_loop();
                    }
                    Ok(())
                })
                .unwrap();
                b.timeout(&*name, limit).unwrap();
            }
            let graph = b.build().unwrap();
            let report = exec.run_with(&graph, &RunOptions::new().record_timings(true));
            assert_eq!(report.counts().timed_out, 64, "{report}");
            for task in report.tasks() {
                // Each spun until told, so its duration is when it was told.
                let took = task.timing.unwrap().duration;
                assert!(
                    took >= limit,
                    "{:?} was told after {took:?}, under {limit:?}",
                    task.name
                );
                assert!(
                    took < limit + LATE,
                    "{:?} was told after {took:?}",
                    task.name
                );
            }
        }
    });
}
