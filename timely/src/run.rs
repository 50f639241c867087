//! One worker's side of a distributed run: the hello that checks every worker built the same graph, then its part run beside the timely loop that carries ends between workers and watches for a lost process.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use kahn::{
    CancelToken, DeliveryError, Executor, Graph, RemoteFeed, RemoteOutcome, RunOptions, Settled,
    StopReason, TaskId, TaskLabel, Timing,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::{Exchange, Input, Probe};
use timely::dataflow::{InputHandleVec, ProbeHandle};
use timely::worker::Worker;

use crate::error::DistributedError;
use crate::execute;
use crate::fingerprint;
use crate::options::DistributedOptions;
use crate::report::DistributedReport;
use crate::wire::{End, Envelope, Hello, Message};

/// How long the timely loop parks at most between looks at the part run,
/// the cancel token and the clock: the latency a cancel or an end may add.
const PARK: Duration = Duration::from_millis(1);

/// Runs `graph` across every worker of the timely computation `worker`
/// belongs to, and returns the whole run's report on each.
///
/// Call it on every worker (the closure given to [`execute`](crate::execute)
/// or [`execute_from_args`](crate::execute_from_args)), with the same graph,
/// built the same way, and the same `distributed` options. Each worker runs
/// the tasks the placement gives it on `executor` (one per process, shared
/// by its workers, is enough), as a part run ([`Executor::run_part`]); a
/// task's end travels to every other worker, and its output only to the
/// workers that run one of its successors. `options` apply on every
/// worker: a cancel of its token on one process stops the run on all
/// (within about a millisecond), as does a failure under fail-fast.
///
/// # Errors
/// Before any task runs: [`DistributedError::OtherGraph`] if another
/// worker built a different graph, [`DistributedError::OtherPlacement`] if
/// it placed the tasks differently, [`DistributedError::PlacedOutside`] if
/// a custom placement names a worker that does not exist. Every worker
/// returns the error. At any time: [`DistributedError::ProcessLost`] if
/// another process died or fell silent; every worker that is left returns
/// it, once the tasks it was running have ended.
pub fn run<'g, T>(
    worker: &mut Worker,
    executor: &Executor,
    graph: &'g Graph<'_, T>,
    options: &RunOptions,
    distributed: &DistributedOptions,
) -> Result<DistributedReport<'g, T>, DistributedError>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    let dataflow = worker.next_dataflow_index();
    let mut link = Link::new(worker, distributed);
    let result = run_linked(worker, &mut link, executor, graph, options, distributed);
    link.close_input();
    if link.stuck {
        // A lost process never closes its input: the dataflow cannot end,
        // and timely would step it for ever after the closure returns.
        worker.drop_dataflow(dataflow);
    }
    result
}

