//! Scenarios: the small graphs of the Scheduling issue, timed against what
//! an executor that never idles while work waits would take.
//!
//! Each scenario runs a small graph (sleeping bodies, or rayon sums) on
//! executors of 1, 2 and 4 threads, [`Settings::reps`] times, and records
//! the median of one figure against what it should be (the ideal makespan,
//! a sibling's duration, the run on one thread), as a
//! [`ScenarioRecord`]:
//!
//! - `ready-behind-long`: `extract -> {long, short}`: when `short` starts,
//!   against `long`'s duration (it should start at once, not after `long`),
//!   on 2 and 4 threads; `ready-behind-long-fail-fast` the same with a
//!   failing `short` under fail-fast;
//! - `fan-out-in`: `extract -> 4 × parse -> aggregate` on 2 and 4 threads,
//!   and `root-fan-out`: `root -> 8 × work` on 2: the makespan against the
//!   ideal;
//! - `two-runs`: two equal runs started together from two threads on one
//!   2-thread executor: when the later ends, against one run alone;
//! - `short-during-long`: a one-task run started while a long run keeps
//!   both workers busy: when it ends, against when the long one ends;
//! - `cheap-start`: back-to-back runs of each shape at 1,000 tasks, empty
//!   bodies, the median run on 2 threads against 1; `cold-start`: the
//!   first run after the pool slept ([`Settings::cold_sleep`]), against a
//!   back-to-back run, on 1 and 2 threads; `cheap-start-one-worker`: the
//!   back-to-back runs on 2 threads limited to one worker
//!   ([`RunOptions::max_workers`]), against 1 thread;
//! - `rayon-sum`: one task summing [`Settings::sum_len`] `u64`s with
//!   `par_iter`, on a 1-thread executor against a 2-thread one (the
//!   speedup); `rayon-sum-hashed` the same with each element hashed first,
//!   so that the sum is bound by the cores rather than by memory; and each
//!   in plain rayon pools (`-no-kahn`), the machine's ceiling;
//!   `rayon-graph`: a chain of 4 tasks that sum hashed elements with
//!   `par_iter`, against the same sums written as 8 sequential tasks a stage;
//! - `critical-path`: a chain of 200 × 1 ms tasks listed after 400
//!   independent 1 ms tasks, on 2 threads, built with
//!   [`critical_path_first`](kahn::GraphBuilder::critical_path_first) and
//!   without it (`-list-order`): the makespan against the ideal (0.30 s,
//!   not scaled: shorter sleeps would measure their overshoot);
//!   `layered-uneven` the same with the layered shape at 500 tasks whose
//!   bodies sleep 0.2 or 2 ms (one in five), weighted by their sleep,
//!   against the larger of the longest path and the total over 2 threads.
//!
//! The sleeping scenarios take the Scheduling issue's durations times
//! [`Settings::scale`]. Every run is checked (each task ran once and after
//! its predecessors ended, the outcomes and the sums are right); a wrong run
//! records no figure and is returned as an error.

use std::ops::Range;
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use kahn::{Arena, BoxError, Counts, Executor, Outcome, RunOptions, TaskContext};
use rayon::prelude::*;

use crate::baselines::build_shape;
use crate::order::Stamps;
use crate::record::{median, Bar, ScenarioRecord};
use crate::shapes::Shape;

/// How long and how often the scenarios run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The Scheduling issue's durations are multiplied by this: at 0.25, its
    /// 1 s task sleeps 250 ms. Ratios do not depend on it, apart from sleep
    /// overshoot and wake-up latency (tens of µs).
    pub scale: f64,
    /// Repetitions of each figure; the median is recorded.
    pub reps: usize,
    /// Back-to-back runs behind each cheap-start figure.
    pub back_to_back: usize,
    /// How long the executor idles before each cold start.
    pub cold_sleep: Duration,
    /// How many `u64`s the rayon scenarios sum.
    pub sum_len: usize,
}

impl Default for Settings {
    /// Scale 0.25, 7 reps, 200 runs back to back, 100 ms before a cold
    /// start, 1e7 elements: about 30 s on 2 cores.
    fn default() -> Settings {
        Settings {
            scale: 0.25,
            reps: 7,
            back_to_back: 200,
            cold_sleep: Duration::from_millis(100),
            sum_len: 10_000_000,
        }
    }
}

impl Settings {
    /// `secs` of the Scheduling issue's time, scaled.
    fn issue_secs(&self, secs: f64) -> Duration {
        Duration::from_secs_f64(secs * self.scale)
    }
}

