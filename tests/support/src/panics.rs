//! The one panic silencer: a task that panics on purpose says so first, and its panic is neither printed nor taken for a crash.
//!
//! kahn catches a task's panic at the task boundary and reports it, but the
//! panic hook runs before that, on the worker thread: by default it prints
//! the message (on a worker, outside libtest's capture, so into the middle of
//! the test output), and libFuzzer's hook aborts the process even though
//! kahn would have caught the panic. So a task that panics on purpose calls
//! [`intend_panic`] just before, and the hook installed here skips that one
//! panic. Every other panic, including one that escapes `run` or the builder,
//! goes to the hook that was there before, so a real bug still prints, fails
//! its test or crashes the fuzzer. The fuzz checks, the integration tests and
//! the loom models (`tests/loom.rs`) all use it; under loom the model's
//! threads share one OS thread, and nothing runs between the call and the
//! panic, so the mark is still the panicking task's own.
//!
//! (`std::panic::resume_unwind` never calls the hook: tests that unwind with
//! it need no mark.)

use std::cell::Cell;
use std::sync::Once;

thread_local! {
    /// Set by [`intend_panic`] just before a panic on purpose; read and
    /// cleared by the hook.
    static INTENDED: Cell<bool> = const { Cell::new(false) };
}

/// Marks the next panic on this thread as intended, so the panic hook
/// neither prints it nor hands it to the hook before it (libFuzzer's aborts).
/// Installs that hook, once per process, on first use.
pub fn intend_panic() {
    quiet_intended_panics();
    INTENDED.with(|intended| intended.set(true));
}

/// Installs, once per process, the hook that ignores intended panics and
/// hands every other one to the hook that was there before.
fn quiet_intended_panics() {
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
