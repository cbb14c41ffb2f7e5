//! Address spaces: one page directory per process. The kernel half (PDEs 768-1023) is
//! copied from the kernel directory, so it points at the page tables allocated at boot
//! and every kernel mapping is visible here too. The user half has its own page tables
//! (lowmem, edited through the direct map) over user frames (highmem first).

use super::cow;
use super::frames;
use super::layout::{KERNEL_PDE_FIRST, phys_to_virt};
use super::paging::{kernel_directory, table_at};
use super::temp::{TempMap, Writable};
use super::zones::Frame;
use alloc::vec::Vec;
use arch::paging::{
    ENTRIES, PAddr, PDEntry, PDFlags, PTEntry, PTFlags, PageTable, pd_index, pt_index,
};
use core::fmt;

/// User page protection. i386 paging without PAE has no execute bit, so `PROT_READ` and
/// `PROT_EXEC` both mean "user may read"; `PROT_NONE` pages are mapped for the kernel only
/// (no U/S bit), so any user access faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Protection {
    /// User mode may touch the page at all (not `PROT_NONE`).
    pub user: bool,
    pub write: bool,
}

impl Protection {
    pub const READ_ONLY: Protection = Protection {
        user: true,
        write: false,
    };
    pub const READ_WRITE: Protection = Protection {
        user: true,
        write: true,
    };

    /// From `mmap`/`mprotect`'s `prot` bits (`PROT_READ` 1, `PROT_WRITE` 2, `PROT_EXEC` 4).
    pub fn from_prot(prot: u32) -> Protection {
        Protection {
            user: prot & 7 != 0,
            write: prot & 2 != 0,
        }
    }
}

/// A mapping could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No frame for the page or its page table.
    NoMemory,
    /// The page is already mapped.
    AlreadyMapped(u32),
    /// The address is not a user address.
    NotUser(u32),
    /// No temp-mapping slot was free to zero the page with.
    NoTempSlot,
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::NoMemory => f.write_str("out of physical memory"),
            MapError::AlreadyMapped(va) => write!(f, "page {va:#x} is already mapped"),
            MapError::NotUser(va) => write!(f, "{va:#x} is not a user address"),
            MapError::NoTempSlot => f.write_str("no temp-mapping slot free"),
        }
    }
}

/// What a user page translates to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    pub frame: Frame,
    pub user: bool,
    pub write: bool,
    /// Shared copy-on-write: writable once copied (`write` is false until then).
    pub cow: bool,
}

/// A PTE software bit (one of the three the MMU leaves to the OS): the page is writable
/// for its owner but shares its frame copy-on-write, so the entry is read-only until the
/// first write copies it (`mm::cow`).
pub const COW: u32 = 1 << 9;

/// What a write to a copy-on-write page did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CowBreak {
    /// Nothing to do: the page is writable already (another thread got there first).
    Writable,
    /// This space was the frame's last owner: the entry is writable again, same frame.
    Reused,
    /// The page was copied into a fresh frame: drop the old translation everywhere, then
    /// `cow::put` the old frame.
    Copied(Frame),
}

/// A process's page directory and everything it maps in the user half. (Which CPUs have
/// it loaded, and its shootdowns, belong to the process: `task::Process`.)
pub struct AddressSpace {
    directory: Frame,
}

fn zeroed_low_frame() -> Result<Frame, MapError> {
    let f = frames::alloc_low().ok_or(MapError::NoMemory)?;
    // SAFETY: a fresh lowmem frame, direct-mapped and ours.
    unsafe {
        core::ptr::write_bytes(
            phys_to_virt(f.addr()) as *mut u8,
            0,
            arch::paging::PAGE_SIZE,
        )
    };
    Ok(f)
}

/// A fresh user frame (highmem first), zeroed through a temp mapping.
fn zeroed_user_frame() -> Result<Frame, MapError> {
    let (f, _) = frames::alloc_user().ok_or(MapError::NoMemory)?;
    // SAFETY: a frame fresh from the allocator, ours alone.
    match unsafe { TempMap::<Writable>::write(f) } {
        Ok(mut page) => page.fill(0),
        Err(_) => {
            frames::free(f);
            return Err(MapError::NoTempSlot);
        }
    }
    Ok(f)
}

