//! Tempest's virtual memory map (design §3, docs/memory-map.md), in constants.

/// Start of the kernel half; the direct map of physical 0 begins here.
pub const KERNEL_BASE: usize = 0xC000_0000;
/// First page-directory index of the kernel half.
pub const KERNEL_PDE_FIRST: usize = KERNEL_BASE >> 22;
/// Largest direct map ("lowmem"): physical 0..512 MiB at 0xC000_0000..0xE000_0000.
pub const DIRECT_MAP_MAX: u64 = 512 << 20;
/// The temp-mapping region: one page table (PDE 896).
pub const TEMP_BASE: usize = 0xE000_0000;
/// Size of the temp-mapping region.
pub const TEMP_SIZE: usize = 4 << 20;
/// The kernel virtual area: heap growth, MMIO.
pub const KVA_BASE: usize = TEMP_BASE + TEMP_SIZE;
/// Physical memory mapped by the boot page tables (main.rs) before paging is set up.
pub const BOOT_MAPPED: u64 = 16 << 20;
/// Physical memory below this is never handed out (BIOS, trampolines later).
pub const LOW_RESERVED: u64 = 1 << 20;
/// Physical memory at and above this is ignored (no PAE).
pub const PHYS_LIMIT: u64 = 1 << 32;

/// Virtual address of a direct-mapped physical address.
pub const fn phys_to_virt(pa: u64) -> usize {
    KERNEL_BASE + pa as usize
}

/// Physical address of a direct-mapped virtual address.
pub const fn virt_to_phys(va: usize) -> u64 {
    (va - KERNEL_BASE) as u64
}

const _: () = assert!(KERNEL_BASE as u64 + DIRECT_MAP_MAX == TEMP_BASE as u64);
const _: () = assert!(TEMP_BASE >> 22 == 896);
