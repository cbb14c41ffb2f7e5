//! Signal state as the C runtimes set it up: `rt_sigaction`, `rt_sigprocmask`,
//! `sigaltstack`. Dispositions (per process), masks and alternate stacks (per thread) are
//! kept and reported back exactly as Linux does. Tempest raises no signal yet (a fault
//! still ends the process with 128 + its number), so nothing is delivered; delivery to
//! handlers is the next step of the C-runtime work.

use super::{SysResult, read_user, write_user};
use crate::errno::Errno;
use crate::sched;

/// `_NSIG` and the size of a `sigset_t` the kernel takes.
pub const SIGNALS: usize = 64;
const SIGSET_SIZE: u32 = 8;
const SIGKILL: u32 = 9;
const SIGSTOP: u32 = 19;
/// What can never be blocked or caught.
const UNBLOCKABLE: u64 = 1 << (SIGKILL - 1) | 1 << (SIGSTOP - 1);

/// i386's `struct sigaction` for `rt_sigaction`: handler, flags, restorer, mask.
pub const SIGACTION_SIZE: usize = 20;

/// `rt_sigaction(sig, act, oact, sigsetsize)`.
pub fn rt_sigaction(sig: u32, act: u32, oact: u32, sigsetsize: u32) -> SysResult {
    if sigsetsize != SIGSET_SIZE || !(1..=SIGNALS as u32).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    if act != 0 && (sig == SIGKILL || sig == SIGSTOP) {
        return Err(Errno::EINVAL);
    }
    let new = if act != 0 {
        let mut raw: [u8; SIGACTION_SIZE] = read_user(act, SIGACTION_SIZE)?;
        // The mask never holds what cannot be blocked.
        let mask = u64::from_le_bytes(raw[12..20].try_into().expect("8")) & !UNBLOCKABLE;
        raw[12..20].copy_from_slice(&mask.to_le_bytes());
        Some(raw)
    } else {
        None
    };
    let process = sched::current_process();
    let old = {
        let mut actions = process.signal_actions.lock();
        let slot = &mut actions[sig as usize - 1];
        let old = *slot;
        if let Some(new) = new {
            *slot = new;
        }
        old
    };
    if oact != 0 {
        write_user(oact, &old)?;
    }
    Ok(0)
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
        let bits = u64::from_le_bytes(raw);
        if !matches!(how, SIG_BLOCK | SIG_UNBLOCK | SIG_SETMASK) {
            return Err(Errno::EINVAL);
        }
        Some(bits)
    } else {
        None
    };
    let old = sched::with_own_context(|ctx| {
        let old = ctx.signal_mask;
        if let Some(bits) = change {
            let mask = match how {
                SIG_BLOCK => old | bits,
                SIG_UNBLOCK => old & !bits,
                _ => bits,
            };
            ctx.signal_mask = mask & !UNBLOCKABLE;
        }
        old
    });
    if oset != 0 {
        write_user(oset, &old.to_le_bytes())?;
    }
    Ok(0)
}

const SS_ONSTACK: u32 = 1;
const SS_DISABLE: u32 = 2;
const SS_AUTODISARM: u32 = 1 << 31;
const MINSIGSTKSZ: u32 = 2048;

/// `sigaltstack(ss, old_ss)`: the calling thread's alternate signal stack
/// (`stack_t`: `ss_sp`, `ss_flags`, `ss_size`).
pub fn sigaltstack(ss: u32, old_ss: u32) -> SysResult {
    let new = if ss != 0 {
        let raw: [u8; 12] = read_user(ss, 12)?;
        let word = |i: usize| u32::from_le_bytes(raw[i * 4..i * 4 + 4].try_into().expect("4"));
        let (sp, flags, size) = (word(0), word(1), word(2));
        let mode = flags & !SS_AUTODISARM;
        if mode != 0 && mode != SS_DISABLE && mode != SS_ONSTACK {
            return Err(Errno::EINVAL);
        }
        if mode == SS_DISABLE {
            Some([0, SS_DISABLE, 0])
        } else if size < MINSIGSTKSZ {
            return Err(Errno::ENOMEM);
        } else {
            Some([sp, flags & SS_AUTODISARM, size])
        }
    } else {
        None
    };
    let old = sched::with_own_context(|ctx| {
        let old = ctx.alt_stack;
        if let Some(new) = new {
            ctx.alt_stack = new;
        }
        old
    });
    if old_ss != 0 {
        let mut raw = [0u8; 12];
        for (i, w) in old.iter().enumerate() {
            raw[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
        write_user(old_ss, &raw)?;
    }
    Ok(0)
}
