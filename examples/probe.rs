//! probe: chain rerun timing
use std::time::Instant;
fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let threads: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let reps: usize = std::env::args()
        .nth(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let shape = std::env::args().nth(4).unwrap_or("chain".into());
    let exec = kahn::Executor::with_threads(threads).unwrap();
    let mut arena = kahn::Arena::new();
    let mut b = arena.builder::<()>();
    for _ in 0..n {
        b.unnamed_task(|_| Ok(())).unwrap();
    }
    if shape == "chain" {
        b.edges((1..n).map(|i| (kahn::TaskId::new(i - 1), kahn::TaskId::new(i))))
            .unwrap();
    } else if shape == "tree" {
        b.edges((1..n).map(|i| (kahn::TaskId::new((i - 1) / 2), kahn::TaskId::new(i))))
            .unwrap();
    }
    let g = b.build().unwrap();
    let mut times = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        let r = exec.run(&g);
        times.push(t.elapsed().as_nanos() as f64 / n as f64);
        assert!(r.is_success());
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{shape} n={n} threads={threads} median {:.2} ns/task min {:.2}",
        times[times.len() / 2],
        times[0]
    );
}
