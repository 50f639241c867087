//! Typed task ids, the ways a caller can name a task, and how kahn names one back.

use std::fmt;

/// The id of a task in one graph: its position in the order tasks were added.
///
/// Ids are dense `u32`s, so per-task state is a plain `Vec` indexed by id. The
/// k-th task added to a [`GraphBuilder`](crate::GraphBuilder) has id `k`, which
/// lets generated graphs refer to tasks by number ([`TaskId::new`]) without
/// inventing names. An id only means something in the graph that issued it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct TaskId(u32);

impl TaskId {
    /// The most tasks one graph can hold: 2³¹ − 1. With edges under the same
    /// limit, every per-run counter keeps its top bit free for the failure
    /// flag, and every compiled range of tasks fits in a `u32`.
    pub const LIMIT: usize = (1 << 31) - 1;

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

impl TaskRef<'_> {
    /// This reference with its name copied, to keep in an error.
    pub fn to_owned_ref(&self) -> OwnedTaskRef {
        match *self {
            TaskRef::Id(id) => OwnedTaskRef::Id(id),
            TaskRef::Name(name) => OwnedTaskRef::Name(name.to_owned()),
        }
    }
}

/// A [`TaskRef`] that owns its name: how an error keeps a reference that
/// matched no task, exactly as the caller wrote it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OwnedTaskRef {
    /// A task id.
    Id(TaskId),
    /// A task name.
    Name(String),
}

impl OwnedTaskRef {
    /// The borrowed form, for lookups.
    pub fn as_task_ref(&self) -> TaskRef<'_> {
        match self {
            OwnedTaskRef::Id(id) => TaskRef::Id(*id),
            OwnedTaskRef::Name(name) => TaskRef::Name(name),
        }
    }
}

impl From<TaskId> for OwnedTaskRef {
    fn from(id: TaskId) -> Self {
        OwnedTaskRef::Id(id)
    }
}

impl From<&str> for OwnedTaskRef {
    fn from(name: &str) -> Self {
        OwnedTaskRef::Name(name.to_owned())
    }
}

impl From<String> for OwnedTaskRef {
    fn from(name: String) -> Self {
        OwnedTaskRef::Name(name)
    }
}

impl fmt::Display for OwnedTaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_task_ref().fmt(f)
    }
}

/// A task of a graph as kahn names it back to you: its id, and its name if
/// it was added with one. Errors and [`RunError`](crate::RunError) carry
/// these, so a caller can match on the id and print the name.
///
/// Shown as the name in backticks (`` `load` ``), or as `task #17` when the
/// task has no name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TaskLabel {
    id: TaskId,
    name: Option<String>,
}

impl TaskLabel {
    /// The label of task `id`, named `name` if it has a name.
    pub fn new(id: TaskId, name: Option<&str>) -> TaskLabel {
        TaskLabel {
            id,
            name: name.map(str::to_owned),
        }
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The task's name, if it was added with one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// How to look the task up again: by name if it has one, else by id.
    pub fn as_task_ref(&self) -> TaskRef<'_> {
        match &self.name {
            Some(name) => TaskRef::Name(name),
            None => TaskRef::Id(self.id),
        }
    }
}

impl fmt::Display for TaskLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_task_ref().fmt(f)
    }
}
