//! Per-CPU run queues and the context switch: what each CPU runs, what waits to run there,
//! and the one path (`switch_to`, then `finish_switch` in the context switched to) by which
//! a CPU leaves one context for another. No global lock on this path: each CPU has its own
//! queue behind its own irq-safe lock, and only a migration or a steal touches two.
//!
//! At a switch the outgoing task's FPU/SSE registers are saved and its temp mappings parked
//! (their PTEs cleared and flushed from this CPU); the incoming task's are restored. A task
//! that holds temp mappings is pinned: it may be preempted, but runs again only here, where
//! its slots' addresses are (docs/temp-mappings.md). Address spaces switch lazily: a CPU
//! that goes idle keeps the last space loaded (and stays in its shootdown targets) until
//! it runs a task of another process or the process ends.

use crate::cpu::percpu::{self, CpuStats, cpu_id};
use crate::cpu::sync::{IrqSpinGuard, IrqSpinLock};
use crate::mm::temp::{self, window::MAX_CPUS};
use crate::proc::{Process, State, Task};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// What `finish_switch` does with the task a CPU switched away from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum After {
    /// Nothing more: it is queued again, or blocked.
    Nothing,
    /// Put it on a CPU its affinity allows (this one no longer is).
    Migrate,
    /// It exited: free it.
    Reap,
}

pub(super) struct RunQueue {
    /// The task running here (`None`: the idle loop).
    pub current: Option<Arc<Task>>,
    /// Tasks waiting to run here, in round-robin order.
    pub ready: VecDeque<Arc<Task>>,
    /// Blocked tasks with a deadline (this CPU's timer wakes them).
    pub timed: Vec<Arc<Task>>,
    /// The process whose directory this CPU has loaded (kept while idle: lazy TLB).
    pub loaded: Option<Arc<Process>>,
    /// Processes this CPU stopped using, and exited tasks it switched away from: dropped
    /// and reaped by `clean_up` with interrupts on, since either may free a whole
    /// address space.
    pub released: Vec<Arc<Process>>,
    pub dead: Vec<Arc<Task>>,
}

#[allow(clippy::declare_interior_mutable_const)] // only used to build the array below
const EMPTY: IrqSpinLock<RunQueue> = IrqSpinLock::new(RunQueue {
    current: None,
    ready: VecDeque::new(),
    timed: Vec::new(),
    loaded: None,
    released: Vec::new(),
    dead: Vec::new(),
});
static QUEUES: [IrqSpinLock<RunQueue>; MAX_CPUS] = [EMPTY; MAX_CPUS];

/// The task each CPU switched away from, with what `finish_switch` does with it: set just
/// before `arch::context::switch` and taken first thing in the context switched to, by
/// that CPU alone, interrupts off throughout. So it needs no lock (the run queue's would
/// cost a second lock round at every switch).
struct Prev(UnsafeCell<Option<(Arc<Task>, After)>>);

// SAFETY: a CPU's slot is only reached through `prev_slot`, by that CPU, interrupts off.
unsafe impl Sync for Prev {}

static PREV: [Prev; MAX_CPUS] = [const { Prev(UnsafeCell::new(None)) }; MAX_CPUS];

/// This CPU's `Prev` slot.
///
/// # Safety
/// Interrupts are off until the reference is gone: nothing else on this CPU can reach the
/// slot meanwhile, and no other CPU ever does.
unsafe fn prev_slot() -> &'static mut Option<(Arc<Task>, After)> {
    // SAFETY: per the contract, this is the only reference to this CPU's slot.
    unsafe { &mut *PREV[cpu_id()].0.get() }
}

/// Leaves `task` for `finish_switch` to deal with once this CPU is off its stack.
///
/// # Safety
/// Interrupts are off, and this CPU switches away before they come back on.
pub(super) unsafe fn leave_behind(task: Arc<Task>, after: After) {
    // SAFETY: per the contract.
    let slot = unsafe { prev_slot() };
    debug_assert!(slot.is_none(), "a switch left two tasks behind");
    *slot = Some((task, after));
}

