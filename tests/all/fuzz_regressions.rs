//! Replays every input under `fuzz/regressions/<target>/` through the fuzz target's own check, on stable, in `cargo test`.
//!
//! The files are raw fuzzer inputs (crashes found and minimized, and a few
//! corpus entries that reach cycles, unknown names, limits, panics and
//! cancellation). They are decoded exactly as `libfuzzer-sys` decodes them,
//! so a regression fails here without a nightly toolchain. To add one:
//! `cp fuzz/artifacts/<target>/crash-* fuzz/regressions/<target>/`; to see it
//! as Rust, `cargo +nightly fuzz fmt <target> <file>`.

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use arbitrary::{Arbitrary, Unstructured};
use kahn::{GraphBuilder, TaskId};

use kahn_test_support::fuzzing::{builder_ops, edge_list, execute, named_edges};

/// The inputs committed for `target`, in name order.
fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "{} holds no inputs: the replay would check nothing",
        dir.display()
    );
    files
}

/// Decodes `bytes` as `libfuzzer-sys`'s `fuzz_target!` does; `None` where it
/// would skip the input.
fn decode<C: for<'a> Arbitrary<'a>>(bytes: &[u8]) -> Option<C> {
    if bytes.len() < C::size_hint(0).0 {
        return None;
    }
    C::arbitrary_take_rest(Unstructured::new(bytes)).ok()
}

/// Runs `check` on every input of `target`; a failure names the file and
/// prints the input as a Rust reproducer.
fn replay<C>(target: &str, check: fn(&C) -> Result<(), String>)
where
    C: for<'a> Arbitrary<'a> + Debug,
{
    for file in inputs(target) {
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let case: C = decode(&bytes).unwrap_or_else(|| {
            panic!(
                "{}: the fuzz target skips this input, so it checks nothing",
                file.display()
            )
        });
        if let Err(finding) = check(&case) {
            panic!("{}: {finding}\n{case:?}", file.display());
        }
    }
}

#[test]
fn builder_ops_regressions_pass() {
    replay("builder_ops", builder_ops::check);
}

#[test]
fn edge_list_regressions_pass() {
    replay("edge_list", edge_list::check);
}

#[test]
fn named_edges_regressions_pass() {
    replay("named_edges", named_edges::check);
}

#[cfg(feature = "petgraph")]
#[test]
fn petgraph_import_regressions_pass() {
    replay(
        "petgraph_import",
        kahn_test_support::fuzzing::petgraph_import::check,
    );
}

#[test]
fn execute_regressions_pass() {
    kahn_test_support::bounded(|| replay("execute", execute::check));
}

/// The replay is not vacuous: a committed `execute` input passes, and the
/// same run checked as if any one task behaved otherwise fails. The input's
/// run is never stopped, so every outcome is pinned.
#[test]
fn a_wrong_expectation_fails_the_check() {
    kahn_test_support::bounded(|| {
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/regressions/execute/panic-skips-descendants");
        let case: execute::ExecCase = decode(&std::fs::read(file).unwrap()).unwrap();
        let n = case.task_count();
        assert!(
            !case.fail_fast
                && case.watch == execute::Watch::Nothing
                && !case.tasks[..n].contains(&execute::Behavior::Cancel),
            "the input must not stop its run: {case:?}"
        );
        let one = kahn_test_support::executor(1);
        assert_eq!(execute::check_on(one, &case), Ok(()), "{case:?}");
        let oracle = case.oracle();
        let states = oracle.states();
        for v in (0..n).filter(|&v| states[v] != kahn::State::Skipped) {
            let mut wrong = case.clone();
            wrong.tasks[v] = match case.tasks[v] {
                execute::Behavior::Fail => execute::Behavior::Ok,
                _ => execute::Behavior::Fail,
            };
            assert!(
                execute::check_against(one, &case, &wrong).is_err(),
                "checked as {wrong:?}, {case:?} still passed"
            );
        }
    });
}

/// The committed `builder_ops` inputs still mean what they were committed
/// for: each decodes to the case pinned in `fuzz/regressions/builder_ops.txt`.
///
/// `arbitrary`'s derive picks an enum variant as `(u32 × variants) >> 32`,
/// so adding an `Op` variant, even at the end, changes what most old bytes
/// decode to, and the replay above would go on passing while checking other
/// cases than the ones committed. After adding a variant, rewrite each op's
/// four-byte selector in the committed inputs for the new count (see
/// `fuzz/README.md`, "Regressions") until this test passes; after adding an
/// input, `KAHN_BLESS=1 cargo test --test all fuzz_regressions` rewrites
/// the pinned file.
#[test]
fn builder_ops_regressions_decode_as_pinned() {
    let pinned = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/builder_ops.txt");
    let decoded: Vec<String> = inputs("builder_ops")
        .iter()
        .map(|file| {
            let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let case: builder_ops::BuilderCase = decode(&bytes).expect("a decodable input");
            let name = file.file_name().expect("a file name").to_string_lossy();
            format!("# {name}\n{case:?}\n")
        })
        .collect();
    if std::env::var_os("KAHN_BLESS").is_some() {
        std::fs::write(&pinned, decoded.concat()).expect("a writable pinned file");
        return;
    }
    let text = std::fs::read_to_string(&pinned)
        .unwrap_or_else(|e| panic!("{}: {e} (KAHN_BLESS=1 writes it)", pinned.display()));
    let expected: Vec<String> = text.split_inclusive("] };\n").map(str::to_owned).collect();
    for (got, want) in decoded.iter().zip(&expected) {
        assert_eq!(
            got,
            want,
            "a committed input decodes to another case than the one pinned in {}",
            pinned.display()
        );
    }
    assert_eq!(
        decoded.len(),
        expected.len(),
        "{} pins another number of inputs than fuzz/regressions/builder_ops holds",
        pinned.display()
    );
}

