//! A counting global allocator and the resident-memory probes: how many heap
//! allocations a piece of work makes and how high the heap (and RSS) went.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Forwards to the system allocator and keeps counts on the side.
pub struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static PEAK_BYTES: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE_BYTES.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK_BYTES.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System` upholds the `GlobalAlloc` contract; the counters
// are atomics that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        grew(layout.size());
        // SAFETY: the caller upholds `alloc`'s contract, which is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        grew(layout.size());
        // SAFETY: the caller upholds `alloc_zeroed`'s contract, which is `System`'s.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by us, hence by `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by us, hence by `System`, with `layout`,
        // and the caller upholds the rest of `realloc`'s contract.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE_BYTES.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        new
    }
}

/// Heap allocations (and reallocations) made so far by the whole process.
pub fn allocations() -> usize {
    ALLOCATIONS.load(Ordering::SeqCst)
}

/// Bytes currently allocated.
pub fn live_bytes() -> usize {
    LIVE_BYTES.load(Ordering::SeqCst)
}

/// Starts a new high-water mark at the current live bytes; returns them.
pub fn reset_peak() -> usize {
    let live = live_bytes();
    PEAK_BYTES.store(live, Ordering::SeqCst);
    live
}

/// The most bytes allocated at once since the last [`reset_peak`].
pub fn peak_bytes() -> usize {
    PEAK_BYTES.load(Ordering::SeqCst)
}

/// Resident-set probes from `/proc/self`; `None` where Linux does not offer them.
pub mod rss {
    fn status_kib(field: &str) -> Option<usize> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        line[field.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<usize>()
            .ok()
            .map(|kib| kib * 1024)
    }

    /// Current resident bytes (`VmRSS`).
    pub fn current() -> Option<usize> {
        status_kib("VmRSS:")
    }

    /// Peak resident bytes since the last successful [`reset_peak`] (`VmHWM`).
    pub fn peak() -> Option<usize> {
        status_kib("VmHWM:")
    }

    /// Resets `VmHWM` to the current RSS by writing `5` to
    /// `/proc/self/clear_refs`; returns the current RSS, or `None` if the
    /// kernel refused (the peak is then not resettable, and not reported).
    pub fn reset_peak() -> Option<usize> {
        std::fs::write("/proc/self/clear_refs", "5").ok()?;
        current()
    }
}
