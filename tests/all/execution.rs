//! Execution semantics: outputs along edges, inputs, every shape, reruns, concurrent and nested runs, timings.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use kahn::{Arena, Executor, InputError, Outcome, RunOptions, State, TaskId, TaskLabel};
use kahn_bench::shapes::{Shape, ShapeGraph};

use kahn_test_support::{bounded, counts, executor, executors};

fn ids(raw: &[u32]) -> Vec<TaskId> {
    raw.iter().map(|&i| TaskId::new(i)).collect()
}

#[test]
fn outputs_flow_along_edges_by_name_and_by_handle() {
    bounded(|| {
        for exec in executors() {
            let threads = exec.threads();
            let mut arena = Arena::new();
            let mut b = arena.builder::<u64>();
            let load = b.task("load", |_| Ok(40)).unwrap();
            b.task("clean", |ctx| Ok(ctx.input("load")? + 1)).unwrap();
            let double = b.unnamed_task(move |ctx| Ok(ctx.input(load)? * 2)).unwrap();
            let name = String::from("clean");
            b.task("publish", move |ctx| {
                Ok(ctx.input(&name)? + ctx.input(double)?)
            })
            .unwrap();
            b.edge("load", "clean").unwrap();
            b.edge(load, double).unwrap();
            b.edge("clean", "publish").unwrap();
            b.edge(double, "publish").unwrap();
            let graph = b.build().unwrap();
            let report = exec.run(&graph);
            assert!(report.is_success(), "{threads} threads: {report}");
            assert_eq!(report.output("load"), Some(&40));
            assert_eq!(report.output(load), Some(&40));
            assert_eq!(report.output("clean"), Some(&41));
            assert_eq!(report.output(double), Some(&80));
            assert_eq!(report.output("publish"), Some(&121));
            assert_eq!(report.output("no such task"), None);
            assert_eq!(report.output(TaskId::new(99)), None);
        }
    });
}

#[test]
fn inputs_come_in_id_order_whatever_the_edge_order() {
    bounded(|| {
        for exec in [1, 2].map(executor) {
            let seen = Mutex::new(Vec::new());
            let mut arena = Arena::new();
            let mut b = arena.builder::<u64>();
            let x = b.task("x", |_| Ok(10)).unwrap();
            let y = b.task("y", |_| Ok(20)).unwrap();
            let z = b.unnamed_task(|_| Ok(30)).unwrap();
            let sum = b
                .task("sum", |ctx| {
                    assert_eq!(ctx.name(), Some("sum"));
                    assert_eq!(ctx.input_count(), 3);
                    *seen.lock().unwrap() =
                        ctx.inputs().map(|(id, v)| (id, *v)).collect::<Vec<_>>();
                    Ok(ctx.input("x")? + 2 * ctx.input(y)? + 3 * ctx.input(z)?)
                })
                .unwrap();
            // Edges added against id order, one of them twice.
            b.edge(z, sum).unwrap();
            b.edge("y", "sum").unwrap();
            b.edge(x, "sum").unwrap();
            b.edge(z, "sum").unwrap();
            let graph = b.build().unwrap();
            let report = exec.run(&graph);
            assert_eq!(report.output(sum), Some(&(10 + 40 + 90)), "{report}");
            assert_eq!(*seen.lock().unwrap(), vec![(x, 10), (y, 20), (z, 30)]);
        }
    });
}

#[test]
fn context_knows_its_task() {
    let exec = executor(2);
    let mut arena = Arena::new();
    let mut b = arena.builder::<(TaskId, Option<String>, usize, bool)>();
    for i in 0..20 {
        let body = |ctx: &kahn::TaskContext<'_, _>| {
            Ok((
                ctx.id(),
                ctx.name().map(str::to_owned),
                ctx.worker_index(),
                ctx.is_cancelled(),
            ))
        };
        if i % 2 == 0 {
            b.task(&format!("t{i}"), body).unwrap();
        } else {
            b.unnamed_task(body).unwrap();
        }
    }
    let graph = b.build().unwrap();
    let report = exec.run(&graph);
    for task in report.tasks() {
        let (id, name, worker, cancelled) = task.outcome.output().unwrap();
        assert_eq!(*id, task.id);
        let expected = (task.id.index() % 2 == 0).then(|| format!("t{}", task.id.index()));
        assert_eq!(*name, expected);
        assert_eq!(task.name, expected.as_deref());
        assert!(*worker < 2);
        assert!(!cancelled, "nothing stopped this run");
    }
}

