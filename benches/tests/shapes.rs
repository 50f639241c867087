//! The shapes against their spec (BENCHMARKS.md, "The shapes"): every shape at every size up to 2,000 and a few large ones, pinned edge hashes, and parsing any string.
//!
//! This replaces the `shapes` fuzz target, whose input was a name and a
//! `u8` size: the sizes are few enough to check them all, and the names
//! that matter are the six and their near misses.

use kahn::{Arena, Executor};
use kahn_bench::baselines::build_shape;
use kahn_bench::shapes::{Shape, ShapeGraph, SplitMix64, LAYERED_SEED};

/// The predecessors of every task as the spec words them, task by task
/// (rather than edge by edge, as the generator works): in increasing order,
/// except for the layered shape, in the order drawn; and the task count.
fn spec(shape: Shape, n: usize) -> (usize, Vec<Vec<u32>>) {
    let m = n.isqrt();
    let tasks = match shape {
        Shape::Wavefront | Shape::Layered => m * m,
        _ => n,
    };
    let mut rng = SplitMix64(LAYERED_SEED);
    let preds = (0..tasks)
        .map(|v| match shape {
            Shape::Chain => (v > 0).then(|| v - 1).into_iter().collect(),
            Shape::Tree => (v > 0).then(|| (v - 1) / 2).into_iter().collect(),
            Shape::Independent => Vec::new(),
            Shape::Wavefront => {
                let (i, j) = (v / m, v % m);
                let up = (i > 0).then(|| v - m);
                let left = (j > 0).then(|| v - 1);
                up.into_iter().chain(left).collect()
            }
            Shape::Diamond if v == 0 => Vec::new(),
            Shape::Diamond if v + 1 == n && n >= 3 => (1..n - 1).collect(),
            Shape::Diamond => vec![0],
            Shape::Layered if v < m => Vec::new(),
            Shape::Layered => {
                let layer_start = (v / m - 1) * m;
                let mut drawn = Vec::new();
                while drawn.len() < m.min(4) {
                    let p = layer_start + (rng.next_u64() % m as u64) as usize;
                    if !drawn.contains(&p) {
                        drawn.push(p);
                    }
                }
                drawn
            }
        })
        .map(|p: Vec<usize>| p.into_iter().map(|u| u as u32).collect())
        .collect();
    (tasks, preds)
}

/// Checks `shape` at `n` tasks against [`spec`]: the task and edge counts,
/// every edge forward and inside the graph, no edge twice, each task's
/// predecessors (so its in-degree), the layered shape's edge order, and
/// that a second generation gives the same graph.
fn check(shape: Shape, n: usize) -> ShapeGraph {
    let g = shape.generate(n);
    let what = format!("{shape} at n = {n}");
    let (tasks, preds) = spec(shape, n);
    assert_eq!((g.shape, g.tasks), (shape, tasks), "{what}: task count");
    let edges: usize = preds.iter().map(Vec::len).sum();
    assert_eq!(g.edges.len(), edges, "{what}: edge count");
    assert!(
        g.edges.iter().all(|&(u, v)| u < v && (v as usize) < tasks),
        "{what}: an edge goes backwards or past the last task"
    );
    let mut sorted = g.edges.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), edges, "{what}: an edge is repeated");
    let mut got: Vec<Vec<u32>> = vec![Vec::new(); tasks];
    for &(u, v) in &g.edges {
        got[v as usize].push(u);
    }
    for (v, (got, want)) in got.iter_mut().zip(&preds).enumerate() {
        if shape != Shape::Layered {
            got.sort_unstable();
        }
        assert_eq!(got, want, "{what}: the predecessors of task {v}");
    }
    if shape == Shape::Layered {
        let in_order: Vec<(u32, u32)> = (0..tasks as u32)
            .flat_map(|v| preds[v as usize].iter().map(move |&u| (u, v)))
            .collect();
        assert_eq!(g.edges, in_order, "{what}: edges not in the order drawn");
    }
    assert_eq!(g, shape.generate(n), "{what}: generated twice, two graphs");
    g
}

#[test]
fn every_shape_at_every_size_up_to_2000_is_as_specified() {
    for shape in Shape::ALL {
        for n in 0..=2000 {
            check(shape, n);
        }
    }
}

