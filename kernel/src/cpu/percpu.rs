//! Per-CPU blocks: one `#[repr(C)]` block per CPU, reached in O(1) through the GS segment
//! whose base is the block (each CPU's GDT has its own GS descriptor). The block holds the
//! CPU's id, its descriptor tables, its preemption count, the scheduler's word for its
//! running task (opaque here: the scheduler sits above this module) and its counters.
//! Other CPUs' blocks are reached through `cpu(i)` (for the summary and for IPIs).

use arch::atomic64::AtomicU64;
use arch::gdt::CpuTables;
use arch::tally::Tally;
use core::arch::asm;
use core::mem::offset_of;
use core::panic::Location;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use smp::shootdown::MAX_CPUS;

/// Counters of one CPU.
#[derive(Default)]
pub struct CpuStats {
    /// Added to by this CPU alone, with interrupts off (at the switch).
    pub context_switches: Tally,
    pub preemptions: AtomicU64,
    /// Added to by this CPU alone, with interrupts off (at the call's entry).
    pub syscalls: Tally,
    pub timer_ticks: AtomicU64,
    /// IPIs received (reschedule, call-function, shootdown).
    pub ipis: AtomicU64,
    /// IPIs sent (each target of a call or a shootdown round counts one).
    pub ipis_sent: AtomicU64,
    /// TLB shootdown rounds this CPU initiated.
    pub shootdowns: AtomicU64,
    /// IPIs those rounds sent (part of `ipis_sent`).
    pub shootdown_ipis: AtomicU64,
    /// Preemptions of kernel code (part of `preemptions`).
    pub kernel_preemptions: AtomicU64,
    /// Tasks that came to run here from another CPU, and that left for another.
    pub migrations_in: AtomicU64,
    pub migrations_out: AtomicU64,
    /// Tasks this CPU took from another CPU's run queue while idle (part of
    /// `migrations_in`).
    pub steals: AtomicU64,
    /// TSC cycles spent halted in the idle loop.
    pub idle_cycles: AtomicU64,
    /// Switches away from a task that held temp mappings (parked and restored).
    pub temp_preempted_holding: AtomicU64,
    /// Tasks that resumed here holding temp mappings made on another CPU (0 unless the
    /// pinning is switched off: `temp-no-pin`).
    pub temp_migrated_holding: AtomicU64,
    /// The longest stretch with interrupts off (TSC cycles) and where it began.
    pub irq_off_max: AtomicU64,
    irq_off_at: AtomicPtr<Location<'static>>,
    /// Temp mappings made by system calls that ended here, per `syscall_table::Class`
    /// (added to by the task ending its call here, preemption off).
    pub temp_by_class: [Tally; CLASS_COUNT],
}

/// How many classes `CpuStats::temp_by_class` counts.
pub const CLASS_COUNT: usize = crate::syscall_table::CLASSES.len();

impl CpuStats {
    pub const fn new() -> Self {
        Self {
            context_switches: Tally::new(),
            preemptions: AtomicU64::new(0),
            syscalls: Tally::new(),
            timer_ticks: AtomicU64::new(0),
            ipis: AtomicU64::new(0),
            ipis_sent: AtomicU64::new(0),
            shootdowns: AtomicU64::new(0),
            shootdown_ipis: AtomicU64::new(0),
            kernel_preemptions: AtomicU64::new(0),
            migrations_in: AtomicU64::new(0),
            migrations_out: AtomicU64::new(0),
            steals: AtomicU64::new(0),
            idle_cycles: AtomicU64::new(0),
            temp_preempted_holding: AtomicU64::new(0),
            temp_migrated_holding: AtomicU64::new(0),
            irq_off_max: AtomicU64::new(0),
            irq_off_at: AtomicPtr::new(core::ptr::null_mut()),
            temp_by_class: [const { Tally::new() }; CLASS_COUNT],
        }
    }

