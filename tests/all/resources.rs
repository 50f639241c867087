//! Resources: at most the capacity runs at once, on any number of threads
//! and across runs; a task waiting for a resource holds no worker; tasks
//! that use several resources cannot deadlock; a stop cancels waiters.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kahn::{Arena, BuildError, CancelToken, Executor, Resource, RunOptions, State, TaskId};
use kahn_test_support::{bounded, cpu_ms, rendezvous, spin_for, wait_until, watched_executor};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const LIMIT: Duration = Duration::from_secs(if cfg!(miri) { 600 } else { 20 });

/// How many tasks hold one resource now, and the most that ever did.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Gauge {
    fn hold(&self, units: usize, for_a_while: Duration) {
        let now = self.now.fetch_add(units, Ordering::SeqCst) + units;
        self.most.fetch_max(now, Ordering::SeqCst);
        spin_for(for_a_while);
        self.now.fetch_sub(units, Ordering::SeqCst);
    }
}

/// Random DAGs, random resources and capacities, random uses: the most
/// units of a resource ever held at once never exceeds its capacity, every
/// task runs once, and no resource is left held.
#[test]
fn capacity_is_never_exceeded_on_random_graphs() {
    let cases = if cfg!(miri) { 2 } else { 24 };
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        2usize..40,
        prop::collection::vec((0u32..40, 0u32..40), 0..60),
        prop::collection::vec(1u32..4, 1..4),
        prop::collection::vec((0u32..40, 0usize..4, 1u32..3), 0..60),
    );
    runner
        .run(&strategy, |(n, pairs, capacities, uses)| {
            bounded(move || check_capacities(n, &pairs, &capacities, &uses));
            Ok(())
        })
        .unwrap();
}

fn check_capacities(
    n: usize,
    pairs: &[(u32, u32)],
    capacities: &[u32],
    uses: &[(u32, usize, u32)],
) {
    let resources: Vec<Resource> = capacities
        .iter()
        .enumerate()
        .map(|(i, &cap)| Resource::new(format!("r{i}"), cap))
        .collect();
    let gauges: Vec<Gauge> = resources.iter().map(|_| Gauge::default()).collect();
    // Each task's units of each resource, capped at the capacity.
    let mut need = vec![vec![0u32; resources.len()]; n];
    for &(task, r, units) in uses {
        let (task, r) = (task as usize % n, r % resources.len());
        need[task][r] = (need[task][r] + units).min(resources[r].capacity());
    }
    let ran: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
    for threads in [1, 2, 4] {
        let executor = Executor::with_threads(threads).unwrap();
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        for (v, need) in need.iter().enumerate() {
            let (gauges, ran) = (&gauges, &ran);
            b.unnamed_task(move |_| {
                ran[v].fetch_add(1, Ordering::SeqCst);
                // Hold every resource the task uses for a moment, all at once.
                let held: Vec<(usize, usize)> = need
                    .iter()
                    .enumerate()
                    .filter(|(_, &u)| u > 0)
                    .map(|(r, &u)| (r, u as usize))
                    .collect();
                for &(r, u) in &held {
                    let now = gauges[r].now.fetch_add(u, Ordering::SeqCst) + u;
                    gauges[r].most.fetch_max(now, Ordering::SeqCst);
                }
                spin_for(Duration::from_micros(if cfg!(miri) { 1 } else { 200 }));
                for &(r, u) in &held {
                    gauges[r].now.fetch_sub(u, Ordering::SeqCst);
                }
                Ok(())
            })
            .unwrap();
            for (r, &units) in need.iter().enumerate() {
                if units > 0 {
                    b.uses_units(TaskId::new(v as u32), &resources[r], units)
                        .unwrap();
                }
            }
        }
        for &(u, v) in pairs {
            let (u, v) = (u as usize % n, v as usize % n);
            if u < v {
                b.edge(TaskId::new(u as u32), TaskId::new(v as u32))
                    .unwrap();
            }
        }
        let graph = b.build().unwrap();
        for r in &ran {
            r.store(0, Ordering::SeqCst);
        }
        let report = executor.run(&graph);
        assert!(report.is_success(), "{report}");
        for (v, r) in ran.iter().enumerate() {
            assert_eq!(r.load(Ordering::SeqCst), 1, "task {v} on {threads} threads");
        }
        for (i, (resource, gauge)) in resources.iter().zip(&gauges).enumerate() {
            let most = gauge.most.load(Ordering::SeqCst);
            assert!(
                most <= resource.capacity() as usize,
                "resource r{i} (capacity {}) was held {most} units at once on {threads} threads",
                resource.capacity()
            );
            assert_eq!(resource.in_use(), 0, "r{i} left held");
            assert_eq!(resource.waiting(), 0, "r{i} left with waiters");
        }
    }
}

