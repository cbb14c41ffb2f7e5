//! The ACPI MADT read into a topology: the CPUs to start, the I/O APICs, the ISA interrupt
//! overrides and the local APIC's address. Used by the kernel's SMP bring-up.
//!
//! [`parse_madt`] walks the table as a byte slice, so the host tests can feed it QEMU's real
//! tables and hand-built ones; on the target, [`madt_bytes`] turns the `acpi` crate's mapping
//! of the MADT into that slice. `docs/smp.md` ("ACPI topology") says what is read and why.
//!
//! Why not the `acpi` crate's own walk (`Madt::entries`): it trusts every entry length (a
//! length of 0 loops forever, a length past the table reads beyond it) and needs a
//! `Pin<&Madt>` over mapped memory. The walk here reads explicit little-endian fields with
//! bounds checks, at offsets taken from the crate's `#[repr(C, packed)]` entry structs, so
//! the crate still defines the layouts.

mod error;
mod mapping;

#[cfg(test)]
mod tests;

pub use error::{MadtError, SkipReason, Skipped};
pub use mapping::madt_bytes;

use alloc::vec::Vec;
use core::mem::{offset_of, size_of};

use acpi::madt::{
    EntryHeader, InterruptSourceOverrideEntry, IoApicEntry, LocalApicAddressOverrideEntry,
    LocalApicEntry, LocalX2ApicEntry, Madt,
};
use acpi::sdt::Signature;

/// One processor listed by a type 0 (local APIC) or type 9 (local x2APIC) entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cpu {
    /// The local APIC id: the IPI destination, and what the CPU reads from its own LAPIC.
    pub apic_id: u32,
    /// The ACPI processor UID (type 0: the one-byte processor id; type 9: the 32-bit UID).
    pub acpi_uid: u32,
    /// Flags bit 0: the CPU is present and may be started.
    pub enabled: bool,
    /// Flags bit 1 (MADT revision 5, ACPI 6.3, and later; reserved and ignored before): a
    /// disabled CPU that the platform can bring online later (hot-plug).
    pub online_capable: bool,
    /// Listed by a type 9 (x2APIC) entry rather than a type 0 one.
    pub x2apic_entry: bool,
}

/// One I/O APIC (type 1 entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoApic {
    pub id: u8,
    /// Physical address of its MMIO registers.
    pub address: u32,
    /// The first global system interrupt (GSI) its redirection table serves.
    pub gsi_base: u32,
}

/// An interrupt source override (type 2 entry): ISA `irq` arrives on `gsi`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    /// 0 for ISA, the only bus ACPI defines here.
    pub bus: u8,
    pub irq: u8,
    pub gsi: u32,
    /// MPS INTI flags: bits 0-1 polarity (0 bus default, 1 active high, 3 active low), bits
    /// 2-3 trigger mode (0 bus default, 1 edge, 3 level).
    pub flags: u16,
}

/// What the MADT says about the machine's CPUs and interrupt controllers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    /// The local APIC's physical address: the header's 32-bit field, replaced by a type 5
    /// (local APIC address override) entry's 64-bit one.
    pub local_apic_address: u64,
    /// MADT flags bit 0 (`PCAT_COMPAT`): dual 8259 PICs are installed and must be masked
    /// before the APICs are used.
    pub pic_compatible: bool,
    /// The MADT's revision (header byte 8): 1 on QEMU 7.2, 5 or more from ACPI 6.3 on.
    pub revision: u8,
    /// Every CPU, in table order, each APIC id once. See [`Topology::usable_cpus`].
    pub cpus: Vec<Cpu>,
    pub io_apics: Vec<IoApic>,
    pub overrides: Vec<Override>,
    /// Entries read and ignored, with why. Local APIC NMI entries (types 4 and 0xA) are
    /// ignored without a record: Tempest does not route NMIs.
    pub skipped: Vec<Skipped>,
    /// Why the walk stopped before the table's end (an entry whose length is below 2 or runs
    /// past the table): what came before is kept, the entries after are unread. `None`
    /// when every entry was read.
    pub stopped: Option<MadtError>,
}

impl Topology {
    /// The CPUs to start at boot: the enabled ones. An online-capable CPU is not enabled
    /// yet; it is a hot-plug slot that the platform may populate later, so it is not
    /// started at boot (and never SIPI a disabled entry: QEMU lists its empty hot-plug
    /// slots that way).
    pub fn usable_cpus(&self) -> impl Iterator<Item = &Cpu> {
        self.cpus.iter().filter(|cpu| cpu.enabled)
    }
}

