//! A process that dies or falls silent mid-run: the others end with `DistributedError::ProcessLost`, naming it and its unreported tasks, within a bounded time instead of hanging.
//!
//! Each case starts this test binary three times as the processes of a
//! run on loopback (see `common`); process 2 dies (exits) or stops (sends
//! itself SIGSTOP) in the middle of a chain that crosses processes at
//! every step. A last case has the survivors' workers panic, outside
//! kahn, after process 2 died.

mod common;

use std::time::{Duration, Instant};

use common::{start_processes, wait_all};
use kahn::{Arena, Executor, RunOptions};
use kahn_timely::{DistributedError, DistributedOptions, Placement};

/// A survivor that got the error this case expects.
const GOT_LOST: i32 = 3;
/// The process that died on purpose.
const DIED: i32 = 9;
/// A survivor whose error was not the one expected (its stderr says why).
const WRONG: i32 = 4;

/// The chain's length; task `c{i}` runs on process `i % 3`.
const CHAIN: usize = 60;
/// The task of process 2 that dies or stops.
const VICTIM: usize = 20;

/// How long a process may be silent before the others give it up. A
/// closed connection is noticed at once, so the exit case's limit is long:
/// a process slow to start on a loaded machine is not taken for lost. The
/// stop case waits out its limit, which is still well above the start's
/// skew between processes.
fn lost_after(how: &str) -> Duration {
    match how {
        "exit" => Duration::from_secs(30),
        _ => Duration::from_secs(5),
    }
}

