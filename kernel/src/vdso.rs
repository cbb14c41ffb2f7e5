//! The vDSO: a small ELF shared object (`linux-gate.so.1`) mapped into every process, as
//! Linux maps its own. This one holds the entry and return points Linux's i386 ABI names:
//!
//! - `__kernel_vsyscall`: a system call (`int $0x80`; `ret`), found through `AT_SYSINFO`;
//! - `__kernel_sigreturn` and `__kernel_rt_sigreturn`: where a signal handler installed
//!   without `SA_RESTORER` returns to (they call `sigreturn` and `rt_sigreturn`).
//!
//! The image is built here, by hand: no tool of the project's build makes a 32-bit shared
//! object, and the one Tempest needs is a few hundred bytes (an ELF header, two program
//! headers, a SysV hash table, the dynamic symbols and strings, the code and the dynamic
//! section, all in one read-only, executable page). Readers find it as glibc does: the
//! program headers, then `PT_DYNAMIC`'s `DT_HASH`, `DT_SYMTAB`, `DT_STRTAB` (addresses
//! relative to the image: the dynamic section is read-only, so nobody relocates it in
//! place). Not built yet: the time functions and their data page, and unwind
//! information for the trampolines.

use alloc::vec::Vec;

/// Where the image's symbols are, relative to its start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub bytes: Vec<u8>,
    pub vsyscall: u32,
    pub sigreturn: u32,
    pub rt_sigreturn: u32,
}

/// The image's size limit: one page.
pub const SIZE: usize = 4096;

const EHDR: usize = 52;
const PHDR: usize = 32;
const SYM: usize = 16;

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PF_X: u32 = 1;
const PF_R: u32 = 4;
const DT_NULL: u32 = 0;
const DT_HASH: u32 = 4;
const DT_STRTAB: u32 = 5;
const DT_SYMTAB: u32 = 6;
const DT_STRSZ: u32 = 10;
const DT_SYMENT: u32 = 11;
const DT_SONAME: u32 = 14;
/// `STB_GLOBAL`, `STT_FUNC`.
const GLOBAL_FUNC: u8 = 0x12;

/// The symbols and their code: `int $0x80; ret`; `pop %eax; mov $119, %eax; int $0x80`;
/// `mov $173, %eax; int $0x80` (the same bytes Linux's frames carry as `retcode`).
const SYMBOLS: [(&str, &[u8]); 3] = [
    ("__kernel_vsyscall", &[0xcd, 0x80, 0xc3]),
    (
        "__kernel_sigreturn",
        &[0x58, 0xb8, 119, 0, 0, 0, 0xcd, 0x80],
    ),
    ("__kernel_rt_sigreturn", &[0xb8, 173, 0, 0, 0, 0xcd, 0x80]),
];

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn align(out: &mut Vec<u8>, to: usize) {
    while !out.len().is_multiple_of(to) {
        out.push(0);
    }
}

