//! A 64-bit atomic that never touches the FPU: the kernel's counters and clocks.
//!
//! On i386 without SSE, LLVM lowers a 64-bit atomic load or store to x87 `fild`/`fistp`
//! (the only 8-byte single-copy-atomic moves the 586 has besides `cmpxchg8b`). Those
//! instructions push onto and pop off the x87 register stack of whatever task the kernel
//! interrupted: with eight values on a user's stack, the push overflows and replaces one
//! with a NaN. The kernel must leave user FPU state alone (it saves that state only at a
//! context switch), so every 64-bit atomic in the kernel goes through `lock cmpxchg8b`
//! here instead. On the host (unit tests) this is `core`'s `AtomicU64`.

#[cfg(not(target_arch = "x86"))]
pub use core::sync::atomic::AtomicU64;

#[cfg(target_arch = "x86")]
pub use imp::AtomicU64;

#[cfg(target_arch = "x86")]
mod imp {
    use core::arch::asm;
    use core::cell::UnsafeCell;
    use core::sync::atomic::Ordering;

    /// `core::sync::atomic::AtomicU64`'s interface, built on `lock cmpxchg8b` (every
    /// operation is a full barrier, so the orderings are accepted and over-satisfied).
    #[repr(C, align(8))]
    pub struct AtomicU64 {
        value: UnsafeCell<u64>,
    }

    // SAFETY: every access to `value` is one `lock cmpxchg8b`, atomic on every CPU.
    unsafe impl Sync for AtomicU64 {}

    impl AtomicU64 {
        pub const fn new(value: u64) -> Self {
            Self {
                value: UnsafeCell::new(value),
            }
        }

        /// Compares with `current` and, if equal, stores `new`; returns what was there.
        fn cas(&self, current: u64, new: u64) -> u64 {
            let (lo, hi): (u32, u32);
            // SAFETY: `value` is an aligned u64 that lives as long as `self`; cmpxchg8b
            // reads it and writes it only when it equals `current`.
            unsafe {
                asm!(
                    "lock cmpxchg8b [{p}]",
                    p = in(reg) self.value.get(),
                    in("ebx") new as u32,
                    in("ecx") (new >> 32) as u32,
                    inout("eax") current as u32 => lo,
                    inout("edx") (current >> 32) as u32 => hi,
                    options(nostack)
                );
            }
            (u64::from(hi) << 32) | u64::from(lo)
        }

        pub fn load(&self, _order: Ordering) -> u64 {
            // A compare with 0 that stores 0 only when the value is 0: a pure read.
            self.cas(0, 0)
        }

        pub fn store(&self, value: u64, order: Ordering) {
            self.swap(value, order);
        }

        pub fn swap(&self, value: u64, _order: Ordering) -> u64 {
            self.update(|_| value)
        }

        pub fn fetch_add(&self, delta: u64, _order: Ordering) -> u64 {
            self.update(|v| v.wrapping_add(delta))
        }

        pub fn fetch_sub(&self, delta: u64, _order: Ordering) -> u64 {
            self.update(|v| v.wrapping_sub(delta))
        }

        pub fn fetch_max(&self, value: u64, _order: Ordering) -> u64 {
            self.update(|v| v.max(value))
        }

        pub fn compare_exchange(
            &self,
            current: u64,
            new: u64,
            _success: Ordering,
            _failure: Ordering,
        ) -> Result<u64, u64> {
            let seen = self.cas(current, new);
            if seen == current { Ok(seen) } else { Err(seen) }
        }

        /// A first guess at the value for `update`: its two halves read one after the
        /// other, which another CPU's write may tear. Only ever the expected value of a
        /// `cmpxchg8b`, which fails on a wrong guess and returns the true value, so a torn
        /// read costs a retry, never a wrong result; a right one (nearly always) saves the
        /// `cmpxchg8b` a read would take, Linux's `atomic64_*_cx8` way.
        fn guess(&self) -> u64 {
            let (lo, hi): (u32, u32);
            // SAFETY: `value` is an aligned u64 that lives as long as `self`; two plain
            // 32-bit loads of it, in assembly so the compiler assumes nothing of them.
            unsafe {
                asm!(
                    "mov {lo}, [{p}]",
                    "mov {hi}, [{p} + 4]",
                    p = in(reg) self.value.get(),
                    lo = out(reg) lo,
                    hi = out(reg) hi,
                    options(nostack, readonly, preserves_flags)
                );
            }
            (u64::from(hi) << 32) | u64::from(lo)
        }

        /// Applies `f` atomically; returns the old value.
        fn update(&self, f: impl Fn(u64) -> u64) -> u64 {
            let mut old = self.guess();
            loop {
                let seen = self.cas(old, f(old));
                if seen == old {
                    return old;
                }
                old = seen;
            }
        }
    }

    impl Default for AtomicU64 {
        fn default() -> Self {
            Self::new(0)
        }
    }
}