/// The capacity check is not vacuous either: three runs at once of twelve
/// sleeping tasks that each hold the one unit of a resource pass, and the
/// same runs with the uses left out of the graphs (so kahn lets every task
/// run at once) fail the check, since the tasks' own gauge sees more than
/// one held. Overlap is up to the scheduler, so the failure must show in one
/// of a few tries.
#[test]
fn a_missing_limit_fails_the_capacity_check() {
    kahn_test_support::bounded(|| {
        let one_run = execute::RunSpec {
            fail_fast: false,
            watch: execute::Watch::Nothing,
        };
        let case = execute::ExecCase {
            fail_fast: false,
            watch: execute::Watch::Nothing,
            threads: 2,
            order_seed: 0,
            edges: Vec::new(),
            tasks: vec![execute::Behavior::Sleep(255); 12],
            resources: vec![0],
            uses: (0..12).map(|task| (task, 0, 0)).collect(),
            more_runs: vec![one_run; 2],
            stops: Vec::new(),
            data: 0,
        };
        assert_eq!(case.capacities(), [1], "{case:?}");
        let exec = kahn_test_support::executor(case.threads());
        assert_eq!(execute::check_on(exec, &case), Ok(()), "{case:?}");
        let unlimited = execute::ExecCase {
            uses: Vec::new(),
            ..case.clone()
        };
        let caught = (0..10).find_map(|_| execute::check_against(exec, &unlimited, &case).err());
        let finding = caught.expect("twelve sleeping tasks on four workers never overlapped");
        assert!(
            finding.contains("held at once"),
            "the check failed, but not on the capacity: {finding}"
        );
    });
}

/// Decoding is the fuzzer's: the same bytes give the same case here as in
/// the fuzz target, which prints it with the same `Debug`.
#[test]
fn reproducers_are_rust() {
    let case: builder_ops::BuilderCase = decode(&[7, 0, 0, 0, 1, 2, 3, 4, 5, 6]).unwrap();
    let printed = format!("{case:?}");
    assert!(
        printed.starts_with("let case = BuilderCase { ops: vec!["),
        "{printed}"
    );
    assert!(printed.ends_with("] };"), "{printed}");
    let list: edge_list::EdgeListCase = decode(&[0; 64]).unwrap();
    assert!(format!("{list:?}").starts_with("let case = EdgeListCase { max_tasks: None,"));
}

/// A finding of `builder_ops` (inputs in `fuzz/regressions/builder_ops/reserve-*`):
/// `reserve` trusted its hints up to the hard limits, 2³¹ − 1 tasks and
/// edges, so one call with an untrusted hint asked the allocator for tens of
/// gigabytes, and a second, larger call regrew the arrays in the bump,
/// copying their whole old capacity (5.8 GB of RSS). Hints are now cut to
/// `RESERVE_TASKS` and `RESERVE_EDGES` (see the next test for why in all).
#[test]
fn an_untrusted_reserve_hint_takes_no_gigabytes() {
    let mut arena = kahn::Arena::new();
    let mut b = arena.builder::<()>();
    b.reserve(usize::MAX, usize::MAX);
    drop(b);
    let bytes = arena.allocated_bytes();
    assert!(
        bytes <= 2 << 30,
        "reserve(usize::MAX, usize::MAX) on a fresh builder took {bytes} bytes of address space"
    );

    // A second, larger hint after some tasks must not regrow (and copy) the
    // arrays reserved by the first.
    let mut b = arena.builder::<()>();
    for _ in 0..5 {
        b.unnamed_task(|_| Ok(())).unwrap();
    }
    b.reserve(1_480_691_599, 1_480_691_599);
    b.reserve(562_425_984_290_703, 562_425_984_290_703);
    drop(b);
    let bytes = arena.allocated_bytes();
    assert!(
        bytes <= 2 << 30,
        "two growing reserve hints took {bytes} bytes of address space"
    );
}

/// Found by profiling `builder_ops` (it ran at 600 inputs a second, most of
/// the time in page faults): the cap was per call, so `reserve`, a task, and
/// `reserve` again regrew the full reserved arrays and copied their whole
/// capacity, hundreds of megabytes, once per repeated hint. Reservations are
/// now capped in all, so a repeated hint adds nothing.
#[test]
fn a_repeated_reserve_hint_regrows_nothing() {
    let mut once = kahn::Arena::new();
    once.builder::<()>().reserve(usize::MAX, usize::MAX);
    let reserved = once.allocated_bytes();

    let mut arena = kahn::Arena::new();
    let mut b = arena.builder::<()>();
    b.reserve(usize::MAX, usize::MAX);
    for i in 0..4 {
        b.unnamed_task(|_| Ok(())).unwrap();
        if i > 0 {
            b.edge(TaskId::new(i - 1), TaskId::new(i)).unwrap();
        }
        b.reserve(usize::MAX, usize::MAX);
        b.reserve(
            GraphBuilder::<()>::RESERVE_TASKS,
            GraphBuilder::<()>::RESERVE_EDGES,
        );
    }
    drop(b);
    let bytes = arena.allocated_bytes();
    assert!(
        bytes <= reserved + (1 << 20),
        "repeated reserve hints took {bytes} bytes of address space, one took {reserved}"
    );
}
