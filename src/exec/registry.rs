//! How runs share an executor's workers: the list of runs in progress, the
//! worker jobs the executor keeps in its rayon pool, and how a worker job
//! chooses a run.
//!
//! A worker is not a thread kahn owns but a *job* on one of the pool's
//! rayon threads: it joins the run that needs it most, works there until
//! that run has nothing for it (or another run is waiting and it has served
//! long enough), then looks for another run, and when no run needs it,
//! returns to rayon. So an idle thread is an idle rayon thread: it sleeps in
//! rayon, and it runs the rayon jobs that tasks create (`par_iter`,
//! `join`), which is how parallelism inside a task spreads over the pool.
//!
//! # Keeping a run alive while workers are in it
//!
//! A run's state lives on the stack of the thread that started it and
//! borrows the graph, but worker jobs are `'static`. The executor keeps a
//! [`Listing`] per run, shared by `Arc`: its signals, how many workers are
//! in it (`presence`), and a pointer to the run with its lifetime erased.
//! That pointer is dereferenced only between a successful
//! [`Listing::try_join`] and the matching [`Listing::leave`]; the starting
//! thread returns (and frees the run) only after [`Listing::close`], which
//! succeeds once the run has ended and nobody is in it, and after which
//! nobody can join.
//!
//! # Fairness
//!
//! A job joins the run with the fewest workers (the oldest on a tie). A run
//! asks for more workers (`WANT`) while it has fewer than it may have; a
//! worker with work to give then spawns a job if the executor has fewer
//! jobs than threads. When a run waits for a worker (it has none, and its
//! workers did not leave it dry: see [`Listing::starving`]) while every
//! thread serves another, the others are asked to rotate (`ROTATE`): a worker
//! that has served its run for [`QUANTUM`] publishes its private work and
//! moves. So every run gets a worker within about a quantum of task time,
//! and runs that are equally wide share the threads about equally; there
//! is no stronger guarantee (no priorities between runs, no strict shares).
//! A run's seats are at most its worker limit (`RunOptions::max_workers`):
//! `try_join` admits no more, and a run with every seat taken neither asks
//! for workers nor counts as starving, so the other threads go to other
//! runs.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::exec::fence::Fences;
use crate::exec::seat::Seat;
use crate::exec::signals::Signals;
// The listing's own fields are loom's under `--cfg loom`; the executor's
// counters below are not modelled (the pool is rayon's, not loom's).
use crate::sync::atomic as modelled;
use crate::sync::thread::{self, Thread};

/// How long a worker serves a run before it moves to a run that has none.
pub(crate) const QUANTUM: Duration = Duration::from_millis(1);

/// Why a worker left a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Departure {
    /// The run ended.
    Over,
    /// The run had nothing for this worker.
    NoWork,
    /// Another run was waiting; this worker published its work and moved.
    Rotated,
}

/// A run as worker jobs see it, its lifetime and output type erased.
pub(crate) trait Participate: Sync {
    /// Works in the run on the calling pool thread until it ends, has
    /// nothing for this worker, or asks it to move; `nested`: for at most
    /// about a quantum (see `worker_job`).
    fn participate(&self, shared: &Arc<Shared>, listing: &Listing, nested: bool) -> Departure;
}

/// Set in `presence` once the run's starter has closed it: nobody joins.
const CLOSED: usize = 1 << (usize::BITS - 1);

