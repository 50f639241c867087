//! A run's timeline as Chrome Trace Event JSON, for Perfetto (ui.perfetto.dev) and `chrome://tracing`.

use std::fmt::{self, Write as _};
use std::time::Duration;

use crate::dot::Label;
use crate::error::{ShortMessage, TaskFailure, TraceError};
use crate::id::TaskId;
use crate::report::{Outcome, Report, Timing};

/// A run's timeline in the Chrome Trace Event Format (JSON); made by
/// [`Report::to_chrome_trace`], shown with `Display` (`to_string()`,
/// `write!` to a file), opened by [Perfetto](https://ui.perfetto.dev)
/// ("Open trace file") or `chrome://tracing`.
///
/// The run is one process (pid 1, named "kahn run", or
/// [`process_name`](Self::process_name)); each worker that ran a task is
/// one thread track, named `worker <index>` ([`Timing::worker`]), with tid
/// `index + 1` (Perfetto takes pid and tid 0 for the kernel's idle task).
/// On it, each attempt of each task is one complete event (`"ph":"X"`):
///
/// - `name`: the task's name, or `task #id`;
/// - `ts`, `dur`: its start from the start of the run, and how long it
///   took, in microseconds with three decimals (the report's nanoseconds,
///   exactly, so an attempt ends where the next on its worker may start
///   and never after);
/// - `cat`: how the attempt ended: `succeeded`, `failed`, `panicked` or
///   `timed out`;
/// - `args`: `id`, `attempt` (from 1), `outcome` (as `cat`), `error` (the
///   message of a failed, panicked or timed-out attempt, cut to
///   [`TaskFailure::SHOWN_BYTES`]), and `retried: true` on an attempt a
///   [retry policy](crate::GraphBuilder::retry) ran again. A failed
///   attempt also has a `cname`, `bad` (or `terrible` for a panic): reserved
///   colour names of `chrome://tracing`, so that failures stand out there;
///   Perfetto ignores them and colours slices by name.
///
/// So there is one complete event per [attempt](Report::attempts), and
/// none overlap on one track. A task that did not run in this run is an
/// instant event (`"ph":"i"`, thread scope) on one more track, after the
/// workers', named `not run`, with `cat` (and `args.outcome`) `skipped`,
/// `not triggered`, `branch not taken`, `cancelled` or `carried over`,
/// and `args` naming the task that decided it (`cause`, `branch`, with
/// their ids) or why the run stopped (`stop_reason`). It stands when the
/// decision was made: when the run settled the task, for a task skipped,
/// not triggered or passed over by a branch (after its last predecessor
/// ended: a skipped join stands after its slowest input, not at the
/// failure it names); when the run was stopped ([`Report::stopped_at`])
/// for a cancelled task; at 0 for a task carried over by a
/// [resume](crate::Executor::resume). Where the report holds no such
/// moment (a task that another worker of a distributed run settled), a
/// skip stands at the end of the failed task's last attempt and a branch
/// not taken at the end of the branching task, as far as this report has
/// their timings (at 0 if they too ran elsewhere), and a task not
/// triggered at the end of the run ([`Report::wall_time`]). A
/// task that started and stopped early when the run was stopped counts as
/// cancelled, not as an attempt. `otherData` holds the task count, the
/// wall time (`wall_time_us`), and for a stopped run the stop reason and
/// when it was stopped (`stopped_at_us`).
///
/// Names and messages are escaped as JSON strings (quotes, backslashes,
/// control characters; any other Unicode goes through as it is), so any
/// name reads back as itself. The text grows by about 150 bytes a task.
///
/// ```
/// use kahn::{Arena, Executor, RunOptions};
/// let mut arena = Arena::new();
/// let mut b = arena.builder::<u32>();
/// b.task("extract", |_| Ok(1))?;
/// b.task("load \"eu\"", |_| Err("the warehouse is down".into()))?;
/// b.task("report", |_| Ok(3))?;
/// b.edge("extract", "load \"eu\"")?;
/// b.edge("load \"eu\"", "report")?;
/// let graph = b.build()?;
/// let options = RunOptions::new().record_timings(true);
/// let report = Executor::with_threads(2)?.run_with(&graph, &options);
///
/// let trace = report.to_chrome_trace()?.to_string();
/// assert!(trace.starts_with(r#"{"traceEvents":["#));
/// assert!(trace.contains(r#""name":"load \"eu\"","cat":"failed","ph":"X""#));
/// assert!(trace.contains(r#""error":"the warehouse is down""#));
/// assert!(trace.contains(r#""name":"report","cat":"skipped","ph":"i""#));
/// // std::fs::write("run.json", trace)?; then open it in ui.perfetto.dev
///
/// // Without timings there is no timeline:
/// let untimed = Executor::with_threads(2)?.run(&graph);
/// assert_eq!(untimed.to_chrome_trace().unwrap_err(), kahn::TraceError::NoTimings);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ChromeTrace<'r, 'g, T> {
    report: &'r Report<'g, T>,
    process_name: &'r str,
}

