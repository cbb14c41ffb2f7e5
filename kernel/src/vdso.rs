//! The vDSO: a small ELF shared object (`linux-gate.so.1`) mapped into every process, as
//! Linux maps its own. This one holds the entry and return points Linux's i386 ABI names:
//!
//! - `__kernel_vsyscall`: a system call (`int $0x80`; `ret`), found through `AT_SYSINFO`;
//! - `__kernel_sigreturn` and `__kernel_rt_sigreturn`: where a signal handler installed
//!   without `SA_RESTORER` returns to (they call `sigreturn` and `rt_sigreturn`).
//!
//! The image is built here, by hand: no tool of the project's build makes a 32-bit shared
//! object, and the one Tempest needs is a few hundred bytes (an ELF header, three program
//! headers, a SysV hash table, the dynamic symbols and strings, the code, its unwind
//! information and the dynamic section, all in one read-only, executable page). Readers
//! find it as glibc does: the program headers, then `PT_DYNAMIC`'s `DT_HASH`, `DT_SYMTAB`,
//! `DT_STRTAB` (addresses relative to the image: the dynamic section is read-only, so
//! nobody relocates it in place). Unwinders find `.eh_frame` through `PT_GNU_EH_FRAME`'s
//! `.eh_frame_hdr`: every instruction of `__kernel_vsyscall` and of the signal
//! trampolines has its rule, so a backtrace from inside them reaches the caller (through
//! a signal frame, for the trampolines), as Linux's `vdso32` describes its own. Not built
//! yet: the time functions and their data page.

use alloc::vec::Vec;

/// The time functions' code (`crate::vdso_time`, assembled with the kernel): its bytes,
/// and each function's name and offset in them.
#[derive(Clone, Copy)]
pub struct TimeCode {
    pub bytes: &'static [u8],
    pub symbols: [(&'static str, u32); 5],
}

/// The data page the time functions read (`crate::vdso_time` has the table): offsets,
/// and the bytes the kernel writes.
pub mod data {
    pub const SEQ: usize = 0;
    pub const MODE: usize = 4;
    pub const TSC: usize = 8;
    pub const MULT: usize = 16;
    pub const REAL_SEC: usize = 20;
    pub const REAL_NSEC: usize = 24;
    pub const REAL_SEC_HI: usize = 28;
    /// How many bytes of the page are used.
    pub const LEN: usize = 32;

    /// The kernel's clock parameters (`crate::time`): ns = ((tsc - tsc0) * mult) >> 32
    /// since the clocks' zero, and the real time then. `mult` 0 means the TSC cannot give
    /// the time this way (slower than 1 GHz): the functions make the system call.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Params {
        pub tsc0: u64,
        pub mult: u32,
        pub real_at_zero_ns: u64,
    }

    /// The page's bytes for `params`, with sequence count `seq` (even: stable).
    pub fn bytes(params: Params, seq: u32) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        let mut put = |at: usize, v: u32| out[at..at + 4].copy_from_slice(&v.to_le_bytes());
        put(SEQ, seq);
        put(MODE, u32::from(params.mult != 0));
        put(TSC, params.tsc0 as u32);
        put(TSC + 4, (params.tsc0 >> 32) as u32);
        put(MULT, params.mult);
        let sec = params.real_at_zero_ns / 1_000_000_000;
        put(REAL_SEC, sec as u32);
        put(REAL_SEC_HI, (sec >> 32) as u32);
        put(REAL_NSEC, (params.real_at_zero_ns % 1_000_000_000) as u32);
        out
    }

    /// What the time functions compute from the page at TSC `tsc`: nanoseconds since the
    /// zero, by the same steps (two 32 x 32 multiplications), which `crate::time` uses too.
    pub fn mono_ns(params: Params, tsc: u64) -> u64 {
        let delta = tsc.saturating_sub(params.tsc0);
        let (lo, hi) = (delta as u32, (delta >> 32) as u32);
        let low = (u64::from(lo) * u64::from(params.mult)) >> 32;
        u64::from(hi) * u64::from(params.mult) + low
    }
}

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
const PT_GNU_EH_FRAME: u32 = 0x6474_e550;
/// How many program headers: the load segment, the dynamic section, the unwind index.
const PHDRS: usize = 3;
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