/// Runs every scenario; calls `done` with each figure as it is recorded.
/// Returns the figures and the wrong runs.
pub fn run_all(
    settings: &Settings,
    mut done: impl FnMut(&ScenarioRecord),
) -> Result<(Vec<ScenarioRecord>, Vec<String>), String> {
    let executor = |t| Executor::with_threads(t).map_err(|e| format!("{t} threads: {e}"));
    let executors = [executor(1)?, executor(2)?, executor(4)?];
    let on = |threads: usize| {
        executors
            .iter()
            .find(|e| e.threads() == threads)
            .expect("an executor of 1, 2 and 4 threads")
    };
    let s = settings;
    let mut figures: Vec<Result<ScenarioRecord, String>> = Vec::new();
    let mut keep = |figure: Result<ScenarioRecord, String>| {
        if let Ok(r) = &figure {
            done(r);
        }
        figures.push(figure);
    };
    for threads in [2, 4] {
        keep(ready_behind_long(s, on(threads), false));
    }
    keep(ready_behind_long(s, on(2), true));
    for threads in [2, 4] {
        keep(fan_out_in(s, on(threads)));
    }
    keep(root_fan_out(s, on(2)));
    keep(two_runs(s, on(2)));
    keep(short_during_long(s, on(2)));
    for shape in Shape::ALL {
        for figure in cheap_start(s, shape, on(1), on(2)) {
            keep(figure);
        }
    }
    let data: Vec<u64> = (0..s.sum_len as u64).collect();
    for element in [Element::Plain, Element::Hashed] {
        keep(rayon_sum(s, &data, element, on(1), on(2)));
        keep(rayon_sum_without_kahn(s, &data, element));
    }
    keep(rayon_graph(s, &data, on(2)));
    for ranked in [true, false] {
        keep(critical_path(s, on(2), ranked));
        keep(layered_uneven(s, on(2), ranked));
    }
    let (mut records, mut errors) = (Vec::new(), Vec::new());
    for figure in figures {
        match figure {
            Ok(r) => records.push(r),
            Err(e) => errors.push(e),
        }
    }
    Ok((records, errors))
}

/// What a task of a scenario's graph does.
#[derive(Debug, Clone)]
enum Work {
    /// Sleeps this long (not at all for zero) and outputs 0.
    Sleep(Duration),
    /// Returns an error at once.
    Fail,
    /// Outputs the sum of these elements of the data, one thread.
    Sum(Range<usize>, Element),
    /// Outputs the sum of these elements of the data, with `par_iter`.
    ParSum(Range<usize>, Element),
}

/// What the rayon scenarios add up for each `u64` of the data.
#[derive(Debug, Clone, Copy)]
enum Element {
    /// The element itself: the sum is bound by memory bandwidth.
    Plain,
    /// The element through splitmix64's finalizer (a few ns): the sum is
    /// bound by the cores, so a second thread can double its speed.
    Hashed,
}

impl Element {
    #[inline]
    fn value(self, x: u64) -> u64 {
        match self {
            Element::Plain => x,
            Element::Hashed => {
                let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^ (z >> 31)
            }
        }
    }

    /// The sum of `data` one thread would compute.
    fn sum(self, data: &[u64]) -> u64 {
        data.iter()
            .fold(0u64, |a, &x| a.wrapping_add(self.value(x)))
    }

    /// The same with `par_iter`, on the current rayon pool.
    fn par_sum(self, data: &[u64]) -> u64 {
        data.par_iter()
            .map(|&x| self.value(x))
            .reduce(|| 0, u64::wrapping_add)
    }

    /// How the graph column says what is summed.
    fn what(self, len: usize) -> String {
        match self {
            Element::Plain => format!("{len} u64"),
            Element::Hashed => format!("{len} hashed u64"),
        }
    }
}

/// A scenario's graph: named tasks, what each does, and edges by index.
#[derive(Debug, Clone, Default)]
struct Plan {
    tasks: Vec<(String, Work)>,
    edges: Vec<(usize, usize)>,
    /// Built critical path first, each sleeping task weighted by its sleep.
    ranked: bool,
}

impl Plan {
    /// Adds a task and returns its index.
    fn task(&mut self, name: impl Into<String>, work: Work) -> usize {
        self.tasks.push((name.into(), work));
        self.tasks.len() - 1
    }

    /// Adds a task after every task of `after` and returns its index.
    fn task_after(&mut self, after: &[usize], name: impl Into<String>, work: Work) -> usize {
        let v = self.task(name, work);
        self.edges.extend(after.iter().map(|&u| (u, v)));
        v
    }

    /// Adds `count` tasks called `name-i`, each after every task of
    /// `after`, and returns their indices.
    fn tasks_after(
        &mut self,
        after: &[usize],
        name: &str,
        count: usize,
        work: impl Fn(usize) -> Work,
    ) -> Vec<usize> {
        (0..count)
            .map(|i| self.task_after(after, format!("{name}-{i}"), work(i)))
            .collect()
    }
}

