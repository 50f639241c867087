//! The benchmark harness: kahn's arena against a heap-built DAG, and kahn
//! against a one-thread floor and two `rayon::scope` schedulers, on the six
//! standard shapes from 1e3 to 1e7 tasks, in one command.
//!
//! ```sh
//! cargo run --release -p kahn-bench -- --quick               # under a minute
//! cargo run --release -p kahn-bench                          # the full run, 1e3 … 1e7
//! cargo run --release -p kahn-bench -- --shapes chain,tree --sizes 1e5 --threads 1,2
//! cargo run --release -p kahn-bench -- --from results --markdown BENCHMARKS.md
//! cargo run --release -p kahn-bench -- --from benches/results/quiet --markdown BENCHMARKS.md --region quiet
//! cargo run --release -p kahn-bench -- --scenarios           # the Scheduling issue's scenarios, ~20 s
//! cargo run --release -p kahn-bench -- --from after --compare before --markdown BENCHMARKS.md --region x
//! ```
//!
//! For each shape, size, body (`empty`, `count`, `cpu`) and thread count it
//! measures six variants:
//! - `arena`: kahn — names interned into an [`kahn::Arena`], CSR, run by
//!   [`kahn::Executor`]; `arena.builder()` rewinds the arena between batches;
//! - `heap`: `Box<Node>`s, a `HashMap<String, u32>` and `rayon::scope`,
//!   rebuilt for every batch (`kahn_bench::heap`);
//! - `rayon-scope`, `rayon-scope-inline` (which continues inline with one
//!   ready successor), `shared-counters` (kahn's design with nothing else:
//!   workers sharing atomic in-degrees) and `floor` (one thread): the
//!   baselines over CSR (`kahn_bench::baselines`).
//!
//! and reports build, first run, steady rerun (median and min) and batch loop
//! (build + run + drop, after the first batch) in ns per task, heap
//! allocations per task (a counting global allocator), peak heap and
//! resident bytes per task, and for the `cpu` body parallel efficiency.
//! Builds and batches are separate from runs because the heap variant also
//! schedules differently: the split says which part of a ratio is the
//! representation and which the scheduler.
//!
//! Every variant first runs once with order stamps (each task once, after
//! all its predecessors), and every timed run is checked (every task ran
//! once, and the `count` body counted them all). A wrong run records no
//! number: the harness reports it and exits non-zero at the end.
//!
//! `--scenarios` measures the Scheduling issue's small graphs instead
//! (`kahn_bench::scenarios`): makespans and start latencies against the
//! ideal, concurrent runs, cheap and cold starts, rayon inside a task, each
//! figure checked and written to `scenarios.jsonl`. `--compare BEFORE_DIR`
//! sets the results measured now (or `--from`) beside an earlier folder's
//! (`kahn_bench::compare`); with `--markdown`, that table goes into
//! `--region NAME`.
//!
//! Output: a row per result on stdout, then summary tables; in `--out`
//! (default `results/`), `results.jsonl` (one JSON object per result),
//! `meta.json` (machine, date, command) and `bench.svg`. `--markdown FILE`
//! rewrites FILE between `<!-- bench:begin -->` and `<!-- bench:end -->`
//! with the summary tables and copies the plot to `benches/results.svg`
//! beside it; with `--region NAME`, it rewrites the region between
//! `<!-- bench:NAME:begin -->` and `<!-- bench:NAME:end -->` instead and
//! links the plot where it is, which is how a run committed under
//! `benches/results/NAME/` is tabled (`--from benches/results/NAME`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kahn::Executor;
use kahn_bench::alloc;
use kahn_bench::compare;
use kahn_bench::record::{Folder, Meta, Record, ScenarioRecord};
use kahn_bench::report;
use kahn_bench::scenarios::{self, Settings};

mod cli;
mod measure;
mod plot;

use cli::{Args, Body};
use measure::{Baseline, Bench, Input};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

