//! The public API through the executor's unsafe paths (output slots written,
//! read and dropped, input reads, closures boxed in the bump), at sizes small
//! enough to run under Miri.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use kahn::{Arena, CancelToken, Executor, Outcome, RunOptions, State, TaskId};
use kahn_test_support::{executor, intend_panic, rendezvous};

/// The shared executors these tests run on: one and two threads, which
/// reach every unsafe path at the sizes Miri can afford.
fn executors() -> [&'static Executor; 2] {
    [1, 2].map(executor)
}

#[test]
fn outputs_flow_along_edges_on_every_worker_count() {
    for executor in executors() {
        let mut arena = Arena::new();
        let mut b = arena.builder::<String>();
        b.task("source", |_| Ok("s".to_owned())).unwrap();
        for i in 0..6 {
            let name = format!("mid{i}");
            b.task(&name, move |ctx| Ok(format!("{}{i}", ctx.input("source")?)))
                .unwrap();
            b.edge("source", name.as_str()).unwrap();
        }
        b.task("sink", |ctx| {
            Ok(ctx
                .inputs()
                .map(|(_, s)| s.as_str())
                .collect::<Vec<_>>()
                .join(","))
        })
        .unwrap();
        for i in 0..6 {
            b.edge(format!("mid{i}").as_str(), "sink").unwrap();
        }
        let graph = b.build().unwrap();
        for _ in 0..3 {
            let report = executor.run(&graph);
            assert_eq!(
                report.output("sink").map(String::as_str),
                Some("s0,s1,s2,s3,s4,s5")
            );
        }
    }
}

#[test]
fn failures_and_panics_skip_only_their_descendants() {
    for executor in executors() {
        let mut arena = Arena::new();
        let mut b = arena.builder::<u32>();
        let ok = b.task("ok", |_| Ok(1)).unwrap();
        let bad = b.task("bad", |_| Err("no".into())).unwrap();
        let boom = b
            .task("boom", |_| {
                intend_panic();
                panic!("kaput")
            })
            .unwrap();
        let after_bad = b.task("after_bad", |_| Ok(2)).unwrap();
        let after_both = b.task("after_both", |_| Ok(3)).unwrap();
        let after_ok = b
            .task("after_ok", |ctx| Ok(ctx.input(TaskId::new(0))? + 1))
            .unwrap();
        b.edges([
            (bad, after_bad),
            (after_bad, after_both),
            (boom, after_both),
            (ok, after_ok),
        ])
        .unwrap();
        let graph = b.build().unwrap();
        let report = executor.run(&graph);
        assert_eq!(report.output(after_ok), Some(&2));
        assert_eq!(report.state(bad), Some(State::Failed));
        assert!(matches!(report.outcome(boom), Some(Outcome::Panicked(m)) if m == "kaput"));
        assert!(
            matches!(report.outcome(after_bad), Some(Outcome::Skipped { cause }) if cause == bad)
        );
        assert!(
            matches!(report.outcome(after_both), Some(Outcome::Skipped { cause }) if cause == bad || cause == boom)
        );
        let counts = report.counts();
        assert_eq!(
            (
                counts.succeeded,
                counts.failed,
                counts.panicked,
                counts.skipped
            ),
            (2, 1, 1, 2)
        );
    }
}

#[test]
fn a_cancelled_run_starts_nothing_and_still_reports() {
    for executor in executors() {
        let ran = Arc::new(AtomicUsize::new(0));
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        for _ in 0..8 {
            let ran = Arc::clone(&ran);
            b.unnamed_task(move |_| {
                ran.fetch_add(1, Ordering::Relaxed);
                Ok(())
            })
            .unwrap();
        }
        b.edges((1..8).map(|i| (TaskId::new(i - 1), TaskId::new(i))))
            .unwrap();
        let graph = b.build().unwrap();
        let token = CancelToken::new();
        token.cancel();
        let report = executor.run_with(&graph, &RunOptions::new().cancel_token(token));
        assert_eq!(ran.load(Ordering::Relaxed), 0);
        assert_eq!(report.counts().cancelled, 8);
        drop(report);
        drop(graph);
        assert_eq!(
            Arc::strong_count(&ran),
            1,
            "closures dropped with the graph"
        );
    }
}

#[test]
fn timings_are_recorded_for_tasks_that_ran() {
    let executor = executor(2);
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let a = b.task("a", |_| Ok(())).unwrap();
    let c = b.task("c", |_| Ok(())).unwrap();
    b.edge(a, c).unwrap();
    let graph = b.build().unwrap();
    let report = executor.run_with(&graph, &RunOptions::new().record_timings(true));
    let (ta, tc) = (report.timing(a).unwrap(), report.timing(c).unwrap());
    assert!(tc.start >= ta.start + ta.duration);
    assert!(ta.worker < 2 && tc.worker < 2);
    assert_eq!(executor.run(&graph).timing(a), None);
}

