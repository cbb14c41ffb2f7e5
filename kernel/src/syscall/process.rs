//! The calls a C runtime makes about its process at start-up and for its threads:
//! `set_tid_address`, `set_robust_list`, `uname`, `getrlimit`-family, `getrandom`, the
//! user and group ids; and processes: `fork` (and `vfork`, `clone` without `CLONE_VM`),
//! `wait4`/`waitpid`, `getppid`.

use super::{SysResult, write_user};
use crate::errno::Errno;
use crate::mm::uaccess;
use crate::proc::{Child, Memory, Process};
use crate::sched;
use alloc::sync::{Arc, Weak};
use arch::trap::TrapFrame;
use core::sync::atomic::Ordering;
use smp::shootdown::Flush;

/// `set_tid_address(tidptr)`: the caller's `CLONE_CHILD_CLEARTID` word from now on;
/// returns its tid.
pub fn set_tid_address(tidptr: u32) -> SysResult {
    sched::with_current(|t| {
        t.clear_child_tid.store(tidptr, Ordering::Relaxed);
        Ok(t.tid)
    })
}

/// The size of Linux i386's `struct robust_list_head`.
const ROBUST_LIST_HEAD_SIZE: u32 = 12;

/// `set_robust_list(head, len)`: accepted (`EINVAL` for another `len`, as Linux); the list
/// is not walked at exit yet, which only matters to a process whose thread dies holding a
/// robust mutex.
pub fn set_robust_list(_head: u32, len: u32) -> SysResult {
    if len != ROBUST_LIST_HEAD_SIZE {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// `uname(buf)`: six fields of 65 bytes. The release is one glibc accepts.
pub fn uname(buf: u32) -> SysResult {
    let fields: [&[u8]; 6] = [
        b"Linux",
        b"tempest",
        b"6.1.0-tempest",
        b"#1 SMP PREEMPT",
        b"i686",
        b"(none)",
    ];
    let mut raw = [0u8; 6 * 65];
    for (i, f) in fields.iter().enumerate() {
        raw[i * 65..i * 65 + f.len()].copy_from_slice(f);
    }
    write_user(buf, &raw)?;
    Ok(0)
}

const RLIMIT_STACK: u32 = 3;
const RLIMIT_NOFILE: u32 = 7;
const RLIM_NLIMITS: u32 = 16;
const RLIM_INFINITY: u64 = u64::MAX;

/// The limits Tempest has: the stack a program is given (8 MiB, as Linux's default soft
/// limit) and the file table's size; none on the rest.
fn limit(resource: u32) -> Result<(u64, u64), Errno> {
    match resource {
        RLIMIT_STACK => Ok((8 << 20, RLIM_INFINITY)),
        RLIMIT_NOFILE => {
            let n = crate::files::MAX_FILES as u64;
            Ok((n, n))
        }
        r if r < RLIM_NLIMITS => Ok((RLIM_INFINITY, RLIM_INFINITY)),
        _ => Err(Errno::EINVAL),
    }
}

/// `ugetrlimit(resource, rlim)`: `struct rlimit` of two `unsigned long`s (infinity is
/// `~0`).
pub fn ugetrlimit(resource: u32, rlim: u32) -> SysResult {
    let (cur, max) = limit(resource)?;
    let narrow = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    let mut raw = [0u8; 8];
    raw[0..4].copy_from_slice(&narrow(cur).to_le_bytes());
    raw[4..8].copy_from_slice(&narrow(max).to_le_bytes());
    write_user(rlim, &raw)?;
    Ok(0)
}

/// `prlimit64(pid, resource, new, old)`: reads (the caller's process only: `ESRCH`
/// otherwise); setting a limit is `EPERM` (no limit can be changed yet).
pub fn prlimit64(pid: u32, resource: u32, new: u32, old: u32) -> SysResult {
    if pid != 0 && pid != sched::current_process().tgid {
        return Err(Errno::ESRCH);
    }
    let (cur, max) = limit(resource)?;
    if new != 0 {
        return Err(Errno::EPERM);
    }
    if old != 0 {
        let mut raw = [0u8; 16];
        raw[0..8].copy_from_slice(&cur.to_le_bytes());
        raw[8..16].copy_from_slice(&max.to_le_bytes());
        write_user(old, &raw)?;
    }
    Ok(0)
}

const GRND_NONBLOCK: u32 = 1;
const GRND_RANDOM: u32 = 2;
const GRND_INSECURE: u32 = 4;

/// `getrandom(buf, len, flags)`: `len` bytes of the kernel's ChaCha20 stream
/// (`crate::random`), which never blocks (seeded at boot).
pub fn getrandom(buf: u32, len: u32, flags: u32) -> SysResult {
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || flags & GRND_RANDOM != 0 && flags & GRND_INSECURE != 0
    {
        return Err(Errno::EINVAL);
    }
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len() as u32);
        crate::random::fill(&mut chunk[..n as usize]);
        write_user(buf + done, &chunk[..n as usize])?;
        done += n;
    }
    Ok(len)
}