/// The PTE of a user page at `frame` with `prot`.
fn user_entry(frame: Frame, prot: Protection) -> u32 {
    let mut flags = PTFlags::P;
    if prot.user {
        flags |= PTFlags::US;
    }
    if prot.write {
        flags |= PTFlags::RW;
    }
    PTEntry::new(PAddr(frame.addr() as u32), flags).0
}

impl AddressSpace {
    /// A space with an empty user half and the shared kernel half.
    pub fn new() -> Result<Self, MapError> {
        let directory = zeroed_low_frame()?;
        let mut space = Self { directory };
        // SAFETY: the kernel directory is a direct-mapped lowmem frame, only read here.
        let kernel = unsafe { table_at(u64::from(kernel_directory())) };
        space.pd_mut().0[KERNEL_PDE_FIRST..].copy_from_slice(&kernel.0[KERNEL_PDE_FIRST..]);
        Ok(space)
    }

    /// Physical address of the page directory (for CR3).
    pub fn directory(&self) -> u32 {
        self.directory.addr() as u32
    }

    /// Whether this space is the one loaded in this CPU's CR3.
    pub fn is_active(&self) -> bool {
        arch::cpu::cr3() == self.directory()
    }

    /// Loads this space into CR3 on this CPU (processes go through `Process::activate`,
    /// which also tracks the CPU for shootdowns).
    pub fn activate(&self) {
        // SAFETY: the kernel half is shared with every directory, so the running kernel
        // code, its stack and data stay mapped across the switch.
        unsafe { arch::cpu::load_cr3(self.directory()) }
    }

    fn pd(&self) -> &PageTable {
        // SAFETY: our own directory frame, direct-mapped; writers hold `&mut self`.
        unsafe { table_at(self.directory.addr()) }
    }

    fn pd_mut(&mut self) -> &mut PageTable {
        // SAFETY: as for `pd`, with exclusive access through `&mut self`.
        unsafe { table_at(self.directory.addr()) }
    }

    /// Physical address of the page table covering user address `va`, if there is one.
    fn table_phys(&self, va: u32) -> Option<u64> {
        let i = pd_index(va as usize);
        if i >= KERNEL_PDE_FIRST {
            return None;
        }
        let pde = PDEntry(self.pd().0[i]);
        pde.is_present().then(|| u64::from(pde.address().0))
    }

    fn table(&self, va: u32) -> Option<&PageTable> {
        // SAFETY: user page tables are lowmem frames this space allocated.
        self.table_phys(va).map(|pa| unsafe { &*table_at(pa) })
    }

    fn table_mut(&mut self, va: u32) -> Option<&mut PageTable> {
        // SAFETY: as for `table`, with exclusive access through `&mut self`.
        self.table_phys(va).map(|pa| unsafe { table_at(pa) })
    }

    /// The page-table entry of user page `va`, if it maps something.
    fn present_slot(&mut self, va: u32) -> Option<&mut u32> {
        let slot = &mut self.table_mut(va)?.0[pt_index(va as usize)];
        PTEntry(*slot).is_present().then_some(slot)
    }

    /// The page table for `va`, created when missing.
    fn table_or_create(&mut self, va: u32) -> Result<&mut PageTable, MapError> {
        let i = pd_index(va as usize);
        if i >= KERNEL_PDE_FIRST {
            return Err(MapError::NotUser(va));
        }
        if self.table_phys(va).is_none() {
            let t = zeroed_low_frame()?;
            let flags = PDFlags::P | PDFlags::RW | PDFlags::US;
            self.pd_mut().0[i] = PDEntry::new(PAddr(t.addr() as u32), flags).0;
        }
        Ok(self.table_mut(va).expect("just created"))
    }

    /// Maps a fresh zeroed page at user address `va`. On error nothing is mapped and
    /// nothing is leaked.
    pub fn map_zeroed(&mut self, va: u32, prot: Protection) -> Result<(), MapError> {
        let f = zeroed_user_frame()?;
        self.map(va, f, prot).inspect_err(|_| frames::free(f))
    }

