//! Retries: attempts, backoff that holds no worker, what is and is not
//! retried, and stops cutting a wait short.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kahn::{
    Arena, BuildError, CancelToken, Executor, Outcome, RetryPolicy, RunOptions, State, StopReason,
    TaskFailure,
};

use kahn_test_support::{bounded, executor, executors, intend_panic};

/// A body that fails its first `failures` attempts, then returns `value`.
fn flaky(
    calls: &AtomicU32,
    failures: u32,
    value: u32,
) -> impl Fn(&kahn::TaskContext<'_, u32>) -> Result<u32, kahn::BoxError> + Send + Sync + '_ {
    move |ctx| {
        let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
        assert_eq!(ctx.attempt(), call, "attempts count from 1");
        if call <= failures {
            return Err(format!("transient failure {call}").into());
        }
        Ok(value)
    }
}

#[test]
fn a_flaky_task_is_retried_until_it_succeeds() {
    bounded(|| {
        for exec in executors() {
            let calls = AtomicU32::new(0);
            let mut arena = Arena::new();
            let mut b = arena.builder::<u32>();
            b.task("extract", flaky(&calls, 2, 7)).unwrap();
            b.task("load", |ctx| Ok(ctx.input("extract")? + 1)).unwrap();
            b.edge("extract", "load").unwrap();
            b.retry(
                "extract",
                RetryPolicy::attempts(5).delay(Duration::from_millis(1)),
            )
            .unwrap();
            let graph = b.build().unwrap();
            assert_eq!(
                graph
                    .retry_policy(graph.find("extract").unwrap())
                    .map(|p| format!("{p:?}").contains("attempts: 5")),
                Some(true)
            );
            let report = exec.run(&graph);
            assert!(report.is_success(), "{report}");
            assert_eq!(report.output("load"), Some(&8));
            assert_eq!(report.attempts("extract"), 3);
            assert_eq!(report.attempts("load"), 1);
            let failed: Vec<String> = report
                .failed_attempts("extract")
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(
                failed,
                ["failed: transient failure 1", "failed: transient failure 2"]
            );
            assert_eq!(
                report.retried().map(|t| t.name).collect::<Vec<_>>(),
                [Some("extract")]
            );
            assert!(
                report.to_string().contains(
                    "\n  retried:  `extract`: 3 attempts, succeeded; first failure: failed: transient failure 1"
                ),
                "{report}"
            );
        }
    });
}

#[test]
fn a_task_that_keeps_failing_fails_after_its_last_attempt() {
    let exec = executor(2);
    let calls = AtomicU32::new(0);
    let mut arena = Arena::new();
    let mut b = arena.builder::<u32>();
    b.task("down", flaky(&calls, u32::MAX, 0)).unwrap();
    b.task("after", |ctx| Ok(*ctx.input("down")?)).unwrap();
    b.edge("down", "after").unwrap();
    b.retry("down", RetryPolicy::attempts(3)).unwrap();
    let graph = b.build().unwrap();
    let report = exec.run(&graph);
    match report.outcome("down") {
        Some(Outcome::Failed(error)) => assert_eq!(error.to_string(), "transient failure 3"),
        other => panic!("{other:?}"),
    }
    assert_eq!(report.attempts("down"), 3);
    assert_eq!(report.failed_attempts("down").len(), 2);
    assert_eq!(report.state("after"), Some(State::Skipped));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[test]
fn permanent_errors_refused_errors_and_panics_are_not_retried() {
    let exec = executor(2);
    let counts: Vec<AtomicU32> = (0..5).map(|_| AtomicU32::new(0)).collect();
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.task("permanent", |_| {
        counts[0].fetch_add(1, Ordering::SeqCst);
        Err(kahn::permanent("the partition is malformed"))
    })
    .unwrap();
    b.task("refused", |_| {
        counts[1].fetch_add(1, Ordering::SeqCst);
        Err("schema mismatch".into())
    })
    .unwrap();
    b.task("panics", |_| {
        counts[2].fetch_add(1, Ordering::SeqCst);
        intend_panic();
        panic!("a bug")
    })
    .unwrap();
    b.task("panics_retried", |ctx| {
        counts[3].fetch_add(1, Ordering::SeqCst);
        if ctx.attempt() < 2 {
            intend_panic();
            panic!("a flaky native library")
        }
        Ok(())
    })
    .unwrap();
    b.task("allowed", |ctx| {
        counts[4].fetch_add(1, Ordering::SeqCst);
        if ctx.attempt() < 2 {
            return Err("connection reset".into());
        }
        Ok(())
    })
    .unwrap();
    let policy = RetryPolicy::attempts(4);
    let only_resets = policy
        .clone()
        .retry_if(|e| e.to_string().contains("connection reset"));
    b.retry("permanent", policy.clone()).unwrap();
    b.retry("refused", only_resets.clone()).unwrap();
    b.retry("panics", policy.clone()).unwrap();
    b.retry("panics_retried", policy.retry_panics(true))
        .unwrap();
    b.retry("allowed", only_resets).unwrap();
    let graph = b.build().unwrap();
    let report = exec.run(&graph);
    let calls: Vec<u32> = counts.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    assert_eq!(calls, [1, 1, 1, 2, 2], "{report}");
    match report.outcome("permanent") {
        Some(Outcome::Failed(error)) => {
            assert_eq!(error.to_string(), "the partition is malformed");
            assert!(error.is::<kahn::Permanent>());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(report.state("panics"), Some(State::Panicked));
    assert_eq!(report.state("panics_retried"), Some(State::Succeeded));
    assert_eq!(report.state("allowed"), Some(State::Succeeded));
    assert!(matches!(
        report.failed_attempts("panics_retried"),
        [TaskFailure::Panicked(m)] if m == "a flaky native library"
    ));
}

#[test]
fn timeouts_are_retried_unless_the_policy_says_not() {
    for exec in executors() {
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        b.task("always_late", |_| Ok(())).unwrap();
        b.task("late_once", |_| Ok(())).unwrap();
        b.timeout("always_late", Duration::ZERO).unwrap();
        b.timeout("late_once", Duration::ZERO).unwrap();
        b.retry("always_late", RetryPolicy::attempts(3)).unwrap();
        b.retry("late_once", RetryPolicy::attempts(3).retry_timeouts(false))
            .unwrap();
        let graph = b.build().unwrap();
        let report = exec.run(&graph);
        assert_eq!(report.state("always_late"), Some(State::TimedOut));
        assert_eq!(report.attempts("always_late"), 3, "{report}");
        assert_eq!(report.attempts("late_once"), 1);
    }
}

#[test]
// Wall-clock waits mean nothing under Miri's interpreter.
#[cfg_attr(miri, ignore)]
fn a_task_waiting_for_a_retry_holds_no_worker() {
    bounded(|| {
        // One worker: if the waiting task held it, nothing else could run
        // until the retry.
        let exec = Executor::with_threads(1).unwrap();
        let origin = Instant::now();
        let starts: Mutex<Vec<(&'static str, Duration)>> = Mutex::new(Vec::new());
        let log = |name: &'static str| starts.lock().unwrap().push((name, origin.elapsed()));
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        b.task("flaky", |ctx| {
            log("flaky");
            if ctx.attempt() == 1 {
                return Err("try again later".into());
            }
            Ok(())
        })
        .unwrap();
        for name in ["other1", "other2", "other3"] {
            b.task(name, move |_| {
                log(name);
                Ok(())
            })
            .unwrap();
        }
        b.retry(
            "flaky",
            RetryPolicy::attempts(2).delay(Duration::from_millis(150)),
        )
        .unwrap();
        let graph = b.build().unwrap();
        let report = exec.run(&graph);
        assert!(report.is_success(), "{report}");
        drop(report);
        drop(graph);
        let starts = starts.into_inner().unwrap();
        let names: Vec<&str> = starts.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            ["flaky", "other1", "other2", "other3", "flaky"],
            "{starts:?}"
        );
        let (first, second) = (starts[0].1, starts[4].1);
        assert!(second - first >= Duration::from_millis(150), "{starts:?}");
        // The others ran during the wait, not after it.
        assert!(
            starts[3].1 < first + Duration::from_millis(150),
            "{starts:?}"
        );
    });
}

#[test]
#[cfg_attr(miri, ignore)]
fn an_idle_run_wakes_for_a_due_retry() {
    bounded(|| {
        for threads in [1, 2] {
            let exec = Executor::with_threads(threads).unwrap();
            let calls = AtomicU32::new(0);
            let mut arena = Arena::new();
            let mut b = arena.builder::<u32>();
            b.task("only", flaky(&calls, 2, 1)).unwrap();
            b.retry(
                "only",
                RetryPolicy::attempts(3).delay(Duration::from_millis(40)),
            )
            .unwrap();
            let graph = b.build().unwrap();
            let started = Instant::now();
            let report = exec.run(&graph);
            let took = started.elapsed();
            assert_eq!(report.output("only"), Some(&1));
            assert!(took >= Duration::from_millis(80), "{took:?}");
            assert!(took < Duration::from_secs(10), "{took:?}");
        }
    });
}

#[test]
#[cfg_attr(miri, ignore)]
fn a_cancel_or_a_deadline_cuts_a_retry_wait_short() {
    bounded(|| {
        for exec in executors() {
            for by_deadline in [false, true] {
                let token = CancelToken::new();
                let calls = AtomicU32::new(0);
                let mut arena = Arena::new();
                let mut b = arena.builder::<u32>();
                b.task("down", flaky(&calls, u32::MAX, 0)).unwrap();
                b.task("after", |ctx| Ok(*ctx.input("down")?)).unwrap();
                b.edge("down", "after").unwrap();
                b.retry(
                    "down",
                    RetryPolicy::attempts(5).delay(Duration::from_secs(60)),
                )
                .unwrap();
                let graph = b.build().unwrap();
                let options = if by_deadline {
                    RunOptions::new().timeout(Duration::from_millis(50))
                } else {
                    let canceller = token.clone();
                    std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_millis(50));
                        canceller.cancel();
                    });
                    RunOptions::new().cancel_token(token.clone())
                };
                let started = Instant::now();
                let report = exec.run_with(&graph, &options);
                assert!(started.elapsed() < Duration::from_secs(10), "{report}");
                match report.outcome("down") {
                    Some(Outcome::Failed(error)) => {
                        assert_eq!(error.to_string(), "transient failure 1", "{report}")
                    }
                    other => panic!("{other:?}: {report}"),
                }
                assert_eq!(report.attempts("down"), 1);
                assert_eq!(report.state("after"), Some(State::Skipped));
                let reason = if by_deadline {
                    StopReason::DeadlineExceeded
                } else {
                    StopReason::Cancelled
                };
                assert_eq!(report.stop_reason(), Some(reason), "{report}");
            }
        }
    });
}

#[test]
fn a_retried_attempt_is_not_a_failure_under_fail_fast() {
    for exec in executors() {
        let calls = AtomicU32::new(0);
        let mut arena = Arena::new();
        let mut b = arena.builder::<u32>();
        b.task("flaky", flaky(&calls, 1, 5)).unwrap();
        b.task("next", |ctx| Ok(*ctx.input("flaky")?)).unwrap();
        b.edge("flaky", "next").unwrap();
        b.retry("flaky", RetryPolicy::attempts(2)).unwrap();
        let graph = b.build().unwrap();
        let report = exec.run_with(&graph, &RunOptions::new().fail_fast());
        assert!(report.is_success(), "{report}");
        assert_eq!(report.stop_reason(), None);
        assert_eq!(report.output("next"), Some(&5));
    }
}

#[test]
fn backoff_that_overflows_is_capped() {
    // Delays of 1 ns, then f64::MAX times that: capped at 2 ms.
    let exec = executor(2);
    let calls = AtomicU32::new(0);
    let mut arena = Arena::new();
    let mut b = arena.builder::<u32>();
    b.task("t", flaky(&calls, 3, 9)).unwrap();
    let policy = RetryPolicy::attempts(4)
        .backoff(Duration::from_nanos(1), f64::MAX, Duration::from_millis(2))
        .jitter(1.0);
    b.retry("t", policy).unwrap();
    let graph = b.build().unwrap();
    let report = exec.run(&graph);
    assert_eq!(report.output("t"), Some(&9), "{report}");
    assert_eq!(report.attempts("t"), 4);
}

#[test]
fn policies_that_cannot_work_are_typed_errors() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.task("t", |_| Ok(())).unwrap();
    let day = RetryPolicy::MAX_DELAY;
    let cases = [
        (
            RetryPolicy::attempts(0),
            "a task needs at least one attempt",
        ),
        (
            RetryPolicy::attempts(2).backoff(Duration::ZERO, 0.5, Duration::ZERO),
            "the backoff factor must be a finite number of at least 1",
        ),
        (
            RetryPolicy::attempts(2).backoff(Duration::ZERO, f64::NAN, Duration::ZERO),
            "the backoff factor must be a finite number of at least 1",
        ),
        (
            RetryPolicy::attempts(2).jitter(1.5),
            "the jitter must be a fraction from 0 to 1",
        ),
        (
            RetryPolicy::attempts(2).delay(day + Duration::from_nanos(1)),
            "a delay may be at most a day (RetryPolicy::MAX_DELAY)",
        ),
        (
            RetryPolicy::attempts(2).backoff(Duration::ZERO, 2.0, Duration::MAX),
            "a delay may be at most a day (RetryPolicy::MAX_DELAY)",
        ),
    ];
    for (policy, problem) in cases {
        let error = b.retry("t", policy).unwrap_err();
        assert_eq!(
            error,
            BuildError::InvalidRetry {
                task: kahn::TaskLabel::new(kahn::TaskId::new(0), Some("t")),
                problem
            }
        );
        assert_eq!(
            error.to_string(),
            format!("`t` was given a retry policy that cannot work: {problem}")
        );
    }
    assert!(matches!(
        b.retry("nope", RetryPolicy::attempts(1)),
        Err(BuildError::UnknownTaskFor { call: "retry", .. })
    ));
    let graph = b.build().unwrap();
    assert!(
        graph.retry_policy(kahn::TaskId::new(0)).is_none(),
        "refused policies are not kept"
    );
}

