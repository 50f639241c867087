//! Build cost per task, by id and by name, first and settled: the figures of BENCHMARKS.md's name-table section.
//!
//! `cargo run --release -p kahn-bench --example build -- <tasks> <how> <shape> [builds]`
//!
//! `how` is one of:
//! - `id`: `unnamed_task` per task, then `edges` with ids;
//! - `name`: `task(name, body)` per task, then `edge(name, name)` per edge;
//! - `bulk`: `tasks` with every name, then `edges_by_name` with every pair;
//! - `phases` / `phases-bulk`: as `name` / `bulk`, timing the tasks, the
//!   edges and `build` apart;
//! - `none`: only generate the inputs (for peak RSS, which the caller
//!   measures, e.g. with `/usr/bin/time -f %M`);
//! - `id+run`, `name+run`, `bulk+run`: one build, then a run and a rerun
//!   on two threads (for peak RSS).
//!
//! With `KAHN_HUGE_PAGES` set, the arena asks for huge pages
//! ([`Arena::huge_pages`]).
//!
//! Names are `t0`, `t1`, … held by the caller, as a loaded configuration
//! would hold them. Each build goes into one arena, reused: the first build
//! is the first in a fresh process (fresh memory), and "settled" is the
//! median of the builds after the fourth. Times are per task, in ns.

use std::time::Instant;

use kahn::{Arena, Graph, GraphBuilder, TaskContext};
use kahn_bench::shapes::{Shape, ShapeGraph};

fn build_by_id<'a>(arena: &'a mut Arena, g: &ShapeGraph) -> Graph<'a, ()> {
    let mut b = arena.builder::<()>();
    b.reserve(g.tasks, g.edges.len());
    for _ in 0..g.tasks {
        b.unnamed_task(|_| Ok(())).expect("within limits");
    }
    b.edges(g.task_edges()).expect("known ids");
    b.build().expect("acyclic")
}

fn build_by_name<'a>(
    arena: &'a mut Arena,
    g: &ShapeGraph,
    names: &[String],
    bulk: bool,
) -> Graph<'a, ()> {
    let mut b = arena.builder::<()>();
    b.reserve(g.tasks, g.edges.len());
    add_by_name(&mut b, g, names, bulk);
    b.build().expect("acyclic")
}

/// The tasks, then the edges, by name, per call or in bulk.
fn add_by_name(b: &mut GraphBuilder<'_, ()>, g: &ShapeGraph, names: &[String], bulk: bool) {
    if bulk {
        let body = |_: &TaskContext<'_, ()>| Ok(());
        b.tasks(names.iter().map(|name| (name.as_str(), body)))
            .expect("unique names");
        b.edges_by_name(names_of(names, g)).expect("known names");
    } else {
        for name in names {
            b.task(name, |_| Ok(())).expect("unique names");
        }
        for (from, to) in names_of(names, g) {
            b.edge(from, to).expect("known names");
        }
    }
}

fn names_of<'n>(
    names: &'n [String],
    g: &'n ShapeGraph,
) -> impl Iterator<Item = (&'n str, &'n str)> {
    g.edges
        .iter()
        .map(|&(u, v)| (names[u as usize].as_str(), names[v as usize].as_str()))
}

/// Tasks and edges by name, per call or in bulk; the time of each phase.
fn by_name(arena: &mut Arena, g: &ShapeGraph, names: &[String], bulk: bool) -> [f64; 3] {
    let start = Instant::now();
    let mut b = arena.builder::<()>();
    b.reserve(g.tasks, g.edges.len());
    if bulk {
        let body = |_: &TaskContext<'_, ()>| Ok(());
        b.tasks(names.iter().map(|name| (name.as_str(), body)))
            .expect("unique names");
    } else {
        for name in names {
            b.task(name, |_| Ok(())).expect("unique names");
        }
    }
    let tasks = start.elapsed();
    if bulk {
        b.edges_by_name(names_of(names, g)).expect("known names");
    } else {
        for (from, to) in names_of(names, g) {
            b.edge(from, to).expect("known names");
        }
    }
    let edges = start.elapsed();
    assert_eq!(b.build().expect("acyclic").task_count(), g.tasks);
    let all = start.elapsed();
    let per_task = |d: std::time::Duration| d.as_nanos() as f64 / g.tasks as f64;
    [
        per_task(tasks),
        per_task(edges - tasks),
        per_task(all - edges),
    ]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: build <tasks> <id|name|bulk|phases|phases-bulk|none> <shape> [builds]";
    let (Some(n), Some(how), Some(shape)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("a task count");
    let shape = Shape::ALL
        .into_iter()
        .find(|s| s.name() == shape)
        .unwrap_or_else(|| panic!("no shape `{shape}`; {usage}"));
    let builds: usize = args.get(3).map_or(7, |b| b.parse().expect("a build count"));
    let g = shape.generate(n);
    let names: Vec<String> = (0..g.tasks).map(|i| format!("t{i}")).collect();
    let mut arena = Arena::new();
    // For measuring huge pages against none in one binary.
    if std::env::var_os("KAHN_HUGE_PAGES").is_some() {
        arena.huge_pages(true);
    }
    match how.as_str() {
        "none" => {
            println!("{} n={}: inputs only", shape.name(), g.tasks);
            return;
        }
        "phases" | "phases-bulk" => {
            for _ in 0..builds {
                let [tasks, edges, build] = by_name(&mut arena, &g, &names, how == "phases-bulk");
                println!("tasks {tasks:.1} edges {edges:.1} build {build:.1} ns/task");
            }
            return;
        }
        "id+run" | "name+run" | "bulk+run" => {
            let executor = kahn::Executor::with_threads(2).expect("two threads");
            let graph = match how.as_str() {
                "id+run" => build_by_id(&mut arena, &g),
                how => build_by_name(&mut arena, &g, &names, how == "bulk+run"),
            };
            for _ in 0..2 {
                assert!(executor.run(&graph).is_success());
            }
            println!("{} n={} {how}: built, ran, reran", shape.name(), g.tasks);
            return;
        }
        "id" | "name" | "bulk" => {}
        other => panic!("no mode `{other}`; {usage}"),
    }
    let mut times = Vec::with_capacity(builds);
    for _ in 0..builds {
        let start = Instant::now();
        match how.as_str() {
            "id" => assert_eq!(build_by_id(&mut arena, &g).task_count(), g.tasks),
            how => {
                by_name(&mut arena, &g, &names, how == "bulk");
            }
        }
        times.push(start.elapsed().as_nanos() as f64 / g.tasks as f64);
    }
    let mut settled = times[4.min(builds - 1)..].to_vec();
    settled.sort_by(f64::total_cmp);
    println!(
        "{} n={} {how}: first {:.1} settled {:.1} ns/task",
        shape.name(),
        g.tasks,
        times[0],
        settled[settled.len() / 2]
    );
}
