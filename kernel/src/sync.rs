//! Irq-safe spin locks: interrupts stay off while the lock is held, so an interrupt
//! handler on the same CPU can never spin on a lock its own CPU holds; and a CPU spinning
//! for one answers TLB shootdowns, so a holder waiting for its acknowledgement cannot
//! deadlock with it.

use arch::cpu::IrqGuard;
use core::ops::{Deref, DerefMut};

/// A spin lock whose guard also keeps interrupts off on this CPU.
pub struct IrqSpinLock<T> {
    inner: spin::Mutex<T>,
}

/// Access to the data; interrupts come back (if they were on) when it is dropped.
pub struct IrqSpinGuard<'a, T> {
    // Field order matters: the lock is released before interrupts are restored.
    guard: spin::MutexGuard<'a, T>,
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
    pub fn lock(&self) -> IrqSpinGuard<'_, T> {
        let irq = IrqGuard::new();
        loop {
            if let Some(guard) = self.inner.try_lock() {
                return IrqSpinGuard { guard, _irq: irq };
            }
            crate::shootdown::serve();
            core::hint::spin_loop();
        }
    }

    /// Takes the lock if it is free.
    pub fn try_lock(&self) -> Option<IrqSpinGuard<'_, T>> {
        let irq = IrqGuard::new();
        self.inner
            .try_lock()
            .map(|guard| IrqSpinGuard { guard, _irq: irq })
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
