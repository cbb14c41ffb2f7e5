//! Thread-local storage segments, as Linux i386's `set_thread_area`/`get_thread_area` and
//! `clone(CLONE_SETTLS)` take them: the `struct user_desc` a program passes, checked as
//! Linux checks it, turned into a GDT descriptor and back. Portable and host-tested; the
//! calls themselves are in `syscall::tls`.

use crate::errno::Errno;

/// `struct user_desc` (16 bytes): the entry, base, limit and a word of flag bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserDesc {
    /// A GDT index (6 to 8 for TLS), or -1 (as `u32::MAX`): "pick a free one".
    pub entry_number: u32,
    pub base: u32,
    pub limit: u32,
    pub seg_32bit: bool,
    /// 0 data, 1 data growing down, 2 and 3 code.
    pub contents: u8,
    pub read_exec_only: bool,
    pub limit_in_pages: bool,
    pub seg_not_present: bool,
    pub useable: bool,
}

/// The size of `struct user_desc`.
pub const USER_DESC_SIZE: usize = 16;

impl UserDesc {
    pub fn parse(raw: &[u8; USER_DESC_SIZE]) -> Self {
        let word = |i: usize| u32::from_le_bytes(raw[i * 4..i * 4 + 4].try_into().expect("4"));
        let flags = word(3);
        UserDesc {
            entry_number: word(0),
            base: word(1),
            limit: word(2),
            seg_32bit: flags & 1 != 0,
            contents: ((flags >> 1) & 3) as u8,
            read_exec_only: flags & (1 << 3) != 0,
            limit_in_pages: flags & (1 << 4) != 0,
            seg_not_present: flags & (1 << 5) != 0,
            useable: flags & (1 << 6) != 0,
        }
    }

