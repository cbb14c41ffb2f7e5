//! Hand-built MADTs: x2APIC CPUs, disabled and online-capable CPUs, duplicates, the address
//! override, entries the walk skips or stops at, and every header refusal.

use super::builder::{ENABLED, MadtBuilder, ONLINE_CAPABLE, fix_checksum, set_length};
use super::*;

fn cpu(apic_id: u32, acpi_uid: u32, enabled: bool, online_capable: bool, x2apic: bool) -> Cpu {
    Cpu {
        apic_id,
        acpi_uid,
        enabled,
        online_capable,
        x2apic_entry: x2apic,
    }
}

fn skipped(offset: usize, entry_type: u8, reason: SkipReason) -> Skipped {
    Skipped {
        offset,
        entry_type,
        reason,
    }
}

#[test]
fn x2apic_entries_carry_ids_above_255() {
    let table = MadtBuilder::new(5)
        .lapic(0, 0, ENABLED)
        .x2apic(256, ENABLED, 256)
        .x2apic(0x1234_5678, ENABLED, 7)
        .x2apic(300, 0, 300)
        .build();
    let topology = parse_madt(&table).unwrap();
    assert_eq!(
        topology.cpus,
        [
            cpu(0, 0, true, false, false),
            cpu(256, 256, true, false, true),
            cpu(0x1234_5678, 7, true, false, true),
            cpu(300, 300, false, false, true),
        ]
    );
    assert_eq!(topology.usable_cpus().count(), 3);
    assert_eq!(topology.revision, 5);
    assert!(topology.skipped.is_empty() && topology.stopped.is_none());
}

#[test]
fn a_cpu_in_a_type_0_and_a_type_9_entry_appears_once() {
    let builder = MadtBuilder::new(5)
        .lapic(0, 0, ENABLED)
        .lapic(1, 1, ENABLED);
    let second = builder.offset();
    let table = builder.x2apic(1, ENABLED, 1).x2apic(2, ENABLED, 2).build();
    let topology = parse_madt(&table).unwrap();
    // The first listing (type 0) is kept.
    assert_eq!(
        topology.cpus,
        [
            cpu(0, 0, true, false, false),
            cpu(1, 1, true, false, false),
            cpu(2, 2, true, false, true),
        ]
    );
    let reason = SkipReason::DuplicateApicId { apic_id: 1 };
    assert_eq!(topology.skipped, [skipped(second, 9, reason)]);
}

#[test]
fn disabled_cpus_are_listed_but_not_usable() {
    let table = MadtBuilder::new(1)
        .lapic(0, 0, ENABLED)
        .lapic(1, 4, 0)
        .lapic(2, 2, ENABLED)
        .build();
    let topology = parse_madt(&table).unwrap();
    assert_eq!(topology.cpus.len(), 3);
    assert!(!topology.cpus[1].enabled);
    let usable: Vec<u32> = topology.usable_cpus().map(|c| c.apic_id).collect();
    assert_eq!(usable, [0, 2]);
}

#[test]
fn online_capable_cpus_are_not_started_at_boot() {
    let table = MadtBuilder::new(5)
        .lapic(0, 0, ENABLED)
        .lapic(1, 1, ONLINE_CAPABLE)
        .x2apic(2, ONLINE_CAPABLE, 2)
        .lapic(3, 3, ENABLED | ONLINE_CAPABLE)
        .build();
    let topology = parse_madt(&table).unwrap();
    assert_eq!(
        topology.cpus,
        [
            cpu(0, 0, true, false, false),
            cpu(1, 1, false, true, false),
            cpu(2, 2, false, true, true),
            cpu(3, 3, true, true, false),
        ]
    );
    let usable: Vec<u32> = topology.usable_cpus().map(|c| c.apic_id).collect();
    assert_eq!(usable, [0, 3]);
}

