//! The scheduling loop each worker runs: claim, run, release, steal, sleep.
//!
//! A worker holds one *current* range of tasks to release ([`Releases`]) and a
//! private stack of ranges it set aside. After running a task it continues
//! depth-first with that task's successors, so a chain or a subtree runs on
//! one worker with no queue operation at all; the rest of the current range
//! goes on the private stack. Nothing private is visible to other workers:
//! when a worker runs dry it counts itself hungry in the run's signals, and
//! busy workers that have something to give read the signals before each release,
//! then publish work to their crossbeam deque — the oldest range on their
//! stack, or the upper half of the current one — for the hungry worker to
//! steal. So the common case pays at most one relaxed load per release, and
//! work moves only when someone needs it. Workers whose tasks are slow
//! publish before every task instead (see [`Pace`]), so a long task does not
//! hide ready work from a peer that turns hungry during it; and, from a
//! quarter of a microsecond a task, look ahead of them (see
//! [`LOOKING_AHEAD`]), so the cache misses on the way to the next task come
//! while a task runs.
//!
//! How a run ends, and the orderings all this relies on, are `RunCore`'s
//! (`run.rs`): this loop only calls its verbs.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::context::TaskContext;
use crate::error::{BoxError, Interrupted, TaskFailure};
use crate::exec::fence::Fences;
use crate::exec::observed::Attempt;
use crate::exec::registry::AbortOnUnwind;
use crate::exec::registry::{self, Departure, Shared, QUANTUM};
use crate::exec::releases::{Cause, Releases};
use crate::exec::run::{Acquired, Claim, Found, RunCore, Tally, TaskEnd, Waiting};
use crate::exec::seat::{self, Deferred, Seat, Sighting};
use crate::graph::Graph;
use crate::id::TaskId;
use crate::prefetch;
use crate::report::Timing;
use crate::resource::Returned;
use crate::skip::Skip;
use crate::state::State;
use crate::sync::deque::Worker;
use crate::timeout::{self, NO_LIMIT};
use crate::trigger::TriggerRule;

/// How a worker takes part in a run.
#[derive(Debug)]
pub(crate) struct Participation<'a> {
    /// Whether it may leave when the run has nothing for it, or stays.
    pub(crate) waiting: Waiting,
    /// The executor, to call more workers; `None` under loom.
    pub(crate) shared: Option<&'a Arc<Shared>>,
    /// Whether it publishes work before every task (`Some(true)`), only on
    /// demand (`Some(false)`), or as its pace says (`None`).
    pub(crate) fixed_pace: Option<bool>,
    /// Whether it is a worker job that rayon runs inside a task's wait
    /// (`join`, `par_iter`) on the same thread: that task resumes only when
    /// this worker leaves, so it leaves after a quantum, as if asked to
    /// rotate.
    pub(crate) nested: bool,
}

/// One worker's private state for one stay in a run.
struct Local<'c> {
    me: usize,
    seat: &'c Seat,
    deque: Worker<Releases>,
    /// How many finished tasks (the sum of `tally`) were already subtracted
    /// from `remaining`.
    subtracted: usize,
    tally: Tally,
    /// Tasks that failed or panicked here, handed over when the worker leaves.
    failures: Vec<(TaskId, TaskFailure)>,
    pace: Pace,
    /// What this worker remembers of its peers' announcements while idle.
    seen: Vec<Sighting>,
    joined: Instant,
    /// What to do before each task, fixed for the stay: [`PEERS`] if the
    /// run has another seat (someone to share or announce to), and
    /// [`FENCED`] too if this process's fences are symmetric;
    /// [`RESOURCES`] if the graph has resources, [`RULED`] if a task has a
    /// trigger rule; and, while the pace says so, [`LOOKING_AHEAD`].
    before_task: u8,
    /// Whether this worker may move to another run (a worker job).
    may_rotate: bool,
    /// Whether it leaves after a quantum whatever the run's signals say
    /// (see [`Participation::nested`]).
    nested: bool,
    /// What to undo after the task running now: [`ANNOUNCING`] if an
    /// announcement is out for it (and [`FENCED`] if retracting it takes a
    /// real fence), [`HOLDING`] if it holds resources, [`LOOKING_AHEAD`] if
    /// its successors' bodies are to be prefetched.
    after_task: u8,
    /// What the graph's tasks may have beyond the default that is settled
    /// after a task: [`TIMED`], [`BRANCHY`], and whether the run has
    /// [`RELEASING`] on; 0, and no cost, for most runs.
    traits: u8,
    /// Whether a task needs no more than its body run and its end recorded
    /// (see [`run_claimed`]): the run has no cancel token or deadline, no
    /// observer, timings, progress or part to tell, and no task has a
    /// timeout. One test on the per-task path instead of one for each.
    plain: bool,
}

/// In `Local::traits`: some task has a timeout.
const TIMED: u8 = 1;
/// In `Local::traits`: some task may branch.
const BRANCHY: u8 = 2;
/// In `Local::traits`: the run releases outputs early (a run option).
const RELEASING: u8 = 4;

/// In `Local::before_task`: the run has another seat.
const PEERS: u8 = 1;
/// In `Local::before_task`: the graph has resources.
const RESOURCES: u8 = 2;
/// In `Local::before_task`: some task of the graph has a trigger rule.
const RULED: u8 = 4;
/// In `Local::before_task` and `Local::after_task`: the process's fences
/// are symmetric, so an announcement's light fence is a real one. Kept
/// among the flags the per-task path compares anyway, so that the common
/// case (asymmetric fences) knows its kind at compile time and tests
/// nothing more.
const FENCED: u8 = 8;
/// In `Local::before_task` and `Local::after_task`: this worker's tasks
/// are slow enough ([`Pace::AHEAD`]) to look ahead of. On a scattered graph
/// the way from one task to the next is a chain of cache misses, each
/// waiting for the one before (the successor list, each successor's
/// counter, whose read-modify-write keeps later loads behind it, the
/// claimed one's body). So before a slow task its successor list is
/// prefetched, to arrive while the task runs, and after it the successors'
/// bodies, to arrive with their counters. Kept among the flags the per-task
/// path compares anyway, so that fast tasks pay nothing for it: the hints
/// are in the out-of-line `before_task` and `after_task`.
const LOOKING_AHEAD: u8 = 16;
/// How many of a slow task's successors' bodies are prefetched.
const LOOK_AHEAD_BODIES: usize = 8;
/// In `Local::after_task`: an announcement is out.
const ANNOUNCING: u8 = 1;
/// In `Local::after_task`: the task holds resources.
const HOLDING: u8 = 2;

