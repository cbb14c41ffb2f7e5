//! One CPU's window of temp-mapping slots: a bitmap of the slots in use, who holds each
//! (for leak reports), and the counters. Portable bookkeeping only; the PTE writes live in
//! `temp::TempMap`.

/// CPUs the temp region is cut for (the region has 1024 slots: one page table).
pub const MAX_CPUS: usize = 16;
/// Slots in each CPU's window.
pub const SLOTS_PER_CPU: usize = 1024 / MAX_CPUS;

const _: () = assert!(SLOTS_PER_CPU == 64, "the bitmap is one u64");
const _: () = assert!(
    MAX_CPUS == smp::shootdown::MAX_CPUS,
    "a window per CPU the kernel can run"
);

/// Counters of one window, or of one process's use of windows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct TempCounters {
    pub maps: u64,
    pub unmaps: u64,
    /// Mappings refused because the window was full.
    pub failures: u64,
    /// Most slots held at once.
    pub peak_depth: u32,
    /// Slots held now.
    pub depth: u32,
}

impl TempCounters {
    /// Adds `other`'s activity to these counters (peak: the larger of the two).
    pub fn absorb(&mut self, other: &TempCounters) {
        self.maps += other.maps;
        self.unmaps += other.unmaps;
        self.failures += other.failures;
        self.peak_depth = self.peak_depth.max(other.peak_depth);
    }
}

/// A slot was released that the window does not hold: a kernel bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotHeld(pub usize);

/// The slots a switched-out task held, kept with the task until it runs again.
#[derive(Clone, Copy)]
pub struct Parked<H: Copy> {
    used: u64,
    holders: [Option<H>; SLOTS_PER_CPU],
}

impl<H: Copy> Parked<H> {
    pub const fn empty() -> Self {
        Self {
            used: 0,
            holders: [None; SLOTS_PER_CPU],
        }
    }

    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// Each parked slot and its holder.
    pub fn held(&self) -> impl Iterator<Item = (usize, H)> + '_ {
        self.holders
            .iter()
            .enumerate()
            .filter_map(|(slot, h)| h.map(|h| (slot, h)))
    }
}

/// The slots of one CPU, the holder `H` of each, and the counters: lifetime totals for the
/// CPU, and the share of the process running now (handed to it at each context switch).
pub struct Window<H: Copy> {
    used: u64,
    /// `used.count_ones()`, kept as a count: the 586 has no `popcnt`, and the software
    /// count costs some thirty instructions at every map and unmap.
    held: u32,
    holders: [Option<H>; SLOTS_PER_CPU],
    cpu: TempCounters,
    running: TempCounters,
    /// `running` changed since the last `take_running` (which may then skip its work).
    running_touched: bool,
}

impl<H: Copy> Default for Window<H> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H: Copy> Window<H> {
    pub const fn new() -> Self {
        Self {
            used: 0,
            held: 0,
            holders: [None; SLOTS_PER_CPU],
            cpu: TempCounters {
                maps: 0,
                unmaps: 0,
                failures: 0,
                peak_depth: 0,
                depth: 0,
            },
            running: TempCounters {
                maps: 0,
                unmaps: 0,
                failures: 0,
                peak_depth: 0,
                depth: 0,
            },
            running_touched: false,
        }
    }

    /// Takes the lowest free slot for `holder`, or counts a failure when all are held.
    pub fn take(&mut self, holder: H) -> Option<usize> {
        if self.used == u64::MAX {
            self.cpu.failures += 1;
            self.running.failures += 1;
            self.running_touched = true;
            return None;
        }
        let slot = (!self.used).trailing_zeros() as usize;
        self.used |= 1 << slot;
        self.held += 1;
        self.holders[slot] = Some(holder);
        let depth = self.held;
        self.running_touched = true;
        for c in [&mut self.cpu, &mut self.running] {
            c.maps += 1;
            c.depth = depth;
            c.peak_depth = c.peak_depth.max(depth);
        }
        Some(slot)
    }

    /// Frees `slot`, returning who held it.
    pub fn release(&mut self, slot: usize) -> Result<H, NotHeld> {
        if slot >= SLOTS_PER_CPU || self.used & (1 << slot) == 0 {
            return Err(NotHeld(slot));
        }
        self.used &= !(1 << slot);
        self.held -= 1;
        let holder = self.holders[slot].take().ok_or(NotHeld(slot))?;
        let depth = self.held;
        self.running_touched = true;
        for c in [&mut self.cpu, &mut self.running] {
            c.unmaps += 1;
            c.depth = depth;
        }
        Ok(holder)
    }

