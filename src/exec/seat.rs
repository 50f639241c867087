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
//! holds private work *announces* it (a counter in [`Seat::announced`],
//! with its current range mirrored here), and *retracts* the announcement
//! after. A hungry peer that sees the same announcement for
//! [`RESCUE_AFTER`](crate::exec::run::RESCUE_AFTER) takes the work.
//!
//! # The handshake (a Dekker pair)
//!
//! | holder, around each task | rescuer |
//! |---|---|
//! | mirror `cur`; `announced = a` (Release); light fence | `rescued = true`; heavy fence |
//! | run the task | `announced == a`? (Acquire) — else give up |
//! | `announced = 0`; light fence; `rescued`? | take the work (under `rescue`) |
//!
//! Each side stores, fences, then loads the other's flag, so at least one
//! sees the other: either the rescuer sees the retraction and takes nothing,
//! or the holder sees `rescued` and, under the `rescue` lock (which the
//! rescuer holds while it takes), reloads what is left before touching its
//! private work again. The work itself is published by the `Release` store
//! of `announced` and the `Acquire` load that sees it, and handed back by
//! the lock. The fences are `fence.rs`'s asymmetric pair: with symmetric
//! `SeqCst` fences (loom, Miri, non-Linux) this is the C++ model's store
//! buffering guarantee; with `membarrier`, the heavy side makes the
//! holder's compiler fence act as a full one.

use std::collections::VecDeque;
use std::sync::PoisonError;

use crate::exec::fence::Fences;
use crate::exec::releases::Releases;
use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use crate::sync::cell::UnsafeCell;
use crate::sync::deque::{Stealer, Worker};
use crate::sync::Mutex;

/// The ready work a seat's occupant holds privately.
#[derive(Debug, Default)]
pub(crate) struct Hidden {
    /// The occupant's current range, as of its last announcement (between
    /// announcements the live copy is the occupant's own).
    pub(crate) cur: Releases,
    /// Ranges the occupant set aside, newest last; always live here.
    pub(crate) stack: VecDeque<Releases>,
    /// How many announcements this seat has made, over all its occupants;
    /// the next one is `2 * made + 1`, so no two are alike.
    made: u64,
}

impl Hidden {
    /// Whether there is anything to take.
    pub(crate) fn is_empty(&self) -> bool {
        self.cur.is_empty() && self.stack.is_empty()
    }
}

