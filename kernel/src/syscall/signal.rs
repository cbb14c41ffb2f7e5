//! The signal calls: dispositions (`rt_sigaction`), masks (`rt_sigprocmask`,
//! `rt_sigsuspend`, `rt_sigpending`), alternate stacks (`sigaltstack`), sending (`kill`,
//! `tgkill`, `tkill`) and the return from a handler (`sigreturn`, `rt_sigreturn`).
//! Pending sets and delivery are in `proc::signal`, the frame layouts in `crate::signal`.

use super::{SysResult, read_user, write_user};
use crate::errno::Errno;
use crate::proc::signal as state;
use crate::sched;
use crate::signal::{self as abi, Action, Info, Stack};
use alloc::sync::Arc;
use arch::trap::TrapFrame;

/// The size of a `sigset_t` the kernel takes.
const SIGSET_SIZE: u32 = 8;

/// `rt_sigaction(sig, act, oact, sigsetsize)`. Ignoring a signal drops what is pending of
/// it, as Linux does.
pub fn rt_sigaction(sig: u32, act: u32, oact: u32, sigsetsize: u32) -> SysResult {
    if sigsetsize != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let new = if act != 0 {
        Some(Action::parse(&read_user(act, abi::ACTION_SIZE)?))
    } else {
        None
    };
    let old = set_action(sig, new)?;
    if oact != 0 {
        write_user(oact, &old.to_bytes())?;
    }
    Ok(0)
}

/// The old `sigaction(sig, act, oact)` (67), with `struct old_sigaction`: as
/// `rt_sigaction`, for the first 32 signals' mask.
pub fn sigaction(sig: u32, act: u32, oact: u32) -> SysResult {
    let new = if act != 0 {
        Some(Action::parse_old(&read_user(act, abi::OLD_ACTION_SIZE)?))
    } else {
        None
    };
    let old = set_action(sig, new)?;
    if oact != 0 {
        write_user(oact, &old.to_old_bytes())?;
    }
    Ok(0)
}

/// Sets the process's action for `sig` to `new` (if any) and returns the one before.
fn set_action(sig: u32, new: Option<Action>) -> Result<Action, Errno> {
    if !abi::valid(sig) || (new.is_some() && (sig == abi::SIGKILL || sig == abi::SIGSTOP)) {
        return Err(Errno::EINVAL);
    }
    // The mask never holds what cannot be blocked.
    let new = new.map(|a| Action {
        mask: a.mask & !abi::UNBLOCKABLE,
        ..a
    });
    let process = sched::current_process();
    let old = {
        let mut signals = process.signals.lock();
        let slot = &mut signals.actions[sig as usize - 1];
        let old = *slot;
        if let Some(new) = new {
            *slot = new;
            if new.ignores(sig) {
                drop(signals);
                drop_pending(&process, sig);
            }
        }
        old
    };
    Ok(old)
}

/// Throws away every pending `sig` of `process` (it is ignored now).
fn drop_pending(process: &alloc::sync::Arc<crate::proc::Process>, sig: u32) {
    for thread in sched::threads_of(process) {
        state::discard(&thread, sig);
    }
}

const SIG_BLOCK: u32 = 0;
const SIG_UNBLOCK: u32 = 1;
const SIG_SETMASK: u32 = 2;

/// `rt_sigprocmask(how, set, oset, sigsetsize)`: the calling thread's mask.
pub fn rt_sigprocmask(how: u32, set: u32, oset: u32, sigsetsize: u32) -> SysResult {
    if sigsetsize != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let change = if set != 0 {
        let raw: [u8; 8] = read_user(set, 8)?;
        if !matches!(how, SIG_BLOCK | SIG_UNBLOCK | SIG_SETMASK) {
            return Err(Errno::EINVAL);
        }
        Some(u64::from_le_bytes(raw))
    } else {
        None
    };
    let old = state::blocked();
    if let Some(bits) = change {
        state::set_blocked(match how {
            SIG_BLOCK => old | bits,
            SIG_UNBLOCK => old & !bits,
            _ => bits,
        });
    }
    if oset != 0 {
        write_user(oset, &old.to_le_bytes())?;
    }
    Ok(0)
}

/// `rt_sigpending(set, sigsetsize)`: the blocked signals waiting for the thread.
pub fn rt_sigpending(set: u32, sigsetsize: u32) -> SysResult {
    if sigsetsize > SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let pending = state::pending() & state::blocked();
    write_user(set, &pending.to_le_bytes()[..sigsetsize as usize])?;
    Ok(0)
}

/// `rt_sigsuspend(mask, sigsetsize)`: waits with `mask` until a signal is delivered; always
/// `EINTR`. The handler's frame restores the mask the thread had before.
pub fn rt_sigsuspend(mask: u32, sigsetsize: u32) -> SysResult {
    if sigsetsize != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let raw: [u8; 8] = read_user(mask, 8)?;
    let old = state::blocked();
    state::set_blocked(u64::from_le_bytes(raw));
    sched::with_current(|t| t.signals.lock().saved_blocked = Some(old));
    wait_for_signal()
}

/// Sleeps until a signal can be delivered to the calling thread (or its process ends):
/// `EINTR`, always.
fn wait_for_signal() -> SysResult {
    loop {
        let task = sched::current();
        let exiting = task
            .process
            .exiting
            .load(core::sync::atomic::Ordering::SeqCst);
        if exiting || task.signal_deliverable() {
            return Err(Errno::EINTR);
        }
        drop(task);
        sched::block::prepare_interruptible(crate::proc::NO_DEADLINE).sleep();
    }
}

