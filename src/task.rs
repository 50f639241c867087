//! Task bodies: user closures moved into the arena behind one erased type.

use bumpalo::boxed::Box as BumpBox;
use bumpalo::Bump;

use crate::context::TaskContext;
use crate::error::BoxError;

/// What every task body looks like once erased: a shared closure that may run
/// on any worker, and on several runs of the same graph at once.
pub(crate) type TaskFn<'a, T> =
    dyn Fn(&TaskContext<'_, T>) -> Result<T, BoxError> + Send + Sync + 'a;

/// A task body owned by the arena. Unlike a reference from `Bump::alloc`,
/// dropping this box runs the closure's destructor, so captured `Arc`s,
/// `String`s and files are released when the graph (or builder) is dropped.
pub(crate) type TaskBox<'a, T> = BumpBox<'a, TaskFn<'a, T>>;

/// Moves `body` into `bump` and erases its type.
pub(crate) fn alloc_task<'a, T, F>(bump: &'a Bump, body: F) -> TaskBox<'a, T>
where
    F: Fn(&TaskContext<'_, T>) -> Result<T, BoxError> + Send + Sync + 'a,
{
    let body: &'a mut F = bump.alloc(body);
    let erased: *mut TaskFn<'a, T> = body;
    // bumpalo's `Box` drops the value in place and never frees the memory,
    // which stays the bump's until it is rewound.
    // SAFETY: `erased` points at a value just moved into `bump`, alive for `'a`
    // (the bump cannot be rewound while `'a` borrows it); the `&mut` it came
    // from was consumed, so this box is its only owner.
    unsafe { BumpBox::from_raw(erased) }
}
