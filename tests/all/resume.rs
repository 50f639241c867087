//! Resume: rerun what did not succeed, carry over what did, on hand-written
//! and random graphs.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use kahn::{Arena, CancelToken, ResumeError, RunOptions, State, TaskId, TriggerRule};
use kahn_bench::shapes::SplitMix64;

use kahn_test_support::{bounded, executor, executors};

#[test]
fn a_resume_reruns_the_failure_and_what_is_below_it_only() {
    for exec in executors() {
        let runs: Vec<AtomicU32> = (0..5).map(|_| AtomicU32::new(0)).collect();
        let fixed = AtomicBool::new(false);
        let mut arena = Arena::new();
        let mut b = arena.builder::<u32>();
        let count = |k: usize| runs[k].fetch_add(1, Ordering::SeqCst);
        b.task("extract", |_| {
            count(0);
            Ok(1)
        })
        .unwrap();
        b.task("dims", |_| {
            count(1);
            Ok(10)
        })
        .unwrap();
        b.task("parse", |ctx| {
            count(2);
            if !fixed.load(Ordering::SeqCst) {
                return Err("malformed".into());
            }
            Ok(ctx.input("extract")? + 1)
        })
        .unwrap();
        b.task("join", |ctx| {
            count(3);
            Ok(ctx.input("parse")? + ctx.input("dims")?)
        })
        .unwrap();
        b.task("cleanup", |_| {
            count(4);
            Ok(0)
        })
        .unwrap();
        b.edges_by_name([("extract", "parse"), ("parse", "join"), ("dims", "join")])
            .unwrap();
        b.edge("join", "cleanup").unwrap();
        b.trigger_rule("cleanup", TriggerRule::AllDone).unwrap();
        let graph = b.build().unwrap();

        let first = exec.run(&graph);
        assert_eq!(first.state("parse"), Some(State::Failed));
        assert_eq!(first.state("cleanup"), Some(State::Succeeded), "{first}");
        let calls = |runs: &[AtomicU32]| {
            runs.iter()
                .map(|r| r.load(Ordering::SeqCst))
                .collect::<Vec<_>>()
        };
        assert_eq!(calls(&runs), [1, 1, 1, 0, 1]);

        fixed.store(true, Ordering::SeqCst);
        let second = exec.resume(&graph, first).unwrap();
        assert!(second.is_success(), "{second}");
        assert_eq!(second.output("join"), Some(&12));
        // extract and dims ran once in all; parse, join and the cleanup
        // below them ran again.
        assert_eq!(calls(&runs), [1, 1, 2, 1, 2]);
        for (task, carried) in [
            ("extract", true),
            ("dims", true),
            ("parse", false),
            ("join", false),
            ("cleanup", false),
        ] {
            assert_eq!(second.carried_over(task), carried, "{task}");
        }
        assert_eq!(second.counts().carried_over, 2);
        assert_eq!(second.counts().succeeded, 5);
        assert_eq!(second.attempts("extract"), 0, "carried over, not run");
        assert_eq!(second.timing("extract"), None);
        assert!(
            second.to_string().contains(
                "\n  resumed: 2 succeeded tasks carried over from the earlier run, not run again"
            ),
            "{second}"
        );

        // Resuming a run that succeeded runs nothing.
        let third = exec.resume(&graph, second).unwrap();
        assert_eq!(calls(&runs), [1, 1, 2, 1, 2]);
        assert!(third.is_success());
        assert_eq!(third.counts().carried_over, 5);
        assert_eq!(third.output("join"), Some(&12));
    }
}

#[test]
fn a_report_of_another_graph_is_refused() {
    let exec = executor(2);
    let mut one = Arena::new();
    let mut b = one.builder::<()>();
    b.task("a", |_| Ok(())).unwrap();
    let first = b.build().unwrap();
    let mut two = Arena::new();
    let mut b = two.builder::<()>();
    b.task("a", |_| Ok(())).unwrap();
    b.task("b", |_| Ok(())).unwrap();
    let second = b.build().unwrap();
    let report = exec.run(&first);
    assert!(report.is_of(&first) && !report.is_of(&second));
    let error = exec.resume(&second, report).unwrap_err();
    assert_eq!(
        error,
        ResumeError::OtherGraph {
            report_tasks: 1,
            graph_tasks: 2
        }
    );
    assert_eq!(
        error.to_string(),
        "the report is of a run of another graph (of 1 tasks; this one has 2): resume a graph from a report of its own run"
    );
}

