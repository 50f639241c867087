//! A fingerprint of a compiled graph's topology and names, and of a placement: what the workers compare before any task runs.

use kahn::{Graph, TaskId};

/// FNV-1a, 64 bits: stable across builds, processes and hosts (unlike
/// `std`'s hashers, whose keys are random or unspecified).
#[derive(Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn bytes(mut self, bytes: &[u8]) -> Fnv {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        self
    }

    pub(crate) fn u64(self, x: u64) -> Fnv {
        self.bytes(&x.to_le_bytes())
    }

    pub(crate) fn get(self) -> u64 {
        self.0
    }
}

/// The graph's tasks (names, trigger rules, branching), and its edges in
/// id order.
pub(crate) fn of_graph<T>(graph: &Graph<'_, T>) -> u64 {
    let mut h = Fnv::new().u64(graph.task_count() as u64);
    for v in 0..graph.task_count() {
        let task = TaskId::new(v as u32);
        h = match graph.name(task) {
            Some(name) => h.u64(name.len() as u64 + 1).bytes(name.as_bytes()),
            None => h.u64(0),
        };
        h = h
            .bytes(format!("{:?}", graph.trigger_rule(task)).as_bytes())
            .u64(u64::from(graph.is_branching(task)))
            .u64(graph.successors(task).len() as u64);
        for w in graph.successors(task) {
            h = h.u64(w.index() as u64);
        }
    }
    h.get()
}

/// The worker of each task.
pub(crate) fn of_placement(owner: &[u32]) -> u64 {
    owner
        .iter()
        .fold(Fnv::new(), |h, &w| h.u64(u64::from(w)))
        .get()
}
