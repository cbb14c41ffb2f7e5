//! What the kernel does with each trap: the timer tick, system calls, faults in user mode
//! (the process is killed, the kernel goes on), breakpoints (counted and resumed); any other
//! exception in the kernel is reported (registers, CR2, backtrace) and ends the run.

use crate::kprintln;
use crate::signal::{self, Info};
use arch::exception::PageFault;
use arch::qemu_exit::{Verdict, exit};
use arch::trap::TrapFrame;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

static BREAKPOINTS: AtomicU32 = AtomicU32::new(0);
/// A function every timer interrupt calls (0: none); the stress test uses it to map temp
/// slots from interrupt context while the interrupted code holds some.
static TIMER_HOOK: AtomicUsize = AtomicUsize::new(0);

/// Sets (or clears) the function the timer interrupt calls on every CPU.
pub fn set_timer_hook(hook: Option<fn()>) {
    TIMER_HOOK.store(hook.map_or(0, |f| f as usize), Ordering::Release);
}
static UNEXPECTED: AtomicU32 = AtomicU32::new(0);

/// Breakpoints (`int3`) taken so far.
pub fn breakpoints() -> u32 {
    BREAKPOINTS.load(Ordering::Relaxed)
}

/// Interrupts that arrived on a vector nobody handles (spurious ones included).
pub fn unexpected_interrupts() -> u32 {
    UNEXPECTED.load(Ordering::Relaxed)
}

/// Vector of the PIT's IRQ 0 (through the remapped PIC), the timer of a CPU without APIC.
pub const PIT_VECTOR: u32 = arch::pic::BASE as u32;
const APIC_TIMER: u32 = crate::cpu::apic::TIMER_VECTOR as u32;
const SPURIOUS_APIC: u32 = crate::cpu::apic::SPURIOUS_VECTOR as u32;
const RESCHEDULE: u32 = crate::cpu::apic::RESCHEDULE_VECTOR as u32;
const CALL: u32 = crate::cpu::apic::CALL_VECTOR as u32;
const SHOOTDOWN: u32 = crate::cpu::apic::SHOOTDOWN_VECTOR as u32;
const CONSOLE: u32 = crate::tty::console::VECTOR as u32;
/// Vector of COM1's IRQ 4 through the PIC (a machine without APIC).
const CONSOLE_PIC: u32 = arch::pic::BASE as u32 + 4;
/// Vector of the master PIC's spurious IRQ 7.
const SPURIOUS_PIC_VECTOR: u32 = arch::pic::BASE as u32 + 7;

/// EFLAGS.IF in a trap frame.
const IF: u32 = 1 << 9;

