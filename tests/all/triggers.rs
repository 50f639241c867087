//! Trigger rules and branches: cleanup and alert tasks, joins after a
//! branch, skip reasons, and the typed errors of a bad choice.

use std::sync::atomic::{AtomicUsize, Ordering};

use kahn::{
    Arena, BranchError, BuildError, CancelToken, InputError, Outcome, OwnedTaskRef, RunOptions,
    State, TaskId, TaskLabel, TriggerRule,
};

use kahn_test_support::{bounded, executors};

fn label(id: TaskId, name: &str) -> TaskLabel {
    TaskLabel::new(id, Some(name))
}

#[test]
fn cleanup_runs_after_a_failure_and_an_alert_only_after_one() {
    bounded(|| {
        for exec in executors() {
            for fail in [true, false] {
                let mut arena = Arena::new();
                let mut b = arena.builder::<String>();
                let load = b
                    .task("load", move |_| {
                        if fail {
                            Err("the warehouse refused the batch".into())
                        } else {
                            Ok("loaded".into())
                        }
                    })
                    .unwrap();
                b.task("extract", |_| Ok("rows".into())).unwrap();
                b.task("cleanup", |ctx| {
                    // Its inputs are the predecessors that succeeded.
                    let inputs: Vec<_> = ctx.inputs().map(|(_, out)| out.clone()).collect();
                    Ok(format!("cleaned after {inputs:?}"))
                })
                .unwrap();
                b.task("alert", |ctx| {
                    assert_eq!(ctx.upstream("load")?, State::Failed);
                    let error = ctx.input("load").unwrap_err();
                    assert_eq!(
                        error,
                        InputError::NotSucceeded {
                            asker: label(ctx.id(), "alert"),
                            task: label(TaskId::new(0), "load"),
                            state: State::Failed,
                        }
                    );
                    assert_eq!(
                        error.to_string(),
                        "`alert` asked for the output of `load`, which failed and has none: check `upstream` first"
                    );
                    Ok("paged".into())
                })
                .unwrap();
                b.task("page_log", |ctx| {
                    Ok(format!("logged {}", ctx.input("alert")?))
                })
                .unwrap();
                b.edges_by_name([
                    ("extract", "load"),
                    ("extract", "cleanup"),
                    ("load", "cleanup"),
                    ("load", "alert"),
                    ("alert", "page_log"),
                ])
                .unwrap();
                b.trigger_rule("cleanup", TriggerRule::AllDone).unwrap();
                b.trigger_rule("alert", TriggerRule::OneFailed).unwrap();
                let graph = b.build().unwrap();
                assert_eq!(
                    graph.trigger_rule(graph.find("alert").unwrap()),
                    TriggerRule::OneFailed
                );
                assert_eq!(graph.trigger_rule(load), TriggerRule::AllSucceeded);

                let report = exec.run(&graph);
                let what = format!("{} threads, fail {fail}: {report}", exec.threads());
                let alert = graph.find("alert").unwrap();
                if fail {
                    assert_eq!(
                        report.output("cleanup").map(String::as_str),
                        Some("cleaned after [\"rows\"]"),
                        "{what}"
                    );
                    assert_eq!(
                        report.output("page_log").map(String::as_str),
                        Some("logged paged")
                    );
                    assert!(!report.is_success());
                } else {
                    assert_eq!(
                        report.output("cleanup").map(String::as_str),
                        Some("cleaned after [\"loaded\", \"rows\"]"),
                        "{what}"
                    );
                    assert!(
                        matches!(report.outcome("alert"), Some(Outcome::NotTriggered { cause }) if cause == alert),
                        "{what}"
                    );
                    // Below the alert, the default rule passes over too.
                    assert!(
                        matches!(report.outcome("page_log"), Some(Outcome::NotTriggered { cause }) if cause == alert),
                        "{what}"
                    );
                    assert!(report.is_success(), "nothing failed: {what}");
                    let counts = report.counts();
                    assert_eq!((counts.skipped, counts.by_choice), (2, 2));
                    assert!(report.into_result().is_ok());
                    let shown = format!("{}", exec.run(&graph));
                    assert!(
                        shown.contains(
                            "\n  skipped:  `alert` (not triggered: its trigger rule did not hold)"
                        ),
                        "{shown}"
                    );
                    assert!(
                        shown.contains("\n  skipped:  `page_log` (not triggered: the trigger rule of `alert` did not hold)"),
                        "{shown}"
                    );
                }
            }
        }
    });
}

