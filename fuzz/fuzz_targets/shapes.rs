//! Fuzzes `Shape` parsing from any string and generation at any `u16` size.
#![no_main]

use kahn_fuzz::fuzzing::shapes::{check, ShapeCase};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|case: ShapeCase| {
    if let Err(finding) = check(&case) {
        panic!("{finding}\n{case:?}");
    }
});
