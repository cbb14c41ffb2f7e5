//! `fpu_switch [SWITCHES]`: four threads pinned to one CPU each load values of their own
//! into the x87 stack (all eight registers), XMM0-XMM7, the x87 control word and MXCSR,
//! then SWITCHES times (default 1000) give the CPU away with `sched_yield`, busy-loop, and
//! compare every one of those registers with what they loaded (`fxsave` against a snapshot
//! taken right after loading). Ten times per thread the busy loop lasts 25 ms, so timer
//! preemption (a 10 ms tick) also switches them out with live registers. A kernel that
//! does not save and restore the FPU/SSE state per task hands each thread the registers of
//! the thread that ran before it: the comparisons count every such mismatch (restoring the
//! thread's own values to go on), and the program prints them and exits 1. Exit 0 when
//! every comparison matched.
//!
//! The user crate builds for i586 without SSE, so the compiler keeps nothing in XMM
//! registers and uses no x87 instruction (no floating point here); each test session is one
//! `asm!` block that loads the registers, runs its yields and checks, and leaves an empty
//! x87 stack and the caller's control word and MXCSR behind. It needs a CPU with SSE2 and
//! FXSR (QEMU's `qemu32` has both) and a kernel that enables them (CR4.OSFXSR).
#![no_std]
#![no_main]

use core::arch::asm;
use core::mem::offset_of;
use core::sync::atomic::{AtomicU32, Ordering};

use tempest_user::sys::{self, SYS_SCHED_YIELD};
use tempest_user::thread::{first_and_last, usable_cpus};
use tempest_user::{Args, Thread, println, rdtsc};

tempest_user::entry!(main);

const THREADS: usize = 4;
const DEFAULT_SWITCHES: u32 = 1000;
/// Sessions per thread; each ends with one long busy loop.
const SESSIONS: u32 = 10;
/// The short busy loop after each yield, and the long one that outlasts timer ticks.
const SHORT_SPIN_US: u64 = 50;
const LONG_SPIN_MS: u64 = 25;

/// One thread's registers to load, its snapshots, and its counters; the layout the
/// assembly addresses by `offset_of!`.
#[repr(C, align(16))]
struct FpuBlock {
    /// `fxsave` right after loading (16-byte aligned, as `fxsave` needs).
    snap: [u8; 512],
    /// `fxsave` after each yield and busy loop.
    scratch: [u8; 512],
    /// XMM0..XMM7.
    xmm: [[u32; 4]; 8],
    /// Pushed with `fild`, ST(7) first.
    st: [i32; 8],
    fcw: u32,
    mxcsr: u32,
    /// The caller's control word and MXCSR, put back at the end of a session.
    saved_fcw: u32,
    saved_mxcsr: u32,
    /// TSC cycles of the busy loop after each yield.
    spin_cycles: u32,
    /// Comparisons that found another state than the snapshot.
    mismatches: u32,
}

impl FpuBlock {
    /// Thread `t`'s values for session `s`: distinct in every register between threads.
    fn new(t: u32, s: u32) -> Self {
        let mut xmm = [[0u32; 4]; 8];
        for (k, reg) in xmm.iter_mut().enumerate() {
            for (j, lane) in reg.iter_mut().enumerate() {
                *lane = 0x1000_0000 * (t + 1) + (s << 12) + ((k as u32) << 4) + j as u32;
            }
        }
        let st = core::array::from_fn(|k| ((t + 1) * 100_000 + s * 100 + k as u32) as i32);
        FpuBlock {
            snap: [0; 512],
            scratch: [0; 512],
            xmm,
            st,
            // Rounding control differs per thread; all exceptions masked.
            fcw: 0x037f | ((t & 3) << 10),
            // SSE rounding control differs per thread, flush-to-zero on odd threads.
            mxcsr: 0x1f80 | ((t & 3) << 13) | ((t & 1) << 15),
            saved_fcw: 0,
            saved_mxcsr: 0,
            spin_cycles: 0,
            mismatches: 0,
        }
    }
}

