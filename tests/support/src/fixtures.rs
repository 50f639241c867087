//! Small graphs that several test files build the same way, built once here.

use std::time::Duration;

use kahn::{Arena, Graph, GraphBuilder};

/// `first → second`, where `first` cancels its own run (`ctx.cancel_run()`)
/// and succeeds: run once, `first` succeeds, `second` is cancelled and the
/// stop names `first`; resumed, `first` is carried over. The exports and the
/// summaries show this run's cancelled and carried-over tasks.
pub fn cancelling_pair<'a>(arena: &'a mut Arena, first: &str, second: &str) -> Graph<'a, ()> {
    let mut b = arena.builder::<()>();
    b.task(first, |ctx| {
        ctx.cancel_run();
        Ok(())
    })
    .expect("a fresh builder takes the first task");
    b.task(second, |_| Ok(())).expect("the two names differ");
    b.edge(first, second).expect("both tasks exist");
    b.build().expect("two tasks and an edge make a DAG")
}

/// Adds `step0 → step1 → … → step{n-1}` to `b`, each task sleeping `each`
/// and returning 0: a long chain that a cancel, a deadline or fail-fast
/// cuts short (kahn-timely's tests of stops across workers).
pub fn add_sleeping_chain(b: &mut GraphBuilder<'_, u64>, n: usize, each: Duration) {
    for i in 0..n {
        b.task(&format!("step{i}"), move |_| {
            std::thread::sleep(each);
            Ok(0)
        })
        .expect("fresh names");
        if i > 0 {
            b.edge(&*format!("step{}", i - 1), &*format!("step{i}"))
                .expect("both tasks exist");
        }
    }
}

/// `root → parse0 … parse3 → aggregate`, each parse returning what `parse`
/// does (whether it met its group, in the tests that make the parses wait
/// for each other) and `aggregate` whether all four did: a fan-out that
/// needs a worker for every parse at once.
pub fn fan_out_in<'a>(
    arena: &'a mut Arena,
    parse: &'a (dyn Fn() -> bool + Sync),
) -> Graph<'a, bool> {
    let mut b = arena.builder::<bool>();
    b.task("root", |_| Ok(true)).expect("a fresh builder");
    for i in 0..4 {
        let name = format!("parse{i}");
        b.task(&name, move |_| Ok(parse())).expect("fresh names");
        b.edge("root", name.as_str()).expect("both tasks exist");
    }
    b.task("aggregate", |ctx| Ok(ctx.inputs().all(|(_, met)| *met)))
        .expect("a fresh name");
    for i in 0..4 {
        b.edge(format!("parse{i}").as_str(), "aggregate")
            .expect("both tasks exist");
    }
    b.build().expect("a fan-out and a fan-in make a DAG")
}