impl Local<'_> {
    /// Whether it holds set-aside ranges or deferred releases.
    #[inline]
    fn holds_hidden_work(&self) -> bool {
        // SAFETY: this worker sits in `seat` and has no announcement out.
        unsafe {
            self.seat
                .with_hidden(|hidden| !hidden.stack.is_empty() || hidden.deferred.is_some())
        }
    }

    #[inline]
    fn has_deferred(&self) -> bool {
        // SAFETY: as in `holds_hidden_work`.
        unsafe { self.seat.with_hidden(|hidden| hidden.deferred.is_some()) }
    }

    #[inline]
    fn take_deferred(&mut self) -> Option<Deferred> {
        // SAFETY: as in `holds_hidden_work`.
        unsafe { self.seat.with_hidden(|hidden| hidden.deferred.take()) }
    }

    /// Keeps a deferred release of `v`, from `targets[index]`, with the
    /// others of `v`; `false` if it holds those of another task (one at a
    /// time: the caller applies this one now).
    #[inline]
    fn defer(&mut self, v: u32, index: u32) -> bool {
        // SAFETY: as in `holds_hidden_work`.
        unsafe {
            self.seat.with_hidden(|hidden| match &mut hidden.deferred {
                None => {
                    hidden.deferred = Some(Deferred {
                        task: v,
                        count: 1,
                        index,
                    });
                    true
                }
                Some(d) if d.task == v => {
                    d.count += 1;
                    d.index = index;
                    true
                }
                Some(_) => false,
            })
        }
    }

    #[inline]
    fn stack_push(&mut self, work: Releases) {
        // SAFETY: as in `holds_hidden_work`.
        unsafe { self.seat.with_hidden(|hidden| hidden.stack.push_back(work)) }
    }

    #[inline]
    fn stack_pop(&mut self) -> Option<Releases> {
        // SAFETY: as in `holds_hidden_work`.
        unsafe { self.seat.with_hidden(|hidden| hidden.stack.pop_back()) }
    }

    /// Announces the private work held while the next task runs, under
    /// that task's [`seat::number`], with the run's `fences` (a constant on
    /// the common path).
    #[inline]
    fn announce(&mut self, number: u64, cur: Releases, fences: Fences) {
        // SAFETY: this worker sits in `seat`, with no announcement out.
        unsafe { self.seat.announce(number, cur, &fences) }
        self.after_task |= if fences.is_asymmetric() {
            ANNOUNCING
        } else {
            ANNOUNCING | FENCED
        };
    }

    /// Ends the announcement; `true` if a rescuer took the private work
    /// (the current range and the stack).
    #[inline]
    fn retract(&mut self, fences: Fences) -> bool {
        self.after_task &= !(ANNOUNCING | FENCED);
        // SAFETY: this worker sits in `seat` and announced.
        unsafe { self.seat.retract(&fences) }
    }

    /// Before task `v`, while holding private work (the current range
    /// `lo..hi`, poisoned by `poison`, and the stack): announces it, then,
    /// if a peer is hungry (one that turned hungry without seeing the
    /// announcement is seen here, after its fence), the run wants a worker,
    /// or tasks are slow, shares some. Returns what is left of the range,
    /// and whether the run has stopped: the one load of the signal word
    /// answers both (a second, in `run_claimed`, cost 1–3 instructions a
    /// task by callgrind).
    ///
    /// The range is passed and returned as scalars: built in memory as a
    /// `Releases`, it cost a store-forwarding stall per task. Sharing, the
    /// rare part, is out of line.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn announce_before_task<T>(
        &mut self,
        core: &RunCore<'_, T>,
        v: u32,
        lo: u32,
        hi: u32,
        poison: Option<Cause>,
        shared: Option<&Arc<Shared>>,
        fences: Fences,
    ) -> (u32, u32, bool) {
        self.announce(seat::number(v, false), Releases { lo, hi, poison }, fences);
        let raised = core.signals().read();
        if self.pace.eager || raised.give_wanted() {
            let (lo, hi) = self.reannounce_after_sharing(core, v, (lo, hi, poison), shared);
            return (lo, hi, raised.stopped());
        }
        (lo, hi, raised.stopped())
    }

    /// The announcement is out but a peer wants work: retracts it, shares,
    /// announces what is left, and only then calls workers if the run wants
    /// them.
    ///
    /// The call is decided after the new announcement, as in
    /// `announce_before_task`: a worker that leaves the run raises `WANT`
    /// and then looks for announcements and published work (a Dekker pair,
    /// the fence on each side). Decided before, as it once was, a worker
    /// that left in between saw neither, and the work held here waited
    /// through the whole of the task about to run: a ready task behind a
    /// running one, with a thread idle.
    #[inline(never)]
    fn reannounce_after_sharing<T>(
        &mut self,
        core: &RunCore<'_, T>,
        v: u32,
        (lo, hi, poison): (u32, u32, Option<Cause>),
        shared: Option<&Arc<Shared>>,
    ) -> (u32, u32) {
        // Scalars, not a `Releases`: one built for this rare call was
        // stored to memory before every task.
        let mut cur = Releases { lo, hi, poison };
        if self.retract(*core.fences()) {
            cur.hi = cur.lo;
        }
        cur = self.share(core, cur, shared.is_some());
        let holds = !cur.is_empty() || self.holds_hidden_work();
        if holds {
            self.announce(seat::number(v, true), cur, *core.fences());
        } else {
            // What was published must be seen, or the call below made.
            core.fences().light();
        }
        if let Some(shared) = shared.filter(|_| core.signals().wants_workers()) {
            call_workers(core, shared, holds);
        }
        (cur.lo, cur.hi)
    }

    /// Before task `v` (claimed, as `claim` says) runs, for a graph with
    /// trigger rules or resources, a process with symmetric fences, or a
    /// worker looking ahead: starts loading `v`'s successor list, applies
    /// its trigger rule, takes the resources it uses, then announces
    /// the private work held while it runs (the current range `lo..hi`,
    /// poisoned by `poison`, and the stack) and shares some if wanted.
    /// Returns what is left of the range, or `None` if `v` does not run now:
    /// skipped by its rule (its successors' releases set aside), or parked
    /// on a resource. Out of line; the common case is the loop's own.
    ///
    /// The range comes as a pair and a poison, not a triple: a triple is
    /// passed through memory, three stores on the common path too.
    #[allow(clippy::too_many_arguments)]
    #[cold]
    #[inline(never)]
    fn before_task<T>(
        &mut self,
        graph: &Graph<'_, T>,
        core: &RunCore<'_, T>,
        v: u32,
        claim: Claim,
        (lo, hi): (u32, u32),
        poison: Option<Cause>,
        shared: Option<&Arc<Shared>>,
    ) -> Option<(u32, u32)> {
        let ahead = self.before_task & LOOKING_AHEAD != 0;
        if ahead {
            core.csr().prefetch_successors(v);
        }
        if self.before_task & RULED != 0 && !self.runs_by_rule(graph, core, v, claim) {
            return None;
        }
        if self.before_task & RESOURCES != 0 && !self.take_resources(graph, core, v) {
            return None;
        }
        if ahead {
            self.after_task |= LOOKING_AHEAD;
        }
        if self.before_task & PEERS == 0 {
            return Some((lo, hi));
        }
        let fences = *core.fences();
        let (lo, hi, _) = self.announce_if_holding(core, v, (lo, hi), poison, shared, fences);
        Some((lo, hi))
    }

    /// Announces (and shares, if wanted) if this worker holds private work
    /// besides task `v`, about to run; returns what is left of the range,
    /// and whether the run has stopped (read after the claim, as
    /// `run_claimed` needs).
    #[inline(always)]
    fn announce_if_holding<T>(
        &mut self,
        core: &RunCore<'_, T>,
        v: u32,
        (lo, hi): (u32, u32),
        poison: Option<Cause>,
        shared: Option<&Arc<Shared>>,
        fences: Fences,
    ) -> (u32, u32, bool) {
        // A chain holds no private work and pays nothing more here.
        if lo < hi || self.holds_hidden_work() {
            return self.announce_before_task(core, v, lo, hi, poison, shared, fences);
        }
        (lo, hi, core.stopped())
    }

    /// After task `v` ran: starts loading its successors' bodies if looking
    /// ahead, ends the announcement and gives back resources. `true` if a
    /// rescuer took the private work. (The common case, an announcement
    /// with asymmetric fences and no resources, is the loop's own.)
    #[cold]
    #[inline(never)]
    fn after_task<T>(&mut self, graph: &Graph<'_, T>, core: &RunCore<'_, T>, v: u32) -> bool {
        if self.after_task & LOOKING_AHEAD != 0 {
            self.after_task &= !LOOKING_AHEAD;
            // The first few (a wide fan-out's later ones are claimed later,
            // or by another worker), read from the successor list directly:
            // `Csr::successors` is a call into another codegen unit.
            let Releases { lo, hi, .. } = successors(core, v, None);
            let list = core.csr().targets.get(lo as usize..hi as usize);
            for &s in list.unwrap_or_default().iter().take(LOOK_AHEAD_BODIES) {
                graph.prefetch_body(s);
            }
        }
        let taken = self.after_task & ANNOUNCING != 0 && self.retract(*core.fences());
        if self.after_task & HOLDING != 0 {
            self.give_back_resources(graph, core, v);
        }
        taken
    }

    /// Whether claimed task `v` runs by its trigger rule; if not, records
    /// it skipped and sets its successors' releases aside on the stack.
    #[cold]
    #[inline(never)]
    fn runs_by_rule<T>(
        &mut self,
        graph: &Graph<'_, T>,
        core: &RunCore<'_, T>,
        v: u32,
        claim: Claim,
    ) -> bool {
        match apply_rule(graph, core, v, claim) {
            Claim::Poisoned(cause) => {
                let next = skip_claimed(core, self, v, cause);
                if !next.is_empty() {
                    self.stack_push(next);
                }
                false
            }
            _ => true,
        }
    }

    /// Takes the resources task `v` (claimed cleanly) uses, if any: `false`
    /// if it was parked instead (it comes back through the run's inbox).
    #[inline]
    fn take_resources<T>(&mut self, graph: &Graph<'_, T>, core: &RunCore<'_, T>, v: u32) -> bool {
        let Some(table) = graph.tables.resources.as_ref() else {
            return true;
        };
        if table.uses_of(v).is_empty() {
            return true;
        }
        match core.acquire_for(table, v) {
            Acquired::Held => self.after_task |= HOLDING,
            Acquired::NotNeeded => {}
            Acquired::Parked => return false,
        }
        true
    }

    /// Releases the resources the task that just ran (`v`) held.
    #[cold]
    fn give_back_resources<T>(&mut self, graph: &Graph<'_, T>, core: &RunCore<'_, T>, v: u32) {
        self.after_task &= !HOLDING;
        if let Some(table) = graph.tables.resources.as_ref() {
            core.release_for(table, v);
        }
    }

    /// Whether to move to another run now: a worker job that has served
    /// this one for a quantum, while another run has no worker.
    #[inline]
    fn should_rotate<T>(&self, core: &RunCore<'_, T>) -> bool {
        self.may_rotate
            && (self.nested || core.signals().rotate())
            && self.joined.elapsed() >= QUANTUM
    }

    /// After a pace check: looks ahead of tasks from now on, or no longer,
    /// as the pace says ([`LOOKING_AHEAD`]); rotates if it should (see
    /// `should_rotate`).
    #[cold]
    #[inline(never)]
    fn after_check<T>(
        &mut self,
        core: &RunCore<'_, T>,
        lo: u32,
        hi: u32,
        poison: Option<Cause>,
    ) -> Option<Departure> {
        // Where the hints are no-ops, looking ahead would be two calls for
        // nothing.
        if self.pace.ahead && prefetch::HINTS {
            self.before_task |= LOOKING_AHEAD;
        } else {
            self.before_task &= !LOOKING_AHEAD;
        }
        self.should_rotate(core)
            .then(|| self.rotate(core, lo, hi, poison))
    }

    /// Publishes all private work and leaves the run for another.
    fn rotate<T>(
        &mut self,
        core: &RunCore<'_, T>,
        lo: u32,
        hi: u32,
        poison: Option<Cause>,
    ) -> Departure {
        // Oldest first, so that a worker taking this seat again pops it
        // (LIFO) in the order this one would have run it: a run's schedule
        // on one thread stays deterministic.
        let mut leaves_work = !self.deque.is_empty();
        while let Some(work) = self.stack_pop_front() {
            self.deque.push(work);
            leaves_work = true;
        }
        if lo < hi {
            self.deque.push(Releases { lo, hi, poison });
            leaves_work = true;
        }
        if let Some(deferred) = self.take_deferred() {
            self.deque.push(last_of(core, deferred));
            leaves_work = true;
        }
        core.shared();
        if leaves_work {
            // Whatever an earlier leaver found, the run has work now.
            core.signals().not_dry();
        } else {
            // Its other tasks may all be parked: a run left with nothing
            // must not count as waiting for a worker.
            core.leave_empty_handed();
        }
        if core.subtract(self.unsubtracted()) {
            return Departure::Over;
        }
        Departure::Rotated
    }

    /// Finished tasks not yet subtracted from the run's `remaining`.
    fn unsubtracted(&mut self) -> usize {
        let finished = self.tally.total() - self.subtracted;
        self.subtracted += finished;
        finished
    }
}

