//! Command-line flags of the harness: parsed by hand, every mistake a message.

use std::path::PathBuf;

use kahn_bench::shapes::Shape;

/// The three task bodies every variant runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// Nothing: pure scheduling overhead.
    Empty,
    /// One relaxed atomic increment of a shared counter, checked after every run.
    Count,
    /// `--steps` dependent xorshift steps (about 1 µs): parallel efficiency.
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

    fn parse(s: &str) -> Result<Body, String> {
        Body::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| format!("unknown body `{s}`: expected empty, count or cpu"))
    }
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
    pub quick: bool,
    pub out: PathBuf,
    pub markdown: Option<PathBuf>,
    /// Regenerate the outputs from an earlier run's folder instead of measuring.
    pub from: Option<PathBuf>,
}

pub const USAGE: &str = "\
usage: cargo run --release -p kahn-bench -- [flags]

  --shapes LIST    chain,tree,independent,wavefront,diamond,layered (default: all)
  --sizes LIST     task counts (default: 1000,10000,100000,1000000,10000000)
  --threads LIST   worker threads, e.g. 1,2 (default: 2)
  --bodies LIST    empty,count,cpu (default: all)
  --reps N         timed repetitions, at most (default 11; fewer above 2e7/N tasks, never under 3)
  --steps N        xorshift steps of the cpu body (default 330, about 1 us)
  --cpu-max N      largest size the cpu body runs at (default 1000000)
  --quick          sizes 1000,10000,100000, 3 reps, cpu body up to 10000: under a minute
  --out DIR        results folder (default: results)
  --markdown FILE  rewrite the generated region of FILE (e.g. BENCHMARKS.md)
  --from DIR       do not measure: regenerate table, plot and markdown from DIR/results.jsonl
  --help           this text";

fn list<T>(
    value: &str,
    flag: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let items = value
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| parse(s.trim()).map_err(|e| format!("{flag}: {e}")))
        .collect::<Result<Vec<T>, String>>()?;
    if items.is_empty() {
        return Err(format!("{flag} needs at least one value"));
    }
    Ok(items)
}

fn number<T>(s: &str, flag: &str, min: T, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let n: T = s
        .replace('_', "")
        .parse()
        .or_else(|_| {
            // Accept 1e6 and friends for sizes.
            s.parse::<f64>()
                .ok()
                .filter(|x| x.fract() == 0.0 && *x >= 0.0)
                .and_then(|x| format!("{x}").parse().ok())
                .ok_or(())
        })
        .map_err(|()| format!("{flag}: `{s}` is not a whole number"))?;
    if n < min || n > max {
        return Err(format!("{flag}: {n} is out of range ({min} to {max})"));
    }
    Ok(n)
}

impl Args {
    /// Parses the process's arguments; `Ok(None)` means `--help` was printed.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
        let mut a = Args {
            shapes: Shape::ALL.to_vec(),
            sizes: vec![1_000, 10_000, 100_000, 1_000_000, 10_000_000],
            threads: vec![2],
            bodies: Body::ALL.to_vec(),
            reps: 11,
            steps: 330,
            cpu_max: 1_000_000,
            quick: false,
            out: PathBuf::from("results"),
            markdown: None,
            from: None,
        };
        let (mut sizes, mut reps, mut cpu_max) = (None, None, None);
        let mut it = args.into_iter();
        while let Some(flag) = it.next() {
            let (flag, inline) = match flag.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
                _ => (flag, None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| it.next())
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            let max_tasks = kahn::TaskId::LIMIT;
            match flag.as_str() {
                "--help" | "-h" => return Ok(None),
                "--shapes" => a.shapes = list(&value()?, "--shapes", |s| s.parse::<Shape>())?,
                "--sizes" => {
                    sizes = Some(list(&value()?, "--sizes", |s| {
                        number(s, "size", 1, max_tasks)
                    })?)
                }
                "--threads" => {
                    a.threads = list(&value()?, "--threads", |s| number(s, "threads", 1, 1024))?
                }
                "--bodies" => a.bodies = list(&value()?, "--bodies", Body::parse)?,
                "--reps" => reps = Some(number(&value()?, "--reps", 1, 10_000)?),
                "--steps" => a.steps = number(&value()?, "--steps", 0, 1 << 30)?,
                "--cpu-max" => cpu_max = Some(number(&value()?, "--cpu-max", 0, max_tasks)?),
                "--quick" => a.quick = true,
                "--out" => a.out = PathBuf::from(value()?),
                "--markdown" => a.markdown = Some(PathBuf::from(value()?)),
                "--from" => a.from = Some(PathBuf::from(value()?)),
                other => return Err(format!("unknown flag `{other}` (see --help)")),
            }
        }
        if a.quick {
            a.sizes = vec![1_000, 10_000, 100_000];
            a.reps = 3;
            a.cpu_max = 10_000;
        }
        a.sizes = sizes.unwrap_or(a.sizes);
        a.reps = reps.unwrap_or(a.reps);
        a.cpu_max = cpu_max.unwrap_or(a.cpu_max);
        dedup(&mut a.shapes);
        dedup(&mut a.sizes);
        dedup(&mut a.threads);
        dedup(&mut a.bodies);
        a.sizes.sort_unstable();
        a.threads.sort_unstable();
        Ok(Some(a))
    }

    /// Repetitions at `tasks`: `--reps`, fewer for very large graphs
    /// (about 2e7 task-runs per measurement), never fewer than 3.
    pub fn reps_for(&self, tasks: usize) -> usize {
        let budget = 20_000_000 / tasks.max(1);
        self.reps.min(budget.max(3))
    }
}

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

    fn parse(s: &str) -> Result<Option<Args>, String> {
        Args::parse(s.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn flags() {
        let a = parse("--sizes 1e4,1000 --threads=1,2 --bodies cpu --quick")
            .unwrap()
            .unwrap();
        assert_eq!(a.sizes, [1000, 10_000]);
        assert_eq!(a.threads, [1, 2]);
        assert_eq!(a.bodies, [Body::Cpu]);
        assert_eq!(a.reps, 3);
        assert!(parse("--sizes 0").is_err());
        assert!(parse("--sizes x").is_err());
        assert!(parse("--shapes ring").is_err());
        assert!(parse("--reps").is_err());
        assert!(parse("--what").is_err());
    }
}
