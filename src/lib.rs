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
mod compile;
mod context;
mod error;
mod exec;
mod graph;
mod id;
mod names;
mod options;
mod report;
pub mod shapes;
mod task;

pub use arena::Arena;
pub use builder::GraphBuilder;
pub use context::TaskContext;
pub use error::{BoxError, BuildError, ExecutorError, InputError, RunError, TaskFailure};
pub use exec::Executor;
pub use graph::Graph;
pub use id::{TaskId, TaskRef};
pub use options::{CancelToken, FailurePolicy, RunOptions};
pub use report::{Counts, Outcome, Report, State, StopReason, TaskReport, Timing};
