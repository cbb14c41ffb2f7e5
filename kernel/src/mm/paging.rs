//! The kernel page directory: PDEs 768-1023 all present from boot, pointing at page
//! tables (or PSE large pages) that every future address space shares, so a kernel
//! mapping made later is visible under every CR3 (the seed's bug cannot happen).

use super::bootinfo::FreeRam;
use super::layout::{BOOT_MAPPED, KERNEL_PDE_FIRST, phys_to_virt};
use arch::cpu::Features;
use arch::paging::{
    ENTRIES, LARGE_PAGE_SIZE, PAGE_SIZE, PageTable, kernel_large_page, kernel_page, kernel_table,
};
use core::sync::atomic::{AtomicU32, Ordering};

static KERNEL_PD: AtomicU32 = AtomicU32::new(0);
static USES_PSE: AtomicU32 = AtomicU32::new(0);
static USES_PGE: AtomicU32 = AtomicU32::new(0);

/// Physical address of the kernel page directory (0 before `init`).
pub fn kernel_directory() -> u32 {
    KERNEL_PD.load(Ordering::Relaxed)
}

/// Whether the direct map uses 4 MiB pages.
pub fn direct_map_uses_large_pages() -> bool {
    USES_PSE.load(Ordering::Relaxed) != 0
}

/// Whether kernel mappings are global (CR4.PGE): the direct map and the kernel virtual
/// area. A CR3 load keeps global entries, so a full kernel round must flush them
/// explicitly (`flush_tlb_including_global`).
pub fn kernel_pages_are_global() -> bool {
    USES_PGE.load(Ordering::Relaxed) != 0
}

/// The page directory (or a table) at physical `pa`, through the direct map.
///
/// # Safety
/// `pa` must be a page-table frame in lowmem that nobody else mutates meanwhile.
pub unsafe fn table_at(pa: u64) -> &'static mut PageTable {
    // SAFETY: per the contract, the frame is a direct-mapped page table.
    unsafe { &mut *(phys_to_virt(pa) as *mut PageTable) }
}

/// Builds the kernel page directory mapping physical `[0, lowmem_end)` at 0xC000_0000
/// (4 MiB pages when the CPU has PSE, global when it has PGE), with a page table behind
/// every other kernel PDE, and switches to it, dropping the boot identity map.
///
/// The directory and tables are taken from `free` below the boot mapping (16 MiB), the
/// only physical memory reachable before the switch.
///
/// # Safety
/// Boot CPU, once, while the boot page tables are live; `free` must hold only frames
/// nobody uses.
pub unsafe fn init(lowmem_end: u64, cpu: Features, free: &mut FreeRam) {
    assert!(lowmem_end.is_multiple_of(LARGE_PAGE_SIZE as u64) && lowmem_end >= BOOT_MAPPED);
    let large_pdes = (lowmem_end / LARGE_PAGE_SIZE as u64) as usize;
    let tables = (ENTRIES - KERNEL_PDE_FIRST) - if cpu.pse { large_pdes } else { 0 };
    let bytes = ((tables + 1) * PAGE_SIZE) as u64;
    let base = free
        .take(bytes, PAGE_SIZE as u64, BOOT_MAPPED)
        .expect("no room below 16 MiB for the kernel page tables");
    // SAFETY: the frames were just taken from the free set and lie in the boot mapping.
    unsafe { core::ptr::write_bytes(phys_to_virt(base) as *mut u8, 0, bytes as usize) };

    // SAFETY: freshly zeroed, exclusively ours.
    let pd = unsafe { table_at(base) };
    let mut next_table = base + PAGE_SIZE as u64;
    for pde in KERNEL_PDE_FIRST..ENTRIES {
        let phys = ((pde - KERNEL_PDE_FIRST) * LARGE_PAGE_SIZE) as u64;
        let direct = phys < lowmem_end;
        if direct && cpu.pse {
            pd.0[pde] = kernel_large_page(phys as u32, cpu.pge).0;
            continue;
        }
        let table_pa = next_table;
        next_table += PAGE_SIZE as u64;
        if direct {
            // SAFETY: one of the zeroed frames above.
            let table = unsafe { table_at(table_pa) };
            for (i, pte) in table.0.iter_mut().enumerate() {
                *pte = kernel_page((phys + (i * PAGE_SIZE) as u64) as u32, cpu.pge).0;
            }
        }
        pd.0[pde] = kernel_table(table_pa as u32).0;
    }
    assert_eq!(next_table, base + bytes);

    // SAFETY: the new directory maps the kernel image, its stack and the direct map at the
    // same virtual addresses as the boot tables did; PSE/PGE go on before it is loaded.
    unsafe {
        arch::cpu::enable_paging_extensions(cpu.pse, cpu.pge);
        arch::cpu::load_cr3(base as u32);
    }
    KERNEL_PD.store(base as u32, Ordering::Relaxed);
    USES_PSE.store(cpu.pse as u32, Ordering::Relaxed);
    USES_PGE.store(cpu.pge as u32, Ordering::Relaxed);
    log::info!(
        "paging: kernel directory at {base:#x}, direct map 0..{} MiB ({}), {tables} kernel page tables",
        lowmem_end >> 20,
        if cpu.pse {
            "4 MiB pages"
        } else {
            "4 KiB pages"
        }
    );
}

mod tests {
    use super::*;
    use crate::{check, check_eq, kernel_test};
    use arch::paging::PDEntry;

    fn directory() -> &'static PageTable {
        // SAFETY: the kernel directory is a lowmem frame; tests only read it.
        unsafe { table_at(u64::from(kernel_directory())) }
    }

    kernel_test! {
        fn every_kernel_pde_is_present() {
            check_eq!(u64::from(arch::cpu::cr3()), u64::from(kernel_directory()));
            for pde in KERNEL_PDE_FIRST..ENTRIES {
                check!(PDEntry(directory().0[pde]).is_present(), "kernel PDE {pde} not present");
                check!(!PDEntry(directory().0[pde]).is_user_mode_allowed(), "kernel PDE {pde} is user-accessible");
            }
        }
    }

    kernel_test! {
        fn boot_identity_map_is_gone() {
            for pde in 0..KERNEL_PDE_FIRST {
                check_eq!(directory().0[pde], 0);
            }
        }
    }

    kernel_test! {
        fn direct_map_uses_large_pages_when_offered() {
            let cpu = arch::cpu::features();
            check_eq!(direct_map_uses_large_pages(), cpu.pse);
            let first = PDEntry(directory().0[KERNEL_PDE_FIRST]);
            check_eq!(first.is_page(), cpu.pse);
            if cpu.pse {
                check_eq!(first.is_global(), cpu.pge);
            }
        }
    }
}
