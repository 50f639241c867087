//! kahn's integration tests, one binary built from submodules (as bumpalo does).
//!
//! The allocation-counting test lives in its own binary, `tests/alloc_free.rs`,
//! because it installs a global allocator and must not share the process with
//! tests running in parallel. What the modules share (fuzz inputs and
//! checks, the run oracle, executors, helpers) is the `kahn-test-support`
//! crate in `tests/support/`.

mod build;
mod build_props;
mod cancel;
mod chrome_trace;
mod data;
mod dot;
mod drops;
mod execution;
mod failures;
mod fuzz_regressions;
mod observe;
#[cfg(feature = "owned")]
mod owned;
mod parts;
#[cfg(feature = "petgraph")]
mod petgraph_interop;
mod priorities;
mod resource_races;
mod resources;
mod resume;
mod retries;
mod run_props;
mod scheduling;
mod stress;
mod stress_meet;
mod stress_nested;
mod summary;
mod timeouts;
#[cfg(feature = "tracing")]
mod tracing;
mod triggers;
mod unsafe_paths;
mod worker_limit;
