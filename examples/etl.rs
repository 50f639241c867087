//! A small ETL pipeline on kahn: partitioned CSV in, per-region reports out,
//! for two business dates at once, with one bad partition that fails its own
//! date's branch without taking the rest down.
//!
//! ```text
//! cargo run --release --example etl                  # or, to draw the failed run:
//! cargo run --release --example etl -- --dot etl.dot # then `dot -Tsvg etl.dot > etl.svg`
//! cargo run --release --example etl -- --trace etl.json # then open it in ui.perfetto.dev
//! ```
//!
//! The two options go together too, in either order:
//!
//! ```text
//! cargo run --release --example etl -- --trace etl.json --dot etl.dot
//! ```
//!
//! What it shows:
//!
//! - **Staging.** A fake source system exports each region's sales four
//!   times a day (hours 00, 06, 12, 18), for two business dates, 2026-11-03
//!   and 2026-11-04: 12 partitions a date (3 regions x 4 exports, a few
//!   thousand rows each, `date,region,store,sku,qty,unit_price`) in
//!   Hive-style folders (`input/sales/date=<date>/region=<region>/hour=<hh>.csv`),
//!   each date's exchange rates (`input/rates/date=<date>.csv`) and one
//!   store dimension (`stores.csv`), into a fresh folder under the system
//!   temp dir. The data is deterministic. The folder is removed at the end,
//!   also when the example fails (set `KAHN_ETL_KEEP=1` to keep it).
//! - **One graph, one batch per run.** The graph is built once and names no
//!   date. A run's batch (`Batch`: the date and its folders) is its
//!   per-run input, given with `RunOptions::input` and read by every task
//!   that needs it with `ctx.run_input::<Batch>()`. The two dates run at
//!   the same time on one `Executor`, from two threads of a
//!   `std::thread::scope`, each writing to its own `output/<date>/`.
//! - **The tasks.** Each partition gets `extract/<region>/h<hh>` (read the
//!   file) -> `parse/...` (validate and type the rows) -> `aggregate/...`
//!   (totals per store). Each region gets `report/<region>`, which joins its
//!   four aggregates with the `load_stores` and `load_rates` dimensions and
//!   writes `report_<region>.csv`. A final `summary` reads every region
//!   report and writes `summary.csv`.
//! - **Typed outputs.** The graph is built with
//!   `arena.builder::<kahn::Value>()`, and each task returns its own type
//!   (`String`, `Vec<Sale>`, `StoreTotals`, `Stores`, `Rates`, `Rollup`,
//!   `Written`) through `typed_task`, which gives back a `Copy` handle,
//!   `Output<U>`. Each reader captures the handles of its inputs and reads
//!   them with `ctx.get(handle)`; `main` reads the reports the same way,
//!   with `report.get(handle)`. No output enum, and no downcasts to write.
//! - **Moves, not copies.** A partition's raw text has one reader, its
//!   parse, which moves it out of the run with `ctx.take(handle)` instead
//!   of borrowing it (so every extract ends as `Outcome::Consumed`). That is
//!   safe under parse's retry policy because everything that can fail after
//!   the take is `kahn::permanent`, never retried: a retried attempt would
//!   find the text gone. The parsed rows cannot be moved on the same way:
//!   `alert` watches every parse, so a parse has two successors, and its
//!   aggregate borrows the rows.
//! - **Failure handling.** On 2026-11-03, in `eu`'s 12:00 export, one row
//!   writes its price with a decimal comma (`59,36`), so it has seven
//!   fields. `parse/eu/h12` fails in that date's run with an error naming
//!   the file and line; its aggregate, `report/eu` and `summary` are
//!   skipped; every other task still runs and the `us` and `apac` reports
//!   are written. That is what kahn's default `FailurePolicy::Continue`
//!   does. The run for 2026-11-04, at the same time, succeeds in full.
//! - **Retries.** Every extract and parse task has a retry policy (up to 4
//!   attempts, 2 ms backoff doubling to 20 ms, with jitter). On 2026-11-03
//!   the source system resets the connection twice while `extract/us/h06`
//!   reads, so that task succeeds on its third attempt; the waits hold no
//!   worker. The malformed row is marked `kahn::permanent`, so its parse
//!   fails once and is not retried.
//! - **Trigger rules.** `alert` (`TriggerRule::OneFailed`, after every
//!   parse) fires in the run where a parse failed, and writes `alert.txt`
//!   naming it; in the other run it is not triggered. `manifest`
//!   (`TriggerRule::AllDone`, after the reports and the summary) runs
//!   whatever happened and writes `manifest.txt` with each one's state.
//! - **Progress.** Each run counts into a `kahn::Progress` of its own; a
//!   thread reads both while they run and draws an `indicatif` bar per
//!   date (done out of total, failed, skipped, running, retried). Off a
//!   terminal nothing is drawn.
//! - **Reporting.** The runs record timings; for each date the example
//!   prints kahn's report (with the retried task), the five slowest tasks,
//!   the files written and the reports skipped; built with `--features
//!   serde`, it also writes the run's summary as `output/<date>/run.json`;
//!   with `--dot FILE`, it draws the failed date's run as Graphviz DOT;
//!   with `--trace FILE`, it writes that run's timeline as Chrome Trace
//!   Event JSON (one track per worker, a slice per attempt: the retried
//!   extract shows three), for Perfetto or `chrome://tracing`.
//! - **Resume.** The source system then re-delivers the bad partition,
//!   fixed. Its extract is cleared from the failed date's report, and
//!   `Executor::resume_with`, given the same options (so the same batch),
//!   runs only what did not succeed and what is below it; the rest is
//!   carried over, outputs and all. Outputs stay in the report for that
//!   (no `RunOptions::release_outputs`): a resume reruns a finished task
//!   whose output a rerun task needs and no longer has. The texts the
//!   parses took are gone, but the only rerun task that reads one, the
//!   cleared partition's parse, gets it from its rerun extract.
//!
//! The example is also a smoke test: it checks both dates' outcomes against
//! the design (on 2026-11-03 exactly the bad partition failed and exactly
//! its dependents were skipped; 2026-11-04 succeeded in full; the written
//! reports add up to what was staged for each date; the resume ran only
//! what had not succeeded) and exits non-zero, without panicking, if
//! anything differs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::error::Error;
use std::fmt::{self, Write as _};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use kahn::{
    BoxError, BuildError, Executor, GraphBuilder, Outcome, Output, Progress, Report, RetryPolicy,
    RunOptions, State, TaskContext, TaskId, TriggerRule, Value,
};

