//! Fuzzes any sequence of `GraphBuilder` calls against the reference model and petgraph.
#![no_main]

use kahn_test_support::fuzzing::builder_ops::{check, BuilderCase};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|case: BuilderCase| {
    if let Err(finding) = check(&case) {
        panic!("{finding}\n{case:?}");
    }
});