/// What the progress bar counts per thread count, shape, size and body:
/// kahn, the heap variant, `rayon-scope`, `rayon-scope-inline` and
/// `shared-counters` (the floor is counted once).
const VARIANTS_PER_THREAD_COUNT: u64 = 5;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = Args::from_env();
    match run(&args, &argv) {
        Ok(errors) if errors.is_empty() => ExitCode::SUCCESS,
        Ok(errors) => {
            eprintln!(
                "\nbench: {} wrong run(s); no number was recorded for them:",
                errors.len()
            );
            for e in &errors {
                eprintln!("  {e}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Measures (or loads), then writes everything; returns the wrong runs.
fn run(args: &Args, argv: &[String]) -> Result<Vec<String>, String> {
    if args.compare.is_some() && args.markdown.is_some() && args.region.is_none() {
        return Err("--compare with --markdown writes a named region: add --region NAME".into());
    }
    // Read first: a wrong folder should not cost a measurement.
    let before = args.compare.as_deref().map(Folder::load).transpose()?;
    let (folder, errors) = match &args.from {
        Some(dir) => (Folder::load(dir)?, Vec::new()),
        None => {
            let meta = Meta::now(argv);
            std::fs::create_dir_all(&args.out)
                .map_err(|e| format!("creating {}: {e}", args.out.display()))?;
            let mut folder = Folder {
                dir: args.out.clone(),
                meta,
                records: Vec::new(),
                scenarios: Vec::new(),
            };
            let errors = match &args.scenarios {
                Some(settings) => {
                    let (figures, errors) = measure_scenarios(settings, &folder.meta)?;
                    folder.scenarios = figures;
                    errors
                }
                None => {
                    let (records, errors) = measure_all(args, &folder.meta)?;
                    folder.records = records;
                    errors
                }
            };
            folder.save()?;
            (folder, errors)
        }
    };
    if folder.records.is_empty() && folder.scenarios.is_empty() {
        return Ok(errors);
    }
    let svg = folder.dir.join("bench.svg");
    let plotted = !folder.records.is_empty();
    if plotted {
        plot::draw(&folder.records, &svg)?;
    }
    let summary = report::summary(&folder);
    println!("\n{summary}");
    let mut written = vec![folder.dir.join("meta.json")];
    if !folder.records.is_empty() {
        written.extend([folder.results_path(), svg.clone()]);
    }
    if !folder.scenarios.is_empty() {
        written.push(folder.scenarios_path());
    }
    let written: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    println!("results: {}", written.join(", "));
    let comparison = before.map(|before| compare::before_after(&before, &folder));
    if let Some(comparison) = &comparison {
        println!("\n{comparison}");
    }
    if let Some(file) = &args.markdown {
        if !errors.is_empty() {
            eprintln!("bench: not rewriting {} after wrong runs", file.display());
            return Ok(errors);
        }
        let body = match comparison {
            Some(comparison) => comparison,
            None if plotted => with_plot(summary, &svg, file, args.region.is_some())?,
            None => summary,
        };
        report::rewrite_markdown(file, args.region.as_deref(), &body)?;
        println!("rewrote {}", file.display());
    }
    Ok(errors)
}

/// The summary with a link to the plot `svg` for a region of `file`: the
/// main region's plot is copied beside the file's tables, a named region's
/// stays in its results folder, linked if the folder is below the file's.
fn with_plot(summary: String, svg: &Path, file: &Path, named: bool) -> Result<String, String> {
    let base = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let plot = if named {
        relative_to(svg, base)
    } else {
        let copy = base.join("benches").join("results.svg");
        std::fs::create_dir_all(base.join("benches"))
            .map_err(|e| format!("creating {}: {e}", base.display()))?;
        std::fs::copy(svg, &copy)
            .map_err(|e| format!("copying the plot to {}: {e}", copy.display()))?;
        println!("copied the plot to {}", copy.display());
        Some(PathBuf::from("benches/results.svg"))
    };
    Ok(match plot {
        Some(plot) => format!(
            "{summary}\n![ns per task against graph size, log-log]({})\n",
            plot.display()
        ),
        None => summary,
    })
}

/// `path` relative to `base`, if it lies below it.
fn relative_to(path: &Path, base: &Path) -> Option<PathBuf> {
    let path = std::path::absolute(path).ok()?;
    let base = std::path::absolute(base).ok()?;
    path.strip_prefix(base).ok().map(Path::to_path_buf)
}

/// Runs the scenarios, printing each figure as it comes; returns the
/// figures and the wrong runs.
fn measure_scenarios(
    settings: &Settings,
    meta: &Meta,
) -> Result<(Vec<ScenarioRecord>, Vec<String>), String> {
    println!(
        "{} on {} ({} cores); the Scheduling issue's durations × {}, {} reps",
        meta.command, meta.cpu, meta.cores, settings.scale, settings.reps
    );
    let start = std::time::Instant::now();
    let result = scenarios::run_all(settings, |figure| {
        println!("{}", report::scenario_row(figure));
    });
    println!("scenarios took {:.1} s", start.elapsed().as_secs_f64());
    result
}

fn measure_all(args: &Args, meta: &Meta) -> Result<(Vec<Record>, Vec<String>), String> {
    let mut pools = Vec::new();
    for &t in &args.threads {
        let executor = Executor::with_threads(t).map_err(|e| format!("{t} threads: {e}"))?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .map_err(|e| format!("{t} threads: {e}"))?;
        pools.push((t, executor, pool));
    }
    let bench = Bench {
        args,
        machine: meta.cpu.clone(),
        cores: meta.cores,
        pools,
        one_thread: Executor::with_threads(1).map_err(|e| e.to_string())?,
    };

    let threads = args.threads.len() as u64;
    let bodies_at = |n: usize| {
        args.bodies
            .iter()
            .filter(move |&&b| b != Body::Cpu || n <= args.cpu_max)
    };
    let steps: u64 = args
        .sizes
        .iter()
        .map(|&n| threads + bodies_at(n).count() as u64 * (1 + VARIANTS_PER_THREAD_COUNT * threads))
        .sum::<u64>()
        * args.shapes.len() as u64;
    let bar = ProgressBar::with_draw_target(Some(steps), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
    );

    println!(
        "{} on {} ({} cores); ns per task; allocs/t after the first batch",
        meta.command, meta.cpu, meta.cores
    );
    println!("{}", report::row_header());
    let (mut records, mut errors) = (Vec::new(), Vec::new());
    for &n in &args.sizes {
        for &shape in &args.shapes {
            bar.set_message(format!("{shape}-{n}: generating"));
            let input = Input::new(shape, n);
            let mut group = Vec::new();
            let mut wrong = false;
            for &t in &args.threads {
                bar.set_message(format!("{shape}-{n}: order check, {t}t"));
                if let Err(e) = measure::verify(&bench, &input, t) {
                    errors.push(e);
                    wrong = true;
                }
                bar.inc(1);
            }
            for &body in bodies_at(n) {
                if wrong {
                    bar.inc(1 + VARIANTS_PER_THREAD_COUNT * threads);
                    continue;
                }
                let what = |v: &str| format!("{shape}-{n}: {v}, {} body", body.name());
                bar.set_message(what("floor"));
                let floor = measure::baseline(&bench, &input, body, Baseline::Floor, None);
                bar.inc(1);
                let floor_secs = floor.as_ref().ok().map(|(_, secs)| *secs);
                let mut keep = |result: Result<Record, String>| match result {
                    Ok(r) => group.push(r),
                    Err(e) => errors.push(e),
                };
                keep(floor.map(|(r, _)| r));
                for &t in &args.threads {
                    bar.set_message(what(&format!("kahn {t}t")));
                    keep(measure::arena(&bench, &input, body, t, floor_secs));
                    bar.inc(1);
                    bar.set_message(what(&format!("heap {t}t")));
                    keep(measure::heap(&bench, &input, body, t, floor_secs));
                    bar.inc(1);
                    for which in [
                        Baseline::RayonScope(t),
                        Baseline::RayonScopeInline(t),
                        Baseline::SharedCounters(t),
                    ] {
                        bar.set_message(what(&format!("{} {t}t", which.variant())));
                        keep(
                            measure::baseline(&bench, &input, body, which, floor_secs)
                                .map(|(r, _)| r),
                        );
                        bar.inc(1);
                    }
                }
            }
            bar.suspend(|| {
                let mut out = std::io::stdout().lock();
                for r in &group {
                    let _ = writeln!(out, "{}", report::row(r));
                }
                let _ = out.flush();
            });
            records.extend(group);
        }
    }
    bar.finish_and_clear();
    Ok((records, errors))
}
