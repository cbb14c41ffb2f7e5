//! A process's LDT and how a change reaches every CPU (`modify_ldt`; the tables themselves
//! are `crate::ldt`).
//!
//! The CPU reads a descriptor from the table in memory whenever a segment register is
//! loaded with its selector, and `lldt` caches the table's address and limit. So a table a
//! CPU may have loaded is never written: a change publishes a new copy, then interrupts
//! every CPU that has the process loaded (its `active` CPUs: running a thread of it, or
//! idle after one, like a TLB shootdown's targets) and has each load the new table, and
//! only when all have is the old copy freed. A thread running on another CPU with a
//! segment register naming an entry just cleared comes back from that interrupt through
//! `iret`, which reloads its segments from the new table and faults: SIGSEGV's cousin
//! SIGILL, as on Linux i386 (`arch::trap::fix_return_fault`).
//!
//! Why it is safe against a CPU switching to the process meanwhile: `activate` sets the
//! CPU's bit in `active` and then reads the table; a writer publishes and then reads
//! `active` (both sequentially consistent). A CPU that read the old table had its bit set
//! before the writer looked, so the writer interrupts it, after its switch (interrupts are
//! off throughout), and waits for it before freeing the old table.

use crate::cpu::percpu;
use crate::ldt::Table;
use crate::sched::mutex::Mutex;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};

/// Negative control (`no-ldt-ipi`): a change reaches only the calling CPU; the others keep
/// the table they had loaded until their next switch to the process.
static IPI_OFF: AtomicBool = AtomicBool::new(false);

/// Turns the cross-CPU LDT reload off (negative control).
pub fn disable_ipi() {
    log::warn!("no-ldt-ipi: modify_ldt reloads the LDT on the calling CPU only (negative control)");
    IPI_OFF.store(true, Ordering::Relaxed);
}

/// A process's LDT: none until `modify_ldt` writes one.
pub struct Ldt {
    /// The published table (null: none), owned: a `Box::into_raw`.
    table: AtomicPtr<Table>,
    /// Serializes writers (reads of the user's descriptor and copies run under it).
    writer: Mutex<()>,
}

impl Default for Ldt {
    fn default() -> Self {
        Self::new()
    }
}

impl Ldt {
    pub const fn new() -> Self {
        Self {
            table: AtomicPtr::new(core::ptr::null_mut()),
            writer: Mutex::new(()),
        }
    }

    /// Makes this LDT the running CPU's (in `Process::activate`, after the CPU's bit is set
    /// in the process's `active`; and in the change's interrupt).
    ///
    /// # Safety
    /// Interrupts are off, and this CPU's bit is set in the `active` mask of the process
    /// that owns `self` until the CPU loads another LDT (`Process::deactivate` comes after
    /// the next `activate`): the table it loads is freed only after this CPU was
    /// interrupted to load its successor.
    pub unsafe fn load_here(&self) {
        let table = self.table.load(Ordering::SeqCst);
        // SAFETY: a published table lives until every CPU with the process loaded has
        // moved on (the contract, and `set`).
        let ldt = unsafe { table.as_ref() }.map(|t| {
            let e = t.entries();
            (e.as_ptr() as u32, e.len())
        });
        // SAFETY: interrupts are off (the contract); the table holds descriptors built by
        // `UserDesc::to_ldt_descriptor` (DPL 3, never system segments).
        unsafe { percpu::this().tables.load_ldt(ldt) };
    }

    /// Runs `f` on the current table (none: `None`), with writers kept out.
    pub fn read<R>(&self, f: impl FnOnce(Option<&Table>) -> R) -> R {
        let _writer = self.writer.lock();
        // SAFETY: only a writer replaces and frees the table, and it waits for the lock.
        f(unsafe { self.table.load(Ordering::SeqCst).as_ref() })
    }