/// Half the tasks share a resource of capacity 1 and hold it for a while;
/// the other half meet in pairs, which they can only do if no worker is
/// stuck waiting for the resource.
#[test]
fn tasks_waiting_for_a_resource_leave_the_workers_to_others() {
    bounded(|| {
        let executor = Executor::with_threads(4).unwrap();
        let lock = Resource::new("one at a time", 1);
        let gauge = Gauge::default();
        let met = [
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        ];
        let mut arena = Arena::new();
        let mut b = arena.builder::<bool>();
        for i in 0..6 {
            let name = format!("locked{i}");
            let gauge = &gauge;
            b.task(&name, move |_| {
                gauge.hold(1, Duration::from_millis(if cfg!(miri) { 1 } else { 5 }));
                Ok(true)
            })
            .unwrap();
            b.uses(name.as_str(), &lock).unwrap();
        }
        for i in 0..6 {
            let pair = &met[i / 2];
            b.task(&format!("free{i}"), move |_| Ok(rendezvous(pair, 2, LIMIT)))
                .unwrap();
        }
        let graph = b.build().unwrap();
        let report = executor.run(&graph);
        for i in 0..6 {
            assert_eq!(
                report.output(format!("free{i}").as_str()),
                Some(&true),
                "free{i} never met its partner: workers were held by waiting tasks\n{report}"
            );
        }
        assert_eq!(gauge.most.load(Ordering::SeqCst), 1);
        assert_eq!(lock.in_use(), 0);
    });
}

