//! Run properties against the shared run oracle: order, outputs, failures, reports, reruns and rebuilds.
//!
//! On small graphs (many cases) and graphs of a few thousand tasks (fewer
//! cases), with none, a few or many tasks failing or panicking: runs on 1, 2
//! and 4 threads start every task after its predecessors ended, run each
//! task at most once, pass outputs along edges intact and end as the oracle
//! says; `into_outputs` and `into_result` agree with the report; reruns, and
//! rebuilds in a reset arena, give identical reports.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use kahn::{
    Arena, BoxError, Counts, Graph, Outcome, Report, RunOptions, State, StopReason, TaskContext,
    TaskId,
};
use kahn_test_support::dags::{
    any_dag, any_dag_with_fan_ins, cases, task_label, task_name, LARGE, SMALL,
};
use kahn_test_support::{bounded, executor, executors, Oracle};
use proptest::prelude::*;

/// What a task of a [`Case`] does after computing its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Succeed,
    Fail,
    Panic,
}

/// A DAG whose tasks each succeed, fail or panic, always the same way, so
/// runs of it are comparable.
#[derive(Debug, Clone)]
struct Case {
    n: usize,
    edges: Vec<(u32, u32)>,
    fates: Vec<Fate>,
}

/// DAGs of up to `max_n` tasks where none (half the cases), a few or many
/// tasks fail or panic.
fn any_case(max_n: usize) -> impl Strategy<Value = Case> {
    with_fates(any_dag(max_n))
}

/// As [`any_case`], with tasks of 16 to 300 predecessors, whose releases
/// workers combine.
fn any_fan_in_case(max_n: usize) -> impl Strategy<Value = Case> {
    with_fates(any_dag_with_fan_ins(max_n))
}

/// Gives the tasks of `dags` their fates.
fn with_fates(
    dags: impl Strategy<Value = (usize, Vec<(u32, u32)>)>,
) -> impl Strategy<Value = Case> {
    let permille = prop::sample::select(vec![0u64, 0, 3, 20, 100]);
    (dags, any::<u64>(), permille).prop_map(|((n, edges), seed, permille)| {
        let fates = (0..n as u64)
            .map(|v| match mix(seed, v) % 1000 {
                r if r >= permille => Fate::Succeed,
                r if r % 2 == 0 => Fate::Fail,
                _ => Fate::Panic,
            })
            .collect();
        Case { n, edges, fates }
    })
}

/// A 64-bit mixing step (splitmix64's finalizer over `h` and `x`): outputs
/// built with it depend on every input, its task id and its position.
fn mix(h: u64, x: u64) -> u64 {
    let mut z = h.rotate_left(23) ^ x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Per-run record of when each task started and ended, on one shared clock.
struct Recorder {
    clock: AtomicU64,
    runs: Vec<AtomicU64>,
    start: Vec<AtomicU64>,
    end: Vec<AtomicU64>,
}

impl Recorder {
    fn new(n: usize) -> Recorder {
        let zeros = || (0..n).map(|_| AtomicU64::new(0)).collect();
        Recorder {
            clock: AtomicU64::new(1),
            runs: zeros(),
            start: zeros(),
            end: zeros(),
        }
    }

    fn reset(&self) {
        for slot in self.runs.iter().chain(&self.start).chain(&self.end) {
            slot.store(0, Ordering::SeqCst);
        }
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst)
    }
}

/// A task's output: its id mixed with every input and that input's task id,
/// in id order. Fails if the inputs are not in strictly increasing id order,
/// if `input` disagrees with `inputs`, or if the task sees the wrong name.
fn digest(ctx: &TaskContext<'_, u64>) -> Result<u64, BoxError> {
    let me = ctx.id();
    if ctx.name() != task_name(me.index() as u32).as_deref() {
        return Err(format!("task {me} sees the name {:?}", ctx.name()).into());
    }
    let inputs = ctx.inputs();
    let count = ctx.input_count();
    let mut h = mix(0, me.index() as u64);
    let mut last = None;
    let mut seen = 0;
    for (p, x) in inputs {
        if last >= Some(p) {
            return Err(format!("task {me}: input {p} after {last:?}").into());
        }
        if !std::ptr::eq(ctx.input(p)?, x) {
            return Err(format!("task {me}: input({p}) is not the one inputs() gave").into());
        }
        h = mix(mix(h, p.index() as u64), *x);
        last = Some(p);
        seen += 1;
    }
    if seen != count || count != ctx.input_count() {
        return Err(format!("task {me}: {seen} inputs, {count} announced").into());
    }
    Ok(h)
}

