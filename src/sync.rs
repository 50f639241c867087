//! The synchronization primitives the executor uses, swapped for loom's when
//! the crate is built with `--cfg loom` so its protocol can be model-checked.
//!
//! Normal builds re-export `std` and crossbeam unchanged: every item here is
//! the very type the executor used before, or (`cell::UnsafeCell`) a
//! `repr(transparent)` wrapper whose methods inline to `UnsafeCell::get`. So
//! the shim costs nothing outside loom.
//!
//! Under `cfg(loom)` (see `tests/loom.rs` for the command), the pieces of the
//! pending-counter / ready-queue / run-termination protocol become loom
//! objects, which loom interleaves and whose weak-memory behaviour it
//! explores:
//!
//! - the atomics and `fence` (pending counters, state bytes, `signals`,
//!   `remaining`, the sleepers count, the cancel token's flag);
//! - `Mutex` and `Condvar` (the sleep lock, the failure list);
//! - a listed run's worker count and its starter's `park` and `unpark`
//!   (`exec/registry.rs`: who may free a run, and when);
//! - `cell::UnsafeCell` (the output slots: loom checks that every read of a
//!   predecessor's output happens-after its write);
//! - `OnceLock` (the lazily allocated skip causes), rebuilt from a loom flag
//!   and a loom mutex with the same acquire/release contract as std's;
//! - the work-stealing deques and the injector ([`deque`]): a loom mutex
//!   around a `VecDeque` — a linearizable stand-in for crossbeam's lock-free
//!   deque, which crossbeam checks on its own — plus a length that
//!   `is_empty` reads *without* the lock, with crossbeam's orderings, so the
//!   sleep protocol's `SeqCst` fences are what keeps a wake-up from being
//!   lost, as in the real build;
//! - `Backoff`, which yields to loom instead of spinning (a spin loop that
//!   never yields makes loom report a livelock), and gives up after one
//!   snooze so the sleep path is taken in few steps.
//!
//! Not modelled, and left as `std` under loom because it is sound there: the
//! clock (`Instant`: deadlines, timings, the worker's pace, which loom fixes
//! per model instead) and the timing slots. The cancel token's flag is a
//! loom atomic too, so cancelling and checking it are interleaved. Loom runs all its threads on one OS thread, so an `std`
//! lock or atomic whose critical section contains no loom operation never
//! blocks and never deadlocks there.

#[cfg(not(loom))]
pub(crate) use std::sync::{Condvar, Mutex, OnceLock};

#[cfg(loom)]
pub(crate) use loom::sync::{Condvar, Mutex};

#[cfg(not(loom))]
pub(crate) use crossbeam_utils::Backoff;

/// Atomics and fences.
pub(crate) mod atomic {
    #[cfg(not(loom))]
    pub(crate) use std::sync::atomic::{
        fence, AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
    };

    #[cfg(loom)]
    pub(crate) use loom::sync::atomic::{
        fence, AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
    };
}

/// Work-stealing deques: crossbeam's, or a loom model of the subset used.
pub(crate) mod deque {
    #[cfg(not(loom))]
    pub(crate) use crossbeam_deque::{Injector, Steal, Stealer, Worker};

    #[cfg(loom)]
    pub(crate) use super::loom_deque::{Injector, Steal, Stealer, Worker};
}

/// Interior mutability for the output slots.
pub(crate) mod cell {
    #[cfg(loom)]
    pub(crate) use loom::cell::UnsafeCell;

