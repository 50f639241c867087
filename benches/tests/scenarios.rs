//! The scenario set at a hundredth of its durations: every figure is measured, checked and tabled.
//!
//! Times are not asserted (the machine may be busy); what is asserted is
//! that every scenario records its figures, that no run was found wrong,
//! and that the figures survive `scenarios.jsonl` and make a table.

use std::time::Duration;

use kahn_bench::record::{Folder, Meta};
use kahn_bench::report;
use kahn_bench::scenarios::{run_all, Settings};
use kahn_bench::shapes::Shape;

#[test]
fn every_scenario_records_checked_figures() {
    let settings = Settings {
        scale: 0.01,
        reps: 1,
        back_to_back: 3,
        cold_sleep: Duration::from_millis(1),
        sum_len: 10_000,
    };
    let mut seen = 0;
    let (figures, errors) = run_all(&settings, |_| seen += 1).expect("executors start");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(seen, figures.len(), "each figure is reported as it comes");
    let mut scenarios: Vec<&str> = figures.iter().map(|f| f.scenario.as_str()).collect();
    scenarios.dedup();
    let mut want = vec![
        "ready-behind-long",
        "ready-behind-long-fail-fast",
        "fan-out-in",
        "root-fan-out",
        "two-runs",
        "short-during-long",
    ];
    for _ in Shape::ALL {
        want.extend(["cheap-start", "cheap-start-one-worker", "cold-start"]);
    }
    want.extend([
        "rayon-sum",
        "rayon-sum-no-kahn",
        "rayon-sum-hashed",
        "rayon-sum-hashed-no-kahn",
        "rayon-graph",
        "critical-path",
        "layered-uneven",
        "critical-path-list-order",
        "layered-uneven-list-order",
    ]);
    assert_eq!(scenarios, want);
    for f in &figures {
        assert!(
            f.measured_s > 0.0 && f.against_s > 0.0 && f.ratio.is_finite(),
            "{f:?}"
        );
        assert!(f.measured_min_s <= f.measured_s && f.measured_s <= f.measured_max_s);
        let back_to_back = ["cheap-start", "cheap-start-one-worker"];
        let reps = if back_to_back.contains(&f.scenario.as_str()) {
            3
        } else {
            1
        };
        assert_eq!(f.reps, reps, "{f:?}");
    }
    assert!(figures
        .iter()
        .any(|f| f.graph == "extract -> 4 × 3 ms parse -> aggregate" && f.threads == 4));

    let dir = std::env::temp_dir().join(format!("kahn-bench-{}-scenarios", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let folder = Folder {
        dir: dir.clone(),
        meta: Meta::now(&["--scenarios".into()]),
        records: Vec::new(),
        scenarios: figures,
    };
    folder.save().expect("saved");
    let loaded = Folder::load(&dir).expect("loads");
    assert_eq!(loaded.scenarios.len(), folder.scenarios.len());
    let table = report::summary(&loaded);
    assert!(
        table.contains("#### Scenarios (the Scheduling issue's)"),
        "{table}"
    );
    assert!(table.contains("| two-runs | two runs of a chain of 5 × 1 ms, started together | 2 |"));
    assert!(!table.contains("#### Graphs"), "no shapes were measured");
    std::fs::remove_dir_all(dir).ok();
}
