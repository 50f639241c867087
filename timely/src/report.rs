//! A distributed run's report: kahn's own report of the whole run, and which worker and process ran each task.

use std::fmt;

use kahn::{Report, TaskId, TaskRef, Timing};

/// What every worker of a distributed run returns: the whole run's
/// [`Report`] (every task's outcome, as an in-process run reports it), and
/// where each task ran.
///
/// The outputs in the report are those of this worker's tasks and of the
/// other workers' tasks that one of this worker's tasks read; the others
/// show as succeeded without an output here ([`kahn::Outcome::Consumed`]).
#[derive(Debug)]
pub struct DistributedReport<'g, T> {
    report: Report<'g, T>,
    owner: Box<[u32]>,
    process: Box<[u32]>,
    worker: usize,
    /// The timings other workers sent with their tasks' ends.
    remote_timing: Box<[Option<Timing>]>,
}

impl<'g, T> DistributedReport<'g, T> {
    pub(crate) fn new(
        report: Report<'g, T>,
        owner: Box<[u32]>,
        process: Box<[u32]>,
        worker: usize,
        remote_timing: Box<[Option<Timing>]>,
    ) -> Self {
        DistributedReport {
            report,
            owner,
            process,
            worker,
            remote_timing,
        }
    }

    /// The whole run's report.
    pub fn report(&self) -> &Report<'g, T> {
        &self.report
    }

    /// The whole run's report, by value (to take outputs out of it).
    pub fn into_report(self) -> Report<'g, T> {
        self.report
    }

    /// The worker that returned this report (timely's worker index).
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// How many workers ran the graph, in all processes.
    pub fn workers(&self) -> usize {
        self.process.len()
    }

    /// How many processes ran the graph.
    pub fn processes(&self) -> usize {
        self.process.iter().max().map_or(0, |&p| p as usize + 1)
    }

    /// The worker that ran `task` (or would have: a skipped or cancelled
    /// task is placed too); `None` if the graph has no such task.
    pub fn worker_of<'n>(&self, task: impl Into<TaskRef<'n>>) -> Option<usize> {
        let id = self.find(task.into())?;
        Some(self.owner[id.index()] as usize)
    }

    /// The process of the worker that ran `task`, numbered from 0 in
    /// worker order (timely's `-p`).
    pub fn process_of<'n>(&self, task: impl Into<TaskRef<'n>>) -> Option<usize> {
        let worker = self.worker_of(task)?;
        Some(self.process[worker] as usize)
    }

    /// When and on which thread `task` ran, wherever it ran, if the run
    /// records timings ([`kahn::RunOptions::record_timings`]); `None` for a task
    /// that did not run, or with no such task. A task of another worker
    /// has its start on that worker's clock, from its own run start: the
    /// runs start together, after the hello, so starts compare to within
    /// the hello's skew (about a millisecond on one host).
    pub fn timing<'n>(&self, task: impl Into<TaskRef<'n>>) -> Option<Timing> {
        let id = self.find(task.into())?;
        if self.owner[id.index()] as usize == self.worker {
            self.report.timing(id)
        } else {
            self.remote_timing.get(id.index()).copied().flatten()
        }
    }

    fn find(&self, task: TaskRef<'_>) -> Option<TaskId> {
        self.report.find(task)
    }
}

/// The report's summary, then a line per process: its workers and how
/// many tasks each ran.
impl<T> fmt::Display for DistributedReport<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.report)?;
        let mut per_worker = vec![0usize; self.workers()];
        for &w in self.owner.iter() {
            per_worker[w as usize] += 1;
        }
        writeln!(
            f,
            "ran on {} workers in {} processes:",
            self.workers(),
            self.processes()
        )?;
        for p in 0..self.processes() {
            write!(f, "  process {p}:")?;
            for (w, tasks) in per_worker.iter().enumerate() {
                if self.process[w] as usize == p {
                    write!(f, " worker {w} ({tasks} tasks)")?;
                }
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