/// What the executor keeps of one run in progress.
pub(crate) struct Listing {
    /// The run, lifetime erased; see the module docs for when it is valid.
    run: *const (dyn Participate + 'static),
    /// Workers in the run (floating and anchored), and `CLOSED`.
    presence: modelled::AtomicUsize,
    /// The most workers the run takes (its seats).
    seats: usize,
    /// The thread that waits for the run to end.
    waiter: Thread,
    /// Order of arrival, for ties.
    serial: u64,
    /// Set by a worker that saw the run end, so that a run with no worker
    /// left is not mistaken for one waiting for a worker.
    ended: modelled::AtomicBool,
    /// Set when a worker job found every seat taken (see
    /// [`join_or_leave_word`](Self::join_or_leave_word)); the next worker
    /// to leave answers it.
    turned_away: modelled::AtomicBool,
    /// The run's signals, shared with the run itself so the executor can
    /// raise them without joining it.
    signals: Arc<Signals>,
}

// SAFETY: `run` points at a `Sync` value and is dereferenced only by a
// joined worker while the starter keeps the value alive (module docs); the
// other fields are atomics, a `Thread` handle and plain data.
unsafe impl Send for Listing {}
// SAFETY: as above.
unsafe impl Sync for Listing {}

impl Listing {
    /// A listing for `run`, waited for by the calling thread.
    ///
    /// # Safety
    /// `run` must stay valid until [`close`](Self::close) has returned `true`.
    pub(crate) unsafe fn new(
        run: &(dyn Participate + '_),
        signals: Arc<Signals>,
        seats: usize,
        serial: u64,
    ) -> Listing {
        let run: *const (dyn Participate + '_) = run;
        // SAFETY: only the lifetime changes; the caller keeps the value
        // alive for as long as the pointer is dereferenced (see `close`).
        let run: *const (dyn Participate + 'static) = unsafe { std::mem::transmute(run) };
        Listing {
            run,
            presence: modelled::AtomicUsize::new(0),
            seats,
            waiter: thread::current(),
            serial,
            ended: modelled::AtomicBool::new(false),
            turned_away: modelled::AtomicBool::new(false),
            signals,
        }
    }

    /// Notes that the run has ended.
    pub(crate) fn mark_ended(&self) {
        self.ended.store(true, Ordering::Relaxed);
    }

    /// Whether the run is open, unfinished, and waits for a worker: it has
    /// none, and its workers did not leave it dry (a run whose tasks are
    /// all parked on a resource gets work back by a hand-back, which calls
    /// a worker itself and clears the mark; see `signals.rs`).
    fn starving(&self) -> bool {
        self.presence.load(Ordering::Relaxed) == 0
            && !self.ended.load(Ordering::Relaxed)
            && !self.signals.dry()
    }

    /// Whether the run's workers left it dry and none is in it.
    fn dry_and_empty(&self) -> bool {
        self.presence() == 0 && self.signals.dry()
    }

    /// Workers in the run now (a hint outside the registry lock).
    fn presence(&self) -> usize {
        self.presence.load(Ordering::Relaxed) & !CLOSED
    }

    /// Enters the run if it is open and has a free seat.
    pub(crate) fn try_join(&self) -> bool {
        self.presence
            .fetch_update(Ordering::Acquire, Ordering::Relaxed, |p| {
                (p & CLOSED == 0 && p < self.seats).then_some(p + 1)
            })
            .is_ok()
    }

    /// Enters the run as [`try_join`](Self::try_join) does; but if the run
    /// is open and every seat is taken, leaves word for the next worker to
    /// leave, and looks once more.
    ///
    /// A job called for a run limited to fewer workers than the executor
    /// has threads may find it full while a worker is on its way out (one
    /// that found nothing, just before a peer published work and called).
    /// Turned away, the call would be lost, and the published work would
    /// wait for its publisher's task to end. So either this second look
    /// sees the seat freed, or the leaver sees the word and calls a worker
    /// itself (Dekker, with a `SeqCst` fence on each side: see
    /// [`leave`](Self::leave)). A full run also stops asking for workers
    /// until one leaves: a worker that publishes work would otherwise call
    /// one before every task, for nothing.
    pub(crate) fn join_or_leave_word(&self) -> bool {
        if self.try_join() {
            return true;
        }
        if self.presence.load(Ordering::Relaxed) & CLOSED != 0 {
            return false;
        }
        self.signals.enough_workers();
        self.turned_away.store(true, Ordering::Relaxed);
        modelled::fence(Ordering::SeqCst);
        if !self.try_join() {
            return false;
        }
        // Workers that left between the two looks raised `WANT` before it
        // was cleared above: raise it again if a seat is still free (a
        // leave this load misses raises it after the clear, by the fence).
        if self.presence() < self.seats {
            self.signals.want_workers();
        }
        true
    }

    /// The run this worker joined.
    ///
    /// # Safety
    /// The caller joined (`try_join` returned `true`) and has not left.
    pub(crate) unsafe fn run(&self) -> &dyn Participate {
        // SAFETY: while a worker is in the run, `close` cannot succeed, so
        // the starter keeps the run alive.
        unsafe { &*self.run }
    }

    /// Leaves the run; the last worker out wakes the waiting starter.
    /// `true` if a worker job was turned away from the run while it was
    /// full (see [`join_or_leave_word`](Self::join_or_leave_word)): the
    /// caller then calls a worker in its place, unless the run is over.
    #[must_use = "a worker turned away from the run must be answered"]
    pub(crate) fn leave(&self) -> bool {
        // Release: everything this worker did in the run happens-before the
        // starter's `close`.
        if self.presence.fetch_sub(1, Ordering::Release) == 1 {
            self.waiter.unpark();
        }
        modelled::fence(Ordering::SeqCst);
        self.turned_away.swap(false, Ordering::Relaxed)
    }

    /// Closes the run if nobody is in it; after `true`, nobody ever joins.
    /// Call only from the waiting thread, once the run has ended.
    fn close(&self) -> bool {
        self.presence
            .compare_exchange(0, CLOSED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Waits, on the thread that started the run, until it is over
    /// (`is_over`) and every worker has left it, and closes it so that none
    /// joins again: after this the run may be freed. `nudge` runs before
    /// each sleep, and says how long at most to sleep (a retry falls due).
    pub(crate) fn wait_until_closed(
        &self,
        is_over: impl Fn() -> bool,
        nudge: impl Fn() -> Option<Duration>,
    ) {
        // Short runs end within microseconds: look for a while before
        // sleeping, yielding the core to the workers. (Once under loom,
        // whose model of the looks is the sleep's.)
        const LOOKS: u32 = if cfg!(loom) { 1 } else { 64 };
        for _ in 0..LOOKS {
            if is_over() && self.close() {
                return;
            }
            thread::yield_now();
        }
        loop {
            if is_over() && self.close() {
                return;
            }
            let at_most = nudge();
            // The last worker out unparks this thread; the timeout only
            // guards against a wake-up consumed by an earlier, unrelated
            // park (loom's park has none, so its models show it is not
            // needed otherwise), and wakes it for a retry that falls due.
            let limit = Duration::from_millis(10);
            thread::park_timeout(at_most.map_or(limit, |d| d.min(limit)));
        }
    }
}

impl std::fmt::Debug for Listing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listing")
            .field("serial", &self.serial)
            .field("presence", &self.presence())
            .field("seats", &self.seats)
            .field("signals", &self.signals)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

/// The executor's state that its worker jobs share, the pool included.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The threads. Dropped with the last `Arc<Shared>`, which a worker job
    /// may hold: dropping a rayon pool only tells its threads to finish.
    pool: rayon::ThreadPool,
    threads: usize,
    pub(crate) fences: Fences,
    runs: Mutex<Vec<Arc<Listing>>>,
    /// Worker jobs spawned and not yet returned to rayon.
    jobs: AtomicUsize,
    /// Seats of ended runs, reset, for the next runs: a run that reuses
    /// them allocates no seat, deque or stack.
    spare_seats: Mutex<Vec<Box<[Seat]>>>,
    /// Lingering jobs no caller counted on yet (see [`spawn_worker`]).
    lingering: AtomicUsize,
    /// Lingering jobs a caller counted on, to answer.
    assigned: AtomicUsize,
    /// Calls waiting for a job to be free.
    standing: AtomicUsize,
    serials: AtomicU64,
    /// How many times a worker left a run for another (the unit tests').
    #[cfg(test)]
    rotations: AtomicUsize,
}

impl Shared {
    pub(crate) fn new(pool: rayon::ThreadPool) -> Shared {
        Shared {
            threads: pool.current_num_threads(),
            pool,
            fences: Fences::detect(),
            runs: Mutex::new(Vec::new()),
            jobs: AtomicUsize::new(0),
            spare_seats: Mutex::new(Vec::new()),
            lingering: AtomicUsize::new(0),
            assigned: AtomicUsize::new(0),
            standing: AtomicUsize::new(0),
            serials: AtomicU64::new(0),
            #[cfg(test)]
            rotations: AtomicUsize::new(0),
        }
    }

    pub(crate) fn threads(&self) -> usize {
        self.threads
    }

    /// Whether the calling thread is one of this executor's.
    pub(crate) fn is_own_thread(&self) -> bool {
        self.pool.current_thread_index().is_some()
    }

    /// `count` seats for a run (one per worker it may have), reused from an
    /// ended run that had as many if there is one.
    pub(crate) fn lend_seats(&self, count: usize) -> Box<[Seat]> {
        let spare = {
            let mut spare = self
                .spare_seats
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // `remove`, not `swap_remove`: the list stays oldest first,
            // which is how `give_back_seats` evicts.
            let at = spare.iter().rposition(|s| s.len() == count);
            at.map(|at| spare.remove(at))
        };
        spare.unwrap_or_else(|| (0..count).map(|_| Seat::new()).collect())
    }

    /// Takes back the seats of an ended run, which every worker has left.
    pub(crate) fn give_back_seats(&self, mut seats: Box<[Seat]>) {
        /// Sets kept: as many as runs usually overlap, not as many as ever
        /// did. A set of another size than the one asked for is passed over,
        /// so runs with and without a worker limit each find theirs.
        const KEPT: usize = 4;
        if seats.is_empty() || seats.len() > self.threads {
            return;
        }
        for seat in seats.iter_mut() {
            seat.reset();
        }
        let mut spare = self
            .spare_seats
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if spare.len() == KEPT {
            // The oldest set goes: after a change of limit, the sets of the
            // old size are the ones no run asks for.
            spare.remove(0);
        }
        spare.push(seats);
    }

    /// A fresh serial number for a listing.
    pub(crate) fn next_serial(&self) -> u64 {
        self.serials.fetch_add(1, Ordering::Relaxed)
    }

    /// Lists a run so worker jobs can find it.
    pub(crate) fn register(&self, listing: Arc<Listing>) {
        if self.threads > 1 && listing.presence() < listing.seats {
            listing.signals.want_workers();
        }
        let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        runs.push(listing);
        refresh_rotation(&runs);
    }

    /// Takes a closed run off the list.
    pub(crate) fn deregister(&self, listing: &Arc<Listing>) {
        let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        runs.retain(|l| !Arc::ptr_eq(l, listing));
        refresh_rotation(&runs);
    }

    /// Counts one more worker job, if the executor has fewer than threads.
    pub(crate) fn try_add_job(&self) -> bool {
        self.jobs
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |j| {
                (j < self.threads).then_some(j + 1)
            })
            .is_ok()
    }

    /// Joins the run that needs a worker most and is not in `tried`: the
    /// fewest workers, the oldest on a tie. A run its workers left dry,
    /// with none in it, is passed over: it has nothing for a worker until
    /// work comes back, and that clears the mark before it calls one.
    /// Allocates nothing, so that a worker joining and leaving runs costs
    /// no heap allocation.
    fn pick(&self, tried: &Tried) -> Option<Arc<Listing>> {
        let runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        // Candidates in (workers, serial) order, without sorting a copy:
        // each round takes the least key above the last one tried.
        let mut after: Option<(usize, u64)> = None;
        loop {
            let next = runs
                .iter()
                .filter(|l| !tried.contains(l.serial) && !l.dry_and_empty())
                .map(|l| ((l.presence(), l.serial), l))
                .filter(|(key, _)| after.is_none_or(|a| *key > a))
                .min_by_key(|(key, _)| *key)?;
            let (key, listing) = next;
            if listing.join_or_leave_word() {
                if listing.presence() >= listing.seats {
                    listing.signals.enough_workers();
                }
                refresh_rotation(&runs);
                return Some(Arc::clone(listing));
            }
            after = Some(key);
        }
    }

    /// A worker left `listing`: it may now lack workers, or be waiting.
    pub(crate) fn left(&self, listing: &Listing) {
        if self.threads > 1 {
            listing.signals.want_workers();
        }
        let runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        refresh_rotation(&runs);
    }

    /// Whether some listed run waits for a worker (see
    /// [`Listing::starving`]).
    fn someone_starving(&self) -> bool {
        let runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        runs.iter().any(|l| l.starving())
    }

    /// A run left dry got work back: asks the workers of other runs to
    /// rotate if it now waits for a worker.
    pub(crate) fn refresh_rotation(&self) {
        let runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        refresh_rotation(&runs);
    }

    /// Gives up the calling job's slot; but if a call stands (or `wanted`
    /// says a run needs a worker) and a slot is free, takes one back and
    /// answers: `true`, serve. A call that found the executor full before
    /// the decrement is seen here after it (Dekker with [`spawn_worker`]:
    /// it puts its token before it counts the jobs, the job uncounts itself
    /// before it looks for tokens).
    fn release_slot(&self, wanted: impl FnOnce() -> bool) -> bool {
        self.jobs.fetch_sub(1, Ordering::SeqCst);
        if (self.standing.load(Ordering::SeqCst) > 0 || wanted()) && self.try_add_job() {
            take_one(&self.standing);
            return true;
        }
        false
    }

    /// Asks every listed run with room for workers to call one.
    fn want_workers_everywhere(&self) {
        let runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        for l in runs.iter().filter(|l| l.presence() < l.seats) {
            l.signals.want_workers();
        }
    }
}

/// Asks the workers of every run that has some to rotate while some open
/// run has none, and stops asking once none is waiting.
fn refresh_rotation(runs: &[Arc<Listing>]) {
    let starving = runs.iter().any(|l| l.starving());
    for l in runs {
        l.signals.set_rotate(starving && l.presence() > 0);
    }
}

/// Calls a worker, from any thread: hands the call to a lingering worker
/// job if there is one, or spawns a job into the executor's pool if it has
/// room for one. `false` if neither (every thread is busy serving runs);
/// the call then stands, and the first job that is free answers it.
///
/// # Calls
///
/// `lingering` counts the lingering jobs nobody has counted on yet, and
/// `assigned` the ones a caller did count on that have not answered: a
/// caller moves one from the first to the second, and a lingering job that
/// sees `assigned` above zero takes one and goes to serve. A job that stops
/// lingering takes its place back from `lingering`, or, if a caller took it
/// first, answers that caller from `assigned`. So `lingering + assigned` is
/// the number of lingering jobs, and every call handed over is answered.
/// A call that finds no lingering job and no room for a new one *stands*
/// (`standing`) until a job is free: a job that stops lingering, or leaves
/// for rayon (for good, or for a slice of rayon work while it lingers),
/// looks for standing calls first (Dekker with the caller: each side counts
/// itself before it looks at the other).
pub(crate) fn spawn_worker(shared: &Arc<Shared>) -> bool {
    if take_one(&shared.lingering) {
        shared.assigned.fetch_add(1, Ordering::SeqCst);
        return true;
    }
    // At most `threads` calls stand: more could never be answered by more
    // jobs, and each stale one would cost a job a useless round (under a
    // stream of runs they piled up by the hundred thousand, and jobs never
    // went back to rayon). A call not counted is still covered: `standing`
    // is above zero, so a job that leaves after failing `try_add_job` below
    // serves it (the exit re-check in `worker_job`).
    let counted = shared
        .standing
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
            (s < shared.threads).then_some(s + 1)
        })
        .is_ok();
    if !shared.try_add_job() {
        return false;
    }
    if counted && !take_one(&shared.standing) {
        // A job that was leaving took the call: no new one is needed.
        shared.jobs.fetch_sub(1, Ordering::SeqCst);
        return true;
    }
    let job = Arc::clone(shared);
    shared.pool.spawn(move || worker_job(job));
    if shared.is_own_thread() {
        wake_for_local_push(shared);
    }
    true
}

/// Makes sure a sleeping pool thread learns of a job this pool thread just
/// pushed on its own deque.
///
/// Rayon pushes a job spawned on one of its threads to that thread's deque,
/// then reads its sleep counters to decide whether to wake a sleeper,
/// without a fence in between; its sleep README says why: "no fence is
/// needed for work posted to internal queues, since it is ok to overlook
/// work in that case" (the pushing thread runs it later). So a thread going
/// to sleep may miss the push while the pusher misses the sleep (the store
/// of the push can pass the load of the counters), and the job then waits
/// until this thread is free. Here this thread is about to run a task that
/// may be long, and the job is the worker meant to take the work beside it:
/// overlooked, a ready task would wait behind a running one with a thread
/// asleep (seen under Miri, whose weak memory makes that reordering happen).
/// A `SeqCst` fence, then a second push (an empty job, on a deque that is no
/// longer empty, so rayon wakes a sleeper if it sees one), closes the gap:
/// either the sleeping thread's search, after its own fences, sees the
/// first push, or this thread's second look at the counters sees it sleepy
/// or asleep, and wakes it. A call is rare (a run asking for a worker), so
/// the empty job's allocation is too.
fn wake_for_local_push(shared: &Shared) {
    std::sync::atomic::fence(Ordering::SeqCst);
    shared.pool.spawn(|| {});
}

/// Decrements `count` if it is above zero; `true` if it did.
fn take_one(count: &AtomicUsize) -> bool {
    count
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| c.checked_sub(1))
        .is_ok()
}

/// How long a worker job with no run to serve stays ready for the next
/// call before it returns its thread to rayon. A run that starts within it
/// (back-to-back runs of a batch) finds its worker awake, not asleep in
/// rayon; while it waits, the job runs any rayon work that is pending.
const LINGER: Duration = Duration::from_micros(50);

/// How often a lingering job looks for pending rayon work.
const SLICE: Duration = Duration::from_micros(5);

/// How a lingering job's wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lingered {
    /// It took a call: serve.
    Called,
    /// No call came in time: leave, if no call stands.
    Expired,
    /// Its slot went to another job while it ran rayon work: it has left.
    Replaced,
}

