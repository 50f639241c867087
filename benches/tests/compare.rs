//! The before-and-after table on two tiny synthetic results folders, through the library and through the harness's `--compare`.

use std::path::{Path, PathBuf};
use std::process::Command;

use kahn_bench::compare::before_after;
use kahn_bench::record::{Bar, Folder, Meta, Record, ScenarioRecord};
use kahn_bench::shapes::Shape;

/// A fresh, empty folder under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kahn-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

fn meta(commit: &str) -> Meta {
    Meta {
        command: "cargo run --release -p kahn-bench -- --quick".into(),
        date_utc: "2026-12-01 16:00 UTC".into(),
        cpu: "Test CPU".into(),
        cores: 2,
        memory: "1.0 GiB".into(),
        kernel: "Linux test".into(),
        rustc: "rustc test".into(),
        commit: Some(commit.into()),
    }
}

/// Rerun, build and batch of kahn, in ns per task.
type Figures = [f64; 3];

/// A shape's figures before and after, where it was measured.
type Case = (Shape, Option<Figures>, Option<Figures>);

/// A kahn record of `shape` at 1,000 tasks with these figures, and one of
/// the floor that must not be compared.
fn records(shape: Shape, [rerun, build, batch]: Figures) -> [Record; 2] {
    let g = shape.generate(1000);
    let hash = format!("{:016x}", g.edge_hash());
    let kahn = Record {
        rerun_ns: rerun,
        rerun_min_ns: rerun * 0.9,
        build_ns: Some(build),
        batch_ns: Some(batch),
        rerun_allocs_per_task: 0.0,
        ..Record::blank(&g, 1000, &hash, "arena", "empty", 2)
    };
    let floor = Record {
        rerun_ns: 1.0,
        rerun_min_ns: 1.0,
        rerun_allocs_per_task: 0.0,
        ..Record::blank(&g, 1000, &hash, "floor", "empty", 1)
    };
    [kahn, floor]
}

/// Writes the before and after folders under `root`: chain the same, tree
/// 20% slower to rerun, wavefront 50% faster to build, a layered case only
/// before and a diamond case only after.
fn folders(root: &Path) -> (Folder, Folder) {
    const SAME: Figures = [10.0, 50.0, 60.0];
    let cases: [Case; 5] = [
        (Shape::Chain, Some(SAME), Some(SAME)),
        (Shape::Tree, Some(SAME), Some([12.0, 50.0, 60.0])),
        (Shape::Wavefront, Some(SAME), Some([10.0, 25.0, 60.0])),
        (Shape::Layered, Some(SAME), None),
        (Shape::Diamond, None, Some(SAME)),
    ];
    let folder = |name: &str, commit: &str, side: fn(&Case) -> Option<(Shape, Figures)>| {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).expect("a results folder");
        let f = Folder {
            dir,
            meta: meta(commit),
            records: cases
                .iter()
                .filter_map(side)
                .flat_map(|(shape, figures)| records(shape, figures))
                .collect(),
            scenarios: Vec::new(),
        };
        f.save().expect("saved");
        f
    };
    (
        folder("before", "aaaaaaa", |&(shape, before, _)| {
            Some((shape, before?))
        }),
        folder("after", "bbbbbbb", |&(shape, _, after)| {
            Some((shape, after?))
        }),
    )
}

/// The table's row for `shape`.
fn row<'t>(table: &'t str, shape: &str) -> &'t str {
    table
        .lines()
        .find(|l| l.starts_with(&format!("| {shape} |")))
        .unwrap_or_else(|| panic!("no {shape} row in\n{table}"))
}

#[test]
fn the_table_has_a_ratio_per_figure_flags_and_medians() {
    let root = scratch("table");
    let (before, after) = folders(&root);
    let (before, after) = (
        Folder::load(&before.dir).expect("loads"),
        Folder::load(&after.dir).expect("loads"),
    );
    let table = before_after(&before, &after);
    assert!(table.contains("code `aaaaaaa`") && table.contains("code `bbbbbbb`"));
    assert!(table.contains("- machine: Test CPU, 2 logical cores"));
    assert!(table.contains("Not compared: 1 case(s) measured only before, 1 only after."));
    assert!(
        !table.contains("Scenarios before and after"),
        "neither has scenarios"
    );
    // rerun, rerun min, build and batch: before, after, after/before.
    assert_eq!(
        row(&table, "chain"),
        "| chain | 1000 | 2 | empty | 10.0 | 10.0 | 1.00× | 9.0 | 9.0 | 1.00× \
         | 50.0 | 50.0 | 1.00× | 60.0 | 60.0 | 1.00× |  |"
    );
    assert!(row(&table, "tree").ends_with("| **rerun 20% slower** |"));
    assert!(row(&table, "wavefront").contains("| 50.0 | 25.0 | 0.50× |"));
    assert!(row(&table, "wavefront").ends_with("|  |"));
    assert!(!table.contains("| layered |") && !table.contains("| diamond |"));
    assert!(!table.contains("floor"), "only kahn's figures are compared");
    assert_eq!(
        row(&table, "**median**"),
        "| **median** |  |  |  |  |  | **1.00×** |  |  | **1.00×** |  |  | **1.00×** |  |  | **1.00×** |  |"
    );
    std::fs::remove_dir_all(root).ok();
}

