//! Signals in the kernel: what is pending for a process and for each thread, sending
//! (`kill`, `tgkill`, a fault), and delivery at the return to user mode, where a handled
//! signal gets a frame on the user stack (`crate::signal` lays it out) and a default one
//! ends the process or is dropped.
//!
//! ```text
//!   sender                                      target thread
//!   lock process.signals [, task.signals]       ... returns to user mode (traps::handle)
//!   add to pending, set the hint                hint set? deliver():
//!   unlock                                        lock both, take the first deliverable
//!   wake it if it sleeps interruptibly            handler: write the frame, enter it
//!   (futex, nanosleep, poll: EINTR),              default: end the process / drop it
//!   else IPI its CPU if it runs elsewhere
//! ```
//!
//! Lock order: a run queue's lock (only `block::prepare_interruptible`, which checks for a
//! deliverable signal under it so that a sender's wake-up is never lost between the check
//! and the sleep), then `Process::signals`, then `Task::signals`. Senders wake with no
//! signal lock held.

use super::{Process, Task};
use crate::errno::Errno;
use crate::mm::uaccess;
use crate::sched;
use crate::signal::{self as abi, Action, Default, Delivery, Fpu, Info, Registers, Stack};
use alloc::sync::Arc;
use alloc::vec::Vec;
use arch::fpu::FpuState;
use arch::trap::TrapFrame;
use core::sync::atomic::{AtomicBool, Ordering};

/// A set of raised signals and the `siginfo` of each (one per standard signal, queued for
/// real-time ones, as Linux does).
#[derive(Default)]
pub struct Pending {
    pub set: u64,
    infos: Vec<Info>,
}

/// The first real-time signal: these queue; standard ones merge.
const SIGRTMIN: u32 = 32;

impl Pending {
    fn add(&mut self, info: Info) {
        let bit = abi::bit(info.signo);
        if self.set & bit != 0 && info.signo < SIGRTMIN {
            return;
        }
        self.set |= bit;
        self.infos.push(info);
    }

    /// Takes the oldest `siginfo` of `sig`.
    fn take(&mut self, sig: u32) -> Info {
        let at = self.infos.iter().position(|i| i.signo == sig);
        let info = at.map_or(Info::sent(sig, abi::SI_KERNEL, 0), |at| {
            self.infos.remove(at)
        });
        if !self.infos.iter().any(|i| i.signo == sig) {
            self.set &= !abi::bit(sig);
        }
        info
    }
}

/// What a process's threads share: the dispositions and the process-directed pending set.
pub struct ProcessSignals {
    pub actions: [Action; abi::NSIG as usize],
    pub pending: Pending,
}

impl ProcessSignals {
    pub fn new() -> Self {
        ProcessSignals {
            actions: [Action::default(); abi::NSIG as usize],
            pending: Pending::default(),
        }
    }
}

impl core::default::Default for ProcessSignals {
    fn default() -> Self {
        Self::new()
    }
}

/// One thread's mask and the signals sent to it alone.
#[derive(Default)]
pub struct ThreadSignals {
    pub blocked: u64,
    pub pending: Pending,
    /// The mask `rt_sigsuspend` replaced, restored by the frame of the signal that ends
    /// it (or at the return to user mode when none is handled).
    pub saved_blocked: Option<u64>,
}

impl Task {
    /// Whether a signal this thread would deliver now is pending (its own or its
    /// process's, not blocked).
    pub fn signal_deliverable(&self) -> bool {
        if !self.signal_hint.load(Ordering::Acquire)
            && !self.process.signal_hint.load(Ordering::Acquire)
        {
            return false;
        }
        let shared = self.process.signals.lock().pending.set;
        let me = self.signals.lock();
        (me.pending.set | shared) & !me.blocked != 0
    }
}

/// Recomputes the hints after a change of `me` or `shared` (under their locks).
fn update_hints(task: &Task, me: &ThreadSignals, shared: &ProcessSignals) {
    task.signal_hint
        .store(me.pending.set & !me.blocked != 0, Ordering::Release);
    task.process
        .signal_hint
        .store(shared.pending.set != 0, Ordering::Release);
}

/// Makes `task` notice a new signal soon: woken from an interruptible sleep, or, if it runs
/// on another CPU, interrupted so that it passes through the return to user mode.
fn notify(task: &Arc<Task>) {
    if !sched::block::wake_interruptible(task) {
        sched::kick_if_running_elsewhere(task);
    }
}