#[test]
fn a_cancelled_run_resumes_everything_it_did_not_run() {
    for exec in executors() {
        let runs = AtomicU32::new(0);
        let mut arena = Arena::new();
        let mut b = arena.builder::<u32>();
        for i in 0..20u32 {
            let runs = &runs;
            let t = b
                .unnamed_task(move |ctx| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok(ctx.inputs().map(|(_, x)| *x).sum::<u32>() + i)
                })
                .unwrap();
            if i > 0 {
                b.edge(TaskId::new(i - 1), t).unwrap();
            }
        }
        let graph = b.build().unwrap();
        let token = CancelToken::new();
        token.cancel();
        let first = exec.run_with(&graph, &RunOptions::new().cancel_token(token));
        assert_eq!(first.counts().cancelled, 20);
        let second = exec.resume(&graph, first).unwrap();
        assert!(second.is_success());
        assert_eq!(runs.load(Ordering::SeqCst), 20);
        assert_eq!(second.output(TaskId::new(19)), Some(&(0..20).sum::<u32>()));
    }
}

/// Random DAGs where some tasks fail until "fixed": a resume after the fix
/// runs exactly the tasks that did not succeed, each once, and ends with
/// the outputs of a clean run.
#[test]
fn random_resumes_match_a_clean_run() {
    bounded(|| {
        let mut rng = SplitMix64(0x5eed_2026_1202);
        for case in 0..40 {
            let n = 1 + (rng.next_u64() % 40) as usize;
            let edges: Vec<(u32, u32)> = (0..rng.next_u64() % (2 * n as u64 + 1))
                .map(|_| {
                    let (a, b) = (rng.next_u64() % n as u64, rng.next_u64() % n as u64);
                    (a.min(b) as u32, a.max(b) as u32)
                })
                .filter(|(a, b)| a != b)
                .collect();
            let broken: Vec<bool> = (0..n).map(|_| rng.next_u64().is_multiple_of(5)).collect();
            let fixed = AtomicBool::new(false);
            let runs: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
            let mut arena = Arena::new();
            let mut b = arena.builder::<u64>();
            for v in 0..n {
                let (runs, fixed, broken) = (&runs, &fixed, broken[v]);
                b.unnamed_task(move |ctx| {
                    runs[v].fetch_add(1, Ordering::SeqCst);
                    if broken && !fixed.load(Ordering::SeqCst) {
                        return Err("not yet".into());
                    }
                    let sum: u64 = ctx.inputs().map(|(p, x)| x * 31 + p.index() as u64).sum();
                    Ok(sum + v as u64)
                })
                .unwrap();
            }
            b.edges(edges.iter().map(|&(a, b)| (TaskId::new(a), TaskId::new(b))))
                .unwrap();
            let graph = b.build().unwrap();
            let exec = executor(1 + case % 4);

            let first = exec.run(&graph);
            let succeeded: Vec<bool> = (0..n)
                .map(|v| first.state(TaskId::new(v as u32)) == Some(State::Succeeded))
                .collect();
            let ran_first: Vec<u32> = runs.iter().map(|r| r.swap(0, Ordering::SeqCst)).collect();
            fixed.store(true, Ordering::SeqCst);
            let second = exec.resume(&graph, first).unwrap();
            assert!(second.is_success(), "case {case}: {second}");
            for v in 0..n {
                let id = TaskId::new(v as u32);
                let ran = runs[v].load(Ordering::SeqCst);
                assert_eq!(
                    ran,
                    u32::from(!succeeded[v]),
                    "case {case}: task {v} ran {ran} times on resume"
                );
                assert_eq!(
                    second.carried_over(id),
                    succeeded[v],
                    "case {case}: task {v}"
                );
                assert!(ran_first[v] <= 1);
            }
            let clean = exec.run(&graph);
            for v in 0..n {
                let id = TaskId::new(v as u32);
                assert_eq!(second.output(id), clean.output(id), "case {case}: task {v}");
            }
        }
    });
}

