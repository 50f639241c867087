//! The unit of work that moves between workers: a range of tasks to release.

use std::num::NonZeroU32;

use crate::id::TaskId;

/// A range of `Csr::targets` whose tasks are each to be released once.
///
/// Successor ranges release tasks that may still wait on other predecessors;
/// the source range releases tasks whose only "predecessor" is the run's start
/// (their pending count is 1). `poison` is the failed task that poisons every
/// task in the range, if the releasing task did not succeed.
///
/// Twelve bytes, so the worker loop keeps its current range in registers
/// (sixteen, with a plain `Option<TaskId>`, made a chain run three times
/// slower: the range went through the stack on every task).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Releases {
    pub(crate) lo: u32,
    pub(crate) hi: u32,
    pub(crate) poison: Option<Cause>,
}

/// A failed task as releases carry it: its id plus one, so that
/// `Option<Cause>` takes four bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cause(NonZeroU32);

impl Cause {
    #[inline]
    pub(crate) fn new(task: TaskId) -> Cause {
        // A task id is below 2^31 (`TaskId::LIMIT`), so adding one neither
        // overflows nor makes zero.
        Cause(NonZeroU32::MIN.saturating_add(task.raw()))
    }

    #[inline]
    pub(crate) fn task(self) -> TaskId {
        TaskId::new(self.0.get() - 1)
    }
}

impl Releases {
    pub(crate) const EMPTY: Releases = Releases {
        lo: 0,
        hi: 0,
        poison: None,
    };

    #[inline]
    pub(crate) fn len(&self) -> u32 {
        self.hi - self.lo
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.lo >= self.hi
    }
}

impl Default for Releases {
    fn default() -> Self {
        Releases::EMPTY
    }
}
