//! Scheduling: no ready task waits behind a running one while a worker is
//! idle, runs share the workers, rayon work inside a task spreads, thread
//! counts are bounded. The tests prove overlap by making tasks wait for each
//! other (with a time limit), so they assert order and placement, never a
//! measured duration.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kahn::{Arena, Executor, ExecutorError, Graph, Outcome, RunOptions, State};
use kahn_test_support::{
    bounded, cpu_ms, fan_out_in, rendezvous, spin_for, wait_for, wait_until, watched_executor,
};

/// Long enough that only a scheduler that hides work makes a test fail.
const LIMIT: Duration = Duration::from_secs(if cfg!(miri) { 600 } else { 20 });

/// Runs `extract -> {long, short}` `reruns` times on 2 workers: `long`
/// waits for `short`, which a scheduler that kept `short` behind `long` on
/// one worker would never run in time. With `apart`, checks too that the
/// two ran on different workers.
fn long_waits_for_short(reruns: usize, apart: bool) {
    bounded(move || {
        let executor = Executor::with_threads(2).unwrap();
        let ran = AtomicBool::new(false);
        let workers = Mutex::new((usize::MAX, usize::MAX));
        let mut arena = Arena::new();
        let mut b = arena.builder::<bool>();
        b.task("extract", |_| Ok(true)).unwrap();
        b.task("long", |ctx| {
            workers.lock().unwrap().0 = ctx.worker_index();
            Ok(wait_for(&ran, LIMIT))
        })
        .unwrap();
        b.task("short", |ctx| {
            workers.lock().unwrap().1 = ctx.worker_index();
            ran.store(true, Ordering::SeqCst);
            Ok(true)
        })
        .unwrap();
        b.edges_by_name([("extract", "long"), ("extract", "short")])
            .unwrap();
        let graph = b.build().unwrap();
        // On a loaded machine each run waits for its second worker to be
        // scheduled: stop rerunning after this long (a quiet machine does
        // every rerun well within it), so the test never outlasts
        // `bounded`'s limit; a stranded task still fails the run it is in.
        let budget = Instant::now() + LIMIT;
        for rerun in 0..reruns {
            if rerun > 0 && Instant::now() > budget {
                break;
            }
            ran.store(false, Ordering::SeqCst);
            let report = executor.run(&graph);
            assert_eq!(
                report.output("long"),
                Some(&true),
                "rerun {rerun}: `short` did not run while `long` waited for it\n{report}"
            );
            let (long, short) = *workers.lock().unwrap();
            assert!(
                !apart || long != short,
                "rerun {rerun}: both ran on worker {long}"
            );
        }
    });
}

/// A short task runs beside its long sibling, on the other worker, on
/// every rerun.
#[test]
fn a_short_task_does_not_wait_behind_a_long_sibling() {
    long_waits_for_short(if cfg!(miri) { 2 } else { 20 }, true);
}

/// The same graph run back to back many times: between runs the workers
/// linger and run pending rayon work, and a worker job that rayon starts
/// inside a lingering one must not leave `short` stranded behind `long`
/// (it once did, about once in ten thousand runs, when the lingering job
/// under it still counted as a worker and the call for help stood unheard).
#[test]
fn back_to_back_runs_never_strand_a_ready_task() {
    long_waits_for_short(if cfg!(miri) { 2 } else { 5_000 }, false);
}

/// `root -> 4 × parse -> aggregate`, the parses meeting in groups as they
/// start: on two workers two by two (the first two to start wait for each
/// other, then the last two), on four all four at once. They meet only if
/// as many parses as workers always run at once: on four workers, that
/// needs a worker for a parse that another holds while it runs its own.
#[test]
fn a_fan_out_keeps_every_worker_busy() {
    bounded(|| {
        for threads in [2, 4] {
            let executor = Executor::with_threads(threads).unwrap();
            let arrived = AtomicUsize::new(0);
            let meet = || {
                let order = arrived.fetch_add(1, Ordering::SeqCst);
                let group_done = threads * (order / threads) + threads;
                wait_until(LIMIT, || arrived.load(Ordering::SeqCst) >= group_done)
            };
            let mut arena = Arena::new();
            let graph = fan_out_in(&mut arena, &meet);
            for rerun in 0..if cfg!(miri) { 1 } else { 10 } {
                arrived.store(0, Ordering::SeqCst);
                let report = executor.run(&graph);
                assert_eq!(
                    report.output("aggregate"),
                    Some(&true),
                    "{threads} threads, rerun {rerun}: a parse did not meet its group\n{report}"
                );
            }
        }
    });
}

