//! A small ETL pipeline on kahn: partitioned CSV in, per-region reports out,
//! with one bad partition that fails without taking the rest of the run down.
//!
//! ```text
//! cargo run --release --example etl
//! ```
//!
//! What it shows:
//!
//! - **Staging.** A fake source system writes 12 sales partitions
//!   (`date,region,store,sku,qty,unit_price`; 3 regions x 4 days, a few
//!   thousand rows each) in Hive-style folders, plus two dimension tables
//!   (`stores.csv`, `rates.csv`), into a fresh folder under the system temp
//!   dir. The data is deterministic. The folder is removed at the end, also
//!   when the example fails (set `KAHN_ETL_KEEP=1` to keep it).
//! - **The graph.** Each partition gets `extract/<region>/<day>` (read the
//!   file) -> `parse/...` (validate and type the rows) -> `aggregate/...`
//!   (totals per store). Each region gets `report/<region>`, which joins its
//!   four aggregates with the `load_stores` and `load_rates` dimensions and
//!   writes `output/report_<region>.csv`. A final `summary` reads every region
//!   report and writes `output/summary.csv`. Every task returns the same
//!   output type, the `Data` enum, and reads its inputs by name with
//!   `ctx.input("...")?` or all at once with `ctx.inputs()`.
//! - **Failure handling.** In `eu` on 2026-11-03 one row writes its price
//!   with a decimal comma (`59,36`), so it has seven fields.
//!   `parse/eu/2026-11-03` fails with an error naming the file and line; its
//!   aggregate, `report/eu` and `summary` are skipped; every other task still
//!   runs and the `us` and `apac` reports are written. That is what kahn's
//!   default `FailurePolicy::Continue` does.
//! - **Retries.** Every extract and parse task has a retry policy (up to 4
//!   attempts, 2 ms backoff doubling to 20 ms, with jitter). The source
//!   system resets the connection twice while `extract/us/2026-11-02`
//!   reads, so that task succeeds on its third attempt; the waits hold no
//!   worker. The malformed row is marked `kahn::permanent`, so its parse
//!   fails once and is not retried.
//! - **Trigger rules.** `alert` (`TriggerRule::OneFailed`, after every
//!   parse) fires because a parse failed, and writes `output/alert.txt`
//!   naming it; `manifest` (`TriggerRule::AllDone`, after the reports and
//!   the summary) runs whatever happened and writes `output/manifest.txt`
//!   with each one's state.
//! - **Reporting.** The run records timings; the example prints kahn's
//!   report (with the retried task), the five slowest tasks, the files
//!   written and the reports skipped.
//!
//! The example is also a smoke test: it checks the outcome against the design
//! (exactly the bad partition failed, exactly its dependents were skipped, the
//! written reports add up to what was staged) and exits non-zero, without
//! panicking, if anything differs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::error::Error;
use std::fmt::{self, Write as _};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use std::time::Duration;

