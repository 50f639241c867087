//! kahn: an arena-backed, high-throughput DAG executor.
#![doc = include_str!("../README.md")]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc
)]

mod arena;
mod builder;
mod chrome_trace;
mod compile;
mod context;
mod csr;
mod dot;
mod error;
mod exec;
mod graph;
mod id;
mod input;
mod names;
mod observe;
mod options;
#[cfg(feature = "owned")]
mod owned;
mod pages;
mod part;
#[cfg(feature = "petgraph")]
mod petgraph;
mod prefetch;
mod priority;
mod progress;
mod report;
mod resource;
mod retry;
mod skip;
mod state;
mod stop;
mod summary;
mod sync;
mod task;
mod timeout;
mod trigger;
mod value;

#[cfg(feature = "petgraph")]
pub use crate::petgraph::NodeTasks;
pub use arena::Arena;
pub use builder::GraphBuilder;
pub use chrome_trace::ChromeTrace;
pub use context::TaskContext;
pub use dot::Dot;
pub use error::{
    BoxError, BranchError, BuildError, DeliveryError, ExecutorError, InputError, Interrupted,
    PartError, RejectedWeight, ResumeError, RunError, TaskFailure, TraceError,
};
pub use exec::Executor;
pub use graph::Graph;
pub use id::{OwnedTaskRef, TaskId, TaskLabel, TaskRef};
pub use observe::{
    Observer, RunEnded, RunId, RunStarted, TaskFinished, TaskRetried, TaskSkipped, TaskStarted,
};
pub use options::{CancelToken, FailurePolicy, RunOptions};
#[cfg(feature = "owned")]
pub use owned::{ArenaPool, OwnedGraph};
pub use part::{Part, RemoteFeed, RemoteOutcome, Settled};
pub use progress::{Progress, ProgressCounts};
pub use report::{Counts, Outcome, Report, TaskReport, Timing};
pub use resource::Resource;
pub use retry::{permanent, Permanent, RetryPolicy};
pub use skip::Skip;
pub use state::State;
pub use stop::StopReason;
pub use summary::{RunSummary, TaskSummary};
pub use trigger::TriggerRule;
pub use value::{Output, Value};

// A compiled graph is shared by reference across worker threads and across
// concurrent runs: it must stay `Send + Sync` whatever its output type.
const _: () = {
    const fn assert_send_sync<X: Send + Sync>() {}
    assert_send_sync::<Graph<'static, std::cell::Cell<u8>>>();
    assert_send_sync::<crate::Executor>();
    #[cfg(feature = "owned")]
    assert_send_sync::<crate::OwnedGraph<std::cell::Cell<u8>>>();
};

/// Hooks for the loom models in `tests/loom.rs`; only in `--cfg loom` builds.
#[cfg(loom)]
#[doc(hidden)]
pub mod __loom {
    use crate::{Graph, Report, RunOptions};

    pub use crate::exec::{DryRun, ListedRun};

    /// Runs `graph` on `threads` loom threads, the calling one included,
    /// publishing work before every task (`eager`) or only to a hungry peer.
    /// Call it inside `loom::model`, with a graph leaked outside it.
    pub fn run<T: Send + Sync + 'static>(
        graph: &'static Graph<'static, T>,
        options: &RunOptions,
        threads: usize,
        eager: bool,
    ) -> Report<'static, T> {
        crate::exec::run_on_loom_threads(graph, options, threads, eager)
    }

    /// Runs two graphs at once on two loom threads: the first thread works
    /// in run one until it ends, then joins run two; the second works in run
    /// two, then joins run one. So each thread joins a run another is in.
    pub fn run_two<T: Send + Sync + 'static>(
        one: &'static Graph<'static, T>,
        two: &'static Graph<'static, T>,
        options: &RunOptions,
    ) -> (Report<'static, T>, Report<'static, T>) {
        crate::exec::run_two_on_loom_threads(one, two, options)
    }
}
