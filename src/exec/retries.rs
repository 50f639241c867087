//! A run's retry queue: the tasks waiting out the delay before their next attempt, and the failed attempts of each task.
//!
//! A task whose attempt failed and whose policy allows another is not
//! recorded: it stays claimed (so its successors stay waiting and the run
//! cannot end), and waits here, due at a time on the run's clock
//! (nanoseconds since its start). Nothing runs it meanwhile: idle workers
//! of the run take due tasks when they look for work, and the thread that
//! started the run, which sleeps until the earliest is due, calls a worker
//! for them when the run has none. A stop makes every waiting task due at
//! once, to be recorded with its last failure.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::PoisonError;

use crate::error::TaskFailure;
use crate::id::TaskId;
use crate::report::{Failed, Timing};
use crate::retry::RetryPolicy;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::Mutex;

/// "Nothing waits", in `RetryQueue::earliest`.
const NOBODY_WAITS: u64 = u64::MAX;

/// Each retried task's failed attempts, oldest first, by task id.
type Log = HashMap<u32, Failed, foldhash::fast::RandomState>;

#[derive(Debug)]
pub(crate) struct RetryQueue {
    /// `(due, task)`, earliest first.
    waiting: Mutex<BinaryHeap<Reverse<(u64, u32)>>>,
    /// When the earliest waiting task is due; `NOBODY_WAITS` if none. A
    /// hint for idle workers, read without the lock.
    earliest: AtomicU64,
    /// The failed attempts of every task that failed one and was retried:
    /// a map, since a storm of retries may fail every task of a large graph.
    log: Mutex<Log>,
}

impl RetryQueue {
    pub(crate) fn new() -> RetryQueue {
        RetryQueue {
            waiting: Mutex::new(BinaryHeap::new()),
            earliest: AtomicU64::new(NOBODY_WAITS),
            log: Mutex::new(Log::default()),
        }
    }

    /// Whether task `v`, whose attempt failed with `failure`, gets another
    /// under `policy`: if so, how many of its attempts failed, this one
    /// included (to size the wait). Only `v`'s worker logs its failures, so
    /// the answer holds until it calls [`log`](Self::log).
    pub(crate) fn will_retry(
        &self,
        v: u32,
        failure: &TaskFailure,
        policy: &RetryPolicy,
    ) -> Option<u32> {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let failed_before = log.get(&v).map_or(0, |failed| failed.failures.len() as u32);
        (failed_before + 1 < policy.attempts && policy.retries(failure))
            .then_some(failed_before + 1)
    }

    /// Logs the failure of task `v`'s attempt that will be retried, and
    /// when and where it ran if the run records timings.
    pub(crate) fn log(&self, v: u32, failure: TaskFailure, timing: Option<Timing>) {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let failed = log.entry(v).or_default();
        failed.failures.push(failure);
        failed.timings.extend(timing);
    }

    /// The attempt task `v` is on, from 1.
    pub(crate) fn attempt_of(&self, v: u32) -> u32 {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        1 + log.get(&v).map_or(0, |failed| failed.failures.len() as u32)
    }

    /// Takes back the last failure of task `v`, which waited for another
    /// attempt that will not come (the run stopped): its outcome. (Its
    /// timing goes too: the task's own timing slot still holds it.)
    pub(crate) fn give_up(&self, v: u32) -> TaskFailure {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let last = log.get_mut(&v).and_then(|failed| {
            failed.timings.pop();
            failed.failures.pop()
        });
        match last {
            Some(failure) => failure,
            None => unreachable!("kahn: internal error: a retried task without a failed attempt"),
        }
    }

    /// Puts task `v` in the queue, due at `due`; `true` if it is now the
    /// earliest (whoever sleeps until the earliest must wake sooner).
    pub(crate) fn wait(&self, v: u32, due: u64) -> bool {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        waiting.push(Reverse((due, v)));
        let earliest = waiting.peek().map_or(NOBODY_WAITS, |Reverse((d, _))| *d);
        let was = self.earliest.swap(earliest, Ordering::SeqCst);
        earliest < was
    }

    /// Whether a task is due at `now` (a hint).
    #[inline]
    pub(crate) fn is_due(&self, now: u64) -> bool {
        self.earliest.load(Ordering::SeqCst) <= now
    }

    /// Whether any task waits (a hint).
    pub(crate) fn is_waiting(&self) -> bool {
        self.earliest.load(Ordering::SeqCst) != NOBODY_WAITS
    }

    /// Takes a task that is due at `now`, if any.
    pub(crate) fn take_due(&self, now: u64) -> Option<u32> {
        if !self.is_due(now) {
            return None;
        }
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let task = match waiting.peek() {
            Some(&Reverse((due, task))) if due <= now => {
                waiting.pop();
                Some(task)
            }
            _ => None,
        };
        let earliest = waiting.peek().map_or(NOBODY_WAITS, |Reverse((d, _))| *d);
        self.earliest.store(earliest, Ordering::SeqCst);
        task
    }

    /// Nanoseconds from `now` until the earliest task is due (0 if one is);
    /// `None` if none waits.
    pub(crate) fn until_due(&self, now: u64) -> Option<u64> {
        let earliest = self.earliest.load(Ordering::SeqCst);
        (earliest != NOBODY_WAITS).then(|| earliest.saturating_sub(now))
    }

    /// Makes every waiting task due now: the run stopped.
    pub(crate) fn all_due(&self) {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let tasks: Vec<_> = waiting.drain().map(|Reverse((_, task))| task).collect();
        waiting.extend(tasks.into_iter().map(|task| Reverse((0, task))));
        let earliest = if waiting.is_empty() { NOBODY_WAITS } else { 0 };
        self.earliest.store(earliest, Ordering::SeqCst);
    }

    /// The failed attempts of every retried task, by id: for the report.
    pub(crate) fn into_log(self) -> Vec<(TaskId, Failed)> {
        let log = self
            .log
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let mut log: Vec<_> = log
            .into_iter()
            .filter(|(_, failed)| !failed.failures.is_empty())
            .map(|(task, failed)| (TaskId::new(task), failed))
            .collect();
        log.sort_unstable_by_key(|(task, _)| *task);
        log
    }
}

/// A number in `[0, 1)` from `seed`, for jitter: a SplitMix64 step, so
/// that runs and tasks do not retry in step.
pub(crate) fn noise(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}
