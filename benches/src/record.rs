//! One measured result per line of `results.jsonl` (and of
//! `scenarios.jsonl`), the run's metadata (machine, date, command, code) in
//! `meta.json`, and the folder that holds them.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::shapes::ShapeGraph;

/// The results of one (shape, size, variant, body, threads) case. Every
/// time is in nanoseconds per task; a field is `None` where the variant does
/// not have that stage (the baselines are not built from names) or the
/// figure was not measured (the cpu body is only rerun).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// The shape's name (`chain`, `tree`, ...).
    pub shape: String,
    /// The size asked for; `tasks` may be smaller for the grid shapes.
    pub n: usize,
    /// Tasks of the generated graph.
    pub tasks: usize,
    /// Edges of the generated graph.
    pub edges: usize,
    /// `ShapeGraph::edge_hash`, hex: two runs agree only on the same graph.
    pub edge_hash: String,
    /// `arena` (kahn), `heap`, `rayon-scope`, `rayon-scope-inline`, `floor`.
    pub variant: String,
    /// `empty`, `count`, `cpu`.
    pub body: String,
    /// Worker threads (the floor always has one).
    pub threads: usize,
    /// CPU model and logical cores of the machine.
    pub machine: String,
    /// Logical cores of the machine.
    pub cores: usize,
    /// Timed repetitions behind each median.
    pub reps: usize,
    /// xorshift steps of the cpu body.
    pub steps: Option<u32>,

    /// The first build, into a fresh arena (or heap), by name.
    pub first_build_ns: Option<f64>,
    /// Median steady build by name (arena already grown to size).
    pub build_ns: Option<f64>,
    /// Median steady build by id, without names (arena only).
    pub build_by_id_ns: Option<f64>,
    /// The first run of a freshly built graph.
    pub first_run_ns: Option<f64>,
    /// Reruns of one built graph: median and fastest.
    pub rerun_ns: f64,
    /// The fastest rerun.
    pub rerun_min_ns: f64,
    /// kahn, empty body: median rerun with `RunOptions::record_timings(true)`.
    pub rerun_timings_ns: Option<f64>,
    /// Median of the batch loop: (reset +) build by name + run + drop.
    pub batch_ns: Option<f64>,

    /// Heap allocations per task in the first batch.
    pub first_batch_allocs_per_task: Option<f64>,
    /// Heap allocations per batch after the first (mean), and per task.
    pub batch_allocs: Option<f64>,
    /// [`Record::batch_allocs`] per task.
    pub batch_allocs_per_task: Option<f64>,
    /// Heap allocations per task of a rerun (mean).
    pub rerun_allocs_per_task: f64,
    /// Heap high-water mark of the first batch (build + run), bytes per
    /// task, above what was allocated before (edge list and names excluded).
    pub peak_heap_bytes_per_task: Option<f64>,
    /// The same from the kernel's resident-set peak (`VmHWM`), when
    /// resettable; memory the allocator kept from earlier cases is reused
    /// without raising it, so it can read low (even 0).
    pub peak_rss_bytes_per_task: Option<f64>,
    /// The whole process's resident-set peak over the first batch, MiB
    /// (input edge list and names included).
    pub peak_rss_mib: Option<f64>,
    /// kahn only: `Graph::topology_bytes` and `Arena::allocated_bytes` per task.
    pub topology_bytes_per_task: Option<f64>,
    /// kahn only: `Arena::allocated_bytes` per task.
    pub arena_bytes_per_task: Option<f64>,

    /// cpu body: floor time / (threads × this time); 1.0 is a perfect speedup.
    pub efficiency: Option<f64>,
    /// cpu body, kahn: kahn on one thread / (threads × this time).
    pub scaling: Option<f64>,
}

impl Record {
    /// A record of `variant` with the `body` on `threads` threads, on `g`
    /// (generated at size `n`, with `edge_hash` in hex), with nothing
    /// measured yet: times NaN or `None`, machine and reps unset.
    pub fn blank(
        g: &ShapeGraph,
        n: usize,
        edge_hash: &str,
        variant: &str,
        body: &str,
        threads: usize,
    ) -> Record {
        Record {
            shape: g.shape.name().to_owned(),
            n,
            tasks: g.tasks,
            edges: g.edges.len(),
            edge_hash: edge_hash.to_owned(),
            variant: variant.to_owned(),
            body: body.to_owned(),
            threads,
            machine: String::new(),
            cores: 0,
            reps: 0,
            steps: None,
            first_build_ns: None,
            build_ns: None,
            build_by_id_ns: None,
            first_run_ns: None,
            rerun_ns: f64::NAN,
            rerun_min_ns: f64::NAN,
            rerun_timings_ns: None,
            batch_ns: None,
            first_batch_allocs_per_task: None,
            batch_allocs: None,
            batch_allocs_per_task: None,
            rerun_allocs_per_task: f64::NAN,
            peak_heap_bytes_per_task: None,
            peak_rss_bytes_per_task: None,
            peak_rss_mib: None,
            topology_bytes_per_task: None,
            arena_bytes_per_task: None,
            efficiency: None,
            scaling: None,
        }
    }
}