/// The handler registered with `arch::trap`. It runs with interrupts off (interrupt gates),
/// except that a system call turns them on while it runs: the kernel is preemptible.
pub fn handle(frame: &mut TrapFrame) {
    if frame.eflags & IF != 0 {
        // The trap turned interrupts off: a stretch starts (and ends at the `iret`, unless
        // a system call turns them on sooner).
        crate::cpu::percpu::irq_off_begin(core::panic::Location::caller());
    }
    let user = frame.from_user();
    match frame.vector {
        // First: by far the most frequent, and no other arm takes its vector.
        v if v == u32::from(arch::idt::SYSCALL_VECTOR) && user => system_call(frame),
        arch::trap::SYSENTER if user => {
            if sysenter_call(frame) {
                system_call(frame);
            }
        }
        3 if !user => {
            BREAKPOINTS.fetch_add(1, Ordering::Relaxed);
        }
        // The caller of `sysenter` had TF set, which SYSENTER keeps: the trap after the
        // stub's first instruction. The stub runs on without it; the caller's flags get it
        // back (`sysenter_call`), so its single-stepping goes on after the call.
        1 if !user
            && arch::trap::in_sysenter_stub(frame.eip)
            && !SYSENTER_TF_OFF.load(Ordering::Relaxed) =>
        {
            frame.eflags &= !TF;
            SYSENTER_TF[crate::cpu::percpu::cpu_id()].store(true, Ordering::Relaxed);
        }
        // Another CPU panicked and stops everyone (ipi::stop_others).
        2 if crate::panic::panicking() => arch::cpu::halt_forever(),
        14 if user && copied_on_write(frame) => {}
        0..=31 if user => raise_fault_signal(frame),
        // A fault of the return path itself is fixed up (a kernel frame: nothing more to
        // do); any other is the kernel's own.
        11..=13 if return_fixups_on() => {
            if !fixed_return_fault(frame) {
                report_and_stop(frame);
            }
        }
        0..=31 => report_and_stop(frame),
        arch::trap::IRET_FAULT => {
            // As Linux i386's `iret_error`: SIGILL, ILL_BADSTK, trap number 32, no address.
            crate::proc::signal::force(Info::fault(
                signal::SIGILL,
                signal::ILL_BADSTK,
                0,
                signal::TRAP_IRET,
                0,
            ));
        }
        PIT_VECTOR | APIC_TIMER => {
            crate::sched::tick();
            let hook = TIMER_HOOK.load(Ordering::Acquire);
            if hook != 0 {
                // SAFETY: TIMER_HOOK only ever holds a `fn()` stored by `set_timer_hook`.
                unsafe { core::mem::transmute::<usize, fn()>(hook)() };
            }
            if frame.vector == APIC_TIMER {
                arch::lapic::eoi();
            } else {
                arch::pic::end_of_interrupt();
            }
            crate::sched::preempt(frame);
        }
        RESCHEDULE => {
            arch::lapic::eoi();
            crate::cpu::percpu::CpuStats::bump(&crate::cpu::percpu::this().stats.ipis);
            crate::sched::preempt(frame);
        }
        CALL => {
            arch::lapic::eoi();
            crate::cpu::ipi::service();
        }
        SHOOTDOWN => {
            arch::lapic::eoi();
            crate::cpu::percpu::CpuStats::bump(&crate::cpu::percpu::this().stats.ipis);
            crate::cpu::shootdown::serve();
        }
        CONSOLE => {
            crate::tty::console::interrupt();
            arch::lapic::eoi();
        }
        CONSOLE_PIC => {
            crate::tty::console::interrupt();
            arch::pic::end_of_interrupt();
        }
        SPURIOUS_PIC_VECTOR | SPURIOUS_APIC => {
            UNEXPECTED.fetch_add(1, Ordering::Relaxed);
        }
        v => {
            UNEXPECTED.fetch_add(1, Ordering::Relaxed);
            log::warn!("unexpected interrupt on vector {v:#x}, ignored");
        }
    }
    if frame.from_user() {
        crate::mm::temp::assert_none_held("return to user mode");
        // One look at the task says whether anything below has work (nearly never).
        let work = crate::sched::return_work();
        if work.leave {
            crate::sched::leave_if_process_exiting();
        }
        if work.leave || work.signals {
            deliver_signals(frame);
        }
        clear_stale_selectors(frame);
    }
    if frame.eflags & IF != 0 {
        crate::cpu::percpu::irq_off_end();
    }
}

/// EFLAGS.TF in a trap frame.
const TF: u32 = 1 << 8;

/// Negative control (`no-sysenter-tf`): the single-step trap a `sysenter` with TF set takes
/// in the stub is not absorbed, so it is reported as the kernel's own exception.
static SYSENTER_TF_OFF: AtomicBool = AtomicBool::new(false);

/// Turns the absorption of the `sysenter` single-step trap off (negative control).
pub fn disable_sysenter_tf() {
    log::warn!(
        "no-sysenter-tf: a sysenter with TF set traps in the kernel, unabsorbed (negative control)"
    );
    SYSENTER_TF_OFF.store(true, Ordering::Relaxed);
}

