//! Host tests for `elf::plan`: a hand-built valid image and what is accepted; truncation and
//! bit-flip loops that must never panic. The refusals are in `refusals`.

use super::*;
use goblin::elf::header::{ELFCLASS64, ELFDATA2MSB, ET_DYN, ET_REL};
use std::vec;

mod refusals;

const PT_NOTE: u32 = 4;
const PT_GNU_STACK: u32 = 0x6474_e551;
const TEXT: u32 = 0x0804_8000;
const DATA: u32 = 0x0804_a000;

/// One program header, as written into the image.
#[derive(Clone, Copy)]
struct Ph {
    p_type: u32,
    flags: u32,
    offset: u32,
    vaddr: u32,
    filesz: u32,
    memsz: u32,
    align: u32,
}

fn load(flags: u32, offset: u32, vaddr: u32, filesz: u32, memsz: u32) -> Ph {
    Ph {
        p_type: PT_LOAD,
        flags,
        offset,
        vaddr,
        filesz,
        memsz,
        align: 0x1000,
    }
}

fn other(p_type: u32, vaddr: u32) -> Ph {
    Ph {
        p_type,
        flags: PF_R,
        offset: 0,
        vaddr,
        filesz: 0,
        memsz: 0,
        align: 4,
    }
}

/// The fields of an image; `build` lays them out.
#[derive(Clone)]
struct Spec {
    e_type: u16,
    machine: u16,
    entry: u32,
    phoff: u32,
    phdrs: Vec<Ph>,
    len: usize,
}

/// Text R+X at 0x08048000 holding the headers, data RW at 0x0804a000 with BSS, a stack note.
fn valid() -> Spec {
    Spec {
        e_type: ET_EXEC,
        machine: EM_386,
        entry: TEXT + 0x100,
        phoff: 52,
        phdrs: vec![
            load(PF_R | PF_X, 0, TEXT, 0x200, 0x200),
            load(PF_R | PF_W, 0x1000, DATA, 0x100, 0x3000),
            other(PT_GNU_STACK, 0),
        ],
        len: 0x1100,
    }
}