/// `pause()`: waits until a signal is delivered (one whose action is to run a handler or
/// to end the process); always `EINTR`.
pub fn pause() -> SysResult {
    wait_for_signal()
}

/// `sigaltstack(ss, old_ss)`: the calling thread's alternate signal stack (`stack_t`:
/// `ss_sp`, `ss_flags`, `ss_size`); `esp` is its user stack pointer.
pub fn sigaltstack(ss: u32, old_ss: u32, esp: u32) -> SysResult {
    let old = if ss != 0 {
        let raw: [u8; 12] = read_user(ss, 12)?;
        state::set_alt_stack(Stack::parse(&raw), esp)?
    } else {
        state::alt_stack(esp)
    };
    if old_ss != 0 {
        write_user(old_ss, &old.to_bytes())?;
    }
    Ok(0)
}

/// `rt_sigreturn()`: back from a handler entered with an rt frame.
pub fn rt_sigreturn(frame: &mut TrapFrame) -> SysResult {
    let at = abi::rt_ucontext_at(frame.user_esp);
    let uc: [u8; abi::UCONTEXT_SIZE] = match read_user(at, abi::UCONTEXT_SIZE) {
        Ok(uc) => uc,
        Err(_) => unreadable(at),
    };
    Ok(state::restore(frame, &abi::parse_ucontext(&uc)))
}

/// `sigreturn()`: back from a handler entered with a plain frame.
pub fn sigreturn(frame: &mut TrapFrame) -> SysResult {
    let at = abi::frame_at(frame.user_esp);
    let raw: [u8; abi::FRAME_SIZE] = match read_user(at, abi::FRAME_SIZE) {
        Ok(raw) => raw,
        Err(_) => unreadable(at),
    };
    Ok(state::restore(frame, &abi::parse_frame(&raw)))
}

/// A `sigreturn` whose frame cannot be read has nothing to return to: SIGSEGV, as on
/// Linux.
fn unreadable(at: u32) -> ! {
    state::kill_with_sigsegv(format_args!(
        "sigreturn from an unreadable frame at {at:#010x}"
    ))
}

/// `kill(pid, sig)`: to the process `pid`; 0 and the caller's negated pid (its process
/// group: every Tempest process leads its own) mean the caller's process. `sig` 0 only
/// checks that the process exists. `-1` (every process) and other groups: `ESRCH` until
/// processes have groups.
pub fn kill(pid: u32, sig: u32) -> SysResult {
    if sig != 0 && !abi::valid(sig) {
        return Err(Errno::EINVAL);
    }
    let me = sched::current_process();
    let pid = pid as i32;
    let targets = if pid > 0 {
        let target = sched::find_thread(pid as u32)
            .filter(|t| t.tid == t.process.tgid)
            .map(|t| t.process.clone());
        match target {
            Some(target) => alloc::vec![target],
            // The caller's own zombie (ended, not waited for) still exists for `kill`, as
            // on Linux: the signal is dropped, and the call succeeds.
            None if own_zombie(&me, pid as u32) => return Ok(0),
            None => return Err(Errno::ESRCH),
        }
    } else if pid == -1 {
        // Every process but the caller (and pid 1, as Linux spares init).
        sched::processes_in_group(0)
            .into_iter()
            .filter(|p| !Arc::ptr_eq(p, &me) && p.tgid != 1)
            .collect()
    } else {
        // 0: the caller's group; below -1: group -pid.
        let pgid = if pid == 0 {
            me.pgid.load(core::sync::atomic::Ordering::Relaxed)
        } else {
            pid.unsigned_abs()
        };
        sched::processes_in_group(pgid)
    };
    if targets.is_empty() {
        return Err(Errno::ESRCH);
    }
    if sig != 0 {
        for target in &targets {
            state::send_to_process(target, Info::sent(sig, abi::SI_USER, me.tgid));
        }
    }
    Ok(0)
}

/// Whether `pid` is a child of `me` that has ended and not been waited for.
fn own_zombie(me: &crate::proc::Process, pid: u32) -> bool {
    me.family
        .lock()
        .children
        .iter()
        .any(|c| c.pid == pid && c.status.is_some())
}

/// `tgkill(tgid, tid, sig)`: to thread `tid` of process `tgid`.
pub fn tgkill(tgid: u32, tid: u32, sig: u32) -> SysResult {
    if (tgid as i32) <= 0 {
        return Err(Errno::EINVAL);
    }
    send_to_thread(Some(tgid), tid, sig)
}

/// `tkill(tid, sig)`: to thread `tid`, whatever its process.
pub fn tkill(tid: u32, sig: u32) -> SysResult {
    send_to_thread(None, tid, sig)
}

fn send_to_thread(tgid: Option<u32>, tid: u32, sig: u32) -> SysResult {
    if (tid as i32) <= 0 || (sig != 0 && !abi::valid(sig)) {
        return Err(Errno::EINVAL);
    }
    let task = sched::find_thread(tid)
        .filter(|t| tgid.is_none_or(|g| t.process.tgid == g))
        .ok_or(Errno::ESRCH)?;
    if sig != 0 {
        let me = sched::current_process().tgid;
        state::send_to_thread(&task, Info::sent(sig, abi::SI_TKILL, me));
    }
    Ok(0)
}
