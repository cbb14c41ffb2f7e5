//! The scheduler: round-robin on per-CPU run queues, preemptive in user and kernel mode,
//! with migration, work stealing, affinity and blocking.
//!
//! - **Where tasks run.** A new task goes to the least loaded CPU its affinity allows. An
//!   idle CPU steals a ready task from the busiest other queue; a task whose affinity no
//!   longer allows its CPU moves at its next switch. Each CPU's queue has its own lock
//!   (`runqueue`); nothing global is taken to switch.
//! - **Preemption.** The timer (and the reschedule IPI) switches tasks when it interrupts
//!   user mode, or kernel mode with interrupts on and the preempt count at zero: spin locks,
//!   `with_current` and the scheduler itself raise the count. A task holding temp mappings
//!   may be preempted but is pinned to its CPU until it drops them.
//! - **Blocking.** `block::prepare`/`Blocker::sleep` take a task off its CPU until `wake`
//!   or a deadline; wait queues and futexes build on it (`wait`, `futex`).
//! - **Lifetimes.** Tasks are `Arc`s: the registry (every live task), a run queue and a
//!   wait queue may each hold one. An exited task is freed by the next context of the CPU
//!   it ran on; a process's memory goes when its last thread and the last CPU that kept
//!   its space loaded let go.
//!
//! Lock order: the registry, a futex or wait-queue lock, then run-queue locks (two only in
//! a steal, which holds no other), then a CPU's temp window.

pub mod block;
pub mod futex;
pub mod mutex;
mod runqueue;
pub mod waitlist;

pub use block::wake;
pub use runqueue::{
    cpus_running, disable_fpu_save, disable_io_bitmap_switch, disable_temp_pinning,
    disable_tls_reload, finish_switch,
};

use crate::console::JsonStr;
use crate::cpu::percpu::{self, CpuStats, cpu_id, preempt_count, preempt_disable, preempt_enable};
use crate::cpu::sync::IrqSpinLock;
use crate::errno::Errno;
use crate::mm::temp::window::{MAX_CPUS, TempCounters};
use crate::proc::{Memory, Process, State, Task};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use arch::trap::TrapFrame;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use runqueue::After;

pub use crate::time::HZ;

/// How a process ended, kept for the summary.
#[derive(Clone, Debug)]
pub struct ExitRecord {
    pub pid: u32,
    pub name: String,
    pub cpu: usize,
    pub status: i32,
    pub expected: i32,
    pub temp: TempCounters,
    pub syscalls: u64,
}

/// Every live task (for lookups by tid, `exit_group`, and knowing when all are gone) and
/// the exit records. Not on the switch path.
struct Registry {
    tasks: Vec<Arc<Task>>,
    next_tid: u32,
    exited: Vec<ExitRecord>,
}

static REGISTRY: IrqSpinLock<Registry> = IrqSpinLock::new(Registry {
    tasks: Vec::new(),
    next_tid: 1,
    exited: Vec::new(),
});

/// `spawn-cpu=N`: new processes start on CPU N (the migration tests), instead of the
/// least loaded CPU (`usize::MAX`).
static SPAWN_CPU: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Negative control (`no-kernel-preempt`): the timer preempts user mode only.
static KERNEL_PREEMPT_OFF: AtomicBool = AtomicBool::new(false);

/// Starts every new process on `cpu` (load balancing spreads them afterwards).
pub fn set_spawn_cpu(cpu: usize) {
    SPAWN_CPU.store(cpu, Ordering::Relaxed);
}

/// Lets the timer preempt user mode only (negative control of the kernel-preemption test).
pub fn disable_kernel_preemption() {
    log::warn!("no-kernel-preempt: the timer preempts user mode only (negative control)");
    KERNEL_PREEMPT_OFF.store(true, Ordering::Relaxed);
}

/// Every online CPU, as an affinity mask.
fn online_mask() -> u32 {
    percpu::online().fold(0, |m, c| m | (1 << c.id()))
}

