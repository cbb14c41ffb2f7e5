//! Processes: one thread each for now (pid = tid), with their own address space, kernel
//! stack, program break and temp-mapping counters.

pub mod sched;

use crate::mm::space::AddressSpace;
use crate::mm::temp::window::TempCounters;
use alloc::boxed::Box;
use alloc::string::String;
use arch::trap::TrapFrame;

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

/// A process (with its one thread).
pub struct Task {
    pub pid: u32,
    pub name: String,
    /// The exit status the run expects (`expect=N` on the module's command line).
    pub expected: i32,
    pub state: State,
    pub mem: Memory,
    /// This process's use of temp mappings, folded in at every context switch.
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
    pub fn new(
        pid: u32,
        name: String,
        expected: i32,
        cpu: usize,
        mem: Memory,
        frame: &TrapFrame,
    ) -> Box<Task> {
        // SAFETY: an all-zero byte array is a valid KernelStack.
        let kstack = unsafe { Box::<KernelStack>::new_zeroed().assume_init() };
        let mut task = Box::new(Task {
            pid,
            name,
            expected,
            state: State::Ready,
            mem,
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
