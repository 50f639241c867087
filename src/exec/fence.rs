//! An asymmetric fence: a light side a worker pays on every announced task,
//! nearly nothing, and a heavy side an idle worker pays, rarely, to make
//! every light side it races with act as a full fence.
//!
//! The executor uses it for two Dekker-style handshakes in which one party
//! is on the hot path and the other is idle: a busy worker announcing the
//! ready work it holds while it runs a task, against an idle worker deciding
//! whether to rescue that work or go to sleep (`seat.rs`). Each side stores
//! its own flag, fences, then loads the other's; the fences guarantee that
//! at least one of them sees the other's store.
//!
//! On Linux the heavy side is `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`:
//! the kernel interrupts every CPU running a thread of this process and makes
//! it execute a full memory barrier, so the light side only has to keep the
//! compiler from reordering (a `compiler_fence`). This is the technique of
//! Linux's `membarrier(2)` man page and of folly's `asymmetricHeavyBarrier`;
//! the Rust memory model has no word for it, so the claims it supports are
//! argued in `seat.rs` for the symmetric fallback, which the model does cover
//! and which loom and Miri run.
//!
//! Elsewhere (other systems, a kernel or sandbox that refuses the call, loom,
//! Miri) both sides are `fence(SeqCst)`: correct everywhere, a few
//! nanoseconds more per announced task.

use std::sync::atomic::compiler_fence;

use crate::sync::atomic::{fence, Ordering};

/// Which kind of fences this process uses; decided once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fences {
    /// Whether `heavy` is a process-wide barrier (so `light` may be a
    /// compiler fence).
    asymmetric: bool,
}

impl Fences {
    /// Asymmetric fences if the system provides them, symmetric otherwise.
    pub(crate) fn detect() -> Fences {
        Fences {
            asymmetric: membarrier::available(),
        }
    }

    /// Asymmetric fences as a constant, for a path that runs only where
    /// [`detect`](Self::detect) found them (see `is_asymmetric`): the
    /// light side then compiles to nothing, with no test of the kind.
    pub(crate) const ASYMMETRIC: Fences = Fences { asymmetric: true };

    /// Whether [`heavy`](Self::heavy) is a process-wide barrier, so that
    /// [`light`](Self::light) is only a compiler fence.
    #[inline]
    pub(crate) fn is_asymmetric(&self) -> bool {
        self.asymmetric
    }

    /// Symmetric fences, whatever the system offers.
    #[cfg(loom)]
    pub(crate) fn symmetric() -> Fences {
        Fences { asymmetric: false }
    }

    /// The light side, on a busy worker's path: orders its store before its
    /// load, provided every racing party pays [`heavy`](Self::heavy).
    #[inline]
    pub(crate) fn light(&self) {
        if self.asymmetric {
            compiler_fence(Ordering::SeqCst);
        } else {
            fence(Ordering::SeqCst);
        }
    }

    /// The heavy side, on an idle worker's path: a full fence that also
    /// makes every concurrent [`light`](Self::light) act as one.
    pub(crate) fn heavy(&self) {
        if self.asymmetric {
            membarrier::barrier();
        } else {
            fence(Ordering::SeqCst);
        }
    }
}

#[cfg(all(target_os = "linux", not(loom), not(miri)))]
mod membarrier {
    use std::sync::OnceLock;

    // From <linux/membarrier.h>; kernel ABI since Linux 4.14.
    const CMD_QUERY: libc::c_int = 0;
    const CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
    const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

    fn call(cmd: libc::c_int) -> libc::c_long {
        // SAFETY: `membarrier` takes two integer arguments and touches no
        // memory of ours; an unsupported command returns -1 (EINVAL, ENOSYS,
        // or EPERM under a seccomp filter), which callers handle.
        unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                cmd,
                0 as libc::c_uint,
                0 as libc::c_int,
            )
        }
    }

    /// Whether this process can use private expedited barriers; registers
    /// it for them the first time.
    pub(super) fn available() -> bool {
        static AVAILABLE: OnceLock<bool> = OnceLock::new();
        *AVAILABLE.get_or_init(|| {
            let supported = call(CMD_QUERY);
            supported >= 0
                && supported & libc::c_long::from(CMD_PRIVATE_EXPEDITED) != 0
                && call(CMD_REGISTER_PRIVATE_EXPEDITED) == 0
        })
    }

    /// A full barrier on every CPU running a thread of this process.
    pub(super) fn barrier() {
        // Once registered, the command cannot fail for lack of support; a
        // failure here would leave a light fence unpaired, so it must not
        // pass silently.
        if call(CMD_PRIVATE_EXPEDITED) != 0 {
            eprintln!("kahn: internal error: membarrier failed after registration; aborting");
            std::process::abort();
        }
    }
}

#[cfg(not(all(target_os = "linux", not(loom), not(miri))))]
mod membarrier {
    pub(super) fn available() -> bool {
        false
    }

    pub(super) fn barrier() {
        unreachable!("asymmetric fences are never chosen here")
    }
}
