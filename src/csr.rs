//! The frozen, compiled adjacency of a graph (compressed sparse rows), which
//! the graph owns and every run walks.
//!
//! Layout, for `n` tasks and `m` distinct edges:
//! - `succ_off[v]..succ_off[v + 1]` indexes the successors of `v` in `targets`;
//! - `targets[..m]` are those successors, `targets[m..]` the sources (tasks with
//!   no predecessor), so every piece of ready-or-releasable work is one range of
//!   one array. A worker releases a range from its front, so the order of each
//!   list is the order tasks start in: successors as their edges were first
//!   added and sources by id, or, with critical-path priorities
//!   (`priority.rs`), both by descending rank, ties by id;
//! - `pred_off` / `preds` the same for predecessors, each list sorted by id so a
//!   task's inputs can be binary-searched;
//! - `init_pending[v]` is the number of releases `v` waits for: its in-degree,
//!   or 1 for a source (released once, by the run's start).
//!
//! Made by `compile::compile`; read by the graph, the task context and the
//! executor, none of which needs the compiler.

use crate::prefetch::prefetch;

/// The compiled adjacency of a graph. All slices live in the arena.
///
/// Invariants, made by `compile::compile` and relied on by the executor's
/// unchecked reads ([`target_unchecked`](Self::target_unchecked),
/// [`successor_range_unchecked`](Self::successor_range_unchecked)), for `n`
/// tasks:
/// - `succ_off` has `n + 1` entries, non-decreasing, the last one
///   `sources_start`, which is at most `targets.len()`;
/// - every entry of `targets` is below `n`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Csr<'a> {
    pub(crate) succ_off: &'a [u32],
    pub(crate) targets: &'a [u32],
    pub(crate) pred_off: &'a [u32],
    pub(crate) preds: &'a [u32],
    pub(crate) init_pending: &'a [u32],
    /// Where the sources start in `targets` (= the number of distinct edges).
    pub(crate) sources_start: u32,
}

impl<'a> Csr<'a> {
    pub(crate) fn task_count(&self) -> usize {
        self.init_pending.len()
    }

    pub(crate) fn edge_count(&self) -> usize {
        self.sources_start as usize
    }

    /// Bytes held by the compiled arrays.
    pub(crate) fn bytes(&self) -> usize {
        let words = self.succ_off.len()
            + self.targets.len()
            + self.pred_off.len()
            + self.preds.len()
            + self.init_pending.len();
        words * std::mem::size_of::<u32>()
    }

    /// Successors of `v`; empty for an id outside the graph.
    pub(crate) fn successors(&self, v: u32) -> &'a [u32] {
        let v = v as usize;
        if v >= self.task_count() {
            return &[];
        }
        &self.targets[self.succ_off[v] as usize..self.succ_off[v + 1] as usize]
    }

    /// Predecessors of `v`, sorted; empty for an id outside the graph.
    pub(crate) fn predecessors(&self, v: u32) -> &'a [u32] {
        let v = v as usize;
        if v >= self.task_count() {
            return &[];
        }
        &self.preds[self.pred_off[v] as usize..self.pred_off[v + 1] as usize]
    }

    /// `targets[at]` without a bounds check: the executor reads one per
    /// release, where the check was a tenth of an empty task's instructions.
    ///
    /// # Safety
    /// `at < targets.len()`, as for every position inside a range the
    /// executor releases (see `Releases`).
    #[inline(always)]
    pub(crate) unsafe fn target_unchecked(&self, at: u32) -> u32 {
        debug_assert!((at as usize) < self.targets.len());
        // SAFETY: the caller's contract.
        unsafe { *self.targets.get_unchecked(at as usize) }
    }

    /// `succ_off[v]..succ_off[v + 1]`, the range of `targets` holding `v`'s
    /// successors, without bounds checks.
    ///
    /// # Safety
    /// `v < n`: `succ_off` has `n + 1` entries (see the invariants above).
    #[inline(always)]
    pub(crate) unsafe fn successor_range_unchecked(&self, v: u32) -> (u32, u32) {
        debug_assert!((v as usize) < self.task_count());
        // SAFETY: `v + 1 <= n < succ_off.len()` by the caller's contract and
        // the invariants.
        unsafe {
            (
                *self.succ_off.get_unchecked(v as usize),
                *self.succ_off.get_unchecked(v as usize + 1),
            )
        }
    }

    /// Starts loading the line of `targets` where `v`'s successors begin,
    /// to be read once a task that outlasts the load ends (see the worker's
    /// look-ahead); nothing for an id outside the graph.
    #[inline(always)]
    pub(crate) fn prefetch_successors(&self, v: u32) {
        if let Some(&first) = self.succ_off.get(v as usize) {
            prefetch(self.targets.as_ptr().wrapping_add(first as usize));
        }
    }

    pub(crate) fn sources(&self) -> &'a [u32] {
        &self.targets[self.sources_start as usize..]
    }
}
