//! Task names: one table per arena that stores every name once and finds a
//! task by name in about two cache misses ([`NameTable`]), and the
//! read-only view a frozen graph keeps of it ([`Names`]).
//!
//! # Why not an interner
//!
//! A name is looked up far more often than it is added (twice per edge by
//! name), and in a graph of a million tasks every lookup misses the caches.
//! An interner (lasso, which this replaced) maps a string to a key in a hash
//! table, the key to the string in a second array, and kahn then mapped the
//! key to the task in a third: four or five misses per lookup. Here a slot
//! of the hash table holds 32 bits of the name's hash and where the name's
//! record is, and the record holds the name and its task: one miss on the
//! slot, one on the record. [`NameTable::find_batch`] looks up several
//! names with their misses overlapped.
//!
//! # Layout
//!
//! - `records`: one per named task, in task order: the task (`u32`,
//!   little-endian), the name's length (LEB128: one byte below 128), then
//!   the name;
//! - `starts[v]`: where task `v`'s record starts, or [`UNNAMED`]; tasks
//!   after the last named one have no entry, so a graph without names keeps
//!   nothing here;
//! - `slots`: open addressing with linear probing, a power of two long and
//!   at most three quarters full; a slot is `hash32 << 32 | (start + 1)`,
//!   and 0 when empty. The home slot is the top bits of `hash32`, so the
//!   table grows without hashing a name again.
//!
//! So a named task costs 4 bytes in `starts`, 5 plus its name's length in
//! `records` (for names shorter than 128 bytes), and 8 to 16 bytes of
//! slots; an unnamed one, 4 bytes if a named task follows it, else nothing.

use std::fmt;
use std::hash::BuildHasher;

use crate::id::{TaskId, TaskLabel, TaskRef};
use crate::pages;
use crate::prefetch::prefetch;

/// `starts` of a task without a name.
const UNNAMED: u32 = u32::MAX;

/// Why a name could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejected {
    /// Another task has the name.
    Taken(u32),
    /// The names would take more than [`NameTable::BYTE_LIMIT`] bytes.
    TooLong,
}

/// Every task name of the graph being built or last built in an arena.
/// Cleared, not freed, between graphs, so a rebuild allocates nothing.
pub(crate) struct NameTable {
    records: Vec<u8>,
    starts: Vec<u32>,
    slots: Vec<u64>,
    /// Named tasks (occupied slots).
    named: usize,
    /// Tasks the builder said to expect: room for their names is made when
    /// the first name arrives (not before: a graph without names needs none).
    expected: usize,
    /// Seeded per table, so names from input you do not control cannot be
    /// chosen to collide.
    hasher: foldhash::quality::RandomState,
    /// Whether large buffers ask for huge pages (`pages.rs`).
    pub(crate) huge_pages: bool,
}

/// Names resolved together by [`NameTable::find_many`]: enough loads in
/// flight to overlap their misses, few enough that the lines they bring
/// stay in the first-level cache until used.
pub(crate) const BLOCK: usize = 64;

impl NameTable {
    /// The most bytes the records of one graph's names may take (offsets
    /// are `u32`, and a slot stores one plus an offset).
    pub(crate) const BYTE_LIMIT: usize = u32::MAX as usize - 1;

    pub(crate) fn new() -> NameTable {
        NameTable {
            records: Vec::new(),
            starts: Vec::new(),
            slots: Vec::new(),
            named: 0,
            expected: 0,
            hasher: foldhash::quality::RandomState::default(),
            huge_pages: false,
        }
    }

    /// Forgets every name, keeping the memory for a graph of the same
    /// size; but an index that is mostly empty (sized for a hint far above
    /// the names that came) is freed rather than wiped, so that an
    /// oversized hint costs one allocation, not a wipe of it per rebuild.
    pub(crate) fn clear(&mut self) {
        self.records.clear();
        self.starts.clear();
        if self.named.saturating_mul(8) < self.slots.len() {
            self.slots = Vec::new();
        } else if self.named > 0 {
            self.slots.fill(0);
        }
        self.named = 0;
        self.expected = 0;
    }