/// Whether this worker's tasks are slow enough to publish work eagerly.
///
/// Work is normally published only when a peer is hungry, which a worker can
/// only notice between tasks. With fine-grained tasks that is within
/// nanoseconds; with tasks of milliseconds, a worker that starts one while
/// holding other ready tasks privately would keep a peer that turns hungry
/// meanwhile idle for the whole task. So each worker measures its pace —
/// after every task while its tasks are slow, after every
/// [`Pace::LAZY_CHECK`] to [`Pace::LAZIEST_CHECK`] tasks while they are fast
/// — and, while tasks average at least [`Pace::SLOW`], publishes before each
/// task whenever its deque is empty. A worker starts in that mode, so the
/// first (perhaps long) task of a run hides nothing; a deque push and pop
/// cost well under 1% of a task that slow. While tasks average at least
/// [`Pace::AHEAD`], a worker also looks ahead of them ([`LOOKING_AHEAD`]).
///
/// Among fast tasks, the interval doubles while a check comes sooner than
/// [`Pace::CHECK_SPAN`] after the last (a clock read costs about as much as
/// three empty tasks, and every 64 of them it was 4% of an empty task's
/// time), and shrinks in proportion when one comes later than twice that,
/// so that checks stay about a span apart or 64 tasks apart, whichever is
/// longer. Tasks that turn slow after many fast ones are seen at the next
/// check, at most `LAZIEST_CHECK` tasks later, and turn publishing eager
/// then or `LAZY_CHECK` tasks after; what they hide meanwhile is rescued
/// (`seat.rs`). The same checks are when a worker looks at rotating to
/// another run (`Local::after_check`), so they keep that within about a
/// quantum too. Looking for work starts the count again from at most
/// `LAZY_CHECK`: a worker that keeps going idle before a long interval
/// ends would otherwise never measure.
struct Pace {
    eager: bool,
    /// Tasks average at least [`Pace::AHEAD`]: look ahead of them (see
    /// [`LOOKING_AHEAD`]).
    ahead: bool,
    check_every: u32,
    /// Tasks left before the next check: counted down, so the per-task
    /// test is one decrement, not a load and compare of two fields.
    until_check: u32,
    check_start: Instant,
}

impl Pace {
    const SLOW: Duration = Duration::from_micros(20);
    /// From this long a task on average, the look-ahead's two out-of-line
    /// calls cost a few percent of a task at most (0–3 points at 530 ns on
    /// shapes that need no hints), and the misses they hide (tens of ns
    /// each on a scattered graph) are worth more. A debug build's own
    /// per-task path takes about a microsecond, so there the bar is
    /// higher, and tests see both modes.
    const AHEAD: Duration = if cfg!(debug_assertions) {
        Duration::from_micros(5)
    } else {
        Duration::from_nanos(250)
    };
    const LAZY_CHECK: u32 = 64;
    const LAZIEST_CHECK: u32 = 1024;
    const CHECK_SPAN: Duration = Duration::from_micros(8);

