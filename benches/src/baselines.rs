//! Baselines kahn is measured against, and the two ways a shape is built
//! into a kahn arena, for the harness and the criterion benches.

use std::hint::black_box;

use kahn::{Arena, BoxError, Graph, TaskContext};

use crate::shapes::ShapeGraph;

/// Builds `g` into `arena` with every task running `body`, edges by id.
pub fn build_shape<'a, T>(
    arena: &'a mut Arena,
    g: &ShapeGraph,
    body: impl Fn(&TaskContext<'_, T>) -> Result<T, BoxError> + Send + Sync + Copy + 'a,
) -> Graph<'a, T> {
    let mut b = arena.builder::<T>();
    b.reserve(g.tasks, g.edges.len());
    for _ in 0..g.tasks {
        b.unnamed_task(body).expect("under the limit");
    }
    b.edges(g.task_edges()).expect("valid edges");
    b.build().expect("acyclic")
}

/// How [`build_named`] hands the names to the builder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameCalls {
    /// One `task(name, body)` per task and one `edge(name, name)` per edge.
    OnePerItem,
    /// The bulk calls a configuration loader uses:
    /// [`tasks`](kahn::GraphBuilder::tasks) with every name, then
    /// [`edges_by_name`](kahn::GraphBuilder::edges_by_name) with every pair.
    Bulk,
}

/// Builds `g` into `arena` by name, as from a configuration: every task
/// called `names[i]` and running `body`, every edge given by its two names.
pub fn build_named<'a, T>(
    arena: &'a mut Arena,
    g: &ShapeGraph,
    names: &[String],
    body: impl Fn(&TaskContext<'_, T>) -> Result<T, BoxError> + Send + Sync + Copy + 'a,
    calls: NameCalls,
) -> Graph<'a, T> {
    let mut b = arena.builder::<T>();
    b.reserve(g.tasks, g.edges.len());
    let names = &names[..g.tasks];
    let pairs = g
        .edges
        .iter()
        .map(|&(u, v)| (names[u as usize].as_str(), names[v as usize].as_str()));
    match calls {
        NameCalls::OnePerItem => {
            for name in names {
                b.task(name, body).expect("unique names");
            }
            for (from, to) in pairs {
                b.edge(from, to).expect("known names");
            }
        }
        NameCalls::Bulk => {
            b.tasks(names.iter().map(|name| (name.as_str(), body)))
                .expect("unique names");
            b.edges_by_name(pairs).expect("known names");
        }
    }
    b.build().expect("acyclic")
}

/// A one-thread Kahn loop over CSR with the task body inlined: the
/// bookkeeping floor that no executor can beat on one thread.
pub struct SerialFloor {
    off: Vec<u32>,
    targets: Vec<u32>,
    indegree: Vec<u32>,
}

impl SerialFloor {
    /// Lays `g` out as CSR with its in-degrees.
    pub fn new(g: &ShapeGraph) -> SerialFloor {
        let mut off = vec![0u32; g.tasks + 1];
        let mut indegree = vec![0u32; g.tasks];
        for &(u, v) in &g.edges {
            off[u as usize + 1] += 1;
            indegree[v as usize] += 1;
        }
        for i in 0..g.tasks {
            off[i + 1] += off[i];
        }
        let mut cursor = off.clone();
        let mut targets = vec![0u32; g.edges.len()];
        for &(u, v) in &g.edges {
            targets[cursor[u as usize] as usize] = v;
            cursor[u as usize] += 1;
        }
        SerialFloor {
            off,
            targets,
            indegree,
        }
    }

    /// The tasks that wait for `v`.
    #[inline]
    fn successors(&self, v: u32) -> &[u32] {
        &self.targets[self.off[v as usize] as usize..self.off[v as usize + 1] as usize]
    }

