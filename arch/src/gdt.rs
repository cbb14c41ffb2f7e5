//! Per-CPU descriptor tables: each CPU has its own GDT (flat kernel and user segments, its
//! TSS, the running task's three thread-local-storage segments at Linux's entries 6 to 8,
//! a GS segment whose base is the CPU's per-CPU block, the running process's LDT and the
//! espfix stack segment of `arch::trap`) and its own TSS (which gives ring-3 traps that
//! CPU's kernel stack), followed in its segment by the I/O permission bitmap of the task
//! running there (`ioperm`).

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
/// The LDT descriptor's selector (`lldt`): the running process's table (`modify_ldt`).
pub const LDT_SEL: u16 = 0x50;
/// The espfix stack segment (`arch::trap`): a flat 32-bit kernel data segment whose base
/// the return path sets so that the kernel stack, seen through it, has the user stack
/// pointer's high half. Returning to a 16-bit stack segment, `iret` loads only the low half
/// of ESP and keeps the high half it had: this way it is the user's, not the kernel's.
pub const ESPFIX_SS: u16 = 0x58;
/// Index of the espfix descriptor in the GDT.
pub const ESPFIX_INDEX: usize = (ESPFIX_SS >> 3) as usize;
/// A user data segment whose limit is the CPU's number (and NUMA node, 0, times 4096): the
/// vDSO's `__vdso_getcpu` reads it with `lsl` in user mode, as Linux's `GDT_ENTRY_CPUNODE`.
pub const CPUNODE_SEL: u16 = 0x60 | 3;

/// Accessed bit, preset so the CPU never writes the code and data descriptors when it
/// loads a segment.
const A: u8 = 1;

const ENTRIES: usize = 13;

#[repr(C, align(8))]
struct Tables {
    gdt: [u64; ENTRIES],
    /// The CPU's TSS area (set by `load`).
    tss: *mut TssInner,
    /// Whether the TSS gives ring 3 any port now (the running task's `ioperm` bitmap).
    io_open: bool,
    /// Whether an LDT is loaded (`load_ldt`).
    ldt_loaded: bool,
}

/// One CPU's GDT (and where its TSS is).
pub struct CpuTables(UnsafeCell<Tables>);

// SAFETY: a CPU's tables are written by `load` before that CPU uses them and afterwards only
// by `set_kernel_stack`, `set_tls` and `set_io_bitmap`, which that CPU alone calls, with
// interrupts off.
unsafe impl Sync for CpuTables {}

/// Bytes of the I/O permission bitmap: one bit per port, 65 536 ports.
pub const IO_BITMAP_BYTES: usize = 65_536 / 8;

/// The offset of the I/O bitmap in the TSS segment when the running task has none: past
/// the segment's limit, so every port is refused to ring 3.
const NO_IO_BITMAP: u16 = (size_of::<TaskStateSegment>() + IO_BITMAP_BYTES + 1) as u16;

/// Bytes of a CPU's SYSENTER entry stack: the stub's first instruction leaves it, but a
/// single-step trap (the caller had TF set, which SYSENTER keeps) or an NMI may come
/// before, and runs the kernel's trap handler on it.
const ENTRY_STACK: usize = 4096;

#[repr(C, align(16))]
struct TssInner {
    /// SYSENTER's stack: its top is the TSS, whose `esp0` the stub loads at once.
    entry_stack: [u8; ENTRY_STACK],
    tss: TaskStateSegment,
    /// A clear bit gives ring 3 its port. The byte after the last port's stays all ones:
    /// the CPU may read it when it checks a word-sized access to the last ports.
    io_bitmap: [u8; IO_BITMAP_BYTES + 1],
    /// How many leading bytes of `io_bitmap` may hold a clear bit (the rest are all ones).
    io_len: usize,
}

/// A CPU's TSS and its I/O permission bitmap, which must follow it in the same segment:
/// 8 KiB and more, so not part of the per-CPU block (an application processor builds its
/// block on a small boot stack). The kernel keeps one per CPU, statically.
pub struct TssArea(UnsafeCell<TssInner>);

