//! Processes and their threads. A `Process` (shared by its threads through an `Arc`) owns
//! the address space and program break behind a lock, the set of CPUs whose TLB may hold
//! its translations, and the exit status; a `Task` is one thread: its tid, kernel stack,
//! scheduling state, saved FPU registers and parked temp mappings. The scheduler
//! (`crate::sched`) moves tasks between CPUs and decides what runs.

pub mod exec;
pub mod ldt;
pub mod signal;

use crate::cpu::percpu::cpu_id;
use crate::cpu::sync::IrqSpinLock;
use crate::fs::Files;
use crate::mm::space::AddressSpace;
use crate::mm::temp::ParkedSlots;
use crate::mm::temp::window::TempCounters;
use crate::sched::mutex::Mutex;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use arch::atomic64::AtomicU64;
use arch::fpu::FpuState;
use arch::tally::Tally;
use arch::trap::TrapFrame;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicU32, AtomicUsize, Ordering};
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
    /// Where the vDSO is mapped (0: nowhere), for the signal trampolines (`mremap`
    /// moving it moves this too).
    pub vdso: u32,
}

/// What a task is doing (`Task::state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    /// On a CPU, or being switched to.
    Running = 0,
    /// In a run queue.
    Ready = 1,
    /// Waiting for a wake-up (a wait queue, a futex, a timer).
    Blocked = 2,
    /// Gone; freed once no CPU is on its stack.
    Exited = 3,
}

impl State {
    fn from_u8(v: u8) -> State {
        match v {
            0 => State::Running,
            1 => State::Ready,
            2 => State::Blocked,
            _ => State::Exited,
        }
    }
}

/// What a process's threads leave behind when they are reaped, for its exit record.
#[derive(Clone, Copy, Default)]
pub struct Totals {
    pub temp: TempCounters,
    pub syscalls: u64,
    pub temp_by_class: [u64; crate::cpu::percpu::CLASS_COUNT],
}

/// What the threads of one program share.
pub struct Process {
    /// The process id: the first thread's tid.
    pub tgid: u32,
    pub name: String,
    /// The exit status the run expects (`expect=N` on the module's command line).
    pub expected: i32,
    /// The address space and break; threads and user copies hold the lock while they use
    /// the space, so it cannot change under them. A sleeping lock: its holder may be
    /// preempted (a user copy of 64 KiB is), and a thread that finds it held blocks.
    pub mem: Mutex<Memory>,
    directory: u32,
    /// CPUs whose TLB may hold this space's translations (bit per CPU): those that have
    /// its directory loaded, running one of its threads or idle after one (lazy TLB). The
    /// targets of its shootdowns.
    active: AtomicU32,
    /// Its local descriptor table (`modify_ldt`), loaded with the space.
    pub ldt: ldt::Ldt,
    /// Threads not yet reaped.
    pub threads: AtomicU32,
    /// Set by `exit_group` (or a fatal fault): every thread leaves at its next return to
    /// user mode.
    pub exiting: AtomicBool,
    /// The process's exit status (the last `exit`, or `exit_group`'s).
    pub status: AtomicI32,
    /// Temp-mapping counters and system calls of threads already reaped.
    pub totals: IrqSpinLock<Totals>,
    /// User and group ids (copied by `fork`, kept by `execve`).
    pub cred: IrqSpinLock<crate::cred::Credentials>,
    /// The open files, shared by the threads (`CLONE_FILES` is implied).
    pub files: IrqSpinLock<Files>,
    /// Its parent and children (`fork`, `wait4`).
    pub family: IrqSpinLock<Family>,
    /// Notified when a child ends (its `wait4` callers wait on it).
    pub child_events: crate::sched::waitlist::WaitList,
    /// Made by `fork`: not one of the run's programs (no exit record of its own).
    pub forked: AtomicBool,
    /// The signal that ended it, if one did (0: it exited), for its parent's `wait4`.
    pub killed_by: AtomicU32,
    /// Its process group and session (`setpgid`, `setsid`; a new program's are its pid,
    /// a forked child's its parent's).
    pub pgid: AtomicU32,
    pub sid: AtomicU32,
    /// The working directory (an inode of the root file system; `chdir`).
    pub cwd: AtomicU32,
    /// The absolute path of the program it runs, if it came from the file system (empty: a
    /// boot module): what `/proc/self/exe` names.
    pub exe: IrqSpinLock<alloc::vec::Vec<u8>>,
    /// The permission bits a created file or directory does not get (`umask`).
    pub umask: AtomicU32,
    /// Signal dispositions and the signals sent to the process as a whole.
    pub signals: IrqSpinLock<signal::ProcessSignals>,
    /// Set while `signals` may hold a pending signal (read without the lock at every
    /// return to user mode).
    pub signal_hint: AtomicBool,
    /// Stop signals (bit `sig - SIGSTOP`) whose default action it was told does nothing
    /// (no job control yet): each is said once.
    pub stops_ignored: AtomicU32,
    /// When it started (monotonic ns), for its exit record.
    pub started_ns: u64,
    /// System call numbers it made that Tempest lacks (each is logged once).
    /// (Taken only by its own threads, never in an interrupt: interrupts stay on.)
    pub unknown_calls: crate::cpu::sync::PreemptSpinLock<alloc::vec::Vec<u32>>,
    /// Last: see `Live`.
    _live: Live,
}