/// What the unwinder is told about a symbol's code (`.eh_frame`).
#[derive(Clone, Copy)]
enum Unwind {
    /// `__kernel_vsyscall`: pushes ECX, EDX and EBP, and pops them again.
    Vsyscall,
    /// A signal trampoline: the interrupted registers are in the `struct sigcontext` at
    /// `sigcontext` bytes above the stack pointer at its first instruction, and its first
    /// instruction pops a word (`pops`) or not.
    Sigreturn { sigcontext: u8, pops: bool },
}

/// The symbols, their code and its unwind rules:
/// - `__kernel_vsyscall`: `push %ecx; push %edx; push %ebp; xchg %ax, %ax; int $0x80;
///   pop %ebp; pop %edx; pop %ecx; ret`: Linux's shape on a CPU it does not use SYSENTER
///   on (the two-byte no-op is where its `mov %esp, %ebp; sysenter` would be; with
///   `int $0x80`, EBP must stay the sixth argument), so a debugger single-stepping a system
///   call sees what it sees on Linux;
/// - `__kernel_sigreturn`: `pop %eax; mov $119, %eax; int $0x80`;
/// - `__kernel_rt_sigreturn`: `mov $173, %eax; int $0x80` (the same bytes Linux's frames
///   carry as `retcode`).
///
/// The `struct sigcontext` is 4 bytes above a `sigframe`'s stack pointer once the handler
/// returned (its `sig` first), and 160 above an `rt_sigframe`'s (`sig`, `pinfo`, `puc`,
/// `info`, then the ucontext's flags, link and stack).
const SYMBOLS: [(&str, &[u8], Unwind); 3] = [
    (
        "__kernel_vsyscall",
        &[
            0x51, 0x52, 0x55, 0x66, 0x90, 0xcd, 0x80, 0x5d, 0x5a, 0x59, 0xc3,
        ],
        Unwind::Vsyscall,
    ),
    (
        "__kernel_sigreturn",
        &[0x58, 0xb8, 119, 0, 0, 0, 0xcd, 0x80],
        Unwind::Sigreturn {
            sigcontext: 4,
            pops: true,
        },
    ),
    (
        "__kernel_rt_sigreturn",
        &[0xb8, 173, 0, 0, 0, 0xcd, 0x80],
        Unwind::Sigreturn {
            sigcontext: 160,
            pops: false,
        },
    ),
];

/// Where `int $0x80` returns to in `__kernel_vsyscall` (Linux's `int80_landing_pad`).
pub const VSYSCALL_LANDING: u32 = 7;

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

/// DWARF register numbers on i386.
const ECX: u8 = 1;
const EDX: u8 = 2;
const ESP: u8 = 4;
const EBP: u8 = 5;
const EIP: u8 = 8;
/// Where each register is in a `struct sigcontext`, by DWARF number (eax, ecx, edx, ebx,
/// esp, ebp, esi, edi, eip).
const SIGCONTEXT_SLOTS: [(u8, u8); 9] = [
    (0, 44),
    (1, 40),
    (2, 36),
    (3, 32),
    (4, 28),
    (5, 24),
    (6, 20),
    (7, 16),
    (8, 56),
];

/// Call frame instructions (DWARF 5, section 6.4.2), as `.eh_frame` takes them.
const DW_CFA_ADVANCE_LOC: u8 = 0x40;
const DW_CFA_OFFSET: u8 = 0x80;
const DW_CFA_RESTORE: u8 = 0xc0;
const DW_CFA_DEF_CFA: u8 = 0x0c;
const DW_CFA_DEF_CFA_OFFSET: u8 = 0x0e;
const DW_CFA_DEF_CFA_EXPRESSION: u8 = 0x0f;
const DW_CFA_EXPRESSION: u8 = 0x10;
const DW_OP_BREG4: u8 = 0x74;
const DW_OP_DEREF: u8 = 0x06;
/// Pointer encodings: PC-relative signed 32-bit, unsigned 32-bit, relative to the
/// `.eh_frame_hdr` (datarel) signed 32-bit.
const DW_EH_PE_PCREL_SDATA4: u8 = 0x1b;
const DW_EH_PE_UDATA4: u8 = 0x03;
const DW_EH_PE_DATAREL_SDATA4: u8 = 0x3b;

/// Appends `v` as a signed LEB128.
fn sleb(out: &mut Vec<u8>, mut v: i32) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        let done = (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0);
        out.push(if done { byte } else { byte | 0x80 });
        if done {
            return;
        }
    }
}