// SAFETY: written by `CpuTables::load` before its CPU uses it, then only by that CPU (the
// `CpuTables` methods), with interrupts off.
unsafe impl Sync for TssArea {}

impl Default for TssArea {
    fn default() -> Self {
        Self::new()
    }
}

impl TssArea {
    pub const fn new() -> Self {
        Self(UnsafeCell::new(TssInner {
            entry_stack: [0; ENTRY_STACK],
            tss: TaskStateSegment::new(),
            io_bitmap: [0xff; IO_BITMAP_BYTES + 1],
            io_len: 0,
        }))
    }
}

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
                0, // LDT of the running process (`load_ldt`)
                // espfix stack: base set by the return path
                flat(descriptor::KERNEL_DATA | A),
                0, // the CPU's number (`set_cpu_number`)
            ],
            tss: core::ptr::null_mut(),
            io_open: false,
            ldt_loaded: false,
        }))
    }

    /// Loads these tables on the running CPU, reloads every segment register, loads the TSS
    /// (in `tss`, this CPU's alone) and points GS at `percpu_base` (`percpu_size` bytes).
    ///
    /// # Safety
    /// Ring 0, once per CPU, interrupts off, before the CPU uses GS or takes a ring-3 trap;
    /// flat memory already in use, so code and stack keep their linear addresses; `self`
    /// and `tss` live for as long as the CPU runs, and no other CPU uses `tss`.
    pub unsafe fn load(&'static self, tss: &'static TssArea, percpu_base: u32, percpu_size: u32) {
        // SAFETY: per the contract nobody else uses these tables yet.
        let t = unsafe { &mut *self.0.get() };
        t.tss = tss.0.get();
        // SAFETY: per the contract the area is this CPU's, unused until now.
        let area = unsafe { &mut *t.tss };
        area.tss.ss0 = KERNEL_DS;
        // No I/O permission bitmap yet: its offset points past the segment limit.
        area.tss.iobp_offset = NO_IO_BITMAP;
        let tss_base = &area.tss as *const TaskStateSegment as u32;
        // The TSS, the bitmap and its closing byte of ones.
        let tss_limit = (size_of::<TaskStateSegment>() + IO_BITMAP_BYTES + 1) as u32 - 1;
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

    /// Writes the CPU's number in its `CPUNODE_SEL` descriptor's limit (node 0).
    ///
    /// # Safety
    /// Only the CPU that loaded these tables calls this, once, with interrupts off.
    pub unsafe fn set_cpu_number(&self, cpu: u32) {
        // SAFETY: per the contract, a plain store to this CPU's own GDT; no segment
        // register holds the selector yet.
        let tables = unsafe { &mut *self.0.get() };
        tables.gdt[usize::from(CPUNODE_SEL >> 3)] = segment(
            0,
            cpu & 0xfff,
            descriptor::USER_DATA | A,
            descriptor::FLAGS_BYTE | 0x4,
        );
    }

    /// Makes `sysenter` enter the kernel at `entry` (`arch::trap`'s stub), on this CPU's
    /// entry stack, which ends where the TSS begins: the stub loads the TSS's `esp0` (4
    /// bytes above the stack pointer) first.
    ///
    /// # Safety
    /// Only the CPU that loaded these tables calls this, with interrupts off, on a CPU that
    /// has SYSENTER (`cpu::has_sysenter`); `entry` is the stub.
    pub unsafe fn enable_sysenter(&self, entry: u32) {
        // SAFETY: per the contract; `load` set the TSS pointer.
        let top = unsafe { core::ptr::addr_of!((*(*self.0.get()).tss).tss) } as u64;
        // SAFETY: the SYSENTER MSRs exist (the contract); KERNEL_CS is followed by
        // KERNEL_DS, USER_CS and USER_DS, the layout SYSENTER and SYSEXIT require.
        unsafe {
            x86::msr::wrmsr(x86::msr::IA32_SYSENTER_CS, u64::from(KERNEL_CS));
            x86::msr::wrmsr(x86::msr::IA32_SYSENTER_ESP, top);
            x86::msr::wrmsr(x86::msr::IA32_SYSENTER_EIP, u64::from(entry));
        }
    }

    /// Sets the stack this CPU switches to when a trap arrives from ring 3.
    ///
    /// # Safety
    /// Only the CPU that loaded these tables calls this, with interrupts off; `esp0` must be
    /// the top of a kernel stack that stays valid while user code runs.
    #[inline]
    pub unsafe fn set_kernel_stack(&self, esp0: u32) {
        // SAFETY: a plain store to this CPU's TSS (set by `load`), which the CPU only reads
        // on a ring transition, which cannot happen while interrupts are off in ring 0.
        unsafe { (*(*self.0.get()).tss).tss.esp0 = esp0 };
    }

    /// Whether the TSS gives ring 3 any port now.
    #[inline]
    pub fn io_open(&self) -> bool {
        // SAFETY: a read of this CPU's own flag (only this CPU writes it, interrupts off).
        unsafe { (*self.0.get()).io_open }
    }

    /// Gives ring 3 the ports whose bits are clear in `bitmap` (the bitmap's first bytes;
    /// every port past them refused), or no port at all for `None`.
    ///
    /// # Safety
    /// Only the CPU that loaded these tables calls this, with interrupts off (or
    /// preemption off, in the task whose bitmap it is).
    pub unsafe fn set_io_bitmap(&self, bitmap: Option<&[u8]>) {
        // SAFETY: per the contract these tables and their TSS area are this CPU's alone.
        let t = unsafe { &mut *self.0.get() };
        // SAFETY: as above; `load` set the pointer.
        let area = unsafe { &mut *t.tss };
        match bitmap {
            None => {
                area.tss.iobp_offset = NO_IO_BITMAP;
                t.io_open = false;
            }
            Some(bytes) => {
                let len = bytes.len().min(IO_BITMAP_BYTES);
                area.io_bitmap[..len].copy_from_slice(&bytes[..len]);
                if area.io_len > len {
                    area.io_bitmap[len..area.io_len].fill(0xff);
                }
                area.io_len = len;
                area.tss.iobp_offset = size_of::<TaskStateSegment>() as u16;
                t.io_open = true;
            }
        }
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

    /// Makes `ldt` (the running process's local descriptor table: its address and number of
    /// entries, 1 to 8192) this CPU's LDT, or leaves the CPU without one for `None` (every
    /// selector naming the LDT then faults).
    ///
    /// # Safety
    /// Only the CPU that loaded these tables calls this, with interrupts off; the table
    /// holds user-mode descriptors only, and stays allocated until this CPU has loaded
    /// another (or none).
    pub unsafe fn load_ldt(&self, ldt: Option<(u32, usize)>) {
        // SAFETY: per the contract, these tables are this CPU's alone.
        let tables = unsafe { &mut *self.0.get() };
        match ldt {
            Some((base, entries)) => {
                debug_assert!((1..=8192).contains(&entries));
                tables.gdt[usize::from(LDT_SEL >> 3)] = segment(
                    base,
                    (entries * 8 - 1) as u32,
                    descriptor::LDT,
                    descriptor::FLAGS_BYTE,
                );
                // SAFETY: the descriptor just written is a present LDT.
                unsafe { asm!("lldt {0:x}", in(reg) u32::from(LDT_SEL), options(nostack)) };
                tables.ldt_loaded = true;
            }
            // Nearly every process has none: nothing to do when none is loaded.
            None if !tables.ldt_loaded => {}
            None => {
                // SAFETY: the null selector leaves the CPU without an LDT.
                unsafe { asm!("lldt {0:x}", in(reg) 0u32, options(nostack)) };
                tables.ldt_loaded = false;
            }
        }
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