    /// Maps user page `va` to `frame`. On success the space owns the frame; on error the
    /// caller still does.
    pub fn map(&mut self, va: u32, frame: Frame, prot: Protection) -> Result<(), MapError> {
        let table = self.table_or_create(va)?;
        let slot = &mut table.0[pt_index(va as usize)];
        if PTEntry(*slot).is_present() {
            return Err(MapError::AlreadyMapped(va));
        }
        *slot = user_entry(frame, prot);
        Ok(())
    }

    /// Maps user page `va`, read-only, to `frame`, which others (the kernel) own too: the
    /// space takes a share (`cow::share`), given back when it lets go of the page, so the
    /// frame is never freed while its first owner keeps it. Marked copy-on-write, so that a
    /// write (after `mprotect`) gets a copy and never reaches the others' frame.
    pub fn map_shared_read_only(&mut self, va: u32, frame: Frame) -> Result<(), MapError> {
        let table = self.table_or_create(va)?;
        let slot = &mut table.0[pt_index(va as usize)];
        if PTEntry(*slot).is_present() {
            return Err(MapError::AlreadyMapped(va));
        }
        cow::share(frame);
        *slot = user_entry(frame, Protection::READ_ONLY) | COW;
        Ok(())
    }

    /// Maps fresh zeroed pages over `[start, end)` in place of whatever is mapped there
    /// (`mmap2` with `MAP_FIXED`), all or nothing: every frame and page table is taken before
    /// any entry changes, so on error the range maps what it did before and nothing leaks.
    /// Returns the frames it replaced: the caller `flush`es, then frees them.
    pub fn replace_zeroed(
        &mut self,
        start: u32,
        end: u32,
        prot: Protection,
    ) -> Result<Vec<Frame>, MapError> {
        self.replace_with(start, end, prot, |_, _| Ok(()))
    }

    /// As [`AddressSpace::replace_zeroed`], with `fill(i, frame)` writing the `i`th page's
    /// frame (zeroed, not mapped anywhere yet) before any entry changes: no thread of the
    /// space ever sees the page unfilled (`mmap2` of a file).
    pub fn replace_with(
        &mut self,
        start: u32,
        end: u32,
        prot: Protection,
        mut fill: impl FnMut(usize, Frame) -> Result<(), MapError>,
    ) -> Result<Vec<Frame>, MapError> {
        let pages = || (start..end).step_by(arch::paging::PAGE_SIZE);
        let mut fresh = Vec::new();
        // Empty page tables left behind on failure are the space's like any other.
        let ready = pages()
            .try_for_each(|_| zeroed_user_frame().map(|f| fresh.push(f)))
            .and_then(|()| {
                fresh
                    .iter()
                    .enumerate()
                    .try_for_each(|(i, &frame)| fill(i, frame))
            })
            .and_then(|()| pages().try_for_each(|va| self.table_or_create(va).map(|_| ())));
        if let Err(e) = ready {
            fresh.into_iter().for_each(frames::free);
            return Err(e);
        }
        let mut replaced = Vec::new();
        for (va, frame) in pages().zip(fresh) {
            let table = self.table_mut(va).expect("created above");
            let slot = &mut table.0[pt_index(va as usize)];
            let old = PTEntry(*slot);
            // One store from the old page to the new: another thread touching the page
            // meanwhile (the caller may be preempted between two pages) finds one or the
            // other, never a hole, as on Linux, where its fault would wait for the mmap.
            *slot = user_entry(frame, prot);
            if old.is_present() {
                replaced.push(Frame::containing(u64::from(old.address().0)));
            }
        }
        Ok(replaced)
    }