/// Found by the stress test: a task waiting for a resource for its second
/// attempt when the run stops had been recorded Cancelled, as if it had
/// never run. It ends with its last failure.
#[test]
#[cfg_attr(miri, ignore)]
fn a_retry_parked_on_a_resource_when_the_run_stops_keeps_its_failure() {
    bounded(|| {
        let exec = Executor::with_threads(2).unwrap();
        let db = kahn::Resource::new("db", 1);
        let token = CancelToken::new();
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        b.task("flaky", |ctx| {
            if ctx.attempt() == 1 {
                return Err("deadlock detected".into());
            }
            Ok(())
        })
        .unwrap();
        b.task("hog", |_| {
            std::thread::sleep(Duration::from_millis(200));
            Ok(())
        })
        .unwrap();
        b.uses("flaky", &db).unwrap();
        b.uses("hog", &db).unwrap();
        b.retry(
            "flaky",
            RetryPolicy::attempts(3).delay(Duration::from_millis(20)),
        )
        .unwrap();
        let graph = b.build().unwrap();
        let canceller = token.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            canceller.cancel();
        });
        let report = exec.run_with(&graph, &RunOptions::new().cancel_token(token.clone()));
        assert_eq!(report.state("hog"), Some(State::Succeeded), "{report}");
        match report.outcome("flaky") {
            Some(Outcome::Failed(error)) => assert_eq!(error.to_string(), "deadlock detected"),
            other => panic!("{other:?}: {report}"),
        }
        assert_eq!(report.attempts("flaky"), 1);
        assert_eq!(db.in_use(), 0);
    });
}

