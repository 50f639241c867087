//! DOT export: hostile names drawn as themselves, outcomes coloured and
//! explained, large graphs capped; rendered by `dot` where it is installed.

use std::time::Duration;

use kahn::{Arena, Executor, RetryPolicy, RunOptions, TaskId, TriggerRule};

use kahn_test_support::{cancelling_pair, executor};

/// Reads a DOT quoted string's contents back as a label shows them:
/// `\"`, `\\` and `\n` unescaped.
fn unescape(quoted: &str) -> String {
    let mut out = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Each node's label, by node id, read back from `dot`; panics unless
/// every quoted string in it ends where DOT's grammar says.
fn labels(dot: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for line in dot.lines() {
        let line = line.trim();
        let Some((node, rest)) = line.split_once(" [label=\"") else {
            continue;
        };
        // The label ends at the first quote not escaped.
        let mut end = None;
        let mut escaped = false;
        for (i, c) in rest.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.unwrap_or_else(|| panic!("an unterminated label: {line}"));
        let after = &rest[end + 1..];
        assert!(
            after.ends_with("];"),
            "the rest of the line is attributes: {line}"
        );
        found.push((node.to_owned(), unescape(&rest[..end])));
    }
    found
}

#[test]
fn hostile_names_draw_as_themselves() {
    let names = [
        "plain",
        "quote \" inside",
        "back\\slash\\",
        "two\nlines",
        "ends with a backslash \\",
        "\"",
        "données → 🚀 日本",
        "braces } { ; -> // /* [label=x]",
        "bell \u{7} and tab \t",
    ];
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    for name in names {
        b.task(name, |_| Ok(())).unwrap();
    }
    for pair in names.windows(2) {
        b.edge(pair[0], pair[1]).unwrap();
    }
    let graph = b.build().unwrap();
    let dot = graph.to_dot().to_string();
    let read = labels(&dot);
    assert_eq!(read.len(), names.len(), "{dot}");
    for (i, (node, label)) in read.iter().enumerate() {
        assert_eq!(node, &format!("t{i}"));
        let want = names[i].replace('\u{7}', "\\u{7}").replace('\t', "\\u{9}");
        assert_eq!(label, &want, "{dot}");
    }
    for i in 1..names.len() {
        assert!(dot.contains(&format!("  t{} -> t{i};\n", i - 1)), "{dot}");
    }
    assert!(dot.starts_with("digraph kahn {\n") && dot.ends_with("}\n"));
    render(&dot);
}

#[test]
fn a_report_colours_and_explains_every_outcome() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<u32>();
    b.task("ok", |_| Ok(1)).unwrap();
    b.task("bad", |_| Err("row 7: expected 6 fields\nfound 7".into()))
        .unwrap();
    b.task("below", |_| Ok(1)).unwrap();
    b.task("alert", |_| Ok(1)).unwrap();
    b.task("route", |ctx| {
        ctx.branch(["left"])?;
        Ok(1)
    })
    .unwrap();
    b.task("left", |_| Ok(1)).unwrap();
    b.task("right", |_| Ok(1)).unwrap();
    b.task("flaky", |ctx| {
        if ctx.attempt() < 3 {
            return Err("reset".into());
        }
        Ok(1)
    })
    .unwrap();
    b.unnamed_task(|_| {
        kahn_test_support::intend_panic();
        panic!("a bug")
    })
    .unwrap();
    b.task("made", |_| Ok(1)).unwrap();
    b.task("mover", |ctx| ctx.take_input("made").map_err(Into::into))
        .unwrap();
    b.task("page", |_| Ok(1)).unwrap();
    b.edges_by_name([
        ("bad", "below"),
        ("ok", "alert"),
        ("alert", "page"),
        ("route", "left"),
        ("route", "right"),
        ("made", "mover"),
    ])
    .unwrap();
    b.branching("route").unwrap();
    b.trigger_rule("alert", TriggerRule::OneFailed).unwrap();
    let zero = Duration::ZERO;
    b.retry("flaky", RetryPolicy::attempts(3).backoff(zero, 1.0, zero))
        .unwrap();
    let graph = b.build().unwrap();
    let report = executor(2).run(&graph);
    let dot = graph.to_dot().report(&report).to_string();
    let read: Vec<String> = labels(&dot).into_iter().map(|(_, l)| l).collect();
    let expect = [
        "ok\nsucceeded",
        "bad\nfailed: row 7: expected 6 fields…",
        "below\nskipped: upstream `bad` did not succeed",
        "alert\nnot triggered: its trigger rule did not hold",
        "route\nsucceeded",
        "left\nsucceeded",
        "right\nbranch not taken at `route`",
        "flaky\nsucceeded\n3 attempts",
        "task #8\npanicked: a bug",
        "made\nsucceeded (output consumed)",
        "mover\nsucceeded",
        "page\nnot triggered: the trigger rule of `alert` did not hold",
    ];
    assert_eq!(read, expect, "{dot}");
    for colour in ["#b6d7a8", "#ea9999", "#e06666", "#d9d9d9", "#f3f3f3"] {
        assert!(dot.contains(colour), "{colour} missing:\n{dot}");
    }
    assert_eq!(dot.matches("dashed").count(), 3, "{dot}");
    render(&dot);

    // A report of another graph is not used.
    let mut other = Arena::new();
    let mut ob = other.builder::<u32>();
    ob.task("x", |_| Ok(1)).unwrap();
    let other = ob.build().unwrap();
    let dot = other.to_dot().report(&report).to_string();
    assert!(
        dot.contains("another graph") && !dot.contains("succeeded"),
        "{dot}"
    );
}