#[test]
fn a_cleared_task_runs_again_with_everything_below_it() {
    for exec in executors() {
        let runs: Vec<AtomicU32> = (0..3).map(|_| AtomicU32::new(0)).collect();
        let mut arena = Arena::new();
        let mut b = arena.builder::<u32>();
        for (k, name) in ["a", "b", "c"].into_iter().enumerate() {
            let runs = &runs;
            b.task(name, move |ctx| {
                runs[k].fetch_add(1, Ordering::SeqCst);
                Ok(ctx.inputs().map(|(_, x)| *x).sum::<u32>() + 1)
            })
            .unwrap();
        }
        b.edges_by_name([("a", "b"), ("b", "c")]).unwrap();
        let graph = b.build().unwrap();
        let mut report = exec.run(&graph);
        assert!(report.clear("b"));
        assert!(!report.clear("b"), "already cleared");
        assert!(!report.clear("nope"));
        assert_eq!(report.output("b"), None);
        assert_eq!(
            (report.counts().succeeded, report.counts().cancelled),
            (2, 1)
        );
        assert!(!report.is_success());
        let again = exec.resume(&graph, report).unwrap();
        let calls: Vec<u32> = runs.iter().map(|r| r.load(Ordering::SeqCst)).collect();
        assert_eq!(calls, [1, 2, 2], "b and c ran again, a did not");
        assert_eq!(again.output("c"), Some(&3));
        assert!(again.carried_over("a") && !again.carried_over("c"));
        for r in &runs {
            r.store(0, Ordering::SeqCst);
        }
    }
}

#[test]
fn a_carried_branch_still_passes_over_what_it_did_not_choose() {
    for exec in executors() {
        let ran_y = AtomicU32::new(0);
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        let check = b
            .task("check", |ctx| {
                ctx.branch(["x"])?;
                Ok(())
            })
            .unwrap();
        b.task("x", |_| Ok(())).unwrap();
        b.task("y", |_| {
            ran_y.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
        b.task("z", |_| Ok(())).unwrap();
        b.task("broken", |_| Err("still broken".into())).unwrap();
        b.edges_by_name([("check", "x"), ("check", "y"), ("y", "z")])
            .unwrap();
        b.branching("check").unwrap();
        let graph = b.build().unwrap();
        let first = exec.run(&graph);
        let second = exec.resume(&graph, first).unwrap();
        assert!(second.carried_over("check") && second.carried_over("x"));
        for task in ["y", "z"] {
            assert!(
                matches!(second.outcome(task), Some(kahn::Outcome::BranchNotTaken { branch }) if branch == check),
                "{task}: {second}"
            );
        }
        assert_eq!(ran_y.load(Ordering::SeqCst), 0);
        assert_eq!(second.state("broken"), Some(State::Failed));
    }
}

/// Found by the stress test: a rerun task that a carried branch passed over
/// and that also waits for a rerun predecessor ran on resume, as if the
/// branch had chosen it.
#[test]
fn a_carried_branch_passes_over_a_task_that_also_waits_for_a_rerun_one() {
    for exec in executors() {
        let fixed = AtomicBool::new(false);
        let ran_y = AtomicU32::new(0);
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        let check = b
            .task("check", |ctx| {
                ctx.branch(std::iter::empty::<&str>())?;
                Ok(())
            })
            .unwrap();
        b.task("flaky", |_| {
            if fixed.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err("not yet".into())
            }
        })
        .unwrap();
        b.task("y", |_| {
            ran_y.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
        b.edges_by_name([("check", "y"), ("flaky", "y")]).unwrap();
        b.branching("check").unwrap();
        let graph = b.build().unwrap();
        let first = exec.run(&graph);
        assert!(
            matches!(first.outcome("y"), Some(kahn::Outcome::Skipped { .. })),
            "{first}"
        );
        fixed.store(true, Ordering::SeqCst);
        let second = exec.resume(&graph, first).unwrap();
        assert!(
            matches!(second.outcome("y"), Some(kahn::Outcome::BranchNotTaken { branch }) if branch == check),
            "{second}"
        );
        assert_eq!(ran_y.load(Ordering::SeqCst), 0);
        assert!(second.is_success());
    }
}