impl<'g, T> Report<'g, T> {
    /// This run's timeline as Chrome Trace Event JSON: see [`ChromeTrace`].
    ///
    /// # Errors
    /// [`TraceError::NoTimings`] if the run did not [record
    /// timings](crate::RunOptions::record_timings): without them the report
    /// knows how each task ended, but not when or where it ran.
    pub fn to_chrome_trace(&self) -> Result<ChromeTrace<'_, 'g, T>, TraceError> {
        if self.timings.is_none() {
            return Err(TraceError::NoTimings);
        }
        Ok(ChromeTrace {
            report: self,
            process_name: "kahn run",
        })
    }
}

impl<'r, 'g, T> ChromeTrace<'r, 'g, T> {
    /// Names the run's process `name` rather than "kahn run": say, the
    /// batch a run was for, which a viewer shows as the process's title.
    pub fn process_name(mut self, name: &'r str) -> Self {
        self.process_name = name;
        self
    }
}

/// The run's process id: Perfetto takes 0 for the kernel.
const PID: u32 = 1;

impl<T> fmt::Display for ChromeTrace<'_, '_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self.report;
        let timings = report.timings.as_deref().unwrap_or(&[]);
        let attempt_timings = report.retried.iter().flat_map(|(_, f)| &f.timings);
        // The `not run` track comes after every worker's. (A task that did
        // not run has a default timing on worker 0, or the moment it was
        // settled on the worker that settled it: no higher than any.)
        let workers = timings
            .iter()
            .chain(attempt_timings)
            .map(|t| t.worker + 1)
            .max()
            .unwrap_or(0);
        let not_run = tid(workers);
        let mut used = vec![false; workers];
        let stop = report.stop_reason_shown();
        let mut retried = report.retried.iter().peekable();
        let mut failures = report.failures.iter().peekable();
        let mut events = Events {
            f,
            first: true,
            not_run_used: false,
        };
        events.f.write_str("{\"traceEvents\":[")?;
        for task in report.tasks() {
            let id = task.id;
            let label = Label(task.name, id);
            let earlier = retried.next_if(|(t, _)| *t == id).map(|(_, failed)| failed);
            let failure = failures
                .next_if(|(t, _)| *t == id)
                .map(|(_, failure)| failure);
            let mut attempt = 0;
            if let Some(earlier) = earlier {
                for (failure, timing) in earlier.failures.iter().zip(&earlier.timings) {
                    attempt += 1;
                    used[timing.worker] = true;
                    events.attempt(&label, timing, attempt, Some(failure), true)?;
                }
            }
            if let Some(timing) = task.timing {
                attempt += 1;
                used[timing.worker] = true;
                events.attempt(&label, &timing, attempt, failure, false)?;
                continue;
            }
            let wall = report.wall_time();
            let end_of = |task: TaskId| report.timing(task).map_or(wall, |t| t.start + t.duration);
            let settled = task.settled_at;
            let (what, at, decider) = match task.outcome {
                _ if report.was_carried(id) => ("carried over", Duration::ZERO, None),
                Outcome::Skipped { cause } => (
                    "skipped",
                    settled.unwrap_or_else(|| end_of(cause)),
                    Some(("cause", cause)),
                ),
                Outcome::NotTriggered { cause } => (
                    "not triggered",
                    settled.unwrap_or(wall),
                    (cause != id).then_some(("cause", cause)),
                ),
                Outcome::BranchNotTaken { branch } => (
                    "branch not taken",
                    settled.unwrap_or_else(|| end_of(branch)),
                    Some(("branch", branch)),
                ),
                Outcome::Cancelled => ("cancelled", report.stopped_at().unwrap_or(wall), None),
                // A task that ran has a timing, since the run recorded
                // them; should one not, it still shows, where it ended.
                _ => (outcome_name(&task.outcome), wall, None),
            };
            let decider = decider.map(|(key, task)| (key, Label(report.name(task), task)));
            let stop = stop.as_deref().filter(|_| what == "cancelled");
            events.not_run(not_run, &label, what, at, decider, stop)?;
        }
        for (worker, _) in used.iter().enumerate().filter(|(_, used)| **used) {
            events.separator()?;
            write!(
                events.f,
                "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{PID},\"tid\":{},\"args\":{{\"name\":\"worker {worker}\"}}}}",
                tid(worker)
            )?;
        }
        if events.not_run_used {
            events.separator()?;
            write!(
                events.f,
                "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{PID},\"tid\":{not_run},\"args\":{{\"name\":\"not run\"}}}}",
            )?;
        }
        events.separator()?;
        write!(
            events.f,
            "{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":{PID},\"tid\":0,\"args\":{{\"name\":\"{}\"}}}}",
            Json(self.process_name)
        )?;
        write!(
            events.f,
            "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{{\"tasks\":{},\"wall_time_us\":{}",
            report.task_count(),
            Micros(report.wall_time())
        )?;
        if let Some(stop) = &stop {
            write!(events.f, ",\"stop_reason\":\"{}\"", Json(stop))?;
        }
        if let Some(at) = report.stopped_at() {
            write!(events.f, ",\"stopped_at_us\":{}", Micros(at))?;
        }
        events.f.write_str("}}\n")
    }
}