/// Adds a process that enters user mode at `entry` with stack pointer `stack`, its first
/// thread on the least loaded online CPU (or the `spawn-cpu` one). Returns its pid and CPU,
/// or why its thread could not be made (`Task::new`).
pub fn spawn(
    name: String,
    exe: &[u8],
    expected: i32,
    mem: Memory,
    entry: u32,
    stack: u32,
) -> Result<(u32, usize), Errno> {
    let pid = new_tid();
    let process = Arc::new(Process::new(pid, name, expected, mem));
    process.exe.lock().extend_from_slice(exe);
    let frame = crate::proc::user_entry_frame(entry, stack);
    let cpu = place(Task::new(pid, process, 0, online_mask(), &frame)?);
    Ok((pid, cpu))
}

/// Adds thread `tid` (from `new_tid`) of `process`, entering user mode with `frame`, with
/// the creating thread's affinity; `clear_tid` (0: none) is its `CLONE_CHILD_CLEARTID`
/// word. Returns its CPU, or why the thread could not be made (`Task::new`).
pub fn spawn_thread(
    tid: u32,
    process: Arc<Process>,
    frame: &TrapFrame,
    clear_tid: u32,
    tls: [u64; arch::gdt::TLS_ENTRIES],
) -> Result<usize, Errno> {
    let affinity = with_current(|t| t.affinity.load(Ordering::Relaxed));
    let task = Task::new(tid, process, 0, affinity, frame)?;
    task.clear_child_tid.store(clear_tid, Ordering::Relaxed);
    // The new thread's signal mask is its creator's; its alternate stack starts disabled
    // (as Linux does for a thread sharing the address space).
    task.signals.lock().blocked = crate::proc::signal::blocked();
    // SAFETY: nobody runs the task yet.
    unsafe { task.context().tls = tls };
    Ok(place(task))
}

/// Starts the only thread of `child`, a copy of the calling thread made by `fork`: it
/// enters user mode with `frame`, with the caller's TLS entries, x87/SSE registers, signal
/// mask, alternate signal stack and affinity; `clear_tid` is its `CLONE_CHILD_CLEARTID`
/// word (0: none). Returns its CPU.
pub fn spawn_forked(
    child: Arc<Process>,
    frame: &TrapFrame,
    clear_tid: u32,
) -> Result<usize, Errno> {
    let affinity = with_current(|t| t.affinity.load(Ordering::Relaxed));
    let task = Task::new(child.tgid, child, 0, affinity, frame)?;
    task.clear_child_tid.store(clear_tid, Ordering::Relaxed);
    task.signals.lock().blocked = crate::proc::signal::blocked();
    with_own_context(|mine| {
        // SAFETY: nobody runs the new task yet; the caller's registers are live on this
        // CPU (the state is saved at every switch), so `save` takes the caller's, and the
        // restore undoes what an FNSAVE does to them.
        let theirs = unsafe { task.context() };
        theirs.tls = mine.tls;
        theirs.alt_stack = mine.alt_stack;
        theirs.io_bitmap = mine.io_bitmap.clone();
        theirs.fpu.save();
        theirs.fpu.restore();
    });
    Ok(place(task))
}

/// A fresh thread id, for a `spawn_thread` to come.
pub fn new_tid() -> u32 {
    let mut r = REGISTRY.lock();
    let tid = r.next_tid;
    r.next_tid += 1;
    tid
}

/// Queues a new task on the `spawn-cpu` CPU, or on the least loaded one it may run on.
fn place(task: Arc<Task>) -> usize {
    let wanted = SPAWN_CPU.load(Ordering::Relaxed);
    let cpu = if wanted != usize::MAX && task.allowed_on(wanted) && percpu::cpu(wanted).is_some() {
        wanted
    } else {
        runqueue::least_loaded(&task)
    };
    // SAFETY: nobody runs the task yet.
    unsafe { task.context().parked_on = cpu };
    REGISTRY.lock().tasks.push(task.clone());
    runqueue::enqueue(task, cpu);
    cpu
}

/// The task running on this CPU.
pub fn current() -> Arc<Task> {
    with_current(|t| {
        let p = t as *const Task;
        // SAFETY: `t` lives in an `Arc` (run queues hold it while it runs): taking one more
        // reference to it is what `Arc::clone` would do.
        unsafe {
            Arc::increment_strong_count(p);
            Arc::from_raw(p)
        }
    })
}

