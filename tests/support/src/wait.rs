//! The one spin-wait: tasks and threads that wait for each other, for a flag, or for a stop, with a time limit so a test fails instead of hanging.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long [`wait_until`] spins before it starts sleeping between polls.
const SPIN: Duration = Duration::from_millis(1);

/// How long [`wait_until`] sleeps between polls once it has spun for [`SPIN`].
const NAP: Duration = Duration::from_micros(100);

/// Polls `done` until it holds or `limit` passes, and says which. For the
/// first millisecond it spins, so it notices within nanoseconds (the race
/// tests need that); after that it sleeps 100 µs between polls, so a long
/// wait leaves the core to the thread it waits for.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if done() {
            return true;
        }
        let waited = start.elapsed();
        if waited > limit {
            return false;
        }
        if waited < SPIN {
            std::hint::spin_loop();
        } else {
            std::thread::sleep(NAP);
        }
    }
}

/// Waits until `flag` is set or `limit` passes; says which.
pub fn wait_for(flag: &AtomicBool, limit: Duration) -> bool {
    wait_until(limit, || flag.load(Ordering::SeqCst))
}

/// Arrives at a meeting of `count` parties (counted in `arrived`) and waits
/// until all have arrived or `limit` passes; says which. Tasks that meet
/// this way prove they ran at the same time, on different workers.
pub fn rendezvous(arrived: &AtomicUsize, count: usize, limit: Duration) -> bool {
    arrived.fetch_add(1, Ordering::SeqCst);
    wait_until(limit, || arrived.load(Ordering::SeqCst) >= count)
}

/// Keeps the thread busy for `duration`, without sleeping: a task that takes
/// time the way a computation does.
pub fn spin_for(duration: Duration) {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}
