//! `DistributedOptions`: how a distributed run spreads its tasks over the workers and how long it waits for a silent process before calling it lost.

use std::time::Duration;

use crate::placement::Placement;

/// How a distributed run is laid out and watched; what a run of one
/// process does not need. The run's own options (policy, cancel, deadline,
/// timings) stay in [`kahn::RunOptions`].
///
/// ```
/// use std::time::Duration;
/// use kahn_timely::{DistributedOptions, Placement};
///
/// let options = DistributedOptions::new()
///     .placement(Placement::blocks())
///     .lost_after(Duration::from_secs(5));
/// # let _ = options;
/// ```
#[derive(Clone, Debug)]
pub struct DistributedOptions {
    pub(crate) placement: Placement,
    pub(crate) lost_after: Duration,
}

impl DistributedOptions {
    /// How long a worker waits, by default, for a word from another
    /// before it calls that worker's process lost.
    pub const LOST_AFTER: Duration = Duration::from_secs(30);

    /// Min-cut placement; a process silent for 30 s is lost.
    pub fn new() -> DistributedOptions {
        DistributedOptions {
            placement: Placement::default(),
            lost_after: Self::LOST_AFTER,
        }
    }

    /// Which worker runs each task (by default [`Placement::min_cut`]:
    /// never more cut edges than blocks, as balanced).
    pub fn placement(mut self, placement: Placement) -> DistributedOptions {
        self.placement = placement;
        self
    }

    /// Calls a process lost when none of its workers has been heard from
    /// for `limit`; the run then ends on every other process with
    /// [`DistributedError::ProcessLost`](crate::DistributedError::ProcessLost).
    ///
    /// Workers say they are alive a few times per `limit` even while
    /// their tasks run, so a long task does not count as silence; a
    /// process whose graph takes longer than `limit` to build than the
    /// others' does, and so does a network that holds a message back for
    /// longer (a very large output on a slow link). A connection that
    /// closes (the process died) is noticed at once, without waiting for
    /// `limit`, when the run was started with [`execute`](crate::execute).
    pub fn lost_after(mut self, limit: Duration) -> DistributedOptions {
        self.lost_after = limit.max(Duration::from_millis(10));
        self
    }

    /// How often a worker with nothing else to send says it is alive.
    pub(crate) fn beat(&self) -> Duration {
        (self.lost_after / 8).clamp(Duration::from_millis(5), Duration::from_secs(1))
    }
}

impl Default for DistributedOptions {
    fn default() -> DistributedOptions {
        DistributedOptions::new()
    }
}
