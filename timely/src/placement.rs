//! Which worker runs which task: contiguous blocks of a topological order by default, or a function the user gives.

use std::fmt;
use std::sync::Arc;

use kahn::{Graph, TaskId};

use crate::error::DistributedError;

/// Which worker runs each task of a graph.
///
/// Every worker computes the placement itself, from the graph it built, so
/// it must be a deterministic function of the graph and the number of
/// workers: the workers compare a hash of it before any task runs.
#[derive(Clone, Default)]
pub enum Placement {
    /// Contiguous blocks of one topological order (Kahn's, ties by id), of
    /// equal task counts: worker 0 the first block, and so on. Dependent
    /// tasks stay together, and an edge crosses workers only where the
    /// order does: a chain is cut once per worker, a layered graph between
    /// bands of layers, independent tasks never.
    #[default]
    Blocks,
    /// The user's function: `(task, workers) -> worker`.
    Custom(Arc<dyn Fn(TaskId, usize) -> usize + Send + Sync>),
}

impl Placement {
    /// Contiguous blocks of a topological order (the default).
    pub fn blocks() -> Placement {
        Placement::Blocks
    }

    /// The user's placement: `place(task, workers)` is the worker that runs
    /// `task`, below `workers`.
    pub fn with(place: impl Fn(TaskId, usize) -> usize + Send + Sync + 'static) -> Placement {
        Placement::Custom(Arc::new(place))
    }

    /// The worker of each task, by id, for `workers` workers.
    ///
    /// # Errors
    /// [`DistributedError::PlacedOutside`] if a custom placement names a
    /// worker that does not exist.
    pub fn assign<T>(
        &self,
        graph: &Graph<'_, T>,
        workers: usize,
    ) -> Result<Vec<u32>, DistributedError> {
        let workers = workers.max(1);
        match self {
            Placement::Blocks => Ok(blocks(graph, workers)),
            Placement::Custom(place) => (0..graph.task_count())
                .map(|v| {
                    let task = TaskId::new(v as u32);
                    let worker = place(task, workers);
                    if worker < workers {
                        Ok(worker as u32)
                    } else {
                        Err(DistributedError::PlacedOutside {
                            task: kahn::TaskLabel::new(task, graph.name(task)),
                            worker,
                            workers,
                        })
                    }
                })
                .collect(),
        }
    }
}

impl fmt::Debug for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Placement::Blocks => f.write_str("Blocks"),
            Placement::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// Kahn's topological order, ready tasks taken by id, cut into `workers`
/// blocks whose sizes differ by one at most.
fn blocks<T>(graph: &Graph<'_, T>, workers: usize) -> Vec<u32> {
    let n = graph.task_count();
    let mut pending: Vec<usize> = (0..n)
        .map(|v| graph.predecessors(TaskId::new(v as u32)).len())
        .collect();
    let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<u32>> = (0..n as u32)
        .filter(|&v| pending[v as usize] == 0)
        .map(std::cmp::Reverse)
        .collect();
    let mut owner = vec![0u32; n];
    let mut at = 0usize;
    while let Some(std::cmp::Reverse(v)) = ready.pop() {
        // Block b holds positions [b·n/w, (b+1)·n/w).
        owner[v as usize] = (at * workers / n.max(1)) as u32;
        at += 1;
        for w in graph.successors(TaskId::new(v)) {
            pending[w.index()] -= 1;
            if pending[w.index()] == 0 {
                ready.push(std::cmp::Reverse(w.index() as u32));
            }
        }
    }
    owner
}

/// How many of `graph`'s edges join tasks on different workers under
/// `owner`: the edges whose outcome (and perhaps output) crosses.
pub fn cut_edges<T>(graph: &Graph<'_, T>, owner: &[u32]) -> usize {
    (0..graph.task_count())
        .map(|v| {
            let task = TaskId::new(v as u32);
            graph
                .successors(task)
                .filter(|w| owner[w.index()] != owner[v])
                .count()
        })
        .sum()
}