/// Runs `f` on the task running on this CPU, with preemption off (so the task stays here
/// and the switch code cannot touch it meanwhile). `f` must not block. Inline: the system
/// call path takes it on every call.
#[inline]
pub fn with_current<R>(f: impl FnOnce(&Task) -> R) -> R {
    preempt_disable();
    let task = percpu::this().current.load(Ordering::Relaxed) as *const Task;
    assert!(!task.is_null(), "no task is running");
    // SAFETY: the pointer is the running task's, set by the switch to it on this CPU; the
    // task cannot be freed while it runs, and preemption is off until `f` returns.
    let r = f(unsafe { &*task });
    preempt_enable();
    r
}

/// Runs `f` on the running task's own machine state (`proc::Context`: TLS entries, signal
/// mask, temp counters...), preemption off, so the switch code cannot touch it meanwhile.
pub fn with_own_context<R>(f: impl FnOnce(&mut crate::proc::Context) -> R) -> R {
    with_current(|t| {
        // SAFETY: the running task's own context, on its CPU, with preemption off
        // (`with_current`): nothing else reaches it until `f` returns.
        f(unsafe { t.context() })
    })
}

/// The temp mappings the running task has made so far (those folded into its context at
/// its switches, and this CPU's share since), modulo 2^32: for the count over a system
/// call, a wrapping difference. Read without the window's lock (its shadow).
#[inline]
pub fn own_temp_maps() -> u32 {
    with_own_context(|ctx| (ctx.temp.maps as u32).wrapping_add(crate::mm::temp::running_maps_low()))
}

/// Counts a system call of the running task and returns its temp mappings so far (as
/// [`own_temp_maps`]), in one look at the task. On every system call: inline, whatever
/// the inliner makes of the grown dispatcher around it.
#[inline(always)]
pub fn count_call() -> u32 {
    with_current(|t| {
        t.syscalls.bump();
        // SAFETY: the running task's own context, on its CPU, preemption off.
        let ctx = unsafe { t.context() };
        (ctx.temp.maps as u32).wrapping_add(crate::mm::temp::running_maps_low())
    })
}

/// Whether a task runs on this CPU (false in the idle loop and the boot code).
pub fn in_task() -> bool {
    percpu::this().current.load(Ordering::Relaxed) != 0
}

/// The tid running on this CPU (0 in the idle loop).
pub fn current_tid() -> u32 {
    if in_task() {
        with_current(|t| t.tid)
    } else {
        0
    }
}

/// The process of the thread running on this CPU.
pub fn current_process() -> Arc<Process> {
    with_current(|t| t.process.clone())
}

/// Keeps the running task on this CPU (it may still be preempted) until the matching
/// `migrate_enable`: temp mappings do this while held. Nothing in the idle loop.
pub fn migrate_disable() {
    if in_task() {
        with_current(|t| t.pinned.fetch_add(1, Ordering::Relaxed));
    }
}

/// Ends a `migrate_disable`.
pub fn migrate_enable() {
    if in_task() {
        with_current(|t| {
            let before = t.pinned.fetch_sub(1, Ordering::Relaxed);
            assert!(before > 0, "migrate_enable without migrate_disable");
        });
    }
}

/// Why `schedule` is called.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Why {
    /// `sched_yield`, or the task must move (affinity).
    Yield,
    /// The timer or a reschedule IPI.
    Preempt,
    /// The task blocked (`Blocker::sleep`; the preempt count is 1, its own).
    Block,
    /// The task exited.
    Exit,
}

/// Gives the CPU to the next ready task of this CPU, if any (or moves the task, if its
/// affinity no longer allows this CPU).
pub fn yield_now() {
    schedule(Why::Yield);
}

/// Switches this CPU to its next ready task or its idle loop, as `why` and the running
/// task's state say. Returns when the task runs again: true if it had been switched away.
fn schedule(why: Why) -> bool {
    let irq = arch::cpu::IrqGuard::new();
    let switched = if why != Why::Block {
        switch_away(why)
    } else {
        // A blocking task comes with its own preempt count, which kept the timer away while
        // it published itself to wakers. Interrupts are off now: drop it for the switch
        // (every context is switched out and in at count 0) and take it back after.
        preempt_enable();
        let switched = switch_away(why);
        preempt_disable();
        switched
    };
    let back_on = irq.were_enabled();
    drop(irq);
    // Back in a system call (not an interrupt handler): reap what this CPU left behind.
    if back_on {
        runqueue::clean_up(cpu_id());
    }
    switched
}

