//! Ownership: task closures and task outputs are dropped exactly once, on every path.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use kahn::{Arena, BuildError, CancelToken, Executor, Outcome, RunOptions, State, TaskId};

use kahn_test_support::{bounded, executor, executors};

/// Records how often each [`Tracked`] value was dropped.
#[derive(Debug, Default)]
struct Ledger {
    drops: Mutex<Vec<u32>>,
}

impl Ledger {
    fn new() -> Arc<Ledger> {
        Arc::new(Ledger::default())
    }

    fn track(self: &Arc<Self>) -> Tracked {
        let mut drops = self.drops.lock().unwrap();
        drops.push(0);
        Tracked {
            id: drops.len() - 1,
            ledger: Arc::clone(self),
        }
    }

    fn created(&self) -> usize {
        self.drops.lock().unwrap().len()
    }

    /// How many values were dropped; fails if any was dropped twice.
    fn dropped(&self) -> usize {
        let drops = self.drops.lock().unwrap();
        let twice: Vec<usize> = (0..drops.len()).filter(|&i| drops[i] > 1).collect();
        assert!(twice.is_empty(), "dropped more than once: {twice:?}");
        drops.iter().filter(|&&d| d == 1).count()
    }

    fn is_dropped(&self, id: usize) -> bool {
        self.drops.lock().unwrap()[id] > 0
    }

    /// Every value created was dropped exactly once.
    fn assert_all_dropped_once(&self) {
        assert_eq!(
            self.dropped(),
            self.created(),
            "some values were never dropped"
        );
    }
}

/// A value that tells its ledger when it is dropped.
#[derive(Debug)]
struct Tracked {
    id: usize,
    ledger: Arc<Ledger>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.ledger.drops.lock().unwrap()[self.id] += 1;
    }
}

#[test]
fn closures_are_dropped_with_the_graph_and_not_before() {
    bounded(|| {
        let n = if cfg!(miri) { 8 } else { 200 };
        let exec = executor(2);
        let shared = Arc::new(String::from("shared"));
        let ledger = Ledger::new();
        let mut arena = Arena::new();
        let mut b = arena.builder::<usize>();
        for i in 0..n {
            let (shared, tracked) = (Arc::clone(&shared), ledger.track());
            // `&tracked` makes the closure capture (and own) the whole value.
            let task = move |_: &kahn::TaskContext<'_, usize>| {
                let tracked = &tracked;
                Ok(shared.len() + tracked.id)
            };
            if i % 2 == 0 {
                b.task(&format!("t{i}"), task).unwrap();
            } else {
                b.unnamed_task(task).unwrap();
            }
        }
        assert_eq!(Arc::strong_count(&shared), n + 1);
        let graph = b.build().unwrap();
        for _ in 0..3 {
            let report = exec.run(&graph);
            assert!(report.is_success());
        }
        assert_eq!(ledger.dropped(), 0, "running must not drop closures");
        assert_eq!(Arc::strong_count(&shared), n + 1);
        drop(graph);
        assert_eq!(Arc::strong_count(&shared), 1);
        ledger.assert_all_dropped_once();
        drop(arena);
        ledger.assert_all_dropped_once();
    });
}

#[test]
fn closures_are_dropped_when_build_finds_a_cycle() {
    let shared = Arc::new(());
    let ledger = Ledger::new();
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    for name in ["a", "b", "c", "d"] {
        let (shared, tracked) = (Arc::clone(&shared), ledger.track());
        b.task(name, move |_| {
            let _ = (&shared, &tracked);
            Ok(())
        })
        .unwrap();
    }
    b.edge("a", "b").unwrap();
    b.edge("b", "c").unwrap();
    b.edge("c", "a").unwrap();
    assert!(matches!(b.build(), Err(BuildError::Cycle { .. })));
    assert_eq!(Arc::strong_count(&shared), 1);
    ledger.assert_all_dropped_once();

    // The arena is fine for the next graph, and nothing is dropped again.
    let mut b = arena.builder::<()>();
    b.task("a", |_| Ok(())).unwrap();
    let graph = b.build().unwrap();
    assert!(executor(1).run(&graph).is_success());
    drop(graph);
    ledger.assert_all_dropped_once();
}

