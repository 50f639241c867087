//! A run's own input: one value every task of that run reads, so one compiled graph serves many batches at once.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// The value [`RunOptions::input`](crate::RunOptions::input) gives a run,
/// shared by its tasks (an `Arc`: cloning the options or starting the run
/// does not copy it).
#[derive(Clone)]
pub(crate) struct RunInput {
    value: Arc<dyn Any + Send + Sync>,
    /// For errors that say what was given.
    type_name: &'static str,
}

impl RunInput {
    pub(crate) fn new<I: Any + Send + Sync>(value: I) -> RunInput {
        RunInput {
            value: Arc::new(value),
            type_name: std::any::type_name::<I>(),
        }
    }

    /// The value, if it is an `I`.
    pub(crate) fn get<I: Any>(&self) -> Option<&I> {
        self.value.downcast_ref()
    }

    pub(crate) fn type_name(&self) -> &'static str {
        self.type_name
    }
}

impl fmt::Debug for RunInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RunInput({})", self.type_name)
    }
}
