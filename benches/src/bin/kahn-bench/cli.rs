//! Command-line flags of the harness, parsed by clap; every mistake a message.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use kahn_bench::scenarios::Settings;
use kahn_bench::shapes::Shape;

/// The three task bodies every variant runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Body {
    /// Nothing: pure scheduling overhead.
    Empty,
    /// One relaxed atomic increment of a shared counter, checked after every run.
    Count,
    /// `--steps` dependent xorshift steps (330 by default: about 1 µs on the
    /// Xeon the bars were set on, about 530 ns on an AMD EPYC; the
    /// efficiency table says what the floor took): parallel efficiency.
    Cpu,
}

impl Body {
    pub const ALL: [Body; 3] = [Body::Empty, Body::Count, Body::Cpu];

    pub fn name(self) -> &'static str {
        match self {
            Body::Empty => "empty",
            Body::Count => "count",
            Body::Cpu => "cpu",
        }
    }
}

/// The flags as typed; [`Args::from_flags`] fills in the defaults, which
/// depend on `--quick`.
#[derive(Debug, Parser)]
#[command(
    name = "kahn-bench",
    override_usage = "cargo run --release -p kahn-bench -- [FLAGS]",
    about = "kahn's arena against a heap-built DAG, and kahn against a one-thread floor \
             and rayon::scope, on the six standard shapes (see BENCHMARKS.md)"
)]
struct Flags {
    /// chain,tree,independent,wavefront,diamond,layered [default: all]
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = shape)]
    shapes: Vec<Shape>,
    /// Task counts; 1e6 and 1_000_000 work
    /// [default: 1000,10000,100000,1000000,10000000]
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = size)]
    sizes: Vec<usize>,
    /// Worker threads, e.g. 1,2 [default: 2]
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = threads)]
    threads: Vec<usize>,
    /// Task bodies [default: all]
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    bodies: Vec<Body>,
    /// Timed repetitions, at most; fewer above 2e7/N tasks, never under 3
    /// [default: 11; 3 with --quick; 7 with --scenarios]
    #[arg(long, value_name = "N", value_parser = reps)]
    reps: Option<usize>,
    /// xorshift steps of the cpu body, about 1.6–3 ns each, by machine
    #[arg(long, value_name = "N", default_value_t = 330, value_parser = steps)]
    steps: u32,
    /// Largest size the cpu body runs at [default: 1000000]
    #[arg(long, value_name = "N", value_parser = cpu_max)]
    cpu_max: Option<usize>,
    /// Sizes 1000,10000,100000, 3 reps, cpu body up to 10000: under a minute
    #[arg(long)]
    quick: bool,
    /// Run the Scheduling issue's scenarios instead of the shapes (20–25 s
    /// on 2 cores): small graphs of sleeping tasks timed against their
    /// ideal makespan, concurrent runs, cheap and cold starts, rayon inside
    /// a task; written to scenarios.jsonl
    #[arg(long, conflicts_with_all = ["shapes", "sizes", "threads", "bodies", "steps", "cpu_max", "quick", "from"])]
    scenarios: bool,
    /// With --scenarios: the Scheduling issue's durations times F (its 1 s
    /// task sleeps 250 ms at 0.25)
    #[arg(long, value_name = "F", requires = "scenarios", value_parser = scale)]
    scale: Option<f64>,
    /// Results folder: results.jsonl (or scenarios.jsonl), meta.json, bench.svg
    #[arg(long, value_name = "DIR", default_value = "results")]
    out: PathBuf,
    /// Rewrite the generated region of FILE (e.g. BENCHMARKS.md)
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Do not measure: regenerate table, plot and markdown from DIR/results.jsonl
    #[arg(long, value_name = "DIR")]
    from: Option<PathBuf>,
    /// Compare kahn's rerun, build and batch with an earlier results folder
    /// (the before; the results measured now, or --from, are the after);
    /// with --markdown, the comparison goes into --region NAME
    #[arg(long, value_name = "BEFORE_DIR")]
    compare: Option<PathBuf>,
    /// With --markdown, rewrite the region between <!-- bench:NAME:begin -->
    /// and <!-- bench:NAME:end --> instead of the main one, e.g. for a run
    /// committed under benches/results/NAME/
    #[arg(long, value_name = "NAME", requires = "markdown", value_parser = region)]
    region: Option<String>,
}

