//! The executors the tests share: one per thread count, started once per process and kept for its life.
//!
//! Starting a pool is the expensive part of an executor, and an executor is
//! meant to be kept and reused (the way an application uses one), so tests
//! take theirs from here instead of starting fresh pools: the integration
//! tests, the fuzz checks and the run oracle's tests all use these.
//!
//! Tests run in parallel, so a shared executor may be running another
//! test's graph at the same moment, and runs started at once share its
//! workers (see `Executor`'s docs). A test whose tasks wait for each other
//! across workers (a rendezvous), or that needs the workers idle to set up an
//! interleaving or to meet a wall-clock deadline, starts an executor of its
//! own and says why; so does a test about executor creation itself.

use std::sync::OnceLock;

use kahn::Executor;

/// The most workers a shared executor has.
pub const MAX_THREADS: usize = 4;

/// The thread counts most tests run on: the calling thread alone, two
/// workers, and four (more workers than this machine has cores).
pub const THREADS: [usize; 3] = [1, 2, 4];

/// The shared executor with `threads` workers, started on first use.
///
/// # Panics
/// If `threads` is 0 or more than [`MAX_THREADS`], or the pool cannot start.
pub fn executor(threads: usize) -> &'static Executor {
    static EXECUTORS: [OnceLock<Executor>; MAX_THREADS] = [const { OnceLock::new() }; MAX_THREADS];
    assert!(
        (1..=MAX_THREADS).contains(&threads),
        "the shared executors have 1 to {MAX_THREADS} threads, not {threads}"
    );
    EXECUTORS[threads - 1].get_or_init(|| {
        Executor::with_threads(threads)
            .unwrap_or_else(|e| panic!("the test machine cannot start {threads} threads: {e}"))
    })
}

/// The shared executors on 1, 2 and 4 threads ([`THREADS`]), in that order:
/// `for exec in executors() { ... }`.
pub fn executors() -> [&'static Executor; THREADS.len()] {
    THREADS.map(executor)
}