/// Regions, the currency their prices are in, and their stores' cities.
const REGIONS: [(&str, &str, [&str; 5]); 3] = [
    (
        "eu",
        "EUR",
        ["Berlin", "Paris", "Madrid", "Milan", "Amsterdam"],
    ),
    (
        "us",
        "USD",
        ["New York", "Chicago", "Austin", "Seattle", "Denver"],
    ),
    (
        "apac",
        "AUD",
        ["Sydney", "Melbourne", "Brisbane", "Perth", "Adelaide"],
    ),
];
/// The hours at which the source system exports each region's sales: one
/// partition each, per region and date.
const HOURS: [&str; 4] = ["00", "06", "12", "18"];
/// The business dates staged, one run each, with that day's USD rates.
const DATES: [(&str, [(&str, f64); 3]); 2] = [
    ("2026-11-03", [("EUR", 1.08), ("USD", 1.0), ("AUD", 0.66)]),
    ("2026-11-04", [("EUR", 1.07), ("USD", 1.0), ("AUD", 0.65)]),
];
const SKUS: u64 = 40;
const SALES_HEADER: &str = "date,region,store,sku,qty,unit_price";
const REPORT_HEADER: &str = "store,city,orders,units,revenue_local,currency,revenue_usd";

/// The partition the source system corrupts, and where: on one date only,
/// so that the other date's run succeeds in full.
const BAD_DATE: &str = "2026-11-03";
const BAD_REGION: &str = "eu";
const BAD_HOUR: &str = "12";
const BAD_ROW: usize = 1500;

/// The partition whose extract the source system interrupts, and how many
/// times, before it reads through.
const FLAKY_DATE: &str = "2026-11-03";
const FLAKY_REGION: &str = "us";
const FLAKY_HOUR: &str = "06";
const FLAKY_RESETS: u32 = 2;

/// The name of a partition's task at `stage` (`extract`, `parse`,
/// `aggregate`): the same in every run, whatever the date.
fn task_name(stage: &str, region: &str, hour: &str) -> String {
    format!("{stage}/{region}/h{hour}")
}

// ---------------------------------------------------------------------------
// The run's input, and the data that flows between tasks.
// ---------------------------------------------------------------------------

/// A run's input: the business date it loads, and where that date's files
/// are. The graph is built once; each run gets its own `Batch` through
/// `RunOptions::input`, and its tasks read it with `ctx.run_input()`.
#[derive(Debug, Clone)]
struct Batch {
    date: String,
    /// `input/sales/date=<date>`: a folder per region, a file per export.
    sales: PathBuf,
    /// `input/rates/date=<date>.csv`: the day's exchange rates.
    rates: PathBuf,
    /// `output/<date>`: where this date's results go, so that runs of
    /// different dates never write the same file.
    out: PathBuf,
}

impl Batch {
    fn new(root: &Path, date: &str) -> Batch {
        Batch {
            date: date.to_owned(),
            sales: root.join(format!("input/sales/date={date}")),
            rates: root.join(format!("input/rates/date={date}.csv")),
            out: root.join("output").join(date),
        }
    }

    fn partition(&self, region: &str, hour: &str) -> PathBuf {
        self.sales.join(format!("region={region}/hour={hour}.csv"))
    }

    fn output(&self, file: &str) -> PathBuf {
        self.out.join(file)
    }
}

/// One typed sales row. Date and region are the partition's keys, checked
/// while parsing and not repeated here.
#[derive(Debug)]
struct Sale {
    store: String,
    qty: u32,
    unit_price_cents: i64,
}

/// Additive totals; money in integer cents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Totals {
    orders: u64,
    units: u64,
    revenue_cents: i64,
}

impl Totals {
    fn add(&mut self, other: &Totals) {
        self.orders += other.orders;
        self.units += other.units;
        self.revenue_cents += other.revenue_cents;
    }
}

/// A row of the `stores.csv` dimension.
#[derive(Debug)]
struct Store {
    city: String,
    currency: String,
}

/// An aggregate's output: totals per store code, in local currency.
type StoreTotals = BTreeMap<String, Totals>;
/// `load_stores`'s output: the store dimension, by store code.
type Stores = HashMap<String, Store>;
/// `load_rates`'s output: USD per unit of each currency, on the batch's date.
type Rates = HashMap<String, f64>;

/// A file a task wrote: `alert`'s and `manifest`'s output.
#[derive(Debug)]
struct Written {
    path: PathBuf,
    rows: usize,
}

/// What `report/<region>` and `summary` wrote, and what it adds up to,
/// revenue converted to USD.
#[derive(Debug)]
struct Rollup {
    file: Written,
    usd: Totals,
}

/// A malformed input row: which file, which line (1-based, header is line 1).
#[derive(Debug)]
struct BadRow {
    file: PathBuf,
    line: usize,
    problem: String,
}

impl fmt::Display for BadRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.problem)
    }
}

impl Error for BadRow {}

// ---------------------------------------------------------------------------
// Task bodies: plain functions, so the graph wiring below stays readable.
// ---------------------------------------------------------------------------

/// Splits a CSV line without quoting (none of these files quote) into
/// exactly `N` fields.
fn fields<'l, const N: usize>(
    file: &Path,
    line: usize,
    text: &'l str,
    header: &str,
) -> Result<[&'l str; N], BadRow> {
    let mut out = [""; N];
    let mut found = 0;
    for (i, field) in text.split(',').enumerate() {
        if i < N {
            out[i] = field;
        }
        found += 1;
    }
    if found != N {
        let problem = format!("expected {N} fields ({header}), found {found}: `{text}`");
        return Err(BadRow {
            file: file.to_owned(),
            line,
            problem,
        });
    }
    Ok(out)
}

/// Checks the first line of `text` and returns the data lines with their
/// 1-based line numbers.
fn data_lines<'t>(
    file: &Path,
    text: &'t str,
    header: &str,
) -> Result<impl Iterator<Item = (usize, &'t str)>, BadRow> {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    if first != header {
        let problem = format!("expected the header `{header}`, found `{first}`");
        return Err(BadRow {
            file: file.to_owned(),
            line: 1,
            problem,
        });
    }
    Ok(lines.enumerate().map(|(i, line)| (i + 2, line)))
}

/// Parses `12.34` (or `12`) into cents.
fn parse_cents(text: &str) -> Option<i64> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, "00"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || frac.len() != 2 || !digits(frac) {
        return None;
    }
    Some(whole.parse::<i64>().ok()? * 100 + frac.parse::<i64>().ok()?)
}

fn cents(c: i64) -> String {
    format!(
        "{}{}.{:02}",
        if c < 0 { "-" } else { "" },
        c.abs() / 100,
        c.abs() % 100
    )
}

fn parse_sales(file: &Path, text: &str, region: &str, date: &str) -> Result<Vec<Sale>, BadRow> {
    let mut rows = Vec::with_capacity(text.len() / 40);
    for (line, row) in data_lines(file, text, SALES_HEADER)? {
        let bad = |problem: String| BadRow {
            file: file.to_owned(),
            line,
            problem,
        };
        let [d, r, store, sku, qty, price] = fields::<6>(file, line, row, SALES_HEADER)?;
        if d != date || r != region {
            return Err(bad(format!(
                "row for {r} on {d} in the partition for {region} on {date}"
            )));
        }
        if store.is_empty() || sku.is_empty() {
            return Err(bad("empty store or sku".into()));
        }
        let qty = qty
            .parse::<u32>()
            .map_err(|e| bad(format!("qty `{qty}`: {e}")))?;
        let unit_price_cents = parse_cents(price)
            .ok_or_else(|| bad(format!("unit_price `{price}` is not a price")))?;
        rows.push(Sale {
            store: store.to_owned(),
            qty,
            unit_price_cents,
        });
    }
    Ok(rows)
}

