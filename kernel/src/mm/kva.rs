//! The kernel virtual area (0xE040_0000 and up): virtual pages handed out once, for device
//! registers (the local APIC) and firmware tables above the direct map. Its page tables
//! were allocated at boot and are shared by every address space, so a mapping made here is
//! visible under every CR3 at once.

use super::layout::{KVA_BASE, phys_to_virt};
use super::paging::{kernel_directory, kernel_pages_are_global, table_at};
use arch::paging::{PAGE_SIZE, PAddr, PDEntry, PTEntry, PTFlags, kernel_page, pd_index, pt_index};
use core::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(KVA_BASE);
/// Last usable page (the top page stays unmapped as a guard).
const KVA_END: usize = 0xFFFF_F000;

/// How a mapping is cached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caching {
    /// Ordinary RAM (firmware tables).
    WriteBack,
    /// Device registers: uncached (PCD and PWT).
    Uncached,
}

/// Maps physical `[phys, phys + len)` into fresh kernel virtual pages and returns the
/// virtual address of `phys`. The pages are never unmapped (devices and tables live as
/// long as the kernel).
pub fn map(phys: u64, len: usize, caching: Caching) -> usize {
    let first = phys & !(PAGE_SIZE as u64 - 1);
    let pages = ((phys - first) as usize + len).div_ceil(PAGE_SIZE).max(1);
    let va = NEXT.fetch_add(pages * PAGE_SIZE, Ordering::Relaxed);
    assert!(
        va + pages * PAGE_SIZE <= KVA_END,
        "kernel virtual area exhausted"
    );
    // Global like the direct map: the page is the same under every CR3, so a process
    // switch need not drop it (and a full kernel round must flush global entries).
    let global = kernel_pages_are_global();
    for i in 0..pages {
        let page_va = va + i * PAGE_SIZE;
        let mut entry = kernel_page((first + (i * PAGE_SIZE) as u64) as u32, global);
        if caching == Caching::Uncached {
            entry = PTEntry::new(entry.address(), entry.flags() | PTFlags::PCD | PTFlags::PWT);
        }
        // SAFETY: the page is fresh (never handed out before, so in no TLB) and its PTE lies
        // in a kernel page table allocated at boot.
        unsafe { kernel_pte(page_va).write_volatile(entry.0) };
    }
    va + (phys - first) as usize
}

/// The PTE of kernel virtual address `va` (at or above the temp region).
fn kernel_pte(va: usize) -> *mut u32 {
    // SAFETY: the kernel directory and its tables are lowmem frames, read here.
    let pd = unsafe { table_at(u64::from(kernel_directory())) };
    let pde = PDEntry(pd.0[pd_index(va)]);
    assert!(
        pde.is_present() && !pde.is_page(),
        "no kernel page table for {va:#x}"
    );
    let table = phys_to_virt(u64::from(pde.address().0)) as *mut u32;
    table.wrapping_add(pt_index(va))
}

/// Points the kernel page at `va` (made by `map`) at physical page `phys` instead, without
/// flushing any TLB: the caller shoots the page down (the shootdown tests do this).
///
/// # Safety
/// Nothing may rely on what `va` mapped before; every CPU must be flushed before the old
/// frame is reused.
pub unsafe fn remap(va: usize, phys: u64) {
    let p = kernel_pte(va);
    // SAFETY: `va` is a kernel-virtual-area page (its PTE exists); per the contract.
    unsafe {
        let old = PTEntry(p.read_volatile());
        assert!(
            old.is_present(),
            "remapping an unmapped kernel page {va:#x}"
        );
        p.write_volatile(PTEntry::new(PAddr(phys as u32), old.flags()).0);
    }
}
