//! Round-robin scheduling of user processes on the boot CPU, preempted by the timer.
//!
//! The kernel runs with interrupts off; a task is preempted only when the timer interrupts
//! it in user mode, and gives the CPU up in the kernel only by yielding, sleeping or
//! exiting. When nothing is ready the CPU runs the idle loop (`run`), which also reaps
//! exited tasks: their address spaces and kernel stacks are freed there, on the idle stack,
//! once nothing can run on them again.

use super::{Memory, State, Task};
use crate::console::JsonStr;
use crate::kprintln;
use crate::mm::temp::{self, window::TempCounters};
use crate::percpu::{self, CpuStats, preempt_count};
use crate::sync::IrqSpinLock;
use alloc::boxed::Box;
use alloc::string::String;
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
    pub status: i32,
    pub expected: i32,
    pub temp: TempCounters,
    pub syscalls: u64,
}

struct Table {
    /// Boxed so a task never moves: its saved stack pointer is written through a raw
    /// pointer during a context switch, and `with_current` hands out references.
    #[allow(clippy::vec_box)]
    tasks: Vec<Box<Task>>,
    /// Index of the running task; `None` while the idle loop runs.
    current: Option<usize>,
    idle_esp: usize,
    next_pid: u32,
    exited: Vec<ExitRecord>,
}

