//! Building graphs: every `BuildError` and its message, recovery after a failed
//! call, duplicate edges, the compiled graph's accessors, and unusual task names.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use kahn::{
    Arena, BoxError, BuildError, Counts, Outcome, OwnedTaskRef, State, TaskContext, TaskId,
    TaskLabel,
};
use kahn_test_support::executor;

/// A task body that does nothing.
fn noop(_: &TaskContext<'_, ()>) -> Result<(), BoxError> {
    Ok(())
}

fn id(i: u32) -> TaskId {
    TaskId::new(i)
}

/// The label of task `i`, named `name`.
fn named(i: u32, name: &str) -> TaskLabel {
    TaskLabel::new(id(i), Some(name))
}

fn sorted(ids: impl Iterator<Item = TaskId>) -> Vec<TaskId> {
    let mut ids: Vec<TaskId> = ids.collect();
    ids.sort();
    ids
}

/// Checks that `err` is a `Cycle` whose tasks walk a simple cycle of `edges`
/// (each consecutive pair an added edge, first == last, no task twice), and
/// each shows as `label` of its id. Returns the ids without the repeat.
fn assert_cycle(err: &BuildError, edges: &[(u32, u32)], label: impl Fn(u32) -> String) -> Vec<u32> {
    let BuildError::Cycle { path } = err else {
        panic!("expected a cycle, got {err:?}");
    };
    let ids: Vec<TaskId> = path.iter().map(TaskLabel::id).collect();
    assert!(
        ids.len() >= 3,
        "a cycle without self-loops has at least two tasks: {ids:?}"
    );
    assert_eq!(
        ids.first(),
        ids.last(),
        "the first task is repeated at the end: {ids:?}"
    );
    let edges: HashSet<(u32, u32)> = edges.iter().copied().collect();
    for pair in ids.windows(2) {
        let edge = (pair[0].index() as u32, pair[1].index() as u32);
        assert!(
            edges.contains(&edge),
            "{edge:?} of {ids:?} is not an edge that was added"
        );
    }
    let body: Vec<u32> = ids[..ids.len() - 1]
        .iter()
        .map(|t| t.index() as u32)
        .collect();
    let distinct: HashSet<u32> = body.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        body.len(),
        "a task appears twice on the cycle: {ids:?}"
    );
    let shown: Vec<String> = path.iter().map(TaskLabel::to_string).collect();
    let expected: Vec<String> = ids.iter().map(|t| label(t.index() as u32)).collect();
    assert_eq!(shown, expected, "each task on the cycle shows as its label");
    body
}

// ---------------------------------------------------------------- names

#[test]
fn empty_name_is_rejected_with_a_hint_to_use_add_task() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let err = b.task("", noop).unwrap_err();
    assert_eq!(err, BuildError::EmptyName);
    assert_eq!(
        err.to_string(),
        "a task name is empty: give the task a non-empty name, or add it without one with `unnamed_task`"
    );
    assert_eq!(b.task_count(), 0, "the failed call added nothing");
}

#[test]
fn duplicate_name_points_at_the_first_task() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.task("a", noop).unwrap();
    b.task("b", noop).unwrap();
    b.unnamed_task(noop).unwrap();
    let err = b.task("b", noop).unwrap_err();
    assert_eq!(
        err,
        BuildError::DuplicateName {
            name: "b".into(),
            first: id(1)
        }
    );
    assert_eq!(
        err.to_string(),
        "task name `b` is already taken by task #1: task names must be unique"
    );
    assert_eq!(b.task_count(), 3, "the failed call added nothing");

    let graph = b.build().unwrap();
    assert_eq!(
        graph.find("b"),
        Some(id(1)),
        "the name still belongs to the first task"
    );
}

#[test]
fn names_are_case_and_whitespace_sensitive() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    for name in ["load", "Load", "load ", " load", "LOAD"] {
        b.task(name, noop).unwrap();
    }
    let graph = b.build().unwrap();
    assert_eq!(graph.find("Load"), Some(id(1)));
    assert_eq!(graph.find(" load"), Some(id(3)));
    assert_eq!(graph.find("lOAD"), None);
}

// ---------------------------------------------------------------- unknown tasks

