//! Stress without a fuzzer: 10,000 seeded random graphs with failures, panics, slow tasks and cancellations, every report checked by the run oracle.
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

use kahn::Executor;
use kahn_bench::shapes::SplitMix64;

use kahn_test_support::fuzzing::execute::{self, Behavior, ExecCase, Watch};

/// The default first seed.
const SEED: u64 = 0x5eed_6b61_686e;

/// A random case from one seed: up to 64 tasks, up to three edges per task,
/// mostly succeeding tasks with failures, panics, short sleeps and spins,
/// and in some graphs a task that cancels the run, fail-fast, or a deadline.
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
    ExecCase {
        fail_fast: below(4) == 0,
        watch,
        threads: 0,
        order_seed: rng.next_u64(),
        edges,
        tasks,
        resources: Vec::new(),
        uses: Vec::new(),
        more_runs: Vec::new(),
    }
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
    for i in 0..graphs {
        let seed = first.wrapping_add(i);
        let case = random_case(seed);
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
