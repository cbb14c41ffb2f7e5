//! ACPI for the kernel: the `acpi` crate's table lookup through a handler that maps
//! physical memory (the direct map, or the kernel virtual area above it), and the MADT
//! turned into the CPU topology by `smp::topology`.

use crate::mm::frames;
use crate::mm::kva::{self, Caching};
use crate::mm::layout::phys_to_virt;
use acpi::madt::Madt;
use acpi::{AcpiHandler, AcpiTables, PhysicalMapping};
use core::ptr::NonNull;
use smp::topology::{Topology, madt_bytes, parse_madt};

/// Maps firmware tables for the `acpi` crate.
#[derive(Clone, Copy)]
struct Handler;

impl AcpiHandler for Handler {
    unsafe fn map_physical_region<T>(
        &self,
        physical: usize,
        size: usize,
    ) -> PhysicalMapping<Self, T> {
        let end = physical as u64 + size as u64;
        let virt = if end <= frames::lowmem_end() {
            phys_to_virt(physical as u64)
        } else {
            // Tables above the direct map (a VM with more than 512 MiB) get kernel virtual
            // pages, left mapped: a handful of pages, at boot only.
            kva::map(physical as u64, size, Caching::WriteBack)
        };
        let ptr = NonNull::new(virt as *mut T).expect("a mapped table is not at address 0");
        // SAFETY: `virt` maps `size` bytes at `physical` for as long as the kernel runs.
        unsafe { PhysicalMapping::new(physical, ptr, size, size, *self) }
    }

    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {}
}

/// The CPUs, I/O APICs and overrides the firmware lists, or `None` (with a log line saying
/// why) when there is no usable ACPI: the kernel then runs on the boot CPU alone.
pub fn topology() -> Option<Topology> {
    // SAFETY: the BIOS areas the search reads (EBDA, 0xE0000-0xFFFFF) are in the direct map.
    let tables = match unsafe { AcpiTables::search_for_rsdp_bios(Handler) } {
        Ok(t) => t,
        Err(e) => {
            log::warn!("acpi: no usable RSDP ({e:?}): running on the boot CPU only");
            return None;
        }
    };
    let madt = match tables.find_table::<Madt>() {
        Ok(m) => m,
        Err(e) => {
            log::warn!("acpi: no usable MADT ({e:?}): running on the boot CPU only");
            return None;
        }
    };
    match parse_madt(madt_bytes(&madt)) {
        Ok(t) => Some(t),
        Err(e) => {
            log::warn!("acpi: MADT refused ({e}): running on the boot CPU only");
            None
        }
    }
}
