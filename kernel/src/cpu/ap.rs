//! Application-processor start-up: a 16-bit trampoline copied below 1 MiB that enters
//! protected mode and paging and jumps to `ap_main` in the higher half on its own stack;
//! INIT, 10 ms, STARTUP, 200 µs, STARTUP; each AP checks in, and one that does not within
//! a bound is reported and left out.
//!
//! Trampoline page (physical `TRAMPOLINE`, STARTUP vector `TRAMPOLINE >> 12`):
//!
//! ```text
//!   +0x00  code: 16-bit entry (cs = 0x0800), lgdt, protected mode, far jump
//!          32-bit: data segments, cr4, cr3 (boot directory), paging, stack, jump
//!   ...    tr_gdt: null, flat code 0x08, flat data 0x10 (in RAM: writable, as the CPU
//!          sets Accessed bits when it loads a segment)
//!          tr_gdt_ptr, then the words the boot CPU fills in: tr_cr3, tr_cr4, tr_stack,
//!          tr_entry
//! ```

use crate::mm::frames;
use crate::mm::layout::phys_to_virt;
use crate::mm::paging::{kernel_directory, table_at};
use crate::mm::zones::Frame;
use alloc::boxed::Box;
use arch::lapic::{self, Kind, Target};
use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use smp::shootdown::MAX_CPUS;

/// Physical address of the trampoline page (in the first MiB, never handed out).
pub const TRAMPOLINE: u64 = 0x8000;

global_asm!(
    r#"
    .section .text.ap_trampoline, "ax"
    .set TRAMPOLINE_PHYS, 0x8000
    .global ap_trampoline_start, ap_trampoline_end, tr_cr3, tr_cr4, tr_stack, tr_entry
    .code16
ap_trampoline_start:
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    lgdtl tr_gdt_ptr - ap_trampoline_start
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $0x08, $(TRAMPOLINE_PHYS + tr_protected - ap_trampoline_start)
    .code32
tr_protected:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movl $TRAMPOLINE_PHYS, %ebx
    movl (tr_cr4 - ap_trampoline_start)(%ebx), %eax
    movl %eax, %cr4
    movl (tr_cr3 - ap_trampoline_start)(%ebx), %eax
    movl %eax, %cr3
    movl %cr0, %eax
    orl $0x80010000, %eax
    movl %eax, %cr0
    movl (tr_stack - ap_trampoline_start)(%ebx), %esp
    movl (tr_entry - ap_trampoline_start)(%ebx), %eax
    jmp *%eax
    .p2align 3
tr_gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF
    .quad 0x00CF92000000FFFF
tr_gdt_ptr:
    .word 23
    .long TRAMPOLINE_PHYS + tr_gdt - ap_trampoline_start
tr_cr3:
    .long 0
tr_cr4:
    .long 0
tr_stack:
    .long 0
tr_entry:
    .long 0
ap_trampoline_end:

    .section .text.ap_entry, "ax"
    .global ap_entry
ap_entry:
    xorl %ebp, %ebp
    call ap_main
    "#,
    options(att_syntax)
);

unsafe extern "C" {
    static ap_trampoline_start: u8;
    static ap_trampoline_end: u8;
    static tr_cr3: u8;
    static tr_cr4: u8;
    static tr_stack: u8;
    static tr_entry: u8;
    fn ap_entry();
}

/// The index the next AP to start will take.
static STARTING: AtomicUsize = AtomicUsize::new(0);
/// Set by the starting AP once it runs Rust code in the higher half.
static CHECKED_IN: AtomicBool = AtomicBool::new(false);

/// How long a CPU may take to check in (TCG on a loaded host is slow).
const CHECK_IN_MS: u64 = 2000;

fn offset_of(sym: *const u8) -> usize {
    sym as usize - core::ptr::addr_of!(ap_trampoline_start) as usize
}

/// Writes one word of the trampoline's data area.
fn set(sym: *const u8, value: u32) {
    let at = phys_to_virt(TRAMPOLINE) + offset_of(sym);
    // SAFETY: the trampoline page is reserved low memory in the direct map, written only by
    // the boot CPU while no AP is between STARTUP and check-in.
    unsafe { (at as *mut u32).write_volatile(value) };
}

/// Copies the trampoline below 1 MiB and builds the directory APs switch paging on with:
/// the kernel directory plus an identity map of the first 4 MiB (where the trampoline runs
/// when paging comes on). Returns that directory's frame.
fn prepare() -> Frame {
    let start = core::ptr::addr_of!(ap_trampoline_start) as usize;
    let len = core::ptr::addr_of!(ap_trampoline_end) as usize - start;
    assert!(len <= 4096);
    // SAFETY: the source is the trampoline code; the destination is the reserved trampoline
    // page, direct-mapped.
    unsafe {
        core::ptr::copy_nonoverlapping(start as *const u8, phys_to_virt(TRAMPOLINE) as *mut u8, len)
    };
    let pd = frames::alloc_low().expect("a frame for the AP boot directory");
    // SAFETY: both are lowmem page-table frames; the new one is ours.
    unsafe {
        let kernel = table_at(u64::from(kernel_directory()));
        let boot = table_at(pd.addr());
        boot.0 = kernel.0;
        // PDE 768 maps physical 0-4 MiB (a large page or a table): reuse it at PDE 0.
        boot.0[0] = kernel.0[768];
    }
    set(core::ptr::addr_of!(tr_cr3), pd.addr() as u32);
    set(core::ptr::addr_of!(tr_cr4), arch::cpu::cr4().bits() as u32);
    set(
        core::ptr::addr_of!(tr_entry),
        ap_entry as unsafe extern "C" fn() as usize as u32,
    );
    pd
}

