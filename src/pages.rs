//! Huge pages for a graph's large arrays, so the first build does not pay a page fault per 4 KiB.
//!
//! A graph's arrays are written once, front to back, and a large one is
//! mostly fresh memory in its first build: on Linux every 4 KiB page of it
//! costs a fault when first written (about 2 µs each on a VM, half the
//! first build of a million-task graph). Transparent huge pages back a
//! range with 2 MiB pages instead, 512 times fewer faults, but where the
//! system leaves them to the program (`madvise` mode, the usual default)
//! only for ranges the program asks for with `madvise(MADV_HUGEPAGE)`.
//! [`advise`] asks, for the whole 2 MiB pages inside a buffer kahn owns,
//! before it writes them.
//!
//! It is asked only where [`Arena::huge_pages`](crate::Arena::huge_pages)
//! turned it on (what a fresh huge page costs depends on the machine), and
//! elsewhere than Linux, or with THP off, it does nothing.

use std::alloc::Layout;

use bumpalo::collections::Vec as BumpVec;
use bumpalo::Bump;

/// The huge page size asked for, and the unit of the ranges advised.
const HUGE: usize = 2 << 20;

/// Ranges smaller than this are left alone: they hold no whole huge page.
pub(crate) const MIN_BYTES: usize = HUGE;

/// Asks for huge pages for the whole 2 MiB pages inside `len` bytes at
/// `ptr`, memory of a buffer the caller owns, when `on`.
#[inline]
pub(crate) fn advise(on: bool, ptr: *const u8, len: usize) {
    if !on || len < MIN_BYTES {
        return;
    }
    let start = (ptr as usize).next_multiple_of(HUGE);
    let end = (ptr as usize).saturating_add(len) / HUGE * HUGE;
    if end > start {
        madvise_huge(start, end - start);
    }
}

#[cfg(all(target_os = "linux", not(miri)))]
fn madvise_huge(start: usize, len: usize) {
    // `MADV_HUGEPAGE` changes only how the kernel backs the pages of the
    // range, never their contents or whether they are mapped. An error
    // (THP unsupported or off) leaves things as they were, and is ignored.
    // SAFETY: the range is whole pages inside a live allocation of the
    // caller's (see `advise`), whose contents the advice cannot change.
    unsafe {
        libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
    }
}

#[cfg(not(all(target_os = "linux", not(miri))))]
fn madvise_huge(_start: usize, _len: usize) {}

/// Asks for huge pages for a bump vector's room beyond its items, and for
/// the free room of its bump's current chunk, where the next arrays go.
#[inline]
pub(crate) fn advise_spare<T>(on: bool, v: &BumpVec<'_, T>) {
    let item = std::mem::size_of::<T>();
    let spare = (v.capacity() - v.len()) * item;
    if on && spare >= MIN_BYTES {
        advise(on, v.as_ptr().wrapping_add(v.len()).cast(), spare);
        advise_room(on, v.bump());
    }
}

/// Asks for huge pages for the free room of `bump`'s current chunk: a
/// large array that needed a new chunk leaves the rest of it to the
/// arrays after it, which would otherwise fault in by 4 KiB.
pub(crate) fn advise_room(on: bool, bump: &Bump) {
    if !on || bump.chunk_capacity() < MIN_BYTES {
        return;
    }
    // One byte from the bump marks where its free room ends: the room is
    // the `chunk_capacity` bytes just below the bump's newest allocation.
    let top: *const u8 = bump.alloc(0u8);
    let room = bump.chunk_capacity();
    advise(on, top.wrapping_sub(room), room);
}

/// Asks for huge pages for a vector's room beyond its items.
#[inline]
pub(crate) fn advise_vec_spare<T>(on: bool, v: &Vec<T>) {
    let item = std::mem::size_of::<T>();
    let spare = (v.capacity() - v.len()) * item;
    advise(on, v.as_ptr().wrapping_add(v.len()).cast(), spare);
}

