//! CPU registers, feature detection, TLB and interrupt-flag primitives.

use core::arch::asm;
use core::panic::Location;
use core::sync::atomic::{AtomicUsize, Ordering};
use x86::controlregs::{Cr0, Cr4};
use x86::cpuid::{CpuId, CpuIdResult};

/// The processor features Tempest cares about, read once from CPUID.
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    /// 4 MiB pages (CR4.PSE).
    pub pse: bool,
    /// Global pages (CR4.PGE).
    pub pge: bool,
    /// Time-stamp counter.
    pub tsc: bool,
    /// A local APIC.
    pub apic: bool,
    /// x2APIC mode.
    pub x2apic: bool,
}

fn cpuid(leaf: u32, subleaf: u32) -> CpuIdResult {
    // CPUID exists on every CPU Tempest supports (pentiumpro and later).
    let r = core::arch::x86::__cpuid_count(leaf, subleaf);
    CpuIdResult {
        eax: r.eax,
        ebx: r.ebx,
        ecx: r.ecx,
        edx: r.edx,
    }
}

/// Reads the feature flags of the running CPU.
///
/// `CpuId::new()` is not available without SSE on this target, so the reader is built
/// around `__cpuid_count` by hand.
pub fn features() -> Features {
    let id = CpuId::with_cpuid_fn(cpuid);
    match id.get_feature_info() {
        Some(f) => Features {
            pse: f.has_pse(),
            pge: f.has_pge(),
            tsc: f.has_tsc(),
            apic: f.has_apic(),
            x2apic: f.has_x2apic(),
        },
        None => Features::default(),
    }
}

/// Whether the CPU has a working SYSENTER (CPUID's SEP, which the first Pentium Pro
/// steppings report without having it: family 6, model below 3, stepping below 3).
pub fn has_sysenter() -> bool {
    CpuId::with_cpuid_fn(cpuid)
        .get_feature_info()
        .is_some_and(|f| {
            let early_p6 = f.family_id() == 6 && f.model_id() < 3 && f.stepping_id() < 3;
            f.has_sysenter_sysexit() && !early_p6
        })
}

/// Whether the CPU has RDRAND.
pub fn has_rdrand() -> bool {
    CpuId::with_cpuid_fn(cpuid)
        .get_feature_info()
        .is_some_and(|f| f.has_rdrand())
}

/// Whether the CPU has FXSAVE/FXRSTOR (and so can save SSE state).
pub fn has_fxsr() -> bool {
    CpuId::with_cpuid_fn(cpuid)
        .get_feature_info()
        .is_some_and(|f| f.has_fxsave_fxstor())
}

/// Turns on CR4.PSE and/or CR4.PGE.
///
/// # Safety
/// Ring 0 only; the caller must not rely on the old meaning of PS bits in live tables.
pub unsafe fn enable_paging_extensions(pse: bool, pge: bool) {
    // SAFETY: ring 0 is the caller's promise; setting PSE/PGE does not change any mapping
    // that Tempest's tables describe.
    unsafe {
        let mut cr4 = x86::controlregs::cr4();
        if pse {
            cr4 |= Cr4::CR4_ENABLE_PSE;
        }
        if pge {
            cr4 |= Cr4::CR4_ENABLE_GLOBAL_PAGES;
        }
        x86::controlregs::cr4_write(cr4);
    }
}

/// Loads CR3 with the page directory at physical address `pd`.
///
/// # Safety
/// `pd` must be a valid page directory that maps the running code, its stack and
/// everything the caller will touch next.
pub unsafe fn load_cr3(pd: u32) {
    // SAFETY: the caller guarantees the directory maps everything in use.
    unsafe { x86::controlregs::cr3_write(u64::from(pd)) }
}

/// The physical address of the active page directory.
pub fn cr3() -> u32 {
    // SAFETY: reading CR3 is harmless in ring 0, where all kernel code runs.
    unsafe { x86::controlregs::cr3() as u32 }
}

