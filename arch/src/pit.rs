//! The 8254 PIT, used only as a known clock to calibrate the TSC.

use x86::io::{inb, outb};

/// PIT input clock in Hz.
pub const FREQUENCY_HZ: u64 = 1_193_182;

/// Busy-waits `ms` milliseconds (at most 54) on PIT channel 2 and returns how many TSC
/// ticks passed.
///
/// # Safety
/// Ring 0; nothing else may use PIT channel 2 or port 0x61 meanwhile.
pub unsafe fn measure_tsc(ms: u32) -> u64 {
    let count = (FREQUENCY_HZ * u64::from(ms.min(54)) / 1000) as u16;
    // SAFETY: programs channel 2 in one-shot mode with its gate, the speaker off.
    unsafe {
        let gate = inb(0x61);
        outb(0x61, (gate & !0x02) | 0x01);
        outb(0x43, 0b1011_0000); // channel 2, lobyte/hibyte, mode 0, binary
        outb(0x42, count as u8);
        outb(0x42, (count >> 8) as u8);
        // Restart the count by toggling the gate.
        let gate = inb(0x61);
        outb(0x61, gate & !0x01);
        outb(0x61, gate | 0x01);
        let start = crate::cpu::rdtsc();
        while inb(0x61) & 0x20 == 0 {
            core::hint::spin_loop();
        }
        crate::cpu::rdtsc() - start
    }
}

/// Programs channel 0 to interrupt (IRQ 0) `hz` times a second.
///
/// # Safety
/// Ring 0; nothing else may use PIT channel 0.
pub unsafe fn start_periodic(hz: u32) {
    let divisor = (FREQUENCY_HZ / u64::from(hz.max(19))).min(0xFFFF) as u16;
    // SAFETY: channel 0, lobyte/hibyte, mode 2 (rate generator).
    unsafe {
        outb(0x43, 0b0011_0100);
        outb(0x40, divisor as u8);
        outb(0x40, (divisor >> 8) as u8);
    }
}