fn run_linked<'g, T>(
    worker: &mut Worker,
    link: &mut Link<T>,
    executor: &Executor,
    graph: &'g Graph<'_, T>,
    options: &RunOptions,
    distributed: &DistributedOptions,
) -> Result<DistributedReport<'g, T>, DistributedError>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    let (me, peers) = (link.me, link.peers);
    let n = graph.task_count();
    let owner = distributed.placement.assign(graph, peers);
    let hello = Hello {
        from: me as u32,
        process: process_nonce(),
        tasks: n as u64,
        graph: fingerprint::of_graph(graph),
        placement: owner
            .as_ref()
            .map_or(u64::MAX, |o| fingerprint::of_placement(o)),
    };

    // Time 0: every worker greets every worker; nothing runs before all
    // greetings are in and agree.
    for to in 0..peers as u32 {
        link.send(to, Message::Hello(hello));
    }
    link.advance();
    let mut hellos = Vec::with_capacity(peers);
    // A faster worker may have passed the barrier and sent its first ends
    // already: they wait here for the part run.
    let mut early = Vec::new();
    let mut sort = |link: &mut Link<T>, hellos: &mut Vec<Hello>| {
        for envelope in link.take_received() {
            match envelope.message {
                Message::Hello(hello) => hellos.push(hello),
                Message::Alive | Message::Done => {}
                _ => early.push(envelope),
            }
        }
    };
    while link.probe.less_than(&1) {
        let stepped = link.step(worker);
        sort(link, &mut hellos);
        let lost = match stepped {
            Err(_) => Some(link.blame()),
            Ok(()) => link.silent().map(|(w, silence)| (w, Some(silence))),
        };
        if let Some((w, silent_for)) = lost {
            link.stuck = true;
            execute::gave_up();
            // This process's workers, known from their hellos (this one's
            // at least, unless none came in yet).
            let threads = hellos
                .iter()
                .filter(|h| h.process == hello.process)
                .count()
                .max(1);
            let process = w / threads;
            return Err(DistributedError::ProcessLost {
                process,
                workers: (process * threads..(process + 1) * threads).collect(),
                silent_for,
                before_start: true,
                unreported: Vec::new(),
                me,
            });
        }
        link.beat_if_due();
    }
    sort(link, &mut hellos);
    hellos.sort_unstable_by_key(|h| h.from);
    let process = processes(&hellos);
    for h in &hellos {
        let (worker, process) = (h.from as usize, process[h.from as usize] as usize);
        if (h.tasks, h.graph) != (hello.tasks, hello.graph) {
            return Err(DistributedError::OtherGraph {
                worker,
                process,
                me,
                their_tasks: h.tasks,
                theirs: h.graph,
                our_tasks: hello.tasks,
                ours: hello.graph,
            });
        }
        if h.placement != hello.placement && owner.is_ok() {
            return Err(DistributedError::OtherPlacement {
                worker,
                process,
                me,
            });
        }
    }
    let owner = owner?;
    link.process = process;

    let part = graph.part(|t| owner[t.index()] as usize == me);
    let readers = Readers::new(graph, &owner, me);
    let ships: Arc<[bool]> = (0..n).map(|v| !readers.of(v).is_empty()).collect();
    let feed = Arc::new(graph.remote_feed(&part));
    // The owned tasks' ends, from the executor's threads to the timely
    // loop: a batch behind a lock, and a wake-up only for the first end of
    // a batch (the loop takes the whole batch at once).
    let told: Arc<Mutex<Vec<Told<T>>>> = Arc::default();
    let timely_thread = std::thread::current();
    let outbox = {
        let (told, timely_thread) = (Arc::clone(&told), timely_thread.clone());
        move |settled: Settled<'_, T>| {
            let v = settled.task.index();
            let output = if ships[v] {
                settled.output.cloned()
            } else {
                None
            };
            let end = (v as u32, End::of(&settled), output, settled.timing);
            let first = {
                let mut batch = told.lock().unwrap_or_else(PoisonError::into_inner);
                batch.push(end);
                batch.len() == 1
            };
            if first {
                timely_thread.unpark();
            }
        }
    };
    let mut batch: Vec<Told<T>> = Vec::new();
    let take_told = |batch: &mut Vec<Told<T>>| {
        std::mem::swap(
            &mut *told.lock().unwrap_or_else(PoisonError::into_inner),
            batch,
        );
    };
    let user_cancel = options.cancel().cloned();
    let stop_here = CancelToken::new();
    let local = options.clone().cancel_token(stop_here.clone());

    let send_end = |link: &mut Link<T>, (task, end, mut output, timing): Told<T>| {
        let readers = readers.of(task as usize);
        for to in (0..peers as u32).filter(|&to| to as usize != me) {
            let output = match readers.binary_search(&to) {
                Ok(i) if i + 1 == readers.len() => output.take(),
                Ok(_) => output.clone(),
                Err(_) => None,
            };
            link.send(
                to,
                Message::Ended {
                    task,
                    end: end.clone(),
                    output,
                    timing,
                },
            );
        }
    };
    // What this worker heard of the other workers' tasks.
    let mut reported = vec![false; n];
    // Filled only if a timing comes in (the run records timings).
    let mut remote_timing: Vec<Option<Timing>> = Vec::new();
    let mut lost: Option<GiveUp> = None;

    let report = std::thread::scope(|scope| {
        let run = {
            let (feed, part, local) = (Arc::clone(&feed), &part, &local);
            let timely_thread = timely_thread.clone();
            scope.spawn(move || {
                let report = executor.run_part(graph, local, part, feed, outbox);
                timely_thread.unpark();
                report
            })
        };
        let mut heard = Heard {
            refused: None,
            owner: &owner,
            reported: &mut reported,
            timing: &mut remote_timing,
            feed: &feed,
            stop_here: &stop_here,
        };
        for envelope in early.drain(..) {
            heard.hear(envelope, true);
        }
        let mut cancelled = false;
        loop {
            take_told(&mut batch);
            for told in batch.drain(..) {
                if !link.broken {
                    send_end(link, told);
                }
            }
            for envelope in link.take_received() {
                heard.hear(envelope, lost.is_none());
            }
            if !cancelled && user_cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
                cancelled = true;
                stop_here.cancel();
                link.send_others(Message::Stop);
            }
            link.beat_if_due();
            if run.is_finished() {
                break;
            }
            if lost.is_none() {
                let found = if let Some((from, why)) = heard.refused.take() {
                    Some(GiveUp::Refused { from, why })
                } else {
                    // A broken link (a step or a send found a connection
                    // gone) fails the step at once.
                    match link.step(worker) {
                        Err(_) => Some(GiveUp::Lost(link.blame())),
                        Ok(()) => link
                            .silent()
                            .map(|(w, silence)| GiveUp::Lost((w, Some(silence)))),
                    }
                };
                if let Some(found) = found {
                    // Stop here, tell the others (if the link still
                    // works), and end every task not heard of, so that
                    // the part run can end.
                    lost = Some(found);
                    link.stuck = true;
                    stop_here.cancel();
                    link.send_others(Message::Stop);
                    for v in (0..n).filter(|&v| !part.owns(TaskId::new(v as u32))) {
                        if !heard.reported[v] {
                            let stop = RemoteOutcome::Cancelled(Some(StopReason::Cancelled));
                            let _ = feed.deliver(TaskId::new(v as u32), stop);
                        }
                    }
                }
            } else if !link.broken {
                // Only to pass the stop on: the ends that still come in
                // are not delivered.
                let _ = link.step(worker);
            }
            if link.broken {
                std::thread::park_timeout(PARK);
            }
        }
        let report = match run.join() {
            Ok(report) => report,
            Err(payload) => std::panic::resume_unwind(payload),
        };
        // What the run told at its very end.
        take_told(&mut batch);
        for told in batch.drain(..) {
            if !link.broken {
                send_end(link, told);
            }
        }
        report
    });
    let report = report.expect("the part and the feed are of this graph, and the feed is new");

    if lost.is_some() {
        // The ends of this part's tasks (cancelled now) still go out, so
        // that the workers left do not wait for them.
        link.flush(worker);
    }
    if let Some(GiveUp::Refused { from, why }) = lost {
        return Err(DistributedError::BadMessage {
            worker: from,
            process: link.process[from] as usize,
            me,
            why,
        });
    }
    if let Some(GiveUp::Lost((w, silent_for))) = lost {
        let process = link.process[w] as usize;
        let workers: Vec<usize> = (0..peers)
            .filter(|&x| link.process[x] as usize == process)
            .collect();
        let unreported = (0..n)
            .filter(|&v| !reported[v] && link.process[owner[v] as usize] as usize == process)
            .map(|v| {
                let task = TaskId::new(v as u32);
                TaskLabel::new(task, graph.name(task))
            })
            .collect();
        execute::gave_up();
        return Err(DistributedError::ProcessLost {
            process,
            workers,
            silent_for,
            before_start: false,
            unreported,
            me,
        });
    }

    // Every worker's run has every outcome once its own has: say so, and
    // keep saying it is alive until every other worker has said it too,
    // so that a worker still waiting for a late end does not take the
    // quiet for a lost process. Then close; the dataflow is done when all
    // have closed, so every message was delivered.
    link.send_others(Message::Done);
    link.finish(worker);
    Ok(DistributedReport::new(
        report,
        owner.into_boxed_slice(),
        link.process.clone().into_boxed_slice(),
        me,
        remote_timing.into_boxed_slice(),
    ))
}

