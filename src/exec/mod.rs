//! The executor: a rayon pool whose threads run compiled graphs, any number
//! of runs at once, sharing the threads.

mod fence;
mod observed;
mod registry;
mod releases;
mod retries;
pub(crate) mod run;
mod seat;
mod signals;
mod sleep;
mod worker;

use std::num::NonZeroUsize;
use std::sync::Arc;

use crate::error::{ExecutorError, PartError, ResumeError};
use crate::graph::Graph;
use crate::options::RunOptions;
use crate::part::{Part, PartRun, RemoteFeed, Settled};
use crate::report::{GraphKey, Report, Resumable};
#[cfg(loom)]
pub use registry::ListedRun;
use registry::{Departure, Listing, Participate, Shared};
#[cfg(loom)]
pub use run::DryRun;
use run::{GraphParts, RunCore, Waiting};
use signals::Signals;
use worker::Participation;

/// Runs graphs on a fixed set of worker threads.
///
/// Create one and keep it: starting threads is the expensive part, and runs
/// reuse them. An executor runs any number of graphs, and any number of runs
/// at once: runs started from different threads share the workers (a run
/// started while others are running gets idle workers right away, and
/// workers rotate between runs at task boundaries when there are more runs
/// than workers). Tasks always run on the executor's threads, never on the
/// thread that called [`run`](Self::run), which waits; handing a run to a
/// pool thread and its end back costs a few microseconds a run (about 3 µs
/// on the machine of BENCHMARKS.md), which only graphs of a few hundred
/// empty tasks notice.
///
/// The threads are a [rayon] pool, and a worker that has no graph work
/// returns to it: parallel code inside a task (`rayon::join`, `par_iter`)
/// spreads over the executor's idle threads. A run started from inside a
/// task of the same executor works on the calling thread and takes idle
/// workers too.
///
/// Each worker takes ready tasks, runs them, and continues with the tasks
/// that became ready, stealing from other workers when it runs dry. A task
/// that becomes ready while every other worker is busy is not hidden from a
/// worker that becomes idle: see ARCHITECTURE.md for the protocol, and the
/// README for the latency bound.
#[derive(Debug)]
pub struct Executor {
    shared: Arc<Shared>,
}

impl Executor {
    /// The most worker threads an executor may have. A DAG run gains
    /// nothing from more threads than cores, and each worker is an operating
    /// system thread.
    pub const MAX_THREADS: usize = 1024;

    /// An executor with one worker per available CPU.
    ///
    /// # Errors
    /// [`ExecutorError::ThreadPool`] if the threads cannot be started.
    pub fn new() -> Result<Executor, ExecutorError> {
        let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Executor::with_threads(threads.min(Executor::MAX_THREADS))
    }

