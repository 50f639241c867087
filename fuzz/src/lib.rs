//! kahn's fuzz inputs and checks: the one copy that the cargo-fuzz targets and kahn's stable tests (`tests/all/`, which depend on this crate) both run.

pub mod fuzzing;