    /// A copy of this space for `fork`: the child gets the same user mappings, every frame
    /// shared. Pages writable here become copy-on-write in both spaces (read-only, with
    /// `COW`): the caller must drop this space's writable translations on every CPU that
    /// runs it before any of its threads writes again. On `NoMemory` (a page table) the
    /// half-made copy is dropped, giving back its shares; the pages already marked stay
    /// copy-on-write here, which is only slower.
    pub fn fork(&mut self) -> Result<AddressSpace, MapError> {
        let mut child = AddressSpace::new()?;
        for i in 0..KERNEL_PDE_FIRST {
            let pde = PDEntry(self.pd().0[i]);
            if !pde.is_present() {
                continue;
            }
            let child_table = zeroed_low_frame()?;
            let flags = PDFlags::P | PDFlags::RW | PDFlags::US;
            child.pd_mut().0[i] = PDEntry::new(PAddr(child_table.addr() as u32), flags).0;
            // SAFETY: a user page table of this space (exclusive through `&mut self`) and
            // the child's fresh one.
            let (ours, theirs) = unsafe {
                (
                    table_at(u64::from(pde.address().0)),
                    table_at(child_table.addr()),
                )
            };
            for (mine, copy) in ours.0.iter_mut().zip(theirs.0.iter_mut()) {
                let e = PTEntry(*mine);
                if !e.is_present() {
                    continue;
                }
                if *mine & (PTFlags::RW.bits() | COW) != 0 {
                    *mine = (*mine & !PTFlags::RW.bits()) | COW;
                }
                *copy = *mine;
                cow::share(Frame::containing(u64::from(e.address().0)));
            }
        }
        Ok(child)
    }

    /// Exchanges the user halves (page-directory entries 0 to 767) of this space and
    /// `other` (`execve`: the process keeps its directory and takes the new program's
    /// half). Neither may be loaded on a CPU whose translations of it the caller does not
    /// drop afterwards.
    pub fn swap_user_half(&mut self, other: &mut AddressSpace) {
        let theirs = other.pd_mut().0;
        let mine = self.pd_mut();
        let mut swapped = theirs;
        swapped[..KERNEL_PDE_FIRST].copy_from_slice(&mine.0[..KERNEL_PDE_FIRST]);
        mine.0[..KERNEL_PDE_FIRST].copy_from_slice(&theirs[..KERNEL_PDE_FIRST]);
        other.pd_mut().0[..KERNEL_PDE_FIRST].copy_from_slice(&swapped[..KERNEL_PDE_FIRST]);
    }

    /// Resolves a write to copy-on-write page `va`: reuses the frame when this space is its
    /// last owner, else copies the page into a fresh frame (highmem first) through two
    /// nested temp mappings. `None` when `va` is not a mapped copy-on-write page.
    ///
    /// Takes `&self`: the callers hold the process's memory lock, the only way to reach
    /// the space, so no one else edits its page tables meanwhile.
    pub fn break_cow(&self, va: u32) -> Result<Option<CowBreak>, MapError> {
        let Some(pa) = self.table_phys(va) else {
            return Ok(None);
        };
        // SAFETY: a user page table of this space; see above for the exclusivity.
        let slot = unsafe { &mut table_at(pa).0[pt_index(va as usize)] };
        let e = PTEntry(*slot);
        // A page the user may not touch at all (`PROT_NONE`) is never written for it.
        if !e.is_present() || !e.is_user_mode_allowed() {
            return Ok(None);
        }
        if *slot & COW == 0 {
            return Ok(e.is_writeable().then_some(CowBreak::Writable));
        }
        let old = Frame::containing(u64::from(e.address().0));
        if !cow::is_shared(old) {
            *slot = (*slot & !COW) | PTFlags::RW.bits();
            // SAFETY: dropping a translation is always safe; this CPU's stale read-only
            // entry would only fault once more.
            unsafe { arch::cpu::invlpg(va as usize) };
            return Ok(Some(CowBreak::Reused));
        }
        let (new, _) = frames::alloc_user().ok_or(MapError::NoMemory)?;
        // SAFETY: `old` is mapped by this space and stays allocated (we own a share);
        // `new` is fresh and ours alone.
        let copied = unsafe { TempMap::read(old) }.and_then(|from| {
            // SAFETY: as above.
            let mut to = unsafe { TempMap::<Writable>::write(new) }?;
            to.copy_from_slice(&from[..]);
            Ok(())
        });
        if copied.is_err() {
            frames::free(new);
            return Err(MapError::NoTempSlot);
        }
        let keep = *slot & (PTFlags::US.bits() | PTFlags::P.bits());
        *slot = PTEntry::new(PAddr(new.addr() as u32), PTFlags::from_bits_truncate(keep)).0
            | PTFlags::RW.bits();
        // SAFETY: as above; the caller drops the other CPUs' entries.
        unsafe { arch::cpu::invlpg(va as usize) };
        Ok(Some(CowBreak::Copied(old)))
    }