    fn new() -> Pace {
        Pace {
            eager: true,
            ahead: false,
            check_every: 1,
            until_check: 1,
            check_start: Instant::now(),
        }
    }

    /// A pace that never changes: under loom the model chooses it, since a
    /// clock would make the executions loom replays differ.
    fn fixed(eager: bool) -> Pace {
        Pace {
            eager,
            ahead: false,
            check_every: u32::MAX,
            until_check: u32::MAX,
            ..Pace::new()
        }
    }

    /// Counts one finished task and, when due, re-measures the pace;
    /// `true` if it did (a moment to look at slower signals too).
    #[inline]
    fn tick(&mut self) -> bool {
        self.until_check -= 1;
        if self.until_check == 0 {
            self.measure();
            return true;
        }
        false
    }

    #[cold]
    fn measure(&mut self) {
        if cfg!(loom) {
            self.until_check = self.check_every;
            return;
        }
        let now = Instant::now();
        self.judge(now - self.check_start);
        self.check_start = now;
    }

    /// Sets the mode and the next interval from the time the last
    /// `check_every` tasks took.
    fn judge(&mut self, span: Duration) {
        let slow = span >= Pace::SLOW * self.check_every;
        self.eager = slow;
        self.ahead = span >= Pace::AHEAD * self.check_every;
        self.check_every = if slow {
            1
        } else if span < Pace::CHECK_SPAN {
            self.check_every
                .saturating_mul(2)
                .clamp(Pace::LAZY_CHECK, Pace::LAZIEST_CHECK)
        } else if span > 2 * Pace::CHECK_SPAN {
            // In proportion: the tasks got slower, perhaps much.
            let scaled =
                u128::from(self.check_every) * Pace::CHECK_SPAN.as_nanos() / span.as_nanos();
            u32::try_from(scaled)
                .unwrap_or(u32::MAX)
                .clamp(Pace::LAZY_CHECK, Pace::LAZIEST_CHECK)
        } else {
            self.check_every.max(Pace::LAZY_CHECK)
        };
        self.until_check = self.check_every;
    }

    /// Time spent looking for work is not task time.
    fn restart(&mut self) {
        // A fixed pace (loom's) keeps its never-due check.
        if !cfg!(loom) {
            self.check_every = self.check_every.min(Pace::LAZY_CHECK);
        }
        self.until_check = self.check_every;
        self.check_start = Instant::now();
    }
}

/// What a graph's tasks have beyond the default that is settled after a
/// task (see `Local::traits`).
fn graph_traits<T>(graph: &Graph<'_, T>) -> u8 {
    let mut traits = 0;
    if graph.tables.timeouts.is_some() {
        traits |= TIMED;
    }
    if graph.tables.triggers.as_ref().is_some_and(|t| t.branching) {
        traits |= BRANCHY;
    }
    traits
}

/// Applies task `v`'s trigger rule, if it has one, to its claim.
#[cold]
#[inline(never)]
fn apply_rule<T>(graph: &Graph<'_, T>, core: &RunCore<'_, T>, v: u32, claim: Claim) -> Claim {
    if matches!(claim, Claim::Waiting | Claim::Deferred) {
        return claim;
    }
    match graph.tables.triggers.as_ref().map(|t| t.rule(v)) {
        Some(rule) if rule != TriggerRule::AllSucceeded => core.apply_rule(rule, v, claim),
        _ => claim,
    }
}

/// Takes part in a run on the calling thread until it ends, or, for a
/// worker that may leave, until it has nothing for this worker or another
/// run needs it more.
pub(crate) fn participate<T: Send + Sync>(
    graph: &Graph<'_, T>,
    core: &RunCore<'_, T>,
    how: Participation<'_>,
) -> Departure {
    let Some((me, deque)) = core.take_seat() else {
        return Departure::NoWork;
    };
    // A panic here is a bug in kahn, not in a task (those are caught): abort
    // rather than leave other workers waiting for tasks that will never finish.
    let guard = AbortOnUnwind;
    let mut local = Local {
        me,
        seat: core.seat(me),
        deque,
        subtracted: 0,
        tally: Tally::default(),
        failures: Vec::new(),
        pace: how.fixed_pace.map_or_else(Pace::new, Pace::fixed),
        seen: {
            // SAFETY: this worker sits in the seat, with no announcement out.
            let mut seen = unsafe { core.seat(me).with_hidden(|h| std::mem::take(&mut h.seen)) };
            seen.resize(core.seat_count(), Sighting::default());
            seen
        },
        joined: Instant::now(),
        before_task: match (core.has_peers(), core.fences().is_asymmetric()) {
            (false, _) => 0,
            (true, true) => PEERS,
            (true, false) => PEERS | FENCED,
        } | if graph.tables.resources.is_some() {
            RESOURCES
        } else {
            0
        } | if graph.tables.triggers.as_ref().is_some_and(|t| t.ruled) {
            RULED
        } else {
            0
        },
        may_rotate: how.waiting == Waiting::MayLeave,
        nested: how.nested,
        after_task: 0,
        traits: graph_traits(graph)
            | if core.releases_outputs() {
                RELEASING
            } else {
                0
            },
        plain: !core.has_watch() && !core.instrumented() && graph.tables.timeouts.is_none(),
    };
    let departure = work(graph, core, &mut local, &how);
    core.leave(&local.tally, std::mem::take(&mut local.failures));
    let seen = std::mem::take(&mut local.seen);
    // SAFETY: this worker still sits in its seat, with no announcement out.
    unsafe { local.seat.with_hidden(|h| h.seen = seen) };
    // SAFETY: this worker sits in its seat; `work` returns only with no
    // private work held and no announcement out.
    unsafe { local.seat.leave(local.deque) };
    std::mem::forget(guard);
    departure
}