    /// Replaces the table with what `f` makes of the current one (`None`: no table), and
    /// returns once every CPU with the process loaded (`active`, the process's mask) has
    /// loaded the new one.
    pub fn update<E>(
        &self,
        active: &AtomicU32,
        f: impl FnOnce(Option<&Table>) -> Result<Option<Table>, E>,
    ) -> Result<(), E> {
        let _writer = self.writer.lock();
        // SAFETY: as in `read`.
        let new = f(unsafe { self.table.load(Ordering::SeqCst).as_ref() })?;
        let new = new.map_or(core::ptr::null_mut(), |t| Box::into_raw(Box::new(t)));
        let old = self.table.swap(new, Ordering::SeqCst);
        self.reload_everywhere(active);
        if !old.is_null() {
            // SAFETY: published by this type with `Box::into_raw`, unpublished above, and
            // no CPU has it loaded any more (`reload_everywhere` waited for all).
            drop(unsafe { Box::from_raw(old) });
        }
        Ok(())
    }

    /// Every CPU that has the process loaded loads the published table, this one included.
    fn reload_everywhere(&self, active: &AtomicU32) {
        // From reading the targets to the end of the round on one CPU (the caller may be
        // preempted and moved otherwise).
        let _irq = arch::cpu::IrqGuard::new();
        let me = percpu::cpu_id();
        // After the swap (sequentially consistent): see the module's comment.
        let targets = active.load(Ordering::SeqCst);
        if IPI_OFF.load(Ordering::Relaxed) {
            if targets & (1 << me) != 0 {
                // SAFETY: interrupts off; this CPU has the process loaded.
                unsafe { self.load_here() };
            }
            return;
        }
        let cpus: Vec<usize> = (0..32).filter(|c| targets & (1 << c) != 0).collect();
        let change = Change { ldt: self, active };
        let arg = &change as *const Change as usize;
        if let Err(silent) = crate::cpu::ipi::call_on_cpus(&cpus, reload_if_loaded, arg) {
            // The old table must not be freed under a CPU that may still use it, and one
            // that does not answer within seconds is stuck: stop with its name.
            panic!("LDT change: {silent}");
        }
    }

    /// Drops the table (`execve`): the process starts its new program with none.
    pub fn clear(&self, active: &AtomicU32) {
        let _ = self.update::<()>(active, |_| Ok(None));
    }

    /// A copy of `other`'s table for a new process (`fork`), loaded nowhere yet.
    pub fn copy_from(&self, other: &Ldt) {
        let copy = other.read(|t| t.cloned());
        if let Some(copy) = copy {
            let old = self
                .table
                .swap(Box::into_raw(Box::new(copy)), Ordering::SeqCst);
            debug_assert!(old.is_null(), "a new process has no LDT yet");
        }
    }
}

impl Drop for Ldt {
    fn drop(&mut self) {
        let table = *self.table.get_mut();
        if !table.is_null() {
            // SAFETY: published by this type with `Box::into_raw`; the process is being
            // freed, so no CPU has it loaded (`Process::drop` checks `active`), and every
            // CPU that had it loaded has loaded another LDT since.
            drop(unsafe { Box::from_raw(table) });
        }
    }
}

/// What the change's interrupt is given: the LDT and its process's `active` mask.
struct Change<'a> {
    ldt: &'a Ldt,
    active: &'a AtomicU32,
}

/// The change's interrupt: if this CPU still has the process loaded (its bit in `active`:
/// outside a switch, which runs with interrupts off, the bit says exactly that), it loads
/// the new table.
fn reload_if_loaded(change: usize) {
    // SAFETY: the writer keeps the `Change` on its stack until every target has returned
    // from this call.
    let change = unsafe { &*(change as *const Change) };
    if change.active.load(Ordering::SeqCst) & (1 << percpu::cpu_id()) != 0 {
        // SAFETY: in the call interrupt (interrupts off); this CPU has the process loaded.
        unsafe { change.ldt.load_here() };
    }
}
