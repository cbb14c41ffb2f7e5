//! Round-robin scheduling of user processes on every CPU, preempted by each CPU's timer.
//!
//! Every task has a home CPU (the least loaded when it was spawned) and runs only there:
//! each CPU's run queue is the tasks whose home it is. The kernel runs with interrupts off;
//! a task is preempted only when the timer (or a reschedule IPI) interrupts it in user mode,
//! and gives the CPU up in the kernel only by yielding, sleeping or exiting. A CPU with
//! nothing to run sits in its idle loop. An exited task is freed by the context its CPU
//! switches to next, as soon as no CPU is on its stack any more; the boot CPU's idle loop
//! returns when every task is gone.
//!
//! One lock (`TABLE`, irq-safe) guards the table; it is taken before a CPU's temp-mapping
//! window lock and never while holding it (docs/smp.md has the lock order).

use super::{Memory, Process, State, Task};
use crate::console::JsonStr;
use crate::mm::temp::{self, window::MAX_CPUS, window::TempCounters};
use crate::percpu::{self, CpuStats, cpu_id, preempt_count};
use crate::sync::IrqSpinLock;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use arch::trap::TrapFrame;
use core::sync::atomic::{AtomicU64, Ordering};

/// Timer interrupts per second.
pub const HZ: u64 = 100;

/// Timer ticks of the boot CPU: the clock sleeping tasks wait on.
static TICKS: AtomicU64 = AtomicU64::new(0);

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

/// What each CPU is doing.
#[derive(Clone, Copy)]
struct CpuSlot {
    /// The pid running on the CPU; `None` while its idle loop runs.
    current: Option<u32>,
    /// The idle loop's saved stack pointer while a task runs.
    idle_esp: usize,
    /// The task this CPU switched away from, whose `on_cpu` the next context clears.
    prev: Option<u32>,
}

struct Table {
    /// Boxed so a task never moves: its saved stack pointer is written through a raw
    /// pointer during a context switch, and `with_current` hands out references.
    #[allow(clippy::vec_box)]
    tasks: Vec<Box<Task>>,
    cpus: [CpuSlot; MAX_CPUS],
    next_pid: u32,
    /// Tasks placed on each CPU so far.
    placed: [u32; MAX_CPUS],
    /// Exited tasks taken out of `tasks` whose freeing has not finished yet.
    dying: usize,
    exited: Vec<ExitRecord>,
}

static TABLE: IrqSpinLock<Table> = IrqSpinLock::new(Table {
    tasks: Vec::new(),
    cpus: [CpuSlot {
        current: None,
        idle_esp: 0,
        prev: None,
    }; MAX_CPUS],
    next_pid: 1,
    placed: [0; MAX_CPUS],
    dying: 0,
    exited: Vec::new(),
});