#[test]
fn rebuilding_in_a_rewound_arena_drops_old_closures_once() {
    let shared = Arc::new(());
    let mut arena = Arena::new();
    for round in 0..3 {
        let mut b = arena.builder::<()>();
        for _ in 0..5 {
            let shared = Arc::clone(&shared);
            b.unnamed_task(move |_| {
                let _keep = &shared;
                Ok(())
            })
            .unwrap();
        }
        if round == 1 {
            b.edge(TaskId::new(0), TaskId::new(1)).unwrap();
            b.edge(TaskId::new(1), TaskId::new(0)).unwrap();
            assert!(b.build().is_err());
        } else {
            let graph = b.build().unwrap();
            assert!(executor(1).run(&graph).is_success());
        }
        assert_eq!(Arc::strong_count(&shared), 1);
    }
}

/// After 2 ms, meets the other `count - 1` tasks of `arrived`, or gives up
/// after `limit`. The 2 ms make each task slow enough (well above the
/// worker's 20 µs pace threshold) that the worker publishes ready work
/// before each task.
fn slow_rendezvous(arrived: &AtomicUsize, count: usize, limit: std::time::Duration) -> bool {
    std::thread::sleep(std::time::Duration::from_millis(2));
    rendezvous(arrived, count, limit)
}

#[test]
fn slow_ready_tasks_are_not_hidden_behind_a_running_one() {
    // Two slow sources, and a slow fan-out: each pair can only meet if both
    // run at once on the two workers, i.e. the worker that started the first
    // did not keep the second to itself. (A worker whose recent tasks were
    // fast may keep a sibling private while it runs one unexpectedly long
    // task; see "Private work is published on demand" in ARCHITECTURE.md.)
    let limit = std::time::Duration::from_secs(if cfg!(miri) { 600 } else { 20 });
    // An executor of its own: the tasks meet across its two workers, which
    // another test's run on a shared executor could hold.
    let executor = Executor::with_threads(2).unwrap();
    let sources = AtomicUsize::new(0);
    let fanned = AtomicUsize::new(0);
    let mut arena = Arena::new();
    let mut b = arena.builder::<bool>();
    let s0 = b
        .task("s0", |_| Ok(slow_rendezvous(&sources, 2, limit)))
        .unwrap();
    b.task("s1", |_| Ok(slow_rendezvous(&sources, 2, limit)))
        .unwrap();
    let a = b
        .task("a", |_| Ok(slow_rendezvous(&fanned, 2, limit)))
        .unwrap();
    let c = b
        .task("c", |_| Ok(slow_rendezvous(&fanned, 2, limit)))
        .unwrap();
    b.edges([(s0, a), (s0, c)]).unwrap();
    let graph = b.build().unwrap();
    let report = executor.run(&graph);
    for task in ["s0", "s1", "a", "c"] {
        assert_eq!(
            report.output(task),
            Some(&true),
            "{task} never met its partner"
        );
    }
}

#[test]
fn a_panic_value_whose_destructor_panics_is_still_just_a_panicked_task() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            intend_panic();
            panic!("the payload's destructor panicked too");
        }
    }
    for executor in executors() {
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        let bomb = b
            .task("bomb", |_| {
                intend_panic();
                std::panic::panic_any(Bomb)
            })
            .unwrap();
        let fine = b.task("fine", |_| Ok(())).unwrap();
        let graph = b.build().unwrap();
        let report = executor.run(&graph);
        assert_eq!(report.state(bomb), Some(State::Panicked));
        assert_eq!(report.state(fine), Some(State::Succeeded));
    }
}

#[test]
fn reserving_beyond_the_limits_or_the_memory_is_not_an_error() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    if !cfg!(miri) {
        // Cut to the hard limits; the allocator may refuse, which is ignored.
        b.reserve(usize::MAX, usize::MAX);
    }
    b.max_tasks(4).reserve(1 << 40, 1 << 40);
    let a = b.unnamed_task(|_| Ok(())).unwrap();
    let c = b.unnamed_task(|_| Ok(())).unwrap();
    b.edges(std::iter::repeat_n((a, c), 3)).unwrap();
    assert_eq!(b.build().unwrap().edge_count(), 1);
}

#[test]
fn a_resumed_run_moves_carried_outputs_in_and_drops_each_once() {
    for exec in executors() {
        let alive = Arc::new(());
        let fail = std::sync::atomic::AtomicBool::new(true);
        let mut arena = Arena::new();
        let mut b = arena.builder::<Arc<()>>();
        let up = {
            let alive = Arc::clone(&alive);
            b.task("up", move |_| Ok(Arc::clone(&alive))).unwrap()
        };
        b.task("down", |ctx| {
            if fail.load(Ordering::SeqCst) {
                return Err("not yet".into());
            }
            Ok(Arc::clone(ctx.input("up")?))
        })
        .unwrap();
        b.edge("up", "down").unwrap();
        let graph = b.build().unwrap();
        let first = exec.run(&graph);
        assert_eq!(
            Arc::strong_count(&alive),
            3,
            "the closure's, ours, up's output"
        );
        fail.store(false, Ordering::SeqCst);
        let second = exec.resume(&graph, first).unwrap();
        assert!(second.carried_over(up));
        assert!(Arc::ptr_eq(second.output("up").unwrap(), &alive));
        assert_eq!(
            Arc::strong_count(&alive),
            4,
            "up's output moved, not cloned; down's"
        );
        let mut second = second;
        assert!(second.clear("down"));
        assert_eq!(
            Arc::strong_count(&alive),
            3,
            "a cleared output is dropped at once"
        );
        drop(second);
        assert_eq!(Arc::strong_count(&alive), 2);
    }
}
