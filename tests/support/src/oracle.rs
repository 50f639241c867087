//! The one run oracle: how each task of a DAG ends in a run that nothing stops, when some tasks fail or panic.
//!
//! A task is Skipped if any of its ancestors fails or panics; any other task
//! ends as its own body does. The oracle works this out sequentially, in
//! petgraph's topological order (not kahn's), and keeps each task's
//! ancestors as a bit set, so a check can ask in constant time whether a
//! skip cause is an ancestor, even on graphs of thousands of tasks. Every
//! test that runs random graphs with failures checks against it: the
//! `execute` fuzz check (and through it the stress test and the failure
//! proptest in `tests/all/failures.rs`) and the run properties in
//! `tests/all/run_props.rs`, which add their own expected outputs on top.

use kahn::{Counts, State, TriggerRule};
use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};

/// What a run of a DAG must report when nothing stops it.
#[derive(Debug, Clone)]
pub struct Oracle {
    /// Each task's direct predecessors, sorted, without repeats.
    preds: Vec<Vec<u32>>,
    /// Every task once, each after its predecessors.
    order: Vec<u32>,
    /// `words` bits per task: bit `u` of task `v`'s row is set iff `u` is
    /// upstream of `v`.
    ancestors: Vec<u64>,
    words: usize,
    /// How each task ends.
    states: Vec<State>,
    /// For each skipped task, whether by choice (else for a failure).
    by_choice: Vec<bool>,
}

impl Oracle {
    /// The oracle of `task_count` tasks joined by `edges` (`u -> v` by id;
    /// repeats allowed), where task `v`, if it runs, ends as `ends(v)` says:
    /// Succeeded, Failed, Panicked or TimedOut.
    ///
    /// # Panics
    /// If the edges form a cycle or name a task past the last, or `ends`
    /// says anything else.
    pub fn new(task_count: usize, edges: &[(u32, u32)], ends: impl Fn(usize) -> State) -> Oracle {
        Oracle::with_triggers(
            task_count,
            edges,
            ends,
            |_| TriggerRule::AllSucceeded,
            |_| None,
        )
    }

    /// As [`Oracle::new`], where task `v` also has the trigger rule
    /// `rule_of(v)`, and, if `chosen_by(v)` is `Some`, branches to exactly
    /// those of its successors when it succeeds.
    ///
    /// A predecessor *failed* if it failed, panicked or timed out, or was
    /// skipped for such a failure; it *passed over* `v` if it was skipped
    /// by choice (a branch or a rule), or is a branch that succeeded and
    /// did not choose `v`. Then `v` runs, by its rule: every predecessor
    /// succeeded and none passed it over (`AllSucceeded`); always
    /// (`AllDone`); some predecessor failed (`OneFailed`); none failed
    /// (`NoneFailed`). A task that does not run is skipped for a failure
    /// if one reached it and its rule is not `OneFailed`, else by choice.
    pub fn with_triggers(
        task_count: usize,
        edges: &[(u32, u32)],
        ends: impl Fn(usize) -> State,
        rule_of: impl Fn(usize) -> TriggerRule,
        chosen_by: impl Fn(usize) -> Option<Vec<u32>>,
    ) -> Oracle {
        let n = task_count;
        let mut graph = DiGraph::<(), ()>::with_capacity(n, edges.len());
        for _ in 0..n {
            graph.add_node(());
        }
        let mut preds = vec![Vec::new(); n];
        for &(u, v) in edges {
            graph.add_edge(NodeIndex::new(u as usize), NodeIndex::new(v as usize), ());
            preds[v as usize].push(u);
        }
        for list in &mut preds {
            list.sort_unstable();
            list.dedup();
        }
        let order: Vec<u32> = toposort(&graph, None)
            .expect("the oracle is for DAGs")
            .into_iter()
            .map(|node| node.index() as u32)
            .collect();
        let chosen: Vec<Option<Vec<u32>>> = (0..n).map(&chosen_by).collect();
        let words = n.div_ceil(64);
        let mut ancestors = vec![0u64; n * words];
        let mut states = vec![State::Skipped; n];
        let mut by_choice = vec![false; n];
        for &v in &order {
            let v = v as usize;
            let (mut failed, mut passed_over) = (false, false);
            for &p in &preds[v] {
                let p = p as usize;
                for w in 0..words {
                    ancestors[v * words + w] |= ancestors[p * words + w];
                }
                ancestors[v * words + p / 64] |= 1 << (p % 64);
                match states[p] {
                    State::Succeeded => {
                        passed_over |= chosen[p]
                            .as_ref()
                            .is_some_and(|chosen| !chosen.contains(&(v as u32)));
                    }
                    State::Skipped if by_choice[p] => passed_over = true,
                    _ => failed = true,
                }
            }
            let runs = match rule_of(v) {
                TriggerRule::AllDone => true,
                TriggerRule::OneFailed => failed,
                TriggerRule::NoneFailed => !failed,
                _ => !failed && !passed_over,
            };
            if runs {
                let state = ends(v);
                assert!(
                    matches!(
                        state,
                        State::Succeeded | State::Failed | State::Panicked | State::TimedOut
                    ),
                    "a task that runs succeeds, fails, panics or times out, not {state:?}"
                );
                states[v] = state;
            } else {
                states[v] = State::Skipped;
                by_choice[v] = !failed || rule_of(v) == TriggerRule::OneFailed;
            }
        }
        Oracle {
            preds,
            order,
            ancestors,
            words,
            states,
            by_choice,
        }
    }