    /// Unmaps user page `va`, returning its frame. The caller then `flush`es and only
    /// after that lets go of the frame (`cow::put`: a CPU may still cache the old
    /// translation until then).
    pub fn unmap(&mut self, va: u32) -> Option<Frame> {
        let slot = self.present_slot(va)?;
        let e = PTEntry(*slot);
        *slot = 0;
        Some(Frame::containing(u64::from(e.address().0)))
    }

    /// Moves the entry of mapped user page `from` to unmapped page `to`: its frame,
    /// protection and copy-on-write state go with it, and no frame changes owner (no
    /// flush: the caller `flush`es `from`). Errors change nothing: `from` not mapped
    /// (`NotUser`), `to` mapped already, or no frame for `to`'s page table.
    pub fn move_page(&mut self, from: u32, to: u32) -> Result<(), MapError> {
        let entry = *self.present_slot(from).ok_or(MapError::NotUser(from))?;
        let slot = &mut self.table_or_create(to)?.0[pt_index(to as usize)];
        if PTEntry(*slot).is_present() {
            return Err(MapError::AlreadyMapped(to));
        }
        *slot = entry;
        *self.present_slot(from).expect("mapped a moment ago") = 0;
        Ok(())
    }

    /// Points mapped user page `va` at `frame` instead, returning the old frame (no flush:
    /// the caller `flush`es, then frees the old frame). For the shootdown tests.
    pub fn remap(&mut self, va: u32, frame: Frame) -> Option<Frame> {
        let slot = self.present_slot(va)?;
        let e = PTEntry(*slot);
        *slot = PTEntry::new(PAddr(frame.addr() as u32), e.flags()).0;
        Some(Frame::containing(u64::from(e.address().0)))
    }

    /// Changes the protection of a mapped user page (no flush: the caller `flush`es);
    /// false when it is not mapped.
    pub fn protect(&mut self, va: u32, prot: Protection) -> bool {
        let Some(slot) = self.present_slot(va) else {
            return false;
        };
        let keep = !(PTFlags::RW | PTFlags::US).bits();
        let frame = Frame::containing(u64::from(PTEntry(*slot).address().0));
        let mut bits = user_entry(frame, prot) & (PTFlags::RW | PTFlags::US).bits();
        if *slot & COW != 0 {
            // Still shared: writable means "copy on the first write", so read-only here.
            bits &= !PTFlags::RW.bits();
        }
        *slot = (*slot & keep) | bits;
        true
    }

    /// What user page `va` maps to, if anything.
    pub fn translate(&self, va: u32) -> Option<Translation> {
        let table = self.table(va)?;
        let e = PTEntry(table.0[pt_index(va as usize)]);
        e.is_present().then(|| Translation {
            frame: Frame::containing(u64::from(e.address().0)),
            user: e.is_user_mode_allowed(),
            write: e.is_writeable(),
            cow: e.0 & COW != 0,
        })
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        assert!(!self.is_active(), "dropping the active address space");
        let directory = self.directory;
        for pde in self.pd_mut().0[..KERNEL_PDE_FIRST].iter_mut() {
            let e = PDEntry(*pde);
            if !e.is_present() {
                continue;
            }
            // SAFETY: a user page table this space allocated.
            let table = unsafe { table_at(u64::from(e.address().0)) };
            for pte in table.0.iter().copied().map(PTEntry) {
                if pte.is_present() {
                    cow::put(Frame::containing(u64::from(pte.address().0)));
                }
            }
            frames::free(Frame::containing(u64::from(e.address().0)));
            *pde = 0;
        }
        frames::free(directory);
    }
}

const _: () = assert!(ENTRIES == 1024);

mod tests {
    use super::*;
    use crate::{check, check_eq, kernel_test};
    use arch::paging::{PDEntry, pd_index};

