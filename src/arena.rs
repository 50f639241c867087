//! The resettable arena a graph is built into: one bump allocator and one name table.

use bumpalo::Bump;

use crate::builder::GraphBuilder;
use crate::names::NameTable;
use crate::pages;

/// Memory for building graphs, reused from one batch to the next.
///
/// An `Arena` owns a [`bumpalo`] allocator that holds every per-task
/// structure of a graph (task closures, adjacency, compiled CSR arrays), and a
/// table of task names. [`Arena::builder`] starts a graph that
/// borrows the arena; the borrow checker keeps the arena from being reused
/// while that graph, or any report of its runs, is alive:
///
/// ```compile_fail
/// let mut arena = kahn::Arena::new();
/// let graph = arena.builder::<()>().build().unwrap();
/// arena.reset(); // error: `arena` is still borrowed by `graph`
/// drop(graph);
/// ```
///
/// Once the graph is gone, the next [`builder`](Arena::builder) call rewinds
/// the arena and reuses its memory: a batch loop that rebuilds a graph of the
/// same size makes no heap allocation per task after the first batches.
#[derive(Debug, Default)]
pub struct Arena {
    bump: Bump,
    names: NameTable,
}

impl Arena {
    /// An empty arena; it grows on first use.
    pub fn new() -> Arena {
        Arena::default()
    }

    /// An arena with `bytes` of bump memory ready, for a known graph size.
    ///
    /// # Panics
    /// If the allocator cannot provide `bytes`, as `Vec::with_capacity` does.
    pub fn with_capacity(bytes: usize) -> Arena {
        Arena {
            bump: Bump::with_capacity(bytes),
            names: NameTable::new(),
        }
    }

    /// Whether the arena asks the kernel for huge pages for its large
    /// arrays (off by default; Linux only, elsewhere it does nothing).
    ///
    /// A graph's arrays are written once, front to back, and in the first
    /// build most of them are fresh memory: in 4 KiB pages, that is one
    /// page fault per 4 KiB, about half the first build of a
    /// million-task graph. With this on, the arena asks for transparent
    /// huge pages (`madvise(MADV_HUGEPAGE)`) for the whole 2 MiB pages
    /// inside its arrays of 2 MiB and more and inside the free room of
    /// their bump chunks (from now on, and for the chunk it has), so
    /// small graphs are untouched.
    ///
    /// Measure before you turn it on: it is off by default because what a
    /// fresh huge page costs depends on the machine. On the VMs kahn is
    /// developed on, which hand free memory back to their host, a first
    /// build of a million tasks took half the time in most processes, but
    /// at ten million tasks half the processes took four to six times
    /// longer (BENCHMARKS.md, "The Build issue"). Huge pages can also hold
    /// up to 2 MiB more per array resident, and where the system is short
    /// of free huge pages the kernel may pause to make one (the `defrag`
    /// setting of `/sys/kernel/mm/transparent_hugepage`).
    pub fn huge_pages(&mut self, on: bool) -> &mut Arena {
        self.names.huge_pages = on;
        pages::advise_room(on, &self.bump);
        self
    }

    /// Starts a new graph in this arena, rewinding whatever the last graph used.
    ///
    /// `T` is the type every task outputs (use `()` when tasks only have
    /// effects). Taking `&mut self` proves the previous graph is gone, so its
    /// memory is reused rather than kept.
    pub fn builder<T>(&mut self) -> GraphBuilder<'_, T> {
        self.reset();
        GraphBuilder::new(&self.bump, &mut self.names)
    }

    /// Rewinds the arena: all graph memory becomes free for the next graph.
    ///
    /// The bump keeps one chunk. If the last graph needed several (it grew
    /// them as it went), that one chunk is made as large as all of them, so
    /// the next graph of the same size fits at once rather than growing
    /// (and faulting in) new chunks again for two more rebuilds. Where the
    /// allocator cannot give that much at once (the chunks may hold room a
    /// `reserve` hint asked for), the arena keeps its last chunk.
    pub fn reset(&mut self) {
        let held = self.bump.allocated_bytes();
        self.bump.reset();
        if self.bump.allocated_bytes() < held {
            if let Some(one) = pages::bump_with_capacity(self.names.huge_pages, held) {
                self.bump = one;
            }
        }
        self.names.clear();
    }

    /// Bytes the arena holds from the heap, used or not: its bump chunks
    /// and its name table.
    pub fn allocated_bytes(&self) -> usize {
        self.bump.allocated_bytes() + self.names.heap_bytes()
    }
}
