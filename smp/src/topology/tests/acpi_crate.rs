//! The kernel's path, on the host: the `acpi` crate finds the MADT through an XSDT whose
//! "physical" addresses are host addresses, [`madt_bytes`] hands it to `parse_madt`.

use super::builder::fix_checksum;
use super::*;
use acpi::{AcpiError, AcpiHandler, AcpiTables, PhysicalMapping};
use core::ptr::NonNull;

/// Physical address = host address: the tables live in the test's own buffers.
#[derive(Clone, Copy, Debug)]
struct HostMemory;

impl AcpiHandler for HostMemory {
    unsafe fn map_physical_region<T>(
        &self,
        address: usize,
        size: usize,
    ) -> PhysicalMapping<Self, T> {
        let start = NonNull::new(address as *mut T).expect("null table address");
        // SAFETY: every address the tests hand out (the XSDT's own, the pointers in it) is
        // the start of a live buffer of at least `size` bytes; the crate only reads them.
        unsafe { PhysicalMapping::new(address, start, size, size, *self) }
    }

    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {}
}

/// An XSDT (ACPI 2.0+, 64-bit pointers) listing `tables` by host address.
fn xsdt(tables: &[&[u8]]) -> Vec<u8> {
    let mut x = Vec::new();
    x.extend_from_slice(b"XSDT");
    let length = 36 + 8 * tables.len() as u32;
    x.extend_from_slice(&length.to_le_bytes());
    x.extend_from_slice(&[1, 0]); // revision, checksum
    x.extend_from_slice(b"TEMPSTHOSTXSDT");
    x.extend_from_slice(&[0; 12]); // OEM revision, creator id and revision
    for table in tables {
        x.extend_from_slice(&(table.as_ptr() as u64).to_le_bytes());
    }
    fix_checksum(&mut x);
    x
}

fn find_madt(tables: &[&[u8]]) -> Result<Topology, AcpiError> {
    let root = xsdt(tables);
    // SAFETY: `root` is a valid XSDT whose pointers name live buffers (see `HostMemory`),
    // all alive until the end of this function.
    let acpi = unsafe { AcpiTables::from_rsdt(HostMemory, 2, root.as_ptr() as usize) }?;
    let madt = acpi.find_table::<Madt>()?;
    assert_eq!(madt.region_length(), madt_bytes(&madt).len());
    Ok(parse_madt(madt_bytes(&madt)).expect("find_table checked the header"))
}

#[test]
fn the_acpi_crate_finds_each_dump() {
    let other = {
        let mut facp = PC_SMP1.to_vec();
        facp[..4].copy_from_slice(b"FACP");
        fix_checksum(&mut facp);
        facp
    };
    for (name, dump, enabled, disabled) in [
        ("pc-smp1", PC_SMP1, 1, 0),
        ("pc-smp8", PC_SMP8, 8, 0),
        ("pc-smp4-maxcpus8", PC_SMP4_MAX8, 4, 4),
    ] {
        // Another table first: find_table skips it by signature.
        let topology = find_madt(&[&other, dump]).unwrap();
        assert_eq!(topology, qemu(enabled, disabled), "{name}");
    }
}

#[test]
fn the_acpi_crate_hides_a_madt_with_a_bad_checksum() {
    // `find_table` logs a warning and reports the table missing; the kernel then runs on
    // the boot CPU alone, as with no MADT.
    let mut bad = PC_SMP4.to_vec();
    bad[9] = bad[9].wrapping_add(1);
    let err = find_madt(&[&bad]).unwrap_err();
    assert!(matches!(err, AcpiError::TableMissing(_)), "{err:?}");
}
