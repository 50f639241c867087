//! Per-task timeouts: what the builder was told, and the compiled table a run reads.
//!
//! A timeout is cooperative: Rust cannot stop a thread, so a task past its
//! limit goes on until it returns. What the limit changes is what the task
//! sees (`TaskContext::is_cancelled`, `checkpoint`) and how it is recorded:
//! a task that returns after its limit is timed out, whatever it returned.

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

/// Nanoseconds from `origin` (a run's start) to `deadline`, for comparing
/// against a running task's clock; saturates rather than overflows.
pub(crate) fn add_nanos(origin: u64, limit: u64) -> u64 {
    if limit == NO_LIMIT {
        NO_LIMIT
    } else {
        origin.saturating_add(limit).min(NO_LIMIT - 1)
    }
}