/// When one run started and ended, and when each of its tasks started.
#[derive(Debug)]
struct Timed {
    /// Just before `run_with` was called.
    started: Instant,
    /// Just after it returned.
    ended: Instant,
    /// Per task, its start from `started`, if it ran.
    starts: Vec<Option<Duration>>,
}

impl Timed {
    fn makespan(&self) -> Duration {
        self.ended - self.started
    }

    fn start_of(&self, task: usize) -> Duration {
        self.starts[task].expect("checked: it ran")
    }
}

/// Per task: how often it started, and its first start and end.
type Spans = Mutex<Vec<(u32, Option<Instant>, Option<Instant>)>>;

/// Runs `plan` on `executor` and checks it: every task ran at most once, a
/// task that ran did so after all its predecessors ended, the tasks that
/// fail failed, every other succeeded (or, under fail-fast, was cancelled),
/// and the outputs add up to `sum` if given.
fn run_plan(
    executor: &Executor,
    plan: &Plan,
    options: &RunOptions,
    data: &[u64],
    sum: Option<u64>,
) -> Result<Timed, String> {
    let spans: Spans = Mutex::new(vec![(0, None, None); plan.tasks.len()]);
    let stamp = |task: usize, start: bool| {
        let now = Instant::now();
        let mut spans = spans.lock().unwrap_or_else(|e| e.into_inner());
        let span = &mut spans[task];
        if start {
            span.0 += 1;
            span.1.get_or_insert(now);
        } else {
            span.2.get_or_insert(now);
        }
    };
    let body = |ctx: &TaskContext<'_, u64>| -> Result<u64, BoxError> {
        let task = ctx.id().index();
        stamp(task, true);
        let out = match &plan.tasks[task].1 {
            Work::Sleep(d) => {
                if !d.is_zero() {
                    thread::sleep(*d);
                }
                Ok(0)
            }
            Work::Fail => Err("fails on purpose".into()),
            Work::Sum(r, e) => Ok(e.sum(&data[r.clone()])),
            Work::ParSum(r, e) => Ok(e.par_sum(&data[r.clone()])),
        };
        stamp(task, false);
        out
    };
    let mut arena = Arena::new();
    let mut b = arena.builder::<u64>();
    for (name, _) in &plan.tasks {
        b.task(name, body).map_err(|e| e.to_string())?;
    }
    for &(u, v) in &plan.edges {
        b.edge(plan.tasks[u].0.as_str(), plan.tasks[v].0.as_str())
            .map_err(|e| e.to_string())?;
    }
    if plan.ranked {
        b.critical_path_first();
        for (name, work) in &plan.tasks {
            if let Work::Sleep(d) = work {
                b.weight(name.as_str(), d.as_secs_f64())
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    let graph = b.build().map_err(|e| e.to_string())?;

    let started = Instant::now();
    let report = executor.run_with(&graph, options);
    let ended = Instant::now();

    let wrong = |why: String| Err(format!("{}: {why}", describe(plan)));
    let mut total = 0u64;
    for t in report.tasks() {
        let (name, work) = &plan.tasks[t.id.index()];
        let failing = matches!(work, Work::Fail);
        match t.outcome {
            Outcome::Succeeded(out) if !failing => total = total.wrapping_add(*out),
            Outcome::Failed(_) if failing => {}
            Outcome::Cancelled
                if !failing && plan.tasks.iter().any(|t| matches!(t.1, Work::Fail)) => {}
            other => return wrong(format!("task {name} ended as {other:?}")),
        }
    }
    if let Some(sum) = sum.filter(|&s| s != total) {
        return wrong(format!("the outputs add up to {total}, not {sum}"));
    }
    let spans = std::mem::take(&mut *spans.lock().unwrap_or_else(|e| e.into_inner()));
    if let Some((task, _)) = spans.iter().enumerate().find(|(_, s)| s.0 > 1) {
        return wrong(format!("task {} ran twice", plan.tasks[task].0));
    }
    for &(u, v) in &plan.edges {
        if let ((_, _, Some(end)), (_, Some(start), _)) = (spans[u], spans[v]) {
            if start < end {
                return wrong(format!(
                    "{} started before its predecessor {} ended",
                    plan.tasks[v].0, plan.tasks[u].0
                ));
            }
        } else if spans[v].1.is_some() {
            return wrong(format!(
                "{} ran, its predecessor {} did not end",
                plan.tasks[v].0, plan.tasks[u].0
            ));
        }
    }
    let starts = spans
        .iter()
        .map(|&(_, start, _)| Some(start? - started))
        .collect();
    Ok(Timed {
        started,
        ended,
        starts,
    })
}

/// A plan's tasks, for error messages.
fn describe(plan: &Plan) -> String {
    let names: Vec<&str> = plan.tasks.iter().map(|(n, _)| n.as_str()).collect();
    format!("the graph of {}", names.join(", "))
}

/// Durations as a person reads them: `250 ms`, `62.5 ms`, `1.25 s`.
fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms >= 1000.0 {
        format!("{} s", trim(ms / 1e3))
    } else {
        format!("{} ms", trim(ms))
    }
}

/// A number with at most 2 decimals and no trailing zeros.
fn trim(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The figures of one scenario, before they become a record.
struct Figure<'a> {
    scenario: &'a str,
    graph: String,
    threads: usize,
    measured: &'a str,
    against: &'a str,
    against_s: f64,
    bar: Option<Bar>,
}

impl Figure<'_> {
    /// The record of `samples` (seconds, one per rep) against the figure.
    fn of(self, mut samples: Vec<f64>) -> ScenarioRecord {
        let measured = median(&mut samples).unwrap_or(f64::NAN);
        ScenarioRecord {
            scenario: self.scenario.to_owned(),
            graph: self.graph,
            threads: self.threads,
            reps: samples.len(),
            measured: self.measured.to_owned(),
            measured_s: measured,
            measured_min_s: samples.first().copied().unwrap_or(f64::NAN),
            measured_max_s: samples.last().copied().unwrap_or(f64::NAN),
            against: self.against.to_owned(),
            against_s: self.against_s,
            ratio: measured / self.against_s,
            bar: self.bar,
        }
    }
}

