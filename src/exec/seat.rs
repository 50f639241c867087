//! A worker's place in one run: its deque, the ready work it holds
//! privately, and the handshake by which an idle worker rescues that work
//! while its holder is stuck in a long task.
//!
//! # Why rescue
//!
//! A worker keeps the ready work it is not running yet private (its current
//! range and a stack of set-aside ranges) and publishes it only when a peer
//! is hungry, checked between tasks: publishing costs a deque push, and
//! later a pop with a fence, more than an empty task. But a worker inside a
//! long task cannot check: a peer that turns hungry then would wait for the
//! whole task, with ready work in sight. So before a task, a worker that
//! holds private work *announces* it (the task's [`number`] in
//! `announced`, with its current range copied beside it), and *retracts*
//! the announcement after. A hungry peer that sees the same announcement
//! for [`RESCUE_AFTER`](crate::exec::run::RESCUE_AFTER) takes the work.
//!
//! # The handshake (a Dekker pair)
//!
//! | holder, around each task | rescuer |
//! |---|---|
//! | copy `cur`; `announced = a` (Release); light fence | `rescued = true`; heavy fence |
//! | run the task | `announced == a`? (Acquire) — else give up |
//! | `announced = 0`; light fence; `rescued`? | take the work (under `rescue`) |
//!
//! Each side stores, fences, then loads the other's flag, so at least one
//! sees the other: either the rescuer sees the retraction and takes nothing,
//! or the holder sees `rescued` and, under the `rescue` lock (which the
//! rescuer holds while it takes), learns whether its work is gone before
//! touching it again. The work itself is published by the `Release` store
//! of `announced` and the `Acquire` load that sees it, and handed back by
//! the lock. The fences are `fence.rs`'s asymmetric pair: with symmetric
//! `SeqCst` fences (loom, Miri, non-Linux) this is the C++ model's store
//! buffering guarantee; with `membarrier`, the heavy side makes the
//! holder's compiler fence act as a full one.

use std::collections::VecDeque;
use std::sync::PoisonError;
#[cfg(not(loom))]
use std::time::Instant;

use crate::exec::fence::Fences;
use crate::exec::releases::Releases;
use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use crate::sync::cell::UnsafeCell;
use crate::sync::deque::{Stealer, Worker};
use crate::sync::Mutex;

use crossbeam_utils::CachePadded;

/// The ready work a seat's occupant holds privately.
#[derive(Debug, Default)]
pub(crate) struct Hidden {
    /// The occupant's current range as of its last announcement (between
    /// announcements the live copy is the occupant's own, in registers).
    pub(crate) cur: Releases,
    /// Ranges the occupant set aside, newest last; always live here.
    pub(crate) stack: VecDeque<Releases>,
    /// Clean releases of one task with many predecessors that the occupant
    /// combined instead of applying one by one; always live here.
    pub(crate) deferred: Option<Deferred>,
    /// Set by a rescuer that took the work, so that the occupant, coming
    /// out, knows its current range is gone.
    taken: bool,
    /// What the seat's occupants remember of the other seats'
    /// announcements, kept here between occupants so that joining a run
    /// allocates nothing after the seat's first (and emptied between runs,
    /// whose numbers repeat). Never rescued.
    pub(crate) seen: Vec<Sighting>,
}

impl Hidden {
    /// Whether there is anything to take.
    pub(crate) fn is_empty(&self) -> bool {
        self.cur.is_empty() && self.stack.is_empty() && self.deferred.is_none()
    }
}

/// What an idle worker remembers of one peer's announcement.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sighting {
    pub(crate) number: u64,
    #[cfg(not(loom))]
    pub(crate) since: Option<Instant>,
    /// Nothing is left to rescue under this announcement: it was rescued
    /// (by this worker or another) or came out empty. Ignored until the
    /// peer announces again.
    pub(crate) spent: bool,
}

/// Releases of one task, deferred and combined (`Claim::Deferred`): `count`
/// of them, the latest from `targets[index]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deferred {
    pub(crate) task: u32,
    pub(crate) count: u32,
    pub(crate) index: u32,
}

