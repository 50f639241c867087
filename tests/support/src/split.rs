//! Graphs to split over workers and the check that a split run ended as the whole run: shared by the part-run tests and kahn-timely's tests.
//!
//! A [`SplitCase`] is a random DAG, from one seed, whose tasks fail,
//! panic, branch and carry trigger rules, with a random owner for each task.
//! Built the same way in every process from the same seed, it is what a
//! multi-process test runs; [`same_run`] says whether a split run's report
//! is the whole run's.

use kahn::{Arena, Graph, Report, Skip, State, TaskContext, TaskId, TriggerRule};
use kahn_bench::shapes::SplitMix64;

/// How a task of a [`SplitCase`] ends when it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// It returns its output.
    Succeed,
    /// It returns an error.
    Fail,
    /// It panics.
    Panic,
}

/// A DAG whose tasks end as their fates say, some with trigger rules, some
/// branching (choosing the successors whose hash with `choice` is even),
/// and the part that runs each task.
#[derive(Debug, Clone)]
pub struct SplitCase {
    /// Tasks.
    pub n: usize,
    /// Edges, from a lower rank to a higher one (ranks are a permutation of
    /// the ids, so ids are not a topological order).
    pub edges: Vec<(u32, u32)>,
    /// How each task ends when it runs.
    pub fates: Vec<Fate>,
    /// Each task's trigger rule.
    pub rules: Vec<TriggerRule>,
    /// Which tasks branch.
    pub branching: Vec<bool>,
    /// Salt of the branching tasks' choices.
    pub choice: u64,
    /// The part of each task, below `parts`.
    pub owner: Vec<usize>,
    /// How many parts.
    pub parts: usize,
}

impl SplitCase {
    /// The case of `seed`: up to `max_n` tasks, about three edges a task,
    /// over `parts` parts.
    pub fn from_seed(seed: u64, max_n: usize, parts: usize) -> SplitCase {
        let mut rng = SplitMix64(seed);
        let n = (rng.next_u64() % (max_n as u64 + 1)) as usize;
        let mut ranks: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            ranks.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        let edges = (0..3 * n)
            .filter_map(|_| {
                let (a, b) = (
                    (rng.next_u64() % n as u64) as usize,
                    (rng.next_u64() % n as u64) as usize,
                );
                (a != b).then(|| (ranks[a.min(b)], ranks[a.max(b)]))
            })
            .collect();
        let mut pick = |m: u64| rng.next_u64() % m;
        let fates = (0..n)
            .map(|_| match pick(100) {
                0..=4 => Fate::Fail,
                5..=7 => Fate::Panic,
                _ => Fate::Succeed,
            })
            .collect();
        let rules = (0..n)
            .map(|_| match pick(10) {
                0 => TriggerRule::AllDone,
                1 => TriggerRule::NoneFailed,
                2 => TriggerRule::OneFailed,
                _ => TriggerRule::AllSucceeded,
            })
            .collect();
        let branching = (0..n).map(|_| pick(8) == 0).collect();
        let owner = (0..n).map(|_| pick(parts as u64) as usize).collect();
        SplitCase {
            n,
            edges,
            fates,
            rules,
            branching,
            choice: pick(u64::MAX),
            owner,
            parts,
        }
    }

    /// Builds the case: each task's output mixes its id with its inputs;
    /// a failing task returns an error, a panicking one unwinds (without
    /// the panic hook, so nothing prints).
    pub fn build<'a>(&self, arena: &'a mut Arena) -> Graph<'a, u64> {
        let mut successors = vec![Vec::new(); self.n];
        for &(u, v) in &self.edges {
            successors[u as usize].push(TaskId::new(v));
        }
        let mut b = arena.builder::<u64>();
        for (v, successors) in successors.iter().enumerate() {
            let fate = self.fates[v];
            let chosen: Vec<TaskId> = successors
                .iter()
                .copied()
                .filter(|w| mix(self.choice, w.index() as u64).is_multiple_of(2))
                .collect();
            let branching = self.branching[v];
            b.unnamed_task(move |ctx: &TaskContext<'_, u64>| {
                let mut h = mix(0, v as u64);
                for (p, x) in ctx.inputs() {
                    h = mix(mix(h, p.index() as u64), *x);
                }
                if branching {
                    ctx.branch(chosen.iter().copied())?;
                }
                match fate {
                    Fate::Succeed => Ok(h),
                    Fate::Fail => Err(format!("task {v} fails").into()),
                    Fate::Panic => std::panic::resume_unwind(Box::new(format!("task {v} panics"))),
                }
            })
            .expect("unnamed tasks are always accepted");
        }
        b.edges(
            self.edges
                .iter()
                .map(|&(u, v)| (TaskId::new(u), TaskId::new(v))),
        )
        .expect("the edges join tasks of the graph");
        for v in 0..self.n {
            let task = TaskId::new(v as u32);
            b.trigger_rule(task, self.rules[v])
                .expect("a task of the graph");
            if self.branching[v] {
                b.branching(task).expect("a task of the graph");
            }
        }
        b.build()
            .expect("edges go from lower ranks to higher: no cycle")
    }
}

