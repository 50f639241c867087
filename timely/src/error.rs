//! What can stop a distributed run before or while it runs, as sentences that name the worker, the process or the task.

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
    /// Timely could not start: its arguments did not parse, a host file
    /// could not be read, or the processes could not connect.
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