static TABLE: IrqSpinLock<Table> = IrqSpinLock::new(Table {
    tasks: Vec::new(),
    current: None,
    idle_esp: 0,
    next_pid: 1,
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

/// Adds a process that enters user mode at `entry` with stack pointer `stack`.
pub fn spawn(name: String, expected: i32, mem: Memory, entry: u32, stack: u32) -> u32 {
    let mut t = TABLE.lock();
    let pid = t.next_pid;
    t.next_pid += 1;
    let frame = super::user_entry_frame(entry, stack);
    t.tasks.push(Task::new(pid, name, expected, mem, &frame));
    pid
}

/// Runs `f` on the running task.
///
/// Callers must not nest `with_current` (that would alias the task).
pub fn with_current<R>(f: impl FnOnce(&mut Task) -> R) -> R {
    let task: *mut Task = {
        let mut t = TABLE.lock();
        let i = t.current.expect("no task is running");
        &mut *t.tasks[i]
    };
    // SAFETY: the task is boxed (its address is stable), only the CPU running it touches
    // it, the kernel runs with interrupts off (nothing re-enters), and it is reaped only by
    // the idle loop after it has switched away for good.
    f(unsafe { &mut *task })
}

/// The running task's pid (0 in the idle loop).
pub fn current_pid() -> u32 {
    let t = TABLE.lock();
    t.current.map_or(0, |i| t.tasks[i].pid)
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

/// Ends the running task with `status`.
pub fn exit_current(status: i32) -> ! {
    with_current(|task| task.state = State::Exited(status));
    schedule();
    unreachable!("an exited task was scheduled again");
}

/// The timer interrupted user mode: time to let someone else run.
pub fn preempt(_frame: &TrapFrame) {
    if schedule() {
        CpuStats::bump(&percpu::this().stats.preemptions);
    }
}

fn runnable(state: State, now: u64) -> bool {
    match state {
        State::Ready => true,
        State::Sleeping(until) => until <= now,
        State::Running | State::Exited(_) => false,
    }
}

impl Table {
    /// The next runnable task after `after` in round-robin order (`after` itself last).
    fn pick(&self, after: Option<usize>, now: u64) -> Option<usize> {
        let n = self.tasks.len();
        let start = after.map_or(0, |i| i + 1);
        (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| runnable(self.tasks[i].state, now))
    }

    /// Makes task `next` (or the idle loop, for `None`) the running one: CR3, kernel stack,
    /// temp-mapping accounting. Returns where to save the old context and the new one.
    fn switch_to(&mut self, next: Option<usize>) -> (*mut usize, usize) {
        let pid = next.map_or(0, |i| self.tasks[i].pid);
        let outgoing = temp::switch_accounting(pid);
        let old: *mut usize = match self.current {
            Some(i) => {
                let task = &mut self.tasks[i];
                task.temp.absorb(&outgoing);
                if task.state == State::Running {
                    task.state = State::Ready;
                }
                &mut task.saved_esp
            }
            None => &mut self.idle_esp,
        };
        let new = match next {
            Some(i) => {
                let task = &mut self.tasks[i];
                task.state = State::Running;
                task.mem.space.activate();
                // SAFETY: interrupts are off, on this CPU; the stack lives as long as the task.
                unsafe {
                    crate::percpu::this()
                        .tables
                        .set_kernel_stack(task.kernel_stack_top() as u32)
                };
                task.saved_esp
            }
            None => {
                // SAFETY: the kernel directory maps everything the idle loop touches.
                unsafe { arch::cpu::load_cr3(crate::mm::paging::kernel_directory()) };
                self.idle_esp
            }
        };
        self.current = next;
        CpuStats::bump(&percpu::this().stats.context_switches);
        (old, new)
    }
}

/// Switches to the next runnable task, or to the idle loop when none is and the running
/// task cannot go on. Returns when the running task is scheduled again: true if it had
/// been switched away, false if it kept the CPU.
fn schedule() -> bool {
    temp::assert_none_held("context switch");
    assert_eq!(
        preempt_count(),
        0,
        "context switch with preemption disabled"
    );
    let (old, new) = {
        let mut t = TABLE.lock();
        let current = t.current.expect("schedule() outside a task");
        let next = t.pick(Some(current), ticks());
        let still_running = t.tasks[current].state == State::Running;
        match next {
            Some(i) if i == current => {
                t.tasks[i].state = State::Running;
                return false;
            }
            None if still_running => return false,
            next => t.switch_to(next),
        }
    };
    // SAFETY: interrupts are off; `old` points into a boxed task or the static table, both
    // alive until that context resumes; `new` was saved by a switch or prepared for a first
    // run.
    unsafe { arch::context::switch(old, new) };
    true
}

/// The idle loop: runs tasks until every one has exited, reaping them as they go, and
/// returns how each ended.
pub fn run() -> Vec<ExitRecord> {
    loop {
        reap();
        let switch = {
            let mut t = TABLE.lock();
            if t.tasks.is_empty() {
                return core::mem::take(&mut t.exited);
            }
            t.pick(None, ticks()).map(|i| t.switch_to(Some(i)))
        };
        match switch {
            // SAFETY: as in `schedule`; the idle context is saved in the static table.
            Some((old, new)) => unsafe { arch::context::switch(old, new) },
            None => arch::cpu::wait_for_interrupt(),
        }
    }
}

/// Frees every exited task (the idle loop runs this, so none of them is running).
fn reap() {
    let gone: Vec<Box<Task>> = {
        let mut t = TABLE.lock();
        assert!(t.current.is_none(), "reaping while a task runs");
        let (gone, alive) = core::mem::take(&mut t.tasks)
            .into_iter()
            .partition(|task| matches!(task.state, State::Exited(_)));
        t.tasks = alive;
        gone
    };
    for task in gone {
        let State::Exited(status) = task.state else {
            unreachable!()
        };
        kprintln!(
            "@@tempest {{\"event\":\"exit\",\"pid\":{},\"name\":{},\"status\":{},\"expected\":{}}}",
            task.pid,
            JsonStr(&task.name),
            status,
            task.expected
        );
        let record = ExitRecord {
            pid: task.pid,
            name: task.name.clone(),
            status,
            expected: task.expected,
            temp: task.temp,
            syscalls: task.syscalls,
        };
        drop(task); // frees the address space, its frames and page tables, the kernel stack
        TABLE.lock().exited.push(record);
    }
}

/// An application processor's life after start-up: its timer ticks, it idles.
pub fn run_application_cpu() -> ! {
    crate::apic::start_timer();
    loop {
        arch::cpu::wait_for_interrupt();
    }
}
