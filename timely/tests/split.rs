//! Distributed runs against in-process runs: one, two and four workers in one process, and two and three processes on loopback that this test binary starts itself.
//!
//! A multi-process case re-runs this binary, once per process, with the
//! test `process` selected and its part in `KAHN_TIMELY_*` variables:
//! each process builds the same graphs from the same seeds, runs them with
//! `kahn_timely::run`, and checks its report against a run in one piece on
//! its own executor. The parent waits for all with a time limit.

mod common;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::{start_processes, wait_all};

use kahn::{Arena, CancelToken, Executor, RunOptions, State, StopReason, TaskId};
use kahn_test_support::fixtures::add_sleeping_chain;
use kahn_test_support::split::{same_run, SplitCase};
use kahn_timely::{DistributedError, DistributedOptions, Placement};

/// Seeds each configuration runs (each a graph of up to 200 tasks).
const SEEDS: u64 = 12;

fn placed(placement: Placement) -> DistributedOptions {
    DistributedOptions::new().placement(placement)
}

fn executor() -> &'static Executor {
    static EXECUTOR: OnceLock<Executor> = OnceLock::new();
    EXECUTOR.get_or_init(|| Executor::with_threads(2).expect("two threads start"))
}

/// Runs `SEEDS` split cases on this timely worker, each placed by its own
/// random owners, then by blocks; `Err` names the first that differs.
fn check_seeds(worker: &mut timely::worker::Worker, salt: u64) -> Result<(), String> {
    let peers = worker.peers();
    for seed in 0..SEEDS {
        let case = SplitCase::from_seed(seed ^ salt, 200, peers);
        let mut arena = Arena::new();
        let graph = case.build(&mut arena);
        let whole = executor().run(&graph);
        let owner = Arc::new(case.owner.clone());
        let random = Placement::with(move |task: TaskId, _| owner[task.index()]);
        // Each seed by its random owners, then by a built-in placement
        // (blocks or min-cut, in turn).
        let built_in = if seed % 2 == 0 {
            Placement::blocks()
        } else {
            Placement::min_cut()
        };
        for placement in [random, built_in] {
            let split = kahn_timely::run(
                worker,
                executor(),
                &graph,
                &RunOptions::new(),
                &placed(placement.clone()),
            )
            .map_err(|e| format!("seed {seed}: {e}"))?;
            let me = split.worker();
            same_run(&graph, &whole, split.report(), |t| {
                split.worker_of(t) == Some(me)
            })
            .map_err(|why| format!("seed {seed}, {placement:?}, worker {me}: {why}"))?;
        }
    }
    Ok(())
}

#[test]
fn workers_in_one_process_end_every_graph_as_one_piece_does() {
    for workers in [1, 2, 4] {
        let guards = timely::execute(timely::Config::process(workers), |worker| {
            check_seeds(worker, 0x5eed)
        })
        .unwrap();
        for result in guards.join() {
            result.unwrap().unwrap();
        }
    }
}

#[test]
fn more_workers_than_tasks_is_a_run_like_any_other() {
    let guards = timely::execute(timely::Config::process(4), |worker| {
        let mut arena = Arena::new();
        let mut b = arena.builder::<u64>();
        b.task("one", |_| Ok(1)).unwrap();
        b.task("two", |ctx| Ok(ctx.input("one")? + 1)).unwrap();
        b.edge("one", "two").unwrap();
        let graph = b.build().unwrap();
        let split = kahn_timely::run(
            worker,
            executor(),
            &graph,
            &RunOptions::new(),
            &DistributedOptions::new(),
        )
        .unwrap();
        assert!(split.report().is_success(), "{split}");
        assert_eq!(split.workers(), 4);
        split.worker_of("two").unwrap()
    })
    .unwrap();
    let placed: Vec<usize> = guards.join().into_iter().map(Result::unwrap).collect();
    assert!(placed.iter().all(|&w| w == placed[0] && w < 4));
}

#[test]
fn workers_that_build_different_graphs_refuse_to_run_before_any_task() {
    let guards = timely::execute(timely::Config::process(2), |worker| {
        let mut arena = Arena::new();
        let mut b = arena.builder::<u64>();
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        b.task("extract", move |_| {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(1)
        })
        .unwrap();
        // Worker 1 has one task more: another binary, or a build that
        // read something other than the binary.
        if worker.index() == 1 {
            b.task("extra", |_| Ok(2)).unwrap();
        }
        let graph = b.build().unwrap();
        let err = kahn_timely::run(
            worker,
            executor(),
            &graph,
            &RunOptions::new(),
            &DistributedOptions::new(),
        )
        .unwrap_err();
        assert!(
            !ran.load(std::sync::atomic::Ordering::SeqCst),
            "no task ran"
        );
        err
    })
    .unwrap();
    for err in guards.join().into_iter().map(Result::unwrap) {
        assert!(matches!(err, DistributedError::OtherGraph { .. }), "{err}");
        assert!(err.to_string().contains("same binary"), "{err}");
    }
}

