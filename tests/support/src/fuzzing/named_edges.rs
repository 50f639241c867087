//! The `named_edges` fuzz input: tasks added by name (some unnamed, some names taken twice, some through `tasks` in bulk), then edge lists by name through `edges_by_name`; each bulk call must do exactly what one call per item does.

use std::fmt;
use std::sync::atomic::AtomicU32;

use arbitrary::Arbitrary;
use kahn::{Arena, TaskRef};

use super::ensure;
use super::reference::{record_order, Model};

/// Tasks by name, edge lists by name, and a limit.
#[derive(Clone, Arbitrary)]
pub struct NamedEdgesCase {
    /// `max_edges(limit)` before anything is added.
    pub max_edges: Option<u16>,
    /// `reserve(tasks, edges)` before the tasks.
    pub reserve: Option<(u16, u16)>,
    /// `max_tasks(limit)` before anything is added.
    pub max_tasks: Option<u8>,
    /// One task per entry: named [`name`]`(i)` for `Some(i)` (so names can
    /// repeat, and be rejected), unnamed for `None`.
    pub tasks: Vec<Option<u8>>,
    /// The tasks before this index go in bulk: each run of named ones in
    /// one `tasks` call.
    pub in_bulk: u16,
    /// Where to split the edge list into two `edges_by_name` calls.
    pub split: Option<u16>,
    /// The edges, as [`name`] indices: names no task took are unknown.
    pub edges: Vec<(u8, u8)>,
}

/// The name of index `i`: lengths from 1 to 24 bytes, all distinct.
pub fn name(i: u8) -> String {
    let stem = ["n", "load_", "extract_customers_"][usize::from(i % 3)];
    format!("{stem}{i}")
}

impl fmt::Debug for NamedEdgesCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "let case = NamedEdgesCase {{ max_edges: {:?}, reserve: {:?}, max_tasks: {:?}, \
             tasks: vec!{:?}, in_bulk: {}, split: {:?}, edges: vec!{:?} }};",
            self.max_edges,
            self.reserve,
            self.max_tasks,
            self.tasks,
            self.in_bulk,
            self.split,
            self.edges
        )
    }
}

/// Adds the tasks and the edge lists, predicting every call with the model
/// (an edge list as one `edge` per pair, up to the first error), and checks
/// the graph or the cycle.
pub fn check(case: &NamedEdgesCase) -> Result<(), String> {
    let order: Vec<AtomicU32> = case.tasks.iter().map(|_| AtomicU32::new(0)).collect();
    let clock = AtomicU32::new(0);
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let mut model = Model::new();
    if let Some(limit) = case.max_edges {
        b.max_edges(limit.into());
        model.max_edges(limit.into());
    }
    if let Some((tasks, edges)) = case.reserve {
        b.reserve(tasks.into(), edges.into());
    }
    if let Some(limit) = case.max_tasks {
        b.max_tasks(limit.into());
        model.max_tasks(limit.into());
    }
    let in_bulk = usize::from(case.in_bulk).min(case.tasks.len());
    let mut i = 0;
    while i < case.tasks.len() {
        let run = case.tasks[i..]
            .iter()
            .take_while(|task| task.is_some())
            .count();
        if i < in_bulk && run > 0 {
            // A run of named tasks, in one `tasks` call.
            let names: Vec<String> = case.tasks[i..i + run]
                .iter()
                .map(|task| name(task.expect("a named run")))
                .collect();
            let got = b.tasks(
                names
                    .iter()
                    .map(|name| (name.as_str(), record_order(&order, &clock))),
            );
            let expected = names.iter().try_for_each(|name| model.task(name).map(drop));
            ensure!(
                got == expected,
                "tasks #{i}..: got {got:?}, expected {expected:?}"
            );
            ensure!(
                b.task_count() == model.task_count(),
                "the builder holds {} tasks, expected {}",
                b.task_count(),
                model.task_count()
            );
            i += run;
            continue;
        }
        let (got, expected) = match case.tasks[i] {
            Some(index) => {
                let name = name(index);
                (
                    b.task(&name, record_order(&order, &clock)),
                    model.task(&name),
                )
            }
            None => (
                b.unnamed_task(record_order(&order, &clock)),
                model.unnamed_task(),
            ),
        };
        ensure!(
            got == expected,
            "task #{i}: got {got:?}, expected {expected:?}"
        );
        i += 1;
    }
    let names: Vec<(String, String)> = case
        .edges
        .iter()
        .map(|&(from, to)| (name(from), name(to)))
        .collect();
    let split = case
        .split
        .map_or(names.len(), |at| usize::from(at).min(names.len()));
    let (first, second) = names.split_at(split);
    for part in [first, second] {
        let got = b.edges_by_name(part.iter().map(|(a, b)| (a.as_str(), b.as_str())));
        let expected = part
            .iter()
            .try_for_each(|(from, to)| model.edge(TaskRef::Name(from), TaskRef::Name(to)));
        ensure!(
            got == expected,
            "edges_by_name: got {got:?}, expected {expected:?}"
        );
        ensure!(
            b.edge_count() == model.edge_count(),
            "the builder holds {} edges, expected {}",
            b.edge_count(),
            model.edge_count()
        );
    }
    model.check_build(b.build(), &order)
}
