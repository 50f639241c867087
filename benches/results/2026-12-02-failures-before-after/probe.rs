//! Callgrind probe: reruns of one built graph of a benchmark shape, empty bodies.
use kahn::{Arena, Executor};
use kahn_bench::shapes::Shape;
fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let shape: Shape = a[0].parse().unwrap();
    let n: usize = a[1].parse().unwrap();
    let threads: usize = a[2].parse().unwrap();
    let reps: usize = a[3].parse().unwrap();
    let g = shape.generate(n);
    let exec = Executor::with_threads(threads).unwrap();
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    for _ in 0..g.tasks { b.unnamed_task(|_| Ok(())).unwrap(); }
    b.edges(g.task_edges()).unwrap();
    let graph = b.build().unwrap();
    let mut ts = Vec::new();
    for _ in 0..reps {
        let t = std::time::Instant::now();
        let r = exec.run(&graph);
        ts.push(t.elapsed().as_nanos() as f64 / g.tasks as f64);
        assert!(r.is_success());
    }
    ts.sort_by(|x, y| x.partial_cmp(y).unwrap());
    if reps > 0 { println!("{} {} t={} median {:.2} min {:.2} ns/task", a[0], n, threads, ts[reps / 2], ts[0]); }
}