#[test]
fn input_of_a_non_predecessor_is_an_error_naming_both_tasks() {
    let exec = executor(2);
    let caught = Mutex::new(Vec::new());
    let mut arena = Arena::new();
    let mut b = arena.builder::<u64>();
    b.task("x", |_| Ok(1)).unwrap();
    b.task("lonely", |ctx| {
        caught.lock().unwrap().push(ctx.input("x").unwrap_err());
        Ok(0)
    })
    .unwrap();
    b.task("ghost_reader", |ctx| {
        caught.lock().unwrap().push(ctx.input("ghost").unwrap_err());
        Ok(0)
    })
    .unwrap();
    b.task("uses_x", |ctx| Ok(*ctx.input("x")? + 1)).unwrap();
    let unnamed = b.unnamed_task(|ctx| Ok(*ctx.input("x")?)).unwrap();
    b.task("after", |ctx| Ok(*ctx.input("uses_x")?)).unwrap();
    b.edge("uses_x", "after").unwrap();
    let graph = b.build().unwrap();
    let report = exec.run(&graph);

    let caught = std::mem::take(&mut *caught.lock().unwrap());
    assert_eq!(caught.len(), 2);
    assert_eq!(
        caught[0],
        InputError::NotAPredecessor {
            asker: TaskLabel::new(graph.find("lonely").unwrap(), Some("lonely")),
            task: TaskLabel::new(graph.find("x").unwrap(), Some("x")),
        }
    );
    assert_eq!(
        caught[0].to_string(),
        "`lonely` asked for the output of `x`, which is not one of its direct predecessors: add the edge `x` -> `lonely`"
    );
    assert_eq!(
        caught[1],
        InputError::UnknownTask {
            asker: TaskLabel::new(graph.find("ghost_reader").unwrap(), Some("ghost_reader")),
            missing: "ghost".into(),
        }
    );
    assert_eq!(
        caught[1].to_string(),
        "`ghost_reader` asked for the output of unknown task `ghost`"
    );

    // Returned with `?`, the error fails the task, and what depends on it is skipped.
    assert_eq!(report.state("lonely"), Some(State::Succeeded));
    let Some(Outcome::Failed(error)) = report.outcome("uses_x") else {
        panic!("uses_x should have failed: {report}");
    };
    assert!(matches!(
        error.downcast_ref::<InputError>(),
        Some(InputError::NotAPredecessor { .. })
    ));
    assert!(
        error.to_string().contains("`uses_x`") && error.to_string().contains("`x`"),
        "{error}"
    );
    let Some(Outcome::Failed(error)) = report.outcome(unnamed) else {
        panic!("the unnamed task should have failed: {report}");
    };
    assert_eq!(
        error.to_string(),
        format!(
            "task {unnamed} asked for the output of `x`, which is not one of its direct predecessors: add the edge `x` -> task {unnamed}"
        )
    );
    let uses_x = graph.find("uses_x").unwrap();
    assert!(matches!(report.outcome("after"), Some(Outcome::Skipped { cause }) if cause == uses_x));
    assert_eq!(report.counts().failed, 2);
}

#[test]
fn unknown_task_id_message_names_the_id_once() {
    let exec = executor(1);
    let mut arena = Arena::new();
    let mut b = arena.builder::<u64>();
    b.task("asker", |ctx| Ok(*ctx.input(TaskId::new(99))?))
        .unwrap();
    let graph = b.build().unwrap();
    let report = exec.run(&graph);
    let Some(Outcome::Failed(error)) = report.outcome("asker") else {
        panic!("asker should fail: {report}")
    };
    assert_eq!(
        error.downcast_ref::<InputError>(),
        Some(&InputError::UnknownTask {
            asker: TaskLabel::new(TaskId::new(0), Some("asker")),
            missing: TaskId::new(99).into(),
        })
    );
    // Not "unknown task task #99".
    assert_eq!(
        error.to_string(),
        "`asker` asked for the output of unknown task #99"
    );
}

