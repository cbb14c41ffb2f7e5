//! Time from the TSC, calibrated once against the PIT.

use core::sync::atomic::{AtomicU64, Ordering};

static TSC_PER_MS: AtomicU64 = AtomicU64::new(0);

/// Measures the TSC rate over 10 ms of PIT time (best of three, to shrink the error an
/// interrupt or a descheduled vCPU adds).
pub fn calibrate() {
    let best = (0..3)
        // SAFETY: boot CPU, interrupts off: nothing else uses PIT channel 2.
        .map(|_| unsafe { arch::pit::measure_tsc(10) } / 10)
        .min()
        .unwrap_or(0);
    TSC_PER_MS.store(best.max(1), Ordering::Relaxed);
}

/// TSC ticks per millisecond (0 before `calibrate`).
pub fn tsc_per_ms() -> u64 {
    TSC_PER_MS.load(Ordering::Relaxed)
}

/// Converts TSC ticks to microseconds.
pub fn ticks_to_us(ticks: u64) -> u64 {
    match tsc_per_ms() {
        0 => 0,
        per_ms => ticks * 1000 / per_ms,
    }
}

/// Busy-waits at least `us` microseconds (TSC-timed; the TSC must be calibrated).
pub fn delay_us(us: u64) {
    let ticks = (tsc_per_ms() * us).div_ceil(1000).max(1);
    let start = arch::cpu::rdtsc();
    while arch::cpu::rdtsc() - start < ticks {
        core::hint::spin_loop();
    }
}
