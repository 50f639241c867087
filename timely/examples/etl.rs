//! The ETL pipeline split across two processes on loopback: one command starts its peer, both run their half, and each prints the merged report.
//!
//! ```text
//! cargo run --release -p kahn-timely --example etl
//! ```
//!
//! Without arguments, this process picks two free loopback ports
//! (`kahn_timely::loopback_addresses`), writes
//! them to a host file, starts a second copy of itself as process 1
//! (`-n 2 -p 1 -h <file>`) and runs as process 0. With timely's arguments
//! it is one process of a cluster you start yourself, on one host or
//! several (same binary everywhere, one `-p` each):
//!
//! ```text
//! cargo run --release -p kahn-timely --example etl -- -n 2 -p 0 -h hosts.txt   # on host a
//! cargo run --release -p kahn-timely --example etl -- -n 2 -p 1 -h hosts.txt   # on host b
//! ```
//!
//! The graph: 3 regions × 4 exports a day, each `extract/<region>/h<hh>` →
//! `parse/…` → `aggregate/…`; `report/<region>` joins a region's four
//! aggregates; `summary` joins the reports. In `eu`'s 12:00 export one
//! row has a decimal comma, so `parse/eu/h12` fails with the line it
//! read; `aggregate/eu/h12`, `report/eu` and `summary` are skipped, and
//! everything else runs, on whichever process placed it. Outputs that
//! cross processes (an aggregate read by a report elsewhere) go through
//! serde; the others never leave their process.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, ExitCode};
use std::sync::Arc;

use kahn::{Arena, BoxError, Executor, RunOptions, State};
use kahn_timely::{DistributedOptions, DistributedReport};
use serde::{Deserialize, Serialize};

const REGIONS: [&str; 3] = ["us", "eu", "apac"];
const HOURS: [u32; 4] = [0, 6, 12, 18];
const ROWS: usize = 4_000;