/// Tasks ready or running on each CPU, for placement and stealing (read without the lock;
/// changed under it).
static LOAD: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];
/// CPUs halted in their idle loop: an enqueue there needs an IPI.
static IDLE: AtomicU32 = AtomicU32::new(0);

/// CPUs with tasks to reap or processes to let go (`RunQueue::dead`, `released`): a
/// flag read without the lock at every return to user mode.
static CLEANUP: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

/// Whether this CPU has something for `clean_up`.
pub(super) fn cleanup_pending(cpu: usize) -> bool {
    CLEANUP[cpu].load(Ordering::Relaxed)
}

/// Negative control (`no-fpu-save`): the switch leaves the FPU registers alone.
static FPU_SAVE_OFF: AtomicBool = AtomicBool::new(false);
/// Negative control (`no-tls-reload`): the switch leaves the TLS entries of the task that
/// set them last in the GDT.
static TLS_RELOAD_OFF: AtomicBool = AtomicBool::new(false);

/// Negative control (`no-io-bitmap-switch`): the switch leaves the CPU's I/O bitmap as the
/// last task left it.
static IO_SWITCH_OFF: AtomicBool = AtomicBool::new(false);

/// Switches the loading of I/O bitmaps at switch-in off (negative control).
pub fn disable_io_bitmap_switch() {
    log::warn!(
        "no-io-bitmap-switch: context switches keep the CPU's I/O bitmap (negative control)"
    );
    IO_SWITCH_OFF.store(true, Ordering::Relaxed);
}

/// Switches the reload of TLS entries at switch-in off (negative control).
pub fn disable_tls_reload() {
    log::warn!("no-tls-reload: context switches keep the GDT's TLS entries (negative control)");
    TLS_RELOAD_OFF.store(true, Ordering::Relaxed);
}

/// Negative control (`temp-no-pin`): temp-mapping holders may migrate.
static TEMP_PIN_OFF: AtomicBool = AtomicBool::new(false);

/// Switches per-task FPU saving off (negative control).
pub fn disable_fpu_save() {
    log::warn!("no-fpu-save: context switches keep no FPU/SSE state (negative control)");
    FPU_SAVE_OFF.store(true, Ordering::Relaxed);
}

/// Lets temp-mapping holders migrate (negative control).
pub fn disable_temp_pinning() {
    log::warn!("temp-no-pin: tasks holding temp mappings may migrate (negative control)");
    TEMP_PIN_OFF.store(true, Ordering::Relaxed);
}

/// Whether a task's temp mappings pin it to its CPU.
pub fn temp_pinning() -> bool {
    !TEMP_PIN_OFF.load(Ordering::Relaxed)
}

pub(super) fn queue(cpu: usize) -> IrqSpinGuard<'static, RunQueue> {
    QUEUES[cpu].lock()
}

/// [`queue`] for a caller that has interrupts off already.
pub(super) fn queue_irqs_off(cpu: usize) -> IrqSpinGuard<'static, RunQueue> {
    QUEUES[cpu].lock_irqs_off()
}

/// Locks the run queue `task` belongs to (its `cpu` may change until the lock is held).
pub(super) fn lock_task_queue(task: &Task) -> (usize, IrqSpinGuard<'static, RunQueue>) {
    loop {
        let cpu = task.cpu.load(Ordering::Acquire);
        let rq = QUEUES[cpu].lock();
        if task.cpu.load(Ordering::Acquire) == cpu {
            return (cpu, rq);
        }
    }
}

pub(super) fn load(cpu: usize) -> u32 {
    LOAD[cpu].load(Ordering::Relaxed)
}

pub(super) fn add_load(cpu: usize, delta: i32) {
    if delta >= 0 {
        LOAD[cpu].fetch_add(delta as u32, Ordering::Relaxed);
    } else {
        LOAD[cpu].fetch_sub((-delta) as u32, Ordering::Relaxed);
    }
}

/// Whether `task` may leave the CPU it is on (it holds no temp mapping, or pinning is off).
pub(super) fn movable(task: &Task) -> bool {
    task.pinned.load(Ordering::Relaxed) == 0 || !temp_pinning()
}