/// `schedule`'s work, interrupts off.
fn switch_away(why: Why) -> bool {
    assert_eq!(
        preempt_count(),
        0,
        "context switch with preemption disabled"
    );
    let cpu = cpu_id();
    let mut rq = runqueue::queue_irqs_off(cpu);
    let task = rq.current.take().expect("schedule() outside a task");
    if why == Why::Exit {
        task.set_state(State::Exited);
    }
    let state = task.state();
    let must_move = !task.allowed_on(cpu) && runqueue::movable(&task);
    let after = match state {
        // Woken before it could sleep: it never left.
        State::Running if why == Why::Block || (!must_move && rq.ready.is_empty()) => {
            rq.current = Some(task);
            return false;
        }
        State::Running if must_move => After::Migrate,
        State::Running => After::Nothing,
        State::Blocked => After::Nothing,
        State::Exited => After::Reap,
        State::Ready => unreachable!("the running task is never queued"),
    };
    let next = rq.ready.pop_front();
    if state == State::Running && after == After::Nothing {
        // Round robin: back of the queue (no other CPU switches to it before this one has
        // left its stack: `on_cpu`).
        task.set_state(State::Ready);
        rq.ready.push_back(task.clone());
    } else {
        // It leaves this CPU's count: blocked, gone, or moving.
        runqueue::add_load(cpu, -1);
        if after == After::Migrate {
            task.set_state(State::Ready);
        }
    }
    let (old, new) = runqueue::switch_to(&mut rq, cpu, Some(&task), next);
    // SAFETY: interrupts are off; this CPU switches away below.
    unsafe { runqueue::leave_behind(task, after) };
    drop(rq);
    // SAFETY: interrupts are off; `old` points into the task (kept alive by `leave_behind`
    // until this context resumes); `new` was saved by a switch or prepared for a first run.
    unsafe { arch::context::switch(old, new) };
    finish_switch();
    true
}

/// Where a never-run task starts (arch::context::prepare_first_run calls it on the task's
/// stack, then enters user mode).
pub extern "C" fn first_run() {
    finish_switch();
    // A thread created while its process was exiting leaves before its first instruction.
    leave_if_process_exiting();
    // The `iret` to user mode turns interrupts on: the stretch the switch began ends.
    percpu::irq_off_end();
}

/// The timer or a reschedule IPI interrupted this CPU: let another task run if the
/// interrupted code may be preempted (user mode, or kernel mode with interrupts on and no
/// preempt-count holder).
pub fn preempt(frame: &TrapFrame) {
    if !in_task() {
        return;
    }
    let user = frame.from_user();
    if !user {
        let interrupts_were_on = frame.eflags & (1 << 9) != 0;
        if KERNEL_PREEMPT_OFF.load(Ordering::Relaxed) || !interrupts_were_on || preempt_count() != 0
        {
            return;
        }
    }
    if schedule(Why::Preempt) {
        let stats = &percpu::this().stats;
        CpuStats::bump(&stats.preemptions);
        if !user {
            CpuStats::bump(&stats.kernel_preemptions);
        }
    }
}

/// Ends the running thread with `status` (the process's status too, unless the process
/// is already exiting with a status of its own). `CLONE_CHILD_CLEARTID`'s word is cleared
/// and its waiters woken first.
pub fn exit_current(status: i32) -> ! {
    let task = current();
    if !task.process.exiting.load(Ordering::SeqCst) {
        task.process.status.store(status, Ordering::SeqCst);
    }
    let word = task.clear_child_tid.swap(0, Ordering::Relaxed);
    if word != 0 {
        futex::clear_and_wake(&task.process, word);
    }
    drop(task);
    schedule(Why::Exit);
    unreachable!("an exited task was scheduled again");
}

