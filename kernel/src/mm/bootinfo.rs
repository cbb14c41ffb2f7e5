//! What the bootloader tells us (multiboot v1), copied into a `BootInfo` before any frame
//! is handed out: usable RAM below 4 GiB, the command line, the modules.

use super::layout::{LOW_RESERVED, PHYS_LIMIT};
use super::ranges::{Full, RangeSet};
use arch::paging::PAGE_SIZE;
use core::fmt;
use multiboot::information::{MemoryManagement, MemoryType, Multiboot};

/// Modules kept at most (each is a user program, or later an initramfs).
pub const MAX_MODULES: usize = 64;
/// Longest command line kept; longer ones are cut (and said so).
pub const CMDLINE_MAX: usize = 1024;
/// Longest module string kept (path, arguments, `expect=`).
const NAME_MAX: usize = 256;

/// A multiboot module: its physical bytes and its name (the module's command line).
#[derive(Clone, Copy, Debug)]
pub struct Module {
    pub start: u64,
    pub end: u64,
    name: [u8; NAME_MAX],
    name_len: usize,
}

impl Module {
    pub fn name(&self) -> &str {
        core::str::from_utf8(&self.name[..self.name_len]).unwrap_or("?")
    }
}

/// The RAM frames may come from: the RAM ranges with every reservation cut out of them
/// (room for each reservation to split one range).
pub type FreeRam = RangeSet<{ 64 + MAX_MODULES + 1 }>;

/// The boot information Tempest keeps.
#[derive(Clone, Copy, Debug)]
pub struct BootInfo {
    /// Available RAM below 4 GiB, page-aligned inward, before any reservation.
    pub ram: RangeSet<64>,
    /// Bytes of available RAM at or above 4 GiB, which Tempest ignores (no PAE).
    pub ignored_above_4g: u64,
    /// Ranges no frame may come from: the multiboot info itself and the modules kept,
    /// page-aligned outward, so that modules packed one after another make one range.
    pub reserved: RangeSet<{ MAX_MODULES + 1 }>,
    cmdline: [u8; CMDLINE_MAX],
    cmdline_len: usize,
    /// The command line was longer than `CMDLINE_MAX` and was cut.
    pub cmdline_truncated: bool,
    modules: [Module; MAX_MODULES],
    module_count: usize,
    /// Modules beyond `MAX_MODULES`, dropped.
    pub modules_dropped: usize,
}

/// Why the boot information could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootInfoError {
    /// The info structure itself could not be read.
    Unreadable,
    /// The bootloader gave no memory map (flag bit 6).
    NoMemoryMap,
    /// More memory ranges than Tempest keeps track of.
    TooManyRanges,
}

impl fmt::Display for BootInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BootInfoError::Unreadable => "multiboot information is not readable",
            BootInfoError::NoMemoryMap => "the bootloader passed no memory map",
            BootInfoError::TooManyRanges => "the memory map has too many ranges",
        })
    }
}

impl From<Full> for BootInfoError {
    fn from(_: Full) -> Self {
        BootInfoError::TooManyRanges
    }
}

/// Size of the multiboot v1 information structure.
const INFO_SIZE: u64 = 116;

impl BootInfo {
    /// Reads the multiboot information at physical `info` through `mem`.
    pub fn parse(info: u64, mem: &mut dyn MemoryManagement) -> Result<Self, BootInfoError> {
        // SAFETY: `mem` translates physical ranges to readable slices or refuses them;
        // the multiboot crate reads only through it.
        let mb = unsafe { Multiboot::from_ptr(info, mem) }.ok_or(BootInfoError::Unreadable)?;
        let mut out = BootInfo {
            ram: RangeSet::new(),
            ignored_above_4g: 0,
            reserved: RangeSet::new(),
            cmdline: [0; CMDLINE_MAX],
            cmdline_len: 0,
            cmdline_truncated: false,
            modules: [Module {
                start: 0,
                end: 0,
                name: [0; NAME_MAX],
                name_len: 0,
            }; MAX_MODULES],
            module_count: 0,
            modules_dropped: 0,
        };
        for region in mb.memory_regions().ok_or(BootInfoError::NoMemoryMap)? {
            if region.memory_type() != MemoryType::Available {
                continue;
            }
            let start = region.base_address();
            let end = start.saturating_add(region.length());
            out.ignored_above_4g += end.saturating_sub(start.max(PHYS_LIMIT));
            out.ram.add(start.min(PHYS_LIMIT), end.min(PHYS_LIMIT))?;
        }
        out.ram.align_inward(PAGE_SIZE as u64);
        out.reserved.add(info, info + INFO_SIZE)?;
        if let Some(line) = mb.command_line() {
            let n = line.len().min(CMDLINE_MAX);
            out.cmdline[..n].copy_from_slice(&line.as_bytes()[..n]);
            out.cmdline_len = n;
            out.cmdline_truncated = n < line.len();
        }
        if let Some(modules) = mb.modules() {
            for m in modules {
                // A module dropped is not reserved: nothing reads it, its frames are free.
                let page = PAGE_SIZE as u64;
                let (start, end) = (m.start / page * page, m.end.next_multiple_of(page));
                if out.module_count == MAX_MODULES || out.reserved.add(start, end).is_err() {
                    out.modules_dropped += 1;
                    continue;
                }
                let name = m.string.unwrap_or("");
                let n = name.len().min(NAME_MAX);
                let slot = &mut out.modules[out.module_count];
                slot.start = m.start;
                slot.end = m.end;
                slot.name[..n].copy_from_slice(&name.as_bytes()[..n]);
                slot.name_len = n;
                out.module_count += 1;
            }
        }
        Ok(out)
    }