/// Sends `info` to thread `task` (`tgkill`, a fault). A signal its process ignores, and the
/// thread does not block, is dropped (a handler installed later must not see it).
pub fn send_to_thread(task: &Arc<Task>, info: Info) {
    {
        let shared = task.process.signals.lock();
        let mut me = task.signals.lock();
        let sig = info.signo;
        if shared.actions[sig as usize - 1].ignores(sig) && me.blocked & abi::bit(sig) == 0 {
            return;
        }
        me.pending.add(info);
        update_hints(task, &me, &shared);
    }
    notify(task);
}

/// Sends `info` to `process` (`kill`): pending for the process, taken by the first thread
/// that does not block it. Dropped if the process ignores it.
pub fn send_to_process(process: &Arc<Process>, info: Info) {
    let sig = info.signo;
    let threads = sched::threads_of(process);
    {
        let mut shared = process.signals.lock();
        if shared.actions[sig as usize - 1].ignores(sig) {
            return;
        }
        shared.pending.add(info);
        process.signal_hint.store(true, Ordering::Release);
    }
    // The thread to wake: one that does not block it (none: it waits until one unblocks).
    let target = threads
        .iter()
        .find(|t| t.signals.lock().blocked & abi::bit(sig) == 0);
    if let Some(task) = target {
        task.signal_hint.store(true, Ordering::Release);
        notify(task);
    }
}

/// A fault in user mode raises its signal on the thread; a handler the thread blocks or a
/// disposition that ignores it cannot stop a fault, so those are reset (Linux's
/// `force_sig`): the default action then ends the process.
pub fn force(info: Info) {
    let task = sched::current();
    let sig = info.signo;
    {
        let mut shared = task.process.signals.lock();
        let mut me = task.signals.lock();
        let action = &mut shared.actions[sig as usize - 1];
        if action.handler == abi::SIG_IGN || me.blocked & abi::bit(sig) != 0 {
            action.handler = abi::SIG_DFL;
            me.blocked &= !abi::bit(sig);
        }
        me.pending.add(info);
        update_hints(&task, &me, &shared);
    }
}

/// Drops every pending `sig` of `task` and of its process (`sig` is ignored now).
pub fn discard(task: &Task, sig: u32) {
    let mut shared = task.process.signals.lock();
    let mut me = task.signals.lock();
    while me.pending.set & abi::bit(sig) != 0 {
        me.pending.take(sig);
    }
    while shared.pending.set & abi::bit(sig) != 0 {
        shared.pending.take(sig);
    }
    update_hints(task, &me, &shared);
}

/// Sets the calling thread's blocked set (never `SIGKILL` or `SIGSTOP`).
pub fn set_blocked(mask: u64) {
    let task = sched::current();
    let shared = task.process.signals.lock();
    let mut me = task.signals.lock();
    me.blocked = mask & !abi::UNBLOCKABLE;
    update_hints(&task, &me, &shared);
}

/// The calling thread's blocked set.
pub fn blocked() -> u64 {
    sched::with_current(|t| t.signals.lock().blocked)
}

/// The signals pending for the calling thread (its own and its process's).
pub fn pending() -> u64 {
    let task = sched::current();
    let shared = task.process.signals.lock().pending.set;
    shared | task.signals.lock().pending.set
}

/// What the return to user mode does next.
enum Next {
    Handle(u32, Info, Action, u64),
    Default(u32, Info),
}

/// Takes the first deliverable signal of the calling thread (its own first), and for a
/// handled one switches to the handler's mask; returns the mask to restore with it.
fn dequeue(task: &Task) -> Option<Next> {
    let mut shared = task.process.signals.lock();
    let mut me = task.signals.lock();
    let own = me.pending.set & !me.blocked;
    let from_process = shared.pending.set & !me.blocked;
    let (sig, info) = if let Some(sig) = abi::first(own) {
        (sig, me.pending.take(sig))
    } else if let Some(sig) = abi::first(from_process) {
        (sig, shared.pending.take(sig))
    } else {
        if let Some(saved) = me.saved_blocked.take() {
            me.blocked = saved;
        }
        update_hints(task, &me, &shared);
        return None;
    };
    let action = shared.actions[sig as usize - 1];
    let next = if action.is_handler() {
        if action.flags & abi::SA_RESETHAND != 0 {
            shared.actions[sig as usize - 1].handler = abi::SIG_DFL;
        }
        let old = me.saved_blocked.take().unwrap_or(me.blocked);
        let mut mask = me.blocked | action.mask;
        if action.flags & abi::SA_NODEFER == 0 {
            mask |= abi::bit(sig);
        }
        me.blocked = mask & !abi::UNBLOCKABLE;
        Next::Handle(sig, info, action, old)
    } else if action.handler == abi::SIG_IGN {
        Next::Default(0, info)
    } else {
        Next::Default(sig, info)
    };
    update_hints(task, &me, &shared);
    Some(next)
}

