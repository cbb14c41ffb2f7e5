//! The vDSO's time functions and the data page they read.
//!
//! `__vdso_clock_gettime`, `__vdso_clock_gettime64`, `__vdso_gettimeofday` and
//! `__vdso_time` compute the time in user mode, without a system call, from the TSC and
//! the kernel's clock parameters in the *data page*: one page of the kernel's, mapped
//! read-only into every process just below its vDSO (`loader::VDSO_DATA`), as Linux maps
//! its `vvar` page. The kernel's own clocks (`crate::time`) use the very same arithmetic,
//! so a value read through the vDSO always lies between two read through system calls.
//!
//! The code is assembly, assembled here with the kernel (it is never run in the kernel:
//! `vdso::build` copies its bytes into the image). It is position-independent: it finds
//! the data page as the page below the one it runs in (the vDSO is one page). A clock it
//! does not keep, or a data page that says the TSC cannot be used (`MODE`), makes it fall
//! back to the system call, as Linux's vDSO does. `__vdso_getcpu` reads the CPU's number
//! with `lsl` from a GDT entry of each CPU's own (`arch::gdt::CPUNODE_SEL`), as Linux's.
//!
//! The data page's layout (`vdso::data_bytes` writes it):
//!
//! | offset | field |
//! |---|---|
//! | 0 | sequence count (odd while the kernel changes the page) |
//! | 4 | mode: 1 if the TSC gives the time, 0 for the system calls |
//! | 8, 12 | the TSC at the clocks' zero (low, high) |
//! | 16 | ns per TSC tick, times 2^32 |
//! | 20, 28 | real time at the zero: seconds (low, high) |
//! | 24 | and nanoseconds |

use crate::vdso::data;
use core::arch::global_asm;

