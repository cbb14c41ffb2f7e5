//! One mutation of the valid image per refusal reason, each asserting the exact error;
//! every `ElfError` variant is produced at least once.

use super::*;
use std::collections::BTreeSet;
use std::string::ToString;

/// Every refusal: a name, the image, and the exact error.
fn refusals() -> Vec<(&'static str, Vec<u8>, ElfError)> {
    use ElfError::*;
    let rwx = PF_R | PF_W;
    let full = build(&valid());
    let len = full.len();
    let seventeen = (0..17).map(|i| load(PF_R | PF_X, 0, TEXT + i * 0x1000, 0x200, 0x200));
    vec![
        ("bad magic", poked(|i| i[0] = 0), NotElf),
        ("text file", b"#!/bin/sh\necho hi\n".to_vec(), NotElf),
        (
            "short header",
            full[..40].to_vec(),
            TruncatedHeader { len: 40 },
        ),
        ("ident only", full[..8].to_vec(), TruncatedHeader { len: 8 }),
        (
            "short table",
            full[..100].to_vec(),
            TruncatedProgramHeaders {
                phoff: 52,
                end: 148,
                len: 100,
            },
        ),
        (
            "table far away",
            poked(|i| put32(i, 28, 0xffff_ff00)),
            TruncatedProgramHeaders {
                phoff: 0xffff_ff00,
                end: 0x1_0000_0000 - 0x100 + 96,
                len,
            },
        ),
        (
            "64-bit",
            poked(|i| i[4] = ELFCLASS64),
            WrongClass { class: 2 },
        ),
        ("no class", poked(|i| i[4] = 0), WrongClass { class: 0 }),
        (
            "big-endian",
            poked(|i| i[5] = ELFDATA2MSB),
            WrongEndian { data: 2 },
        ),
        (
            "x86-64",
            with(|s| s.machine = 62),
            WrongMachine { machine: 62 },
        ),
        (
            "pie",
            with(|s| s.e_type = ET_DYN),
            WrongType { e_type: ET_DYN },
        ),
        (
            "object",
            with(|s| s.e_type = ET_REL),
            WrongType { e_type: ET_REL },
        ),
        (
            "phentsize",
            poked(|i| put16(i, 42, 56)),
            BadPhentsize { phentsize: 56 },
        ),
        (
            "phnum",
            poked(|i| put16(i, 44, 65)),
            TooManyProgramHeaders { phnum: 65 },
        ),
        (
            "phnum xnum",
            poked(|i| put16(i, 44, 0xffff)),
            TooManyProgramHeaders { phnum: 0xffff },
        ),
        (
            "17 loads",
            with(|s| s.phdrs = seventeen.collect()),
            TooManySegments { count: 17 },
        ),
        (
            "no load",
            with(|s| s.phdrs = vec![other(PT_NOTE, 0)]),
            NoLoadSegments,
        ),
        ("no headers", with(|s| s.phdrs.clear()), NoLoadSegments),
        (
            "no headers, wild phoff",
            {
                let mut image = with(|s| s.phdrs.clear());
                put32(&mut image, 28, 0xffff_ff00);
                image
            },
            NoLoadSegments,
        ),
        (
            "empty loads",
            with(|s| {
                s.phdrs
                    .iter_mut()
                    .for_each(|p| (p.filesz, p.memsz) = (0, 0))
            }),
            NoLoadSegments,
        ),
        (
            "interp",
            with(|s| s.phdrs.insert(1, other(PT_INTERP, 0))),
            Interpreter { index: 1 },
        ),
        (
            "filesz > memsz",
            with(|s| s.phdrs[0].filesz = 0x300),
            FileLargerThanMemory {
                index: 0,
                filesz: 0x300,
                memsz: 0x200,
            },
        ),
        (
            "file past end",
            with(|s| s.phdrs[1].filesz = 0x200),
            FileRangeOutside {
                index: 1,
                offset: 0x1000,
                filesz: 0x200,
                len,
            },
        ),
        (
            "file range overflows",
            with(|s| s.phdrs[1] = load(rwx, 0xffff_f000, DATA, 0x2000, 0x3000)),
            FileRangeOutside {
                index: 1,
                offset: 0xffff_f000,
                filesz: 0x2000,
                len,
            },
        ),
        (
            "address wraps",
            with(|s| s.phdrs[1] = load(rwx, 0x1000, 0xffff_f000, 0x100, 0x2000)),
            AddressWraps {
                index: 1,
                vaddr: 0xffff_f000,
                memsz: 0x2000,
            },
        ),
        (
            "null page",
            with(|s| s.phdrs[0].vaddr = 0),
            BelowUserBase { index: 0, vaddr: 0 },
        ),
        (
            "kernel space",
            with(|s| s.phdrs[1] = load(rwx, 0x1000, 0xbfff_f000, 0x100, 0x2000)),
            KernelSpace {
                index: 1,
                vaddr: 0xbfff_f000,
                memsz: 0x2000,
            },
        ),
        (
            "align 3",
            with(|s| s.phdrs[1].align = 3),
            BadAlignment { index: 1, align: 3 },
        ),
        (
            "align 0x1800",
            with(|s| s.phdrs[1].align = 0x1800),
            BadAlignment {
                index: 1,
                align: 0x1800,
            },
        ),
        (
            "misaligned",
            with(|s| s.phdrs[1].vaddr = DATA + 0x800),
            Misaligned {
                index: 1,
                vaddr: DATA + 0x800,
                offset: 0x1000,
                align: 0x1000,
            },
        ),
        (
            "overlap",
            with(|s| s.phdrs[1] = load(rwx, 0x1000, TEXT - 0x1000, 0x100, 0x3000)),
            Overlap {
                first: 1,
                first_end: TEXT + 0x2000,
                second: 0,
                second_vaddr: TEXT,
            },
        ),
        (
            "overlap by one byte",
            with(|s| s.phdrs[1] = load(rwx, 0x1ff, TEXT + 0x1ff, 0x100, 0x100)),
            Overlap {
                first: 0,
                first_end: TEXT + 0x200,
                second: 1,
                second_vaddr: TEXT + 0x1ff,
            },
        ),
        (
            "entry in data",
            with(|s| s.entry = DATA + 0x10),
            EntryNotExecutable { entry: DATA + 0x10 },
        ),
        (
            "entry in bss gap",
            with(|s| s.entry = TEXT + 0x200),
            EntryNotExecutable {
                entry: TEXT + 0x200,
            },
        ),
        (
            "entry zero",
            with(|s| s.entry = 0),
            EntryNotExecutable { entry: 0 },
        ),
    ]
}

