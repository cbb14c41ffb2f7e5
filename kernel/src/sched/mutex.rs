//! A sleeping lock: a task that finds it held blocks until the holder lets go, and the
//! holder may be preempted (or block) while it holds it. For a process's memory, which
//! every user copy holds for as long as the copy takes: with this lock a 64 KiB `write`
//! no longer keeps its CPU from switching.
//!
//! Outside a task (the boot code, the in-kernel tests) it spins. Never taken while a spin
//! lock is held (that would block with the preempt count raised): the scheduler asserts it.
//!
//! A release with nobody waiting takes no lock: the number of queued tasks sits beside
//! the flag. A waiter counts itself before its last try, a releaser clears the flag before
//! it reads the count, both with locked instructions, so either the waiter's try succeeds
//! or the releaser sees it and wakes it.

use super::block;
use crate::cpu::sync::IrqSpinLock;
use crate::proc::{NO_DEADLINE, Task};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

pub struct Mutex<T> {
    locked: AtomicBool,
    /// Tasks in `waiters`, or counting themselves in under its lock.
    queued: AtomicU32,
    /// Tasks blocked until it is free, oldest first.
    waiters: IrqSpinLock<VecDeque<Arc<Task>>>,
    data: UnsafeCell<T>,
}

// SAFETY: `data` is reached only through a guard, and one guard exists at a time (`locked`).
unsafe impl<T: Send> Sync for Mutex<T> {}
// SAFETY: as for Sync.
unsafe impl<T: Send> Send for Mutex<T> {}

/// Access to the data; the lock goes (and the oldest waiter wakes) when it is dropped.
pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
}

impl<T> Mutex<T> {
    pub const fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            queued: AtomicU32::new(0),
            waiters: IrqSpinLock::new(VecDeque::new()),
            data: UnsafeCell::new(value),
        }
    }

    fn try_take(&self) -> bool {
        self.locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Takes the lock, blocking (in a task) or spinning (elsewhere) while it is held.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        loop {
            if self.try_take() {
                return MutexGuard { mutex: self };
            }
            if !super::in_task() {
                crate::cpu::shootdown::serve();
                core::hint::spin_loop();
                continue;
            }
            let mut waiters = self.waiters.lock();
            // Counted, then again: a release before the count is seen by this try, one
            // after it sees the count and takes the waiters' lock to wake this task.
            self.queued.fetch_add(1, Ordering::SeqCst);
            if self.try_take() {
                self.queued.fetch_sub(1, Ordering::SeqCst);
                return MutexGuard { mutex: self };
            }
            let blocker = block::prepare(NO_DEADLINE);
            let me = blocker.task().clone();
            waiters.push_back(me.clone());
            drop(waiters);
            blocker.sleep();
            // Woken by a release (which dequeued this task) or by something else (the
            // process ending): either way no entry of this task may stay behind.
            let mut waiters = self.waiters.lock();
            let before = waiters.len();
            waiters.retain(|t| !Arc::ptr_eq(t, &me));
            self.queued
                .fetch_sub((before - waiters.len()) as u32, Ordering::SeqCst);
        }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        let mutex = self.mutex;
        mutex.locked.swap(false, Ordering::SeqCst);
        if mutex.queued.load(Ordering::SeqCst) == 0 {
            return;
        }
        let next = {
            let mut waiters = mutex.waiters.lock();
            let next = waiters.pop_front();
            if next.is_some() {
                mutex.queued.fetch_sub(1, Ordering::SeqCst);
            }
            next
        };
        if let Some(task) = next {
            super::wake(&task);
        }
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard is the only one (`locked`), so nothing writes meanwhile.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard is the only one (`locked`).
        unsafe { &mut *self.mutex.data.get() }
    }
}
