//! A 64-bit event count with one writer at a time, read from anywhere: the hot counters of
//! the system-call and switch paths (calls and switches per CPU and per task).
//!
//! A 64-bit atomic add on i386 is a `lock cmpxchg8b` loop (`atomic64`), some thirty
//! instructions at every system call. A counter that only one context ever adds to (its
//! CPU with interrupts off, or its task with preemption off) needs no read-modify-write
//! atomicity, only a way for readers elsewhere to see the two halves together. The low
//! half is one plain store per event; only when it wraps, once in 2^32 events, does the
//! writer touch the high half, inside a sequence count that readers retry on.

use core::sync::atomic::{AtomicU32, Ordering, fence};

#[derive(Default)]
pub struct Tally {
    lo: AtomicU32,
    hi: AtomicU32,
    /// Odd while the writer carries into `hi`.
    seq: AtomicU32,
}

impl Tally {
    pub const fn new() -> Self {
        Self {
            lo: AtomicU32::new(0),
            hi: AtomicU32::new(0),
            seq: AtomicU32::new(0),
        }
    }

    /// Adds one. Only one context may call this at a time (the caller's promise, kept by
    /// where each tally lives: the callers document it); concurrent readers are fine.
    #[inline]
    pub fn bump(&self) {
        self.add(1);
    }

    /// Adds `n`, under `bump`'s rule.
    #[inline]
    pub fn add(&self, n: u32) {
        let (lo, wrapped) = self.lo.load(Ordering::Relaxed).overflowing_add(n);
        if !wrapped {
            self.lo.store(lo, Ordering::Release);
            return;
        }
        self.carry(lo);
    }

    #[cold]
    fn carry(&self, lo: u32) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        self.lo.store(lo, Ordering::Relaxed);
        let hi = self.hi.load(Ordering::Relaxed);
        self.hi.store(hi.wrapping_add(1), Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// The count, both halves from the same moment.
    pub fn get(&self) -> u64 {
        loop {
            let before = self.seq.load(Ordering::Acquire);
            if before % 2 == 1 {
                core::hint::spin_loop();
                continue;
            }
            let hi = self.hi.load(Ordering::Acquire);
            let lo = self.lo.load(Ordering::Acquire);
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == before {
                return u64::from(hi) << 32 | u64::from(lo);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn counts_and_carries_into_the_high_half() {
        let t = Tally::new();
        t.bump();
        t.bump();
        assert_eq!(t.get(), 2);
        t.lo.store(u32::MAX - 1, Ordering::Relaxed);
        t.bump();
        assert_eq!(t.get(), u64::from(u32::MAX));
        t.bump();
        assert_eq!(t.get(), 1 << 32, "the carry reaches the high half");
        assert_eq!(t.seq.load(Ordering::Relaxed) % 2, 0);
        t.bump();
        assert_eq!(t.get(), (1 << 32) + 1);
        t.lo.store(u32::MAX - 2, Ordering::Relaxed);
        t.add(10);
        assert_eq!(
            t.get(),
            (2 << 32) + 7,
            "an add across the carry keeps the rest"
        );
    }

    /// A reader beside a writer that carries into the high half over and over never sees
    /// the count go backwards, as it would (by nearly 2^32) with the halves of two moments.
    #[test]
    fn a_reader_never_sees_a_torn_count() {
        const ROUNDS: u64 = 5_000;
        let t = Arc::new(Tally::new());
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (t, stop) = (t.clone(), stop.clone());
            std::thread::spawn(move || {
                for _ in 0..ROUNDS {
                    // A jump forward (one store, by the only writer), then 128 bumps across
                    // a carry: the count only ever grows.
                    t.lo.store(u32::MAX - 64, Ordering::Release);
                    for _ in 0..128 {
                        t.bump();
                    }
                }
                stop.store(true, Ordering::Release);
            })
        };
        let mut last = 0;
        while !stop.load(Ordering::Acquire) {
            let now = t.get();
            assert!(now >= last, "{now:#x} read after {last:#x}");
            last = now;
        }
        writer.join().unwrap();
        assert_eq!(t.get(), ROUNDS << 32 | 63);
    }
}
