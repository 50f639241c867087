//! The `edge_list` fuzz input: the bulk path for generated graphs, `add_task` × n then `edges` with raw `u32` pairs, under any limits and reservations.

use std::fmt;
use std::sync::atomic::AtomicU32;

use arbitrary::Arbitrary;
use kahn::{Arena, TaskId};

use super::ensure;
use super::reference::{record_order, Model};

/// A task count, an edge list by raw id, and the knobs an application would
/// set from the same untrusted input.
#[derive(Clone, Arbitrary)]
pub struct EdgeListCase {
    /// `max_tasks(limit)` before anything is added.
    pub max_tasks: Option<usize>,
    /// `max_edges(limit)` before anything is added.
    pub max_edges: Option<usize>,
    /// `reserve(tasks, edges)` after the limits.
    pub reserve: Option<(usize, usize)>,
    /// How many unnamed tasks to add (stopping at the first error); a `u8`
    /// keeps runs fast, and ids past it are what `edges` must reject.
    pub tasks: u8,
    /// Where to split the edge list into two `edges` calls, if anywhere.
    pub split: Option<u16>,
    /// The edges, by raw task id.
    pub edges: Vec<(u32, u32)>,
}

impl fmt::Debug for EdgeListCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "let case = EdgeListCase {{ max_tasks: {:?}, max_edges: {:?}, reserve: {:?}, \
             tasks: {}, split: {:?}, edges: vec!{:?} }};",
            self.max_tasks, self.max_edges, self.reserve, self.tasks, self.split, self.edges
        )
    }
}

/// Builds the graph as a generated-graph loader would, predicting every
/// call's result with the model, and checks the graph or the cycle.
pub fn check(case: &EdgeListCase) -> Result<(), String> {
    let order: Vec<AtomicU32> = (0..case.tasks).map(|_| AtomicU32::new(0)).collect();
    let clock = AtomicU32::new(0);
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let mut model = Model::new();
    if let Some(limit) = case.max_tasks {
        b.max_tasks(limit);
        model.max_tasks(limit);
    }
    if let Some(limit) = case.max_edges {
        b.max_edges(limit);
        model.max_edges(limit);
    }
    if let Some((tasks, edges)) = case.reserve {
        b.reserve(tasks, edges);
    }
    for i in 0..case.tasks {
        let got = b.add_task(record_order(&order, &clock));
        let expected = model.add_task();
        ensure!(
            got == expected,
            "add_task #{i}: got {got:?}, expected {expected:?}"
        );
        if got.is_err() {
            break;
        }
    }
    let split = case
        .split
        .map_or(case.edges.len(), |at| usize::from(at).min(case.edges.len()));
    let (first, second) = case.edges.split_at(split);
    for part in [first, second] {
        let got = b.edges(part.iter().map(|&(u, v)| (TaskId::new(u), TaskId::new(v))));
        let expected = model.edges(part);
        ensure!(got == expected, "edges: got {got:?}, expected {expected:?}");
        ensure!(
            b.edge_count() == model.edge_count(),
            "the builder holds {} edges, expected {}",
            b.edge_count(),
            model.edge_count()
        );
        if got.is_err() {
            break;
        }
    }
    ensure!(
        b.task_count() == model.task_count(),
        "the builder holds {} tasks, expected {}",
        b.task_count(),
        model.task_count()
    );
    model.check_build(b.build(), &order)
}
