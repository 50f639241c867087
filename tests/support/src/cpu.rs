//! How much CPU an executor's threads use: for tests that check idle threads stay idle.

use std::sync::{Barrier, Mutex};

use kahn::{Arena, Executor};

/// The Linux thread ids of `executor`'s threads, found by running one task
/// on each (the tasks wait for each other, so each is on its own thread);
/// `None` where `/proc/thread-self` cannot be read (not Linux, a sandbox),
/// so callers skip their check.
pub fn thread_ids(executor: &Executor) -> Option<Vec<u64>> {
    std::fs::read_link("/proc/thread-self").ok()?;
    let threads = executor.threads();
    let meet = Barrier::new(threads);
    let ids = Mutex::new(Vec::new());
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    for _ in 0..threads {
        b.unnamed_task(|_| {
            meet.wait();
            let me = std::fs::read_link("/proc/thread-self")?;
            let id = me.file_name().and_then(|n| n.to_str()).unwrap_or("");
            ids.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(id.parse()?);
            Ok(())
        })
        .expect("under the limit");
    }
    let graph = b.build().expect("no edges");
    if !executor.run(&graph).is_success() {
        return None;
    }
    drop(graph);
    Some(ids.into_inner().unwrap_or_else(|e| e.into_inner()))
}

/// CPU time, in milliseconds (clock ticks of 10 ms), that the threads
/// `ids` of this process have used so far; `None` if one cannot be read.
pub fn cpu_ms(ids: &[u64]) -> Option<u64> {
    let mut ticks = 0;
    for id in ids {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{id}/stat")).ok()?;
        // After "tid (comm) " come the state (field 3), ..., utime and
        // stime (fields 14 and 15).
        let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
        ticks += fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    }
    // USER_HZ is 100 on every Linux architecture kahn runs on.
    Some(ticks * 10)
}

/// A fresh 2-thread executor, leaked so runs on other threads may borrow
/// it, and the ids of its threads; `None` where their CPU cannot be read
/// (see [`thread_ids`]) or under Miri, so callers skip their check.
pub fn watched_executor() -> Option<(&'static Executor, Vec<u64>)> {
    if cfg!(miri) {
        return None;
    }
    let executor: &'static Executor =
        Box::leak(Box::new(Executor::with_threads(2).expect("two threads")));
    let ids = thread_ids(executor)?;
    Some((executor, ids))
}