    /// `std::cell::UnsafeCell` with loom's closure-based accessors, so the
    /// same code compiles against both.
    ///
    /// `repr(transparent)`: a slice of these has the layout of a slice of
    /// `T`, which `RunCore::into_report` relies on.
    #[cfg(not(loom))]
    #[repr(transparent)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    #[cfg(not(loom))]
    impl<T> UnsafeCell<T> {
        #[inline(always)]
        pub(crate) const fn new(value: T) -> UnsafeCell<T> {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        /// Calls `f` with a pointer for reading the value.
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Calls `f` with a pointer for writing the value.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

/// Threads: the waiting starter of a run parks, and (under loom only) a
/// run spawns its workers itself.
pub(crate) mod thread {
    #[cfg(not(loom))]
    pub(crate) use std::thread::{current, park_timeout, yield_now, Thread};

    #[cfg(loom)]
    pub(crate) use loom::thread::{current, spawn, yield_now, Thread};

    /// loom's `park`, which has no timeout: a model then shows that no
    /// wake-up is lost without the timeout's help.
    #[cfg(loom)]
    pub(crate) fn park_timeout(_: std::time::Duration) {
        loom::thread::park();
    }
}

#[cfg(loom)]
pub(crate) use loom_impl::{Backoff, OnceLock};

#[cfg(loom)]
mod loom_impl {
    use std::cell::Cell;

    use super::atomic::{AtomicBool, Ordering};
    use super::Mutex;

    /// crossbeam's `Backoff` for loom: a snooze is a `yield_now` (loom then
    /// runs another thread, and the yielding one sees newer values when it
    /// resumes), and one snooze completes it, so an idle worker goes to
    /// sleep after one more look for work.
    #[derive(Debug)]
    pub(crate) struct Backoff {
        snoozes: Cell<u32>,
    }

    impl Backoff {
        const SNOOZES: u32 = 1;

        pub(crate) fn new() -> Backoff {
            Backoff {
                snoozes: Cell::new(0),
            }
        }

        pub(crate) fn snooze(&self) {
            self.snoozes.set(self.snoozes.get() + 1);
            loom::thread::yield_now();
        }

        pub(crate) fn is_completed(&self) -> bool {
            self.snoozes.get() >= Backoff::SNOOZES
        }

        pub(crate) fn reset(&self) {
            self.snoozes.set(0);
        }
    }

    /// `std::sync::OnceLock` with loom-visible synchronization: a reader
    /// that sees `ready` (`Acquire`) happens-after the initialization, which
    /// ran under `lock` and was published by a `Release` store, as with
    /// std's. The value itself lives in a std `OnceLock`, initialized only
    /// under the loom lock, so it never blocks.
    #[derive(Debug)]
    pub(crate) struct OnceLock<T> {
        ready: AtomicBool,
        lock: Mutex<()>,
        value: std::sync::OnceLock<T>,
    }

    impl<T> OnceLock<T> {
        pub(crate) fn new() -> OnceLock<T> {
            OnceLock {
                ready: AtomicBool::new(false),
                lock: Mutex::new(()),
                value: std::sync::OnceLock::new(),
            }
        }

        pub(crate) fn get_or_init(&self, init: impl FnOnce() -> T) -> &T {
            if self.ready.load(Ordering::Acquire) {
                return self.value.get().expect("`ready` is set after the value");
            }
            let _guard = self
                .lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let value = self.value.get_or_init(init);
            self.ready.store(true, Ordering::Release);
            value
        }

        pub(crate) fn into_inner(self) -> Option<T> {
            self.value.into_inner()
        }
    }
}

/// The subset of `crossbeam_deque` the executor uses, modelled for loom.
///
/// Each queue is a loom `Mutex<VecDeque>`, so pushes, pops and steals are
/// linearizable and synchronize with each other, as crossbeam's do. Its
/// length is mirrored in a loom atomic that `is_empty` reads without the
/// lock, with crossbeam's orderings (`Acquire` for a stealer, `SeqCst` for
/// the injector, `Relaxed` for the owner): the sleep protocol reads
/// emptiness that way and must not get the lock's synchronization for free.
/// A steal never returns `Retry` here (crossbeam's does under contention;
/// the executor retries, so that path only repeats work already modelled).
/// The handles share the queue through a std `Arc`: its count is no part of
/// the protocol.
#[cfg(loom)]
mod loom_deque {
    use std::collections::VecDeque;
    use std::sync::{Arc, PoisonError};

    use super::atomic::{AtomicUsize, Ordering};
    use super::Mutex;

    /// The result of a steal, as crossbeam's.
    #[derive(Debug)]
    pub(crate) enum Steal<T> {
        Empty,
        Success(T),
        #[allow(dead_code)]
        Retry,
    }

    #[derive(Debug)]
    struct Queue<T> {
        items: Mutex<VecDeque<T>>,
        len: AtomicUsize,
    }

    impl<T> Queue<T> {
        fn new() -> Queue<T> {
            Queue {
                items: Mutex::new(VecDeque::new()),
                len: AtomicUsize::new(0),
            }
        }

        fn with<R>(&self, f: impl FnOnce(&mut VecDeque<T>) -> R) -> R {
            let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
            let result = f(&mut items);
            self.len.store(items.len(), Ordering::Release);
            result
        }

        fn push(&self, item: T) {
            self.with(|items| items.push_back(item));
        }

        fn steal(&self) -> Steal<T> {
            match self.with(VecDeque::pop_front) {
                Some(item) => Steal::Success(item),
                None => Steal::Empty,
            }
        }

        fn is_empty(&self, order: Ordering) -> bool {
            self.len.load(order) == 0
        }
    }

    /// The owner's end of a deque (LIFO: it pops what it pushed last).
    #[derive(Debug)]
    pub(crate) struct Worker<T>(Arc<Queue<T>>);

    impl<T> Worker<T> {
        pub(crate) fn new_lifo() -> Worker<T> {
            Worker(Arc::new(Queue::new()))
        }

        pub(crate) fn stealer(&self) -> Stealer<T> {
            Stealer(Arc::clone(&self.0))
        }

        pub(crate) fn push(&self, item: T) {
            self.0.push(item);
        }

        pub(crate) fn pop(&self) -> Option<T> {
            self.0.with(VecDeque::pop_back)
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.0.is_empty(Ordering::Relaxed)
        }
    }

    /// The other workers' end of a deque (they take the oldest item).
    #[derive(Debug)]
    pub(crate) struct Stealer<T>(Arc<Queue<T>>);

    impl<T> Stealer<T> {
        pub(crate) fn steal(&self) -> Steal<T> {
            self.0.steal()
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.0.is_empty(Ordering::Acquire)
        }
    }

    /// The shared FIFO queue where a run's sources start.
    #[derive(Debug)]
    pub(crate) struct Injector<T>(Queue<T>);

    impl<T> Injector<T> {
        pub(crate) fn new() -> Injector<T> {
            Injector(Queue::new())
        }

        pub(crate) fn push(&self, item: T) {
            self.0.push(item);
        }

        pub(crate) fn steal(&self) -> Steal<T> {
            self.0.steal()
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.0.is_empty(Ordering::SeqCst)
        }
    }
}