#[test]
fn cancelled_and_carried_tasks_say_so() {
    let mut arena = Arena::new();
    let graph = cancelling_pair(&mut arena, "first", "second");
    let exec = executor(1);
    let report = exec.run(&graph);
    let dot = graph.to_dot().report(&report).to_string();
    assert!(
        dot.contains("label=\"second\\ncancelled\", fillcolor=\"#ffe599\""),
        "{dot}"
    );
    let resumed = exec
        .resume_with(&graph, report, &RunOptions::new())
        .unwrap();
    let dot = graph.to_dot().report(&resumed).to_string();
    assert!(
        dot.contains("label=\"first\\nsucceeded\\ncarried over\""),
        "{dot}"
    );
}

#[test]
fn a_large_graph_is_capped() {
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    for _ in 0..10 {
        b.unnamed_task(|_| Ok(())).unwrap();
    }
    b.edges((1..10).map(|i| (TaskId::new(i - 1), TaskId::new(i))))
        .unwrap();
    let graph = b.build().unwrap();
    let dot = graph.to_dot().max_tasks(3).to_string();
    assert_eq!(labels(&dot).len(), 3, "{dot}");
    assert!(dot.contains("t0 -> t1;") && dot.contains("t1 -> t2;"));
    assert!(!dot.contains("t2 -> t3"), "{dot}");
    assert!(
        dot.contains("7 more tasks and 7 more edges not drawn"),
        "{dot}"
    );
    let empty = Arena::new()
        .builder::<()>()
        .build()
        .unwrap()
        .to_dot()
        .to_string();
    assert_eq!(empty.matches('{').count(), empty.matches('}').count());
    let _ = Executor::with_threads(1);
}

/// Renders `dot` with Graphviz if it is installed (the test passes either
/// way; where it is, a DOT it cannot read fails the test).
fn render(dot: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let Ok(mut child) = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
    else {
        return; // Graphviz is not installed here
    };
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(dot.as_bytes())
        .expect("dot reads its input");
    let out = child.wait_with_output().expect("dot ran");
    assert!(
        out.status.success(),
        "dot could not render:\n{}\n{dot}",
        String::from_utf8_lossy(&out.stderr)
    );
}
