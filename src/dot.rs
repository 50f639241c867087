//! A graph as Graphviz DOT, optionally coloured by how a run of it went, for `dot`, xdot or any DOT viewer.

use std::fmt::{self, Write as _};

use crate::graph::Graph;
use crate::id::TaskId;
use crate::report::{Outcome, Report};
use crate::skip::Skip;

/// A graph written as Graphviz DOT; made by [`Graph::to_dot`], shown with
/// `Display` (`to_string()`, `write!`).
///
/// Each task is a box labelled with its name (or `task #id`); each edge an
/// arrow. With [`report`](Self::report), each box also says how the task
/// ended and is coloured by it: succeeded (green), failed, panicked or
/// timed out (reds, with the message cut to one line), skipped because an
/// upstream task failed (grey), not triggered or branch not taken (dashed),
/// cancelled (yellow); a skipped task says why in the words of the report's
/// summary, naming the task that decided unless it was its own rule; and
/// the number of attempts of a retried task, and whether it was carried
/// over by a resume. Names are escaped (quotes, backslashes, newlines,
/// control characters; any Unicode stays as it is), so any name draws as
/// itself. For large graphs, [`max_tasks`](Self::max_tasks) caps what is
/// drawn.
///
/// ```
/// use kahn::{Arena, Executor};
/// let mut arena = Arena::new();
/// let mut b = arena.builder::<u32>();
/// b.task("extract", |_| Ok(1))?;
/// b.task("load \"eu\"", |_| Err("the warehouse is down".into()))?;
/// b.edge("extract", "load \"eu\"")?;
/// let graph = b.build()?;
/// let report = Executor::with_threads(2)?.run(&graph);
///
/// let dot = graph.to_dot().report(&report).to_string();
/// assert!(dot.starts_with("digraph kahn {"));
/// assert!(dot.contains(r#"label="load \"eu\"\nfailed: the warehouse is down""#));
/// assert!(dot.contains("t0 -> t1;"));
/// // std::fs::write("run.dot", dot)?; then `dot -Tsvg run.dot > run.svg`
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Dot<'d, 'a, T> {
    graph: &'d Graph<'a, T>,
    report: Option<&'d Report<'d, T>>,
    max_tasks: usize,
}

impl<'a, T> Graph<'a, T> {
    /// This graph as Graphviz DOT: see [`Dot`].
    pub fn to_dot(&self) -> Dot<'_, 'a, T> {
        Dot {
            graph: self,
            report: None,
            max_tasks: usize::MAX,
        }
    }
}

/// What a message may take of a label, in characters.
const MESSAGE_CHARS: usize = 80;

impl<'d, 'a, T> Dot<'d, 'a, T> {
    /// Colours and labels each task by how it ended in `report`, a report
    /// of a run of this graph ([`Report::is_of`]); a report of another
    /// graph is ignored, and the output says so in a comment.
    pub fn report(mut self, report: &'d Report<'d, T>) -> Self {
        self.report = Some(report);
        self
    }

    /// Draws only the first `max` tasks by id, the edges between them, and
    /// a note of how many tasks and edges were left out: a graph of a
    /// million tasks is more than a DOT viewer can lay out.
    pub fn max_tasks(mut self, max: usize) -> Self {
        self.max_tasks = max;
        self
    }

