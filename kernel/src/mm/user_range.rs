//! User address ranges: the checks every pointer from user mode goes through before the
//! kernel walks its pages (no wrap-around, nothing at or above the kernel half).

use arch::paging::PAGE_SIZE;

/// First address of the kernel half: user ranges end at or below it.
pub const USER_END: u32 = 0xC000_0000;

/// A byte range `[start, start + len)` that lies entirely in the user half.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserRange {
    start: u32,
    len: u32,
}

/// Why a range is not a user range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeError {
    /// `start + len` overflows 32 bits.
    Wraps,
    /// Some byte lies at or above `USER_END`.
    ReachesKernel,
}

/// One page's share of a range: the page, and the bytes of it the range covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageChunk {
    /// Page-aligned user address.
    pub page: u32,
    /// Offset of the first covered byte in the page.
    pub offset: usize,
    /// Bytes covered in this page.
    pub len: usize,
    /// Offset of this chunk from the start of the range.
    pub done: usize,
}

impl UserRange {
    /// Checks `[start, start + len)`. An empty range is valid anywhere below `USER_END`.
    pub fn new(start: u32, len: u32) -> Result<Self, RangeError> {
        let end = start.checked_add(len).ok_or(RangeError::Wraps)?;
        if end > USER_END || start >= USER_END {
            return Err(RangeError::ReachesKernel);
        }
        Ok(Self { start, len })
    }

    pub fn start(&self) -> u32 {
        self.start
    }

    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The pages the range touches, each with the part of it that is covered.
    pub fn chunks(&self) -> impl Iterator<Item = PageChunk> {
        let (start, end) = (self.start as usize, self.start as usize + self.len as usize);
        let first = start & !(PAGE_SIZE - 1);
        (first..end).step_by(PAGE_SIZE).map(move |page| {
            let from = start.max(page);
            let to = end.min(page + PAGE_SIZE);
            PageChunk {
                page: page as u32,
                offset: from - page,
                len: to - from,
                done: from - start,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn accepts_user_ranges() {
        assert!(UserRange::new(0x0804_8000, 100).is_ok());
        assert!(
            UserRange::new(0xBFFF_F000, 0x1000).is_ok(),
            "ends exactly at the kernel"
        );
        assert!(UserRange::new(0, 0).is_ok());
    }

    #[test]
    fn refuses_kernel_and_wrapping_ranges() {
        assert_eq!(
            UserRange::new(0xBFFF_F000, 0x1001),
            Err(RangeError::ReachesKernel)
        );
        assert_eq!(
            UserRange::new(0xC010_0000, 1),
            Err(RangeError::ReachesKernel)
        );
        assert_eq!(
            UserRange::new(0xE000_0000, 0),
            Err(RangeError::ReachesKernel)
        );
        assert_eq!(UserRange::new(0xFFFF_F000, 0x2000), Err(RangeError::Wraps));
        assert_eq!(UserRange::new(0x1000, 0xFFFF_FFFF), Err(RangeError::Wraps));
        assert_eq!(
            UserRange::new(0x4000_0000, 0x8000_0001),
            Err(RangeError::ReachesKernel)
        );
        assert!(
            UserRange::new(0x1000, 0x7FFF_FFFF).is_ok(),
            "a huge range can still be user"
        );
    }

    #[test]
    fn chunks_split_at_page_boundaries() {
        let r = UserRange::new(0x1000 + 4000, 100).unwrap();
        let c: Vec<_> = r.chunks().collect();
        assert_eq!(
            c,
            [
                PageChunk {
                    page: 0x1000,
                    offset: 4000,
                    len: 96,
                    done: 0
                },
                PageChunk {
                    page: 0x2000,
                    offset: 0,
                    len: 4,
                    done: 96
                },
            ]
        );
        assert_eq!(UserRange::new(0x5000, 0).unwrap().chunks().count(), 0);
        let whole: usize = UserRange::new(0x1234, 3 * 4096)
            .unwrap()
            .chunks()
            .map(|c| c.len)
            .sum();
        assert_eq!(whole, 3 * 4096);
        assert_eq!(
            UserRange::new(0x1234, 3 * 4096).unwrap().chunks().count(),
            4
        );
    }
}
