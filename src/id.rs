//! Typed task ids and the ways a caller can name a task.

use std::fmt;

/// The id of a task in one graph: its position in the order tasks were added.
///
/// Ids are dense `u32`s, so per-task state is a plain `Vec` indexed by id. The
/// k-th task added to a [`GraphBuilder`](crate::GraphBuilder) has id `k`, which
/// lets generated graphs refer to tasks by number ([`TaskId::new`]) without
/// inventing names. An id only means something in the graph that issued it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(u32);

impl TaskId {
    /// The most tasks one graph can hold: 2³¹ − 1. With edges under the same
    /// limit, every per-run counter keeps its top bit free for the failure
    /// flag, and every compiled range of tasks fits in a `u32`.
    pub const LIMIT: usize = (1 << 31) - 1;

    /// Marks "no task" in per-run arrays; never a valid id.
    pub(crate) const NONE: u32 = u32::MAX;

    /// The id of the task added at position `index` (0-based).
    pub const fn new(index: u32) -> TaskId {
        TaskId(index)
    }

    /// The position of this task in the order tasks were added.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    pub(crate) const fn raw(self) -> u32 {
        self.0
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A reference to a task, either by the name it was added with or by its id.
///
/// The APIs that look a task up (`edge`, `input`, `output`, `outcome`,
/// `find`, …) accept `impl Into<TaskRef>`, so `"load"`, `&String` and a
/// [`TaskId`] all work; those that walk a graph by id take a [`TaskId`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskRef<'n> {
    /// The task with this id.
    Id(TaskId),
    /// The task added with this name.
    Name(&'n str),
}

impl From<TaskId> for TaskRef<'_> {
    fn from(id: TaskId) -> Self {
        TaskRef::Id(id)
    }
}

impl<'n> From<&'n str> for TaskRef<'n> {
    fn from(name: &'n str) -> Self {
        TaskRef::Name(name)
    }
}

impl<'n> From<&'n String> for TaskRef<'n> {
    fn from(name: &'n String) -> Self {
        TaskRef::Name(name.as_str())
    }
}

impl fmt::Display for TaskRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskRef::Id(id) => write!(f, "task {id}"),
            TaskRef::Name(name) => write!(f, "`{name}`"),
        }
    }
}
