use std::time::Instant;
use kahn::shapes::Shape;
fn main() {
    let threads: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(2);
    let n: usize = std::env::args().nth(2).map(|s| s.parse().unwrap()).unwrap_or(1_000_000);
    let exec = kahn::Executor::with_threads(threads).unwrap();
    let mut arena = kahn::Arena::new();
    for shape in Shape::ALL {
        let g = shape.generate(n);
        let t0 = Instant::now();
        let mut b = arena.builder::<()>();
        b.reserve(g.tasks, g.edges.len());
        for _ in 0..g.tasks { b.add_task(|_| Ok(())).unwrap(); }
        b.edges(g.edges.iter().map(|&(u, v)| (kahn::TaskId::new(u), kahn::TaskId::new(v)))).unwrap();
        let graph = b.build().unwrap();
        let build = t0.elapsed();
        let mut times = vec![];
        for _ in 0..11 {
            let t = Instant::now();
            let r = exec.run(&graph);
            times.push(t.elapsed().as_secs_f64());
            assert!(r.is_success());
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!("{:12} n={:8} build {:6.1} ns/node  run median {:6.1} min {:6.1} ns/node", shape.name(), g.tasks,
            build.as_secs_f64()*1e9/g.tasks as f64, times[5]*1e9/g.tasks as f64, times[0]*1e9/g.tasks as f64);
    }
}