/// Ends every thread of the running process with `status`: the others leave at their next
/// return to user mode (blocked ones are woken, running ones get a reschedule IPI).
pub fn exit_group(status: i32) -> ! {
    let process = current_process();
    if !process.exiting.swap(true, Ordering::SeqCst) {
        process.status.store(status, Ordering::SeqCst);
    }
    let me = current_tid();
    for task in threads_of(&process).iter().filter(|t| t.tid != me) {
        if !wake(task) {
            kick_if_running_elsewhere(task);
        }
    }
    drop(process);
    exit_current(status)
}

/// What a return to user mode must do besides returning.
pub struct ReturnWork {
    /// `leave_if_process_exiting` has something to do: the process is exiting, the task's
    /// affinity no longer allows this CPU, or this CPU has tasks to reap.
    pub leave: bool,
    /// A signal may be deliverable (the task's or its process's hint).
    pub signals: bool,
}

/// [`ReturnWork`], in one look at the running task (interrupts are off on the way out).
#[inline]
pub fn return_work() -> ReturnWork {
    let cpu = cpu_id();
    let (leave, signals) = with_current(|t| {
        (
            t.process.exiting.load(Ordering::SeqCst) || !t.allowed_on(cpu),
            t.signal_hint.load(Ordering::Acquire) || t.process.signal_hint.load(Ordering::Acquire),
        )
    });
    ReturnWork {
        leave: leave || runqueue::cleanup_pending(cpu),
        signals,
    }
}

/// At a return to user mode: a thread whose process is exiting leaves instead, and one
/// whose affinity no longer allows this CPU moves.
pub fn leave_if_process_exiting() {
    let (exiting, misplaced) = with_current(|t| {
        (
            t.process.exiting.load(Ordering::SeqCst),
            !t.allowed_on(cpu_id()),
        )
    });
    if exiting {
        let status = current_process().status.load(Ordering::SeqCst);
        exit_current(status);
    }
    if misplaced {
        yield_now();
    }
    // A CPU that only switches between busy tasks, by preemption, never goes through the
    // places that reap with interrupts on: do it on the way out to user mode.
    let cpu = cpu_id();
    if runqueue::cleanup_pending(cpu) {
        // SAFETY: on the way back to user mode the kernel holds nothing; interrupts go off
        // again before the return path goes on.
        unsafe { arch::cpu::enable_interrupts() };
        runqueue::clean_up(cpu);
        arch::cpu::disable_interrupts();
        percpu::irq_off_begin(core::panic::Location::caller());
    }
}

/// Makes `task`, if it runs on another CPU, pass through its return to user mode soon (a
/// reschedule IPI): what `exit_group` and a signal need of a thread that is not asleep.
pub fn kick_if_running_elsewhere(task: &Task) {
    if task.state() == State::Running {
        let cpu = task.cpu.load(Ordering::Relaxed);
        if cpu != cpu_id() {
            crate::cpu::ipi::reschedule(cpu);
        }
    }
}

/// The live threads of `process`.
pub fn threads_of(process: &Arc<Process>) -> Vec<Arc<Task>> {
    REGISTRY
        .lock()
        .tasks
        .iter()
        .filter(|t| Arc::ptr_eq(&t.process, process) && t.state() != State::Exited)
        .cloned()
        .collect()
}

/// The live processes whose group is `pgid` (every live process for 0).
pub fn processes_in_group(pgid: u32) -> Vec<Arc<Process>> {
    let mut found: Vec<Arc<Process>> = Vec::new();
    for t in REGISTRY.lock().tasks.iter() {
        let p = &t.process;
        if t.state() != State::Exited
            && (pgid == 0 || p.pgid.load(Ordering::Relaxed) == pgid)
            && !found.iter().any(|f| Arc::ptr_eq(f, p))
        {
            found.push(p.clone());
        }
    }
    found
}

/// Sends `sig` from the kernel (the terminal's signal characters) to every process of
/// group `pgid` (every process for 0).
pub fn signal_group(pgid: u32, sig: u32) {
    for process in processes_in_group(pgid) {
        let info = crate::signal::Info::sent(sig, crate::signal::SI_KERNEL, 0);
        crate::proc::signal::send_to_process(&process, info);
    }
}

