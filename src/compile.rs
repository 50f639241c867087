//! Compiles an edge list into the CSR form a run walks ([`Csr`]): O(V + E),
//! three passes over the edges, all in the arena; finds and reports cycles;
//! with priorities, sorts the lists by rank (`priority.rs`).
//!
//! The edge list is dead once the successors are laid out, and it is
//! twice as large as the predecessor lists: they are written into it, and
//! so are the pending counts, a cursor and the marks of the duplicate
//! merge where the rest has room (`e ≥ 3n`). The successor offsets are
//! their own cursor, shifted back after. A graph of `n` tasks and `e`
//! edges then takes 12e + 8n bytes here (plus 4 per source), not
//! 16e + 24n, and keeps no dead edge list.

use bumpalo::Bump;

use crate::csr::Csr;
use crate::pages;
use crate::priority::sort_by_rank;

/// Compiles `edges` (each `[from, to]` with both ends `< n`, no self-loops)
/// over `n` tasks, reusing their memory. Duplicate edges are merged. On a
/// cycle, returns the tasks on one cycle in edge order with the first
/// repeated at the end.
///
/// Ids and counts fit in `u32`: the builder enforces its limits before this runs.
/// `forward_only` says every edge goes from a lower id to a higher one, which
/// makes the ids a topological order and the cycle check unnecessary.
///
/// Without `weights`, each successor list keeps the order its edges were
/// first added in, and the sources are in id order. With `weights` (one per
/// task), both are sorted critical path first ([`sort_by_rank`]), which
/// overwrites the weights with the ranks.
pub(crate) fn compile<'a>(
    bump: &'a Bump,
    n: usize,
    edges: &'a mut [[u32; 2]],
    forward_only: bool,
    weights: Option<&mut [f64]>,
    huge_pages: bool,
) -> Result<Csr<'a>, Vec<u32>> {
    let e = edges.len();
    // Pass 1: out- and in-degrees, duplicates still included. A task with no
    // incoming edge is a source whatever duplicates are merged later.
    let succ_off = pages::alloc_filled(huge_pages, bump, n + 1, 0u32);
    let pred_off = pages::alloc_filled(huge_pages, bump, n + 1, 0u32);
    // Indexing by the ends, checked, is what holds every target below `n`
    // (an invariant of `Csr` that the executor's unchecked reads rely on);
    // the builder rejects unknown ids before they get here.
    for &[from, to] in edges.iter() {
        succ_off[from as usize + 1] += 1;
        pred_off[to as usize + 1] += 1;
    }
    let source_count = pred_off[1..].iter().filter(|&&d| d == 0).count();
    prefix_sum(succ_off);
    prefix_sum(pred_off);

    // Pass 2: successors grouped by source (a counting sort), into an array
    // with room for the sources after them. The offsets are their own
    // cursor: `succ_off[v]` moves from where `v`'s successors start to
    // where they end, which is where `v + 1`'s start, so one shift puts
    // them back, and no cursor array is needed.
    let targets = pages::alloc_filled(huge_pages, bump, e + source_count, 0u32);
    for &[from, to] in edges.iter() {
        let slot = &mut succ_off[from as usize];
        targets[*slot as usize] = to;
        *slot += 1;
    }
    succ_off.copy_within(..n, 1);
    succ_off[0] = 0;

    // The edge list is dead: its 2e words hold the predecessors (e), then,
    // where they fit, the pending counts, the predecessor cursor and the
    // marks of pass 3 (n each).
    let words: &'a mut [u32] = bytemuck::cast_slice_mut(edges);
    let (preds, spare) = words.split_at_mut(e);
    let (init_pending, spare) = carve(bump, spare, n, huge_pages);
    let (pred_end, spare) = carve(bump, spare, n, huge_pages);
    let (seen, _) = carve(bump, spare, n, huge_pages);
    seen.fill(u32::MAX);

    // Pass 3, by source in id order: merge duplicate edges in place
    // (`seen[t] == v` marks `v -> t` as kept) and append `v` to the
    // predecessor list of each kept target, so every predecessor list
    // comes out sorted.
    pred_end.copy_from_slice(&pred_off[..n]);
    let mut kept = 0u32;
    let mut start = 0u32;
    for v in 0..n {
        let end = succ_off[v + 1];
        for i in start..end {
            let to = targets[i as usize];
            if seen[to as usize] != v as u32 {
                seen[to as usize] = v as u32;
                targets[kept as usize] = to;
                kept += 1;
                let slot = &mut pred_end[to as usize];
                preds[*slot as usize] = v as u32;
                *slot += 1;
            }
        }
        start = end;
        succ_off[v + 1] = kept;
    }
    let m = kept as usize;
    if m < e {
        // Merged duplicates left gaps at the ends of predecessor lists.
        let mut write = 0u32;
        for t in 0..n {
            let (begin, end) = (pred_off[t], pred_end[t]);
            preds.copy_within(begin as usize..end as usize, write as usize);
            pred_off[t] = write;
            write += end - begin;
        }
        pred_off[n] = write;
    }
    let preds = &preds[..m];

    // Pending counts and the sources, after the successors.
    let mut next = m;
    for v in 0..n {
        let indegree = pred_off[v + 1] - pred_off[v];
        init_pending[v] = indegree.max(1);
        if indegree == 0 {
            targets[next] = v as u32;
            next += 1;
        }
    }
    debug_assert_eq!(
        next,
        m + source_count,
        "sources counted before and after merging agree"
    );
    let targets = &mut targets[..next];
    let (succ_off, pred_off, init_pending) = (&*succ_off, &*pred_off, &*init_pending);

    // Kahn's order, when the ids are not known to be a topological order.
    let order = if forward_only {
        None
    } else {
        let view = Csr {
            succ_off,
            targets,
            pred_off,
            preds,
            init_pending,
            sources_start: m as u32,
        };
        Some(check_acyclic(&view, pred_end, seen)?)
    };
    if let Some(ranks) = weights {
        sort_by_rank(order, succ_off, targets, m, ranks);
    }
    debug_assert!(targets.iter().all(|&t| (t as usize) < n));
    debug_assert_eq!(succ_off.len(), n + 1);
    Ok(Csr {
        succ_off,
        targets,
        pred_off,
        preds,
        init_pending,
        sources_start: m as u32,
    })
}

