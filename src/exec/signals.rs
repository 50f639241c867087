//! One run's word of signals: whether it stopped starting tasks, and how many
//! workers are looking for work.
//!
//! Both live in one `AtomicU32` so the hot path asks "anything raised?" with
//! one relaxed load: a busy worker with work to give reads it before each
//! release, and only if it is non-zero looks closer.
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
/// The low bits: how many workers are looking for work.
const HUNGRY: u32 = STOP - 1;

/// The stop bit and the hungry-worker count of one run.
#[derive(Debug)]
pub(crate) struct Signals(AtomicU32);

impl Signals {
    pub(crate) fn new() -> Signals {
        Signals(AtomicU32::new(0))
    }

    /// Whether anything is raised: the run stopped, or a worker is hungry.
    /// One relaxed load, for the hot path.
    #[inline]
    pub(crate) fn any(&self) -> bool {
        self.0.load(Ordering::Relaxed) != 0
    }

    /// Whether the run has stopped starting tasks.
    #[inline]
    pub(crate) fn stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed) & STOP != 0
    }

    /// Whether some worker is looking for work.
    #[inline]
    pub(crate) fn someone_hungry(&self) -> bool {
        self.0.load(Ordering::Relaxed) & HUNGRY != 0
    }

    /// Stops the run from starting tasks; sticky.
    pub(crate) fn stop(&self) {
        self.0.fetch_or(STOP, Ordering::Relaxed);
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