/// Puts a ready task at the back of `cpu`'s queue (the caller holds that queue's lock)
/// and wakes the CPU if it idles, or an idle CPU that may steal it.
pub(super) fn push_locked(rq: &mut RunQueue, cpu: usize, task: Arc<Task>) {
    task.cpu.store(cpu, Ordering::Release);
    task.set_state(State::Ready);
    rq.ready.push_back(task.clone());
    add_load(cpu, 1);
    kick(cpu, &task);
}

/// Puts a ready task on `cpu`'s queue.
pub(super) fn enqueue(task: Arc<Task>, cpu: usize) {
    let mut rq = queue(cpu);
    push_locked(&mut rq, cpu, task);
}

/// Makes sure someone looks at `cpu`'s queue soon: `cpu` itself if it idles, else an idle
/// CPU the task may run on, which will steal it.
fn kick(cpu: usize, task: &Task) {
    let idle = IDLE.load(Ordering::SeqCst);
    let me = cpu_id();
    if idle & (1 << cpu) != 0 {
        if cpu != me {
            crate::cpu::ipi::reschedule(cpu);
        }
        return;
    }
    let affinity = task.affinity.load(Ordering::Relaxed);
    let helpers = idle & affinity & !(1 << me);
    if helpers != 0 {
        crate::cpu::ipi::reschedule(helpers.trailing_zeros() as usize);
    }
}

/// The online CPU `task` may run on with the fewest tasks (ties: the lowest number).
pub(super) fn least_loaded(task: &Task) -> usize {
    percpu::online()
        .map(|c| c.id())
        .filter(|&c| task.allowed_on(c))
        .min_by_key(|&c| (load(c), c))
        .unwrap_or_else(|| task.cpu.load(Ordering::Relaxed))
}

/// Makes `next` (or the idle loop, for `None`) the context of this CPU in place of `prev`
/// (the task the caller took out of `rq.current`; `None`: the idle loop): saves `prev`'s
/// FPU registers and parks its temp mappings, loads `next`'s address space (unless it is
/// loaded already), kernel stack, FPU registers and temp mappings. Returns where to save
/// the old stack pointer and the new one, for `arch::context::switch`.
pub(super) fn switch_to(
    rq: &mut RunQueue,
    cpu: usize,
    prev: Option<&Task>,
    next: Option<Arc<Task>>,
) -> (*mut usize, usize) {
    let block = percpu::this();
    let next_tid = next.as_ref().map_or(0, |t| t.tid);
    debug_assert!(rq.current.is_none(), "the caller took the running task out");
    let old: *mut usize = match prev {
        Some(prev) => {
            prev.switches.bump();
            // SAFETY: this CPU runs `prev` and switches it out, interrupts off.
            let ctx = unsafe { prev.context() };
            temp::switch_accounting(next_tid, Some(&mut ctx.temp));
            temp::park(&mut ctx.parked);
            ctx.parked_on = cpu;
            if !ctx.parked.is_empty() {
                CpuStats::bump(&block.stats.temp_preempted_holding);
            }
            if !FPU_SAVE_OFF.load(Ordering::Relaxed) {
                ctx.fpu.save();
            }
            // `leave_behind` (the caller's) keeps the task alive until this context is
            // resumed or the task is reaped.
            &mut ctx.saved_esp
        }
        None => {
            temp::switch_accounting(next_tid, None);
            block.idle_esp.as_ptr()
        }
    };
    let new = match next {
        Some(task) => {
            // Another CPU may still be saving this task's registers (it was woken or
            // stolen the moment it left): wait until that CPU has finished the switch.
            while task.on_cpu.load(Ordering::Acquire) {
                crate::cpu::shootdown::serve();
                core::hint::spin_loop();
            }
            task.on_cpu.store(true, Ordering::Relaxed);
            task.set_state(State::Running);
            let same_space = rq
                .loaded
                .as_ref()
                .is_some_and(|p| Arc::ptr_eq(p, &task.process));
            if !same_space {
                task.process.activate();
                if let Some(old) = rq.loaded.replace(task.process.clone()) {
                    old.deactivate();
                    rq.released.push(old);
                    CLEANUP[cpu].store(true, Ordering::Relaxed);
                }
            }
            // SAFETY: interrupts are off, on this CPU; the stack lives as long as the task.
            unsafe {
                block
                    .tables
                    .set_kernel_stack(task.kernel_stack_top() as u32)
            };
            // SAFETY: this CPU switches the task in, interrupts off.
            let ctx = unsafe { task.context() };
            if ctx.parked_on != cpu {
                CpuStats::bump(&block.stats.migrations_in);
                if let Some(from) = percpu::cpu(ctx.parked_on) {
                    CpuStats::bump(&from.stats.migrations_out);
                }
                if !ctx.parked.is_empty() {
                    CpuStats::bump(&block.stats.temp_migrated_holding);
                }
            }
            if !FPU_SAVE_OFF.load(Ordering::Relaxed) {
                ctx.fpu.restore();
            }
            if !TLS_RELOAD_OFF.load(Ordering::Relaxed) {
                // SAFETY: this CPU's tables, interrupts off; the descriptors were checked
                // when the task set them.
                unsafe { block.tables.set_tls(&ctx.tls) };
            }
            // Nearly no task has I/O ports: one flag look when neither has.
            if (ctx.io_bitmap.is_some() || block.tables.io_open())
                && !IO_SWITCH_OFF.load(Ordering::Relaxed)
            {
                // SAFETY: this CPU's tables, interrupts off.
                unsafe {
                    block
                        .tables
                        .set_io_bitmap(ctx.io_bitmap.as_deref().map(|b| b.bytes()))
                };
            }
            temp::unpark(&mut ctx.parked);
            ctx.parked_on = cpu;
            block
                .current
                .store(Arc::as_ptr(&task) as usize, Ordering::Relaxed);
            let esp = ctx.saved_esp;
            rq.current = Some(task);
            esp
        }
        None => {
            block.current.store(0, Ordering::Relaxed);
            block.idle_esp.load(Ordering::Relaxed)
        }
    };
    block.stats.context_switches.bump();
    (old, new)
}

