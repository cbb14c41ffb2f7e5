//! The global pool, the strategy Tempest's per-CPU windows are measured against (the
//! classic `kmap()` pkmap design): every slot of the temp region in one bitmap behind one
//! lock. A freed slot may still sit in any CPU's TLB, so it is *dirty* until a broadcast
//! shootdown of the region; unmapping clears the PTE without a flush, and when no clean
//! slot is left the pool flushes every dirty slot on every CPU in one batched round, as
//! Linux's pkmap flushes when it wraps. Portable bookkeeping only; the PTEs and the
//! shootdown live in `temp::map`.

use super::window::{NotHeld, TempCounters};

/// Slots in the pool: the whole temp region.
pub const POOL_SLOTS: usize = 1024;
const WORDS: usize = POOL_SLOTS / 64;

/// What `take` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    /// A clean slot, now held.
    Slot(usize),
    /// No clean slot, but dirty ones: flush them (`begin_flush`/`end_flush`), then retry.
    NeedsFlush,
    /// No clean slot and none dirty, but a flush round of another CPU is under way: wait
    /// for it, then retry.
    FlushInProgress,
    /// Every slot is held.
    Exhausted,
}

/// The dirty slots a flush round covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlushSet([u64; WORDS]);

/// The pool's bookkeeping: held and dirty slots, holders, counters.
pub struct Pool<H: Copy> {
    used: [u64; WORDS],
    /// Freed since the last `begin_flush`: maybe in some TLB.
    dirty: [u64; WORDS],
    /// Covered by a flush round that has not completed: maybe in some TLB still. Kept apart
    /// from `dirty` so that a slot freed again during a round is not declared clean by it.
    flushing: [u64; WORDS],
    holders: [Option<H>; POOL_SLOTS],
    /// Word where the next search starts (slots are handed out round-robin, as pkmap does,
    /// so dirty slots accumulate and flushes are batched).
    hint: usize,
    counters: TempCounters,
    flushes: u64,
}

impl<H: Copy> Default for Pool<H> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H: Copy> Pool<H> {
    pub const fn new() -> Self {
        Self {
            used: [0; WORDS],
            dirty: [0; WORDS],
            flushing: [0; WORDS],
            holders: [None; POOL_SLOTS],
            hint: 0,
            counters: TempCounters {
                maps: 0,
                unmaps: 0,
                failures: 0,
                peak_depth: 0,
                depth: 0,
            },
            flushes: 0,
        }
    }

    /// Takes a clean slot for `holder`.
    pub fn take(&mut self, holder: H) -> Take {
        for k in 0..WORDS {
            let w = (self.hint + k) % WORDS;
            let free = !(self.used[w] | self.dirty[w] | self.flushing[w]);
            if free != 0 {
                let bit = free.trailing_zeros() as usize;
                self.used[w] |= 1 << bit;
                let slot = w * 64 + bit;
                self.holders[slot] = Some(holder);
                self.hint = w;
                self.counters.maps += 1;
                self.counters.depth += 1;
                self.counters.peak_depth = self.counters.peak_depth.max(self.counters.depth);
                return Take::Slot(slot);
            }
        }
        if self.dirty.iter().any(|&d| d != 0) {
            Take::NeedsFlush
        } else if self.flushing.iter().any(|&f| f != 0) {
            Take::FlushInProgress
        } else {
            self.counters.failures += 1;
            Take::Exhausted
        }
    }

    /// Frees `slot`: it is dirty until the next flush round.
    pub fn release(&mut self, slot: usize) -> Result<H, NotHeld> {
        let (w, bit) = (slot / 64, slot % 64);
        if slot >= POOL_SLOTS || self.used[w] & (1 << bit) == 0 {
            return Err(NotHeld(slot));
        }
        self.used[w] &= !(1 << bit);
        self.dirty[w] |= 1 << bit;
        self.counters.unmaps += 1;
        self.counters.depth -= 1;
        self.holders[slot].take().ok_or(NotHeld(slot))
    }

    /// Starts a flush round over every dirty slot: they move to `flushing` (still unusable)
    /// until `end_flush`; slots freed from now on are dirty again, for the next round.
    pub fn begin_flush(&mut self) -> FlushSet {
        let set = FlushSet(self.dirty);
        for (f, d) in self.flushing.iter_mut().zip(self.dirty.iter_mut()) {
            *f |= *d;
            *d = 0;
        }
        set
    }

    /// The round for `set` completed on every CPU: those slots are clean again.
    pub fn end_flush(&mut self, set: FlushSet) {
        for (f, s) in self.flushing.iter_mut().zip(set.0) {
            *f &= !s;
        }
        self.flushes += 1;
    }