/// `reps` samples of `one`, which returns seconds; the first error ends it.
fn sample(reps: usize, mut one: impl FnMut() -> Result<f64, String>) -> Result<Vec<f64>, String> {
    (0..reps.max(1)).map(|_| one()).collect()
}

/// [`sample`] for two figures taken together, or in turn, so that both see
/// the same machine.
fn sample_pairs(
    reps: usize,
    mut one: impl FnMut() -> Result<(f64, f64), String>,
) -> Result<(Vec<f64>, Vec<f64>), String> {
    let pairs: Vec<(f64, f64)> = (0..reps.max(1)).map(|_| one()).collect::<Result<_, _>>()?;
    Ok(pairs.into_iter().unzip())
}

/// `extract -> {long (1 s), short}`: when `short` starts, against `long`.
fn ready_behind_long(
    s: &Settings,
    executor: &Executor,
    fail_fast: bool,
) -> Result<ScenarioRecord, String> {
    let long = s.issue_secs(1.0);
    let mut plan = Plan::default();
    let extract = plan.task("extract", Work::Sleep(Duration::ZERO));
    let short_work = if fail_fast {
        Work::Fail
    } else {
        Work::Sleep(Duration::ZERO)
    };
    plan.task_after(&[extract], "long", Work::Sleep(long));
    let short = plan.task_after(&[extract], "short", short_work);
    let options = if fail_fast {
        RunOptions::new().fail_fast()
    } else {
        RunOptions::new()
    };
    let samples = sample(s.reps, || {
        let timed = run_plan(executor, &plan, &options, &[], None)?;
        Ok(timed.start_of(short).as_secs_f64())
    })?;
    let (scenario, graph) = if fail_fast {
        (
            "ready-behind-long-fail-fast",
            format!("extract -> {{long {}, short (fails)}}, fail-fast", ms(long)),
        )
    } else {
        (
            "ready-behind-long",
            format!("extract -> {{long {}, short}}", ms(long)),
        )
    };
    Ok(Figure {
        scenario,
        graph,
        threads: executor.threads(),
        measured: "short starts",
        against: "long's duration",
        against_s: long.as_secs_f64(),
        bar: Some(Bar::AtMost(0.05)),
    }
    .of(samples))
}

/// The makespan of one checked run of `plan`, in seconds.
fn seconds(
    executor: &Executor,
    plan: &Plan,
    data: &[u64],
    sum: Option<u64>,
) -> Result<f64, String> {
    let timed = run_plan(executor, plan, &RunOptions::new(), data, sum)?;
    Ok(timed.makespan().as_secs_f64())
}

/// The makespan of `plan` on `executor`, against `ideal`.
fn makespan(
    s: &Settings,
    executor: &Executor,
    plan: &Plan,
    scenario: &str,
    graph: String,
    ideal: Duration,
) -> Result<ScenarioRecord, String> {
    let samples = sample(s.reps, || seconds(executor, plan, &[], None))?;
    Ok(Figure {
        scenario,
        graph,
        threads: executor.threads(),
        measured: "makespan",
        against: "ideal makespan",
        against_s: ideal.as_secs_f64(),
        bar: Some(Bar::AtMost(1.05)),
    }
    .of(samples))
}