/// The faulting linear address of the last page fault.
pub fn cr2() -> u32 {
    // SAFETY: reading CR2 is harmless in ring 0.
    unsafe { x86::controlregs::cr2() as u32 }
}

/// CR0, for reports.
pub fn cr0() -> Cr0 {
    // SAFETY: reading CR0 is harmless in ring 0.
    unsafe { x86::controlregs::cr0() }
}

/// CR4, for reports.
pub fn cr4() -> Cr4 {
    // SAFETY: reading CR4 is harmless in ring 0.
    unsafe { x86::controlregs::cr4() }
}

/// Invalidates the TLB entry of one page on this CPU.
///
/// # Safety
/// Ring 0 only (it never violates memory safety by itself: dropping a translation only
/// makes the next access walk the tables again).
pub unsafe fn invlpg(va: usize) {
    // SAFETY: see the function's contract.
    unsafe { x86::tlb::flush(va) }
}

/// Flushes all non-global TLB entries of this CPU by reloading CR3.
pub fn flush_tlb() {
    // SAFETY: reloading the same CR3 changes no mapping.
    unsafe { load_cr3(cr3()) }
}

/// How many times any CPU dropped its global TLB entries (`flush_tlb_including_global`
/// with CR4.PGE on). QEMU's TCG keeps no global entries (every CR3 load drops all), so
/// there a stale global translation cannot be seen; the shootdown tests count these
/// flushes instead, and on hardware (or KVM) they see the translations too.
static GLOBAL_FLUSHES: AtomicUsize = AtomicUsize::new(0);

/// The count of global flushes so far (see `GLOBAL_FLUSHES`).
pub fn global_flushes() -> usize {
    GLOBAL_FLUSHES.load(Ordering::Relaxed)
}

/// Flushes every TLB entry of this CPU, global ones included (toggles CR4.PGE when it is
/// on; otherwise a CR3 reload already drops everything).
pub fn flush_tlb_including_global() {
    let cr4 = cr4();
    if cr4.contains(Cr4::CR4_ENABLE_GLOBAL_PAGES) {
        GLOBAL_FLUSHES.fetch_add(1, Ordering::Relaxed);
        // SAFETY: clearing and restoring PGE changes no mapping; it flushes the TLB.
        unsafe {
            x86::controlregs::cr4_write(cr4 - Cr4::CR4_ENABLE_GLOBAL_PAGES);
            x86::controlregs::cr4_write(cr4);
        }
    } else {
        flush_tlb();
    }
}

/// The time-stamp counter.
#[inline]
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads a counter; CR4.TSD is never set by Tempest.
    unsafe { x86::time::rdtsc() }
}

/// Whether interrupts are enabled (EFLAGS.IF).
#[inline]
pub fn interrupts_enabled() -> bool {
    let flags: u32;
    // SAFETY: pushfd/pop only reads EFLAGS through the stack.
    unsafe { asm!("pushfd", "pop {}", out(reg) flags, options(preserves_flags)) };
    flags & (1 << 9) != 0
}

/// Enables interrupts on this CPU.
///
/// # Safety
/// The caller holds no state an interrupt handler on this CPU could also touch (no
/// irq-safe lock, no half-made per-CPU change).
#[inline]
pub unsafe fn enable_interrupts() {
    irq_off_end();
    // SAFETY: per the contract.
    unsafe { x86::irq::enable() }
}

/// Disables interrupts on this CPU.
#[inline]
pub fn disable_interrupts() {
    // SAFETY: masking interrupts cannot break memory safety.
    unsafe { x86::irq::disable() }
}

/// The current frame pointer, where a backtrace starts.
#[inline(always)]
pub fn frame_pointer() -> usize {
    let ebp: usize;
    // SAFETY: reads a register.
    unsafe { asm!("mov {}, ebp", out(reg) ebp, options(nomem, nostack, preserves_flags)) };
    ebp
}

