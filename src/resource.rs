//! Resources with capacities that tasks declare they use (a database that
//! takes four connections, an API that allows two calls at once): at most
//! the capacity is held at once, by tasks of any graph and any run.
//!
//! A task waiting for a resource holds no worker: it is parked in the
//! resource's wait list and its worker moves on; when units are released,
//! the first waiters that the freed units can serve are handed back to
//! their runs (each run's [`Inbox`]) to try again. A task that uses several
//! resources takes all of them or none, with every resource it uses locked
//! at once in one global order (by creation): no task ever holds some units
//! while it waits for others, so tasks cannot deadlock each other over
//! resources.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::sync::atomic::{AtomicUsize, Ordering};

/// A resource of limited capacity, shared by cloning (clones are the same
/// resource). Declare that a task uses it with
/// [`GraphBuilder::uses`](crate::GraphBuilder::uses).
///
/// ```
/// use kahn::{Arena, Executor, Resource};
///
/// let database = Resource::new("postgres", 4); // four connections
/// let mut arena = Arena::new();
/// let mut b = arena.builder::<()>();
/// for table in ["users", "orders", "items", "prices", "stock", "returns"] {
///     b.task(table, |_| Ok(()))?; // each loads one table
///     b.uses(table, &database)?;
/// }
/// let graph = b.build()?;
/// assert!(Executor::with_threads(8)?.run(&graph).is_success()); // never more than 4 at once
/// assert_eq!(database.in_use(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Resource(Arc<ResourceState>);

struct ResourceState {
    name: String,
    capacity: u32,
    /// Creation order: resources are locked in this order.
    serial: u64,
    /// A `std` lock even under loom: what it guards is plain data, and no
    /// loom operation happens while it is held, so loom sees each critical
    /// section as one step (and a resource can be made outside a model).
    state: Mutex<Holding>,
}

/// Who holds a resource and who waits for it.
struct Holding {
    in_use: u32,
    waiters: VecDeque<Waiter>,
}

/// A parked task: `units` of the resource it waits on, in its run's inbox.
struct Waiter {
    task: u32,
    units: u32,
    inbox: Arc<Inbox>,
}

impl Resource {
    /// A resource called `name` (for messages) of which at most `capacity`
    /// units are in use at once. Tasks that use it must each ask for at
    /// most `capacity` units (checked when they declare it), so a resource
    /// of capacity 0 can be used by no task.
    pub fn new(name: impl Into<String>, capacity: u32) -> Resource {
        static SERIALS: AtomicU64 = AtomicU64::new(0);
        Resource(Arc::new(ResourceState {
            name: name.into(),
            capacity,
            serial: SERIALS.fetch_add(1, Ordering::Relaxed),
            state: Mutex::new(Holding {
                in_use: 0,
                waiters: VecDeque::new(),
            }),
        }))
    }

    /// The name it was created with.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// How many units may be in use at once.
    pub fn capacity(&self) -> u32 {
        self.0.capacity
    }

    /// How many units are in use now (a snapshot).
    pub fn in_use(&self) -> u32 {
        self.lock().in_use
    }

    /// How many tasks are waiting for it now (a snapshot).
    pub fn waiting(&self) -> usize {
        self.lock().waiters.len()
    }

    pub(crate) fn serial(&self) -> u64 {
        self.0.serial
    }

    /// The resource's identity (clones share it), while it is alive.
    pub(crate) fn key(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    fn lock(&self) -> MutexGuard<'_, Holding> {
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resource")
            .field("name", &self.0.name)
            .field("capacity", &self.0.capacity)
            .finish_non_exhaustive()
    }
}

/// One task's use of one resource: an index into the graph's resources.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Use {
    pub(crate) resource: u32,
    pub(crate) units: u32,
}

/// The resources of a compiled graph and which tasks use what, by task:
/// `uses[off[v]..off[v + 1]]`, each list in locking order.
#[derive(Debug)]
pub(crate) struct ResourceTable<'a> {
    pub(crate) resources: Box<[Resource]>,
    pub(crate) off: &'a [u32],
    pub(crate) uses: &'a [Use],
}

