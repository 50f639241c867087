//! The unit of work that moves between workers: a range of tasks to release.

pub(crate) use crate::state::Cause;

/// A range of `Csr::targets` whose tasks are each to be released once.
///
/// Successor ranges release tasks that may still wait on other predecessors;
/// the source range releases tasks whose only "predecessor" is the run's start
/// (their pending count is 1). `poison` says why the releasing task passes
/// on a "did not succeed", if it does: a failure upstream, or a choice.
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
