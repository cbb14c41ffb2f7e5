//! Loads a user program from an ELF image into a new address space: every `PT_LOAD`
//! segment into fresh frames (highmem first) through temp mappings, BSS zeroed, page
//! permissions from `p_flags`, and a Linux-style initial stack (argc, argv, envp, auxv).

use crate::elf::{self, ElfError, LoadPlan};
use crate::mm::space::{AddressSpace, MapError, Protection, zeroed_user_frame};
use crate::mm::temp::{TempMap, Writable};
use crate::mm::user_range::{USER_END, UserRange};
use crate::task::Memory;
use alloc::vec::Vec;
use arch::paging::PAGE_SIZE;
use core::fmt;

/// Top of the user stack (it grows down from the kernel boundary).
pub const STACK_TOP: u32 = USER_END;
/// Pages of user stack mapped at start.
pub const STACK_PAGES: u32 = 32;

const PAGE: u32 = PAGE_SIZE as u32;

/// Why a program could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The image was refused (the reason says why).
    Elf(ElfError),
    /// Memory for it could not be mapped.
    Map(MapError),
    /// The arguments do not fit the initial stack.
    ArgumentsTooLong,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Elf(e) => write!(f, "{e}"),
            LoadError::Map(e) => write!(f, "{e}"),
            LoadError::ArgumentsTooLong => f.write_str("arguments do not fit the initial stack"),
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
pub fn load(image: &[u8], argv: &[&str]) -> Result<Loaded, LoadError> {
    let plan = elf::plan(image).map_err(LoadError::Elf)?;
    let mut space = AddressSpace::new()?;
    for seg in &plan.segments {
        let prot = Protection {
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
            space.map(page, zeroed_user_frame()?, prot)?;
        }
        poke(&space, seg.vaddr, seg.file_bytes(image));
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
        space.map(
            STACK_TOP - i * PAGE,
            zeroed_user_frame()?,
            Protection { write: true },
        )?;
    }
    let stack = initial_stack(&space, &plan, argv)?;
    Ok(Loaded {
        mem: Memory {
            space,
            brk_start: brk,
            brk,
        },
        entry: plan.entry,
        stack,
    })
}

/// Writes `bytes` at user address `dst` regardless of the pages' user permissions (the
/// loader fills read-only pages too). The pages must be mapped.
fn poke(space: &AddressSpace, dst: u32, bytes: &[u8]) {
    let range = UserRange::new(dst, bytes.len() as u32).expect("segment checked by elf::plan");
    for c in range.chunks() {
        let frame = space
            .translate(c.page)
            .expect("segment pages are mapped")
            .frame;
        let mut page = TempMap::<Writable>::write(frame).expect("a temp slot for loading");
        page[c.offset..c.offset + c.len].copy_from_slice(&bytes[c.done..c.done + c.len]);
    }
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

/// Builds the initial stack the Linux i386 ABI prescribes and returns the stack pointer:
///
/// ```text
///   STACK_TOP -> argv strings, 16 AT_RANDOM bytes
///                (padding to 16 bytes)
///                auxv pairs ... AT_NULL 0
///                envp: NULL
///                argv[0..argc], NULL
///   esp ->       argc
/// ```
fn initial_stack(space: &AddressSpace, plan: &LoadPlan, argv: &[&str]) -> Result<u32, LoadError> {
    let mut strings = Vec::new();
    for a in argv {
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
    words.push(0); // empty environment
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
    aux(AT_NULL, 0);

    let vector_bytes = words.len() as u32 * 4;
    let sp = (strings_at - vector_bytes) & !15;
    if STACK_TOP - sp > STACK_PAGES * PAGE / 2 {
        return Err(LoadError::ArgumentsTooLong);
    }
    let vector: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    poke(space, sp, &vector);
    poke(space, strings_at, &strings);
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