/// A worker's track: its index plus one (tid 0 is the kernel's).
fn tid(worker: usize) -> usize {
    worker + 1
}

/// How an outcome is named in a trace's categories.
fn outcome_name<T>(outcome: &Outcome<'_, T>) -> &'static str {
    match outcome {
        Outcome::Succeeded(_) | Outcome::Consumed => "succeeded",
        Outcome::Failed(_) => "failed",
        Outcome::Panicked(_) => "panicked",
        Outcome::TimedOut { .. } => "timed out",
        Outcome::Skipped { .. } => "skipped",
        Outcome::NotTriggered { .. } => "not triggered",
        Outcome::BranchNotTaken { .. } => "branch not taken",
        Outcome::Cancelled => "cancelled",
    }
}

/// The events array as it is written: commas between events, one a line.
struct Events<'f, 'g> {
    f: &'f mut fmt::Formatter<'g>,
    first: bool,
    not_run_used: bool,
}

impl Events<'_, '_> {
    fn separator(&mut self) -> fmt::Result {
        if self.first {
            self.first = false;
            self.f.write_char('\n')
        } else {
            self.f.write_str(",\n")
        }
    }

    /// One attempt, as a complete event on its worker's track; `failure`
    /// is how it failed, if it did, and `retried` whether it ran again.
    fn attempt(
        &mut self,
        label: &Label<'_>,
        timing: &Timing,
        attempt: u32,
        failure: Option<&TaskFailure>,
        retried: bool,
    ) -> fmt::Result {
        let (outcome, cname) = match failure {
            None => ("succeeded", None),
            Some(TaskFailure::Failed(_)) => ("failed", Some("bad")),
            Some(TaskFailure::Panicked(_)) => ("panicked", Some("terrible")),
            Some(TaskFailure::TimedOut { .. }) => ("timed out", Some("bad")),
        };
        self.separator()?;
        write!(
            self.f,
            "{{\"name\":\"{}\",\"cat\":\"{outcome}\",\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":{PID},\"tid\":{},\"args\":{{\"id\":{},\"attempt\":{attempt},\"outcome\":\"{outcome}\"",
            Json(label),
            Micros(timing.start),
            Micros(timing.duration),
            tid(timing.worker),
            label.1.raw(),
        )?;
        if let Some(failure) = failure {
            write!(self.f, ",\"error\":\"{}\"", Json(&ShortMessage(failure)))?;
        }
        if retried {
            self.f.write_str(",\"retried\":true")?;
        }
        self.f.write_char('}')?;
        if let Some(cname) = cname {
            write!(self.f, ",\"cname\":\"{cname}\"")?;
        }
        self.f.write_char('}')
    }

    /// A task that did not run, as an instant event on the `not run`
    /// track at `at`: `what` it was, the task that decided it, and why the
    /// run stopped if that is what kept it.
    fn not_run(
        &mut self,
        track: usize,
        label: &Label<'_>,
        what: &str,
        at: Duration,
        decider: Option<(&str, Label<'_>)>,
        stop: Option<&str>,
    ) -> fmt::Result {
        self.not_run_used = true;
        self.separator()?;
        write!(
            self.f,
            "{{\"name\":\"{}\",\"cat\":\"{what}\",\"ph\":\"i\",\"s\":\"t\",\"ts\":{},\"pid\":{PID},\"tid\":{track},\"args\":{{\"id\":{},\"outcome\":\"{what}\"",
            Json(label),
            Micros(at),
            label.1.raw(),
        )?;
        if let Some((key, decider)) = decider {
            write!(
                self.f,
                ",\"{key}\":\"{}\",\"{key}_id\":{}",
                Json(&decider),
                decider.1.raw()
            )?;
        }
        if let Some(stop) = stop {
            write!(self.f, ",\"stop_reason\":\"{}\"", Json(stop))?;
        }
        self.f.write_str("}}")
    }
}

/// A duration in microseconds, with the nanoseconds as three decimals
/// (none when they are 0): exact, so that sums read back as they were.
struct Micros(Duration);

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // 2^64 ns is 584 years: no run's timing comes near.
        let nanos = u64::try_from(self.0.as_nanos()).unwrap_or(u64::MAX);
        let (micros, rest) = (nanos / 1000, nanos % 1000);
        if rest == 0 {
            write!(f, "{micros}")
        } else {
            write!(f, "{micros}.{rest:03}")
        }
    }
}