/// `extract -> 4 × 300 ms parse -> aggregate`: ideal 0.60 s on 2 threads,
/// 0.30 s on 4.
fn fan_out_in(s: &Settings, executor: &Executor) -> Result<ScenarioRecord, String> {
    let parse = s.issue_secs(0.3);
    let mut plan = Plan::default();
    let extract = plan.task("extract", Work::Sleep(Duration::ZERO));
    let parses = plan.tasks_after(&[extract], "parse", 4, |_| Work::Sleep(parse));
    plan.task_after(&parses, "aggregate", Work::Sleep(Duration::ZERO));
    let waves = 4usize.div_ceil(executor.threads()) as u32;
    let graph = format!("extract -> 4 × {} parse -> aggregate", ms(parse));
    makespan(s, executor, &plan, "fan-out-in", graph, parse * waves)
}

/// `root -> 8 × 250 ms`: ideal 1.00 s on 2 threads.
fn root_fan_out(s: &Settings, executor: &Executor) -> Result<ScenarioRecord, String> {
    let work = s.issue_secs(0.25);
    let mut plan = Plan::default();
    let root = plan.task("root", Work::Sleep(Duration::ZERO));
    plan.tasks_after(&[root], "work", 8, |_| Work::Sleep(work));
    let waves = 8usize.div_ceil(executor.threads()) as u32;
    let graph = format!("root -> 8 × {}", ms(work));
    makespan(s, executor, &plan, "root-fan-out", graph, work * waves)
}

/// Makespan figures of the priority scenarios: no bar, since the point is
/// the comparison of the two orders against one ideal.
fn ordered(scenario: &str, ranked: bool) -> String {
    if ranked {
        scenario.to_owned()
    } else {
        format!("{scenario}-list-order")
    }
}

/// 400 independent 1 ms tasks, then a chain of 200 × 1 ms: ideal 0.30 s
/// on 2 threads. Listed first, the independent tasks start first in list
/// order, and the chain is still running when they are done.
fn critical_path(
    s: &Settings,
    executor: &Executor,
    ranked: bool,
) -> Result<ScenarioRecord, String> {
    let each = Duration::from_millis(1);
    let mut plan = Plan {
        ranked,
        ..Plan::default()
    };
    for i in 0..400 {
        plan.task(format!("short-{i}"), Work::Sleep(each));
    }
    let mut last = Vec::new();
    for i in 0..200 {
        last = vec![plan.task_after(&last, format!("chain-{i}"), Work::Sleep(each))];
    }
    let ideal = each * 600 / executor.threads() as u32;
    let samples = sample(s.reps, || seconds(executor, &plan, &[], None))?;
    let scenario = ordered("critical-path", ranked);
    Ok(Figure {
        scenario: &scenario,
        graph: "400 × 1 ms beside a chain of 200 × 1 ms".to_owned(),
        threads: executor.threads(),
        measured: "makespan",
        against: "ideal makespan",
        against_s: ideal.as_secs_f64(),
        bar: None,
    }
    .of(samples))
}

/// The layered shape at 500 tasks, each sleeping 0.2 ms or (one in five,
/// chosen by a fixed seed) 2 ms, against a lower bound of its makespan: the
/// longest path's sleep, or the total sleep over the threads if larger.
fn layered_uneven(
    s: &Settings,
    executor: &Executor,
    ranked: bool,
) -> Result<ScenarioRecord, String> {
    let shape = Shape::Layered.generate(500);
    let mut rng = crate::shapes::SplitMix64(0x005e_ed0f_1a7e);
    let sleeps: Vec<Duration> = (0..shape.tasks)
        .map(|_| match rng.next_u64() % 5 {
            0 => Duration::from_millis(2),
            _ => Duration::from_micros(200),
        })
        .collect();
    let mut plan = Plan {
        ranked,
        ..Plan::default()
    };
    for (i, &d) in sleeps.iter().enumerate() {
        plan.task(format!("t{i}"), Work::Sleep(d));
    }
    plan.edges = shape
        .edges
        .iter()
        .map(|&(u, v)| (u as usize, v as usize))
        .collect();
    // Longest path ending at each task, in the generator's order (edges go
    // from lower to higher ids, checked below).
    let mut ends = sleeps.clone();
    let mut by_target = plan.edges.clone();
    by_target.sort_unstable_by_key(|&(_, v)| v);
    for &(u, v) in &by_target {
        if u >= v {
            return Err(format!("layered edge {u} -> {v} goes backwards"));
        }
        ends[v] = ends[v].max(ends[u] + sleeps[v]);
    }
    let longest = ends.iter().copied().max().unwrap_or_default();
    let total: Duration = sleeps.iter().sum();
    let ideal = longest.max(total / executor.threads() as u32);
    let samples = sample(s.reps, || seconds(executor, &plan, &[], None))?;
    let scenario = ordered("layered-uneven", ranked);
    Ok(Figure {
        scenario: &scenario,
        graph: format!(
            "layered, {} tasks of 0.2 or 2 ms ({} ms in all)",
            shape.tasks,
            total.as_millis()
        ),
        threads: executor.threads(),
        measured: "makespan",
        against: "ideal makespan (bound)",
        against_s: ideal.as_secs_f64(),
        bar: None,
    }
    .of(samples))
}