/// Per CPU: the `sysenter` being entered had TF set (the stub's trap took it away from the
/// flags it saves). Set and taken with interrupts off, between the stub and `sysenter_call`.
static SYSENTER_TF: [AtomicBool; crate::mm::temp::window::MAX_CPUS] =
    [const { AtomicBool::new(false) }; crate::mm::temp::window::MAX_CPUS];

/// A system call made with `sysenter`, as Linux i386 takes it: the caller's stack pointer
/// is in EBP (`__kernel_vsyscall` saved ECX, EDX and EBP there and copied ESP), the sixth
/// argument is the EBP it saved (read from that stack: `-EFAULT` if it cannot be, and the
/// call is not made), and the call returns to the vDSO's landing pad, which pops the three
/// registers and returns to the caller. True when the frame is now an ordinary system
/// call's; false when the sixth argument could not be read (EAX holds `-EFAULT`).
fn sysenter_call(frame: &mut TrapFrame) -> bool {
    if SYSENTER_TF[crate::cpu::percpu::cpu_id()].swap(false, Ordering::Relaxed) {
        frame.eflags |= TF;
    }
    let process = crate::sched::current_process();
    let (arg6, vdso) = {
        let memory = process.mem.lock();
        let mut raw = [0u8; 4];
        let read = crate::mm::uaccess::copy_from_user(&memory.space, &mut raw, frame.user_esp);
        (read.map(|()| u32::from_le_bytes(raw)), memory.vdso)
    };
    frame.eip = if vdso == 0 {
        // No vDSO (unmapped): nowhere to land; the return faults, as on Linux.
        0
    } else {
        crate::loader::vsyscall_landing(vdso)
    };
    match arg6 {
        Ok(ebp) => {
            frame.ebp = ebp;
            frame.vector = u32::from(arch::idt::SYSCALL_VECTOR);
            true
        }
        Err(e) => {
            frame.eax = e.to_return();
            false
        }
    }
}

/// A system call: dispatched with interrupts on (the kernel is preemptible), and off again
/// for the way back.
#[inline(always)]
fn system_call(frame: &mut TrapFrame) {
    crate::syscall::dispatch(frame);
    if arch::cpu::interrupts_enabled() {
        arch::cpu::disable_interrupts();
        crate::cpu::percpu::irq_off_begin(core::panic::Location::caller());
    }
}

/// Negative control (`no-return-fixup`): a fault of the return path's own segment loads or
/// `iret` is reported as the kernel's, as if nothing caught it.
static RETURN_FIXUPS_OFF: AtomicBool = AtomicBool::new(false);

/// Turns the return path's fault fix-ups off (negative control).
pub fn disable_return_fixups() {
    log::warn!(
        "no-return-fixup: a fault of the way back to user mode stops the kernel (negative control)"
    );
    RETURN_FIXUPS_OFF.store(true, Ordering::Relaxed);
}

fn return_fixups_on() -> bool {
    !RETURN_FIXUPS_OFF.load(Ordering::Relaxed)
}

/// A fault of the return path itself (`arch::trap::fix_return_fault`): a data segment the
/// thread may no longer load is popped as the null selector; a faulting `iret` comes back
/// as a trap from user mode (`IRET_FAULT`), which raises SIGILL, and is logged here with
/// the cause only this first fault knows.
fn fixed_return_fault(frame: &mut TrapFrame) -> bool {
    let Some(fault) = arch::trap::fix_return_fault(frame) else {
        return false;
    };
    if let arch::trap::ReturnFault::Iret { eip, cs, esp, ss } = fault {
        let (mnemonic, _) = arch::exception::name(frame.vector).unwrap_or(("?", "?"));
        let (pid, name) = crate::sched::with_current(|t| (t.tid, t.process.name.clone()));
        log::warn!(
            "pid {pid} ({name}): the iret to user mode faulted, {mnemonic}({:#x}), on cs={cs:#x} eip={eip:#x} ss={ss:#x} esp={esp:#x}: SIGILL",
            frame.error_code
        );
    }
    true
}

