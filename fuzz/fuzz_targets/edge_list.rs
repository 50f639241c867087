//! Fuzzes the bulk constructor path: `unnamed_task` × n, `edges` with raw ids, limits and reservations.
#![no_main]

use kahn_test_support::fuzzing::edge_list::{check, EdgeListCase};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|case: EdgeListCase| {
    if let Err(finding) = check(&case) {
        panic!("{finding}\n{case:?}");
    }
});
