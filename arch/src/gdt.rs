//! The kernel GDT: flat kernel and user segments (and, later, TSS and per-CPU entries).

use crate::descriptor::{self, flat};
use core::arch::asm;

/// Kernel code selector.
pub const KERNEL_CS: u16 = 0x08;
/// Kernel data selector.
pub const KERNEL_DS: u16 = 0x10;
/// User code selector (RPL 3).
pub const USER_CS: u16 = 0x18 | 3;
/// User data selector (RPL 3).
pub const USER_DS: u16 = 0x20 | 3;

/// Accessed bit, preset so the CPU never writes to the table when it loads a segment
/// (the table can then live in read-only data).
const A: u8 = 1;

#[repr(C, align(8))]
struct Gdt([u64; 5]);

static GDT: Gdt = Gdt([
    0,
    flat(descriptor::KERNEL_CODE | A),
    flat(descriptor::KERNEL_DATA | A),
    flat(descriptor::USER_CODE | A),
    flat(descriptor::USER_DATA | A),
]);

#[repr(C, packed)]
struct Pointer {
    limit: u16,
    base: u32,
}

/// Loads the kernel GDT and reloads every segment register from it.
///
/// # Safety
/// Ring 0, flat memory already in use (the bootloader's segments are flat too), so the
/// running code and stack keep their linear addresses.
pub unsafe fn load() {
    let ptr = Pointer {
        limit: (core::mem::size_of::<Gdt>() - 1) as u16,
        base: &GDT as *const Gdt as u32,
    };
    // SAFETY: the new segments are flat like the old ones; the far jump reloads CS.
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
            ptr = in(reg) &ptr,
            cs = const KERNEL_CS as u32,
            ds = in(reg) u32::from(KERNEL_DS),
            tmp = out(reg) _,
        );
    }
}