#[test]
fn unknown_task_by_name_at_either_end() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.task("a", noop).unwrap();

    let err = b.edge("ghost", "a").unwrap_err();
    assert_eq!(
        err,
        BuildError::UnknownTask {
            missing: "ghost".into(),
            from: "ghost".into(),
            to: "a".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "edge `ghost` -> `a` refers to unknown task `ghost`: add the task before the edge"
    );

    let err = b.edge("a", "ghost").unwrap_err();
    assert_eq!(
        err,
        BuildError::UnknownTask {
            missing: "ghost".into(),
            from: "a".into(),
            to: "ghost".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "edge `a` -> `ghost` refers to unknown task `ghost`: add the task before the edge"
    );

    // Both ends unknown: the upstream end is reported.
    let err = b.edge("x", "y").unwrap_err();
    assert!(
        matches!(&err, BuildError::UnknownTask { missing, .. } if *missing == OwnedTaskRef::from("x")),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("edge `x` -> `y` "), "{err}");

    assert_eq!(b.edge_count(), 0, "no failed call added an edge");
}

#[test]
fn unknown_task_by_id_past_the_end_at_either_end() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let a = b.task("a", noop).unwrap();
    let anon = b.unnamed_task(noop).unwrap();

    // An id one past the end, upstream; the known end shows its name.
    let err = b.edge(id(2), a).unwrap_err();
    assert_eq!(
        err,
        BuildError::UnknownTask {
            missing: id(2).into(),
            from: id(2).into(),
            to: "a".into()
        }
    );
    let text = err.to_string();
    assert!(
        text.starts_with("edge task #2 -> `a` refers to unknown task"),
        "{text}"
    );
    assert!(
        text.contains("#2") && text.ends_with(": add the task before the edge"),
        "{text}"
    );

    // Far past the end, downstream; the known end is unnamed.
    let err = b.edge(anon, id(u32::MAX)).unwrap_err();
    assert_eq!(
        err,
        BuildError::UnknownTask {
            missing: id(4294967295).into(),
            from: id(1).into(),
            to: id(4294967295).into()
        }
    );
    assert!(
        err.to_string()
            .starts_with("edge task #1 -> task #4294967295 refers to unknown task"),
        "{err}"
    );

    // A name at one end, an unknown id at the other.
    let err = b.edge("a", id(7)).unwrap_err();
    assert_eq!(
        err,
        BuildError::UnknownTask {
            missing: id(7).into(),
            from: "a".into(),
            to: id(7).into()
        }
    );
    assert_eq!(b.edge_count(), 0);
}

#[test]
fn unknown_task_by_id_message_does_not_stutter() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let a = b.task("a", noop).unwrap();
    let err = b.edge(id(2), a).unwrap_err();
    assert_eq!(
        err.to_string(),
        "edge task #2 -> `a` refers to unknown task #2: add the task before the edge"
    );
}

#[test]
fn unknown_task_through_edges_keeps_the_edges_before_it() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let x = b.unnamed_task(noop).unwrap();
    let y = b.unnamed_task(noop).unwrap();
    let err = b.edges([(x, y), (y, id(5)), (x, y)]).unwrap_err();
    assert_eq!(
        err,
        BuildError::UnknownTask {
            missing: id(5).into(),
            from: id(1).into(),
            to: id(5).into()
        }
    );
    assert_eq!(
        b.edge_count(),
        1,
        "edges() stops at the bad edge and keeps the ones before it"
    );
    let err = b.edges([(id(9), x)]).unwrap_err();
    assert!(
        matches!(&err, BuildError::UnknownTask { missing, .. } if *missing == OwnedTaskRef::from(id(9))),
        "{err:?}"
    );
    let graph = b.build().unwrap();
    assert_eq!(graph.edge_count(), 1);
    assert_eq!(sorted(graph.successors(x)), [y]);
}

#[test]
fn unknown_name_is_not_an_id_and_an_id_is_not_a_name() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.task("#1", noop).unwrap();
    b.task("task #0", noop).unwrap();
    // By name, "#1" is task 0 and "task #0" is task 1: no confusion with ids.
    b.edge("#1", "task #0").unwrap();
    let err = b.edge("#0", "#1").unwrap_err();
    assert!(
        matches!(&err, BuildError::UnknownTask { missing, .. } if *missing == OwnedTaskRef::from("#0")),
        "{err:?}"
    );
    let graph = b.build().unwrap();
    assert_eq!(sorted(graph.successors(id(0))), [id(1)]);
}