/// A process's place among others.
#[derive(Default)]
pub struct Family {
    /// The process that forked it (gone: none; an orphan is given to pid 1 if it lives).
    pub parent: Option<alloc::sync::Weak<Process>>,
    pub children: alloc::vec::Vec<Child>,
}

/// A child, running or ended (a zombie until its parent's `wait4` takes its status).
pub struct Child {
    pub pid: u32,
    pub process: alloc::sync::Weak<Process>,
    /// Its wait status once it ended: `(status & 0xff) << 8`, or the signal that ended it.
    pub status: Option<u32>,
    /// Its process group when it ended (while it runs, its process says).
    pub pgid: u32,
}

impl Child {
    /// Its process group now, for `wait4(-pgid)` and `waitid(P_PGID)`.
    pub fn group(&self) -> u32 {
        self.process
            .upgrade()
            .map_or(self.pgid, |p| p.pgid.load(Ordering::Relaxed))
    }
}

/// Processes whose memory is not freed yet (a CPU idle after one keeps it loaded).
static LIVE: AtomicU32 = AtomicU32::new(0);

/// How many processes still hold their address space.
pub fn live_processes() -> u32 {
    LIVE.load(Ordering::SeqCst)
}

/// Counts one process in `LIVE` from creation until its last field is gone: declared last
/// in `Process`, so it drops after the address space has freed its frames.
struct Live;