/// Builds `case` into `arena`: each task records its start and end in `rec`,
/// computes its [`digest`], then succeeds with it, fails or panics.
fn build_case<'a>(arena: &'a mut Arena, case: &Case, rec: &Arc<Recorder>) -> Graph<'a, u64> {
    let mut b = arena.builder::<u64>();
    b.reserve(case.n, case.edges.len());
    for (v, &fate) in case.fates.iter().enumerate() {
        let rec = Arc::clone(rec);
        let body = move |ctx: &TaskContext<'_, u64>| {
            rec.start[v].store(rec.tick(), Ordering::SeqCst);
            rec.runs[v].fetch_add(1, Ordering::SeqCst);
            let output = digest(ctx);
            rec.end[v].store(rec.tick(), Ordering::SeqCst);
            match fate {
                Fate::Succeed => output,
                Fate::Fail => Err(format!("task {v} fails").into()),
                // Unwinds like a panic, without printing through the panic hook.
                Fate::Panic => std::panic::resume_unwind(Box::new(format!("task {v} panics"))),
            }
        };
        match task_name(v as u32) {
            Some(name) => b.task(&name, body).unwrap(),
            None => b.unnamed_task(body).unwrap(),
        };
    }
    b.edges(
        case.edges
            .iter()
            .map(|&(u, v)| (TaskId::new(u), TaskId::new(v))),
    )
    .unwrap();
    b.build().unwrap()
}

/// What a run of a [`Case`] must report: the shared run oracle (a task with
/// a predecessor that did not succeed is skipped, any other ends as its fate
/// says), and the output of each task that succeeds, the [`digest`] of its
/// predecessors' outputs, worked out in the oracle's topological order.
struct Expected {
    oracle: Oracle,
    outputs: Vec<Option<u64>>,
}

impl Expected {
    fn new(case: &Case) -> Expected {
        let oracle = Oracle::new(case.n, &case.edges, |v| match case.fates[v] {
            Fate::Succeed => State::Succeeded,
            Fate::Fail => State::Failed,
            Fate::Panic => State::Panicked,
        });
        let mut outputs: Vec<Option<u64>> = vec![None; case.n];
        for &v in oracle.order() {
            let v = v as usize;
            if oracle.states()[v] == State::Succeeded {
                let mut h = mix(0, v as u64);
                for &p in oracle.predecessors(v) {
                    let x =
                        outputs[p as usize].expect("the predecessors of a task that ran succeeded");
                    h = mix(mix(h, u64::from(p)), x);
                }
                outputs[v] = Some(h);
            }
        }
        Expected { oracle, outputs }
    }
}

