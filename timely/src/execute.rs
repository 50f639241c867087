//! Starting timely workers for a distributed run: arguments checked into typed errors, and a join that reports a lost process instead of panicking.

use std::any::Any;
use std::collections::BTreeSet;
use std::io::BufRead;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::time::{Duration, Instant};

use timely::worker::Worker;
use timely::{CommunicationConfig, Config};

use crate::error::DistributedError;

/// Reads timely's arguments (`-w` threads per process, `-n` processes,
/// `-p` this process, `-h` a host file with one `host:port` per line),
/// and checks what timely leaves to a panic later.
///
/// `args` are the program's arguments, the program's name first (as
/// [`std::env::args`] gives them), and nothing but timely's.
///
/// # Errors
/// [`DistributedError::ProcessOutOfRange`] if `-p` is not below `-n`,
/// [`DistributedError::NoWorkers`] for `-w 0`,
/// [`DistributedError::HostFile`] if the host file cannot be read,
/// [`DistributedError::BadAddress`] for a line that is not `host:port`,
/// and [`DistributedError::Timely`] for arguments timely does not take.
///
/// ```
/// let args = ["etl", "-n", "2", "-p", "2"].map(String::from);
/// let err = kahn_timely::config_from_args(args.into_iter()).unwrap_err();
/// assert!(err.to_string().contains("-p 2"), "{err}");
/// ```
pub fn config_from_args(args: impl Iterator<Item = String>) -> Result<Config, DistributedError> {
    let args: Vec<String> = args.collect();
    // Timely's own message for a host file it cannot open does not name
    // the file.
    if let Some(path) = value_of(&args, "-h", "--hostfile") {
        check_hostfile(path)?;
    }
    // Timely runs one worker for `-w 0` in one process, and none in each
    // of several.
    if value_of(&args, "-w", "--threads").is_some_and(|w| w.trim() == "0") {
        return Err(DistributedError::NoWorkers);
    }
    let config = Config::from_args(args.into_iter()).map_err(DistributedError::Timely)?;
    match &config.communication {
        CommunicationConfig::Process(0) => return Err(DistributedError::NoWorkers),
        CommunicationConfig::Cluster {
            threads,
            process,
            addresses,
            ..
        } => {
            if *threads == 0 {
                return Err(DistributedError::NoWorkers);
            }
            if *process >= addresses.len() {
                return Err(DistributedError::ProcessOutOfRange {
                    process: *process,
                    processes: addresses.len(),
                });
            }
            for (i, address) in addresses.iter().enumerate() {
                if !is_host_port(address) {
                    return Err(DistributedError::BadAddress {
                        line: i + 1,
                        process: i,
                        address: address.clone(),
                    });
                }
            }
        }
        _ => {}
    }
    Ok(config)
}

/// [`config_from_args`], then [`execute`].
///
/// # Errors
/// As those two.
pub fn execute_from_args<R, F>(
    args: impl Iterator<Item = String>,
    func: F,
) -> Result<Vec<R>, DistributedError>
where
    R: Send + 'static,
    F: Fn(&mut Worker) -> R + Send + Sync + 'static,
{
    execute(config_from_args(args)?, func)
}

