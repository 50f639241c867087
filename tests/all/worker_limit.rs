//! A run's worker limit (`RunOptions::max_workers`): never more of its tasks
//! at once than the limit, as many as it allows, the other threads left to
//! other runs, and a nested run limited to one kept on its caller's thread.
//! Overlap is proven by tasks that wait for each other, never by a time.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use kahn::{Arena, Executor, Observer, RunOptions, RunStarted};
use kahn_test_support::{bounded, rendezvous, spin_for, wait_for};

/// Long enough that only a scheduler that breaks the limit's promises
/// makes a test fail.
const LIMIT: Duration = Duration::from_secs(if cfg!(miri) { 600 } else { 20 });

/// Remembers how many workers each run was said to have.
#[derive(Default)]
struct Workers(Mutex<Vec<usize>>);

impl Observer for Workers {
    fn run_started(&self, run: &RunStarted) {
        self.0.lock().unwrap().push(run.workers);
    }
}

/// On 1, 2 and 4 threads, with limits of 1 to 3 and none, a fan-out of
/// tasks that each take a while never has more of them running at once than
/// the limit (or the threads), and each says a worker index below it.
#[test]
fn a_limited_run_never_runs_more_tasks_at_once_than_its_limit() {
    bounded(|| {
        let (width, each) = if cfg!(miri) {
            (4, Duration::from_micros(100))
        } else {
            (12, Duration::from_millis(2))
        };
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let highest_worker = AtomicUsize::new(0);
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        b.task("root", |_| Ok(())).unwrap();
        b.task("sink", |_| Ok(())).unwrap();
        for i in 0..width {
            let name = format!("load-{i}");
            b.task(&name, |ctx| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                highest_worker.fetch_max(ctx.worker_index(), Ordering::SeqCst);
                spin_for(each);
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            })
            .unwrap();
            b.edge("root", name.as_str()).unwrap();
            b.edge(name.as_str(), "sink").unwrap();
        }
        let graph = b.build().unwrap();
        for threads in [1, 2, 4] {
            let executor = Executor::with_threads(threads).unwrap();
            for limit in [Some(1), Some(2), Some(3), None] {
                let allowed = limit.map_or(threads, |l: usize| l.min(threads));
                let workers = Arc::new(Workers::default());
                let mut options = RunOptions::new().observer(Arc::clone(&workers) as _);
                if let Some(limit) = limit {
                    options = options.max_workers(limit);
                }
                for rerun in 0..if cfg!(miri) { 1 } else { 3 } {
                    most.store(0, Ordering::SeqCst);
                    highest_worker.store(0, Ordering::SeqCst);
                    let report = executor.run_with(&graph, &options);
                    let what = format!("{threads} threads, limit {limit:?}, rerun {rerun}");
                    assert!(report.is_success(), "{what}\n{report}");
                    let most = most.load(Ordering::SeqCst);
                    assert!(most <= allowed, "{what}: {most} tasks ran at once");
                    let highest = highest_worker.load(Ordering::SeqCst);
                    assert!(highest < allowed, "{what}: a task ran on worker {highest}");
                }
                let said = workers.0.lock().unwrap().clone();
                assert!(
                    said.iter().all(|&w| w == allowed),
                    "{threads} threads, limit {limit:?}: runs said {said:?} workers"
                );
            }
        }
    });
}

/// A limit of 2 on 4 threads is not a limit of 1: two tasks of the run
/// meet, so they ran at the same time.
#[test]
fn a_limited_run_uses_as_many_workers_as_it_allows() {
    bounded(|| {
        let executor = Executor::with_threads(4).unwrap();
        let met = AtomicUsize::new(0);
        let mut arena = Arena::new();
        let mut b = arena.builder::<bool>();
        b.task("left", |_| Ok(rendezvous(&met, 2, LIMIT))).unwrap();
        b.task("right", |_| Ok(rendezvous(&met, 2, LIMIT))).unwrap();
        let graph = b.build().unwrap();
        let report = executor.run_with(&graph, &RunOptions::new().max_workers(2));
        assert_eq!(report.output("left"), Some(&true), "{report}");
        assert_eq!(report.output("right"), Some(&true), "{report}");
    });
}

/// On 2 threads, a run limited to one worker leaves the other thread to a
/// run started after it: both of the first run's tasks wait for the second
/// run's task, which could not run if the first run held both threads.
#[test]
fn a_limited_run_leaves_the_other_threads_to_other_runs() {
    bounded(|| {
        let executor = Executor::with_threads(2).unwrap();
        let started = AtomicBool::new(false);
        let other_ran = AtomicBool::new(false);
        let mut arena = Arena::new();
        let mut b = arena.builder::<bool>();
        for name in ["wait-1", "wait-2"] {
            b.task(name, |_| {
                started.store(true, Ordering::SeqCst);
                Ok(wait_for(&other_ran, LIMIT))
            })
            .unwrap();
        }
        let background = b.build().unwrap();
        let mut other_arena = Arena::new();
        let mut b = other_arena.builder::<()>();
        b.task("urgent", |_| {
            other_ran.store(true, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
        let urgent = b.build().unwrap();
        std::thread::scope(|s| {
            let first =
                s.spawn(|| executor.run_with(&background, &RunOptions::new().max_workers(1)));
            assert!(wait_for(&started, LIMIT), "the limited run never started");
            assert!(executor.run(&urgent).is_success());
            let report = first.join().unwrap();
            for name in ["wait-1", "wait-2"] {
                assert_eq!(
                    report.output(name),
                    Some(&true),
                    "`{name}` waited in vain: the other run found no thread\n{report}"
                );
            }
        });
    });
}

/// A run started inside a task with a limit of one runs on the task's own
/// thread, every time: the caller takes its seat before any other thread
/// can see the run.
#[test]
fn a_nested_run_limited_to_one_runs_on_its_callers_thread() {
    bounded(|| {
        let executor = Executor::with_threads(2).unwrap();
        let threads: Mutex<HashSet<ThreadId>> = Mutex::new(HashSet::new());
        let mut inner_arena = Arena::new();
        let mut b = inner_arena.builder::<()>();
        for _ in 0..8 {
            b.unnamed_task(|_| {
                threads.lock().unwrap().insert(std::thread::current().id());
                Ok(())
            })
            .unwrap();
        }
        let inner = b.build().unwrap();
        let mut outer_arena = Arena::new();
        let mut b = outer_arena.builder::<Result<(), String>>();
        b.task("outer", |_| {
            let me = std::thread::current().id();
            for rerun in 0..if cfg!(miri) { 2 } else { 50 } {
                threads.lock().unwrap().clear();
                let report = executor.run_with(&inner, &RunOptions::new().max_workers(1));
                let seen = threads.lock().unwrap().clone();
                if !report.is_success() || seen != HashSet::from([me]) {
                    return Ok(Err(format!(
                        "rerun {rerun}: ran on {seen:?}, caller {me:?}"
                    )));
                }
            }
            Ok(Ok(()))
        })
        .unwrap();
        let outer = b.build().unwrap();
        let report = executor.run(&outer);
        assert_eq!(report.output("outer"), Some(&Ok(())), "{report}");
    });
}
