//! A compiled graph that owns its arena: one value a service keeps in a struct or an `Arc` and runs many times.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use ouroboros::self_referencing;

use crate::arena::Arena;
use crate::builder::GraphBuilder;
use crate::error::{BuildError, ResumeError};
use crate::exec::Executor;
use crate::graph::Graph;
use crate::options::RunOptions;
use crate::report::Report;

/// The self-reference: the graph borrows the arena it was built in.
#[self_referencing]
struct Cell<T: 'static> {
    /// In a `Mutex` only so the whole is `Sync` (a `Bump` is not): the
    /// graph borrows it mutably for as long as it lives, so it is never
    /// locked, only unwrapped (`get_mut`, `into_inner`).
    arena: Mutex<Arena>,
    #[borrows(mut arena)]
    #[not_covariant]
    graph: Graph<'this, T>,
}

/// A compiled [`Graph`] together with the [`Arena`] it lives in (feature
/// `owned`).
///
/// A `Graph` borrows its arena, so a struct cannot hold both; this type
/// does. It is `Send + Sync`: keep it in a service's state or in an `Arc`,
/// run it from any thread, as often and as concurrently as a `Graph`.
/// Reports borrow it as they borrow a graph. Its task bodies own what they
/// capture (`'static`). The arena comes back for the next graph
/// [on demand](Self::into_arena), or, for a graph built from an
/// [`ArenaPool`], into the pool when the graph is dropped (by whichever
/// thread drops the last `Arc`).
///
/// ```
/// use std::sync::Arc;
/// use kahn::{Arena, Executor, OwnedGraph, RunOptions};
///
/// struct Service {
///     pipeline: Arc<OwnedGraph<u64>>,
///     executor: Executor,
/// }
///
/// let pipeline = OwnedGraph::build(Arena::new(), |b| {
///     b.task("extract", |ctx| Ok(*ctx.run_input::<u64>()?))?;
///     b.task("double", |ctx| Ok(ctx.input("extract")? * 2))?;
///     b.edge("extract", "double")?;
///     Ok::<(), kahn::BuildError>(())
/// })?;
/// let service = Service { pipeline: Arc::new(pipeline), executor: Executor::with_threads(2)? };
///
/// let shared = Arc::clone(&service.pipeline);
/// let other = std::thread::spawn(move || {
///     let executor = Executor::with_threads(1).unwrap();
///     *shared.run_with(&executor, &RunOptions::new().input(5_u64)).output("double").unwrap()
/// });
/// let report = service.pipeline.run_with(&service.executor, &RunOptions::new().input(21_u64));
/// assert_eq!(report.output("double"), Some(&42));
/// assert_eq!(other.join().unwrap(), 10);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct OwnedGraph<T: 'static> {
    /// `None` only while dropping, when the arena goes back to its pool.
    cell: Option<Cell<T>>,
    pool: Option<ArenaPool>,
}