/// A chain of `count` tasks of `each`.
fn chain(count: usize, each: Duration) -> Plan {
    let mut plan = Plan::default();
    let mut last = Vec::new();
    for i in 0..count {
        last = vec![plan.task_after(&last, format!("step-{i}"), Work::Sleep(each))];
    }
    plan
}

/// Two runs of a 500 ms chain started together from two threads on one
/// 2-thread executor: when the later ends, against one run's length.
fn two_runs(s: &Settings, executor: &Executor) -> Result<ScenarioRecord, String> {
    let each = s.issue_secs(0.1);
    let plan = chain(5, each);
    let barrier = Barrier::new(2);
    let samples = sample(s.reps, || {
        let run = || {
            barrier.wait();
            run_plan(executor, &plan, &RunOptions::new(), &[], None)
        };
        let (a, b) = thread::scope(|scope| {
            let other = scope.spawn(run);
            let here = run();
            (here, other.join().expect("the other run returns"))
        });
        let (a, b) = (a?, b?);
        Ok((a.ended.max(b.ended) - a.started.min(b.started)).as_secs_f64())
    })?;
    Ok(Figure {
        scenario: "two-runs",
        graph: format!("two runs of a chain of 5 × {}, started together", ms(each)),
        threads: executor.threads(),
        measured: "the later run ends",
        against: "one run alone (ideal)",
        against_s: (each * 5).as_secs_f64(),
        bar: Some(Bar::AtMost(1.05)),
    }
    .of(samples))
}

/// A one-task run of 50 ms started 250 ms into a run of 16 × 125 ms tasks
/// that keeps both workers busy for 1 s: when the short run ends, against
/// when the long one ends (both from the long one's start).
fn short_during_long(s: &Settings, executor: &Executor) -> Result<ScenarioRecord, String> {
    let (work, short, offset) = (s.issue_secs(0.125), s.issue_secs(0.05), s.issue_secs(0.25));
    let mut long_plan = Plan::default();
    long_plan.tasks_after(&[], "long", 16, |_| Work::Sleep(work));
    let mut short_plan = Plan::default();
    short_plan.task("short", Work::Sleep(short));
    let ends = sample_pairs(s.reps, || {
        let start = Instant::now();
        let (long, short) = thread::scope(|scope| {
            let long =
                scope.spawn(|| run_plan(executor, &long_plan, &RunOptions::new(), &[], None));
            thread::sleep(offset.saturating_sub(start.elapsed()));
            let short = run_plan(executor, &short_plan, &RunOptions::new(), &[], None);
            (long.join().expect("the long run returns"), short)
        });
        let (long, short) = (long?, short?);
        let from_start = |t: &Timed| (t.ended - long.started).as_secs_f64();
        Ok((from_start(&short), from_start(&long)))
    })?;
    let (short_ends, mut long_ends) = ends;
    Ok(Figure {
        scenario: "short-during-long",
        graph: format!(
            "a run of 1 × {} started {} into a run of 16 × {}",
            ms(short),
            ms(offset),
            ms(work)
        ),
        threads: executor.threads(),
        measured: "short run ends",
        against: "long run ends",
        against_s: median(&mut long_ends).unwrap_or(f64::NAN),
        bar: Some(Bar::AtMost(0.5)),
    }
    .of(short_ends))
}