// ---------------------------------------------------------------- self-loops

#[test]
fn self_loop_by_name_and_by_id() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let a = b.task("a", noop).unwrap();
    let anon = b.unnamed_task(noop).unwrap();

    let err = b.edge("a", "a").unwrap_err();
    assert_eq!(
        err,
        BuildError::SelfLoop {
            task: named(0, "a")
        }
    );
    assert_eq!(
        err.to_string(),
        "edge `a` -> `a` would make `a` wait for itself: remove it"
    );

    // Name at one end, id at the other: still the same task.
    assert_eq!(
        b.edge("a", a).unwrap_err(),
        BuildError::SelfLoop {
            task: named(0, "a")
        }
    );

    let err = b.edge(anon, anon).unwrap_err();
    assert_eq!(
        err,
        BuildError::SelfLoop {
            task: TaskLabel::new(id(1), None)
        }
    );
    assert_eq!(
        err.to_string(),
        "edge task #1 -> task #1 would make task #1 wait for itself: remove it"
    );

    assert_eq!(b.edge_count(), 0);
}

#[test]
fn self_loop_through_edges_keeps_the_edges_before_it() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let x = b.task("x", noop).unwrap();
    let y = b.unnamed_task(noop).unwrap();
    let err = b.edges([(x, y), (y, y), (y, x)]).unwrap_err();
    assert_eq!(
        err,
        BuildError::SelfLoop {
            task: TaskLabel::new(id(1), None)
        }
    );
    assert_eq!(b.edge_count(), 1);
    assert_eq!(
        b.edges([(x, x)]).unwrap_err(),
        BuildError::SelfLoop {
            task: named(0, "x")
        }
    );
    // The edge after the bad one was not added, so there is no cycle.
    let graph = b.build().unwrap();
    assert_eq!(graph.edge_count(), 1);
}

// ---------------------------------------------------------------- cycles

#[test]
fn two_cycle() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.task("a", noop).unwrap();
    b.task("b", noop).unwrap();
    b.edge("a", "b").unwrap();
    b.edge("b", "a").unwrap();
    let err = b.build().unwrap_err();
    let names = ["`a`", "`b`"];
    let on_cycle = assert_cycle(&err, &[(0, 1), (1, 0)], |v| names[v as usize].to_string());
    assert_eq!(on_cycle.len(), 2);
    assert_eq!(
        err.to_string(),
        "tasks form a cycle: `a` -> `b` -> `a`; remove one of these edges"
    );
}

#[test]
fn three_cycle_message_starts_at_the_earliest_added_task() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    // Added in the order c, a, b so the earliest task is not first by name.
    b.task("c", noop).unwrap();
    b.task("a", noop).unwrap();
    b.task("b", noop).unwrap();
    b.edge("a", "b").unwrap();
    b.edge("b", "c").unwrap();
    b.edge("c", "a").unwrap();
    let err = b.build().unwrap_err();
    let names = ["`c`", "`a`", "`b`"];
    assert_cycle(&err, &[(1, 2), (2, 0), (0, 1)], |v| {
        names[v as usize].to_string()
    });
    assert_eq!(
        err,
        BuildError::Cycle {
            path: vec![named(0, "c"), named(1, "a"), named(2, "b"), named(0, "c")],
        }
    );
    assert_eq!(
        err.to_string(),
        "tasks form a cycle: `c` -> `a` -> `b` -> `c`; remove one of these edges"
    );
}

#[test]
fn cycle_deep_in_a_larger_graph_behind_a_tail() {
    // A chain 0 -> 1 -> ... -> 29 leads into the cycle 30 -> 31 -> 32 -> 33 -> 30,
    // which also feeds a downstream chain; an unrelated DAG sits beside it.
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let n = 60u32;
    for _ in 0..n {
        b.unnamed_task(noop).unwrap();
    }
    let mut edges: Vec<(u32, u32)> = (0..30).map(|v| (v, v + 1)).collect();
    edges.extend([(31, 32), (32, 33), (33, 30)]);
    edges.extend((33..45).map(|v| (v, v + 1)));
    edges.extend((46..n - 1).flat_map(|v| [(v, v + 1), (46, v + 1)]));
    edges.push((30, 31));
    b.edges(edges.iter().map(|&(u, v)| (id(u), id(v)))).unwrap();
    let err = b.build().unwrap_err();
    let mut on_cycle = assert_cycle(&err, &edges, |v| format!("task #{v}"));
    on_cycle.sort();
    assert_eq!(
        on_cycle,
        [30, 31, 32, 33],
        "the only cycle, not the tail into it"
    );
    assert_eq!(
        err.to_string(),
        "tasks form a cycle: task #30 -> task #31 -> task #32 -> task #33 -> task #30; remove one of these edges"
    );
}

