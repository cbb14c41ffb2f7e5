//! Loads a user program from an ELF image into a new address space: every `PT_LOAD`
//! segment into fresh frames (highmem first) through temp mappings, BSS zeroed, page
//! permissions from `p_flags`, and a Linux-style initial stack (argc, argv, envp, auxv).

use crate::elf::{self, ElfError, LoadPlan};
use crate::errno::Errno;
use crate::mm::space::{AddressSpace, MapError, Protection};
use crate::mm::uaccess;
use crate::mm::user_range::USER_END;
use crate::proc::Memory;
use alloc::vec::Vec;
use arch::paging::PAGE_SIZE;
use core::fmt;

/// Top of the user stack (it grows down from the kernel boundary).
pub const STACK_TOP: u32 = USER_END;
/// Pages of user stack mapped at start.
pub const STACK_PAGES: u32 = 32;
/// Lowest address of the initial stack: segments must end at or below it.
pub const STACK_BOTTOM: u32 = STACK_TOP - STACK_PAGES * PAGE_SIZE as u32;

const PAGE: u32 = PAGE_SIZE as u32;

/// Where the vDSO (`crate::vdso`) is mapped: in the unmapped gap between the `mmap` area
/// and the stack, 128 pages below the stack.
pub const VDSO_BASE: u32 = STACK_BOTTOM - 128 * PAGE;

/// Where the vDSO's data page (`crate::vdso_time`) is mapped: just below the vDSO.
pub const VDSO_DATA: u32 = VDSO_BASE - PAGE;

/// The vDSO's image, built once.
fn vdso_image() -> &'static crate::vdso::Image {
    static IMAGE: spin::Once<crate::vdso::Image> = spin::Once::new();
    IMAGE.call_once(|| crate::vdso::build(Some(crate::vdso_time::code())))
}

/// The vDSO's trampolines `sigreturn` and `rt_sigreturn` for a vDSO mapped at `base`.
pub fn vdso_trampolines(base: u32) -> (u32, u32) {
    let image = vdso_image();
    (base + image.sigreturn, base + image.rt_sigreturn)
}

/// Where a `sysenter` returns to in the vDSO mapped at `base`: `__kernel_vsyscall`'s
/// landing pad, after its `int $0x80`.
pub fn vsyscall_landing(base: u32) -> u32 {
    base + vdso_image().vsyscall + crate::vdso::VSYSCALL_LANDING
}

/// Why a program could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The image was refused (the reason says why).
    Elf(ElfError),
    /// Memory for it could not be mapped.
    Map(MapError),
    /// The arguments do not fit the initial stack.
    ArgumentsTooLong,
    /// A segment reaches into the initial stack.
    OverlapsStack { vaddr: u32, end: u32 },
    /// Copying into the new address space failed (no temp-mapping slot).
    Copy(Errno),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Elf(e) => write!(f, "{e}"),
            LoadError::Map(e) => write!(f, "{e}"),
            LoadError::ArgumentsTooLong => f.write_str("arguments do not fit the initial stack"),
            LoadError::Copy(e) => write!(f, "copying the program in failed (errno {})", e.0),
            LoadError::OverlapsStack { vaddr, end } => write!(
                f,
                "segment {vaddr:#x}..{end:#x} reaches into the user stack at {STACK_BOTTOM:#x}..{STACK_TOP:#x}"
            ),
        }
    }
}

impl From<MapError> for LoadError {
    fn from(e: MapError) -> Self {
        LoadError::Map(e)
    }
}

/// A loaded program, ready to be started.
pub struct Loaded {
    pub mem: Memory,
    pub entry: u32,
    pub stack: u32,
}

/// Loads `image` with arguments `argv` (argv[0] is the program's name).
pub fn load(image: &[u8], argv: &[&str], envp: &[&str]) -> Result<Loaded, LoadError> {
    load_from(
        image,
        image.len(),
        &mut |offset, buf| {
            buf.copy_from_slice(&image[offset..offset + buf.len()]);
            Ok(())
        },
        argv,
        envp,
    )
}

/// How `load_from` reads a file: fills the buffer with the bytes at the offset.
pub type ReadAt<'a> = dyn FnMut(usize, &mut [u8]) -> Result<(), Errno> + 'a;

/// The most of a file `load_from` wants in `head`: its ELF and program headers lie there
/// (a program whose headers lie further is refused as truncated).
pub const HEAD_MAX: usize = 64 * 1024;