/// Runs `func` on every worker of this process, as [`timely::execute`](fn@timely::execute)
/// does, and returns what each returned, in worker order.
///
/// Unlike joining timely's guards, this returns the workers' results when
/// a connection to another process was lost: timely panics in its
/// network threads then, and in the join. It also notes which process's
/// connection failed, so that [`run`](crate::run) names it at once
/// instead of waiting out [`lost_after`](crate::DistributedOptions::lost_after).
/// (It installs a panic hook that notes the failing network thread and
/// then calls the hook that was there before.)
///
/// # Errors
/// [`DistributedError::Timely`] if timely could not start (the processes
/// could not connect), [`DistributedError::WorkerLost`] if a worker
/// thread panicked (outside kahn's tasks, whose panics the run catches).
pub fn execute<R, F>(config: Config, func: F) -> Result<Vec<R>, DistributedError>
where
    R: Send + 'static,
    F: Fn(&mut Worker) -> R + Send + Sync + 'static,
{
    watch_network_threads();
    let local = match &config.communication {
        CommunicationConfig::Thread => 1,
        CommunicationConfig::Process(n) | CommunicationConfig::ProcessBinary(n) => *n,
        CommunicationConfig::Cluster { threads, .. } => *threads,
    };
    // Each worker's result, or its panic's message, by worker index: kept
    // here because timely's join can panic before it returns them.
    type Slots<R> = Arc<Mutex<Vec<(usize, Result<R, String>)>>>;
    let results: Slots<R> = Arc::default();
    let slots = Arc::clone(&results);
    let guards = timely::execute(config, move |worker| {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| func(worker)))
            .map_err(|payload| panic_message(&*payload));
        slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((worker.index(), result));
    })
    .map_err(DistributedError::Timely)?;
    // Timely's join also waits for the network threads, and a thread
    // reading from a process that stopped without closing its connection
    // waits for ever, as does one reading from a survivor that waits the
    // same way: once a run here has given a process up, or a connection
    // here failed, and every worker here has returned, wait a moment, not
    // for ever.
    let join = std::thread::spawn(move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| guards.join()))
    });
    let mut since: Option<Instant> = None;
    let joined = loop {
        if join.is_finished() {
            break join.join().ok().and_then(Result::ok);
        }
        let returned = results.lock().unwrap_or_else(PoisonError::into_inner).len();
        let lost = GAVE_UP.load(Ordering::Relaxed) || lost_process().is_some();
        if lost && returned >= local {
            let since = *since.get_or_insert_with(Instant::now);
            if since.elapsed() > GRACE {
                break None;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut results = std::mem::take(&mut *results.lock().unwrap_or_else(PoisonError::into_inner));
    results.sort_unstable_by_key(|&(index, _)| index);
    // A worker whose closure returned, or panicked, is in `results`; one
    // missing died in timely's own code after it.
    if let Some(joined) = joined {
        for (i, joined) in joined.into_iter().enumerate() {
            if let Err(message) = joined {
                if !results.iter().any(|(index, _)| *index % local.max(1) == i) {
                    return Err(DistributedError::WorkerLost { worker: i, message });
                }
            }
        }
    }
    results
        .into_iter()
        .map(|(worker, result)| {
            result.map_err(|message| DistributedError::WorkerLost { worker, message })
        })
        .collect()
}

/// Addresses for `n` processes on this host (`127.0.0.1:<port>`), on ports
/// free now: for a run of several processes on one machine (a demo, a
/// test), as lines of a host file or a [`CommunicationConfig::Cluster`]'s
/// addresses.
///
/// The ports are below Linux's default range for outgoing connections
/// (32768 and up), so the processes' own connections to each other do not
/// take one before its process listens on it; another program may still.
///
/// # Errors
/// If no `n` ports between 20000 and 32767 can be bound.
pub fn loopback_addresses(n: usize) -> std::io::Result<Vec<String>> {
    const LOW: u32 = 20_000;
    const SPAN: u32 = 32_768 - LOW;
    let seed = std::process::id().wrapping_mul(7_919).wrapping_add(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos()),
    );
    let mut addresses = Vec::with_capacity(n);
    for i in 0..SPAN {
        if addresses.len() == n {
            break;
        }
        let port = (LOW + seed.wrapping_add(i) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            addresses.push(format!("127.0.0.1:{port}"));
        }
    }
    if addresses.len() < n {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!(
                "only {} of {n} loopback ports between {LOW} and 32767 are free",
                addresses.len()
            ),
        ));
    }
    Ok(addresses)
}

/// How long [`execute`] waits for timely's threads once every worker here
/// has returned and a run here gave a process up, or a network thread
/// failed: a backstop, not a guess at how long they take.
const GRACE: Duration = Duration::from_secs(1);

/// A run in this process returned [`DistributedError::ProcessLost`].
static GAVE_UP: AtomicBool = AtomicBool::new(false);

/// Notes that a run here gave a process up.
pub(crate) fn gave_up() {
    GAVE_UP.store(true, Ordering::Relaxed);
}

/// Processes whose connection failed in this process, by index.
static LOST: Mutex<BTreeSet<usize>> = Mutex::new(BTreeSet::new());

/// A process whose connection failed, if one did (the lowest).
pub(crate) fn lost_process() -> Option<usize> {
    LOST.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .first()
        .copied()
}

/// Timely's network threads are named `timely:send-<process>` and
/// `timely:recv-<process>`, after the process at the other end; one that
/// panics has lost that process.
fn watch_network_threads() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let name = std::thread::current().name().map(String::from);
            let process = name.as_deref().and_then(|name| {
                let rest = name
                    .strip_prefix("timely:send-")
                    .or_else(|| name.strip_prefix("timely:recv-"))?;
                rest.parse::<usize>().ok()
            });
            if let Some(process) = process {
                LOST.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(process);
            }
            previous(info);
        }));
    });
}

/// The message a panic carried, if it was text.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// The value of option `short` or `long` in `args` (`-w 2`, `--threads 2`,
/// `--threads=2`, `-w2`), if given.
fn value_of<'a>(args: &'a [String], short: &str, long: &str) -> Option<&'a str> {
    args.iter().enumerate().skip(1).find_map(|(i, arg)| {
        if arg == short || arg == long {
            args.get(i + 1).map(String::as_str)
        } else if let Some(value) = arg.strip_prefix(long).and_then(|v| v.strip_prefix('=')) {
            Some(value)
        } else {
            arg.strip_prefix(short)
                .filter(|v| !v.is_empty() && !arg.starts_with("--"))
        }
    })
}

fn check_hostfile(path: &str) -> Result<(), DistributedError> {
    let unreadable = |why: std::io::Error| DistributedError::HostFile {
        path: path.to_string(),
        why: why.to_string(),
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    for line in std::io::BufReader::new(file).lines() {
        line.map_err(unreadable)?;
    }
    Ok(())
}

/// `host:port` or `[v6]:port`, with a port number; the host is resolved
/// when the processes connect.
fn is_host_port(address: &str) -> bool {
    match address.trim().rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok(),
        None => false,
    }
}