#[test]
fn cycle_among_unnamed_and_named_tasks() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let t0 = b.unnamed_task(noop).unwrap();
    let t1 = b.unnamed_task(noop).unwrap();
    let t2 = b.task("two", noop).unwrap();
    let t3 = b.unnamed_task(noop).unwrap();
    b.edges([(t3, t1), (t1, t2), (t2, t3), (t0, t1)]).unwrap();
    let err = b.build().unwrap_err();
    let label = |v: u32| {
        if v == 2 {
            "`two`".to_string()
        } else {
            format!("task #{v}")
        }
    };
    let mut on_cycle = assert_cycle(&err, &[(3, 1), (1, 2), (2, 3), (0, 1)], label);
    on_cycle.sort();
    assert_eq!(on_cycle, [1, 2, 3]);
    assert_eq!(
        err.to_string(),
        "tasks form a cycle: task #1 -> `two` -> task #3 -> task #1; remove one of these edges"
    );
}

#[test]
fn one_cycle_is_reported_when_there_are_several() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    for _ in 0..8 {
        b.unnamed_task(noop).unwrap();
    }
    let edges = [(0, 1), (1, 0), (2, 3), (3, 4), (4, 2), (5, 6), (6, 7)];
    b.edges(edges.iter().map(|&(u, v)| (id(u), id(v)))).unwrap();
    let err = b.build().unwrap_err();
    let mut on_cycle = assert_cycle(&err, &edges, |v| format!("task #{v}"));
    on_cycle.sort();
    assert!(on_cycle == [0, 1] || on_cycle == [2, 3, 4], "{on_cycle:?}");
}

#[test]
fn a_failed_build_leaves_the_arena_reusable() {
    let mut arena = Arena::new();
    {
        let mut b = arena.builder::<()>();
        b.task("a", noop).unwrap();
        b.task("b", noop).unwrap();
        b.edge("a", "b").unwrap();
        b.edge("b", "a").unwrap();
        assert!(matches!(b.build(), Err(BuildError::Cycle { .. })));
    }
    // The same names again: the failed graph's names are gone.
    let mut b = arena.builder::<()>();
    b.task("b", noop).unwrap();
    b.task("a", noop).unwrap();
    b.edge("b", "a").unwrap();
    let graph = b.build().unwrap();
    assert_eq!(graph.find("b"), Some(id(0)));
    assert_eq!(graph.task_count(), 2);
}

// ---------------------------------------------------------------- limits

#[test]
fn too_many_tasks_with_max_tasks() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.max_tasks(2);
    b.task("a", noop).unwrap();
    b.unnamed_task(noop).unwrap();
    let err = b.task("c", noop).unwrap_err();
    assert_eq!(err, BuildError::TooManyTasks { given: 3, limit: 2 });
    assert_eq!(
        err.to_string(),
        "the graph would have 3 tasks, more than its limit of 2"
    );
    assert_eq!(
        b.unnamed_task(noop).unwrap_err(),
        BuildError::TooManyTasks { given: 3, limit: 2 }
    );
    assert_eq!(b.task_count(), 2);

    // Lowering the limit below the current count refuses the next task.
    b.max_tasks(1);
    assert_eq!(
        b.unnamed_task(noop).unwrap_err(),
        BuildError::TooManyTasks { given: 3, limit: 1 }
    );
    // The refused name was not taken.
    b.max_tasks(3);
    b.task("c", noop).unwrap();
    let graph = b.build().unwrap();
    assert_eq!(graph.task_count(), 3);
    assert_eq!(graph.find("c"), Some(id(2)));
}

#[test]
fn max_tasks_zero_refuses_the_first_task() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.max_tasks(0);
    assert_eq!(
        b.task("a", noop).unwrap_err(),
        BuildError::TooManyTasks { given: 1, limit: 0 }
    );
    assert_eq!(
        b.unnamed_task(noop).unwrap_err(),
        BuildError::TooManyTasks { given: 1, limit: 0 }
    );
    let graph = b.build().unwrap();
    assert_eq!(graph.task_count(), 0);
    assert_eq!(graph.find("a"), None);
}

