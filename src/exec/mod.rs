//! The executor: a pool of worker threads that runs compiled graphs.

pub(crate) mod run;
mod signals;
mod sleep;
mod worker;

use std::num::NonZeroUsize;
use std::sync::{Mutex, PoisonError};

use crate::error::ExecutorError;
use crate::graph::Graph;
use crate::options::RunOptions;
use crate::report::Report;
use run::RunCore;

/// Runs graphs on a fixed set of worker threads.
///
/// Create one and keep it: starting threads is the expensive part, and runs
/// reuse them. An executor runs any number of graphs. A run holds every
/// worker until its last task ends, so runs started at once from different
/// threads take turns: the second starts when the first has finished. Tasks
/// of concurrent runs must therefore never wait on each other (give
/// independent pipelines their own executors). Parallel code inside a task
/// (`rayon::join`, `par_iter`) runs on this pool too, but the other workers
/// stay in the run's own loop and do not take rayon jobs, so it runs on the
/// task's thread alone: use a separate rayon pool for it.
///
/// Each worker takes ready tasks, runs them, and continues with the tasks
/// that became ready, stealing from other workers when it runs dry. See
/// ARCHITECTURE.md for the scheduling protocol.
#[derive(Debug)]
pub struct Executor {
    /// `None` for a one-thread executor, which runs on the calling thread.
    pool: Option<rayon::ThreadPool>,
    threads: usize,
}

impl Executor {
    /// An executor with one worker per available CPU.
    ///
    /// # Errors
    /// [`ExecutorError::ThreadPool`] if the threads cannot be started.
    pub fn new() -> Result<Executor, ExecutorError> {
        let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Executor::with_threads(threads)
    }

    /// An executor with `threads` workers. With one, runs happen on the
    /// calling thread and no thread is started.
    ///
    /// # Errors
    /// [`ExecutorError::ZeroThreads`], or [`ExecutorError::ThreadPool`] if the
    /// threads cannot be started.
    pub fn with_threads(threads: usize) -> Result<Executor, ExecutorError> {
        if threads == 0 {
            return Err(ExecutorError::ZeroThreads);
        }
        let pool = if threads > 1 {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("kahn-worker-{i}"))
                .build()?;
            Some(pool)
        } else {
            None
        };
        Ok(Executor { pool, threads })
    }

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs every task of `graph` once, with default options, and reports.
    ///
    /// A task that fails or panics does not stop the run: what depends on it
    /// is skipped, everything else runs. The report says what happened.
    pub fn run<'g, T: Send + Sync>(&self, graph: &'g Graph<'_, T>) -> Report<'g, T> {
        self.run_with(graph, &RunOptions::default())
    }

    /// Runs every task of `graph` once, as `options` say, and reports.
    ///
    /// Called from inside a task running on this same executor, the nested
    /// run uses only the calling thread (the other workers are busy with the
    /// outer run, and waiting for them would deadlock).
    pub fn run_with<'g, T: Send + Sync>(
        &self,
        graph: &'g Graph<'_, T>,
        options: &RunOptions,
    ) -> Report<'g, T> {
        let pool = self
            .pool
            .as_ref()
            .filter(|pool| pool.current_thread_index().is_none());
        let workers = pool.map_or(1, rayon::ThreadPool::current_num_threads);
        let (core, deques) = RunCore::new(graph.csr, graph.names, options, workers);
        if graph.task_count() > 0 {
            match pool {
                Some(pool) => {
                    let deques: Vec<Mutex<Option<_>>> =
                        deques.into_iter().map(|d| Mutex::new(Some(d))).collect();
                    pool.broadcast(|ctx| {
                        let deque = deques[ctx.index()]
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .take();
                        if let Some(deque) = deque {
                            worker::work(graph, &core, ctx.index(), deque);
                        }
                    });
                }
                None => {
                    let deque = deques.into_iter().next().expect("one deque per worker");
                    worker::work(graph, &core, 0, deque);
                }
            }
        }
        let wall = core.start().elapsed();
        core.into_report(wall)
    }
}

/// Runs every task of `graph` once on `threads` loom threads (the calling one
/// and `threads - 1` spawned ones), each running the worker loop that rayon's
/// broadcast runs in a normal build, and reports once all have returned.
///
/// Loom has no scoped threads, so the graph is `'static` (a model leaks it
/// once, outside `loom::model`) and the run's state is shared by an `Arc`.
/// `eager` fixes the workers' pace (see `worker::Pace`): publish work before
/// every task, or only when a peer is hungry.
#[cfg(loom)]
pub(crate) fn run_on_loom_threads<T: Send + Sync + 'static>(
    graph: &'static Graph<'static, T>,
    options: &RunOptions,
    threads: usize,
    eager: bool,
) -> Report<'static, T> {
    use std::sync::Arc;

    assert!(threads > 0, "a run needs a worker");
    let (core, deques) = RunCore::new(graph.csr, graph.names, options, threads);
    // A std `Arc`: its count is no part of the protocol, and joining the
    // threads orders their work before the report is built.
    let core = Arc::new(core);
    if graph.task_count() > 0 {
        let mut deques = deques.into_iter();
        let mine = deques.next().expect("one deque per worker");
        let others: Vec<_> = deques
            .enumerate()
            .map(|(i, deque)| {
                let core = Arc::clone(&core);
                crate::sync::thread::spawn(move || {
                    worker::work_fixed_pace(graph, &core, i + 1, deque, eager);
                })
            })
            .collect();
        worker::work_fixed_pace(graph, &core, 0, mine, eager);
        for other in others {
            if let Err(panic) = other.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
    let Ok(core) = Arc::try_unwrap(core) else {
        unreachable!("every worker has returned and dropped its handle")
    };
    let wall = core.start().elapsed();
    core.into_report(wall)
}