/// The scheduling loop: claim, run, release, share; then look for work.
///
/// The per-task path keeps few values alive across the call into the task
/// (the current range, the targets, `local`): announcing, sharing and
/// rotating are out of line, behind one flag each, so that a chain of
/// empty tasks keeps its range in registers.
#[inline]
fn work<T: Send + Sync>(
    graph: &Graph<'_, T>,
    core: &RunCore<'_, T>,
    local: &mut Local<'_>,
    how: &Participation<'_>,
) -> Departure {
    let csr = core.csr();
    let mut ctx = context_for(core, local);
    let mut cur = Releases::EMPTY;
    loop {
        // The current range as three scalars, so the loop keeps them in
        // registers; `Releases` is rebuilt only on the cold paths.
        let (mut lo, mut hi, mut poison) = (cur.lo, cur.hi, cur.poison);
        while lo < hi {
            // SAFETY: `lo < hi`, and every range a run releases lies
            // inside `targets` (see `Releases`).
            let v = unsafe { csr.target_unchecked(lo) };
            lo += 1;
            // SAFETY: `v` is a target, so below `n` (see `Csr`); likewise
            // for the other claims of `v` below.
            let mut claim = unsafe { core.claim(v, lo - 1, poison, true) };
            if claim == Claim::Deferred {
                // One of many releases of a fan-in: combined with this
                // worker's others of the same task, applied when it runs
                // dry (or gives work away), so that workers do not take
                // turns at the counter's cache line.
                if local.defer(v, lo - 1) {
                    continue;
                }
                // SAFETY: as above.
                claim = unsafe { core.claim(v, lo - 1, poison, false) };
            }
            let next = match claim {
                Claim::Waiting => continue,
                Claim::Deferred => unreachable!("kahn: internal error: a release deferred twice"),
                Claim::Poisoned(cause) if local.before_task & RULED == 0 => {
                    skip_claimed(core, local, v, cause)
                }
                Claim::Poisoned(_) | Claim::Clean => {
                    // One comparison for the common case with peers
                    // (asymmetric fences, known here, so the light fence
                    // tests nothing; no rules or resources) and one more
                    // for a worker alone; the rest is out of line.
                    let range = (lo, hi);
                    let stopped;
                    if local.before_task == PEERS {
                        let fences = Fences::ASYMMETRIC;
                        (lo, hi, stopped) =
                            local.announce_if_holding(core, v, range, poison, how.shared, fences);
                    } else {
                        if local.before_task != 0 {
                            match local
                                .before_task(graph, core, v, claim, range, poison, how.shared)
                            {
                                Some(range) => (lo, hi) = range,
                                None => continue,
                            }
                        }
                        stopped = core.stopped();
                    }
                    // SAFETY: claimed just now, from a target.
                    let next = unsafe { run_claimed(graph, core, local, &mut ctx, v, stopped) };
                    // Flags in `local` rather than local variables: kept
                    // in registers across the task, they cost spills.
                    if local.after_task == ANNOUNCING {
                        // The common case again: an announcement made
                        // with symmetric fences sets `FENCED` too, one
                        // that holds resources `HOLDING`.
                        if local.retract(Fences::ASYMMETRIC) {
                            hi = lo;
                        }
                    } else if local.after_task != 0 && local.after_task(graph, core, v) {
                        hi = lo;
                    }
                    next
                }
            };
            let measured = local.pace.tick();
            if !next.is_empty() {
                if lo < hi {
                    local.stack_push(Releases { lo, hi, poison });
                }
                (lo, hi, poison) = (next.lo, next.hi, next.poison);
            }
            // Checked after `next` joined the range: the cold call then
            // needs no second range, which would live in memory on the hot
            // path too (half a nanosecond a task).
            if measured {
                if let Some(departure) = local.after_check(core, lo, hi, poison) {
                    return departure;
                }
            }
        }
        cur = match local.stack_pop().or_else(|| local.deque.pop()) {
            Some(work) => work,
            None if local.has_deferred() => flush_deferred(graph, core, local),
            None => {
                if core.subtract(local.unsubtracted()) {
                    return Departure::Over;
                }
                match core.wait_for_work(local.me, how.waiting, &mut local.seen) {
                    Found::Work(work) => {
                        local.pace.restart();
                        work
                    }
                    Found::Rescued(hidden) => {
                        local.pace.restart();
                        // SAFETY: this worker sits in its seat, with no
                        // announcement out; its own stack is empty.
                        unsafe {
                            local.seat.with_hidden(|mine| {
                                mine.stack = hidden.stack;
                                mine.deferred = hidden.deferred;
                            });
                        }
                        hidden.cur
                    }
                    Found::Returned(returned) => {
                        local.pace.restart();
                        take_back(graph, core, local, returned)
                    }
                    Found::Retry(v) => {
                        // Its next attempt is due: run it (or, if the run
                        // stopped meanwhile, record its last failure).
                        local.pace.restart();
                        // SAFETY: a retry is of a task a worker claimed.
                        unsafe { run_unannounced(graph, core, local, v) }
                    }
                    Found::Over => return Departure::Over,
                    Found::Nothing => return Departure::NoWork,
                }
            }
        };
    }
}

/// Calls workers for a run that wants them: one for what is published, and
/// one more to watch the work still held here (`holds`, announced while the
/// next task runs): a worker that is only called when work is published
/// would leave that work hidden if the task turns out long.
#[cold]
fn call_workers<T>(core: &RunCore<'_, T>, shared: &Arc<Shared>, holds: bool) {
    for _ in 0..1 + usize::from(holds) {
        if !registry::spawn_worker(shared) {
            // The executor is full; a job that finishes asks again.
            core.signals().enough_workers();
            break;
        }
    }
}

/// Applies all but the latest of `deferred`, and returns that one as a
/// range of one, to be released the ordinary way by whoever takes it.
fn last_of<T>(core: &RunCore<'_, T>, deferred: Deferred) -> Releases {
    core.apply_deferred(deferred.task, deferred.count - 1);
    Releases {
        lo: deferred.index,
        hi: deferred.index + 1,
        poison: None,
    }
}

/// Applies the releases this worker deferred, now that it has nothing else
/// to do: all but the latest at once, that one the ordinary way; runs the
/// task if that claimed it, and returns its successors' releases. Nothing
/// private is held here, so nothing is announced.
#[cold]
#[inline(never)]
fn flush_deferred<T: Send + Sync>(
    graph: &Graph<'_, T>,
    core: &RunCore<'_, T>,
    local: &mut Local<'_>,
) -> Releases {
    let Some(deferred) = local.take_deferred() else {
        return Releases::EMPTY;
    };
    let v = deferred.task;
    core.apply_deferred(v, deferred.count - 1);
    // SAFETY: a deferred release is of a target, so `v < n` (see `Csr`).
    let mut claim = unsafe { core.claim(v, deferred.index, None, false) };
    if local.before_task & RULED != 0 {
        claim = apply_rule(graph, core, v, claim);
    }
    match claim {
        Claim::Waiting => Releases::EMPTY,
        Claim::Poisoned(cause) => skip_claimed(core, local, v, cause),
        // SAFETY: claimed just now.
        Claim::Clean => unsafe { run_unannounced(graph, core, local, v) },
        Claim::Deferred => unreachable!("kahn: internal error: a release deferred twice"),
    }
}

/// A task parked on a resource came back: runs it if it can now take its
/// resources (or records it cancelled if the run stopped), and returns the
/// releases of its successors; nothing if it was parked again.
#[cold]
fn take_back<T: Send + Sync>(
    graph: &Graph<'_, T>,
    core: &RunCore<'_, T>,
    local: &mut Local<'_>,
    returned: Returned,
) -> Releases {
    let v = returned.task;
    if returned.remote {
        return settle_remote(core, local, v);
    }
    let Some(table) = graph.tables.resources.as_ref() else {
        unreachable!(
            "kahn: internal error: a task came back from a resource of a graph without any"
        )
    };
    if !returned.retry {
        return settle_stopped(core, local, v);
    }
    // Woken by a release: unless it takes its units now, it passes the
    // wake-up on to whoever waits behind it, of this run or another.
    match core.acquire_for(table, v) {
        Acquired::Held => {
            // SAFETY: a task parked on a resource was claimed by a worker
            // before it parked.
            let next = unsafe { run_claimed_off_the_loop(graph, core, local, v) };
            core.release_for(table, v);
            next
        }
        Acquired::NotNeeded => {
            table.pass_on(v);
            settle_stopped(core, local, v)
        }
        Acquired::Parked => {
            table.pass_on(v);
            Releases::EMPTY
        }
    }
}

/// Records claimed task `v`, which a stop keeps from starting (again), as
/// [`RunCore::stopped_end`] says, and returns its successors' releases.
fn settle_stopped<T>(core: &RunCore<'_, T>, local: &mut Local<'_>, v: u32) -> Releases {
    let (end, poison) = core.stopped_end(v);
    if !core.instrumented() {
        return settle(core, local, v, end, poison);
    }
    // SAFETY: as in `settle`.
    let state = unsafe { core.record(v, end, &mut local.failures) };
    local.tally.count(state);
    if let Some(observing) = core.observing() {
        observing.task_skipped(v, local.me, state, None);
    }
    if core.part().is_some() {
        core.tell_part(v, state, last_failure(local, state), None);
    }
    successors(core, v, poison)
}