/// What to measure and where to write it.
#[derive(Debug, Clone)]
pub struct Args {
    pub shapes: Vec<Shape>,
    pub sizes: Vec<usize>,
    pub threads: Vec<usize>,
    pub bodies: Vec<Body>,
    /// Timed repetitions per measurement, at most (see [`Args::reps_for`]).
    pub reps: usize,
    pub steps: u32,
    /// The largest size the `cpu` body runs at.
    pub cpu_max: usize,
    /// Run the scenarios, as these settings say, instead of the shapes.
    pub scenarios: Option<Settings>,
    pub out: PathBuf,
    pub markdown: Option<PathBuf>,
    /// Regenerate the outputs from an earlier run's folder instead of measuring.
    pub from: Option<PathBuf>,
    /// The results folder to compare with, as the before.
    pub compare: Option<PathBuf>,
    /// The named region of `markdown` to rewrite; `None` for the main one.
    pub region: Option<String>,
}

/// Parses a whole number between `min` and `max`; `1e6` and `1_000_000` work.
fn number<T>(s: &str, min: T, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let s = s.trim();
    let n: T = s
        .replace('_', "")
        .parse()
        .or_else(|_| {
            s.parse::<f64>()
                .ok()
                .filter(|x| x.fract() == 0.0 && *x >= 0.0)
                .and_then(|x| format!("{x}").parse().ok())
                .ok_or(())
        })
        .map_err(|()| format!("`{s}` is not a whole number"))?;
    if n < min || n > max {
        return Err(format!("{n} is out of range ({min} to {max})"));
    }
    Ok(n)
}

fn shape(s: &str) -> Result<Shape, String> {
    s.trim().parse()
}

fn size(s: &str) -> Result<usize, String> {
    number(s, 1, kahn::TaskId::LIMIT)
}

fn threads(s: &str) -> Result<usize, String> {
    number(s, 1, 1024)
}

fn reps(s: &str) -> Result<usize, String> {
    number(s, 1, 10_000)
}

fn steps(s: &str) -> Result<u32, String> {
    number(s, 0, 1 << 30)
}

fn cpu_max(s: &str) -> Result<usize, String> {
    number(s, 0, kahn::TaskId::LIMIT)
}

fn scale(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if (0.001..=10.0).contains(&x) => Ok(x),
        Ok(x) => Err(format!("{x} is out of range (0.001 to 10)")),
        Err(_) => Err(format!("`{s}` is not a number")),
    }
}

fn region(s: &str) -> Result<String, String> {
    if kahn_bench::report::is_region_name(s) {
        Ok(s.to_owned())
    } else {
        Err("a region is named with lowercase letters, digits and dashes".into())
    }
}

impl Args {
    /// Parses the process's arguments; on a mistake, or for `--help`, prints
    /// clap's message and exits (status 2, or 0 for `--help`).
    pub fn from_env() -> Args {
        Args::from_flags(Flags::parse())
    }