fn totals_by_store(rows: &[Sale]) -> StoreTotals {
    let mut by_store = StoreTotals::new();
    for sale in rows {
        let totals = by_store.entry(sale.store.clone()).or_default();
        totals.orders += 1;
        totals.units += u64::from(sale.qty);
        totals.revenue_cents += i64::from(sale.qty) * sale.unit_price_cents;
    }
    by_store
}

fn load_stores(file: &Path) -> Result<Stores, BoxError> {
    let text = fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let header = "store,region,city,currency";
    let mut stores = Stores::new();
    for (line, row) in data_lines(file, &text, header)? {
        let [store, _region, city, currency] = fields::<4>(file, line, row, header)?;
        stores.insert(
            store.to_owned(),
            Store {
                city: city.to_owned(),
                currency: currency.to_owned(),
            },
        );
    }
    Ok(stores)
}

fn load_rates(file: &Path) -> Result<Rates, BoxError> {
    let text = fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let header = "currency,usd_rate";
    let mut rates = Rates::new();
    for (line, row) in data_lines(file, &text, header)? {
        let [currency, rate] = fields::<2>(file, line, row, header)?;
        let rate = rate.parse::<f64>().map_err(|e| BadRow {
            file: file.to_owned(),
            line,
            problem: e.to_string(),
        })?;
        rates.insert(currency.to_owned(), rate);
    }
    Ok(rates)
}

/// What a region's report reads: the handles of its inputs.
struct RegionInputs {
    stores: Output<Stores>,
    rates: Output<Rates>,
    aggregates: Vec<Output<StoreTotals>>,
}

/// Joins a region's partition aggregates with the dimensions and writes the
/// region's report for the run's date.
fn report_region(
    ctx: &TaskContext<'_, Value>,
    region: &str,
    inputs: &RegionInputs,
) -> Result<Rollup, BoxError> {
    let batch = ctx.run_input::<Batch>()?;
    let stores = ctx.get(inputs.stores)?;
    let rates = ctx.get(inputs.rates)?;
    let mut by_store: BTreeMap<&str, Totals> = BTreeMap::new();
    for &aggregate in &inputs.aggregates {
        for (store, totals) in ctx.get(aggregate)? {
            by_store.entry(store).or_default().add(totals);
        }
    }
    let mut csv = format!("{REPORT_HEADER}\n");
    let mut usd = Totals::default();
    for (store, t) in &by_store {
        let dim = stores
            .get(*store)
            .ok_or_else(|| format!("store `{store}` ({region}) is not in stores.csv"))?;
        let rate = rates
            .get(&dim.currency)
            .ok_or_else(|| format!("no USD rate for `{}`", dim.currency))?;
        let usd_cents = (t.revenue_cents as f64 * rate).round() as i64;
        let (local, in_usd) = (cents(t.revenue_cents), cents(usd_cents));
        writeln!(
            csv,
            "{store},{},{},{},{local},{},{in_usd}",
            dim.city, t.orders, t.units, dim.currency
        )?;
        usd.add(&Totals {
            orders: t.orders,
            units: t.units,
            revenue_cents: usd_cents,
        });
    }
    let out = batch.output(&format!("report_{region}.csv"));
    fs::write(&out, csv).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(Rollup {
        file: Written {
            path: out,
            rows: by_store.len(),
        },
        usd,
    })
}

/// Combines the region reports into one file for the run's date.
fn summarise(
    ctx: &TaskContext<'_, Value>,
    reports: &[(&str, Output<Rollup>)],
) -> Result<Rollup, BoxError> {
    let batch = ctx.run_input::<Batch>()?;
    let mut regions = reports
        .iter()
        .map(|&(region, report)| Ok((region, ctx.get(report)?)))
        .collect::<Result<Vec<_>, BoxError>>()?;
    regions.sort_by_key(|&(region, _)| region);
    let mut csv = String::from("region,orders,units,revenue_usd\n");
    let mut all = Totals::default();
    for (region, r) in &regions {
        writeln!(
            csv,
            "{region},{},{},{}",
            r.usd.orders,
            r.usd.units,
            cents(r.usd.revenue_cents)
        )?;
        all.add(&r.usd);
    }
    writeln!(
        csv,
        "all,{},{},{}",
        all.orders,
        all.units,
        cents(all.revenue_cents)
    )?;
    let out = batch.output("summary.csv");
    fs::write(&out, csv).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(Rollup {
        file: Written {
            path: out,
            rows: regions.len() + 1,
        },
        usd: all,
    })
}

/// The alert task: names every parse that failed, from its predecessors'
/// outcomes (it runs only when one did: `TriggerRule::OneFailed`).
fn write_alert(
    ctx: &TaskContext<'_, Value>,
    parses: &[Output<Vec<Sale>>],
) -> Result<Written, BoxError> {
    let batch = ctx.run_input::<Batch>()?;
    let mut text = format!("{}: parse tasks that did not succeed:\n", batch.date);
    for parse in parses {
        let state = ctx.upstream(parse.id())?;
        if state != State::Succeeded {
            let name = ctx.name_of(parse.id()).unwrap_or("an unnamed task");
            writeln!(text, "  {name}: {state}")?;
        }
    }
    let out = batch.output("alert.txt");
    fs::write(&out, &text).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(Written {
        path: out,
        rows: text.lines().count() - 1,
    })
}

/// The manifest task: the state of each task in `watched` (the reports and
/// the summary), whatever it was (`TriggerRule::AllDone`).
fn write_manifest(ctx: &TaskContext<'_, Value>, watched: &[TaskId]) -> Result<Written, BoxError> {
    let batch = ctx.run_input::<Batch>()?;
    let mut text = String::new();
    for &task in watched {
        let name = ctx.name_of(task).unwrap_or("an unnamed task");
        writeln!(text, "{name}: {}", ctx.upstream(task)?)?;
    }
    let out = batch.output("manifest.txt");
    fs::write(&out, &text).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(Written {
        path: out,
        rows: text.lines().count(),
    })
}

/// How many times the source system resets the connection while a
/// partition is read, before it reads through.
fn source_resets(date: &str, region: &str, hour: &str) -> u32 {
    if (date, region, hour) == (FLAKY_DATE, FLAKY_REGION, FLAKY_HOUR) {
        FLAKY_RESETS
    } else {
        0
    }
}

/// How extract and parse tasks are retried: transient errors (a reset
/// connection) are worth a few more tries; `kahn::permanent` ones are not.
fn retry_policy() -> RetryPolicy {
    RetryPolicy::attempts(4)
        .backoff(Duration::from_millis(2), 2.0, Duration::from_millis(20))
        .jitter(0.25)
}

