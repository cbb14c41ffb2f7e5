//! Memory system calls: `brk`, `mmap2` (private: anonymous, or a copy of a file),
//! `munmap`, `mprotect`, `madvise`. Pages
//! are mapped eagerly and zeroed through temp mappings; unmapped frames go back to the
//! allocator once this CPU's TLB has dropped them (no other CPU runs this space yet).

use super::SysResult;
use crate::elf::USER_BASE;
use crate::errno::Errno;
use crate::files::{Device, Object};
use crate::fs::ramfs::{FileData, Handle};
use crate::loader::{STACK_PAGES, STACK_TOP};
use crate::mm::space::{AddressSpace, MapError, Protection};
use crate::mm::user_range::UserRange;
use crate::mm::zones::Frame;
use crate::proc::{Memory, Process};
use crate::sched;
use alloc::sync::Arc;
use alloc::vec::Vec;
use arch::paging::PAGE_SIZE;
use core::sync::atomic::{AtomicBool, Ordering};
use smp::shootdown::Flush;

const PAGE: u32 = PAGE_SIZE as u32;
const MAP_SHARED: u32 = 0x01;
const MAP_PRIVATE: u32 = 0x02;
const MAP_SHARED_VALIDATE: u32 = 0x03;
/// The bits of `flags` that say shared or private.
const MAP_TYPE: u32 = 0x0F;
const MAP_FIXED: u32 = 0x10;
const MAP_ANONYMOUS: u32 = 0x20;

/// Where `mmap2` looks for free space: above the program and its heap, below the stack
/// (with a guard gap).
pub const MMAP_BASE: u32 = 0x4000_0000;
const MMAP_END: u32 = STACK_TOP - (STACK_PAGES + 256) * PAGE;

fn page_ceil(x: u32) -> u32 {
    x.div_ceil(PAGE) * PAGE
}

/// Runs `f` on the calling process and its memory, holding the memory lock (other threads'
/// memory calls and user copies wait; no page can change under them).
fn with_memory<R>(f: impl FnOnce(&Process, &mut Memory) -> R) -> R {
    let process = sched::current_process();
    let mut memory = process.mem.lock();
    f(&process, &mut memory)
}

fn pages(start: u32, end: u32) -> impl Iterator<Item = u32> {
    (start..end).step_by(PAGE_SIZE)
}

/// Unmaps every mapped page in `[start, end)`, shoots the range down on every CPU that
/// has the space loaded (one round, however many pages), and only then frees the frames.
fn unmap_range(process: &Process, space: &mut AddressSpace, start: u32, end: u32) {
    let freed: Vec<_> = pages(start, end)
        .filter_map(|page| space.unmap(page))
        .collect();
    free_after_flush(process, start, end, freed);
}

/// Negative control (`free-before-flush` on the command line): unmapped frames go back
/// to the allocator before the round instead of after it, so another CPU may reuse a frame
/// that threads elsewhere still reach through stale translations. The frame-reuse test
/// must then fail.
static FREE_BEFORE_FLUSH: AtomicBool = AtomicBool::new(false);

/// Switches the negative control on (boot, before any task runs).
pub fn free_before_flush() {
    log::warn!(
        "free-before-flush: unmapped frames are freed before the shootdown (negative control)"
    );
    FREE_BEFORE_FLUSH.store(true, Ordering::Relaxed);
}

/// Frees the frames `[start, end)` no longer maps, after one round that drops their
/// translations on every CPU that has the space loaded.
fn free_after_flush(process: &Process, start: u32, end: u32, mut freed: Vec<Frame>) {
    if freed.is_empty() {
        return;
    }
    if FREE_BEFORE_FLUSH.load(Ordering::Relaxed) {
        freed.drain(..).for_each(crate::mm::cow::put);
    }
    process.flush(Flush::Range {
        start,
        pages: (end - start) / PAGE,
    });
    for frame in freed {
        crate::mm::cow::put(frame);
    }
}