const CLONE_SETTLS: u32 = 0x0008_0000;
const CLONE_PARENT_SETTID: u32 = 0x0010_0000;
const CLONE_CHILD_CLEARTID: u32 = 0x0020_0000;
const CLONE_CHILD_SETTID: u32 = 0x0100_0000;
/// `clone`'s low byte: the signal the parent gets when the child ends (SIGCHLD is sent
/// whatever it says).
const CSIGNAL: u32 = 0xff;

/// `fork()`, `vfork()` (a fork: the child gets its own copy, which a program that only
/// calls `execve` or `_exit` cannot tell apart) and `clone(flags, newsp, parent_tid, tls,
/// child_tid)` without `CLONE_VM`: a new process, a copy of the caller with the calling
/// thread alone, its memory shared copy-on-write (`AddressSpace::fork`), its open file
/// descriptions, working directory, umask and signal dispositions; the child returns 0
/// (on `newsp` when given), the parent the child's pid. The caller's writable pages are
/// write-protected and their translations dropped on every CPU running its threads before
/// the call returns. `EINVAL` for other clone flags, `EAGAIN` past the thread limits,
/// `ENOMEM`, `EFAULT` for a tid pointer (nothing is started then).
pub fn fork(
    frame: &TrapFrame,
    flags: u32,
    newsp: u32,
    parent_tid: u32,
    child_tid: u32,
) -> SysResult {
    let allowed = CSIGNAL | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
    if flags & !allowed != 0 || flags & CLONE_SETTLS != 0 {
        return Err(Errno::EINVAL);
    }
    let parent = sched::current_process();
    let pid = sched::new_tid();
    let mem = {
        let mut m = parent.mem.lock();
        let space = m.space.fork().map_err(|_| Errno::ENOMEM)?;
        if crate::mm::cow::fork_flush() {
            // The parent's writable translations go everywhere before any of its
            // threads may write again: a stale one would write into the child's page.
            parent.flush(Flush::All);
        } else {
            // The negative control: this CPU's only, so just the parent's threads on
            // other CPUs keep their stale writable entries.
            arch::cpu::flush_tlb();
        }
        Memory {
            space,
            brk_start: m.brk_start,
            brk: m.brk,
            vdso: m.vdso,
        }
    };
    let child = Arc::new(Process::new(pid, parent.name.clone(), 0, mem));
    child.forked.store(true, Ordering::Relaxed);
    child.ldt.copy_from(&parent.ldt);
    let exe = parent.exe.lock().clone();
    *child.exe.lock() = exe;
    let files = parent.files.lock().fork_copy();
    let console_only = core::mem::replace(&mut *child.files.lock(), files);
    drop(console_only);
    child
        .cwd
        .store(parent.cwd.load(Ordering::Relaxed), Ordering::Relaxed);
    child
        .umask
        .store(parent.umask.load(Ordering::Relaxed), Ordering::Relaxed);
    child
        .pgid
        .store(parent.pgid.load(Ordering::Relaxed), Ordering::Relaxed);
    child
        .sid
        .store(parent.sid.load(Ordering::Relaxed), Ordering::Relaxed);
    let actions = parent.signals.lock().actions;
    child.signals.lock().actions = actions;
    let cred = *parent.cred.lock();
    *child.cred.lock() = cred;
    {
        let pid_bytes = pid.to_le_bytes();
        if flags & CLONE_PARENT_SETTID != 0 {
            uaccess::copy_to_user(&parent.mem.lock().space, parent_tid, &pid_bytes)?;
        }
        if flags & CLONE_CHILD_SETTID != 0 {
            uaccess::copy_to_user(&child.mem.lock().space, child_tid, &pid_bytes)?;
        }
    }
    let clear_tid = if flags & CLONE_CHILD_CLEARTID != 0 {
        child_tid
    } else {
        0
    };
    let mut start = *frame;
    start.eax = 0;
    if newsp != 0 {
        start.user_esp = newsp;
    }
    child.family.lock().parent = Some(Arc::downgrade(&parent));
    parent.family.lock().children.push(Child {
        pid,
        process: Arc::downgrade(&child),
        status: None,
        pgid: child.pgid.load(Ordering::Relaxed),
    });
    match sched::spawn_forked(child, &start, clear_tid) {
        Ok(cpu) => {
            log::debug!("pid {}: forked pid {pid} on cpu {cpu}", parent.tgid);
            Ok(pid)
        }
        Err(e) => {
            parent.family.lock().children.retain(|c| c.pid != pid);
            Err(e)
        }
    }
}