#[test]
fn each_attempt_has_its_own_timing_when_timings_are_recorded() {
    bounded(|| {
        for exec in executors() {
            for timed in [true, false] {
                let calls = AtomicU32::new(0);
                let mut arena = Arena::new();
                let mut b = arena.builder::<u32>();
                let flaky = flaky(&calls, 2, 7);
                b.task("extract", move |ctx| {
                    std::thread::sleep(Duration::from_millis(2));
                    flaky(ctx)
                })
                .unwrap();
                b.retry(
                    "extract",
                    RetryPolicy::attempts(5).delay(Duration::from_millis(3)),
                )
                .unwrap();
                let graph = b.build().unwrap();
                let report = exec.run_with(&graph, &RunOptions::new().record_timings(timed));
                assert!(report.is_success(), "{report}");
                assert_eq!(report.failed_attempts("extract").len(), 2);
                let earlier = report.attempt_timings("extract");
                if !timed {
                    assert!(earlier.is_empty(), "no timings, none per attempt");
                    continue;
                }
                assert_eq!(earlier.len(), 2);
                let mut all = earlier.to_vec();
                all.push(report.timing("extract").unwrap());
                for pair in all.windows(2) {
                    // Each attempt starts after the one before ended and waited.
                    assert!(
                        pair[1].start
                            >= pair[0].start + pair[0].duration + Duration::from_millis(3),
                        "{all:?}"
                    );
                }
                assert!(all.iter().all(|t| t.duration >= Duration::from_millis(2)));
            }
        }
    });
}

#[test]
#[cfg_attr(miri, ignore)]
fn an_attempt_given_up_by_a_stop_keeps_its_timing_as_the_tasks() {
    let exec = executor(2);
    let calls = AtomicU32::new(0);
    let mut arena = Arena::new();
    let mut b = arena.builder::<u32>();
    b.task("down", flaky(&calls, u32::MAX, 0)).unwrap();
    b.retry(
        "down",
        RetryPolicy::attempts(5).delay(Duration::from_millis(20)),
    )
    .unwrap();
    let graph = b.build().unwrap();
    let options = RunOptions::new()
        .record_timings(true)
        .timeout(Duration::from_millis(30));
    let report = exec.run_with(&graph, &options);
    assert_eq!(report.state("down"), Some(State::Failed), "{report}");
    let attempts = report.attempts("down") as usize;
    assert!(attempts >= 1, "{report}");
    assert_eq!(report.attempt_timings("down").len(), attempts - 1);
    assert_eq!(report.failed_attempts("down").len(), attempts - 1);
    let last = report.timing("down").unwrap();
    assert!(report
        .attempt_timings("down")
        .iter()
        .all(|t| t.start < last.start));
}
