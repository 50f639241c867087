//! Fuzz inputs and their checks, one definition shared by the cargo-fuzz targets and the stable tests.
//!
//! The fuzz crate (`fuzz/src/lib.rs`) includes this folder with `#[path]`, so
//! a fuzz target, the replay of `fuzz/regressions/` in `cargo test`
//! (`fuzz_regressions.rs`), the stress test and the failure proptest all run
//! the very same check on the very same input type. Each input derives
//! `Arbitrary`, and its `Debug` prints a Rust reproducer
//! (`let case = ...;`) to paste into a test next to the `check` call.
//!
//! Checks return `Err(String)` rather than panic, so each caller reports a
//! failure its own way (libFuzzer crash, proptest shrink, test panic).

pub mod builder_ops;
pub mod edge_list;
pub mod execute;
pub mod reference;

use std::cell::Cell;
use std::sync::Once;

thread_local! {
    /// Set by a task just before it panics on purpose; read (and cleared) by
    /// the panic hook that [`quiet_intended_panics`] installs.
    static INTENDED: Cell<bool> = const { Cell::new(false) };
}

/// Marks the next panic on this thread as intended, so it is not printed and
/// does not count as a fuzzer crash; kahn catches it at the task boundary.
pub fn intend_panic() {
    INTENDED.with(|intended| intended.set(true));
}

/// Installs, once per process, a panic hook that ignores intended panics and
/// hands every other one to the hook that was there before. libFuzzer's hook
/// aborts on any panic, even one kahn catches; a panic that escapes `run` or
/// the builder is not intended and still aborts the fuzzer.
pub fn quiet_intended_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !INTENDED.with(|intended| intended.replace(false)) {
                previous(info);
            }
        }));
    });
}

/// `Err(message)` unless `condition`; the checks' `assert!`.
macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+));
        }
    };
}
pub(crate) use ensure;