    /// The command line (cut at `CMDLINE_MAX` bytes, at a character boundary).
    pub fn cmdline(&self) -> &str {
        let bytes = &self.cmdline[..self.cmdline_len];
        match core::str::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
        }
    }

    pub fn modules(&self) -> &[Module] {
        &self.modules[..self.module_count]
    }

    /// RAM that frames may come from: available, not reserved, above the first MiB.
    pub fn free_ram(&self) -> Result<FreeRam, BootInfoError> {
        let mut free = FreeRam::new();
        for r in self.ram.iter() {
            free.add(r.start, r.end)?;
        }
        free.remove(0, LOW_RESERVED)?;
        for r in self.reserved.iter() {
            let start = r.start / PAGE_SIZE as u64 * PAGE_SIZE as u64;
            free.remove(start, r.end.next_multiple_of(PAGE_SIZE as u64))?;
        }
        Ok(free)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    /// A fake physical memory: `paddr_to_slice` reads from a leaked buffer at 0.
    struct FakePhys(&'static [u8]);

    impl MemoryManagement for FakePhys {
        unsafe fn paddr_to_slice(&self, addr: u64, len: usize) -> Option<&'static [u8]> {
            let start = usize::try_from(addr).ok()?;
            self.0.get(start..start.checked_add(len)?)
        }
        unsafe fn allocate(&mut self, _len: usize) -> Option<(u64, &mut [u8])> {
            None
        }
        unsafe fn deallocate(&mut self, _addr: u64) {}
    }

    const INFO: usize = 0x1000;
    const MMAP: usize = 0x1100;
    const CMDLINE: usize = 0x1400;
    const MODS: usize = 0x1800;
    const MODNAME: usize = 0x1f00;

    fn put32(img: &mut [u8], at: usize, v: u32) {
        img[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// Builds an image the way QEMU lays out multiboot info: entries are (base, len, type).
    fn image(
        entries: &[(u64, u64, u32)],
        cmdline: Option<&str>,
        modules: &[(u32, u32)],
    ) -> FakePhys {
        let mut img = vec![0u8; 0x2000];
        let mut flags = 1 << 6;
        put32(&mut img, INFO + 44, (entries.len() * 24) as u32);
        put32(&mut img, INFO + 48, MMAP as u32);
        for (i, &(base, len, ty)) in entries.iter().enumerate() {
            let at = MMAP + i * 24;
            put32(&mut img, at, 20);
            img[at + 4..at + 12].copy_from_slice(&base.to_le_bytes());
            img[at + 12..at + 20].copy_from_slice(&len.to_le_bytes());
            put32(&mut img, at + 20, ty);
        }
        if let Some(line) = cmdline {
            flags |= 1 << 2;
            put32(&mut img, INFO + 16, CMDLINE as u32);
            img[CMDLINE..CMDLINE + line.len()].copy_from_slice(line.as_bytes());
        }
        if !modules.is_empty() {
            flags |= 1 << 3;
            put32(&mut img, INFO + 20, modules.len() as u32);
            put32(&mut img, INFO + 24, MODS as u32);
            img[MODNAME..MODNAME + 6].copy_from_slice(b"hello\0");
            for (i, &(s, e)) in modules.iter().enumerate() {
                put32(&mut img, MODS + i * 16, s);
                put32(&mut img, MODS + i * 16 + 4, e);
                put32(&mut img, MODS + i * 16 + 8, MODNAME as u32);
            }
        }
        put32(&mut img, INFO, flags);
        FakePhys(Vec::leak(img))
    }

    fn spans<const N: usize>(s: &RangeSet<N>) -> Vec<(u64, u64)> {
        s.iter().map(|r| (r.start, r.end)).collect()
    }

    /// QEMU's map for -m 128: low RAM, a reserved hole, RAM from 1 MiB.
    const QEMU_128M: &[(u64, u64, u32)] = &[
        (0, 0x9fc00, 1),
        (0x9fc00, 0x400, 2),
        (0xf0000, 0x10000, 2),
        (0x100000, 0x7ee0000, 1),
        (0x7fe0000, 0x20000, 2),
        (0xfffc0000, 0x40000, 2),
    ];

    #[test]
    fn qemu_memory_map() {
        let mut phys = image(QEMU_128M, Some("log=debug test"), &[]);
        let info = BootInfo::parse(INFO as u64, &mut phys).unwrap();
        assert_eq!(spans(&info.ram), [(0, 0x9f000), (0x100000, 0x7fe0000)]);
        assert_eq!(info.ignored_above_4g, 0);
        assert_eq!(info.cmdline(), "log=debug test");
        assert!(info.modules().is_empty());
        let free = info.free_ram().unwrap();
        assert_eq!(spans(&free), [(0x100000, 0x7fe0000)]);
    }

    #[test]
    fn ram_above_4g_is_counted_and_ignored() {
        let map = [
            (0x100000, 0xbff00000, 1),
            (0x1_0000_0000, 0x4000_0000, 1),
            (0xc000_0000, 0x4000_0000, 2),
        ];
        let mut phys = image(&map, None, &[]);
        let info = BootInfo::parse(INFO as u64, &mut phys).unwrap();
        assert_eq!(info.ignored_above_4g, 0x4000_0000);
        assert_eq!(spans(&info.ram), [(0x100000, 0xc000_0000)]);
        assert_eq!(info.cmdline(), "");
    }

    #[test]
    fn a_range_straddling_4g_is_cut() {
        let mut phys = image(&[(0xf000_0000, 0x2000_0000, 1)], None, &[]);
        let info = BootInfo::parse(INFO as u64, &mut phys).unwrap();
        assert_eq!(spans(&info.ram), [(0xf000_0000, 0x1_0000_0000)]);
        assert_eq!(info.ignored_above_4g, 0x1000_0000);
    }

    #[test]
    fn modules_and_info_are_reserved() {
        let mut phys = image(QEMU_128M, None, &[(0x200000, 0x201234)]);
        let info = BootInfo::parse(INFO as u64, &mut phys).unwrap();
        assert_eq!(info.modules().len(), 1);
        assert_eq!(info.modules()[0].name(), "hello");
        assert_eq!(
            (info.modules()[0].start, info.modules()[0].end),
            (0x200000, 0x201234)
        );
        let free = info.free_ram().unwrap();
        // The module's last partial page is reserved too.
        assert_eq!(spans(&free), [(0x100000, 0x200000), (0x202000, 0x7fe0000)]);
    }

    #[test]
    fn modules_beyond_the_limit_are_dropped_not_fatal() {
        // Packed one after another, as QEMU loads them: one reserved range.
        let packed: Vec<(u32, u32)> = (0..70u32)
            .map(|i| (0x200000 + i * 0x3000, 0x200000 + i * 0x3000 + 0x2345))
            .collect();
        let mut phys = image(QEMU_128M, None, &packed);
        let info = BootInfo::parse(INFO as u64, &mut phys).unwrap();
        assert_eq!(info.modules().len(), MAX_MODULES);
        assert_eq!(info.modules_dropped, 70 - MAX_MODULES);
        assert!(info.free_ram().is_ok());
        // With a gap after each: every kept one is a range of its own, and still fits.
        let spaced: Vec<(u32, u32)> = (0..70u32)
            .map(|i| (0x200000 + i * 0x4000, 0x200000 + i * 0x4000 + 0x100))
            .collect();
        let mut phys = image(QEMU_128M, None, &spaced);
        let info = BootInfo::parse(INFO as u64, &mut phys).unwrap();
        assert_eq!(info.modules().len(), MAX_MODULES);
        let free = info.free_ram().unwrap();
        assert!(!free.iter().any(|r| r.start < 0x201000 && r.end > 0x200000));
    }

    #[test]
    fn missing_memory_map_is_an_error() {
        let mut phys = image(&[], None, &[]);
        let mut raw = phys.0.to_vec();
        put32(&mut raw, INFO, 0);
        phys.0 = Vec::leak(raw);
        assert_eq!(
            BootInfo::parse(INFO as u64, &mut phys).unwrap_err(),
            BootInfoError::NoMemoryMap
        );
        assert_eq!(
            BootInfo::parse(0x10_0000, &mut phys).unwrap_err(),
            BootInfoError::Unreadable
        );
    }
}
