//! Segment and gate descriptor encoding for the GDT and IDT.

/// Access byte of a present ring-0 code segment (execute/read).
pub const KERNEL_CODE: u8 = 0x9A;
/// Access byte of a present ring-0 data segment (read/write).
pub const KERNEL_DATA: u8 = 0x92;
/// Access byte of a present ring-3 code segment.
pub const USER_CODE: u8 = 0xFA;
/// Access byte of a present ring-3 data segment.
pub const USER_DATA: u8 = 0xF2;
/// Access byte of a present, available 32-bit TSS.
pub const TSS_AVAILABLE: u8 = 0x89;
/// Access byte of a present local descriptor table (a system segment, DPL 0).
pub const LDT: u8 = 0x82;

/// Flags nibble: 4 KiB granularity, 32-bit default operand size.
pub const FLAGS_4K_32BIT: u8 = 0xC;
/// Flags nibble for system segments with byte granularity (TSS).
pub const FLAGS_BYTE: u8 = 0x0;

/// Encodes a segment descriptor from base, 20-bit limit, access byte and flags nibble.
pub const fn segment(base: u32, limit: u32, access: u8, flags: u8) -> u64 {
    let limit = limit as u64 & 0xF_FFFF;
    let base = base as u64;
    (limit & 0xFFFF)
        | ((base & 0xFF_FFFF) << 16)
        | ((access as u64) << 40)
        | ((limit >> 16) << 48)
        | (((flags & 0xF) as u64) << 52)
        | ((base >> 24) << 56)
}

/// A flat 4 GiB segment with the given access byte.
pub const fn flat(access: u8) -> u64 {
    segment(0, 0xF_FFFF, access, FLAGS_4K_32BIT)
}

/// Encodes a 32-bit interrupt gate (interrupts disabled on entry) for `handler` in
/// code segment `selector`, callable from privilege level `dpl` by `int n`.
pub const fn interrupt_gate(handler: u32, selector: u16, dpl: u8) -> u64 {
    let handler = handler as u64;
    let type_attr = 0x8E | ((dpl as u64 & 3) << 5);
    (handler & 0xFFFF) | ((selector as u64) << 16) | (type_attr << 40) | ((handler >> 16) << 48)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_segments_match_the_manual() {
        // The classic values every i386 kernel writes by hand.
        assert_eq!(flat(KERNEL_CODE), 0x00CF_9A00_0000_FFFF);
        assert_eq!(flat(KERNEL_DATA), 0x00CF_9200_0000_FFFF);
        assert_eq!(flat(USER_CODE), 0x00CF_FA00_0000_FFFF);
        assert_eq!(flat(USER_DATA), 0x00CF_F200_0000_FFFF);
    }

    #[test]
    fn base_is_split_across_the_descriptor() {
        let d = segment(0x1234_5678, 0x67, TSS_AVAILABLE, FLAGS_BYTE);
        assert_eq!(d & 0xFFFF, 0x67);
        assert_eq!((d >> 16) & 0xFF_FFFF, 0x34_5678);
        assert_eq!(d >> 56, 0x12);
        assert_eq!((d >> 40) & 0xFF, 0x89);
    }

    #[test]
    fn interrupt_gate_encoding() {
        let g = interrupt_gate(0xC010_2030, 0x08, 0);
        assert_eq!(g, 0xC010_8E00_0008_2030);
        let g = interrupt_gate(0xC010_2030, 0x08, 3);
        assert_eq!((g >> 40) & 0xFF, 0xEE);
    }
}
