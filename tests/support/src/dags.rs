//! Random DAGs for the property tests, and how their tasks are named.
//!
//! Shared by the build properties (`tests/all/build_props.rs`), which thread
//! cycles through these DAGs, and the run properties
//! (`tests/all/run_props.rs`), which run them.

use proptest::prelude::*;
use proptest::sample::Index;

/// Task counts of the small graphs (many cases).
pub const SMALL: usize = if cfg!(miri) { 12 } else { 300 };

/// Task counts of the large graphs (few cases).
pub const LARGE: usize = if cfg!(miri) { 24 } else { 3_000 };

/// A proptest config of `cases` cases, or `miri_cases` under Miri, where one
/// run on four threads takes seconds; it writes no regression files into the
/// source tree.
pub fn cases(cases: u32, miri_cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: if cfg!(miri) { miri_cases } else { cases },
        // Do not write regression files into the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// DAGs: `n` tasks and edges without self-loops, duplicates kept. Edges go
/// from a lower rank to a higher one; in half the cases the ranks are the ids
/// themselves (the builder's forward-only fast path), in the other half a
/// random permutation of them, so ids are not a topological order.
pub fn any_dag(max_n: usize) -> impl Strategy<Value = (usize, Vec<(u32, u32)>)> {
    (0..=max_n).prop_flat_map(|n| {
        let pairs = prop::collection::vec((any::<Index>(), any::<Index>()), 0..=3 * n);
        let ranks = Just((0..n as u32).collect::<Vec<u32>>()).prop_shuffle();
        (pairs, ranks, any::<bool>()).prop_map(move |(pairs, ranks, shuffle)| {
            let edges = pairs
                .iter()
                .map(|(a, b)| (a.index(n), b.index(n)))
                .filter(|(u, v)| u != v)
                .map(|(u, v)| (u.min(v), u.max(v)))
                .map(|(u, v)| {
                    if shuffle {
                        (ranks[u], ranks[v])
                    } else {
                        (u as u32, v as u32)
                    }
                })
                .collect();
            (n, edges)
        })
    })
}

/// The name of task `v` in the property tests: tasks with an even id get
/// one, odd ones do not, so both kinds of label show up.
pub fn task_name(v: u32) -> Option<String> {
    v.is_multiple_of(2).then(|| format!("n{v}"))
}

/// How kahn's messages show task `v` of a property test: by its
/// [`task_name`] if it has one, else by id.
pub fn task_label(v: u32) -> String {
    match task_name(v) {
        Some(name) => format!("`{name}`"),
        None => format!("task #{v}"),
    }
}