/// What a ratio must be to meet the bar.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bar {
    /// The ratio is at most this.
    AtMost(f64),
    /// The ratio is at least this.
    AtLeast(f64),
}

impl Bar {
    /// Whether `ratio` meets the bar.
    pub fn is_met(self, ratio: f64) -> bool {
        match self {
            Bar::AtMost(b) => ratio <= b,
            Bar::AtLeast(b) => ratio >= b,
        }
    }
}

impl std::fmt::Display for Bar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bar::AtMost(b) => write!(f, "≤ {b}"),
            Bar::AtLeast(b) => write!(f, "≥ {b}"),
        }
    }
}

/// One scenario's figure: a line of `scenarios.jsonl`. Times in seconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioRecord {
    /// The scenario, e.g. `fan-out-in` (see [`crate::scenarios`]).
    pub scenario: String,
    /// The graph and its durations, e.g. `extract -> 4 × 75 ms parse -> aggregate`.
    pub graph: String,
    /// Worker threads of the executor under test.
    pub threads: usize,
    /// Repetitions behind each median.
    pub reps: usize,
    /// What was timed, e.g. `makespan`.
    pub measured: String,
    /// Its median over the reps.
    pub measured_s: f64,
    /// Its fastest rep.
    pub measured_min_s: f64,
    /// Its slowest rep.
    pub measured_max_s: f64,
    /// What it is set against, e.g. `ideal makespan`.
    pub against: String,
    /// That figure: computed (an ideal), or measured (a median).
    pub against_s: f64,
    /// `measured_s / against_s`.
    pub ratio: f64,
    /// What the ratio must be, where the Scheduling issue sets a bar.
    pub bar: Option<Bar>,
}

impl ScenarioRecord {
    /// Whether the ratio meets the bar; `None` where there is none.
    pub fn met(&self) -> Option<bool> {
        self.bar.map(|b| b.is_met(self.ratio))
    }

    /// Whether `self` and `other` are the same figure of the same scenario
    /// (the same graph and durations), so they can be compared.
    pub fn same_figure(&self, other: &ScenarioRecord) -> bool {
        self.scenario == other.scenario
            && self.graph == other.graph
            && self.threads == other.threads
            && self.measured == other.measured
    }
}

/// What a results folder was measured on, and how.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    /// The command line that measured the results.
    pub command: String,
    /// When it started, `YYYY-MM-DD HH:MM UTC`.
    pub date_utc: String,
    /// The CPU model.
    pub cpu: String,
    /// Logical cores the process could use.
    pub cores: usize,
    /// Total memory, e.g. `23.5 GiB`.
    pub memory: String,
    /// The operating system and kernel release.
    pub kernel: String,
    /// `rustc -V`.
    pub rustc: String,
    /// The code measured: `git rev-parse --short HEAD` in the checkout the
    /// harness was built from, with `-dirty` if tracked files had changes;
    /// `None` if that is no git checkout (and in folders written before it
    /// was recorded).
    #[serde(default)]
    pub commit: Option<String>,
}

impl Meta {
    /// Describes this machine and this invocation.
    pub fn now(args: &[String]) -> Meta {
        let mut command = String::from("cargo run --release -p kahn-bench --");
        for a in args {
            command.push(' ');
            command.push_str(a);
        }
        Meta {
            command,
            date_utc: date_utc(),
            cpu: cpu_model(),
            cores: cores(),
            memory: memory(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| format!("Linux {}", s.trim()))
                .unwrap_or_else(|_| std::env::consts::OS.to_owned()),
            rustc: std::process::Command::new(std::env::var("RUSTC").unwrap_or("rustc".into()))
                .arg("-V")
                .output()
                .ok()
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "unknown".into()),
            commit: commit(),
        }
    }
}

/// The commit of the checkout this crate was built from (not of the
/// folder the harness runs in), short, with `-dirty` if tracked files have
/// changed since; `None` if it was not built from a git checkout.
fn commit() -> Option<String> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(env!("CARGO_MANIFEST_DIR"))
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
    };
    let head = git(&["rev-parse", "--short", "HEAD"])?.trim().to_owned();
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|s| !s.trim().is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