/// Stops this CPU for good: interrupts off, `hlt` forever.
pub fn halt_forever() -> ! {
    disable_interrupts();
    loop {
        // SAFETY: with interrupts masked, hlt only waits for NMI/SMI/reset.
        unsafe { x86::halt() }
    }
}

/// Where the kernel hears that interrupts go off on this CPU (with the place that turned
/// them off) and back on: `IrqGuard`, `enable_interrupts` and `wait_for_interrupt` call
/// them, so the kernel can time every stretch, across context switches too. 0: nobody.
static IRQ_OFF_BEGIN: AtomicUsize = AtomicUsize::new(0);
static IRQ_OFF_END: AtomicUsize = AtomicUsize::new(0);

/// Registers the pair of functions told when interrupts go off and come back on.
pub fn set_irq_off_hooks(begin: fn(&'static Location<'static>), end: fn()) {
    IRQ_OFF_BEGIN.store(begin as usize, Ordering::Release);
    IRQ_OFF_END.store(end as usize, Ordering::Release);
}

/// Tells the kernel interrupts just went off on this CPU, at `at`.
#[inline]
pub fn irq_off_begin(at: &'static Location<'static>) {
    let f = IRQ_OFF_BEGIN.load(Ordering::Acquire);
    if f != 0 {
        // SAFETY: IRQ_OFF_BEGIN only ever holds the `begin` of `set_irq_off_hooks`.
        unsafe { core::mem::transmute::<usize, fn(&'static Location<'static>)>(f)(at) };
    }
}

/// Tells the kernel interrupts are about to come back on on this CPU.
#[inline]
pub fn irq_off_end() {
    let f = IRQ_OFF_END.load(Ordering::Acquire);
    if f != 0 {
        // SAFETY: IRQ_OFF_END only ever holds the `end` of `set_irq_off_hooks`.
        unsafe { core::mem::transmute::<usize, fn()>(f)() };
    }
}

/// Interrupts off until dropped, then back to what they were: the guard behind every
/// irq-safe lock.
pub struct IrqGuard {
    were_enabled: bool,
}

impl IrqGuard {
    /// Disables interrupts, remembering whether they were on.
    #[track_caller]
    #[inline]
    pub fn new() -> Self {
        let were_enabled = interrupts_enabled();
        disable_interrupts();
        if were_enabled {
            irq_off_begin(Location::caller());
        }
        Self { were_enabled }
    }
}

impl IrqGuard {
    /// A guard for code that already runs with interrupts off (and leaves them off): it
    /// restores nothing when dropped.
    #[inline]
    pub fn already_off() -> Self {
        debug_assert!(
            !interrupts_enabled(),
            "IrqGuard::already_off with interrupts on"
        );
        Self {
            were_enabled: false,
        }
    }

    /// Whether interrupts were on when the guard was made (and come back on when it goes).
    #[inline]
    pub fn were_enabled(&self) -> bool {
        self.were_enabled
    }
}

impl Default for IrqGuard {
    #[track_caller]
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for IrqGuard {
    #[inline]
    fn drop(&mut self) {
        if self.were_enabled {
            irq_off_end();
            // SAFETY: interrupts were enabled when the guard was made; restoring that
            // state cannot break memory safety.
            unsafe { x86::irq::enable() };
        }
    }
}

/// Waits for the next interrupt with interrupts enabled, then disables them again. The
/// `sti; hlt` pair is atomic: an interrupt pending at `sti` still wakes the `hlt`.
#[track_caller]
pub fn wait_for_interrupt() {
    irq_off_end();
    // SAFETY: enabling interrupts briefly in the idle path is the point; handlers run on
    // this stack and return here.
    unsafe { asm!("sti", "hlt", "cli", options(nomem, nostack)) };
    irq_off_begin(Location::caller());
}