    /// Runs every task once, calling `body(task)`; returns how many ran.
    #[inline]
    pub fn run(&self, mut body: impl FnMut(u32)) -> usize {
        let mut pending = self.indegree.clone();
        let mut stack: Vec<u32> = (0..pending.len() as u32)
            .rev()
            .filter(|&v| pending[v as usize] == 0)
            .collect();
        let mut ran = 0;
        while let Some(v) = stack.pop() {
            body(black_box(v));
            ran += 1;
            for &s in self.successors(v) {
                pending[s as usize] -= 1;
                if pending[s as usize] == 0 {
                    stack.push(s);
                }
            }
        }
        ran
    }
}

/// A CPU-bound task body: `steps` dependent xorshift64 steps (about 1 ns
/// each), so the work cannot be optimized away or vectorized.
#[inline]
pub fn spin(seed: u64, steps: u32) -> u64 {
    let mut x = seed | 1;
    for _ in 0..steps {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    black_box(x)
}

/// What most people write first: `rayon::scope` with one spawn per ready
/// task over an atomic in-degree array. Every spawn boxes a job.
///
/// [`RayonScope::continuing_inline`] is the variant a careful engineer
/// writes next, and the bar kahn's wavefront is held to: after a task, every
/// newly ready successor but one is spawned, and that one runs next on the
/// same thread, as Taskflow's and kahn's workers continue.
pub struct RayonScope {
    floor: SerialFloor,
    pool: rayon::ThreadPool,
    inline: bool,
}

impl RayonScope {
    /// Lays `g` out as the floor does, with a rayon pool of `threads`
    /// threads; every ready task is spawned.
    pub fn new(g: &ShapeGraph, threads: usize) -> RayonScope {
        RayonScope::with_continuation(g, threads, false)
    }

    /// As [`RayonScope::new`], but a task continues inline with one of the
    /// successors it made ready and spawns only the others.
    pub fn continuing_inline(g: &ShapeGraph, threads: usize) -> RayonScope {
        RayonScope::with_continuation(g, threads, true)
    }

    fn with_continuation(g: &ShapeGraph, threads: usize, inline: bool) -> RayonScope {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("threads");
        RayonScope {
            floor: SerialFloor::new(g),
            pool,
            inline,
        }
    }

    /// The variant's name in the harness's records: `rayon-scope` or
    /// `rayon-scope-inline`.
    pub fn variant(&self) -> &'static str {
        if self.inline {
            "rayon-scope-inline"
        } else {
            "rayon-scope"
        }
    }

    /// Runs every task once, calling `body(task)`; returns how many ran.
    pub fn run(&self, body: impl Fn(u32) + Sync) -> usize {
        if self.inline {
            self.run_as::<true>(&body)
        } else {
            self.run_as::<false>(&body)
        }
    }

    fn run_as<const INLINE: bool>(&self, body: &(impl Fn(u32) + Sync)) -> usize {
        use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
        let pending: Vec<AtomicU32> = self
            .floor
            .indegree
            .iter()
            .map(|&d| AtomicU32::new(d))
            .collect();
        let ran = AtomicUsize::new(0);
        /// Runs `v`, spawns the successors it makes ready, and with
        /// `INLINE` keeps the first of them to run next here.
        fn visit<'s, F: Fn(u32) + Sync, const INLINE: bool>(
            s: &rayon::Scope<'s>,
            mut v: u32,
            me: &'s SerialFloor,
            pending: &'s [AtomicU32],
            ran: &'s AtomicUsize,
            body: &'s F,
        ) {
            loop {
                body(v);
                ran.fetch_add(1, Ordering::Relaxed);
                let mut next = None;
                for &t in me.successors(v) {
                    if pending[t as usize].fetch_sub(1, Ordering::AcqRel) == 1 {
                        if INLINE && next.is_none() {
                            next = Some(t);
                        } else {
                            s.spawn(move |s| visit::<F, INLINE>(s, t, me, pending, ran, body));
                        }
                    }
                }
                match next {
                    Some(t) => v = t,
                    None => return,
                }
            }
        }
        let (me, pending_ref, ran_ref) = (&self.floor, &pending[..], &ran);
        self.pool.scope(|s| {
            for v in 0..pending_ref.len() as u32 {
                if me.indegree[v as usize] == 0 {
                    s.spawn(move |s| visit::<_, INLINE>(s, v, me, pending_ref, ran_ref, body));
                }
            }
        });
        ran.into_inner()
    }
}