/// A 64-bit mixing step (splitmix64's finalizer over `h` and `x`).
fn mix(h: u64, x: u64) -> u64 {
    let mut z = h.rotate_left(23) ^ x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Whether `part`, a report of a split run of `graph`, ended as `whole`,
/// its run in one piece: every task in the same state, every output
/// `part` holds equal to `whole`'s, and every task `owned` by the part
/// holding its output. A skip is for a failure in both or for a choice in
/// both; the deciding task may differ where several reach a task (a report
/// names whichever reached it first, in one piece as in parts), but must
/// be one that decides it: an ancestor (or the task itself, for its own
/// rule) that failed, branched, or whose rule did not hold.
///
/// # Errors
/// The first difference, in words.
pub fn same_run(
    graph: &Graph<'_, u64>,
    whole: &Report<'_, u64>,
    part: &Report<'_, u64>,
    owned: impl Fn(TaskId) -> bool,
) -> Result<(), String> {
    for (w, p) in whole.tasks().zip(part.tasks()) {
        let task = w.id;
        let (ws, ps) = (w.outcome.state(), p.outcome.state());
        let same_kind = match (w.outcome.skip(), p.outcome.skip()) {
            (None, None) => true,
            (Some(a), Some(b)) => by_failure(a) == by_failure(b) && decides(graph, whole, task, b),
            _ => false,
        };
        if ws != ps || !same_kind {
            return Err(format!(
                "task {task}: {ws:?} ({:?}) in the whole run, {ps:?} ({:?}) in the part",
                w.outcome.skip(),
                p.outcome.skip()
            ));
        }
        match (whole.output(task), part.output(task)) {
            (Some(a), Some(b)) if a != b => {
                return Err(format!("task {task}: output {a} whole, {b} in the part"))
            }
            (Some(_), None) if owned(task) => {
                return Err(format!("task {task}: the part that ran it lost its output"))
            }
            (None, Some(_)) => return Err(format!("task {task}: an output the whole run has not")),
            _ => {}
        }
    }
    if whole.counts() != part.counts() {
        return Err(format!(
            "counts {:?} whole, {:?} in the part",
            whole.counts(),
            part.counts()
        ));
    }
    Ok(())
}

fn by_failure(skip: Skip) -> bool {
    matches!(skip, Skip::UpstreamFailed(_))
}

/// Whether `skip` can be why `task` was skipped: its deciding task is the
/// task itself or an ancestor, and ended as that kind of skip needs.
fn decides(graph: &Graph<'_, u64>, whole: &Report<'_, u64>, task: TaskId, skip: Skip) -> bool {
    let by = skip.task();
    let state = whole.state(by);
    let kind = match skip {
        Skip::UpstreamFailed(_) => {
            matches!(
                state,
                Some(State::Failed | State::Panicked | State::TimedOut)
            )
        }
        Skip::BranchNotTaken(_) => state == Some(State::Succeeded) && graph.is_branching(by),
        _ => true,
    };
    kind && (by == task || is_ancestor(graph, by, task))
}

fn is_ancestor(graph: &Graph<'_, u64>, of: TaskId, task: TaskId) -> bool {
    let mut seen = vec![false; graph.task_count()];
    let mut todo = vec![task];
    while let Some(v) = todo.pop() {
        for p in graph.predecessors(v) {
            if p == of {
                return true;
            }
            if !std::mem::replace(&mut seen[p.index()], true) {
                todo.push(p);
            }
        }
    }
    false
}
