//! The run's options across workers: a retried task on one worker and its successor on another, fail-fast from one worker, and the deadline on all.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use kahn::{Arena, Executor, RetryPolicy, RunOptions, State, StopReason};
use kahn_test_support::fixtures::add_sleeping_chain;
use kahn_timely::{DistributedOptions, Placement};

fn executor() -> &'static Executor {
    static EXECUTOR: OnceLock<Executor> = OnceLock::new();
    EXECUTOR.get_or_init(|| Executor::with_threads(2).expect("two threads start"))
}

/// Task `i` on worker `i % workers`: every edge of a chain crosses.
fn alternate() -> DistributedOptions {
    DistributedOptions::new().placement(Placement::with(|task, workers| task.index() % workers))
}

#[test]
fn a_task_retried_on_one_worker_feeds_its_successor_on_another() {
    let results = kahn_timely::execute(timely::Config::process(2), |worker| {
        let tries = Arc::new(AtomicU32::new(0));
        let mut arena = Arena::new();
        let mut b = arena.builder::<u64>();
        b.task("source", |_| Ok(1)).unwrap();
        let seen = Arc::clone(&tries);
        b.task("flaky", move |ctx| {
            // Fails twice, as a connection reset would.
            if seen.fetch_add(1, Ordering::SeqCst) < 2 {
                return Err("connection reset".into());
            }
            Ok(ctx.input("source")? + 1)
        })
        .unwrap();
        b.task("load", |ctx| Ok(ctx.input("flaky")? * 10)).unwrap();
        b.edge("source", "flaky").unwrap();
        b.edge("flaky", "load").unwrap();
        b.retry("flaky", RetryPolicy::attempts(3)).unwrap();
        let graph = b.build().unwrap();
        let split =
            kahn_timely::run(worker, executor(), &graph, &RunOptions::new(), &alternate()).unwrap();
        let report = split.report();
        assert!(report.is_success(), "{split}");
        assert_eq!(split.worker_of("flaky"), Some(1));
        if split.worker() == 1 {
            assert_eq!(report.attempts("flaky"), 3);
            assert_eq!(tries.load(Ordering::SeqCst), 3);
        } else {
            assert_eq!(
                tries.load(Ordering::SeqCst),
                0,
                "flaky runs on worker 1 only"
            );
            assert_eq!(report.output("load"), Some(&20));
        }
    })
    .unwrap();
    assert_eq!(results.len(), 2);
}

#[test]
fn fail_fast_on_one_worker_stops_the_others() {
    let results = kahn_timely::execute(timely::Config::process(2), |worker| {
        let mut arena = Arena::new();
        let mut b = arena.builder::<u64>();
        // Worker 0 has a chain of 100 × 5 ms; worker 1's only task fails
        // at once.
        add_sleeping_chain(&mut b, 100, Duration::from_millis(5));
        b.task("bad", |_| Err("bad input".into())).unwrap();
        let graph = b.build().unwrap();
        let placement = Placement::with(|task, _| usize::from(task.index() == 100));
        let options = RunOptions::new().fail_fast();
        let split = kahn_timely::run(
            worker,
            executor(),
            &graph,
            &options,
            &DistributedOptions::new().placement(placement),
        )
        .unwrap();
        let report = split.report();
        assert_eq!(report.stop_reason(), Some(StopReason::FailFast), "{split}");
        assert_eq!(report.state("bad"), Some(State::Failed));
        assert!(report.counts().cancelled > 50, "{split}");
    })
    .unwrap();
    assert_eq!(results.len(), 2);
}

#[test]
fn the_deadline_holds_on_every_worker() {
    let deadline = Instant::now() + Duration::from_millis(100);
    let results = kahn_timely::execute(timely::Config::process(2), move |worker| {
        let mut arena = Arena::new();
        let mut b = arena.builder::<u64>();
        add_sleeping_chain(&mut b, 100, Duration::from_millis(5));
        let graph = b.build().unwrap();
        let options = RunOptions::new().deadline(deadline);
        let split = kahn_timely::run(worker, executor(), &graph, &options, &alternate()).unwrap();
        let report = split.report();
        assert_eq!(
            report.stop_reason(),
            Some(StopReason::DeadlineExceeded),
            "{split}"
        );
        assert!(report.counts().cancelled > 50, "{split}");
        assert!(Instant::now() < deadline + Duration::from_secs(5));
    })
    .unwrap();
    assert_eq!(results.len(), 2);
}