impl ResourceTable<'_> {
    /// What task `v` uses; empty for most tasks.
    #[inline]
    pub(crate) fn uses_of(&self, v: u32) -> &[Use] {
        let v = v as usize;
        &self.uses[self.off[v] as usize..self.off[v + 1] as usize]
    }

    /// Takes everything task `v` uses, or nothing: `true` if it may run now;
    /// `false` if it was parked on the first resource short of units, to be
    /// handed back to `inbox` when units are released.
    pub(crate) fn try_acquire(&self, v: u32, inbox: &Arc<Inbox>) -> bool {
        let uses = self.uses_of(v);
        // Locked in the table's order, which is the resources' creation
        // order, the same for every graph: no lock-order inversion.
        let mut guards: Vec<MutexGuard<'_, Holding>> = uses
            .iter()
            .map(|u| self.resources[u.resource as usize].lock())
            .collect();
        let short = uses.iter().zip(&guards).position(|(u, held)| {
            u.units > self.resources[u.resource as usize].capacity() - held.in_use
        });
        match short {
            None => {
                for (u, held) in uses.iter().zip(guards.iter_mut()) {
                    held.in_use += u.units;
                }
                true
            }
            Some(i) => {
                // Registered while the resource is locked: a release after
                // this sees the waiter.
                guards[i].waiters.push_back(Waiter {
                    task: v,
                    units: uses[i].units,
                    inbox: Arc::clone(inbox),
                });
                false
            }
        }
    }

    /// Gives back what task `v` took, and hands to their runs the first
    /// waiters that the freed units can serve.
    pub(crate) fn release(&self, v: u32) {
        for u in self.uses_of(v) {
            wake_front(&self.resources[u.resource as usize], u.units);
        }
    }

    /// Passes on a wake-up that task `v` will not use: it was handed back
    /// by a release, which counted free units as its own, and was then
    /// cancelled (its run stopped) or parked again (another resource was
    /// short). Whoever waits behind it and fits in what is free now is
    /// handed back in its place; without this, a waiter of another run
    /// could stay parked with the resource free, and that run never end.
    pub(crate) fn pass_on(&self, v: u32) {
        for u in self.uses_of(v) {
            wake_front(&self.resources[u.resource as usize], 0);
        }
    }
    /// Takes every waiter of `inbox`'s run off the wait lists (the run has
    /// stopped) and hands them back, to be recorded cancelled.
    pub(crate) fn withdraw(&self, inbox: &Arc<Inbox>) {
        for resource in self.resources.iter() {
            let gone: Vec<Waiter> = {
                let mut held = resource.lock();
                let mut gone = Vec::new();
                held.waiters.retain_mut(|w| {
                    let mine = Arc::ptr_eq(&w.inbox, inbox);
                    if mine {
                        gone.push(Waiter {
                            task: w.task,
                            units: w.units,
                            inbox: Arc::clone(&w.inbox),
                        });
                    }
                    !mine
                });
                if !gone.is_empty() {
                    // A withdrawn waiter may have held back others that fit.
                    let woken = wake_locked(resource, &mut held);
                    drop(held);
                    for waiter in woken {
                        waiter.inbox.hand_back(waiter.task, true);
                    }
                }
                gone
            };
            for waiter in gone {
                inbox.hand_back(waiter.task, false);
            }
        }
    }
}

/// Gives `units` of `resource` back, and hands to their runs the first
/// waiters that the units now free can serve (first come, first served: a
/// waiter that does not fit holds back those behind it).
fn wake_front(resource: &Resource, units: u32) {
    let mut units = units;
    loop {
        let woken: Vec<Waiter> = {
            let mut held = resource.lock();
            held.in_use -= units;
            wake_locked(resource, &mut held)
        };
        units = 0;
        // Outside the lock: a woken task retries on its own run's workers, and
        // parks again if another resource is short.
        let mut unserved = false;
        for waiter in woken {
            unserved |= !waiter.inbox.hand_back(waiter.task, true);
        }
        // A woken task whose run could not call a worker (every thread is
        // busy, perhaps in nested runs waiting for this resource) must not
        // keep the units from those behind it.
        if !unserved {
            return;
        }
    }
}

fn wake_locked(resource: &Resource, held: &mut Holding) -> Vec<Waiter> {
    let mut free = resource.capacity() - held.in_use;
    let mut woken = Vec::new();
    while let Some(front) = held.waiters.front() {
        if front.units > free {
            break;
        }
        free -= front.units;
        woken.extend(held.waiters.pop_front());
    }
    woken
}

/// Where tasks that waited for resources come back to their run: parked
/// tasks handed back by a release (to try again) or by a stop (to be
/// cancelled), and what wakes the run's workers for them.
pub(crate) struct Inbox {
    returned: crate::sync::Mutex<VecDeque<Returned>>,
    /// A hint for the hot path: how many are queued.
    queued: AtomicUsize,
    /// Called after a hand-back, to wake or call a worker of the run.
    wake: Box<dyn Fn() -> bool + Send + Sync>,
}

/// A parked task back from a resource's wait list.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Returned {
    pub(crate) task: u32,
    /// `false` if it came back because the run stopped.
    pub(crate) retry: bool,
    /// Not a parked task: a task of another part, whose outcome a part
    /// run's feed holds (see `part.rs`).
    pub(crate) remote: bool,
}

impl Inbox {
    pub(crate) fn new(wake: Box<dyn Fn() -> bool + Send + Sync>) -> Inbox {
        Inbox {
            returned: crate::sync::Mutex::new(VecDeque::new()),
            queued: AtomicUsize::new(0),
            wake,
        }
    }

    fn hand_back(&self, task: u32, retry: bool) -> bool {
        self.put(Returned {
            task,
            retry,
            remote: false,
        });
        (self.wake)()
    }

    fn put(&self, returned: Returned) {
        self.returned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(returned);
        self.queued.fetch_add(1, Ordering::SeqCst);
    }

    /// Hands in remote task `task`, whose outcome a part run's feed holds,
    /// and wakes or calls a worker for it.
    pub(crate) fn hand_back_remote(&self, task: u32) -> bool {
        self.queue_remote(task);
        (self.wake)()
    }

    /// Queues remote task `task` without waking anyone: for a run that has
    /// not started, whose first worker will find it.
    pub(crate) fn queue_remote(&self, task: u32) {
        self.put(Returned {
            task,
            retry: true,
            remote: true,
        });
    }

    /// Wakes or calls a worker of the run, as a hand-back does: for a task
    /// that comes back by another way (a retry that fell due).
    pub(crate) fn call_worker(&self) -> bool {
        (self.wake)()
    }

    /// Whether anything came back (a hint; `take` says for sure).
    #[inline]
    pub(crate) fn has_returned(&self) -> bool {
        self.queued.load(Ordering::SeqCst) > 0
    }

    /// The oldest task that came back, if any.
    pub(crate) fn take(&self) -> Option<Returned> {
        let returned = self
            .returned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
        if returned.is_some() {
            self.queued.fetch_sub(1, Ordering::SeqCst);
        }
        returned
    }
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("queued", &self.has_returned())
            .finish_non_exhaustive()
    }
}