/// Checks one run of `case` on `threads` threads against the oracle: every
/// outcome, output, message and count; skipped tasks never ran and name a
/// failed ancestor; tasks that ran did so once, and each started after every
/// predecessor ended, by the recorder's clock and (if recorded) by the
/// report's timings.
fn check_run(
    report: &Report<'_, u64>,
    rec: &Recorder,
    case: &Case,
    expected: &Expected,
    threads: usize,
    timed: bool,
) -> Result<(), TestCaseError> {
    let what = format!("{threads} threads");
    let oracle = &expected.oracle;
    let counts = oracle.counts();
    prop_assert_eq!(report.task_count(), case.n, "{}", what);
    prop_assert_eq!(report.counts(), counts, "{}: {}", what, report);
    prop_assert_eq!(report.stop_reason(), None, "{}", what);
    prop_assert_eq!(report.is_success(), counts.succeeded == case.n);
    for (v, &want) in oracle.states().iter().enumerate() {
        let id = TaskId::new(v as u32);
        let outcome = report.outcome(id).unwrap();
        let ok = match (want, outcome) {
            (State::Succeeded, Outcome::Succeeded(y)) => expected.outputs[v] == Some(*y),
            (State::Failed, Outcome::Failed(e)) => e.to_string() == format!("task {v} fails"),
            (State::Panicked, Outcome::Panicked(m)) => m == format!("task {v} panics"),
            (State::Skipped, Outcome::Skipped { cause }) => {
                oracle.is_skip_cause(cause.index(), v, oracle.states())
            }
            _ => false,
        };
        prop_assert!(
            ok,
            "{}: task {} should be {} (output {:?}), is {:?}",
            what,
            v,
            want,
            expected.outputs[v],
            outcome
        );
        let runs = rec.runs[v].load(Ordering::SeqCst);
        prop_assert_eq!(runs, u64::from(oracle.runs(v)), "{}: task {} runs", what, v);
        let timing = report.timing(id);
        prop_assert_eq!(
            timing.is_some(),
            timed && oracle.runs(v),
            "{}: timing of {}",
            what,
            v
        );
        if let Some(timing) = timing {
            prop_assert!(timing.worker < threads, "{}: {:?}", what, timing);
        }
    }
    for &(u, v) in &case.edges {
        if !oracle.runs(v as usize) {
            continue;
        }
        let end_u = rec.end[u as usize].load(Ordering::SeqCst);
        let start_v = rec.start[v as usize].load(Ordering::SeqCst);
        prop_assert!(
            end_u < start_v,
            "{}: edge {} -> {}: {} ended at {}, {} started at {}",
            what,
            u,
            v,
            u,
            end_u,
            v,
            start_v
        );
        if let (Some(tu), Some(tv)) = (report.timing(TaskId::new(u)), report.timing(TaskId::new(v)))
        {
            prop_assert!(
                tu.start + tu.duration <= tv.start,
                "{}: edge {} -> {}: timings {:?} and {:?}",
                what,
                u,
                v,
                tu,
                tv
            );
        }
    }
    Ok(())
}

/// Runs `case` on 1, 2 and 4 threads, with and without timings, and on 4
/// threads limited to fewer workers, and checks each run.
fn check_runs(case: &Case) -> Result<(), TestCaseError> {
    let rec = Arc::new(Recorder::new(case.n));
    let expected = Expected::new(case);
    let mut arena = Arena::new();
    let graph = build_case(&mut arena, case, &rec);
    for (k, executor) in executors().into_iter().enumerate() {
        let timed = k != 1;
        rec.reset();
        let report = executor.run_with(&graph, &RunOptions::new().record_timings(timed));
        check_run(&report, &rec, case, &expected, executor.threads(), timed)?;
    }
    // And on 4 threads with a worker limit of 1 to 3: timed, so the check
    // sees every task's worker below the limit.
    let limit = 1 + case.n % 3;
    rec.reset();
    let options = RunOptions::new().record_timings(true).max_workers(limit);
    let report = executor(4).run_with(&graph, &options);
    check_run(&report, &rec, case, &expected, limit, true)?;
    Ok(())
}

/// A task's outcome without borrows, for comparing reports of different runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Succeeded(u64),
    Failed(String),
    Panicked(String),
    Skipped,
    Cancelled,
}

/// Everything a report says except timings (and except skip causes, which
/// may name any failed ancestor when several failed: kept apart).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Summary {
    tasks: Vec<(Option<String>, Seen)>,
    failures: Vec<(TaskId, Option<String>)>,
    counts: Counts,
    stop: Option<StopReason>,
    len: usize,
    success: bool,
}