    /// An executor with `threads` workers.
    ///
    /// # Errors
    /// [`ExecutorError::ZeroThreads`], [`ExecutorError::TooManyThreads`]
    /// above [`MAX_THREADS`](Self::MAX_THREADS), or
    /// [`ExecutorError::ThreadPool`] if the threads cannot be started.
    pub fn with_threads(threads: usize) -> Result<Executor, ExecutorError> {
        if threads == 0 {
            return Err(ExecutorError::ZeroThreads);
        }
        if threads > Executor::MAX_THREADS {
            return Err(ExecutorError::TooManyThreads {
                requested: threads,
                limit: Executor::MAX_THREADS,
            });
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("kahn-worker-{i}"))
            .build()?;
        Ok(Executor {
            shared: Arc::new(Shared::new(pool)),
        })
    }

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.shared.threads()
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
    /// The calling thread waits; called from inside a task running on this
    /// same executor, it works on the nested run itself (so a nested run
    /// cannot deadlock), and idle workers join it.
    pub fn run_with<'g, T: Send + Sync>(
        &self,
        graph: &'g Graph<'_, T>,
        options: &RunOptions,
    ) -> Report<'g, T> {
        self.run_core(graph, options, None, None)
    }

    /// Runs again what an earlier run of `graph` did not finish, with
    /// default options: "clear what failed and what is downstream of it,
    /// and rerun". See [`resume_with`](Self::resume_with).
    ///
    /// # Errors
    /// [`ResumeError::OtherGraph`] if `earlier` is not a report of `graph`.
    pub fn resume<'g, T: Send + Sync>(
        &self,
        graph: &'g Graph<'_, T>,
        earlier: Report<'g, T>,
    ) -> Result<Report<'g, T>, ResumeError> {
        self.resume_with(graph, earlier, &RunOptions::default())
    }

    /// Runs, as `options` say, every task of `graph` that did not succeed
    /// in the run `earlier` reports (failed, panicked, timed out, skipped,
    /// cancelled) and every task downstream of one; the tasks that
    /// succeeded upstream of those are *carried over*: their outputs move
    /// from `earlier` into the new report, they do not run again, and the
    /// tasks that run read them as inputs as usual.
    /// [`Report::carried_over`] says which; [`Counts::carried_over`] how
    /// many. Resuming a run that fully succeeded runs nothing; a resumed
    /// run can be resumed in turn.
    ///
    /// A task downstream of a rerun task runs again even if it succeeded
    /// (an `AllDone` cleanup after a failure, say): its inputs change.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    /// let fixed = AtomicBool::new(false);
    /// let extracts = AtomicU32::new(0);
    /// let mut arena = kahn::Arena::new();
    /// let mut b = arena.builder::<u32>();
    /// b.task("extract", |_| Ok(extracts.fetch_add(1, Ordering::SeqCst) + 40))?;
    /// b.task("parse", |ctx| {
    ///     if !fixed.load(Ordering::SeqCst) {
    ///         return Err("partition 7 is malformed".into());
    ///     }
    ///     Ok(ctx.input("extract")? + 2)
    /// })?;
    /// b.edge("extract", "parse")?;
    /// let graph = b.build()?;
    /// let executor = kahn::Executor::with_threads(2)?;
    ///
    /// let first = executor.run(&graph);
    /// assert!(!first.is_success());
    /// fixed.store(true, Ordering::SeqCst); // someone repairs the partition
    /// let second = executor.resume(&graph, first)?;
    /// assert!(second.is_success());
    /// assert_eq!(second.output("parse"), Some(&42));
    /// assert!(second.carried_over("extract"));
    /// assert_eq!(extracts.load(Ordering::SeqCst), 1, "extract ran once");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`ResumeError::OtherGraph`] if `earlier` is not a report of `graph`
    /// ([`Report::is_of`] tells beforehand); `earlier` is dropped.
    ///
    /// [`Report::carried_over`]: crate::Report::carried_over
    /// [`Counts::carried_over`]: crate::Counts::carried_over
    /// [`Report::is_of`]: crate::Report::is_of
    pub fn resume_with<'g, T: Send + Sync>(
        &self,
        graph: &'g Graph<'_, T>,
        earlier: Report<'g, T>,
        options: &RunOptions,
    ) -> Result<Report<'g, T>, ResumeError> {
        if !earlier.is_of(graph) {
            return Err(ResumeError::OtherGraph {
                report_tasks: earlier.task_count(),
                graph_tasks: graph.task_count(),
            });
        }
        Ok(self.run_core(graph, options, Some(earlier.into_resumable()), None))
    }

    /// Runs the tasks of `graph` that `part` owns, while the others run
    /// elsewhere: the hook a distributed run is built on (the
    /// `kahn-timely` crate runs a graph across processes with it).
    ///
    /// A remote task is never run here: its outcome is delivered, from
    /// any thread, to `feed`, and then counts here as if it had ended
    /// here: an owned task waits for its remote predecessors, reads their
    /// outputs, and is skipped for their failures (or run, as its trigger
    /// rule says), and a remote failure under fail-fast or a remote stop
    /// stops this run too. Each owned task's end, with its output, is told
    /// to `outbox` on the worker that ran it, before its successors are
    /// released. The run returns once every task of the graph has an
    /// outcome here, so its report is the whole run's: the outputs in it
    /// are the owned tasks' and the remote ones that were delivered with
    /// one. The outbox runs on the executor's workers: it should hand the
    /// end on (to a channel, say) rather than block.
    ///
    /// ```
    /// use kahn::{Part, RemoteFeed, RemoteOutcome, Settled, TaskId};
    /// let mut arena = kahn::Arena::new();
    /// let mut b = arena.builder::<u32>();
    /// b.task("extract", |_| Ok(40))?;
    /// b.task("load", |ctx| Ok(ctx.input("extract")? + 2))?;
    /// b.edge("extract", "load")?;
    /// let graph = b.build()?;
    /// let extract = graph.find("extract").unwrap();
    ///
    /// // This process runs `load`; `extract` ran elsewhere and sent 40.
    /// let part = graph.part(|task| task != extract);
    /// let feed = std::sync::Arc::new(graph.remote_feed(&part));
    /// feed.deliver(extract, RemoteOutcome::Succeeded { output: Some(40), chose: None })?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let outbox = move |settled: Settled<'_, u32>| {
    ///     let _ = tx.send((settled.task, settled.output.copied()));
    /// };
    /// let executor = kahn::Executor::with_threads(2)?;
    /// let report = executor.run_part(&graph, &kahn::RunOptions::new(), &part, feed, outbox)?;
    /// assert_eq!(report.output("load"), Some(&42));
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [(TaskId::new(1), Some(42))]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`PartError::OtherGraph`] if `part` or `feed` was made for another
    /// graph; [`PartError::FeedUsed`] if `feed` served a run already.
    pub fn run_part<'g, T: Send + Sync>(
        &self,
        graph: &'g Graph<'_, T>,
        options: &RunOptions,
        part: &Part,
        feed: Arc<RemoteFeed<'g, T>>,
        outbox: impl Fn(Settled<'_, T>) + Send + Sync + 'g,
    ) -> Result<Report<'g, T>, PartError> {
        let key = GraphKey::of(&graph.csr);
        if !part.is_of(key) || !feed.is_of(key, part) {
            return Err(PartError::OtherGraph);
        }
        if !feed.take_for_run() {
            return Err(PartError::FeedUsed);
        }
        let run = PartRun {
            feed,
            outbox: Box::new(outbox),
        };
        Ok(self.run_core(graph, options, None, Some((part, run))))
    }

    /// A run of `graph`, resuming from `earlier`'s outputs if given.
    fn run_core<'g, T: Send + Sync>(
        &self,
        graph: &'g Graph<'_, T>,
        options: &RunOptions,
        earlier: Option<Resumable<T>>,
        part: Option<(&Part, PartRun<'g, T>)>,
    ) -> Report<'g, T> {
        let shared = &self.shared;
        let seats = options.seats(shared.threads());
        let signals = Arc::new(Signals::new());
        let mut core = RunCore::new(
            parts(graph),
            options,
            (
                shared.lend_seats(seats),
                Arc::clone(&signals),
                shared.fences,
            ),
            Some(Arc::clone(shared)),
        );
        if let Some(earlier) = earlier {
            core.carry_over(earlier);
        }
        if let Some((part, run)) = part {
            core.make_part(part, run);
        }
        core.begin_observing(options);
        #[cfg(feature = "tracing")]
        let _in_run_span = core
            .observing()
            .and_then(observed::Observing::run_span)
            .map(tracing::Span::entered);
        if graph.task_count() > 0 {
            let handle = RunHandle { graph, core: &core };
            // SAFETY: `handle` outlives the listing's use of it: this
            // function returns only after `close` succeeded below.
            let listing = Arc::new(unsafe {
                Listing::new(&handle, Arc::clone(&signals), seats, shared.next_serial())
            });
            // Inside one of our own tasks, this thread works on the nested
            // run: it takes its seat before the run is listed, so that a
            // run limited to fewer workers than the executor's threads
            // cannot have them all taken by other threads while this one
            // waits.
            // (A fresh listing always has a seat, so the join succeeds; if
            // it did not, the run calls a worker like any other.)
            let nested = shared.is_own_thread() && listing.try_join();
            shared.register(Arc::clone(&listing));
            if nested {
                worker::participate(
                    graph,
                    &core,
                    Participation {
                        waiting: Waiting::Stays,
                        shared: Some(shared),
                        fixed_pace: None,
                        nested: false,
                    },
                );
                listing.mark_ended();
                // The run is over: a worker turned away meanwhile has
                // nothing to answer.
                let _ = listing.leave();
            } else {
                registry::spawn_worker(shared);
            }
            // A run whose tasks are all parked on resources or waiting for
            // a retry has no worker to notice a stop or a retry falling
            // due: the waiting thread checks.
            listing.wait_until_closed(
                || core.is_over(),
                || {
                    core.should_stop();
                    core.call_for_retries()
                },
            );
            shared.deregister(&listing);
        }
        core.end_part();
        shared.give_back_seats(core.take_seats());
        let wall = core.start().elapsed();
        let observing = core.take_observing();
        let report = core.into_report(wall);
        if let Some(observing) = observing {
            observing.end(report.counts(), wall, report.stop_reason());
        }
        report
    }
}

