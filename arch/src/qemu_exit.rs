//! QEMU's `isa-debug-exit` device (port 0xf4): how a run hands its verdict to the host.
//!
//! QEMU exits with status `(value << 1) | 1`, so no verdict can read as 0, which is what
//! QEMU returns when `-no-reboot` turns a reset (triple fault) into an exit.

/// The port the runner configures the device at.
pub const PORT: u16 = 0xf4;

/// What a run ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Verdict {
    /// Everything asked for ran and passed (QEMU status 33).
    Success = 0x10,
    /// In-kernel tests ran and some failed (QEMU status 35).
    TestsFailed = 0x11,
    /// Kernel panic or unexpected exception (QEMU status 37).
    Crash = 0x12,
    /// User programs ran, and some did not exit with the status expected of them (QEMU
    /// status 39).
    ProgramsFailed = 0x13,
}

/// Ends the run with `verdict`. Without the device (a real machine) the CPU halts.
pub fn exit(verdict: Verdict) -> ! {
    // SAFETY: writing the debug-exit port has no effect other than ending the VM.
    unsafe { x86::io::outl(PORT, verdict as u32) };
    crate::cpu::halt_forever()
}