/// Waits up to [`LINGER`] for a call for a worker, running pending rayon
/// work meanwhile.
fn linger(shared: &Shared) -> Lingered {
    let start = std::time::Instant::now();
    loop {
        shared.lingering.fetch_add(1, Ordering::SeqCst);
        let slice = start.elapsed() + SLICE;
        while start.elapsed() < slice.min(LINGER) {
            if shared.assigned.load(Ordering::Relaxed) > 0 && take_one(&shared.assigned) {
                return Lingered::Called;
            }
            std::thread::yield_now();
        }
        if !take_one(&shared.lingering) {
            // A caller counted on this job just now: answer it. Its
            // `assigned` increment follows its decrement at once.
            while !take_one(&shared.assigned) {
                std::hint::spin_loop();
            }
            return Lingered::Called;
        }
        if take_one(&shared.standing) {
            return Lingered::Called;
        }
        if start.elapsed() >= LINGER {
            return Lingered::Expired;
        }
        // Between slices it runs pending rayon work, which may take long
        // or be another worker job that serves a run in turn. While it
        // does, this job cannot answer a call, so it gives its slot up:
        // counted, it would make a call stand that only it could answer,
        // from under a job that may wait for that very call (a task held
        // behind its long sibling until the sibling ended).
        if shared.release_slot(|| false) {
            return Lingered::Called;
        }
        LINGER_YIELD.with(|flag| flag.set(true));
        rayon::yield_now();
        LINGER_YIELD.with(|flag| flag.set(false));
        if !shared.try_add_job() {
            return Lingered::Replaced;
        }
    }
}