/// The failure this worker recorded last, if `state` (of the task it
/// recorded last) is one.
fn last_failure<'l>(local: &'l Local<'_>, state: State) -> Option<&'l TaskFailure> {
    match state {
        State::Failed | State::Panicked | State::TimedOut => {
            local.failures.last().map(|(_, failure)| failure)
        }
        _ => None,
    }
}

/// Records remote task `v` of a part run as its outcome came in, and
/// returns its successors' releases (see `part.rs`). The run counts it as
/// one of its tasks; observers, which watch the tasks that run here, are
/// not told.
#[cold]
#[inline(never)]
fn settle_remote<T>(core: &RunCore<'_, T>, local: &mut Local<'_>, v: u32) -> Releases {
    let Some((end, poison)) = core.take_remote(v) else {
        return Releases::EMPTY;
    };
    // SAFETY: a remote task is never claimed here and the feed hands its
    // outcome in once: this worker records it once, before its releases.
    let state = unsafe { core.record(v, end, &mut local.failures) };
    local.tally.count(state);
    successors(core, v, poison)
}

/// Runs claimed task `v` off the per-task path, where this worker holds no
/// private work (so announces nothing): takes its resources (it may be
/// parked instead), runs it, gives them back. Returns its successors'
/// releases.
///
/// # Safety
/// As for [`run_claimed`].
#[cold]
unsafe fn run_unannounced<T: Send + Sync>(
    graph: &Graph<'_, T>,
    core: &RunCore<'_, T>,
    local: &mut Local<'_>,
    v: u32,
) -> Releases {
    if local.before_task & RESOURCES != 0 && !local.take_resources(graph, core, v) {
        return Releases::EMPTY;
    }
    // SAFETY: the caller's contract is this one.
    let next = unsafe { run_claimed_off_the_loop(graph, core, local, v) };
    if local.after_task != 0 {
        local.after_task(graph, core, v);
    }
    next
}

/// Runs task `v`, which this worker claimed cleanly — or, if the run has
/// stopped (`stopped`, read after the claim), records it as
/// [`RunCore::stopped_end`] says — and returns the releases of its
/// successors.
/// Always inlined into the loop (and into [`run_claimed_off_the_loop`]):
/// out of line it costs an empty task half again. A task that needs more
/// than its body run (see `Local::plain`) goes to [`run_watched`]: two
/// tests on this path, not one for each thing a run may watch.
///
/// # Safety
/// This worker claimed `v` (a claim is of a target of the graph, so
/// `v < n`, see `Csr`): its body, state, output and successors are read
/// without bounds checks.
#[inline(always)]
unsafe fn run_claimed<'r, T: Send + Sync>(
    graph: &Graph<'_, T>,
    core: &'r RunCore<'r, T>,
    local: &mut Local<'_>,
    ctx: &mut TaskContext<'r, T>,
    v: u32,
    stopped: bool,
) -> Releases {
    if !local.plain || stopped {
        // SAFETY: the caller's contract is this one.
        return unsafe { run_watched(graph, core, local, ctx, v) };
    }
    ctx.node = v;
    // SAFETY: `v < n` by the caller's contract.
    let body = unsafe { graph.body_unchecked(v) };
    let result = catch_unwind(AssertUnwindSafe(|| body(ctx)));
    // A plain task has no deadline: the constant lets the test go.
    settle_ran(core, local, v, NO_LIMIT, result)
}

/// [`run_claimed`] for a task the scheduling loop did not claim (a retry,
/// a deferred release, a task back from a resource): with a context of its
/// own and the stop bit read here.
///
/// # Safety
/// As for [`run_claimed`].
unsafe fn run_claimed_off_the_loop<T: Send + Sync>(
    graph: &Graph<'_, T>,
    core: &RunCore<'_, T>,
    local: &mut Local<'_>,
    v: u32,
) -> Releases {
    let stopped = core.stopped();
    // SAFETY: the caller's contract is this one.
    unsafe {
        run_claimed(
            graph,
            core,
            local,
            &mut context_for(core, local),
            v,
            stopped,
        )
    }
}

/// [`run_claimed`] for a task of a run that is stopped, watched (a cancel
/// token, a deadline, an observer, timings, progress, a part run), or whose
/// graph has timeouts.
///
/// # Safety
/// As for [`run_claimed`].
#[inline(never)]
unsafe fn run_watched<'r, T: Send + Sync>(
    graph: &Graph<'_, T>,
    core: &'r RunCore<'r, T>,
    local: &mut Local<'_>,
    ctx: &mut TaskContext<'r, T>,
    v: u32,
) -> Releases {
    if core.should_stop() {
        return settle_stopped(core, local, v);
    }
    enter(core, local, ctx, v);
    if core.instrumented() {
        return run_instrumented(graph, core, local, ctx);
    }
    // SAFETY: `v < n` by the caller's contract.
    let body = unsafe { graph.body_unchecked(v) };
    let result = catch_unwind(AssertUnwindSafe(|| body(ctx)));
    settle_ran(core, local, v, ctx.deadline, result)
}

/// Records how task `v`'s body ended, given its `deadline`, and returns its
/// successors' releases. Settled here, so the common case's recording is
/// known at compile time: a success in time, with nothing to pass on. The
/// rest is [`settle_judged`]'s.
#[inline(always)]
fn settle_ran<T>(
    core: &RunCore<'_, T>,
    local: &mut Local<'_>,
    v: u32,
    deadline: u64,
    result: std::thread::Result<Result<T, BoxError>>,
) -> Releases {
    match result {
        // (`local.traits` read again rather than kept across the task: a
        // value kept costs a register, or a spill.)
        Ok(Ok(output))
            if local.traits & (BRANCHY | RELEASING) == 0 && !timeout::is_past(deadline) =>
        {
            // SAFETY: this worker claimed `v` (`claim` did not say
            // `Waiting`; so `v < n`), records it once, here, and releases
            // the successors only afterwards; the run releases no outputs.
            let state = unsafe { core.record_success_unreleased(v, output) };
            local.tally.count(state);
            // SAFETY: `v < n`, as above.
            let (lo, hi) = unsafe { core.csr().successor_range_unchecked(v) };
            Releases {
                lo,
                hi,
                poison: None,
            }
        }
        result => settle_judged(core, local, v, deadline, result),
    }
}

/// What a task sees while it runs on this worker (see `enter`), built once
/// a stay rather than once a task: four stores a task were a tenth of an
/// empty task's instructions.
fn context_for<'r, T>(core: &'r RunCore<'r, T>, local: &Local<'_>) -> TaskContext<'r, T> {
    TaskContext {
        core,
        node: 0,
        worker: local.me as u32,
        deadline: NO_LIMIT,
    }
}

/// Points the worker's context at task `v`, about to run: its deadline, if
/// the graph has timeouts, starts now. (Without timeouts it stays
/// `NO_LIMIT` for the whole stay.)
#[inline(always)]
fn enter<'r, T>(core: &'r RunCore<'r, T>, local: &Local<'_>, ctx: &mut TaskContext<'r, T>, v: u32) {
    ctx.node = v;
    if local.traits & TIMED != 0 {
        ctx.deadline = core.deadline_for(v);
    }
}