global_asm!(
    r#"
    .pushsection .rodata.vdso_time, "a"
    .p2align 4
    .global vdso_time_start
vdso_time_start:

/* The data page's address in %ecx: the page below this code's. */
vdso_data_page:
    call 1f
1:  popl %ecx
    andl $0xfffff000, %ecx
    subl $0x1000, %ecx
    ret

/* Nanoseconds since the clocks' zero in %edx:%eax, the data page in %ecx; the carry flag
   set when the TSC cannot be used. Keeps %ebx, %esi, %edi, %ebp. */
vdso_mono_ns:
    pushl %ebx
    pushl %esi
    pushl %edi
    call vdso_data_page
2:  movl {seq}(%ecx), %edi
    testl $1, %edi
    jnz 2b
    cmpl $0, {mode}(%ecx)
    je 9f
    rdtsc
    subl {tsc_lo}(%ecx), %eax
    sbbl {tsc_hi}(%ecx), %edx
    jnc 3f
    xorl %eax, %eax              /* a TSC behind the zero counts as the zero */
    xorl %edx, %edx
3:  movl %edx, %esi
    mull {mult}(%ecx)            /* delta_lo * mult */
    movl %edx, %ebx              /* its high half */
    movl %esi, %eax
    mull {mult}(%ecx)            /* delta_hi * mult */
    addl %ebx, %eax
    adcl $0, %edx                /* (delta * mult) >> 32 */
    cmpl {seq}(%ecx), %edi
    jne 2b
    popl %edi
    popl %esi
    popl %ebx
    clc
    ret
9:  popl %edi
    popl %esi
    popl %ebx
    stc
    ret

/* Real time: seconds since the epoch in %ebx:%eax, nanoseconds in %edx, the data page in
   %ecx; carry set when the TSC cannot be used. */
vdso_real:
    call vdso_mono_ns
    jc 1f
    addl {real_nsec}(%ecx), %eax
    adcl $0, %edx
    movl $1000000000, %ebx
    divl %ebx
    movl {real_sec_hi}(%ecx), %ebx
    addl {real_sec_lo}(%ecx), %eax
    adcl $0, %ebx
    clc
1:  ret

/* Monotonic time: seconds in %eax, nanoseconds in %edx, the data page in %ecx; carry set
   when the TSC cannot be used. Clobbers %ebx. */
vdso_mono:
    call vdso_mono_ns
    jc 1f
    movl $1000000000, %ebx
    divl %ebx
    clc
1:  ret

/* The clock whose id is in %eax, read into %ebx:%eax (seconds) and %edx (nanoseconds):
   the real-time and monotonic ones (and their coarse, raw and boot-time twins); carry set
   for any other clock, or when the TSC cannot be used: the caller makes the system call. */
vdso_clock:
    cmpl $0, %eax                /* CLOCK_REALTIME */
    je vdso_real
    cmpl $5, %eax                /* CLOCK_REALTIME_COARSE */
    je vdso_real
    cmpl $1, %eax                /* CLOCK_MONOTONIC */
    je 1f
    cmpl $4, %eax                /* CLOCK_MONOTONIC_RAW */
    je 1f
    cmpl $6, %eax                /* CLOCK_MONOTONIC_COARSE */
    je 1f
    cmpl $7, %eax                /* CLOCK_BOOTTIME */
    je 1f
    stc
    ret
1:  call vdso_mono
    jc 2f
    xorl %ebx, %ebx
2:  ret

    .global vdso_clock_gettime
vdso_clock_gettime:
    pushl %ebx
    movl 8(%esp), %eax
    call vdso_clock
    jc 8f
    movl 12(%esp), %ecx
    movl %eax, (%ecx)
    movl %edx, 4(%ecx)
    xorl %eax, %eax
    popl %ebx
    ret
8:  movl 8(%esp), %ebx
    movl 12(%esp), %ecx
    movl $265, %eax              /* clock_gettime */
    int $0x80
    popl %ebx
    ret

    .global vdso_clock_gettime64
vdso_clock_gettime64:
    pushl %ebx
    movl 8(%esp), %eax
    call vdso_clock
    jc 8f
    movl 12(%esp), %ecx
    movl %eax, (%ecx)
    movl %ebx, 4(%ecx)
    movl %edx, 8(%ecx)
    movl $0, 12(%ecx)
    xorl %eax, %eax
    popl %ebx
    ret
8:  movl 8(%esp), %ebx
    movl 12(%esp), %ecx
    movl $403, %eax              /* clock_gettime64 */
    int $0x80
    popl %ebx
    ret

    .global vdso_gettimeofday
vdso_gettimeofday:
    pushl %ebx
    call vdso_real
    jc 8f
    movl 8(%esp), %ecx
    testl %ecx, %ecx
    jz 1f
    movl %eax, (%ecx)
    movl %edx, %eax
    xorl %edx, %edx
    movl $1000, %ebx
    divl %ebx                    /* microseconds */
    movl %eax, 4(%ecx)
1:  movl 12(%esp), %ecx
    testl %ecx, %ecx
    jz 2f
    movl $0, (%ecx)              /* the time zone: UTC */
    movl $0, 4(%ecx)
2:  xorl %eax, %eax
    popl %ebx
    ret
8:  movl 8(%esp), %ebx
    movl 12(%esp), %ecx
    movl $78, %eax               /* gettimeofday */
    int $0x80
    popl %ebx
    ret

    .global vdso_time
vdso_time:
    pushl %ebx
    call vdso_real
    jc 8f
    movl 8(%esp), %ecx
    testl %ecx, %ecx
    jz 1f
    movl %eax, (%ecx)
1:  popl %ebx
    ret
8:  movl 8(%esp), %ebx
    movl $13, %eax               /* time */
    int $0x80
    popl %ebx
    ret

    .global vdso_getcpu
vdso_getcpu:
    movl ${cpunode}, %eax
    lsl %eax, %eax               /* the CPU's number, node << 12, as the segment's limit */
    jnz 8f
    movl 4(%esp), %ecx
    testl %ecx, %ecx
    jz 1f
    movl %eax, %edx
    andl $0xfff, %edx
    movl %edx, (%ecx)
1:  movl 8(%esp), %ecx
    testl %ecx, %ecx
    jz 2f
    shrl $12, %eax
    movl %eax, (%ecx)
2:  xorl %eax, %eax
    ret
8:  pushl %ebx
    movl 8(%esp), %ebx
    movl 12(%esp), %ecx
    movl 16(%esp), %edx
    movl $318, %eax              /* getcpu */
    int $0x80
    popl %ebx
    ret

    .global vdso_time_end
vdso_time_end:
    .popsection
    "#,
    seq = const data::SEQ,
    mode = const data::MODE,
    tsc_lo = const data::TSC,
    tsc_hi = const data::TSC + 4,
    mult = const data::MULT,
    real_sec_lo = const data::REAL_SEC,
    real_nsec = const data::REAL_NSEC,
    real_sec_hi = const data::REAL_SEC_HI,
    cpunode = const arch::gdt::CPUNODE_SEL,
    options(att_syntax)
);

unsafe extern "C" {
    static vdso_time_start: u8;
    static vdso_time_end: u8;
    static vdso_clock_gettime: u8;
    static vdso_clock_gettime64: u8;
    static vdso_gettimeofday: u8;
    static vdso_time: u8;
    static vdso_getcpu: u8;
}

/// The code's bytes and each function's offset in them, for `vdso::build`.
pub fn code() -> crate::vdso::TimeCode {
    let start = (&raw const vdso_time_start) as usize;
    let end = (&raw const vdso_time_end) as usize;
    let at = |f: *const u8| (f as usize - start) as u32;
    // SAFETY: the assembly above: `end - start` bytes of read-only data from `start`.
    let bytes = unsafe { core::slice::from_raw_parts(start as *const u8, end - start) };
    crate::vdso::TimeCode {
        bytes,
        symbols: [
            ("__vdso_clock_gettime", at(&raw const vdso_clock_gettime)),
            (
                "__vdso_clock_gettime64",
                at(&raw const vdso_clock_gettime64),
            ),
            ("__vdso_gettimeofday", at(&raw const vdso_gettimeofday)),
            ("__vdso_time", at(&raw const vdso_time)),
            ("__vdso_getcpu", at(&raw const vdso_getcpu)),
        ],
    }
}
