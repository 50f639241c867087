//! Critical-path priorities: the weights a builder collects, and the ranks `build` computes from them to sort successor and source lists.
//!
//! A task's *rank* is its weight plus the largest rank among its
//! successors: the weight of the heaviest path from the task to the end of
//! the graph. `build` computes it once, in reverse topological order, and
//! sorts each successor list and the source list by descending rank (ties by
//! id). Workers take a range from its low end and continue depth-first with
//! the successors of the task they just ran, so the sorted lists make them
//! start the critical path first, with nothing added to a run or to the
//! worker loop. The ranks themselves are dropped with the builder's memory:
//! the graph keeps only the order.
//!
//! Ranks are `f64` and cannot overflow: a path has at most
//! [`TaskId::LIMIT`](crate::TaskId::LIMIT) (< 2³¹) tasks, each weighing at most [`MAX_WEIGHT`]
//! (10²⁹⁸), so a rank stays below 2.2 × 10³⁰⁷ even with the rounding of every
//! addition, well under `f64::MAX` (1.8 × 10³⁰⁸). Weights are never
//! negative or NaN, so neither is a rank, and a rank's bits order like its
//! value (the sort compares bits).

use std::cmp::Reverse;

use bumpalo::collections::Vec as BumpVec;
use bumpalo::Bump;

/// The largest weight a task may have: 10²⁹⁸, so that no rank overflows
/// (see the module doc).
pub(crate) const MAX_WEIGHT: f64 = 1e298;

/// Whether `weight` is one a task may have: a number from 0 to [`MAX_WEIGHT`]
/// (so not NaN and not infinite).
pub(crate) fn is_valid_weight(weight: f64) -> bool {
    (0.0..=MAX_WEIGHT).contains(&weight)
}

/// What a builder knows of priorities: whether they are on, and the weights
/// set so far.
pub(crate) struct Priorities<'a> {
    on: bool,
    /// Weights by id, for the first `weights.len()` tasks; every other task
    /// weighs 1. Empty, and unallocated, until the first weight is set.
    weights: BumpVec<'a, f64>,
}

impl<'a> Priorities<'a> {
    /// Off, with no weights (and no allocation).
    pub(crate) fn new(bump: &'a Bump) -> Self {
        Priorities {
            on: false,
            weights: BumpVec::new_in(bump),
        }
    }

    /// Turns ranking on; tasks without a weight weigh 1.
    pub(crate) fn turn_on(&mut self) {
        self.on = true;
    }

    /// Sets the weight of task `v`, one of `task_count` tasks, and turns
    /// ranking on. The weight must be valid ([`is_valid_weight`]).
    pub(crate) fn set_weight(&mut self, v: u32, weight: f64, task_count: usize) {
        debug_assert!(
            is_valid_weight(weight),
            "weights are checked before they are set"
        );
        let v = v as usize;
        debug_assert!(v < task_count, "only known tasks get weights");
        if v >= self.weights.len() {
            // Room for every task so far, so that weighing each task as it
            // is added grows the array a logarithmic number of times.
            self.weights.resize(task_count.max(v + 1), 1.0);
        }
        // `+ 0.0` turns -0.0 into 0.0, whose bits order like its value.
        self.weights[v] = weight + 0.0;
        self.on = true;
    }

    /// The weights of all `n` tasks, in an arena array that [`sort_by_rank`]
    /// turns into ranks; `None` if ranking is off.
    pub(crate) fn into_weights(self, bump: &'a Bump, n: usize) -> Option<&'a mut [f64]> {
        if !self.on {
            return None;
        }
        if self.weights.is_empty() {
            return Some(bump.alloc_slice_fill_copy(n, 1.0));
        }
        let mut weights = self.weights;
        weights.resize(n, 1.0);
        Some(weights.into_bump_slice_mut())
    }
}

/// Turns `ranks` from weights into ranks, and sorts every successor list
/// (`targets[succ_off[v]..succ_off[v + 1]]`) and the source list
/// (`targets[sources_start..]`) by descending rank, ties by id.
///
/// `order` is a topological order of the tasks (Kahn's, from the cycle
/// check), or `None` when the ids are one. O(V + E log d) for out-degrees
/// `d`, plus O(S log S) for `S` sources; no heap allocation.
pub(crate) fn sort_by_rank(
    order: Option<&[u32]>,
    succ_off: &[u32],
    targets: &mut [u32],
    sources_start: usize,
    ranks: &mut [f64],
) {
    let n = ranks.len();
    debug_assert_eq!(succ_off.len(), n + 1, "one offset per task, plus the end");
    // In reverse topological order, every successor's rank is final when a
    // task's list is sorted; the first of the sorted list is the largest.
    let mut settle = |v: usize| {
        let list = &mut targets[succ_off[v] as usize..succ_off[v + 1] as usize];
        if list.len() > 1 {
            list.sort_unstable_by_key(|&s| by_rank(ranks, s));
        }
        let longest = list.first().map_or(0.0, |&s| ranks[s as usize]);
        ranks[v] += longest;
        debug_assert!(
            ranks[v].is_finite() && ranks[v] >= 0.0,
            "a rank is a finite sum of weights from 0 to MAX_WEIGHT"
        );
    };
    match order {
        Some(order) => order.iter().rev().for_each(|&v| settle(v as usize)),
        None => (0..n).rev().for_each(settle),
    }
    targets[sources_start..].sort_unstable_by_key(|&s| by_rank(ranks, s));
}

/// The sort key: descending rank, then ascending id. Ranks are finite and
/// at least +0.0, so their bits order like their values.
#[inline]
fn by_rank(ranks: &[f64], task: u32) -> (Reverse<u64>, u32) {
    (Reverse(ranks[task as usize].to_bits()), task)
}
