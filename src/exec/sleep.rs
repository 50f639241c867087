//! How idle workers sleep and are woken, without losing a wake-up.
//!
//! A worker that found no work spins briefly (crossbeam's `Backoff`), then
//! calls [`Sleep::sleep`]. The protocol is a Dekker-style handshake:
//!
//! 1. The sleeper takes the lock, increments `sleepers` and issues a `SeqCst`
//!    fence, then checks once more for work (and for the end of the run).
//! 2. A worker that publishes work pushes it, issues a `SeqCst` fence, then
//!    reads `sleepers`; only if it is non-zero does it take the lock to notify.
//!
//! The two fences guarantee that either the sleeper's re-check sees the new
//! work, or the publisher sees the sleeper and notifies it; the lock makes
//! sure the notification cannot fall between the re-check and the wait. The
//! end of the run is announced the same way, with `notify_all`.

use std::sync::PoisonError;

use crate::sync::atomic::{fence, AtomicUsize, Ordering};
use crate::sync::{Condvar, Mutex};

/// The longest a worker sleeps before it looks at its run again.
#[cfg(not(loom))]
const LOOK_AGAIN: std::time::Duration = std::time::Duration::from_millis(10);

#[derive(Debug)]
pub(crate) struct Sleep {
    lock: Mutex<()>,
    wake: Condvar,
    sleepers: AtomicUsize,
}

impl Sleep {
    pub(crate) fn new() -> Sleep {
        Sleep {
            lock: Mutex::new(()),
            wake: Condvar::new(),
            sleepers: AtomicUsize::new(0),
        }
    }

    /// Sleeps until woken (or for at most 10 ms, or `at_most`), unless
    /// `has_work()` (checked after announcing the sleep) says there is
    /// something to do.
    pub(crate) fn sleep(&self, at_most: Option<std::time::Duration>, has_work: impl Fn() -> bool) {
        #[cfg(loom)]
        let _ = at_most;
        let guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if !has_work() {
            // At most `LOOK_AGAIN`: a sleeper whose run has a deadline or a
            // token must notice them even if no work ever wakes it.
            #[cfg(not(loom))]
            drop(
                self.wake
                    .wait_timeout(guard, at_most.map_or(LOOK_AGAIN, |d| d.min(LOOK_AGAIN)))
                    .unwrap_or_else(PoisonError::into_inner),
            );
            #[cfg(loom)]
            drop(
                self.wake
                    .wait(guard)
                    .unwrap_or_else(PoisonError::into_inner),
            );
        } else {
            drop(guard);
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }

    /// Wakes one sleeper, if any; call after publishing work.
    pub(crate) fn wake_one(&self) -> bool {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::Relaxed) > 0 {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.wake.notify_one();
            return true;
        }
        false
    }

    /// Wakes every sleeper; call when the run has ended.
    pub(crate) fn wake_all(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::Relaxed) > 0 {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.wake.notify_all();
        }
    }
}
