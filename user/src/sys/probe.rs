//! Tempest's own probes of the kernel model: `kernel_spin` (is the kernel preemptible?)
//! and `temp_hold` (do temp mappings survive preemption and migration requests?).

use super::syscall3;

/// Tempest's `kernel_spin(ms)`.
pub const SYS_KERNEL_SPIN: u32 = 0x10003;
/// Tempest's `temp_hold(buf, len, rounds)`.
pub const SYS_TEMP_HOLD: u32 = 0x10004;

/// Most milliseconds `kernel_spin` accepts.
pub const KERNEL_SPIN_MAX_MS: u32 = 10_000;
/// Most pages `temp_hold` maps at once.
pub const TEMP_HOLD_MAX_PAGES: usize = 16;
/// Most rounds `temp_hold` accepts.
pub const TEMP_HOLD_MAX_ROUNDS: u32 = 10_000;

/// Tempest's `kernel_spin(ms, watch, advance)` (0x10003): spins `ms` milliseconds in kernel
/// mode with interrupts on, and returns how many times the calling thread was switched out
/// meanwhile (`-EINVAL` unless `1 <= ms <= 10000`).
pub fn kernel_spin(ms: u32) -> isize {
    syscall3(SYS_KERNEL_SPIN, ms as usize, 0, 0)
}

/// `kernel_spin(ms)` that also reads `*watch` as the spin starts and as it ends (from the
/// kernel, so a preemption in user mode just before or after the call does not count) and
/// stores how far it moved in `advance`. `-EFAULT` for a bad pointer.
pub fn kernel_spin_watching(ms: u32, watch: *const u32, advance: &mut u32) -> isize {
    syscall3(
        SYS_KERNEL_SPIN,
        ms as usize,
        watch as usize,
        advance as *mut u32 as usize,
    )
}

/// Tempest's `temp_hold(buf, len, rounds)` (0x10004) on the bytes of `buf`: the kernel maps
/// every page of the buffer through temp mappings at once, snapshots it, then `rounds`
/// times gives the CPU away and asks to be moved to another CPU while holding them, and
/// checks every byte through its mappings. Returns the number of mismatched bytes (0 when
/// all good); `-EINVAL` unless `1 <= len <= 16 pages` and `1 <= rounds <= 10000`.
/// The kernel only reads the buffer.
pub fn temp_hold(buf: &[u8], rounds: u32) -> isize {
    temp_hold_raw(buf.as_ptr(), buf.len(), rounds)
}

/// `temp_hold` of whatever `buf` points at: the kernel checks the range (a bad one gives
/// `-EFAULT`) and only reads it.
pub fn temp_hold_raw(buf: *const u8, len: usize, rounds: u32) -> isize {
    syscall3(SYS_TEMP_HOLD, buf as usize, len, rounds as usize)
}
