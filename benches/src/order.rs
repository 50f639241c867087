//! Order stamps: the check that a run of a shape ran each task once, and
//! each after all its predecessors, for the harness and the tests.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::shapes::ShapeGraph;

/// A stamp per task, taken from one global sequence when the task starts.
#[derive(Debug)]
pub struct Stamps {
    next: AtomicU64,
    at: Vec<AtomicU64>,
    twice: AtomicBool,
}

impl Stamps {
    /// Stamps for `tasks` tasks, none started yet.
    pub fn new(tasks: usize) -> Stamps {
        Stamps {
            next: AtomicU64::new(0),
            at: (0..tasks).map(|_| AtomicU64::new(u64::MAX)).collect(),
            twice: AtomicBool::new(false),
        }
    }

    /// Task `v` starts: the body calls this first.
    pub fn hit(&self, v: u32) {
        let now = self.next.fetch_add(1, Ordering::SeqCst);
        if self.at[v as usize].swap(now, Ordering::SeqCst) != u64::MAX {
            self.twice.store(true, Ordering::SeqCst);
        }
    }

    /// Every task of `g` ran exactly once, and after every one of its
    /// predecessors; otherwise, what went wrong.
    pub fn verify(&self, g: &ShapeGraph) -> Result<(), String> {
        if self.twice.load(Ordering::SeqCst) {
            return Err("a task ran twice".into());
        }
        if let Some(v) = self
            .at
            .iter()
            .position(|t| t.load(Ordering::SeqCst) == u64::MAX)
        {
            return Err(format!("task {v} never ran"));
        }
        for &(u, v) in &g.edges {
            let (tu, tv) = (
                self.at[u as usize].load(Ordering::SeqCst),
                self.at[v as usize].load(Ordering::SeqCst),
            );
            if tu >= tv {
                return Err(format!("task {v} started before its predecessor {u}"));
            }
        }
        Ok(())
    }
}