/// Builds `check -> {load, skip_load} -> report` where `check` chooses
/// `chosen` (or nothing, or does not branch), `report` has `rule`.
fn branch_graph_outcomes(
    exec: &kahn::Executor,
    chosen: Option<&'static [&'static str]>,
    rule: TriggerRule,
) -> Vec<(String, State, String)> {
    let mut arena = Arena::new();
    let mut b = arena.builder::<u32>();
    b.task("check", move |ctx| {
        if let Some(chosen) = chosen {
            ctx.branch(chosen.iter().copied())?;
        }
        Ok(0)
    })
    .unwrap();
    b.task("load", |_| Ok(1)).unwrap();
    b.task("skip_load", |_| Ok(2)).unwrap();
    b.task("after_load", |ctx| Ok(*ctx.input("load")? + 10))
        .unwrap();
    b.task("report", |ctx| Ok(ctx.inputs().map(|(_, x)| *x).sum()))
        .unwrap();
    b.edges_by_name([
        ("check", "load"),
        ("check", "skip_load"),
        ("load", "after_load"),
        ("after_load", "report"),
        ("skip_load", "report"),
    ])
    .unwrap();
    b.branching("check").unwrap();
    b.trigger_rule("report", rule).unwrap();
    let graph = b.build().unwrap();
    assert!(graph.is_branching(graph.find("check").unwrap()));
    let report = exec.run(&graph);
    report
        .tasks()
        .map(|t| {
            let detail = match t.outcome {
                Outcome::Succeeded(x) => x.to_string(),
                Outcome::BranchNotTaken { branch } => {
                    format!("not taken at {}", report.name(branch).unwrap())
                }
                Outcome::Skipped { cause } => {
                    format!("skipped for {}", report.name(cause).unwrap())
                }
                other => format!("{other:?}"),
            };
            (t.name.unwrap().to_owned(), t.outcome.state(), detail)
        })
        .collect()
}

#[test]
fn a_branch_passes_over_the_successors_it_did_not_choose() {
    bounded(|| {
        for exec in executors() {
            let outcomes =
                branch_graph_outcomes(exec, Some(&["skip_load"]), TriggerRule::NoneFailed);
            let expected = [
                ("check", State::Succeeded, "0"),
                ("load", State::Skipped, "not taken at check"),
                ("skip_load", State::Succeeded, "2"),
                ("after_load", State::Skipped, "not taken at check"),
                ("report", State::Succeeded, "2"),
            ];
            let expected: Vec<_> = expected
                .iter()
                .map(|(n, s, d)| (n.to_string(), *s, d.to_string()))
                .collect();
            assert_eq!(outcomes, expected, "{} threads", exec.threads());

            // Under the default rule, the join is passed over too.
            let outcomes =
                branch_graph_outcomes(exec, Some(&["skip_load"]), TriggerRule::AllSucceeded);
            assert_eq!(outcomes[4].2, "not taken at check");

            // The other way round, and by id too.
            let outcomes = branch_graph_outcomes(exec, Some(&["load"]), TriggerRule::NoneFailed);
            let states: Vec<_> = outcomes.iter().map(|o| o.2.as_str()).collect();
            assert_eq!(states, ["0", "1", "not taken at check", "11", "11"]);

            // No call: every successor runs. An empty choice: none does.
            let outcomes = branch_graph_outcomes(exec, None, TriggerRule::NoneFailed);
            let states: Vec<_> = outcomes.iter().map(|o| o.2.as_str()).collect();
            assert_eq!(states, ["0", "1", "2", "11", "13"]);
            let outcomes = branch_graph_outcomes(exec, Some(&[]), TriggerRule::NoneFailed);
            let states: Vec<_> = outcomes.iter().map(|o| o.2.as_str()).collect();
            assert_eq!(
                states,
                [
                    "0",
                    "not taken at check",
                    "not taken at check",
                    "not taken at check",
                    "0"
                ]
            );
        }
    });
}

