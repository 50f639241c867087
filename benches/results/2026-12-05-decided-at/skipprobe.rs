//! scratch probe: a run where the root fails and every other task is skipped, untimed and timed.
use kahn::{Arena, Executor, RunOptions};
use kahn_bench::shapes::Shape;
use std::time::Instant;
fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let shape: Shape = a[0].parse().unwrap();
    let n: usize = a[1].parse().unwrap();
    let threads: usize = a[2].parse().unwrap();
    let reps: usize = a.get(3).map_or(31, |r| r.parse().unwrap());
    let g = shape.generate(n);
    let mut arena = Arena::new();
    let graph = kahn_bench::baselines::build_shape::<()>(&mut arena, &g, |ctx| {
        if ctx.id().index() == 0 { Err("root fails".into()) } else { Ok(()) }
    });
    let ex = Executor::with_threads(threads).unwrap();
    for timed in [false, true] {
        let opts = RunOptions::new().record_timings(timed);
        let mut t: Vec<f64> = (0..reps).map(|_| { let s = Instant::now(); let r = ex.run_with(&graph, &opts); let e = s.elapsed().as_nanos() as f64 / g.tasks as f64; assert!(r.counts().skipped > 0); e }).collect();
        t.sort_by(|a, b| a.partial_cmp(b).unwrap());
        print!("{} timed={timed}: median {:.2} ns/task; ", shape, t[t.len() / 2]);
    }
    println!();
}