/// The instructions of `__kernel_vsyscall`'s FDE: after each push, the frame is 4 bytes
/// larger and the pushed register is saved at its slot; after each pop, it is restored.
fn vsyscall_cfi() -> Vec<u8> {
    let saved = |reg: u8, n: u8| [DW_CFA_OFFSET | reg, n];
    let mut c = Vec::new();
    for (reg, n) in [(ECX, 2), (EDX, 3), (EBP, 4)] {
        c.push(DW_CFA_ADVANCE_LOC | 1);
        c.extend_from_slice(&[DW_CFA_DEF_CFA_OFFSET, 4 * n]);
        c.extend_from_slice(&saved(reg, n));
    }
    // The no-op and `int $0x80` change nothing the unwinder needs; `pop %ebp` ends at
    // offset 8.
    let mut at = 3;
    for (reg, end, size) in [(EBP, 8, 12), (EDX, 9, 8), (ECX, 10, 4)] {
        c.push(DW_CFA_ADVANCE_LOC | (end - at));
        c.extend_from_slice(&[DW_CFA_DEF_CFA_OFFSET, size]);
        c.push(DW_CFA_RESTORE | reg);
        at = end;
    }
    c
}

/// The rules of a signal trampoline when its `struct sigcontext` is `sc` bytes above the
/// stack pointer: the caller's stack pointer (the CFA) is the saved one, and every register
/// is at its place in the sigcontext. (As Linux's `vdso32/sigreturn.S`: with no fixed
/// distance from the CFA to the saved registers, each is an expression.)
fn sigcontext_rules(out: &mut Vec<u8>, sc: u8) {
    // `DW_OP_breg4 (ESP) sc + slot`, and for the CFA a dereference of it.
    let address = |slot: u8, deref: bool| {
        let mut e = alloc::vec![DW_OP_BREG4];
        sleb(&mut e, i32::from(sc) + i32::from(slot));
        if deref {
            e.push(DW_OP_DEREF);
        }
        e
    };
    let cfa = address(28, true);
    out.extend_from_slice(&[DW_CFA_DEF_CFA_EXPRESSION, cfa.len() as u8]);
    out.extend_from_slice(&cfa);
    for (reg, slot) in SIGCONTEXT_SLOTS {
        if reg == ESP {
            continue;
        }
        let e = address(slot, false);
        out.extend_from_slice(&[DW_CFA_EXPRESSION, reg, e.len() as u8]);
        out.extend_from_slice(&e);
    }
}

/// The instructions of a signal trampoline's FDE, which starts one byte before the
/// symbol (an unwinder looks up a return address minus one, as for a call).
fn sigreturn_cfi(sigcontext: u8, pops: bool) -> Vec<u8> {
    let mut c = Vec::new();
    sigcontext_rules(&mut c, sigcontext);
    if pops {
        // Past the byte before the symbol and the `pop %eax`.
        c.push(DW_CFA_ADVANCE_LOC | 2);
        sigcontext_rules(&mut c, sigcontext - 4);
    }
    c
}

/// A CIE: augmentation "zR" (FDE addresses PC-relative), or "zRS" for signal frames;
/// code alignment 1, data alignment -4, return address in EIP; at a function's entry the
/// CFA is ESP + 4 and the return address is just below it.
fn cie(signal: bool) -> Vec<u8> {
    let mut body = alloc::vec![0, 0, 0, 0, 1];
    body.extend_from_slice(if signal { b"zRS\0" } else { b"zR\0" });
    body.push(1);
    sleb(&mut body, -4);
    body.extend_from_slice(&[EIP, 1, DW_EH_PE_PCREL_SDATA4]);
    body.extend_from_slice(&[DW_CFA_DEF_CFA, ESP, 4, DW_CFA_OFFSET | EIP, 1]);
    align(&mut body, 4);
    let mut out = Vec::new();
    put32(&mut out, body.len() as u32);
    out.extend_from_slice(&body);
    out
}

