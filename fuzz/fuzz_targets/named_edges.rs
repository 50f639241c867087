//! Fuzzes the bulk name path: tasks by name, then `edges_by_name`, against one `edge` call per pair.
#![no_main]

use kahn_test_support::fuzzing::named_edges::{check, NamedEdgesCase};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|case: NamedEdgesCase| {
    if let Err(finding) = check(&case) {
        panic!("{finding}\n{case:?}");
    }
});
