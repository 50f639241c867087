//! A cache hint: start loading a line that will be read soon, and go on.

/// Whether [`prefetch`] does anything on this target: where it does not,
/// code that would pay to reach it (a worker looking ahead) need not.
pub(crate) const HINTS: bool = cfg!(target_arch = "x86_64");

/// Starts loading the cache line at `p` and returns at once: a hint that
/// changes nothing the program computes. Used where a miss is known to be
/// coming and something else can run meanwhile (a name lookup's next
/// block, a long task's successors).
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // A prefetch neither faults nor reads anything the program can see,
    // whatever the address (callers pass addresses in or just past their
    // buffers, made with `wrapping_add`).
    // SAFETY: `_mm_prefetch` needs SSE, which every x86-64 CPU has.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