    /// Whether task `v`, skipped, was passed over by a branch or a trigger
    /// rule rather than skipped for a failure.
    pub fn skipped_by_choice(&self, v: usize) -> bool {
        self.by_choice[v]
    }

    /// The number of tasks.
    pub fn task_count(&self) -> usize {
        self.states.len()
    }

    /// How each task ends, by id.
    pub fn states(&self) -> &[State] {
        &self.states
    }

    /// Whether task `v` runs: it is not Skipped.
    pub fn runs(&self, v: usize) -> bool {
        self.states[v] != State::Skipped
    }

    /// Task `v`'s direct predecessors, sorted, without repeats: the tasks
    /// whose outputs it gets, in the order it gets them.
    pub fn predecessors(&self, v: usize) -> &[u32] {
        &self.preds[v]
    }

    /// Every task once, each after all its predecessors.
    pub fn order(&self) -> &[u32] {
        &self.order
    }

    /// Whether `u` is upstream of `v` (an ancestor, not `v` itself).
    pub fn is_ancestor(&self, u: usize, v: usize) -> bool {
        u < self.task_count() && self.ancestors[v * self.words + u / 64] & (1 << (u % 64)) != 0
    }

    /// Whether, in a run that ended in `states` (which may differ from the
    /// oracle's where the run was stopped), one of `v`'s ancestors failed or
    /// panicked: then `v` must be Skipped, for such an ancestor.
    pub fn is_doomed(&self, v: usize, states: &[State]) -> bool {
        (0..self.task_count()).any(|u| {
            self.is_ancestor(u, v)
                && matches!(states[u], State::Failed | State::Panicked | State::TimedOut)
        })
    }

    /// Whether `cause` may be named as the reason `v` was skipped, in a run
    /// that ended in `states`: it is one of `v`'s ancestors, and it failed or
    /// panicked.
    pub fn is_skip_cause(&self, cause: usize, v: usize, states: &[State]) -> bool {
        self.is_ancestor(cause, v)
            && matches!(
                states[cause],
                State::Failed | State::Panicked | State::TimedOut
            )
    }

    /// The counts the report must show.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        counts.by_choice = self.by_choice.iter().filter(|&&b| b).count();
        for state in &self.states {
            match state {
                State::Succeeded => counts.succeeded += 1,
                State::Failed => counts.failed += 1,
                State::Panicked => counts.panicked += 1,
                State::Skipped => counts.skipped += 1,
                State::TimedOut => counts.timed_out += 1,
                other => unreachable!("the oracle never says {other:?}"),
            }
        }
        counts
    }
}

/// The counts of a run, in the order `Counts` lists its fields.
pub fn counts(
    succeeded: usize,
    failed: usize,
    panicked: usize,
    skipped: usize,
    cancelled: usize,
) -> Counts {
    let mut counts = Counts::default();
    counts.succeeded = succeeded;
    counts.failed = failed;
    counts.panicked = panicked;
    counts.skipped = skipped;
    counts.cancelled = cancelled;
    counts
}
