//! Task names: interned while building, looked up read-only once a graph is frozen.

use std::fmt;

use lasso::{Key, RodeoReader, Spur};

use crate::id::{TaskId, TaskRef};

/// A read-only view of a frozen graph's task names.
///
/// Every string in the interner is the name of exactly one task (edges look names
/// up, they never intern), so `by_key` maps every key to its task.
#[derive(Clone, Copy)]
pub(crate) struct Names<'a> {
    reader: &'a RodeoReader,
    /// The name key of each task, by task id; `None` for tasks added without a name.
    keys: &'a [Option<Spur>],
    /// The task of each name key, by `Spur::into_usize`.
    by_key: &'a [u32],
}

impl<'a> Names<'a> {
    pub(crate) fn new(
        reader: &'a RodeoReader,
        keys: &'a [Option<Spur>],
        by_key: &'a [u32],
    ) -> Self {
        Names {
            reader,
            keys,
            by_key,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The name task `id` was added with, if any.
    pub(crate) fn name(&self, id: TaskId) -> Option<&'a str> {
        let key = (*self.keys.get(id.index())?)?;
        Some(self.reader.resolve(&key))
    }

    /// The task a reference points at, if this graph has it.
    pub(crate) fn find(&self, task: TaskRef<'_>) -> Option<TaskId> {
        match task {
            TaskRef::Id(id) if id.index() < self.keys.len() => Some(id),
            TaskRef::Id(_) => None,
            TaskRef::Name(name) => {
                let key = self.reader.get(name)?;
                Some(TaskId::new(self.by_key[key.into_usize()]))
            }
        }
    }

    /// How to show task `id` in a message.
    pub(crate) fn label(&self, id: TaskId) -> TaskLabel<'a> {
        TaskLabel {
            id,
            name: self.name(id),
        }
    }
}

/// A task as shown to people: its name in backticks, or `task #id` when unnamed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TaskLabel<'n> {
    pub(crate) id: TaskId,
    pub(crate) name: Option<&'n str>,
}

impl fmt::Display for TaskLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name {
            Some(name) => write!(f, "`{name}`"),
            None => write!(f, "task {}", self.id),
        }
    }
}

impl fmt::Debug for Names<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Names")
            .field("tasks", &self.keys.len())
            .field("named", &self.reader.len())
            .finish()
    }
}