/// The live thread `tid` of any process.
pub fn find_thread(tid: u32) -> Option<Arc<Task>> {
    REGISTRY
        .lock()
        .tasks
        .iter()
        .find(|t| t.tid == tid && t.state() != State::Exited)
        .cloned()
}

/// The task `tid` of the calling process (0: the caller), for the affinity calls.
fn task_of_caller(tid: u32) -> Result<Arc<Task>, Errno> {
    if tid == 0 {
        return Ok(current());
    }
    let process = current_process();
    REGISTRY
        .lock()
        .tasks
        .iter()
        .find(|t| t.tid == tid && Arc::ptr_eq(&t.process, &process))
        .cloned()
        .ok_or(Errno::ESRCH)
}

/// `sched_setaffinity`: task `tid` may run only on `mask`'s online CPUs (`EINVAL` if none).
/// The caller moves before this returns (unless it holds temp mappings, which pin it until
/// they are dropped); a task of another CPU moves at its next switch.
pub fn set_affinity(tid: u32, mask: u32) -> Result<(), Errno> {
    let mask = mask & online_mask();
    if mask == 0 {
        return Err(Errno::EINVAL);
    }
    let task = task_of_caller(tid)?;
    task.affinity.store(mask, Ordering::SeqCst);
    let (cpu, mut rq) = runqueue::lock_task_queue(&task);
    if task.allowed_on(cpu) {
        return Ok(());
    }
    if let Some(at) = rq.ready.iter().position(|t| Arc::ptr_eq(t, &task))
        && runqueue::movable(&task)
    {
        let moving = rq.ready.remove(at).expect("found above");
        runqueue::add_load(cpu, -1);
        drop(rq);
        runqueue::enqueue(moving.clone(), runqueue::least_loaded(&moving));
        return Ok(());
    }
    let running = rq.current.as_ref().is_some_and(|t| Arc::ptr_eq(t, &task));
    drop(rq);
    if running && cpu == cpu_id() {
        yield_now();
    } else if running {
        crate::cpu::ipi::reschedule(cpu);
    }
    Ok(())
}

/// `sched_getaffinity`: the CPUs task `tid` may run on.
pub fn affinity(tid: u32) -> Result<u32, Errno> {
    Ok(task_of_caller(tid)?.affinity.load(Ordering::SeqCst))
}

/// The boot CPU's idle loop: runs tasks until every task everywhere has exited and every
/// process's memory is freed, then returns how each ended.
pub fn run() -> Vec<ExitRecord> {
    loop {
        {
            let mut r = REGISTRY.lock();
            if r.tasks.is_empty() && crate::proc::live_processes() == 0 {
                return core::mem::take(&mut r.exited);
            }
        }
        runqueue::idle_once(cpu_id());
    }
}

/// An application processor's life after start-up: its timer ticks, it runs tasks, and
/// idles in between.
pub fn run_application_cpu() -> ! {
    crate::cpu::apic::start_timer();
    let cpu = cpu_id();
    loop {
        runqueue::idle_once(cpu);
    }
}

/// Counts a timer tick of this CPU, lets the watchdog look at the other CPUs, and wakes
/// this CPU's blocked tasks whose deadline has passed (the timer interrupt calls this).
pub fn tick() {
    if cpu_id() == 0 {
        crate::tty::console::tick();
    }
    let ticks = &percpu::this().stats.timer_ticks;
    CpuStats::bump(ticks);
    crate::cpu::watchdog::tick(ticks.load(Ordering::Relaxed));
    block::wake_expired(cpu_id());
}