#[test]
fn a_placement_outside_the_workers_is_refused_by_name() {
    let guards = timely::execute(timely::Config::process(2), |worker| {
        let mut arena = Arena::new();
        let mut b = arena.builder::<u64>();
        b.task("extract", |_| Ok(1)).unwrap();
        let graph = b.build().unwrap();
        let placement = Placement::with(|_, workers| workers);
        kahn_timely::run(
            worker,
            executor(),
            &graph,
            &RunOptions::new(),
            &placed(placement.clone()),
        )
        .unwrap_err()
    })
    .unwrap();
    for err in guards.join().into_iter().map(Result::unwrap) {
        assert!(
            matches!(err, DistributedError::PlacedOutside { worker: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("`extract`"), "{err}");
    }
}

#[test]
fn a_cancel_on_one_worker_stops_the_others() {
    let guards = timely::execute(timely::Config::process(2), cancel_from_worker_zero).unwrap();
    for result in guards.join().into_iter().map(Result::unwrap) {
        result.unwrap();
    }
}

/// A chain of 200 × 5 ms on the last worker; worker 0's token is
/// cancelled 50 ms in, and every worker's run stops for it.
fn cancel_from_worker_zero(worker: &mut timely::worker::Worker) -> Result<(), String> {
    let mut arena = Arena::new();
    let mut b = arena.builder::<u64>();
    add_sleeping_chain(&mut b, 200, Duration::from_millis(5));
    let graph = b.build().unwrap();
    let mut options = RunOptions::new();
    if worker.index() == 0 {
        let token = CancelToken::new();
        options = options.cancel_token(token.clone());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            token.cancel();
        });
    }
    let last = worker.peers() - 1;
    let on_last = placed(Placement::with(move |_, _| last));
    let split = kahn_timely::run(worker, executor(), &graph, &options, &on_last)
        .map_err(|e| e.to_string())?;
    let report = split.report();
    let cancelled = report.counts().cancelled;
    if report.stop_reason() != Some(StopReason::Cancelled) || cancelled < 100 {
        return Err(format!(
            "worker {}: stop {:?}, {cancelled} of 200 cancelled",
            worker.index(),
            report.stop_reason()
        ));
    }
    Ok(())
}

/// The child side of the multi-process tests: does nothing unless this
/// process was started as one of them.
#[test]
fn process() {
    let Some((me, config)) = common::child_config() else {
        return;
    };
    let results = kahn_timely::execute(config, |worker| {
        check_seeds(worker, 0xd15)?;
        big_output_crosses(worker)?;
        cancel_from_worker_zero(worker)
    })
    .unwrap();
    for result in results {
        if let Err(why) = result {
            eprintln!("process {me}: {why}");
            std::process::exit(1);
        }
    }
}

/// A 10 MB output made on worker 0 and read on the last worker.
fn big_output_crosses(worker: &mut timely::worker::Worker) -> Result<(), String> {
    const LEN: usize = 10 << 20;
    let mut arena = Arena::new();
    let mut b = arena.builder::<Vec<u8>>();
    b.task("make", |_| Ok((0..LEN).map(|i| (i % 251) as u8).collect()))
        .unwrap();
    b.task("read", |ctx| {
        let big = ctx.input("make")?;
        let sum: u64 = big.iter().map(|&b| u64::from(b)).sum();
        Ok(sum.to_le_bytes().to_vec())
    })
    .unwrap();
    b.edge("make", "read").unwrap();
    let graph = b.build().unwrap();
    let last = worker.peers() - 1;
    let placement =
        Placement::with(move |task: TaskId, _| if task.index() == 0 { 0 } else { last });
    let split = kahn_timely::run(
        worker,
        executor(),
        &graph,
        &RunOptions::new(),
        &placed(placement.clone()),
    )
    .map_err(|e| e.to_string())?;
    let expected: u64 = (0..LEN).map(|i| (i % 251) as u64).sum();
    if split.worker() == last {
        let read = split
            .report()
            .output("read")
            .ok_or("`read` has no output")?;
        if read[..] != expected.to_le_bytes() {
            return Err("the 10 MB output arrived changed".into());
        }
    }
    if split.report().state("read") != Some(State::Succeeded) {
        return Err(format!("`read` did not succeed:\n{split}"));
    }
    Ok(())
}

#[test]
fn two_and_three_processes_on_loopback_end_every_graph_as_one_piece_does() {
    let _alone = common::one_at_a_time();
    for n in [2, 3] {
        let children = start_processes(n, "process", &[]);
        let codes = wait_all(children, Duration::from_secs(120));
        assert!(
            codes.iter().all(|&code| code == Some(0)),
            "a process of {n} failed (its message is above): exit codes {codes:?}"
        );
    }
}

#[test]
fn every_worker_knows_when_each_task_ran_wherever_it_ran() {
    let results = kahn_timely::execute(timely::Config::process(2), |worker| {
        let mut arena = Arena::new();
        let mut b = arena.builder::<u64>();
        for i in 0..8 {
            b.task(&format!("t{i}"), move |_| {
                std::thread::sleep(Duration::from_millis(2));
                Ok(i)
            })
            .unwrap();
            if i > 0 {
                b.edge(&*format!("t{}", i - 1), &*format!("t{i}")).unwrap();
            }
        }
        b.task("never", |_| Err("no".into())).unwrap();
        b.task("after", |_| Ok(0)).unwrap();
        b.edge("never", "after").unwrap();
        let graph = b.build().unwrap();
        let options = RunOptions::new().record_timings(true);
        let alternate = placed(Placement::with(|task, workers| task.index() % workers));
        let split = kahn_timely::run(worker, executor(), &graph, &options, &alternate).unwrap();
        let mut seen = Vec::new();
        for i in 0..8 {
            let timing = split
                .timing(&*format!("t{i}"))
                .expect("a task that ran has a timing");
            assert!(timing.duration >= Duration::from_millis(2), "{timing:?}");
            seen.push(timing.start);
        }
        // The chain ran in order, on both workers' clocks.
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
        assert!(split.timing("never").is_some());
        assert_eq!(split.timing("after"), None, "a skipped task did not run");
        assert_eq!(split.timing("nonexistent"), None);
    })
    .unwrap();
    assert_eq!(results.len(), 2);
}
