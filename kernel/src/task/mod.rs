//! Processes and their threads. A `Process` (shared by its threads through an `Arc`) owns
//! the address space and program break behind a lock, the set of CPUs that have the space
//! loaded, and the exit status; a `Task` is one thread: its tid, kernel stack, state and
//! counters.

pub mod sched;

use crate::files::FileTable;
use crate::mm::space::AddressSpace;
use crate::mm::temp::window::TempCounters;
use crate::percpu::cpu_id;
use crate::sync::IrqSpinLock;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use arch::trap::TrapFrame;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};
use smp::shootdown::{Flush, Space};

/// Size of each task's kernel stack.
pub const KERNEL_STACK_SIZE: usize = 16 * 1024;

#[repr(C, align(16))]
pub struct KernelStack([u8; KERNEL_STACK_SIZE]);

/// A process's user memory: its address space, program break and mmap area.
pub struct Memory {
    pub space: AddressSpace,
    /// First byte of the heap (page-aligned end of the highest ELF segment).
    pub brk_start: u32,
    /// Current program break.
    pub brk: u32,
}

/// What a task is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Ready,
    Running,
    /// Waiting until the tick count reaches the value.
    Sleeping(u64),
    /// Gone, with its exit status; reaped by the idle loop.
    Exited(i32),
}

/// What the threads of one program share.
pub struct Process {
    /// The process id: the first thread's tid.
    pub tgid: u32,
    pub name: String,
    /// The exit status the run expects (`expect=N` on the module's command line).
    pub expected: i32,
    /// The address space and break; threads and user copies hold the lock while they use
    /// the space, so it cannot change under them. It answers shootdowns while it spins.
    pub mem: IrqSpinLock<Memory>,
    directory: u32,
    /// CPUs that have this space loaded (bit per CPU): the targets of its shootdowns.
    active: AtomicU32,
    /// Threads not yet reaped.
    pub threads: AtomicU32,
    /// Set by `exit_group` (or a fatal fault): every thread leaves at its next return to
    /// user mode.
    pub exiting: AtomicBool,
    /// The process's exit status (the last `exit`, or `exit_group`'s).
    pub status: AtomicI32,
    /// Temp-mapping counters and system calls of threads already reaped.
    pub totals: IrqSpinLock<(TempCounters, u64)>,
    /// The open files, shared by the threads (`CLONE_FILES` is implied).
    pub files: IrqSpinLock<FileTable>,
}

impl Process {
    pub fn new(tgid: u32, name: String, expected: i32, mem: Memory) -> Self {
        Self {
            tgid,
            name,
            expected,
            directory: mem.space.directory(),
            mem: IrqSpinLock::new(mem),
            active: AtomicU32::new(0),
            threads: AtomicU32::new(0),
            exiting: AtomicBool::new(false),
            status: AtomicI32::new(0),
            totals: IrqSpinLock::new((TempCounters::default(), 0)),
            files: IrqSpinLock::new(FileTable::with_console()),
        }
    }

    /// The CPUs that have this space loaded.
    pub fn active_cpus(&self) -> u32 {
        self.active.load(Ordering::SeqCst)
    }

    /// Loads the space on this CPU. The CPU's bit is set before the load: a shootdown that
    /// changed a PTE before reading the mask either sees the bit (and interrupts this CPU)
    /// or changed the PTE before this CPU could cache it.
    pub fn activate(&self) {
        self.active.fetch_or(1 << cpu_id(), Ordering::SeqCst);
        // SAFETY: the kernel half is shared with every directory, so the running kernel
        // code, its stack and data stay mapped across the switch.
        unsafe { arch::cpu::load_cr3(self.directory) }
    }

    /// Notes that this CPU has loaded another CR3 (its TLB holds none of this space's
    /// non-global translations any more).
    pub fn deactivate(&self) {
        self.active.fetch_and(!(1 << cpu_id()), Ordering::SeqCst);
    }

    /// Invalidates `flush` of this space on every CPU that has it loaded (this one
    /// included), in one round, and returns when all have. Callers batch: change many PTEs,
    /// flush once, then free the frames the old translations pointed at.
    pub fn flush(&self, flush: Flush) {
        // The PTE stores before the read of `active`: a CPU that sets its bit after this
        // read must already see the new PTEs when it loads CR3 (`activate` sets the bit with
        // a locked operation before its load; this fence is the initiator's half).
        core::sync::atomic::fence(Ordering::SeqCst);
        crate::shootdown::shootdown(
            Space::User {
                directory: self.directory,
            },
            self.active_cpus(),
            flush,
        );
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        assert_eq!(self.active_cpus(), 0, "freeing a space some CPU has loaded");
    }
}

/// One thread.
pub struct Task {
    /// The thread id (the process's tgid for its first thread).
    pub pid: u32,
    pub process: Arc<Process>,
    pub state: State,
    /// This thread's use of temp mappings, folded in at every context switch.
    pub temp: TempCounters,
    pub syscalls: u64,
    /// The CPU whose run queue the task is on (chosen at spawn: the least loaded).
    pub cpu: usize,
    /// True from when a CPU switches to the task until the context that CPU switched to
    /// next has taken over (`sched::finish_switch`): until then the task's kernel stack is
    /// still in use and it may neither run elsewhere nor be freed.
    pub(crate) on_cpu: bool,
    /// Saved kernel stack pointer while switched out.
    pub(crate) saved_esp: usize,
    pub(crate) kstack: Box<KernelStack>,
}

impl Task {
    /// A task that will enter user mode with `frame` when first scheduled.
    pub fn new(pid: u32, process: Arc<Process>, cpu: usize, frame: &TrapFrame) -> Box<Task> {
        // SAFETY: an all-zero byte array is a valid KernelStack.
        let kstack = unsafe { Box::<KernelStack>::new_zeroed().assume_init() };
        process.threads.fetch_add(1, Ordering::SeqCst);
        let mut task = Box::new(Task {
            pid,
            process,
            state: State::Ready,
            temp: TempCounters::default(),
            syscalls: 0,
            cpu,
            on_cpu: false,
            saved_esp: 0,
            kstack,
        });
        let top = task.kernel_stack_top();
        // SAFETY: the stack is ours, 16-byte aligned, far larger than a frame.
        task.saved_esp = unsafe { arch::context::prepare_first_run(top, frame, sched::first_run) };
        task
    }

    /// The address the CPU loads into `esp` on a trap from this task's user mode.
    pub fn kernel_stack_top(&self) -> usize {
        self.kstack.0.as_ptr() as usize + KERNEL_STACK_SIZE
    }
}

/// The initial user-mode frame: entry point, user stack, user segments, interrupts on.
pub fn user_entry_frame(entry: u32, stack: u32) -> TrapFrame {
    let ds = u32::from(arch::gdt::USER_DS);
    TrapFrame {
        edi: 0,
        esi: 0,
        ebp: 0,
        esp_pushad: 0,
        ebx: 0,
        edx: 0,
        ecx: 0,
        eax: 0,
        gs: ds,
        fs: ds,
        es: ds,
        ds,
        vector: 0,
        error_code: 0,
        eip: entry,
        cs: u32::from(arch::gdt::USER_CS),
        eflags: 0x202,
        user_esp: stack,
        user_ss: ds,
    }
}
