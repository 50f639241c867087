//! What a run that someone watches does beyond running tasks: calls its observer, counts its progress, and (feature `tracing`) opens spans.
//!
//! A run is *instrumented* when it records timings, has an observer or a
//! progress handle, or (feature `tracing`) a subscriber wants its span.
//! The worker loop tests that one flag per task, where it tested the
//! timings flag before, and sends an instrumented run's tasks down an out
//! of line path (`worker::run_instrumented`) that calls what is here; a
//! run nobody watches pays nothing more.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::TaskFailure;
use crate::id::TaskId;
use crate::names::Names;
use crate::observe::{
    Observer, RunEnded, RunId, RunStarted, TaskFinished, TaskRetried, TaskSkipped, TaskStarted,
};
use crate::options::RunOptions;
use crate::progress::LiveCounts;
use crate::report::Counts;
use crate::skip::Skip;
use crate::state::State;

/// Numbers runs across the process, for [`RunId`].
static RUNS: AtomicU64 = AtomicU64::new(1);

/// A watched run's observer, progress counts and trace span.
pub(crate) struct Observing<'r> {
    run: RunId,
    names: Names<'r>,
    observer: Option<Arc<dyn Observer>>,
    /// Set when the run starts (`begin`), once carried tasks are known.
    progress: Option<Arc<LiveCounts>>,
    /// The run's span, if a subscriber wants it.
    #[cfg(feature = "tracing")]
    span: Option<tracing::Span>,
    /// The subscriber of the thread that started the run, made the default
    /// on workers while they run its tasks: a subscriber set with
    /// `tracing::subscriber::with_default` (a test's, say) sees the tasks
    /// and their own events too, not only a global one.
    #[cfg(feature = "tracing")]
    dispatch: tracing::Dispatch,
}

impl std::fmt::Debug for Observing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observing")
            .field("run", &self.run)
            .field("observer", &self.observer.is_some())
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// A task's span while it runs (nothing without the feature `tracing`).
pub(crate) struct TaskTrace<'o> {
    #[cfg(feature = "tracing")]
    span: Option<(tracing::Span, &'o tracing::Dispatch)>,
    #[cfg(not(feature = "tracing"))]
    _run: std::marker::PhantomData<&'o ()>,
}

impl TaskTrace<'_> {
    /// Runs `body` inside the task's span, if there is one, with the run's
    /// subscriber as this thread's default.
    #[inline]
    pub(crate) fn enter<R>(&self, body: impl FnOnce() -> R) -> R {
        #[cfg(feature = "tracing")]
        if let Some((span, dispatch)) = &self.span {
            return tracing::dispatcher::with_default(dispatch, || span.in_scope(body));
        }
        body()
    }

    /// The attempt failed and will be retried: its span says so.
    pub(crate) fn retried(&self) {
        #[cfg(feature = "tracing")]
        if let Some((span, _)) = &self.span {
            span.record("outcome", "failed, retried");
        }
    }
}

impl<'r> Observing<'r> {
    /// What `options` ask to watch of a run of a graph named by `names`;
    /// `None` if nothing.
    pub(crate) fn new(options: &RunOptions, names: Names<'r>, tasks: usize) -> Option<Self> {
        #[cfg(feature = "tracing")]
        let dispatch = tracing::dispatcher::get_default(tracing::Dispatch::clone);
        // A thread with no subscriber traces nothing, whatever interest
        // another thread's subscriber left cached at the callsite (a span
        // made on `NoSubscriber` is not "disabled").
        #[cfg(feature = "tracing")]
        let span = (!dispatch.is::<tracing::subscriber::NoSubscriber>()).then(|| {
            tracing::info_span!(
                target: "kahn",
                "run",
                run = tracing::field::Empty,
                tasks,
                succeeded = tracing::field::Empty,
                failed = tracing::field::Empty,
                skipped = tracing::field::Empty,
                cancelled = tracing::field::Empty,
                stopped = tracing::field::Empty,
            )
        });
        #[cfg(feature = "tracing")]
        let span = span.filter(|span| !span.is_disabled());
        #[cfg(not(feature = "tracing"))]
        let _ = tasks;
        #[cfg(feature = "tracing")]
        let traced = span.is_some();
        #[cfg(not(feature = "tracing"))]
        let traced = false;
        let observer = options.observer.as_ref().map(|o| Arc::clone(&o.0));
        if observer.is_none() && options.progress.is_none() && !traced {
            return None;
        }
        let run = RunId(RUNS.fetch_add(1, Ordering::Relaxed));
        #[cfg(feature = "tracing")]
        if let Some(span) = &span {
            span.record("run", run.0);
        }
        Some(Observing {
            run,
            names,
            observer,
            progress: None,
            #[cfg(feature = "tracing")]
            span,
            #[cfg(feature = "tracing")]
            dispatch,
        })
    }

    /// The run's span, if a subscriber wants it: the thread that called
    /// `run` enters it while it waits.
    #[cfg(feature = "tracing")]
    pub(crate) fn run_span(&self) -> Option<tracing::Span> {
        self.span.clone()
    }

    /// Runs `f` with the run's subscriber as this thread's default.
    #[cfg(feature = "tracing")]
    fn traced<R>(&self, f: impl FnOnce() -> R) -> R {
        tracing::dispatcher::with_default(&self.dispatch, f)
    }

    /// Whether task events need a clock (progress counts do not).
    pub(crate) fn times_tasks(&self) -> bool {
        #[cfg(feature = "tracing")]
        if self.span.is_some() {
            return true;
        }
        self.observer.is_some()
    }