/// Loads a program file of `file_len` bytes, of which `head` is the beginning (all of it,
/// or at least `HEAD_MAX` bytes), reading its segments through `read_at(offset, buf)` a
/// page at a time: a large file (busybox: 2 MB) is never copied whole into the heap.
pub fn load_from(
    head: &[u8],
    file_len: usize,
    read_at: &mut ReadAt<'_>,
    argv: &[&str],
    envp: &[&str],
) -> Result<Loaded, LoadError> {
    let image = head;
    let plan = elf::plan_from_head(image, file_len).map_err(LoadError::Elf)?;
    // One page of the file at a time, on the heap (the kernel stack is 16 KiB).
    let mut page = alloc::vec![0u8; PAGE_SIZE];
    if let Some(seg) = plan.segments.iter().find(|s| s.end() > STACK_BOTTOM) {
        return Err(LoadError::OverlapsStack {
            vaddr: seg.vaddr,
            end: seg.end(),
        });
    }
    let mut space = AddressSpace::new()?;
    for seg in &plan.segments {
        let prot = Protection {
            user: true,
            write: seg.flags.write,
        };
        for page in (seg.vaddr / PAGE * PAGE..seg.end().div_ceil(PAGE) * PAGE).step_by(PAGE_SIZE) {
            if space.translate(page).is_some() {
                // Two segments share this page (their bytes do not overlap): the page gets
                // the union of their permissions.
                if prot.write {
                    space.protect(page, prot);
                }
                continue;
            }
            space.map_zeroed(page, prot)?;
        }
        let mut done = 0usize;
        while done < seg.filesz as usize {
            let n = (seg.filesz as usize - done).min(PAGE_SIZE);
            read_at(seg.offset as usize + done, &mut page[..n]).map_err(LoadError::Copy)?;
            uaccess::poke(&space, seg.vaddr + done as u32, &page[..n]).map_err(LoadError::Copy)?;
            done += n;
        }
    }
    let brk = plan
        .segments
        .iter()
        .map(|s| s.end())
        .max()
        .unwrap_or(0)
        .div_ceil(PAGE)
        * PAGE;
    for i in 1..=STACK_PAGES {
        space.map_zeroed(STACK_TOP - i * PAGE, Protection::READ_WRITE)?;
    }
    // The vDSO: this process's own copy of the image, read-only (and executable: i386
    // paging without PAE has no execute bit).
    let image = vdso_image();
    space.map_zeroed(VDSO_BASE, Protection::READ_ONLY)?;
    uaccess::poke(&space, VDSO_BASE, &image.bytes).map_err(LoadError::Copy)?;
    // And the kernel's data page its time functions read, shared by every process.
    let data = crate::mm::zones::Frame::containing(crate::time::VDSO_DATA.phys());
    space.map_shared_read_only(VDSO_DATA, data)?;
    let stack = initial_stack(&space, &plan, argv, envp)?;
    Ok(Loaded {
        mem: Memory {
            space,
            brk_start: brk,
            brk,
            vdso: VDSO_BASE,
        },
        entry: plan.entry,
        stack,
    })
}

// Auxiliary vector keys (Linux's elf.h).
const AT_NULL: u32 = 0;
const AT_PHDR: u32 = 3;
const AT_PHENT: u32 = 4;
const AT_PHNUM: u32 = 5;
const AT_PAGESZ: u32 = 6;
const AT_ENTRY: u32 = 9;
const AT_UID: u32 = 11;
const AT_EUID: u32 = 12;
const AT_GID: u32 = 13;
const AT_EGID: u32 = 14;
const AT_SECURE: u32 = 23;
const AT_RANDOM: u32 = 25;
const AT_SYSINFO: u32 = 32;
const AT_SYSINFO_EHDR: u32 = 33;
const AT_MINSIGSTKSZ: u32 = 51;

/// Builds the initial stack the Linux i386 ABI prescribes and returns the stack pointer:
///
/// ```text
///   STACK_TOP -> argv and envp strings, 16 AT_RANDOM bytes
///                (padding to 16 bytes)
///                auxv pairs ... AT_NULL 0
///                envp[0..], NULL
///                argv[0..argc], NULL
///   esp ->       argc
/// ```
fn initial_stack(
    space: &AddressSpace,
    plan: &LoadPlan,
    argv: &[&str],
    envp: &[&str],
) -> Result<u32, LoadError> {
    let mut strings = Vec::new();
    for a in argv.iter().chain(envp) {
        strings.extend_from_slice(a.as_bytes());
        strings.push(0);
    }
    let random = random_bytes();
    strings.extend_from_slice(&random);
    let strings_at = STACK_TOP - strings.len() as u32;
    let random_at = STACK_TOP - random.len() as u32;

    let mut words: Vec<u32> = Vec::new();
    words.push(argv.len() as u32);
    let mut at = strings_at;
    for a in argv {
        words.push(at);
        at += a.len() as u32 + 1;
    }
    words.push(0); // end of argv
    for e in envp {
        words.push(at);
        at += e.len() as u32 + 1;
    }
    words.push(0); // end of envp
    let mut aux = |k: u32, v: u32| {
        words.push(k);
        words.push(v);
    };
    if let Some(phdr) = plan.phdr_vaddr {
        aux(AT_PHDR, phdr);
    }
    aux(AT_PHENT, u32::from(plan.phentsize));
    aux(AT_PHNUM, u32::from(plan.phnum));
    aux(AT_PAGESZ, PAGE);
    aux(AT_ENTRY, plan.entry);
    aux(AT_UID, 0);
    aux(AT_EUID, 0);
    aux(AT_GID, 0);
    aux(AT_EGID, 0);
    aux(AT_SECURE, 0);
    aux(AT_RANDOM, random_at);
    aux(AT_MINSIGSTKSZ, crate::signal::MAX_FRAME_STACK as u32);
    aux(AT_SYSINFO, VDSO_BASE + vdso_image().vsyscall);
    aux(AT_SYSINFO_EHDR, VDSO_BASE);
    aux(AT_NULL, 0);

    let vector_bytes = words.len() as u32 * 4;
    let sp = (strings_at - vector_bytes) & !15;
    if STACK_TOP - sp > STACK_PAGES * PAGE / 2 {
        return Err(LoadError::ArgumentsTooLong);
    }
    let vector: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    uaccess::poke(space, sp, &vector).map_err(LoadError::Copy)?;
    uaccess::poke(space, strings_at, &strings).map_err(LoadError::Copy)?;
    Ok(sp)
}

/// 16 bytes for AT_RANDOM (libc seeds stack protectors from them). From the TSC through
/// xorshift: unpredictable enough for a test kernel, not a cryptographic source.
fn random_bytes() -> [u8; 16] {
    let mut x = arch::cpu::rdtsc() | 1;
    let mut out = [0u8; 16];
    for chunk in out.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    out
}
