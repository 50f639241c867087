//! Stress without a fuzzer: 10,000 seeded random graphs with failures, panics, slow tasks, cancellations, resources and runs at once, every report checked by the run oracle.
//!
//! Ignored by default (it takes a while); run it with
//!
//! ```sh
//! cargo test --release --test all -- --ignored stress
//! ```
//!
//! `KAHN_STRESS_GRAPHS` sets how many graphs (10,000 by default) and
//! `KAHN_STRESS_SEED` the first seed; graph `i` is generated from seed
//! `first + i` alone, so a failure prints the seed that replays it
//! (`KAHN_STRESS_SEED=<seed> KAHN_STRESS_GRAPHS=1`) and the case as Rust.
//!
//! About a third of the graphs declare resources (one to three, of capacity
//! one to three, used by a few tasks each), and about a third, independently,
//! are run two or three times at once on the executor, each run with its own
//! token, fail-fast setting and deadline; the `execute` check then also
//! checks that no resource was ever held past its capacity across the runs
//! and that none is left held or waited for.

use std::io::Write;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use kahn::Executor;
use kahn_bench::shapes::SplitMix64;

use kahn_test_support::fuzzing::execute::{self, Behavior, ExecCase, RunSpec, TaskStop, Watch};

/// The default first seed.
const SEED: u64 = 0x5eed_6b61_686e;

/// A random case from one seed: up to 64 tasks, up to three edges per task,
/// mostly succeeding tasks with failures, panics, short sleeps and spins,
/// and in some graphs a task that cancels the run, fail-fast, or a deadline;
/// in a third, resources and up to `n` uses of them; in a third, one or two
/// more runs at once, each started its own way.
pub fn random_case(seed: u64) -> ExecCase {
    let mut rng = SplitMix64(seed);
    let mut below = |bound: u64| rng.next_u64() % bound;
    let n = 1 + below(64) as usize;
    let edges = (0..below(3 * n as u64 + 1))
        .map(|_| (below(n as u64) as u16, below(n as u64) as u16))
        .collect();
    let fail_percent = below(30);
    let cancels = below(4) == 0;
    let mut tasks: Vec<Behavior> = (0..n)
        .map(|_| match below(100) {
            r if r < fail_percent / 2 => Behavior::Fail,
            r if r < fail_percent * 3 / 4 => Behavior::Panic,
            r if r < fail_percent => Behavior::PanicAny,
            r if r < fail_percent + 5 => Behavior::Sleep(below(50) as u8),
            r if r < fail_percent + 10 => Behavior::Spin(below(50) as u8),
            _ => Behavior::Ok,
        })
        .collect();
    if cancels {
        let at = below(n as u64) as usize;
        tasks[at] = Behavior::Cancel;
    }
    let watch = match below(40) {
        0 => Watch::CancelledBefore,
        1 => Watch::ZeroTimeout,
        2..=5 => Watch::FarTimeout,
        _ => Watch::Nothing,
    };
    let fail_fast = below(4) == 0;
    let order_seed = rng.next_u64();
    // Drawn after everything above, so those are what they were before
    // resources and concurrent runs came in.
    let mut below = |bound: u64| rng.next_u64() % bound;
    let (mut resources, mut uses) = (Vec::new(), Vec::new());
    if below(3) == 0 {
        resources = (0..1 + below(3)).map(|_| below(3) as u8).collect();
        uses = (0..1 + below(n as u64))
            .map(|_| (below(n as u64) as u8, below(3) as u8, below(3) as u8))
            .collect();
    }
    let more_runs = if below(3) == 0 {
        (0..1 + below(2))
            .map(|_| RunSpec {
                fail_fast: below(4) == 0,
                watch: match below(40) {
                    0 => Watch::CancelledBefore,
                    1 => Watch::ZeroTimeout,
                    2..=5 => Watch::FarTimeout,
                    _ => Watch::Nothing,
                },
            })
            .collect()
    } else {
        Vec::new()
    };
    // Drawn last, as above: timeouts (zero, or never reached), tasks that
    // cancel their own run, trigger rules, branches and retries.
    let stops = if below(2) == 0 {
        (0..1 + below(2 * n as u64))
            .map(|_| {
                let stop = match below(8) {
                    0 => TaskStop::ZeroTimeout,
                    1 => TaskStop::FarTimeout,
                    2 => TaskStop::CancelRun,
                    3 | 4 => TaskStop::Rule(below(4) as u8),
                    5 => TaskStop::Branch(below(256) as u8),
                    _ => TaskStop::Retry(below(256) as u8),
                };
                (below(n as u64) as u8, stop)
            })
            .collect()
    } else {
        Vec::new()
    };
    ExecCase {
        fail_fast,
        watch,
        threads: 0,
        order_seed,
        edges,
        tasks,
        resources,
        uses,
        more_runs,
        stops,
        // Early release and takes in half the graphs each, and in a quarter
        // a worker limit of 1 to 3 (bits 2 and 3), so that most graphs
        // still run on every worker.
        data: below(4) as u8
            | if below(4) == 0 {
                (1 + below(3) as u8) << 2
            } else {
                0
            },
    }
}

