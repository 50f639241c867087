//! Probe: how much a run whose every task waits for a resource slows another run of the same executor (`dryprobe [threads] [rounds] [tasks] [micros]`).
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kahn::{Arena, Executor, Resource};

fn spin(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads: usize = args.first().map_or(2, |a| a.parse().unwrap());
    let rounds: usize = args.get(1).map_or(6, |a| a.parse().unwrap());
    let tasks: usize = args.get(2).map_or(4000, |a| a.parse().unwrap());
    let micros: u64 = args.get(3).map_or(25, |a| a.parse().unwrap());
    let exec = Executor::with_threads(threads).unwrap();
    let r = Resource::new("r", 1);
    for round in 0..rounds {
        for with_dry in [false, true] {
            std::thread::scope(|s| {
                let (held_tx, held_rx) = mpsc::channel::<()>();
                let (done_tx, done_rx) = mpsc::channel::<()>();
                let (exec, r) = (&exec, &r);
                // C: holds the resource on one thread until told to stop.
                s.spawn(move || {
                    let mut arena = Arena::new();
                    let mut b = arena.builder::<()>();
                    let done_rx = std::sync::Mutex::new(done_rx);
                    b.task("hold", move |_| {
                        held_tx.send(()).unwrap();
                        done_rx.lock().unwrap().recv().unwrap();
                        Ok(())
                    })
                    .unwrap();
                    b.uses("hold", r).unwrap();
                    let g = b.build().unwrap();
                    assert!(exec.run(&g).is_success());
                });
                held_rx.recv().unwrap();
                let waiter = with_dry.then(|| {
                    s.spawn(move || {
                        let mut arena = Arena::new();
                        let mut b = arena.builder::<()>();
                        for i in 0..4 {
                            let name = format!("w{i}");
                            b.task(&name, |_| Ok(())).unwrap();
                            b.uses(&name, r).unwrap();
                        }
                        let g = b.build().unwrap();
                        assert!(exec.run(&g).is_success());
                    })
                });
                if with_dry {
                    while r.waiting() < 4 {
                        std::thread::yield_now();
                    }
                }
                let mut arena = Arena::new();
                let mut b = arena.builder::<()>();
                for _ in 0..tasks {
                    b.unnamed_task(move |_| {
                        spin(Duration::from_micros(micros));
                        Ok(())
                    })
                    .unwrap();
                }
                let g = b.build().unwrap();
                let t = Instant::now();
                assert!(exec.run(&g).is_success());
                let el = t.elapsed();
                done_tx.send(()).unwrap();
                if let Some(w) = waiter {
                    w.join().unwrap();
                }
                let ideal = Duration::from_micros(micros * tasks as u64) / (threads as u32 - 1);
                println!(
                    "round {round} dry={with_dry}: {:.2} ms, {:.3}x ideal",
                    el.as_secs_f64() * 1e3,
                    el.as_secs_f64() / ideal.as_secs_f64()
                );
            });
        }
    }
}