const WNOHANG: u32 = 1;
/// Accepted and meaning nothing more here: `WUNTRACED`, `WCONTINUED` (no job control yet),
/// `__WNOTHREAD`, `__WALL`, `__WCLONE`.
const WAIT_IGNORED: u32 = 2 | 8 | 0x2000_0000 | 0x4000_0000 | 0x8000_0000;
/// `waitid`'s options: which changes it waits for (only ends happen here: no job stops
/// yet), and `WNOWAIT`, which leaves the child to be waited for again.
const WEXITED: u32 = 4;
const WSTOPPED: u32 = 2;
const WCONTINUED: u32 = 8;
const WNOWAIT: u32 = 0x0100_0000;
/// `struct rusage` on i386: 72 bytes (reported as zeroes).
const RUSAGE_LEN: usize = 72;

/// Which children a wait takes.
#[derive(Clone, Copy)]
enum Which {
    Any,
    Pid(u32),
    Group(u32),
}

impl Which {
    fn matches(self, child: &Child) -> bool {
        match self {
            Which::Any => true,
            Which::Pid(pid) => child.pid == pid,
            Which::Group(pgid) => child.group() == pgid,
        }
    }
}

/// Waits for an ended child that `which` matches and returns its pid and wait status,
/// taking it off the list unless `keep` (`WNOWAIT`). `None` at once with `nohang` when
/// none has ended; `ECHILD` when no child matches at all, `EINTR`.
fn wait_for_child(which: Which, nohang: bool, keep: bool) -> Result<Option<(u32, u32)>, Errno> {
    let me = sched::current_process();
    loop {
        let seen = me.child_events.changes();
        {
            let mut family = me.family.lock();
            if !family.children.iter().any(|c| which.matches(c)) {
                return Err(Errno::ECHILD);
            }
            let ended = family
                .children
                .iter()
                .position(|c| c.status.is_some() && which.matches(c));
            if let Some(i) = ended {
                let child = &family.children[i];
                let taken = (child.pid, child.status.expect("an ended child"));
                if !keep {
                    family.children.remove(i);
                }
                return Ok(Some(taken));
            }
        }
        if nohang {
            return Ok(None);
        }
        me.child_events.wait(seen)?;
    }
}

/// `wait4(pid, wstatus, options, rusage)`: takes an ended child's status (`pid` -1: any
/// child; > 0: that one; 0: one in the caller's process group; < -1: one in group
/// `-pid`), written at `wstatus` unless null as Linux encodes it (`status << 8`, or the
/// signal that ended it); returns its pid. Waits while the children it may take are
/// running, unless `WNOHANG` (then 0). `ECHILD` when no child matches, `EINTR`, `EINVAL`
/// for unknown options, `EFAULT`.
pub fn wait4(pid: u32, wstatus: u32, options: u32, rusage: u32) -> SysResult {
    if options & !(WNOHANG | WAIT_IGNORED) != 0 {
        return Err(Errno::EINVAL);
    }
    let which = match pid as i32 {
        -1 => Which::Any,
        0 => Which::Group(sched::current_process().pgid.load(Ordering::Relaxed)),
        p if p < 0 => Which::Group(p.unsigned_abs()),
        p => Which::Pid(p as u32),
    };
    let Some((child, status)) = wait_for_child(which, options & WNOHANG != 0, false)? else {
        return Ok(0);
    };
    if wstatus != 0 {
        write_user(wstatus, &status.to_le_bytes())?;
    }
    if rusage != 0 {
        write_user(rusage, &[0u8; RUSAGE_LEN])?;
    }
    Ok(child)
}

