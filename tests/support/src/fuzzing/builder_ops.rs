//! The `builder_ops` fuzz input: any sequence of builder calls, each result predicted by the reference model.
//!
//! Tasks get names that are empty, huge, non-ASCII, repeated or arbitrary;
//! edges go by name (unknown ones and self-loops included), by id (past the
//! last task, or left over from a previous graph), mixed, or in bulk; limits
//! are lowered and reservations asked for with any size. `Build` checks the
//! graph (or the cycle) against the model and petgraph, runs it, and starts a
//! new builder in the same arena; `Reset` drops the builder unbuilt and
//! rewinds the arena; `NewArena` starts over in a fresh one.
//! `CriticalPathFirst` and weights (valid, or negative, NaN, infinite, too
//! large, or for an unknown task) turn priorities on, and `Build` checks the
//! successor and source lists against the model's ranking.

use std::fmt;
use std::sync::atomic::AtomicU32;

use arbitrary::{Arbitrary, Unstructured};
use kahn::{Arena, GraphBuilder, TaskId, TaskRef};

use super::ensure;
use super::reference::{record_order, Model};

/// A task name, drawn mostly from a small pool so that names repeat and
/// edges find them.
#[derive(Clone, PartialEq, Eq)]
pub struct Name(pub String);

/// Names that collide, look alike, or are unusual for a reason.
const POOL: [&str; 12] = [
    "a", "b", "c", "d", "", "load", "é", "e\u{301}", "名前", "task #0", " ", "a\0b",
];

/// Characters huge names are made of: 1 to 4 bytes of UTF-8.
const HUGE: [&str; 4] = ["x", "é", "名", "🦀"];

impl<'a> Arbitrary<'a> for Name {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Name> {
        let pick = u8::arbitrary(u)?;
        Ok(Name(match pick {
            0..=191 => POOL[usize::from(pick) % POOL.len()].to_owned(),
            192..=239 => String::arbitrary(u)?,
            _ => HUGE[usize::from(pick) % HUGE.len()].repeat(usize::from(u16::arbitrary(u)?)),
        }))
    }
}

impl From<&str> for Name {
    fn from(name: &str) -> Name {
        Name(name.to_owned())
    }
}

impl From<String> for Name {
    fn from(name: String) -> Name {
        Name(name)
    }
}

/// Prints the name as Rust that makes it back: a literal, or `"x".repeat(n)`
/// for a long run of one character.
impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.chars();
        if let Some(first) = chars.next() {
            let count = 1 + chars.clone().count();
            if count > 16 && chars.all(|c| c == first) {
                return write!(f, "{:?}.repeat({count}).into()", first.to_string());
            }
        }
        write!(f, "{:?}.into()", self.0)
    }
}

/// A task's weight: mostly small whole numbers (so ranks tie), sometimes any
/// `f64`, sometimes a value at the edge of what `weight` accepts.
#[derive(Clone, Copy, PartialEq)]
pub struct Weight(pub f64);

/// Weights at the edges of validation.
const EDGES: [f64; 10] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    -0.0,
    -1.0,
    f64::MIN_POSITIVE,
    GraphBuilder::<()>::MAX_WEIGHT,
    1.0000000000000001e298, // the next f64 above MAX_WEIGHT
    f64::MAX,
    -5e-324,
];

impl<'a> Arbitrary<'a> for Weight {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Weight> {
        let pick = u8::arbitrary(u)?;
        Ok(Weight(match pick {
            0..=191 => f64::from(pick % 8),
            192..=223 => f64::arbitrary(u)?,
            _ => EDGES[usize::from(pick) % EDGES.len()],
        }))
    }
}

impl From<f64> for Weight {
    fn from(weight: f64) -> Weight {
        Weight(weight)
    }
}

/// Prints the weight as Rust that makes it back: `2.0.into()`,
/// `(-1.0).into()`, `f64::NAN.into()`.
impl fmt::Debug for Weight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self.0;
        if w.is_nan() {
            write!(f, "f64::NAN.into()")
        } else if w == f64::INFINITY {
            write!(f, "f64::INFINITY.into()")
        } else if w == f64::NEG_INFINITY {
            write!(f, "f64::NEG_INFINITY.into()")
        } else if w.is_sign_negative() {
            write!(f, "({w:?}).into()")
        } else {
            write!(f, "{w:?}.into()")
        }
    }
}