/// Runs `shape` and checks every task ran once, after all its predecessors,
/// saw exactly their outputs, and produced the expected value.
fn check_shape(exec: &Executor, g: &ShapeGraph) {
    let n = g.tasks;
    let mut preds = vec![Vec::new(); n];
    for &(u, v) in &g.edges {
        preds[v as usize].push(u);
    }
    for p in &mut preds {
        p.sort_unstable();
        p.dedup();
    }
    // Shapes have `u < v` on every edge, so index order is a topological order.
    let mut expected = vec![0u64; n];
    for v in 0..n {
        let sum = preds[v]
            .iter()
            .fold(0u64, |acc, &p| acc.wrapping_add(expected[p as usize]));
        expected[v] = sum.wrapping_mul(31).wrapping_add(v as u64 + 1);
    }
    let runs: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
    let done: Vec<AtomicBool> = (0..n).map(|_| AtomicBool::new(false)).collect();
    let violations = Mutex::new(Vec::new());

    let mut arena = Arena::new();
    let mut b = arena.builder::<u64>();
    b.reserve(n, g.edges.len());
    for v in 0..n {
        let (runs, done, preds, violations) = (&runs, &done, &preds, &violations);
        b.unnamed_task(move |ctx| {
            runs[v].fetch_add(1, Ordering::Relaxed);
            if ctx.id() != TaskId::new(v as u32) {
                violations
                    .lock()
                    .unwrap()
                    .push(format!("task {v} saw id {}", ctx.id()));
            }
            if ctx.worker_index() >= exec.threads() {
                violations
                    .lock()
                    .unwrap()
                    .push(format!("task {v} on worker {}", ctx.worker_index()));
            }
            let inputs: Vec<(TaskId, u64)> = ctx.inputs().map(|(id, x)| (id, *x)).collect();
            if inputs.iter().map(|&(id, _)| id).collect::<Vec<_>>() != ids(&preds[v]) {
                violations.lock().unwrap().push(format!(
                    "task {v} got inputs {inputs:?}, preds {:?}",
                    preds[v]
                ));
            }
            for &p in &preds[v] {
                if !done[p as usize].load(Ordering::Acquire) {
                    violations.lock().unwrap().push(format!(
                        "task {v} started before its predecessor {p} finished"
                    ));
                }
            }
            let sum = inputs.iter().fold(0u64, |acc, &(_, x)| acc.wrapping_add(x));
            done[v].store(true, Ordering::Release);
            Ok(sum.wrapping_mul(31).wrapping_add(v as u64 + 1))
        })
        .unwrap();
    }
    b.edges(g.task_edges()).unwrap();
    let graph = b.build().unwrap();
    let report = exec.run(&graph);

    let what = format!("{} with {n} tasks on {} threads", g.shape, exec.threads());
    assert_eq!(*violations.lock().unwrap(), Vec::<String>::new(), "{what}");
    assert!(report.is_success(), "{what}: {report}");
    assert_eq!(report.counts().succeeded, n, "{what}");
    assert_eq!(report.stop_reason(), None, "{what}");
    for v in 0..n {
        assert_eq!(
            runs[v].load(Ordering::Relaxed),
            1,
            "{what}: task {v} run count"
        );
        assert_eq!(
            report.output(TaskId::new(v as u32)),
            Some(&expected[v]),
            "{what}: output of task {v}"
        );
    }
}

#[test]
fn every_shape_runs_each_task_once_after_its_predecessors() {
    // 16 still gives the grid and layered shapes four rows of four.
    let n = if cfg!(miri) { 16 } else { 3_000 };
    bounded(move || {
        for exec in executors() {
            for shape in Shape::ALL {
                let g = shape.generate(n);
                assert!(g.tasks > n / 2, "{shape} generated only {} tasks", g.tasks);
                check_shape(exec, &g);
            }
        }
    });
}

#[test]
fn small_and_empty_graphs() {
    for exec in [1, 2].map(executor) {
        let mut arena = Arena::new();
        let graph = arena.builder::<u8>().build().unwrap();
        let report = exec.run(&graph);
        assert!(report.task_count() == 0 && report.is_success());
        assert_eq!(report.counts().total(), 0);
        assert_eq!(report.stop_reason(), None);
        drop(report);
        drop(graph);
        let mut b = arena.builder::<u8>();
        b.task("one", |_| Ok(7)).unwrap();
        let graph = b.build().unwrap();
        assert_eq!(exec.run(&graph).output("one"), Some(&7));
    }
}