/// Runs in the context a CPU has just switched to, first thing: the task it left is off
/// this CPU's stack now, so it may run elsewhere, move, or, if it exited, be reaped (by
/// `clean_up`, later, with interrupts on).
pub fn finish_switch() {
    // SAFETY: every switch runs with interrupts off, and the context switched to calls
    // this before it turns them on.
    let Some((task, after)) = (unsafe { prev_slot() }).take() else {
        return;
    };
    task.on_cpu.store(false, Ordering::Release);
    match after {
        After::Nothing => {}
        After::Migrate => {
            let to = least_loaded(&task);
            enqueue(task, to);
        }
        After::Reap => {
            queue(cpu_id()).dead.push(task);
            CLEANUP[cpu_id()].store(true, Ordering::Relaxed);
        }
    }
}

/// Reaps the tasks that exited on this CPU and lets go of the processes it stopped using,
/// which may free their memory: with interrupts on (the caller's promise), outside any
/// lock, so freeing an address space delays no interrupt.
#[inline]
pub(super) fn clean_up(cpu: usize) {
    // Nearly always nothing: a plain read first, the swap only when there is work.
    if CLEANUP[cpu].load(Ordering::Relaxed) && CLEANUP[cpu].swap(false, Ordering::Relaxed) {
        release_and_reap(cpu);
    }
}

fn release_and_reap(cpu: usize) {
    let (dead, released) = {
        let mut rq = queue(cpu);
        if rq.dead.is_empty() && rq.released.is_empty() {
            return;
        }
        (
            core::mem::take(&mut rq.dead),
            core::mem::take(&mut rq.released),
        )
    };
    for task in dead {
        super::reap(task);
    }
    drop(released);
}

