//! Per-CPU state the rest of the kernel reaches by CPU id: the id itself and the
//! preemption count. Only the boot CPU runs until SMP bring-up, which will move this behind
//! a GS-based per-CPU block.

use crate::mm::temp::window::MAX_CPUS;
use core::sync::atomic::{AtomicU32, Ordering};

/// The CPU this code runs on.
pub fn cpu_id() -> usize {
    0
}

#[allow(clippy::declare_interior_mutable_const)] // only used to build the array below
const ZERO: AtomicU32 = AtomicU32::new(0);
static PREEMPT: [AtomicU32; MAX_CPUS] = [ZERO; MAX_CPUS];

/// Forbids switching this CPU to another task until the matching `preempt_enable`.
pub fn preempt_disable() {
    PREEMPT[cpu_id()].fetch_add(1, Ordering::Relaxed);
}

/// Ends a `preempt_disable`.
pub fn preempt_enable() {
    let before = PREEMPT[cpu_id()].fetch_sub(1, Ordering::Relaxed);
    assert!(before > 0, "preempt_enable without preempt_disable");
}

/// How many `preempt_disable`s are in force on this CPU.
pub fn preempt_count() -> u32 {
    PREEMPT[cpu_id()].load(Ordering::Relaxed)
}
