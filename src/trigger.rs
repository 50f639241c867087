//! Trigger rules and branches: what decides, once a task's predecessors have all finished, whether it runs.
//!
//! By default a task runs only if every predecessor succeeded; otherwise
//! it is skipped, and says why (the failure at the root, as releases carry
//! it). A [`TriggerRule`] changes that for one task, and a *branching* task
//! may pass over some of its successors at run time. Both extend the same
//! skip propagation: a release carries a [`Cause`](crate::state::Cause)
//! that is either a failure or a choice, and a rule is judged from the
//! predecessors' recorded states, all final by then.

use bumpalo::collections::Vec as BumpVec;
use bumpalo::Bump;

/// When a task runs, once all its predecessors have finished.
///
/// Set per task with
/// [`GraphBuilder::trigger_rule`](crate::GraphBuilder::trigger_rule). A
/// predecessor *failed* if it failed, panicked or timed out, or was
/// skipped because something upstream of it did; one skipped by a branch
/// or a trigger rule did not fail. A task that runs after an upstream
/// failure reads the outcome of each predecessor with
/// [`TaskContext::upstream`](crate::TaskContext::upstream); reading the
/// output of one that did not succeed is an
/// [`InputError`](crate::InputError).
///
/// Once a run is stopped (cancel token, deadline, fail-fast), a task with
/// a rule other than the default that has not started is
/// [cancelled](crate::Outcome::Cancelled), whatever its predecessors did:
/// cancellation wins (a cleanup task that must run whatever happens
/// belongs after the run, or in a run of its own). On a task with no
/// predecessors, every rule but `OneFailed` runs it; `OneFailed` skips it
/// as not triggered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TriggerRule {
    /// Run if every predecessor succeeded; otherwise skip, for the failure
    /// (or the branch) upstream. The default, and Airflow's `all_success`.
    #[default]
    AllSucceeded,
    /// Run once every predecessor has finished, however it ended: cleanup
    /// that must always happen. Airflow's `all_done`.
    AllDone,
    /// Run if at least one predecessor failed; otherwise skip as
    /// [not triggered](crate::Outcome::NotTriggered): an alert. Airflow's
    /// `one_failed`.
    OneFailed,
    /// Run unless a predecessor failed; predecessors skipped by a branch or
    /// a rule are fine: the join after a branch. Airflow's
    /// `none_failed`.
    NoneFailed,
}

impl TriggerRule {
    fn code(self) -> u8 {
        match self {
            TriggerRule::AllSucceeded => 0,
            TriggerRule::AllDone => 1,
            TriggerRule::OneFailed => 2,
            TriggerRule::NoneFailed => 3,
        }
    }

    fn from_code(code: u8) -> TriggerRule {
        match code & RULE {
            1 => TriggerRule::AllDone,
            2 => TriggerRule::OneFailed,
            3 => TriggerRule::NoneFailed,
            _ => TriggerRule::AllSucceeded,
        }
    }

    /// Whether a task under this rule runs, given whether some predecessor
    /// failed.
    pub(crate) fn runs(self, upstream_failed: bool) -> bool {
        match self {
            TriggerRule::AllSucceeded | TriggerRule::NoneFailed => !upstream_failed,
            TriggerRule::AllDone => true,
            TriggerRule::OneFailed => upstream_failed,
        }
    }
}

/// The bits of a task's byte that hold its rule.
const RULE: u8 = 0b11;
/// The bit of a task's byte that says it may branch.
const BRANCHES: u8 = 0b100;

/// The rules and branching tasks declared so far, as `(task, byte)`; a
/// later rule for a task replaces an earlier one.
pub(crate) struct Declared<'a>(BumpVec<'a, (u32, u8)>);

impl<'a> Declared<'a> {
    pub(crate) fn new(bump: &'a Bump) -> Self {
        Declared(BumpVec::new_in(bump))
    }

    pub(crate) fn rule(&mut self, task: u32, rule: TriggerRule) {
        self.0.push((task, rule.code()));
    }

    pub(crate) fn branching(&mut self, task: u32) {
        self.0.push((task, BRANCHES));
    }

    /// The table of a graph of `n` tasks; `None` if every task runs by the
    /// default rule and none branches, so such graphs pay nothing.
    pub(crate) fn compile(self, bump: &'a Bump, n: usize) -> Option<Triggers<'a>> {
        if self.0.is_empty() {
            return None;
        }
        let bytes = bump.alloc_slice_fill_copy(n, 0u8);
        let (mut ruled, mut branching) = (false, false);
        for &(task, byte) in self.0.iter() {
            let slot = &mut bytes[task as usize];
            if byte == BRANCHES {
                *slot |= BRANCHES;
            } else {
                *slot = (*slot & !RULE) | byte;
            }
        }
        for &byte in bytes.iter() {
            ruled |= byte & RULE != 0;
            branching |= byte & BRANCHES != 0;
        }
        Some(Triggers {
            bytes,
            ruled,
            branching,
        })
    }
}

/// Each task's rule and whether it may branch, a byte a task, in the arena.
#[derive(Clone, Copy)]
pub(crate) struct Triggers<'a> {
    bytes: &'a [u8],
    /// Some task has a rule other than the default.
    pub(crate) ruled: bool,
    /// Some task may branch.
    pub(crate) branching: bool,
}

impl Triggers<'_> {
    /// Task `v`'s rule.
    #[inline]
    pub(crate) fn rule(&self, v: u32) -> TriggerRule {
        TriggerRule::from_code(self.bytes[v as usize])
    }

    /// Whether task `v` was declared able to branch.
    #[inline]
    pub(crate) fn branches(&self, v: u32) -> bool {
        self.bytes[v as usize] & BRANCHES != 0
    }
}
