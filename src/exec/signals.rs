//! One run's word of signals: whether it stopped starting tasks, whether it
//! could use more workers, whether another run is waiting for one, and how
//! many of its workers are looking for work.
//!
//! All live in one `AtomicU32` so the hot path asks "anything raised?" with
//! one relaxed load: a busy worker with work to give reads it before each
//! task, and only if it is non-zero looks closer.
//!
//! # Memory ordering
//!
//! - The hungry count is a hint, read `Relaxed`: a busy worker that misses a
//!   raise gives work at its next look, and a hungry worker does not rely on
//!   being seen (it steals, spins, then sleeps under the `Sleep` protocol,
//!   which has its own fences). Raising and lowering it are `SeqCst`
//!   read-modify-writes so that every worker sees one order of them.
//! - The stop bit is sticky and also read `Relaxed`; what makes that enough
//!   for data is written at `RunCore::claim`: a task cancelled after the stop
//!   releases its successors only after setting the bit, and the claimant of
//!   a successor synchronizes with that release, so coherence makes its own
//!   load see the bit.

use crate::sync::atomic::{AtomicU32, Ordering};

/// Set once the run stops starting tasks.
const STOP: u32 = 1 << 31;
/// Set while the run has fewer workers than it may have and the executor
/// has threads to spare: a worker with work to give should call one.
const WANT: u32 = 1 << 30;
/// Set while another run of the executor has no worker: a worker that has
/// served this run for a while should move.
const ROTATE: u32 = 1 << 29;
/// The low bits: how many workers are looking for work.
const HUNGRY: u32 = ROTATE - 1;

/// The stop bit and the hungry-worker count of one run.
#[derive(Debug)]
pub(crate) struct Signals(AtomicU32);

impl Signals {
    pub(crate) fn new() -> Signals {
        Signals(AtomicU32::new(0))
    }

    /// Whether the run has stopped starting tasks.
    #[inline]
    pub(crate) fn stopped(&self) -> bool {
        self.read().stopped()
    }

    /// The word as it is now, for a worker that asks more than one thing
    /// of it before a task: one load, not one per question.
    #[inline]
    pub(crate) fn read(&self) -> Raised {
        Raised(self.0.load(Ordering::Relaxed))
    }

    /// Whether some worker is looking for work.
    #[inline]
    pub(crate) fn someone_hungry(&self) -> bool {
        self.0.load(Ordering::Relaxed) & HUNGRY != 0
    }

    /// Whether the run could use another worker.
    #[inline]
    pub(crate) fn wants_workers(&self) -> bool {
        self.0.load(Ordering::Relaxed) & WANT != 0
    }

    /// Whether another run is waiting for a worker.
    #[inline]
    pub(crate) fn rotate(&self) -> bool {
        self.0.load(Ordering::Relaxed) & ROTATE != 0
    }

    /// Stops the run from starting tasks; sticky.
    pub(crate) fn stop(&self) {
        self.0.fetch_or(STOP, Ordering::Relaxed);
    }

    /// Asks the run's workers to call another worker when they have work to
    /// give (`SeqCst`: one side of the leave handshake in `run.rs`).
    pub(crate) fn want_workers(&self) {
        self.0.fetch_or(WANT, Ordering::SeqCst);
    }

    /// The run has all the workers it can get.
    pub(crate) fn enough_workers(&self) {
        self.0.fetch_and(!WANT, Ordering::Relaxed);
    }

    /// Sets or clears the request to move to a waiting run.
    pub(crate) fn set_rotate(&self, on: bool) {
        if on {
            self.0.fetch_or(ROTATE, Ordering::Relaxed);
        } else {
            self.0.fetch_and(!ROTATE, Ordering::Relaxed);
        }
    }

    /// Counts this worker as looking for work, until [`fed`](Self::fed).
    pub(crate) fn hungry(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// This worker found work, or the run ended.
    pub(crate) fn fed(&self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One reading of a run's signal word (see [`Signals::read`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Raised(u32);

impl Raised {
    /// Whether the run had stopped starting tasks.
    #[inline]
    pub(crate) fn stopped(self) -> bool {
        self.0 & STOP != 0
    }

    /// Whether a worker holding work it could give should give some: a peer
    /// was hungry or the run could use another worker.
    #[inline]
    pub(crate) fn give_wanted(self) -> bool {
        self.0 & (HUNGRY | WANT) != 0
    }
}