#[test]
fn closures_are_dropped_with_a_builder_that_never_builds() {
    let shared = Arc::new(());
    let ledger = Ledger::new();
    let mut arena = Arena::new();
    let mut b = arena.builder::<u8>();
    for _ in 0..10 {
        let (shared, tracked) = (Arc::clone(&shared), ledger.track());
        b.unnamed_task(move |_| {
            let _ = (&shared, &tracked);
            Ok(0)
        })
        .unwrap();
    }
    b.edge(TaskId::new(0), TaskId::new(1)).unwrap();
    assert_eq!(ledger.dropped(), 0);
    drop(b);
    assert_eq!(Arc::strong_count(&shared), 1);
    ledger.assert_all_dropped_once();
}

#[test]
fn a_rejected_closure_is_dropped_at_once_and_the_rest_with_the_graph() {
    let shared = Arc::new(());
    let ledger = Ledger::new();
    let mut arena = Arena::new();
    let mut b = arena.builder::<u8>();
    b.max_tasks(3);
    let make = || {
        let (shared, tracked) = (Arc::clone(&shared), ledger.track());
        move |_: &kahn::TaskContext<'_, u8>| {
            let _ = (&shared, &tracked);
            Ok(1)
        }
    };
    b.task("a", make()).unwrap();
    assert!(matches!(
        b.task("a", make()),
        Err(BuildError::DuplicateName { .. })
    ));
    assert!(
        ledger.is_dropped(1),
        "the closure of a refused task is dropped by the failed call"
    );
    assert!(matches!(b.task("", make()), Err(BuildError::EmptyName)));
    assert!(ledger.is_dropped(2));
    b.task("b", make()).unwrap();
    b.unnamed_task(make()).unwrap();
    assert!(matches!(
        b.unnamed_task(make()),
        Err(BuildError::TooManyTasks { .. })
    ));
    assert!(matches!(
        b.task("c", make()),
        Err(BuildError::TooManyTasks { .. })
    ));
    assert!(ledger.is_dropped(5) && ledger.is_dropped(6));
    // Bad edges drop nothing.
    assert!(b.edge("a", "nope").is_err());
    assert!(b.edge("a", "a").is_err());
    assert_eq!(
        ledger.dropped(),
        4,
        "only the four refused closures are gone"
    );
    b.edge("a", "b").unwrap();
    let graph = b.build().unwrap();
    let report = executor(2).run(&graph);
    assert_eq!(report.counts().succeeded, 3);
    drop(report);
    assert_eq!(ledger.dropped(), 4);
    drop(graph);
    assert_eq!(Arc::strong_count(&shared), 1);
    ledger.assert_all_dropped_once();
}

#[test]
fn reset_and_new_builders_never_drop_a_closure_twice() {
    let exec = executor(2);
    let shared = Arc::new(());
    let ledger = Ledger::new();
    let mut arena = Arena::new();
    let task = |ledger: &Arc<Ledger>| {
        let (shared, tracked) = (Arc::clone(&shared), ledger.track());
        move |_: &kahn::TaskContext<'_, usize>| {
            let (_, tracked) = (&shared, &tracked);
            Ok(tracked.id)
        }
    };

    let mut b = arena.builder::<usize>();
    for _ in 0..5 {
        b.unnamed_task(task(&ledger)).unwrap();
    }
    let graph = b.build().unwrap();
    assert!(exec.run(&graph).is_success());
    drop(graph);
    assert_eq!(ledger.dropped(), 5);
    arena.reset();
    arena.reset();
    assert_eq!(ledger.dropped(), 5);

    for round in 1..4 {
        let mut b = arena.builder::<usize>();
        for _ in 0..7 {
            b.unnamed_task(task(&ledger)).unwrap();
        }
        if round == 2 {
            // This one is dropped unbuilt.
            continue;
        }
        let graph = b.build().unwrap();
        let report = exec.run(&graph);
        assert_eq!(report.counts().succeeded, 7);
        drop(report);
        drop(graph);
        ledger.assert_all_dropped_once();
    }
    ledger.assert_all_dropped_once();
    let _ = arena.builder::<usize>();
    arena.reset();
    drop(arena);
    assert_eq!(ledger.created(), 5 + 3 * 7);
    ledger.assert_all_dropped_once();
    assert_eq!(Arc::strong_count(&shared), 1);
}

