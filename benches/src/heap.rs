//! The heap variant kahn's arena is measured against: the DAG a careful
//! engineer writes without an arena, for the harness and the criterion benches.
//!
//! One `Box<Node>` per task (its name as a `String`, its successors as a
//! `Vec<u32>`, its body as a `Box<dyn Fn>`), a `HashMap<String, u32>` name
//! index, built afresh for every batch. A run uses atomic in-degree counters
//! in the nodes and `rayon::scope`, spawning each task when it becomes ready.
//! It records no per-task outcome, which favours it over kahn.
//!
//! A build does the same work as kahn's, so that the build ratio measures
//! the representation and nothing else:
//! - it validates what kahn validates: unknown and duplicate names,
//!   self-loops, cycles;
//! - its name index hashes with the hasher kahn's name table uses,
//!   `foldhash`'s seeded `quality::RandomState`, not std's SipHash (the
//!   index itself is std's `HashMap`, where kahn keeps its own table);
//! - it skips the cycle check by kahn's rule: when every edge goes from a
//!   lower task index to a higher one, the indices are a topological order
//!   and no cycle is possible (every standard shape is such a graph).

use std::collections::HashMap;

use foldhash::quality::RandomState;
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use crate::shapes::ShapeGraph;

/// A task body of the heap variant; it gets the task's index.
pub type HeapBody<'a> = Box<dyn Fn(u32) + Send + Sync + 'a>;

/// One task, in its own heap allocation.
pub struct Node<'a> {
    /// The task's name, owned (the configuration it came from may be dropped).
    pub name: String,
    /// Indices of the tasks that wait for this one.
    pub succs: Vec<u32>,
    /// How many tasks this one waits for.
    pub indegree: u32,
    /// Reset to `indegree` at the start of every run.
    pending: AtomicU32,
    body: HeapBody<'a>,
}

/// Why a heap graph could not be built (the same cases kahn rejects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeapError {
    /// Two tasks with one name.
    Duplicate(String),
    /// An edge names a task that does not exist.
    Unknown(String),
    /// An edge from a task to itself.
    SelfLoop(String),
    /// The edges form a cycle.
    Cycle,
}

impl fmt::Display for HeapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeapError::Duplicate(name) => write!(f, "duplicate task `{name}`"),
            HeapError::Unknown(name) => write!(f, "unknown task `{name}`"),
            HeapError::SelfLoop(name) => write!(f, "self-loop on `{name}`"),
            HeapError::Cycle => f.write_str("the tasks form a cycle"),
        }
    }
}

/// A validated task graph on the heap.
pub struct HeapGraph<'a> {
    // A box per node on purpose: it is how such graphs are usually written
    // (nodes handed out, moved, or made polymorphic), and its cost is the
    // representation this variant stands for.
    #[allow(clippy::vec_box)]
    nodes: Vec<Box<Node<'a>>>,
    index: HashMap<String, u32, RandomState>,
    /// Every edge so far goes from a lower index to a higher one, so the
    /// graph has no cycle (kahn's builder keeps the same flag).
    forward_only: bool,
}