/// Maps zeroed pages over `[start, end)`, all or nothing: `ENOMEM` (with nothing left
/// mapped) when memory runs out or a page is already in use.
fn map_zeroed(
    process: &Process,
    space: &mut AddressSpace,
    start: u32,
    end: u32,
    prot: Protection,
) -> Result<(), Errno> {
    for page in pages(start, end) {
        if space.map_zeroed(page, prot).is_err() {
            unmap_range(process, space, start, page);
            return Err(Errno::ENOMEM);
        }
    }
    Ok(())
}

/// Negative control (`no-vdso-follow`): `mremap` of the vDSO leaves the caller's return
/// address in the old copy.
static VDSO_FOLLOW_OFF: AtomicBool = AtomicBool::new(false);

/// Turns the vDSO's return-address fix-up off (negative control).
pub fn disable_vdso_follow() {
    log::warn!(
        "no-vdso-follow: mremap of the vDSO leaves callers returning into the old copy (negative control)"
    );
    VDSO_FOLLOW_OFF.store(true, Ordering::Relaxed);
}

const MREMAP_MAYMOVE: u32 = 1;
const MREMAP_FIXED: u32 = 2;

/// `mremap(old, old_size, new_size, flags, new_address)`: resizes the private mapping of
/// `[old, old + old_size)`, every page of which must be mapped (`EFAULT`), as Linux does:
/// - smaller: the tail is unmapped, and it stays at `old`;
/// - larger, with the pages after it free: zeroed pages, with the protection of its last
///   page, are added in place;
/// - larger otherwise, with `MREMAP_MAYMOVE`: its pages move (their entries do; no page is
///   copied) to a free range, zeroed pages after them; else `ENOMEM`;
/// - with `MREMAP_FIXED` (and `MAYMOVE`): moved to `new_address`, whatever was mapped
///   there unmapped first; a range overlapping the old one is `EINVAL`.
///
/// Returns where it is now. The old range is shot down on every CPU that has the space.
/// Moving the vDSO moves the signal trampolines with it, and the caller, which may have
/// called through `__kernel_vsyscall` (glibc does), returns into the new copy (`eip` is
/// the caller's return address), as on Linux.
/// `EINVAL` for an unaligned address, a size of 0, or another flag (`MREMAP_DONTUNMAP`
/// is not built).
pub fn mremap(
    eip: &mut u32,
    old: u32,
    old_size: u32,
    new_size: u32,
    flags: u32,
    new_address: u32,
) -> SysResult {
    let fixed = flags & MREMAP_FIXED != 0;
    let may_move = flags & MREMAP_MAYMOVE != 0;
    if !old.is_multiple_of(PAGE)
        || flags & !(MREMAP_MAYMOVE | MREMAP_FIXED) != 0
        || (fixed && !may_move)
    {
        return Err(Errno::EINVAL);
    }
    let old_len = old_size
        .checked_next_multiple_of(PAGE)
        .ok_or(Errno::EINVAL)?;
    let new_len = new_size
        .checked_next_multiple_of(PAGE)
        .ok_or(Errno::EINVAL)?;
    if old_len == 0 || new_len == 0 {
        return Err(Errno::EINVAL);
    }
    if fixed {
        let overlap = new_address < old + old_len && old < new_address.wrapping_add(new_len);
        if !new_address.is_multiple_of(PAGE)
            || UserRange::new(new_address, new_len).is_err()
            || new_address < USER_BASE
            || overlap
        {
            return Err(Errno::EINVAL);
        }
    }
    UserRange::new(old, old_len).map_err(|_| Errno::EFAULT)?;
    with_memory(|process, m| {
        let space = &mut m.space;
        let old_end = old + old_len;
        if !pages(old, old_end).all(|page| space.translate(page).is_some()) {
            return Err(Errno::EFAULT);
        }
        let last = space.translate(old_end - PAGE).expect("mapped");
        let prot = Protection {
            user: last.user,
            write: last.write || last.cow,
        };
        if !fixed && new_len <= old_len {
            unmap_range(process, space, old + new_len, old_end);
            return Ok(old);
        }
        if !fixed && hinted(space, m.brk_start, old_end, new_len - old_len) == Some(old_end) {
            map_zeroed(process, space, old_end, old + new_len, prot)?;
            return Ok(old);
        }
        if !may_move {
            return Err(Errno::ENOMEM);
        }
        let to = if fixed {
            unmap_range(process, space, new_address, new_address + new_len);
            new_address
        } else {
            find_free(space, new_len).ok_or(Errno::ENOMEM)?
        };
        let kept = old_len.min(new_len);
        for (i, page) in pages(old, old + kept).enumerate() {
            if space.move_page(page, to + (i * PAGE_SIZE) as u32).is_err() {
                // No page table for the new place: every page back where it was.
                for (j, back) in pages(old, page).enumerate() {
                    let _ = space.move_page(to + (j * PAGE_SIZE) as u32, back);
                }
                return Err(Errno::ENOMEM);
            }
        }
        process.flush(Flush::Range {
            start: old,
            pages: kept / PAGE,
        });
        unmap_range(process, space, old + kept, old_end);
        if new_len > kept {
            map_zeroed(process, space, to + kept, to + new_len, prot)?;
        }
        // The vDSO moved: the signal trampolines are where it is now, and so is the
        // caller's way back.
        if (old..old_end).contains(&m.vdso) {
            m.vdso = to + (m.vdso - old);
        }
        if (old..old + kept).contains(eip) && !VDSO_FOLLOW_OFF.load(Ordering::Relaxed) {
            *eip = to + (*eip - old);
        }
        Ok(to)
    })
}