/// Counts drops of [`ZeroSized`], which has no room for a pointer.
static ZERO_SIZED_DROPS: AtomicUsize = AtomicUsize::new(0);

/// A capture of size zero that still has a destructor.
struct ZeroSized;

impl Drop for ZeroSized {
    fn drop(&mut self) {
        ZERO_SIZED_DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

/// A capture aligned more strictly than anything the arena holds by default.
#[repr(align(256))]
struct OverAligned {
    tracked: Tracked,
}

#[test]
fn zero_sized_and_over_aligned_closures_are_dropped_once() {
    let ledger = Ledger::new();
    let mut arena = Arena::new();
    let mut b = arena.builder::<bool>();
    for _ in 0..3 {
        let zst = ZeroSized;
        b.unnamed_task(move |_| {
            let _ = &zst;
            Ok(true)
        })
        .unwrap();
        let aligned = OverAligned {
            tracked: ledger.track(),
        };
        b.unnamed_task(move |_| {
            Ok((std::ptr::from_ref(&aligned) as usize).is_multiple_of(256)
                && aligned.tracked.id < 3)
        })
        .unwrap();
    }
    let graph = b.build().unwrap();
    let report = executor(2).run(&graph);
    assert!(
        report.tasks().all(|t| t.outcome.output() == Some(&true)),
        "{report}"
    );
    drop(report);
    assert_eq!(ZERO_SIZED_DROPS.load(Ordering::SeqCst), 0);
    assert_eq!(ledger.dropped(), 0);
    drop(graph);
    assert_eq!(ZERO_SIZED_DROPS.load(Ordering::SeqCst), 3);
    ledger.assert_all_dropped_once();
}

/// A graph whose outputs are [`Tracked`]: `n` tasks, `v/2 -> v` and
/// `v/3 -> v`; the ones in `fail` return errors and those in `panic` panic
/// (after making a tracked value of their own, which the unwind must drop).
/// Failing tasks must be leaves (`>= n/2`), so no task is skipped.
fn tracked_graph_run(
    exec: &Executor,
    n: usize,
    fail: &[usize],
    panic: &[usize],
    ledger: &Arc<Ledger>,
) {
    assert!(
        fail.iter().chain(panic).all(|&i| 2 * i >= n),
        "failing tasks must be leaves"
    );
    let mut arena = Arena::new();
    let mut b = arena.builder::<Tracked>();
    for i in 0..n {
        let (is_fail, is_panic) = (fail.contains(&i), panic.contains(&i));
        b.unnamed_task(move |ctx| {
            // Reading inputs borrows them; it must not move or drop them.
            let inputs: Vec<usize> = ctx.inputs().map(|(_, t)| t.id).collect();
            assert_eq!(inputs.len(), ctx.input_count());
            let mine = ledger.track();
            if is_panic {
                std::panic::resume_unwind(Box::new(format!(
                    "task {i} panics holding value {}",
                    mine.id
                )));
            }
            if is_fail {
                drop(mine);
                return Err(format!("task {i} fails").into());
            }
            Ok(mine)
        })
        .unwrap();
    }
    let edges = (0..n as u32).flat_map(|v| {
        [v / 2, v / 3]
            .into_iter()
            .filter(move |&u| u < v)
            .map(move |u| (u, v))
    });
    b.edges(edges.map(|(u, v)| (TaskId::new(u), TaskId::new(v))))
        .unwrap();
    let graph = b.build().unwrap();

    let report = exec.run(&graph);
    let counts = report.counts();
    assert_eq!(
        (counts.failed, counts.panicked),
        (fail.len(), panic.len()),
        "{report}"
    );
    let succeeded = counts.succeeded;
    let ran = succeeded + counts.failed + counts.panicked;
    assert_eq!(ledger.created(), ran, "every task that ran made one value");
    assert_eq!(
        ledger.dropped(),
        ran - succeeded,
        "outputs live as long as the report"
    );
    for task in report.tasks() {
        if let Outcome::Succeeded(t) = task.outcome {
            assert!(!ledger.is_dropped(t.id));
        }
    }
    drop(report);
    ledger.assert_all_dropped_once();

    // The next run makes new outputs and drops them with its own report.
    let report = exec.run(&graph);
    assert_eq!(ledger.created(), 2 * ran);
    let outputs = report.into_outputs();
    assert_eq!(
        ledger.dropped(),
        2 * ran - succeeded,
        "into_outputs moves the outputs out"
    );
    drop(outputs);
    ledger.assert_all_dropped_once();

    // A run with failures turned into an error drops its outputs on the way.
    let report = exec.run(&graph);
    match report.into_result() {
        Ok(report) => {
            assert!(fail.is_empty() && panic.is_empty());
            drop(report);
        }
        Err(error) => {
            assert_eq!(error.failures().len(), fail.len() + panic.len());
            ledger.assert_all_dropped_once();
        }
    }
    ledger.assert_all_dropped_once();
    assert_eq!(ledger.created(), 3 * ran);
}

#[test]
fn outputs_are_dropped_with_the_report() {
    bounded(|| {
        let n = if cfg!(miri) { 12 } else { 300 };
        for exec in executors() {
            tracked_graph_run(exec, n, &[], &[], &Ledger::new());
        }
    });
}

#[test]
fn outputs_are_dropped_even_when_other_tasks_failed() {
    bounded(|| {
        let n = if cfg!(miri) { 12 } else { 300 };
        for exec in executors() {
            tracked_graph_run(exec, n, &[n - 1, n - 5, n / 2], &[], &Ledger::new());
        }
    });
}

#[test]
fn a_panicking_task_neither_leaks_nor_double_drops_outputs() {
    bounded(|| {
        let n = if cfg!(miri) { 12 } else { 300 };
        for exec in executors() {
            tracked_graph_run(exec, n, &[n - 3], &[n - 2, n / 2 + 1], &Ledger::new());
        }
    });
}

#[test]
fn outputs_of_a_cancelled_run_are_dropped_once() {
    bounded(|| {
        for exec in [1, 2].map(executor) {
            let ledger = Ledger::new();
            let token = CancelToken::new();
            let mut arena = Arena::new();
            let mut b = arena.builder::<Tracked>();
            let mut prev = None;
            for i in 0..10 {
                let (ledger, token) = (&ledger, &token);
                let t = b
                    .unnamed_task(move |_| {
                        if i == 3 {
                            token.cancel();
                        }
                        Ok(ledger.track())
                    })
                    .unwrap();
                if let Some(p) = prev {
                    b.edge(p, t).unwrap();
                }
                prev = Some(t);
            }
            let graph = b.build().unwrap();
            let report = exec.run_with(&graph, &RunOptions::new().cancel_token(token.clone()));
            assert_eq!(report.counts().succeeded, 4);
            assert_eq!(report.state(TaskId::new(4)), Some(State::Cancelled));
            assert_eq!((ledger.created(), ledger.dropped()), (4, 0));
            drop(report);
            ledger.assert_all_dropped_once();
        }
    });
}