#[test]
fn large_shapes_are_as_specified() {
    for shape in Shape::ALL {
        for n in [4096, 65_537, 1_000_000] {
            check(shape, n);
        }
    }
}

/// Edge hashes computed by the generator before it moved out of kahn (the
/// 1e6 ones are also in BENCHMARKS.md's graph table): a change to a shape's
/// graph, or to the order of its edges, changes them.
#[test]
fn edge_hashes_are_pinned() {
    let pinned = [
        (Shape::Chain, 0, 0xa8c7f832281a39c5),
        (Shape::Chain, 1, 0x89cd31291d2aefa4),
        (Shape::Chain, 1000, 0x1df7efa8631a0e92),
        (Shape::Chain, 100_000, 0x9f394a610a1b40de),
        (Shape::Tree, 17, 0xe1c6f311149a6bc4),
        (Shape::Tree, 1000, 0x63fdb623dc2a7c64),
        (Shape::Independent, 255, 0x9016b196e349a31a),
        (Shape::Independent, 1000, 0xad6323825fa766dc),
        (Shape::Wavefront, 17, 0xb2b0404ecad346b5),
        (Shape::Wavefront, 1000, 0xb8623153ea98dc89),
        (Shape::Wavefront, 1_000_000, 0xfb69ac957740e8f0),
        (Shape::Diamond, 5, 0x439493ce50273124),
        (Shape::Diamond, 1000, 0x3424b9b874a5bdd4),
        (Shape::Layered, 5, 0x7a57c9059c0eeb21),
        (Shape::Layered, 255, 0x6c33728cf0dd2a58),
        (Shape::Layered, 1000, 0x2b84ac755ef95001),
        (Shape::Layered, 100_000, 0xfe913c7a28432abd),
        (Shape::Layered, 1_000_000, 0xac85bc913e36ce87),
    ];
    for (shape, n, hash) in pinned {
        assert_eq!(
            shape.generate(n).edge_hash(),
            hash,
            "{shape} at n = {n}: the edge hash moved"
        );
    }
}

#[test]
fn splitmix64_is_the_published_generator() {
    let mut rng = SplitMix64(0);
    assert_eq!(rng.next_u64(), 0xe220a8397b1dcdaf);
    assert_eq!(rng.next_u64(), 0x6e789e6aa1b965f4);
}

#[test]
fn the_six_names_round_trip_and_nothing_else_parses() {
    for shape in Shape::ALL {
        assert_eq!(shape.to_string(), shape.name());
        assert_eq!(shape.name().parse::<Shape>(), Ok(shape));
    }
    let long = "chain".repeat(1000);
    let hostile = [
        "",
        " ",
        "Chain",
        "LAYERED",
        "chain ",
        " tree",
        "diamond\n",
        "independent\0",
        "wave front",
        "chain,tree",
        "ring",
        "chains",
        "chäin",
        "layered\u{200b}",
        long.as_str(),
    ];
    for name in hostile {
        let error = name.parse::<Shape>().unwrap_err();
        assert!(
            error.starts_with(&format!(
                "unknown shape `{name}`: expected one of chain, tree,"
            )),
            "{name:?}: {error}"
        );
    }
}

#[test]
#[should_panic(expected = "tasks is more than a graph can hold")]
fn a_shape_larger_than_a_graph_can_hold_is_refused() {
    Shape::Independent.generate(kahn::TaskId::LIMIT + 1);
}

/// Every shape builds into a kahn graph by id and runs each task once.
#[test]
fn every_shape_builds_and_runs() {
    let executor = Executor::with_threads(2).expect("threads");
    let mut arena = Arena::new();
    for shape in Shape::ALL {
        for n in (0..=64).chain([1000]) {
            let g = shape.generate(n);
            let graph = build_shape::<()>(&mut arena, &g, |_| Ok(()));
            let counts = executor.run(&graph).counts();
            assert_eq!(counts.succeeded, g.tasks, "{shape} at n = {n}: {counts:?}");
            assert_eq!(counts.total(), g.tasks, "{shape} at n = {n}: {counts:?}");
        }
    }
}
