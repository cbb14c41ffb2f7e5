//! Why a MADT was refused or its walk cut short, and why an entry was ignored.

use core::fmt;

use super::HEADER_LEN;

/// A MADT that cannot be read (returned by [`parse_madt`](super::parse_madt)), or the reason
/// its walk stopped early (recorded in [`Topology::stopped`](super::Topology::stopped)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MadtError {
    /// Fewer bytes than the 44-byte MADT header.
    TruncatedHeader { len: usize },
    /// The signature is not `APIC`.
    BadSignature { found: [u8; 4] },
    /// The header's length is below the 44-byte header itself.
    LengthTooSmall { length: u32 },
    /// The header's length runs past the bytes given.
    LengthBeyondBuffer { length: u32, available: usize },
    /// The table's bytes do not sum to 0 modulo 256.
    BadChecksum { sum: u8 },
    /// Walk stopped: one byte is left at `offset`, too few for an entry header.
    TruncatedEntryHeader { offset: usize },
    /// Walk stopped: the entry at `offset` has a length below its own 2-byte header (0
    /// would never advance).
    BadEntryLength {
        offset: usize,
        entry_type: u8,
        length: u8,
    },
    /// Walk stopped: the entry at `offset` runs past the table's end.
    EntryPastEnd {
        offset: usize,
        entry_type: u8,
        length: u8,
        table_len: usize,
    },
}

impl fmt::Display for MadtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MadtError::*;
        match *self {
            TruncatedHeader { len } => write!(
                f,
                "MADT is {len} bytes, shorter than its {HEADER_LEN}-byte header"
            ),
            BadSignature { found } => write!(
                f,
                "signature \"{}\" is not \"APIC\": not a MADT",
                found.escape_ascii()
            ),
            LengthTooSmall { length } => write!(
                f,
                "MADT length {length} is shorter than its {HEADER_LEN}-byte header"
            ),
            LengthBeyondBuffer { length, available } => write!(
                f,
                "MADT length {length} runs past the {available} bytes available"
            ),
            BadChecksum { sum } => write!(
                f,
                "MADT checksum fails: its bytes sum to {sum:#04x} modulo 256, not 0"
            ),
            TruncatedEntryHeader { offset } => write!(
                f,
                "one stray byte at offset {offset:#x}, too short for an entry header; \
                 walk stopped"
            ),
            BadEntryLength {
                offset,
                entry_type,
                length,
            } => write!(
                f,
                "{} entry (type {entry_type:#x}) at offset {offset:#x} has length {length}, \
                 below its 2-byte header; walk stopped",
                entry_name(entry_type)
            ),
            EntryPastEnd {
                offset,
                entry_type,
                length,
                table_len,
            } => write!(
                f,
                "{} entry (type {entry_type:#x}) at offset {offset:#x}, length {length}, runs \
                 past the table's end at {table_len:#x}; walk stopped",
                entry_name(entry_type)
            ),
        }
    }
}

/// An entry that was read and ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// Byte offset of the entry in the table.
    pub offset: usize,
    pub entry_type: u8,
    pub reason: SkipReason,
}

/// Why an entry was ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// A type Tempest does not use: NMI source (3), the SAPIC (6-8) and GIC (0xB-0xF)
    /// models, multiprocessor wakeup (0x10), reserved and OEM types.
    Unhandled,
    /// Shorter than its type's layout.
    TooShort { length: u8, needed: u8 },
    /// APIC id 0xFF (type 0) or 0xFFFF_FFFF (type 9): the broadcast id, which no CPU has;
    /// some firmware lists absent CPUs this way.
    BroadcastApicId,
    /// The APIC id was listed by an earlier entry (a CPU in both a type 0 and a type 9
    /// entry); the first listing is kept.
    DuplicateApicId { apic_id: u32 },
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Skipped {
            offset,
            entry_type,
            ref reason,
        } = *self;
        let name = entry_name(entry_type);
        write!(
            f,
            "{name} entry (type {entry_type:#x}) at offset {offset:#x} "
        )?;
        match *reason {
            SkipReason::Unhandled => f.write_str("not used by Tempest"),
            SkipReason::TooShort { length, needed } => {
                write!(
                    f,
                    "is {length} bytes, shorter than its {needed}-byte layout"
                )
            }
            SkipReason::BroadcastApicId => f.write_str("has the broadcast APIC id: no such CPU"),
            SkipReason::DuplicateApicId { apic_id } => write!(
                f,
                "repeats APIC id {apic_id}, already listed; the first listing is kept"
            ),
        }
    }
}

/// The ACPI name of an entry type, for messages.
fn entry_name(entry_type: u8) -> &'static str {
    match entry_type {
        0 => "processor local APIC",
        1 => "I/O APIC",
        2 => "interrupt source override",
        3 => "NMI source",
        4 => "local APIC NMI",
        5 => "local APIC address override",
        6 => "I/O SAPIC",
        7 => "local SAPIC",
        8 => "platform interrupt sources",
        9 => "processor local x2APIC",
        0xA => "local x2APIC NMI",
        0xB => "GIC CPU interface",
        0xC => "GIC distributor",
        0xD => "GIC MSI frame",
        0xE => "GIC redistributor",
        0xF => "GIC interrupt translation service",
        0x10 => "multiprocessor wakeup",
        0x11..=0x7F => "reserved",
        _ => "OEM",
    }
}
