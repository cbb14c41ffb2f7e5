//! From the `acpi` crate's mapping of the MADT to the bytes [`parse_madt`](super::parse_madt)
//! reads: the kernel finds the table with `AcpiTables::find_table::<Madt>()`.

use acpi::madt::Madt;
use acpi::{AcpiHandler, PhysicalMapping};

/// The bytes of a mapped MADT: `region_length()` bytes from the mapping's start, which for
/// a mapping returned by `AcpiTables::find_table::<Madt>()` is the header's length.
///
/// `find_table` has already checked the signature and checksum (a MADT that fails them is
/// reported as `AcpiError::TableMissing`, after a `log::warn!` naming the failure);
/// `parse_madt` checks them again, as it does for any byte slice.
pub fn madt_bytes<H: AcpiHandler>(madt: &PhysicalMapping<H, Madt>) -> &[u8] {
    let start = madt.virtual_start().as_ptr().cast::<u8>();
    // SAFETY: a `PhysicalMapping` maps `region_length()` readable bytes at `virtual_start()`
    // for as long as it lives (the `AcpiHandler` contract, vouched for by whoever built it
    // through the unsafe `PhysicalMapping::new`; `PhysicalMapping::get` relies on the same),
    // and the returned slice borrows the mapping. ACPI tables are firmware data that nothing
    // writes while the kernel reads them.
    unsafe { core::slice::from_raw_parts(start, madt.region_length()) }
}