    /// Counts a mapping this CPU made outside the window (the global pool), so the CPU's
    /// and the running process's counters stay whole under either strategy.
    pub fn note_external_map(&mut self, depth: u32) {
        self.running_touched = true;
        for c in [&mut self.cpu, &mut self.running] {
            c.maps += 1;
            c.depth = depth;
            c.peak_depth = c.peak_depth.max(depth);
        }
    }

    /// Counts the unmapping of a mapping noted with `note_external_map`.
    pub fn note_external_unmap(&mut self, depth: u32) {
        self.running_touched = true;
        for c in [&mut self.cpu, &mut self.running] {
            c.unmaps += 1;
            c.depth = depth;
        }
    }

    /// Takes every held slot out of the window, holders included, without counting them
    /// as unmapped: the running task is being switched out while it holds them (the
    /// caller clears their PTEs). The window is empty afterwards.
    pub fn park(&mut self) -> Parked<H> {
        let parked = Parked {
            used: self.used,
            holders: self.holders,
        };
        self.used = 0;
        self.held = 0;
        self.holders = [None; SLOTS_PER_CPU];
        self.running_touched = true;
        for c in [&mut self.cpu, &mut self.running] {
            c.depth = 0;
        }
        parked
    }

    /// Puts parked slots back, at the same slot numbers (the task resumes on the CPU it was
    /// parked on, so its guards' addresses are right again). Fails, changing nothing, when
    /// one of them is held: the window was not left empty by the context switched out.
    pub fn unpark(&mut self, parked: &Parked<H>) -> Result<(), NotHeld> {
        if self.used & parked.used != 0 {
            return Err(NotHeld((self.used & parked.used).trailing_zeros() as usize));
        }
        self.used |= parked.used;
        self.held = self.used.count_ones();
        for (slot, h) in parked.held() {
            self.holders[slot] = Some(h);
        }
        let depth = self.held;
        self.running_touched = true;
        for c in [&mut self.cpu, &mut self.running] {
            c.depth = depth;
            c.peak_depth = c.peak_depth.max(depth);
        }
        Ok(())
    }

    /// Slots held now.
    pub fn depth(&self) -> u32 {
        debug_assert_eq!(self.held, self.used.count_ones());
        self.held
    }

