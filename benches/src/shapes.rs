//! The standard task-graph shapes, as deterministic edge lists, for benchmarks and tests.
//!
//! Every generator returns the number of tasks and the edges `(u, v)`, `u < v`,
//! as task indices. They are exactly specified so another executor can rebuild
//! the identical graph (see BENCHMARKS.md), and [`ShapeGraph::edge_hash`]
//! fingerprints an edge list so two runs can be checked to be on one graph.

use std::fmt;
use std::str::FromStr;

use kahn::TaskId;

/// A family of graphs, sized by a target task count `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// `i -> i + 1`: no parallelism at all.
    Chain,
    /// Complete binary tree: `i -> 2i + 1` and `i -> 2i + 2`, fanning out.
    Tree,
    /// `n` tasks, no edges.
    Independent,
    /// An `m × m` grid, `m = ⌊√n⌋`: `(i, j) -> (i, j + 1)` and `(i, j) -> (i + 1, j)`,
    /// task `(i, j)` having index `i·m + j`.
    Wavefront,
    /// `0 -> {1 … n−2} -> n−1`: one wide fan-out and fan-in.
    Diamond,
    /// `⌊√n⌋` layers of `⌊√n⌋` tasks; each task after the first layer has 4
    /// distinct parents in the layer before, drawn with splitmix64 (seed
    /// [`LAYERED_SEED`]).
    Layered,
}

/// The seed of the [`Shape::Layered`] generator.
pub const LAYERED_SEED: u64 = 0x6b61_686e_2d64_6167;

impl Shape {
    /// All six shapes.
    pub const ALL: [Shape; 6] = [
        Shape::Chain,
        Shape::Tree,
        Shape::Independent,
        Shape::Wavefront,
        Shape::Diamond,
        Shape::Layered,
    ];

    /// The shape's name, as accepted by `FromStr`.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Chain => "chain",
            Shape::Tree => "tree",
            Shape::Independent => "independent",
            Shape::Wavefront => "wavefront",
            Shape::Diamond => "diamond",
            Shape::Layered => "layered",
        }
    }

    /// Generates the graph of this shape closest to `n` tasks.
    ///
    /// # Panics
    /// If `n` exceeds [`TaskId::LIMIT`](kahn::TaskId::LIMIT), the most tasks
    /// a graph can hold.
    pub fn generate(self, n: usize) -> ShapeGraph {
        assert!(
            n <= kahn::TaskId::LIMIT,
            "{n} tasks is more than a graph can hold ({})",
            kahn::TaskId::LIMIT
        );
        let mut edges = Vec::new();
        let tasks = match self {
            Shape::Chain => {
                edges.extend((1..n).map(|i| (i as u32 - 1, i as u32)));
                n
            }
            Shape::Tree => {
                for i in 0..n {
                    for child in [2 * i + 1, 2 * i + 2] {
                        if child < n {
                            edges.push((i as u32, child as u32));
                        }
                    }
                }
                n
            }
            Shape::Independent => n,
            Shape::Wavefront => {
                let m = isqrt(n);
                for i in 0..m {
                    for j in 0..m {
                        let v = (i * m + j) as u32;
                        if j + 1 < m {
                            edges.push((v, v + 1));
                        }
                        if i + 1 < m {
                            edges.push((v, v + m as u32));
                        }
                    }
                }
                m * m
            }
            Shape::Diamond => {
                if n >= 3 {
                    edges.extend((1..n - 1).map(|i| (0, i as u32)));
                    edges.extend((1..n - 1).map(|i| (i as u32, n as u32 - 1)));
                } else if n == 2 {
                    edges.push((0, 1));
                }
                n
            }
            Shape::Layered => {
                let w = isqrt(n);
                let mut rng = SplitMix64(LAYERED_SEED);
                let parents = w.min(4);
                let mut picked = [0usize; 4];
                for layer in 1..w {
                    for k in 0..w {
                        let v = (layer * w + k) as u32;
                        let mut count = 0;
                        while count < parents {
                            let p = (rng.next_u64() % w as u64) as usize;
                            if !picked[..count].contains(&p) {
                                picked[count] = p;
                                count += 1;
                            }
                        }
                        edges.extend(
                            picked[..count]
                                .iter()
                                .map(|&p| (((layer - 1) * w + p) as u32, v)),
                        );
                    }
                }
                w * w
            }
        };
        ShapeGraph {
            shape: self,
            tasks,
            edges,
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Shape {
    type Err = String;

    fn from_str(s: &str) -> Result<Shape, String> {
        Shape::ALL
            .into_iter()
            .find(|shape| shape.name() == s)
            .ok_or_else(|| format!("unknown shape `{s}`: expected one of chain, tree, independent, wavefront, diamond, layered"))
    }
}

/// A generated graph: a task count and its edges by task index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeGraph {
    /// The shape it was generated from.
    pub shape: Shape,
    /// The number of tasks (may differ from the requested `n` for grid shapes).
    pub tasks: usize,
    /// The edges, `(from, to)` with `from < to`.
    pub edges: Vec<(u32, u32)>,
}

impl ShapeGraph {
    /// The edges as task ids, ready for [`GraphBuilder::edges`](kahn::GraphBuilder::edges).
    pub fn task_edges(&self) -> impl ExactSizeIterator<Item = (TaskId, TaskId)> + '_ {
        self.edges
            .iter()
            .map(|&(u, v)| (TaskId::new(u), TaskId::new(v)))
    }

    /// FNV-1a over the task count and every edge, in order.
    pub fn edge_hash(&self) -> u64 {
        let mut hash = 0xcbf2_9ce4_8422_2325u64;
        let mut eat = |x: u64| {
            for byte in x.to_le_bytes() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        };
        eat(self.tasks as u64);
        for &(u, v) in &self.edges {
            eat(u64::from(u) << 32 | u64::from(v));
        }
        hash
    }
}

/// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and easy to reproduce anywhere.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn isqrt(n: usize) -> usize {
    n.isqrt()
}