/// Takes a task from the busiest other CPU's queue that may run here and is not pinned
/// there by temp mappings. The caller (an idle CPU) holds no run-queue lock.
fn steal(me: usize) -> Option<Arc<Task>> {
    let victim = percpu::online()
        .map(|c| c.id())
        .filter(|&c| c != me)
        .max_by_key(|&c| load(c))?;
    let mut rq = queue(victim);
    let at = rq
        .ready
        .iter()
        .rposition(|t| t.allowed_on(me) && movable(t))?;
    let task = rq.ready.remove(at)?;
    add_load(victim, -1);
    task.cpu.store(me, Ordering::Release);
    CpuStats::bump(&percpu::this().stats.steals);
    Some(task)
}

/// One round of a CPU's idle loop: run a task from its queue, else steal one, else halt
/// until an interrupt.
pub(super) fn idle_once(cpu: usize) {
    // The idle loop runs with interrupts off but for its `hlt`, and is never preempted:
    // turning them on to clean up is safe here.
    // SAFETY: the idle loop holds no lock and no per-CPU state half-changed.
    unsafe { arch::cpu::enable_interrupts() };
    clean_up(cpu);
    arch::cpu::disable_interrupts();
    crate::cpu::percpu::irq_off_begin(core::panic::Location::caller());
    let _irq = arch::cpu::IrqGuard::new();
    let mut rq = queue(cpu);
    let mut next = rq.ready.pop_front();
    if next.is_none() {
        drop(rq);
        next = steal(cpu);
        if next.is_some() {
            // Out of the victim's count (`steal`), into this CPU's; the migration itself is
            // counted at the switch.
            add_load(cpu, 1);
        }
        rq = queue(cpu);
    }
    match next {
        Some(task) => {
            let (old, new) = switch_to(&mut rq, cpu, None, Some(task));
            drop(rq);
            // SAFETY: interrupts are off; the idle context is saved in this CPU's block;
            // `new` was saved by a switch or prepared for a first run.
            unsafe { arch::context::switch(old, new) };
            finish_switch();
        }
        None => {
            if let Some(dead) = release_dead_space(&mut rq) {
                // Dropped by the next round's `clean_up`, with interrupts on.
                rq.released.push(dead);
                CLEANUP[cpu].store(true, Ordering::Relaxed);
            }
            IDLE.fetch_or(1 << cpu, Ordering::SeqCst);
            // Re-check after announcing idleness: an enqueue that missed the bit put its
            // task in the queue before this look, one that saw it sends an IPI.
            let empty = rq.ready.is_empty() && rq.released.is_empty();
            drop(rq);
            if empty {
                let start = arch::cpu::rdtsc();
                arch::cpu::wait_for_interrupt();
                percpu::this()
                    .stats
                    .idle_cycles
                    .fetch_add(arch::cpu::rdtsc() - start, Ordering::Relaxed);
            }
            IDLE.fetch_and(!(1 << cpu), Ordering::SeqCst);
        }
    }
}

/// An idle CPU still has the space of a process whose threads have all gone: load the
/// kernel's directory and hand the process back (the caller drops it, unlocked).
fn release_dead_space(rq: &mut RunQueue) -> Option<Arc<Process>> {
    let dead = rq
        .loaded
        .as_ref()
        .is_some_and(|p| p.threads.load(Ordering::SeqCst) == 0);
    if !dead {
        return None;
    }
    // SAFETY: the kernel directory maps everything the idle loop touches.
    unsafe { arch::cpu::load_cr3(crate::mm::paging::kernel_directory()) };
    // SAFETY: interrupts are off (the run queue's lock); no LDT is loaded from now on, so
    // the process's may be freed with it.
    unsafe { percpu::this().tables.load_ldt(None) };
    let process = rq.loaded.take()?;
    process.deactivate();
    Some(process)
}

/// The CPUs running a thread of `process` right now (the shootdown negative control).
pub fn cpus_running(process: &Process) -> u32 {
    percpu::online()
        .map(|c| c.id())
        .filter(|&c| {
            queue(c)
                .current
                .as_ref()
                .is_some_and(|t| core::ptr::eq(&*t.process, process))
        })
        .fold(0, |m, c| m | (1 << c))
}
