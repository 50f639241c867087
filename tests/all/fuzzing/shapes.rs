//! The `shapes` fuzz input: `kahn_bench::shapes::Shape` parsed from any string and generated at any `u8` size, checked against its spec and built.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::AtomicU32;

use arbitrary::Arbitrary;
use kahn::Arena;
use kahn_bench::shapes::Shape;

use super::ensure;
use super::reference::{record_order, Model};

/// A shape name as a user would type it, and a target size.
#[derive(Clone, Arbitrary)]
pub struct ShapeCase {
    /// The requested task count; a `u8` keeps runs fast and still covers
    /// every edge case of the formulas (0, 1, 2, 3, squares and their neighbours).
    pub n: u8,
    /// Parsed with `FromStr`.
    pub name: String,
}

impl fmt::Debug for ShapeCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "let case = ShapeCase {{ n: {}, name: {:?}.into() }};",
            self.n, self.name
        )
    }
}

/// Parses the name; for a shape, checks the generated graph against the
/// shape's documented size and edges, and builds it.
pub fn check(case: &ShapeCase) -> Result<(), String> {
    let parsed = case.name.parse::<Shape>();
    let known = Shape::ALL.into_iter().find(|s| s.name() == case.name);
    let shape = match (parsed, known) {
        (Ok(shape), Some(known)) if shape == known => shape,
        (Err(message), None) => {
            ensure!(
                message.contains(&format!("`{}`", case.name)),
                "the parse error does not name the input: {message}"
            );
            return Ok(());
        }
        (parsed, known) => return Err(format!("parsed {parsed:?}, expected {known:?}")),
    };
    ensure!(
        shape.to_string() == case.name,
        "{shape:?} displays as {shape}"
    );
    let n = usize::from(case.n);
    let generated = shape.generate(n);
    ensure!(
        generated == shape.generate(n) && generated.edge_hash() == shape.generate(n).edge_hash(),
        "generating {shape} twice gave two graphs"
    );
    let side = n.isqrt();
    let (tasks, edges) = match shape {
        Shape::Chain => (n, n.saturating_sub(1)),
        Shape::Tree => (n, n.saturating_sub(1)),
        Shape::Independent => (n, 0),
        Shape::Wavefront => (side * side, 2 * side * side.saturating_sub(1)),
        Shape::Diamond => (n, if n >= 3 { 2 * (n - 2) } else { n / 2 }),
        Shape::Layered => (side * side, side.saturating_sub(1) * side * side.min(4)),
    };
    ensure!(
        (generated.shape, generated.tasks, generated.edges.len()) == (shape, tasks, edges),
        "{shape} of {n}: {} tasks and {} edges, expected {tasks} and {edges}",
        generated.tasks,
        generated.edges.len()
    );
    ensure!(
        generated
            .edges
            .iter()
            .all(|&(u, v)| u < v && (v as usize) < tasks),
        "{shape} of {n}: an edge goes backwards or past the last task"
    );
    ensure!(
        generated.edges.iter().collect::<BTreeSet<_>>().len() == edges,
        "{shape} of {n}: an edge is repeated"
    );

    let order: Vec<AtomicU32> = (0..tasks).map(|_| AtomicU32::new(0)).collect();
    let clock = AtomicU32::new(0);
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let mut model = Model::new();
    b.reserve(tasks, edges);
    for _ in 0..tasks {
        b.add_task(record_order(&order, &clock))
            .map_err(|e| format!("add_task: {e}"))?;
        model
            .add_task()
            .map_err(|e| format!("model add_task: {e}"))?;
    }
    b.edges(generated.task_edges())
        .map_err(|e| format!("edges: {e}"))?;
    model
        .edges(&generated.edges)
        .map_err(|e| format!("model edges: {e}"))?;
    model.check_build(b.build(), &order)
}