/// The child side: does nothing unless started by a case below.
#[test]
fn lost_process() {
    let Some((me, config)) = common::child_config() else {
        return;
    };
    let how = std::env::var("KAHN_TIMELY_LOST").unwrap();
    let started = Instant::now();
    let results = kahn_timely::execute(config, move |worker| {
        let executor = Executor::with_threads(1).unwrap();
        let mut arena = Arena::new();
        let mut b = arena.builder::<u64>();
        for i in 0..CHAIN {
            let how = how.clone();
            b.task(&format!("c{i}"), move |_| {
                if i == VICTIM {
                    match how.as_str() {
                        "exit" => std::process::exit(DIED),
                        _ => {
                            let pid = std::process::id().to_string();
                            std::process::Command::new("kill")
                                .args(["-STOP", &pid])
                                .status()
                                .unwrap();
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
                Ok(i as u64)
            })
            .unwrap();
            if i > 0 {
                b.edge(&*format!("c{}", i - 1), &*format!("c{i}")).unwrap();
            }
        }
        let graph = b.build().unwrap();
        let options = DistributedOptions::new()
            .placement(Placement::with(|task, workers| task.index() % workers))
            .lost_after(lost_after(&how));
        let result = kahn_timely::run(worker, &executor, &graph, &RunOptions::new(), &options);
        match result {
            Err(err @ DistributedError::ProcessLost { .. }) => err,
            Err(other) => panic!("another error: {other}"),
            Ok(split) => panic!("the run ended as if nothing was lost:\n{split}"),
        }
    })
    .unwrap();
    for err in results {
        eprintln!(
            "process {me} after {:.1} s: {err}",
            started.elapsed().as_secs_f64()
        );
        let DistributedError::ProcessLost {
            process,
            ref workers,
            silent_for,
            before_start,
            ref unreported,
            ..
        } = err
        else {
            unreachable!()
        };
        let msg = err.to_string();
        let check = |ok: bool, what: &str| {
            if !ok {
                // A panic here would only exit 101 among timely's own
                // panics: say which check failed, plainly.
                eprintln!("process {me}: CHECK FAILED: {what}: {msg}");
                std::process::exit(WRONG);
            }
        };
        check(
            (process, &workers[..], before_start) == (2, &[2][..], false),
            "the lost process is 2, of worker 2, after the start",
        );
        // Process 2 ran c2, c5, … c17 and sent their ends; c20 on it
        // never ended, nor did any later task of it. (An end it sent just
        // before it died may not have left its host: c17 may be missing
        // on one survivor, never a task of another process.)
        let names: Vec<String> = unreported.iter().map(|t| t.to_string()).collect();
        let from_victim: Vec<String> = (VICTIM..CHAIN)
            .filter(|i| i % 3 == 2)
            .map(|i| format!("`c{i}`"))
            .collect();
        check(
            from_victim.iter().all(|n| names.contains(n)),
            "every task of process 2 from c20 on is unreported",
        );
        check(
            unreported.iter().all(|t| t.id().index() % 3 == 2),
            "only tasks of process 2 are unreported",
        );
        check(
            msg.contains("process 2") && msg.contains("unreported"),
            "the message names the process",
        );
        let how = std::env::var("KAHN_TIMELY_LOST").unwrap();
        match how.as_str() {
            "exit" => check(
                silent_for.is_none(),
                "a closed connection is noticed at once",
            ),
            _ => check(
                silent_for.is_some_and(|s| s >= lost_after(&how)),
                "silence is noticed after the limit",
            ),
        }
    }
    std::process::exit(GOT_LOST);
}

#[test]
fn a_process_that_dies_mid_run_ends_the_others_with_its_name() {
    let _alone = common::one_at_a_time();
    let children = start_processes(3, "lost_process", &[("KAHN_TIMELY_LOST", "exit")]);
    let codes = wait_all(children, Duration::from_secs(60));
    assert_eq!(codes, [Some(GOT_LOST), Some(GOT_LOST), Some(DIED)]);
}

#[test]
fn a_process_that_falls_silent_is_lost_after_the_limit() {
    let _alone = common::one_at_a_time();
    let mut children = start_processes(3, "lost_process", &[("KAHN_TIMELY_LOST", "stop")]);
    let mut stopped = children.pop().unwrap();
    // The stopped process never ends by itself: kill it whatever happens.
    let codes = std::panic::catch_unwind(|| wait_all(children, Duration::from_secs(60)));
    stopped.kill().unwrap();
    stopped.wait().unwrap();
    let codes = codes.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    assert_eq!(codes, [Some(GOT_LOST), Some(GOT_LOST)]);
}

/// A survivor that got `WorkerLost` for its panicking worker.
const GOT_WORKER_LOST: i32 = 5;

/// The child side of the next case: process 2 exits at once; the others
/// wait until its connection is gone, then their worker panics (as code
/// outside kahn's tasks might).
#[test]
fn panicking_survivor() {
    let Some((me, config)) = common::child_config() else {
        return;
    };
    let results = kahn_timely::execute(config, move |worker| {
        if me == 2 {
            std::process::exit(DIED);
        }
        // A dataflow that can never complete (process 2 never closes its
        // input): timely steps it after the closure returns.
        let mut input = timely::dataflow::InputHandleVec::<u64, u64>::new();
        worker.dataflow::<u64, _, _>(|scope| {
            use timely::dataflow::operators::{Exchange, Input, Probe};
            scope.input_from(&mut input).exchange(|x| *x).probe();
        });
        input.send(2);
        input.advance_to(1);
        // Step timely until it panics on the closed connection (or for
        // a while), then panic in the worker's own code.
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            let stepped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                worker.step_or_park(Some(Duration::from_millis(1)))
            }));
            if stepped.is_err() {
                break;
            }
        }
        panic!("the worker's own code failed");
    });
    match results {
        Err(kahn_timely::DistributedError::WorkerLost { worker, message }) => {
            eprintln!("process {me}: worker {worker} lost: {message}");
            std::process::exit(GOT_WORKER_LOST);
        }
        other => {
            eprintln!("process {me}: expected WorkerLost, got {other:?}");
            std::process::exit(WRONG);
        }
    }
}

/// Workers that panic, outside kahn, after a peer process died, with a
/// dataflow left that can never complete: `execute` returns `WorkerLost`
/// on each survivor, in bounded time, instead of panicking in timely's
/// join or waiting on timely's threads.
#[test]
fn survivors_whose_workers_panic_after_a_loss_do_not_hang() {
    let _alone = common::one_at_a_time();
    let children = start_processes(3, "panicking_survivor", &[]);
    let codes = wait_all(children, Duration::from_secs(60));
    assert_eq!(
        codes,
        [Some(GOT_WORKER_LOST), Some(GOT_WORKER_LOST), Some(DIED)]
    );
}
