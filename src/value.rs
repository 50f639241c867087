//! Outputs of different types in one graph: [`Value`], and the typed handle [`Output`] its readers use.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::id::TaskId;

/// The output of a task in a graph whose tasks output different types: a
/// graph built with `arena.builder::<Value>()`.
///
/// Tasks added with [`GraphBuilder::typed_task`](crate::GraphBuilder::typed_task)
/// return their own type and are read back through their [`Output`]
/// handle, with no enum and no downcast at the call site:
/// [`TaskContext::get`](crate::TaskContext::get),
/// [`TaskContext::take`](crate::TaskContext::take) and
/// [`Report::get`](crate::Report::get). The value is boxed: one allocation
/// per task and run, which a graph with one output type `T` does not pay
/// (BENCHMARKS.md, "The Data issue").
pub struct Value {
    inner: Box<dyn Any + Send + Sync>,
    type_name: &'static str,
}

impl Value {
    /// Wraps `value`.
    pub fn new<U: Any + Send + Sync>(value: U) -> Value {
        Value {
            inner: Box::new(value),
            type_name: std::any::type_name::<U>(),
        }
    }

    /// The value, if it is a `U`.
    pub fn downcast_ref<U: Any>(&self) -> Option<&U> {
        self.inner.downcast_ref()
    }

    /// The value, if it is a `U`; else `self` back.
    ///
    /// # Errors
    /// `self`, unchanged, if the value is not a `U`.
    pub fn downcast<U: Any>(self) -> Result<U, Value> {
        if self.inner.is::<U>() {
            match self.inner.downcast() {
                Ok(value) => Ok(*value),
                Err(_) => unreachable!("checked by `is` above"),
            }
        } else {
            Err(self)
        }
    }

    /// The name of the wrapped type, as [`std::any::type_name`] gives it
    /// (for messages; not a stable identifier).
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value({})", self.type_name)
    }
}

/// Which builder made a graph: a process-wide counter, so that a handle
/// from one graph is refused by another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GraphTag(u64);

impl GraphTag {
    pub(crate) fn next() -> GraphTag {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        GraphTag(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A typed handle to the output of one task of one graph, returned by
/// [`GraphBuilder::typed_task`](crate::GraphBuilder::typed_task).
///
/// `Copy`: capture it in the closures of the tasks that read it. Reading it
/// as another type does not compile; reading it in a run of another graph
/// is an [`InputError::OtherGraph`](crate::InputError::OtherGraph).
///
/// ```
/// use kahn::{Executor, Value};
/// let mut arena = kahn::Arena::new();
/// let mut b = arena.builder::<Value>();
/// let rows = b.typed_task("extract", |_| Ok(vec![3_u64, 4, 5]))?;
/// let header = b.typed_task("header", |_| Ok(String::from("total")))?;
/// let line = b.typed_task("format", move |ctx| {
///     let sum: u64 = ctx.get(rows)?.iter().sum();
///     Ok(format!("{}: {sum}", ctx.get(header)?))
/// })?;
/// b.edge(rows.id(), line.id())?;
/// b.edge(header.id(), line.id())?;
/// let graph = b.build()?;
/// let report = Executor::with_threads(2)?.run(&graph);
/// assert_eq!(report.get(line).map(String::as_str), Some("total: 12"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Output<U> {
    id: TaskId,
    graph: GraphTag,
    _type: PhantomData<fn() -> U>,
}

impl<U> Output<U> {
    pub(crate) fn new(id: TaskId, graph: GraphTag) -> Self {
        Output {
            id,
            graph,
            _type: PhantomData,
        }
    }

    /// The task's id, for edges and for the name-based API.
    pub fn id(&self) -> TaskId {
        self.id
    }

    pub(crate) fn graph(&self) -> GraphTag {
        self.graph
    }
}

impl<U> Clone for Output<U> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<U> Copy for Output<U> {}

impl<U> PartialEq for Output<U> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && self.graph == other.graph
    }
}

impl<U> Eq for Output<U> {}

impl<U> fmt::Debug for Output<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Output")
            .field("id", &self.id)
            .field("type", &std::any::type_name::<U>())
            .finish()
    }
}