impl<'a> HeapGraph<'a> {
    /// Builds `g` with the task names `names` (one per task) and edges by
    /// name, giving every task the body `make_body(index)`.
    pub fn build(
        g: &ShapeGraph,
        names: &[String],
        mut make_body: impl FnMut(u32) -> HeapBody<'a>,
    ) -> Result<HeapGraph<'a>, HeapError> {
        let mut nodes = Vec::with_capacity(g.tasks);
        let mut index = HashMap::with_capacity_and_hasher(g.tasks, RandomState::default());
        for (i, name) in names.iter().take(g.tasks).enumerate() {
            if index.insert(name.clone(), i as u32).is_some() {
                return Err(HeapError::Duplicate(name.clone()));
            }
            nodes.push(Box::new(Node {
                name: name.clone(),
                succs: Vec::new(),
                indegree: 0,
                pending: AtomicU32::new(0),
                body: make_body(i as u32),
            }));
        }
        let mut graph = HeapGraph {
            nodes,
            index,
            forward_only: true,
        };
        for &(u, v) in &g.edges {
            graph.edge(&names[u as usize], &names[v as usize])?;
        }
        if !graph.forward_only {
            graph.check_acyclic()?;
        }
        Ok(graph)
    }

    /// Adds the edge `from -> to`, by name.
    fn edge(&mut self, from: &str, to: &str) -> Result<(), HeapError> {
        let lookup = |name: &str| {
            self.index
                .get(name)
                .copied()
                .ok_or_else(|| HeapError::Unknown(name.to_owned()))
        };
        let (u, v) = (lookup(from)?, lookup(to)?);
        if u == v {
            return Err(HeapError::SelfLoop(from.to_owned()));
        }
        self.forward_only &= u < v;
        self.nodes[u as usize].succs.push(v);
        self.nodes[v as usize].indegree += 1;
        Ok(())
    }

    /// Kahn's algorithm without running anything: every task must be reached.
    fn check_acyclic(&self) -> Result<(), HeapError> {
        let mut pending: Vec<u32> = self.nodes.iter().map(|n| n.indegree).collect();
        let mut stack: Vec<u32> = (0..self.nodes.len() as u32)
            .filter(|&v| pending[v as usize] == 0)
            .collect();
        let mut reached = 0;
        while let Some(v) = stack.pop() {
            reached += 1;
            for &s in &self.nodes[v as usize].succs {
                pending[s as usize] -= 1;
                if pending[s as usize] == 0 {
                    stack.push(s);
                }
            }
        }
        if reached == self.nodes.len() {
            Ok(())
        } else {
            Err(HeapError::Cycle)
        }
    }

    /// The number of tasks.
    pub fn task_count(&self) -> usize {
        self.nodes.len()
    }

    /// The name of task `v`, for messages.
    pub fn name(&self, v: u32) -> Option<&str> {
        self.nodes.get(v as usize).map(|node| node.name.as_str())
    }

    /// Runs every task once on `pool`, each after all its predecessors;
    /// returns how many ran. `&mut self` because the counters live in the nodes.
    pub fn run(&mut self, pool: &rayon::ThreadPool) -> usize {
        for node in &mut self.nodes {
            *node.pending.get_mut() = node.indegree;
        }
        let ran = AtomicUsize::new(0);
        fn visit<'s>(
            s: &rayon::Scope<'s>,
            v: u32,
            nodes: &'s [Box<Node<'_>>],
            ran: &'s AtomicUsize,
        ) {
            let node = &nodes[v as usize];
            (node.body)(v);
            ran.fetch_add(1, Ordering::Relaxed);
            for &t in &node.succs {
                // AcqRel: the last release sees every predecessor's effects.
                if nodes[t as usize].pending.fetch_sub(1, Ordering::AcqRel) == 1 {
                    s.spawn(move |s| visit(s, t, nodes, ran));
                }
            }
        }
        let (nodes, ran_ref) = (&self.nodes[..], &ran);
        pool.scope(|s| {
            for (v, node) in nodes.iter().enumerate() {
                if node.indegree == 0 {
                    s.spawn(move |s| visit(s, v as u32, nodes, ran_ref));
                }
            }
        });
        ran.into_inner()
    }
}

/// The task names every named build uses, made once outside timed code as
/// an ETL configuration would supply them.
pub fn task_names(tasks: usize) -> Vec<String> {
    (0..tasks).map(|i| format!("t{i}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shapes::Shape;

    fn build(tasks: usize, edges: &[(u32, u32)]) -> Result<HeapGraph<'static>, HeapError> {
        let g = ShapeGraph {
            shape: Shape::Chain,
            tasks,
            edges: edges.to_vec(),
        };
        HeapGraph::build(&g, &task_names(tasks), |_| Box::new(|_| {}))
    }

    #[test]
    fn validates_what_kahn_validates() {
        assert!(matches!(build(3, &[(0, 1), (1, 2)]), Ok(g) if g.forward_only));
        // A backward edge turns the cycle check on: it passes an acyclic
        // graph and catches a cycle.
        assert!(matches!(build(3, &[(2, 1), (1, 0)]), Ok(g) if !g.forward_only));
        assert_eq!(
            build(3, &[(0, 1), (1, 2), (2, 0)]).err(),
            Some(HeapError::Cycle)
        );
        assert_eq!(
            build(2, &[(1, 1)]).err(),
            Some(HeapError::SelfLoop("t1".into()))
        );
        let g = ShapeGraph {
            shape: Shape::Independent,
            tasks: 2,
            edges: Vec::new(),
        };
        let twice = ["a".to_owned(), "a".to_owned()];
        assert_eq!(
            HeapGraph::build(&g, &twice, |_| Box::new(|_| {})).err(),
            Some(HeapError::Duplicate("a".into()))
        );
    }

    #[test]
    fn runs_every_task_once() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        for shape in Shape::ALL {
            let g = shape.generate(100);
            let ran = AtomicUsize::new(0);
            let ran = &ran;
            let mut heap = HeapGraph::build(&g, &task_names(g.tasks), |_| {
                Box::new(move |_| {
                    ran.fetch_add(1, Ordering::Relaxed);
                })
            })
            .unwrap();
            assert_eq!(heap.run(&pool), g.tasks, "{shape}");
            assert_eq!(ran.load(Ordering::Relaxed), g.tasks, "{shape}");
        }
    }
}