#[test]
fn a_branch_run_is_a_success_and_its_report_says_why_tasks_were_skipped() {
    let exec = kahn_test_support::executor(2);
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.task("check", |ctx| {
        ctx.branch(["fast"])?;
        Ok(())
    })
    .unwrap();
    b.task("fast", |_| Ok(())).unwrap();
    b.task("slow", |_| Ok(())).unwrap();
    b.edges_by_name([("check", "fast"), ("check", "slow")])
        .unwrap();
    b.branching("check").unwrap();
    let graph = b.build().unwrap();
    let report = exec.run(&graph);
    assert!(report.is_success(), "{report}");
    assert!(report.failures().next().is_none());
    assert!(
        report
            .to_string()
            .contains("\n  skipped:  `slow` (branch not taken at `check`)"),
        "{report}"
    );
    let (outputs, error) = report.into_parts();
    assert!(error.is_none());
    assert_eq!(outputs.iter().filter(|o| o.is_some()).count(), 2);
}

#[test]
fn choices_belong_to_one_run() {
    let runs = AtomicUsize::new(0);
    for exec in executors() {
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        b.task("flip", |ctx| {
            let pick = if runs.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
                "a"
            } else {
                "b"
            };
            ctx.branch([pick])?;
            Ok(())
        })
        .unwrap();
        b.task("a", |_| Ok(())).unwrap();
        b.task("b", |_| Ok(())).unwrap();
        b.edges_by_name([("flip", "a"), ("flip", "b")]).unwrap();
        b.branching("flip").unwrap();
        let graph = b.build().unwrap();
        for _ in 0..4 {
            let first_is_a = runs.load(Ordering::SeqCst).is_multiple_of(2);
            let report = exec.run(&graph);
            let (ran, passed) = if first_is_a { ("a", "b") } else { ("b", "a") };
            assert_eq!(report.state(ran), Some(State::Succeeded), "{report}");
            assert!(matches!(
                report.outcome(passed),
                Some(Outcome::BranchNotTaken { .. })
            ));
        }
    }
}

#[test]
fn a_failed_branch_skips_every_successor_for_its_failure() {
    for exec in executors() {
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        let check = b
            .task("check", |ctx| {
                ctx.branch(["a"])?;
                Err("the check itself failed".into())
            })
            .unwrap();
        b.task("a", |_| Ok(())).unwrap();
        b.task("b", |_| Ok(())).unwrap();
        b.edges_by_name([("check", "a"), ("check", "b")]).unwrap();
        b.branching("check").unwrap();
        let graph = b.build().unwrap();
        let report = exec.run(&graph);
        for task in ["a", "b"] {
            assert!(
                matches!(report.outcome(task), Some(Outcome::Skipped { cause }) if cause == check),
                "{report}"
            );
        }
    }
}