/// `brk(addr)`: moves the program break; returns the (possibly unchanged) break, as Linux does.
pub fn brk(addr: u32) -> SysResult {
    with_memory(|process, m| {
        if addr < m.brk_start || addr >= MMAP_BASE {
            return Ok(m.brk);
        }
        let (old_end, new_end) = (page_ceil(m.brk), page_ceil(addr));
        if new_end > old_end {
            let prot = Protection::READ_WRITE;
            if map_zeroed(process, &mut m.space, old_end, new_end, prot).is_err() {
                return Ok(m.brk);
            }
        } else {
            unmap_range(process, &mut m.space, new_end, old_end);
        }
        m.brk = addr;
        Ok(m.brk)
    })
}

/// `mmap2(addr, len, prot, flags, fd, pgoff)`: private mappings, anonymous or of a file
/// (`pgoff` in pages). A file's pages are copied into the new frames when they are mapped
/// (through two nested temp mappings each), so later writes to the file do not show
/// through: Linux shows them until the page is first written, POSIX leaves it open.
/// `MAP_SHARED` is refused (`ENODEV` for a file, `EINVAL` anonymous). `EBADF` for an fd
/// not open, `EACCES` for one not open for reading, `ENODEV` for what is not a regular
/// file (`/dev/zero` maps as anonymous memory, as on Linux). Without `MAP_FIXED`, a
/// non-zero `addr` is a hint, taken as Linux takes it: the mapping goes there when the
/// whole range is free, else where it would have gone without one.
pub fn mmap2(addr: u32, len: u32, prot: u32, flags: u32, fd: u32, pgoff: u32) -> SysResult {
    let kind = flags & MAP_TYPE;
    if len == 0 || !matches!(kind, MAP_SHARED | MAP_PRIVATE | MAP_SHARED_VALIDATE) {
        return Err(Errno::EINVAL);
    }
    let file = if flags & MAP_ANONYMOUS == 0 {
        mapped_file(fd)?
    } else {
        None
    };
    if kind != MAP_PRIVATE {
        return Err(if file.is_some() {
            Errno::ENODEV
        } else {
            Errno::EINVAL
        });
    }
    let len = len.checked_next_multiple_of(PAGE).ok_or(Errno::ENOMEM)?;
    let prot = Protection::from_prot(prot);
    let offset = u64::from(pgoff) * u64::from(PAGE);
    // The new frames are filled before any entry points at them: no thread of the process
    // sees a page of the file half copied.
    let fill = |i: usize, frame: Frame| match &file {
        Some(data) => data
            .copy_page_into(offset + (i * PAGE_SIZE) as u64, frame)
            .map_err(|_| MapError::NoTempSlot),
        None => Ok(()),
    };
    with_memory(|process, m| {
        let space = &mut m.space;
        let start = if flags & MAP_FIXED == 0 {
            hinted(space, m.brk_start, addr, len)
                .or_else(|| find_free(space, len))
                .ok_or(Errno::ENOMEM)?
        } else if !addr.is_multiple_of(PAGE) || UserRange::new(addr, len).is_err() {
            return Err(Errno::EINVAL);
        } else if addr < USER_BASE {
            // The null guard page stays unmapped (Linux: mmap_min_addr).
            return Err(Errno::EPERM);
        } else {
            addr
        };
        // New frames first: out of memory, an old mapping under `MAP_FIXED` stays whole
        // (Linux may leave the range unmapped), and the old frames, freed after the flush,
        // cannot come straight back as the new ones.
        let end = start + len;
        let replaced = space
            .replace_with(start, end, prot, fill)
            .map_err(|_| Errno::ENOMEM)?;
        free_after_flush(process, start, end, replaced);
        Ok(start)
    })
}