/// Builds the image.
pub fn build() -> Image {
    let nsyms = SYMBOLS.len() + 1;
    // The strings: the soname, then each symbol's name.
    let mut strtab = alloc::vec![0u8];
    let soname = strtab.len() as u32;
    strtab.extend_from_slice(b"linux-gate.so.1\0");
    let names: Vec<u32> = SYMBOLS
        .iter()
        .map(|(name, _)| {
            let at = strtab.len() as u32;
            strtab.extend_from_slice(name.as_bytes());
            strtab.push(0);
            at
        })
        .collect();
    // Where each part goes.
    let phdrs = EHDR;
    let hash = phdrs + 2 * PHDR;
    let hash_len = 4 * (2 + 1 + nsyms);
    let symtab = hash + hash_len;
    let strtab_at = symtab + nsyms * SYM;
    let text = (strtab_at + strtab.len()).next_multiple_of(16);
    let mut code = Vec::new();
    let mut addresses = Vec::new();
    for (_, bytes) in SYMBOLS {
        addresses.push((text + code.len()) as u32);
        code.extend_from_slice(bytes);
        align(&mut code, 16);
    }
    let dynamic = (text + code.len()).next_multiple_of(4);
    let dyn_entries = [
        (DT_HASH, hash as u32),
        (DT_STRTAB, strtab_at as u32),
        (DT_SYMTAB, symtab as u32),
        (DT_STRSZ, strtab.len() as u32),
        (DT_SYMENT, SYM as u32),
        (DT_SONAME, soname),
        (DT_NULL, 0),
    ];
    let size = dynamic + dyn_entries.len() * 8;
    assert!(size <= SIZE, "the vDSO outgrew its page");

    let mut out = Vec::with_capacity(size);
    // ELF header: 32-bit, little-endian, version 1, Linux ABI; a shared object for i386.
    out.extend_from_slice(&[0x7f, b'E', b'L', b'F', 1, 1, 1, 3]);
    out.extend_from_slice(&[0; 8]);
    put16(&mut out, 3); // ET_DYN
    put16(&mut out, 3); // EM_386
    put32(&mut out, 1);
    put32(&mut out, 0); // no entry point
    put32(&mut out, phdrs as u32);
    put32(&mut out, 0); // no section headers
    put32(&mut out, 0);
    put16(&mut out, EHDR as u16);
    put16(&mut out, PHDR as u16);
    put16(&mut out, 2);
    put16(&mut out, 40);
    put16(&mut out, 0);
    put16(&mut out, 0);
    // PT_LOAD: the whole image, read and execute; PT_DYNAMIC: read-only.
    for (kind, offset, len, flags) in [
        (PT_LOAD, 0, size, PF_R | PF_X),
        (PT_DYNAMIC, dynamic, size - dynamic, PF_R),
    ] {
        put32(&mut out, kind);
        put32(&mut out, offset as u32);
        put32(&mut out, offset as u32); // vaddr
        put32(&mut out, offset as u32); // paddr
        put32(&mut out, len as u32);
        put32(&mut out, len as u32);
        put32(&mut out, flags);
        put32(&mut out, if kind == PT_LOAD { 4096 } else { 4 });
    }
    // SysV hash: one bucket holding every symbol, chained from the last down.
    put32(&mut out, 1);
    put32(&mut out, nsyms as u32);
    put32(&mut out, (nsyms - 1) as u32);
    put32(&mut out, 0); // chain[0]
    for i in 1..nsyms {
        put32(&mut out, (i - 1) as u32);
    }
    // Symbols: the null one, then each function (section index 1: defined, not absolute).
    out.extend_from_slice(&[0; SYM]);
    for (i, (_, bytes)) in SYMBOLS.iter().enumerate() {
        put32(&mut out, names[i]);
        put32(&mut out, addresses[i]);
        put32(&mut out, bytes.len() as u32);
        out.extend_from_slice(&[GLOBAL_FUNC, 0]);
        put16(&mut out, 1);
    }
    out.extend_from_slice(&strtab);
    align(&mut out, 16);
    debug_assert_eq!(out.len(), text);
    out.extend_from_slice(&code);
    align(&mut out, 4);
    for (tag, value) in dyn_entries {
        put32(&mut out, tag);
        put32(&mut out, value);
    }
    Image {
        bytes: out,
        vsyscall: addresses[0],
        sigreturn: addresses[1],
        rt_sigreturn: addresses[2],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use goblin::elf::Elf;

    /// goblin reads it as a loader would: one read-only executable load segment, the
    /// dynamic section with its soname, and each symbol at its code.
    #[test]
    fn the_image_is_a_shared_object_with_its_three_symbols() {
        let image = build();
        let elf = Elf::parse(&image.bytes).expect("a valid ELF");
        assert!(!elf.is_64 && elf.little_endian);
        assert_eq!(elf.header.e_type, goblin::elf::header::ET_DYN);
        assert_eq!(elf.header.e_machine, goblin::elf::header::EM_386);
        assert_eq!(elf.soname, Some("linux-gate.so.1"));
        let load = elf
            .program_headers
            .iter()
            .find(|p| p.p_type == PT_LOAD)
            .unwrap();
        assert_eq!(load.p_flags, PF_R | PF_X, "read and execute, never write");
        assert_eq!(load.p_filesz as usize, image.bytes.len());
        let found = |name: &str| {
            elf.dynsyms
                .iter()
                .find(|s| elf.dynstrtab.get_at(s.st_name) == Some(name))
                .map(|s| s.st_value as u32)
        };
        assert_eq!(found("__kernel_vsyscall"), Some(image.vsyscall));
        assert_eq!(found("__kernel_sigreturn"), Some(image.sigreturn));
        assert_eq!(found("__kernel_rt_sigreturn"), Some(image.rt_sigreturn));
        let at = |a: u32| &image.bytes[a as usize..];
        assert_eq!(&at(image.vsyscall)[..3], &[0xcd, 0x80, 0xc3]);
        assert_eq!(&at(image.rt_sigreturn)[..2], &[0xb8, 173]);
        // The hash table finds every symbol (one bucket, a chain through them all).
        let h = |i: usize| {
            u32::from_le_bytes(
                image.bytes[EHDR + 2 * PHDR + 4 * i..][..4]
                    .try_into()
                    .unwrap(),
            )
        };
        assert_eq!((h(0), h(1)), (1, 4));
        let mut seen = alloc::vec::Vec::new();
        let mut i = h(2);
        while i != 0 {
            seen.push(i);
            i = h(3 + i as usize);
        }
        assert_eq!(seen, [3, 2, 1]);
    }
}