/// How long one graph may take before the stress test calls it hung.
const HUNG: Duration = Duration::from_secs(60);

/// A thread that ends the process, naming the graph and its seed, if no
/// graph is started for [`HUNG`]: a hung run cannot be unwound, and without
/// the seed it could not be replayed. Send `(graph, seed)` before each.
fn watch_for_a_hang() -> mpsc::Sender<(u64, u64)> {
    let (started, graphs) = mpsc::channel::<(u64, u64)>();
    std::thread::spawn(move || {
        let mut last = None;
        loop {
            match graphs.recv_timeout(HUNG) {
                Ok(graph) => last = Some(graph),
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {
                    if let Some((i, seed)) = last {
                        let case = random_case(seed);
                        // Past libtest's capture, which the exit would lose.
                        let _ = writeln!(
                            std::io::stderr(),
                            "graph {i}, seed {seed} (replay: KAHN_STRESS_SEED={seed} KAHN_STRESS_GRAPHS=1) \
                             has not finished in {HUNG:?}: kahn hung\n{case:?}"
                        );
                        std::process::exit(1);
                    }
                }
            }
        }
    });
    started
}

fn env_or(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value} is not a number")),
        Err(_) => default,
    }
}

#[test]
#[ignore = "takes a while: cargo test --release --test all -- --ignored stress"]
fn stress_random_graphs_on_all_workers() {
    let graphs = env_or("KAHN_STRESS_GRAPHS", 10_000);
    let first = env_or("KAHN_STRESS_SEED", SEED);
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    // An executor of its own, on every core: not one of the shared sizes.
    let exec = Executor::with_threads(threads).expect("worker threads");
    let start = std::time::Instant::now();
    let watchdog = watch_for_a_hang();
    for i in 0..graphs {
        let seed = first.wrapping_add(i);
        let case = random_case(seed);
        watchdog
            .send((i, seed))
            .expect("the watchdog outlives the loop");
        if let Err(finding) = execute::check_on(&exec, &case) {
            panic!(
                "graph {i}, seed {seed} (replay: KAHN_STRESS_SEED={seed} KAHN_STRESS_GRAPHS=1): {finding}\n{case:?}"
            );
        }
    }
    println!(
        "stress: {graphs} graphs on {threads} workers in {:.1?}",
        start.elapsed()
    );
}

/// The generator is a pure function of the seed, so a printed seed replays.
#[test]
fn stress_cases_replay_from_their_seed() {
    let (a, b) = (random_case(SEED + 7), random_case(SEED + 7));
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    assert_ne!(format!("{a:?}"), format!("{:?}", random_case(SEED + 8)));
    kahn_test_support::bounded(|| {
        for seed in SEED..SEED + 20 {
            let case = random_case(seed);
            if let Err(finding) = execute::check(&case) {
                panic!("seed {seed}: {finding}\n{case:?}");
            }
        }
    });
}
