//! Per-CPU descriptor tables: each CPU has its own GDT (flat kernel and user segments, its
//! TSS, the running task's three thread-local-storage segments at Linux's entries 6 to 8,
//! and a GS segment whose base is the CPU's per-CPU block) and its own TSS (which gives
//! ring-3 traps that CPU's kernel stack).

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
/// The first of the thread-local-storage entries (`set_thread_area`), as on Linux i386
/// (`GDT_ENTRY_TLS_MIN`): user selectors 0x33, 0x3b and 0x43.
pub const TLS_MIN: usize = 6;
/// How many TLS entries a task has (`GDT_ENTRY_TLS_ENTRIES`).
pub const TLS_ENTRIES: usize = 3;
/// Kernel GS selector: its base is the CPU's per-CPU block (`trap_common` reloads it).
pub const PERCPU_SEL: u16 = 0x48;

/// Accessed bit, preset so the CPU never writes the code and data descriptors when it
/// loads a segment.
const A: u8 = 1;

const ENTRIES: usize = 10;

#[repr(C, align(8))]
struct Tables {
    gdt: [u64; ENTRIES],
    tss: TaskStateSegment,
}

/// One CPU's GDT and TSS.
pub struct CpuTables(UnsafeCell<Tables>);

// SAFETY: a CPU's tables are written by `load` before that CPU uses them and afterwards only
// by `set_kernel_stack`, which that CPU alone calls, with interrupts off.
unsafe impl Sync for CpuTables {}

impl Default for CpuTables {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuTables {
    pub const fn new() -> Self {
        Self(UnsafeCell::new(Tables {
            gdt: [
                0,
                flat(descriptor::KERNEL_CODE | A),
                flat(descriptor::KERNEL_DATA | A),
                flat(descriptor::USER_CODE | A),
                flat(descriptor::USER_DATA | A),
                0, // TSS: base known only at run time
                0, // TLS entries of the running task (`set_tls`)
                0,
                0,
                0, // per-CPU GS: base known only at run time
            ],
            tss: TaskStateSegment::new(),
        }))
    }

    /// Loads these tables on the running CPU, reloads every segment register, loads the TSS
    /// and points GS at `percpu_base` (`percpu_size` bytes).
    ///
    /// # Safety
    /// Ring 0, once per CPU, interrupts off, before the CPU uses GS or takes a ring-3 trap;
    /// flat memory already in use, so code and stack keep their linear addresses; `self`
    /// lives for as long as the CPU runs.
    pub unsafe fn load(&'static self, percpu_base: u32, percpu_size: u32) {
        // SAFETY: per the contract nobody else uses these tables yet.
        let t = unsafe { &mut *self.0.get() };
        t.tss.ss0 = KERNEL_DS;
        // No I/O permission bitmap: its offset points past the segment limit.
        t.tss.iobp_offset = core::mem::size_of::<TaskStateSegment>() as u16;
        let tss_base = &t.tss as *const TaskStateSegment as u32;
        let tss_limit = core::mem::size_of::<TaskStateSegment>() as u32 - 1;
        t.gdt[5] = segment(
            tss_base,
            tss_limit,
            descriptor::TSS_AVAILABLE,
            descriptor::FLAGS_BYTE,
        );
        t.gdt[usize::from(PERCPU_SEL >> 3)] = segment(
            percpu_base,
            percpu_size - 1,
            descriptor::KERNEL_DATA | A,
            descriptor::FLAGS_BYTE | 0x4,
        );
        let ptr = Pointer {
            limit: (core::mem::size_of::<[u64; ENTRIES]>() - 1) as u16,
            base: t.gdt.as_ptr() as u32,
        };
        // SAFETY: the new segments are flat like the old ones; the far return reloads CS;
        // the TSS descriptor was just written and is available (ltr marks it busy).
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
                "mov ss, {ds:e}",
                "mov gs, {gs:e}",
                "ltr {tss:x}",
                ptr = in(reg) &ptr,
                cs = const KERNEL_CS as u32,
                ds = in(reg) u32::from(KERNEL_DS),
                gs = in(reg) u32::from(PERCPU_SEL),
                tss = in(reg) u32::from(TSS_SEL),
                tmp = out(reg) _,
            );
        }
    }

    /// Sets the stack this CPU switches to when a trap arrives from ring 3.
    ///
    /// # Safety
    /// Only the CPU that loaded these tables calls this, with interrupts off; `esp0` must be
    /// the top of a kernel stack that stays valid while user code runs.
    #[inline]
    pub unsafe fn set_kernel_stack(&self, esp0: u32) {
        // SAFETY: a plain store to this CPU's TSS, which the CPU only reads on a ring
        // transition, which cannot happen while interrupts are off in ring 0.
        unsafe { (*self.0.get()).tss.esp0 = esp0 };
    }

    /// Installs the running task's TLS descriptors (entries `TLS_MIN..TLS_MIN + 3`).
    ///
    /// # Safety
    /// Only the CPU that loaded these tables calls this, with interrupts off, and the
    /// descriptors are user data segments (or 0): the CPU reads them when a segment
    /// register is loaded with their selector, which the kernel does only on its way back
    /// to user mode.
    #[inline]
    pub unsafe fn set_tls(&self, entries: &[u64; TLS_ENTRIES]) {
        // SAFETY: per the contract, plain stores to this CPU's own GDT.
        let tables = unsafe { &mut *self.0.get() };
        tables.gdt[TLS_MIN..TLS_MIN + TLS_ENTRIES].copy_from_slice(entries);
    }

    /// Whether user selector `selector` may be loaded on the way back to user mode: the null
    /// selector, the flat user segments, or a TLS entry of the running task that is present.
    pub fn user_selector_valid(&self, selector: u16) -> bool {
        let index = usize::from(selector >> 3);
        // SAFETY: a read of this CPU's GDT, which only this CPU writes (interrupts off).
        let gdt = unsafe { &(*self.0.get()).gdt };
        match index {
            0 => selector & 4 == 0,
            _ if selector & 7 != 3 => false,
            3 | 4 => true,
            i if (TLS_MIN..TLS_MIN + TLS_ENTRIES).contains(&i) => gdt[i] & (1 << 47) != 0,
            _ => false,
        }
    }
}

#[repr(C, packed)]
struct Pointer {
    limit: u16,
    base: u32,
}