/// Delivers the calling thread's deliverable signals before it returns to user mode with
/// `frame`: a frame on its stack for each handled one (the last taken runs first, as on
/// Linux), the default action for the others. Runs with interrupts on.
pub fn deliver(frame: &mut TrapFrame) {
    let task = sched::current();
    while task.signal_hint.load(Ordering::Acquire)
        || task.process.signal_hint.load(Ordering::Acquire)
    {
        match dequeue(&task) {
            None => return,
            Some(Next::Default(0, _)) => {}
            Some(Next::Default(sig, info)) => match abi::default_action(sig) {
                Default::Terminate => {
                    drop(task);
                    terminate(sig, &info, frame)
                }
                Default::Ignore | Default::Continue => {}
                Default::Stop => stop_unsupported(sig),
            },
            Some(Next::Handle(sig, info, action, old)) => {
                if let Err(why) = enter_handler(frame, sig, info, action, old) {
                    drop(task);
                    kill_with_sigsegv(format_args!(
                        "no room for the {} frame ({why:?})",
                        abi::name(sig)
                    ));
                }
            }
        }
    }
}

/// Stopping needs job control, which comes with processes (`fork`, `wait`): until then a
/// stop signal's default action does nothing, and says so once per process.
fn stop_unsupported(sig: u32) {
    let process = sched::current_process();
    let bit = 1 << (sig - abi::SIGSTOP);
    if process.stops_ignored.fetch_or(bit, Ordering::Relaxed) & bit == 0 {
        log::warn!(
            "pid {} ({}): {} would stop it; Tempest has no job control yet: ignored",
            process.tgid,
            process.name,
            abi::name(sig)
        );
    }
}

/// The default action "terminate": the whole process ends with status 128 + the signal,
/// with one line saying why.
fn terminate(sig: u32, info: &Info, frame: &TrapFrame) -> ! {
    let (pid, name) = sched::with_current(|t| (t.tid, t.process.name.clone()));
    let signame = abi::name(sig);
    if info.fault && info.trapno == 14 {
        let pf = arch::exception::PageFault::from_error_code(info.error);
        log::warn!(
            "pid {pid} ({name}) killed by {signame}: {} {:#010x} ({}), eip={:#010x}",
            pf.access,
            info.addr,
            pf.cause,
            frame.eip
        );
    } else if info.fault {
        let (_, what) = match info.trapno {
            abi::TRAP_IRET => ("", "the iret to user mode faulted"),
            n => arch::exception::name(n).unwrap_or(("?", "exception")),
        };
        log::warn!(
            "pid {pid} ({name}) killed by {signame}: {what}, eip={:#010x}",
            frame.eip
        );
    } else {
        log::warn!(
            "pid {pid} ({name}) killed by {signame} (sent by pid {})",
            info.pid
        );
    }
    // exit_group never returns: free the copy of the name here or it leaks.
    drop(name);
    current_process_killed_by(sig);
    sched::exit_group(128 + sig as i32)
}

/// The user registers of `frame`, with a fault's details.
fn registers(frame: &TrapFrame, info: &Info) -> Registers {
    Registers {
        gs: frame.gs,
        fs: frame.fs,
        es: frame.es,
        ds: frame.ds,
        edi: frame.edi,
        esi: frame.esi,
        ebp: frame.ebp,
        esp: frame.user_esp,
        ebx: frame.ebx,
        edx: frame.edx,
        ecx: frame.ecx,
        eax: frame.eax,
        trapno: if info.fault { info.trapno } else { 0 },
        err: if info.fault { info.error } else { 0 },
        eip: frame.eip,
        cs: frame.cs,
        eflags: frame.eflags,
        ss: frame.user_ss,
        cr2: if info.fault && info.trapno == 14 {
            info.addr
        } else {
            0
        },
    }
}