// ---------------------------------------------------------------------------
// Staging: the "source system" that drops files for the pipeline.
// ---------------------------------------------------------------------------

/// A fresh folder under the system temp dir, removed on drop (so also when
/// `main` returns an error) unless `KAHN_ETL_KEEP` is set.
struct Workspace {
    root: PathBuf,
    keep: bool,
}

impl Workspace {
    fn create() -> io::Result<Workspace> {
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let root = std::env::temp_dir().join(format!("kahn-etl-{}-{stamp}", std::process::id()));
        fs::create_dir(&root)?; // not `create_dir_all`: the folder must be new
        let keep = std::env::var_os("KAHN_ETL_KEEP").is_some();
        Ok(Workspace { root, keep })
    }

    /// Shows `path` relative to the workspace.
    fn short<'p>(&self, path: &'p Path) -> std::path::Display<'p> {
        path.strip_prefix(&self.root).unwrap_or(path).display()
    }

    /// Removes the folder now, reporting failure; `Drop` is the fallback.
    fn close(mut self) -> io::Result<()> {
        let result = if self.keep {
            Ok(())
        } else {
            fs::remove_dir_all(&self.root)
        };
        self.keep = true; // done: nothing left for `Drop`
        result
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if !self.keep {
            if let Err(e) = fs::remove_dir_all(&self.root) {
                eprintln!("warning: could not remove {}: {e}", self.root.display());
            }
        }
    }
}

/// A tiny deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

/// What the source system wrote, for the self-check.
struct Staged {
    rows: usize,
    partitions: usize,
    /// Per date, per region: totals over its well-formed partitions, local
    /// currency.
    expected: HashMap<String, HashMap<&'static str, Totals>>,
    bad_file: PathBuf,
    bad_line: usize,
    /// The bad partition as the source system re-delivers it, fixed, and
    /// its totals (local currency).
    fixed_csv: String,
    fixed_totals: Totals,
}

impl Staged {
    /// What `region`'s well-formed partitions on `date` add up to.
    fn expected(&self, date: &str, region: &str) -> Totals {
        self.expected
            .get(date)
            .and_then(|regions| regions.get(region))
            .copied()
            .unwrap_or_default()
    }
}

fn store_code(region: &str, i: usize) -> String {
    format!("{}{:02}", region.to_uppercase(), i + 1)
}

/// Writes every date's partitions and rates, the store dimension, and an
/// empty output folder per date.
fn stage(root: &Path) -> io::Result<Staged> {
    let mut stores = String::from("store,region,city,currency\n");
    for (region, currency, cities) in REGIONS {
        for (i, city) in cities.iter().enumerate() {
            writeln!(
                stores,
                "{},{region},{city},{currency}",
                store_code(region, i)
            )
            .expect("writing to a String");
        }
    }
    fs::write(root.join("stores.csv"), stores)?;

    let mut rng = Rng(2026);
    let mut staged = Staged {
        rows: 0,
        partitions: 0,
        expected: HashMap::new(),
        bad_file: PathBuf::new(),
        bad_line: 0,
        fixed_csv: String::new(),
        fixed_totals: Totals::default(),
    };
    for (date, day_rates) in DATES {
        let batch = Batch::new(root, date);
        let mut rates = String::from("currency,usd_rate\n");
        for (currency, rate) in day_rates {
            writeln!(rates, "{currency},{rate}").expect("writing to a String");
        }
        fs::create_dir_all(batch.rates.parent().expect("rate files live in a folder"))?;
        fs::write(&batch.rates, rates)?;

        for (region, _, cities) in REGIONS {
            for hour in HOURS {
                let path = batch.partition(region, hour);
                fs::create_dir_all(path.parent().expect("partition files live in a folder"))?;
                let bad = (date, region, hour) == (BAD_DATE, BAD_REGION, BAD_HOUR);
                let rows = 2000 + rng.below(1500) as usize;
                let mut csv = String::with_capacity(rows * 40);
                let mut totals = Totals::default();
                csv.push_str(SALES_HEADER);
                csv.push('\n');
                for row in 0..rows {
                    let store = store_code(region, rng.below(cities.len() as u64) as usize);
                    let sku = rng.below(SKUS);
                    let qty = 1 + rng.below(6);
                    let price = 199 + (sku * 7919) % 9800; // cents, fixed per SKU
                    let sale = Totals {
                        orders: 1,
                        units: qty,
                        revenue_cents: (qty * price) as i64,
                    };
                    let line = format!("{date},{region},{store},SKU-{sku:04},{qty},");
                    if bad {
                        staged.fixed_totals.add(&sale);
                    }
                    if bad && row == BAD_ROW {
                        // The European decimal comma: one field too many.
                        let comma = format!("{},{:02}", price / 100, price % 100);
                        let good = cents(price as i64);
                        staged.fixed_csv = format!("{csv}{line}{good}\n");
                        writeln!(csv, "{line}{comma}").expect("writing to a String");
                        staged.bad_file.clone_from(&path);
                        staged.bad_line = row + 2;
                        continue;
                    }
                    if bad && !staged.fixed_csv.is_empty() {
                        writeln!(staged.fixed_csv, "{line}{}", cents(price as i64))
                            .expect("writing to a String");
                    }
                    writeln!(csv, "{line}{}", cents(price as i64)).expect("writing to a String");
                    totals.add(&sale);
                }
                fs::write(&path, csv)?;
                staged.rows += rows;
                staged.partitions += 1;
                if !bad {
                    let regions = staged.expected.entry(date.to_owned()).or_default();
                    regions.entry(region).or_default().add(&totals);
                }
            }
        }
        fs::create_dir_all(&batch.out)?;
    }
    Ok(staged)
}

// ---------------------------------------------------------------------------
// The graph: built once, for any date.
// ---------------------------------------------------------------------------

/// One partition's tasks.
struct Partition {
    region: &'static str,
    hour: &'static str,
    extract: Output<String>,
    parse: Output<Vec<Sale>>,
    aggregate: Output<StoreTotals>,
}

