//! A wait list: tasks that sleep until something they wait for changes (a child of theirs
//! ended, for `wait4`; a pipe was written or read). A waiter notes the list's change
//! counter before it looks at what it waits for, and sleeps only if the counter has not
//! moved since: no notification falls between its look and its sleep.
//!
//! A notification with nobody asleep, the common case (every pipe `read` and `write`
//! notifies), is one atomic add and one load, no lock: the change counter and the count of
//! sleepers sit outside the lock. A waiter counts itself before it checks the counter, a
//! notifier moves the counter before it checks the sleepers, both with locked
//! read-modify-writes, so at least one of the two sees the other.

use super::block;
use crate::cpu::sync::IrqSpinLock;
use crate::errno::Errno;
use crate::proc::{NO_DEADLINE, Task};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering};

pub struct WaitList {
    /// Moves at every notification. 32 bits, compared for equality only: a waiter would
    /// have to be kept from running through exactly 2^32 changes between its look and its
    /// check to miss one.
    changes: AtomicU32,
    /// Tasks in `blocked`, or counting themselves in under its lock.
    sleepers: AtomicU32,
    blocked: IrqSpinLock<VecDeque<Arc<Task>>>,
}

impl Default for WaitList {
    fn default() -> Self {
        Self::new()
    }
}

impl WaitList {
    pub const fn new() -> Self {
        Self {
            changes: AtomicU32::new(0),
            sleepers: AtomicU32::new(0),
            blocked: IrqSpinLock::new(VecDeque::new()),
        }
    }

    /// The change counter, to pass to `wait` after looking.
    pub fn changes(&self) -> u32 {
        self.changes.load(Ordering::SeqCst)
    }

    /// Something changed: every waiter wakes and looks again.
    pub fn notify_all(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) == 0 {
            return;
        }
        let woken = {
            let mut blocked = self.blocked.lock();
            let woken = core::mem::take(&mut *blocked);
            self.sleepers
                .fetch_sub(woken.len() as u32, Ordering::SeqCst);
            woken
        };
        for task in woken {
            block::wake(&task);
        }
    }

    /// Sleeps until a change after `seen` (at once if there was one); `EINTR` when a
    /// signal or the process's end came instead.
    pub fn wait(&self, seen: u32) -> Result<(), Errno> {
        let mut blocked = self.blocked.lock();
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        if self.changes.load(Ordering::SeqCst) != seen {
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
            return Ok(());
        }
        let blocker = block::prepare_interruptible(NO_DEADLINE);
        let me = blocker.task().clone();
        blocked.push_back(me.clone());
        drop(blocked);
        blocker.sleep();
        // Gone from the queue whether woken by a change (the notifier took it out) or by a
        // signal (still in it).
        let mut blocked = self.blocked.lock();
        let before = blocked.len();
        blocked.retain(|t| !Arc::ptr_eq(t, &me));
        self.sleepers
            .fetch_sub((before - blocked.len()) as u32, Ordering::SeqCst);
        drop(blocked);
        if me.process.exiting.load(Ordering::SeqCst) || me.signal_deliverable() {
            return Err(Errno::EINTR);
        }
        Ok(())
    }
}
