//! One run's word of signals: whether it stopped starting tasks, whether it
//! could use more workers, whether another run is waiting for one, whether
//! its workers left it for lack of work, and how many of its workers are
//! looking for work.
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
//! - `DRY` is set by a worker about to leave with nothing to do, before its
//!   last look for work, and cleared by whatever hands the run work from
//!   outside (a resource's hand-back, a remote outcome, a stop, a retry
//!   that fell due) after the work is in place, and by a worker that
//!   leaves work behind; each is a `SeqCst` read-modify-write of this
//!   word. So either the clear comes after the mark, or the mark reads
//!   the clear's value (or a later one) and, every write to this word being
//!   a read-modify-write, synchronizes with it: the last look then sees the
//!   work. A plain `store` to the word would break that chain. A retry is
//!   handed in by the thread that waits for the run, which wakes when the
//!   earliest retry falls due: until then (its wake-up latency) the run
//!   may be dry with a retry due. See `mark_dry_then_look` and
//!   `wake_on_return` in `run.rs`.

use crate::sync::atomic::{AtomicU32, Ordering};

/// Set once the run stops starting tasks.
const STOP: u32 = 1 << 31;
/// Set while the run has fewer workers than it may have and the executor
/// has threads to spare: a worker with work to give should call one.
const WANT: u32 = 1 << 30;
/// Set while another run of the executor has no worker: a worker that has
/// served this run for a while should move.
const ROTATE: u32 = 1 << 29;
/// Set by a worker that left (or was about to leave) the run with nothing
/// to do, cleared when work comes in from outside or a worker leaves some
/// behind. It matters only while no worker is in the run: a run with no
/// worker is *waiting* for one only if this is clear (a run whose tasks
/// are all parked on a resource is not, and other runs' workers need not
/// rotate to it; see `registry.rs`).
const DRY: u32 = 1 << 28;
/// The low bits: how many workers are looking for work.
const HUNGRY: u32 = DRY - 1;

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

    /// A worker is about to leave with nothing to do, and will look once
    /// more before it does: asks for workers (a peer that announces work
    /// later then calls one) and marks the run dry (`SeqCst`: one side of
    /// the handshake with [`work_arrived`](Self::work_arrived)).
    pub(crate) fn leaving_dry(&self) {
        self.0.fetch_or(WANT | DRY, Ordering::SeqCst);
    }

    /// Work was handed to the run from outside, and is in place: asks for
    /// workers and clears the dry mark. Whether the run was marked dry, so
    /// that the executor looks again at which runs wait for a worker.
    pub(crate) fn work_arrived(&self) -> bool {
        let before = self.0.fetch_or(WANT, Ordering::SeqCst);
        before & DRY != 0 && self.0.fetch_and(!DRY, Ordering::SeqCst) & DRY != 0
    }

    /// A worker leaves work behind it, published, to move to another run:
    /// the run is not dry. A read-modify-write even if the mark is clear, so
    /// that a worker marking the run dry after it sees the published work
    /// (as it sees a hand-back's).
    pub(crate) fn not_dry(&self) {
        self.0.fetch_and(!DRY, Ordering::SeqCst);
    }

    /// Whether the run is marked dry (see `DRY`).
    #[inline]
    pub(crate) fn dry(&self) -> bool {
        self.0.load(Ordering::Relaxed) & DRY != 0
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