/// Under fail-fast, a failing task held behind a long one still runs, and
/// its failure stops the run while the long task is still running: the
/// long task sees the stop.
#[test]
fn under_fail_fast_a_failure_beside_a_long_task_stops_it() {
    bounded(|| {
        let executor = Executor::with_threads(2).unwrap();
        let mut arena = Arena::new();
        let mut b = arena.builder::<bool>();
        b.task("root", |_| Ok(true)).unwrap();
        b.task("long", |ctx| Ok(wait_until(LIMIT, || ctx.is_cancelled())))
            .unwrap();
        b.task("bad", |_| Err("bad input".into())).unwrap();
        b.edge("root", "long").unwrap();
        b.edge("root", "bad").unwrap();
        let graph = b.build().unwrap();
        for rerun in 0..if cfg!(miri) { 1 } else { 10 } {
            let report = executor.run_with(&graph, &RunOptions::new().fail_fast());
            assert_eq!(report.state("bad"), Some(State::Failed));
            // `long` saw the stop while it ran, or `bad` failed before it
            // started; a `bad` held behind `long` would leave it waiting.
            assert!(
                report.output("long") == Some(&true)
                    || report.state("long") == Some(State::Cancelled),
                "rerun {rerun}: `long` never saw the stop\n{report}"
            );
        }
    });
}

/// Two runs started together on a two-thread executor, each one task that
/// waits for the other run's task: they meet only if the runs share the
/// workers, one each.
#[test]
fn two_runs_started_together_run_together() {
    bounded(|| {
        let executor = Executor::with_threads(2).unwrap();
        let met = AtomicUsize::new(0);
        let mut arenas = [Arena::new(), Arena::new()];
        let graphs: Vec<_> = arenas
            .iter_mut()
            .map(|arena| {
                let mut b = arena.builder::<bool>();
                b.task("meet", |_| Ok(rendezvous(&met, 2, LIMIT))).unwrap();
                b.build().unwrap()
            })
            .collect();
        std::thread::scope(|s| {
            let runs: Vec<_> = graphs
                .iter()
                .map(|graph| s.spawn(|| executor.run(graph).output("meet").copied()))
                .collect();
            for run in runs {
                assert_eq!(
                    run.join().unwrap(),
                    Some(true),
                    "the two runs did not run at the same time"
                );
            }
        });
    });
}

/// A short run started while a long one keeps every worker busy gets a
/// worker at a task boundary and ends long before the long run does.
#[test]
fn a_short_run_is_not_stuck_behind_a_long_one() {
    bounded(|| {
        let executor = Executor::with_threads(2).unwrap();
        let long_started = AtomicBool::new(false);
        let short_done = AtomicBool::new(false);
        let mut long_arena = Arena::new();
        let mut b = long_arena.builder::<bool>();
        for _ in 0..40 {
            b.unnamed_task(|_| {
                long_started.store(true, Ordering::SeqCst);
                spin_for(Duration::from_millis(if cfg!(miri) { 1 } else { 10 }));
                Ok(short_done.load(Ordering::SeqCst))
            })
            .unwrap();
        }
        let long = b.build().unwrap();
        let mut short_arena = Arena::new();
        let mut b = short_arena.builder::<()>();
        b.task("short", |_| Ok(())).unwrap();
        let short = b.build().unwrap();
        std::thread::scope(|s| {
            let long_run = s.spawn(|| executor.run(&long));
            assert!(wait_for(&long_started, LIMIT), "the long run never started");
            assert!(executor.run(&short).is_success());
            short_done.store(true, Ordering::SeqCst);
            let long_report = long_run.join().unwrap();
            assert!(long_report.is_success());
            let after_short = long_report
                .tasks()
                .filter(|t| matches!(t.outcome, Outcome::Succeeded(&true)))
                .count();
            assert!(
                after_short > 0,
                "the short run ended only after every task of the long one"
            );
        });
    });
}