/// One builder call (or a change of builder).
///
/// New operations go at the end, and the committed inputs are migrated (see
/// "Regressions" in `fuzz/README.md`): `arbitrary` picks a variant by
/// scaling a `u32` to the number of variants, so any new one changes what
/// old bytes mean.
#[derive(Clone, Arbitrary)]
pub enum Op {
    /// `task(name, body)`.
    Task(Name),
    /// `unnamed_task(body)`.
    AddTask,
    /// `edge(from, to)` by names.
    EdgeByName(Name, Name),
    /// `edge(from, to)` by ids, known or not.
    EdgeById(u8, u8),
    /// `edge(from, to)` by ids anywhere in the `u32` range.
    EdgeByRawId(u32, u32),
    /// `edge(name, id)`.
    EdgeNameToId(Name, u8),
    /// `edge(id, name)`.
    EdgeIdToName(u8, Name),
    /// `edges(pairs)`, in bulk.
    Edges(Vec<(u8, u8)>),
    /// `reserve(tasks, edges)`.
    Reserve(usize, usize),
    /// `max_tasks(limit)`.
    MaxTasks(u16),
    /// `max_edges(limit)`.
    MaxEdges(u16),
    /// `max_tasks(usize::MAX)` and `max_edges(usize::MAX)`: back to the hard limits.
    NoLimits,
    /// `build()`, check, then a new builder in the same arena.
    Build,
    /// Drop the builder unbuilt, `arena.reset()`, then a new builder.
    Reset,
    /// Drop the builder and the arena, then a new builder in a new arena.
    NewArena,
    /// `critical_path_first()`.
    CriticalPathFirst,
    /// `weight(id, weight)`, the id known or not.
    Weight(u8, Weight),
    /// `weight(name, weight)`, the name known or not.
    WeightByName(Name, Weight),
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Task(name) => write!(f, "Op::Task({name:?})"),
            Op::AddTask => write!(f, "Op::AddTask"),
            Op::EdgeByName(a, b) => write!(f, "Op::EdgeByName({a:?}, {b:?})"),
            Op::EdgeById(a, b) => write!(f, "Op::EdgeById({a}, {b})"),
            Op::EdgeByRawId(a, b) => write!(f, "Op::EdgeByRawId({a}, {b})"),
            Op::EdgeNameToId(a, b) => write!(f, "Op::EdgeNameToId({a:?}, {b})"),
            Op::EdgeIdToName(a, b) => write!(f, "Op::EdgeIdToName({a}, {b:?})"),
            Op::Edges(pairs) => write!(f, "Op::Edges(vec!{pairs:?})"),
            Op::Reserve(a, b) => write!(f, "Op::Reserve({a}, {b})"),
            Op::MaxTasks(n) => write!(f, "Op::MaxTasks({n})"),
            Op::MaxEdges(n) => write!(f, "Op::MaxEdges({n})"),
            Op::NoLimits => write!(f, "Op::NoLimits"),
            Op::Build => write!(f, "Op::Build"),
            Op::Reset => write!(f, "Op::Reset"),
            Op::NewArena => write!(f, "Op::NewArena"),
            Op::CriticalPathFirst => write!(f, "Op::CriticalPathFirst"),
            Op::Weight(v, w) => write!(f, "Op::Weight({v}, {w:?})"),
            Op::WeightByName(name, w) => write!(f, "Op::WeightByName({name:?}, {w:?})"),
        }
    }
}

/// The `builder_ops` input: calls in order, with a final `build()`.
#[derive(Clone, Arbitrary)]
pub struct BuilderCase {
    /// The calls.
    pub ops: Vec<Op>,
}

impl fmt::Debug for BuilderCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "let case = BuilderCase {{ ops: vec![")?;
        for op in &self.ops {
            writeln!(f, "    {op:?},")?;
        }
        write!(f, "] }};")
    }
}

/// How a run of calls on one builder ended.
enum End {
    Build,
    Reset,
    NewArena,
    Done,
}

/// Runs the calls, each against the model, and checks every `build`.
pub fn check(case: &BuilderCase) -> Result<(), String> {
    // A builder never holds more tasks than there are calls.
    let order: Vec<AtomicU32> = (0..case.ops.len()).map(|_| AtomicU32::new(0)).collect();
    let clock = AtomicU32::new(0);
    let mut ops = case.ops.iter().enumerate();
    let mut arena = Arena::new();
    loop {
        let mut builder = arena.builder::<()>();
        let mut model = Model::new();
        let end = loop {
            let Some((at, op)) = ops.next() else {
                break End::Done;
            };
            match op {
                Op::Build => break End::Build,
                Op::Reset => break End::Reset,
                Op::NewArena => break End::NewArena,
                _ => apply(&mut builder, &mut model, op, &order, &clock)
                    .map_err(|e| format!("op {at} ({op:?}): {e}"))?,
            }
        };
        match end {
            End::Build | End::Done => {
                let built = builder.build();
                model
                    .check_build(built, &order)
                    .map_err(|e| format!("build after {} tasks: {e}", model.task_count()))?;
                if let End::Done = end {
                    return Ok(());
                }
            }
            End::Reset => {
                drop(builder);
                arena.reset();
            }
            End::NewArena => {
                drop(builder);
                arena = Arena::new();
            }
        }
    }
}