#[test]
fn too_many_edges_with_max_edges() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let [t0, t1, t2, t3] = [(); 4].map(|_| b.unnamed_task(noop).unwrap());
    b.max_edges(2);
    b.edge(t0, t1).unwrap();
    b.edge(t1, t2).unwrap();
    let err = b.edge(t2, t3).unwrap_err();
    assert_eq!(err, BuildError::TooManyEdges { given: 3, limit: 2 });
    assert_eq!(
        err.to_string(),
        "the graph would have 3 edges, more than its limit of 2"
    );
    assert_eq!(b.edge_count(), 2);

    // Through edges(): the edges before the limit are kept.
    b.max_edges(3);
    let err = b.edges([(t2, t3), (t0, t3), (t0, t2)]).unwrap_err();
    assert_eq!(err, BuildError::TooManyEdges { given: 4, limit: 3 });
    assert_eq!(b.edge_count(), 3);

    let graph = b.build().unwrap();
    assert_eq!(graph.edge_count(), 3);
    assert_eq!(sorted(graph.predecessors(t3)), [t2]);
}

#[test]
fn edges_with_a_huge_iterator_stops_at_max_edges() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let x = b.unnamed_task(noop).unwrap();
    let y = b.unnamed_task(noop).unwrap();
    b.max_edges(4);
    // An honest, exact size_hint; the builder only ever needs to look at five items.
    let err = b
        .edges(std::iter::repeat_n((x, y), usize::MAX))
        .unwrap_err();
    assert_eq!(err, BuildError::TooManyEdges { given: 5, limit: 4 });
}

// ---------------------------------------------------------------- recovery

#[test]
fn every_failed_call_leaves_the_builder_usable() {
    let runs = Arc::new(AtomicUsize::new(0));
    let mut arena = Arena::new();
    let mut b = arena.builder::<u32>();
    let body = |value: u32| {
        let runs = Arc::clone(&runs);
        move |ctx: &TaskContext<'_, u32>| {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok(value + ctx.inputs().map(|(_, v)| *v).sum::<u32>())
        }
    };
    b.task("a", body(1)).unwrap();
    assert!(b.task("", body(100)).is_err());
    assert!(b.task("a", body(100)).is_err());
    b.task("b", body(2)).unwrap();
    assert!(b.edge("a", "nope").is_err());
    assert!(b.edge(id(2), "a").is_err());
    assert!(b.edge("b", "b").is_err());
    b.edge("a", "b").unwrap();
    b.max_edges(1);
    assert!(b.edge("b", "a").is_err(), "over the edge limit");
    b.max_edges(10);
    b.max_tasks(2);
    assert!(b.unnamed_task(body(100)).is_err());
    b.max_tasks(10);
    let c = b.unnamed_task(body(3)).unwrap();
    assert_eq!(c, id(2), "refused tasks took no id");
    b.edge("b", c).unwrap();
    assert_eq!((b.task_count(), b.edge_count()), (3, 2));

    let graph = b.build().unwrap();
    assert_eq!((graph.task_count(), graph.edge_count()), (3, 2));
    let report = executor(2).run(&graph);
    assert!(report.is_success(), "{report}");
    assert_eq!(report.output("a"), Some(&1));
    assert_eq!(report.output("b"), Some(&3));
    assert_eq!(report.output(c), Some(&6));
    assert_eq!(
        runs.load(Ordering::SeqCst),
        3,
        "no refused task body ever ran"
    );
}

// ---------------------------------------------------------------- duplicate edges

