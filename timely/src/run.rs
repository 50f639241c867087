//! One worker's side of a distributed run: the hello that checks every worker built the same graph, then its part run beside the timely loop that carries outcomes between workers.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use kahn::{CancelToken, Executor, Graph, RunOptions, Settled, TaskId};
use serde::de::DeserializeOwned;
use serde::Serialize;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::{Exchange, Input, Probe};
use timely::dataflow::{InputHandleVec, ProbeHandle};
use timely::worker::Worker;

use crate::error::DistributedError;
use crate::fingerprint;
use crate::placement::Placement;
use crate::report::DistributedReport;
use crate::wire::{End, Envelope, Hello, Message};

/// How long the timely loop parks at most between looks at the part run
/// and the cancel token: the latency a cancel or an outcome may add.
const PARK: Duration = Duration::from_millis(1);

/// Runs `graph` across every worker of the timely computation `worker`
/// belongs to, and returns the whole run's report on each.
///
/// Call it on every worker (the closure given to `timely::execute` or
/// `timely::execute_from_args`), with the same graph, built the same way,
/// and the same placement. Each worker runs the tasks `placement` gives it
/// on `executor` (one per process, shared by its workers, is enough), as a
/// part run ([`Executor::run_part`]); a task's end travels to every other
/// worker, and its output only to the workers that run one of its
/// successors. The run's options apply on every worker: a cancel of
/// `options`' token on one process stops the run on all (within about a
/// millisecond), as does a failure under fail-fast.
///
/// # Errors
/// Before any task runs: [`DistributedError::OtherGraph`] if another
/// worker built a different graph, [`DistributedError::OtherPlacement`] if
/// it placed the tasks differently, [`DistributedError::PlacedOutside`] if
/// a custom placement names a worker that does not exist. Every worker
/// returns the error.
pub fn run<'g, T>(
    worker: &mut Worker,
    executor: &Executor,
    graph: &'g Graph<'_, T>,
    options: &RunOptions,
    placement: &Placement,
) -> Result<DistributedReport<'g, T>, DistributedError>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    let me = worker.index();
    let peers = worker.peers();
    let owner = placement.assign(graph, peers);
    let hello = Hello {
        from: me as u32,
        process: process_nonce(),
        tasks: graph.task_count() as u64,
        graph: fingerprint::of_graph(graph),
        placement: owner
            .as_ref()
            .map_or(u64::MAX, |o| fingerprint::of_placement(o)),
    };

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

    // Time 0: every worker greets every worker; nothing runs before all
    // greetings are in and agree.
    for to in 0..peers as u32 {
        input.send(Envelope {
            to,
            message: Message::Hello(hello),
        });
    }
    input.advance_to(1);
    while probe.less_than(&1) {
        worker.step_or_park(Some(PARK));
    }
    // A faster worker may already have passed its barrier and sent its
    // first ends: they stay in `received` for the loop below.
    let mut hellos = Vec::with_capacity(peers);
    received
        .borrow_mut()
        .retain(|envelope| match envelope.message {
            Message::Hello(hello) => {
                hellos.push(hello);
                false
            }
            _ => true,
        });
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

    let part = graph.part(|t| owner[t.index()] as usize == me);
    // For each task of this part, the other workers that read its output.
    let readers: Vec<Vec<u32>> = (0..graph.task_count())
        .map(|v| {
            if owner[v] as usize != me {
                return Vec::new();
            }
            let mut readers: Vec<u32> = graph
                .successors(TaskId::new(v as u32))
                .map(|w| owner[w.index()])
                .filter(|&w| w as usize != me)
                .collect();
            readers.sort_unstable();
            readers.dedup();
            readers
        })
        .collect();
    let ships: Arc<[bool]> = readers.iter().map(|r| !r.is_empty()).collect();
    let feed = Arc::new(graph.remote_feed(&part));
    let (tx, rx) = mpsc::channel::<(u32, End, Option<T>)>();
    let timely_thread = std::thread::current();
    let outbox = {
        let timely_thread = timely_thread.clone();
        move |settled: Settled<'_, T>| {
            let v = settled.task.index();
            let output = if ships[v] {
                settled.output.cloned()
            } else {
                None
            };
            let _ = tx.send((v as u32, End::of(&settled), output));
            timely_thread.unpark();
        }
    };
    let user_cancel = options.cancel().cloned();
    let stop_here = CancelToken::new();
    let local = options.clone().cancel_token(stop_here.clone());

    let send = |input: &mut InputHandleVec<u64, Envelope<T>>,
                task: u32,
                end: End,
                mut output: Option<T>| {
        let readers = &readers[task as usize];
        for to in (0..peers as u32).filter(|&to| to as usize != me) {
            let output = match readers.binary_search(&to) {
                Ok(i) if i + 1 == readers.len() => output.take(),
                Ok(_) => output.clone(),
                Err(_) => None,
            };
            input.send(Envelope {
                to,
                message: Message::Ended {
                    task,
                    end: end.clone(),
                    output,
                },
            });
        }
    };

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
        let mut cancelled = false;
        loop {
            let mut sent = false;
            while let Ok((task, end, output)) = rx.try_recv() {
                send(&mut input, task, end, output);
                sent = true;
            }
            for envelope in received.borrow_mut().drain(..) {
                match envelope.message {
                    Message::Ended { task, end, output } => {
                        let delivered = feed.deliver(TaskId::new(task), end.into_remote(output));
                        debug_assert!(delivered.is_ok(), "{delivered:?}");
                    }
                    Message::Stop => stop_here.cancel(),
                    Message::Hello(_) => {}
                }
            }
            if !cancelled && user_cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
                cancelled = true;
                sent = true;
                stop_here.cancel();
                for to in (0..peers as u32).filter(|&to| to as usize != me) {
                    input.send(Envelope {
                        to,
                        message: Message::Stop,
                    });
                }
            }
            if sent {
                // A new epoch sends what was given: timely hands a batch
                // on (and wakes the operators downstream) when its epoch
                // closes.
                let next = input.time() + 1;
                input.advance_to(next);
            }
            if run.is_finished() {
                break;
            }
            worker.step_or_park(Some(PARK));
        }
        let report = match run.join() {
            Ok(report) => report,
            Err(payload) => std::panic::resume_unwind(payload),
        };
        // What the run told at its very end.
        while let Ok((task, end, output)) = rx.try_recv() {
            send(&mut input, task, end, output);
        }
        report
    });
    let report = report.expect("the part and the feed are of this graph, and the feed is new");
    // Every worker closes its input once its run has every outcome; the
    // dataflow is done when all have, so every message was delivered.
    drop(input);
    while !probe.done() {
        worker.step_or_park(Some(PARK));
    }
    Ok(DistributedReport::new(
        report,
        owner.into_boxed_slice(),
        process.into_boxed_slice(),
        me,
    ))
}

/// A number the workers of this process share and other processes do not
/// (with overwhelming likelihood): the process id and the start time.
fn process_nonce() -> u64 {
    static NONCE: OnceLock<u64> = OnceLock::new();
    *NONCE.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        fingerprint::Fnv::new()
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
