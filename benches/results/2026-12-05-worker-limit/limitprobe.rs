//! Probe: back-to-back 1,000-task runs on a 1-thread executor, a 2-thread one, and the 2-thread one limited to one worker (`RunOptions::max_workers(1)`), in turn.
use kahn::{Arena, Executor, RunOptions};
use kahn_bench::shapes::Shape;
use std::time::Instant;
fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let shape: Shape = a[0].parse().unwrap();
    let rounds: usize = a.get(1).map_or(6, |r| r.parse().unwrap());
    let reps: usize = a.get(2).map_or(2000, |r| r.parse().unwrap());
    let g = shape.generate(1000);
    let mut arena = Arena::new();
    let graph = kahn_bench::baselines::build_shape::<()>(&mut arena, &g, |_| Ok(()));
    let one = Executor::with_threads(1).unwrap();
    let two = Executor::with_threads(2).unwrap();
    let unlimited = RunOptions::new();
    let limited = RunOptions::new().max_workers(1);
    let med = |ex: &Executor, options: &RunOptions| {
        for _ in 0..20 {
            ex.run_with(&graph, options);
        }
        let mut t: Vec<f64> = (0..reps)
            .map(|_| {
                let s = Instant::now();
                let r = ex.run_with(&graph, options);
                let e = s.elapsed().as_secs_f64() * 1e6;
                assert_eq!(r.counts().succeeded, g.tasks);
                e
            })
            .collect();
        t.sort_by(|a, b| a.partial_cmp(b).unwrap());
        t[t.len() / 2]
    };
    for r in 0..rounds {
        let m1 = med(&one, &unlimited);
        let m2 = med(&two, &unlimited);
        let m2l = med(&two, &limited);
        println!(
            "{shape} round {r}: 1T {m1:.1} us, 2T {m2:.1} us ({:.2}x), 2T limited to 1 {m2l:.1} us ({:.2}x)",
            m2 / m1,
            m2l / m1
        );
    }
}