#[test]
fn duplicate_edges_are_merged() {
    let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..3).map(|_| AtomicUsize::new(0)).collect());
    let mut arena = Arena::new();
    let mut b = arena.builder::<usize>();
    for name in ["a", "b", "c"] {
        let runs = Arc::clone(&runs);
        b.task(name, move |ctx| {
            runs[ctx.id().index()].fetch_add(1, Ordering::SeqCst);
            Ok(ctx.input_count())
        })
        .unwrap();
    }
    let (a, bb, c) = (id(0), id(1), id(2));
    b.edge("a", "b").unwrap();
    b.edge(a, bb).unwrap();
    b.edge("a", bb).unwrap();
    b.edges([(a, bb), (bb, c), (a, bb), (bb, c)]).unwrap();
    b.edge("b", "c").unwrap();
    assert_eq!(b.edge_count(), 8, "the builder counts every call");

    let graph = b.build().unwrap();
    assert_eq!(graph.edge_count(), 2, "the graph counts distinct edges");
    assert_eq!(graph.predecessors(bb).collect::<Vec<_>>(), [a]);
    assert_eq!(graph.successors(a).collect::<Vec<_>>(), [bb]);
    assert_eq!(graph.successors(bb).len(), 1);
    assert_eq!(graph.sources().collect::<Vec<_>>(), [a]);

    for round in 1..=3 {
        let report = executor(2).run(&graph);
        assert!(report.is_success(), "{report}");
        assert_eq!(
            report.output("b"),
            Some(&1),
            "one input despite four `a -> b` edges"
        );
        assert_eq!(report.output("c"), Some(&1));
        for r in runs.iter() {
            assert_eq!(
                r.load(Ordering::SeqCst),
                round,
                "every task ran once per run"
            );
        }
    }
}

// ---------------------------------------------------------------- accessors

#[test]
fn graph_accessors() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let a = b.task("a", noop).unwrap();
    let anon = b.unnamed_task(noop).unwrap();
    let c = b.task("c", noop).unwrap();
    let d = b.task("d", noop).unwrap();
    let e = b.unnamed_task(noop).unwrap();
    // Added out of id order, so sorted predecessors are not an accident.
    b.edge("c", "d").unwrap();
    b.edge(anon, "d").unwrap();
    b.edge("a", "d").unwrap();
    b.edge("a", "c").unwrap();
    b.edge(d, e).unwrap();
    let graph = b.build().unwrap();

    assert_eq!(graph.task_count(), 5);
    assert_eq!(graph.edge_count(), 5);
    assert_eq!(graph.find("a"), Some(a));
    assert_eq!(graph.find("d"), Some(d));
    assert_eq!(graph.find(e), Some(e));
    assert_eq!(graph.find(anon), Some(anon));
    assert_eq!(graph.find("e"), None);
    assert_eq!(graph.find(""), None);
    assert_eq!(graph.find(id(5)), None);
    assert_eq!(graph.find(id(u32::MAX)), None);

    assert_eq!(graph.name(a), Some("a"));
    assert_eq!(graph.name(c), Some("c"));
    assert_eq!(graph.name(anon), None);
    assert_eq!(graph.name(e), None);
    assert_eq!(graph.name(id(5)), None);

    assert_eq!(
        graph.predecessors(d).collect::<Vec<_>>(),
        [a, anon, c],
        "in id order"
    );
    assert_eq!(graph.predecessors(d).len(), 3);
    assert_eq!(graph.predecessors(c).collect::<Vec<_>>(), [a]);
    assert_eq!(graph.predecessors(a).len(), 0);
    assert_eq!(sorted(graph.successors(a)), [c, d]);
    assert_eq!(graph.successors(a).len(), 2);
    assert_eq!(sorted(graph.successors(d)), [e]);
    assert_eq!(graph.successors(e).len(), 0);
    assert_eq!(sorted(graph.sources()), [a, anon]);
    assert_eq!(graph.sources().len(), 2);

    for unknown in [id(5), id(1000), id(u32::MAX)] {
        assert_eq!(graph.predecessors(unknown).len(), 0);
        assert_eq!(graph.predecessors(unknown).next(), None);
        assert_eq!(graph.successors(unknown).len(), 0);
        assert_eq!(graph.successors(unknown).next(), None);
    }
}

// ---------------------------------------------------------------- empty graph

#[test]
fn empty_graph_builds_and_runs() {
    let mut arena = Arena::new();
    let graph = arena.builder::<()>().build().unwrap();
    assert_eq!((graph.task_count(), graph.edge_count()), (0, 0));
    assert_eq!(graph.sources().len(), 0);
    assert_eq!(graph.find(id(0)), None);

    for exec in [1, 2].map(executor) {
        let report = exec.run(&graph);
        assert_eq!(report.task_count(), 0);
        assert_eq!(report.task_count(), 0);
        assert!(report.is_success());
        assert_eq!(report.counts(), Counts::default());
        assert_eq!(report.stop_reason(), None);
        assert_eq!(report.tasks().len(), 0);
        assert_eq!(report.failures().count(), 0);
        assert!(report.outcome(id(0)).is_none());
        assert!(report.into_result().is_ok());
    }
}

