//! Fuzzes the petgraph import: hostile `StableDiGraph`s (self-loops, parallel edges, removed nodes, repeated names) through `add_petgraph`, against the reference model and petgraph.
#![no_main]

use kahn_test_support::fuzzing::petgraph_import::{check, PetgraphCase};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|case: PetgraphCase| {
    if let Err(finding) = check(&case) {
        panic!("{finding}\n{case:?}");
    }
});
