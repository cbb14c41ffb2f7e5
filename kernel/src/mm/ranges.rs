//! A fixed-capacity set of disjoint physical address ranges, usable before the heap
//! exists: the usable RAM from the memory map, minus what is reserved.

use core::fmt;

/// A half-open physical range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: u64,
    pub end: u64,
}

impl Range {
    pub const fn len(&self) -> u64 {
        self.end - self.start
    }

    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// The set has no room for another range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

impl fmt::Display for Full {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("too many memory ranges")
    }
}

/// Sorted, disjoint, non-adjacent ranges (adjacent ones are merged).
#[derive(Clone, Copy)]
pub struct RangeSet<const N: usize> {
    ranges: [Range; N],
    len: usize,
}

impl<const N: usize> Default for RangeSet<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Debug for RangeSet<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|r| r.start..r.end))
            .finish()
    }
}

impl<const N: usize> RangeSet<N> {
    pub const fn new() -> Self {
        Self {
            ranges: [Range { start: 0, end: 0 }; N],
            len: 0,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Range> + '_ {
        self.ranges[..self.len].iter().copied()
    }

    /// Total bytes in the set.
    pub fn total(&self) -> u64 {
        self.iter().map(|r| r.len()).sum()
    }

    /// Adds `[start, end)`, merging with overlapping or adjacent ranges.
    pub fn add(&mut self, start: u64, end: u64) -> Result<(), Full> {
        if end <= start {
            return Ok(());
        }
        let mut new = Range { start, end };
        // Absorb every range that overlaps or touches the new one.
        let mut i = 0;
        while i < self.len {
            let r = self.ranges[i];
            if r.end >= new.start && r.start <= new.end {
                new.start = new.start.min(r.start);
                new.end = new.end.max(r.end);
                self.remove_at(i);
            } else {
                i += 1;
            }
        }
        let at = self.ranges[..self.len]
            .iter()
            .position(|r| r.start > new.start)
            .unwrap_or(self.len);
        self.insert_at(at, new)
    }

    /// Removes `[start, end)` from the set, splitting a range when needed.
    pub fn remove(&mut self, start: u64, end: u64) -> Result<(), Full> {
        if end <= start {
            return Ok(());
        }
        let mut i = 0;
        while i < self.len {
            let r = self.ranges[i];
            if r.end <= start || r.start >= end {
                i += 1;
                continue;
            }
            let left = Range {
                start: r.start,
                end: start,
            };
            let right = Range {
                start: end,
                end: r.end,
            };
            self.remove_at(i);
            if !right.is_empty() {
                self.insert_at(i, right)?;
            }
            if !left.is_empty() {
                self.insert_at(i, left)?;
                i += 1;
            }
        }
        Ok(())
    }

    /// Keeps only the part of the set inside `[start, end)`.
    pub fn clip(&self, start: u64, end: u64) -> Self {
        let mut out = Self::new();
        for r in self.iter() {
            let (s, e) = (r.start.max(start), r.end.min(end));
            if s < e {
                out.ranges[out.len] = Range { start: s, end: e };
                out.len += 1;
            }
        }
        out
    }

    /// Shrinks every range inward to `align` boundaries, dropping those that vanish.
    pub fn align_inward(&mut self, align: u64) {
        let mut out = Self::new();
        for r in self.iter() {
            let s = r.start.next_multiple_of(align);
            let e = r.end / align * align;
            if s < e {
                out.ranges[out.len] = Range { start: s, end: e };
                out.len += 1;
            }
        }
        *self = out;
    }

    /// Takes the lowest `len` bytes aligned to `align` that end at or below `below`.
    pub fn take(&mut self, len: u64, align: u64, below: u64) -> Option<u64> {
        let start = self.iter().find_map(|r| {
            let s = r.start.next_multiple_of(align);
            (s + len <= r.end.min(below)).then_some(s)
        })?;
        self.remove(start, start + len).ok()?;
        Some(start)
    }

    fn remove_at(&mut self, i: usize) {
        self.ranges.copy_within(i + 1..self.len, i);
        self.len -= 1;
    }

    fn insert_at(&mut self, i: usize, r: Range) -> Result<(), Full> {
        if self.len == N {
            return Err(Full);
        }
        self.ranges.copy_within(i..self.len, i + 1);
        self.ranges[i] = r;
        self.len += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn spans<const N: usize>(s: &RangeSet<N>) -> Vec<(u64, u64)> {
        s.iter().map(|r| (r.start, r.end)).collect()
    }

    #[test]
    fn add_merges_overlapping_and_adjacent() {
        let mut s = RangeSet::<8>::new();
        s.add(100, 200).unwrap();
        s.add(300, 400).unwrap();
        s.add(0, 50).unwrap();
        assert_eq!(spans(&s), [(0, 50), (100, 200), (300, 400)]);
        s.add(200, 300).unwrap();
        assert_eq!(spans(&s), [(0, 50), (100, 400)]);
        s.add(40, 120).unwrap();
        assert_eq!(spans(&s), [(0, 400)]);
        assert_eq!(s.total(), 400);
    }

    #[test]
    fn remove_splits() {
        let mut s = RangeSet::<8>::new();
        s.add(0, 1000).unwrap();
        s.remove(100, 200).unwrap();
        s.remove(900, 2000).unwrap();
        s.remove(0, 10).unwrap();
        assert_eq!(spans(&s), [(10, 100), (200, 900)]);
        s.remove(50, 250).unwrap();
        assert_eq!(spans(&s), [(10, 50), (250, 900)]);
    }

    #[test]
    fn capacity_is_reported() {
        let mut s = RangeSet::<2>::new();
        s.add(0, 10).unwrap();
        s.add(20, 30).unwrap();
        assert_eq!(s.add(40, 50), Err(Full));
        assert_eq!(s.remove(2, 4), Err(Full));
    }

    #[test]
    fn clip_and_align() {
        let mut s = RangeSet::<8>::new();
        s.add(0x100, 0x2100).unwrap();
        s.add(0x5000, 0x9000).unwrap();
        s.align_inward(0x1000);
        assert_eq!(spans(&s), [(0x1000, 0x2000), (0x5000, 0x9000)]);
        assert_eq!(
            spans(&s.clip(0x1800, 0x6000)),
            [(0x1800, 0x2000), (0x5000, 0x6000)]
        );
    }

    #[test]
    fn take_is_lowest_fit_below_a_limit() {
        let mut s = RangeSet::<8>::new();
        s.add(0x1000, 0x3000).unwrap();
        s.add(0x10000, 0x20000).unwrap();
        assert_eq!(s.take(0x4000, 0x1000, u64::MAX), Some(0x10000));
        assert_eq!(s.take(0x1000, 0x2000, u64::MAX), Some(0x2000));
        assert_eq!(s.take(0x10000, 0x1000, 0x18000), None);
        assert_eq!(spans(&s), [(0x1000, 0x2000), (0x14000, 0x20000)]);
    }
}