// ---------------------------------------------------------------- unusual names

#[test]
fn non_ascii_names_round_trip() {
    let names = [
        "données→π",
        "名前",
        "🚀 launch",
        "e\u{301}",
        "\u{e9}",
        "tab\tand\nnewline",
        "a`b",
    ];
    let mut arena = Arena::new();
    let mut b = arena.builder::<String>();
    for name in names {
        b.task(name, |ctx| Ok(ctx.name().unwrap_or("").to_owned()))
            .unwrap();
    }
    // Two spellings of "é" are different strings, hence different tasks.
    b.edge("e\u{301}", "\u{e9}").unwrap();
    b.edge("名前", "🚀 launch").unwrap();
    let err = b.task("名前", |_| Ok(String::new())).unwrap_err();
    assert_eq!(
        err.to_string(),
        "task name `名前` is already taken by task #1: task names must be unique"
    );
    let err = b.edge("名前", "名前").unwrap_err();
    assert_eq!(
        err,
        BuildError::SelfLoop {
            task: named(1, "名前")
        }
    );
    let graph = b.build().unwrap();

    let report = executor(2).run(&graph);
    assert!(report.is_success(), "{report}");
    for (i, name) in names.iter().enumerate() {
        let t = id(i as u32);
        assert_eq!(graph.name(t), Some(*name));
        assert_eq!(graph.find(*name), Some(t));
        assert_eq!(report.state(*name), Some(State::Succeeded));
        assert_eq!(
            report.output(*name).map(String::as_str),
            Some(*name),
            "ctx.name() inside the task"
        );
    }
    assert_eq!(graph.predecessors(id(4)).collect::<Vec<_>>(), [id(3)]);
}

#[test]
fn very_long_names_round_trip() {
    let len = if cfg!(miri) { 2_000 } else { 100_000 };
    // Two long names that differ only in their last character, and one that is
    // a prefix of both.
    let long_a = format!("{}a", "ü".repeat(len / 2));
    let long_b = format!("{}b", "ü".repeat(len / 2));
    let prefix = "ü".repeat(len / 2);
    assert!(long_a.len() > len);

    let mut arena = Arena::new();
    let mut b = arena.builder::<usize>();
    for name in [&long_a, &long_b, &prefix] {
        b.task(name, |ctx| Ok(ctx.name().map_or(0, str::len)))
            .unwrap();
    }
    b.edge(&long_a, &long_b).unwrap();
    let err = b.task(&prefix, |_| Ok(0)).unwrap_err();
    assert!(
        matches!(&err, BuildError::DuplicateName { name, first } if *name == prefix && *first == id(2))
    );
    let graph = b.build().unwrap();

    assert_eq!(graph.name(id(0)), Some(long_a.as_str()));
    assert_eq!(graph.name(id(1)), Some(long_b.as_str()));
    assert_eq!(graph.find(&prefix), Some(id(2)));
    assert_eq!(graph.predecessors(id(1)).collect::<Vec<_>>(), [id(0)]);

    let report = executor(2).run(&graph);
    for name in [&long_a, &long_b, &prefix] {
        match report.outcome(name) {
            Some(Outcome::Succeeded(seen)) => assert_eq!(*seen, name.len()),
            other => panic!("{other:?}"),
        }
    }
    let labels: Vec<Option<&str>> = report.tasks().map(|t| t.name).collect();
    assert_eq!(
        labels,
        [
            Some(long_a.as_str()),
            Some(long_b.as_str()),
            Some(prefix.as_str())
        ]
    );
}

#[test]
fn topology_bytes_count_each_task_and_each_merged_edge_once() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    let ids: Vec<TaskId> = (0..4).map(|_| b.unnamed_task(noop).unwrap()).collect();
    // A diamond, with one duplicate edge that build merges.
    for (from, to) in [(0, 1), (0, 2), (1, 3), (2, 3), (2, 3)] {
        b.edge(ids[from], ids[to]).unwrap();
    }
    let graph = b.build().unwrap();
    let word = std::mem::size_of::<u32>();
    let per_task = 3 * word + 2 * std::mem::size_of::<usize>();
    // Offsets have one entry more than tasks, twice; every edge is stored as
    // a successor and as a predecessor; the one source is listed once.
    let expected = 4 * per_task + 2 * word + 4 * 2 * word + word;
    assert_eq!(graph.topology_bytes(), expected);
    drop(graph);
    assert!(arena.allocated_bytes() >= expected);
}