    kernel_test! {
        fn map_errors_say_what_went_wrong() {
            let text = |e: MapError| alloc::format!("{e}");
            check_eq!(text(MapError::NoMemory), "out of physical memory");
            check_eq!(text(MapError::AlreadyMapped(0x1000)), "page 0x1000 is already mapped");
            check_eq!(text(MapError::NotUser(0xc000_0000)), "0xc0000000 is not a user address");
            check_eq!(text(MapError::NoTempSlot), "no temp-mapping slot free");
        }
    }

    kernel_test! {
        fn map_translate_protect_unmap_and_free_everything() {
            let before = frames::stats();
            {
                let mut space = AddressSpace::new().map_err(|_| "no memory")?;
                let a = 0x0804_8000;
                let b = 0x4000_0000;
                let fa = zeroed_user_frame().map_err(|_| "no memory")?;
                space.map(a, fa, Protection::READ_ONLY).map_err(|_| "map a")?;
                let fb = zeroed_user_frame().map_err(|_| "no memory")?;
                space.map(b, fb, Protection::READ_WRITE).map_err(|_| "map b")?;
                check_eq!(space.translate(a), Some(Translation { frame: fa, user: true, write: false, cow: false }));
                check_eq!(space.map(a, fb, Protection::READ_WRITE), Err(MapError::AlreadyMapped(a)));
                check_eq!(space.map(0xC010_0000, fb, Protection::READ_WRITE), Err(MapError::NotUser(0xC010_0000)));
                check!(space.protect(a, Protection::READ_WRITE));
                check!(space.translate(a).ok_or("a vanished")?.write);
                check_eq!(space.unmap(b), Some(fb));
                check_eq!(space.translate(b), None);
                check_eq!(space.unmap(b), None);
                frames::free(fb);
                // Dropping the space frees `fa`, both page tables and the directory.
            }
            check_eq!(frames::stats(), before);
        }
    }

    kernel_test! {
        fn kernel_half_is_shared_and_not_user_accessible() {
            let space = AddressSpace::new().map_err(|_| "no memory")?;
            let pd = space.pd();
            // SAFETY: the kernel directory, only read.
            let kernel = unsafe { table_at(u64::from(kernel_directory())) };
            check!(pd.0[KERNEL_PDE_FIRST..] == kernel.0[KERNEL_PDE_FIRST..]);
            let temp = PDEntry(pd.0[pd_index(crate::mm::layout::TEMP_BASE)]);
            check!(temp.is_present());
            check!(!temp.is_user_mode_allowed(), "user mode could reach the temp region");
            check!(pd.0[..KERNEL_PDE_FIRST].iter().all(|&e| e == 0));
        }
    }

    kernel_test! {
        fn replace_zeroed_swaps_frames_or_changes_nothing() {
            let before = frames::stats();
            {
                let mut space = AddressSpace::new().map_err(|_| "no memory")?;
                let (a, b) = (0x4000_0000, 0x4000_1000);
                let old = zeroed_user_frame().map_err(|_| "no memory")?;
                space.map(a, old, Protection::READ_ONLY).map_err(|_| "map a")?;
                // a is mapped, b is not: both come back fresh, writable and zeroed.
                check_eq!(space.replace_zeroed(a, b + 0x1000, Protection::READ_WRITE), Ok(alloc::vec![old]));
                frames::free(old);
                for va in [a, b] {
                    let t = space.translate(va).ok_or("not mapped")?;
                    check!(t.write && t.frame != old);
                }
                // With no memory left, the range stays exactly as it was.
                let mapped = [a, b].map(|va| space.translate(va));
                let mut hoard = alloc::vec::Vec::new();
                while let Some((f, _)) = frames::alloc_user() {
                    hoard.push(f);
                }
                let refused = space.replace_zeroed(a, b + 0x1000, Protection::READ_ONLY);
                hoard.into_iter().for_each(frames::free);
                check_eq!(refused, Err(MapError::NoMemory));
                check_eq!([a, b].map(|va| space.translate(va)), mapped);
            }
            check_eq!(frames::stats(), before);
        }
    }
}
