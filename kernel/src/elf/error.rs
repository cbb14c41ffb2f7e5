//! Why `plan` refuses an image: one variant per reason, with the numbers that explain it.

use core::fmt;

use goblin::elf::header::{ELFCLASS64, ELFDATA2MSB, ET_DYN, ET_REL};
use goblin::elf32::header::SIZEOF_EHDR;
use goblin::elf32::program_header::SIZEOF_PHDR;

use super::{MAX_PHNUM, MAX_SEGMENTS, USER_BASE, USER_END};

/// Why an image was refused. `index` is the program header's index in the table, as
/// `readelf -l` counts them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// The image does not start with `\x7fELF`.
    NotElf,
    /// The image is shorter than the 52-byte ELF32 header.
    TruncatedHeader { len: usize },
    /// The program header table `[phoff, end)` runs past the image.
    TruncatedProgramHeaders { phoff: u32, end: u64, len: usize },
    /// `EI_CLASS` is not `ELFCLASS32` (2 is a 64-bit image).
    WrongClass { class: u8 },
    /// `EI_DATA` is not `ELFDATA2LSB`.
    WrongEndian { data: u8 },
    /// `e_machine` is not `EM_386`.
    WrongMachine { machine: u16 },
    /// `e_type` is not `ET_EXEC` (`ET_DYN` would need a dynamic loader).
    WrongType { e_type: u16 },
    /// `e_phentsize` is not 32.
    BadPhentsize { phentsize: u16 },
    /// `e_phnum` is above [`MAX_PHNUM`].
    TooManyProgramHeaders { phnum: u16 },
    /// More than [`MAX_SEGMENTS`] `PT_LOAD` headers.
    TooManySegments { count: usize },
    /// No `PT_LOAD` with a non-zero `p_memsz`.
    NoLoadSegments,
    /// A `PT_INTERP` header: the program is dynamically linked.
    Interpreter { index: usize },
    /// `p_filesz > p_memsz`.
    FileLargerThanMemory {
        index: usize,
        filesz: u32,
        memsz: u32,
    },
    /// `p_offset + p_filesz` overflows or runs past the image.
    FileRangeOutside {
        index: usize,
        offset: u32,
        filesz: u32,
        len: usize,
    },
    /// `p_vaddr + p_memsz` wraps past 4 GiB.
    AddressWraps {
        index: usize,
        vaddr: u32,
        memsz: u32,
    },
    /// `p_vaddr` is below [`USER_BASE`].
    BelowUserBase { index: usize, vaddr: u32 },
    /// `p_vaddr + p_memsz` is above [`USER_END`].
    KernelSpace {
        index: usize,
        vaddr: u32,
        memsz: u32,
    },
    /// `p_align` is neither 0, 1 nor a power of two.
    BadAlignment { index: usize, align: u32 },
    /// `p_align >= 4096` and `p_vaddr`, `p_offset` differ modulo it.
    Misaligned {
        index: usize,
        vaddr: u32,
        offset: u32,
        align: u32,
    },
    /// Segment `second` starts before segment `first` (which starts lower) ends.
    Overlap {
        first: usize,
        first_end: u32,
        second: usize,
        second_vaddr: u32,
    },
    /// `e_entry` is not inside any executable `PT_LOAD` segment.
    EntryNotExecutable { entry: u32 },
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ElfError::*;
        match *self {
            NotElf => f.write_str("not an ELF file (no \\x7fELF magic)"),
            TruncatedHeader { len } => write!(
                f,
                "image is {len} bytes, shorter than the {SIZEOF_EHDR}-byte ELF header"
            ),
            TruncatedProgramHeaders { phoff, end, len } => write!(
                f,
                "program header table at {phoff:#x}..{end:#x} runs past the end of the \
                 {len:#x}-byte image"
            ),
            WrongClass { class: ELFCLASS64 } => {
                f.write_str("64-bit ELF (ELFCLASS64): Tempest runs 32-bit programs only")
            }
            WrongClass { class } => write!(f, "unknown ELF class {class}, expected ELFCLASS32"),
            WrongEndian { data: ELFDATA2MSB } => {
                f.write_str("big-endian ELF (ELFDATA2MSB): i386 programs are little-endian")
            }
            WrongEndian { data } => {
                write!(
                    f,
                    "unknown ELF data encoding {data}, expected little-endian"
                )
            }
            WrongMachine { machine } => write!(f, "machine {machine} is not i386 (EM_386 = 3)"),
            WrongType { e_type: ET_DYN } => f.write_str(
                "position-independent executable or shared object (ET_DYN): Tempest has no \
                 dynamic loader and runs only ET_EXEC",
            ),
            WrongType { e_type: ET_REL } => {
                f.write_str("relocatable object (ET_REL), not a linked executable (ET_EXEC)")
            }
            WrongType { e_type } => write!(f, "ELF type {e_type} is not an executable (ET_EXEC)"),
            BadPhentsize { phentsize } => write!(
                f,
                "program header entries are {phentsize} bytes, expected {SIZEOF_PHDR}"
            ),
            TooManyProgramHeaders { phnum } => {
                write!(f, "{phnum} program headers (at most {MAX_PHNUM})")
            }
            TooManySegments { count } => {
                write!(f, "{count} PT_LOAD segments (at most {MAX_SEGMENTS})")
            }
            NoLoadSegments => f.write_str("no non-empty PT_LOAD segment: nothing to load"),
            Interpreter { index } => write!(
                f,
                "program header {index} is PT_INTERP: dynamically linked programs are not \
                 supported (no dynamic loader)"
            ),
            FileLargerThanMemory {
                index,
                filesz,
                memsz,
            } => write!(
                f,
                "segment {index} has {filesz:#x} file bytes but only {memsz:#x} bytes in memory"
            ),
            FileRangeOutside {
                index,
                offset,
                filesz,
                len,
            } => write!(
                f,
                "segment {index} file bytes {offset:#x}+{filesz:#x} run past the end of the \
                 {len:#x}-byte image"
            ),
            AddressWraps {
                index,
                vaddr,
                memsz,
            } => write!(
                f,
                "segment {index} at {vaddr:#x}+{memsz:#x} wraps around the address space"
            ),
            BelowUserBase { index, vaddr } => write!(
                f,
                "segment {index} at {vaddr:#x} starts below {USER_BASE:#x} (the null guard page)"
            ),
            KernelSpace {
                index,
                vaddr,
                memsz,
            } => write!(
                f,
                "segment {index} at {vaddr:#x}+{memsz:#x} reaches into kernel space \
                 (above {USER_END:#x})"
            ),
            BadAlignment { index, align } => write!(
                f,
                "segment {index} alignment {align:#x} is not a power of two"
            ),
            Misaligned {
                index,
                vaddr,
                offset,
                align,
            } => write!(
                f,
                "segment {index} address {vaddr:#x} and file offset {offset:#x} differ \
                 modulo its alignment {align:#x}"
            ),
            Overlap {
                first,
                first_end,
                second,
                second_vaddr,
            } => write!(
                f,
                "segment {second} at {second_vaddr:#x} overlaps segment {first}, which ends \
                 at {first_end:#x}"
            ),
            EntryNotExecutable { entry } => write!(
                f,
                "entry point {entry:#x} is not inside any executable segment"
            ),
        }
    }
}