/// Timer ticks since the scheduler started.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// Counts a timer tick of this CPU (the timer interrupt calls this).
pub fn tick() {
    let cpu = percpu::this();
    CpuStats::bump(&cpu.stats.timer_ticks);
    if cpu.id() == 0 {
        TICKS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Adds a process that enters user mode at `entry` with stack pointer `stack`, its first
/// thread on the online CPU with the fewest live tasks. Returns its pid and CPU.
pub fn spawn(name: String, expected: i32, mem: Memory, entry: u32, stack: u32) -> (u32, usize) {
    let pid = TABLE.lock().take_pid();
    let process = Arc::new(Process::new(pid, name, expected, mem));
    let frame = super::user_entry_frame(entry, stack);
    place(pid, process, &frame)
}

/// Adds thread `tid` (from `new_tid`) of `process`, entering user mode with `frame`.
/// Returns its CPU.
pub fn spawn_thread(tid: u32, process: Arc<Process>, frame: &TrapFrame) -> usize {
    place(tid, process, frame).1
}

/// A fresh thread id, for a `spawn_thread` to come.
pub fn new_tid() -> u32 {
    TABLE.lock().take_pid()
}

/// Puts a new task on the online CPU with the fewest live tasks (among those, the one that
/// was given the fewest so far: tasks that end quickly must not pull every new one onto
/// the same CPU) and wakes that CPU.
fn place(pid: u32, process: Arc<Process>, frame: &TrapFrame) -> (u32, usize) {
    let mut t = TABLE.lock();
    let load = |t: &Table, cpu: usize| t.tasks.iter().filter(|task| task.cpu == cpu).count();
    let cpu = percpu::online()
        .map(|c| c.id())
        .min_by_key(|&c| (load(&t, c), t.placed[c], c))
        .unwrap_or(0);
    t.placed[cpu] += 1;
    t.tasks.push(Task::new(pid, process, cpu, frame));
    drop(t);
    if cpu != cpu_id() {
        crate::ipi::reschedule(cpu);
    }
    (pid, cpu)
}

impl Table {
    fn take_pid(&mut self) -> u32 {
        let pid = self.next_pid;
        self.next_pid += 1;
        pid
    }

    fn index(&self, pid: u32) -> usize {
        self.tasks
            .iter()
            .position(|t| t.pid == pid)
            .expect("a running task is in the table")
    }

    /// The next runnable task of `cpu` after `after` in round-robin order (`after` itself
    /// last).
    fn pick(&self, cpu: usize, after: Option<u32>, now: u64) -> Option<usize> {
        let n = self.tasks.len();
        let start = after.map_or(0, |pid| self.index(pid) + 1);
        (0..n).map(|k| (start + k) % n).find(|&i| {
            let task = &self.tasks[i];
            // `on_cpu` first: only a switched-out task's state is read here.
            task.cpu == cpu
                && !task.on_cpu
                && (runnable(task.state, now)
                    || (matches!(task.state, State::Sleeping(_))
                        && task.process.exiting.load(Ordering::SeqCst)))
        })
    }

    /// Makes task `next` (or the idle loop, for `None`) the one running on this CPU: CR3,
    /// kernel stack, temp-mapping accounting. Returns where to save the old context and
    /// the new one.
    fn switch_to(&mut self, cpu: usize, next: Option<usize>) -> (*mut usize, usize) {
        let pid = next.map_or(0, |i| self.tasks[i].pid);
        let outgoing = temp::switch_accounting(pid);
        let prev = self.cpus[cpu].current;
        let prev_index = prev.map(|p| self.index(p));
        let old: *mut usize = match prev_index {
            Some(i) => {
                let task = &mut self.tasks[i];
                task.temp.absorb(&outgoing);
                if task.state == State::Running {
                    task.state = State::Ready;
                }
                &mut task.saved_esp
            }
            None => &mut self.cpus[cpu].idle_esp,
        };
        let same_space = match (prev_index, next) {
            (Some(p), Some(n)) => Arc::ptr_eq(&self.tasks[p].process, &self.tasks[n].process),
            _ => false,
        };
        let new = match next {
            Some(i) => {
                let task = &mut self.tasks[i];
                task.state = State::Running;
                task.on_cpu = true;
                if !same_space {
                    task.process.activate();
                }
                // SAFETY: interrupts are off, on this CPU; the stack lives as long as the task.
                unsafe {
                    percpu::this()
                        .tables
                        .set_kernel_stack(task.kernel_stack_top() as u32)
                };
                task.saved_esp
            }
            None => {
                // SAFETY: the kernel directory maps everything the idle loop touches.
                unsafe { arch::cpu::load_cr3(crate::mm::paging::kernel_directory()) };
                self.cpus[cpu].idle_esp
            }
        };
        // This CPU no longer has the old space loaded: it leaves that space's shootdowns.
        if let Some(i) = prev_index
            && !same_space
        {
            self.tasks[i].process.deactivate();
        }
        self.cpus[cpu].current = next.map(|i| self.tasks[i].pid);
        let task = next.map_or(core::ptr::null_mut(), |i| &mut *self.tasks[i] as *mut Task);
        percpu::this().current.store(task, Ordering::Relaxed);
        self.cpus[cpu].prev = prev;
        CpuStats::bump(&percpu::this().stats.context_switches);
        (old, new)
    }
}

fn runnable(state: State, now: u64) -> bool {
    match state {
        State::Ready => true,
        State::Sleeping(until) => until <= now,
        State::Running | State::Exited(_) => false,
    }
}

/// Runs in the context a CPU has just switched to: the task it left is off this CPU's
/// stack now, so it may run elsewhere, or, if it exited, be freed right here.
pub fn finish_switch() {
    let dead = {
        let mut t = TABLE.lock();
        let cpu = cpu_id();
        let Some(pid) = t.cpus[cpu].prev.take() else {
            return;
        };
        let i = t.index(pid);
        t.tasks[i].on_cpu = false;
        if !matches!(t.tasks[i].state, State::Exited(_)) {
            return;
        }
        t.dying += 1;
        t.tasks.swap_remove(i)
    };
    reap(dead);
}

/// Where a never-run task starts (arch::context::prepare_first_run calls it on the task's
/// stack, then enters user mode).
pub extern "C" fn first_run() {
    finish_switch();
    // A thread created while its process was exiting leaves before its first instruction.
    leave_if_process_exiting();
}

/// Runs `f` on the task running on this CPU. Calls must not nest (that would alias the
/// task): a nested call panics.
pub fn with_current<R>(f: impl FnOnce(&mut Task) -> R) -> R {
    struct Borrow(&'static core::sync::atomic::AtomicBool);
    impl Drop for Borrow {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Relaxed);
        }
    }
    let flag = &percpu::this().in_with_current;
    assert!(
        !flag.swap(true, Ordering::Relaxed),
        "with_current called inside with_current"
    );
    let _borrow = Borrow(flag);
    // This CPU's own field, written by `switch_to` on this CPU: no lock is needed to read it.
    let task = percpu::this().current.load(Ordering::Relaxed);
    assert!(!task.is_null(), "no task is running");
    // SAFETY: the task is boxed (its address is stable); only the CPU running it touches
    // its fields outside the table lock (it runs on one CPU at a time: `on_cpu`); the kernel
    // runs with interrupts off (nothing re-enters); it is reaped only after it has switched
    // away for good, and `switch_to` replaced this pointer before that switch.
    f(unsafe { &mut *task })
}

/// The tid running on this CPU (0 in the idle loop).
pub fn current_tid() -> u32 {
    TABLE.lock().cpus[cpu_id()].current.unwrap_or(0)
}

/// The process of the thread running on this CPU.
pub fn current_process() -> Arc<Process> {
    with_current(|t| t.process.clone())
}

/// Gives the CPU to the next ready task, if any.
pub fn yield_now() {
    schedule();
}

/// Sleeps until tick `until`.
pub fn sleep_until(until: u64) {
    with_current(|task| task.state = State::Sleeping(until));
    schedule();
}

/// Ends the running thread with `status` (the process's status too, unless the process
/// is already exiting with a status of its own).
pub fn exit_current(status: i32) -> ! {
    with_current(|task| {
        if !task.process.exiting.load(Ordering::SeqCst) {
            task.process.status.store(status, Ordering::SeqCst);
        }
        task.state = State::Exited(status);
    });
    schedule();
    unreachable!("an exited task was scheduled again");
}

/// Ends every thread of the running process with `status`: the others leave at their next
/// return to user mode (their CPUs get a reschedule IPI so that comes soon).
pub fn exit_group(status: i32) -> ! {
    let process = current_process();
    if !process.exiting.swap(true, Ordering::SeqCst) {
        process.status.store(status, Ordering::SeqCst);
    }
    let me = cpu_id();
    let cpus: alloc::vec::Vec<usize> = {
        // Sleeping threads need no write here: `pick` treats a sleeper of an exiting
        // process as runnable, so it wakes, returns to user mode and leaves.
        let t = TABLE.lock();
        t.tasks
            .iter()
            .filter(|task| Arc::ptr_eq(&task.process, &process) && task.cpu != me)
            .map(|task| task.cpu)
            .collect()
    };
    for cpu in cpus {
        crate::ipi::reschedule(cpu);
    }
    drop(process);
    exit_current(status)
}

/// At a return to user mode: a thread whose process is exiting leaves instead.
pub fn leave_if_process_exiting() {
    let exiting = with_current(|t| t.process.exiting.load(Ordering::SeqCst));
    if exiting {
        let status = current_process().status.load(Ordering::SeqCst);
        exit_current(status);
    }
}

/// The timer (or a reschedule IPI) interrupted user mode: let someone else run.
pub fn preempt(_frame: &TrapFrame) {
    if schedule() {
        CpuStats::bump(&percpu::this().stats.preemptions);
    }
}

/// Switches to the next runnable task of this CPU, or to its idle loop when none is and
/// the running task cannot go on. Returns when the running task is scheduled again: true
/// if it had been switched away, false if it kept the CPU.
fn schedule() -> bool {
    temp::assert_none_held("context switch");
    assert_eq!(
        preempt_count(),
        0,
        "context switch with preemption disabled"
    );
    let cpu = cpu_id();
    let (old, new) = {
        let mut t = TABLE.lock();
        let current = t.cpus[cpu].current.expect("schedule() outside a task");
        let me = t.index(current);
        let next = t.pick(cpu, Some(current), ticks());
        let still_running = t.tasks[me].state == State::Running;
        match next {
            None if still_running => return false,
            next => t.switch_to(cpu, next),
        }
    };
    // SAFETY: interrupts are off; `old` points into a boxed task or the static table, both
    // alive until that context resumes (a task is not reaped while `on_cpu`); `new` was
    // saved by a switch or prepared for a first run.
    unsafe { arch::context::switch(old, new) };
    finish_switch();
    true
}

/// One round of a CPU's idle loop: run a task if one is ready, else wait for an interrupt.
fn idle_once(cpu: usize) {
    let switch = {
        let mut t = TABLE.lock();
        t.pick(cpu, None, ticks())
            .map(|i| t.switch_to(cpu, Some(i)))
    };
    match switch {
        Some((old, new)) => {
            // SAFETY: as in `schedule`; the idle context is saved in the static table.
            unsafe { arch::context::switch(old, new) };
            finish_switch();
        }
        None => arch::cpu::wait_for_interrupt(),
    }
}

/// The boot CPU's idle loop: runs its tasks until every task everywhere has exited and
/// been freed, then returns how each ended.
pub fn run() -> Vec<ExitRecord> {
    loop {
        {
            let mut t = TABLE.lock();
            // Done when no task is left, not even one still being freed on another CPU.
            if t.tasks.is_empty() && t.dying == 0 {
                return core::mem::take(&mut t.exited);
            }
        }
        idle_once(cpu_id());
    }
}

/// An application processor's life after start-up: its timer ticks, it runs the tasks
/// whose home it is, and idles in between.
pub fn run_application_cpu() -> ! {
    crate::apic::start_timer();
    let cpu = cpu_id();
    loop {
        idle_once(cpu);
    }
}

/// Frees an exited thread that no CPU is on any more; the last thread of a process also
/// ends the process, and its exit record is kept.
fn reap(task: Box<Task>) {
    let State::Exited(_) = task.state else {
        unreachable!("reaping a live task")
    };
    let process = task.process.clone();
    {
        let mut totals = process.totals.lock();
        totals.0.absorb(&task.temp);
        totals.1 += task.syscalls;
    }
    let cpu = task.cpu;
    drop(task); // frees the kernel stack
    let last = process.threads.fetch_sub(1, Ordering::SeqCst) == 1;
    if last {
        let status = process.status.load(Ordering::SeqCst);
        crate::console::record(format_args!(
            "{{\"event\":\"exit\",\"pid\":{},\"name\":{},\"cpu\":{},\"status\":{},\"expected\":{}}}",
            process.tgid,
            JsonStr(&process.name),
            cpu,
            status,
            process.expected
        ));
        let (temp, syscalls) = *process.totals.lock();
        let record = ExitRecord {
            pid: process.tgid,
            name: process.name.clone(),
            cpu,
            status,
            expected: process.expected,
            temp,
            syscalls,
        };
        // The last reference (the reaped task held the other): frees the address space,
        // its frames and page tables, before `dying` says this task is done.
        drop(process);
        TABLE.lock().exited.push(record);
    } else {
        drop(process);
    }
    TABLE.lock().dying -= 1;
}
