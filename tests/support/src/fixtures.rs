//! Small graphs that several test files build the same way, built once here.

use kahn::{Arena, Graph};

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
