//! Resource races found in review: each test failed before its fix (units overflowing, a withdrawn waiter holding back others, a parked run deaf to its deadline, nested callers starving a woken waiter).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kahn::{Arena, CancelToken, Executor, FailurePolicy, Graph, Resource, RunOptions, State};
use kahn_test_support::wait_until;

fn leak_graph(
    build: impl FnOnce(&mut kahn::GraphBuilder<'static, bool>),
) -> &'static Graph<'static, bool> {
    let arena: &'static mut Arena = Box::leak(Box::new(Arena::new()));
    let mut b = arena.builder::<bool>();
    build(&mut b);
    &*Box::leak(Box::new(b.build().unwrap()))
}

fn leak_exec() -> &'static Executor {
    Box::leak(Box::new(Executor::with_threads(2).unwrap()))
}

/// The capacity check added units to the units in use in a `u32`: with a
/// capacity above 2³¹, two tasks of 3e9 units each both got in (the sum
/// wrapped in release builds, and panicked outside a task in debug).
#[test]
fn units_near_u32_max_do_not_overflow_the_capacity_check() {
    let big = Resource::new("big", u32::MAX);
    let now = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let graph = leak_graph(|b| {
        for name in ["p", "q"] {
            let (now, most) = (Arc::clone(&now), Arc::clone(&most));
            b.task(name, move |_| {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(n, Ordering::SeqCst);
                wait_until(Duration::from_millis(300), || {
                    now.load(Ordering::SeqCst) == 2
                });
                now.fetch_sub(1, Ordering::SeqCst);
                Ok(true)
            })
            .unwrap();
            b.uses_units(name, &big, 3_000_000_000).unwrap();
        }
    });
    let report = leak_exec().run(graph);
    assert!(report.is_success());
    eprintln!("in_use after: {}", big.in_use());
    assert_eq!(
        most.load(Ordering::SeqCst),
        1,
        "both 3e9-unit tasks held a u32::MAX resource at once"
    );
}

/// A stopped run's waiter at the front of a wait list was withdrawn without
/// waking those behind it that now fit: here run Y's one-unit task stayed
/// parked beside a free unit, behind run X's withdrawn two-unit task,
/// until a holder gave up waiting for it.
#[test]
fn a_withdrawn_waiter_lets_those_behind_it_in() {
    let pool = Resource::new("pool", 2);
    let b_ran = Arc::new(AtomicBool::new(false));
    // Run Z: h holds 1 of 2 and waits (up to 3 s) for run Y's b; h2 holds
    // the other until a and b are both parked, so b parks behind a.
    let graph_z = {
        let b_ran = Arc::clone(&b_ran);
        let pool2 = pool.clone();
        leak_graph(move |b| {
            b.task("h", move |_| {
                Ok(wait_until(Duration::from_secs(3), || {
                    b_ran.load(Ordering::SeqCst)
                }))
            })
            .unwrap();
            b.uses("h", &pool2).unwrap();
            let p = pool2.clone();
            b.task("h2", move |_| {
                Ok(wait_until(Duration::from_secs(20), || p.waiting() == 2))
            })
            .unwrap();
            b.uses("h2", &pool2).unwrap();
        })
    };
    // Run X (fail-fast): a wants 2 units and parks; f fails once b is parked behind a.
    let graph_x = {
        let pool2 = pool.clone();
        leak_graph(move |b| {
            b.task("a", |_| Ok(true)).unwrap();
            b.uses_units("a", &pool2, 2).unwrap();
            let p = pool2.clone();
            b.task("f", move |_| {
                wait_until(Duration::from_secs(20), || {
                    p.waiting() == 2 && p.in_use() == 1
                });
                Err("boom".into())
            })
            .unwrap();
        })
    };
    let graph_y = {
        let b_ran = Arc::clone(&b_ran);
        let pool2 = pool.clone();
        leak_graph(move |b| {
            b.task("b", move |_| {
                b_ran.store(true, Ordering::SeqCst);
                Ok(true)
            })
            .unwrap();
            b.uses("b", &pool2).unwrap();
        })
    };
    let (ez, ex, ey) = (leak_exec(), leak_exec(), leak_exec());
    let z = std::thread::spawn(move || ez.run(graph_z).output("h").copied());
    assert!(wait_until(Duration::from_secs(5), || pool.in_use() == 2));
    let x = std::thread::spawn(move || {
        ex.run_with(graph_x, &RunOptions::new().policy(FailurePolicy::FailFast))
            .state("a")
    });
    assert!(wait_until(Duration::from_secs(5), || pool.waiting() == 1));
    let t0 = Instant::now();
    let y = std::thread::spawn(move || ey.run(graph_y).state("b"));
    assert_eq!(x.join().unwrap(), Some(State::Cancelled));
    eprintln!(
        "after X stopped ({:?}): in_use {} of 2, waiting {}",
        t0.elapsed(),
        pool.in_use(),
        pool.waiting()
    );
    std::thread::sleep(Duration::from_millis(500));
    eprintln!(
        "500 ms later: in_use {} of 2, waiting {}",
        pool.in_use(),
        pool.waiting()
    );
    let h_saw_b = z.join().unwrap();
    let b_state = y.join().unwrap();
    eprintln!(
        "b ran {:?} after start; h saw b run: {h_saw_b:?}",
        t0.elapsed()
    );
    assert_eq!(b_state, Some(State::Succeeded));
    assert_eq!(
        h_saw_b,
        Some(true),
        "b stayed parked beside a free unit until h gave up"
    );
}