/// Makes one call on the builder and the model and compares the results.
fn apply<'a>(
    b: &mut GraphBuilder<'a, ()>,
    model: &mut Model,
    op: &Op,
    order: &'a [AtomicU32],
    clock: &'a AtomicU32,
) -> Result<(), String> {
    let id = |i: u8| TaskId::new(u32::from(i));
    let (got, expected) = match op {
        Op::Task(Name(name)) => (
            b.task(name, record_order(order, clock)).map(Some),
            model.task(name).map(Some),
        ),
        Op::AddTask => (
            b.unnamed_task(record_order(order, clock)).map(Some),
            model.unnamed_task().map(Some),
        ),
        Op::EdgeByName(Name(u), Name(v)) => edge(b, model, u.as_str(), v.as_str()),
        Op::EdgeById(u, v) => edge(b, model, id(*u), id(*v)),
        Op::EdgeByRawId(u, v) => edge(b, model, TaskId::new(*u), TaskId::new(*v)),
        Op::EdgeNameToId(Name(u), v) => edge(b, model, u.as_str(), id(*v)),
        Op::EdgeIdToName(u, Name(v)) => edge(b, model, id(*u), v.as_str()),
        Op::Edges(pairs) => {
            let pairs: Vec<(u32, u32)> = pairs
                .iter()
                .map(|&(u, v)| (u32::from(u), u32::from(v)))
                .collect();
            let ids = pairs.iter().map(|&(u, v)| (TaskId::new(u), TaskId::new(v)));
            (
                b.edges(ids).map(|()| None),
                model.edges(&pairs).map(|()| None),
            )
        }
        Op::Reserve(tasks, edges) => {
            b.reserve(*tasks, *edges);
            (Ok(None), Ok(None))
        }
        Op::MaxTasks(limit) => {
            b.max_tasks(usize::from(*limit));
            model.max_tasks(usize::from(*limit));
            (Ok(None), Ok(None))
        }
        Op::MaxEdges(limit) => {
            b.max_edges(usize::from(*limit));
            model.max_edges(usize::from(*limit));
            (Ok(None), Ok(None))
        }
        Op::NoLimits => {
            b.max_tasks(usize::MAX).max_edges(usize::MAX);
            model.max_tasks(usize::MAX);
            model.max_edges(usize::MAX);
            (Ok(None), Ok(None))
        }
        Op::CriticalPathFirst => {
            b.critical_path_first();
            model.critical_path_first();
            (Ok(None), Ok(None))
        }
        Op::Weight(v, Weight(w)) => (
            b.weight(id(*v), *w).map(|()| None),
            model.weight(id(*v).into(), *w).map(|()| None),
        ),
        Op::WeightByName(Name(name), Weight(w)) => (
            b.weight(name.as_str(), *w).map(|()| None),
            model.weight(name.as_str().into(), *w).map(|()| None),
        ),
        Op::Build | Op::Reset | Op::NewArena => unreachable!("handled by `check`"),
    };
    if let Err(error) = &got {
        // Every message must be printable.
        let _ = error.to_string();
    }
    ensure!(got == expected, "got {got:?}, expected {expected:?}");
    ensure!(
        (b.task_count(), b.edge_count()) == (model.task_count(), model.edge_count()),
        "the builder holds {} tasks and {} edges, expected {} and {}",
        b.task_count(),
        b.edge_count(),
        model.task_count(),
        model.edge_count()
    );
    Ok(())
}

type Pair = (
    Result<Option<TaskId>, kahn::BuildError>,
    Result<Option<TaskId>, kahn::BuildError>,
);

fn edge<'n, 'm>(
    b: &mut GraphBuilder<'_, ()>,
    model: &mut Model,
    from: impl Into<TaskRef<'n>>,
    to: impl Into<TaskRef<'m>>,
) -> Pair {
    let (from, to) = (from.into(), to.into());
    (
        b.edge(from, to).map(|()| None),
        model.edge(from, to).map(|()| None),
    )
}
