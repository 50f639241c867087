//! kahn's test-support layer: what the integration tests (`tests/all/`), the loom models (`tests/loom.rs`) and the fuzz targets (`fuzz/`) share, defined once.
//!
//! A `publish = false` crate of the workspace, so none of it is kahn's
//! public API, and a dev-dependency of kahn and a dependency of the fuzz
//! crate, so every caller compiles the same code:
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`fuzzing`] | the fuzz inputs (each deriving `Arbitrary`, with a `Debug` that prints a Rust reproducer) and their checks, replayed by `cargo test` from `fuzz/regressions/` |
//! | [`executors`](mod@executors) | [`executor()`] and [`executors()`]: one executor per thread count, started once per process |
//! | [`panics`] | [`intend_panic()`]: the one panic silencer, for tasks that panic on purpose |
//! | [`oracle`] | [`Oracle`]: the one run oracle, how each task of a DAG with failures ends; [`counts()`] |
//! | [`wait`] | [`wait_until()`] and the waits built on it: flags, rendezvous, spinning for a while |
//! | [`fixtures`] | [`cancelling_pair()`] and [`add_sleeping_chain`](fixtures::add_sleeping_chain): small graphs several test files share |
//! | [`dags`] | random DAGs and task names for the property tests (with the default `proptest` feature) |
//! | [`bounded`](mod@bounded) | [`bounded()`]: a test body on its own thread, failed after [`LIMIT`] instead of hanging |
//! | [`split`] | [`SplitCase`](split::SplitCase): random graphs split over parts, and [`same_run`](split::same_run), the check that a split run ended as the whole run (the part-run tests, kahn-timely's) |
//! | [`cpu`] | [`watched_executor()`], [`thread_ids()`] and [`cpu_ms()`]: the CPU time an executor's threads used, for checks that idle threads stay idle |
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub mod bounded;
pub mod cpu;
#[cfg(feature = "proptest")]
pub mod dags;
pub mod executors;
pub mod fixtures;
pub mod fuzzing;
pub mod oracle;
pub mod panics;
pub mod split;
pub mod wait;

pub use bounded::{bounded, LIMIT};
pub use cpu::{cpu_ms, thread_ids, watched_executor};
pub use executors::{executor, executors};
pub use fixtures::{cancelling_pair, fan_out_in};
pub use oracle::{counts, Oracle};
pub use panics::intend_panic;
pub use wait::{rendezvous, spin_for, wait_for, wait_until};