/// A worker job: serve runs until none needs this worker, then return the
/// thread to rayon.
fn worker_job(shared: Arc<Shared>) {
    // A panic here is a bug in kahn (task panics are caught): abort rather
    // than leave a run's starter waiting for a worker that is gone.
    let guard = AbortOnUnwind;
    // Rayon may run this job on a thread whose task waits in `rayon::join`
    // (a join runs pending jobs while it waits); that task resumes only when
    // the job returns, so a nested job does not linger, and serves a run
    // for about a quantum at a time: then it hands the run to a fresh job
    // and returns, and the thread looks whether its task can go on.
    // (A job started by a lingering job's `rayon::yield_now` is not held
    // up by a task, and lingers as usual.)
    let under_linger = LINGER_YIELD.with(|flag| flag.replace(false));
    let nested = JOB_DEPTH.with(|depth| {
        depth.set(depth.get() + 1);
        depth.get() > 1
    }) && !under_linger;
    let mut tried = Tried::default();
    'serve: loop {
        while let Some(listing) = shared.pick(&tried) {
            // SAFETY: `pick` joined the run.
            let departure = unsafe { listing.run() }.participate(&shared, &listing, nested);
            let turned_away = listing.leave();
            shared.left(&listing);
            #[cfg(test)]
            if departure == Departure::Rotated {
                shared.rotations.fetch_add(1, Ordering::Relaxed);
            }
            if turned_away && departure != Departure::Over {
                // A job called for the run found it full just now: call
                // another in its place.
                spawn_worker(&shared);
            }
            if nested && departure == Departure::Rotated {
                // The task under this job waits for it to return: hand the
                // run to a fresh job (on this thread's deque, where another
                // thread may steal it, or where this thread takes it back
                // once it has looked whether its task can go on).
                shared.jobs.fetch_sub(1, Ordering::SeqCst);
                spawn_worker(&shared);
                break 'serve;
            }
            // Do not come straight back: a run that had nothing, ended, or
            // was left for another is tried again only on a fresh round.
            tried.add(listing.serial);
        }
        let lingered = if nested {
            Lingered::Expired
        } else {
            linger(&shared)
        };
        match lingered {
            Lingered::Called => {
                tried.clear();
                continue;
            }
            Lingered::Expired => {
                // A run listed, or left without workers, since the last
                // look may have called no one (it found the executor full).
                if shared.release_slot(|| shared.someone_starving()) {
                    tried.clear();
                    continue;
                }
            }
            Lingered::Replaced => {}
        }
        shared.want_workers_everywhere();
        break;
    }
    JOB_DEPTH.with(|depth| depth.set(depth.get() - 1));
    LINGER_YIELD.with(|flag| flag.set(under_linger));
    std::mem::forget(guard);
}

