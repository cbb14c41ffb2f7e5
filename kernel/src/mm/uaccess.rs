//! Copies between the kernel and a user address space. Every page of the range is checked
//! against the space first (user range, present, user-accessible, writable when written);
//! only then are bytes copied, page by page through temp mappings. The kernel never
//! dereferences a user pointer, and a bad byte anywhere fails the call before any byte
//! moves, so nothing partial reaches the console or the user.

use super::space::AddressSpace;
use super::temp::{Exhausted, TempMap, Writable};
use super::user_range::{PageChunk, UserRange};
use super::zones::Frame;
use crate::errno::Errno;
use alloc::vec::Vec;
use arch::paging::PAGE_SIZE;

/// A page of zeroes, copied to user memory for `/dev/zero` and for a file's holes.
pub static ZERO_PAGE: [u8; PAGE_SIZE] = [0; PAGE_SIZE];

/// Checks that every page of `[addr, addr + len)` is mapped for user access (and writable
/// when `write`), returning the range.
pub fn check(space: &AddressSpace, addr: u32, len: u32, write: bool) -> Result<UserRange, Errno> {
    let range = UserRange::new(addr, len).map_err(|_| Errno::EFAULT)?;
    for chunk in range.chunks() {
        match space.translate(chunk.page) {
            Some(t) if t.user && (t.write || !write) => {}
            // A copy-on-write page the kernel writes for the user: copied first, as a
            // user write would be (`mm::cow`).
            Some(t) if t.user && t.cow => {
                if !super::cow::unshare(space, chunk.page)? {
                    return Err(Errno::EFAULT);
                }
            }
            _ => return Err(Errno::EFAULT),
        }
    }
    Ok(range)
}

/// How a page is mapped for the walk: read-only or writable.
type MapFn<A> = unsafe fn(Frame) -> Result<TempMap<A>, Exhausted>;

/// The one page walk behind every user copy: maps each page of `range` in turn and hands
/// `f` the chunk and the mapping. Pages must be mapped (checked by the caller).
fn walk<A>(
    space: &AddressSpace,
    range: UserRange,
    map: MapFn<A>,
    mut f: impl FnMut(&PageChunk, &mut TempMap<A>),
) -> Result<(), Errno> {
    for c in range.chunks() {
        let frame = space.translate(c.page).ok_or(Errno::EFAULT)?.frame;
        // SAFETY: `frame` backs a page of `space`, which the caller borrows: the frame stays
        // allocated to it for the whole walk.
        let mut page = unsafe { map(frame) }.map_err(|_| Errno::ENOMEM)?;
        f(&c, &mut page);
    }
    Ok(())
}

/// Fills `dst` from user memory at `src`.
pub fn copy_from_user(space: &AddressSpace, dst: &mut [u8], src: u32) -> Result<(), Errno> {
    let len = u32::try_from(dst.len()).map_err(|_| Errno::EFAULT)?;
    let range = check(space, src, len, false)?;
    walk(space, range, TempMap::read, |c, page| {
        dst[c.done..c.done + c.len].copy_from_slice(&page[c.offset..c.offset + c.len]);
    })
}

/// Writes `src` to user memory at `dst`.
pub fn copy_to_user(space: &AddressSpace, dst: u32, src: &[u8]) -> Result<(), Errno> {
    let len = u32::try_from(src.len()).map_err(|_| Errno::EFAULT)?;
    let range = check(space, dst, len, true)?;
    walk(space, range, TempMap::<Writable>::write, |c, page| {
        page[c.offset..c.offset + c.len].copy_from_slice(&src[c.done..c.done + c.len]);
    })
}

/// Calls `f` with each page-sized piece of user memory `[src, src + len)`, in order, after
/// checking the whole range (so `f` sees nothing unless every byte is readable).
pub fn for_each_user_chunk(
    space: &AddressSpace,
    src: u32,
    len: u32,
    mut f: impl FnMut(&[u8]),
) -> Result<(), Errno> {
    let range = check(space, src, len, false)?;
    walk(space, range, TempMap::read, |c, page| {
        f(&page[c.offset..c.offset + c.len])
    })
}

/// Reads the NUL-terminated string at user address `src` (a path), without its NUL, page by
/// page: only the pages the string really occupies must be readable. `ENAMETOOLONG` when no
/// NUL comes within `max` bytes, `EFAULT` when a page before the NUL is not readable.
pub fn copy_c_string(space: &AddressSpace, src: u32, max: usize) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut addr = src;
    while out.len() < max {
        let to_page_end = PAGE_SIZE - addr as usize % PAGE_SIZE;
        let len = to_page_end.min(max - out.len());
        let mut ended = false;
        // One page at a time: one chunk per call.
        for_each_user_chunk(space, addr, len as u32, |bytes| {
            let end = bytes.iter().position(|&b| b == 0);
            ended = end.is_some();
            out.extend_from_slice(&bytes[..end.unwrap_or(bytes.len())]);
        })?;
        if ended {
            return Ok(out);
        }
        addr = addr.checked_add(len as u32).ok_or(Errno::EFAULT)?;
    }
    Err(Errno::ENAMETOOLONG)
}

