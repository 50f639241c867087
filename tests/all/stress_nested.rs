//! Opt-in stress with nested runs: four threads run different random graphs
//! sharing resources on one 2-thread executor, with tokens cancelled from
//! inside tasks, fail-fast, deadlines, panics, and nested runs. Found the
//! nested-caller hang of `resource_races.rs` (4 hangs in 8 runs before the
//! fix). `KAHN_NESTED_GRAPHS` (default 500 per thread) and
//! `KAHN_NESTED_SEED` choose the graphs; a run that makes no progress for
//! 20 s ends the process with the resources' state.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kahn::{Arena, CancelToken, Executor, FailurePolicy, Resource, RunOptions};
use kahn_bench::shapes::SplitMix64;

const CAPS: [u32; 3] = [1, 2, 3];

struct World {
    exec: Executor,
    res: Vec<Resource>,
    held: Vec<AtomicU32>,
    over: AtomicBool,
    progress: AtomicUsize,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| World {
        exec: Executor::with_threads(2).unwrap(),
        res: CAPS
            .iter()
            .enumerate()
            .map(|(i, &c)| Resource::new(format!("r{i}"), c))
            .collect(),
        held: CAPS.iter().map(|_| AtomicU32::new(0)).collect(),
        over: AtomicBool::new(false),
        progress: AtomicUsize::new(0),
    })
}

fn hold(uses: &[(usize, u32)], work: impl FnOnce()) {
    struct Release<'a>(&'a [(usize, u32)]);
    impl Drop for Release<'_> {
        fn drop(&mut self) {
            for &(r, u) in self.0 {
                world().held[r].fetch_sub(u, Ordering::SeqCst);
            }
        }
    }
    let w = world();
    for &(r, u) in uses {
        if w.held[r].fetch_add(u, Ordering::SeqCst) + u > CAPS[r] {
            w.over.store(true, Ordering::SeqCst);
        }
    }
    let _release = Release(uses);
    work();
}

fn random_uses(rng: &mut SplitMix64) -> Vec<(usize, u32)> {
    let mut uses = Vec::new();
    for (r, &capacity) in CAPS.iter().enumerate() {
        if rng.next_u64().is_multiple_of(3) {
            uses.push((r, 1 + (rng.next_u64() % u64::from(capacity)) as u32));
        }
    }
    uses
}

fn run_one(seed: u64, depth: u32) {
    let w = world();
    let mut rng = SplitMix64(seed);
    let n = 1 + (rng.next_u64() % if depth == 0 { 24 } else { 4 }) as usize;
    let token = CancelToken::new();
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    for i in 0..n {
        let kind = rng.next_u64() % 100;
        let uses = if kind < 60 {
            random_uses(&mut rng)
        } else {
            Vec::new()
        };
        let arg = rng.next_u64();
        let tk = token.clone();
        let u2 = uses.clone();
        b.task(&format!("t{i}"), move |_ctx| {
            let mut out: Result<(), kahn::BoxError> = Ok(());
            hold(&u2, || match kind {
                0..=4 => out = Err("fail".into()),
                5..=7 => panic!("boom"),
                8..=10 => tk.cancel(),
                11..=30 => std::thread::sleep(Duration::from_micros(arg % 1500)),
                _ => {
                    let t = Instant::now();
                    while t.elapsed() < Duration::from_micros(arg % 60) {}
                }
            });
            out
        })
        .unwrap();
        for &(r, u) in &uses {
            b.uses_units(format!("t{i}").as_str(), &w.res[r], u)
                .unwrap();
        }
        if uses.is_empty() && depth == 0 && kind >= 95 {
            // nested run in a task holding no resource
            let nested_seed = arg;
            b.task(&format!("n{i}"), move |_| {
                run_one(nested_seed, 1);
                Ok(())
            })
            .unwrap();
        }
        if i > 0 {
            for _ in 0..rng.next_u64() % 3 {
                let from = rng.next_u64() % i as u64;
                b.edge(format!("t{from}").as_str(), format!("t{i}").as_str())
                    .unwrap();
            }
        }
    }
    let graph = b.build().unwrap();
    let mut opts = RunOptions::new().cancel_token(token.clone());
    if rng.next_u64().is_multiple_of(4) {
        opts = opts.policy(FailurePolicy::FailFast);
    }
    match rng.next_u64() % 8 {
        0 => opts = opts.timeout(Duration::from_micros(rng.next_u64() % 3000)),
        1 => opts = opts.timeout(Duration::ZERO),
        _ => {}
    }
    let report = w.exec.run_with(&graph, &opts);
    let c = report.counts();
    assert_eq!(c.total(), graph.task_count(), "seed {seed}");
    w.progress.fetch_add(1, Ordering::SeqCst);
}

#[test]
#[ignore = "opt-in stress: cargo test --release --test all -- --ignored stress"]
fn stress_nested_runs_with_resources() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"boom") {
            default(info);
        }
    }));
    let graphs: u64 = std::env::var("KAHN_NESTED_GRAPHS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let seed: u64 = std::env::var("KAHN_NESTED_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let threads = 4u64;
    let w = world();
    // Watchdog: no run finished for 20 s = hang. It stops when `finished`
    // is dropped, as the test returns or fails: the process goes on to
    // the other stress tests, which it must not mistake for this one.
    let (finished, watching) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut last = 0;
        while let Err(RecvTimeoutError::Timeout) = watching.recv_timeout(Duration::from_secs(20)) {
            let now = w.progress.load(Ordering::SeqCst);
            if now == last {
                let state: Vec<_> = w.res.iter().map(|r| (r.in_use(), r.waiting())).collect();
                eprintln!("HUNG after {now} runs; (in_use, waiting) per resource: {state:?}");
                eprintln!("pid {}", std::process::id());
                std::process::exit(2);
            }
            last = now;
        }
    });
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                for g in 0..graphs {
                    run_one(seed.wrapping_mul(1_000_003) ^ (t << 40) ^ g, 0);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let state: Vec<_> = w.res.iter().map(|r| (r.in_use(), r.waiting())).collect();
    eprintln!(
        "done {} runs; (in_use, waiting): {state:?}",
        w.progress.load(Ordering::SeqCst)
    );
    drop(finished);
    assert!(!w.over.load(Ordering::SeqCst), "capacity exceeded");
    assert!(state.iter().all(|&(u, q)| u == 0 && q == 0));
}
