//! scratch probe: back-to-back 1,000-task runs, 1 vs 2 threads, alternating rounds.
use kahn::{Arena, Executor};
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
    let med = |ex: &Executor| {
        for _ in 0..20 { ex.run(&graph); }
        let mut t: Vec<f64> = (0..reps).map(|_| { let s = Instant::now(); let r = ex.run(&graph); let e = s.elapsed().as_secs_f64() * 1e6; assert_eq!(r.counts().succeeded, g.tasks); e }).collect();
        t.sort_by(|a, b| a.partial_cmp(b).unwrap());
        t[t.len() / 2]
    };
    for r in 0..rounds {
        let m1 = med(&one);
        let m2 = med(&two);
        println!("{shape} round {r}: 1T {m1:.1} us, 2T {m2:.1} us, ratio {:.2}", m2 / m1);
    }
}