/// A graph that grew the arena in several chunks is rebuilt in one: after
/// the rewind the arena holds a chunk as large as all of them, so the
/// second build allocates nothing more (it used to grow, and fault in, new
/// chunks for two more rebuilds).
#[test]
fn a_rewound_arena_holds_the_whole_last_graph_in_one_chunk() {
    let n = if cfg!(miri) { 300 } else { 30_000 };
    let build = |arena: &mut Arena| {
        let mut b = arena.builder::<()>();
        for _ in 0..n {
            b.unnamed_task(|_| Ok(())).unwrap();
        }
        b.edges((1..n as u32).map(|i| (TaskId::new(i - 1), TaskId::new(i))))
            .unwrap();
        b.build().unwrap().task_count()
    };
    let mut arena = Arena::new();
    assert_eq!(build(&mut arena), n);
    let grown = arena.allocated_bytes();
    arena.reset();
    let rewound = arena.allocated_bytes();
    assert!(
        rewound >= grown,
        "the rewound arena holds {rewound} bytes, the graph took {grown}"
    );
    assert_eq!(build(&mut arena), n);
    assert_eq!(
        arena.allocated_bytes(),
        rewound,
        "the second build needed a new chunk"
    );
}

/// Everything a built graph says about its shape: names, successors in run
/// order, predecessors, sources.
fn shape_of(graph: &kahn::Graph<'_, u64>) -> Vec<(Option<String>, Vec<TaskId>, Vec<TaskId>)> {
    let mut all: Vec<_> = (0..graph.task_count() as u32)
        .map(TaskId::new)
        .map(|v| {
            let name = graph.name(v).map(str::to_owned);
            (
                name,
                graph.successors(v).collect(),
                graph.predecessors(v).collect(),
            )
        })
        .collect();
    all.push((None, graph.sources().collect(), Vec::new()));
    all
}

#[test]
#[cfg_attr(miri, ignore = "300,000 tasks: too large for Miri")]
fn huge_pages_change_nothing_a_graph_is_or_does() {
    // Large enough for the arrays to take whole 2 MiB pages (the advice's
    // threshold); tasks added in reverse, so edges go from higher ids to
    // lower and the cycle check runs; every chain edge twice, so the merge
    // runs.
    let n = 300_000usize;
    let names: Vec<String> = (0..n).map(|i| format!("step-{i}")).collect();
    let mut pairs = Vec::new();
    for v in 1..n {
        let u = (v as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) as usize % v;
        pairs.push((names[u].as_str(), names[v].as_str()));
        pairs.push((names[v - 1].as_str(), names[v].as_str()));
        pairs.push((names[v - 1].as_str(), names[v].as_str()));
    }
    let body = |ctx: &TaskContext<'_, u64>| -> Result<u64, BoxError> {
        Ok(1 + ctx.inputs().map(|(_, x)| *x).max().unwrap_or(0))
    };
    let distinct = pairs.iter().collect::<HashSet<_>>().len();
    let executor = executor(2);
    let mut seen = Vec::new();
    for huge in [false, true] {
        let mut arena = Arena::new();
        arena.huge_pages(huge);
        for _rebuild in 0..2 {
            let mut b = arena.builder::<u64>();
            b.reserve(n, pairs.len());
            b.tasks(names.iter().rev().map(|name| (name.as_str(), body)))
                .unwrap();
            b.edges_by_name(pairs.iter().copied()).unwrap();
            let graph = b.build().unwrap();
            assert_eq!(graph.edge_count(), distinct, "duplicates merged");
            let report = executor.run(&graph);
            assert!(report.is_success());
            let depth = report.output(names[n - 1].as_str()).copied();
            assert_eq!(depth, Some(n as u64), "the chain runs through every step");
            seen.push((shape_of(&graph), depth));
        }
    }
    assert!(
        seen.windows(2).all(|w| w[0] == w[1]),
        "the same graph and outputs with and without huge pages, built and rebuilt"
    );
}
