//! The local APIC, in xAPIC (MMIO) or x2APIC (MSR) mode: enable, id, EOI, IPIs, timer.
//!
//! Register numbers and the ICR encoding come from the `x86` crate (`apic::xapic::XAPIC_*`,
//! `apic::Icr`). Its `XAPIC`/`X2APIC` driver types are not used: `XAPIC` wants a
//! `&'static mut [u32]` per instance, which one MMIO page shared by every CPU cannot soundly
//! give several CPUs; both hard-wire the spurious vector to 15 (an exception vector); and
//! neither programs the periodic timer. (The `x2apic` crate builds only for x86_64.) So the
//! register accesses below are Tempest's, a dozen lines for both modes.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use x86::apic::xapic::{
    XAPIC_EOI, XAPIC_ESR, XAPIC_ICR0, XAPIC_ICR1, XAPIC_ID, XAPIC_LVT_ERROR, XAPIC_LVT_LINT0,
    XAPIC_LVT_TIMER, XAPIC_SVR, XAPIC_TIMER_CURRENT_COUNT, XAPIC_TIMER_DIV_CONF,
    XAPIC_TIMER_INIT_COUNT, XAPIC_TPR,
};
use x86::apic::{
    ApicId, DeliveryMode, DeliveryStatus, DestinationMode, DestinationShorthand, Icr, Level,
    TriggerMode,
};
use x86::msr::{IA32_APIC_BASE, rdmsr, wrmsr};

/// How the local APICs are driven (the same on every CPU).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Memory-mapped registers at the given kernel virtual address.
    XApic,
    /// MSRs 0x800-0x8ff.
    X2Apic,
}

const UNSET: u32 = 0;
const XAPIC: u32 = 1;
const X2APIC: u32 = 2;
static MODE: AtomicU32 = AtomicU32::new(UNSET);
static MMIO: AtomicUsize = AtomicUsize::new(0);

/// Physical address of this CPU's APIC registers (from IA32_APIC_BASE).
pub fn physical_base() -> u64 {
    // SAFETY: reading IA32_APIC_BASE is harmless on any CPU with an APIC.
    unsafe { rdmsr(IA32_APIC_BASE) & 0xFFFF_F000 }
}

/// Chooses the mode for every CPU. `mmio` is the kernel virtual address of the xAPIC page
/// (mapped uncached); unused in x2APIC mode.
///
/// # Safety
/// Once, on the boot CPU, before any other function here; `mmio` must map the local APIC.
pub unsafe fn set_mode(mode: Mode, mmio: usize) {
    MMIO.store(mmio, Ordering::Relaxed);
    MODE.store(
        if mode == Mode::XApic { XAPIC } else { X2APIC },
        Ordering::Release,
    );
}

/// The mode chosen by `set_mode`, if any.
pub fn mode() -> Option<Mode> {
    match MODE.load(Ordering::Acquire) {
        XAPIC => Some(Mode::XApic),
        X2APIC => Some(Mode::X2Apic),
        _ => None,
    }
}

fn read(reg: u32) -> u32 {
    match mode() {
        // SAFETY: reads an x2APIC register MSR of this CPU.
        Some(Mode::X2Apic) => unsafe { rdmsr(0x800 + (reg >> 4)) as u32 },
        // SAFETY: MMIO holds the uncached mapping of the xAPIC page; registers are 32-bit
        // aligned offsets in it.
        Some(Mode::XApic) => unsafe {
            ((MMIO.load(Ordering::Relaxed) + reg as usize) as *const u32).read_volatile()
        },
        None => panic!("local APIC used before set_mode"),
    }
}

fn write(reg: u32, value: u32) {
    match mode() {
        // SAFETY: writes an x2APIC register MSR of this CPU.
        Some(Mode::X2Apic) => unsafe { wrmsr(0x800 + (reg >> 4), u64::from(value)) },
        // SAFETY: as in `read`.
        Some(Mode::XApic) => unsafe {
            ((MMIO.load(Ordering::Relaxed) + reg as usize) as *mut u32).write_volatile(value)
        },
        None => panic!("local APIC used before set_mode"),
    }
}

/// Enables this CPU's local APIC in the chosen mode: spurious vector `spurious` (whose low
/// four bits must be 1s on old APICs: use 0xff), all priorities accepted, LINT0 (the legacy
/// PIC's ExtINT) and the error LVT masked, errors cleared.
///
/// # Safety
/// Ring 0, interrupts off, a handler ready for `spurious`.
pub unsafe fn enable(spurious: u8) {
    // SAFETY: sets the global enable bit (11), and the x2APIC bit (10) in x2APIC mode.
    unsafe {
        let mut base = rdmsr(IA32_APIC_BASE) | (1 << 11);
        if mode() == Some(Mode::X2Apic) {
            base |= 1 << 10;
        }
        wrmsr(IA32_APIC_BASE, base);
    }
    write(XAPIC_SVR, 0x100 | u32::from(spurious));
    write(XAPIC_TPR, 0);
    write(XAPIC_LVT_LINT0, 1 << 16);
    write(XAPIC_LVT_ERROR, 1 << 16);
    if mode() == Some(Mode::XApic) {
        write(XAPIC_ESR, 0); // xAPIC: a write latches the errors; x2APIC: ESR writes must be 0 too
    }
}

