//! Physical frames in two zones: lowmem (direct-mapped, for kernel data) and highmem
//! (above the direct map, reachable only through temp mappings; user pages come from it
//! first). Each zone is a bitmap, one bit per frame, set when the frame is free.

use super::ranges::RangeSet;
use core::fmt;

/// A physical page frame, by number (address >> 12). Tempest ignores RAM above 4 GiB,
/// so every frame number fits in 20 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Frame(pub u32);

impl Frame {
    /// The frame containing physical address `pa`.
    pub const fn containing(pa: u64) -> Frame {
        Frame((pa >> 12) as u32)
    }

    /// Physical address of the frame's first byte.
    pub const fn addr(self) -> u64 {
        (self.0 as u64) << 12
    }
}

/// Which zone a frame came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneKind {
    Low,
    High,
}

/// A frame was freed that the zone does not hold as allocated: a kernel bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeError {
    NotInZone(Frame),
    /// The frame was never handed to the allocator (kernel image, page tables, heap,
    /// modules, firmware): freeing it would give kernel memory away.
    NeverManaged(Frame),
    DoubleFree(Frame),
}

impl fmt::Display for FreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FreeError::NotInZone(fr) => write!(f, "frame {:#x} belongs to no zone", fr.addr()),
            FreeError::NeverManaged(fr) => {
                write!(f, "frame {:#x} was never the allocator's", fr.addr())
            }
            FreeError::DoubleFree(fr) => write!(f, "frame {:#x} freed twice", fr.addr()),
        }
    }
}

/// One zone: frames `[first, first + len)`, a bitmap over them.
pub struct Zone {
    kind: ZoneKind,
    first: u32,
    len: u32,
    bits: &'static mut [u32],
    /// The frame ranges `release` handed over: the only frames `free` accepts.
    released: RangeSet<64>,
    free: u32,
    managed: u32,
    /// Word index where the next search starts.
    hint: usize,
}

impl Zone {
    /// Words of bitmap storage a zone of `len` frames needs.
    pub const fn words_for(len: u32) -> usize {
        len.div_ceil(32) as usize
    }

    /// A zone over frames `[first, first + len)` with every frame allocated; `release`
    /// then hands the usable ones over.
    pub fn new(kind: ZoneKind, first: u32, len: u32, bits: &'static mut [u32]) -> Self {
        assert!(bits.len() >= Self::words_for(len), "zone bitmap too small");
        bits.fill(0);
        Self {
            kind,
            first,
            len,
            bits,
            released: RangeSet::new(),
            free: 0,
            managed: 0,
            hint: 0,
        }
    }

    /// The zone's first frame.
    pub fn first(&self) -> Frame {
        Frame(self.first)
    }

    pub fn kind(&self) -> ZoneKind {
        self.kind
    }

    /// Frames currently free.
    pub fn free_frames(&self) -> u32 {
        self.free
    }

    /// Frames the zone ever received through `release`.
    pub fn managed_frames(&self) -> u32 {
        self.managed
    }

    pub fn contains(&self, f: Frame) -> bool {
        f.0 >= self.first && f.0 - self.first < self.len
    }

    /// Marks frames `[start, end)` free for the first time (boot only).
    pub fn release(&mut self, start: Frame, end: Frame) {
        let (from, to) = (start.0.max(self.first), end.0.min(self.first + self.len));
        if from < to {
            self.released
                .add(u64::from(from), u64::from(to))
                .expect("the memory map has at most 64 ranges");
        }
        for n in from..to {
            let i = (n - self.first) as usize;
            if self.bits[i / 32] & (1 << (i % 32)) == 0 {
                self.bits[i / 32] |= 1 << (i % 32);
                self.free += 1;
                self.managed += 1;
            }
        }
    }

    /// Takes one free frame.
    pub fn alloc(&mut self) -> Option<Frame> {
        if self.free == 0 {
            return None;
        }
        let words = Self::words_for(self.len);
        for k in 0..words {
            let w = (self.hint + k) % words;
            let word = self.bits[w];
            if word != 0 {
                let bit = word.trailing_zeros();
                self.bits[w] &= !(1 << bit);
                self.free -= 1;
                self.hint = w;
                return Some(Frame(self.first + w as u32 * 32 + bit));
            }
        }
        unreachable!(
            "free count says {} frames are free, bitmap has none",
            self.free
        )
    }