/// The handles of the graph's tasks, to read a run's report with.
struct Tasks {
    partitions: Vec<Partition>,
    reports: Vec<(&'static str, Output<Rollup>)>,
    summary: Output<Rollup>,
    alert: Output<Written>,
    manifest: Output<Written>,
}

impl Tasks {
    fn partition(&self, region: &str, hour: &str) -> Result<&Partition, BoxError> {
        self.partitions
            .iter()
            .find(|p| (p.region, p.hour) == (region, hour))
            .ok_or_else(|| format!("no tasks for partition {region}/h{hour}").into())
    }
}

/// Adds a partition's extract -> parse -> aggregate chain.
fn add_partition(
    b: &mut GraphBuilder<'_, Value>,
    region: &'static str,
    hour: &'static str,
) -> Result<Partition, BuildError> {
    let extract = b.typed_task(&task_name("extract", region, hour), move |ctx| {
        let batch = ctx.run_input::<Batch>()?;
        let path = batch.partition(region, hour);
        if ctx.attempt() <= source_resets(&batch.date, region, hour) {
            let reset = io::Error::new(
                io::ErrorKind::ConnectionReset,
                format!("{}: the source system reset the connection", path.display()),
            );
            return Err(reset.into());
        }
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(text)
    })?;

    let parse = b.typed_task(&task_name("parse", region, hour), move |ctx| {
        let batch = ctx.run_input::<Batch>()?;
        // Parse is the text's only reader: move it in, no copy.
        let text = ctx.take(extract)?;
        // Another attempt would read the same bytes: a bad row is
        // permanent, and the retry policy gives up at once. Nothing after
        // the take is retried, so no attempt finds the text gone.
        let file = batch.partition(region, hour);
        parse_sales(&file, &text, region, &batch.date).map_err(kahn::permanent)
    })?;
    b.retry(extract.id(), retry_policy())?;
    b.retry(parse.id(), retry_policy())?;

    // Borrowed, not taken: `alert` is the parse's other successor.
    let aggregate = b.typed_task(&task_name("aggregate", region, hour), move |ctx| {
        Ok(totals_by_store(ctx.get(parse)?))
    })?;

    b.edge(extract.id(), parse.id())?;
    b.edge(parse.id(), aggregate.id())?;
    Ok(Partition {
        region,
        hour,
        extract,
        parse,
        aggregate,
    })
}

/// Adds every task and edge; `stores_csv` is the one input file that is
/// the same for every date.
fn build_pipeline(
    b: &mut GraphBuilder<'_, Value>,
    stores_csv: PathBuf,
) -> Result<Tasks, BuildError> {
    let stores = b.typed_task("load_stores", move |_| load_stores(&stores_csv))?;
    let rates = b.typed_task("load_rates", |ctx| {
        load_rates(&ctx.run_input::<Batch>()?.rates)
    })?;

    let mut partitions = Vec::new();
    let mut reports = Vec::new();
    for (region, _, _) in REGIONS {
        let mut aggregates = Vec::new();
        for hour in HOURS {
            let partition = add_partition(b, region, hour)?;
            aggregates.push(partition.aggregate);
            partitions.push(partition);
        }
        let inputs = RegionInputs {
            stores,
            rates,
            aggregates,
        };
        let edges_from: Vec<TaskId> = inputs
            .aggregates
            .iter()
            .map(Output::id)
            .chain([stores.id(), rates.id()])
            .collect();
        let report = b.typed_task(&format!("report/{region}"), move |ctx| {
            report_region(ctx, region, &inputs)
        })?;
        for from in edges_from {
            b.edge(from, report.id())?;
        }
        reports.push((region, report));
    }

    let inputs = reports.clone();
    let summary = b.typed_task("summary", move |ctx| summarise(ctx, &inputs))?;
    for (_, report) in &reports {
        b.edge(report.id(), summary.id())?;
    }

    // Runs only if a parse failed, and says which.
    let parses: Vec<_> = partitions.iter().map(|p| p.parse).collect();
    let watched_parses = parses.clone();
    let alert = b.typed_task("alert", move |ctx| write_alert(ctx, &watched_parses))?;
    b.trigger_rule(alert.id(), TriggerRule::OneFailed)?;
    for parse in &parses {
        b.edge(parse.id(), alert.id())?;
    }

    // Runs whatever happened upstream: the run's manifest.
    let watched: Vec<TaskId> = reports
        .iter()
        .map(|(_, report)| report.id())
        .chain([summary.id()])
        .collect();
    let watched_tasks = watched.clone();
    let manifest = b.typed_task("manifest", move |ctx| write_manifest(ctx, &watched_tasks))?;
    b.trigger_rule(manifest.id(), TriggerRule::AllDone)?;
    for task in watched {
        b.edge(task, manifest.id())?;
    }

    Ok(Tasks {
        partitions,
        reports,
        summary,
        alert,
        manifest,
    })
}

// ---------------------------------------------------------------------------
// The runs.
// ---------------------------------------------------------------------------

fn main() -> Result<(), BoxError> {
    let files = FileArgs::parse(std::env::args().skip(1))?;
    let ws = Workspace::create()?;
    let staged = stage(&ws.root)?;
    let batches: Vec<Batch> = DATES
        .iter()
        .map(|(date, _)| Batch::new(&ws.root, date))
        .collect();
    println!(
        "staged {} sales rows in {} partitions ({} dates x {} regions x {} exports) \
         + dimension tables under {}",
        staged.rows,
        staged.partitions,
        DATES.len(),
        REGIONS.len(),
        HOURS.len(),
        ws.root.display()
    );

    let mut arena = kahn::Arena::new();
    let mut b = arena.builder::<Value>();
    let tasks = build_pipeline(&mut b, ws.root.join("stores.csv"))?;
    let graph = b.build()?;
    let executor = Executor::new()?;
    println!(
        "graph: {} tasks, {} edges; executor: {} worker threads",
        graph.task_count(),
        graph.edge_count(),
        executor.threads()
    );

    // One run per date, all at once on the one executor, each with its
    // batch as input. The options are kept for the resume, which must see
    // the same batch.
    // Each run counts its progress into a handle of its own, which a
    // thread of this scope reads to draw one bar per date (on a terminal).
    let progress: Vec<Progress> = batches.iter().map(|_| Progress::new()).collect();
    let options: Vec<RunOptions> = batches
        .iter()
        .zip(&progress)
        .map(|(batch, progress)| {
            RunOptions::new()
                .record_timings(true)
                .input(batch.clone())
                .progress(progress.clone())
        })
        .collect();
    let dates: Vec<&str> = batches.iter().map(|batch| batch.date.as_str()).collect();
    println!("running {} at the same time", dates.join(" and "));
    let (executor, graph) = (&executor, &graph); // for the `move` closures
    let started = Instant::now();
    let drawn = AtomicBool::new(false);
    let mut reports = std::thread::scope(|s| {
        let runs: Vec<_> = options
            .iter()
            .map(|options| s.spawn(move || executor.run_with(graph, options)))
            .collect();
        s.spawn(|| draw_progress(&dates, &progress, &drawn));
        let joined = runs
            .into_iter()
            .map(|run| run.join())
            .collect::<Result<Vec<_>, _>>();
        drawn.store(true, Ordering::Relaxed); // also if a run's thread panicked
        joined
    })
    .map_err(|_| "a run's thread panicked")?;
    let walls: Vec<String> = reports
        .iter()
        .map(|report| format!("{:.2?}", report.wall_time()))
        .collect();
    println!(
        "all done in {:.2?}, side by side (each run's own wall time: {})",
        started.elapsed(),
        walls.join(", ")
    );

    for (batch, report) in batches.iter().zip(&reports) {
        println!("\n=== {} ===\n{report}", batch.date);
        print_slowest(report, 5);
        print_results(&ws, &tasks, report);
        // With the `serde` feature, the run's summary as JSON beside its
        // output: every task's state, error, skip reason, attempts, timing.
        #[cfg(feature = "serde")]
        {
            let file = batch.output("run.json");
            fs::write(&file, serde_json::to_string_pretty(&report.summary())?)?;
            println!("  {}  the run's summary", ws.short(&file));
        }
    }

    let bad = batches
        .iter()
        .position(|batch| batch.date == BAD_DATE)
        .ok_or("no batch for the bad date")?;
    if let Some(file) = &files.dot {
        // The failed date's run, as Graphviz draws it: `dot -Tsvg FILE`.
        fs::write(file, graph.to_dot().report(&reports[bad]).to_string())?;
        println!("\nthe {BAD_DATE} run as Graphviz DOT: {}", file.display());
    }
    if let Some(file) = &files.trace {
        // The same run's timeline (the runs record timings): open the file
        // in ui.perfetto.dev or chrome://tracing.
        use std::io::Write as _;
        let trace = reports[bad].to_chrome_trace()?;
        let name = format!("etl {BAD_DATE}");
        let mut out = io::BufWriter::new(fs::File::create(file)?);
        write!(out, "{}", trace.process_name(&name))?;
        out.flush()?;
        println!(
            "\nthe {BAD_DATE} run's timeline as a Chrome trace: {} (open it in ui.perfetto.dev)",
            file.display()
        );
    }
    for (i, (batch, report)) in batches.iter().zip(&reports).enumerate() {
        let checked = if i == bad {
            check_failed_batch(batch, &tasks, report, &staged)
        } else {
            check_good_batch(batch, &tasks, report, &staged)
        };
        checked.map_err(|e| CheckFailed(format!("{}: {e}", batch.date)))?;
    }
    println!(
        "\nself-check passed: {BAD_DATE} failed exactly as designed, {} succeeded in full",
        dates
            .iter()
            .filter(|&&date| date != BAD_DATE)
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
    );

    // The source system re-delivers the bad partition, fixed: its extract is
    // cleared (its text is stale), and resuming the failed date's run, with
    // the same options and so the same batch, runs only what did not
    // succeed and what is below it; everything else is carried over from
    // the first run, outputs and all.
    fs::write(&staged.bad_file, &staged.fixed_csv)?;
    println!(
        "\n{} re-delivered with the row fixed; resuming {BAD_DATE}\n",
        ws.short(&staged.bad_file)
    );
    let mut report = reports.swap_remove(bad);
    let extract = tasks.partition(BAD_REGION, BAD_HOUR)?.extract;
    if !report.clear(extract.id()) {
        let e = format!(
            "could not clear `{}`",
            task_name("extract", BAD_REGION, BAD_HOUR)
        );
        return Err(CheckFailed(e).into());
    }
    let resumed = executor.resume_with(graph, report, &options[bad])?;
    println!("{resumed}");
    check_resumed(&batches[bad], &tasks, &resumed, &staged)
        .map_err(|e| CheckFailed(format!("{BAD_DATE}, resumed: {e}")))?;
    println!("\nself-check passed: the resume ran only what had not succeeded");

    if ws.keep {
        println!("kept {} (KAHN_ETL_KEEP is set)", ws.root.display());
    }
    ws.close()?;
    Ok(())
}

fn print_slowest(report: &Report<'_, Value>, n: usize) {
    let mut ran: Vec<_> = report
        .tasks()
        .filter_map(|t| Some((t.name?, t.outcome.state(), t.timing?)))
        .collect();
    ran.sort_by_key(|r| std::cmp::Reverse(r.2.duration));
    println!("\nslowest {n} tasks:");
    println!(
        "  {:<24} {:<10} {:>6} {:>10} {:>10}",
        "task", "state", "worker", "start", "took"
    );
    for (name, state, timing) in ran.iter().take(n) {
        let (start, took) = (
            format!("{:.2?}", timing.start),
            format!("{:.2?}", timing.duration),
        );
        println!(
            "  {name:<24} {:<10} {:>6} {start:>10} {took:>10}",
            state.to_string(),
            timing.worker
        );
    }
}

fn print_results(ws: &Workspace, tasks: &Tasks, report: &Report<'_, Value>) {
    println!("\nresult files written:");
    let rollups = tasks.reports.iter().map(|&(_, r)| r).chain([tasks.summary]);
    let files = rollups
        .filter_map(|r| report.get(r).map(|r| &r.file))
        .chain(
            [tasks.alert, tasks.manifest]
                .map(|w| report.get(w))
                .into_iter()
                .flatten(),
        );
    for file in files {
        let path = ws.short(&file.path).to_string();
        println!("  {path:<34} {} rows", file.rows);
    }
    println!("\nreports skipped:");
    let mut none = true;
    let reports = tasks.reports.iter().map(|(_, r)| r.id());
    for task in reports.chain([tasks.summary.id()]) {
        if let Some(Outcome::Skipped { cause }) = report.outcome(task) {
            let name = report.name(task).unwrap_or("an unnamed task");
            let cause = report.name(cause).unwrap_or("an unnamed task");
            println!("  {name:<34} because {cause} failed");
            none = false;
        }
    }
    if none {
        println!("  none");
    }
}

/// Draws one `indicatif` bar per run from its [`Progress`] until every run
/// has finished: done out of total, with what failed, was skipped and is
/// running now. Off a terminal indicatif draws nothing, so logs stay clean.
/// Stops early if `drawn` is set (the runs' threads have been joined).
fn draw_progress(dates: &[&str], progress: &[Progress], drawn: &AtomicBool) {
    let bars = MultiProgress::new();
    let style =
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} tasks {msg} ({elapsed})")
            .expect("a valid template")
            .progress_chars("=> ");
    let shown: Vec<ProgressBar> = dates
        .iter()
        .map(|date| {
            // A length of 1 until the run says its size: an empty bar, not a full one.
            let bar = bars.add(ProgressBar::new(1).with_style(style.clone()));
            bar.set_prefix(date.to_string());
            bar
        })
        .collect();
    loop {
        let mut all_finished = true;
        for (bar, progress) in shown.iter().zip(progress) {
            let c = progress.counts();
            if c.total == 0 {
                all_finished = false; // not started yet
                continue;
            }
            bar.set_length(c.total as u64);
            bar.set_position(c.done() as u64);
            bar.set_message(format!(
                "{} failed, {} skipped, {} running, {} retried",
                c.failed, c.skipped, c.running, c.retried
            ));
            if c.finished {
                bar.finish();
            } else {
                all_finished = false;
            }
        }
        if all_finished || drawn.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------
// Self-check: the example doubles as a smoke test.
// ---------------------------------------------------------------------------

/// The self-check's error. `main` prints an error's `Debug` form, so this
/// one's `Debug` is a plain sentence rather than a quoted string.
struct CheckFailed(String);

impl fmt::Debug for CheckFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "self-check failed: {}", self.0)
    }
}