/// With nothing else ready, a task's `rayon::join` runs its two halves on
/// two of the executor's workers at once: they meet.
#[test]
fn rayon_join_inside_a_task_spreads_over_idle_workers() {
    bounded(|| {
        let executor = Executor::with_threads(2).unwrap();
        let mut arena = Arena::new();
        let mut b = arena.builder::<(bool, bool)>();
        b.task("join", |_| {
            let met = AtomicUsize::new(0);
            let (a, b) = rayon::join(|| rendezvous(&met, 2, LIMIT), || rendezvous(&met, 2, LIMIT));
            Ok((a, b))
        })
        .unwrap();
        let graph = b.build().unwrap();
        for rerun in 0..if cfg!(miri) { 1 } else { 5 } {
            let report = executor.run(&graph);
            assert_eq!(
                report.output("join"),
                Some(&(true, true)),
                "rerun {rerun}: the halves of the join never ran at once"
            );
        }
    });
}

/// A task waiting in its own `rayon::join` lets its thread run other rayon
/// jobs, and one may be a worker called for another run: that worker must
/// hand the run on after a quantum, so the task goes on once its join is
/// done, not once the other run has nothing left. Here the join's second
/// half is stolen by the other thread and holds it until the other run has
/// started, so the task's thread is the only one free to take that run's
/// worker; the task then counts how many of the other run's 40 tasks of
/// 10 ms had ended when it went on.
#[test]
fn a_task_in_rayon_join_is_not_held_until_another_run_ends() {
    bounded(|| {
        let executor = Executor::with_threads(2).unwrap();
        let (stolen, other_started) = (AtomicBool::new(false), AtomicBool::new(false));
        let other_done = AtomicUsize::new(0);
        let mut arena = Arena::new();
        let mut b = arena.builder::<usize>();
        b.task("join", |_| {
            rayon::join(
                || assert!(wait_for(&stolen, LIMIT), "the join's half was not stolen"),
                || {
                    stolen.store(true, Ordering::SeqCst);
                    assert!(
                        wait_for(&other_started, LIMIT),
                        "the other run never started"
                    );
                },
            );
            Ok(other_done.load(Ordering::SeqCst))
        })
        .unwrap();
        let joining = b.build().unwrap();
        let mut other_arena = Arena::new();
        let mut b = other_arena.builder::<()>();
        const OTHER: usize = 40;
        for _ in 0..OTHER {
            b.unnamed_task(|_| {
                other_started.store(true, Ordering::SeqCst);
                spin_for(Duration::from_millis(10));
                other_done.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .unwrap();
        }
        let other = b.build().unwrap();
        std::thread::scope(|s| {
            let join_run = s.spawn(|| executor.run(&joining));
            assert!(wait_for(&stolen, LIMIT), "the join's half was not stolen");
            assert!(executor.run(&other).is_success());
            let report = join_run.join().unwrap();
            assert!(report.is_success(), "{report}");
            let seen = *report.output("join").expect("the task succeeded");
            assert!(
                seen < OTHER,
                "the task went on only after all {seen} tasks of the other run had ended"
            );
        });
    });
}

/// Thread counts are bounded and `threads()` says the real number.
#[test]
fn thread_counts_are_bounded_and_honest() {
    assert!(matches!(
        Executor::with_threads(0),
        Err(ExecutorError::ZeroThreads)
    ));
    let too_many = Executor::MAX_THREADS + 1;
    let error = Executor::with_threads(too_many).unwrap_err();
    assert!(matches!(
        error,
        ExecutorError::TooManyThreads { requested, limit }
            if requested == too_many && limit == Executor::MAX_THREADS
    ));
    assert!(error.to_string().contains("at most 1024"), "{error}");
    assert!(matches!(
        Executor::with_threads(usize::MAX),
        Err(ExecutorError::TooManyThreads { .. })
    ));
    assert_eq!(Executor::with_threads(3).unwrap().threads(), 3);
}

/// Found in review: under a stream of concurrent runs, calls for workers
/// that found the executor full piled up uncounted (hundreds of thousands
/// after a few seconds), and every worker job then went round for them
/// instead of returning to rayon: the threads stayed busy for seconds after
/// the last run had returned. After a second of tiny runs from four threads
/// on two workers, the executor's threads must go quiet at once (they
/// linger 100 µs at most): at most 50 ms of CPU in the next 300 ms.
#[test]
fn threads_go_quiet_after_a_stream_of_concurrent_runs() {
    bounded(|| {
        let Some((executor, threads)) = watched_executor() else {
            return; // no /proc here, or Miri
        };
        let graph: &'static Graph<'static, u32> = {
            let arena: &'static mut Arena = Box::leak(Box::new(Arena::new()));
            let mut b = arena.builder::<u32>();
            b.task("a", |_| Ok(1)).unwrap();
            b.task("b", |ctx| Ok(ctx.input("a")? + 1)).unwrap();
            b.task("c", |ctx| Ok(ctx.input("a")? + 2)).unwrap();
            b.edge("a", "b").unwrap();
            b.edge("a", "c").unwrap();
            Box::leak(Box::new(b.build().unwrap()))
        };
        let until = Instant::now() + Duration::from_secs(1);
        let streams: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(move || {
                    while Instant::now() < until {
                        assert_eq!(executor.run(graph).output("c"), Some(&3));
                    }
                })
            })
            .collect();
        for stream in streams {
            stream.join().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
        let before = cpu_ms(&threads).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let used = cpu_ms(&threads).unwrap() - before;
        assert!(
            used <= 50,
            "the executor's threads used {used} ms of CPU in the 300 ms after the last run"
        );
    });
}

/// A run whose tasks turn slow, fast and slow again: each worker starts
/// and stops looking ahead of its tasks several times in one run, and a
/// slow task takes the out-of-line path before and after it (the one
/// graphs with resources or trigger rules take), carrying the current range
/// through it. Every task runs once, after its predecessors, and passes on
/// the output a serial walk computes. A path that dropped the range would
/// leave tasks unreleased and the run hung (`bounded` fails it).
#[test]
fn tasks_that_change_pace_mid_run_all_run_in_order() {
    bounded(|| {
        // Phases of 600 tasks, every other one spinning 10 µs a task (above
        // the bar to look ahead, in debug builds too): long enough for the
        // pace, checked every 64 to 1,024 tasks, to turn.
        let (n, phase) = if cfg!(miri) { (60, 20) } else { (3_000, 600) };
        let slow = move |v: usize| (v / phase) % 2 == 1;
        // Each task's successors: the next one, and two a little further
        // on, so ranges are longer than one and workers have some to share.
        let edges: Vec<(u32, u32)> = (0..n as u32)
            .flat_map(|v| [(v, v + 1), (v, v + 7), (v, v + 31)])
            .filter(|&(_, s)| (s as usize) < n)
            .collect();
        let value = |v: usize, inputs: u64| (v as u64 + 1).wrapping_mul(0x9e37_79b9) ^ inputs;
        let mut expected = vec![0u64; n];
        for v in 0..n {
            let inputs = [1, 7, 31]
                .iter()
                .filter_map(|&back| v.checked_sub(back))
                .fold(0u64, |sum, p| sum.wrapping_add(expected[p]));
            expected[v] = value(v, inputs);
        }
        for executor in kahn_test_support::executors() {
            let mut arena = Arena::new();
            let mut b = arena.builder::<u64>();
            for v in 0..n {
                b.unnamed_task(move |ctx| {
                    if slow(v) {
                        spin_for(Duration::from_micros(10));
                    }
                    let inputs = ctx.inputs().fold(0u64, |sum, (_, x)| sum.wrapping_add(*x));
                    Ok(value(v, inputs))
                })
                .unwrap();
            }
            b.edges(
                edges
                    .iter()
                    .map(|&(p, s)| (kahn::TaskId::new(p), kahn::TaskId::new(s))),
            )
            .unwrap();
            let graph = b.build().unwrap();
            for _ in 0..3 {
                let report = executor.run(&graph);
                assert_eq!(report.counts().succeeded, n, "{report}");
                for (v, want) in expected.iter().enumerate() {
                    assert_eq!(
                        report.output(kahn::TaskId::new(v as u32)),
                        Some(want),
                        "task {v} on {} threads",
                        executor.threads()
                    );
                }
            }
        }
    });
}
