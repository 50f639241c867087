//! Distributed runs against in-process runs: one, two and four workers in one process, and two and three processes on loopback that this test binary starts itself.
//!
//! A multi-process case re-runs this binary, once per process, with the
//! test `process` selected and its part in `KAHN_TIMELY_*` variables:
//! each process builds the same graphs from the same seeds, runs them with
//! `kahn_timely::run`, and checks its report against a run in one piece on
//! its own executor. The parent waits for all with a time limit.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use kahn::{Arena, CancelToken, Executor, RunOptions, State, StopReason, TaskId};
use kahn_test_support::split::{same_run, SplitCase};
use kahn_timely::{DistributedError, Placement};

/// Seeds each configuration runs (each a graph of up to 200 tasks).
const SEEDS: u64 = 12;

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
        for placement in [random, Placement::blocks()] {
            let split =
                kahn_timely::run(worker, executor(), &graph, &RunOptions::new(), &placement)
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
            &Placement::blocks(),
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
            &Placement::blocks(),
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
        kahn_timely::run(worker, executor(), &graph, &RunOptions::new(), &placement).unwrap_err()
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
    let token = CancelToken::new();
    let guards = timely::execute(timely::Config::process(2), move |worker| {
        let mut arena = Arena::new();
        let mut b = arena.builder::<u64>();
        // A chain of 200 × 5 ms on worker 1; worker 0's token is cancelled
        // 50 ms in.
        for i in 0..200 {
            b.task(&format!("step{i}"), |_| {
                std::thread::sleep(Duration::from_millis(5));
                Ok(0)
            })
            .unwrap();
            if i > 0 {
                b.edge(&*format!("step{}", i - 1), &*format!("step{i}"))
                    .unwrap();
            }
        }
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
        let on_one = Placement::with(|_, _| 1);
        let split = kahn_timely::run(worker, executor(), &graph, &options, &on_one).unwrap();
        let report = split.report();
        (report.stop_reason(), report.counts().cancelled)
    })
    .unwrap();
    drop(token);
    for (reason, cancelled) in guards.join().into_iter().map(Result::unwrap) {
        assert_eq!(reason, Some(StopReason::Cancelled));
        assert!(cancelled > 100, "{cancelled} of 200 cancelled");
    }
}

/// The child side of the multi-process tests: does nothing unless this
/// process was started as one of them.
#[test]
fn process() {
    let Ok(me) = std::env::var("KAHN_TIMELY_PROCESS") else {
        return;
    };
    let me: usize = me.parse().unwrap();
    let addresses: Vec<String> = std::env::var("KAHN_TIMELY_ADDRESSES")
        .unwrap()
        .split(',')
        .map(String::from)
        .collect();
    let config = timely::Config {
        communication: timely::CommunicationConfig::Cluster {
            threads: 1,
            process: me,
            addresses,
            report: false,
            zerocopy: false,
        },
        worker: timely::WorkerConfig::default(),
    };
    let guards = timely::execute(config, |worker| {
        check_seeds(worker, 0xd15)?;
        big_output_crosses(worker)
    })
    .unwrap();
    for result in guards.join() {
        if let Err(why) = result.unwrap() {
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
    let split = kahn_timely::run(worker, executor(), &graph, &RunOptions::new(), &placement)
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

/// Starts `n` processes of this test binary running [`process`], on
/// loopback ports that were free a moment ago.
fn start_processes(n: usize) -> Vec<Child> {
    let ports: Vec<u16> = (0..n)
        .map(|_| {
            TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        })
        .collect();
    let addresses: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    (0..n)
        .map(|i| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "process", "--nocapture", "--test-threads", "1"])
                .env("KAHN_TIMELY_PROCESS", i.to_string())
                .env("KAHN_TIMELY_ADDRESSES", addresses.join(","))
                // The child's test harness lines; its failures go to stderr.
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect()
}

/// Waits for every child, killing all after `limit`; `true` if all exited 0.
fn wait_all(mut children: Vec<Child>, limit: Duration) -> bool {
    let start = Instant::now();
    let mut ok = vec![None; children.len()];
    while ok.iter().any(Option::is_none) {
        for (child, ok) in children.iter_mut().zip(ok.iter_mut()) {
            if ok.is_none() {
                if let Some(status) = child.try_wait().unwrap() {
                    *ok = Some(status.success());
                }
            }
        }
        if start.elapsed() > limit {
            for child in &mut children {
                let _ = child.kill();
            }
            panic!("the processes did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    ok.into_iter().all(|ok| ok == Some(true))
}

#[test]
fn two_and_three_processes_on_loopback_end_every_graph_as_one_piece_does() {
    for n in [2, 3] {
        let children = start_processes(n);
        assert!(
            wait_all(children, Duration::from_secs(120)),
            "a process of {n} failed (its message is above)"
        );
    }
}
