//! Two-level 32-bit paging: entry encoding for kernel and user mappings, index helpers.
//!
//! The entry types come from the `x86` crate; this module fixes which flag sets Tempest
//! uses for each kind of mapping so the choice lives in one place and is tested.

pub use x86::bits32::paging::{PAddr, PDEntry, PDFlags, PTEntry, PTFlags};

/// Size of a base page.
pub const PAGE_SIZE: usize = 4096;
/// Size of a PSE large page (one page-directory entry).
pub const LARGE_PAGE_SIZE: usize = 4 * 1024 * 1024;
/// Entries in a page directory or a page table.
pub const ENTRIES: usize = 1024;

/// A page directory or page table: 1024 raw 32-bit entries in one page.
#[repr(C, align(4096))]
pub struct PageTable(pub [u32; ENTRIES]);

const _: () = assert!(core::mem::size_of::<PageTable>() == PAGE_SIZE);

/// Index into the page directory for a virtual address.
pub const fn pd_index(va: usize) -> usize {
    (va >> 22) & (ENTRIES - 1)
}

/// Index into the page table for a virtual address.
pub const fn pt_index(va: usize) -> usize {
    (va >> 12) & (ENTRIES - 1)
}

/// A kernel 4 MiB page (needs CR4.PSE): present, writable, supervisor-only,
/// global when the CPU offers PGE.
pub fn kernel_large_page(phys: u32, global: bool) -> PDEntry {
    let mut flags = PDFlags::P | PDFlags::RW | PDFlags::PS;
    if global {
        flags |= PDFlags::G;
    }
    PDEntry::new(PAddr(phys), flags)
}

/// A directory entry pointing at a kernel page table: present, writable, supervisor-only.
pub fn kernel_table(table_phys: u32) -> PDEntry {
    PDEntry::new(PAddr(table_phys), PDFlags::P | PDFlags::RW)
}

/// A kernel 4 KiB page: present, writable, supervisor-only, global when asked.
pub fn kernel_page(phys: u32, global: bool) -> PTEntry {
    let mut flags = PTFlags::P | PTFlags::RW;
    if global {
        flags |= PTFlags::G;
    }
    PTEntry::new(PAddr(phys), flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_split_an_address() {
        let va = 0xE040_3123usize;
        assert_eq!(pd_index(va), 897);
        assert_eq!(pt_index(va), 3);
        assert_eq!(pd_index(0xC000_0000), 768);
    }

    #[test]
    fn large_page_encoding() {
        let e = kernel_large_page(0x0040_0000, true);
        assert_eq!(e.0, 0x0040_0000 | 0x1 | 0x2 | 0x80 | 0x100);
        assert!(!e.is_user_mode_allowed());
        let e = kernel_large_page(0x0080_0000, false);
        assert_eq!(e.0, 0x0080_0000 | 0x83);
    }

    #[test]
    fn table_and_page_encoding() {
        assert_eq!(kernel_table(0x0012_3000).0, 0x0012_3003);
        assert_eq!(kernel_page(0x0045_6000, false).0, 0x0045_6003);
        assert_eq!(kernel_page(0x0045_6000, true).0, 0x0045_6103);
        assert_eq!(kernel_page(0x0045_6000, true).address(), PAddr(0x0045_6000));
    }

    #[test]
    #[should_panic]
    fn unaligned_frames_are_refused() {
        let _ = kernel_page(0x0045_6010, false);
    }
}