/// `waitid(idtype, id, infop, options, rusage)`: as `wait4`, with the child chosen by
/// `idtype` (`P_ALL` 0, `P_PID` 1, `P_PGID` 2 with `id` 0 the caller's group) and its end
/// told in the `siginfo_t` at `infop` (`SIGCHLD`, `CLD_EXITED` with the exit status or
/// `CLD_KILLED` with the signal, the pid, uid 0); 0. `WEXITED` must be asked for (or
/// `WSTOPPED`/`WCONTINUED`, which never happen here: there are no job stops);
/// `WNOWAIT` leaves the child to be waited for again; with `WNOHANG` and no child ended,
/// 0 and a zeroed `siginfo_t`, as on Linux. `EINVAL` for an unknown `idtype` or option,
/// `ECHILD`, `EINTR`, `EFAULT`.
pub fn waitid(idtype: u32, id: u32, infop: u32, options: u32, rusage: u32) -> SysResult {
    const P_ALL: u32 = 0;
    const P_PID: u32 = 1;
    const P_PGID: u32 = 2;
    const CLD_EXITED: i32 = 1;
    const CLD_KILLED: i32 = 2;
    let known = WNOHANG | WEXITED | WSTOPPED | WCONTINUED | WNOWAIT | 0xE000_0000;
    if options & !known != 0 || options & (WEXITED | WSTOPPED | WCONTINUED) == 0 {
        return Err(Errno::EINVAL);
    }
    let which = match idtype {
        P_ALL => Which::Any,
        P_PID if (id as i32) > 0 => Which::Pid(id),
        P_PGID if id == 0 => Which::Group(sched::current_process().pgid.load(Ordering::Relaxed)),
        P_PGID if (id as i32) > 0 => Which::Group(id),
        _ => return Err(Errno::EINVAL),
    };
    let nohang = options & WNOHANG != 0;
    let taken = if options & WEXITED != 0 {
        wait_for_child(which, nohang, options & WNOWAIT != 0)?
    } else {
        // Only stops or continues asked for, and neither ever happens here. With no
        // child to wait for it is still `ECHILD`; else nothing to take, and without
        // `WNOHANG` Linux waits until a signal comes: so does this.
        wait_for_child(which, true, true)?;
        if !nohang {
            while sched::block::sleep_until(crate::proc::NO_DEADLINE) {}
            return Err(Errno::EINTR);
        }
        None
    };
    if infop != 0 {
        // si_signo, si_errno, si_code, then the SIGCHLD fields: si_pid, si_uid, si_status,
        // si_utime, si_stime (all zero when nothing was taken).
        let mut info = [0u8; 128];
        if let Some((pid, status)) = taken {
            let (code, value) = if status & 0x7f != 0 {
                (CLD_KILLED, (status & 0x7f) as i32)
            } else {
                (CLD_EXITED, ((status >> 8) & 0xff) as i32)
            };
            info[0..4].copy_from_slice(&(crate::signal::SIGCHLD as i32).to_le_bytes());
            info[8..12].copy_from_slice(&code.to_le_bytes());
            info[12..16].copy_from_slice(&pid.to_le_bytes());
            info[20..24].copy_from_slice(&value.to_le_bytes());
        }
        write_user(infop, &info)?;
    }
    if rusage != 0 {
        write_user(rusage, &[0u8; RUSAGE_LEN])?;
    }
    Ok(0)
}

/// `getppid()`: the parent's pid; 0 for a process no one forked (the run's programs) or
/// whose parent is gone and pid 1 with it.
pub fn getppid() -> SysResult {
    let me = sched::current_process();
    let parent = me.family.lock().parent.as_ref().and_then(Weak::upgrade);
    Ok(parent.map_or(0, |p| p.tgid))
}

/// Which ids a credentials call reads or changes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
}

/// The width of a credentials call's ids: the old calls' 16 bits, or 32.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Width {
    Old,
    Wide,
}

fn with_ids<R>(kind: Kind, f: impl FnOnce(&mut crate::cred::Ids, bool) -> R) -> R {
    let me = sched::current_process();
    let mut cred = me.cred.lock();
    let privileged = cred.privileged();
    f(
        match kind {
            Kind::User => &mut cred.uid,
            Kind::Group => &mut cred.gid,
        },
        privileged,
    )
}