    fn task(
        &self,
        f: &mut fmt::Formatter<'_>,
        id: TaskId,
        report: Option<&Report<'_, T>>,
    ) -> fmt::Result {
        write!(f, "  t{} [label=\"", id.raw())?;
        write!(f, "{}", Escaped(&Label(self.graph.name(id), id)))?;
        let Some(report) = report else {
            return f.write_str("\"];\n");
        };
        let Some(outcome) = report.outcome(id) else {
            return f.write_str("\"];\n");
        };
        let (colour, dashed) = match outcome {
            Outcome::Succeeded(_) | Outcome::Consumed => ("#b6d7a8", false),
            Outcome::Failed(_) => ("#ea9999", false),
            Outcome::Panicked(_) => ("#e06666", false),
            Outcome::TimedOut { .. } => ("#f6b26b", false),
            Outcome::Skipped { .. } => ("#d9d9d9", false),
            Outcome::NotTriggered { .. } | Outcome::BranchNotTaken { .. } => ("#f3f3f3", true),
            Outcome::Cancelled => ("#ffe599", false),
        };
        // Why a task was skipped, in the words the report's summary,
        // observers and `tracing` share (`skip.rs`).
        let why = |skip: Skip| {
            let decider = self.graph.names.shown(skip.task());
            skip.words(Some(id), decider).to_string()
        };
        let what = match outcome {
            Outcome::Succeeded(_) => "succeeded".to_owned(),
            Outcome::Consumed => "succeeded (output consumed)".to_owned(),
            Outcome::Failed(error) => format!("failed: {}", first_line(&error.to_string())),
            Outcome::Panicked(message) => format!("panicked: {}", first_line(message)),
            Outcome::TimedOut { limit } => format!("timed out after {limit:?}"),
            Outcome::Skipped { cause } => format!("skipped: {}", why(Skip::UpstreamFailed(cause))),
            Outcome::NotTriggered { cause } => why(Skip::NotTriggered(cause)),
            Outcome::BranchNotTaken { branch } => why(Skip::BranchNotTaken(branch)),
            Outcome::Cancelled => "cancelled".to_owned(),
        };
        f.write_str("\\n")?;
        write!(f, "{}", Escaped(&what))?;
        let attempts = report.attempts(id);
        if attempts > 1 {
            write!(f, "\\n{attempts} attempts")?;
        }
        if report.carried_over(id) {
            f.write_str("\\ncarried over")?;
        }
        write!(f, "\", fillcolor=\"{colour}\"")?;
        if dashed {
            f.write_str(", style=\"rounded,filled,dashed\"")?;
        }
        f.write_str("];\n")
    }
}

impl<T> fmt::Display for Dot<'_, '_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.graph.task_count();
        let drawn = n.min(self.max_tasks);
        let report = self.report.filter(|r| r.is_of(self.graph));
        f.write_str("digraph kahn {\n  rankdir=LR;\n")?;
        f.write_str("  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"Helvetica\"];\n")?;
        if self.report.is_some() && report.is_none() {
            f.write_str("  // the report given is of another graph: not coloured\n")?;
        }
        for v in 0..drawn {
            self.task(f, TaskId::new(v as u32), report)?;
        }
        let mut left_out = 0;
        for v in 0..n {
            for w in self.graph.successors(TaskId::new(v as u32)) {
                if v < drawn && w.index() < drawn {
                    writeln!(f, "  t{v} -> t{};", w.raw())?;
                } else {
                    left_out += 1;
                }
            }
        }
        if drawn < n {
            writeln!(
                f,
                "  more [shape=note, style=\"\", label=\"{} more tasks and {left_out} more edges not drawn\"];",
                n - drawn
            )?;
        }
        f.write_str("}\n")
    }
}

/// How a task is named in a drawing: its name, or `task #id`.
pub(crate) struct Label<'n>(pub(crate) Option<&'n str>, pub(crate) TaskId);

impl fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(name) => f.write_str(name),
            None => write!(f, "task #{}", self.1.raw()),
        }
    }
}

/// The first line of a message, cut to [`MESSAGE_CHARS`].
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or("");
    let mut cut: String = line.chars().take(MESSAGE_CHARS).collect();
    if cut.len() < line.len() || message.lines().nth(1).is_some() {
        cut.push('…');
    }
    cut
}

/// Writes what `D` shows as the inside of a DOT quoted string that a label
/// shows as that same text: `"` and `\` escaped, a newline as DOT's `\n`,
/// other control characters as visible `\u{…}` escapes. Everything else,
/// Unicode included, goes through unchanged.
struct Escaped<'v, D: fmt::Display + ?Sized>(&'v D);

impl<D: fmt::Display + ?Sized> fmt::Display for Escaped<'_, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Escaper<'f, 'g>(&'f mut fmt::Formatter<'g>);
        impl fmt::Write for Escaper<'_, '_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                for c in s.chars() {
                    match c {
                        '"' => self.0.write_str("\\\"")?,
                        '\\' => self.0.write_str("\\\\")?,
                        '\n' => self.0.write_str("\\n")?,
                        c if c.is_control() => write!(self.0, "\\\\u{{{:x}}}", u32::from(c))?,
                        c => self.0.write_char(c)?,
                    }
                }
                Ok(())
            }
        }
        write!(Escaper(f), "{}", self.0)
    }
}
