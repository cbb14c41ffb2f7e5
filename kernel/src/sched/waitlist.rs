//! A wait list: tasks that sleep until something they wait for changes (a child of theirs
//! ended, for `wait4`). A waiter notes the list's change counter before it looks at what
//! it waits for, and sleeps only if the counter has not moved since: no notification falls
//! between its look and its sleep.

use super::block;
use crate::cpu::sync::IrqSpinLock;
use crate::errno::Errno;
use crate::proc::{NO_DEADLINE, Task};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::sync::atomic::Ordering;

#[derive(Default)]
struct Inner {
    changes: u64,
    blocked: VecDeque<Arc<Task>>,
}

pub struct WaitList {
    inner: IrqSpinLock<Inner>,
}

impl Default for WaitList {
    fn default() -> Self {
        Self::new()
    }
}

impl WaitList {
    pub fn new() -> Self {
        Self {
            inner: IrqSpinLock::new(Inner::default()),
        }
    }

    /// The change counter, to pass to `wait` after looking.
    pub fn changes(&self) -> u64 {
        self.inner.lock().changes
    }

    /// Something changed: every waiter wakes and looks again.
    pub fn notify_all(&self) {
        let woken = {
            let mut inner = self.inner.lock();
            inner.changes += 1;
            core::mem::take(&mut inner.blocked)
        };
        for task in woken {
            block::wake(&task);
        }
    }

    /// Sleeps until a change after `seen` (at once if there was one); `EINTR` when a
    /// signal or the process's end came instead.
    pub fn wait(&self, seen: u64) -> Result<(), Errno> {
        let mut inner = self.inner.lock();
        if inner.changes != seen {
            return Ok(());
        }
        let blocker = block::prepare_interruptible(NO_DEADLINE);
        let me = blocker.task().clone();
        inner.blocked.push_back(me.clone());
        drop(inner);
        blocker.sleep();
        self.inner.lock().blocked.retain(|t| !Arc::ptr_eq(t, &me));
        if me.process.exiting.load(Ordering::SeqCst) || me.signal_deliverable() {
            return Err(Errno::EINTR);
        }
        Ok(())
    }
}