/// [`run_claimed`] for a run someone watches (see `RunCore::instrumented`):
/// times the task if asked, tells the observer and the progress counts,
/// runs the body inside the task's trace span, then judges and records
/// how it ended as usual.
#[cold]
#[inline(never)]
fn run_instrumented<'r, T: Send + Sync>(
    graph: &Graph<'_, T>,
    core: &'r RunCore<'r, T>,
    local: &mut Local<'_>,
    ctx: &TaskContext<'r, T>,
) -> Releases {
    let v = ctx.node;
    let observing = core.observing();
    let number = if observing.is_some() {
        core.attempt_of(v)
    } else {
        1
    };
    let trace = observing.map(|o| o.task_started(v, local.me, number));
    let started = core.times_tasks().then(Instant::now);
    let body = || catch_unwind(AssertUnwindSafe(|| (graph.tasks[v as usize])(ctx)));
    let result = match &trace {
        Some(trace) => trace.enter(body),
        None => body(),
    };
    let duration = started.map_or(Duration::ZERO, |started| started.elapsed());
    if let Some(started) = started {
        let timing = Timing {
            start: started - core.start(),
            duration,
            worker: local.me,
        };
        // SAFETY: this worker claimed `v` and has not released its successors.
        unsafe { core.write_timing(v, timing) };
    }
    let attempt = Attempt {
        worker: local.me,
        number,
        duration,
    };
    let (end, poison) = match result {
        Ok(Ok(output)) if local.traits & (TIMED | BRANCHY) == 0 => {
            (TaskEnd::Succeeded(output), None)
        }
        result => judge(core, v, ctx.deadline, result, Some(&attempt)),
    };
    if let TaskEnd::Retrying = end {
        if let Some(trace) = &trace {
            trace.retried();
        }
        return Releases::EMPTY;
    }
    // SAFETY: this worker claimed `v` (`claim` did not say `Waiting`),
    // records it once, here, and releases the successors only afterwards.
    let state = unsafe { core.record(v, end, &mut local.failures) };
    local.tally.count(state);
    if let (Some(observing), Some(trace)) = (observing, &trace) {
        let failure = last_failure(local, state);
        observing.task_finished(trace, v, local.me, number, state, failure, duration);
    }
    if core.part().is_some() {
        core.tell_part(v, state, last_failure(local, state), None);
    }
    successors(core, v, poison)
}

/// Judges how task `v` ended (see [`judge`]) and records it; a task queued
/// for a retry is not recorded and releases nothing. (A plain success
/// comes here only in a run that releases outputs early.)
#[cold]
#[inline(never)]
fn settle_judged<T>(
    core: &RunCore<'_, T>,
    local: &mut Local<'_>,
    v: u32,
    deadline: u64,
    result: std::thread::Result<Result<T, BoxError>>,
) -> Releases {
    let result = match result {
        // A plain success in a run that releases outputs early: nothing to
        // judge, and `settle` releases its inputs.
        Ok(Ok(output)) if local.traits & (TIMED | BRANCHY) == 0 => {
            return settle(core, local, v, TaskEnd::Succeeded(output), None)
        }
        result => result,
    };
    match judge(core, v, deadline, result, None) {
        (TaskEnd::Retrying, _) => Releases::EMPTY,
        (end, poison) => settle(core, local, v, end, poison),
    }
}

/// How task `v` ended, and what it passes on to its successors, but for
/// the common case (it succeeded, with no timeout, and cannot branch):
/// timed out if it returned past its `deadline`, whatever it returned;
/// cancelled if it returned [`Interrupted::RunStopped`] from a stopped run;
/// else as it returned, with its branch choice, if it made one. A failure
/// its retry policy retries is `Retrying`: queued, not recorded (and told
/// to the run's observer as `attempt`, in a watched run).
#[cold]
#[inline(never)]
fn judge<T>(
    core: &RunCore<'_, T>,
    v: u32,
    deadline: u64,
    result: std::thread::Result<Result<T, BoxError>>,
    attempt: Option<&Attempt>,
) -> (TaskEnd<T>, Option<Cause>) {
    let failed = |failure| {
        // Before the retry is queued, where another worker may take it:
        // the references this attempt took to its inputs are gone with it.
        core.forget_loans(v);
        match core.retry_later(v, failure, attempt) {
            Ok(()) => (TaskEnd::Retrying, None),
            Err(failure) => {
                core.on_failure();
                (TaskEnd::Failed(failure), Some(Cause::new(TaskId::new(v))))
            }
        }
    };
    if timeout::is_past(deadline) {
        // What it returned is dropped here, inside a guard like the task's:
        // a panicking destructor is the task's doing, not kahn's.
        let _ = catch_unwind(AssertUnwindSafe(move || match result {
            Ok(returned) => drop(returned),
            Err(payload) => drop(panic_message(payload)),
        }));
        let limit = core.timeout_of(v).unwrap_or_default();
        return failed(TaskFailure::TimedOut { limit });
    }
    match result {
        Ok(Ok(output)) => {
            let branched = core.triggers().is_some_and(|t| t.branches(v)) && core.has_choice(v);
            let passed_over = branched.then(|| Cause::chosen(TaskId::new(v)));
            (TaskEnd::Succeeded(output), passed_over)
        }
        Ok(Err(error)) => {
            let told_to_stop = matches!(
                error.downcast_ref::<Interrupted>(),
                Some(Interrupted::RunStopped { .. })
            );
            if told_to_stop && core.should_stop() {
                let _ = catch_unwind(AssertUnwindSafe(move || drop(error)));
                (TaskEnd::Cancelled, None)
            } else {
                failed(TaskFailure::Failed(error))
            }
        }
        Err(payload) => failed(TaskFailure::Panicked(panic_message(payload))),
    }
}

/// Records task `v`, which a failure reached, as skipped for `cause`, and
/// returns the releases that pass the same cause to its successors. The
/// recording is out of line and the releases are not: a range returned from
/// a call would keep the loop's next range in memory for every task.
#[inline(always)]
fn skip_claimed<T>(core: &RunCore<'_, T>, local: &mut Local<'_>, v: u32, cause: Cause) -> Releases {
    record_skipped(core, local, v, cause);
    successors(core, v, Some(cause))
}

#[cold]
#[inline(never)]
fn record_skipped<T>(core: &RunCore<'_, T>, local: &mut Local<'_>, v: u32, cause: Cause) {
    if core.instrumented() {
        // SAFETY: as below; the timing slot is written before the record.
        unsafe { core.write_settled(v, local.me) };
    }
    // SAFETY: this worker claimed `v` (`claim` said `Poisoned`), records it
    // once, here, and releases the successors only afterwards.
    let state = unsafe { core.record(v, TaskEnd::Skipped(cause), &mut local.failures) };
    local.tally.count(state);
    if let Some(observing) = core.observing() {
        observing.task_skipped(v, local.me, state, Some(skip_of(core, v, cause)));
    }
    if core.part().is_some() {
        core.tell_part(v, state, None, Some(skip_of(core, v, cause)));
    }
}

/// Why task `v` was skipped for `cause`, as the report will say it.
#[cold]
fn skip_of<T>(core: &RunCore<'_, T>, v: u32, cause: Cause) -> Skip {
    let task = cause.task();
    if !cause.by_choice() {
        Skip::UpstreamFailed(task)
    } else if task.index() != v as usize && core.branched(task.index() as u32) {
        // Only a branching task that succeeded passes over tasks and
        // still runs (as in `Report::outcome`).
        Skip::BranchNotTaken(task)
    } else {
        Skip::NotTriggered(task)
    }
}