impl fmt::Display for CheckFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl Error for CheckFailed {}

/// Returns an error, not a panic, when `$cond` is false.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+).into());
        }
    };
}

/// The files the command line asks for: `--dot FILE`, `--trace FILE`,
/// each at most once, in either order.
#[derive(Debug, Default)]
struct FileArgs {
    dot: Option<PathBuf>,
    trace: Option<PathBuf>,
}

impl FileArgs {
    const USAGE: &'static str = "usage: etl [--dot FILE] [--trace FILE]";

    fn parse(mut args: impl Iterator<Item = String>) -> Result<FileArgs, BoxError> {
        let mut files = FileArgs::default();
        while let Some(flag) = args.next() {
            let slot = match flag.as_str() {
                "--dot" => &mut files.dot,
                "--trace" => &mut files.trace,
                _ => return Err(format!("unknown argument `{flag}`; {}", Self::USAGE).into()),
            };
            let file = args
                .next()
                .ok_or_else(|| format!("`{flag}` needs a file; {}", Self::USAGE))?;
            if slot.replace(PathBuf::from(file)).is_some() {
                return Err(format!("`{flag}` given twice; {}", Self::USAGE).into());
            }
        }
        Ok(files)
    }
}

/// In a run where nothing failed, `alert` was not triggered.
fn check_alert_quiet(tasks: &Tasks, report: &Report<'_, Value>) -> Result<(), BoxError> {
    ensure!(
        matches!(
            report.outcome(tasks.alert.id()),
            Some(Outcome::NotTriggered { .. })
        ),
        "nothing failed, yet `alert` is {:?}",
        report.state(tasks.alert.id())
    );
    Ok(())
}