/// Writes the frame of `sig` on the user stack (or the alternate stack) and points `frame`
/// at the handler. The handler starts with the FPU in its initial state, as on Linux.
fn enter_handler(
    frame: &mut TrapFrame,
    sig: u32,
    info: Info,
    action: Action,
    blocked: u64,
) -> Result<(), Errno> {
    let esp = frame.user_esp;
    let (top, stack, on_alt) = sched::with_own_context(|ctx| {
        let alt = ctx.alt_stack;
        let report = Stack {
            sp: alt.sp,
            flags: alt.reported_flags(esp),
            size: alt.size,
        };
        let switch = action.flags & abi::SA_ONSTACK != 0 && alt.size != 0 && !alt.contains(esp);
        if switch && alt.flags & abi::SS_AUTODISARM != 0 {
            ctx.alt_stack = Stack::DISABLED;
        }
        let top = if switch {
            alt.sp.wrapping_add(alt.size)
        } else {
            esp
        };
        (top, report, (switch || alt.contains(esp)).then_some(alt))
    });
    // The task's own save area holds the image (heap, 16-byte aligned as fxsave needs;
    // unused while the task runs, and preemption is off while it is borrowed).
    let image = sched::with_own_context(|ctx| {
        ctx.fpu.save();
        *ctx.fpu.bytes()
    });
    let image = &image;
    // The process's memory, once: where its vDSO is (the trampolines), and the frame's copy.
    let process = sched::current_process();
    let memory = process.mem.lock();
    let vdso = memory.vdso;
    let delivery = Delivery {
        sig,
        info,
        action,
        regs: registers(frame, &info),
        blocked,
        stack,
        fpu: if arch::fpu::fxsr() {
            Fpu::Fxsave(image)
        } else {
            Fpu::Fnsave(image)
        },
        trampolines: (vdso != 0).then(|| crate::loader::vdso_trampolines(vdso)),
    };
    let built = delivery.build(top).ok_or(Errno::EFAULT)?;
    // A frame that does not fit the alternate stack would run over what lies below it.
    if let Some(alt) = on_alt
        && !alt.contains(built.at)
    {
        return Err(Errno::ENOMEM);
    }
    uaccess::copy_to_user(&memory.space, built.at, &built.bytes)?;
    drop(memory);
    if !FPU_OFF.load(Ordering::Relaxed) {
        load_fpu(FpuState::initial());
    }
    let user_ds = u32::from(arch::gdt::USER_DS);
    frame.eip = action.handler;
    frame.user_esp = built.at;
    [frame.eax, frame.edx, frame.ecx] = built.args;
    frame.ds = user_ds;
    frame.es = user_ds;
    frame.user_ss = user_ds;
    frame.cs = u32::from(arch::gdt::USER_CS);
    frame.eflags &= !abi::HANDLER_CLEARS;
    Ok(())
}

/// Negative control (`sigreturn-any-segment`): `sigreturn` takes the frame's code and stack
/// selectors as they are, privilege level included, so a forged frame naming the kernel's
/// returns to ring 0.
static SEGMENT_CHECK_OFF: AtomicBool = AtomicBool::new(false);

/// Negative control (`signal-no-fpu`): a handler starts with the interrupted code's FPU
/// registers live and `sigreturn` leaves the handler's in place (the frame still holds the
/// state, nothing loads it): what a handler does to the x87/SSE registers leaks back.
static FPU_OFF: AtomicBool = AtomicBool::new(false);

/// Turns the FPU state of signal frames off (negative control).
pub fn disable_frame_fpu() {
    log::warn!(
        "signal-no-fpu: signal handlers and sigreturn leave the FPU registers alone (negative control)"
    );
    FPU_OFF.store(true, Ordering::Relaxed);
}

/// Turns the segment check of `sigreturn` off (negative control).
pub fn disable_segment_check() {
    log::warn!(
        "sigreturn-any-segment: sigreturn keeps the privilege level of the frame's cs and ss (negative control)"
    );
    SEGMENT_CHECK_OFF.store(true, Ordering::Relaxed);
}

