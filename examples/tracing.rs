//! kahn's runs and tasks as `tracing` spans, shown by `tracing-subscriber`'s fmt layer: no glue code.
//!
//! ```text
//! cargo run --example tracing --features tracing
//! ```
//!
//! With the cargo feature `tracing`, each run is a span named `run` (its
//! fields: the run's number, its task count, and at the end how many tasks
//! succeeded, failed, were skipped or cancelled, and why it stopped), and
//! each task attempt a span `task` inside it (the task's name and id, the
//! worker, the attempt, and at the end its outcome and error). A retried
//! attempt is a `WARN` event, a task that does not run an `INFO` event.
//! Events the tasks log themselves land inside their task's span, on
//! whatever worker runs them, and reach the subscriber of the thread that
//! started the run, even one set with `tracing::subscriber::with_default`.
//! Any subscriber works: this one prints each span as it closes, with the
//! time it was busy; `tracing-opentelemetry` or `tracing-chrome` would send
//! the same spans to a collector or a timeline. Filter with the target
//! `kahn`.
//!
//! A run pays for its spans only when a subscriber wants them: without one
//! (or with `kahn` filtered out) the run tests one flag a task, as a run
//! without the feature does.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use kahn::{Arena, BoxError, Executor, RetryPolicy};
use tracing_subscriber::fmt::format::FmtSpan;

fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_span_events(FmtSpan::CLOSE)
        .with_target(false)
        .with_thread_names(true)
        .with_ansi(std::io::stdout().is_terminal())
        .init();

    let connection_resets = AtomicU32::new(0);
    let mut arena = Arena::new();
    let mut b = arena.builder::<Vec<u32>>();
    b.task("extract", |_| {
        let rows: Vec<u32> = (1..=1_000).collect();
        tracing::info!(rows = rows.len(), "read the export");
        Ok(rows)
    })?;
    b.task("fetch_rates", |_| {
        // The rate service resets the connection once, then answers.
        if connection_resets.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err("connection reset by peer".into());
        }
        Ok(vec![2])
    })?;
    b.task("transform", |ctx| {
        let rate = ctx.input("fetch_rates")?[0];
        let rows: Vec<u32> = ctx.input("extract")?.iter().map(|x| x * rate).collect();
        std::thread::sleep(Duration::from_millis(5));
        Ok(rows)
    })?;
    b.task("validate", |ctx| {
        let rows = ctx.input("extract")?;
        if rows.len() > 500 {
            tracing::warn!(rows = rows.len(), "more rows than the contract allows");
            return Err(format!("{} rows, at most 500 expected", rows.len()).into());
        }
        Ok(Vec::new())
    })?;
    b.task("load", |ctx| Ok(ctx.input("transform")?.clone()))?;
    b.task("publish", |ctx| Ok(ctx.input("validate")?.clone()))?;
    b.edges_by_name([
        ("extract", "transform"),
        ("fetch_rates", "transform"),
        ("extract", "validate"),
        ("transform", "load"),
        ("validate", "publish"),
    ])?;
    b.retry(
        "fetch_rates",
        RetryPolicy::attempts(3).delay(Duration::from_millis(2)),
    )?;
    let graph = b.build()?;

    let report = Executor::with_threads(2)?.run(&graph);
    println!("{report}");
    Ok(())
}