/// Records how claimed task `v` ended and returns the releases of its
/// successors, poisoned by `poison` if it did not succeed. Always inlined:
/// as a call it costs a chain of empty tasks a third more.
#[inline(always)]
fn settle<T>(
    core: &RunCore<'_, T>,
    local: &mut Local<'_>,
    v: u32,
    end: TaskEnd<T>,
    poison: Option<Cause>,
) -> Releases {
    // SAFETY: this worker claimed `v` (`claim` did not say `Waiting`),
    // records it once, here, and releases the successors only afterwards.
    let state = unsafe { core.record(v, end, &mut local.failures) };
    local.tally.count(state);
    successors(core, v, poison)
}

/// The releases of `v`'s successors, poisoned by `poison`.
#[inline(always)]
fn successors<T>(core: &RunCore<'_, T>, v: u32, poison: Option<Cause>) -> Releases {
    let succ_off = core.csr().succ_off;
    Releases {
        lo: succ_off[v as usize],
        hi: succ_off[v as usize + 1],
        poison,
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let message = if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else if let Some(message) = payload.downcast_ref::<&'static str>() {
        (*message).to_owned()
    } else {
        "the task panicked with a value that is not a string".to_owned()
    };
    // The payload is the task's value: its destructor may panic too, and
    // that must not escape into the scheduler (it would abort).
    if let Err(nested) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(nested);
    }
    message
}

impl Local<'_> {
    /// Called before a task, with the announcement retracted, when this
    /// worker holds private work and a peer is hungry, the run wants
    /// another worker (and `may_call`), or its tasks are slow: publishes
    /// the oldest set-aside range or the upper half of the current one (if
    /// nothing is published yet). The caller calls workers, once what is
    /// left is announced.
    #[cold]
    fn share<T>(&mut self, core: &RunCore<'_, T>, mut cur: Releases, may_call: bool) -> Releases {
        // `cur` is taken and returned by value: a `&mut` would pin the
        // current range to the stack for the whole loop (see `Releases`).
        let want = may_call && core.signals().wants_workers();
        if !(want || core.peer_hungry() || self.pace.eager) {
            return cur;
        }
        if self.deque.is_empty() {
            let gift = if let Some(work) = self.stack_pop_front() {
                work
            } else if !cur.is_empty() {
                let mid = cur.lo + cur.len() / 2;
                let upper = Releases {
                    lo: mid,
                    hi: cur.hi,
                    poison: cur.poison,
                };
                cur.hi = mid;
                upper
            } else if let Some(deferred) = self.take_deferred() {
                last_of(core, deferred)
            } else {
                return cur;
            };
            self.deque.push(gift);
            core.shared();
        }
        cur
    }

    #[inline]
    fn stack_pop_front(&mut self) -> Option<Releases> {
        // SAFETY: as in `holds_hidden_work`.
        unsafe { self.seat.with_hidden(|hidden| hidden.stack.pop_front()) }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Runs `pace` through one interval of `per_task` a task.
    fn interval(pace: &mut Pace, per_task: Duration) -> (bool, u32) {
        pace.judge(per_task * pace.check_every);
        (pace.eager, pace.check_every)
    }

    #[test]
    fn fast_tasks_are_checked_ever_less_often_up_to_the_laziest() {
        let mut pace = Pace::new();
        let ns = Duration::from_nanos;
        assert_eq!(interval(&mut pace, ns(5)), (false, Pace::LAZY_CHECK));
        let mut seen = vec![];
        for _ in 0..8 {
            seen.push(interval(&mut pace, ns(5)).1);
        }
        assert_eq!(seen, [128, 256, 512, 1024, 1024, 1024, 1024, 1024]);
        assert_eq!(pace.until_check, Pace::LAZIEST_CHECK);
    }

    #[test]
    fn intervals_longer_than_the_span_shrink_in_proportion_and_slow_tasks_turn_eager() {
        let mut pace = Pace::new();
        let (ns, us) = (Duration::from_nanos, Duration::from_micros);
        // 20 ns a task: 1,024 of them take 20.5 µs, about 2.5 spans.
        pace.check_every = Pace::LAZIEST_CHECK;
        assert_eq!(interval(&mut pace, ns(20)), (false, 400));
        // 1 µs a task: back to the laziest check but one.
        pace.check_every = Pace::LAZIEST_CHECK;
        assert_eq!(interval(&mut pace, us(1)), (false, Pace::LAZY_CHECK));
        // Between one and two spans: the interval stays.
        pace.check_every = 128;
        pace.judge(Pace::CHECK_SPAN + us(1));
        assert_eq!((pace.eager, pace.check_every), (false, 128));
        // Slow on average: eager, and checked after every task.
        assert_eq!(interval(&mut pace, Pace::SLOW), (true, 1));
        assert_eq!(interval(&mut pace, us(30)), (true, 1));
        // Fast again: lazy from the first interval.
        assert_eq!(interval(&mut pace, us(1)), (false, Pace::LAZY_CHECK));
    }

    #[test]
    fn tasks_from_the_look_ahead_bar_up_are_looked_ahead_of_and_faster_ones_not() {
        let mut pace = Pace::new();
        assert!(
            !pace.ahead,
            "a worker starts without hints; its first check decides"
        );
        for (per_task, ahead) in [
            (Pace::AHEAD / 2, false),
            (Pace::AHEAD, true),
            (Pace::SLOW, true),
            (Duration::from_nanos(5), false),
            (Pace::AHEAD * 3 / 2, true),
        ] {
            interval(&mut pace, per_task);
            assert_eq!(pace.ahead, ahead, "{per_task:?} a task");
        }
        assert!(
            !Pace::fixed(true).ahead,
            "loom's fixed pace never looks ahead"
        );
    }

    /// Runs `pace` through tasks of the given durations, as the worker loop
    /// would with a clock that advanced by exactly them; the number of tasks
    /// after which it first turned eager.
    fn eager_after(pace: &mut Pace, tasks: impl Iterator<Item = Duration>) -> Option<usize> {
        let mut span = Duration::ZERO;
        for (i, task) in tasks.enumerate() {
            span += task;
            pace.until_check -= 1;
            if pace.until_check == 0 {
                pace.judge(span);
                span = Duration::ZERO;
                if pace.eager {
                    return Some(i + 1);
                }
            }
        }
        None
    }

    #[test]
    fn tasks_that_turn_slow_after_many_fast_ones_turn_publishing_eager_soon() {
        let mut pace = Pace::new();
        let fast = std::iter::repeat_n(Duration::from_nanos(5), 10_000);
        assert_eq!(eager_after(&mut pace, fast), None);
        assert_eq!(pace.check_every, Pace::LAZIEST_CHECK);
        // At any point of the laziest interval, 1 ms tasks from then on.
        for fast_first in [0, 1, 500, 1_000, 1_010, 1_023] {
            let mut pace = Pace::new();
            pace.check_every = Pace::LAZIEST_CHECK;
            pace.until_check = Pace::LAZIEST_CHECK - fast_first;
            let slow = std::iter::repeat(Duration::from_millis(1));
            let seen = eager_after(&mut pace, slow).expect("slow tasks turn it eager");
            // At the first check, or at the lazy check after it.
            let first_check = (Pace::LAZIEST_CHECK - fast_first) as usize;
            assert!(
                seen <= first_check + Pace::LAZY_CHECK as usize,
                "eager only after {seen} slow tasks, the first check after {first_check}"
            );
        }
    }

    #[test]
    fn looking_for_work_starts_the_count_again_from_at_most_the_lazy_check() {
        let mut pace = Pace::new();
        pace.check_every = Pace::LAZIEST_CHECK;
        pace.restart();
        assert_eq!((pace.check_every, pace.until_check), (64, 64));
        pace.check_every = 1;
        pace.restart();
        assert_eq!((pace.check_every, pace.until_check), (1, 1));
    }
}