    /// Where the longest interrupts-off stretch began, once there was one.
    pub fn irq_off_site(&self) -> Option<&'static Location<'static>> {
        let p = self.irq_off_at.load(Ordering::Relaxed);
        // SAFETY: only `note_irq_off` stores here, from a `&'static Location`.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    /// Adds one to `counter`.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A 64-bit value only its own CPU reads and writes, with interrupts off (the
/// interrupts-off tracking): two 32-bit halves, each a plain `mov`, since nothing can come
/// between the two on that CPU; a 64-bit atomic would cost a `lock cmpxchg8b` loop on
/// i386 for every stretch.
struct OwnU64 {
    lo: AtomicU32,
    hi: AtomicU32,
}

impl OwnU64 {
    const fn new() -> Self {
        Self {
            lo: AtomicU32::new(0),
            hi: AtomicU32::new(0),
        }
    }

    fn get(&self) -> u64 {
        u64::from(self.lo.load(Ordering::Relaxed))
            | u64::from(self.hi.load(Ordering::Relaxed)) << 32
    }

    fn set(&self, value: u64) {
        self.lo.store(value as u32, Ordering::Relaxed);
        self.hi.store((value >> 32) as u32, Ordering::Relaxed);
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
    /// The scheduler's running task (0 in the idle loop): set at each switch on this CPU,
    /// read by the code running here, so a system call finds its task without a lock.
    pub current: AtomicUsize,
    /// The idle loop's saved stack pointer while a task runs here.
    pub idle_esp: AtomicUsize,
    /// TSC when interrupts last went off here (0: they are on), and where.
    irq_off_since: OwnU64,
    irq_off_from: AtomicPtr<Location<'static>>,
    /// `stats.irq_off_max` as this CPU last wrote it, for its own comparisons.
    irq_off_max_seen: OwnU64,
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
            current: AtomicUsize::new(0),
            idle_esp: AtomicUsize::new(0),
            irq_off_since: OwnU64::new(),
            irq_off_from: AtomicPtr::new(core::ptr::null_mut()),
            irq_off_max_seen: OwnU64::new(),
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
    /// Each CPU's TSS and I/O permission bitmap (`arch::gdt::TssArea`: too big for the
    /// block).
    static TSS_AREAS: [arch::gdt::TssArea; MAX_CPUS] =
        [const { arch::gdt::TssArea::new() }; MAX_CPUS];
    let me = block as *const PerCpu as *mut PerCpu;
    block.this.store(me, Ordering::Relaxed);
    // SAFETY: per the contract; the area is this CPU's (its id is its index).
    unsafe {
        block.tables.load(
            &TSS_AREAS[block.id],
            block as *const PerCpu as u32,
            core::mem::size_of::<PerCpu>() as u32,
        );
        block.tables.set_cpu_number(block.id as u32);
        if arch::cpu::has_sysenter() {
            block
                .tables
                .enable_sysenter(arch::trap::sysenter_entry_address());
        }
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

/// Whether interrupts-off stretches are timed (the `irqsoff` boot word): off by default,
/// like Linux's `irqsoff` tracer, since timing costs two TSC reads and a dozen memory
/// accesses per stretch, and a system call has two or three stretches.
static TRACKING: AtomicBool = AtomicBool::new(false);

/// Starts timing interrupts-off stretches on every CPU (from the next one that begins).
pub fn track_irq_off() {
    TRACKING.store(true, Ordering::Relaxed);
    arch::cpu::set_irq_off_hooks(irq_off_begin, irq_off_end);
}

/// Whether interrupts-off stretches are timed.
pub fn irq_off_tracked() -> bool {
    TRACKING.load(Ordering::Relaxed)
}

/// Interrupts just went off on this CPU at `at` (registered with `arch::cpu`).
#[inline]
pub fn irq_off_begin(at: &'static Location<'static>) {
    if irq_off_tracked() {
        stretch_begins(at);
    }
}

fn stretch_begins(at: &'static Location<'static>) {
    let me = this();
    if me.irq_off_since.get() == 0 {
        me.irq_off_since.set(arch::cpu::rdtsc());
        me.irq_off_from
            .store(at as *const Location<'static> as *mut _, Ordering::Relaxed);
    }
}

/// Interrupts are about to come back on on this CPU: keeps the stretch if it is the
/// longest so far.
#[inline]
pub fn irq_off_end() {
    if irq_off_tracked() {
        stretch_ends();
    }
}

fn stretch_ends() {
    let me = this();
    let since = me.irq_off_since.get();
    if since == 0 {
        return;
    }
    me.irq_off_since.set(0);
    let cycles = arch::cpu::rdtsc().saturating_sub(since);
    let stats = &me.stats;
    if cycles > me.irq_off_max_seen.get() {
        // Interrupts are off on this CPU and only it writes its own maximum.
        me.irq_off_max_seen.set(cycles);
        stats.irq_off_max.store(cycles, Ordering::Relaxed);
        stats
            .irq_off_at
            .store(me.irq_off_from.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// Offset of the preempt count in a CPU's block, for the GS-relative `inc`/`dec`.
const PREEMPT: usize = offset_of!(PerCpu, preempt);

/// Forbids switching this CPU to another task until the matching `preempt_enable`.
#[inline]
pub fn preempt_disable() {
    // One `inc` of this CPU's count, as Linux does: only this CPU changes it, and an
    // interrupt that changes it puts it back before it returns, so no `lock` is needed.
    // SAFETY: GS's base is this CPU's block; the count is a u32 at `PREEMPT`.
    unsafe { asm!("inc dword ptr gs:[{p}]", p = const PREEMPT, options(nostack)) };
}

/// Ends a `preempt_disable`.
#[inline]
pub fn preempt_enable() {
    let went_negative: u8;
    // SAFETY: as in `preempt_disable`.
    unsafe {
        asm!("dec dword ptr gs:[{p}]", "sets {n}", p = const PREEMPT, n = out(reg_byte) went_negative,
             options(nostack))
    };
    assert!(went_negative == 0, "preempt_enable without preempt_disable");
}

/// How many `preempt_disable`s are in force on this CPU.
pub fn preempt_count() -> u32 {
    this().preempt.load(Ordering::Relaxed)
}