#[test]
fn online_capable_bit_is_reserved_before_revision_5() {
    let table = MadtBuilder::new(4)
        .lapic(0, 0, ENABLED)
        .lapic(1, 1, ONLINE_CAPABLE)
        .build();
    let topology = parse_madt(&table).unwrap();
    assert_eq!(topology.cpus[1], cpu(1, 1, false, false, false));
}

#[test]
fn type_5_replaces_the_header_lapic_address() {
    let table = MadtBuilder::new(3)
        .lapic_address(0x1_2345_6000)
        .lapic(0, 0, ENABLED)
        .build();
    let topology = parse_madt(&table).unwrap();
    assert_eq!(topology.local_apic_address, 0x1_2345_6000);
    assert_eq!(topology.cpus.len(), 1);
}

#[test]
fn io_apics_overrides_and_flags() {
    let table = MadtBuilder::new(1)
        .flags(0)
        .io_apic(2, 0xfec0_0000, 0)
        .io_apic(3, 0xfec0_1000, 24)
        .source_override(0, 0, 2, 0)
        .source_override(0, 9, 20, 0x000f)
        .build();
    let topology = parse_madt(&table).unwrap();
    assert!(!topology.pic_compatible);
    assert_eq!(topology.local_apic_address, 0xfee0_0000);
    assert_eq!(topology.io_apics[1].address, 0xfec0_1000);
    assert_eq!(topology.io_apics[1].gsi_base, 24);
    assert_eq!(topology.io_apics[1].id, 3);
    assert_eq!(
        topology.overrides[1],
        Override {
            bus: 0,
            irq: 9,
            gsi: 20,
            flags: 0x000f
        }
    );
    assert!(topology.cpus.is_empty());
}

#[test]
fn nmi_entries_are_quiet_other_types_are_recorded() {
    let builder = MadtBuilder::new(5)
        .entry(4, &[0xff, 0, 0, 1]) // local APIC NMI
        .entry(0xA, &[0; 10]) // local x2APIC NMI
        .lapic(0, 0, ENABLED);
    let (nmi_source, oem) = (builder.offset(), builder.offset() + 10);
    let table = builder
        .entry(3, &[0; 8]) // NMI source
        .entry(0x80, &[1, 2, 3])
        .build();
    let topology = parse_madt(&table).unwrap();
    assert_eq!(topology.cpus.len(), 1);
    assert_eq!(
        topology.skipped,
        [
            skipped(nmi_source, 3, SkipReason::Unhandled),
            skipped(oem, 0x80, SkipReason::Unhandled),
        ]
    );
}

#[test]
fn short_entries_are_skipped_long_ones_read() {
    let builder = MadtBuilder::new(5).entry(0, &[0, 0, 1, 0]);
    let io = builder.offset();
    let table = builder
        .entry(1, &[1, 0, 0, 0, 0xc0, 0xfe]) // 8 of 12 bytes
        .entry(0, &[1, 1, 1, 0, 0, 0, 0xaa, 0xbb]) // 10 bytes: two extra
        .build();
    let topology = parse_madt(&table).unwrap();
    let too_short = |length, needed| SkipReason::TooShort { length, needed };
    assert_eq!(
        topology.skipped,
        [
            skipped(HEADER_LEN, 0, too_short(6, 8)),
            skipped(io, 1, too_short(8, 12))
        ]
    );
    assert_eq!(topology.cpus, [cpu(1, 1, true, false, false)]);
    assert!(topology.io_apics.is_empty());
}

#[test]
fn broadcast_apic_ids_are_skipped() {
    let builder = MadtBuilder::new(5).lapic(0, 0xff, ENABLED);
    let x2 = builder.offset();
    let table = builder
        .x2apic(u32::MAX, ENABLED, 1)
        .lapic(2, 0, ENABLED)
        .build();
    let topology = parse_madt(&table).unwrap();
    assert_eq!(
        topology.skipped,
        [
            skipped(HEADER_LEN, 0, SkipReason::BroadcastApicId),
            skipped(x2, 9, SkipReason::BroadcastApicId),
        ]
    );
    assert_eq!(topology.cpus, [cpu(0, 2, true, false, false)]);
}

