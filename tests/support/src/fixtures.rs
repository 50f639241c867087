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