    /// Returns a frame taken with `alloc`.
    pub fn free(&mut self, f: Frame) -> Result<(), FreeError> {
        if !self.contains(f) {
            return Err(FreeError::NotInZone(f));
        }
        if !self
            .released
            .iter()
            .any(|r| (r.start..r.end).contains(&u64::from(f.0)))
        {
            return Err(FreeError::NeverManaged(f));
        }
        let i = (f.0 - self.first) as usize;
        if self.bits[i / 32] & (1 << (i % 32)) != 0 {
            return Err(FreeError::DoubleFree(f));
        }
        self.bits[i / 32] |= 1 << (i % 32);
        self.free += 1;
        Ok(())
    }
}

/// Both zones. Kernel data needs lowmem (it is used through the direct map); user pages
/// prefer highmem so that every access to them takes the temp-mapping path.
pub struct PhysFrames {
    pub low: Zone,
    pub high: Zone,
}

impl PhysFrames {
    /// A frame the kernel can reach through the direct map.
    pub fn alloc_low(&mut self) -> Option<Frame> {
        self.low.alloc()
    }

    /// A frame for user memory: highmem first, lowmem when highmem is exhausted.
    pub fn alloc_user(&mut self) -> Option<(Frame, ZoneKind)> {
        if let Some(f) = self.high.alloc() {
            return Some((f, ZoneKind::High));
        }
        self.low.alloc().map(|f| (f, ZoneKind::Low))
    }

    pub fn free(&mut self, f: Frame) -> Result<(), FreeError> {
        if self.low.contains(f) {
            self.low.free(f)
        } else {
            self.high.free(f)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::vec;
    use std::vec::Vec;

    fn zone(kind: ZoneKind, first: u32, len: u32) -> Zone {
        let bits = Vec::leak(vec![0u32; Zone::words_for(len)]);
        Zone::new(kind, first, len, bits)
    }

    #[test]
    fn frames_and_addresses() {
        assert_eq!(Frame::containing(0x1234_5678), Frame(0x12345));
        assert_eq!(Frame(0x12345).addr(), 0x1234_5000);
    }

    #[test]
    fn release_then_alloc_everything_once() {
        let mut z = zone(ZoneKind::Low, 256, 100);
        z.release(Frame(260), Frame(300));
        z.release(Frame(340), Frame(400)); // clipped to the zone's end (356)
        assert_eq!(z.free_frames(), 40 + 16);
        let mut seen = BTreeSet::new();
        while let Some(f) = z.alloc() {
            assert!(
                (260..300).contains(&f.0) || (340..356).contains(&f.0),
                "{f:?}"
            );
            assert!(seen.insert(f), "{f:?} handed out twice");
        }
        assert_eq!(seen.len(), 56);
        assert_eq!(z.free_frames(), 0);
        assert_eq!(z.managed_frames(), 56);
    }

    #[test]
    fn free_detects_bugs() {
        let mut z = zone(ZoneKind::Low, 0, 64);
        z.release(Frame(10), Frame(20));
        let f = z.alloc().unwrap();
        assert_eq!(z.free(f), Ok(()));
        assert_eq!(z.free(f), Err(FreeError::DoubleFree(f)));
        assert_eq!(z.free(Frame(64)), Err(FreeError::NotInZone(Frame(64))));
        assert_eq!(z.free(Frame(5)), Err(FreeError::NeverManaged(Frame(5))));
    }

    #[test]
    fn double_release_counts_once() {
        let mut z = zone(ZoneKind::High, 0, 32);
        z.release(Frame(0), Frame(8));
        z.release(Frame(4), Frame(12));
        assert_eq!(z.free_frames(), 12);
    }

    #[test]
    fn user_frames_prefer_highmem() {
        let mut low = zone(ZoneKind::Low, 0, 32);
        low.release(Frame(0), Frame(2));
        let mut high = zone(ZoneKind::High, 32, 32);
        high.release(Frame(40), Frame(41));
        let mut frames = PhysFrames { low, high };
        assert_eq!(frames.alloc_user(), Some((Frame(40), ZoneKind::High)));
        assert_eq!(frames.alloc_user().map(|(_, k)| k), Some(ZoneKind::Low));
        assert_eq!(frames.alloc_low().map(|f| f.0), Some(1));
        assert_eq!(frames.alloc_user(), None);
        frames.free(Frame(40)).unwrap();
        assert_eq!(frames.high.free_frames(), 1);
    }
}