/// Back-to-back runs of `shape` at 1,000 tasks, empty bodies, on one and
/// two threads, and the cold start after the pool slept on each; first, an
/// untimed run on each with order stamps.
fn cheap_start(
    s: &Settings,
    shape: Shape,
    one: &Executor,
    two: &Executor,
) -> Vec<Result<ScenarioRecord, String>> {
    let g = shape.generate(1000);
    for executor in [one, two] {
        let stamps = Stamps::new(g.tasks);
        let mut arena = Arena::new();
        let graph = build_shape::<()>(&mut arena, &g, |ctx| {
            stamps.hit(ctx.id().index() as u32);
            Ok(())
        });
        let counts = executor.run(&graph).counts();
        if let Err(why) = stamps.verify(&g) {
            let threads = executor.threads();
            return vec![Err(format!(
                "{shape}-1000 on {threads} threads: {why}, {counts:?}"
            ))];
        }
    }
    let mut arena = Arena::new();
    let graph = build_shape::<()>(&mut arena, &g, |_| Ok(()));
    let unlimited = RunOptions::new();
    let one_worker = RunOptions::new().max_workers(1);
    let run_with = |executor: &Executor, options: &RunOptions| {
        let t = Instant::now();
        let counts: Counts = executor.run_with(&graph, options).counts();
        let secs = t.elapsed().as_secs_f64();
        if counts.succeeded == g.tasks && counts.total() == g.tasks {
            Ok(secs)
        } else {
            Err(format!(
                "{shape}-1000 on {} threads: {counts:?}",
                executor.threads()
            ))
        }
    };
    let run = |executor: &Executor| run_with(executor, &unlimited);
    let warm = |executor: &Executor, options: &RunOptions| {
        for _ in 0..s.back_to_back.min(20) {
            run_with(executor, options)?;
        }
        sample(s.back_to_back, || run_with(executor, options))
    };
    let graph_name = format!("{shape}, {} tasks, empty bodies", g.tasks);
    let warm_all = || -> Result<_, String> {
        Ok((
            warm(one, &unlimited)?,
            warm(two, &unlimited)?,
            warm(two, &one_worker)?,
        ))
    };
    let (warm_one, warm_two, warm_two_limited) = match warm_all() {
        Ok(warm) => warm,
        Err(e) => return vec![Err(e)],
    };
    let against_s = |samples: &[f64]| median(&mut samples.to_vec()).unwrap_or(f64::NAN);
    let mut figures = vec![Ok(Figure {
        scenario: "cheap-start",
        graph: graph_name.clone(),
        threads: 2,
        measured: "run on 2 threads, back to back",
        against: "run on 1 thread, back to back",
        against_s: against_s(&warm_one),
        bar: Some(Bar::AtMost(2.0)),
    }
    .of(warm_two.clone()))];
    // The lever a user of small graphs has (`RunOptions::max_workers`): the
    // same runs on the 2-thread executor, kept to one worker.
    figures.push(Ok(Figure {
        scenario: "cheap-start-one-worker",
        graph: graph_name.clone(),
        threads: 2,
        measured: "run on 2 threads limited to 1 worker, back to back",
        against: "run on 1 thread, back to back",
        against_s: against_s(&warm_one),
        bar: None,
    }
    .of(warm_two_limited)));
    for (executor, warm) in [(one, &warm_one), (two, &warm_two)] {
        let cold = sample(s.reps, || {
            thread::sleep(s.cold_sleep);
            run(executor)
        });
        figures.push(cold.map(|cold| {
            Figure {
                scenario: "cold-start",
                graph: graph_name.clone(),
                threads: executor.threads(),
                measured: "run after the pool slept",
                against: "run back to back",
                against_s: against_s(warm),
                bar: None,
            }
            .of(cold)
        }));
    }
    figures
}

/// One task summing all of `data` with `par_iter`, on one thread against two.
fn rayon_sum(
    s: &Settings,
    data: &[u64],
    element: Element,
    one: &Executor,
    two: &Executor,
) -> Result<ScenarioRecord, String> {
    let mut plan = Plan::default();
    plan.task("sum", Work::ParSum(0..data.len(), element));
    let sum = Some(element.sum(data));
    let time = |executor| seconds(executor, &plan, data, sum);
    let (on_one, on_two) = sample_pairs(s.reps, || Ok((time(one)?, time(two)?)))?;
    let scenario = match element {
        Element::Plain => "rayon-sum",
        Element::Hashed => "rayon-sum-hashed",
    };
    let graph = format!("one task: par_iter sum of {}", element.what(data.len()));
    Ok(speedup(
        scenario,
        graph,
        "executor",
        on_one,
        on_two,
        Some(Bar::AtLeast(1.7)),
    ))
}

/// A sum's times on one thread against two, in an executor or a pool:
/// the ratio is the speedup.
fn speedup(
    scenario: &str,
    graph: String,
    host: &str,
    on_one: Vec<f64>,
    mut on_two: Vec<f64>,
    bar: Option<Bar>,
) -> ScenarioRecord {
    Figure {
        scenario,
        graph,
        threads: 2,
        measured: &format!("on a 1-thread {host}"),
        against: &format!("on a 2-thread {host}"),
        against_s: median(&mut on_two).unwrap_or(f64::NAN),
        bar,
    }
    .of(on_one)
}

