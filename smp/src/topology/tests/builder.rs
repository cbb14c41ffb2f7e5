//! A MADT image builder for the tests: a header, entries appended one by one, then the
//! length and checksum fixed.

use std::vec;
use std::vec::Vec;

/// Processor flags.
pub const ENABLED: u32 = 1;
pub const ONLINE_CAPABLE: u32 = 2;

pub struct MadtBuilder {
    bytes: Vec<u8>,
}

impl MadtBuilder {
    /// A header of the given revision with the LAPIC at 0xfee00000 and `PCAT_COMPAT` set.
    pub fn new(revision: u8) -> Self {
        let mut bytes = Vec::with_capacity(128);
        bytes.extend_from_slice(b"APIC");
        bytes.extend_from_slice(&0u32.to_le_bytes()); // length, fixed by `build`
        bytes.push(revision);
        bytes.push(0); // checksum, fixed by `build`
        bytes.extend_from_slice(b"TEMPST");
        bytes.extend_from_slice(b"SYNTHMAD");
        bytes.extend_from_slice(&1u32.to_le_bytes()); // OEM revision
        bytes.extend_from_slice(b"TMPS"); // creator id
        bytes.extend_from_slice(&1u32.to_le_bytes()); // creator revision
        bytes.extend_from_slice(&0xfee0_0000u32.to_le_bytes());
        bytes.extend_from_slice(&1u32.to_le_bytes()); // flags: PCAT_COMPAT
        assert_eq!(bytes.len(), super::HEADER_LEN);
        Self { bytes }
    }

    /// The MADT flags field.
    pub fn flags(mut self, flags: u32) -> Self {
        self.bytes[40..44].copy_from_slice(&flags.to_le_bytes());
        self
    }

    /// An entry of `entry_type` whose length byte is `2 + body.len()`.
    pub fn entry(self, entry_type: u8, body: &[u8]) -> Self {
        let length = u8::try_from(2 + body.len()).unwrap();
        self.raw(&[entry_type, length]).raw(body)
    }

    /// Bytes appended as they are (malformed entries).
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    /// Type 0: processor local APIC.
    pub fn lapic(self, uid: u8, apic_id: u8, flags: u32) -> Self {
        let mut body = vec![uid, apic_id];
        body.extend_from_slice(&flags.to_le_bytes());
        self.entry(0, &body)
    }

    /// Type 9: processor local x2APIC.
    pub fn x2apic(self, apic_id: u32, flags: u32, uid: u32) -> Self {
        let mut body = vec![0, 0];
        for field in [apic_id, flags, uid] {
            body.extend_from_slice(&field.to_le_bytes());
        }
        self.entry(9, &body)
    }

    /// Type 1: I/O APIC.
    pub fn io_apic(self, id: u8, address: u32, gsi_base: u32) -> Self {
        let mut body = vec![id, 0];
        body.extend_from_slice(&address.to_le_bytes());
        body.extend_from_slice(&gsi_base.to_le_bytes());
        self.entry(1, &body)
    }

    /// Type 2: interrupt source override.
    pub fn source_override(self, bus: u8, irq: u8, gsi: u32, flags: u16) -> Self {
        let mut body = vec![bus, irq];
        body.extend_from_slice(&gsi.to_le_bytes());
        body.extend_from_slice(&flags.to_le_bytes());
        self.entry(2, &body)
    }

    /// Type 5: local APIC address override.
    pub fn lapic_address(self, address: u64) -> Self {
        let mut body = vec![0, 0];
        body.extend_from_slice(&address.to_le_bytes());
        self.entry(5, &body)
    }

    /// The offset the next entry will have.
    pub fn offset(&self) -> usize {
        self.bytes.len()
    }

    /// The image with its length and checksum fixed.
    pub fn build(mut self) -> Vec<u8> {
        let length = u32::try_from(self.bytes.len()).unwrap();
        self.bytes[4..8].copy_from_slice(&length.to_le_bytes());
        fix_checksum(&mut self.bytes);
        self.bytes
    }
}

/// Sets the checksum byte so the table's bytes (as many as its length field says, at most
/// all of them) sum to 0.
pub fn fix_checksum(table: &mut [u8]) {
    if table.len() < 10 {
        return;
    }
    let length = u32::from_le_bytes([table[4], table[5], table[6], table[7]]) as usize;
    let end = length.clamp(10, table.len());
    table[9] = 0;
    let sum = table[..end].iter().fold(0u8, |s, &b| s.wrapping_add(b));
    table[9] = sum.wrapping_neg();
}

/// Sets the length field to `length` and fixes the checksum.
pub fn set_length(table: &mut [u8], length: usize) {
    table[4..8].copy_from_slice(&u32::try_from(length).unwrap().to_le_bytes());
    fix_checksum(table);
}
