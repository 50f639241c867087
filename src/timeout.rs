//! Per-task timeouts: what the builder was told, and the compiled table a run reads.
//!
//! A timeout is cooperative: Rust cannot stop a thread, so a task past its
//! limit goes on until it returns. What the limit changes is what the task
//! sees (`TaskContext::is_cancelled`, `checkpoint`) and how it is recorded:
//! a task that returns after its limit is timed out, whatever it returned.
//!
//! # The clock
//!
//! A timed task looks at the clock when it starts and when it returns, and
//! a loop that checks looks at every check, so the clock must cost next to
//! nothing: `Instant::now` costs about 30 ns on the VMs kahn is measured
//! on, and even Linux's coarse monotonic clock 6 ns, more than an empty
//! task. So deadlines are counted in *ticks* of a process-wide ticker: a
//! thread of kahn's that adds one to an atomic counter every
//! [`PERIOD`] (1 ms) while some run with timeouts is under way, and
//! sleeps otherwise. Reading the clock is one relaxed load.
//!
//! Never early: a task that starts when the count is `e` gets a deadline
//! of at least `e + 1 + ⌈limit / PERIOD⌉`. Tick `e + 1` comes after the task started
//! (it read `e`), and each tick after it at least a `PERIOD` later (the
//! ticker sleeps that long between ticks), so the count reaches the
//! deadline no sooner than `limit` after the start. Late by at most two
//! periods, plus however long the operating system keeps the ticker from
//! running. A timeout of zero is always past.
//!
//! Where the ticker cannot be started (no threads left), and under Miri,
//! the count is derived from a clock instead: Linux's coarse monotonic
//! clock (rounded up by its resolution, as it lags real time by up to a
//! tick of its own), or `Instant`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bumpalo::collections::Vec as BumpVec;
use bumpalo::Bump;

/// "No limit" in the compiled table.
pub(crate) const NO_LIMIT: u64 = u64::MAX;

/// The timeouts declared so far, as `(task, nanoseconds)`; a later
/// declaration for a task replaces an earlier one.
pub(crate) struct Declared<'a>(BumpVec<'a, (u32, u64)>);

impl<'a> Declared<'a> {
    pub(crate) fn new(bump: &'a Bump) -> Self {
        Declared(BumpVec::new_in(bump))
    }

    pub(crate) fn set(&mut self, task: u32, limit: Duration) {
        self.0.push((task, nanos(limit)));
    }

    /// The table of a graph of `n` tasks; `None` if no task has a timeout,
    /// so that such graphs pay nothing for the feature.
    pub(crate) fn compile(self, bump: &'a Bump, n: usize) -> Option<Timeouts<'a>> {
        if self.0.is_empty() {
            return None;
        }
        let limits = bump.alloc_slice_fill_copy(n, NO_LIMIT);
        for &(task, limit) in self.0.iter() {
            limits[task as usize] = limit;
        }
        Some(Timeouts { limits })
    }
}

/// Each task's limit in nanoseconds, [`NO_LIMIT`] for none: eight bytes a
/// task, in the arena, for graphs where some task has a timeout.
#[derive(Clone, Copy)]
pub(crate) struct Timeouts<'a> {
    limits: &'a [u64],
}

impl Timeouts<'_> {
    /// Task `v`'s limit in nanoseconds, or [`NO_LIMIT`].
    #[inline]
    pub(crate) fn nanos_of(&self, v: u32) -> u64 {
        self.limits[v as usize]
    }

    /// Task `v`'s limit, if it has one.
    pub(crate) fn of(&self, v: u32) -> Option<Duration> {
        let nanos = self.nanos_of(v);
        (nanos != NO_LIMIT).then(|| Duration::from_nanos(nanos))
    }
}

/// A limit in nanoseconds; one too long for 64 bits (over 584 years) is no
/// limit at all.
fn nanos(limit: Duration) -> u64 {
    u64::try_from(limit.as_nanos()).map_or(NO_LIMIT, |n| n.min(NO_LIMIT - 1))
}

/// How often the ticker ticks: the unit of deadlines.
pub(crate) const PERIOD: Duration = Duration::from_millis(1);

/// [`PERIOD`] in nanoseconds.
const PERIOD_NANOS: u64 = PERIOD.as_nanos() as u64;

/// The deadline of a task that starts now with a limit of `limit`
/// nanoseconds, in ticks: never before the limit has passed, [`NO_LIMIT`]
/// for none, and 0 (always past) for a limit of zero. On the path of every
/// timed task, so a few instructions: `limit / PERIOD + 2` ticks is at
/// least the `⌈limit / PERIOD⌉ + 1` the argument above needs, and cannot
/// overflow (a limit is below 2^64 ns, the count far below 2^63).
#[inline]
pub(crate) fn deadline_after(limit: u64) -> u64 {
    if limit == NO_LIMIT || limit == 0 {
        return limit;
    }
    let ticks = limit / PERIOD_NANOS + 2;
    if ticker::RUNNING.load(Ordering::Relaxed) {
        ticker::COUNT.load(Ordering::Relaxed) + ticks
    } else {
        fallback_deadline(ticks)
    }
}