fn summarize(report: &Report<'_, u64>) -> (Summary, Vec<Option<TaskId>>) {
    let mut causes = Vec::new();
    let tasks = report
        .tasks()
        .map(|t| {
            let seen = match t.outcome {
                Outcome::Succeeded(x) => Seen::Succeeded(*x),
                Outcome::Failed(e) => Seen::Failed(e.to_string()),
                Outcome::Panicked(m) => Seen::Panicked(m.to_owned()),
                Outcome::Skipped { cause } => {
                    causes.push(Some(cause));
                    Seen::Skipped
                }
                Outcome::Cancelled => Seen::Cancelled,
                other => panic!("an outcome this test does not know: {other:?}"),
            };
            if !matches!(t.outcome, Outcome::Skipped { .. }) {
                causes.push(None);
            }
            (t.name.map(str::to_owned), seen)
        })
        .collect();
    let summary = Summary {
        tasks,
        failures: report
            .failures()
            .map(|t| (t.id, t.name.map(str::to_owned)))
            .collect(),
        counts: report.counts(),
        stop: report.stop_reason(),
        len: report.task_count(),
        success: report.is_success(),
    };
    (summary, causes)
}

/// Consumes a report one of two ways and checks what comes out agrees with
/// its summary: `into_outputs` gives exactly the succeeded outputs;
/// `into_result` is `Ok` only for a clean run, and its error lists every
/// failure by label and message, with the counts.
fn check_consumed(
    report: Report<'_, u64>,
    summary: &Summary,
    outputs: bool,
) -> Result<(), TestCaseError> {
    if outputs {
        let expected: Vec<Option<u64>> = summary
            .tasks
            .iter()
            .map(|(_, seen)| match seen {
                Seen::Succeeded(x) => Some(*x),
                _ => None,
            })
            .collect();
        prop_assert_eq!(report.into_outputs(), expected);
        return Ok(());
    }
    match report.into_result() {
        Ok(report) => prop_assert!(summary.success, "into_result accepted {}", report),
        Err(error) => {
            prop_assert!(!summary.success);
            let got: Vec<(String, String)> = error
                .failures()
                .iter()
                .map(|(task, failure)| (task.to_string(), failure.to_string()))
                .collect();
            let expected: Vec<(String, String)> = summary
                .failures
                .iter()
                .map(|&(id, _)| {
                    let v = id.index() as u32;
                    let failure = match &summary.tasks[v as usize].1 {
                        Seen::Failed(e) => format!("failed: {e}"),
                        Seen::Panicked(m) => format!("panicked: {m}"),
                        other => format!("{other:?}"),
                    };
                    (task_label(v), failure)
                })
                .collect();
            prop_assert_eq!(got, expected);
            prop_assert_eq!(error.skipped(), summary.counts.skipped);
            prop_assert_eq!(error.cancelled(), summary.counts.cancelled);
            prop_assert_eq!(error.stop_reason(), summary.stop);
        }
    }
    Ok(())
}