/// An owned task's end as the outbox tells it to the timely loop: the
/// task, its end, its output if another worker reads it, its timing.
type Told<T> = (u32, End, Option<T>, Option<Timing>);

/// For each task of this worker's part, the other workers that run one of
/// its successors (and so read its output), sorted: compressed rows.
struct Readers {
    offsets: Vec<u32>,
    workers: Vec<u32>,
}

impl Readers {
    fn new<T>(graph: &Graph<'_, T>, owner: &[u32], me: usize) -> Readers {
        let n = graph.task_count();
        let mut offsets = Vec::with_capacity(n + 1);
        let (mut workers, mut scratch) = (Vec::new(), Vec::new());
        offsets.push(0);
        for v in 0..n {
            if owner[v] as usize == me {
                scratch.clear();
                scratch.extend(
                    graph
                        .successors(TaskId::new(v as u32))
                        .map(|w| owner[w.index()])
                        .filter(|&w| w as usize != me),
                );
                scratch.sort_unstable();
                scratch.dedup();
                workers.extend_from_slice(&scratch);
            }
            offsets.push(workers.len() as u32);
        }
        Readers { offsets, workers }
    }

    fn of(&self, v: usize) -> &[u32] {
        &self.workers[self.offsets[v] as usize..self.offsets[v + 1] as usize]
    }
}