/// The `.eh_frame` section at `at` (image offset) for symbols at `addresses`, and the
/// image offsets of each FDE and the code each covers, for `.eh_frame_hdr`.
fn eh_frame(at: usize, addresses: &[u32]) -> (Vec<u8>, Vec<(u32, u32)>) {
    let mut out = cie(false);
    let signal_cie = out.len();
    out.extend_from_slice(&cie(true));
    let mut index = Vec::new();
    for ((_, code, unwind), &address) in SYMBOLS.iter().zip(addresses) {
        let (cie_at, start, len, cfi) = match *unwind {
            Unwind::Vsyscall => (0, address, code.len() as u32, vsyscall_cfi()),
            Unwind::Sigreturn { sigcontext, pops } => (
                signal_cie,
                address - 1,
                code.len() as u32 + 1,
                sigreturn_cfi(sigcontext, pops),
            ),
        };
        let fde = out.len();
        index.push((start, (at + fde) as u32));
        let mut body = Vec::new();
        // The CIE pointer: from this field back to the CIE.
        put32(&mut body, (fde + 4 - cie_at) as u32);
        // The start, PC-relative to its own field (image offset at + fde + 8).
        put32(&mut body, start.wrapping_sub((at + fde + 8) as u32));
        put32(&mut body, len);
        body.push(0); // no augmentation data
        body.extend_from_slice(&cfi);
        align(&mut body, 4);
        put32(&mut out, body.len() as u32);
        out.extend_from_slice(&body);
    }
    put32(&mut out, 0); // the terminator
    (out, index)
}

/// The `.eh_frame_hdr` section at `at`, for the `.eh_frame` at `eh_frame` and its FDE
/// index (sorted by the code's address, as the binary search of unwinders needs).
fn eh_frame_hdr(at: usize, eh_frame: usize, mut index: Vec<(u32, u32)>) -> Vec<u8> {
    index.sort_unstable();
    let mut out = alloc::vec![
        1,
        DW_EH_PE_PCREL_SDATA4,
        DW_EH_PE_UDATA4,
        DW_EH_PE_DATAREL_SDATA4
    ];
    put32(&mut out, (eh_frame as u32).wrapping_sub((at + 4) as u32));
    put32(&mut out, index.len() as u32);
    for (start, fde) in index {
        put32(&mut out, start.wrapping_sub(at as u32));
        put32(&mut out, fde.wrapping_sub(at as u32));
    }
    out
}