    /// Slots held now, and each holder.
    pub fn held(&self) -> impl Iterator<Item = (usize, H)> + '_ {
        self.holders
            .iter()
            .enumerate()
            .filter_map(|(s, h)| h.map(|h| (s, h)))
    }

    pub fn counters(&self) -> TempCounters {
        self.counters
    }

    /// Broadcast flush rounds so far.
    pub fn flushes(&self) -> u64 {
        self.flushes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_follow_takes_releases_and_rounds() {
        let mut p = Pool::<u8>::new();
        let Take::Slot(a) = p.take(1) else { panic!() };
        let Take::Slot(b) = p.take(2) else { panic!() };
        let c = p.counters();
        assert_eq!((c.maps, c.unmaps, c.depth, c.peak_depth), (2, 0, 2, 2));
        p.release(a).unwrap();
        assert_eq!(
            p.release(a),
            Err(NotHeld(a)),
            "a free slot cannot be released"
        );
        let c = p.counters();
        assert_eq!((c.maps, c.unmaps, c.depth, c.peak_depth), (2, 1, 1, 2));
        p.release(b).unwrap();
        assert_eq!(p.counters().depth, 0);
        let set = p.begin_flush();
        p.end_flush(set);
        let set = p.begin_flush();
        p.end_flush(set);
        assert_eq!(p.flushes(), 2);
    }

    #[test]
    fn freed_slots_are_dirty_until_a_flush() {
        let mut p = Pool::<u8>::new();
        let Take::Slot(a) = p.take(1) else { panic!() };
        assert_eq!(p.release(a), Ok(1));
        // Round-robin: the next take does not reuse the dirty slot.
        let Take::Slot(b) = p.take(2) else { panic!() };
        assert_ne!(a, b);
        p.release(b).unwrap();
        // Use up every clean slot.
        let mut held = std::vec::Vec::new();
        loop {
            match p.take(3) {
                Take::Slot(s) => held.push(s),
                Take::NeedsFlush => break,
                Take::Exhausted | Take::FlushInProgress => panic!("dirty slots exist"),
            }
        }
        assert_eq!(held.len(), POOL_SLOTS - 2);
        let set = p.begin_flush();
        // During the round nothing is clean, and nothing new is dirty yet.
        assert_eq!(p.take(9), Take::FlushInProgress);
        // A slot freed during the round stays dirty after it.
        p.release(held.pop().unwrap()).unwrap();
        p.end_flush(set);
        assert_eq!(p.flushes(), 1);
        let mut again = std::vec::Vec::new();
        while let Take::Slot(s) = p.take(4) {
            again.push(s);
        }
        again.sort();
        assert_eq!(again, [a.min(b), a.max(b)]);
        assert_eq!(p.take(5), Take::NeedsFlush);
    }

    #[test]
    fn exhaustion_without_dirty_slots_is_counted() {
        let mut p = Pool::<()>::new();
        for _ in 0..POOL_SLOTS {
            assert!(matches!(p.take(()), Take::Slot(_)));
        }
        assert_eq!(p.take(()), Take::Exhausted);
        assert_eq!(p.counters().failures, 1);
        assert_eq!(p.counters().peak_depth, POOL_SLOTS as u32);
        assert_eq!(p.release(POOL_SLOTS), Err(NotHeld(POOL_SLOTS)));
        assert_eq!(p.held().count(), POOL_SLOTS);
    }
}

#[cfg(test)]
mod race_tests {
    use super::*;

    /// Two rounds overlap: the first ends, its slots are reused and freed again, then the
    /// second ends. The second must not declare those re-freed slots clean: the CPU that
    /// used them last may cache them, and that round flushed it before the reuse.
    #[test]
    fn a_slot_freed_again_during_a_round_is_not_cleaned_by_it() {
        let mut p = Pool::<()>::new();
        let mut held: std::vec::Vec<usize> = std::vec::Vec::new();
        while let Take::Slot(s) = p.take(()) {
            held.push(s);
        }
        for s in held.drain(..) {
            p.release(s).unwrap();
        }
        let first = p.begin_flush();
        let second = p.begin_flush(); // another CPU, at the same time: nothing left to cover
        p.end_flush(first);
        let Take::Slot(s) = p.take(()) else {
            panic!("slots are clean after the first round")
        };
        p.release(s).unwrap(); // dirty again, maybe cached by this CPU
        p.end_flush(second);
        // Every slot but `s` is clean; `s` waits for a round of its own.
        let mut clean = 0;
        while let Take::Slot(t) = p.take(()) {
            assert_ne!(
                t, s,
                "a slot re-freed during a round was declared clean by it"
            );
            clean += 1;
        }
        assert_eq!(clean, POOL_SLOTS - 1);
        assert_eq!(p.take(()), Take::NeedsFlush);
    }
}