/// One place at a run: at most one worker sits in it at a time.
pub(crate) struct Seat {
    /// The owner's end of this seat's deque, taken by whoever sits here.
    deque: Mutex<Option<Worker<Releases>>>,
    /// The thieves' end.
    stealer: Stealer<Releases>,
    occupied: AtomicBool,
    /// 0, or an odd number the occupant stores before running a task while
    /// it holds private work, and clears after it (a fresh number each time).
    announced: AtomicU64,
    /// Set by a rescuer that took the hidden work, cleared by the occupant.
    rescued: AtomicBool,
    /// Held by a rescuer while it takes the work, and by the occupant while
    /// it reloads what is left.
    rescue: Mutex<()>,
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
            stealer: deque.stealer(),
            deque: Mutex::new(Some(deque)),
            occupied: AtomicBool::new(false),
            announced: AtomicU64::new(0),
            rescued: AtomicBool::new(false),
            rescue: Mutex::new(()),
            hidden: UnsafeCell::new(Hidden::default()),
        }
    }

    /// The thieves' end of this seat's deque.
    pub(crate) fn stealer(&self) -> &Stealer<Releases> {
        &self.stealer
    }

    /// Sits down if the seat is free, taking its deque.
    pub(crate) fn try_take(&self) -> Option<Worker<Releases>> {
        if self
            .occupied
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        let deque = self
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
    /// The caller sits here, holds no private work (`hidden` is empty), and
    /// has no announcement out.
    pub(crate) unsafe fn leave(&self, deque: Worker<Releases>) {
        debug_assert_eq!(self.announced.load(Ordering::Relaxed), 0);
        *self.deque.lock().unwrap_or_else(PoisonError::into_inner) = Some(deque);
        self.occupied.store(false, Ordering::Release);
    }

    /// Runs `f` on the private work.
    ///
    /// # Safety
    /// Only the occupant calls this, and not between [`announce`](Self::announce)
    /// and [`retract`](Self::retract).
    #[inline]
    pub(crate) unsafe fn with_hidden<R>(&self, f: impl FnOnce(&mut Hidden) -> R) -> R {
        // SAFETY: by the caller's contract the occupant is the only one who
        // may touch `hidden` now (no announcement out, so no rescuer takes).
        self.hidden.with_mut(|hidden| f(unsafe { &mut *hidden }))
    }

    /// Announces that the occupant, holding private work whose current
    /// range is `cur`, is about to run a task.
    ///
    /// # Safety
    /// Only the occupant calls this, with no announcement out.
    #[inline]
    pub(crate) unsafe fn announce(&self, cur: Releases, fences: &Fences) {
        let number = self.hidden.with_mut(|hidden| {
            // SAFETY: no announcement is out, so no rescuer reads `hidden` now.
            let hidden = unsafe { &mut *hidden };
            hidden.cur = cur;
            hidden.made += 1;
            2 * hidden.made + 1
        });
        // Release: publishes the mirrored range (and the stack) to a
        // rescuer whose Acquire load sees this number.
        self.announced.store(number, Ordering::Release);
        fences.light();
    }

    /// Ends the occupant's announcement after its task and returns its
    /// current range: `cur` itself, or what a rescuer left of it.
    ///
    /// # Safety
    /// Only the occupant calls this, after [`announce`](Self::announce).
    #[inline]
    pub(crate) unsafe fn retract(&self, cur: Releases, fences: &Fences) -> Releases {
        self.announced.store(0, Ordering::Relaxed);
        fences.light();
        if self.rescued.load(Ordering::Relaxed) {
            return self.after_rescue();
        }
        cur
    }

    /// The occupant was (perhaps) rescued: wait for the rescuer to finish,
    /// then take what it left.
    #[cold]
    fn after_rescue(&self) -> Releases {
        let _taking = self.rescue.lock().unwrap_or_else(PoisonError::into_inner);
        self.rescued.store(false, Ordering::Relaxed);
        // SAFETY: the rescuer is done (we hold the lock) and no new rescue
        // can start before our next announcement.
        self.hidden.with(|hidden| unsafe { (*hidden).cur })
    }

    /// The occupant's current announcement: 0, or the odd number of the
    /// task it is running while holding private work.
    #[inline]
    pub(crate) fn announcement(&self) -> u64 {
        self.announced.load(Ordering::Relaxed)
    }

    /// Takes the occupant's private work if it is still inside the task it
    /// announced as `seen`; `None` if it came out, or another rescuer is at
    /// it. The caller pays the heavy fence.
    pub(crate) fn rescue(&self, seen: u64, fences: &Fences) -> Option<Hidden> {
        debug_assert!(seen % 2 == 1, "only an announced task can be rescued");
        let _taking = self.rescue.try_lock().ok()?;
        // The flag may be up already, from an earlier rescue of this same
        // announcement that the occupant has not seen yet: then it must
        // stay up whatever this attempt finds.
        let already = self.rescued.swap(true, Ordering::Relaxed);
        fences.heavy();
        // Acquire: if this sees `seen`, the occupant's mirrored range and
        // stack are visible, and (by the fences) the occupant will see
        // `rescued` when it comes out, and wait for this lock.
        if self.announced.load(Ordering::Acquire) != seen {
            // It came out. If it already saw the flag, it is waiting for the
            // lock and will find its work untouched.
            if !already {
                self.rescued.store(false, Ordering::Relaxed);
            }
            return None;
        }
        let taken = self.hidden.with_mut(|hidden| {
            // SAFETY: the occupant is inside its announced task and will not
            // touch `hidden` before it takes the lock we hold.
            let hidden = unsafe { &mut *hidden };
            Hidden {
                cur: std::mem::take(&mut hidden.cur),
                stack: std::mem::take(&mut hidden.stack),
                made: 0,
            }
        });
        (!taken.is_empty()).then_some(taken)
    }
}

impl std::fmt::Debug for Seat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seat")
            .field("occupied", &self.occupied.load(Ordering::Relaxed))
            .field("announced", &self.announcement())
            .finish_non_exhaustive()
    }
}