#[test]
fn a_failure_outranks_a_branch_as_the_reason_to_skip() {
    bounded(|| {
        for exec in executors() {
            for _ in 0..20 {
                let mut arena = Arena::new();
                let mut b = arena.builder::<()>();
                b.task("check", |ctx| {
                    ctx.branch(std::iter::empty::<&str>())?;
                    Ok(())
                })
                .unwrap();
                let broken = b.task("broken", |_| Err("down".into())).unwrap();
                b.task("join", |_| Ok(())).unwrap();
                b.edges_by_name([("check", "join"), ("broken", "join")])
                    .unwrap();
                b.branching("check").unwrap();
                let graph = b.build().unwrap();
                let report = exec.run(&graph);
                assert!(
                    matches!(report.outcome("join"), Some(Outcome::Skipped { cause }) if cause == broken),
                    "{report}"
                );
            }
        }
    });
}

#[test]
fn a_choice_reaching_a_task_through_a_passed_over_one_still_skips_it() {
    // check -> mid -> end and check -> end: check chooses `end` but not
    // `mid`, so `end` (default rule) is passed over through `mid`.
    for exec in executors() {
        for rule in [TriggerRule::AllSucceeded, TriggerRule::NoneFailed] {
            let mut arena = Arena::new();
            let mut b = arena.builder::<()>();
            let check = b
                .task("check", |ctx| {
                    ctx.branch(["end"])?;
                    Ok(())
                })
                .unwrap();
            b.task("mid", |_| Ok(())).unwrap();
            b.task("end", |_| Ok(())).unwrap();
            b.edges_by_name([("check", "mid"), ("mid", "end"), ("check", "end")])
                .unwrap();
            b.branching("check").unwrap();
            b.trigger_rule("end", rule).unwrap();
            let graph = b.build().unwrap();
            let report = exec.run(&graph);
            assert!(
                matches!(report.outcome("mid"), Some(Outcome::BranchNotTaken { branch }) if branch == check)
            );
            if rule == TriggerRule::AllSucceeded {
                assert!(
                    matches!(report.outcome("end"), Some(Outcome::BranchNotTaken { branch }) if branch == check),
                    "{report}"
                );
            } else {
                assert_eq!(report.state("end"), Some(State::Succeeded), "{report}");
            }
        }
    }
}

#[test]
fn bad_choices_are_typed_errors_of_the_task() {
    for exec in executors() {
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        b.task("undeclared", |ctx| {
            let error = ctx.branch(["x"]).unwrap_err();
            assert_eq!(
                error,
                BranchError::NotBranching {
                    task: label(ctx.id(), "undeclared")
                }
            );
            Err(error.into())
        })
        .unwrap();
        b.task("x", |_| Ok(())).unwrap();
        b.task("stranger", |_| Ok(())).unwrap();
        b.task("picky", |ctx| {
            ctx.branch(["y"])?;
            let error = ctx.branch(["stranger"]).unwrap_err();
            assert_eq!(
                error,
                BranchError::NotASuccessor {
                    task: label(ctx.id(), "picky"),
                    chosen: OwnedTaskRef::Name("stranger".into())
                }
            );
            let unknown = ctx.branch([TaskId::new(99)]).unwrap_err();
            assert_eq!(
                unknown.to_string(),
                "`picky` chose task #99, which is not one of its direct successors: choose among the tasks it has edges to"
            );
            Err(error.into())
        })
        .unwrap();
        b.task("y", |_| Ok(())).unwrap();
        b.edges_by_name([("undeclared", "x"), ("picky", "y")])
            .unwrap();
        b.branching("picky").unwrap();
        let graph = b.build().unwrap();
        let report = exec.run(&graph);
        match report.outcome("undeclared") {
            Some(Outcome::Failed(error)) => assert_eq!(
                error.to_string(),
                "`undeclared` chose its successors but may not branch: declare it with `GraphBuilder::branching` before `build`"
            ),
            other => panic!("{other:?}: {report}"),
        }
        match report.outcome("picky") {
            Some(Outcome::Failed(error)) => {
                assert!(error.to_string().contains("`stranger`"), "{error}")
            }
            other => panic!("{other:?}: {report}"),
        }
    }
}