/// The variant's name; exhaustive, so a new variant must be added here (and to the corpus).
fn variant(e: &ElfError) -> &'static str {
    use ElfError::*;
    match e {
        NotElf => "NotElf",
        TruncatedHeader { .. } => "TruncatedHeader",
        TruncatedProgramHeaders { .. } => "TruncatedProgramHeaders",
        WrongClass { .. } => "WrongClass",
        WrongEndian { .. } => "WrongEndian",
        WrongMachine { .. } => "WrongMachine",
        WrongType { .. } => "WrongType",
        BadPhentsize { .. } => "BadPhentsize",
        TooManyProgramHeaders { .. } => "TooManyProgramHeaders",
        TooManySegments { .. } => "TooManySegments",
        NoLoadSegments => "NoLoadSegments",
        Interpreter { .. } => "Interpreter",
        FileLargerThanMemory { .. } => "FileLargerThanMemory",
        FileRangeOutside { .. } => "FileRangeOutside",
        AddressWraps { .. } => "AddressWraps",
        BelowUserBase { .. } => "BelowUserBase",
        KernelSpace { .. } => "KernelSpace",
        BadAlignment { .. } => "BadAlignment",
        Misaligned { .. } => "Misaligned",
        Overlap { .. } => "Overlap",
        EntryNotExecutable { .. } => "EntryNotExecutable",
    }
}
const VARIANTS: usize = 21;

#[test]
fn every_refusal_gives_its_error() {
    let mut seen = BTreeSet::new();
    for (name, image, expected) in refusals() {
        assert_eq!(plan(&image), Err(expected.clone()), "{name}");
        let text = expected.to_string();
        assert!(!text.is_empty() && !text.contains('\n'), "{name}: {text:?}");
        seen.insert(variant(&expected));
    }
    assert_eq!(
        seen.len(),
        VARIANTS,
        "some ElfError variant has no refusal test"
    );
}

#[test]
fn messages_explain() {
    let msg = |image: Vec<u8>| plan(&image).unwrap_err().to_string();
    assert_eq!(
        msg(with(
            |s| s.phdrs[1] = load(PF_R | PF_W, 0x1000, 0xbfff_f000, 0, 0x2000)
        )),
        "segment 1 at 0xbffff000+0x2000 reaches into kernel space (above 0xc0000000)"
    );
    assert!(msg(with(|s| s.e_type = ET_DYN)).contains("no dynamic loader"));
    assert!(msg(with(|s| s.phdrs.push(other(PT_INTERP, 0)))).contains("dynamically linked"));
    assert!(msg(poked(|i| i[4] = ELFCLASS64)).contains("64-bit"));
    assert!(msg(poked(|i| i[5] = ELFDATA2MSB)).contains("big-endian"));
}
