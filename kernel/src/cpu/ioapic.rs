//! The I/O APICs the MADT lists: every pin masked at boot, and ISA interrupts routed to a
//! CPU on a vector as a driver asks (the console's receive interrupt). ACPI's interrupt
//! source overrides say which global system interrupt (GSI) an ISA line arrives on and
//! with what polarity and trigger.

use crate::cpu::sync::IrqSpinLock;
use crate::mm::kva::{self, Caching};
use alloc::vec::Vec;
use arch::ioapic::{IoApic, Redirection};
use smp::topology::{Override, Topology};

/// One chip: its registers (select-then-access, so behind a lock) and the GSIs it serves.
struct Chip {
    regs: IrqSpinLock<IoApic>,
    gsi_base: u32,
    pins: u32,
}

struct Routing {
    chips: Vec<Chip>,
    overrides: Vec<Override>,
}

static ROUTING: spin::Once<Routing> = spin::Once::new();

/// Maps every I/O APIC the MADT lists and masks all its pins (firmware may have left some
/// live). Once, on the boot CPU, after the local APIC is up.
pub fn init(topology: &Topology) {
    ROUTING.call_once(|| {
        let chips = topology
            .io_apics
            .iter()
            .map(|chip| {
                let base = kva::map(u64::from(chip.address), 4096, Caching::Uncached);
                // SAFETY: `base` maps the chip's register page uncached; the chip is only
                // ever reached through this lock.
                let mut regs = unsafe { IoApic::new(base) };
                let pins = regs.pins();
                for pin in 0..pins {
                    regs.set(pin, Redirection::MASKED);
                }
                log::info!(
                    "ioapic: id {} at {:#x}, GSIs {}..{}, all masked",
                    chip.id,
                    chip.address,
                    chip.gsi_base,
                    chip.gsi_base + pins
                );
                Chip {
                    regs: IrqSpinLock::new(regs),
                    gsi_base: chip.gsi_base,
                    pins,
                }
            })
            .collect();
        Routing {
            chips,
            overrides: topology.overrides.clone(),
        }
    });
}

/// Why an ISA interrupt could not be routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// No I/O APIC was set up (no MADT, or it lists none).
    NoIoApic,
    /// No I/O APIC serves the line's GSI.
    NoPin(u32),
    /// The chip did not keep the entry written (read back differently): left masked.
    NotHeld(u32),
}

impl core::fmt::Display for RouteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RouteError::NoIoApic => f.write_str("no I/O APIC"),
            RouteError::NoPin(gsi) => write!(f, "no I/O APIC serves GSI {gsi}"),
            RouteError::NotHeld(gsi) => write!(f, "GSI {gsi}'s entry did not read back"),
        }
    }
}

/// Routes ISA interrupt `irq` to the CPU with local APIC id `apic_id` on `vector`, as the
/// MADT's overrides say (an ISA line without one arrives on the GSI of its own number,
/// edge-triggered, active high). Returns the GSI.
pub fn route_isa(irq: u8, vector: u8, apic_id: u8) -> Result<u32, RouteError> {
    let routing = ROUTING.get().ok_or(RouteError::NoIoApic)?;
    let (gsi, flags) = routing
        .overrides
        .iter()
        .find(|o| o.bus == 0 && o.irq == irq)
        .map_or((u32::from(irq), 0), |o| (o.gsi, o.flags));
    let chip = routing
        .chips
        .iter()
        .find(|c| (c.gsi_base..c.gsi_base + c.pins).contains(&gsi))
        .ok_or(RouteError::NoPin(gsi))?;
    let entry = Redirection::isa(vector, apic_id, flags);
    let mut regs = chip.regs.lock();
    regs.set(gsi - chip.gsi_base, entry);
    if regs.get(gsi - chip.gsi_base) != entry {
        regs.set(gsi - chip.gsi_base, Redirection::MASKED);
        return Err(RouteError::NotHeld(gsi));
    }
    Ok(gsi)
}