/// Builds the image, with the time functions if `time` is given (the kernel's; the host
/// tests build it without).
pub fn build(time: Option<TimeCode>) -> Image {
    let time_symbols = time.as_ref().map_or(&[][..], |t| &t.symbols[..]);
    let nsyms = SYMBOLS.len() + time_symbols.len() + 1;
    // The strings: the soname, then each symbol's name.
    let mut strtab = alloc::vec![0u8];
    let soname = strtab.len() as u32;
    strtab.extend_from_slice(b"linux-gate.so.1\0");
    let names: Vec<u32> = SYMBOLS
        .iter()
        .map(|(name, _, _)| *name)
        .chain(time_symbols.iter().map(|(name, _)| *name))
        .map(|name| {
            let at = strtab.len() as u32;
            strtab.extend_from_slice(name.as_bytes());
            strtab.push(0);
            at
        })
        .collect();
    // Where each part goes.
    let phdrs = EHDR;
    let hash = phdrs + PHDRS * PHDR;
    let hash_len = 4 * (2 + 1 + nsyms);
    let symtab = hash + hash_len;
    let strtab_at = symtab + nsyms * SYM;
    // A byte of padding before each symbol at least: the signal trampolines' unwind
    // entries start one byte early.
    let text = (strtab_at + strtab.len() + 1).next_multiple_of(16);
    let mut code = Vec::new();
    let mut addresses = Vec::new();
    for (_, bytes, _) in SYMBOLS {
        addresses.push((text + code.len()) as u32);
        code.extend_from_slice(bytes);
        // int3 between the functions (and at least one byte before the next).
        code.push(0xcc);
        while !code.len().is_multiple_of(16) {
            code.push(0xcc);
        }
    }
    // The time functions, one block (they call each other).
    let mut symbols: Vec<(u32, u32)> = SYMBOLS
        .iter()
        .zip(&addresses)
        .map(|((_, bytes, _), &a)| (a, bytes.len() as u32))
        .collect();
    if let Some(t) = time {
        let block = (text + code.len()) as u32;
        code.extend_from_slice(t.bytes);
        for (i, (_, offset)) in t.symbols.iter().enumerate() {
            let end = t.symbols.get(i + 1).map_or(t.bytes.len() as u32, |s| s.1);
            symbols.push((block + offset, end.saturating_sub(*offset)));
        }
    }
    let eh_frame_at = (text + code.len()).next_multiple_of(4);
    let (frames, index) = eh_frame(eh_frame_at, &addresses);
    let hdr_at = eh_frame_at + frames.len();
    let hdr = eh_frame_hdr(hdr_at, eh_frame_at, index);
    let dynamic = (hdr_at + hdr.len()).next_multiple_of(4);
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
    put16(&mut out, PHDRS as u16);
    put16(&mut out, 40);
    put16(&mut out, 0);
    put16(&mut out, 0);
    // PT_LOAD: the whole image, read and execute; PT_DYNAMIC: read-only; PT_GNU_EH_FRAME:
    // the unwind index.
    for (kind, offset, len, flags) in [
        (PT_LOAD, 0, size, PF_R | PF_X),
        (PT_DYNAMIC, dynamic, size - dynamic, PF_R),
        (PT_GNU_EH_FRAME, hdr_at, hdr.len(), PF_R),
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
    for (i, (address, len)) in symbols.iter().enumerate() {
        put32(&mut out, names[i]);
        put32(&mut out, *address);
        put32(&mut out, *len);
        out.extend_from_slice(&[GLOBAL_FUNC, 0]);
        put16(&mut out, 1);
    }
    out.extend_from_slice(&strtab);
    while out.len() < text {
        out.push(0xcc);
    }
    out.extend_from_slice(&code);
    align(&mut out, 4);
    debug_assert_eq!(out.len(), eh_frame_at);
    out.extend_from_slice(&frames);
    out.extend_from_slice(&hdr);
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
        let image = build(None);
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
        // Nothing touches EBP, the sixth argument, before `int $0x80` (a `mov %esp, %ebp`
        // there, as in Linux's SYSENTER variant, gave `mmap2` a wrong offset).
        assert_eq!(
            &at(image.vsyscall)[..6],
            &[0x51, 0x52, 0x55, 0x66, 0x90, 0xcd]
        );
        assert_eq!(
            &at(image.vsyscall + VSYSCALL_LANDING)[..4],
            &[0x5d, 0x5a, 0x59, 0xc3]
        );
        assert_eq!(&at(image.rt_sigreturn)[..2], &[0xb8, 173]);
        // The hash table finds every symbol (one bucket, a chain through them all).
        let h = |i: usize| {
            u32::from_le_bytes(
                image.bytes[EHDR + PHDRS * PHDR + 4 * i..][..4]
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

    /// The time functions' block goes in whole after the trampolines, each symbol at its
    /// offset in it and as long as the distance to the next.
    #[test]
    fn the_time_functions_are_symbols_of_the_image() {
        static CODE: [u8; 40] = [0x90; 40];
        let time = TimeCode {
            bytes: &CODE,
            symbols: [
                ("__vdso_clock_gettime", 8),
                ("__vdso_clock_gettime64", 16),
                ("__vdso_gettimeofday", 24),
                ("__vdso_time", 30),
                ("__vdso_getcpu", 36),
            ],
        };
        let image = build(Some(time));
        let elf = Elf::parse(&image.bytes).expect("a valid ELF");
        let sym = |name: &str| {
            elf.dynsyms
                .iter()
                .find(|s| elf.dynstrtab.get_at(s.st_name) == Some(name))
                .map(|s| (s.st_value as u32, s.st_size as u32))
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        let (first, len) = sym("__vdso_clock_gettime");
        assert_eq!(len, 8);
        let block = first - 8;
        assert_eq!(&image.bytes[block as usize..][..40], &CODE);
        assert_eq!(sym("__vdso_time"), (block + 30, 6));
        assert_eq!(sym("__vdso_getcpu"), (block + 36, 4));
        assert_eq!(sym("__kernel_vsyscall").0, image.vsyscall);
        assert!(block > image.rt_sigreturn, "after the trampolines");
    }

    /// The data page holds what the time functions read, where they read it, and their
    /// arithmetic (two 32 x 32 multiplications) is the exact `delta * mult >> 32`, close to
    /// the true nanoseconds of a 2.44 GHz TSC.
    #[test]
    fn the_data_page_and_its_arithmetic() {
        let tsc_per_ms: u64 = 2_441_760;
        let mult = ((1_000_000u64 << 32) / tsc_per_ms) as u32;
        let p = data::Params {
            tsc0: 0x1_2345_6789,
            mult,
            real_at_zero_ns: 1_796_465_230_000_000_007,
        };
        let b = data::bytes(p, 0);
        let word = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
        assert_eq!(word(data::MODE), 1);
        assert_eq!((word(data::TSC), word(data::TSC + 4)), (0x2345_6789, 1));
        assert_eq!(word(data::MULT), mult);
        assert_eq!(word(data::REAL_SEC), 1_796_465_230);
        assert_eq!(word(data::REAL_SEC_HI), 0);
        assert_eq!(word(data::REAL_NSEC), 7);
        for delta in [
            0u64,
            1,
            999,
            1 << 31,
            (1 << 32) + 5,
            24_417_600_000,
            1 << 45,
        ] {
            let ns = data::mono_ns(p, p.tsc0 + delta);
            let exact = (u128::from(delta) * u128::from(mult)) >> 32;
            assert_eq!(u128::from(ns), exact, "delta {delta}");
            let true_ns = u128::from(delta) * 1_000_000 / u128::from(tsc_per_ms);
            assert!(
                true_ns - u128::from(ns) <= 1 + true_ns / 1_000_000_000,
                "delta {delta}"
            );
        }
        // A TSC behind the zero (another CPU's, a little early) counts as the zero.
        assert_eq!(data::mono_ns(p, p.tsc0 - 5), 0);
        // Below 1 GHz the functions make the system call.
        let slow = data::Params { mult: 0, ..p };
        assert_eq!(word_of(&data::bytes(slow, 0), data::MODE), 0);
    }

    fn word_of(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    /// The unwind information as an unwinder reads it (gimli): `PT_GNU_EH_FRAME` leads to
    /// `.eh_frame_hdr`, whose index finds an FDE for every instruction of the three
    /// functions, and each row says where the caller's registers are.
    mod unwind {
        use super::*;
        use gimli::{
            BaseAddresses, CfaRule, EhFrame, EhFrameHdr, LittleEndian, Register, RegisterRule,
            UnwindContext, UnwindSection,
        };

        struct Row {
            cfa: CfaRule<usize>,
            rules: alloc::vec::Vec<(u16, RegisterRule<usize>)>,
        }

        fn rows_at(image: &Image, addresses: &[u32]) -> alloc::vec::Vec<Row> {
            let elf = Elf::parse(&image.bytes).unwrap();
            let hdr_ph = elf
                .program_headers
                .iter()
                .find(|p| p.p_type == PT_GNU_EH_FRAME)
                .expect("PT_GNU_EH_FRAME");
            let hdr_at = hdr_ph.p_offset as usize;
            let hdr = EhFrameHdr::new(&image.bytes[hdr_at..], LittleEndian);
            let bases = BaseAddresses::default()
                .set_eh_frame_hdr(hdr_at as u64)
                .set_text(0);
            let parsed = hdr.parse(&bases, 4).expect("a valid .eh_frame_hdr");
            let eh_at = match parsed.eh_frame_ptr() {
                gimli::Pointer::Direct(a) => a as usize,
                p => panic!("{p:?}"),
            };
            let bases = bases.set_eh_frame(eh_at as u64);
            let mut eh_frame = EhFrame::new(&image.bytes[eh_at..], LittleEndian);
            eh_frame.set_address_size(4);
            let table = parsed.table().expect("a search table");
            let mut ctx = UnwindContext::new();
            addresses
                .iter()
                .map(|&a| {
                    let fde = table
                        .fde_for_address(&eh_frame, &bases, u64::from(a), EhFrame::cie_from_offset)
                        .unwrap_or_else(|e| panic!("no FDE for {a:#x}: {e:?}"));
                    let row = fde
                        .unwind_info_for_address(&eh_frame, &bases, &mut ctx, u64::from(a))
                        .unwrap();
                    Row {
                        cfa: row.cfa().clone(),
                        rules: row
                            .registers()
                            .map(|(r, rule)| (r.0, rule.clone()))
                            .collect(),
                    }
                })
                .collect()
        }

        fn rule(row: &Row, reg: u8) -> Option<&RegisterRule<usize>> {
            row.rules
                .iter()
                .find(|(r, _)| *r == u16::from(reg))
                .map(|(_, rule)| rule)
        }

        #[test]
        fn every_instruction_of_the_vsyscall_finds_its_caller() {
            let image = build(None);
            let v = image.vsyscall;
            // Before each instruction: the stack's depth above the return address, and
            // the registers pushed so far (ECX at -8, EDX at -12, EBP at -16 from the CFA).
            // (offset, CFA - ESP, registers saved: (register, CFA offset)).
            type Row = (u32, i64, &'static [(u8, i64)]);
            let expect: [Row; 9] = [
                (0, 4, &[]),
                (1, 8, &[(ECX, -8)]),
                (2, 12, &[(ECX, -8), (EDX, -12)]),
                (3, 16, &[(ECX, -8), (EDX, -12), (EBP, -16)]),
                (5, 16, &[(ECX, -8), (EDX, -12), (EBP, -16)]),
                (7, 16, &[(ECX, -8), (EDX, -12), (EBP, -16)]),
                (8, 12, &[(ECX, -8), (EDX, -12)]),
                (9, 8, &[(ECX, -8)]),
                (10, 4, &[]),
            ];
            let addresses: alloc::vec::Vec<u32> = expect.iter().map(|e| v + e.0).collect();
            for (row, (off, cfa, saved)) in rows_at(&image, &addresses).iter().zip(expect) {
                assert_eq!(
                    row.cfa,
                    CfaRule::RegisterAndOffset {
                        register: Register(u16::from(ESP)),
                        offset: cfa
                    },
                    "CFA at +{off}"
                );
                assert_eq!(rule(row, EIP), Some(&RegisterRule::Offset(-4)), "+{off}");
                for reg in [ECX, EDX, EBP] {
                    let want = saved
                        .iter()
                        .find(|s| s.0 == reg)
                        .map(|s| RegisterRule::Offset(s.1));
                    let got = rule(row, reg)
                        .filter(|r| **r != RegisterRule::SameValue)
                        .cloned();
                    assert_eq!(got, want, "register {reg} at +{off}");
                }
            }
        }

        /// The bytes of a `DW_OP_breg4 N [DW_OP_deref]` expression: N.
        fn breg4(
            image: &Image,
            e: &gimli::UnwindExpression<usize>,
            eh_at: usize,
            deref: bool,
        ) -> i64 {
            let bytes = &image.bytes[eh_at + e.offset..][..e.length];
            assert_eq!(bytes[0], DW_OP_BREG4);
            assert_eq!(bytes[bytes.len() - 1] == DW_OP_DEREF, deref);
            let mut r = gimli::EndianSlice::new(&bytes[1..], LittleEndian);
            gimli::Reader::read_sleb128(&mut r).unwrap()
        }

        #[test]
        fn the_signal_trampolines_unwind_through_their_sigcontext() {
            let image = build(None);
            let elf = Elf::parse(&image.bytes).unwrap();
            let hdr_at = elf
                .program_headers
                .iter()
                .find(|p| p.p_type == PT_GNU_EH_FRAME)
                .unwrap()
                .p_offset as usize;
            let eh_offset = i32::from_le_bytes(image.bytes[hdr_at + 4..][..4].try_into().unwrap());
            let eh_at = (hdr_at as i64 + 4 + i64::from(eh_offset)) as usize;
            // (address, where the sigcontext is above ESP there).
            let cases = [
                (image.sigreturn - 1, 4),
                (image.sigreturn, 4),
                (image.sigreturn + 1, 0),
                (image.sigreturn + 6, 0),
                (image.rt_sigreturn - 1, 160),
                (image.rt_sigreturn, 160),
                (image.rt_sigreturn + 5, 160),
            ];
            let addresses: alloc::vec::Vec<u32> = cases.iter().map(|c| c.0).collect();
            for (row, (a, sc)) in rows_at(&image, &addresses).iter().zip(cases) {
                let CfaRule::Expression(e) = &row.cfa else {
                    panic!("CFA at {a:#x} is {:?}", row.cfa)
                };
                assert_eq!(
                    breg4(&image, e, eh_at, true),
                    sc + 28,
                    "the saved ESP at {a:#x}"
                );
                for (reg, slot) in SIGCONTEXT_SLOTS {
                    if reg == ESP {
                        continue;
                    }
                    let Some(RegisterRule::Expression(e)) = rule(row, reg) else {
                        panic!("register {reg} at {a:#x}: {:?}", rule(row, reg))
                    };
                    assert_eq!(
                        breg4(&image, e, eh_at, false),
                        sc + i64::from(slot),
                        "{reg}"
                    );
                }
            }
        }
    }
}
