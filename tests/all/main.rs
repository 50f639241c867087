//! kahn's integration tests, one binary built from submodules (as bumpalo does).
//!
//! The allocation-counting test lives in its own binary, `tests/alloc_free.rs`,
//! because it installs a global allocator and must not share the process with
//! tests running in parallel.

mod build;
mod cancel;
mod common;
mod drops;
mod execution;
mod failures;
mod fuzz_regressions;
mod fuzzing;
mod props;
mod stress;
