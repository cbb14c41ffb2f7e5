//! The lockup watchdog: every CPU's timer ticks (HZ times a second), so a CPU whose tick
//! count stops moving is spinning with interrupts off, or stopped. Once a second of its
//! own ticks each CPU looks at the others' counts and names, once, a CPU whose count has
//! not moved for [`STALL_MS`]: a hang then reads as "cpu 3 stopped answering" in the log
//! before the runner's timeout ends the run, not as silence. (Linux's hard-lockup
//! detector does the same job with NMIs; Tempest's check needs only the timer, so a hang
//! of every CPU at once is left to the runner's timeout.)

use super::percpu::{self, cpu_id};
use crate::mm::temp::window::MAX_CPUS;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// How long a CPU's tick count may stand still before it is named. Far above the longest
/// interrupts-off stretch the summary reports (tens of ms under TCG), and above the
/// shootdown's own 5 s acknowledgement timeout, which names a silent target first.
pub const STALL_MS: u32 = 10_000;

/// Per CPU: its tick count when last looked at, when (monotonic ms, wrapping) it last
/// moved, and whether its stall has been reported. 32 bits: a 64-bit atomic load or store
/// compiles to x87 `fild`/`fistp` on i586, and the kernel keeps off the FPU (its state is
/// the user task's).
static SEEN: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];
static MOVED_MS: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];
static REPORTED: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

/// Called from this CPU's timer tick with its own tick count: looks at the others once a
/// second.
pub fn tick(own_ticks: u64) {
    if !own_ticks.is_multiple_of(crate::time::HZ) {
        return;
    }
    let me = cpu_id();
    let now_ms = ((crate::time::monotonic_ns() / 1_000_000) as u32).max(1);
    for cpu in percpu::online().filter(|c| c.id() != me) {
        let id = cpu.id();
        let ticks = cpu.stats.timer_ticks.load(Ordering::Relaxed) as u32;
        if SEEN[id].swap(ticks, Ordering::Relaxed) != ticks
            || MOVED_MS[id].load(Ordering::Relaxed) == 0
        {
            MOVED_MS[id].store(now_ms, Ordering::Relaxed);
            if REPORTED[id].swap(false, Ordering::Relaxed) {
                log::warn!("watchdog: cpu {id} answers again");
            }
            continue;
        }
        let still = now_ms.wrapping_sub(MOVED_MS[id].load(Ordering::Relaxed));
        if still >= STALL_MS && !REPORTED[id].swap(true, Ordering::Relaxed) {
            log::error!(
                "watchdog: cpu {id} stopped answering: no timer interrupt for {still} ms (interrupts off, or halted), seen by cpu {me}"
            );
        }
    }
}