/// The first `len` words of `spare` and the rest, or, where `spare` is too
/// short, `len` new words from `bump` and all of `spare`.
fn carve<'a>(
    bump: &'a Bump,
    spare: &'a mut [u32],
    len: usize,
    huge_pages: bool,
) -> (&'a mut [u32], &'a mut [u32]) {
    if spare.len() >= len {
        spare.split_at_mut(len)
    } else {
        (pages::alloc_filled(huge_pages, bump, len, 0u32), spare)
    }
}

fn prefix_sum(counts: &mut [u32]) {
    let mut total = 0u32;
    for c in counts {
        total += *c;
        *c = total;
    }
}

/// Kahn's algorithm over the compiled graph: the tasks in a topological
/// order (in `queue`), or, on failure, one cycle. `remaining` and `queue`
/// (`n` words each) are pass 3's dead cursor and marks, so the check
/// allocates nothing.
fn check_acyclic<'b>(
    csr: &Csr<'_>,
    remaining: &mut [u32],
    queue: &'b mut [u32],
) -> Result<&'b [u32], Vec<u32>> {
    let n = csr.task_count();
    for (v, r) in remaining.iter_mut().enumerate() {
        *r = csr.pred_off[v + 1] - csr.pred_off[v];
    }
    let sources = csr.sources();
    queue[..sources.len()].copy_from_slice(sources);
    let (mut head, mut tail) = (0usize, sources.len());
    while head < tail {
        let v = queue[head];
        head += 1;
        for &to in csr.successors(v) {
            let r = &mut remaining[to as usize];
            *r -= 1;
            if *r == 0 {
                queue[tail] = to;
                tail += 1;
            }
        }
    }
    if tail == n {
        return Ok(queue);
    }
    // Every task Kahn could not reach waits on an unreached predecessor, so
    // walking unreached predecessors from one must come back on itself.
    let start = (0..n)
        .find(|&v| remaining[v] > 0)
        .expect("an unreached task exists") as u32;
    let step_of = queue; // reused: 0 = not on the walk, else position + 1
    step_of.fill(0);
    let mut walk = Vec::new();
    let mut v = start;
    while step_of[v as usize] == 0 {
        walk.push(v);
        step_of[v as usize] = walk.len() as u32;
        v = *csr
            .predecessors(v)
            .iter()
            .find(|&&p| remaining[p as usize] > 0)
            .expect("an unreached task has an unreached predecessor");
    }
    // `walk` goes against the edges; the cycle is its tail from `v`, reversed.
    let first = step_of[v as usize] as usize - 1;
    let mut cycle: Vec<u32> = walk[first..].iter().rev().copied().collect();
    // Start at the earliest-added task, so the message does not depend on
    // where the walk happened to begin.
    let earliest = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
    cycle.rotate_left(earliest);
    cycle.push(cycle[0]);
    Err(cycle)
}