/// [`deadline_after`] on the fallback clock, which lags real time by up to
/// its resolution: rounded up by that too.
#[cold]
fn fallback_deadline(ticks: u64) -> u64 {
    let lag = clock::resolution().div_ceil(PERIOD_NANOS);
    (clock::now() / PERIOD_NANOS)
        .saturating_add(ticks + lag)
        .min(NO_LIMIT - 1)
}

/// Whether `deadline` (from [`deadline_after`]) has passed.
#[inline]
pub(crate) fn is_past(deadline: u64) -> bool {
    deadline != NO_LIMIT && (deadline == 0 || now() >= deadline)
}

/// Keeps the ticker ticking while it lives: a run of a graph with
/// timeouts holds one.
#[derive(Debug)]
pub(crate) struct Ticking(());

impl Ticking {
    pub(crate) fn start() -> Ticking {
        ticker::ACTIVE.fetch_add(1, Ordering::SeqCst);
        if let Some(thread) = ticker::thread() {
            thread.unpark();
        }
        Ticking(())
    }
}

impl Drop for Ticking {
    fn drop(&mut self) {
        ticker::ACTIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Now, in ticks.
#[inline]
fn now() -> u64 {
    if ticker::RUNNING.load(Ordering::Relaxed) {
        ticker::COUNT.load(Ordering::Relaxed)
    } else {
        clock::now() / PERIOD_NANOS
    }
}

/// The ticker thread.
mod ticker {
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    use std::sync::OnceLock;
    use std::thread::{self, Thread};

    use super::PERIOD;

    /// Ticks so far.
    pub(super) static COUNT: AtomicU64 = AtomicU64::new(1);
    /// Runs with timeouts under way: the ticker sleeps while there are none.
    pub(super) static ACTIVE: AtomicUsize = AtomicUsize::new(0);
    /// Whether the ticker was started (else deadlines use a clock).
    pub(super) static RUNNING: AtomicBool = AtomicBool::new(false);
    static THREAD: OnceLock<Option<Thread>> = OnceLock::new();

    /// The ticker, started on first use; `None` if it could not be (or
    /// under Miri, whose clock needs no ticker).
    pub(super) fn thread() -> Option<&'static Thread> {
        THREAD
            .get_or_init(|| {
                if cfg!(miri) {
                    return None;
                }
                let spawned = thread::Builder::new()
                    .name("kahn-ticker".to_owned())
                    .spawn(tick);
                let thread = spawned.ok().map(|handle| handle.thread().clone());
                RUNNING.store(thread.is_some(), Ordering::SeqCst);
                thread
            })
            .as_ref()
    }

    fn tick() {
        loop {
            // An unpark between this load and the park is not lost: it
            // leaves a token that makes the park return at once.
            if ACTIVE.load(Ordering::SeqCst) == 0 {
                thread::park();
                continue;
            }
            thread::sleep(PERIOD);
            COUNT.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The fallback clock, in nanoseconds.
mod clock {
    /// Now, on the coarse monotonic clock.
    #[cfg(all(target_os = "linux", not(miri)))]
    pub(super) fn now() -> u64 {
        coarse(libc::clock_gettime)
    }

    /// What `ask` (`clock_gettime` or `clock_getres`) says of the coarse
    /// monotonic clock, in nanoseconds.
    #[cfg(all(target_os = "linux", not(miri)))]
    fn coarse(
        ask: unsafe extern "C" fn(libc::clockid_t, *mut libc::timespec) -> libc::c_int,
    ) -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable `timespec`; the clock id is one
        // Linux has had since 2.6.32, and neither call fails with both.
        unsafe { ask(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
        (ts.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(ts.tv_nsec as u64)
    }

    /// Now, since the first call in this process.
    #[cfg(not(all(target_os = "linux", not(miri))))]
    pub(super) fn now() -> u64 {
        static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        let epoch = *EPOCH.get_or_init(std::time::Instant::now);
        u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The clock's resolution (0 where it is `Instant`), asked once.
    pub(super) fn resolution() -> u64 {
        static RESOLUTION: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        *RESOLUTION.get_or_init(|| {
            #[cfg(all(target_os = "linux", not(miri)))]
            return coarse(libc::clock_getres);
            #[cfg(not(all(target_os = "linux", not(miri))))]
            0
        })
    }
}