/// Writes what `D` shows as the inside of a JSON string: `"` and `\`
/// escaped, control characters (U+0000 to U+001F) as `\n`, `\t`, `\r`,
/// `\b`, `\f` or `\u00XX`. Everything else, Unicode included, goes
/// through unchanged, in runs rather than character by character.
struct Json<'v, D: fmt::Display + ?Sized>(&'v D);

impl<D: fmt::Display + ?Sized> fmt::Display for Json<'_, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Escaper<'f, 'g>(&'f mut fmt::Formatter<'g>);
        impl fmt::Write for Escaper<'_, '_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                let mut plain = 0;
                for (i, byte) in s.bytes().enumerate() {
                    let escaped = match byte {
                        b'"' => "\\\"",
                        b'\\' => "\\\\",
                        b'\n' => "\\n",
                        b'\t' => "\\t",
                        b'\r' => "\\r",
                        0x08 => "\\b",
                        0x0c => "\\f",
                        0..=0x1f => "",
                        _ => continue,
                    };
                    // Only ASCII bytes stop the run: `i` is a char boundary.
                    self.0.write_str(&s[plain..i])?;
                    if escaped.is_empty() {
                        write!(self.0, "\\u{byte:04x}")?;
                    } else {
                        self.0.write_str(escaped)?;
                    }
                    plain = i + 1;
                }
                self.0.write_str(&s[plain..])
            }
        }
        write!(Escaper(f), "{}", self.0)
    }
}
