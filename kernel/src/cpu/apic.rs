//! The local APIC of every CPU: mode choice (x2APIC when CPUID offers it, else xAPIC over an
//! uncached MMIO mapping), the vectors Tempest uses, and the per-CPU timer calibrated against
//! the PIT that drives preemption.

use crate::mm::kva::{self, Caching};
use crate::time::HZ;
use arch::lapic::{self, Mode};
use core::sync::atomic::{AtomicU32, Ordering};

/// The local APIC timer's vector.
pub const TIMER_VECTOR: u8 = 0x30;
/// IPI: a task was made ready on the target CPU; reschedule.
pub const RESCHEDULE_VECTOR: u8 = 0xF0;
/// IPI: run the posted function (`ipi::call_on`).
pub const CALL_VECTOR: u8 = 0xF1;
/// IPI: serve the TLB shootdowns posted for this CPU (`shootdown`).
pub const SHOOTDOWN_VECTOR: u8 = 0xF2;
/// Spurious interrupts (low four bits all ones, as old APICs require).
pub const SPURIOUS_VECTOR: u8 = 0xFF;

/// Timer ticks (bus clock / 16) per period of 1/HZ s, measured on the boot CPU.
static TIMER_COUNT: AtomicU32 = AtomicU32::new(0);

/// Sets up the boot CPU's local APIC. Returns the mode, or `None` when the CPU has no APIC
/// (then the PIT drives the one CPU).
pub fn init_boot_cpu(cpu: arch::cpu::Features) -> Option<Mode> {
    if !cpu.apic {
        log::warn!("no local APIC: one CPU, PIT timer");
        return None;
    }
    let mode = if cpu.x2apic {
        Mode::X2Apic
    } else {
        Mode::XApic
    };
    let base = lapic::physical_base();
    let mmio = match mode {
        Mode::XApic => kva::map(base, 4096, Caching::Uncached),
        Mode::X2Apic => 0,
    };
    // SAFETY: boot CPU, once, before any other APIC use; `mmio` maps the APIC page.
    unsafe {
        lapic::set_mode(mode, mmio);
        lapic::enable(SPURIOUS_VECTOR);
    }
    crate::cpu::percpu::this()
        .apic_id
        .store(lapic::id(), Ordering::Relaxed);
    calibrate();
    log::info!(
        "apic: {mode:?}, base {base:#x}, boot CPU apic id {}, timer {} ticks per {} ms",
        lapic::id(),
        TIMER_COUNT.load(Ordering::Relaxed),
        1000 / HZ
    );
    Some(mode)
}

/// Measures the APIC timer against 10 ms of PIT time (best of three: the smallest count,
/// since a disturbance can only stretch the wait).
fn calibrate() {
    let per_10ms = (0..3)
        .map(|_| {
            lapic::timer_start_calibration();
            // SAFETY: boot CPU, interrupts off: nothing else uses PIT channel 2.
            unsafe { arch::pit::measure_tsc(10) };
            lapic::timer_elapsed()
        })
        .min()
        .unwrap_or(0);
    let per_period = u64::from(per_10ms) * 100 / HZ;
    TIMER_COUNT.store(
        per_period.clamp(1, u64::from(u32::MAX)) as u32,
        Ordering::Relaxed,
    );
}

/// Enables an application processor's local APIC (the mode was chosen by the boot CPU).
///
/// # Safety
/// On that CPU, once, interrupts off.
pub unsafe fn init_application_cpu() {
    // SAFETY: per the contract; the vectors' handlers are in the shared IDT.
    unsafe { lapic::enable(SPURIOUS_VECTOR) };
    crate::cpu::percpu::this()
        .apic_id
        .store(lapic::id(), Ordering::Relaxed);
}

/// Starts this CPU's periodic timer at HZ.
pub fn start_timer() {
    lapic::timer_periodic(TIMER_VECTOR, TIMER_COUNT.load(Ordering::Relaxed));
}

/// The local APIC mode in use, as the summary and the benchmark records name it.
pub fn mode_name() -> &'static str {
    match arch::lapic::mode() {
        Some(arch::lapic::Mode::XApic) => "xAPIC",
        Some(arch::lapic::Mode::X2Apic) => "x2APIC",
        None => "no APIC",
    }
}