/// The data of the regular file open as `fd`, for `mmap2`; `None` for `/dev/zero`.
fn mapped_file(fd: u32) -> Result<Option<Arc<FileData>>, Errno> {
    let file = super::io::file(fd)?;
    if !file.readable {
        return Err(Errno::EACCES);
    }
    match &file.object {
        Object::Node(Handle::File { data, .. }) => Ok(Some(Arc::clone(data))),
        Object::Device(Device::Zero) => Ok(None),
        _ => Err(Errno::ENODEV),
    }
}

/// The hint `addr` rounded down to its page, as Linux on x86 rounds it, if `len` bytes there are
/// free: unmapped, above the null guard page, below the stack's reserve, and clear of
/// the heap's room to grow (from `brk_start` up to the mmap area, where `brk` may map).
fn hinted(space: &AddressSpace, brk_start: u32, addr: u32, len: u32) -> Option<u32> {
    if addr == 0 {
        return None;
    }
    let start = addr & !(PAGE - 1);
    let end = start.checked_add(len)?;
    let in_heap_room = start < MMAP_BASE && end > brk_start;
    if start < USER_BASE || end > MMAP_END || in_heap_room {
        return None;
    }
    pages(start, end)
        .all(|page| space.translate(page).is_none())
        .then_some(start)
}

/// The lowest `len` bytes of unmapped pages in the mmap area.
fn find_free(space: &AddressSpace, len: u32) -> Option<u32> {
    find_free_in(len, |page| space.translate(page).is_some())
}

/// The lowest `len` bytes of pages in the mmap area that `is_mapped` says are free.
fn find_free_in(len: u32, is_mapped: impl Fn(u32) -> bool) -> Option<u32> {
    let mut start = MMAP_BASE;
    let mut page = MMAP_BASE;
    while page < MMAP_END {
        if is_mapped(page) {
            start = page + PAGE;
        } else if page + PAGE - start >= len {
            return Some(start);
        }
        page += PAGE;
    }
    None
}

/// Checks an `munmap`/`mprotect` range: page-aligned start, non-empty, all user.
fn checked_range(addr: u32, len: u32) -> Result<(u32, u32), Errno> {
    if !addr.is_multiple_of(PAGE) || len == 0 {
        return Err(Errno::EINVAL);
    }
    let len = len.checked_next_multiple_of(PAGE).ok_or(Errno::EINVAL)?;
    UserRange::new(addr, len).map_err(|_| Errno::EINVAL)?;
    Ok((addr, addr + len))
}

