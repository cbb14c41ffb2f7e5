//! A task's I/O permission bitmap (`ioperm`): which I/O ports its ring-3 code may use. A
//! clear bit gives the port; the bitmap holds bytes up to the last given port only, and
//! every port past it is refused. The switch copies it into the CPU's TSS (`arch::gdt`),
//! so it costs nothing to tasks that have none (nearly all).

use alloc::vec::Vec;

/// Ports there are.
pub const IO_PORTS: u32 = 65_536;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IoBitmap {
    bytes: Vec<u8>,
}

impl IoBitmap {
    /// Gives (`allow`) or takes away ports `from..end` (`end` at most `IO_PORTS`).
    pub fn set(&mut self, from: u32, end: u32, allow: bool) {
        debug_assert!(from < end && end <= IO_PORTS);
        if allow {
            let need = end.div_ceil(8) as usize;
            if self.bytes.len() < need {
                self.bytes.resize(need, 0xff);
            }
        }
        for port in from..end.min(self.bytes.len() as u32 * 8) {
            let (byte, bit) = ((port / 8) as usize, port % 8);
            if allow {
                self.bytes[byte] &= !(1 << bit);
            } else {
                self.bytes[byte] |= 1 << bit;
            }
        }
        while self.bytes.last() == Some(&0xff) {
            self.bytes.pop();
        }
    }

    /// Whether it gives no port at all.
    pub fn is_closed(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Its bytes, as the TSS takes them.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether `port` is given.
    pub fn allows(&self, port: u32) -> bool {
        self.bytes
            .get((port / 8) as usize)
            .is_some_and(|b| b & (1 << (port % 8)) == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_and_takes_ranges_and_keeps_only_what_it_needs() {
        let mut m = IoBitmap::default();
        m.set(0x80, 0x81, true);
        assert!(m.allows(0x80) && !m.allows(0x81) && !m.allows(0x7f) && !m.allows(0xed));
        assert_eq!(m.bytes().len(), 0x80 / 8 + 1);
        m.set(0x81, 0x82, true);
        m.set(0x80, 0x81, false);
        assert!(!m.allows(0x80) && m.allows(0x81));
        m.set(0x81, 0x82, false);
        assert!(m.is_closed(), "no port left: no bytes");
        m.set(IO_PORTS - 2, IO_PORTS, true);
        assert!(m.allows(IO_PORTS - 1) && m.allows(IO_PORTS - 2));
        assert_eq!(m.bytes().len(), 8192);
        m.set(0, IO_PORTS, false);
        assert!(m.is_closed());
    }
}
