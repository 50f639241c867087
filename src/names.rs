//! Task names: interned while building ([`NameStore`], open), looked up
//! read-only once a graph is frozen ([`Names`]), and shown in messages.

use std::fmt;
use std::num::NonZeroUsize;

use lasso::{Capacity, Key, Rodeo, RodeoReader, Spur};

use crate::id::{TaskId, TaskLabel, TaskRef};

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

    /// How to show task `id` in a message: by name if it has one, else by
    /// id (`TaskRef`'s `Display`), without copying the name.
    pub(crate) fn shown(&self, id: TaskId) -> TaskRef<'a> {
        match self.name(id) {
            Some(name) => TaskRef::Name(name),
            None => TaskRef::Id(id),
        }
    }

    /// Task `id` as errors carry it: id and name, owned.
    pub(crate) fn label(&self, id: TaskId) -> TaskLabel {
        TaskLabel::new(id, self.name(id))
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

/// The interner's stage: open while a builder adds names, frozen into a
/// `Sync` reader once a graph is built.
#[derive(Debug, Default)]
pub(crate) enum NameStore {
    #[default]
    Empty,
    Open(Rodeo),
    Frozen(RodeoReader),
}

impl NameStore {
    /// Makes the store an empty, open interner, keeping the memory of the
    /// last one where lasso allows it (a frozen reader cannot be reopened, so
    /// it is replaced by an interner sized for as many names).
    pub(crate) fn reopen(&mut self) {
        match self {
            NameStore::Open(rodeo) => rodeo.clear(),
            NameStore::Frozen(reader) => {
                let strings = reader.len();
                let bytes = reader.strings().map(str::len).sum::<usize>();
                let capacity = Capacity::new(
                    strings,
                    NonZeroUsize::new(bytes).unwrap_or(NonZeroUsize::MIN),
                );
                *self = NameStore::Open(Rodeo::with_capacity(capacity));
            }
            NameStore::Empty => *self = NameStore::Open(Rodeo::new()),
        }
    }

    pub(crate) fn rodeo(&mut self) -> &mut Rodeo {
        if !matches!(self, NameStore::Open(_)) {
            self.reopen();
        }
        match self {
            NameStore::Open(rodeo) => rodeo,
            _ => unreachable!("reopen leaves the store open"),
        }
    }

    /// Freezes the interner and hands out the read-only half.
    pub(crate) fn freeze(&mut self) -> &RodeoReader {
        if let NameStore::Open(_) = self {
            let NameStore::Open(rodeo) = std::mem::take(self) else {
                unreachable!()
            };
            *self = NameStore::Frozen(rodeo.into_reader());
        } else if let NameStore::Empty = self {
            *self = NameStore::Frozen(Rodeo::new().into_reader());
        }
        match self {
            NameStore::Frozen(reader) => reader,
            _ => unreachable!("the store was frozen above"),
        }
    }
}