/// `len` copies of `value` in the bump, in huge pages where large.
pub(crate) fn alloc_filled<T: Copy>(on: bool, bump: &Bump, len: usize, value: T) -> &mut [T] {
    if !on || len.saturating_mul(std::mem::size_of::<T>()) < MIN_BYTES {
        return bump.alloc_slice_fill_copy(len, value);
    }
    let mut v = BumpVec::with_capacity_in(len, bump);
    advise_spare(on, &v);
    v.resize(len, value);
    v.into_bump_slice_mut()
}

/// A bump with one chunk of `bytes`, in huge pages where large; `None`
/// if the allocator cannot provide it.
pub(crate) fn bump_with_capacity(on: bool, bytes: usize) -> Option<Bump> {
    let mut bump = Bump::try_with_capacity(bytes).ok()?;
    let room = bump.chunk_capacity();
    if on && room >= MIN_BYTES {
        // The chunk's free room, taken as one allocation to learn where it
        // is, advised, and given back by the reset (which keeps the chunk).
        let layout = Layout::from_size_align(room, 1).ok()?;
        if let Ok(ptr) = bump.try_alloc_layout(layout) {
            advise(on, ptr.as_ptr(), room);
        }
        bump.reset();
    }
    Some(bump)
}

/// Field `field` (`"VmFlags"`, `"Rss"`, …) of the mapping that holds
/// `addr`, from `/proc/self/smaps`: what the kernel did with one array.
#[cfg(all(test, target_os = "linux", not(miri)))]
pub(crate) fn smaps_field(addr: usize, field: &str) -> String {
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
    let mut inside = false;
    for line in smaps.lines() {
        let range = line.split_whitespace().next().unwrap_or("");
        if let Some((lo, hi)) = range.split_once('-') {
            if let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
            {
                inside = (lo..hi).contains(&addr);
                continue;
            }
        }
        if let Some(value) = line.strip_prefix(field).and_then(|l| l.strip_prefix(':')) {
            if inside {
                return value.trim().to_owned();
            }
        }
    }
    panic!("no mapping holds {addr:#x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `VmFlags` of the mapping that holds `addr`.
    #[cfg(all(target_os = "linux", not(miri)))]
    fn vm_flags(addr: usize) -> String {
        smaps_field(addr, "VmFlags")
    }

    #[test]
    #[cfg(all(target_os = "linux", not(miri)))]
    fn large_buffers_are_advised_and_only_when_asked() {
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage").exists() {
            return; // A kernel without THP refuses the advice.
        }
        let bump = Bump::new();
        let len = 4 * MIN_BYTES / 4;
        let advised = alloc_filled(true, &bump, len, 1u32);
        let middle = advised.as_ptr() as usize + 2 * MIN_BYTES;
        assert!(
            vm_flags(middle).split_whitespace().any(|f| f == "hg"),
            "{}",
            vm_flags(middle)
        );
        let other = Bump::new();
        let plain = alloc_filled(false, &other, len, 1u32);
        let middle = plain.as_ptr() as usize + 2 * MIN_BYTES;
        assert!(
            !vm_flags(middle).split_whitespace().any(|f| f == "hg"),
            "{}",
            vm_flags(middle)
        );
        // A chunk's free room, advised before anything is in it.
        let chunk = Bump::with_capacity(4 * MIN_BYTES);
        advise_room(true, &chunk);
        let inside = chunk.alloc_slice_fill_copy(3 * MIN_BYTES / 4, 0u32);
        let middle = inside.as_ptr() as usize + 3 * MIN_BYTES / 2;
        assert!(
            vm_flags(middle).split_whitespace().any(|f| f == "hg"),
            "{}",
            vm_flags(middle)
        );
    }

    #[test]
    fn buffers_built_through_here_hold_what_was_asked() {
        let bump = Bump::new();
        let filled = alloc_filled(true, &bump, (MIN_BYTES / 4) + 3, 7u32);
        assert!(filled.iter().all(|&x| x == 7));
        assert_eq!(filled.len(), MIN_BYTES / 4 + 3);
        let big = bump_with_capacity(true, 3 * MIN_BYTES).expect("memory");
        assert!(
            big.chunk_capacity() >= 3 * MIN_BYTES,
            "the reset kept the chunk"
        );
        assert_eq!(
            big.allocated_bytes(),
            bump_with_capacity(false, 3 * MIN_BYTES)
                .unwrap()
                .allocated_bytes()
        );
    }
}