    /// Expects `tasks` more tasks, of `known` so far: if they have names,
    /// room for them is made when the first name arrives. The caller caps
    /// hints.
    pub(crate) fn reserve(&mut self, known: usize, tasks: usize) {
        self.expected = known.saturating_add(tasks);
    }

    /// Named tasks.
    pub(crate) fn named(&self) -> usize {
        self.named
    }

    /// Bytes held from the heap.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.records.capacity() + 4 * self.starts.capacity() + 8 * self.slots.capacity()
    }

    /// [`push_hashed`](Self::push_hashed), hashing the name here.
    #[cfg(test)]
    pub(crate) fn push_named(&mut self, task: u32, name: &str) -> Result<(), Rejected> {
        self.push_hashed(task, name, self.hash(name))
    }

    /// Names task `task` (a new task, after every named one) `name` (not
    /// empty), already hashed with [`hash`](Self::hash); on error, changes
    /// no name (the index may have grown).
    pub(crate) fn push_hashed(&mut self, task: u32, name: &str, hash: u32) -> Result<(), Rejected> {
        debug_assert_eq!(hash, self.hash(name));
        if self.named + 1 > Self::room(self.slots.len()) {
            // Full, or the first name: grow for the names the builder
            // expects (the offsets too, on the first, as far as the
            // allocator allows), or else double.
            if self.starts.is_empty() && self.starts.try_reserve(self.expected).is_ok() {
                pages::advise_vec_spare(self.huge_pages, &self.starts);
            }
            self.resize(Self::capacity_for(self.expected.max(self.named + 1)));
        }
        let mut at = self.home(hash);
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                break;
            }
            if (slot >> 32) as u32 == hash && self.is_called(slot, name) {
                return Err(Rejected::Taken(self.task_of(slot)));
            }
            at = self.next(at);
        }
        // The record's header: the task, then the name's length in LEB128.
        let mut head = [0u8; 4 + 10];
        head[..4].copy_from_slice(&task.to_le_bytes());
        let mut used = 4;
        let mut len = name.len();
        while len >= 0x80 {
            head[used] = len as u8 | 0x80;
            used += 1;
            len >>= 7;
        }
        head[used] = len as u8;
        let head = &head[..=used];
        let start = self.records.len();
        let bytes = head.len() + name.len();
        if start + bytes > Self::BYTE_LIMIT {
            return Err(Rejected::TooLong);
        }
        debug_assert!(
            task as usize >= self.starts.len(),
            "names come in task order"
        );
        if self.records.capacity() - start < bytes {
            self.grow_records(bytes);
        }
        // The unnamed tasks since the last named one.
        self.starts.resize(task as usize, UNNAMED);
        self.starts.push(start as u32);
        self.records.extend_from_slice(head);
        self.records.extend_from_slice(name.as_bytes());
        self.slots[at] = slot_of(hash, start as u32);
        self.named += 1;
        Ok(())
    }

    /// Starts loading the slot where a name hashed to `hash` would go, so
    /// that the cache misses of names about to be added overlap instead of
    /// coming one per [`push_hashed`](Self::push_hashed).
    #[inline]
    pub(crate) fn prefetch_home(&self, hash: u32) {
        if !self.slots.is_empty() {
            prefetch(self.slots.as_ptr().wrapping_add(self.home(hash)));
        }
    }

    /// The name of task `v`, if it has one (`None` too for a task the
    /// graph does not have).
    #[inline]
    pub(crate) fn name(&self, v: usize) -> Option<&str> {
        let start = *self.starts.get(v)?;
        if start == UNNAMED {
            return None;
        }
        // Only whole `&str`s are ever stored, so this cannot fail.
        std::str::from_utf8(self.name_bytes(start as usize)).ok()
    }

    /// The task called `name`.
    pub(crate) fn find(&self, name: &str) -> Option<u32> {
        if self.named == 0 {
            return None;
        }
        let hash = self.hash(name);
        self.probe(name, hash, self.home(hash))
    }

    /// Finds the task of each of `names` into `found`, [`BLOCK`] names at
    /// a time in three passes, so that each pass's cache misses overlap
    /// rather than queue: hash every name and start loading its home slot;
    /// read each slot and start loading its record; then compare.
    pub(crate) fn find_many(&self, names: &[&str], found: &mut [Option<u32>]) {
        debug_assert_eq!(names.len(), found.len());
        if self.named == 0 {
            found.fill(None);
            return;
        }
        let mut hashes = [0u32; BLOCK];
        let mut homes = [0usize; BLOCK];
        let mut slots = [0u64; BLOCK];
        for (names, found) in names.chunks(BLOCK).zip(found.chunks_mut(BLOCK)) {
            for name in names {
                prefetch(name.as_ptr());
            }
            for (k, name) in names.iter().enumerate() {
                hashes[k] = self.hash(name);
                homes[k] = self.home(hashes[k]);
                prefetch(self.slots.as_ptr().wrapping_add(homes[k]));
            }
            for k in 0..names.len() {
                slots[k] = self.slots[homes[k]];
                if slots[k] != 0 {
                    prefetch(self.records.as_ptr().wrapping_add(slot_start(slots[k])));
                }
            }
            for (k, found) in found.iter_mut().enumerate() {
                let slot = slots[k];
                *found = if slot == 0 {
                    None
                } else if (slot >> 32) as u32 == hashes[k] && self.is_called(slot, names[k]) {
                    Some(self.task_of(slot))
                } else {
                    self.probe(names[k], hashes[k], self.next(homes[k]))
                };
            }
        }
    }

    /// Finds the task of each of `names`: first every home slot, each load
    /// independent of the others, then each candidate's record, probing on
    /// where it is not the one.
    #[inline]
    pub(crate) fn find_batch<const N: usize>(&self, names: &[&str; N]) -> [Option<u32>; N] {
        if self.named == 0 {
            return [None; N];
        }
        // Plain loops: `array::from_fn`'s closures are not inlined.
        let mut hashes = [0u32; N];
        let mut homes = [0usize; N];
        let mut first = [0u64; N];
        for k in 0..N {
            hashes[k] = self.hash(names[k]);
            homes[k] = self.home(hashes[k]);
            first[k] = self.slots[homes[k]];
        }
        let mut found = [None; N];
        for k in 0..N {
            let slot = first[k];
            found[k] = if slot == 0 {
                None
            } else if (slot >> 32) as u32 == hashes[k] && self.is_called(slot, names[k]) {
                Some(self.task_of(slot))
            } else {
                self.probe(names[k], hashes[k], self.next(homes[k]))
            };
        }
        found
    }

    /// Probes from slot `at` for `name`, whose hash is `hash`.
    #[inline]
    fn probe(&self, name: &str, hash: u32, mut at: usize) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                return None;
            }
            if (slot >> 32) as u32 == hash && self.is_called(slot, name) {
                return Some(self.task_of(slot));
            }
            at = self.next(at);
        }
    }

    /// The `u32` at `at` in the records.
    #[inline]
    fn word(&self, at: usize) -> u32 {
        let bytes: [u8; 4] = self.records[at..at + 4].try_into().expect("four bytes");
        u32::from_le_bytes(bytes)
    }

    /// The name of the record at `start`.
    #[inline]
    fn name_bytes(&self, start: usize) -> &[u8] {
        let first = self.records[start + 4];
        if first < 0x80 {
            // Names under 128 bytes: one length byte.
            let at = start + 5;
            return &self.records[at..at + usize::from(first)];
        }
        let mut at = start + 4;
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let byte = self.records[at];
            at += 1;
            len |= usize::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                break;
            }
            shift += 7;
        }
        &self.records[at..at + len]
    }

    /// Whether the name of a full slot's record is `name`.
    #[inline]
    fn is_called(&self, slot: u64, name: &str) -> bool {
        self.name_bytes(slot_start(slot)) == name.as_bytes()
    }

    /// The task of a full slot's record.
    #[inline]
    fn task_of(&self, slot: u64) -> u32 {
        self.word(slot_start(slot))
    }

    /// Makes room for `more` record bytes, at least doubling.
    #[cold]
    fn grow_records(&mut self, more: usize) {
        self.records.reserve(more.max(self.records.len()));
        pages::advise_vec_spare(self.huge_pages, &self.records);
    }

    /// Rehashes into `capacity` slots (a power of two), from the stored
    /// hashes alone.
    fn resize(&mut self, capacity: usize) {
        if self.named == 0 && self.slots.len() >= capacity {
            return;
        }
        // Zeroed by the allocator: a large index comes as fresh pages,
        // faulted in only where names land (an index sized for a hint far
        // above the names that come costs address space, not time).
        let slots = vec![0; capacity];
        pages::advise(self.huge_pages, slots.as_ptr().cast(), 8 * capacity);
        let old = std::mem::replace(&mut self.slots, slots);
        for slot in old.into_iter().filter(|&s| s != 0) {
            let mut at = self.home((slot >> 32) as u32);
            while self.slots[at] != 0 {
                at = self.next(at);
            }
            self.slots[at] = slot;
        }
    }

    /// How many names `capacity` slots take (three quarters).
    fn room(capacity: usize) -> usize {
        capacity / 4 * 3
    }

    /// The slots for `names` names: a power of two, at least 16.
    fn capacity_for(names: usize) -> usize {
        let mut capacity = 16usize;
        while Self::room(capacity) < names {
            capacity *= 2;
        }
        capacity
    }

    /// A name's hash, as the table keys it.
    #[inline]
    pub(crate) fn hash(&self, name: &str) -> u32 {
        (self.hasher.hash_one(name) >> 32) as u32
    }

    /// The slot a hash probes first: its top bits.
    #[inline]
    fn home(&self, hash: u32) -> usize {
        if self.slots.is_empty() {
            return 0;
        }
        let bits = self.slots.len().trailing_zeros();
        (u64::from(hash) >> (32 - bits)) as usize
    }

    #[inline]
    fn next(&self, at: usize) -> usize {
        (at + 1) & (self.slots.len() - 1)
    }
}