thread_local! {
    /// How many worker jobs run on this thread, one inside another.
    static JOB_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Whether this thread is in a lingering job's `rayon::yield_now`.
    static LINGER_YIELD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The runs a worker job has served since it last found none to serve, so
/// that it does not go straight back to a run that had nothing for it. A
/// small ring: past eight runs the oldest is forgotten (and at worst tried
/// again, which costs a join and a leave).
#[derive(Default)]
struct Tried {
    serials: [u64; 8],
    len: usize,
}

impl Tried {
    fn contains(&self, serial: u64) -> bool {
        self.serials[..self.len.min(8)].contains(&serial)
    }

    fn add(&mut self, serial: u64) {
        self.serials[self.len % 8] = serial;
        self.len += 1;
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

/// Aborts the process if dropped during a panic; `forget` it on success.
pub(crate) struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        // Under loom, a failed check (a deadlock, a data race on a slot)
        // unwinds through the worker: let loom report it.
        if cfg!(loom) {
            return;
        }
        eprintln!("kahn: internal error: a worker panicked outside a task; aborting");
        std::process::abort();
    }
}

/// A listing over a stand-in run, for the loom model of who may free a run
/// and when (`tests/loom.rs`): workers read the run while they are in it,
/// and the starter overwrites it, as freeing would, once it has closed the
/// listing. A read loom cannot order before that write is a run freed
/// under a worker.
#[cfg(loom)]
pub struct ListedRun {
    // Declared first, so dropped before the run it points at.
    listing: Listing,
    run: Box<StandIn>,
}

/// What a worker reads of a run, and whether the run is over.
#[cfg(loom)]
struct StandIn {
    state: crate::sync::cell::UnsafeCell<u64>,
    over: modelled::AtomicBool,
}

// SAFETY: `state` is read by workers between joining and leaving, and
// written by the starter after closing: the protocol under test, whose
// ordering loom checks on every access.
#[cfg(loom)]
unsafe impl Sync for StandIn {}

#[cfg(loom)]
impl Participate for StandIn {
    fn participate(&self, _: &Arc<Shared>, _: &Listing, _: bool) -> Departure {
        unreachable!("the model's workers visit the run through `ListedRun`")
    }
}

#[cfg(loom)]
impl std::fmt::Debug for ListedRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListedRun")
            .field("listing", &self.listing)
            .finish_non_exhaustive()
    }
}