/// Every extract's text was moved into its parse, not copied: exactly the
/// extracts show as consumed.
fn check_consumed(tasks: &Tasks, report: &Report<'_, Value>) -> Result<(), BoxError> {
    let consumed: BTreeSet<TaskId> = report
        .tasks()
        .filter(|t| matches!(t.outcome, Outcome::Consumed))
        .map(|t| t.id)
        .collect();
    let extracts: BTreeSet<TaskId> = tasks.partitions.iter().map(|p| p.extract.id()).collect();
    ensure!(
        consumed == extracts,
        "expected the {} extracts consumed, got {:?}",
        extracts.len(),
        consumed
            .iter()
            .map(|&id| report.name(id).unwrap_or("an unnamed task"))
            .collect::<Vec<_>>()
    );
    Ok(())
}

/// The region reports written for `batch` add up to what the source system
/// staged for its date, in its own output folder; `skipped`'s report, if
/// any, was skipped and not written.
fn check_reports(
    batch: &Batch,
    tasks: &Tasks,
    report: &Report<'_, Value>,
    staged: &Staged,
    skipped: Option<&str>,
) -> Result<(), BoxError> {
    for &(region, handle) in &tasks.reports {
        let name = format!("report/{region}");
        let path = batch.output(&format!("report_{region}.csv"));
        if skipped == Some(region) {
            ensure!(
                report.state(handle.id()) == Some(State::Skipped),
                "`{name}` was not skipped"
            );
            ensure!(
                !path.exists(),
                "`{name}` was skipped but {} exists",
                path.display()
            );
            continue;
        }
        let written = &report
            .get(handle)
            .ok_or_else(|| format!("`{name}` has no output"))?
            .file;
        ensure!(
            written.path == path,
            "`{name}` wrote {}, expected {}",
            written.path.display(),
            path.display()
        );
        let stores = REGIONS
            .iter()
            .find(|(r, _, _)| *r == region)
            .map_or(0, |(_, _, cities)| cities.len());
        ensure!(
            written.rows == stores,
            "`{name}` wrote {} rows, expected {stores}",
            written.rows
        );
        let mut on_disk = Totals::default();
        let text = fs::read_to_string(&written.path)?;
        let lines = data_lines(&written.path, &text, REPORT_HEADER)?;
        for (line, row) in lines {
            let [_, _, orders, units, local, _, _] =
                fields::<7>(&written.path, line, row, REPORT_HEADER)?;
            on_disk.add(&Totals {
                orders: orders.parse()?,
                units: units.parse()?,
                revenue_cents: parse_cents(local).ok_or("bad revenue in a report")?,
            });
        }
        let staged_totals = staged.expected(&batch.date, region);
        ensure!(
            on_disk == staged_totals,
            "`{name}` wrote {on_disk:?}, but the staged rows add up to {staged_totals:?}"
        );
    }
    Ok(())
}

/// The date without the bad row: everything ran and succeeded (the alert
/// was not triggered), nothing was retried, and every file adds up.
fn check_good_batch(
    batch: &Batch,
    tasks: &Tasks,
    report: &Report<'_, Value>,
    staged: &Staged,
) -> Result<(), BoxError> {
    let c = report.counts();
    ensure!(
        report.is_success()
            && c.succeeded == report.task_count() - 1
            && c.skipped == 1
            && c.by_choice == 1,
        "expected every task but `alert` to succeed, got {c:?}"
    );
    check_alert_quiet(tasks, report)?;
    let alert = batch.output("alert.txt");
    ensure!(
        !alert.exists(),
        "`alert` was not triggered but {} exists",
        alert.display()
    );
    let retried: Vec<_> = report.retried().filter_map(|t| t.name).collect();
    ensure!(
        retried.is_empty(),
        "expected nothing retried, got {retried:?}"
    );
    check_consumed(tasks, report)?;
    check_reports(batch, tasks, report, staged, None)?;

    let summary = report.get(tasks.summary).ok_or("`summary` has no output")?;
    let mut want = Totals::default();
    for (region, _, _) in REGIONS {
        want.add(&staged.expected(&batch.date, region));
    }
    ensure!(
        summary.usd.orders == want.orders && summary.usd.units == want.units,
        "the summary has {} orders and {} units, the staged rows {} and {}",
        summary.usd.orders,
        summary.usd.units,
        want.orders,
        want.units
    );
    ensure!(
        summary.file.path == batch.output("summary.csv") && summary.file.path.exists(),
        "the summary was not written to {}",
        batch.output("summary.csv").display()
    );
    let manifest = fs::read_to_string(batch.output("manifest.txt"))?;
    ensure!(
        !manifest.contains("skipped")
            && !manifest.contains("failed")
            && manifest.lines().count() == REGIONS.len() + 1,
        "the manifest says {manifest:?}"
    );
    Ok(())
}