/// A run as the executor's worker jobs see it.
struct RunHandle<'r, T> {
    graph: &'r Graph<'r, T>,
    core: &'r RunCore<'r, T>,
}

impl<T: Send + Sync> Participate for RunHandle<'_, T> {
    fn participate(&self, shared: &Arc<Shared>, listing: &Listing, nested: bool) -> Departure {
        let departure = worker::participate(
            self.graph,
            self.core,
            Participation {
                waiting: Waiting::MayLeave,
                shared: Some(shared),
                fixed_pace: None,
                nested,
            },
        );
        if departure == Departure::Over {
            listing.mark_ended();
        }
        departure
    }
}

/// Runs every task of `graph` once on `threads` loom threads (the calling one
/// and `threads - 1` spawned ones), each a worker that stays until the run
/// ends, and reports once all have returned.
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
    assert!(threads > 0, "a run needs a worker");
    let core = RunCore::new(
        parts(graph),
        options,
        (
            (0..threads).map(|_| seat::Seat::new()).collect(),
            Arc::new(Signals::new()),
            fence::Fences::symmetric(),
        ),
        None,
    );
    // A std `Arc`: its count is no part of the protocol, and joining the
    // threads orders their work before the report is built.
    let core = Arc::new(core);
    let how = move || Participation {
        waiting: Waiting::Stays,
        shared: None,
        fixed_pace: Some(eager),
        nested: false,
    };
    if graph.task_count() > 0 {
        let others: Vec<_> = (1..threads)
            .map(|_| {
                let core = Arc::clone(&core);
                crate::sync::thread::spawn(move || {
                    worker::participate(graph, &core, how());
                })
            })
            .collect();
        worker::participate(graph, &core, how());
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

/// Runs `one` and `two` at once on two loom threads, each a worker that
/// stays: the calling thread in `one` then `two`, a spawned one in `two`
/// then `one`. See `__loom::run_two`.
#[cfg(loom)]
pub(crate) fn run_two_on_loom_threads<T: Send + Sync + 'static>(
    one: &'static Graph<'static, T>,
    two: &'static Graph<'static, T>,
    options: &RunOptions,
) -> (Report<'static, T>, Report<'static, T>) {
    let core = |graph: &'static Graph<'static, T>| {
        Arc::new(RunCore::new(
            parts(graph),
            options,
            (
                (0..2).map(|_| seat::Seat::new()).collect(),
                Arc::new(Signals::new()),
                fence::Fences::symmetric(),
            ),
            None,
        ))
    };
    let (first, second) = (core(one), core(two));
    let how = || Participation {
        waiting: Waiting::Stays,
        shared: None,
        fixed_pace: Some(false),
        nested: false,
    };
    let other = {
        let (first, second) = (Arc::clone(&first), Arc::clone(&second));
        crate::sync::thread::spawn(move || {
            worker::participate(two, &second, how());
            worker::participate(one, &first, how());
        })
    };
    worker::participate(one, &first, how());
    worker::participate(two, &second, how());
    if let Err(panic) = other.join() {
        std::panic::resume_unwind(panic);
    }
    let report = |core: Arc<RunCore<'static, T>>| {
        let Ok(core) = Arc::try_unwrap(core) else {
            unreachable!("both workers have returned and dropped their handles")
        };
        let wall = core.start().elapsed();
        core.into_report(wall)
    };
    (report(first), report(second))
}

/// What a run of `graph` reads of it.
fn parts<'r, T>(graph: &'r Graph<'_, T>) -> GraphParts<'r> {
    GraphParts {
        csr: graph.csr,
        names: graph.names,
        resources: graph.tables.resources.as_ref(),
        timeouts: graph.tables.timeouts,
        triggers: graph.tables.triggers,
        retries: graph.tables.retries.as_ref(),
        tag: graph.tag,
        kept: graph.tables.kept,
    }
}
