//! The legacy 8259 PICs: remapped away from the exception vectors and fully masked
//! (Tempest takes interrupts through the local APIC).

use x86::io::outb;

/// First vector of the remapped master PIC (spurious IRQ 7 lands at 0x27).
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