/// `munmap(addr, len)`: unmaps whatever is mapped in the range.
pub fn munmap(addr: u32, len: u32) -> SysResult {
    let (start, end) = checked_range(addr, len)?;
    with_memory(|process, m| {
        unmap_range(process, &mut m.space, start, end);
        // No vDSO any more: handlers without `SA_RESTORER` return through their frames.
        if (start..end).contains(&m.vdso) {
            m.vdso = 0;
        }
    });
    Ok(0)
}

const MADV_DONTNEED: u32 = 4;

/// `madvise(addr, len, advice)`: `MADV_DONTNEED` zeroes the range's mapped pages (through
/// temp mappings: the pages stay mapped, and read back as zeroes as after Linux's drop);
/// every other advice Linux knows is a hint Tempest has no use for (pages are mapped
/// eagerly and never swapped): 0. `EINVAL` for an unaligned start or an unknown advice,
/// `ENOMEM` when part of the range is not mapped (the rest is still advised, as on
/// Linux).
pub fn madvise(addr: u32, len: u32, advice: u32) -> SysResult {
    // MADV_NORMAL..=MADV_DONTNEED, FREE, REMOVE, DONTFORK, DOFORK, MERGEABLE,
    // UNMERGEABLE, HUGEPAGE, NOHUGEPAGE, DONTDUMP, DODUMP, WIPEONFORK, KEEPONFORK, COLD,
    // PAGEOUT, POPULATE_READ, POPULATE_WRITE, DONTNEED_LOCKED, COLLAPSE; HWPOISON 100.
    if !matches!(advice, 0..=4 | 8..=25 | 100) || !addr.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let len = len.checked_next_multiple_of(PAGE).ok_or(Errno::EINVAL)?;
    UserRange::new(addr, len).map_err(|_| Errno::ENOMEM)?;
    with_memory(|_, m| {
        let mut holes = false;
        for page in pages(addr, addr + len) {
            if m.space.translate(page).is_none() {
                holes = true;
            } else if advice == MADV_DONTNEED {
                // A page shared copy-on-write is copied first: the zeroes are this
                // process's alone.
                crate::mm::cow::unshare(&m.space, page)?;
                crate::mm::uaccess::poke(&m.space, page, &[0u8; PAGE_SIZE])?;
            }
        }
        if holes { Err(Errno::ENOMEM) } else { Ok(0) }
    })
}

/// `mprotect(addr, len, prot)`: every page of the range must be mapped (`ENOMEM` if not).
pub fn mprotect(addr: u32, len: u32, prot: u32) -> SysResult {
    let (start, end) = checked_range(addr, len)?;
    let prot = Protection::from_prot(prot);
    with_memory(|process, m| {
        let space = &mut m.space;
        if pages(start, end).any(|p| space.translate(p).is_none()) {
            return Err(Errno::ENOMEM);
        }
        for page in pages(start, end) {
            space.protect(page, prot);
        }
        process.flush(Flush::Range {
            start,
            pages: (end - start) / PAGE,
        });
        Ok(0)
    })
}

mod tests {
    use super::*;
    use crate::{check_eq, kernel_test};

    kernel_test! {
        fn the_mmap_area_ends_a_guard_gap_below_the_stack() {
            // 0xC000_0000 less 32 stack pages and a 256-page (1 MiB) guard gap: a full
            // area leaves one page there, and a two-page request no room at all.
            const LAST_PAGE: u32 = 0xBFED_F000;
            let full_but_the_last = |page: u32| page < LAST_PAGE;
            check_eq!(find_free_in(PAGE, full_but_the_last), Some(LAST_PAGE));
            check_eq!(find_free_in(2 * PAGE, full_but_the_last), None);
            check_eq!(find_free_in(PAGE, |_| false), Some(MMAP_BASE));
        }
    }
}