/// Tasks that take two resources of capacity 1, declared in both orders,
/// on four threads: all or none, in one global order, so they never
/// deadlock, and each pair is held by one task at a time.
#[test]
fn tasks_using_several_resources_do_not_deadlock() {
    bounded(|| {
        let executor = Executor::with_threads(4).unwrap();
        let (a, c) = (Resource::new("a", 1), Resource::new("c", 1));
        let (ga, gc) = (Gauge::default(), Gauge::default());
        for rerun in 0..if cfg!(miri) { 1 } else { 5 } {
            let mut arena = Arena::new();
            let mut b = arena.builder::<()>();
            for i in 0..24 {
                let (ga, gc) = (&ga, &gc);
                let v = b
                    .unnamed_task(move |_| {
                        let now_a = ga.now.fetch_add(1, Ordering::SeqCst) + 1;
                        let now_c = gc.now.fetch_add(1, Ordering::SeqCst) + 1;
                        ga.most.fetch_max(now_a, Ordering::SeqCst);
                        gc.most.fetch_max(now_c, Ordering::SeqCst);
                        spin_for(Duration::from_micros(100));
                        ga.now.fetch_sub(1, Ordering::SeqCst);
                        gc.now.fetch_sub(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .unwrap();
                if i % 2 == 0 {
                    b.uses(v, &a).unwrap();
                    b.uses(v, &c).unwrap();
                } else {
                    b.uses(v, &c).unwrap();
                    b.uses(v, &a).unwrap();
                }
            }
            let graph = b.build().unwrap();
            let report = executor.run(&graph);
            assert!(report.is_success(), "rerun {rerun}: {report}");
            assert_eq!(ga.most.load(Ordering::SeqCst), 1);
            assert_eq!(gc.most.load(Ordering::SeqCst), 1);
        }
    });
}

/// Two runs at once share a resource: its capacity holds across them.
#[test]
fn a_resource_is_shared_by_concurrent_runs() {
    bounded(|| {
        let executor = Executor::with_threads(4).unwrap();
        let api = Resource::new("api", 2);
        let gauge = Gauge::default();
        let mut arenas = [Arena::new(), Arena::new()];
        let graphs: Vec<_> = arenas
            .iter_mut()
            .map(|arena| {
                let mut b = arena.builder::<()>();
                for _ in 0..8 {
                    let gauge = &gauge;
                    let v = b
                        .unnamed_task(move |_| {
                            gauge.hold(1, Duration::from_micros(if cfg!(miri) { 1 } else { 500 }));
                            Ok(())
                        })
                        .unwrap();
                    b.uses(v, &api).unwrap();
                }
                b.build().unwrap()
            })
            .collect();
        std::thread::scope(|s| {
            let runs: Vec<_> = graphs
                .iter()
                .map(|graph| s.spawn(|| executor.run(graph).is_success()))
                .collect();
            for run in runs {
                assert!(run.join().unwrap());
            }
        });
        assert!(gauge.most.load(Ordering::SeqCst) <= 2);
        assert_eq!(api.in_use(), 0);
    });
}

/// A run cancelled while tasks wait for a resource: the waiters are
/// cancelled at once rather than after the holder releases it (the holder
/// keeps it until it sees the stop).
#[test]
fn cancelling_a_run_cancels_the_tasks_waiting_for_a_resource() {
    bounded(|| {
        let executor = Executor::with_threads(2).unwrap();
        let lock = Resource::new("lock", 1);
        let token = CancelToken::new();
        let holding = AtomicBool::new(false);
        let waiters_ran = Arc::new(AtomicUsize::new(0));
        let mut arena = Arena::new();
        let mut b = arena.builder::<bool>();
        let (lock_ref, holding_ref, token_in_task) = (&lock, &holding, token.clone());
        b.task("holder", move |ctx| {
            holding_ref.store(true, Ordering::SeqCst);
            // Wait until every waiter is parked on the lock, cancel the
            // run, then hold the lock until the run says it stopped.
            let parked = wait_until(LIMIT, || lock_ref.waiting() == 4);
            token_in_task.cancel();
            Ok(parked && wait_until(LIMIT, || ctx.is_cancelled()))
        })
        .unwrap();
        b.uses("holder", &lock).unwrap();
        b.task("start", move |_| {
            Ok(wait_until(LIMIT, || holding_ref.load(Ordering::SeqCst)))
        })
        .unwrap();
        for i in 0..4 {
            let name = format!("waiter{i}");
            let ran = Arc::clone(&waiters_ran);
            b.task(&name, move |_| {
                ran.fetch_add(1, Ordering::SeqCst);
                Ok(true)
            })
            .unwrap();
            b.uses(name.as_str(), &lock).unwrap();
            b.edge("start", name.as_str()).unwrap();
        }
        let graph = b.build().unwrap();
        let report = executor.run_with(&graph, &RunOptions::new().cancel_token(token));
        assert_eq!(report.output("holder"), Some(&true), "{report}");
        for i in 0..4 {
            assert_eq!(
                report.state(format!("waiter{i}").as_str()),
                Some(State::Cancelled),
                "{report}"
            );
        }
        assert_eq!(waiters_ran.load(Ordering::SeqCst), 0);
        assert_eq!(lock.in_use(), 0);
        assert_eq!(lock.waiting(), 0);
    });
}

/// Declaring a resource checks units against its capacity and names the
/// task; declaring it twice for a task adds up.
#[test]
fn resource_declarations_are_checked() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let db = Resource::new("postgres", 4);
    let none = Resource::new("closed", 0);
    b.task("load", |_| Ok(())).unwrap();
    assert_eq!(
        b.uses_units("load", &db, 0).unwrap_err().to_string(),
        "`load` would hold 0 units of resource `postgres`, which has 4: use at least 1 and at most 4, or give the resource a larger capacity"
    );
    b.uses_units("load", &db, 3).unwrap();
    let err = b.uses_units("load", &db, 2).unwrap_err();
    assert!(
        matches!(
            &err,
            BuildError::ResourceUnits {
                units: 5,
                capacity: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(
        b.uses("load", &none).unwrap_err(),
        BuildError::ResourceUnits {
            units: 1,
            capacity: 0,
            ..
        }
    ));
    assert_eq!(
        b.uses("ghost", &db).unwrap_err().to_string(),
        "`uses` names unknown task `ghost`: add the task first"
    );
    b.uses("load", &db).unwrap();
    let graph = b.build().unwrap();
    let load = graph.find("load").unwrap();
    let used: Vec<(String, u32)> = graph
        .resources_of(load)
        .map(|(r, units)| (r.name().to_owned(), units))
        .collect();
    assert_eq!(used, [("postgres".to_owned(), 4)]);
    assert_eq!(graph.resources_of(TaskId::new(99)).count(), 0);
}

/// Found by the `execute` stress test with concurrent runs (seed 1000620):
/// a release wakes the first waiters that the freed units can serve,
/// counting those units as theirs; a woken waiter whose run has stopped by
/// the time it is taken back is cancelled, and must pass its wake-up on to
/// the waiters behind it, which may belong to another run.
///
/// Here run A's holder of a one-unit lock waits until A's second task and
/// run B's task are parked behind it (in that order), cancels A's token and
/// returns without looking at the token, so A notices the stop only after
/// the release has woken A's waiter. That waiter is cancelled; B's must
/// then run. (Without the pass-on, run B never ended; the threads of a
/// failed try are leaked, still waiting.)
#[test]
fn a_waiter_cancelled_after_its_wake_up_strands_no_other_run() {
    let executor: &'static Executor = Box::leak(Box::new(Executor::with_threads(2).unwrap()));
    let lock = Resource::new("lock", 1);
    let token = CancelToken::new();
    let graph_a = {
        let arena: &'static mut Arena = Box::leak(Box::new(Arena::new()));
        let mut b = arena.builder::<()>();
        for name in ["a1", "a2"] {
            // Whichever runs first holds the lock; the other parks.
            let (lock_in_task, token_in_task) = (lock.clone(), token.clone());
            b.task(name, move |_| {
                wait_until(LIMIT, || lock_in_task.waiting() == 2);
                token_in_task.cancel();
                Ok(())
            })
            .unwrap();
            b.uses(name, &lock).unwrap();
        }
        &*Box::leak(Box::new(b.build().unwrap()))
    };
    let graph_b = {
        let arena: &'static mut Arena = Box::leak(Box::new(Arena::new()));
        let mut b = arena.builder::<()>();
        b.task("b1", |_| Ok(())).unwrap();
        b.uses("b1", &lock).unwrap();
        &*Box::leak(Box::new(b.build().unwrap()))
    };
    let options = RunOptions::new().cancel_token(token);
    let run_a = std::thread::spawn(move || executor.run_with(graph_a, &options).counts());
    assert!(
        wait_until(LIMIT, || lock.waiting() == 1),
        "run A's second task never parked"
    );
    let b_done = Arc::new(AtomicBool::new(false));
    let done = Arc::clone(&b_done);
    let run_b = std::thread::spawn(move || {
        let report = executor.run(graph_b);
        done.store(true, Ordering::SeqCst);
        report.state("b1")
    });
    let finished = wait_until(Duration::from_secs(10), || b_done.load(Ordering::SeqCst));
    assert!(
        finished,
        "run B never ended: lock in use {}, {} waiting",
        lock.in_use(),
        lock.waiting()
    );
    assert_eq!(run_b.join().unwrap(), Some(State::Succeeded));
    let a = run_a.join().unwrap();
    assert_eq!((a.succeeded, a.cancelled), (1, 1), "{a:?}");
    assert_eq!((lock.in_use(), lock.waiting()), (0, 0));
}

/// Found in review: a run whose only task waits for a resource has no
/// worker and has not ended, which the worker jobs took for a run that
/// needs a worker; a job left it for lack of work, found it "starving",
/// and went round again, spinning a core for as long as the resource was
/// held. Here another run's task holds the resource for 400 ms, sleeping:
/// the executor's threads must stay (nearly) idle meanwhile. Spinning used
/// 280–380 ms of CPU; the bound is 100 ms.
#[test]
fn a_run_waiting_for_a_resource_keeps_no_thread_busy() {
    bounded(|| {
        let Some((executor, threads)) = watched_executor() else {
            return; // no /proc here, or Miri
        };
        let lock = Resource::new("lock", 1);
        let holding = Arc::new(AtomicBool::new(false));
        let graph = |name: &str, body: Box<dyn Fn() + Send + Sync>| {
            let arena: &'static mut Arena = Box::leak(Box::new(Arena::new()));
            let mut b = arena.builder::<()>();
            b.task(name, move |_| {
                body();
                Ok(())
            })
            .unwrap();
            b.uses(name, &lock).unwrap();
            &*Box::leak(Box::new(b.build().unwrap()))
        };
        let held = Arc::clone(&holding);
        let holder = graph(
            "holder",
            Box::new(move || {
                held.store(true, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(400));
            }),
        );
        let waiter = graph("waiter", Box::new(|| {}));
        let holding_run = std::thread::spawn(move || executor.run(holder).is_success());
        assert!(wait_until(LIMIT, || holding.load(Ordering::SeqCst)));
        let before = cpu_ms(&threads).unwrap();
        let waiting_run = std::thread::spawn(move || executor.run(waiter).is_success());
        assert!(holding_run.join().unwrap());
        let used = cpu_ms(&threads).unwrap() - before;
        assert!(waiting_run.join().unwrap());
        assert!(
            used <= 100,
            "the executor's threads used {used} ms of CPU while the only work waited 400 ms for a resource"
        );
    });
}

/// Found in review: a task that holds a resource and calls `rayon::join`
/// may, while it waits for the half another thread stole, have rayon run a
/// pending worker job underneath it. That job served a run whose only task
/// waits for the same resource, and (as above) went round and round it:
/// the task under it never resumed, the resource was never released, and
/// both runs hung, every time. The nested job must return.
#[test]
fn a_worker_job_run_inside_a_tasks_join_returns() {
    for _ in 0..3 {
        bounded(|| {
            let executor: &'static Executor =
                Box::leak(Box::new(Executor::with_threads(2).unwrap()));
            let lock = Resource::new("lock", 1);
            let other_started = Arc::new(AtomicBool::new(false));
            let start_other = Arc::new(AtomicBool::new(false));
            // The other run: one task that needs the lock, started from
            // another thread while the holder waits inside its join.
            let other = {
                let arena: &'static mut Arena = Box::leak(Box::new(Arena::new()));
                let mut b = arena.builder::<()>();
                b.task("needs-lock", |_| Ok(())).unwrap();
                b.uses("needs-lock", &lock).unwrap();
                &*Box::leak(Box::new(b.build().unwrap()))
            };
            let (go, started) = (Arc::clone(&start_other), Arc::clone(&other_started));
            let other_run = std::thread::spawn(move || {
                assert!(wait_until(LIMIT, || go.load(Ordering::SeqCst)));
                started.store(true, Ordering::SeqCst);
                executor.run(other).is_success()
            });
            let mut arena = Arena::new();
            let mut b = arena.builder::<()>();
            let (go, started) = (Arc::clone(&start_other), Arc::clone(&other_started));
            b.task("holds-lock", move |_| {
                let stolen = AtomicBool::new(false);
                rayon::join(
                    || {
                        // Both threads busy: the other run's worker job
                        // waits in the pool's queue for this join.
                        assert!(wait_until(LIMIT, || stolen.load(Ordering::SeqCst)));
                        go.store(true, Ordering::SeqCst);
                        assert!(wait_until(LIMIT, || started.load(Ordering::SeqCst)));
                        std::thread::sleep(Duration::from_millis(5));
                    },
                    || {
                        stolen.store(true, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(50));
                    },
                );
                Ok(())
            })
            .unwrap();
            b.uses("holds-lock", &lock).unwrap();
            let graph = b.build().unwrap();
            assert!(executor.run(&graph).is_success());
            assert!(other_run.join().unwrap());
            assert_eq!((lock.in_use(), lock.waiting()), (0, 0));
        });
    }
}

/// A run whose only task is parked on a resource has no work for a worker,
/// so the other runs' workers are not asked to move to it; once a release
/// hands the task back, it waits for a worker again, and gets one within
/// about a quantum even while every thread serves another run, not when
/// that run ends. Here the busy run holds the lock in one task and keeps
/// both threads busy with a thousand 1 ms tasks; the handed-back task must
/// run while most of them are still to run.
#[test]
fn a_task_handed_back_while_every_thread_is_busy_gets_a_worker() {
    const WORK: usize = 1000;
    bounded(|| {
        let executor: &'static Executor = Box::leak(Box::new(Executor::with_threads(2).unwrap()));
        let lock = Resource::new("lock", 1);
        let release = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(AtomicUsize::new(0));
        let busy = {
            let arena: &'static mut Arena = Box::leak(Box::new(Arena::new()));
            let mut b = arena.builder::<usize>();
            let let_go = Arc::clone(&release);
            b.task("holder", move |_| {
                assert!(wait_until(LIMIT, || let_go.load(Ordering::SeqCst)));
                Ok(0)
            })
            .unwrap();
            b.uses("holder", &lock).unwrap();
            for i in 0..WORK {
                let finished = Arc::clone(&finished);
                b.task(&format!("work{i}"), move |_| {
                    spin_for(Duration::from_millis(1));
                    Ok(finished.fetch_add(1, Ordering::SeqCst))
                })
                .unwrap();
            }
            &*Box::leak(Box::new(b.build().unwrap()))
        };
        let waiting = {
            let arena: &'static mut Arena = Box::leak(Box::new(Arena::new()));
            let mut b = arena.builder::<usize>();
            let finished = Arc::clone(&finished);
            b.task("waiter", move |_| Ok(finished.load(Ordering::SeqCst)))
                .unwrap();
            b.uses("waiter", &lock).unwrap();
            &*Box::leak(Box::new(b.build().unwrap()))
        };
        let busy_run = std::thread::spawn(move || executor.run(busy).is_success());
        // Both threads serve the busy run before the waiting run starts.
        assert!(
            wait_until(LIMIT, || lock.in_use() == 1
                && finished.load(Ordering::SeqCst) >= 2),
            "the busy run never got going"
        );
        let waiting_run =
            std::thread::spawn(move || executor.run(waiting).output("waiter").copied());
        assert!(
            wait_until(LIMIT, || lock.waiting() == 1),
            "the waiter never parked"
        );
        // Long enough for the worker that parked it to leave the run.
        std::thread::sleep(Duration::from_millis(20));
        release.store(true, Ordering::SeqCst);
        let ran_after = waiting_run.join().unwrap().expect("the waiter ran");
        assert!(
            ran_after < WORK / 2,
            "the handed-back task waited for the busy run: it ran after {ran_after} of {WORK} tasks"
        );
        assert!(busy_run.join().unwrap());
        assert_eq!((lock.in_use(), lock.waiting()), (0, 0));
    });
}
