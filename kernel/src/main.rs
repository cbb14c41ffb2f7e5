//! The Tempest kernel binary: the multiboot header and the 32-bit entry code that turns on
//! paging and calls [`kernel::boot::start`] in the higher half.
#![cfg_attr(target_arch = "x86", no_std, no_main)]

#[cfg(target_arch = "x86")]
mod entry {
    use core::arch::global_asm;

    // Boot page tables map the first 16 MiB twice: at 0 (identity, so the instruction after
    // `mov cr0` still runs) and at 0xC000_0000 (where the kernel is linked). Rust code then
    // builds the real kernel page directory (kernel::mm::paging) and drops the identity map.
    global_asm!(
        r#"
        .set KERNEL_OFFSET, 0xC0000000
        .set MB_MAGIC, 0x1BADB002
        .set MB_FLAGS, 0x3            /* page-align modules, give us a memory map */
        .set BOOT_TABLES, 4           /* 4 page tables = 16 MiB */

        .section .multiboot, "a"
        .p2align 2
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)

        .section .bss.boot, "aw", @nobits
        .p2align 12
    boot_page_directory:
        .skip 4096
    boot_page_tables:
        .skip 4096 * BOOT_TABLES
    boot_stack:
        .skip 65536
    boot_stack_top:

        .section .data.boot, "aw"
        .p2align 3
        .global boot_tsc
    boot_tsc:
        .quad 0

        .section .text.boot, "ax"
        .global _start
    _start:
        cli
        movl %eax, %ebp                          /* multiboot magic */
        rdtsc
        movl %eax, (boot_tsc - KERNEL_OFFSET)
        movl %edx, (boot_tsc + 4 - KERNEL_OFFSET)

        /* Fill the boot page tables with 0..16 MiB, present + writable. */
        movl $(boot_page_tables - KERNEL_OFFSET), %edi
        movl $0x003, %edx
        movl $(1024 * BOOT_TABLES), %ecx
    .Lfill_tables:
        movl %edx, (%edi)
        addl $4096, %edx
        addl $4, %edi
        loop .Lfill_tables

        /* Directory entries 0.. (identity) and 768.. (higher half). */
        movl $(boot_page_directory - KERNEL_OFFSET), %edi
        movl $(boot_page_tables - KERNEL_OFFSET + 0x003), %edx
        movl $BOOT_TABLES, %ecx
    .Lfill_directory:
        movl %edx, (%edi)
        movl %edx, 768 * 4(%edi)
        addl $4096, %edx
        addl $4, %edi
        loop .Lfill_directory

        movl $(boot_page_directory - KERNEL_OFFSET), %edx
        movl %edx, %cr3
        movl %cr0, %edx
        orl $0x80010000, %edx                     /* PG | WP */
        movl %edx, %cr0
        movl $.Lhigher_half, %edx
        jmp *%edx

    .Lhigher_half:
        movl $boot_stack_top, %esp
        pushl %ebx                               /* multiboot info (physical) */
        pushl %ebp                               /* multiboot magic */
        xorl %ebp, %ebp                          /* backtraces end here */
        call kernel_entry
    .Lstop:
        hlt
        jmp .Lstop
        "#,
        options(att_syntax)
    );

    #[unsafe(no_mangle)]
    extern "C" fn kernel_entry(magic: u32, info: u32) -> ! {
        unsafe extern "C" {
            static boot_tsc: u64;
        }
        // SAFETY: written once by `_start` before paging, never again.
        let tsc = unsafe { core::ptr::addr_of!(boot_tsc).read_volatile() };
        kernel::boot::start(magic, info, tsc)
    }
}

#[cfg(not(target_arch = "x86"))]
fn main() {
    eprintln!("the Tempest kernel runs on i386 only: boot it with `cargo qemu`");
    std::process::exit(2);
}
