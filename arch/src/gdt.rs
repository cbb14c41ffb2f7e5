//! The kernel GDT: flat kernel and user segments and the TSS that gives ring-3 traps
//! their kernel stack. (Per-CPU GDTs and TSSs come with SMP bring-up.)

use crate::descriptor::{self, flat, segment};
use core::arch::asm;
use core::cell::UnsafeCell;
use x86::bits32::task::TaskStateSegment;

/// Kernel code selector.
pub const KERNEL_CS: u16 = 0x08;
/// Kernel data selector.
pub const KERNEL_DS: u16 = 0x10;
/// User code selector (RPL 3).
pub const USER_CS: u16 = 0x18 | 3;
/// User data selector (RPL 3).
pub const USER_DS: u16 = 0x20 | 3;
/// TSS selector.
pub const TSS_SEL: u16 = 0x28;

/// Accessed bit, preset so the CPU never writes the code and data descriptors when it
/// loads a segment.
const A: u8 = 1;

#[repr(C, align(8))]
struct Tables {
    gdt: [u64; 6],
    tss: TaskStateSegment,
}

struct Cell(UnsafeCell<Tables>);

// SAFETY: the GDT is written by `load` on the boot CPU before anything else runs; the TSS's
// `esp0` is written only by `set_kernel_stack`, whose callers run with interrupts off on the
// one CPU that uses this TSS.
unsafe impl Sync for Cell {}

static TABLES: Cell = Cell(UnsafeCell::new(Tables {
    gdt: [
        0,
        flat(descriptor::KERNEL_CODE | A),
        flat(descriptor::KERNEL_DATA | A),
        flat(descriptor::USER_CODE | A),
        flat(descriptor::USER_DATA | A),
        0, // TSS, filled in by `load` (its base is only known at run time)
    ],
    tss: TaskStateSegment::new(),
}));

#[repr(C, packed)]
struct Pointer {
    limit: u16,
    base: u32,
}

/// Loads the kernel GDT, reloads every segment register from it and loads the TSS.
///
/// # Safety
/// Ring 0, boot CPU, once, before interrupts are enabled; flat memory already in use (the
/// bootloader's segments are flat too), so code and stack keep their linear addresses.
pub unsafe fn load() {
    // SAFETY: nothing else touches the tables yet (see the function's contract).
    let tables = unsafe { &mut *TABLES.0.get() };
    tables.tss.ss0 = KERNEL_DS;
    // No I/O permission bitmap: its offset points past the segment limit.
    tables.tss.iobp_offset = core::mem::size_of::<TaskStateSegment>() as u16;
    let tss_base = &tables.tss as *const TaskStateSegment as u32;
    let tss_limit = core::mem::size_of::<TaskStateSegment>() as u32 - 1;
    tables.gdt[5] = segment(
        tss_base,
        tss_limit,
        descriptor::TSS_AVAILABLE,
        descriptor::FLAGS_BYTE,
    );
    let ptr = Pointer {
        limit: (core::mem::size_of::<[u64; 6]>() - 1) as u16,
        base: tables.gdt.as_ptr() as u32,
    };
    // SAFETY: the new segments are flat like the old ones; the far return reloads CS; the
    // TSS descriptor was just written and is available (ltr marks it busy).
    unsafe {
        asm!(
            "lgdt [{ptr}]",
            "push {cs}",
            "lea {tmp}, [2f]",
            "push {tmp}",
            "retf",
            "2:",
            "mov ds, {ds:e}",
            "mov es, {ds:e}",
            "mov fs, {ds:e}",
            "mov gs, {ds:e}",
            "mov ss, {ds:e}",
            "ltr {tss:x}",
            ptr = in(reg) &ptr,
            cs = const KERNEL_CS as u32,
            ds = in(reg) u32::from(KERNEL_DS),
            tss = in(reg) u32::from(TSS_SEL),
            tmp = out(reg) _,
        );
    }
}

/// Sets the stack the CPU switches to when a trap arrives from ring 3.
///
/// # Safety
/// `esp0` must be the top of a kernel stack that stays valid while user code runs; the
/// caller runs with interrupts off.
pub unsafe fn set_kernel_stack(esp0: u32) {
    // SAFETY: a plain store to the TSS, which the CPU only reads on a ring transition,
    // which cannot happen while interrupts are off in ring 0.
    unsafe { (*TABLES.0.get()).tss.esp0 = esp0 };
}
