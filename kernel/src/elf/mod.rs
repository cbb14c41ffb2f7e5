//! ELF32 validation and load planning for user programs: what to map where, or why not.
//!
//! Portable and host-tested: [`plan`] reads an image with `goblin`, refuses anything the
//! loader cannot run safely (`docs/elf.md` lists every check), and returns the segments to
//! map. It touches no hardware; the loader maps what the plan says.

mod error;

pub use error::ElfError;

use alloc::vec::Vec;

use goblin::container::Endian;
use goblin::elf::header::{
    EI_CLASS, EI_DATA, ELFCLASS32, ELFDATA2LSB, ELFMAG, EM_386, ET_EXEC, SIZEOF_IDENT,
};
use goblin::elf::program_header::{PF_R, PF_W, PF_X, PT_INTERP, PT_LOAD, PT_PHDR};
use goblin::elf32::header::{Header, SIZEOF_EHDR};
use goblin::elf32::program_header::{ProgramHeader, SIZEOF_PHDR};

/// Lowest address a segment may start at: page 0 stays unmapped as the null guard.
pub const USER_BASE: u32 = 0x0000_1000;
/// Segments must end at or below this: the kernel's half starts here.
pub const USER_END: u32 = crate::mm::user_range::USER_END;
/// More `PT_LOAD` segments than this is absurd for a Tempest program.
pub const MAX_SEGMENTS: usize = 16;
/// More program headers than this is absurd.
pub const MAX_PHNUM: usize = 64;

/// Alignments from this size up are page alignments: address and offset must agree.
const PAGE_ALIGN: u32 = 4096;

/// Access rights of a segment (`PF_R`, `PF_W`, `PF_X`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentFlags {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

impl SegmentFlags {
    fn from_p_flags(p_flags: u32) -> Self {
        Self {
            read: p_flags & PF_R != 0,
            write: p_flags & PF_W != 0,
            exec: p_flags & PF_X != 0,
        }
    }
}

/// One validated, non-empty `PT_LOAD` segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadSegment {
    /// `p_vaddr`: where the segment starts in memory (at least [`USER_BASE`]).
    pub vaddr: u32,
    /// `p_memsz`: bytes in memory; those past `filesz` are zero (BSS).
    pub memsz: u32,
    /// `p_offset`: where the file bytes start in the image.
    pub offset: u32,
    /// `p_filesz`: bytes copied from the image (at most `memsz`).
    pub filesz: u32,
    pub flags: SegmentFlags,
}

impl LoadSegment {
    /// End of the segment in memory, exclusive: `vaddr + memsz` (at most [`USER_END`];
    /// [`plan`] refuses segments where this would wrap).
    pub fn end(&self) -> u32 {
        self.vaddr + self.memsz
    }

    /// The segment's bytes in `image`, the image [`plan`] validated it against.
    ///
    /// # Panics
    ///
    /// If `offset + filesz` is past the end of `image` (never for the planned image).
    pub fn file_bytes<'a>(&self, image: &'a [u8]) -> &'a [u8] {
        let start = self.offset as usize;
        &image[start..start + self.filesz as usize]
    }
}

/// What to map for a program, and what its start-up auxiliary vector needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadPlan {
    /// `e_entry`, inside an executable segment.
    pub entry: u32,
    /// The non-empty `PT_LOAD` segments, sorted by `vaddr`, byte ranges disjoint.
    pub segments: Vec<LoadSegment>,
    /// Where the program headers are in memory, for `AT_PHDR`: `PT_PHDR`'s `p_vaddr`, else
    /// computed from the `PT_LOAD` whose file bytes contain the table; `None` if neither.
    pub phdr_vaddr: Option<u32>,
    /// `e_phnum`, for `AT_PHNUM`.
    pub phnum: u16,
    /// `e_phentsize` (always 32), for `AT_PHENT`.
    pub phentsize: u16,
}

/// Validates `image` as a static i386 executable and plans its loading.
pub fn plan(image: &[u8]) -> Result<LoadPlan, ElfError> {
    plan_from_head(image, image.len())
}

/// As [`plan`], for a file of `file_len` bytes of which `head` is the beginning (a loader
/// that copies segments straight from a file's pages reads only this much into the heap).
/// The ELF header and program headers must lie in `head`; segments are checked against
/// `file_len`.
pub fn plan_from_head(head: &[u8], file_len: usize) -> Result<LoadPlan, ElfError> {
    let image = head;
    let header = check_header(image)?;
    let phdrs = program_headers(image, &header)?;

    if let Some(index) = phdrs.iter().position(|p| p.p_type == PT_INTERP) {
        return Err(ElfError::Interpreter { index });
    }
    let count = phdrs.iter().filter(|p| p.p_type == PT_LOAD).count();
    if count > MAX_SEGMENTS {
        return Err(ElfError::TooManySegments { count });
    }

    // Each segment with its program header index, for the error messages.
    let mut loads: Vec<(usize, LoadSegment)> = Vec::with_capacity(count);
    for (index, ph) in phdrs.iter().enumerate() {
        if ph.p_type == PT_LOAD
            && let Some(segment) = check_segment(index, ph, file_len)?
        {
            loads.push((index, segment));
        }
    }
    if loads.is_empty() {
        return Err(ElfError::NoLoadSegments);
    }

    loads.sort_by_key(|(_, s)| s.vaddr);
    for pair in loads.windows(2) {
        let ((first, a), (second, b)) = (pair[0], pair[1]);
        if a.end() > b.vaddr {
            return Err(ElfError::Overlap {
                first,
                first_end: a.end(),
                second,
                second_vaddr: b.vaddr,
            });
        }
    }
    let segments: Vec<LoadSegment> = loads.into_iter().map(|(_, s)| s).collect();

    let entry = header.e_entry;
    if !segments
        .iter()
        .any(|s| s.flags.exec && s.vaddr <= entry && entry < s.end())
    {
        return Err(ElfError::EntryNotExecutable { entry });
    }

    let phdr_vaddr = match phdrs.iter().find(|p| p.p_type == PT_PHDR) {
        Some(p) => Some(p.p_vaddr),
        None => phdrs_in_memory(&header, &segments),
    };
    Ok(LoadPlan {
        entry,
        segments,
        phdr_vaddr,
        phnum: header.e_phnum,
        phentsize: header.e_phentsize,
    })
}

