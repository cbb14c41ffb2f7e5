//! TLB shootdown: when a mapping that other CPUs may have cached changes, the initiator
//! posts one request (smp::shootdown's board), interrupts exactly the CPUs that may cache
//! it, flushes its own TLB meanwhile, and waits for every acknowledgement before the
//! caller frees what the old translations pointed at. docs/tlb-shootdown.md has the
//! protocol and the memory-ordering argument.
//!
//! Temp mappings never come here: a slot is only ever in its own CPU's TLB.

use crate::cpu::apic::SHOOTDOWN_VECTOR;
use crate::cpu::percpu::{self, CpuStats, cpu_id};
use arch::lapic::{self, Kind, Target};
use core::sync::atomic::{AtomicBool, Ordering};
use smp::shootdown::MAX_CPUS;
use smp::shootdown::{Board, Flush, Request, Space};

static BOARD: Board = Board::new();

/// Above this many pages a round reloads CR3 instead of `invlpg` page by page. Set from
/// `bench=flush-ceiling` (docs/tlb-shootdown.md): at 4 CPUs under TCG a range of 64 pages
/// was cheaper than a full flush plus its refills in every run, and 128 dearer. (Linux uses
/// 33 on hardware; re-measure there with the same workload.)
pub const CEILING: u32 = 64;

/// How long targets may take to acknowledge before the initiator panics naming them.
const ACK_TIMEOUT_MS: u64 = 5_000;

/// Negative control (`no-remote-flush` on the command line): targets acknowledge without
/// flushing. The stale-translation tests must then fail.
static REMOTE_FLUSH_OFF: AtomicBool = AtomicBool::new(false);

/// Negative control (`shootdown-running-only`): a user space's rounds target only the CPUs
/// running one of its threads now, forgetting CPUs idle with the space still loaded.
static RUNNING_ONLY: AtomicBool = AtomicBool::new(false);

/// Makes rounds forget lazy CPUs (the negative control of the lazy-TLB test).
pub fn target_running_only() {
    log::warn!(
        "shootdown-running-only: rounds skip CPUs idle with the space loaded (negative control)"
    );
    RUNNING_ONLY.store(true, Ordering::Relaxed);
}

/// Whether the lazy-TLB negative control is on.
pub fn running_only() -> bool {
    RUNNING_ONLY.load(Ordering::Relaxed)
}

/// Switches remote flushing off (the negative control).
pub fn disable_remote_flush() {
    log::warn!(
        "no-remote-flush: shootdown targets acknowledge without flushing (negative control)"
    );
    REMOTE_FLUSH_OFF.store(true, Ordering::Relaxed);
}

/// Whether the negative control is on.
pub fn remote_flush_disabled() -> bool {
    REMOTE_FLUSH_OFF.load(Ordering::Relaxed)
}

fn online_mask() -> u32 {
    percpu::online().fold(0, |m, c| m | (1 << c.id()))
}

/// Invalidates `flush` of `space` on this CPU and on the CPUs that may cache it (`active`:
/// those that have a user space loaded; the kernel's space: every online CPU), in one
/// round, and returns when all have acknowledged.
pub fn shootdown(space: Space, targets: u32, flush: Flush) {
    shootdown_as_given(space, targets, flush.with_ceiling(CEILING));
}

/// `shootdown` without the ceiling: a range stays a range however long (the ceiling
/// measurement compares both kinds at every size).
pub fn shootdown_as_given(space: Space, targets: u32, flush: Flush) {
    // The whole round with interrupts off: an interrupt handler on this CPU may start a
    // round of its own (a global-pool mapping), and this CPU has one board slot.
    let _irq = arch::cpu::IrqGuard::new();
    let me = cpu_id();
    let targets = smp::shootdown::targets(space, targets, online_mask(), me);
    let stats = &percpu::this().stats;
    CpuStats::bump(&stats.shootdowns);
    if targets != 0 {
        BOARD.post(me, targets, space, flush);
        for cpu in (0..MAX_CPUS).filter(|c| targets & (1 << c) != 0) {
            let apic = percpu::cpu(cpu).map_or(0, |c| c.apic_id.load(Ordering::Relaxed));
            // SAFETY: a fixed-vector IPI to an online CPU; `lapic::send` fences the board's
            // stores before the ICR write.
            unsafe { lapic::send(Target::Cpu(apic), Kind::Fixed(SHOOTDOWN_VECTOR)) };
            CpuStats::bump(&stats.ipis_sent);
            CpuStats::bump(&stats.shootdown_ipis);
        }
    }
    flush_here(space, flush);
    if targets == 0 {
        return;
    }
    let deadline = arch::cpu::rdtsc() + crate::time::tsc_per_ms() * ACK_TIMEOUT_MS;
    while let Err(silent) = BOARD.done(me) {
        if arch::cpu::rdtsc() > deadline {
            panic!(
                "TLB shootdown: cpu {} did not acknowledge within {ACK_TIMEOUT_MS} ms (waiting for mask {:#x})",
                silent.first(),
                silent.0
            );
        }
        // Serve rounds aimed at this CPU meanwhile: two initiators waiting on each other
        // both make progress.
        serve();
        core::hint::spin_loop();
    }
}

/// Serves the rounds aimed at this CPU (the shootdown vector's handler, and initiators
/// while they wait).
pub fn serve() {
    let off = remote_flush_disabled();
    BOARD.serve(cpu_id(), |r: &Request| {
        if !off {
            flush_here(r.space, r.flush);
        }
    });
}

/// Applies a flush to this CPU's TLB. A user space's translations are only here while its
/// directory is loaded (a CR3 load drops every non-global entry).
fn flush_here(space: Space, flush: Flush) {
    if let Space::User { directory } = space
        && arch::cpu::cr3() != directory
    {
        return;
    }
    match flush {
        Flush::Range { .. } | Flush::List { .. } => {
            for page in flush.pages() {
                // SAFETY: dropping a translation only forces a table walk.
                unsafe { arch::cpu::invlpg(page as usize) };
            }
        }
        // Kernel mappings may be global (the direct map): flush those too.
        Flush::All if space == Space::Kernel => arch::cpu::flush_tlb_including_global(),
        Flush::All => arch::cpu::flush_tlb(),
    }
}

#[path = "shootdown_tests.rs"]
mod tests;
