//! Time from the TSC, calibrated once against the PIT.

use arch::atomic64::AtomicU64;
use core::sync::atomic::Ordering;

/// Timer interrupts per second, on every CPU: the scheduler's tick and the resolution of
/// its timers.
pub const HZ: u64 = 100;

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

/// The TSC when the clocks started (`start_clocks`): the monotonic clock's zero.
static CLOCK_ZERO_TSC: AtomicU64 = AtomicU64::new(0);
/// Wall-clock time (ns since the Unix epoch) at the monotonic clock's zero, from the RTC.
static REALTIME_AT_ZERO: AtomicU64 = AtomicU64::new(0);
/// Nanoseconds per TSC tick, times 2^32 (0: the TSC runs below 1 GHz and the clocks divide
/// instead). The vDSO's time functions compute with it too (`vdso::data::mono_ns`).
static MULT: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

/// The page the vDSO's time functions read (`crate::vdso_time`): a page of the kernel
/// image, mapped read-only into every process below its vDSO. Written once, by
/// `start_clocks`, before any process exists (Tempest's clocks are never set after).
#[repr(C, align(4096))]
pub struct DataPage(core::cell::UnsafeCell<[u8; arch::paging::PAGE_SIZE]>);

// SAFETY: written only by `start_clocks`, on the boot CPU before any other CPU or process
// runs; read-only afterwards.
unsafe impl Sync for DataPage {}

pub static VDSO_DATA: DataPage =
    DataPage(core::cell::UnsafeCell::new([0; arch::paging::PAGE_SIZE]));

impl DataPage {
    /// Its physical address (the kernel image is in the direct map).
    pub fn phys(&self) -> u64 {
        (self.0.get() as usize - crate::mm::layout::KERNEL_BASE) as u64
    }
}

/// The clock parameters, as the vDSO's data page has them.
pub fn vdso_params() -> crate::vdso::data::Params {
    crate::vdso::data::Params {
        tsc0: CLOCK_ZERO_TSC.load(Ordering::Relaxed),
        mult: MULT.load(Ordering::Relaxed),
        real_at_zero_ns: REALTIME_AT_ZERO.load(Ordering::Relaxed),
    }
}

/// Starts the clocks: the monotonic clock at 0 now, the real-time clock from the CMOS
/// RTC (whole seconds; the TSC gives the rest).
pub fn start_clocks() {
    CLOCK_ZERO_TSC.store(arch::cpu::rdtsc(), Ordering::Relaxed);
    let date = arch::rtc::read();
    let secs = crate::clock::unix_seconds(
        date.year,
        date.month,
        date.day,
        date.hour,
        date.minute,
        date.second,
    );
    REALTIME_AT_ZERO.store(secs * 1_000_000_000, Ordering::Relaxed);
    // 10^6 ns per millisecond over the ticks in one, times 2^32: it fits 32 bits when the
    // TSC runs faster than 1 GHz.
    let mult = (1_000_000u64 << 32) / tsc_per_ms().max(1);
    MULT.store(u32::try_from(mult).unwrap_or(0), Ordering::Relaxed);
    let bytes = crate::vdso::data::bytes(vdso_params(), 0);
    // SAFETY: boot CPU, before any other CPU or process runs (`DataPage`).
    unsafe { (&mut *VDSO_DATA.0.get())[..bytes.len()].copy_from_slice(&bytes) };
    log::info!(
        "clock: RTC {:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC (unix {secs})",
        date.year,
        date.month,
        date.day,
        date.hour,
        date.minute,
        date.second
    );
}

/// Nanoseconds since the clocks started (CLOCK_MONOTONIC): the TSC, which QEMU and modern
/// CPUs keep constant-rate and in step across CPUs.
pub fn monotonic_ns() -> u64 {
    let per_ms = tsc_per_ms();
    if per_ms == 0 {
        return 0;
    }
    if MULT.load(Ordering::Relaxed) != 0 {
        // What the vDSO computes, exactly.
        return crate::vdso::data::mono_ns(vdso_params(), arch::cpu::rdtsc());
    }
    let elapsed = arch::cpu::rdtsc().saturating_sub(CLOCK_ZERO_TSC.load(Ordering::Relaxed));
    (u128::from(elapsed) * 1_000_000 / u128::from(per_ms)) as u64
}

/// Nanoseconds since the Unix epoch (CLOCK_REALTIME).
pub fn realtime_ns() -> u64 {
    REALTIME_AT_ZERO.load(Ordering::Relaxed) + monotonic_ns()
}
