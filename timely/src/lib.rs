//! kahn-timely: one compiled kahn graph run across threads, processes and hosts on Timely Dataflow, with the report an in-process run gives.
//!
//! Every process runs the same binary, builds the same graph, and calls
//! [`run`] on each of its timely workers. Each task is owned by one worker
//! ([`Placement`]); a worker runs its tasks with kahn's in-process
//! executor, as a part run ([`kahn::Executor::run_part`]), and timely
//! carries each task's end to the other workers, with its output to those
//! whose tasks read it. Every worker returns the whole run's report.
//!
//! ```
//! use std::sync::Arc;
//!
//! let executor = Arc::new(kahn::Executor::with_threads(2)?);
//! // Two workers in this process (`-w 2`); `-n` and `-p` add processes
//! // (`kahn_timely::execute_from_args(std::env::args(), ...)`).
//! let config = timely::Config::process(2);
//! let results = kahn_timely::execute(config, move |worker| {
//!     let mut arena = kahn::Arena::new();
//!     let mut b = arena.builder::<u64>();
//!     b.task("extract", |_| Ok(20)).unwrap();
//!     b.task("double", |ctx| Ok(ctx.input("extract")? * 2)).unwrap();
//!     b.task("load", |ctx| Ok(ctx.input("double")? + 2)).unwrap();
//!     b.edge("extract", "double").unwrap();
//!     b.edge("double", "load").unwrap();
//!     let graph = b.build().unwrap();
//!     // Worker 0 runs `extract` and `double`, worker 1 `load`.
//!     let split = kahn_timely::run(
//!         worker,
//!         &executor,
//!         &graph,
//!         &kahn::RunOptions::new(),
//!         &kahn_timely::DistributedOptions::new(),
//!     )?;
//!     assert!(split.report().is_success());
//!     Ok::<_, kahn_timely::DistributedError>((
//!         split.worker_of("load"),
//!         split.report().output("load").copied(),
//!     ))
//! })?;
//! let results: Vec<_> = results.into_iter().collect::<Result<_, _>>()?;
//! // Each worker knows the whole run; `load`'s output is where it ran.
//! assert_eq!(results, [(Some(1), None), (Some(1), Some(42))]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod execute;
mod fingerprint;
mod options;
mod placement;
mod report;
mod run;
mod wire;

pub use error::DistributedError;
pub use execute::{config_from_args, execute, execute_from_args, loopback_addresses};
pub use options::DistributedOptions;
pub use placement::{cut_edges, Placement};
pub use report::DistributedReport;
pub use run::run;