    /// The run starts: `tasks` tasks, `carried` of them carried over, on up
    /// to `workers` workers.
    pub(crate) fn begin(
        &mut self,
        options: &RunOptions,
        tasks: usize,
        carried: usize,
        workers: usize,
    ) {
        if let Some(progress) = &options.progress {
            self.progress = Some(progress.follow(tasks, carried, workers));
        }
        if let Some(observer) = &self.observer {
            observer.run_started(&RunStarted {
                run: self.run,
                tasks,
                carried_over: carried,
                workers,
            });
        }
    }

    #[cold]
    pub(crate) fn task_started(&self, v: u32, worker: usize, attempt: u32) -> TaskTrace<'_> {
        if let Some(progress) = &self.progress {
            progress.started(worker);
        }
        if let Some(observer) = &self.observer {
            let id = TaskId::new(v);
            observer.task_started(&TaskStarted {
                run: self.run,
                id,
                name: self.names.name(id),
                worker,
                attempt,
            });
        }
        TaskTrace {
            #[cfg(feature = "tracing")]
            span: self.span.as_ref().map(|run| {
                let span = self.traced(|| {
                    tracing::info_span!(
                        target: "kahn",
                        parent: run,
                        "task",
                        task = %self.names.shown(TaskId::new(v)),
                        id = v,
                        worker,
                        attempt,
                        outcome = tracing::field::Empty,
                        error = tracing::field::Empty,
                    )
                });
                (span, &self.dispatch)
            }),
            #[cfg(not(feature = "tracing"))]
            _run: std::marker::PhantomData,
        }
    }

    /// A task's attempt returned and the task ended in `state`.
    #[cold]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn task_finished(
        &self,
        trace: &TaskTrace<'_>,
        v: u32,
        worker: usize,
        attempt: u32,
        state: State,
        failure: Option<&TaskFailure>,
        duration: Duration,
    ) {
        #[cfg(feature = "tracing")]
        if let Some((span, _)) = &trace.span {
            span.record("outcome", state.as_str());
            if let Some(failure) = failure {
                span.record("error", tracing::field::display(failure));
            }
        }
        #[cfg(not(feature = "tracing"))]
        let _ = trace;
        if let Some(progress) = &self.progress {
            progress.finished(worker, state);
        }
        if let Some(observer) = &self.observer {
            let id = TaskId::new(v);
            observer.task_finished(&TaskFinished {
                run: self.run,
                id,
                name: self.names.name(id),
                worker,
                attempt,
                state,
                failure,
                duration,
            });
        }
    }

    /// A task's attempt failed with `failure`, and it runs again after
    /// `delay`. Called before it is queued, so before its next start.
    #[cold]
    pub(crate) fn task_retried(
        &self,
        v: u32,
        attempt: &Attempt,
        failure: &TaskFailure,
        delay: Duration,
    ) {
        let id = TaskId::new(v);
        #[cfg(feature = "tracing")]
        if let Some(run) = &self.span {
            self.traced(|| {
                tracing::warn!(
                    target: "kahn",
                    parent: run,
                    task = %self.names.shown(id),
                    id = v,
                    attempt = attempt.number,
                    error = %failure,
                    delay = ?delay,
                    "attempt failed; retrying"
                )
            });
        }
        if let Some(progress) = &self.progress {
            progress.retried(attempt.worker);
        }
        if let Some(observer) = &self.observer {
            observer.task_retried(&TaskRetried {
                run: self.run,
                id,
                name: self.names.name(id),
                worker: attempt.worker,
                attempt: attempt.number,
                failure,
                duration: attempt.duration,
                delay,
            });
        }
    }

    /// A task ended in `state` without running (again), counted on `worker`.
    #[cold]
    pub(crate) fn task_skipped(&self, v: u32, worker: usize, state: State, reason: Option<Skip>) {
        let id = TaskId::new(v);
        #[cfg(feature = "tracing")]
        if let Some(run) = &self.span {
            self.traced(|| {
                tracing::info!(
                    target: "kahn",
                    parent: run,
                    task = %self.names.shown(id),
                    id = v,
                    outcome = state.as_str(),
                    reason = %reason.map_or_else(String::new, |r| {
                        r.words(Some(id), self.names.shown(r.task())).to_string()
                    }),
                    "task did not run"
                )
            });
        }
        if let Some(progress) = &self.progress {
            progress.ended(worker, state);
        }
        if let Some(observer) = &self.observer {
            observer.task_skipped(&TaskSkipped {
                run: self.run,
                id,
                name: self.names.name(id),
                state,
                reason,
                names: self.names,
            });
        }
    }

    /// The run ended.
    pub(crate) fn end(&self, counts: Counts, wall_time: Duration, stop: Option<crate::StopReason>) {
        #[cfg(feature = "tracing")]
        if let Some(span) = &self.span {
            span.record("succeeded", counts.succeeded);
            span.record("failed", counts.failed + counts.panicked + counts.timed_out);
            span.record("skipped", counts.skipped);
            span.record("cancelled", counts.cancelled);
            if let Some(stop) = stop {
                span.record("stopped", tracing::field::display(stop));
            }
        }
        if let Some(progress) = &self.progress {
            progress.finish();
        }
        if let Some(observer) = &self.observer {
            observer.run_ended(&RunEnded {
                run: self.run,
                counts,
                wall_time,
                stop_reason: stop,
            });
        }
    }
}

/// An attempt that just returned: where it ran, which it was, how long it took.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt {
    pub(crate) worker: usize,
    pub(crate) number: u32,
    pub(crate) duration: Duration,
}