/// Frees an exited thread that no CPU is on any more; the last thread of a process also
/// ends the process, and its exit record is kept.
fn reap(task: Arc<Task>) {
    assert_eq!(task.state(), State::Exited, "reaping a live task");
    REGISTRY.lock().tasks.retain(|t| !Arc::ptr_eq(t, &task));
    let process = task.process.clone();
    {
        // SAFETY: the task exited and no CPU is on it (`on_cpu` was cleared before this).
        let temp = unsafe { task.context() }.temp;
        let mut totals = process.totals.lock();
        totals.temp.absorb(&temp);
        totals.syscalls += task.syscalls.get();
        for (total, task_count) in totals.temp_by_class.iter_mut().zip(&task.temp_by_class) {
            *total += task_count.get();
        }
    }
    let cpu = task.cpu.load(Ordering::Relaxed);
    drop(task); // frees the kernel stack (the registry's reference went above)
    let last = process.threads.fetch_sub(1, Ordering::SeqCst) == 1;
    if !last {
        return;
    }
    let status = process.status.load(Ordering::SeqCst);
    end_family(&process, status);
    if process.forked.load(Ordering::Relaxed) {
        // A forked child is not one of the run's programs: its parent's `wait4` has its
        // status, and the run's verdict does not.
        log::debug!(
            "pid {} ({}) ended with {status}",
            process.tgid,
            process.name
        );
        release_lazy(process);
        return;
    }
    let totals = *process.totals.lock();
    let (temp, syscalls) = (totals.temp, totals.syscalls);
    let mut by_class = String::new();
    for class in crate::syscall_table::CLASSES {
        let n = totals.temp_by_class[class.index()];
        let sep = if by_class.is_empty() { "" } else { "," };
        by_class += &alloc::format!("{sep}\"{}\":{n}", class.name());
    }
    let elapsed_us = (crate::time::monotonic_ns() - process.started_ns) / 1000;
    crate::console::record(format_args!(
        "{{\"event\":\"exit\",\"pid\":{},\"name\":{},\"cpu\":{},\"status\":{},\"expected\":{},\"syscalls\":{syscalls},\"temp_maps\":{},\"temp_by_class\":{{{by_class}}},\"elapsed_us\":{elapsed_us}}}",
        process.tgid,
        JsonStr(&process.name),
        cpu,
        status,
        process.expected,
        temp.maps,
    ));
    let record = ExitRecord {
        pid: process.tgid,
        name: process.name.clone(),
        cpu,
        status,
        expected: process.expected,
        temp,
        syscalls,
    };
    REGISTRY.lock().exited.push(record);
    release_lazy(process);
}

/// CPUs idle with the ended process's space still loaded let it go now (their idle loop
/// sees it has no thread left); the last to do so frees the memory.
fn release_lazy(process: Arc<Process>) {
    let lazy = process.active_cpus() & !(1 << cpu_id());
    drop(process);
    for cpu in (0..MAX_CPUS).filter(|c| lazy & (1 << c) != 0) {
        crate::cpu::ipi::reschedule(cpu);
    }
}

/// A process ended with `status`: its parent, if it has one, gets its wait status, a
/// SIGCHLD and a wake-up; its children still running go to pid 1 if that lives (else they
/// have no parent, and nobody waits for them), and its zombies are forgotten.
fn end_family(process: &Arc<Process>, status: i32) {
    let killed_by = process.killed_by.load(Ordering::SeqCst);
    let wait_status = if killed_by != 0 {
        killed_by & 0x7f
    } else {
        ((status as u32) & 0xff) << 8
    };
    let (parent, children) = {
        let mut family = process.family.lock();
        (
            family.parent.take().and_then(|p| p.upgrade()),
            core::mem::take(&mut family.children),
        )
    };
    if let Some(parent) = parent {
        if let Some(me) = parent
            .family
            .lock()
            .children
            .iter_mut()
            .find(|c| c.pid == process.tgid)
        {
            me.status = Some(wait_status);
            me.pgid = process.pgid.load(Ordering::Relaxed);
        }
        let code = if killed_by != 0 { 2 } else { 1 }; // CLD_KILLED, CLD_EXITED
        let info = crate::signal::Info::sent(crate::signal::SIGCHLD, code, process.tgid);
        crate::proc::signal::send_to_process(&parent, info);
        parent.child_events.notify_all();
    }
    let init = find_thread(1)
        .map(|t| t.process.clone())
        .filter(|p| !Arc::ptr_eq(p, process) && !p.exiting.load(Ordering::SeqCst));
    for child in children.into_iter().filter(|c| c.status.is_none()) {
        let Some(orphan) = child.process.upgrade() else {
            continue;
        };
        orphan.family.lock().parent = init.as_ref().map(Arc::downgrade);
        if let Some(init) = &init {
            init.family.lock().children.push(child);
        }
    }
}