impl Live {
    fn new() -> Self {
        LIVE.fetch_add(1, Ordering::SeqCst);
        Live
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Process {
    pub fn new(tgid: u32, name: String, expected: i32, mem: Memory) -> Self {
        Self {
            tgid,
            name,
            expected,
            directory: mem.space.directory(),
            mem: Mutex::new(mem),
            active: AtomicU32::new(0),
            ldt: ldt::Ldt::new(),
            threads: AtomicU32::new(0),
            exiting: AtomicBool::new(false),
            status: AtomicI32::new(0),
            totals: IrqSpinLock::new(Totals::default()),
            cred: IrqSpinLock::new(crate::cred::Credentials::default()),
            files: IrqSpinLock::new(Files::with_console()),
            family: IrqSpinLock::new(Family::default()),
            child_events: crate::sched::waitlist::WaitList::new(),
            forked: AtomicBool::new(false),
            killed_by: AtomicU32::new(0),
            pgid: AtomicU32::new(tgid),
            sid: AtomicU32::new(tgid),
            cwd: AtomicU32::new(crate::fs::tree::ROOT),
            exe: IrqSpinLock::new(alloc::vec::Vec::new()),
            umask: AtomicU32::new(0o022),
            unknown_calls: crate::cpu::sync::PreemptSpinLock::new(alloc::vec::Vec::new()),
            started_ns: crate::time::monotonic_ns(),
            stops_ignored: AtomicU32::new(0),
            signals: IrqSpinLock::new(signal::ProcessSignals::new()),
            signal_hint: AtomicBool::new(false),
            _live: Live::new(),
        }
    }

    /// The CPUs that have this space loaded.
    pub fn active_cpus(&self) -> u32 {
        self.active.load(Ordering::SeqCst)
    }

    /// Loads the space, and its LDT, on this CPU (interrupts off). The CPU's bit is set
    /// before either load: a shootdown that changed a PTE before reading the mask either
    /// sees the bit (and interrupts this CPU) or changed the PTE before this CPU could cache
    /// it; the same holds for an LDT change (`proc::ldt`).
    pub fn activate(&self) {
        self.active.fetch_or(1 << cpu_id(), Ordering::SeqCst);
        // SAFETY: the kernel half is shared with every directory, so the running kernel
        // code, its stack and data stay mapped across the switch.
        unsafe { arch::cpu::load_cr3(self.directory) }
        // SAFETY: interrupts are off (the caller switches tasks); the bit is set above and
        // cleared only after this CPU activates another process.
        unsafe { self.ldt.load_here() }
    }

    /// The CPUs that have this space loaded, as the LDT's changes read them.
    pub fn active_mask(&self) -> &AtomicU32 {
        &self.active
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
        // From reading the targets to the end of the round on one CPU: the caller holds a
        // sleeping lock and may otherwise be preempted and moved in between.
        let _irq = arch::cpu::IrqGuard::new();
        // The PTE stores before the read of `active`: a CPU that sets its bit after this
        // read must already see the new PTEs when it loads CR3 (`activate` sets the bit with
        // a locked operation before its load; this fence is the initiator's half).
        core::sync::atomic::fence(Ordering::SeqCst);
        let targets = if crate::cpu::shootdown::running_only() {
            // Negative control: only where a thread runs now; lazy CPUs are forgotten.
            crate::sched::cpus_running(self)
        } else {
            self.active_cpus()
        };
        crate::cpu::shootdown::shootdown(
            Space::User {
                directory: self.directory,
            },
            targets,
            flush,
        );
    }
}

/// The one name of `/proc` Tempest knows: the running program's file.
pub const PROC_SELF_EXE: &[u8] = b"/proc/self/exe";

/// `path`, or for `/proc/self/exe` the calling process's program (`self_exe`).
pub fn self_exe_or(path: alloc::vec::Vec<u8>) -> Result<alloc::vec::Vec<u8>, crate::errno::Errno> {
    if path == PROC_SELF_EXE {
        self_exe()
    } else {
        Ok(path)
    }
}

/// The calling process's program's absolute path (`ENOENT` when it did not come from the
/// file system: a boot module).
pub fn self_exe() -> Result<alloc::vec::Vec<u8>, crate::errno::Errno> {
    let exe = crate::sched::current_process().exe.lock().clone();
    if exe.is_empty() {
        Err(crate::errno::Errno::ENOENT)
    } else {
        Ok(exe)
    }
}

/// The memory layer's flush of a page it changed in the space with page directory
/// `directory` (`mm::cow`): the running process's, on every CPU that has it loaded. (The
/// memory layer changes only the running process's pages, or those of a space not yet
/// loaded anywhere, which needs nothing.)
pub fn flush_space(directory: u32, flush: Flush) {
    if !crate::sched::in_task() {
        return;
    }
    let process = crate::sched::current_process();
    if process.directory == directory {
        process.flush(flush);
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        assert_eq!(self.active_cpus(), 0, "freeing a space some CPU has loaded");
    }
}

/// Threads the whole system may have at once (`clone` and process start-up beyond: `EAGAIN`):
/// each has a 16 KiB kernel stack on the kernel heap, and 256 of them take half of it.
pub const MAX_THREADS: u32 = 256;
/// Threads one process may have at once, so that one program cannot take them all.
pub const MAX_THREADS_PER_PROCESS: u32 = 192;

/// Tasks that exist (created and not yet freed).
static THREADS: AtomicU32 = AtomicU32::new(0);

/// How many tasks exist.
pub fn live_threads() -> u32 {
    THREADS.load(Ordering::SeqCst)
}

/// No deadline (`Task::deadline`).
pub const NO_DEADLINE: u64 = u64::MAX;

/// One thread.
pub struct Task {
    /// The thread id (the process's tgid for its first thread).
    pub tid: u32,
    pub process: Arc<Process>,
    /// A `State`, changed under the lock of the run queue the task belongs to (`cpu`).
    state: AtomicU8,
    /// The CPU whose run queue the task belongs to: where it runs, waits to run, or last
    /// ran. Changed only under that run queue's lock.
    pub(crate) cpu: AtomicUsize,
    /// The CPUs it may run on (bit per CPU; `sched_setaffinity`).
    pub(crate) affinity: AtomicU32,
    /// True from when a CPU switches to the task until the context that CPU switched to
    /// next has taken over (`sched::finish_switch`): until then its kernel stack is in use
    /// and no other CPU may switch to it.
    pub(crate) on_cpu: AtomicBool,
    /// Temp mappings held (`migrate_disable` depth): while non-zero the task may be
    /// preempted but runs only on the CPU whose window holds its slots.
    pub(crate) pinned: AtomicU32,
    /// When a blocked task wakes by itself (monotonic ns), or `NO_DEADLINE`.
    pub(crate) deadline: AtomicU64,
    /// Set when the deadline, not a wake-up, ended the last block.
    pub(crate) timed_out: AtomicBool,
    /// `CLONE_CHILD_CLEARTID`: the user word cleared and woken at exit (0: none).
    pub clear_child_tid: AtomicU32,
    /// Added to by the task alone, preemption off.
    pub syscalls: Tally,
    /// Times the task was switched away from (preempted, yielded or blocked), counted by
    /// the CPU switching it out, interrupts off.
    pub switches: Tally,
    /// Temp mappings its system calls (and signal deliveries) made, per
    /// `syscall_table::Class` (added to by the task alone, preemption off).
    pub temp_by_class: [Tally; crate::cpu::percpu::CLASS_COUNT],
    /// Its signal mask and the signals sent to it alone.
    pub signals: IrqSpinLock<signal::ThreadSignals>,
    /// Set while a signal may be deliverable to it (read without the lock at every return
    /// to user mode).
    pub signal_hint: AtomicBool,
    /// Whether its current block ends early for a signal (`block::prepare_interruptible`).
    pub(crate) interruptible: AtomicBool,
    /// What only the switch code and the task itself touch: see `Task::context`.
    context: UnsafeCell<Context>,
    kstack: Box<KernelStack>,
}

/// A switched-out task's machine state beyond its kernel stack.
pub struct Context {
    /// Saved kernel stack pointer while switched out.
    pub saved_esp: usize,
    /// The x87/SSE registers while switched out.
    pub fpu: FpuState,
    /// Temp mappings held when it was switched out, restored when it runs again.
    pub parked: ParkedSlots,
    /// The CPU the task last ran on, whose window `parked` came from (a switch-in
    /// elsewhere is a migration).
    pub parked_on: usize,
    /// This thread's use of temp mappings, folded in at every switch away.
    pub temp: TempCounters,
    /// Its thread-local-storage descriptors (GDT entries 6 to 8), installed at switch-in.
    pub tls: [u64; arch::gdt::TLS_ENTRIES],
    /// Its alternate signal stack (`sigaltstack`).
    pub alt_stack: crate::signal::Stack,
    /// The I/O ports it was given (`ioperm`; shared with the threads and children that
    /// inherited it until one changes it), installed at switch-in.
    pub io_bitmap: Option<Arc<crate::ioperm::IoBitmap>>,
}

// SAFETY: `context` is touched only by the CPU running the task (the task itself, with
// preemption off, and the switch code switching it out or in, interrupts off) or, after
// it exited and left every CPU (`on_cpu` false, read with acquire), by the reaper; the
// other fields are atomics or immutable.
unsafe impl Sync for Task {}
// SAFETY: as for Sync; a task moves between CPUs only while switched out.
unsafe impl Send for Task {}

impl Task {
    /// A task that will enter user mode with `frame` when first scheduled on `cpu`.
    /// `EAGAIN` past `MAX_THREADS` in the system or `MAX_THREADS_PER_PROCESS` in `process`,
    /// `ENOMEM` when the kernel heap has no room for its stack: never a panic.
    pub fn new(
        tid: u32,
        process: Arc<Process>,
        cpu: usize,
        affinity: u32,
        frame: &TrapFrame,
    ) -> Result<Arc<Task>, crate::errno::Errno> {
        use crate::errno::Errno;
        if THREADS.fetch_add(1, Ordering::SeqCst) >= MAX_THREADS {
            THREADS.fetch_sub(1, Ordering::SeqCst);
            return Err(Errno::EAGAIN);
        }
        if process.threads.fetch_add(1, Ordering::SeqCst) >= MAX_THREADS_PER_PROCESS {
            process.threads.fetch_sub(1, Ordering::SeqCst);
            THREADS.fetch_sub(1, Ordering::SeqCst);
            return Err(Errno::EAGAIN);
        }
        let layout = core::alloc::Layout::new::<KernelStack>();
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { alloc::alloc::alloc_zeroed(layout) }.cast::<KernelStack>();
        if raw.is_null() {
            process.threads.fetch_sub(1, Ordering::SeqCst);
            THREADS.fetch_sub(1, Ordering::SeqCst);
            return Err(Errno::ENOMEM);
        }
        // SAFETY: `raw` was allocated with KernelStack's layout by the global allocator, and
        // all-zero bytes are a valid KernelStack; the box owns it from here.
        let kstack = unsafe { Box::from_raw(raw) };
        let task = Task {
            tid,
            process,
            state: AtomicU8::new(State::Ready as u8),
            cpu: AtomicUsize::new(cpu),
            affinity: AtomicU32::new(affinity),
            on_cpu: AtomicBool::new(false),
            pinned: AtomicU32::new(0),
            deadline: AtomicU64::new(NO_DEADLINE),
            timed_out: AtomicBool::new(false),
            clear_child_tid: AtomicU32::new(0),
            syscalls: Tally::new(),
            switches: Tally::new(),
            temp_by_class: [const { Tally::new() }; crate::cpu::percpu::CLASS_COUNT],
            signals: IrqSpinLock::new(signal::ThreadSignals::default()),
            signal_hint: AtomicBool::new(false),
            interruptible: AtomicBool::new(false),
            context: UnsafeCell::new(Context {
                saved_esp: 0,
                fpu: FpuState::initial(),
                parked: ParkedSlots::empty(),
                parked_on: cpu,
                temp: TempCounters::default(),
                tls: [0; arch::gdt::TLS_ENTRIES],
                alt_stack: crate::signal::Stack::DISABLED,
                io_bitmap: None,
            }),
            kstack,
        };
        let top = task.kernel_stack_top();
        // SAFETY: the stack is ours, 16-byte aligned, far larger than a frame.
        let esp = unsafe { arch::context::prepare_first_run(top, frame, crate::sched::first_run) };
        // SAFETY: nobody else has the task yet.
        unsafe { (*task.context.get()).saved_esp = esp };
        Ok(Arc::new(task))
    }

    /// The address the CPU loads into `esp` on a trap from this task's user mode.
    pub fn kernel_stack_top(&self) -> usize {
        self.kstack.0.as_ptr() as usize + KERNEL_STACK_SIZE
    }

    pub fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Sets the state (the caller holds the lock of the task's run queue, or is the task).
    pub(crate) fn set_state(&self, state: State) {
        self.state.store(state as u8, Ordering::Release);
    }

    /// Whether the task may run on `cpu`.
    pub fn allowed_on(&self, cpu: usize) -> bool {
        self.affinity.load(Ordering::Relaxed) & (1 << cpu) != 0
    }

    /// The machine state beyond the stack.
    ///
    /// # Safety
    /// Only the CPU running the task, with preemption or interrupts off, or the reaper of
    /// an exited task that left every CPU; no other reference to it may be alive.
    #[allow(clippy::mut_from_ref)] // the contract above makes the access exclusive
    pub(crate) unsafe fn context(&self) -> &mut Context {
        // SAFETY: per the contract.
        unsafe { &mut *self.context.get() }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        THREADS.fetch_sub(1, Ordering::SeqCst);
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