/// kahn's design with nothing else: workers that decrement one shared array
/// of atomic in-degrees, run what they make ready depth-first from a private
/// stack, and hand the older half of it to an idle peer when one asks. No
/// task closures, outcomes, announcements or cancellation checks.
///
/// What it pays above [`SerialFloor`] is what sharing the counters between
/// threads costs on a shape (an atomic read-modify-write per edge, and a
/// cache-line transfer whenever the other worker touched the counter's line
/// last), whatever else an executor does. So it is the reference against
/// which a 2-thread bar over the floor is judged reachable by an executor of
/// this design: kahn ÷ `shared-counters` is kahn's own overhead.
pub struct SharedCounters {
    floor: SerialFloor,
    sources: Vec<u32>,
    pending: Vec<std::sync::atomic::AtomicU32>,
    pool: rayon::ThreadPool,
}

impl SharedCounters {
    /// Lays `g` out as the floor does, with a rayon pool of `threads`
    /// threads, one worker on each.
    pub fn new(g: &ShapeGraph, threads: usize) -> SharedCounters {
        let floor = SerialFloor::new(g);
        let sources = (0..g.tasks as u32)
            .rev()
            .filter(|&v| floor.indegree[v as usize] == 0)
            .collect();
        let pending = floor
            .indegree
            .iter()
            .map(|&d| std::sync::atomic::AtomicU32::new(d))
            .collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("threads");
        SharedCounters {
            floor,
            sources,
            pending,
            pool,
        }
    }

    /// Runs every task once, calling `body(task)`; returns how many ran.
    pub fn run(&self, body: impl Fn(u32) + Sync) -> usize {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use std::sync::Mutex;
        for (p, &d) in self.pending.iter().zip(&self.floor.indegree) {
            p.store(d, Ordering::Relaxed);
        }
        // Ready tasks handed between workers; the sources start here.
        let pile = Mutex::new(self.sources.clone());
        let hungry = AtomicBool::new(false);
        let remaining = AtomicUsize::new(self.pending.len());
        let ran = AtomicUsize::new(0);
        self.pool.broadcast(|_| {
            let mut stack: Vec<u32> = Vec::new();
            let mut done = 0;
            loop {
                let Some(v) = stack.pop() else {
                    if done > 0 {
                        ran.fetch_add(done, Ordering::Relaxed);
                        remaining.fetch_sub(done, Ordering::AcqRel);
                        done = 0;
                    }
                    if let Ok(mut pile) = pile.try_lock() {
                        let take = pile.len().div_ceil(2);
                        let from = pile.len() - take;
                        stack.extend(pile.drain(from..));
                    }
                    if stack.is_empty() {
                        if remaining.load(Ordering::Acquire) == 0 {
                            return;
                        }
                        hungry.store(true, Ordering::Relaxed);
                        std::hint::spin_loop();
                    }
                    continue;
                };
                body(black_box(v));
                done += 1;
                for &s in self.floor.successors(v) {
                    let p = &self.pending[s as usize];
                    // The last release only reads, as kahn's does.
                    if p.load(Ordering::Acquire) == 1 || p.fetch_sub(1, Ordering::AcqRel) == 1 {
                        stack.push(s);
                    }
                }
                if stack.len() > 1 && hungry.load(Ordering::Relaxed) {
                    hungry.store(false, Ordering::Relaxed);
                    let half = stack.len() / 2;
                    pile.lock()
                        .expect("no panics here")
                        .extend(stack.drain(..half));
                }
            }
        });
        ran.into_inner()
    }
}
