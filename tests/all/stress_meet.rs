//! Opt-in stress for the hand-over of work before a long task:
//! `root -> 4 × parse -> aggregate` on 4 threads, the parses waiting for
//! each other, rerun many times on executors made fresh every 10 and every
//! 1,000 runs, two at a time, with two spinning threads besides (more
//! threads than cores, so a worker is often descheduled mid-step). Every
//! parse must start while the others wait: one that never does is a ready
//! task held behind a running one with a thread to spare.
//!
//! It found a worker that shared work and called for help *before*
//! announcing what it kept: a worker that left in between saw neither, and
//! the kept parse waited out its sibling (5 stalls in 20 runs of 30,000
//! reruns before the fix, none in 20 after, in a probe whose waits spin
//! 100 µs, not 1 ms). `KAHN_MEET_RERUNS` (default 10,000 per driver, about
//! two minutes here) sets the length.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use kahn::{Arena, Executor};
use kahn_test_support::{fan_out_in, wait_until};

const THREADS: usize = 4;

/// Reruns the meeting graph `reruns` times, on an executor made fresh every
/// `fresh_every` runs; the first rerun whose parses did not meet, if any.
fn meet_reruns(reruns: usize, fresh_every: usize) -> Option<usize> {
    let arrived = AtomicUsize::new(0);
    let meet = || {
        let order = arrived.fetch_add(1, Ordering::SeqCst);
        let group_done = THREADS * (order / THREADS) + THREADS;
        wait_until(Duration::from_secs(2), || {
            arrived.load(Ordering::SeqCst) >= group_done
        })
    };
    let mut arena = Arena::new();
    let graph = fan_out_in(&mut arena, &meet);
    let mut executor = Executor::with_threads(THREADS).unwrap();
    for rerun in 0..reruns {
        if rerun > 0 && rerun % fresh_every == 0 {
            executor = Executor::with_threads(THREADS).unwrap();
        }
        arrived.store(0, Ordering::SeqCst);
        if executor.run(&graph).output("aggregate") != Some(&true) {
            return Some(rerun);
        }
    }
    None
}

#[test]
#[ignore = "opt-in stress: cargo test --release --test all -- --ignored stress"]
fn stress_a_fan_out_meets_on_more_threads_than_cores() {
    let reruns: usize = std::env::var("KAHN_MEET_RERUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            });
        }
        let drivers: Vec<_> = [10, 1_000]
            .into_iter()
            .map(|fresh_every| s.spawn(move || (fresh_every, meet_reruns(reruns, fresh_every))))
            .collect();
        let results: Vec<_> = drivers.into_iter().map(|d| d.join()).collect();
        // Before any assertion: the scope waits for the spinning threads.
        done.store(true, Ordering::Relaxed);
        for result in results {
            let (fresh_every, stalled) = result.expect("a driver panicked");
            assert_eq!(
                stalled, None,
                "executors fresh every {fresh_every} runs: a parse did not start while its siblings waited"
            );
        }
    });
}
