//! Fuzzes runs of small DAGs with failing, panicking, slow and cancelling tasks, resources with capacities, and up to three runs at once on one executor, against the run oracle.
#![no_main]

use kahn_test_support::fuzzing::execute::{check, ExecCase};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|case: ExecCase| {
    if let Err(finding) = check(&case) {
        panic!("{finding}\n{case:?}");
    }
});