/// Loads `b`'s registers and snapshots them, then `yields` times (at least 1): yield,
/// busy-loop `b.spin_cycles`, compare with the snapshot (a mismatch is counted and the
/// snapshot restored). Leaves the x87 stack empty and the caller's FCW and MXCSR.
fn session(b: &mut FpuBlock, yields: u32) {
    let yields = yields.max(1);
    // SAFETY: edi points to `b`, exclusively borrowed, 16-byte aligned for fxsave and
    // fxrstor, and every access is inside it (offsets from offset_of!). The x87 stack is
    // empty on entry (all st registers are declared clobbered) and left empty (fninit);
    // the caller's FCW and MXCSR are saved first and restored last. XMM0-7 cannot be
    // declared clobbered on a target without SSE, but for the same reason the compiler
    // keeps nothing in them. int 0x80 (sched_yield) preserves every register but eax;
    // rdtsc writes eax and edx; ebx, ecx, edx and eax are declared.
    unsafe {
        asm!(
            "fnstcw word ptr [edi + {saved_fcw}]",
            "stmxcsr dword ptr [edi + {saved_mxcsr}]",
            "fninit",
            "fldcw word ptr [edi + {fcw}]",
            "ldmxcsr dword ptr [edi + {mxcsr}]",
            "movdqu xmm0, xmmword ptr [edi + {xmm}]",
            "movdqu xmm1, xmmword ptr [edi + {xmm} + 16]",
            "movdqu xmm2, xmmword ptr [edi + {xmm} + 32]",
            "movdqu xmm3, xmmword ptr [edi + {xmm} + 48]",
            "movdqu xmm4, xmmword ptr [edi + {xmm} + 64]",
            "movdqu xmm5, xmmword ptr [edi + {xmm} + 80]",
            "movdqu xmm6, xmmword ptr [edi + {xmm} + 96]",
            "movdqu xmm7, xmmword ptr [edi + {xmm} + 112]",
            "fild dword ptr [edi + {st}]",
            "fild dword ptr [edi + {st} + 4]",
            "fild dword ptr [edi + {st} + 8]",
            "fild dword ptr [edi + {st} + 12]",
            "fild dword ptr [edi + {st} + 16]",
            "fild dword ptr [edi + {st} + 20]",
            "fild dword ptr [edi + {st} + 24]",
            "fild dword ptr [edi + {st} + 28]",
            "fxsave [edi + {snap}]",
            // Each round: yield, busy-loop, compare.
            "2:",
            "mov eax, {yield_nr}",
            "int 0x80",
            "rdtsc",
            "mov ecx, eax",
            "3:",
            "pause",
            "rdtsc",
            "sub eax, ecx",
            "cmp eax, dword ptr [edi + {spin}]",
            "jb 3b",
            "fxsave [edi + {scratch}]",
            // Bytes 0-4: FCW, FSW, the abridged tag word. Bytes 6-23 (last instruction
            // and operand pointers) may differ; bytes 24-287: MXCSR, its mask, ST0-7 and
            // XMM0-7.
            "mov eax, dword ptr [edi + {scratch}]",
            "cmp eax, dword ptr [edi + {snap}]",
            "jne 5f",
            "mov al, byte ptr [edi + {scratch} + 4]",
            "cmp al, byte ptr [edi + {snap} + 4]",
            "jne 5f",
            "mov ecx, 6",
            "4:",
            "mov eax, dword ptr [edi + ecx*4 + {scratch}]",
            "cmp eax, dword ptr [edi + ecx*4 + {snap}]",
            "jne 5f",
            "inc ecx",
            "cmp ecx, 72",
            "jb 4b",
            "jmp 6f",
            "5:",
            "inc dword ptr [edi + {mismatches}]",
            "fxrstor [edi + {snap}]",
            "6:",
            "dec ebx",
            "jnz 2b",
            "fninit",
            "fldcw word ptr [edi + {saved_fcw}]",
            "ldmxcsr dword ptr [edi + {saved_mxcsr}]",
            saved_fcw = const offset_of!(FpuBlock, saved_fcw),
            saved_mxcsr = const offset_of!(FpuBlock, saved_mxcsr),
            fcw = const offset_of!(FpuBlock, fcw),
            mxcsr = const offset_of!(FpuBlock, mxcsr),
            xmm = const offset_of!(FpuBlock, xmm),
            st = const offset_of!(FpuBlock, st),
            snap = const offset_of!(FpuBlock, snap),
            scratch = const offset_of!(FpuBlock, scratch),
            spin = const offset_of!(FpuBlock, spin_cycles),
            mismatches = const offset_of!(FpuBlock, mismatches),
            yield_nr = const SYS_SCHED_YIELD,
            in("edi") b as *mut FpuBlock,
            inout("ebx") yields => _,
            out("eax") _,
            out("ecx") _,
            out("edx") _,
            out("st(0)") _,
            out("st(1)") _,
            out("st(2)") _,
            out("st(3)") _,
            out("st(4)") _,
            out("st(5)") _,
            out("st(6)") _,
            out("st(7)") _,
        );
    }
}