/// Checks the identification and the header fields, in the order a reader would.
fn check_header(image: &[u8]) -> Result<Header, ElfError> {
    let magic = image.len().min(ELFMAG.len());
    if image[..magic] != ELFMAG[..magic] {
        return Err(ElfError::NotElf);
    }
    if image.len() < SIZEOF_IDENT {
        return Err(ElfError::TruncatedHeader { len: image.len() });
    }
    match image[EI_CLASS] {
        ELFCLASS32 => {}
        class => return Err(ElfError::WrongClass { class }),
    }
    match image[EI_DATA] {
        ELFDATA2LSB => {}
        data => return Err(ElfError::WrongEndian { data }),
    }
    if image.len() < SIZEOF_EHDR {
        return Err(ElfError::TruncatedHeader { len: image.len() });
    }
    // The length is checked, so goblin cannot fail; map it anyway rather than unwrap.
    let header =
        Header::parse(image).map_err(|_| ElfError::TruncatedHeader { len: image.len() })?;
    if header.e_machine != EM_386 {
        return Err(ElfError::WrongMachine {
            machine: header.e_machine,
        });
    }
    if header.e_type != ET_EXEC {
        return Err(ElfError::WrongType {
            e_type: header.e_type,
        });
    }
    if usize::from(header.e_phentsize) != SIZEOF_PHDR {
        return Err(ElfError::BadPhentsize {
            phentsize: header.e_phentsize,
        });
    }
    if usize::from(header.e_phnum) > MAX_PHNUM {
        return Err(ElfError::TooManyProgramHeaders {
            phnum: header.e_phnum,
        });
    }
    Ok(header)
}

/// Reads the program header table after checking that the image holds all of it.
fn program_headers(image: &[u8], header: &Header) -> Result<Vec<ProgramHeader>, ElfError> {
    if header.e_phnum == 0 {
        return Ok(Vec::new()); // no table, whatever `e_phoff` says: refused as nothing to load
    }
    let truncated = |end| ElfError::TruncatedProgramHeaders {
        phoff: header.e_phoff,
        end,
        len: image.len(),
    };
    let end = u64::from(header.e_phnum)
        .checked_mul(u64::from(header.e_phentsize))
        .and_then(|size| size.checked_add(u64::from(header.e_phoff)))
        .ok_or_else(|| truncated(u64::MAX))?;
    if end > image.len() as u64 {
        return Err(truncated(end));
    }
    ProgramHeader::parse(
        image,
        header.e_phoff as usize,
        usize::from(header.e_phnum),
        Endian::Little,
    )
    .map_err(|_| truncated(end))
}

/// Checks one `PT_LOAD` header; `None` for an empty one (`p_memsz == 0`), which is skipped.
fn check_segment(
    index: usize,
    ph: &ProgramHeader,
    len: usize,
) -> Result<Option<LoadSegment>, ElfError> {
    let (vaddr, memsz, offset, filesz) = (ph.p_vaddr, ph.p_memsz, ph.p_offset, ph.p_filesz);
    if filesz > memsz {
        return Err(ElfError::FileLargerThanMemory {
            index,
            filesz,
            memsz,
        });
    }
    if memsz == 0 {
        return Ok(None);
    }
    match offset.checked_add(filesz) {
        Some(file_end) if u64::from(file_end) <= len as u64 => {}
        _ => {
            return Err(ElfError::FileRangeOutside {
                index,
                offset,
                filesz,
                len,
            });
        }
    }
    let Some(end) = vaddr.checked_add(memsz) else {
        return Err(ElfError::AddressWraps {
            index,
            vaddr,
            memsz,
        });
    };
    if vaddr < USER_BASE {
        return Err(ElfError::BelowUserBase { index, vaddr });
    }
    if end > USER_END {
        return Err(ElfError::KernelSpace {
            index,
            vaddr,
            memsz,
        });
    }
    let align = ph.p_align;
    if align > 1 && !align.is_power_of_two() {
        return Err(ElfError::BadAlignment { index, align });
    }
    if align >= PAGE_ALIGN && vaddr % align != offset % align {
        return Err(ElfError::Misaligned {
            index,
            vaddr,
            offset,
            align,
        });
    }
    Ok(Some(LoadSegment {
        vaddr,
        memsz,
        offset,
        filesz,
        flags: SegmentFlags::from_p_flags(ph.p_flags),
    }))
}

/// Where the program header table lands when no `PT_PHDR` says: inside the file bytes of
/// the segment that contains all of it, at the same distance from the segment's start.
fn phdrs_in_memory(header: &Header, segments: &[LoadSegment]) -> Option<u32> {
    let start = u64::from(header.e_phoff);
    let end = start + u64::from(header.e_phnum) * u64::from(header.e_phentsize);
    segments.iter().find_map(|s| {
        let file_start = u64::from(s.offset);
        let file_end = file_start + u64::from(s.filesz);
        (file_start <= start && end <= file_end).then(|| s.vaddr + (header.e_phoff - s.offset))
    })
}

#[cfg(test)]
mod tests;
