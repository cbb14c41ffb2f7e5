//! `sigreturn_forged MODE`: `rt_sigreturn` with a frame the program wrote itself, as an
//! attacker would. The kernel must take from it only what user mode may choose.
//!
//! - `regs`: a valid frame; the program resumes at the frame's `eip` on the frame's stack
//!   with the frame's general registers, and EFLAGS as the frame gives it for the bits user
//!   mode owns (AC, CF) but not the others (IOPL stays 0, IF stays 1, NT stays 0). Exit 0.
//! - `cs`: the frame names the kernel's code segment (0x08). The kernel takes it at
//!   privilege level 3, as Linux does, so the `iret` back faults (#GP) and the process ends
//!   with SIGILL (132), as on Linux i386. Taken as it is, the `iret` would run the frame's
//!   `eip` in ring 0: the negative control `sigreturn-any-segment` shows that, as the program
//!   then executes `ud2` in ring 0 and the kernel reports its own exception.
//! - `ss`: the frame names the kernel's data segment as the stack segment: the `iret` faults
//!   again, SIGILL (132). Without the return path's fix-up (`no-return-fixup`) that fault
//!   is the kernel's own.
#![no_std]
#![no_main]

use core::arch::{asm, naked_asm};

use tempest_user::sys;
use tempest_user::{Args, println};

tempest_user::entry!(main);

const USER_CS: u32 = 0x1b;
const USER_DS: u32 = 0x23;
const KERNEL_CS: u32 = 0x08;
const KERNEL_DS: u32 = 0x10;
const AC: u32 = 1 << 18;
const NT: u32 = 1 << 14;
const IOPL3: u32 = 3 << 12;
const IF: u32 = 1 << 9;
const CF: u32 = 1;

/// `struct rt_sigframe` is 268 bytes; its ucontext's sigcontext starts at byte 164.
const FRAME_WORDS: usize = 67;
const SIGCONTEXT: usize = 164 / 4;
const UC_STACK: usize = 152 / 4;

#[repr(C, align(16))]
struct Frame([u32; FRAME_WORDS]);
#[repr(C, align(16))]
struct Stack([u8; 8192]);

static mut STACK: Stack = Stack([0; 8192]);

/// Where the forged frame resumes: in ring 0 (the kernel obeyed a kernel `cs`) it executes
/// `ud2`, which the kernel reports as its own exception; in ring 3 it hands the registers
/// it was entered with to `check_registers`.
#[unsafe(naked)]
extern "C" fn resume() -> ! {
    naked_asm!(
        "pushfd",
        "push eax",
        "mov eax, cs",
        "test al, 3",
        "jnz 2f",
        "ud2",
        "2:",
        "pop eax",
        "push edi",
        "push esi",
        "push ebx",
        "push edx",
        "push ecx",
        "push eax",
        "push esp",
        "call {check}",
        "ud2",
        check = sym check_registers,
    )
}

/// `regs`: eax, ecx, edx, ebx, esi, edi, eflags as the program resumed with them.
extern "C" fn check_registers(regs: *const [u32; 7]) -> ! {
    // SAFETY: `resume` pushed seven words and passed their address.
    let [eax, ecx, edx, ebx, esi, edi, eflags] = unsafe { *regs };
    let cs: u32;
    // SAFETY: reads a segment register.
    unsafe { asm!("mov {:e}, cs", out(reg) cs, options(nomem, nostack, preserves_flags)) };
    println!(
        "sigreturn_forged: resumed: eax={eax} ecx={ecx} edx={edx} ebx={ebx} esi={esi} edi={edi} eflags={eflags:#x} cs={cs:#x}"
    );
    let mut bad = 0;
    if [eax, ecx, edx, ebx, esi, edi] != [1, 2, 3, 4, 5, 6] {
        println!("FAIL: the general registers are not the frame's");
        bad += 1;
    }
    if eflags & (AC | CF) != AC | CF {
        println!("FAIL: AC and CF, which user mode owns, were not taken from the frame");
        bad += 1;
    }
    if eflags & (IOPL3 | NT) != 0 || eflags & IF == 0 {
        println!("FAIL: sigreturn took IOPL, NT or IF from the frame: {eflags:#x}");
        bad += 1;
    }
    if cs != USER_CS {
        println!("FAIL: resumed with cs {cs:#x}");
        bad += 1;
    }
    sys::exit_group(if bad == 0 { 0 } else { 1 })
}

fn main(args: &Args) -> i32 {
    let mode = args.get(1).unwrap_or(b"regs");
    let (cs, ss) = match mode {
        b"regs" => (USER_CS, USER_DS),
        b"cs" => (KERNEL_CS, USER_DS),
        b"ss" => (USER_CS, KERNEL_DS),
        _ => {
            println!("usage: sigreturn_forged regs|cs|ss");
            return 2;
        }
    };
    let stack_top = (&raw const STACK) as u32 + 8192 - 16;
    let sc = [
        0,       // gs
        0,       // fs
        USER_DS, // es
        USER_DS, // ds
        6,       // edi
        5,       // esi
        0,       // ebp
        stack_top,
        4, // ebx
        3, // edx
        2, // ecx
        1, // eax
        0, // trapno
        0, // err
        resume as *const () as u32,
        cs,
        AC | CF | IOPL3 | NT | 0x2, // eflags: IF clear, IOPL 3, NT set
        stack_top,
        ss,
        0, // no FPU state: it starts afresh
        0, // oldmask
        0, // cr2
    ];
    // On this stack, which rt_sigreturn leaves for good.
    let mut frame = Frame([0; FRAME_WORDS]);
    frame.0[SIGCONTEXT..SIGCONTEXT + sc.len()].copy_from_slice(&sc);
    frame.0[UC_STACK + 1] = 2; // uc_stack: SS_DISABLE
    println!("sigreturn_forged: rt_sigreturn with cs={cs:#x} ss={ss:#x}");
    let esp = frame.0.as_ptr() as u32 + 4;
    // SAFETY: rt_sigreturn does not return here: it resumes at the frame's eip (or the
    // kernel ends the process); the stack it leaves is never used again.
    unsafe {
        asm!(
            "mov esp, ecx",
            "mov eax, 173",
            "int 0x80",
            "ud2",
            in("ecx") esp,
            options(noreturn),
        )
    }
}