/// The CPU every worker pins itself to, yields per thread, TSC cycles of the two spins.
static CPU: AtomicU32 = AtomicU32::new(0);
static SWITCHES: AtomicU32 = AtomicU32::new(DEFAULT_SWITCHES);
static SHORT_CYCLES: AtomicU32 = AtomicU32::new(0);
static LONG_CYCLES: AtomicU32 = AtomicU32::new(0);
/// Workers pinned and waiting for the others; workers found off the CPU.
static READY: AtomicU32 = AtomicU32::new(0);
static OFF_CPU: AtomicU32 = AtomicU32::new(0);
/// Per worker: comparisons made, and mismatches found.
static CHECKS: [AtomicU32; THREADS] = [const { AtomicU32::new(0) }; THREADS];
static MISMATCHES: [AtomicU32; THREADS] = [const { AtomicU32::new(0) }; THREADS];

extern "C" fn worker(t: usize) -> ! {
    let cpu = CPU.load(Ordering::Acquire);
    if sys::pin_to_cpu(cpu) != 0 || sys::current_cpu() != cpu as isize {
        OFF_CPU.fetch_add(1, Ordering::AcqRel);
    }
    // Start together, so that every yield hands the CPU to another worker.
    READY.fetch_add(1, Ordering::AcqRel);
    while READY.load(Ordering::Acquire) < THREADS as u32 {
        sys::sched_yield();
    }
    let switches = SWITCHES.load(Ordering::Acquire);
    let per_session = switches.div_ceil(SESSIONS);
    let (mut checks, mut mismatches) = (0, 0);
    for s in 0..SESSIONS {
        let mut b = FpuBlock::new(t as u32, s);
        b.spin_cycles = SHORT_CYCLES.load(Ordering::Acquire);
        session(&mut b, per_session);
        b.spin_cycles = LONG_CYCLES.load(Ordering::Acquire);
        session(&mut b, 1);
        checks += per_session + 1;
        mismatches += b.mismatches;
    }
    if sys::current_cpu() != cpu as isize {
        OFF_CPU.fetch_add(1, Ordering::AcqRel);
    }
    CHECKS[t].store(checks, Ordering::Release);
    MISMATCHES[t].store(mismatches, Ordering::Release);
    sys::exit(0)
}

/// TSC cycles per millisecond, measured over 20 ms of `CLOCK_MONOTONIC`.
fn tsc_per_ms() -> u64 {
    let (t0, c0) = (sys::monotonic_ns(), rdtsc());
    let mut t1 = t0;
    while t1 - t0 < 20_000_000 {
        t1 = sys::monotonic_ns();
    }
    let cycles = rdtsc().wrapping_sub(c0);
    (cycles * 1_000_000 / (t1 - t0)).max(1)
}

fn main(args: &Args) -> i32 {
    if let Some(n) = args.str(1) {
        match n.parse::<u32>() {
            Ok(n) if n > 0 => SWITCHES.store(n, Ordering::Release),
            _ => {
                println!("FAIL: usage: fpu_switch [SWITCHES > 0]");
                return 1;
            }
        }
    }
    let (_, cpu) = first_and_last(usable_cpus());
    CPU.store(cpu, Ordering::Release);
    let per_ms = tsc_per_ms();
    let clamp = |c: u64| c.min(u64::from(u32::MAX)) as u32;
    SHORT_CYCLES.store(clamp(per_ms * SHORT_SPIN_US / 1000), Ordering::Release);
    LONG_CYCLES.store(clamp(per_ms * LONG_SPIN_MS), Ordering::Release);
    let mut threads = [None; THREADS];
    for (t, slot) in threads.iter_mut().enumerate() {
        match Thread::spawn(worker, t) {
            Ok(thread) => *slot = Some(thread),
            Err(e) => {
                println!("FAIL: clone = {e}");
                return 1;
            }
        }
    }
    threads.iter().flatten().for_each(Thread::join);
    let (mut checks, mut bad) = (0, 0);
    for t in 0..THREADS {
        let (c, m) = (
            CHECKS[t].load(Ordering::Acquire),
            MISMATCHES[t].load(Ordering::Acquire),
        );
        println!(
            "fpu_switch: thread {t}: {c} checks after a switch, {m} found another task's FPU/SSE state"
        );
        checks += c;
        bad += m;
    }
    let off = OFF_CPU.load(Ordering::Acquire);
    if off != 0 {
        println!("FAIL: {off} times a thread was not on cpu {cpu}");
        return 1;
    }
    if bad == 0 {
        println!(
            "fpu_switch: ok: {THREADS} threads on cpu {cpu}, {checks} checks: x87, XMM0-7, FCW and MXCSR always the thread's own"
        );
        0
    } else {
        println!(
            "fpu_switch: CORRUPTED: {bad} of {checks} checks found FPU/SSE registers that were not the thread's own"
        );
        1
    }
}
