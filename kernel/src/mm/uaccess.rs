//! Copies between the kernel and a user address space. Every page of the range is checked
//! against the space first (user range, present, user-accessible, writable when written);
//! only then are bytes copied, page by page through temp mappings. The kernel never
//! dereferences a user pointer, and a bad byte anywhere fails the call before any byte
//! moves, so nothing partial reaches the console or the user.

use super::space::AddressSpace;
use super::temp::{TempMap, Writable};
use super::user_range::UserRange;
use crate::errno::Errno;

/// Checks that every page of `[addr, addr + len)` is mapped for user access (and writable
/// when `write`), returning the range.
pub fn check(space: &AddressSpace, addr: u32, len: u32, write: bool) -> Result<UserRange, Errno> {
    let range = UserRange::new(addr, len).map_err(|_| Errno::EFAULT)?;
    for chunk in range.chunks() {
        match space.translate(chunk.page) {
            Some(t) if t.user && (t.write || !write) => {}
            _ => return Err(Errno::EFAULT),
        }
    }
    Ok(range)
}

/// Fills `dst` from user memory at `src`.
pub fn copy_from_user(space: &AddressSpace, dst: &mut [u8], src: u32) -> Result<(), Errno> {
    let len = u32::try_from(dst.len()).map_err(|_| Errno::EFAULT)?;
    let mut at = 0;
    for_each_user_chunk(space, src, len, |bytes| {
        dst[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    })
}

/// Writes `src` to user memory at `dst`.
pub fn copy_to_user(space: &AddressSpace, dst: u32, src: &[u8]) -> Result<(), Errno> {
    let len = u32::try_from(src.len()).map_err(|_| Errno::EFAULT)?;
    let range = check(space, dst, len, true)?;
    for c in range.chunks() {
        let frame = space.translate(c.page).ok_or(Errno::EFAULT)?.frame;
        let mut page = TempMap::<Writable>::write(frame).map_err(|_| Errno::ENOMEM)?;
        page[c.offset..c.offset + c.len].copy_from_slice(&src[c.done..c.done + c.len]);
    }
    Ok(())
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
    for c in range.chunks() {
        let frame = space.translate(c.page).ok_or(Errno::EFAULT)?.frame;
        let page = TempMap::read(frame).map_err(|_| Errno::ENOMEM)?;
        f(&page[c.offset..c.offset + c.len]);
    }
    Ok(())
}