/// What each application processor runs once it is up (the scheduler's idle loop),
/// registered by `start_all`'s caller: this layer sits below the scheduler.
static AP_MAIN: AtomicUsize = AtomicUsize::new(0);

/// Size of an application processor's own stack (its idle loop's; tasks have their own).
const AP_STACK_SIZE: usize = 16 * 1024;

#[repr(C, align(16))]
struct ApStack([u8; AP_STACK_SIZE]);

/// Starts every CPU in `apic_ids` (the boot CPU excluded), each of which then runs `main`;
/// returns how many checked in.
pub fn start_all(apic_ids: &[u32], main: fn() -> !) -> usize {
    AP_MAIN.store(main as usize, Ordering::Release);
    let boot_directory = prepare();
    let mut online = 0;
    let mut any_lost = false;
    for &apic_id in apic_ids {
        let id = online + 1;
        if id >= MAX_CPUS {
            log::warn!("cpu with apic id {apic_id} left out: Tempest runs at most {MAX_CPUS} CPUs");
            continue;
        }
        if start_one(id, apic_id) {
            online += 1;
        } else {
            any_lost = true;
            // Park it: INIT holds it in wait-for-SIPI, so a late start cannot run on the
            // stack and id the next CPU is given.
            // SAFETY: INIT to a CPU that is not running kernel code (it never checked in).
            unsafe { lapic::send(Target::Cpu(apic_id), Kind::Init) };
            log::error!(
                "cpu with apic id {apic_id} did not check in within {CHECK_IN_MS} ms: left out"
            );
        }
    }
    if any_lost {
        // A lost CPU might still be on its way through the trampoline: keep the directory
        // it would switch paging on with (one frame).
        log::warn!(
            "keeping the AP boot directory at {:#x}",
            boot_directory.addr()
        );
    } else {
        frames::free(boot_directory);
    }
    online
}

fn start_one(id: usize, apic_id: u32) -> bool {
    let stack = Box::leak(
        // SAFETY: an all-zero byte array is a valid ApStack.
        unsafe { Box::<ApStack>::new_zeroed().assume_init() },
    );
    let top = stack as *mut ApStack as usize + AP_STACK_SIZE;
    set(core::ptr::addr_of!(tr_stack), top as u32);
    STARTING.store(id, Ordering::Relaxed);
    CHECKED_IN.store(false, Ordering::Release);
    let page = (TRAMPOLINE >> 12) as u8;
    // SAFETY: INIT and STARTUP reset the target, an AP the firmware listed as enabled.
    unsafe {
        lapic::send(Target::Cpu(apic_id), Kind::Init);
        crate::time::delay_us(10_000);
        lapic::send(Target::Cpu(apic_id), Kind::Startup(page));
        crate::time::delay_us(200);
        if !CHECKED_IN.load(Ordering::Acquire) {
            lapic::send(Target::Cpu(apic_id), Kind::Startup(page));
        }
    }
    let deadline = arch::cpu::rdtsc() + crate::time::tsc_per_ms() * CHECK_IN_MS;
    while !CHECKED_IN.load(Ordering::Acquire) {
        if arch::cpu::rdtsc() > deadline {
            return false;
        }
        core::hint::spin_loop();
    }
    true
}

/// First Rust code on an application processor: on its own stack, paging on with the AP
/// boot directory.
#[unsafe(no_mangle)]
extern "C" fn ap_main() -> ! {
    let id = STARTING.load(Ordering::Relaxed);
    // SAFETY: first thing on this CPU, interrupts off; the kernel directory maps all of the
    // kernel, and the per-CPU block, IDT and APIC are set up once here.
    unsafe {
        arch::cpu::load_cr3(kernel_directory());
        crate::cpu::percpu::init_application_cpu(id);
        arch::idt::load();
        arch::fpu::enable();
        crate::cpu::apic::init_application_cpu();
    }
    // Only now: a shootdown that saw this CPU online before its APIC id was stored would
    // send its IPI to APIC id 0 and wait for an acknowledgement that never comes.
    crate::cpu::percpu::publish();
    log::debug!("online, apic id {}", lapic::id());
    CHECKED_IN.store(true, Ordering::Release);
    let main = AP_MAIN.load(Ordering::Acquire);
    assert!(main != 0, "no AP main registered");
    // SAFETY: AP_MAIN only ever holds a `fn() -> !` stored by `start_all`.
    let main = unsafe { core::mem::transmute::<usize, fn() -> !>(main) };
    main()
}