#[test]
fn a_thousand_reruns_give_identical_outputs_and_never_leak_between_runs() {
    let reruns = if cfg!(miri) { 5 } else { 1_000 };
    bounded(move || {
        let exec = executor(2);
        let g = Shape::Layered.generate(36);
        let n = g.tasks;
        let epoch = AtomicU64::new(0);
        let leaks = AtomicUsize::new(0);
        let runs = AtomicUsize::new(0);
        let mut arena = Arena::new();
        let mut b = arena.builder::<(u64, u64)>();
        for v in 0..n as u64 {
            let (epoch, leaks, runs) = (&epoch, &leaks, &runs);
            b.unnamed_task(move |ctx| {
                runs.fetch_add(1, Ordering::Relaxed);
                let now = epoch.load(Ordering::Relaxed);
                let mut det = v + 1;
                for (_, &(x, stamp)) in ctx.inputs() {
                    if stamp != now {
                        leaks.fetch_add(1, Ordering::Relaxed);
                    }
                    det = det.wrapping_mul(1_000_003).wrapping_add(x);
                }
                Ok((det, now))
            })
            .unwrap();
        }
        b.edges(g.task_edges()).unwrap();
        let graph = b.build().unwrap();

        let mut first: Option<Vec<u64>> = None;
        for run in 1..=reruns {
            epoch.store(run, Ordering::Relaxed);
            let report = exec.run(&graph);
            assert!(report.is_success(), "run {run}: {report}");
            let mut det = Vec::with_capacity(n);
            for task in report.tasks() {
                let &(x, stamp) = task.outcome.output().unwrap();
                assert_eq!(
                    stamp, run,
                    "run {run}: task {} kept an output of another run",
                    task.id
                );
                det.push(x);
            }
            match &first {
                None => first = Some(det),
                Some(first) => {
                    assert_eq!(first, &det, "run {run}: outputs differ from the first run")
                }
            }
        }
        assert_eq!(
            leaks.load(Ordering::Relaxed),
            0,
            "a task saw an input stamped by another run"
        );
        assert_eq!(runs.load(Ordering::Relaxed), n * reruns as usize);
    });
}

