//! Blocks against min-cut placement: cut edges, balance and time to compute, on the six benchmark shapes and an ETL-shaped graph, as a markdown table.
//!
//! `cargo run --release -p kahn-timely --example placement [-- TASKS]`
//! (the shapes' size, 100 000 by default).
//!
//! The ETL graph comes twice, with the same edges and two id orders: chain
//! by chain (each partition's extract, parse, validate in a row, as a loop
//! over partitions builds it) and stage by stage (every extract, then every
//! parse, as a configuration listing stages builds it). Blocks follows ids
//! where it can, so the id order is the question it is sensitive to.

use std::time::{Duration, Instant};

use kahn::{Arena, Graph, TaskContext, TaskId};
use kahn_bench::baselines::build_shape;
use kahn_bench::shapes::Shape;
use kahn_timely::{cut_edges, Placement};

/// Tasks per benchmark shape unless the command line says (the grid shapes
/// round down to a square).
const N: usize = 100_000;
const WORKERS: [usize; 4] = [2, 4, 8, 64];

/// Sources of the ETL graph, partitions per source, and the steps of each
/// partition's chain.
const SOURCES: usize = 6;
const PARTITIONS: usize = 160;
const STEPS: usize = 3; // extract, parse, validate
/// Each join reads every validated partition of two sources.
const JOINS: usize = SOURCES / 2;
const LOADS: usize = 4;

fn nothing(_: &TaskContext<'_, ()>) -> Result<(), kahn::BoxError> {
    Ok(())
}

/// The ETL graph's edges, by role: sources → per-partition chains → joins
/// (two sources each) → one aggregate → loads. `chain_major` chooses the
/// id order of the chains' tasks.
fn etl_edges(chain_major: bool) -> (usize, Vec<(u32, u32)>) {
    let chain_tasks = SOURCES * PARTITIONS * STEPS;
    let source = |s: usize| s as u32;
    let step = |s: usize, p: usize, k: usize| {
        let at = if chain_major {
            (s * PARTITIONS + p) * STEPS + k
        } else {
            k * SOURCES * PARTITIONS + s * PARTITIONS + p
        };
        (SOURCES + at) as u32
    };
    let join = |j: usize| (SOURCES + chain_tasks + j) as u32;
    let aggregate = (SOURCES + chain_tasks + JOINS) as u32;
    let load = |l: usize| aggregate + 1 + l as u32;
    let tasks = SOURCES + chain_tasks + JOINS + 1 + LOADS;
    let mut edges = Vec::new();
    for s in 0..SOURCES {
        for p in 0..PARTITIONS {
            edges.push((source(s), step(s, p, 0)));
            for k in 1..STEPS {
                edges.push((step(s, p, k - 1), step(s, p, k)));
            }
            edges.push((step(s, p, STEPS - 1), join(s / 2)));
        }
    }
    for j in 0..JOINS {
        edges.push((join(j), aggregate));
    }
    for l in 0..LOADS {
        edges.push((aggregate, load(l)));
    }
    (tasks, edges)
}

fn build_etl(arena: &mut Arena, chain_major: bool) -> Graph<'_, ()> {
    let (tasks, edges) = etl_edges(chain_major);
    let mut b = arena.builder::<()>();
    b.reserve(tasks, edges.len());
    for _ in 0..tasks {
        b.unnamed_task(nothing).expect("under the limit");
    }
    b.edges(edges.iter().map(|&(u, v)| (TaskId::new(u), TaskId::new(v))))
        .expect("valid edges");
    b.build().expect("acyclic")
}

/// One placement's cut, its largest and smallest worker, and its time.
fn measure(graph: &Graph<'_, ()>, placement: &Placement, workers: usize) -> String {
    let start = Instant::now();
    let owner = placement
        .assign(graph, workers)
        .expect("built-in placements place everywhere");
    let took = start.elapsed();
    let mut load = vec![0usize; workers];
    for &w in &owner {
        load[w as usize] += 1;
    }
    let cut = cut_edges(graph, &owner);
    let (max, min) = (load.iter().max().unwrap(), load.iter().min().unwrap());
    format!(
        "{cut} ({:.1}%) | {max}/{min} | {}",
        100.0 * cut as f64 / graph.edge_count().max(1) as f64,
        ms(took)
    )
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn rows(name: &str, graph: &Graph<'_, ()>) {
    for workers in WORKERS {
        println!(
            "| {name} | {} | {} | {workers} | {} | {} |",
            graph.task_count(),
            graph.edge_count(),
            measure(graph, &Placement::blocks(), workers),
            measure(graph, &Placement::min_cut(), workers),
        );
    }
}

fn main() {
    let n = match std::env::args().nth(1) {
        Some(arg) => arg.parse().expect("the shapes' task count, a number"),
        None => N,
    };
    println!(
        "| shape | tasks | edges | workers | blocks cut | blocks max/min | blocks ms | min-cut cut | min-cut max/min | min-cut ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for shape in Shape::ALL {
        let g = shape.generate(n);
        let mut arena = Arena::new();
        let graph = build_shape(&mut arena, &g, nothing);
        rows(shape.name(), &graph);
    }
    for (name, chain_major) in [("etl (chain ids)", true), ("etl (stage ids)", false)] {
        let mut arena = Arena::new();
        let graph = build_etl(&mut arena, chain_major);
        rows(name, &graph);
    }
}