    pub fn to_bytes(self) -> [u8; USER_DESC_SIZE] {
        let flags = u32::from(self.seg_32bit)
            | u32::from(self.contents & 3) << 1
            | u32::from(self.read_exec_only) << 3
            | u32::from(self.limit_in_pages) << 4
            | u32::from(self.seg_not_present) << 5
            | u32::from(self.useable) << 6;
        let mut raw = [0u8; USER_DESC_SIZE];
        for (i, w) in [self.entry_number, self.base, self.limit, flags]
            .into_iter()
            .enumerate()
        {
            raw[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
        raw
    }

    /// Linux's "empty" descriptor (`LDT_empty`, or all zero: `LDT_zero`): it clears the entry.
    pub fn is_empty(&self) -> bool {
        let zero = *self
            == UserDesc {
                entry_number: self.entry_number,
                ..UserDesc::default()
            };
        let empty = self.base == 0
            && self.limit == 0
            && self.contents == 0
            && self.read_exec_only
            && !self.seg_32bit
            && !self.limit_in_pages
            && self.seg_not_present
            && !self.useable;
        zero || empty
    }

    /// The GDT descriptor for this TLS entry (0 to clear it), or `EINVAL` for what Linux
    /// refuses in the TLS array (`tls_desc_okay`): a 16-bit, code or not-present segment.
    pub fn to_descriptor(&self) -> Result<u64, Errno> {
        if self.is_empty() {
            return Ok(0);
        }
        if !self.seg_32bit || self.contents > 1 || self.seg_not_present {
            return Err(Errno::EINVAL);
        }
        let limit = u64::from(self.limit & 0xf_ffff);
        let base = u64::from(self.base);
        // Type: data, accessed, writable unless read-only, expand-down for contents 1.
        let kind = 1 | u64::from(!self.read_exec_only) << 1 | u64::from(self.contents) << 2;
        // Access byte: type, S (code/data), DPL 3, P.
        let access = kind | 1 << 4 | 3 << 5 | 1 << 7;
        // Flags nibble: AVL (useable), D/B (32-bit), G (limit in pages).
        let flags = u64::from(self.useable) | 1 << 2 | u64::from(self.limit_in_pages) << 3;
        Ok((limit & 0xffff)
            | (base & 0xff_ffff) << 16
            | access << 40
            | (limit >> 16) << 48
            | flags << 52
            | (base >> 24) << 56)
    }

    /// The `user_desc` `get_thread_area` reports for GDT entry `entry` holding `descriptor`
    /// (an empty one for 0), as Linux's `fill_user_desc`.
    pub fn from_descriptor(entry: u32, descriptor: u64) -> Self {
        if descriptor == 0 {
            return UserDesc {
                entry_number: entry,
                read_exec_only: true,
                seg_not_present: true,
                ..UserDesc::default()
            };
        }
        let bits = |shift: u32, width: u32| (descriptor >> shift) & ((1 << width) - 1);
        let access = bits(40, 8);
        let flags = bits(52, 4);
        UserDesc {
            entry_number: entry,
            base: (bits(16, 24) | bits(56, 8) << 24) as u32,
            limit: (bits(0, 16) | bits(48, 4) << 16) as u32,
            seg_32bit: flags & 4 != 0,
            contents: ((access >> 2) & 3) as u8,
            read_exec_only: access & 2 == 0,
            limit_in_pages: flags & 8 != 0,
            seg_not_present: access & 0x80 == 0,
            useable: flags & 1 != 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What glibc's TLS setup passes: entry -1, a base, limit 0xfffff in pages, 32-bit,
    /// writable data, usable.
    fn glibc(base: u32) -> UserDesc {
        UserDesc {
            entry_number: u32::MAX,
            base,
            limit: 0xfffff,
            seg_32bit: true,
            limit_in_pages: true,
            useable: true,
            ..UserDesc::default()
        }
    }

    #[test]
    fn glibc_descriptor_encodes_as_linux_does() {
        let d = glibc(0x0804_c840).to_descriptor().unwrap();
        // base 0x0804c840, limit 0xfffff, access 0xf3 (present, DPL 3, data, writable,
        // accessed), flags 0xd (4 KiB granularity, 32-bit, AVL).
        assert_eq!(d, 0x08df_f304_c840_ffff);
        let back = UserDesc::from_descriptor(6, d);
        assert_eq!(
            back,
            UserDesc {
                entry_number: 6,
                ..glibc(0x0804_c840)
            }
        );
    }

    #[test]
    fn bytes_round_trip() {
        let d = glibc(0x1234_5678);
        assert_eq!(UserDesc::parse(&d.to_bytes()), d);
        assert_eq!(
            d.to_bytes()[12],
            0x51,
            "seg_32bit | limit_in_pages | useable"
        );
    }

    #[test]
    fn empty_descriptors_clear_the_entry() {
        assert_eq!(UserDesc::default().to_descriptor(), Ok(0));
        let linux_empty = UserDesc {
            read_exec_only: true,
            seg_not_present: true,
            ..UserDesc::default()
        };
        assert!(linux_empty.is_empty());
        assert_eq!(linux_empty.to_descriptor(), Ok(0));
        assert_eq!(
            UserDesc::from_descriptor(7, 0),
            UserDesc {
                entry_number: 7,
                ..linux_empty
            }
        );
    }

    #[test]
    fn what_linux_refuses_in_the_tls_array() {
        let sixteen_bit = UserDesc {
            seg_32bit: false,
            ..glibc(0x1000)
        };
        let code = UserDesc {
            contents: 2,
            ..glibc(0x1000)
        };
        let not_present = UserDesc {
            seg_not_present: true,
            ..glibc(0x1000)
        };
        for d in [sixteen_bit, code, not_present] {
            assert_eq!(d.to_descriptor(), Err(Errno::EINVAL), "{d:?}");
        }
        let read_only = UserDesc {
            read_exec_only: true,
            ..glibc(0x1000)
        };
        assert_eq!(read_only.to_descriptor().unwrap() >> 40 & 0xff, 0xf1);
    }
}