#[test]
fn one_graph_run_concurrently_from_several_threads_gives_independent_reports() {
    let (callers, runs_each, width) = if cfg!(miri) { (2, 2, 8) } else { (4, 25, 200) };
    bounded(move || {
        // Runs started at once share the executor's workers: the shared one
        // may be running other tests' graphs too, which is all the better.
        let exec = executor(2);
        let tickets = AtomicU64::new(0);
        let mixed = AtomicUsize::new(0);
        let mut arena = Arena::new();
        let mut b = arena.builder::<(u64, u64)>();
        // A diamond: the source draws a ticket unique to its run, everyone
        // passes it on, and the sink checks all its inputs carry the same one.
        let source = b
            .task("source", |_| {
                Ok((tickets.fetch_add(1, Ordering::SeqCst), 1))
            })
            .unwrap();
        let sink = b
            .task("sink", |ctx| {
                let (_, &(ticket, _)) = ctx.inputs().next().ok_or("the sink has inputs")?;
                let mut sum = 0;
                for (id, &(t, x)) in ctx.inputs() {
                    if t != ticket {
                        mixed.fetch_add(1, Ordering::Relaxed);
                    }
                    sum += x + id.index() as u64;
                }
                Ok((ticket, sum))
            })
            .unwrap();
        for i in 0..width {
            let mid = b
                .unnamed_task(move |ctx| {
                    let (t, x) = *ctx.input(source)?;
                    Ok((t, x + i))
                })
                .unwrap();
            b.edge(source, mid).unwrap();
            b.edge(mid, sink).unwrap();
        }
        let graph = b.build().unwrap();
        let expected_sum: u64 = (0..width).map(|i| 1 + i + (i + 2)).sum();

        let reports: Vec<Vec<(u64, u64)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..callers)
                .map(|_| {
                    s.spawn(|| {
                        (0..runs_each)
                            .map(|_| {
                                let report = exec.run(&graph);
                                assert!(report.is_success(), "{report}");
                                let ticket = report.output(source).unwrap().0;
                                for task in report.tasks() {
                                    assert_eq!(
                                        task.outcome.output().unwrap().0,
                                        ticket,
                                        "task {} mixed runs",
                                        task.id
                                    );
                                }
                                *report.output(sink).unwrap()
                            })
                            .collect()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(mixed.load(Ordering::Relaxed), 0);
        let mut seen = HashSet::new();
        for (ticket, sum) in reports.into_iter().flatten() {
            assert_eq!(sum, expected_sum);
            assert!(seen.insert(ticket), "two reports share ticket {ticket}");
        }
        assert_eq!(seen.len(), callers * runs_each);
        assert_eq!(tickets.load(Ordering::SeqCst), (callers * runs_each) as u64);
    });
}

#[test]
fn a_task_can_run_another_graph_on_the_same_executor() {
    bounded(|| {
        for exec in executors() {
            let threads = exec.threads();
            let inner_runs = AtomicUsize::new(0);
            let mut inner_arena = Arena::new();
            let mut b = inner_arena.builder::<u64>();
            let mut prev = b.task("i0", |_| Ok(1)).unwrap();
            for i in 1..10u64 {
                let inner_runs = &inner_runs;
                let next = b
                    .unnamed_task(move |ctx| {
                        inner_runs.fetch_add(1, Ordering::Relaxed);
                        Ok(ctx.inputs().map(|(_, x)| *x).sum::<u64>() + i)
                    })
                    .unwrap();
                b.edge(prev, next).unwrap();
                prev = next;
            }
            let inner_last = prev;
            let inner = b.build().unwrap();

            let mut arena = Arena::new();
            let mut b = arena.builder::<u64>();
            let inner_ref = &inner;
            let outer_tasks: Vec<TaskId> = (0..6u64)
                .map(|k| {
                    b.unnamed_task(move |_| {
                        let report = exec.run(inner_ref);
                        let report = report.into_result()?;
                        Ok(report
                            .output(inner_last)
                            .copied()
                            .ok_or("inner output missing")?
                            * 100
                            + k)
                    })
                    .unwrap()
                })
                .collect();
            let sink = b
                .task("sink", |ctx| Ok(ctx.inputs().map(|(_, x)| *x).sum()))
                .unwrap();
            b.edges(outer_tasks.iter().map(|&t| (t, sink))).unwrap();
            let outer = b.build().unwrap();
            let report = exec.run(&outer);
            assert!(report.is_success(), "{threads} threads: {report}");
            let inner_sum: u64 = 1 + (1..10).sum::<u64>();
            for (k, &t) in outer_tasks.iter().enumerate() {
                assert_eq!(report.output(t), Some(&(inner_sum * 100 + k as u64)));
            }
            assert_eq!(report.output(sink), Some(&(inner_sum * 100 * 6 + 15)));
            assert_eq!(inner_runs.load(Ordering::Relaxed), 6 * 9);
        }
    });
}

#[test]
fn recorded_timings_are_consistent_with_edges() {
    bounded(|| {
        let threads = 2;
        let exec = executor(threads);
        let sleeps = [30u64, 20, 10, 5, 15];
        let mut arena = Arena::new();
        let mut b = arena.builder::<u64>();
        let t: Vec<TaskId> = sleeps
            .iter()
            .map(|&ms| {
                b.unnamed_task(move |_| {
                    std::thread::sleep(Duration::from_millis(ms));
                    Ok(ms)
                })
                .unwrap()
            })
            .collect();
        // 0 -> {1, 2} -> 3, and 4 on its own; plus a failing task and one skipped for it.
        let edges = [(t[0], t[1]), (t[0], t[2]), (t[1], t[3]), (t[2], t[3])];
        b.edges(edges).unwrap();
        let bad = b.task("bad", |_| Err("no".into())).unwrap();
        let skipped = b.task("skipped", |_| Ok(0)).unwrap();
        b.edge(bad, skipped).unwrap();
        let graph = b.build().unwrap();

        let report = exec.run_with(&graph, &RunOptions::new().record_timings(true));
        for (i, &ms) in sleeps.iter().enumerate() {
            let timing = report
                .timing(t[i])
                .unwrap_or_else(|| panic!("task {i} has no timing"));
            assert!(
                timing.duration >= Duration::from_millis(ms),
                "task {i}: {timing:?}"
            );
            assert!(timing.worker < threads, "task {i}: {timing:?}");
            assert!(
                timing.start + timing.duration <= report.wall_time() + Duration::from_millis(50)
            );
        }
        for (u, v) in edges {
            let (tu, tv) = (report.timing(u).unwrap(), report.timing(v).unwrap());
            assert!(
                tv.start >= tu.start + tu.duration,
                "{v} started at {tv:?}, before {u} ended at {tu:?}"
            );
        }
        assert!(
            report.timing(bad).is_some(),
            "a task that ran and failed has a timing"
        );
        assert_eq!(report.timing(skipped), None, "a skipped task never ran");
        for task in report.tasks() {
            assert_eq!(task.timing, report.timing(task.id));
        }
        assert!(report.wall_time() >= Duration::from_millis(30 + 20 + 5));

        let report = exec.run(&graph);
        assert!(report.tasks().all(|task| task.timing.is_none()));
        assert_eq!(report.timing(t[0]), None);
        let report = exec.run_with(&graph, &RunOptions::new().record_timings(false));
        assert_eq!(report.timing(t[0]), None);
    });
}

#[test]
fn report_display_starts_with_the_counts_line() {
    let exec = executor(2);
    let mut arena = Arena::new();
    let mut b = arena.builder::<u64>();
    b.task("load", |_| Ok(40)).unwrap();
    b.task("clean", |ctx| Ok(ctx.input("load")? + 1)).unwrap();
    b.task("audit", |_| Err("audit service unreachable".into()))
        .unwrap();
    b.task("publish", |ctx| Ok(ctx.input("clean")? + 1))
        .unwrap();
    b.task("notify", |ctx| Ok(*ctx.input("audit")?)).unwrap();
    b.edge("load", "clean").unwrap();
    b.edge("clean", "publish").unwrap();
    b.edge("audit", "notify").unwrap();
    let graph = b.build().unwrap();
    let report = exec.run(&graph);
    assert_eq!(report.counts(), counts(3, 1, 0, 1, 0));
    assert_eq!(report.counts().total(), graph.task_count());
    assert_eq!(report.task_count(), graph.task_count());
    let text = report.to_string();
    let mut lines = text.lines();
    let first = lines.next().unwrap();
    assert!(first.starts_with("ran 5 tasks in "), "{text}");
    assert!(
        first.ends_with(": 3 succeeded, 1 failed, 0 panicked, 1 skipped, 0 cancelled"),
        "{text}"
    );
    assert_eq!(
        lines.next(),
        Some("  failed:   `audit`: audit service unreachable")
    );
    assert_eq!(
        lines.next(),
        Some("  skipped:  `notify` (upstream `audit` did not succeed)")
    );
    assert_eq!(lines.next(), None);

    let clean = exec.run(&graph);
    assert_eq!(clean.counts().total(), 5);
}

#[test]
fn report_display_cuts_long_lists_at_ten_lines() {
    let exec = executor(1);
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    for i in 0..12 {
        let bad = b
            .task(
                &format!("bad{i}"),
                move |_| Err(format!("error {i}").into()),
            )
            .unwrap();
        let child = b.task(&format!("child{i}"), |_| Ok(())).unwrap();
        b.edge(bad, child).unwrap();
    }
    b.task("fine", |_| Ok(())).unwrap();
    let graph = b.build().unwrap();
    let report = exec.run(&graph);
    let text = report.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].ends_with(": 1 succeeded, 12 failed, 0 panicked, 12 skipped, 0 cancelled"),
        "{text}"
    );
    let failed: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("  failed:   "))
        .collect();
    let skipped: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("  skipped:  "))
        .collect();
    assert_eq!(failed.len(), 10, "{text}");
    assert_eq!(skipped.len(), 10, "{text}");
    assert_eq!(failed[0], "  failed:   `bad0`: error 0");
    assert_eq!(
        skipped[9],
        "  skipped:  `child9` (upstream `bad9` did not succeed)"
    );
    assert!(lines.contains(&"  … and 2 more failures"), "{text}");
    assert!(lines.contains(&"  … and 2 more skipped"), "{text}");
    assert_eq!(lines.len(), 1 + 11 + 11, "{text}");
}

/// Executor creation itself, so fresh executors rather than the shared ones.
#[test]
fn an_executor_needs_a_thread() {
    assert!(matches!(
        Executor::with_threads(0),
        Err(kahn::ExecutorError::ZeroThreads)
    ));
    assert_eq!(Executor::with_threads(3).unwrap().threads(), 3);
    assert!(Executor::new().unwrap().threads() >= 1);
}