use kahn::{
    BoxError, Executor, Graph, Outcome, Report, RetryPolicy, RunOptions, State, TaskContext,
    TriggerRule,
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
const DAYS: [&str; 4] = ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"];
const RATES: [(&str, f64); 3] = [("EUR", 1.08), ("USD", 1.0), ("AUD", 0.66)];
const SKUS: u64 = 40;
const SALES_HEADER: &str = "date,region,store,sku,qty,unit_price";
const REPORT_HEADER: &str = "store,city,orders,units,revenue_local,currency,revenue_usd";

/// The partition the source system corrupts, and where.
const BAD_REGION: &str = "eu";
const BAD_DAY: &str = "2026-11-03";
const BAD_ROW: usize = 1500;

/// The partition whose extract the source system interrupts, and how many
/// times, before it reads through.
const FLAKY_REGION: &str = "us";
const FLAKY_DAY: &str = "2026-11-02";
const FLAKY_RESETS: u32 = 2;

// ---------------------------------------------------------------------------
// The data that flows between tasks.
// ---------------------------------------------------------------------------

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

/// What a report task wrote.
#[derive(Debug)]
struct Written {
    region: String,
    path: PathBuf,
    rows: usize,
    /// The region's totals, revenue converted to USD.
    usd: Totals,
}

/// The output of every task in the graph.
#[derive(Debug)]
enum Data {
    /// A raw file, as extracted.
    Text(String),
    /// Parsed, validated sales rows.
    Rows(Vec<Sale>),
    /// Totals per store (local currency).
    Totals(BTreeMap<String, Totals>),
    /// The store dimension, by store code.
    Stores(HashMap<String, Store>),
    /// USD per unit of each currency.
    Rates(HashMap<String, f64>),
    /// A result file written.
    Written(Written),
}

impl Data {
    fn kind(&self) -> &'static str {
        match self {
            Data::Text(_) => "Text",
            Data::Rows(_) => "Rows",
            Data::Totals(_) => "Totals",
            Data::Stores(_) => "Stores",
            Data::Rates(_) => "Rates",
            Data::Written(_) => "Written",
        }
    }

    fn wrong(&self, wanted: &str) -> BoxError {
        format!("expected a {wanted} input, got {}", self.kind()).into()
    }

    fn text(&self) -> Result<&str, BoxError> {
        match self {
            Data::Text(text) => Ok(text),
            other => Err(other.wrong("Text")),
        }
    }

    fn rows(&self) -> Result<&[Sale], BoxError> {
        match self {
            Data::Rows(rows) => Ok(rows),
            other => Err(other.wrong("Rows")),
        }
    }

    fn totals(&self) -> Result<&BTreeMap<String, Totals>, BoxError> {
        match self {
            Data::Totals(totals) => Ok(totals),
            other => Err(other.wrong("Totals")),
        }
    }

    fn stores(&self) -> Result<&HashMap<String, Store>, BoxError> {
        match self {
            Data::Stores(stores) => Ok(stores),
            other => Err(other.wrong("Stores")),
        }
    }

    fn rates(&self) -> Result<&HashMap<String, f64>, BoxError> {
        match self {
            Data::Rates(rates) => Ok(rates),
            other => Err(other.wrong("Rates")),
        }
    }

    fn written(&self) -> Result<&Written, BoxError> {
        match self {
            Data::Written(written) => Ok(written),
            other => Err(other.wrong("Written")),
        }
    }
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

fn aggregate(rows: &[Sale]) -> BTreeMap<String, Totals> {
    let mut by_store: BTreeMap<String, Totals> = BTreeMap::new();
    for sale in rows {
        let totals = by_store.entry(sale.store.clone()).or_default();
        totals.orders += 1;
        totals.units += u64::from(sale.qty);
        totals.revenue_cents += i64::from(sale.qty) * sale.unit_price_cents;
    }
    by_store
}

fn load_stores(file: &Path) -> Result<Data, BoxError> {
    let text = fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let header = "store,region,city,currency";
    let mut stores = HashMap::new();
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
    Ok(Data::Stores(stores))
}

fn load_rates(file: &Path) -> Result<Data, BoxError> {
    let text = fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let header = "currency,usd_rate";
    let mut rates = HashMap::new();
    for (line, row) in data_lines(file, &text, header)? {
        let [currency, rate] = fields::<2>(file, line, row, header)?;
        let rate = rate.parse::<f64>().map_err(|e| BadRow {
            file: file.to_owned(),
            line,
            problem: e.to_string(),
        })?;
        rates.insert(currency.to_owned(), rate);
    }
    Ok(Data::Rates(rates))
}

/// Joins a region's partition aggregates with the dimensions and writes the
/// region's report.
fn report_region(
    ctx: &TaskContext<'_, Data>,
    region: &str,
    aggregates: &[String],
    out: &Path,
) -> Result<Data, BoxError> {
    let stores = ctx.input("load_stores")?.stores()?;
    let rates = ctx.input("load_rates")?.rates()?;
    let mut by_store: BTreeMap<&str, Totals> = BTreeMap::new();
    for name in aggregates {
        for (store, totals) in ctx.input(name)?.totals()? {
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
    fs::write(out, csv).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(Data::Written(Written {
        region: region.to_owned(),
        path: out.to_owned(),
        rows: by_store.len(),
        usd,
    }))
}

/// Combines every region report (all of this task's inputs) into one file.
fn summarise(ctx: &TaskContext<'_, Data>, out: &Path) -> Result<Data, BoxError> {
    let mut regions = ctx
        .inputs()
        .map(|(_, data)| data.written())
        .collect::<Result<Vec<_>, _>>()?;
    regions.sort_by(|a, b| a.region.cmp(&b.region));
    let mut csv = String::from("region,orders,units,revenue_usd\n");
    let mut all = Totals::default();
    for w in &regions {
        writeln!(
            csv,
            "{},{},{},{}",
            w.region,
            w.usd.orders,
            w.usd.units,
            cents(w.usd.revenue_cents)
        )?;
        all.add(&w.usd);
    }
    writeln!(
        csv,
        "all,{},{},{}",
        all.orders,
        all.units,
        cents(all.revenue_cents)
    )?;
    fs::write(out, csv).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(Data::Written(Written {
        region: "all".into(),
        path: out.to_owned(),
        rows: regions.len() + 1,
        usd: all,
    }))
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

    fn partition(&self, region: &str, day: &str) -> PathBuf {
        self.root
            .join(format!("input/sales/region={region}/date={day}.csv"))
    }

    fn output(&self, file: &str) -> PathBuf {
        self.root.join("output").join(file)
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
    /// Totals per region over its well-formed partitions, local currency.
    expected: HashMap<&'static str, Totals>,
    bad_file: PathBuf,
    bad_line: usize,
    /// The bad partition as the source system re-delivers it, fixed, and
    /// its totals (local currency).
    fixed_csv: String,
    fixed_totals: Totals,
}

fn store_code(region: &str, i: usize) -> String {
    format!("{}{:02}", region.to_uppercase(), i + 1)
}

fn stage(ws: &Workspace) -> io::Result<Staged> {
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
    fs::write(ws.root.join("stores.csv"), stores)?;
    let mut rates = String::from("currency,usd_rate\n");
    for (currency, rate) in RATES {
        writeln!(rates, "{currency},{rate}").expect("writing to a String");
    }
    fs::write(ws.root.join("rates.csv"), rates)?;

    let mut rng = Rng(2026);
    let mut staged = Staged {
        rows: 0,
        expected: HashMap::new(),
        bad_file: PathBuf::new(),
        bad_line: 0,
        fixed_csv: String::new(),
        fixed_totals: Totals::default(),
    };
    for (region, _, cities) in REGIONS {
        for day in DAYS {
            let path = ws.partition(region, day);
            fs::create_dir_all(path.parent().expect("partition files live in a folder"))?;
            let bad = region == BAD_REGION && day == BAD_DAY;
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
                if bad {
                    staged.fixed_totals.add(&sale);
                }
                if bad && row == BAD_ROW {
                    // The European decimal comma: one field too many.
                    let comma = format!("{},{:02}", price / 100, price % 100);
                    let good = cents(price as i64);
                    let line = format!("{day},{region},{store},SKU-{sku:04},{qty},");
                    staged.fixed_csv = format!("{csv}{line}{good}\n");
                    writeln!(csv, "{line}{comma}").expect("writing to a String");
                    staged.bad_file.clone_from(&path);
                    staged.bad_line = row + 2;
                    continue;
                }
                if bad && !staged.fixed_csv.is_empty() {
                    writeln!(
                        staged.fixed_csv,
                        "{day},{region},{store},SKU-{sku:04},{qty},{}",
                        cents(price as i64)
                    )
                    .expect("writing to a String");
                }
                writeln!(
                    csv,
                    "{day},{region},{store},SKU-{sku:04},{qty},{}",
                    cents(price as i64)
                )
                .expect("writing to a String");
                totals.add(&sale);
            }
            fs::write(&path, csv)?;
            staged.rows += rows;
            if !bad {
                staged.expected.entry(region).or_default().add(&totals);
            }
        }
    }
    fs::create_dir(ws.root.join("output"))?;
    Ok(staged)
}

// ---------------------------------------------------------------------------
// The pipeline.
// ---------------------------------------------------------------------------

fn main() -> Result<(), Box<dyn Error>> {
    let ws = Workspace::create()?;
    let staged = stage(&ws)?;
    println!(
        "staged {} sales rows in {} partitions + 2 dimension tables under {}",
        staged.rows,
        REGIONS.len() * DAYS.len(),
        ws.root.display()
    );

    let mut arena = kahn::Arena::new();
    let mut b = arena.builder::<Data>();

    let stores_csv = ws.root.join("stores.csv");
    let rates_csv = ws.root.join("rates.csv");
    b.task("load_stores", move |_| load_stores(&stores_csv))?;
    b.task("load_rates", move |_| load_rates(&rates_csv))?;

    for (region, _, _) in REGIONS {
        let mut aggregates = Vec::new();
        for day in DAYS {
            let (extract, parse, agg) = (
                format!("extract/{region}/{day}"),
                format!("parse/{region}/{day}"),
                format!("aggregate/{region}/{day}"),
            );
            let file = ws.partition(region, day);

            let path = file.clone();
            let flaky = region == FLAKY_REGION && day == FLAKY_DAY;
            b.task(&extract, move |ctx| {
                if flaky && ctx.attempt() <= FLAKY_RESETS {
                    let reset = io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        format!("{}: the source system reset the connection", path.display()),
                    );
                    return Err(reset.into());
                }
                let text =
                    fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(Data::Text(text))
            })?;

            let from = extract.clone();
            b.task(&parse, move |ctx| {
                let text = ctx.input(&from)?.text()?;
                // Another attempt would read the same bytes: a bad row is
                // permanent, and the retry policy gives up at once.
                let rows = parse_sales(&file, text, region, day).map_err(kahn::permanent)?;
                Ok(Data::Rows(rows))
            })?;
            b.retry(&extract, retry_policy())?;
            b.retry(&parse, retry_policy())?;

            let from = parse.clone();
            b.task(&agg, move |ctx| {
                Ok(Data::Totals(aggregate(ctx.input(&from)?.rows()?)))
            })?;

            b.edge(&extract, &parse)?;
            b.edge(&parse, &agg)?;
            aggregates.push(agg);
        }

        let report = format!("report/{region}");
        let out = ws.output(&format!("report_{region}.csv"));
        let inputs = aggregates.clone();
        b.task(&report, move |ctx| {
            report_region(ctx, region, &inputs, &out)
        })?;
        for agg in &aggregates {
            b.edge(agg, &report)?;
        }
        b.edge("load_stores", &report)?;
        b.edge("load_rates", &report)?;
    }

    let out = ws.output("summary.csv");
    b.task("summary", move |ctx| summarise(ctx, &out))?;
    for (region, _, _) in REGIONS {
        b.edge(&format!("report/{region}"), "summary")?;
    }

    // Runs only if a parse failed, and says which.
    let out = ws.output("alert.txt");
    b.task("alert", move |ctx| alert(ctx, &out))?;
    b.trigger_rule("alert", TriggerRule::OneFailed)?;
    // Runs whatever happened upstream: the run's manifest.
    let out = ws.output("manifest.txt");
    b.task("manifest", move |ctx| manifest(ctx, &out))?;
    b.trigger_rule("manifest", TriggerRule::AllDone)?;
    for (region, _, _) in REGIONS {
        for day in DAYS {
            b.edge(&format!("parse/{region}/{day}"), "alert")?;
        }
        b.edge(&format!("report/{region}"), "manifest")?;
    }
    b.edge("summary", "manifest")?;

    let graph = b.build()?;
    let executor = Executor::new()?;
    println!(
        "graph: {} tasks, {} edges; executor: {} worker threads\n",
        graph.task_count(),
        graph.edge_count(),
        executor.threads()
    );

    let report = executor.run_with(&graph, &RunOptions::new().record_timings(true));
    println!("{report}");

    print_slowest(&report, 5);
    print_results(&ws, &graph, &report);

    check(&ws, &graph, &report, &staged).map_err(|e| CheckFailed(e.to_string()))?;
    println!("\nself-check passed: the run behaved as designed");

    // The source system re-delivers the bad partition, fixed: its extract is
    // cleared (its text is stale), and resuming runs only what did not
    // succeed and what is below it; everything else is carried over from
    // the first run, outputs and all.
    fs::write(&staged.bad_file, &staged.fixed_csv)?;
    println!(
        "\n{} re-delivered with the row fixed; resuming\n",
        ws.short(&staged.bad_file)
    );
    let mut report = report;
    report.clear(format!("extract/{BAD_REGION}/{BAD_DAY}").as_str());
    let resumed = executor.resume_with(&graph, report, &RunOptions::new().record_timings(true))?;
    println!("{resumed}");
    check_resumed(&ws, &resumed, &staged).map_err(|e| CheckFailed(e.to_string()))?;
    println!("\nself-check passed: the resume ran only what had not succeeded");

    if ws.keep {
        println!("kept {} (KAHN_ETL_KEEP is set)", ws.root.display());
    }
    ws.close()?;
    Ok(())
}

/// How extract and parse tasks are retried: transient errors (a reset
/// connection) are worth a few more tries; `kahn::permanent` ones are not.
fn retry_policy() -> RetryPolicy {
    RetryPolicy::attempts(4)
        .backoff(Duration::from_millis(2), 2.0, Duration::from_millis(20))
        .jitter(0.25)
}

/// The alert task: names every parse that failed, from its predecessors'
/// outcomes (it runs only when one did: `TriggerRule::OneFailed`).
fn alert(ctx: &TaskContext<'_, Data>, out: &Path) -> Result<Data, BoxError> {
    let mut text = String::from("parse tasks that did not succeed:\n");
    for (region, _, _) in REGIONS {
        for day in DAYS {
            let parse = format!("parse/{region}/{day}");
            let state = ctx.upstream(parse.as_str())?;
            if state != State::Succeeded {
                writeln!(text, "  {parse}: {state}")?;
            }
        }
    }
    fs::write(out, &text).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(Data::Written(Written {
        region: String::new(),
        path: out.to_owned(),
        rows: text.lines().count() - 1,
        usd: Totals::default(),
    }))
}

/// The manifest task: each report's and the summary's state, whatever they
/// were (`TriggerRule::AllDone`).
fn manifest(ctx: &TaskContext<'_, Data>, out: &Path) -> Result<Data, BoxError> {
    let mut text = String::new();
    let names = REGIONS
        .iter()
        .map(|(region, _, _)| format!("report/{region}"));
    for name in names.chain(["summary".to_owned()]) {
        writeln!(text, "{name}: {}", ctx.upstream(name.as_str())?)?;
    }
    fs::write(out, &text).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(Data::Written(Written {
        region: String::new(),
        path: out.to_owned(),
        rows: text.lines().count(),
        usd: Totals::default(),
    }))
}

fn print_slowest(report: &Report<'_, Data>, n: usize) {
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

fn print_results(ws: &Workspace, graph: &Graph<'_, Data>, report: &Report<'_, Data>) {
    println!("\nresult files written:");
    for task in report.tasks() {
        if let Some(Data::Written(w)) = task.outcome.output() {
            println!("  {:<26} {} rows", ws.short(&w.path).to_string(), w.rows);
        }
    }
    println!("\nreports skipped:");
    let reports = REGIONS
        .iter()
        .map(|(region, _, _)| format!("report/{region}"));
    for name in reports.chain(["summary".to_owned()]) {
        if let Some(Outcome::Skipped { cause }) = report.outcome(&name) {
            let cause = graph.name(cause).unwrap_or("an unnamed task");
            println!("  {name:<26} because {cause} failed");
        }
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

/// The tasks a resume after the fix must run again: the cleared extract,
/// the failed parse and everything below them (`alert` is judged again, and
/// not triggered).
fn rerun_after_fix() -> BTreeSet<String> {
    [
        format!("extract/{BAD_REGION}/{BAD_DAY}"),
        format!("parse/{BAD_REGION}/{BAD_DAY}"),
        format!("aggregate/{BAD_REGION}/{BAD_DAY}"),
        format!("report/{BAD_REGION}"),
        "summary".to_owned(),
        "alert".to_owned(),
        "manifest".to_owned(),
    ]
    .into()
}

fn check_resumed(
    ws: &Workspace,
    resumed: &Report<'_, Data>,
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
    ensure!(
        matches!(resumed.outcome("alert"), Some(Outcome::NotTriggered { .. })),
        "nothing failed, yet `alert` is {:?}",
        resumed.state("alert")
    );
    let flaky = format!("extract/{FLAKY_REGION}/{FLAKY_DAY}");
    ensure!(
        resumed.carried_over(flaky.as_str()) && resumed.attempts(flaky.as_str()) == 0,
        "`{flaky}` ran again"
    );
    // The eu report now adds up to every eu partition, the fixed one too.
    let mut want = staged.expected.get(BAD_REGION).copied().unwrap_or_default();
    want.add(&staged.fixed_totals);
    let written = resumed
        .output(format!("report/{BAD_REGION}").as_str())
        .ok_or("no eu report")?
        .written()?;
    ensure!(
        written.usd.orders == want.orders && written.usd.units == want.units,
        "the eu report has {} orders and {} units, the staged rows {} and {}",
        written.usd.orders,
        written.usd.units,
        want.orders,
        want.units
    );
    ensure!(
        ws.output("summary.csv").exists(),
        "the summary was not written"
    );
    let manifest = fs::read_to_string(ws.output("manifest.txt"))?;
    ensure!(
        !manifest.contains("skipped") && !manifest.contains("failed"),
        "the manifest says {manifest:?}"
    );
    Ok(())
}

fn check(
    ws: &Workspace,
    graph: &Graph<'_, Data>,
    report: &Report<'_, Data>,
    staged: &Staged,
) -> Result<(), BoxError> {
    let bad_parse = format!("parse/{BAD_REGION}/{BAD_DAY}");
    let bad_id = graph
        .find(&bad_parse)
        .ok_or("the bad partition's parse task is missing")?;

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

    // The flaky extract succeeded on its third attempt, after two resets.
    let flaky = format!("extract/{FLAKY_REGION}/{FLAKY_DAY}");
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
    let alert = fs::read_to_string(ws.output("alert.txt"))?;
    ensure!(
        alert.contains(&format!("{bad_parse}: failed")) && alert.lines().count() == 2,
        "the alert says {alert:?}"
    );
    let manifest = fs::read_to_string(ws.output("manifest.txt"))?;
    ensure!(
        manifest.contains(&format!("report/{BAD_REGION}: skipped"))
            && manifest.contains("summary: skipped")
            && manifest.lines().count() == REGIONS.len() + 1,
        "the manifest says {manifest:?}"
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
    let location = format!("date={BAD_DAY}.csv:{}", staged.bad_line);
    ensure!(
        message.contains(&location),
        "the error `{message}` does not name `{location}`"
    );

    // Exactly its dependents were skipped, each for that failure (the
    // manifest ran after them anyway).
    let skipped: BTreeSet<&str> = report
        .tasks()
        .filter(|t| matches!(t.outcome, Outcome::Skipped { cause } if cause == bad_id))
        .filter_map(|t| t.name)
        .collect();
    let agg = format!("aggregate/{BAD_REGION}/{BAD_DAY}");
    let rep = format!("report/{BAD_REGION}");
    let expected = BTreeSet::from([agg.as_str(), rep.as_str(), "summary"]);
    ensure!(
        skipped == expected,
        "expected {expected:?} skipped for `{bad_parse}`, got {skipped:?}"
    );

    // Everything else succeeded, and the timings were recorded.
    let c = report.counts();
    ensure!(
        c.succeeded == graph.task_count() - 4
            && c.failed == 1
            && c.skipped == 3
            && c.panicked + c.cancelled == 0,
        "unexpected counts {c:?}"
    );
    ensure!(
        report.timing(bad_id).is_some(),
        "no timing for `{bad_parse}` although timings were on"
    );

    // The written reports add up to what the source system staged.
    for (region, _, cities) in REGIONS {
        let name = format!("report/{region}");
        if region == BAD_REGION {
            ensure!(
                report.state(&name) == Some(State::Skipped),
                "`{name}` was not skipped"
            );
            let path = ws.output(&format!("report_{region}.csv"));
            ensure!(
                !path.exists(),
                "`{name}` was skipped but {} exists",
                ws.short(&path)
            );
            continue;
        }
        let written = report
            .output(&name)
            .ok_or_else(|| format!("`{name}` has no output"))?
            .written()?;
        ensure!(
            written.rows == cities.len(),
            "`{name}` wrote {} rows, expected {}",
            written.rows,
            cities.len()
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
        let staged_totals = staged.expected.get(region).copied().unwrap_or_default();
        ensure!(
            on_disk == staged_totals,
            "`{name}` wrote {on_disk:?}, but the staged rows add up to {staged_totals:?}"
        );
    }
    ensure!(
        !ws.output("summary.csv").exists(),
        "`summary` was skipped but output/summary.csv exists"
    );
    Ok(())
}