#[test]
fn different_graphs_are_flagged_and_left_out_of_the_medians() {
    let root = scratch("hash");
    let (before, mut after) = folders(&root);
    for r in &mut after.records {
        if r.shape == "tree" {
            r.edge_hash = "0000000000000000".into();
        }
    }
    let table = before_after(&before, &after);
    let tree = row(&table, "tree");
    assert!(tree.contains("**different graphs** (edge hash)"), "{tree}");
    assert!(!tree.contains("slower") && tree.contains("| - |"), "{tree}");
    std::fs::remove_dir_all(root).ok();
}

fn harness(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kahn-bench"))
        .args(args)
        .output()
        .expect("the harness runs")
}

#[test]
fn compare_writes_the_table_into_a_named_region() {
    let root = scratch("cli");
    let (before, after) = folders(&root);
    let md = root.join("B.md");
    std::fs::write(&md, "# B\n\nkept\n").expect("written");
    let path = |p: &Path| p.to_str().expect("a UTF-8 path").to_owned();
    let (from, compare, file) = (path(&after.dir), path(&before.dir), path(&md));
    let out = harness(&["--from", &from, "--compare", &compare, "--markdown", &file]);
    assert!(
        !out.status.success(),
        "--markdown needs --region with --compare"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("add --region NAME"));

    let out = harness(&[
        "--from",
        &from,
        "--compare",
        &compare,
        "--markdown",
        &file,
        "--region",
        "cmp",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("**rerun 20% slower**"), "{stdout}");
    let text = std::fs::read_to_string(&md).expect("read back");
    assert!(text.starts_with("# B\n\nkept\n"), "{text}");
    let region = &text[text.find("<!-- bench:cmp:begin -->").expect("begin")
        ..text.find("<!-- bench:cmp:end -->").expect("end")];
    assert!(region.contains("#### kahn before and after"), "{region}");
    assert!(region.contains("**rerun 20% slower**"), "{region}");
    assert!(
        !region.contains("Arena against heap"),
        "the comparison only"
    );
    std::fs::remove_dir_all(root).ok();
}

/// A scenario figure: `measured` seconds against 1 s, with a bar of ≤ 1.05.
fn figure(scenario: &str, measured: f64) -> ScenarioRecord {
    ScenarioRecord {
        scenario: scenario.into(),
        graph: "root -> 8 × 62.5 ms".into(),
        threads: 2,
        reps: 7,
        measured: "makespan".into(),
        measured_s: measured,
        measured_min_s: measured,
        measured_max_s: measured,
        against: "ideal makespan".into(),
        against_s: 1.0,
        ratio: measured,
        bar: Some(Bar::AtMost(1.05)),
    }
}

#[test]
fn scenarios_are_compared_figure_by_figure() {
    let root = scratch("scenarios");
    let folder = |name: &str, figures: Vec<ScenarioRecord>| {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).expect("a results folder");
        let f = Folder {
            dir,
            meta: meta(name),
            records: Vec::new(),
            scenarios: figures,
        };
        f.save().expect("saved");
        assert!(
            !f.results_path().exists(),
            "no results.jsonl for scenarios alone"
        );
        Folder::load(&f.dir).expect("loads")
    };
    let before = folder(
        "before",
        vec![
            figure("root-fan-out", 1.25),
            figure("fan-out-in", 1.0),
            figure("two-runs", 2.0),
        ],
    );
    let after = folder(
        "after",
        vec![
            figure("root-fan-out", 1.0),
            figure("fan-out-in", 1.5),
            figure("new", 1.0),
        ],
    );
    let table = before_after(&before, &after);
    assert!(table.contains("#### Scenarios before and after"), "{table}");
    assert!(!table.contains("kahn before and after"), "no kahn records");
    assert!(table.contains("Not compared: 1 figure(s) measured only before, 1 only after."));
    assert_eq!(
        row(&table, "root-fan-out"),
        "| root-fan-out | root -> 8 × 62.5 ms | 2 | makespan | 1.25 s | 1.00 s | 0.80× \
         | 1.250 | 1.000 | ≤ 1.05 | now meets its bar |"
    );
    assert!(row(&table, "fan-out-in").ends_with("| **now misses its bar** |"));
    std::fs::remove_dir_all(root).ok();
}