/// A run whose remaining tasks are all parked has no worker, and nothing
/// looked at its deadline or token: it stopped only when a release woke
/// its tasks. The thread waiting for the run now looks every 10 ms.
#[test]
fn a_run_parked_on_a_resource_still_meets_its_deadline_and_token() {
    let lock = Resource::new("lock", 1);
    let graph_z = {
        let l = lock.clone();
        leak_graph(move |b| {
            b.task("h", |_| {
                std::thread::sleep(Duration::from_secs(2));
                Ok(true)
            })
            .unwrap();
            b.uses("h", &l).unwrap();
        })
    };
    let make_waiter = || {
        let l = lock.clone();
        leak_graph(move |b| {
            b.task("a", |_| Ok(true)).unwrap();
            b.uses("a", &l).unwrap();
        })
    };
    let (gx, gy) = (make_waiter(), make_waiter());
    let (ez, ex, ey) = (leak_exec(), leak_exec(), leak_exec());
    let z = std::thread::spawn(move || ez.run(graph_z).output("h").copied());
    assert!(wait_until(Duration::from_secs(5), || lock.in_use() == 1));
    let t0 = Instant::now();
    let x = std::thread::spawn(move || {
        let r = ex.run_with(gx, &RunOptions::new().timeout(Duration::from_millis(100)));
        (r.state("a"), t0.elapsed())
    });
    let token = CancelToken::new();
    let tk = token.clone();
    let y = std::thread::spawn(move || {
        let r = ey.run_with(gy, &RunOptions::new().cancel_token(tk));
        (r.state("a"), t0.elapsed())
    });
    assert!(wait_until(Duration::from_secs(5), || lock.waiting() == 2));
    std::thread::sleep(Duration::from_millis(100));
    token.cancel();
    std::thread::sleep(Duration::from_millis(500));
    eprintln!(
        "600 ms after start, token cancelled 500 ms ago, timeout 100 ms: waiting {}",
        lock.waiting()
    );
    let (xs, xt) = x.join().unwrap();
    let (ys, yt) = y.join().unwrap();
    z.join().unwrap();
    eprintln!("timeout run: {xs:?} after {xt:?}; cancelled run: {ys:?} after {yt:?}");
    assert!(
        xt < Duration::from_secs(1),
        "100 ms timeout run took {xt:?}"
    );
    assert!(
        yt < Duration::from_secs(1),
        "run cancelled at ~100 ms took {yt:?}"
    );
}