/// Why a worker stops its part of the run before it ends.
enum GiveUp {
    /// This worker, and its process with it, is lost; `None`: its
    /// connection closed, else how long it was silent.
    Lost((usize, Option<Duration>)),
    /// This worker sent an end the part run refused.
    Refused { from: usize, why: DeliveryError },
}

/// What a worker does with the envelopes of the main phase.
struct Heard<'a, 'g, T> {
    /// The first end the part run refused, and its sender: a message this
    /// graph's run cannot have sent.
    refused: Option<(usize, DeliveryError)>,
    owner: &'a [u32],
    reported: &'a mut [bool],
    timing: &'a mut Vec<Option<Timing>>,
    feed: &'a RemoteFeed<'g, T>,
    stop_here: &'a CancelToken,
}

impl<T> Heard<'_, '_, T> {
    /// An end goes to the part run (once, and only from its task's
    /// owner) while `deliver` holds; a stop stops the run here.
    fn hear(&mut self, envelope: Envelope<T>, deliver: bool) {
        match envelope.message {
            Message::Ended {
                task,
                end,
                output,
                timing,
            } if deliver => {
                let v = task as usize;
                if v < self.reported.len() && !self.reported[v] && self.owner[v] == envelope.from {
                    let delivered = self
                        .feed
                        .deliver(TaskId::new(task), end.into_remote(output));
                    if let Err(why) = delivered {
                        self.refused.get_or_insert((envelope.from as usize, why));
                        return;
                    }
                    self.reported[v] = true;
                    if let Some(timing) = timing {
                        if self.timing.is_empty() {
                            self.timing.resize(self.reported.len(), None);
                        }
                        self.timing[v] = Some(timing);
                    }
                }
            }
            Message::Stop => self.stop_here.cancel(),
            _ => {}
        }
    }
}