/// Writes `bytes` at user address `dst` whatever the pages' user permissions (the ELF loader
/// fills read-only pages too). The pages must be mapped; the range must be a user range.
pub fn poke(space: &AddressSpace, dst: u32, bytes: &[u8]) -> Result<(), Errno> {
    let len = u32::try_from(bytes.len()).map_err(|_| Errno::EFAULT)?;
    let range = UserRange::new(dst, len).map_err(|_| Errno::EFAULT)?;
    walk(space, range, TempMap::<Writable>::write, |c, page| {
        page[c.offset..c.offset + c.len].copy_from_slice(&bytes[c.done..c.done + c.len]);
    })
}

mod tests {
    use super::*;
    use crate::mm::frames;
    use crate::mm::space::Protection;
    use crate::{check, check_eq, kernel_test};

    const RW: u32 = 0x1000_0000;
    const RO: u32 = RW + 0x1000;

    /// A space with a writable page at RW and a read-only page right after it.
    fn space() -> Result<AddressSpace, crate::ktest::TestFailure> {
        let mut s = AddressSpace::new().map_err(|_| "no memory")?;
        s.map_zeroed(RW, Protection::READ_WRITE)
            .map_err(|_| "map")?;
        s.map_zeroed(RO, Protection::READ_ONLY).map_err(|_| "map")?;
        Ok(s)
    }

    kernel_test! {
        fn copies_cross_page_boundaries() {
            let before = frames::stats();
            {
                let s = space()?;
                let data: alloc::vec::Vec<u8> = (0..200u8).collect();
                copy_to_user(&s, RO - 100, &data[..100]).map_err(|_| "copy_to_user")?;
                let mut back = [0u8; 100];
                copy_from_user(&s, &mut back, RO - 100).map_err(|_| "copy_from_user")?;
                check!(back[..] == data[..100]);
                // Reading across into the read-only page is fine.
                let mut across = [0xFFu8; 150];
                copy_from_user(&s, &mut across, RO - 100).map_err(|_| "read across")?;
                check!(across[..100] == data[..100] && across[100..].iter().all(|&b| b == 0));
            }
            check_eq!(frames::stats(), before);
        }
    }

    kernel_test! {
        fn bad_user_ranges_are_efault_and_write_nothing() {
            let s = space()?;
            let mut buf = [0u8; 16];
            // A write that would run from the writable page into the read-only one.
            check_eq!(copy_to_user(&s, RO - 8, &[7u8; 16]), Err(Errno::EFAULT));
            copy_from_user(&s, &mut buf[..8], RO - 8).map_err(|_| "read back")?;
            check!(buf[..8].iter().all(|&b| b == 0), "a refused copy wrote {buf:?}");
            for (addr, len) in [
                (0u32, 1u32),            // NULL
                (0x2000_0000, 4),        // unmapped
                (0xC010_0000, 4),        // kernel image
                (0xE000_0000, 4),        // temp region
                (RO + 0x1000 - 2, 4),    // runs into an unmapped page
                (RW, 0x7FFF_FFFF),       // huge length
                (0xFFFF_F000, 0x2000),   // wraps around
            ] {
                let mut big = alloc::vec![0u8; (len as usize).min(16)];
                let r = if len as usize > big.len() {
                    check(&s, addr, len, false).map(|_| ())
                } else {
                    copy_from_user(&s, &mut big, addr)
                };
                check_eq!(r, Err(Errno::EFAULT));
            }
        }
    }

    kernel_test! {
        fn c_strings_stop_at_their_nul_and_only_its_pages_must_exist() {
            let s = space()?;
            // Across the boundary into the read-only page, ending before the unmapped one.
            copy_to_user(&s, RO - 4, b"/dev").map_err(|_| "poke")?;
            poke(&s, RO, b"/null\0").map_err(|_| "poke")?;
            check_eq!(copy_c_string(&s, RO - 4, 256), Ok(b"/dev/null".to_vec()));
            // A NUL in the last byte of the last mapped page: nothing beyond it is read.
            poke(&s, RO + 0xFFC, b"abc\0").map_err(|_| "poke")?;
            check_eq!(copy_c_string(&s, RO + 0xFFC, 256), Ok(b"abc".to_vec()));
            // No NUL before the unmapped page, or before `max`.
            poke(&s, RO + 0xFFC, b"abcd").map_err(|_| "poke")?;
            check_eq!(copy_c_string(&s, RO + 0xFFC, 256), Err(Errno::EFAULT));
            check_eq!(copy_c_string(&s, RO - 4, 6), Err(Errno::ENAMETOOLONG));
            check_eq!(copy_c_string(&s, 0, 256), Err(Errno::EFAULT));
            check_eq!(copy_c_string(&s, 0xC010_0000, 256), Err(Errno::EFAULT));
        }
    }
}
