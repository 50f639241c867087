//! Timing contenders in turn within one process: a block of back-to-back runs and its median, for the probes that interleave them (`examples/sharing.rs`, `ab/`).

use std::time::Instant;

/// Runs `run` once untimed (it absorbs what the previous contender left
/// behind, such as threads winding down), then `block` times back to back,
/// and returns the median time in ns a task. `run` returns how many tasks
/// succeeded; each run must report all `tasks`.
pub fn block_median(tasks: usize, block: usize, run: &dyn Fn() -> usize) -> f64 {
    assert_eq!(run(), tasks, "every task succeeds");
    let times = (0..block)
        .map(|_| {
            let t = Instant::now();
            assert_eq!(run(), tasks, "every task succeeds");
            t.elapsed().as_secs_f64() * 1e9 / tasks as f64
        })
        .collect();
    median_of(times)
}

/// The median of `xs`, which it sorts (of an even count, the mean of the
/// middle two); `None` if empty.
pub fn median(xs: &mut [f64]) -> Option<f64> {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(xs[n / 2]),
        _ => Some((xs[n / 2 - 1] + xs[n / 2]) / 2.0),
    }
}

/// The median of `v`, as [`median`] takes it.
///
/// # Panics
/// If `v` is empty.
pub fn median_of(mut v: Vec<f64>) -> f64 {
    median(&mut v).expect("a median of at least one time")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_the_middle_or_the_mean_of_the_middle_two() {
        assert_eq!(median_of(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median_of(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }

    #[test]
    fn a_block_runs_once_more_than_it_times() {
        let runs = std::cell::Cell::new(0);
        let ns = block_median(10, 5, &|| {
            runs.set(runs.get() + 1);
            10
        });
        assert_eq!(runs.get(), 6);
        assert!(ns >= 0.0);
    }
}