/// A data segment register of the frame that names a TLS entry the task has since cleared
/// (or any other selector the GDT no longer backs) becomes the null selector, as on Linux:
/// loading it on the way out would fault in the kernel.
fn clear_stale_selectors(frame: &mut TrapFrame) {
    let tables = &crate::cpu::percpu::this().tables;
    for selector in [&mut frame.ds, &mut frame.es, &mut frame.fs, &mut frame.gs] {
        // The user data segment and the null selector are always valid: only a TLS entry
        // (or anything else) is looked up. An LDT selector is left to the return path,
        // which pops it as the null selector if it faults: another thread may change the
        // LDT at any moment, so no look here could be the last word.
        let plain = *selector == u32::from(arch::gdt::USER_DS) || *selector == 0;
        if !plain && *selector & 4 == 0 && !tables.user_selector_valid(*selector as u16) {
            *selector = 0;
        }
    }
}

/// A user write to a present page (error code bits 0 and 1): if the page is copy-on-write
/// it is copied (or, for its last owner, made writable) and the write is retried: true.
/// False for any other fault, which raises its signal. Runs with interrupts on: the copy
/// takes the process's memory lock and two temp mappings, and may need a shootdown.
fn copied_on_write(frame: &TrapFrame) -> bool {
    let addr = arch::cpu::cr2();
    if frame.error_code & 3 != 3 || addr >= crate::mm::user_range::USER_END {
        return false;
    }
    let was_on = arch::cpu::interrupts_enabled();
    // SAFETY: a fault from user mode: the kernel holds nothing; interrupts go off again
    // below before the return path goes on.
    unsafe { arch::cpu::enable_interrupts() };
    let resolved = {
        let process = crate::sched::current_process();
        let memory = process.mem.lock();
        let page = addr & !(arch::paging::PAGE_SIZE as u32 - 1);
        match crate::mm::cow::unshare(&memory.space, page) {
            Ok(writable) => writable,
            Err(_) => {
                log::warn!(
                    "pid {}: no memory to copy page {page:#x} on write",
                    process.tgid
                );
                false
            }
        }
    };
    if !was_on {
        arch::cpu::disable_interrupts();
        crate::cpu::percpu::irq_off_begin(core::panic::Location::caller());
    }
    resolved
}

/// Signals for the thread returning to user mode with `frame`, if any: delivered with
/// interrupts on (a frame is written to user memory), then off again for the way out.
fn deliver_signals(frame: &mut TrapFrame) {
    if !crate::sched::return_work().signals {
        return;
    }
    let was_on = arch::cpu::interrupts_enabled();
    // SAFETY: on the way back to user mode the kernel holds nothing (the trap came from
    // user mode); interrupts go off again below before the return path goes on.
    unsafe { arch::cpu::enable_interrupts() };
    let before = crate::sched::own_temp_maps();
    crate::proc::signal::deliver(frame);
    crate::syscall::count_temp_maps(crate::syscall_table::Class::Signal, before);
    if !was_on {
        arch::cpu::disable_interrupts();
        crate::cpu::percpu::irq_off_begin(core::panic::Location::caller());
    }
}