impl<T: 'static> OwnedGraph<T> {
    /// Builds a graph into `arena` (rewound first, as
    /// [`Arena::builder`] does): `describe` adds the tasks and edges, then
    /// the graph is compiled.
    ///
    /// # Errors
    /// What `describe` returns, or the [`BuildError`] of
    /// [`GraphBuilder::build`], converted into `E`. The arena is dropped.
    pub fn build<E, F>(arena: Arena, describe: F) -> Result<OwnedGraph<T>, E>
    where
        F: FnOnce(&mut GraphBuilder<'_, T>) -> Result<(), E>,
        E: From<BuildError>,
    {
        let cell = Cell::try_new(Mutex::new(arena), |arena| -> Result<_, E> {
            let arena = arena.get_mut().unwrap_or_else(PoisonError::into_inner);
            let mut builder = arena.builder::<T>();
            describe(&mut builder)?;
            Ok(builder.build()?)
        })?;
        Ok(OwnedGraph {
            cell: Some(cell),
            pool: None,
        })
    }

    /// [`build`](Self::build) in an arena from `pool`, to which the arena
    /// goes back when this graph is dropped.
    ///
    /// # Errors
    /// As [`build`](Self::build); the arena is dropped, not returned.
    pub fn build_in<E, F>(pool: &ArenaPool, describe: F) -> Result<OwnedGraph<T>, E>
    where
        F: FnOnce(&mut GraphBuilder<'_, T>) -> Result<(), E>,
        E: From<BuildError>,
    {
        let mut graph = OwnedGraph::build(pool.take(), describe)?;
        graph.pool = Some(pool.clone());
        Ok(graph)
    }

    fn cell(&self) -> &Cell<T> {
        match &self.cell {
            Some(cell) => cell,
            None => unreachable!("kahn: an OwnedGraph used while it was dropped"),
        }
    }

    /// Calls `f` with the graph: for [`find`](Graph::find),
    /// [`task_count`](Graph::task_count) and the rest of `Graph`'s API.
    pub fn with_graph<R>(&self, f: impl FnOnce(&Graph<'_, T>) -> R) -> R {
        self.cell().with_graph(f)
    }

    /// The number of tasks.
    pub fn task_count(&self) -> usize {
        self.with_graph(|graph| graph.task_count())
    }

    /// Gives the arena back, for the next graph; the graph and its task
    /// closures are dropped.
    pub fn into_arena(mut self) -> Arena {
        self.pool = None;
        let cell = self.cell.take().expect("not dropped yet");
        let arena = cell.into_heads().arena;
        arena.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: Send + Sync + 'static> OwnedGraph<T> {
    /// [`Executor::run`] of this graph.
    pub fn run<'s>(&'s self, executor: &Executor) -> Report<'s, T> {
        self.cell().with_graph(|graph| executor.run(graph))
    }

    /// [`Executor::run_with`] of this graph.
    pub fn run_with<'s>(&'s self, executor: &Executor, options: &RunOptions) -> Report<'s, T> {
        self.cell()
            .with_graph(|graph| executor.run_with(graph, options))
    }

    /// [`Executor::resume_with`] of this graph.
    ///
    /// # Errors
    /// [`ResumeError::OtherGraph`] if `earlier` is not a report of this graph.
    pub fn resume_with<'s>(
        &'s self,
        executor: &Executor,
        earlier: Report<'s, T>,
        options: &RunOptions,
    ) -> Result<Report<'s, T>, ResumeError> {
        self.cell()
            .with_graph(|graph| executor.resume_with(graph, earlier, options))
    }
}

impl<T: 'static> Drop for OwnedGraph<T> {
    fn drop(&mut self) {
        if let (Some(pool), Some(cell)) = (self.pool.take(), self.cell.take()) {
            let arena = cell.into_heads().arena;
            pool.give(arena.into_inner().unwrap_or_else(PoisonError::into_inner));
        }
    }
}

impl<T: 'static> fmt::Debug for OwnedGraph<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_graph(|graph| f.debug_tuple("OwnedGraph").field(graph).finish())
    }
}

/// Arenas waiting to be reused (feature `owned`): an [`OwnedGraph`] built
/// with [`OwnedGraph::build_in`] gives its arena back here when dropped,
/// so a service that rebuilds its graphs (a configuration reload) reuses
/// their memory. Cloning shares the pool.
#[derive(Clone, Default)]
pub struct ArenaPool {
    arenas: Arc<Mutex<Vec<Arena>>>,
}

impl ArenaPool {
    /// An empty pool.
    pub fn new() -> ArenaPool {
        ArenaPool::default()
    }

    /// An arena from the pool, or a new one if it is empty.
    pub fn take(&self) -> Arena {
        self.lock().pop().unwrap_or_default()
    }

    /// Puts `arena` in the pool.
    pub fn give(&self, arena: Arena) {
        self.lock().push(arena);
    }

    /// Arenas in the pool now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the pool has no arena now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arena>> {
        self.arenas.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for ArenaPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArenaPool")
            .field("arenas", &self.len())
            .finish()
    }
}
