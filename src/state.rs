//! How a task ended: its [`State`], and the cause a skipped task keeps.

use std::fmt;
use std::num::NonZeroU32;

use crate::id::TaskId;

/// An [`Outcome`](crate::Outcome) without its payload, for counting and matching.
///
/// A run records one byte per task: the discriminant (0 while the task has
/// not finished).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
#[repr(u8)]
pub enum State {
    /// See [`Outcome::Succeeded`](crate::Outcome::Succeeded).
    Succeeded = 1,
    /// See [`Outcome::Failed`](crate::Outcome::Failed).
    Failed = 2,
    /// See [`Outcome::Panicked`](crate::Outcome::Panicked).
    Panicked = 3,
    /// See [`Outcome::Skipped`](crate::Outcome::Skipped).
    Skipped = 4,
    /// See [`Outcome::Cancelled`](crate::Outcome::Cancelled).
    Cancelled = 5,
    /// See [`Outcome::TimedOut`](crate::Outcome::TimedOut).
    TimedOut = 6,
}

impl State {
    /// Every state, in discriminant order.
    pub(crate) const ALL: [State; 6] = [
        State::Succeeded,
        State::Failed,
        State::Panicked,
        State::Skipped,
        State::Cancelled,
        State::TimedOut,
    ];

    /// The byte a run records for a task that ended in this state.
    pub(crate) const fn code(self) -> u8 {
        self as u8
    }

    /// This state's place in [`State::ALL`], for per-state counts.
    pub(crate) const fn index(self) -> usize {
        self as usize - 1
    }

    /// The state a recorded byte stands for (its [`OUTPUT_BITS`] aside).
    pub(crate) fn from_code(code: u8) -> State {
        let code = code & !OUTPUT_BITS;
        match State::ALL.get(usize::from(code).wrapping_sub(1)) {
            Some(&state) => state,
            None => unreachable!("kahn: internal error: task state code {code} in a finished run"),
        }
    }
}

/// In a run's state byte of a task that succeeded: its output is gone from
/// its slot, moved out by its one reader
/// ([`take_input`](crate::TaskContext::take_input)) or released once every
/// reader had finished ([`RunOptions::release_outputs`](crate::RunOptions::release_outputs)).
/// Kept in the report's bytes, where it means "succeeded, no output".
pub(crate) const GONE: u8 = 0x80;

/// In a run's state byte of a task that succeeded: its one reader holds a
/// reference to its output, so the output may not be moved out. Set and
/// read only by that reader; cleared before a retry of the reader and
/// before the report.
pub(crate) const LENT: u8 = 0x40;

/// The bits of a state byte that say what became of the output.
pub(crate) const OUTPUT_BITS: u8 = GONE | LENT;

/// Whether a state byte (of a run, or of a report) says the task succeeded
/// and its output is still in its slot.
#[inline]
pub(crate) fn holds_output(code: u8) -> bool {
    code & !LENT == State::Succeeded.code()
}

impl State {
    /// Whether a task that ended in this state ran (its body was called):
    /// it has a timing and counts as an attempt.
    pub(crate) fn ran(self) -> bool {
        matches!(
            self,
            State::Succeeded | State::Failed | State::Panicked | State::TimedOut
        )
    }

    /// The state in words, as `Display` shows it: "succeeded", "timed out"…
    pub fn as_str(self) -> &'static str {
        match self {
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::Panicked => "panicked",
            State::Skipped => "skipped",
            State::Cancelled => "cancelled",
            State::TimedOut => "timed out",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the tasks of a range will not all run, as releases carry it: the
/// task at the root, and whether it failed (a failure: the tasks are
/// skipped for it) or was passed over by choice (a branch that did not
/// choose them, or a trigger rule that did not hold: see `trigger.rs`).
///
/// Its id plus one, so that `Option<Cause>` takes four bytes, and the top
/// bit for "by choice" (a task id is below 2³¹ − 1, so both fit). A run's
/// `causes` array keeps the same bits, 0 for none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cause(NonZeroU32);

/// In a `Cause`: the root was passed over by choice, not failed.
const CHOSEN: u32 = 1 << 31;

impl Cause {
    /// The root `task` failed, panicked or timed out.
    #[inline]
    pub(crate) fn new(task: TaskId) -> Cause {
        // A task id is below 2^31 - 1 (`TaskId::LIMIT`), so adding one
        // neither overflows into the top bit nor makes zero.
        Cause(NonZeroU32::MIN.saturating_add(task.raw()))
    }

    /// The root `task` branched past these tasks, or its trigger rule did
    /// not hold.
    #[inline]
    pub(crate) fn chosen(task: TaskId) -> Cause {
        Cause(Cause::new(task).0 | CHOSEN)
    }

    #[inline]
    pub(crate) fn task(self) -> TaskId {
        TaskId::new((self.0.get() & !CHOSEN) - 1)
    }

    /// Whether the root was passed over by choice rather than failed.
    #[inline]
    pub(crate) fn by_choice(self) -> bool {
        self.0.get() & CHOSEN != 0
    }

    /// The bits a `causes` array keeps.
    #[inline]
    pub(crate) fn raw(self) -> u32 {
        self.0.get()
    }

    /// The cause a `causes` array keeps as `raw`; `None` for 0.
    #[inline]
    pub(crate) fn from_raw(raw: u32) -> Option<Cause> {
        NonZeroU32::new(raw).map(Cause)
    }
}