#[cfg(loom)]
impl ListedRun {
    const LIVE: u64 = 1;
    const FREED: u64 = 0;

    /// A run with `seats` seats, listed, its starter the calling thread.
    pub fn new(seats: usize) -> ListedRun {
        let run = Box::new(StandIn {
            state: crate::sync::cell::UnsafeCell::new(Self::LIVE),
            over: modelled::AtomicBool::new(false),
        });
        // SAFETY: the box does not move, and outlives the listing (fields
        // drop in order).
        let listing = unsafe { Listing::new(&*run, Arc::new(Signals::new()), seats, 0) };
        ListedRun { listing, run }
    }

    /// A worker's visit: joins the run if it can, reads it, ends it if
    /// `ends`, and leaves. Whether it joined.
    pub fn visit(&self, ends: bool) -> bool {
        if !self.listing.try_join() {
            return false;
        }
        // SAFETY: the pointer is the box's, valid for reads; whether this
        // read is ordered before the starter's write is what loom checks.
        let state = self.run.state.with(|p| unsafe { *p });
        assert_eq!(state, Self::LIVE, "a worker in the run found it freed");
        if ends {
            self.run.over.store(true, Ordering::Release);
            self.listing.mark_ended();
        }
        // Nobody in this model leaves word.
        let _ = self.listing.leave();
        true
    }

