//! The kernel's random numbers, for `getrandom`: ChaCha20 (the `rand_chacha` crate) seeded
//! once at boot. The seed: 32 bytes of RDRAND when the CPU has it; otherwise the low bits
//! of the TSC read around 256 short PIT-free delays, folded together with the RTC's wall
//! time and the boot TSC. Under TCG that jitter is the host's scheduling and translation
//! noise: unpredictable enough for hash seeds and stack canaries, not a source to make
//! long-term keys from (QEMU's `qemu32` has no RDRAND; `-cpu max` on KVM would).

use crate::cpu::sync::IrqSpinLock;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

static RNG: IrqSpinLock<Option<ChaCha20Rng>> = IrqSpinLock::new(None);

/// One RDRAND value, if the CPU gives one (it may fail when its entropy runs low).
fn rdrand() -> Option<u32> {
    let (value, ok): (u32, u8);
    // SAFETY: called only when CPUID says RDRAND exists; it only writes the registers.
    unsafe {
        core::arch::asm!("rdrand {v:e}", "setc {ok}", v = out(reg) value, ok = out(reg_byte) ok,
                         options(nomem, nostack))
    };
    (ok != 0).then_some(value)
}

/// Seeds the generator (boot CPU, after the TSC is calibrated and the clocks started).
pub fn init() {
    let mut seed = [0u8; 32];
    let hardware = arch::cpu::has_rdrand();
    for (i, word) in seed.chunks_mut(4).enumerate() {
        let mut v = if hardware {
            (0..10).find_map(|_| rdrand()).unwrap_or(0)
        } else {
            0
        };
        // TSC jitter: 32 timed delays per word, each adding the low bits it ends on.
        for _ in 0..32 {
            crate::time::delay_us(3);
            v = v.rotate_left(5) ^ (arch::cpu::rdtsc() as u32);
        }
        v ^= (crate::time::realtime_ns() >> (i * 4)) as u32;
        word.copy_from_slice(&v.to_le_bytes());
    }
    *RNG.lock() = Some(ChaCha20Rng::from_seed(seed));
    log::info!(
        "random: ChaCha20 seeded from {}",
        if hardware {
            "RDRAND and TSC jitter"
        } else {
            "TSC jitter and the RTC (no RDRAND)"
        }
    );
}

/// Fills `buf` with random bytes.
pub fn fill(buf: &mut [u8]) {
    RNG.lock()
        .as_mut()
        .expect("random::init ran at boot")
        .fill_bytes(buf);
}
