//! What can stop a distributed run before or while it runs, as sentences that name the worker, the process or the task.

use std::time::Duration;

use kahn::TaskLabel;

/// Why a distributed run did not run, or did not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DistributedError {
    /// Another worker built a different graph (a different binary, or a
    /// build that depends on something other than the binary).
    #[error("worker {worker} (process {process}) built a different graph ({their_tasks} tasks, fingerprint {theirs:016x}) from worker {me}'s ({our_tasks} tasks, fingerprint {ours:016x}): every process must run the same binary and build the graph deterministically")]
    OtherGraph {
        /// The worker that differs.
        worker: usize,
        /// Its process.
        process: usize,
        /// The worker that noticed.
        me: usize,
        /// Its graph's task count and fingerprint.
        their_tasks: u64,
        /// The fingerprint of its graph.
        theirs: u64,
        /// This worker's graph's task count.
        our_tasks: u64,
        /// The fingerprint of this worker's graph.
        ours: u64,
    },
    /// Another worker placed the tasks differently.
    #[error("worker {worker} (process {process}) placed the tasks on workers differently from worker {me}: a placement must depend only on the task and the number of workers")]
    OtherPlacement {
        /// The worker that differs.
        worker: usize,
        /// Its process.
        process: usize,
        /// The worker that noticed.
        me: usize,
    },
    /// A custom placement named a worker that does not exist.
    #[error("the placement put task {task} on worker {worker}, but the run has {workers} workers (0 to {})", workers - 1)]
    PlacedOutside {
        /// The task.
        task: TaskLabel,
        /// The worker it named.
        worker: usize,
        /// How many workers there are.
        workers: usize,
    },
    /// A process was lost while the run lasted: its connection closed (the
    /// process died, or its host), or none of its workers was heard from
    /// for [`DistributedOptions::lost_after`](crate::DistributedOptions::lost_after).
    /// The run stopped on every other process; no task ran again.
    #[error("process {process} (worker{} {}) was lost {}: {}; worker {me} stopped the run", plural(workers.len()), list(workers), lost_when(unreported, *before_start), lost_how(*silent_for), )]
    ProcessLost {
        /// The process.
        process: usize,
        /// Its workers.
        workers: Vec<usize>,
        /// How long it had been silent, or `None` if its connection closed.
        silent_for: Option<Duration>,
        /// Whether it was lost before every worker had said hello (before
        /// any task ran).
        before_start: bool,
        /// Its tasks whose end never reached this worker.
        unreported: Vec<TaskLabel>,
        /// The worker that noticed.
        me: usize,
    },
    /// Another worker sent an end this worker's part run refused (a task
    /// of this part, one already ended, or an outcome naming a task the
    /// graph does not have): a message this graph's run cannot have sent.
    /// The run stopped here.
    #[error(
        "worker {worker} (process {process}) sent worker {me} an end it could not take: {why}"
    )]
    BadMessage {
        /// The worker that sent it.
        worker: usize,
        /// Its process.
        process: usize,
        /// The worker that refused it.
        me: usize,
        /// What the part run said.
        why: kahn::DeliveryError,
    },
    /// `-p` names a process that `-n` does not have.
    #[error("this process was given -p {process}, but -n says the run has {processes} process{} (numbered 0 to {}): give each process its own -p below -n", if *processes == 1 { "" } else { "es" }, processes.saturating_sub(1))]
    ProcessOutOfRange {
        /// The `-p` given.
        process: usize,
        /// The `-n` given.
        processes: usize,
    },
    /// `-w 0`: no worker would run.
    #[error("-w 0 starts no worker thread: give each process at least one (-w 1 or more)")]
    NoWorkers,
    /// A line of the host file is not an address a process can listen on.
    #[error("line {line} of the host file gives process {process} the address `{address}`, which is not host:port with a port number")]
    BadAddress {
        /// The line, from 1.
        line: usize,
        /// The process it is for.
        process: usize,
        /// The address as written.
        address: String,
    },
    /// The host file (`-h`) could not be read.
    #[error("the host file `{path}` could not be read: {why}")]
    HostFile {
        /// The path given with `-h`.
        path: String,
        /// What the system said.
        why: String,
    },
    /// Timely could not start: its arguments did not parse, or the
    /// processes could not connect.
    #[error("timely could not start the workers: {0}")]
    Timely(String),
    /// A worker thread of this process panicked outside the tasks (kahn
    /// catches a task's panic): often a peer process that was lost, which
    /// timely's network threads report by panicking.
    #[error("worker {worker} of this process stopped: {message}")]
    WorkerLost {
        /// The worker.
        worker: usize,
        /// Its panic message.
        message: String,
    },
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `a`, `a and b`, `a, b and c`.
fn list(items: &[usize]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => {
            let rest: Vec<String> = rest.iter().map(ToString::to_string).collect();
            format!("{} and {last}", rest.join(", "))
        }
    }
}

fn lost_when(unreported: &[TaskLabel], before_start: bool) -> String {
    const NAMED: usize = 5;
    if before_start {
        return "before the run started".into();
    }
    if unreported.is_empty() {
        return "after all its tasks had reported".into();
    }
    let named: Vec<String> = unreported
        .iter()
        .take(NAMED)
        .map(ToString::to_string)
        .collect();
    let more = if unreported.len() > NAMED {
        ", …"
    } else {
        ""
    };
    format!(
        "with {} of its task{} unreported ({}{more})",
        unreported.len(),
        plural(unreported.len()),
        named.join(", ")
    )
}

fn lost_how(silent_for: Option<Duration>) -> String {
    match silent_for {
        None => "its connection closed".into(),
        Some(silence) => format!(
            "nothing was heard from it for {:.1} s",
            silence.as_secs_f64()
        ),
    }
}
