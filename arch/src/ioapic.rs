//! The I/O APIC: its redirection entries (host-tested encoding) and, on x86, its two
//! indirect registers.
//!
//! Written here rather than taken from the `x86` crate: its `apic::ioapic::IoApic` fixes
//! each pin's vector at 32 + pin, routes every pin edge-triggered and active high (so an
//! ACPI override saying "level, active low" cannot be honoured) and reads no entry back.

#[cfg(target_arch = "x86")]
/// Register index of the version register: bits 0-7 version, 16-23 the last entry's index.
const REG_VERSION: u32 = 0x01;
#[cfg(target_arch = "x86")]
/// Register index of the first redirection entry's low half; entry `n` is `0x10 + 2n`
/// (low) and `0x11 + 2n` (high).
const REG_TABLE: u32 = 0x10;

/// Low-half bits of a redirection entry.
const ACTIVE_LOW: u32 = 1 << 13;
const LEVEL: u32 = 1 << 15;
const MASKED: u32 = 1 << 16;

/// Where and how one pin's interrupt is delivered: fixed delivery, physical destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Redirection {
    pub vector: u8,
    /// Level-triggered (else edge).
    pub level: bool,
    /// Active low (else high).
    pub active_low: bool,
    pub masked: bool,
    /// The local APIC id that takes it (physical destination mode: 8 bits).
    pub destination: u8,
}

impl Redirection {
    /// A masked entry, as every pin is left until a driver routes it.
    pub const MASKED: Redirection = Redirection {
        vector: 0,
        level: false,
        active_low: false,
        masked: true,
        destination: 0,
    };

    /// An ISA interrupt's entry from an ACPI override's MPS INTI flags (bits 0-1 polarity,
    /// 2-3 trigger; 0 means the bus default, which for ISA is edge-triggered, active high).
    pub fn isa(vector: u8, destination: u8, mps_flags: u16) -> Redirection {
        Redirection {
            vector,
            level: (mps_flags >> 2) & 3 == 3,
            active_low: mps_flags & 3 == 3,
            masked: false,
            destination,
        }
    }

    /// The entry as the register pair holds it: (low, high).
    pub fn encode(self) -> (u32, u32) {
        let mut low = u32::from(self.vector);
        for (on, bit) in [
            (self.level, LEVEL),
            (self.active_low, ACTIVE_LOW),
            (self.masked, MASKED),
        ] {
            if on {
                low |= bit;
            }
        }
        (low, u32::from(self.destination) << 24)
    }

    /// Reads an entry back from its register pair.
    pub fn decode(low: u32, high: u32) -> Redirection {
        Redirection {
            vector: low as u8,
            level: low & LEVEL != 0,
            active_low: low & ACTIVE_LOW != 0,
            masked: low & MASKED != 0,
            destination: (high >> 24) as u8,
        }
    }
}

/// One I/O APIC's registers, at a kernel virtual address mapped uncached.
#[cfg(target_arch = "x86")]
pub struct IoApic {
    base: usize,
}

#[cfg(target_arch = "x86")]
impl IoApic {
    /// # Safety
    /// `base` maps the chip's register page uncached, and nothing else drives the chip
    /// (the select-then-access pair must not interleave: the caller holds a lock).
    pub unsafe fn new(base: usize) -> IoApic {
        IoApic { base }
    }

    fn read(&mut self, reg: u32) -> u32 {
        // SAFETY: per `new`, `base` maps the chip: IOREGSEL at +0, IOWIN at +0x10.
        unsafe {
            (self.base as *mut u32).write_volatile(reg);
            ((self.base + 0x10) as *const u32).read_volatile()
        }
    }

    fn write(&mut self, reg: u32, value: u32) {
        // SAFETY: as in `read`.
        unsafe {
            (self.base as *mut u32).write_volatile(reg);
            ((self.base + 0x10) as *mut u32).write_volatile(value);
        }
    }

    /// How many pins (redirection entries) the chip has.
    pub fn pins(&mut self) -> u32 {
        ((self.read(REG_VERSION) >> 16) & 0xFF) + 1
    }

    /// Sets pin `pin`'s entry. The low half (with the mask bit) is written last when
    /// unmasking and first when masking, so the pin is never live with a half-written
    /// destination.
    pub fn set(&mut self, pin: u32, entry: Redirection) {
        let (low, high) = entry.encode();
        if entry.masked {
            self.write(REG_TABLE + 2 * pin, low);
            self.write(REG_TABLE + 2 * pin + 1, high);
        } else {
            self.write(REG_TABLE + 2 * pin + 1, high);
            self.write(REG_TABLE + 2 * pin, low);
        }
    }

    /// Pin `pin`'s entry as the chip holds it.
    pub fn get(&mut self, pin: u32) -> Redirection {
        let low = self.read(REG_TABLE + 2 * pin);
        let high = self.read(REG_TABLE + 2 * pin + 1);
        Redirection::decode(low, high)
    }
}

#[cfg(test)]
mod tests {
    use super::Redirection;

    #[test]
    fn isa_defaults_are_edge_triggered_and_active_high() {
        let r = Redirection::isa(0x40, 0, 0);
        assert_eq!(r.encode(), (0x40, 0));
        // An override's "active high, edge" says the same explicitly.
        assert_eq!(Redirection::isa(0x40, 0, 0b0101), r);
    }

    #[test]
    fn overrides_set_level_and_active_low() {
        // QEMU's PCI interrupt overrides: level-triggered, active high (flags 0xd).
        let r = Redirection::isa(0x41, 3, 0xD);
        assert!(r.level && !r.active_low && !r.masked);
        assert_eq!(r.encode(), (0x41 | 1 << 15, 3 << 24));
        let r = Redirection::isa(0x42, 1, 0xF);
        assert_eq!(r.encode(), (0x42 | 1 << 15 | 1 << 13, 1 << 24));
    }

    #[test]
    fn entries_read_back_as_written() {
        for entry in [
            Redirection::MASKED,
            Redirection::isa(0x40, 0, 0),
            Redirection::isa(0xFE, 0xFF, 0xF),
            Redirection {
                masked: true,
                ..Redirection::isa(0x33, 7, 0xD)
            },
        ] {
            let (low, high) = entry.encode();
            assert_eq!(Redirection::decode(low, high), entry);
        }
        // The masked entry really has the mask bit.
        assert_eq!(Redirection::MASKED.encode().0, 1 << 16);
    }
}
