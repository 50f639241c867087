//! Test bodies with a time limit, so a deadlock fails a test instead of hanging CI.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// How long any one bounded test may take before it counts as hung; Miri
/// interprets the same tests hundreds of times slower.
pub const LIMIT: Duration = Duration::from_secs(if cfg!(miri) { 900 } else { 60 });

/// Runs `body` on its own thread and fails if it does not finish within
/// [`LIMIT`], so a deadlock fails the test instead of hanging CI.
pub fn bounded<R: Send + 'static>(body: impl FnOnce() -> R + Send + 'static) -> R {
    let (done, finished) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let result = body();
        let _ = done.send(());
        result
    });
    match finished.recv_timeout(LIMIT) {
        Ok(()) | Err(RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(RecvTimeoutError::Timeout) => {
            panic!("the test did not finish within {LIMIT:?}: kahn deadlocked or hung")
        }
    }
}