/// `sigreturn`/`rt_sigreturn`: the state a frame saved, back in `frame`; returns the
/// restored `eax`. A frame whose FPU state cannot be read kills the process with SIGSEGV
/// (Linux's `signal_fault`), as the program has nothing left to return to.
///
/// The segment selectors are taken as Linux i386 takes them: any code and stack segment,
/// at privilege level 3 (the requested privilege level is forced to 3, so nothing returns
/// to ring 0), and any data segments. Whether they can be loaded is the CPU's to say on the
/// way out: a data segment that cannot is popped as the null selector, an `iret` that
/// faults on the code or stack segment raises SIGILL (`arch::trap::fix_return_fault`),
/// which a handler may catch (Linux's own `sigreturn` selftest does). A 16-bit stack
/// segment from the LDT gets the whole stack pointer back (espfix).
pub fn restore(frame: &mut TrapFrame, restored: &abi::Restored) -> u32 {
    let r = &restored.regs;
    let rpl = if SEGMENT_CHECK_OFF.load(Ordering::Relaxed) {
        0
    } else {
        3
    };
    let mut image = *FpuState::initial().bytes();
    if restored.fpstate != 0 {
        let fxsr = arch::fpu::fxsr();
        let len = abi::FREGS_SIZE + if fxsr { 512 } else { 0 };
        let mut raw = [0u8; abi::FREGS_SIZE + 512];
        let process = sched::current_process();
        let read =
            uaccess::copy_from_user(&process.mem.lock().space, &mut raw[..len], restored.fpstate);
        if read.is_err() {
            kill_with_sigsegv(format_args!(
                "sigreturn from a frame with an unreadable FPU state"
            ));
        }
        abi::restore_fpu(&raw[..len], fxsr, &mut image);
    }
    if !FPU_OFF.load(Ordering::Relaxed) {
        load_fpu(FpuState::from_image(&image));
    }
    set_blocked(restored.blocked);
    if let Some(stack) = restored.stack {
        // As Linux's restore_altstack: an invalid stack is left as it was.
        let _ = set_alt_stack(stack, r.esp);
    }
    frame.gs = r.gs;
    frame.fs = r.fs;
    frame.es = r.es;
    frame.ds = r.ds;
    frame.edi = r.edi;
    frame.esi = r.esi;
    frame.ebp = r.ebp;
    frame.user_esp = r.esp;
    frame.ebx = r.ebx;
    frame.edx = r.edx;
    frame.ecx = r.ecx;
    frame.eip = r.eip;
    frame.cs = (r.cs & 0xffff) | rpl;
    frame.user_ss = (r.ss & 0xffff) | rpl;
    frame.eflags = (frame.eflags & !abi::FIX_EFLAGS) | (r.eflags & abi::FIX_EFLAGS);
    r.eax
}

/// Loads `state` into this CPU's FPU registers: the running task's state from now on.
fn load_fpu(state: FpuState) {
    sched::with_own_context(|ctx| {
        ctx.fpu = state;
        ctx.fpu.restore();
    });
}

/// Ends the calling process with SIGSEGV, as Linux's `force_sigsegv` does when a signal
/// frame cannot be written or read back: the program has nothing left to run or return
/// to. One log line says why.
pub fn kill_with_sigsegv(why: core::fmt::Arguments) -> ! {
    let (pid, name) = sched::with_current(|t| (t.tid, t.process.name.clone()));
    log::warn!("pid {pid} ({name}) killed by SIGSEGV: {why}");
    drop(name);
    current_process_killed_by(abi::SIGSEGV);
    sched::exit_group(128 + abi::SIGSEGV as i32)
}

/// `MINSIGSTKSZ` on i386.
const MINSIGSTKSZ: u32 = 2048;

/// Sets the calling thread's alternate stack as `sigaltstack` does (its stack pointer is
/// `esp`): `EPERM` while it runs on the current one, `EINVAL` for unknown flags, `ENOMEM`
/// below `MINSIGSTKSZ`. Returns the old one as `sigaltstack` reports it.
pub fn set_alt_stack(new: Stack, esp: u32) -> Result<Stack, Errno> {
    sched::with_own_context(|ctx| {
        let old = ctx.alt_stack;
        let report = Stack {
            flags: old.reported_flags(esp),
            ..old
        };
        if old.contains(esp) {
            return Err(Errno::EPERM);
        }
        let mode = new.flags & !abi::SS_AUTODISARM;
        if mode != 0 && mode != abi::SS_DISABLE && mode != abi::SS_ONSTACK {
            return Err(Errno::EINVAL);
        }
        ctx.alt_stack = if mode == abi::SS_DISABLE {
            Stack::DISABLED
        } else if new.size < MINSIGSTKSZ {
            return Err(Errno::ENOMEM);
        } else {
            Stack {
                sp: new.sp,
                flags: new.flags & abi::SS_AUTODISARM,
                size: new.size,
            }
        };
        Ok(report)
    })
}

/// The calling thread's alternate stack as `sigaltstack` reports it.
pub fn alt_stack(esp: u32) -> Stack {
    sched::with_own_context(|ctx| Stack {
        flags: ctx.alt_stack.reported_flags(esp),
        ..ctx.alt_stack
    })
}

/// Notes the signal that ends the running process, for its parent's `wait4`.
fn current_process_killed_by(sig: u32) {
    sched::current_process()
        .killed_by
        .store(sig, Ordering::SeqCst);
}