/// This CPU's APIC id.
pub fn id() -> u32 {
    match mode() {
        Some(Mode::X2Apic) => read(XAPIC_ID),
        _ => read(XAPIC_ID) >> 24,
    }
}

/// Signals the end of the interrupt being handled.
pub fn eoi() {
    write(XAPIC_EOI, 0);
}

/// Where an IPI goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// One CPU, by APIC id.
    Cpu(u32),
    /// Every CPU but the sender.
    AllButSelf,
}

/// What an IPI does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Interrupt on `vector`.
    Fixed(u8),
    /// Non-maskable interrupt (reaches CPUs running with interrupts off).
    Nmi,
    /// INIT, asserted, level-triggered. No de-assert follows: modern CPUs (and QEMU)
    /// ignore it, and the SDM's MP start-up sequence for them omits it.
    Init,
    /// STARTUP at physical page `vector << 12`.
    Startup(u8),
}

/// Sends an IPI and waits until the local APIC has accepted it for delivery.
///
/// In x2APIC mode the ICR write (`wrmsr`) is not serializing, so a full fence first makes
/// every store the receiver must see globally visible before the interrupt can arrive.
///
/// # Safety
/// Ring 0; INIT and STARTUP reset the target CPU.
pub unsafe fn send(target: Target, kind: Kind) {
    let (vector, delivery, level, trigger) = match kind {
        Kind::Fixed(v) => (v, DeliveryMode::Fixed, Level::Assert, TriggerMode::Edge),
        Kind::Nmi => (0, DeliveryMode::NMI, Level::Assert, TriggerMode::Edge),
        Kind::Init => (0, DeliveryMode::Init, Level::Assert, TriggerMode::Level),
        Kind::Startup(page) => (
            page,
            DeliveryMode::StartUp,
            Level::Assert,
            TriggerMode::Edge,
        ),
    };
    let (dest, shorthand) = match target {
        Target::Cpu(id) => (id, DestinationShorthand::NoShorthand),
        Target::AllButSelf => (0, DestinationShorthand::AllExcludingSelf),
    };
    match mode() {
        Some(Mode::X2Apic) => {
            let icr = Icr::for_x2apic(
                vector,
                ApicId::X2Apic(dest),
                shorthand,
                delivery,
                DestinationMode::Physical,
                DeliveryStatus::Idle,
                level,
                trigger,
            );
            core::sync::atomic::fence(Ordering::SeqCst);
            // SAFETY: one 64-bit write of the x2APIC ICR sends the IPI.
            unsafe {
                wrmsr(
                    0x830,
                    (u64::from(icr.upper()) << 32) | u64::from(icr.lower()),
                )
            };
        }
        Some(Mode::XApic) => {
            let icr = Icr::for_xapic(
                vector,
                ApicId::XApic(dest as u8),
                shorthand,
                delivery,
                DestinationMode::Physical,
                DeliveryStatus::Idle,
                level,
                trigger,
            );
            write(XAPIC_ICR1, icr.upper());
            write(XAPIC_ICR0, icr.lower());
            // Delivery status (bit 12) clears once the APIC has sent the message.
            while read(XAPIC_ICR0) & (1 << 12) != 0 {
                core::hint::spin_loop();
            }
        }
        None => panic!("IPI before the local APIC was set up"),
    }
}

/// Divide configuration 0b011: the timer counts at the bus clock / 16.
const DIVIDE_BY_16: u32 = 0b011;

/// Starts the timer counting down from `u32::MAX`, masked (for calibration).
pub fn timer_start_calibration() {
    write(XAPIC_TIMER_DIV_CONF, DIVIDE_BY_16);
    write(XAPIC_LVT_TIMER, 1 << 16);
    write(XAPIC_TIMER_INIT_COUNT, u32::MAX);
}

/// Ticks counted since `timer_start_calibration`.
pub fn timer_elapsed() -> u32 {
    u32::MAX - read(XAPIC_TIMER_CURRENT_COUNT)
}

/// Makes the timer interrupt on `vector` every `count` ticks (bus clock / 16).
pub fn timer_periodic(vector: u8, count: u32) {
    write(XAPIC_TIMER_DIV_CONF, DIVIDE_BY_16);
    write(XAPIC_LVT_TIMER, (1 << 17) | u32::from(vector));
    write(XAPIC_TIMER_INIT_COUNT, count.max(1));
}
