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
        zero || self.is_ldt_empty()
    }

    /// Linux's `LDT_empty` alone: read/execute-only and not present, all else zero.
    fn is_ldt_empty(&self) -> bool {
        self.base == 0
            && self.limit == 0
            && self.contents == 0
            && self.read_exec_only
            && !self.seg_32bit
            && !self.limit_in_pages
            && self.seg_not_present
            && !self.useable
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
        Ok(self.encode())
    }

    /// The LDT descriptor `modify_ldt` installs for this entry (0 to clear it), as Linux's
    /// `write_ldt`: the old form (`oldmode`, function 1) clears for a zero base and limit
    /// and never sets AVL; a conforming code segment (`contents` 3) is refused (`EINVAL`)
    /// unless it is not present and the call is the new form. 16-bit segments, code and
    /// not-present ones are all allowed.
    pub fn to_ldt_descriptor(&self, oldmode: bool) -> Result<u64, Errno> {
        if self.contents == 3 && (oldmode || !self.seg_not_present) {
            return Err(Errno::EINVAL);
        }
        // `LDT_empty` only: unlike the TLS array, an all-zero descriptor in the new form
        // installs a (16-bit, present, zero-limit) data segment.
        if (oldmode && self.base == 0 && self.limit == 0) || self.is_ldt_empty() {
            return Ok(0);
        }
        let desc = if oldmode {
            UserDesc {
                useable: false,
                ..*self
            }
        } else {
            *self
        };
        Ok(desc.encode())
    }

    /// The descriptor Linux's `fill_ldt` makes: accessed, DPL 3, present unless
    /// `seg_not_present`, never a 64-bit code segment.
    fn encode(&self) -> u64 {
        let limit = u64::from(self.limit & 0xf_ffff);
        let base = u64::from(self.base);
        // Type: accessed, writable (data) or readable (code) unless read/execute-only,
        // expand-down or conforming for contents 1 and 3, code for contents 2 and 3.
        let kind = 1 | u64::from(!self.read_exec_only) << 1 | u64::from(self.contents) << 2;
        // Access byte: type, S (code/data), DPL 3, P.
        let access = kind | 1 << 4 | 3 << 5 | u64::from(!self.seg_not_present) << 7;
        // Flags nibble: AVL (useable), D/B (32-bit), G (limit in pages).
        let flags = u64::from(self.useable)
            | u64::from(self.seg_32bit) << 2
            | u64::from(self.limit_in_pages) << 3;
        (limit & 0xffff)
            | (base & 0xff_ffff) << 16
            | access << 40
            | (limit >> 16) << 48
            | flags << 52
            | (base >> 24) << 56
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

    /// The access rights `lar` shows (bits 8..23 of the descriptor's high word, as
    /// Linux's `ldt_gdt` selftest masks them).
    fn ar(d: u64) -> u32 {
        ((d >> 32) as u32) & 0x00f0_ff00
    }

    #[test]
    fn ldt_descriptors_are_linux_s() {
        // 32-bit code, not conforming, limit 10: what ldt_gdt installs first.
        let code = UserDesc {
            limit: 10,
            seg_32bit: true,
            contents: 2,
            ..UserDesc::default()
        };
        assert_eq!(ar(code.to_ldt_descriptor(false).unwrap()), 0x0040_fb00);
        // 16-bit, not present, useable, limit in pages: AVL and G, no D, no P.
        let odd = UserDesc {
            seg_32bit: false,
            seg_not_present: true,
            useable: true,
            limit_in_pages: true,
            ..code
        };
        assert_eq!(ar(odd.to_ldt_descriptor(false).unwrap()), 0x00907b00);
        // The old form never sets AVL.
        assert_eq!(ar(odd.to_ldt_descriptor(true).unwrap()), 0x00807b00);
        // An all-zero descriptor is a present 16-bit data segment in the new form, a
        // deletion in the old one.
        let zero = UserDesc::default();
        assert_eq!(ar(zero.to_ldt_descriptor(false).unwrap()), 0x0000_f300);
        assert_eq!(zero.to_ldt_descriptor(true), Ok(0));
        // Linux's empty descriptor deletes in both.
        let empty = UserDesc {
            read_exec_only: true,
            seg_not_present: true,
            ..zero
        };
        assert_eq!(empty.to_ldt_descriptor(false), Ok(0));
        // Conforming code: only not present, and only in the new form.
        let conforming = UserDesc {
            contents: 3,
            ..code
        };
        assert_eq!(conforming.to_ldt_descriptor(false), Err(Errno::EINVAL));
        let absent = UserDesc {
            seg_not_present: true,
            ..conforming
        };
        assert_eq!(ar(absent.to_ldt_descriptor(false).unwrap()), 0x00407f00);
        assert_eq!(absent.to_ldt_descriptor(true), Err(Errno::EINVAL));
    }
}