    /// A called worker's visit to a run that may be full: joins if it can
    /// (leaving word if it is turned away), and if it joined, reads the run
    /// and leaves. Whether it joined, and whether its leave found word of a
    /// worker turned away, which it would answer by calling another.
    pub fn visit_or_leave_word(&self) -> (bool, bool) {
        if !self.listing.join_or_leave_word() {
            return (false, false);
        }
        // SAFETY: as in `visit`.
        let state = self.run.state.with(|p| unsafe { *p });
        assert_eq!(state, Self::LIVE, "a worker in the run found it freed");
        (true, self.listing.leave())
    }

    /// Takes a seat for a worker the model has in the run from the start.
    pub fn enter(&self) -> bool {
        self.listing.try_join()
    }

    /// A worker in the run leaves it, as a worker job does: gives its seat
    /// up, then (as `Shared::left`) asks for a worker. Whether it found
    /// word of a job turned away, which it would answer.
    pub fn leave_as_worker(&self) -> bool {
        let word = self.listing.leave();
        self.listing.signals.want_workers();
        word
    }

    /// A called job's look at the run (`Shared::pick`'s): whether it joined.
    pub fn job(&self) -> bool {
        self.listing.join_or_leave_word()
    }

    /// Whether the run asks for workers.
    pub fn wants_workers(&self) -> bool {
        self.listing.signals.wants_workers()
    }

