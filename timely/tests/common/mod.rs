//! What the multi-process tests share: starting this test binary again as the processes of a run on loopback, and waiting for them with a time limit.

use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Held by a test while its processes run: the ports are picked free and
/// released before the children bind them, so two cases of one test
/// binary picking ports at once could pick the same.
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    static RUNNING: Mutex<()> = Mutex::new(());
    RUNNING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts `n` processes of this test binary, each running only the test
/// `entry` as process `i` of `n`, on loopback ports that were free a
/// moment ago ([`kahn_timely::loopback_addresses`]), with `env` set besides.
pub fn start_processes(n: usize, entry: &str, env: &[(&str, &str)]) -> Vec<Child> {
    let addresses = kahn_timely::loopback_addresses(n).expect("free loopback ports");
    (0..n)
        .map(|i| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", entry, "--nocapture", "--test-threads", "1"])
                .env("KAHN_TIMELY_PROCESS", i.to_string())
                .env("KAHN_TIMELY_ADDRESSES", addresses.join(","))
                .envs(env.iter().copied())
                // The child's test harness lines; its failures go to stderr.
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect()
}

/// Waits for every child, and returns their exit codes (`None`: killed
/// by a signal); kills all and panics after `limit`.
pub fn wait_all(mut children: Vec<Child>, limit: Duration) -> Vec<Option<i32>> {
    let start = Instant::now();
    let mut codes = vec![None; children.len()];
    let mut ended = vec![false; children.len()];
    while ended.iter().any(|&e| !e) {
        for (i, child) in children.iter_mut().enumerate() {
            if !ended[i] {
                if let Some(status) = child.try_wait().unwrap() {
                    codes[i] = status.code();
                    ended[i] = true;
                }
            }
        }
        if start.elapsed() > limit {
            for child in &mut children {
                let _ = child.kill();
            }
            panic!("the processes did not finish within {limit:?}: exit codes so far {codes:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    codes
}

/// In a child started by [`start_processes`]: its process index and a
/// timely configuration of one worker in each process; `None` in the
/// parent (the test then does nothing).
pub fn child_config() -> Option<(usize, timely::Config)> {
    let me: usize = std::env::var("KAHN_TIMELY_PROCESS").ok()?.parse().unwrap();
    let addresses: Vec<String> = std::env::var("KAHN_TIMELY_ADDRESSES")
        .unwrap()
        .split(',')
        .map(String::from)
        .collect();
    let config = timely::Config {
        communication: timely::CommunicationConfig::Cluster {
            threads: 1,
            process: me,
            addresses,
            report: false,
            zerocopy: false,
        },
        worker: timely::WorkerConfig::default(),
    };
    Some((me, config))
}