#[test]
fn rules_on_sources_and_unknown_tasks() {
    for exec in executors() {
        let mut arena = Arena::new();
        let mut b = arena.builder::<()>();
        for (name, rule) in [
            ("all_succeeded", TriggerRule::AllSucceeded),
            ("all_done", TriggerRule::AllDone),
            ("one_failed", TriggerRule::OneFailed),
            ("none_failed", TriggerRule::NoneFailed),
        ] {
            b.task(name, |_| Ok(())).unwrap();
            b.trigger_rule(name, rule).unwrap();
        }
        assert_eq!(
            b.trigger_rule("nope", TriggerRule::AllDone),
            Err(BuildError::UnknownTaskFor {
                call: "trigger_rule",
                missing: OwnedTaskRef::Name("nope".into())
            })
        );
        assert_eq!(
            b.branching(TaskId::new(9)),
            Err(BuildError::UnknownTaskFor {
                call: "branching",
                missing: OwnedTaskRef::Id(TaskId::new(9))
            })
        );
        let graph = b.build().unwrap();
        let report = exec.run(&graph);
        for name in ["all_succeeded", "all_done", "none_failed"] {
            assert_eq!(report.state(name), Some(State::Succeeded), "{report}");
        }
        assert!(matches!(
            report.outcome("one_failed"),
            Some(Outcome::NotTriggered { .. })
        ));
        assert!(report.is_success());
    }
}

#[test]
fn cancellation_wins_over_an_all_done_rule() {
    bounded(|| {
        for exec in executors() {
            let token = CancelToken::new();
            let mut arena = Arena::new();
            let mut b = arena.builder::<()>();
            b.task("stopper", |_| {
                token.cancel();
                Err("and failed".into())
            })
            .unwrap();
            b.task("cleanup", |_| Ok(())).unwrap();
            b.task("after", |_| Ok(())).unwrap();
            b.edges_by_name([("stopper", "cleanup"), ("cleanup", "after")])
                .unwrap();
            b.trigger_rule("cleanup", TriggerRule::AllDone).unwrap();
            b.trigger_rule("after", TriggerRule::AllDone).unwrap();
            let graph = b.build().unwrap();
            let report = exec.run_with(&graph, &RunOptions::new().cancel_token(token.clone()));
            assert_eq!(report.state("cleanup"), Some(State::Cancelled), "{report}");
            assert_eq!(report.state("after"), Some(State::Cancelled), "{report}");
        }
    });
}

#[test]
fn a_timed_out_or_panicked_upstream_triggers_an_alert_too() {
    for exec in executors() {
        let mut arena = Arena::new();
        let mut b = arena.builder::<u8>();
        b.task("slow", |_| Ok(1)).unwrap();
        b.timeout("slow", std::time::Duration::ZERO).unwrap();
        b.task("crash", |_| {
            kahn_test_support::intend_panic();
            panic!("crashed")
        })
        .unwrap();
        b.task("mid", |ctx| Ok(*ctx.input("crash")?)).unwrap();
        b.task("alert_slow", |ctx| {
            assert_eq!(ctx.upstream("slow")?, State::TimedOut);
            Ok(2)
        })
        .unwrap();
        b.task("alert_mid", |ctx| {
            assert_eq!(ctx.upstream("mid")?, State::Skipped);
            Ok(3)
        })
        .unwrap();
        b.edges_by_name([
            ("slow", "alert_slow"),
            ("crash", "mid"),
            ("mid", "alert_mid"),
        ])
        .unwrap();
        b.trigger_rule("alert_slow", TriggerRule::OneFailed)
            .unwrap();
        b.trigger_rule("alert_mid", TriggerRule::OneFailed).unwrap();
        let graph = b.build().unwrap();
        let report = exec.run(&graph);
        assert_eq!(report.output("alert_slow"), Some(&2), "{report}");
        assert_eq!(
            report.output("alert_mid"),
            Some(&3),
            "a skip for a failure counts: {report}"
        );
    }
}
