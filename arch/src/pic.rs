//! The legacy 8259 PICs: remapped away from the exception vectors (IRQ n at vector 0x20+n)
//! and masked except for the lines the kernel asks for. Until the local APIC timer takes
//! over (SMP bring-up), IRQ 0 (the PIT) drives the scheduler.

use x86::io::{inb, outb};

/// First vector of the remapped master PIC.
pub const BASE: u8 = 0x20;

/// Remaps both PICs to vectors 0x20-0x2f and masks every line.
///
/// # Safety
/// Ring 0; the PICs must not be in use by anyone else.
pub unsafe fn remap_and_mask() {
    // SAFETY: the standard ICW1-ICW4 sequence on the PIC ports.
    unsafe {
        outb(0x20, 0x11);
        outb(0xA0, 0x11);
        outb(0x21, BASE);
        outb(0xA1, BASE + 8);
        outb(0x21, 4);
        outb(0xA1, 2);
        outb(0x21, 1);
        outb(0xA1, 1);
        outb(0x21, 0xFF);
        outb(0xA1, 0xFF);
    }
}

/// Unmasks IRQ `irq` (0-7, master PIC).
///
/// # Safety
/// A handler for vector `BASE + irq` must be ready.
pub unsafe fn unmask(irq: u8) {
    assert!(irq < 8);
    // SAFETY: read-modify-write of the master's mask register.
    unsafe { outb(0x21, inb(0x21) & !(1 << irq)) };
}

/// Acknowledges an interrupt from the master PIC.
pub fn end_of_interrupt() {
    // SAFETY: a non-specific EOI only tells the PIC the handler is done.
    unsafe { outb(0x20, 0x20) };
}