/// `getuid`, `geteuid`, `getgid`, `getegid` (and their `32` forms): the real or the
/// effective id.
pub fn get_id(kind: Kind, effective: bool, width: Width) -> SysResult {
    let id = with_ids(
        kind,
        |ids, _| if effective { ids.effective } else { ids.real },
    );
    Ok(match width {
        Width::Old => crate::cred::narrow(id),
        Width::Wide => id,
    })
}

/// `setres[ug]id(real, effective, saved)`: `-1` leaves one as it is; `EPERM` for an id a
/// process without root's rights does not hold already.
pub fn set_res_ids(kind: Kind, new: [u32; 3], width: Width) -> SysResult {
    let new = new.map(|id| match width {
        Width::Old => crate::cred::widen(id),
        Width::Wide => id,
    });
    with_ids(kind, |ids, privileged| ids.set_res(new, privileged))?;
    Ok(0)
}

/// `set[ug]id(id)`: all three ids for root; else the effective one, to the real or saved id.
pub fn set_id(kind: Kind, id: u32, width: Width) -> SysResult {
    let id = match width {
        Width::Old if id as u16 == 0xffff => return Err(Errno::EINVAL),
        Width::Old => id & 0xffff,
        Width::Wide if id == crate::cred::UNCHANGED => return Err(Errno::EINVAL),
        Width::Wide => id,
    };
    with_ids(kind, |ids, privileged| ids.set(id, privileged))?;
    Ok(0)
}

/// `getres[ug]id(real, effective, saved)`: the three ids written at the three addresses
/// (16 bits each for the old calls); `EFAULT`.
pub fn get_res_ids(kind: Kind, at: [u32; 3], width: Width) -> SysResult {
    let ids = with_ids(kind, |ids, _| *ids);
    for (address, id) in at.into_iter().zip([ids.real, ids.effective, ids.saved]) {
        match width {
            Width::Old => write_user(address, &(crate::cred::narrow(id) as u16).to_le_bytes())?,
            Width::Wide => write_user(address, &id.to_le_bytes())?,
        }
    }
    Ok(0)
}

/// `ioperm(from, num, turn_on)`: gives the calling thread's ring-3 code the I/O ports
/// `from..from + num` (root only, `EPERM` otherwise), or takes them away (anyone may).
/// Threads and children it makes later inherit them; `execve` keeps them. The ports are in
/// the CPU's TSS from now on (and at each switch back to the thread). `EINVAL` for an empty
/// range or one past port 65 535.
pub fn ioperm(from: u32, num: u32, turn_on: u32) -> SysResult {
    use crate::ioperm::IO_PORTS;
    let end = from
        .checked_add(num)
        .filter(|&end| num != 0 && end <= IO_PORTS)
        .ok_or(Errno::EINVAL)?;
    let allow = turn_on != 0;
    if allow && !sched::current_process().cred.lock().privileged() {
        return Err(Errno::EPERM);
    }
    sched::with_own_context(|ctx| {
        if !allow && ctx.io_bitmap.is_none() {
            return;
        }
        // Shared with a thread or child that inherited it: this thread's own copy now.
        let map = Arc::make_mut(ctx.io_bitmap.get_or_insert_with(Default::default));
        map.set(from, end, allow);
        if map.is_closed() {
            ctx.io_bitmap = None;
        }
        // SAFETY: this CPU's tables, preemption off, and the bitmap is the running thread's.
        unsafe {
            crate::cpu::percpu::this()
                .tables
                .set_io_bitmap(ctx.io_bitmap.as_deref().map(|b| b.bytes()))
        };
    });
    Ok(0)
}

/// The longest argument or environment string (Linux's `MAX_ARG_STRLEN`).
const MAX_ARG_STRLEN: usize = 128 * 1024;
/// The most strings `execve` takes (the initial stack holds 128 KiB in all).
const MAX_ARG_STRINGS: usize = 8192;