/// Nested runs and resources: both pool threads are callers of nested runs
/// whose only tasks are parked on a resource; the release woke (and counted
/// the unit for) an earlier waiter of a top-level run that could get no
/// thread, so the nested waiters stayed parked beside the free unit for
/// ever. A woken waiter whose run can call no worker now passes the units
/// on.
#[test]
fn nested_callers_are_not_starved_by_a_woken_waiter_without_a_thread() {
    let lock = Resource::new("lock", 1);
    let release = Arc::new(AtomicBool::new(false));
    let graph_h = {
        let (l, r) = (lock.clone(), Arc::clone(&release));
        leak_graph(move |b| {
            b.task("h", move |_| {
                Ok(wait_until(Duration::from_secs(20), || {
                    r.load(Ordering::SeqCst)
                }))
            })
            .unwrap();
            b.uses("h", &l).unwrap();
        })
    };
    let graph_x = {
        let l = lock.clone();
        leak_graph(move |b| {
            b.task("w", |_| Ok(true)).unwrap();
            b.uses("w", &l).unwrap();
        })
    };
    let exec = leak_exec();
    let graph_y = {
        let l = lock.clone();
        leak_graph(move |b| {
            for p in ["p1", "p2"] {
                let l = l.clone();
                b.task(p, move |_| {
                    let mut arena = Arena::new();
                    let mut nb = arena.builder::<bool>();
                    nb.task("n", |_| Ok(true)).unwrap();
                    nb.uses("n", &l).unwrap();
                    let g = nb.build().unwrap();
                    let ok = exec.run(&g).is_success();
                    Ok(ok)
                })
                .unwrap();
            }
        })
    };
    let eh = leak_exec();
    let h = std::thread::spawn(move || eh.run(graph_h).is_success());
    assert!(wait_until(Duration::from_secs(5), || lock.in_use() == 1));
    let x = std::thread::spawn(move || exec.run(graph_x).is_success());
    assert!(wait_until(Duration::from_secs(5), || lock.waiting() == 1));
    std::thread::sleep(Duration::from_millis(50)); // X's worker leaves
    let y_done = Arc::new(AtomicBool::new(false));
    let yd = Arc::clone(&y_done);
    let _y = std::thread::spawn(move || {
        let ok = exec.run(graph_y).is_success();
        yd.store(true, Ordering::SeqCst);
        ok
    });
    assert!(
        wait_until(Duration::from_secs(5), || lock.waiting() == 3),
        "nested tasks did not park"
    );
    release.store(true, Ordering::SeqCst);
    assert!(h.join().unwrap());
    let done = wait_until(Duration::from_secs(5), || y_done.load(Ordering::SeqCst));
    eprintln!(
        "5 s after release: in_use {}, waiting {}, y done {done}",
        lock.in_use(),
        lock.waiting()
    );
    assert!(done, "hung: lock free, {} parked", lock.waiting());
    assert!(x.join().unwrap());
}

/// Found in review: a nested run's caller is its run's only worker, and
/// slept with no timeout once every task of the nested run was parked on a
/// resource: the nested run's deadline went unnoticed until a release. Here
/// the outer task holding the lock waits for the nested run to end, which
/// only its 50 ms deadline can do.
#[test]
fn a_nested_run_parked_on_a_resource_still_meets_its_deadline() {
    kahn_test_support::bounded(|| {
        let executor = leak_exec();
        let lock = Resource::new("lock", 1);
        let held = Arc::new(AtomicBool::new(false));
        let nested_ended = Arc::new(AtomicBool::new(false));
        let inner = leak_graph(|b| {
            b.task("needs-lock", |_| Ok(true)).unwrap();
            b.uses("needs-lock", &lock).unwrap();
        });
        let outer = leak_graph(|b| {
            let (holding, ended) = (Arc::clone(&held), Arc::clone(&nested_ended));
            b.task("holder", move |_| {
                holding.store(true, Ordering::SeqCst);
                Ok(wait_until(Duration::from_secs(20), || {
                    ended.load(Ordering::SeqCst)
                }))
            })
            .unwrap();
            b.uses("holder", &lock).unwrap();
            let (held, ended) = (Arc::clone(&held), Arc::clone(&nested_ended));
            b.task("nests", move |_| {
                assert!(wait_until(Duration::from_secs(20), || held.load(Ordering::SeqCst)));
                let options = RunOptions::new().timeout(Duration::from_millis(50));
                let report = executor.run_with(inner, &options);
                ended.store(true, Ordering::SeqCst);
                Ok(report.state("needs-lock") == Some(State::Cancelled))
            })
            .unwrap();
        });
        let report = executor.run(outer);
        assert_eq!(
            report.output("holder"),
            Some(&true),
            "the nested run ended only when the lock was released"
        );
        assert_eq!(report.output("nests"), Some(&true), "{report}");
    });
}
