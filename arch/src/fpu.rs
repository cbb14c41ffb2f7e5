//! The x87/SSE register file of a task: turned on per CPU, saved and restored at a context
//! switch (`fxsave`/`fxrstor` with CR4.OSFXSR; `fnsave`/`frstor` on a CPU without FXSR).
//!
//! The kernel itself never executes an FPU or SSE instruction (its target has no SSE, and
//! its 64-bit atomics avoid x87: `atomic64`), so the registers always hold the state of
//! the task that runs on the CPU, and saving them eagerly at each switch is all it takes.

use core::arch::asm;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use x86::controlregs::{Cr0, Cr4};

/// Whether the CPUs have FXSAVE (checked once on the boot CPU; QEMU gives every CPU the
/// same model).
static FXSR: AtomicBool = AtomicBool::new(false);
/// The MXCSR bits this CPU accepts (FXSAVE's MXCSR_MASK, 0xffbf when it reports none):
/// `fxrstor` of any other bit raises #GP, so an image from user memory is masked first.
static MXCSR_MASK: AtomicU32 = AtomicU32::new(0xffbf);

/// Where the first CPU's `enable` reads MXCSR_MASK (once: `PROBED`).
struct Probe(core::cell::UnsafeCell<FpuState>);
// SAFETY: written once, by the one CPU that set PROBED.
unsafe impl Sync for Probe {}
static PROBE: Probe = Probe(core::cell::UnsafeCell::new(FpuState([0; 512])));
static PROBED: AtomicBool = AtomicBool::new(false);

/// Whether task state is an FXSAVE image (else an FNSAVE one).
pub fn fxsr() -> bool {
    FXSR.load(Ordering::Relaxed)
}

/// One task's saved register file: the 512-byte FXSAVE image (an FNSAVE image uses the
/// first 108 bytes).
#[repr(C, align(16))]
#[derive(Clone)]
pub struct FpuState([u8; 512]);

impl FpuState {
    /// The state a new task starts with: what `fninit` and MXCSR's reset value give
    /// (all exceptions masked, round to nearest, empty x87 stack, zeroed XMM registers).
    pub fn initial() -> Self {
        let mut s = FpuState([0; 512]);
        if FXSR.load(Ordering::Relaxed) {
            // FCW 0x037f at offset 0, MXCSR 0x1f80 at 24, MXCSR_MASK 0xffff at 28 (the
            // mask is ignored by fxrstor); tag word 0 (abridged: all empty).
            s.0[0..2].copy_from_slice(&0x037f_u16.to_le_bytes());
            s.0[24..28].copy_from_slice(&0x1f80_u32.to_le_bytes());
        } else {
            // FNSAVE layout: control word 0x037f, tag word 0xffff (all empty).
            s.0[0..2].copy_from_slice(&0x037f_u16.to_le_bytes());
            s.0[8..10].copy_from_slice(&0xffff_u16.to_le_bytes());
        }
        s
    }

    /// Saves this CPU's registers here.
    #[inline]
    pub fn save(&mut self) {
        let p = self.0.as_mut_ptr();
        if FXSR.load(Ordering::Relaxed) {
            // SAFETY: `p` is a 16-byte aligned, writable 512-byte area; fxsave only
            // stores the register file there.
            unsafe { asm!("fxsave [{}]", in(reg) p, options(nostack, preserves_flags)) };
        } else {
            // SAFETY: as above (108 bytes); fnsave also re-initialises the x87 unit, which
            // the restore that follows every save overwrites.
            unsafe { asm!("fnsave [{}]", in(reg) p, options(nostack, preserves_flags)) };
        }
    }

    /// Loads this CPU's registers from here.
    #[inline]
    pub fn restore(&self) {
        let p = self.0.as_ptr();
        if FXSR.load(Ordering::Relaxed) {
            // SAFETY: `p` is a 16-byte aligned 512-byte image made by `initial` or `save`
            // (reserved MXCSR bits clear), so fxrstor cannot fault.
            unsafe { asm!("fxrstor [{}]", in(reg) p, options(nostack, preserves_flags)) };
        } else {
            // SAFETY: as above, an FNSAVE image.
            unsafe { asm!("frstor [{}]", in(reg) p, options(nostack, preserves_flags)) };
        }
    }

    /// The raw image (tests compare register values through it; signal frames hold it).
    pub fn bytes(&self) -> &[u8; 512] {
        &self.0
    }

    /// A state from an image a program handed in (a signal frame's): the reserved MXCSR
    /// bits are cleared so that `restore` cannot fault; anything else an image holds is
    /// a register value the program may choose.
    pub fn from_image(image: &[u8; 512]) -> Self {
        let mut s = FpuState(*image);
        if fxsr() {
            let mxcsr = u32::from_le_bytes(s.0[24..28].try_into().expect("4"))
                & MXCSR_MASK.load(Ordering::Relaxed);
            s.0[24..28].copy_from_slice(&mxcsr.to_le_bytes());
        }
        s
    }
}

/// Enables the FPU and, when the CPU has them, FXSAVE and SSE on the running CPU: CR0.MP
/// and NE set, EM and TS clear; CR4.OSFXSR and OSXMMEXCPT set. Returns whether SSE state
/// is saved (FXSR).
///
/// # Safety
/// Ring 0, once per CPU at start-up, before any task runs on it.
pub unsafe fn enable() -> bool {
    let fxsr = crate::cpu::has_fxsr();
    FXSR.store(fxsr, Ordering::Relaxed);
    // SAFETY: ring 0 (the caller's contract); these bits only change how FPU and SSE
    // instructions behave, and no task has FPU state on this CPU yet.
    unsafe {
        let mut cr0 = x86::controlregs::cr0();
        cr0 |= Cr0::CR0_MONITOR_COPROCESSOR | Cr0::CR0_NUMERIC_ERROR;
        cr0 -= Cr0::CR0_EMULATE_COPROCESSOR | Cr0::CR0_TASK_SWITCHED;
        x86::controlregs::cr0_write(cr0);
        if fxsr {
            let mut cr4 = x86::controlregs::cr4();
            cr4 |= Cr4::CR4_ENABLE_SSE | Cr4::CR4_UNMASKED_SSE;
            x86::controlregs::cr4_write(cr4);
        }
        asm!("fninit", options(nostack, nomem));
    }
    if fxsr && !PROBED.swap(true, Ordering::AcqRel) {
        // SAFETY: only the first CPU to get here (PROBED) touches PROBE, once; a static
        // keeps the image 16-byte aligned whatever the boot stack's alignment.
        let probe = unsafe { &mut *PROBE.0.get() };
        probe.save();
        let mask = u32::from_le_bytes(probe.0[28..32].try_into().expect("4"));
        if mask != 0 {
            MXCSR_MASK.store(mask, Ordering::Relaxed);
        }
    }
    fxsr
}