    /// Parses `argv` (the program name first).
    #[cfg(test)]
    fn try_parse_from<'s>(argv: impl IntoIterator<Item = &'s str>) -> Result<Args, clap::Error> {
        Flags::try_parse_from(argv).map(Args::from_flags)
    }

    /// Fills in the defaults (which `--quick` changes) and sorts out repeats.
    fn from_flags(f: Flags) -> Args {
        let or = |given: Vec<usize>, default: &[usize]| {
            if given.is_empty() {
                default.to_vec()
            } else {
                given
            }
        };
        let (sizes, reps, cpu_max): (&[usize], _, _) = if f.quick {
            (&[1_000, 10_000, 100_000], 3, 10_000)
        } else {
            (
                &[1_000, 10_000, 100_000, 1_000_000, 10_000_000],
                11,
                1_000_000,
            )
        };
        let mut a = Args {
            shapes: if f.shapes.is_empty() {
                Shape::ALL.to_vec()
            } else {
                f.shapes
            },
            sizes: or(f.sizes, sizes),
            threads: or(f.threads, &[2]),
            bodies: if f.bodies.is_empty() {
                Body::ALL.to_vec()
            } else {
                f.bodies
            },
            reps: f.reps.unwrap_or(reps),
            steps: f.steps,
            cpu_max: f.cpu_max.unwrap_or(cpu_max),
            scenarios: f.scenarios.then(|| {
                let standard = Settings::default();
                Settings {
                    scale: f.scale.unwrap_or(standard.scale),
                    reps: f.reps.unwrap_or(standard.reps),
                    ..standard
                }
            }),
            out: f.out,
            markdown: f.markdown,
            from: f.from,
            compare: f.compare,
            region: f.region,
        };
        dedup(&mut a.shapes);
        dedup(&mut a.sizes);
        dedup(&mut a.threads);
        dedup(&mut a.bodies);
        a.sizes.sort_unstable();
        a.threads.sort_unstable();
        a
    }

    /// Repetitions at `tasks`: `--reps`, fewer for very large graphs
    /// (about 2e7 task-runs per measurement), never fewer than 3.
    pub fn reps_for(&self, tasks: usize) -> usize {
        let budget = 20_000_000 / tasks.max(1);
        self.reps.min(budget.max(3))
    }
}

/// Keeps the first of each value, in order.
fn dedup<T: PartialEq + Copy>(v: &mut Vec<T>) {
    let mut seen = Vec::with_capacity(v.len());
    v.retain(|x| {
        let fresh = !seen.contains(x);
        seen.push(*x);
        fresh
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("kahn-bench").chain(s.split_whitespace()))
    }

    fn error(s: &str) -> String {
        parse(s).unwrap_err().to_string()
    }

    #[test]
    fn flags() {
        let a = parse("--sizes 1e4,1000 --threads=1,2 --bodies cpu --quick").unwrap();
        assert_eq!(a.sizes, [1000, 10_000]);
        assert_eq!(a.threads, [1, 2]);
        assert_eq!(a.bodies, [Body::Cpu]);
        assert_eq!((a.reps, a.cpu_max), (3, 10_000));
        let a = parse("--shapes layered,chain,layered --sizes 1_000_000").unwrap();
        assert_eq!(a.shapes, [Shape::Layered, Shape::Chain]);
        assert_eq!(
            (a.sizes, a.reps, a.cpu_max),
            (vec![1_000_000], 11, 1_000_000)
        );
        let a = parse("--quick --reps 5").unwrap();
        assert_eq!((a.sizes, a.reps), (vec![1000, 10_000, 100_000], 5));
    }

    #[test]
    fn mistakes_say_what_is_wrong() {
        assert!(error("--sizes 0").contains("0 is out of range"));
        assert!(error("--sizes x").contains("`x` is not a whole number"));
        assert!(error("--shapes ring").contains("unknown shape `ring`: expected one of chain"));
        assert!(error("--bodies idle").contains("[possible values: empty, count, cpu]"));
        assert!(error("--reps").contains("a value is required"));
        assert!(error("--what").contains("unexpected argument '--what'"));
        assert!(error("--region quiet").contains("--markdown <FILE>"));
        assert!(error("--markdown B.md --region Quiet").contains("lowercase letters"));
        let a = parse("--from benches/results/quiet --markdown B.md --region quiet").unwrap();
        assert_eq!(a.region.as_deref(), Some("quiet"));
        let a = parse("--quick --compare results/before").unwrap();
        assert_eq!(a.compare, Some(PathBuf::from("results/before")));
        let a = parse("--scenarios --scale 0.1 --out x").unwrap();
        let s = a.scenarios.unwrap();
        assert_eq!((s.scale, s.reps), (0.1, 7));
        assert_eq!(
            parse("--scenarios --reps 3")
                .unwrap()
                .scenarios
                .unwrap()
                .reps,
            3
        );
        assert!(error("--scenarios --quick").contains("cannot be used with"));
        assert!(error("--scenarios --shapes chain").contains("cannot be used with"));
        assert!(error("--scale 0.1").contains("--scenarios"));
        assert!(error("--scenarios --scale 0").contains("out of range"));
    }
}
