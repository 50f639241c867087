//! Per-task timeouts: what the builder was told, and the compiled table a run reads.
//!
//! A timeout is cooperative: Rust cannot stop a thread, so a task past its
//! limit goes on until it returns. What the limit changes is what the task
//! sees (`TaskContext::is_cancelled`, `checkpoint`) and how it is recorded:
//! a task that returns after its limit is timed out, whatever it returned.
//!
//! # The clock
//!
//! A timed task reads the clock when it starts and when it returns, and a
//! loop that checks reads it at every check. `Instant::now` costs about
//! 30 ns on the VMs kahn is measured on (63 ns for the pair; more than an
//! empty task), so deadlines are kept on Linux's coarse monotonic clock
//! (`CLOCK_MONOTONIC_COARSE`, about 6 ns, in ticks of a few milliseconds,
//! 4 ms here), rounded up by one tick: a task is told to stop, and counted
//! as timed out, at most two ticks after its limit and never before. A
//! timeout of zero is always past. Elsewhere, and under Miri, the clock is
//! `Instant`.

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

/// The deadline of a task that starts now with a limit of `limit`
/// nanoseconds, on [`now`]'s clock: never before the limit has passed,
/// [`NO_LIMIT`] for none, and 0 (always past) for a limit of zero.
pub(crate) fn deadline_after(limit: u64) -> u64 {
    match limit {
        NO_LIMIT => NO_LIMIT,
        0 => 0,
        limit => now()
            .saturating_add(limit)
            .saturating_add(tick())
            .min(NO_LIMIT - 1),
    }
}

/// Whether `deadline` (from [`deadline_after`]) has passed.
#[inline]
pub(crate) fn is_past(deadline: u64) -> bool {
    deadline != NO_LIMIT && (deadline == 0 || now() >= deadline)
}

/// Now, in nanoseconds, on the coarse monotonic clock.
#[cfg(all(target_os = "linux", not(miri)))]
fn now() -> u64 {
    coarse(libc::clock_gettime)
}

/// What `ask` (`clock_gettime` or `clock_getres`) says of the coarse
/// monotonic clock, in nanoseconds.
#[cfg(all(target_os = "linux", not(miri)))]
fn coarse(ask: unsafe extern "C" fn(libc::clockid_t, *mut libc::timespec) -> libc::c_int) -> u64 {
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

/// Now, in nanoseconds since the first call in this process.
#[cfg(not(all(target_os = "linux", not(miri))))]
fn now() -> u64 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(std::time::Instant::now);
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(NO_LIMIT - 1)
}

/// The clock's resolution in nanoseconds (0 where it is `Instant`), by
/// which deadlines are rounded up; asked once.
fn tick() -> u64 {
    static RESOLUTION: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *RESOLUTION.get_or_init(resolution)
}

#[cfg(all(target_os = "linux", not(miri)))]
fn resolution() -> u64 {
    coarse(libc::clock_getres)
}

#[cfg(not(all(target_os = "linux", not(miri))))]
fn resolution() -> u64 {
    0
}