/// The MADT header: the 36-byte SDT header, the local APIC address and the flags.
pub const HEADER_LEN: usize = size_of::<Madt>();
const LENGTH: usize = offset_of!(Madt, header.length);
const REVISION: usize = offset_of!(Madt, header.revision);
const LOCAL_APIC_ADDRESS: usize = offset_of!(Madt, local_apic_address);
const FLAGS: usize = offset_of!(Madt, flags);

/// MADT flags bit 0 and processor flags bits 0 and 1.
const PCAT_COMPAT: u32 = 1 << 0;
const CPU_ENABLED: u32 = 1 << 0;
const CPU_ONLINE_CAPABLE: u32 = 1 << 1;
/// The first MADT revision (ACPI 6.3) that defines the online-capable bit.
const ONLINE_CAPABLE_REVISION: u8 = 5;

/// The layouts the walk relies on, checked against the ACPI specification's lengths.
const _: () = {
    assert!(HEADER_LEN == 44 && LENGTH == 4 && REVISION == 8);
    assert!(LOCAL_APIC_ADDRESS == 36 && FLAGS == 40);
    assert!(size_of::<EntryHeader>() == 2);
    assert!(size_of::<LocalApicEntry>() == 8);
    assert!(size_of::<IoApicEntry>() == 12);
    assert!(size_of::<InterruptSourceOverrideEntry>() == 10);
    assert!(size_of::<LocalApicAddressOverrideEntry>() == 12);
    assert!(size_of::<LocalX2ApicEntry>() == 16);
};

/// Reads a Multiple APIC Description Table (signature `APIC`) from its bytes.
///
/// `table` may extend past the table; only the header's `length` bytes are read. The header
/// is refused when it is truncated, not `APIC`, longer than `table`, or fails its checksum
/// (the kernel then runs on the boot CPU alone and logs the error). Entries never fail the
/// whole table: unusable ones are listed in [`Topology::skipped`], and an entry the walk
/// cannot step over ends it, recorded in [`Topology::stopped`].
pub fn parse_madt(table: &[u8]) -> Result<Topology, MadtError> {
    let table = checked_table(table)?;
    let fields = Fields(table);
    let revision = table[REVISION];
    let mut walk = Walk {
        topology: Topology {
            local_apic_address: u64::from(fields.u32(LOCAL_APIC_ADDRESS)),
            pic_compatible: fields.u32(FLAGS) & PCAT_COMPAT != 0,
            revision,
            cpus: Vec::new(),
            io_apics: Vec::new(),
            overrides: Vec::new(),
            skipped: Vec::new(),
            stopped: None,
        },
        online_capable_defined: revision >= ONLINE_CAPABLE_REVISION,
    };
    let mut offset = HEADER_LEN;
    while offset < table.len() {
        let rest = &table[offset..];
        let [entry_type, length, ..] = *rest else {
            walk.topology.stopped = Some(MadtError::TruncatedEntryHeader { offset });
            break;
        };
        let length = usize::from(length);
        if length < size_of::<EntryHeader>() {
            walk.topology.stopped = Some(MadtError::BadEntryLength {
                offset,
                entry_type,
                length: length as u8,
            });
            break;
        }
        let Some(entry) = rest.get(..length) else {
            walk.topology.stopped = Some(MadtError::EntryPastEnd {
                offset,
                entry_type,
                length: length as u8,
                table_len: table.len(),
            });
            break;
        };
        walk.entry(offset, entry_type, Fields(entry));
        offset += length;
    }
    Ok(walk.topology)
}

/// The header checks: returns exactly the table's bytes.
fn checked_table(table: &[u8]) -> Result<&[u8], MadtError> {
    if table.len() < HEADER_LEN {
        return Err(MadtError::TruncatedHeader { len: table.len() });
    }
    let signature = Signature::MADT;
    if &table[..4] != signature.as_str().as_bytes() {
        let mut found = [0; 4];
        found.copy_from_slice(&table[..4]);
        return Err(MadtError::BadSignature { found });
    }
    let length = Fields(table).u32(LENGTH);
    let Some(table) = usize::try_from(length)
        .ok()
        .and_then(|length| table.get(..length))
    else {
        return Err(MadtError::LengthBeyondBuffer {
            length,
            available: table.len(),
        });
    };
    if table.len() < HEADER_LEN {
        return Err(MadtError::LengthTooSmall { length });
    }
    let sum = table.iter().fold(0u8, |sum, &b| sum.wrapping_add(b));
    if sum != 0 {
        return Err(MadtError::BadChecksum { sum });
    }
    Ok(table)
}