fn put16(image: &mut [u8], at: usize, v: u16) {
    image[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put32(image: &mut [u8], at: usize, v: u32) {
    image[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn build(spec: &Spec) -> Vec<u8> {
    let table_end = spec.phoff as usize + spec.phdrs.len() * 32;
    let mut image: Vec<u8> = (0..spec.len.max(table_end))
        .map(|i| (i * 7 + 3) as u8)
        .collect();
    image[..52].fill(0);
    image[..4].copy_from_slice(ELFMAG);
    image[4] = ELFCLASS32;
    image[5] = ELFDATA2LSB;
    image[6] = 1; // EI_VERSION
    put16(&mut image, 16, spec.e_type);
    put16(&mut image, 18, spec.machine);
    put32(&mut image, 20, 1); // e_version
    put32(&mut image, 24, spec.entry);
    put32(&mut image, 28, spec.phoff);
    put16(&mut image, 40, 52); // e_ehsize
    put16(&mut image, 42, 32); // e_phentsize
    put16(&mut image, 44, spec.phdrs.len() as u16);
    put16(&mut image, 46, 40); // e_shentsize
    for (i, ph) in spec.phdrs.iter().enumerate() {
        let at = spec.phoff as usize + i * 32;
        let fields = [
            ph.p_type, ph.offset, ph.vaddr, ph.vaddr, ph.filesz, ph.memsz, ph.flags, ph.align,
        ];
        for (j, v) in fields.into_iter().enumerate() {
            put32(&mut image, at + j * 4, v);
        }
    }
    image
}

/// `valid()` changed by `f`, built.
fn with(f: impl FnOnce(&mut Spec)) -> Vec<u8> {
    let mut spec = valid();
    f(&mut spec);
    build(&spec)
}

/// The valid image with its bytes changed by `f`.
fn poked(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut image = build(&valid());
    f(&mut image);
    image
}

fn rx() -> SegmentFlags {
    SegmentFlags {
        read: true,
        write: false,
        exec: true,
    }
}

fn rw() -> SegmentFlags {
    SegmentFlags {
        read: true,
        write: true,
        exec: false,
    }
}

#[test]
fn valid_image_plans() {
    let image = build(&valid());
    let expected = LoadPlan {
        entry: TEXT + 0x100,
        segments: vec![
            LoadSegment {
                vaddr: TEXT,
                memsz: 0x200,
                offset: 0,
                filesz: 0x200,
                flags: rx(),
            },
            LoadSegment {
                vaddr: DATA,
                memsz: 0x3000,
                offset: 0x1000,
                filesz: 0x100,
                flags: rw(),
            },
        ],
        phdr_vaddr: Some(TEXT + 52),
        phnum: 3,
        phentsize: 32,
    };
    let plan = plan(&image).unwrap();
    assert_eq!(plan, expected);
    assert_eq!(plan.segments[1].end(), DATA + 0x3000);
    assert_eq!(plan.segments[1].file_bytes(&image), &image[0x1000..0x1100]);
    assert_eq!(plan.segments[0].file_bytes(&image).len(), 0x200);
}

#[test]
fn pt_phdr_gives_phdr_vaddr() {
    let image = with(|s| s.phdrs.insert(0, other(PT_PHDR, 0x0804_8abc)));
    assert_eq!(plan(&image).unwrap().phdr_vaddr, Some(0x0804_8abc));
}

#[test]
fn headers_outside_every_segment_give_no_phdr_vaddr() {
    let image = with(|s| s.phoff = 0x1100);
    let plan = plan(&image).unwrap();
    assert_eq!(plan.phdr_vaddr, None);
    assert_eq!(plan.segments.len(), 2);
}

#[test]
fn segments_sharing_a_page_without_overlap_are_accepted() {
    // Data starts on the byte after text ends, in the same page.
    let image = with(|s| s.phdrs[1] = load(PF_R | PF_W, 0x200, TEXT + 0x200, 0x100, 0x800));
    let plan = plan(&image).unwrap();
    assert_eq!(plan.segments[0].end(), plan.segments[1].vaddr);
    assert_eq!(plan.segments[1].vaddr / 4096, plan.segments[0].vaddr / 4096);
}

#[test]
fn segments_are_sorted_by_vaddr() {
    let image = with(|s| s.phdrs.swap(0, 1));
    let plan = plan(&image).unwrap();
    assert_eq!(plan.segments[0].vaddr, TEXT);
    assert_eq!(plan.segments[1].vaddr, DATA);
}

#[test]
fn empty_segments_are_skipped() {
    // An empty PT_LOAD at 0 would be refused as below USER_BASE if it were checked.
    let image = with(|s| s.phdrs.push(load(PF_R, 0, 0, 0, 0)));
    assert_eq!(plan(&image).unwrap().segments.len(), 2);
}

#[test]
fn limits_are_inclusive() {
    // Ending exactly at USER_END, starting exactly at USER_BASE, small alignments unchecked.
    let top = with(|s| s.phdrs[1] = load(PF_R | PF_W, 0x1000, USER_END - 0x3000, 0x100, 0x3000));
    assert!(plan(&top).is_ok());
    let bottom = with(|s| {
        s.phdrs[0].vaddr = USER_BASE;
        s.entry = USER_BASE;
    });
    assert!(plan(&bottom).is_ok());
    for align in [0, 1, 16] {
        let image = with(|s| {
            s.phdrs[1].align = align;
            s.phdrs[1].vaddr = DATA + 0x10;
        });
        assert!(plan(&image).is_ok(), "align {align}");
    }
}

#[test]
fn every_truncation_is_refused_without_panicking() {
    let image = build(&valid());
    for len in 0..SIZEOF_EHDR {
        let err = plan(&image[..len]).unwrap_err();
        assert!(
            matches!(err, ElfError::TruncatedHeader { .. }),
            "{len}: {err}"
        );
    }
    // Every shorter image loses part of the table or of a segment's file bytes.
    for len in SIZEOF_EHDR..image.len() {
        assert!(plan(&image[..len]).is_err(), "{len}");
    }
}

/// A deterministic xorshift32 generator.
struct XorShift(u32);

impl XorShift {
    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

#[test]
fn random_header_flips_never_panic() {
    let valid = build(&valid());
    let region = SIZEOF_EHDR + 3 * 32; // header and program header table
    let mut rng = XorShift(0x2545_f491);
    let mut accepted = 0;
    for _ in 0..5000 {
        let mut image = valid.clone();
        for _ in 0..1 + rng.next() % 4 {
            let at = rng.next() as usize % region;
            image[at] ^= 1 << (rng.next() % 8);
        }
        // Whatever is accepted must honour the plan's promises.
        if let Ok(plan) = plan(&image) {
            accepted += 1;
            for s in &plan.segments {
                assert!(USER_BASE <= s.vaddr && s.end() <= USER_END && s.filesz <= s.memsz);
                assert_eq!(s.file_bytes(&image).len(), s.filesz as usize);
            }
            assert!(plan.segments.windows(2).all(|w| w[0].end() <= w[1].vaddr));
        }
    }
    // Flips in fields the plan ignores (e_shoff, p_paddr, flags) still load.
    assert!(accepted > 0);
}