/// What a task hands on: a partition's text, its rows, a store's totals,
/// a region's report.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Data {
    Text(String),
    Rows(Vec<Sale>),
    Totals(BTreeMap<u32, f64>),
    Report { region: String, revenue: f64 },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sale {
    store: u32,
    qty: u32,
    price: f64,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() > 1 {
        return run_process(args);
    }
    // The demo: this process is 0, a copy of it is 1.
    let addresses = kahn_timely::loopback_addresses(2).expect("two free loopback ports");
    let hosts = std::env::temp_dir().join(format!("kahn-etl-hosts-{}.txt", std::process::id()));
    let mut file = std::fs::File::create(&hosts).expect("a host file in the temp dir");
    for address in &addresses {
        writeln!(file, "{address}").expect("the host file is writable");
    }
    let hosts = hosts.to_string_lossy().into_owned();
    let me = std::env::current_exe().expect("this example's path");
    let mut peer = Command::new(me)
        .args(["-n", "2", "-p", "1", "-h", &hosts])
        .spawn()
        .expect("process 1 starts");
    let ours = run_process(
        ["etl", "-n", "2", "-p", "0", "-h", &hosts]
            .map(String::from)
            .to_vec(),
    );
    let theirs = peer.wait().expect("process 1 ends");
    let _ = std::fs::remove_file(&hosts);
    if ours == ExitCode::SUCCESS && theirs.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One process of the run: its workers each run their part, and worker 0
/// of process 0 prints the merged report.
fn run_process(args: Vec<String>) -> ExitCode {
    let executor = Arc::new(Executor::with_threads(1).expect("a worker thread starts"));
    let results = kahn_timely::execute_from_args(args.into_iter(), move |worker| {
        let mut arena = Arena::new();
        let graph = build(&mut arena);
        let options = RunOptions::new().record_timings(true);
        let split = kahn_timely::run(
            worker,
            &executor,
            &graph,
            &options,
            &DistributedOptions::new(),
        )?;
        if split.worker() == 0 {
            print(&split);
        }
        // The run "succeeds" as the pipeline expects: only eu's bad export
        // and what depends on it did not.
        let as_expected = split.report().state("parse/eu/h12") == Some(State::Failed)
            && split.report().counts().succeeded == split.report().task_count() - 4;
        Ok::<bool, kahn_timely::DistributedError>(as_expected)
    });
    match results {
        Ok(results) => {
            let mut ok = true;
            for result in results {
                match result {
                    Ok(as_expected) => ok &= as_expected,
                    Err(err) => {
                        eprintln!("error: {err}");
                        ok = false;
                    }
                }
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The pipeline; every process builds it the same way.
fn build(arena: &mut Arena) -> kahn::Graph<'_, Data> {
    let mut b = arena.builder::<Data>();
    for region in REGIONS {
        let report = format!("report/{region}");
        for hour in HOURS {
            let part = format!("{region}/h{hour:02}");
            let (extract, parse, aggregate) = (
                format!("extract/{part}"),
                format!("parse/{part}"),
                format!("aggregate/{part}"),
            );
            b.task(&extract, move |_| Ok(Data::Text(export(region, hour))))
                .unwrap();
            let from = extract.clone();
            b.task(&parse, move |ctx| match ctx.input(&*from)? {
                Data::Text(text) => Ok(Data::Rows(parse_rows(text)?)),
                other => Err(format!("{from} gave {other:?}").into()),
            })
            .unwrap();
            let from = parse.clone();
            b.task(&aggregate, move |ctx| match ctx.input(&*from)? {
                Data::Rows(rows) => {
                    let mut totals = BTreeMap::new();
                    for sale in rows {
                        *totals.entry(sale.store).or_insert(0.0) +=
                            f64::from(sale.qty) * sale.price;
                    }
                    Ok(Data::Totals(totals))
                }
                other => Err(format!("{from} gave {other:?}").into()),
            })
            .unwrap();
            b.edge(&*extract, &*parse).unwrap();
            b.edge(&*parse, &*aggregate).unwrap();
        }
        b.task(&report, move |ctx| {
            let mut revenue = 0.0;
            for hour in HOURS {
                if let Data::Totals(totals) =
                    ctx.input(&*format!("aggregate/{region}/h{hour:02}"))?
                {
                    revenue += totals.values().sum::<f64>();
                }
            }
            Ok(Data::Report {
                region: region.to_string(),
                revenue,
            })
        })
        .unwrap();
        for hour in HOURS {
            b.edge(&*format!("aggregate/{region}/h{hour:02}"), &*report)
                .unwrap();
        }
    }
    b.task("summary", |ctx| {
        let mut total = 0.0;
        for region in REGIONS {
            if let Data::Report { revenue, .. } = ctx.input(&*format!("report/{region}"))? {
                total += revenue;
            }
        }
        Ok(Data::Report {
            region: "all".into(),
            revenue: total,
        })
    })
    .unwrap();
    for region in REGIONS {
        b.edge(&*format!("report/{region}"), "summary").unwrap();
    }
    b.build().expect("the pipeline is a DAG")
}

/// A region's export at `hour`: `store,qty,price` lines, the same every
/// time; eu's 12:00 export has one price with a decimal comma.
fn export(region: &str, hour: u32) -> String {
    let mut seed = region
        .bytes()
        .fold(u64::from(hour) + 1, |h, b| h * 31 + u64::from(b));
    let mut text = String::with_capacity(ROWS * 16);
    for line in 0..ROWS {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let (store, qty, cents) = (seed >> 60, (seed >> 40) % 9 + 1, (seed >> 20) % 10_000);
        if region == "eu" && hour == 12 && line == 1_234 {
            text.push_str(&format!(
                "{store},{qty},{},{:02}\n",
                cents / 100,
                cents % 100
            ));
        } else {
            text.push_str(&format!(
                "{store},{qty},{}.{:02}\n",
                cents / 100,
                cents % 100
            ));
        }
    }
    text
}

fn parse_rows(text: &str) -> Result<Vec<Sale>, BoxError> {
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let fields: Vec<&str> = line.split(',').collect();
            let bad = || BoxError::from(format!("line {}: `{line}` is not store,qty,price", i + 1));
            if fields.len() != 3 {
                return Err(bad());
            }
            Ok(Sale {
                store: fields[0].parse().map_err(|_| bad())?,
                qty: fields[1].parse().map_err(|_| bad())?,
                price: fields[2].parse().map_err(|_| bad())?,
            })
        })
        .collect()
}

/// The merged report: kahn's summary, where each task ran, and the
/// reports' figures.
fn print(split: &DistributedReport<'_, Data>) {
    println!("{split}");
    println!(
        "{:<22} {:<10} {:>7} {:>6} {:>10}",
        "task", "state", "process", "worker", "ms"
    );
    for task in split.report().tasks() {
        let id = task.id;
        let ms = split.timing(id).map_or(String::from("-"), |t| {
            format!("{:.2}", t.duration.as_secs_f64() * 1e3)
        });
        println!(
            "{:<22} {:<10} {:>7} {:>6} {:>10}",
            task.name.unwrap_or("?"),
            task.outcome.state().to_string(),
            split.process_of(id).unwrap_or(0),
            split.worker_of(id).unwrap_or(0),
            ms
        );
    }
    for region in REGIONS {
        let report = format!("report/{region}");
        let state = split.report().state(&*report);
        match split.report().output(&*report) {
            Some(Data::Report { revenue, .. }) => println!("{report}: revenue {revenue:.2}"),
            _ if state == Some(State::Succeeded) => println!(
                "{report}: succeeded on process {} (no task here reads it, so its output stayed there)",
                split.process_of(&*report).unwrap_or(0)
            ),
            _ => println!("{report}: {}", state.map_or("?".into(), |s| s.to_string())),
        }
    }
}
