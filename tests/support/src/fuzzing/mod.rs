//! Fuzz inputs and their checks, one definition shared by the cargo-fuzz targets and the stable tests.
//!
//! The fuzz crate depends on this crate, so a fuzz target, the replay of
//! `fuzz/regressions/` in `cargo test` (`tests/all/fuzz_regressions.rs`),
//! the stress test and the failure proptest all run the very same check on
//! the very same input type. Each input derives `Arbitrary`, and its `Debug`
//! prints a Rust reproducer (`let case = ...;`) to paste into a test next to
//! the `check` call.
//!
//! Checks return `Err(String)` rather than panic, so each caller reports a
//! failure its own way (libFuzzer crash, proptest shrink, test panic).

pub mod builder_ops;
pub mod edge_list;
pub mod execute;
pub mod named_edges;
#[cfg(feature = "petgraph")]
pub mod petgraph_import;
pub mod reference;

/// `Err(message)` unless `condition`; the checks' `assert!`.
macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+));
        }
    };
}
pub(crate) use ensure;