    /// Ends the run after the visits (no visitor ends it in the model), and
    /// wakes the starter, which a visitor that was turned away did not.
    pub fn end(&self) {
        self.run.over.store(true, Ordering::Release);
        self.listing.mark_ended();
        self.listing.waiter.unpark();
    }

    /// The starter: waits until the run is over and closed, then frees it.
    pub fn wait_and_free(&self) {
        self.listing
            .wait_until_closed(|| self.run.over.load(Ordering::Acquire), || None);
        // SAFETY: as in `visit`; this write must come after every read.
        self.run.state.with_mut(|p| unsafe { *p = Self::FREED });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use crate::{Arena, Executor, Resource};

    fn spin(duration: Duration) {
        let start = Instant::now();
        while start.elapsed() < duration {
            std::hint::spin_loop();
        }
    }

    fn wait_until(mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < Duration::from_secs(20), "timed out");
            std::thread::yield_now();
        }
    }

    /// A run whose every task is parked on a resource has nothing for a
    /// worker: the other runs' workers must not rotate to it every quantum
    /// (each rotation cost the busy run about 35 µs of every millisecond).
    /// On 2 threads, one held by the resource's holder, a 30 ms run of
    /// 100 µs tasks beside such a run rotated 29 times; now it need not
    /// rotate at all (one is let pass, as slack).
    #[test]
    fn a_run_left_dry_does_not_make_other_runs_rotate() {
        let executor = Executor::with_threads(2).unwrap();
        let lock = Resource::new("lock", 1);
        let let_go = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut arena = Arena::new();
                let mut b = arena.builder::<()>();
                b.task("holder", |_| {
                    wait_until(|| let_go.load(Ordering::SeqCst));
                    Ok(())
                })
                .unwrap();
                b.uses("holder", &lock).unwrap();
                assert!(executor.run(&b.build().unwrap()).is_success());
            });
            wait_until(|| lock.in_use() == 1);
            s.spawn(|| {
                let mut arena = Arena::new();
                let mut b = arena.builder::<()>();
                for name in ["w1", "w2", "w3"] {
                    b.task(name, |_| Ok(())).unwrap();
                    b.uses(name, &lock).unwrap();
                }
                assert!(executor.run(&b.build().unwrap()).is_success());
            });
            wait_until(|| lock.waiting() == 3);
            let mut arena = Arena::new();
            let mut b = arena.builder::<()>();
            for _ in 0..300 {
                b.unnamed_task(|_| {
                    spin(Duration::from_micros(100));
                    Ok(())
                })
                .unwrap();
            }
            let graph = b.build().unwrap();
            let before = executor.shared.rotations.load(Ordering::Relaxed);
            assert!(executor.run(&graph).is_success());
            let rotations = executor.shared.rotations.load(Ordering::Relaxed) - before;
            let_go.store(true, Ordering::SeqCst);
            assert!(
                rotations <= 1,
                "{rotations} rotations beside a run with nothing to do"
            );
        });
    }
}
