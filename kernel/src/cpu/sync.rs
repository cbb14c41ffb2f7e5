//! The kernel's spin locks. Both keep the holder on its CPU (the preempt count is raised
//! while held, so the scheduler never switches away from a lock holder):
//! - `IrqSpinLock` also keeps interrupts off, for data an interrupt handler touches too
//!   (run queues, temp windows, the heap); a CPU spinning for one answers TLB shootdowns,
//!   so a holder waiting for its acknowledgement cannot deadlock with it;
//! - `PreemptSpinLock` leaves interrupts on, for data only task context touches (a
//!   process's memory, the frame allocator): long holders (a 64 KiB user copy) then delay
//!   no interrupt, and a spinner takes shootdown IPIs as they come.

use crate::cpu::percpu::{preempt_disable, preempt_enable};
use arch::cpu::IrqGuard;
use core::ops::{Deref, DerefMut};

/// Raises the preempt count until dropped.
struct NoPreempt;

impl NoPreempt {
    fn new() -> Self {
        preempt_disable();
        NoPreempt
    }
}

impl Drop for NoPreempt {
    fn drop(&mut self) {
        preempt_enable();
    }
}

/// A spin lock whose guard also keeps interrupts off on this CPU.
pub struct IrqSpinLock<T> {
    inner: spin::Mutex<T>,
}

/// Access to the data; interrupts come back (if they were on) when it is dropped.
pub struct IrqSpinGuard<'a, T> {
    // Field order matters: the lock is released before interrupts are restored.
    guard: spin::MutexGuard<'a, T>,
    _preempt: NoPreempt,
    _irq: IrqGuard,
}

impl<T> IrqSpinLock<T> {
    pub const fn new(value: T) -> Self {
        Self {
            inner: spin::Mutex::new(value),
        }
    }

    /// Takes the lock. While it spins (interrupts off) it answers the TLB shootdowns aimed
    /// at this CPU: the holder may be waiting for exactly that (docs/tlb-shootdown.md).
    #[track_caller]
    pub fn lock(&self) -> IrqSpinGuard<'_, T> {
        self.lock_with(IrqGuard::new())
    }

    /// [`lock`](Self::lock) for a caller that runs with interrupts off already (and
    /// keeps them off until the guard is gone): the guard neither saves nor restores them.
    pub fn lock_irqs_off(&self) -> IrqSpinGuard<'_, T> {
        self.lock_with(IrqGuard::already_off())
    }

    #[inline]
    fn lock_with(&self, irq: IrqGuard) -> IrqSpinGuard<'_, T> {
        let preempt = NoPreempt::new();
        loop {
            if let Some(guard) = self.inner.try_lock() {
                return IrqSpinGuard {
                    guard,
                    _preempt: preempt,
                    _irq: irq,
                };
            }
            crate::cpu::shootdown::serve();
            core::hint::spin_loop();
        }
    }

    /// Takes the lock if it is free.
    #[track_caller]
    pub fn try_lock(&self) -> Option<IrqSpinGuard<'_, T>> {
        let irq = IrqGuard::new();
        let preempt = NoPreempt::new();
        self.inner.try_lock().map(|guard| IrqSpinGuard {
            guard,
            _preempt: preempt,
            _irq: irq,
        })
    }

    /// Whether some CPU holds the lock (for reports; racy by nature).
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }
}

impl<T> Deref for IrqSpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for IrqSpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

/// A spin lock that keeps its holder from being preempted but leaves interrupts on. Never
/// taken by an interrupt handler.
pub struct PreemptSpinLock<T> {
    inner: spin::Mutex<T>,
}

/// Access to the data; preemption comes back when it is dropped.
pub struct PreemptSpinGuard<'a, T> {
    // Field order matters: the lock is released before preemption is allowed again.
    guard: spin::MutexGuard<'a, T>,
    _preempt: NoPreempt,
}

impl<T> PreemptSpinLock<T> {
    pub const fn new(value: T) -> Self {
        Self {
            inner: spin::Mutex::new(value),
        }
    }

    /// Takes the lock, spinning (with interrupts as they were) while another CPU holds it.
    pub fn lock(&self) -> PreemptSpinGuard<'_, T> {
        let preempt = NoPreempt::new();
        loop {
            if let Some(guard) = self.inner.try_lock() {
                return PreemptSpinGuard {
                    guard,
                    _preempt: preempt,
                };
            }
            // With interrupts off (a caller that is itself inside an irq-safe section),
            // shootdown IPIs cannot arrive: answer them here.
            crate::cpu::shootdown::serve();
            core::hint::spin_loop();
        }
    }

    /// Whether some CPU holds the lock (for reports; racy by nature).
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }
}

impl<T> Deref for PreemptSpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for PreemptSpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}