/// The number of the announcement made before task `v` runs: `4v + 1`,
/// or `4v + 3` for the one made again after sharing (`again`).
///
/// Odd, so never 0 (nothing announced), and unique within a run: a task
/// is claimed once and announced at most twice (retries and tasks back
/// from a resource run unannounced). Uniqueness is what the idle side
/// needs: it rescues from a peer whose number stays the same for
/// [`RESCUE_AFTER`](crate::exec::run::RESCUE_AFTER), and ignores a number
/// it has spent. The handshake's safety does not rest on it. A count kept
/// per seat, as before, cost a load and a store a task; `v` is in a
/// register already.
///
/// The whole current range is copied beside the number: stores to the
/// seat's own padded block, which only the occupant writes. Copying only
/// what changed, as an earlier version did, cost more than it saved: the
/// comparison ran on every task, and depth-first work begins a new range
/// on most tasks (callgrind: 11 more instructions a task on tree, 9 on
/// independent).
#[inline]
pub(crate) fn number(v: u32, again: bool) -> u64 {
    u64::from(v) << 2 | if again { 3 } else { 1 }
}

/// One place at a run: at most one worker sits in it at a time.
pub(crate) struct Seat {
    /// What other workers read when they look for work: kept off the
    /// cache line the occupant writes before every task.
    meet: CachePadded<Meet>,
    /// What the occupant writes before and after every task it holds work
    /// for (and idle peers read only while they watch).
    own: CachePadded<Own>,
}

/// The part of a seat that thieves and newcomers use.
struct Meet {
    /// The owner's end of this seat's deque, taken by whoever sits here.
    deque: Mutex<Option<Worker<Releases>>>,
    /// The thieves' end.
    stealer: Stealer<Releases>,
    occupied: AtomicBool,
    /// Held by a rescuer while it takes the work, and by the occupant while
    /// it learns whether its work was taken.
    rescue: Mutex<()>,
}

/// The part of a seat that its occupant writes on the hot path.
struct Own {
    /// 0, or the odd [`number`] the occupant stores before running a task
    /// while it holds private work, and clears after it.
    announced: AtomicU64,
    /// Set by a rescuer that took the hidden work, cleared by the occupant.
    rescued: AtomicBool,
    /// The private work. Touched by the occupant outside announced tasks
    /// and after a rescue under `rescue`, and by a rescuer only under
    /// `rescue` while the occupant is provably inside an announced task.
    hidden: UnsafeCell<Hidden>,
}

// SAFETY: `hidden` is the only field that is not `Sync` on its own; who may
// touch it when is the handshake in the module docs: the occupant (one
// thread, `occupied`) outside announced tasks, a rescuer only under the
// `rescue` lock after confirming the occupant is inside an announced task,
// and each hand-off is ordered by the Release/Acquire of `announced` or by
// the lock. `Releases` is plain data, so moving it across threads is fine.
unsafe impl Sync for Seat {}
// SAFETY: as above; a seat owns plain data and a deque that is `Send`.
unsafe impl Send for Seat {}

impl Seat {
    pub(crate) fn new() -> Seat {
        let deque = Worker::new_lifo();
        Seat {
            meet: CachePadded::new(Meet {
                stealer: deque.stealer(),
                deque: Mutex::new(Some(deque)),
                occupied: AtomicBool::new(false),
                rescue: Mutex::new(()),
            }),
            own: CachePadded::new(Own {
                announced: AtomicU64::new(0),
                rescued: AtomicBool::new(false),
                hidden: UnsafeCell::new(Hidden::default()),
            }),
        }
    }