/// The NUL-terminated strings of the NULL-terminated pointer array at `array` (none for a
/// null `array`, as Linux allows): `EFAULT`, `E2BIG`.
fn read_strings(array: u32) -> Result<alloc::vec::Vec<alloc::string::String>, Errno> {
    let mut out = alloc::vec::Vec::new();
    if array == 0 {
        return Ok(out);
    }
    let process = sched::current_process();
    let memory = process.mem.lock();
    for i in 0.. {
        if i >= MAX_ARG_STRINGS {
            return Err(Errno::E2BIG);
        }
        let mut word = [0u8; 4];
        let at = array.checked_add(4 * i as u32).ok_or(Errno::EFAULT)?;
        uaccess::copy_from_user(&memory.space, &mut word, at)?;
        let ptr = u32::from_le_bytes(word);
        if ptr == 0 {
            break;
        }
        let bytes = uaccess::copy_c_string(&memory.space, ptr, MAX_ARG_STRLEN).map_err(|e| {
            if e == Errno::ENAMETOOLONG {
                Errno::E2BIG
            } else {
                e
            }
        })?;
        out.push(alloc::string::String::from_utf8_lossy(&bytes).into_owned());
    }
    Ok(out)
}

/// `execve(path, argv, envp)`: the process becomes the program at `path` (an ELF, or a
/// script whose `#!` line names one) with those arguments and environment; it does not
/// return then. `ENOENT`, `ENOTDIR`, `ELOOP`, `EACCES` (not a regular file, or no execute
/// bit), `ENOEXEC` (a malformed image, with the loader's reason in the log), `E2BIG`,
/// `ENOMEM`, `EFAULT`, `EAGAIN` from a process with several threads (not yet supported).
/// A failed exec leaves the caller as it was.
pub fn execve(frame: &mut TrapFrame, path: u32, argv: u32, envp: u32) -> SysResult {
    let path = super::read_path(path)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let argv = read_strings(argv)?;
    let envp = read_strings(envp)?;
    crate::proc::exec::exec(frame, path, argv, envp)?;
    Ok(0)
}

/// The process `pid` (0: the caller) if it is the caller or one of its children.
fn self_or_child(pid: u32) -> Result<Arc<Process>, Errno> {
    let me = sched::current_process();
    if pid == 0 || pid == me.tgid {
        return Ok(me);
    }
    let child = me
        .family
        .lock()
        .children
        .iter()
        .find(|c| c.pid == pid && c.status.is_none())
        .and_then(|c| c.process.upgrade());
    child.ok_or(Errno::ESRCH)
}

/// `setpgid(pid, pgid)`: process `pid` (0: the caller; else the caller or a child of it)
/// joins group `pgid` (0: its own pid), which must be its pid or a group of its session.
/// `EINVAL` for a negative `pgid`, `ESRCH`, `EPERM` (a session leader, another session,
/// or a group that does not exist in the session).
pub fn setpgid(pid: u32, pgid: u32) -> SysResult {
    if (pgid as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    let target = self_or_child(pid)?;
    let pgid = if pgid == 0 { target.tgid } else { pgid };
    let sid = target.sid.load(Ordering::Relaxed);
    let me = sched::current_process();
    if target.tgid == sid || sid != me.sid.load(Ordering::Relaxed) {
        return Err(Errno::EPERM);
    }
    if pgid != target.tgid
        && !sched::processes_in_group(pgid)
            .iter()
            .any(|p| p.sid.load(Ordering::Relaxed) == sid)
    {
        return Err(Errno::EPERM);
    }
    target.pgid.store(pgid, Ordering::Relaxed);
    Ok(0)
}

/// The process `pid` (0: the caller), any live one.
fn any_process(pid: u32) -> Result<Arc<Process>, Errno> {
    if pid == 0 {
        return Ok(sched::current_process());
    }
    sched::find_thread(pid)
        .filter(|t| t.tid == t.process.tgid)
        .map(|t| t.process.clone())
        .ok_or(Errno::ESRCH)
}

/// `getpgid(pid)`: the group of process `pid` (0: the caller); `ESRCH`.
pub fn getpgid(pid: u32) -> SysResult {
    Ok(any_process(pid)?.pgid.load(Ordering::Relaxed))
}

/// `getsid(pid)`: the session of process `pid` (0: the caller); `ESRCH`.
pub fn getsid(pid: u32) -> SysResult {
    Ok(any_process(pid)?.sid.load(Ordering::Relaxed))
}

/// `setsid()`: the caller leads a new session and group, both its pid; `EPERM` when it
/// leads a group already (as every program the kernel starts does: a daemon forks first).
pub fn setsid() -> SysResult {
    let me = sched::current_process();
    if me.pgid.load(Ordering::Relaxed) == me.tgid {
        return Err(Errno::EPERM);
    }
    me.sid.store(me.tgid, Ordering::Relaxed);
    me.pgid.store(me.tgid, Ordering::Relaxed);
    Ok(me.tgid)
}
