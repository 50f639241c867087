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

/// DAGs as [`any_dag`], plus up to four *fan-ins*: tasks with 16 to 300
/// predecessors (or all lower-ranked tasks, if fewer), where kahn combines
/// releases per worker instead of applying each one.
pub fn any_dag_with_fan_ins(max_n: usize) -> impl Strategy<Value = (usize, Vec<(u32, u32)>)> {
    (
        any_dag(max_n),
        prop::collection::vec((any::<Index>(), 16usize..300, any::<u64>()), 0..=4),
    )
        .prop_map(|((n, mut edges), joins)| {
            if n < 2 {
                return (n, edges);
            }
            // A rank order consistent with the edges so far: Kahn's.
            let order = topological_order(n, &edges);
            for (join, width, seed) in joins {
                // The join sits at a rank of at least 1; its predecessors are
                // a spread of the tasks ranked below it.
                let r = 1 + join.index(n - 1);
                let target = order[r];
                let width = width.min(r);
                let step = r as f64 / width as f64;
                for k in 0..width {
                    let below = ((k as f64 * step) as usize + (seed as usize % 7)) % r;
                    edges.push((order[below], target));
                }
            }
            (n, edges)
        })
}

/// Kahn's order of a DAG (ties by id).
fn topological_order(n: usize, edges: &[(u32, u32)]) -> Vec<u32> {
    let mut indegree = vec![0usize; n];
    let mut out = vec![Vec::new(); n];
    for &(u, v) in edges {
        indegree[v as usize] += 1;
        out[u as usize].push(v);
    }
    let mut ready: std::collections::BTreeSet<u32> = (0..n as u32)
        .filter(|&v| indegree[v as usize] == 0)
        .collect();
    let mut order = Vec::with_capacity(n);
    while let Some(v) = ready.pop_first() {
        order.push(v);
        for &w in &out[v as usize] {
            indegree[w as usize] -= 1;
            if indegree[w as usize] == 0 {
                ready.insert(w);
            }
        }
    }
    assert_eq!(order.len(), n, "any_dag makes acyclic graphs");
    order
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