/// The slot of the record at `start`, whose name's hash is `hash`.
#[inline]
fn slot_of(hash: u32, start: u32) -> u64 {
    (u64::from(hash) << 32) | (u64::from(start) + 1)
}

/// Where the record of a full slot starts.
#[inline]
fn slot_start(slot: u64) -> usize {
    (slot as u32 - 1) as usize
}

impl Default for NameTable {
    fn default() -> Self {
        NameTable::new()
    }
}

impl fmt::Debug for NameTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NameTable")
            .field("named", &self.named)
            .field("record_bytes", &self.records.len())
            .field("slots", &self.slots.len())
            .finish()
    }
}

/// A read-only view of a frozen graph's task names.
#[derive(Clone, Copy)]
pub(crate) struct Names<'a> {
    table: &'a NameTable,
    /// Tasks in the graph, named or not.
    tasks: usize,
}

impl<'a> Names<'a> {
    pub(crate) fn new(table: &'a NameTable, tasks: usize) -> Self {
        Names { table, tasks }
    }

    pub(crate) fn len(&self) -> usize {
        self.tasks
    }

    /// The name task `id` was added with, if any.
    pub(crate) fn name(&self, id: TaskId) -> Option<&'a str> {
        self.table.name(id.index())
    }

    /// The task a reference points at, if this graph has it.
    pub(crate) fn find(&self, task: TaskRef<'_>) -> Option<TaskId> {
        match task {
            TaskRef::Id(id) if id.index() < self.tasks => Some(id),
            TaskRef::Id(_) => None,
            TaskRef::Name(name) => self.table.find(name).map(TaskId::new),
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
            .field("tasks", &self.tasks)
            .field("named", &self.table.named())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_name_across_growth_and_tells_unnamed_tasks_apart() {
        let mut table = NameTable::new();
        for i in 0..5_000u32 {
            if i % 7 != 3 {
                table.push_named(i, &format!("task-{i}")).unwrap();
            }
        }
        assert_eq!(table.named(), 5_000 - 714);
        for i in 0..5_000u32 {
            let name = format!("task-{i}");
            let expected = (i % 7 != 3).then_some(i);
            assert_eq!(table.find(&name), expected, "{name}");
            assert_eq!(table.name(i as usize), expected.map(|_| name.as_str()));
        }
        let names: Vec<String> = (0..6_000).map(|i| format!("task-{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut found = vec![None; names.len()];
        table.find_many(&names, &mut found);
        for (i, found) in found.into_iter().enumerate() {
            assert_eq!(found, table.find(names[i]), "{}", names[i]);
        }
        assert_eq!(table.find("task-3"), None);
        assert_eq!(table.find(""), None);
    }

    #[test]
    fn names_of_every_length_class_round_trip() {
        // Lengths around each LEB128 boundary, so records with one, two and
        // three length bytes sit side by side.
        let lengths = [1, 2, 126, 127, 128, 129, 300, 16_383, 16_384, 20_000];
        let names: Vec<String> = lengths
            .iter()
            .enumerate()
            .map(|(i, &len)| {
                let mut name = format!("{i}-");
                name.extend(std::iter::repeat_n('x', len.max(name.len()) - name.len()));
                name
            })
            .collect();
        let mut table = NameTable::new();
        for (i, name) in names.iter().enumerate() {
            table.push_named(i as u32, name).unwrap();
        }
        for (i, name) in names.iter().enumerate() {
            assert_eq!(table.find(name), Some(i as u32), "length {}", name.len());
            assert_eq!(table.name(i), Some(name.as_str()));
            let shorter = &name[..name.len() - 1];
            assert!(table
                .find(shorter)
                .is_none_or(|t| names[t as usize] == shorter));
        }
    }

    #[test]
    fn a_taken_name_is_rejected_and_changes_nothing() {
        let mut table = NameTable::new();
        table.push_named(0, "extract").unwrap();
        assert_eq!(table.push_named(2, "extract"), Err(Rejected::Taken(0)));
        assert_eq!(table.named(), 1);
        table.push_named(2, "load").unwrap();
        assert_eq!(table.find("load"), Some(2));
        assert_eq!(table.name(1), None, "task 1 has no name");
        assert_eq!(table.name(3), None, "no task 3 yet");
    }

    #[test]
    fn an_index_sized_for_a_far_larger_hint_is_freed_not_wiped() {
        let mut table = NameTable::new();
        table.reserve(0, 1 << 20);
        table.push_named(0, "only").unwrap();
        assert!(table.slots.len() >= 1 << 20);
        table.clear();
        assert!(table.slots.is_empty(), "a mostly empty index is freed");
        assert_eq!(table.find("only"), None);
        table.push_named(0, "again").unwrap();
        assert_eq!(table.find("again"), Some(0));
        assert!(
            table.slots.len() < 1 << 10,
            "sized for the names, not the old hint"
        );
    }

    /// Resident memory of this process, in bytes.
    #[cfg(target_os = "linux")]
    fn resident() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
        let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * 4096
    }

    #[test]
    #[cfg(all(target_os = "linux", not(miri)))]
    fn an_index_sized_for_a_huge_hint_is_not_written_whole() {
        let mut table = NameTable::new();
        table.reserve(0, 1 << 24);
        let before = resident();
        table.push_named(0, "only").unwrap();
        assert!(table.slots.len() >= 1 << 24, "sized for the hint");
        let grew = resident().saturating_sub(before);
        assert!(
            grew < 128 << 20,
            "{} MiB of a 256 MiB index touched",
            grew >> 20
        );
    }

    #[test]
    fn clearing_keeps_the_memory_and_forgets_the_names() {
        let mut table = NameTable::new();
        table.reserve(0, 1_000);
        for i in 0..1_000 {
            table.push_named(i, &i.to_string()).unwrap();
        }
        let held = table.heap_bytes();
        table.clear();
        assert_eq!(table.find("7"), None);
        for i in 0..1_000 {
            table.push_named(i, &format!("{i}")).unwrap();
        }
        assert_eq!(
            table.heap_bytes(),
            held,
            "a rebuild of the same size regrows nothing"
        );
    }
}