/// Runs `case` six times on one compiled graph (each executor twice, timings
/// on and off; three times under Miri), then resets the arena, builds and runs a different graph in
/// it, rebuilds `case` and runs it on every executor again. Every run passes
/// [`check_run`], and every report is identical to the first apart from
/// timings; skip causes are identical among one-thread runs, whose schedule
/// is deterministic.
fn check_reruns_and_rebuilds(case: &Case) -> Result<(), TestCaseError> {
    let rec = Arc::new(Recorder::new(case.n));
    let expected = Expected::new(case);
    let mut first: Option<Summary> = None;
    let mut one_thread_causes: Option<Vec<Option<TaskId>>> = None;
    let mut compare = |report: Report<'_, u64>, threads: usize, run: usize| {
        let (summary, causes) = summarize(&report);
        match &first {
            None => first = Some(summary.clone()),
            Some(first) => prop_assert_eq!(first, &summary, "run {} on {} threads", run, threads),
        }
        if threads == 1 {
            match &one_thread_causes {
                None => one_thread_causes = Some(causes),
                Some(first) => prop_assert_eq!(first, &causes, "skip causes of run {}", run),
            }
        }
        check_consumed(report, &summary, run.is_multiple_of(2))
    };

    let mut arena = Arena::new();
    let graph = build_case(&mut arena, case, &rec);
    for run in 0..if cfg!(miri) { 3 } else { 6 } {
        let executor = executors()[run % 3];
        let timed = run % 2 == 1;
        rec.reset();
        let report = executor.run_with(&graph, &RunOptions::new().record_timings(timed));
        check_run(&report, &rec, case, &expected, executor.threads(), timed)?;
        compare(report, executor.threads(), run)?;
    }
    drop(graph);
    arena.reset();

    // A different graph in between: other names, other outputs, reversed edges.
    let other = {
        let mut b = arena.builder::<u64>();
        for v in 0..case.n as u64 {
            let body =
                move |ctx: &TaskContext<'_, u64>| Ok(v + ctx.inputs().map(|(_, x)| x).sum::<u64>());
            if v % 3 == 0 {
                b.task(&format!("n{}", v + 1), body).unwrap();
            } else {
                b.unnamed_task(body).unwrap();
            }
        }
        b.edges(
            case.edges
                .iter()
                .map(|&(u, v)| (TaskId::new(v), TaskId::new(u))),
        )
        .unwrap();
        b.build().unwrap()
    };
    let report = executors()[2].run(&other);
    prop_assert!(report.is_success(), "{}", report);
    drop(report);
    drop(other);

    // `builder` rewinds the arena again before the rebuild.
    let graph = build_case(&mut arena, case, &rec);
    for (k, executor) in executors().into_iter().enumerate() {
        rec.reset();
        let report = executor.run(&graph);
        check_run(&report, &rec, case, &expected, executor.threads(), false)?;
        compare(report, executor.threads(), 6 + k)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(256, 2))]

    #[test]
    fn runs_respect_edges_pass_outputs_and_match_the_oracle(case in any_case(SMALL)) {
        check_runs(&case)?;
    }
}

proptest! {
    #![proptest_config(cases(48, 1))]

    #[test]
    fn reruns_and_rebuilds_give_identical_reports(case in any_case(SMALL * 2 / 3)) {
        check_reruns_and_rebuilds(&case)?;
    }
}

proptest! {
    #![proptest_config(cases(48, 1))]

    #[test]
    fn fan_ins_combine_releases_and_match_the_oracle(case in any_fan_in_case(LARGE)) {
        // Bounded: a release lost in combining leaves the run waiting.
        bounded(move || check_runs(&case))?;
    }
}

proptest! {
    #![proptest_config(cases(32, 1))]

    #[test]
    fn large_graphs_run_in_topological_order_and_pass_outputs(case in any_case(LARGE)) {
        check_runs(&case)?;
    }
}

proptest! {
    #![proptest_config(cases(16, 1))]

    #[test]
    fn large_graphs_rerun_and_rebuild_to_identical_reports(case in any_case(LARGE)) {
        check_reruns_and_rebuilds(&case)?;
    }
}

/// The failure properties need runs where tasks fail, are skipped, and
/// succeed downstream of nothing that failed, all at once. (No kahn code.)
#[test]
#[cfg_attr(miri, ignore)]
fn case_strategy_mixes_failures_skips_and_successes() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let samples = 100;
    let mut runner = TestRunner::deterministic();
    let strategy = any_case(SMALL);
    let (mut clean, mut mixed) = (0, 0);
    for _ in 0..samples {
        let case = strategy.new_tree(&mut runner).unwrap().current();
        let c = Expected::new(&case).oracle.counts();
        clean += usize::from(c.succeeded == case.n);
        mixed += usize::from(c.succeeded > 0 && c.skipped > 0 && c.failed + c.panicked > 0);
    }
    assert!(
        clean * 4 >= samples,
        "only {clean} of {samples} cases fail nowhere"
    );
    assert!(
        mixed * 5 >= samples,
        "only {mixed} of {samples} cases mix all outcomes"
    );
}