/// The same sum in plain rayon pools of one and two threads: what this
/// machine allows, with no executor in the way (no bar).
fn rayon_sum_without_kahn(
    s: &Settings,
    data: &[u64],
    element: Element,
) -> Result<ScenarioRecord, String> {
    let sum = element.sum(data);
    let pool = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| format!("a rayon pool of {threads}: {e}"))
    };
    let (one, two) = (pool(1)?, pool(2)?);
    let time = |pool: &rayon::ThreadPool| {
        let t = Instant::now();
        let got = pool.install(|| element.par_sum(data));
        let secs = t.elapsed().as_secs_f64();
        if got == sum {
            Ok(secs)
        } else {
            let threads = pool.current_num_threads();
            Err(format!(
                "rayon alone on {threads} threads summed {got}, not {sum}"
            ))
        }
    };
    let (on_one, on_two) = sample_pairs(s.reps, || Ok((time(&one)?, time(&two)?)))?;
    let scenario = match element {
        Element::Plain => "rayon-sum-no-kahn",
        Element::Hashed => "rayon-sum-hashed-no-kahn",
    };
    let graph = format!(
        "par_iter sum of {} in a rayon pool",
        element.what(data.len())
    );
    Ok(speedup(scenario, graph, "rayon pool", on_one, on_two, None))
}

/// A chain of 4 tasks summing a quarter of `data` (hashed) each with
/// `par_iter`, against the same sums as 4 stages of 8 sequential tasks,
/// each stage after the one before: the graph with rayon inside should be
/// no slower.
fn rayon_graph(s: &Settings, data: &[u64], executor: &Executor) -> Result<ScenarioRecord, String> {
    const STAGES: usize = 4;
    const CHUNKS: usize = 8;
    let quarter = data.len() / STAGES;
    let stage = |i: usize| {
        i * quarter..if i + 1 == STAGES {
            data.len()
        } else {
            (i + 1) * quarter
        }
    };
    let mut inside = Plan::default();
    let mut as_tasks = Plan::default();
    let (mut before, mut before_tasks) = (Vec::new(), Vec::new());
    for i in 0..STAGES {
        before = vec![inside.task_after(
            &before,
            format!("stage-{i}"),
            Work::ParSum(stage(i), Element::Hashed),
        )];
        let r = stage(i);
        let chunk = r.len().div_ceil(CHUNKS);
        before_tasks = as_tasks.tasks_after(&before_tasks, &format!("stage-{i}"), CHUNKS, |c| {
            let lo = (r.start + c * chunk).min(r.end);
            Work::Sum(lo..(lo + chunk).min(r.end), Element::Hashed)
        });
    }
    let sum = Some(Element::Hashed.sum(data));
    let time = |plan| seconds(executor, plan, data, sum);
    let (inside_times, mut task_times) =
        sample_pairs(s.reps, || Ok((time(&inside)?, time(&as_tasks)?)))?;
    Ok(Figure {
        scenario: "rayon-graph",
        graph: format!(
            "a chain of {STAGES} tasks, each a par_iter sum of {}",
            Element::Hashed.what(quarter)
        ),
        threads: executor.threads(),
        measured: "makespan",
        against: "the same sums as 4 stages × 8 tasks",
        against_s: median(&mut task_times).unwrap_or(f64::NAN),
        bar: Some(Bar::AtMost(1.05)),
    }
    .of(inside_times))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wrong run records no figure: a wrong sum, or a task that did not
    /// succeed where it should have, is an error naming the graph.
    #[test]
    fn a_wrong_run_is_an_error() {
        let executor = Executor::with_threads(2).expect("threads");
        let data: Vec<u64> = (0..1000).collect();
        let mut plan = Plan::default();
        plan.task("sum", Work::ParSum(0..1000, Element::Plain));
        let right = Some(Element::Plain.sum(&data));
        assert!(run_plan(&executor, &plan, &RunOptions::new(), &data, right).is_ok());
        let wrong = run_plan(&executor, &plan, &RunOptions::new(), &data, Some(1));
        assert_eq!(
            wrong.unwrap_err(),
            "the graph of sum: the outputs add up to 499500, not 1"
        );

        let mut plan = Plan::default();
        let fails = plan.task("fails", Work::Fail);
        plan.task_after(&[fails], "after", Work::Sleep(Duration::ZERO));
        let skipped = run_plan(&executor, &plan, &RunOptions::new(), &[], None);
        assert!(
            skipped.unwrap_err().contains("task after ended as Skipped"),
            "a task skipped for a failure is not a success"
        );
    }

    #[test]
    fn durations_read_as_written() {
        assert_eq!(ms(Duration::from_millis(250)), "250 ms");
        assert_eq!(ms(Duration::from_micros(62_500)), "62.5 ms");
        assert_eq!(ms(Duration::from_millis(1250)), "1.25 s");
    }
}