/// The signal Linux raises for exception `vector` in user mode, its `si_code` and address.
fn fault_signal(f: &TrapFrame) -> Info {
    let (signo, code, addr) = match f.vector {
        0 => (signal::SIGFPE, signal::FPE_INTDIV, f.eip),
        16 | 19 => (signal::SIGFPE, 0, f.eip),
        1 | 3 => (signal::SIGTRAP, signal::SI_KERNEL, 0),
        6 => (signal::SIGILL, signal::ILL_ILLOPN, f.eip),
        17 => (signal::SIGBUS, signal::BUS_ADRALN, 0),
        14 => {
            // Error code bit 0: the page was present (a protection violation). The kernel
            // half is no mapping of the process's at all: "not mapped", as Linux says.
            let addr = arch::cpu::cr2();
            let user_page = (addr as usize) < crate::mm::layout::KERNEL_BASE;
            let code = if f.error_code & 1 != 0 && user_page {
                signal::SEGV_ACCERR
            } else {
                signal::SEGV_MAPERR
            };
            (signal::SIGSEGV, code, addr)
        }
        _ => (signal::SIGSEGV, signal::SI_KERNEL, 0),
    };
    Info::fault(signo, code, addr, f.vector, f.error_code)
}

/// A fault in user mode raises its signal on the thread: a handler runs (a SIGSEGV handler,
/// Rust's stack-overflow guard), or the default action ends that process only, with one
/// line saying why.
fn raise_fault_signal(f: &TrapFrame) {
    crate::proc::signal::force(fault_signal(f));
}

fn report_and_stop(f: &TrapFrame) -> ! {
    crate::panic::stop_everyone_else();
    let (mnemonic, name) = arch::exception::name(f.vector).unwrap_or(("?", "?"));
    kprintln!(
        "!!! EXCEPTION on cpu {}: {name} ({mnemonic}, vector {}), error code {:#010x}",
        crate::cpu::percpu::cpu_id(),
        f.vector,
        f.error_code
    );
    kprintln!(
        "!!!   eip={:#010x} cs={:#06x} eflags={:#010x}",
        f.eip,
        f.cs,
        f.eflags
    );
    kprintln!(
        "!!!   eax={:#010x} ebx={:#010x} ecx={:#010x} edx={:#010x}",
        f.eax,
        f.ebx,
        f.ecx,
        f.edx
    );
    kprintln!(
        "!!!   esi={:#010x} edi={:#010x} ebp={:#010x} esp={:#010x}",
        f.esi,
        f.edi,
        f.ebp,
        f.interrupted_esp()
    );
    kprintln!(
        "!!!   ds={:#06x} es={:#06x} fs={:#06x} gs={:#06x}",
        f.ds,
        f.es,
        f.fs,
        f.gs
    );
    kprintln!(
        "!!!   cr0={:#010x} cr2={:#010x} cr3={:#010x} cr4={:#010x}",
        arch::cpu::cr0().bits(),
        arch::cpu::cr2(),
        arch::cpu::cr3(),
        arch::cpu::cr4().bits()
    );
    if f.vector == 14 {
        let pf = PageFault::from_error_code(f.error_code);
        kprintln!(
            "!!!   page fault: {} {:#010x} ({}, {} mode)",
            pf.access,
            arch::cpu::cr2(),
            pf.cause,
            if pf.user { "user" } else { "kernel" }
        );
        let cr2 = arch::cpu::cr2() as usize;
        let temp = crate::mm::layout::TEMP_BASE;
        let slots = crate::mm::temp::window::SLOTS_PER_CPU;
        if (temp..temp + 1024 * arch::paging::PAGE_SIZE).contains(&cr2) {
            let index = (cr2 - temp) / arch::paging::PAGE_SIZE;
            kprintln!(
                "!!!   {cr2:#010x} is temp slot {} of cpu {}'s window (this is cpu {})",
                index % slots,
                index / slots,
                crate::cpu::percpu::cpu_id()
            );
        }
    }
    crate::panic::print_backtrace(Some(f.eip as usize), f.ebp as usize);
    exit(Verdict::Crash)
}

mod tests {
    use super::*;
    use crate::{check_eq, kernel_test};

    kernel_test! {
        fn breakpoint_is_caught_and_resumed() {
            let before = breakpoints();
            // SAFETY: int3 enters the breakpoint handler, which counts it and returns.
            unsafe { core::arch::asm!("int3") };
            check_eq!(breakpoints(), before + 1);
        }
    }
}