/// This worker's end of the dataflow that carries envelopes, and what it
/// knows of the other workers' liveness.
struct Link<T: Clone + 'static> {
    input: Option<InputHandleVec<u64, Envelope<T>>>,
    probe: ProbeHandle<u64>,
    received: Rc<RefCell<Vec<Envelope<T>>>>,
    me: usize,
    peers: usize,
    /// The process of each worker, once the hellos are in.
    process: Vec<u32>,
    /// When each worker was last heard from.
    heard: Vec<Instant>,
    /// Which workers said their run is done.
    done: Vec<bool>,
    /// When this worker last sent to the others.
    said: Instant,
    /// Envelopes given to the input since its epoch last advanced.
    unsent: bool,
    beat: Duration,
    lost_after: Duration,
    /// Timely panicked in a step or a send: a connection is gone.
    broken: bool,
    /// The dataflow can never complete: it must be dropped.
    stuck: bool,
}

impl<T> Link<T>
where
    T: Serialize + DeserializeOwned + Clone + Send + 'static,
{
    fn new(worker: &mut Worker, distributed: &DistributedOptions) -> Link<T> {
        let mut input = InputHandleVec::<u64, Envelope<T>>::new();
        let probe = ProbeHandle::new();
        let received: Rc<RefCell<Vec<Envelope<T>>>> = Rc::default();
        let sink = Rc::clone(&received);
        worker.dataflow::<u64, _, _>(|scope| {
            scope
                .input_from(&mut input)
                .exchange(|envelope: &Envelope<T>| u64::from(envelope.to))
                .unary::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
                    Pipeline,
                    "Deliver",
                    move |_, _| {
                        move |input, _| {
                            input.for_each(|_, data| sink.borrow_mut().append(data));
                        }
                    },
                )
                .probe_with(&probe);
        });
        let now = Instant::now();
        let peers = worker.peers();
        Link {
            input: Some(input),
            probe,
            received,
            me: worker.index(),
            peers,
            process: Vec::new(),
            heard: vec![now; peers],
            done: vec![false; peers],
            said: now,
            unsent: false,
            beat: distributed.beat(),
            lost_after: distributed.lost_after,
            broken: false,
            stuck: false,
        }
    }

    fn send(&mut self, to: u32, message: Message<T>) {
        let from = self.me as u32;
        self.with_input(|input| input.send(Envelope { to, from, message }));
        self.unsent = true;
    }

    /// Gives `push` the input, unless the link is broken: what is given
    /// to the input may go to the network at once, and timely panics
    /// there when a connection is gone (the link is broken then).
    fn with_input(&mut self, push: impl FnOnce(&mut InputHandleVec<u64, Envelope<T>>)) {
        if self.broken {
            return;
        }
        if let Some(input) = &mut self.input {
            if catch_unwind(AssertUnwindSafe(|| push(input))).is_err() {
                self.break_off();
            }
        }
    }

    /// Closes the input. A broken link's input is leaked instead: dropping
    /// it flushes into the connection that is gone.
    fn close_input(&mut self) {
        let input = self.input.take();
        if self.broken {
            std::mem::forget(input);
        } else if catch_unwind(AssertUnwindSafe(|| drop(input))).is_err() {
            self.break_off();
        }
    }

    fn send_others(&mut self, message: Message<T>) {
        let me = self.me as u32;
        for to in (0..self.peers as u32).filter(|&to| to != me) {
            self.send(to, message.clone());
        }
    }

    /// Closes the input's epoch: timely hands a batch on (and wakes the
    /// operators downstream) when its epoch closes.
    fn advance(&mut self) {
        self.with_input(|input| {
            let next = input.time() + 1;
            input.advance_to(next);
        });
        self.unsent = false;
        self.said = Instant::now();
    }

    /// Sends what was given, and says this worker is alive if it has said
    /// nothing for a beat.
    fn beat_if_due(&mut self) {
        if self.broken {
            return;
        }
        if !self.unsent && self.said.elapsed() >= self.beat {
            self.send_others(Message::Alive);
        }
        if self.unsent {
            self.advance();
        }
    }

    /// One step of timely, parking up to [`PARK`]; `Err` with timely's
    /// panic message if a connection to another process is gone (timely
    /// then panics in every step: the link is broken), and at once if the
    /// link is broken already.
    fn step(&mut self, worker: &mut Worker) -> Result<(), String> {
        if self.broken {
            return Err("a connection to another process is gone".into());
        }
        catch_unwind(AssertUnwindSafe(|| worker.step_or_park(Some(PARK)))).map_err(|payload| {
            self.break_off();
            execute::panic_message(&*payload)
        })?;
        Ok(())
    }

    /// Timely panicked in a call that reached the network: a connection is
    /// gone, so the link is never touched again and its dataflow, which can
    /// never complete, must be dropped.
    fn break_off(&mut self) {
        self.broken = true;
        self.stuck = true;
    }

    /// What the workers sent that reached this one, noting who is alive.
    fn take_received(&mut self) -> Vec<Envelope<T>> {
        let received = std::mem::take(&mut *self.received.borrow_mut());
        if !received.is_empty() {
            let now = Instant::now();
            for envelope in &received {
                if let Some(heard) = self.heard.get_mut(envelope.from as usize) {
                    *heard = now;
                }
                if matches!(envelope.message, Message::Done) {
                    self.done[envelope.from as usize] = true;
                }
            }
        }
        received
    }

    /// The worker heard from least recently, if that is longer ago than
    /// the limit.
    fn silent(&self) -> Option<(usize, Duration)> {
        let (w, heard) = (0..self.peers)
            .filter(|&w| w != self.me)
            .map(|w| (w, self.heard[w]))
            .min_by_key(|&(_, heard)| heard)?;
        let silence = heard.elapsed();
        (silence > self.lost_after).then_some((w, silence))
    }

    /// The worker whose connection is gone, after timely panicked: one of
    /// the process whose network thread failed (when the run was started
    /// with [`execute`](crate::execute), which watches them), else the
    /// worker heard from least recently.
    fn blame(&self) -> (usize, Option<Duration>) {
        let of_process = |process: usize| {
            (0..self.peers).find(|&w| {
                w != self.me && self.process.get(w).is_some_and(|&p| p as usize == process)
            })
        };
        if let Some(w) = execute::lost_process().and_then(of_process) {
            return (w, None);
        }
        let w = (0..self.peers)
            .filter(|&w| w != self.me)
            .min_by_key(|&w| self.heard[w])
            .unwrap_or(self.me);
        (w, None)
    }

    /// Sends what was given and steps timely a little, so that it leaves
    /// before this worker gives its dataflow up.
    fn flush(&mut self, worker: &mut Worker) {
        if self.broken {
            return;
        }
        self.advance();
        let start = Instant::now();
        while start.elapsed() < 10 * PARK && self.step(worker).is_ok() {}
    }

    /// After this worker's run ended: waits until every other worker's
    /// has (or has gone silent: this run's report is whole either way),
    /// then closes the input and waits for the dataflow to complete.
    fn finish(&mut self, worker: &mut Worker) {
        self.done[self.me] = true;
        while !self.broken && !self.done.iter().all(|&d| d) && self.silent().is_none() {
            if self.step(worker).is_err() {
                break;
            }
            self.take_received();
            self.beat_if_due();
        }
        self.close_input();
        let start = Instant::now();
        while !self.broken && !self.probe.done() {
            if start.elapsed() > self.lost_after || self.step(worker).is_err() {
                self.stuck = true;
                break;
            }
        }
        if self.broken {
            self.stuck = true;
        }
    }
}

