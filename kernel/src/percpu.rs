//! Per-CPU blocks: one `#[repr(C)]` block per CPU, reached in O(1) through the GS segment
//! whose base is the block (each CPU's GDT has its own GS descriptor). The block holds the
//! CPU's id, its descriptor tables, its preemption count, its running task and its
//! counters. Other CPUs' blocks are reached through `cpu(i)` (for the summary and for
//! IPIs).

use crate::mm::temp::window::MAX_CPUS;
use arch::gdt::CpuTables;
use core::arch::asm;
use core::mem::offset_of;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};

/// Counters of one CPU.
#[derive(Default)]
pub struct CpuStats {
    pub context_switches: AtomicU64,
    pub preemptions: AtomicU64,
    pub syscalls: AtomicU64,
    pub timer_ticks: AtomicU64,
    /// IPIs received (reschedule, call-function, shootdown).
    pub ipis: AtomicU64,
    /// IPIs sent (each target of a call or a shootdown round counts one).
    pub ipis_sent: AtomicU64,
    /// TLB shootdown rounds this CPU initiated.
    pub shootdowns: AtomicU64,
    /// IPIs those rounds sent (part of `ipis_sent`).
    pub shootdown_ipis: AtomicU64,
}

impl CpuStats {
    pub const fn new() -> Self {
        Self {
            context_switches: AtomicU64::new(0),
            preemptions: AtomicU64::new(0),
            syscalls: AtomicU64::new(0),
            timer_ticks: AtomicU64::new(0),
            ipis: AtomicU64::new(0),
            ipis_sent: AtomicU64::new(0),
            shootdowns: AtomicU64::new(0),
            shootdown_ipis: AtomicU64::new(0),
        }
    }

    /// Adds one to `counter`.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// One CPU's block. `this` and `id` come first: the GS-relative loads below read them.
#[repr(C)]
pub struct PerCpu {
    this: AtomicPtr<PerCpu>,
    id: usize,
    /// The CPU's local APIC id (0 until the APIC is set up).
    pub apic_id: AtomicU32,
    preempt: AtomicU32,
    /// Set while `sched::with_current` lends out the running task (nesting would alias it).
    pub in_with_current: AtomicBool,
    /// The task running on this CPU (null in the idle loop), set by the scheduler at each
    /// switch under its table lock, so a system call finds its task without that global
    /// lock.
    pub current: AtomicPtr<crate::task::Task>,
    pub stats: CpuStats,
    pub tables: CpuTables,
}

const _: () = assert!(offset_of!(PerCpu, this) == 0);
const _: () = assert!(offset_of!(PerCpu, id) == 4);

impl PerCpu {
    const fn new(id: usize) -> Self {
        Self {
            this: AtomicPtr::new(core::ptr::null_mut()),
            id,
            apic_id: AtomicU32::new(0),
            preempt: AtomicU32::new(0),
            in_with_current: AtomicBool::new(false),
            current: AtomicPtr::new(core::ptr::null_mut()),
            stats: CpuStats::new(),
            tables: CpuTables::new(),
        }
    }

    pub fn id(&self) -> usize {
        self.id
    }
}

/// The boot CPU's block is static: it is needed before the heap exists.
static BOOT_CPU: PerCpu = PerCpu::new(0);

static CPUS: [AtomicPtr<PerCpu>; MAX_CPUS] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CPUS];

/// Installs `block` as the running CPU's block: loads its GDT (with GS pointing at the
/// block) and TSS. Other CPUs see it only once it is published.
///
/// # Safety
/// Once per CPU, first thing, interrupts off; `block` lives forever.
unsafe fn install(block: &'static PerCpu) {
    let me = block as *const PerCpu as *mut PerCpu;
    block.this.store(me, Ordering::Relaxed);
    // SAFETY: per the contract.
    unsafe {
        block.tables.load(
            block as *const PerCpu as u32,
            core::mem::size_of::<PerCpu>() as u32,
        )
    };
}

/// Registers the running CPU as online: from here on shootdowns and IPIs target it, so
/// its APIC id must be known and its IDT loaded.
pub fn publish() {
    let me = this();
    CPUS[me.id].store(me as *const PerCpu as *mut PerCpu, Ordering::Release);
}

/// Sets up the boot CPU's block.
///
/// # Safety
/// First thing on the boot CPU, once, interrupts off.
pub unsafe fn init_boot_cpu() {
    // SAFETY: per the contract.
    unsafe { install(&BOOT_CPU) };
    // Alone so far: nothing targets it before its APIC id is known.
    publish();
}

/// Creates and installs the block of CPU `id` on the running (application) processor.
///
/// # Safety
/// First thing on that CPU, once, interrupts off.
pub unsafe fn init_application_cpu(id: usize) {
    assert!(id < MAX_CPUS && id > 0);
    let block = alloc::boxed::Box::leak(alloc::boxed::Box::new(PerCpu::new(id)));
    // SAFETY: per the contract.
    unsafe { install(block) };
}

/// The running CPU's block.
#[inline]
pub fn this() -> &'static PerCpu {
    let p: *const PerCpu;
    // SAFETY: GS's base is this CPU's block, whose first word points at itself.
    unsafe { asm!("mov {}, gs:[0]", out(reg) p, options(nostack, preserves_flags, readonly)) };
    // SAFETY: blocks are never freed.
    unsafe { &*p }
}

/// The CPU this code runs on.
#[inline]
pub fn cpu_id() -> usize {
    let id: usize;
    // SAFETY: GS's base is this CPU's block; `id` is at offset 4.
    unsafe { asm!("mov {}, gs:[4]", out(reg) id, options(nostack, preserves_flags, readonly)) };
    id
}

/// CPU `id`'s block, if that CPU is up.
pub fn cpu(id: usize) -> Option<&'static PerCpu> {
    let p = CPUS.get(id)?.load(Ordering::Acquire);
    // SAFETY: registered blocks are never freed.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// Every CPU that is up.
pub fn online() -> impl Iterator<Item = &'static PerCpu> {
    (0..MAX_CPUS).filter_map(cpu)
}

/// Forbids switching this CPU to another task until the matching `preempt_enable`.
pub fn preempt_disable() {
    this().preempt.fetch_add(1, Ordering::Relaxed);
}

/// Ends a `preempt_disable`.
pub fn preempt_enable() {
    let before = this().preempt.fetch_sub(1, Ordering::Relaxed);
    assert!(before > 0, "preempt_enable without preempt_disable");
}

/// How many `preempt_disable`s are in force on this CPU.
pub fn preempt_count() -> u32 {
    this().preempt.load(Ordering::Relaxed)
}