    /// Readies a seat that served a run that has ended for the next one.
    /// Its buffers keep their capacity, which is what makes a reused seat
    /// cheaper than a new one; its sightings are forgotten, as the next
    /// run's announcement numbers repeat this one's.
    pub(crate) fn reset(&mut self) {
        // `&mut self`: plain loads and stores would do, but loom's atomics
        // have no `get_mut`.
        let deque = self
            .meet
            .deque
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        debug_assert!(
            !self.meet.occupied.load(Ordering::Relaxed) && deque.is_some(),
            "a seat is reset only after its run ended and its worker left"
        );
        // A part run can end with releases left in a deque: a worker that
        // rotated to another run published the releases it held, and when
        // those were of remote tasks only, the feed recorded them all
        // before any worker took the range (a local task there would still
        // wait, so the run could not have ended). They are spent; the next
        // run must not see them.
        if let Some(deque) = deque.as_ref() {
            while deque.pop().is_some() {}
        }
        drop(deque);
        self.own.announced.store(0, Ordering::Relaxed);
        self.own.rescued.store(false, Ordering::Relaxed);
        self.own.hidden.with_mut(|hidden| {
            // SAFETY: `&mut self`: nobody else can touch the seat.
            let hidden = unsafe { &mut *hidden };
            hidden.cur = Releases::EMPTY;
            hidden.stack.clear();
            hidden.deferred = None;
            hidden.taken = false;
            hidden.seen.clear();
        });
    }

    /// The thieves' end of this seat's deque.
    pub(crate) fn stealer(&self) -> &Stealer<Releases> {
        &self.meet.stealer
    }

    /// Sits down if the seat is free, taking its deque.
    pub(crate) fn try_take(&self) -> Option<Worker<Releases>> {
        if self
            .meet
            .occupied
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        let deque = self
            .meet
            .deque
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        debug_assert!(deque.is_some(), "a free seat has its deque");
        deque
    }

    /// Stands up, leaving the deque (and whatever it holds) with the seat.
    ///
    /// # Safety
    /// The caller sits here, holds no private work (an empty stack and no
    /// deferred releases; `cur` is only the copy of a past announcement),
    /// and has no announcement out.
    pub(crate) unsafe fn leave(&self, deque: Worker<Releases>) {
        debug_assert_eq!(self.own.announced.load(Ordering::Relaxed), 0);
        *self
            .meet
            .deque
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(deque);
        self.meet.occupied.store(false, Ordering::Release);
    }

    /// Runs `f` on the private work.
    ///
    /// # Safety
    /// Only the occupant calls this, and not between [`announce`](Self::announce)
    /// and [`retract`](Self::retract).
    #[inline]
    pub(crate) unsafe fn with_hidden<R>(&self, f: impl FnOnce(&mut Hidden) -> R) -> R {
        self.own.hidden.with_mut(|hidden| {
            // SAFETY: by the caller's contract the occupant is the only one
            // who may touch `hidden` now (no announcement out, so no
            // rescuer takes).
            f(unsafe { &mut *hidden })
        })
    }

    /// Announces that the occupant, holding private work whose current
    /// range is `cur`, is about to run the task whose [`number`] is `number`.
    ///
    /// # Safety
    /// Only the occupant calls this, with no announcement out.
    #[inline]
    pub(crate) unsafe fn announce(&self, number: u64, cur: Releases, fences: &Fences) {
        self.own.hidden.with_mut(|hidden| {
            // SAFETY: no announcement is out, so no rescuer reads `hidden`
            // now.
            unsafe { (*hidden).cur = cur };
        });
        // Release: publishes the copy (and the stack) to a rescuer whose
        // Acquire load sees this number.
        self.own.announced.store(number, Ordering::Release);
        fences.light();
    }

    /// Ends the occupant's announcement after its task; `true` if a rescuer
    /// took its private work (its current range and its stack are gone).
    ///
    /// # Safety
    /// Only the occupant calls this, after [`announce`](Self::announce).
    #[inline]
    pub(crate) unsafe fn retract(&self, fences: &Fences) -> bool {
        self.own.announced.store(0, Ordering::Relaxed);
        fences.light();
        if self.own.rescued.load(Ordering::Relaxed) {
            return self.after_rescue();
        }
        false
    }

    /// The occupant was (perhaps) rescued: waits for the rescuer to finish;
    /// `true` if it took the work, `false` if it gave up.
    #[cold]
    fn after_rescue(&self) -> bool {
        let _taking = self
            .meet
            .rescue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.own.rescued.store(false, Ordering::Relaxed);
        self.own.hidden.with_mut(|hidden| {
            // SAFETY: the rescuer is done (we hold the lock) and no new
            // rescue can start before our next announcement.
            unsafe { std::mem::take(&mut (*hidden).taken) }
        })
    }