/// The date with the bad row: exactly its parse failed, permanently, with
/// an error naming file and line; exactly its dependents were skipped; the
/// flaky extract was retried into success; the other reports add up.
fn check_failed_batch(
    batch: &Batch,
    tasks: &Tasks,
    report: &Report<'_, Value>,
    staged: &Staged,
) -> Result<(), BoxError> {
    let bad_parse = task_name("parse", BAD_REGION, BAD_HOUR);
    let bad_id = tasks.partition(BAD_REGION, BAD_HOUR)?.parse.id();

    // Exactly the bad partition failed, with an error naming file and line.
    let failed: Vec<_> = report.failures().filter_map(|t| t.name).collect();
    ensure!(
        failed == [bad_parse.as_str()],
        "expected only `{bad_parse}` to fail, but failed: {failed:?}"
    );
    let Some(Outcome::Failed(error)) = report.outcome(bad_id) else {
        return Err(format!("`{bad_parse}` did not return an error").into());
    };
    let bad_row = error
        .downcast_ref::<kahn::Permanent>()
        .and_then(|p| p.get().downcast_ref::<BadRow>())
        .ok_or("the parse error is not a permanent BadRow")?;
    ensure!(
        report.attempts(bad_id) == 1,
        "`{bad_parse}` ran {} times: a permanent error is not retried",
        report.attempts(bad_id)
    );
    ensure!(
        bad_row.file == staged.bad_file && bad_row.line == staged.bad_line,
        "the error points at {}:{}, expected {}:{}",
        bad_row.file.display(),
        bad_row.line,
        staged.bad_file.display(),
        staged.bad_line
    );
    let message = error.to_string();
    let location = format!("{}:{}", staged.bad_file.display(), staged.bad_line);
    ensure!(
        message.contains(&location),
        "the error `{message}` does not name `{location}`"
    );

    // The flaky extract succeeded on its third attempt, after two resets.
    let flaky = task_name("extract", FLAKY_REGION, FLAKY_HOUR);
    ensure!(
        report.state(flaky.as_str()) == Some(State::Succeeded)
            && report.attempts(flaky.as_str()) == FLAKY_RESETS + 1,
        "`{flaky}` ended {:?} after {} attempts, expected success after {}",
        report.state(flaky.as_str()),
        report.attempts(flaky.as_str()),
        FLAKY_RESETS + 1
    );
    let retried: Vec<_> = report.retried().filter_map(|t| t.name).collect();
    ensure!(
        retried == [flaky.as_str()],
        "expected only `{flaky}` retried, got {retried:?}"
    );

    // The alert fired and named the bad parse; the manifest ran anyway.
    let alert = fs::read_to_string(batch.output("alert.txt"))?;
    ensure!(
        alert.contains(&format!("{bad_parse}: failed")) && alert.lines().count() == 2,
        "the alert says {alert:?}"
    );
    let manifest = fs::read_to_string(batch.output("manifest.txt"))?;
    ensure!(
        manifest.contains(&format!("report/{BAD_REGION}: skipped"))
            && manifest.contains("summary: skipped")
            && manifest.lines().count() == REGIONS.len() + 1,
        "the manifest says {manifest:?}"
    );

    // Exactly its dependents were skipped, each for that failure (the
    // manifest ran after them anyway).
    let skipped: BTreeSet<&str> = report
        .tasks()
        .filter(|t| matches!(t.outcome, Outcome::Skipped { cause } if cause == bad_id))
        .filter_map(|t| t.name)
        .collect();
    let agg = task_name("aggregate", BAD_REGION, BAD_HOUR);
    let rep = format!("report/{BAD_REGION}");
    let expected = BTreeSet::from([agg.as_str(), rep.as_str(), "summary"]);
    ensure!(
        skipped == expected,
        "expected {expected:?} skipped for `{bad_parse}`, got {skipped:?}"
    );

    // Everything else succeeded, and the timings were recorded.
    let c = report.counts();
    ensure!(
        c.succeeded == report.task_count() - 4
            && c.failed == 1
            && c.skipped == 3
            && c.panicked + c.cancelled == 0,
        "unexpected counts {c:?}"
    );
    ensure!(
        report.timing(bad_id).is_some(),
        "no timing for `{bad_parse}` although timings were on"
    );

    // The texts were moved, and the written reports add up to what the
    // source system staged for the date.
    check_consumed(tasks, report)?;
    check_reports(batch, tasks, report, staged, Some(BAD_REGION))?;
    let summary = batch.output("summary.csv");
    ensure!(
        !summary.exists(),
        "`summary` was skipped but {} exists",
        summary.display()
    );
    Ok(())
}

/// The tasks a resume after the fix must run again: the cleared extract,
/// the failed parse and everything below them (`alert` is judged again, and
/// not triggered).
fn rerun_after_fix() -> BTreeSet<String> {
    [
        task_name("extract", BAD_REGION, BAD_HOUR),
        task_name("parse", BAD_REGION, BAD_HOUR),
        task_name("aggregate", BAD_REGION, BAD_HOUR),
        format!("report/{BAD_REGION}"),
        "summary".to_owned(),
        "alert".to_owned(),
        "manifest".to_owned(),
    ]
    .into()
}

fn check_resumed(
    batch: &Batch,
    tasks: &Tasks,
    resumed: &Report<'_, Value>,
    staged: &Staged,
) -> Result<(), BoxError> {
    ensure!(resumed.is_success(), "the resumed run did not succeed");
    let again: BTreeSet<String> = resumed
        .tasks()
        .filter(|t| !resumed.carried_over(t.id))
        .filter_map(|t| t.name.map(str::to_owned))
        .collect();
    ensure!(
        again == rerun_after_fix(),
        "the resume ran {again:?}, expected {:?}",
        rerun_after_fix()
    );
    check_alert_quiet(tasks, resumed)?;
    let flaky = task_name("extract", FLAKY_REGION, FLAKY_HOUR);
    ensure!(
        resumed.carried_over(flaky.as_str()) && resumed.attempts(flaky.as_str()) == 0,
        "`{flaky}` ran again"
    );
    check_consumed(tasks, resumed)?;

    // The eu report now adds up to every eu partition of the date, the
    // fixed one too, and the summary to every partition of the date.
    let mut want = staged.expected(&batch.date, BAD_REGION);
    want.add(&staged.fixed_totals);
    let (_, eu) = tasks
        .reports
        .iter()
        .find(|(region, _)| *region == BAD_REGION)
        .ok_or("no eu report task")?;
    let written = resumed.get(*eu).ok_or("no eu report")?;
    ensure!(
        written.usd.orders == want.orders && written.usd.units == want.units,
        "the eu report has {} orders and {} units, the staged rows {} and {}",
        written.usd.orders,
        written.usd.units,
        want.orders,
        want.units
    );
    let mut all = staged.fixed_totals;
    for (region, _, _) in REGIONS {
        all.add(&staged.expected(&batch.date, region));
    }
    let summary = resumed.get(tasks.summary).ok_or("no summary")?;
    ensure!(
        summary.usd.orders == all.orders
            && summary.usd.units == all.units
            && summary.file.path.exists(),
        "the summary has {} orders and {} units, the staged rows {} and {}",
        summary.usd.orders,
        summary.usd.units,
        all.orders,
        all.units
    );
    let manifest = fs::read_to_string(batch.output("manifest.txt"))?;
    ensure!(
        !manifest.contains("skipped") && !manifest.contains("failed"),
        "the manifest says {manifest:?}"
    );
    Ok(())
}
