//! Host tests for `topology::parse_madt` on the MADTs that QEMU 7.2 really builds. The
//! hand-built tables are in `synthetic`, the never-panic loops in `robustness`, the path
//! through the `acpi` crate in `acpi_crate`, the error messages in `messages`.
//!
//! How `smp/tests/data/madt-*.bin` were made (QEMU 7.2.22, Debian's `qemu-system-x86`,
//! SeaBIOS): a multiboot ELF that only does `cli; hlt` (`as --32`, `ld -m elf_i386`, linked
//! at 1 MiB) was booted with
//!
//! ```text
//! qemu-system-i386 -M pc  -smp 1           -m 128M -kernel halt.elf -display none -serial none -monitor unix:mon.sock,server,nowait -no-reboot
//! qemu-system-i386 -M pc  -smp 4           (same options)
//! qemu-system-i386 -M pc  -smp 8           (same options)
//! qemu-system-i386 -M q35 -smp 4           (same options)
//! qemu-system-i386 -M pc  -smp 4,maxcpus=8 (same options)
//! ```
//!
//! and a throwaway Python script drove the monitor: `pmemsave 0xe0000 131072 "bios.bin"`,
//! the RSDP found as `RSD PTR ` on a 16-byte boundary with a valid 20-byte checksum (at
//! 0xf59d0 on `pc`, 0xf59e0 on `q35`, revision 0), its 32-bit RSDT address followed, each
//! RSDT pointer's 36-byte header saved, and the table signed `APIC` saved with exactly its
//! header's length (120 to 176 bytes). Each dump's checksum was checked before storing it.
//! The file name says the machine and `-smp` option.

use super::*;
use std::string::{String, ToString};
use std::vec;

mod acpi_crate;
mod builder;
mod messages;
mod robustness;
mod synthetic;

pub(super) const PC_SMP1: &[u8] = include_bytes!("../../tests/data/madt-pc-smp1.bin");
pub(super) const PC_SMP4: &[u8] = include_bytes!("../../tests/data/madt-pc-smp4.bin");
pub(super) const PC_SMP8: &[u8] = include_bytes!("../../tests/data/madt-pc-smp8.bin");
pub(super) const Q35_SMP4: &[u8] = include_bytes!("../../tests/data/madt-q35-smp4.bin");
pub(super) const PC_SMP4_MAX8: &[u8] = include_bytes!("../../tests/data/madt-pc-smp4-maxcpus8.bin");

/// Every dump, named.
pub(super) const DUMPS: [(&str, &[u8]); 5] = [
    ("pc-smp1", PC_SMP1),
    ("pc-smp4", PC_SMP4),
    ("pc-smp8", PC_SMP8),
    ("q35-smp4", Q35_SMP4),
    ("pc-smp4-maxcpus8", PC_SMP4_MAX8),
];

/// MPS INTI flags 0x000d: active high (bits 0-1 = 1), level-triggered (bits 2-3 = 3).
const LEVEL_HIGH: u16 = 0x000d;

/// The topology QEMU describes with `enabled` started CPUs and `disabled` hot-plug slots:
/// APIC ids and processor ids 0..n, one I/O APIC (id 0) at 0xfec00000 serving GSIs from 0,
/// IRQ 0 on GSI 2 (bus-default flags), PCI IRQs 5, 9, 10, 11 level-triggered active high,
/// the local APIC at 0xfee00000, the 8259s present, MADT revision 1. The one local APIC NMI
/// entry (all processors, LINT1) is ignored without a record.
pub(super) fn qemu(enabled: u32, disabled: u32) -> Topology {
    let cpu = |id, enabled| Cpu {
        apic_id: id,
        acpi_uid: id,
        enabled,
        online_capable: false,
        x2apic_entry: false,
    };
    let over = |irq: u8, gsi, flags| Override {
        bus: 0,
        irq,
        gsi,
        flags,
    };
    Topology {
        local_apic_address: 0xfee0_0000,
        pic_compatible: true,
        revision: 1,
        cpus: (0..enabled + disabled)
            .map(|id| cpu(id, id < enabled))
            .collect(),
        io_apics: vec![IoApic {
            id: 0,
            address: 0xfec0_0000,
            gsi_base: 0,
        }],
        overrides: vec![
            over(0, 2, 0),
            over(5, 5, LEVEL_HIGH),
            over(9, 9, LEVEL_HIGH),
            over(10, 10, LEVEL_HIGH),
            over(11, 11, LEVEL_HIGH),
        ],
        skipped: vec![],
        stopped: None,
    }
}

fn apic_ids<'a>(cpus: impl Iterator<Item = &'a Cpu>) -> Vec<u32> {
    cpus.map(|c| c.apic_id).collect()
}

#[test]
fn pc_smp1() {
    let topology = parse_madt(PC_SMP1).unwrap();
    assert_eq!(topology, qemu(1, 0));
    assert_eq!(apic_ids(topology.usable_cpus()), [0]);
}

#[test]
fn pc_smp4() {
    let topology = parse_madt(PC_SMP4).unwrap();
    assert_eq!(topology, qemu(4, 0));
    assert_eq!(apic_ids(topology.usable_cpus()), [0, 1, 2, 3]);
}

#[test]
fn pc_smp8() {
    let topology = parse_madt(PC_SMP8).unwrap();
    assert_eq!(topology, qemu(8, 0));
    assert_eq!(apic_ids(topology.usable_cpus()), (0..8).collect::<Vec<_>>());
}

#[test]
fn q35_smp4_matches_pc() {
    // QEMU 7.2 builds the same MADT for q35 as for pc, byte for byte.
    assert_eq!(Q35_SMP4, PC_SMP4);
    assert_eq!(parse_madt(Q35_SMP4).unwrap(), qemu(4, 0));
}

#[test]
fn pc_smp4_maxcpus8_lists_hotplug_slots_as_disabled() {
    let topology = parse_madt(PC_SMP4_MAX8).unwrap();
    assert_eq!(topology, qemu(4, 4));
    assert_eq!(apic_ids(topology.usable_cpus()), [0, 1, 2, 3]);
    // The slots have flags 0: neither enabled nor online-capable (revision 1 has no such bit).
    let slots: Vec<_> = topology.cpus.iter().filter(|c| !c.enabled).collect();
    assert_eq!(apic_ids(slots.iter().copied()), [4, 5, 6, 7]);
    assert!(slots.iter().all(|c| !c.online_capable));
    // Same length as -smp 8: only the four flags (and the checksum) differ.
    assert_eq!(PC_SMP4_MAX8.len(), PC_SMP8.len());
}

#[test]
fn a_buffer_longer_than_the_table_reads_only_the_table() {
    // A mapping may cover more than the table: the header's length decides.
    let mut padded = PC_SMP4.to_vec();
    padded.extend_from_slice(&[0x00, 0x00, 0xff, 0x01, 0x02]);
    assert_eq!(parse_madt(&padded).unwrap(), qemu(4, 0));
}
