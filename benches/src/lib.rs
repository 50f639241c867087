//! kahn-bench: kahn's benchmark side, kept out of the library (`publish = false`).
//!
//! - [`shapes`]: the six standard task-graph shapes as deterministic edge
//!   lists, and the `SplitMix64` generator behind the layered one;
//! - [`heap`]: the heap-allocated DAG kahn's arena is measured against;
//! - [`baselines`]: the one-thread floor, `rayon::scope` (spawning every
//!   ready task, or continuing inline with one), and building a shape into a
//!   kahn arena by id or by name;
//! - [`order`]: order stamps, the check that a run ran each task once and
//!   after its predecessors;
//! - [`alloc`]: a counting global allocator (a binary installs it with
//!   `#[global_allocator]`) and resident-memory probes.
//!
//! With the default `harness` feature, also [`record`], [`report`],
//! [`compare`] and [`scenarios`]: the results the harness
//! (`src/bin/kahn-bench`) writes and reads, the tables it prints and puts
//! into BENCHMARKS.md (which the criterion benches, `benches/shapes.rs`,
//! print too), the table of kahn's figures before and after a change, and
//! the Scheduling issue's scenarios, timed against their ideal. kahn's own tests depend on this crate
//! with `default-features = false`, so they build only kahn, rayon and foldhash.
#![warn(
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc
)]

pub mod alloc;
pub mod baselines;
#[cfg(feature = "harness")]
pub mod compare;
pub mod heap;
pub mod order;
#[cfg(feature = "harness")]
pub mod record;
#[cfg(feature = "harness")]
pub mod report;
#[cfg(feature = "harness")]
pub mod scenarios;
pub mod shapes;
pub mod turns;
