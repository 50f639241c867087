//! callgrind probe: runs a shape at 1e5 on one thread `runs` times (the instructions a task, from two run counts).
use kahn::{Arena, Executor};
use kahn_bench::shapes::Shape;
fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let shape: Shape = a[0].parse().unwrap();
    let runs: usize = a[1].parse().unwrap();
    let g = shape.generate(100_000);
    let mut arena = Arena::new();
    let graph = kahn_bench::baselines::build_shape::<()>(&mut arena, &g, |_| Ok(()));
    let ex = Executor::with_threads(1).unwrap();
    for _ in 0..runs {
        assert_eq!(ex.run(&graph).counts().succeeded, g.tasks);
    }
}