/// A number the workers of this process share and other processes do not
/// (with overwhelming likelihood): the process id and the start time.
fn process_nonce() -> u64 {
    static NONCE: OnceLock<u64> = OnceLock::new();
    *NONCE.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        fingerprint::Fingerprint::new()
            .u64(u64::from(std::process::id()))
            .u64(nanos)
            .get()
    })
}

/// The process of each worker, numbered in worker order: timely gives the
/// workers of one process consecutive indices.
fn processes(hellos: &[Hello]) -> Vec<u32> {
    let mut process = Vec::with_capacity(hellos.len());
    let mut current = 0;
    for (i, h) in hellos.iter().enumerate() {
        if i > 0 && h.process != hellos[i - 1].process {
            current += 1;
        }
        process.push(current);
    }
    process
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Stop;
    use proptest::prelude::*;

    /// An end as a hostile or corrupt peer might send it: any task, any
    /// sender, any task named inside.
    fn envelope(n: u32) -> impl Strategy<Value = Envelope<u64>> {
        let named = 0..n + 3;
        let end = prop_oneof![
            proptest::option::of(proptest::collection::vec(named.clone(), 0..3))
                .prop_map(|chose| End::Succeeded { chose }),
            Just(End::Failed("no".into())),
            Just(End::Panicked("boom".into())),
            (0u8..3, named.clone()).prop_map(|(kind, by)| End::Skipped { kind, by }),
            named.prop_map(|by| End::Cancelled(Some(Stop::CancelledByTask(by)))),
            Just(End::Cancelled(None)),
        ];
        (0..n + 3, 0u32..3, end, any::<Option<u64>>()).prop_map(|(task, from, end, output)| {
            Envelope {
                to: 0,
                from,
                message: Message::Ended {
                    task,
                    end,
                    output,
                    timing: None,
                },
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever arrives, nothing panics, each remote task is delivered
        /// at most once and only from its owner, and what the part run
        /// refuses is noted instead of lost.
        #[test]
        fn hostile_ends_are_delivered_once_or_refused(
            envelopes in proptest::collection::vec(envelope(12), 0..80),
        ) {
            let mut arena = kahn::Arena::new();
            let mut b = arena.builder::<u64>();
            for i in 0..12 {
                b.task(&format!("t{i}"), |_| Ok(0)).unwrap();
                if i > 0 {
                    b.edge(&*format!("t{}", i - 1), &*format!("t{i}")).unwrap();
                }
            }
            let graph = b.build().unwrap();
            // Worker 0 owns tasks 0..4; workers 1 and 2 the rest.
            let owner: Vec<u32> = (0..12).map(|v| (v / 4) as u32).collect();
            let part = graph.part(|t| owner[t.index()] == 0);
            let feed = graph.remote_feed(&part);
            let (mut reported, mut timing) = (vec![false; 12], Vec::new());
            let stop_here = CancelToken::new();
            let mut heard = Heard {
                refused: None,
                owner: &owner,
                reported: &mut reported,
                timing: &mut timing,
                feed: &feed,
                stop_here: &stop_here,
            };
            // The oracle: an end is taken when it is about a task of
            // another worker, from that worker, the first time, and names
            // only tasks of the graph; refused when it passes the first
            // three but is about this worker's own task or names another.
            let (mut seen, mut expected_refusals, mut refusals) = ([false; 12], 0, 0);
            for envelope in envelopes {
                if let Message::Ended { task, ref end, .. } = envelope.message {
                    let v = task as usize;
                    if v < 12 && owner[v] == envelope.from && !seen[v] {
                        let inside = match end {
                            End::Succeeded { chose } => chose.iter().flatten().all(|&c| c < 12),
                            End::Skipped { by, .. } => *by < 12,
                            End::Cancelled(Some(Stop::CancelledByTask(by))) => *by < 12,
                            _ => true,
                        };
                        if envelope.from != 0 && inside {
                            seen[v] = true;
                        } else {
                            expected_refusals += 1;
                        }
                    }
                }
                heard.hear(envelope, true);
                refusals += usize::from(heard.refused.take().is_some());
            }
            prop_assert_eq!(&reported[..], &seen[..]);
            prop_assert_eq!(feed.delivered(), seen.iter().filter(|&&s| s).count());
            prop_assert_eq!(refusals, expected_refusals);
            prop_assert!(reported[..4].iter().all(|&r| !r), "an owned task was taken as remote");
        }
    }
}