    /// Each held slot and its holder.
    pub fn held(&self) -> impl Iterator<Item = (usize, H)> + '_ {
        self.holders
            .iter()
            .enumerate()
            .filter_map(|(slot, h)| h.map(|h| (slot, h)))
    }

    /// The CPU's lifetime counters.
    pub fn cpu_counters(&self) -> TempCounters {
        self.cpu
    }

    /// Whether the running process's share changed since the last `take_running` (if
    /// not, and nothing is held, that share is all zeroes and a switch has nothing to hand
    /// over).
    pub fn running_touched(&self) -> bool {
        self.running_touched
    }

    /// The running process's share so far (without handing it over).
    pub fn running(&self) -> TempCounters {
        self.running
    }

    /// The running process's share since the last call (the scheduler folds it into the
    /// process it switches away from). The peak restarts at the current depth.
    pub fn take_running(&mut self) -> TempCounters {
        self.running_touched = false;
        let depth = self.depth();
        core::mem::replace(
            &mut self.running,
            TempCounters {
                peak_depth: depth,
                depth,
                ..TempCounters::default()
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn lowest_free_slot_first_and_any_release_order() {
        let mut w = Window::<u32>::new();
        assert_eq!(w.take(10), Some(0));
        assert_eq!(w.take(11), Some(1));
        assert_eq!(w.take(12), Some(2));
        assert_eq!(w.release(1), Ok(11));
        assert_eq!(w.take(13), Some(1), "a freed slot is reused");
        assert_eq!(w.depth(), 3);
        let held: Vec<_> = w.held().collect();
        assert_eq!(held, [(0, 10), (1, 13), (2, 12)]);
    }

    #[test]
    fn exhaustion_is_counted_not_fatal() {
        let mut w = Window::<()>::new();
        for i in 0..SLOTS_PER_CPU {
            assert_eq!(w.take(()), Some(i));
        }
        assert_eq!(w.take(()), None);
        assert_eq!(w.take(()), None);
        let c = w.cpu_counters();
        assert_eq!((c.maps, c.failures, c.peak_depth, c.depth), (64, 2, 64, 64));
        assert_eq!(w.running().failures, 2, "the running share counts them too");
        assert_eq!(w.release(63), Ok(()));
        assert_eq!(w.take(()), Some(63));
    }

    #[test]
    fn releasing_a_free_slot_is_an_error() {
        let mut w = Window::<()>::new();
        assert_eq!(w.release(0), Err(NotHeld(0)));
        assert_eq!(w.release(64), Err(NotHeld(64)));
        let s = w.take(()).unwrap();
        assert_eq!(w.release(s), Ok(()));
        assert_eq!(w.release(s), Err(NotHeld(s)));
        // The refused releases changed no counter.
        let c = w.cpu_counters();
        assert_eq!((c.maps, c.unmaps, c.depth), (1, 1, 0));
    }

    #[test]
    fn counters_absorb_another_share() {
        let mut total = TempCounters {
            maps: 5,
            unmaps: 4,
            failures: 1,
            peak_depth: 2,
            depth: 1,
        };
        total.absorb(&TempCounters {
            maps: 3,
            unmaps: 3,
            failures: 2,
            peak_depth: 3,
            depth: 0,
        });
        assert_eq!(
            (total.maps, total.unmaps, total.failures, total.peak_depth),
            (8, 7, 3, 3)
        );
    }

    #[test]
    fn a_switched_out_holder_parks_its_slots_and_gets_them_back() {
        let mut w = Window::<u32>::new();
        let a = w.take(1).unwrap();
        let b = w.take(2).unwrap();
        w.release(a).unwrap();
        let parked = w.park();
        assert_eq!(w.depth(), 0, "the next task finds the window empty");
        assert_eq!(parked.held().collect::<Vec<_>>(), [(b, 2)]);
        // The next task uses the same slot numbers meanwhile, and leaves none held.
        let other = w.take(9).unwrap();
        assert_eq!(other, 0);
        let again = w.take(9).unwrap();
        assert_eq!(again, b, "the parked slot's number is free for others");
        assert_eq!(
            w.unpark(&parked),
            Err(NotHeld(b)),
            "a slot held by someone else"
        );
        w.release(other).unwrap();
        w.release(again).unwrap();
        assert_eq!(w.unpark(&parked), Ok(()));
        assert_eq!(w.held().collect::<Vec<_>>(), [(b, 2)]);
        assert_eq!(w.release(b), Ok(2));
        let c = w.cpu_counters();
        // Parking and unparking are not maps or unmaps.
        assert_eq!((c.maps, c.unmaps, c.depth), (4, 4, 0));
    }

    #[test]
    fn external_mappings_are_counted() {
        let mut w = Window::<()>::new();
        w.note_external_map(1);
        w.note_external_map(2);
        w.note_external_unmap(1);
        let c = w.cpu_counters();
        assert_eq!((c.maps, c.unmaps, c.peak_depth, c.depth), (2, 1, 2, 1));
        assert_eq!(w.running().maps, 2);
        assert_eq!(w.depth(), 0, "no window slot is held");
    }

    #[test]
    fn an_untouched_share_is_all_zeroes() {
        let mut w = Window::<()>::new();
        assert!(!w.running_touched());
        let a = w.take(()).unwrap();
        assert!(w.running_touched());
        w.release(a).unwrap();
        w.take_running();
        // What a switch skips when nothing changed and nothing is held: an empty share.
        assert!(!w.running_touched());
        assert_eq!(w.take_running(), TempCounters::default());
        let parked = w.park();
        assert!(w.running_touched(), "parking changes the depth");
        w.take_running();
        w.unpark(&parked).unwrap();
        assert!(w.running_touched(), "unparking changes the depth");
        assert!(w.take(()).is_some() && w.running_touched());
    }

    #[test]
    fn running_share_is_handed_over_at_switch() {
        let mut w = Window::<()>::new();
        let a = w.take(()).unwrap();
        let b = w.take(()).unwrap();
        w.release(b).unwrap();
        let first = w.take_running();
        assert_eq!((first.maps, first.unmaps, first.peak_depth), (2, 1, 2));
        w.release(a).unwrap();
        let second = w.take_running();
        assert_eq!((second.maps, second.unmaps, second.peak_depth), (0, 1, 1));
        let cpu = w.cpu_counters();
        assert_eq!(
            (cpu.maps, cpu.unmaps, cpu.peak_depth, cpu.depth),
            (2, 2, 2, 0)
        );
        let mut total = TempCounters::default();
        total.absorb(&first);
        total.absorb(&second);
        assert_eq!((total.maps, total.unmaps, total.peak_depth), (2, 2, 2));
    }
}
