//! kahn's fuzz inputs and checks, compiled from the one copy in `tests/all/fuzzing` that the stable tests use too.

#[path = "../../tests/all/fuzzing/mod.rs"]
pub mod fuzzing;