/// The CPU model from `/proc/cpuinfo`, or the architecture.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned())
}

/// Logical cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn memory() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: f64 = line["MemTotal:".len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            Some(format!("{:.1} GiB", kib / (1024.0 * 1024.0)))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The date and time now in UTC, `YYYY-MM-DD HH:MM UTC`.
fn date_utc() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%d %H:%M UTC")
        .to_string()
}

pub use crate::turns::median;

/// The shapes of `records`, in the order they were measured.
pub fn shapes(records: &[Record]) -> Vec<&str> {
    let mut shapes: Vec<&str> = Vec::new();
    for r in records {
        if !shapes.contains(&r.shape.as_str()) {
            shapes.push(&r.shape);
        }
    }
    shapes
}

/// The thread count the kahn (arena) figures are compared at: the largest
/// one measured.
pub fn kahn_threads(records: &[Record]) -> usize {
    records
        .iter()
        .filter(|r| r.variant == "arena")
        .map(|r| r.threads)
        .max()
        .unwrap_or(1)
}

/// The body the batch-loop figures use: `count` (closures that own data, as
/// real tasks do), else `empty`; `None` if no batch loop was measured.
pub fn batch_body(records: &[Record]) -> Option<&'static str> {
    ["count", "empty"]
        .into_iter()
        .find(|b| records.iter().any(|r| r.body == *b && r.batch_ns.is_some()))
}

/// A results folder: `meta.json`, and `results.jsonl` or
/// `scenarios.jsonl` or both, as the harness writes them with `--out` and
/// reads them with `--from` and `--compare`.
#[derive(Debug, Clone)]
pub struct Folder {
    /// Where the folder is.
    pub dir: PathBuf,
    /// What the results were measured on, and how.
    pub meta: Meta,
    /// One per (shape, size, variant, body, threads) measured.
    pub records: Vec<Record>,
    /// One per scenario figure measured (`--scenarios`).
    pub scenarios: Vec<ScenarioRecord>,
}

impl Folder {
    /// The file of the records, for saying where a table comes from.
    pub fn results_path(&self) -> PathBuf {
        self.dir.join("results.jsonl")
    }

    /// The file of the scenario figures.
    pub fn scenarios_path(&self) -> PathBuf {
        self.dir.join("scenarios.jsonl")
    }

    /// Reads a folder the harness wrote: `meta.json` and whichever of
    /// `results.jsonl` and `scenarios.jsonl` it has (at least one).
    pub fn load(dir: &Path) -> Result<Folder, String> {
        let meta = std::fs::read_to_string(dir.join("meta.json"))
            .map_err(|e| format!("reading {}: {e}", dir.join("meta.json").display()))?;
        let meta = serde_json::from_str(&meta)
            .map_err(|e| format!("{}: {e}", dir.join("meta.json").display()))?;
        let mut folder = Folder {
            dir: dir.to_owned(),
            meta,
            records: Vec::new(),
            scenarios: Vec::new(),
        };
        let (results, scenarios) = (folder.results_path(), folder.scenarios_path());
        if !results.exists() && !scenarios.exists() {
            return Err(format!(
                "{} has neither results.jsonl nor scenarios.jsonl",
                dir.display()
            ));
        }
        if results.exists() {
            folder.records = read_jsonl(&results)?;
        }
        if scenarios.exists() {
            folder.scenarios = read_jsonl(&scenarios)?;
        }
        Ok(folder)
    }

    /// Writes `meta.json`, `results.jsonl` unless only scenarios were
    /// measured, and `scenarios.jsonl` if they were, into [`Folder::dir`],
    /// which must exist.
    pub fn save(&self) -> Result<(), String> {
        if !self.records.is_empty() || self.scenarios.is_empty() {
            write(&self.results_path(), &to_jsonl(&self.records)?)?;
        }
        if !self.scenarios.is_empty() {
            write(&self.scenarios_path(), &to_jsonl(&self.scenarios)?)?;
        }
        let meta = serde_json::to_string_pretty(&self.meta).map_err(|e| e.to_string())?;
        write(&self.dir.join("meta.json"), &meta)
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// One JSON object per line.
fn to_jsonl<T: Serialize>(items: &[T]) -> Result<String, String> {
    let mut jsonl = String::new();
    for item in items {
        jsonl.push_str(&serde_json::to_string(item).map_err(|e| e.to_string())?);
        jsonl.push('\n');
    }
    Ok(jsonl)
}

/// Reads one JSON object per non-blank line of `path`.
fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, String> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("reading {}: {e}", path.display()))?
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| format!("{} line {}: {e}", path.display(), i + 1))
        })
        .collect()
}
