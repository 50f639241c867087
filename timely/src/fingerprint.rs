//! A fingerprint of a compiled graph's topology and names, and of a placement: what the workers compare before any task runs.

use kahn::{Graph, TaskId, TriggerRule};

/// A 64-bit hash taken a word at a time, stable across builds, processes
/// and hosts (unlike `std`'s hashers, whose keys are random or
/// unspecified). It detects a graph built differently, not an adversary:
/// every word is mixed by a multiply and a rotate, and the result by
/// SplitMix64's finaliser.
#[derive(Clone, Copy)]
pub(crate) struct Fingerprint(u64);

impl Fingerprint {
    pub(crate) fn new() -> Fingerprint {
        Fingerprint(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn u64(self, x: u64) -> Fingerprint {
        Fingerprint(
            (self.0 ^ x)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .rotate_left(27),
        )
    }

    /// `bytes` and their length, eight at a time.
    pub(crate) fn bytes(mut self, bytes: &[u8]) -> Fingerprint {
        self = self.u64(bytes.len() as u64);
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self = self.u64(u64::from_le_bytes(word.try_into().expect("eight bytes")));
        }
        let mut last = [0u8; 8];
        last[..words.remainder().len()].copy_from_slice(words.remainder());
        self.u64(u64::from_le_bytes(last))
    }

    pub(crate) fn get(self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The graph's tasks (names, trigger rules, branching), and its edges in
/// id order.
pub(crate) fn of_graph<T>(graph: &Graph<'_, T>) -> u64 {
    let mut h = Fingerprint::new().u64(graph.task_count() as u64);
    for v in 0..graph.task_count() {
        let task = TaskId::new(v as u32);
        h = match graph.name(task) {
            Some(name) => h.bytes(name.as_bytes()),
            None => h.u64(u64::MAX),
        };
        let rule: u64 = match graph.trigger_rule(task) {
            TriggerRule::AllSucceeded => 0,
            TriggerRule::AllDone => 1,
            TriggerRule::OneFailed => 2,
            TriggerRule::NoneFailed => 3,
            _ => 4,
        };
        let successors = graph.successors(task);
        h = h
            .u64(rule | u64::from(graph.is_branching(task)) << 8 | (successors.len() as u64) << 16);
        for w in successors {
            h = h.u64(w.index() as u64);
        }
    }
    h.get()
}

/// The worker of each task.
pub(crate) fn of_placement(owner: &[u32]) -> u64 {
    owner
        .iter()
        .fold(Fingerprint::new(), |h, &w| h.u64(u64::from(w)))
        .get()
}

#[cfg(test)]
mod tests {
    use super::Fingerprint;

    #[test]
    fn bytes_of_different_lengths_or_contents_differ() {
        let of = |b: &[u8]| Fingerprint::new().bytes(b).get();
        let inputs: [&[u8]; 7] = [
            b"",
            b"\0",
            b"a",
            b"ab",
            b"abcdefgh",
            b"abcdefgh\0",
            b"abcdefgi",
        ];
        for (i, a) in inputs.iter().enumerate() {
            for b in &inputs[i + 1..] {
                assert_ne!(of(a), of(b), "{a:?} {b:?}");
            }
        }
        // Stable: the same everywhere, every time.
        assert_eq!(of(b"extract"), of(b"extract"));
    }
}