    /// The occupant's current announcement: 0, or the odd number of the
    /// task it is running while holding private work.
    #[inline]
    pub(crate) fn announcement(&self) -> u64 {
        self.own.announced.load(Ordering::Relaxed)
    }

    /// Takes the occupant's private work if it is still inside the task it
    /// announced as `seen`; `None` if it came out, or another rescuer is at
    /// it. The caller pays the heavy fence.
    pub(crate) fn rescue(&self, seen: u64, fences: &Fences) -> Option<Hidden> {
        debug_assert!(seen % 2 == 1, "only an announced task can be rescued");
        let _taking = self.meet.rescue.try_lock().ok()?;
        // The flag may be up already, from an earlier rescue of this same
        // announcement that the occupant has not seen yet: then it must
        // stay up whatever this attempt finds.
        let already = self.own.rescued.swap(true, Ordering::Relaxed);
        fences.heavy();
        // Acquire: if this sees `seen`, the occupant's copied range and
        // stack are visible, and (by the fences) the occupant will see
        // `rescued` when it comes out, and wait for this lock.
        if self.own.announced.load(Ordering::Acquire) != seen {
            // It came out. If it already saw the flag, it is waiting for the
            // lock and will find its work untouched.
            if !already {
                self.own.rescued.store(false, Ordering::Relaxed);
            }
            return None;
        }
        let taken = self.own.hidden.with_mut(|hidden| {
            // SAFETY: the occupant is inside its announced task and will not
            // touch `hidden` before it takes the lock we hold.
            let hidden = unsafe { &mut *hidden };
            let cur = std::mem::take(&mut hidden.cur);
            hidden.taken = true;
            Hidden {
                cur,
                stack: std::mem::take(&mut hidden.stack),
                deferred: hidden.deferred.take(),
                ..Hidden::default()
            }
        });
        (!taken.is_empty()).then_some(taken)
    }
}

impl std::fmt::Debug for Seat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seat")
            .field("occupied", &self.meet.occupied.load(Ordering::Relaxed))
            .field("announced", &self.announcement())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use crate::exec::releases::Releases;
    use crate::exec::seat::{number, Seat, Sighting};

    #[test]
    fn announcement_numbers_are_odd_and_never_shared_by_two_announcements() {
        let tasks = (0..1000).chain(u32::MAX - 1000..=u32::MAX);
        let mut seen = std::collections::HashSet::new();
        for v in tasks {
            for again in [false, true] {
                let n = number(v, again);
                assert_eq!(n % 2, 1, "task {v}, again {again}: {n} is even");
                assert!(seen.insert(n), "task {v}, again {again}: {n} repeats");
            }
        }
    }

    #[test]
    fn a_reset_seat_forgets_its_sightings() {
        let mut seat = Seat::new();
        // SAFETY: nobody sits in the seat or announces from it.
        unsafe {
            seat.with_hidden(|hidden| {
                hidden.seen.push(Sighting {
                    number: number(7, false),
                    spent: true,
                    ..Sighting::default()
                })
            })
        };
        seat.reset();
        // SAFETY: as above.
        let kept = unsafe { seat.with_hidden(|hidden| hidden.seen.len()) };
        assert_eq!(
            kept, 0,
            "a sighting of a run that ended survived: the next run repeats its numbers"
        );
    }

    #[test]
    fn a_reset_seat_holds_no_releases_of_its_last_run() {
        let mut seat = Seat::new();
        let deque = seat.try_take().expect("a new seat is free");
        deque.push(Releases {
            lo: 3,
            hi: 9,
            poison: None,
        });
        // SAFETY: this test sits in the seat, holds nothing private and has
        // no announcement out.
        unsafe { seat.leave(deque) };
        seat.reset();
        let deque = seat.try_take().expect("a reset seat is free");
        assert!(deque.pop().is_none(), "a spent range reached the next run");
    }
}