/// Little-endian fields of a table or an entry; callers check the length first.
#[derive(Clone, Copy)]
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn len(self) -> usize {
        self.0.len()
    }

    fn u8(self, at: usize) -> u8 {
        self.0[at]
    }

    fn u16(self, at: usize) -> u16 {
        u16::from_le_bytes([self.0[at], self.0[at + 1]])
    }

    fn u32(self, at: usize) -> u32 {
        let mut b = [0; 4];
        b.copy_from_slice(&self.0[at..at + 4]);
        u32::from_le_bytes(b)
    }

    fn u64(self, at: usize) -> u64 {
        let mut b = [0; 8];
        b.copy_from_slice(&self.0[at..at + 8]);
        u64::from_le_bytes(b)
    }
}

/// The topology being built, entry by entry.
struct Walk {
    topology: Topology,
    /// Whether processor flags bit 1 means online-capable (MADT revision 5 on).
    online_capable_defined: bool,
}

impl Walk {
    fn entry(&mut self, offset: usize, entry_type: u8, e: Fields<'_>) {
        let needed = match entry_type {
            0 => size_of::<LocalApicEntry>(),
            1 => size_of::<IoApicEntry>(),
            2 => size_of::<InterruptSourceOverrideEntry>(),
            5 => size_of::<LocalApicAddressOverrideEntry>(),
            9 => size_of::<LocalX2ApicEntry>(),
            // Local APIC and local x2APIC NMI: Tempest does not route NMIs.
            4 | 0xA => return,
            _ => return self.skip(offset, entry_type, SkipReason::Unhandled),
        };
        if e.len() < needed {
            let reason = SkipReason::TooShort {
                length: e.len() as u8,
                needed: needed as u8,
            };
            return self.skip(offset, entry_type, reason);
        }
        // Longer entries are fine: later revisions append fields.
        match entry_type {
            0 => {
                let apic_id = e.u8(offset_of!(LocalApicEntry, apic_id));
                let cpu = self.cpu(
                    u32::from(apic_id),
                    u32::from(e.u8(offset_of!(LocalApicEntry, processor_id))),
                    e.u32(offset_of!(LocalApicEntry, flags)),
                    false,
                );
                self.add_cpu(offset, entry_type, cpu, apic_id == u8::MAX);
            }
            9 => {
                let apic_id = e.u32(offset_of!(LocalX2ApicEntry, x2apic_id));
                let cpu = self.cpu(
                    apic_id,
                    e.u32(offset_of!(LocalX2ApicEntry, processor_uid)),
                    e.u32(offset_of!(LocalX2ApicEntry, flags)),
                    true,
                );
                self.add_cpu(offset, entry_type, cpu, apic_id == u32::MAX);
            }
            1 => self.topology.io_apics.push(IoApic {
                id: e.u8(offset_of!(IoApicEntry, io_apic_id)),
                address: e.u32(offset_of!(IoApicEntry, io_apic_address)),
                gsi_base: e.u32(offset_of!(IoApicEntry, global_system_interrupt_base)),
            }),
            2 => self.topology.overrides.push(Override {
                bus: e.u8(offset_of!(InterruptSourceOverrideEntry, bus)),
                irq: e.u8(offset_of!(InterruptSourceOverrideEntry, irq)),
                gsi: e.u32(offset_of!(
                    InterruptSourceOverrideEntry,
                    global_system_interrupt
                )),
                flags: e.u16(offset_of!(InterruptSourceOverrideEntry, flags)),
            }),
            _ => {
                self.topology.local_apic_address = e.u64(offset_of!(
                    LocalApicAddressOverrideEntry,
                    local_apic_address
                ));
            }
        }
    }

    fn cpu(&self, apic_id: u32, acpi_uid: u32, flags: u32, x2apic_entry: bool) -> Cpu {
        Cpu {
            apic_id,
            acpi_uid,
            enabled: flags & CPU_ENABLED != 0,
            online_capable: self.online_capable_defined && flags & CPU_ONLINE_CAPABLE != 0,
            x2apic_entry,
        }
    }

    /// Adds `cpu` unless its APIC id is the broadcast id or already listed.
    fn add_cpu(&mut self, offset: usize, entry_type: u8, cpu: Cpu, broadcast_id: bool) {
        if broadcast_id {
            self.skip(offset, entry_type, SkipReason::BroadcastApicId);
        } else if self.topology.cpus.iter().any(|c| c.apic_id == cpu.apic_id) {
            let reason = SkipReason::DuplicateApicId {
                apic_id: cpu.apic_id,
            };
            self.skip(offset, entry_type, reason);
        } else {
            self.topology.cpus.push(cpu);
        }
    }

    fn skip(&mut self, offset: usize, entry_type: u8, reason: SkipReason) {
        self.topology.skipped.push(Skipped {
            offset,
            entry_type,
            reason,
        });
    }
}