#[test]
fn zero_or_one_byte_entry_length_stops_the_walk() {
    for length in [0, 1] {
        let builder = MadtBuilder::new(5).lapic(0, 0, ENABLED);
        let bad = builder.offset();
        let table = builder.raw(&[1, length, 0, 0]).lapic(1, 1, ENABLED).build();
        let topology = parse_madt(&table).unwrap();
        assert_eq!(topology.cpus, [cpu(0, 0, true, false, false)]);
        let stop = MadtError::BadEntryLength {
            offset: bad,
            entry_type: 1,
            length,
        };
        assert_eq!(topology.stopped, Some(stop));
    }
}

#[test]
fn an_entry_past_the_end_stops_the_walk() {
    let builder = MadtBuilder::new(5)
        .lapic(0, 0, ENABLED)
        .io_apic(0, 0xfec0_0000, 0);
    let bad = builder.offset();
    let table = builder.raw(&[9, 16, 0, 0, 5, 0, 0, 0]).build();
    let topology = parse_madt(&table).unwrap();
    assert_eq!(topology.cpus.len(), 1);
    assert_eq!(topology.io_apics.len(), 1);
    let stop = MadtError::EntryPastEnd {
        offset: bad,
        entry_type: 9,
        length: 16,
        table_len: table.len(),
    };
    assert_eq!(topology.stopped, Some(stop));
}

#[test]
fn a_stray_last_byte_stops_the_walk() {
    let builder = MadtBuilder::new(5).lapic(0, 0, ENABLED);
    let at = builder.offset();
    let table = builder.raw(&[0]).build();
    let topology = parse_madt(&table).unwrap();
    assert_eq!(topology.cpus.len(), 1);
    assert_eq!(
        topology.stopped,
        Some(MadtError::TruncatedEntryHeader { offset: at })
    );
}

#[test]
fn a_bad_checksum_is_an_error() {
    let mut table = MadtBuilder::new(5).lapic(0, 0, ENABLED).build();
    table[50] ^= 0x10;
    assert_eq!(
        parse_madt(&table),
        Err(MadtError::BadChecksum { sum: 0x10 })
    );
    // The real dumps too.
    let mut dump = PC_SMP4.to_vec();
    dump[9] = dump[9].wrapping_add(1);
    assert_eq!(parse_madt(&dump), Err(MadtError::BadChecksum { sum: 1 }));
}

#[test]
fn header_refusals() {
    let good = MadtBuilder::new(5).lapic(0, 0, ENABLED).build();
    for len in 0..HEADER_LEN {
        let err = parse_madt(&good[..len]).unwrap_err();
        assert_eq!(err, MadtError::TruncatedHeader { len });
    }
    let mut facp = good.clone();
    facp[..4].copy_from_slice(b"FACP");
    fix_checksum(&mut facp);
    let found = *b"FACP";
    assert_eq!(parse_madt(&facp), Err(MadtError::BadSignature { found }));

    let length = good.len() as u32;
    let available = good.len() - 1;
    let err = MadtError::LengthBeyondBuffer { length, available };
    assert_eq!(parse_madt(&good[..available]), Err(err));

    let mut huge = good.clone();
    set_length(&mut huge, u32::MAX as usize);
    let err = parse_madt(&huge).unwrap_err();
    assert!(matches!(
        err,
        MadtError::LengthBeyondBuffer {
            length: u32::MAX,
            ..
        }
    ));

    let mut small = good.clone();
    set_length(&mut small, 40);
    assert_eq!(
        parse_madt(&small),
        Err(MadtError::LengthTooSmall { length: 40 })
    );
}

#[test]
fn a_header_without_entries_is_an_empty_topology() {
    let table = MadtBuilder::new(1).build();
    let topology = parse_madt(&table).unwrap();
    assert_eq!(topology.usable_cpus().count(), 0);
    assert!(topology.io_apics.is_empty() && topology.stopped.is_none());
}
