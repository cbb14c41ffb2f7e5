//! Threads and where they run: `clone` with `CLONE_CHILD_CLEARTID` and the join it makes
//! possible, `sched_setaffinity`/`sched_getaffinity`, `getcpu`; and a child process made,
//! (optionally) made another program, and waited for (`fork_and_wait`).

use core::arch::asm;
use core::sync::atomic::{AtomicU32, Ordering};

use super::{
    CLONE_FILES, CLONE_FS, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, EAGAIN, ETIMEDOUT, SYS_CLONE,
    Timespec, futex_wait, monotonic_ns, syscall1, syscall3,
};

/// `sched_setaffinity(pid, len, mask)`.
pub const SYS_SCHED_SETAFFINITY: u32 = 241;
/// `sched_getaffinity(pid, len, mask)`.
pub const SYS_SCHED_GETAFFINITY: u32 = 242;
/// `getcpu(cpu, node, unused)`.
pub const SYS_GETCPU: u32 = 318;

/// The kernel writes the new thread's tid to `parent_tid` before `clone` returns.
pub const CLONE_PARENT_SETTID: usize = 0x0010_0000;
/// When the thread exits, the kernel writes 0 to `child_tid` and wakes one futex waiter
/// of it.
pub const CLONE_CHILD_CLEARTID: usize = 0x0020_0000;
/// The kernel writes the new thread's tid to `child_tid` in the new thread.
pub const CLONE_CHILD_SETTID: usize = 0x0100_0000;

/// 32-bit words of the buffer [`affinity`] reads a mask into: 1024 CPUs, because Linux
/// refuses (`-EINVAL`) a buffer smaller than its mask of possible CPUs.
pub const AFFINITY_WORDS: usize = 32;

/// `sched_setaffinity(pid, 4 * mask.len(), mask)` (241): pid 0 is the caller, or a tid of
/// the caller's process. 0 or `-errno` (`-EINVAL` when the mask holds no online CPU,
/// `-ESRCH` for an unknown pid).
pub fn sched_setaffinity(pid: i32, mask: &[u32]) -> isize {
    syscall3(
        SYS_SCHED_SETAFFINITY,
        pid as usize,
        mask.len() * 4,
        mask.as_ptr() as usize,
    )
}

/// `sched_getaffinity(pid, 4 * mask.len(), mask)` (242): the number of bytes written (4 on
/// Tempest; Linux writes the size of its possible-CPU mask), or `-errno`.
pub fn sched_getaffinity(pid: i32, mask: &mut [u32]) -> isize {
    syscall3(
        SYS_SCHED_GETAFFINITY,
        pid as usize,
        mask.len() * 4,
        mask.as_mut_ptr() as usize,
    )
}

/// CPUs 0 to 31 of `pid`'s affinity mask, or the `-errno` of `sched_getaffinity`.
pub fn affinity(pid: i32) -> Result<u32, isize> {
    let mut mask = [0u32; AFFINITY_WORDS];
    let ret = sched_getaffinity(pid, &mut mask);
    if ret < 0 { Err(ret) } else { Ok(mask[0]) }
}

/// Pins the calling thread to CPU `cpu` (below 32): 0 or `-errno`.
pub fn pin_to_cpu(cpu: u32) -> isize {
    sched_setaffinity(0, &[1u32 << (cpu % 32)])
}

/// `getcpu(cpu, node, NULL)` (318): 0 or `-errno`.
pub fn getcpu(cpu: &mut u32, node: &mut u32) -> isize {
    syscall3(
        SYS_GETCPU,
        cpu as *mut u32 as usize,
        node as *mut u32 as usize,
        0,
    )
}

/// The CPU the caller runs on (`getcpu`), or `-errno`.
pub fn current_cpu() -> isize {
    let (mut cpu, mut node) = (0, 0);
    let ret = getcpu(&mut cpu, &mut node);
    if ret < 0 { ret } else { cpu as isize }
}

/// [`super::spawn_thread`] with `CLONE_PARENT_SETTID | CLONE_CHILD_SETTID |
/// CLONE_CHILD_CLEARTID` on `tid_word`: the word holds the new tid from before this returns
/// until the thread has exited, when the kernel writes 0 to it and wakes its futex waiters,
/// so [`join`] can wait for the thread. Returns the new tid, or `-errno`.
///
/// `tid_word` is `'static` and atomic because the kernel writes it at any time, up to the
/// thread's end.
pub fn spawn_thread_cleartid(
    entry: extern "C" fn(usize) -> !,
    arg: usize,
    stack_top: usize,
    tid_word: &'static AtomicU32,
) -> isize {
    let extra = CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
    clone_thread(entry, arg, stack_top, extra, tid_word.as_ptr() as usize, 0)
}

/// `clone(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | extra, ...)`
/// starting `entry(arg)` on the stack ending at `stack_top`, with `tid_word` (0: none) as
/// both `parent_tid` and `child_tid`. The one clone of the runtime's threads.
pub(crate) fn clone_thread(
    entry: extern "C" fn(usize) -> !,
    arg: usize,
    stack_top: usize,
    extra: usize,
    tid_word: usize,
    tls: usize,
) -> isize {
    // The child starts with esp = sp - 20, on [entry, arg]: it pops `entry` and calls it
    // with `arg` at a 16-byte aligned esp, as the i386 System V ABI wants at a call (code
    // that keeps 16-byte aligned data on the stack, like `fxsave` buffers, relies on it).
    let sp = stack_top & !15;
    let child_sp = sp - 20;
    // SAFETY: the caller hands over the stack memory below `stack_top`.
    unsafe {
        ((sp - 16) as *mut usize).write(arg);
        (child_sp as *mut usize).write(entry as usize);
    }
    let flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | extra;
    // eax points here: the number, then `tls`, which goes in esi (LLVM reserves esi, so the
    // parent saves it on its own stack around the call).
    let block = [SYS_CLONE as usize, tls];
    let ret: isize;
    // SAFETY: the parent gets every register back but eax (esi from its stack); the child
    // (eax = 0) runs on its own stack and never returns here. clone's arguments are ebx
    // (flags), ecx (stack), edx (parent_tid), esi (tls, a `user_desc` read during the
    // call) and edi (child_tid). The kernel writes only the tid word, which the callers
    // keep alive for the rest of the process.
    unsafe {
        asm!(
            "push esi",
            "mov esi, [eax + 4]",
            "mov eax, [eax]",
            "int 0x80",
            "test eax, eax",
            "jnz 2f",
            "pop eax",
            "xor ebp, ebp",
            "call eax",
            "ud2",
            "2:",
            "pop esi",
            inlateout("eax") block.as_ptr() => ret,
            in("ebx") flags,
            in("ecx") child_sp,
            in("edx") tid_word,
            in("edi") tid_word,
        );
    }
    ret
}

/// Waits until the thread whose tid word this is has exited (the kernel cleared the word,
/// see [`spawn_thread_cleartid`]).
///
/// The wait is a *shared* `FUTEX_WAIT` (no `FUTEX_PRIVATE_FLAG`): Linux's wake at thread
/// exit is a shared `FUTEX_WAKE`, which does not match private waiters.
pub fn join(tid_word: &AtomicU32) {
    while !join_step(tid_word, None) {}
}

/// [`join`] for at most `timeout_ms` milliseconds of `CLOCK_MONOTONIC`: whether the thread
/// has exited.
pub fn join_timeout(tid_word: &AtomicU32, timeout_ms: u32) -> bool {
    let deadline = monotonic_ns() + u64::from(timeout_ms) * 1_000_000;
    loop {
        if join_step(tid_word, Some(&Timespec::from_millis(100))) {
            return true;
        }
        if monotonic_ns() >= deadline {
            return false;
        }
    }
}

/// One wait for the tid word to clear: whether it is clear now. Panics on an error other
/// than the expected ones (a join that cannot wait would spin forever).
fn join_step(tid_word: &AtomicU32, timeout: Option<&Timespec>) -> bool {
    let tid = tid_word.load(Ordering::Acquire);
    if tid == 0 {
        return true;
    }
    let ret = futex_wait(tid_word, tid, timeout, 0);
    assert!(
        ret == 0 || ret == -EAGAIN as isize || ret == -ETIMEDOUT as isize,
        "join: FUTEX_WAIT on the tid word = {ret}"
    );
    tid_word.load(Ordering::Acquire) == 0
}

/// `set_thread_area(u_info)` (243).
pub const SYS_SET_THREAD_AREA: u32 = 243;
/// `get_thread_area(u_info)` (244).
pub const SYS_GET_THREAD_AREA: u32 = 244;
/// Give the new thread the TLS descriptor at `tls` (a `UserDesc`).
pub const CLONE_SETTLS: usize = 0x0008_0000;

/// `struct user_desc`: a TLS segment for `set_thread_area` and `CLONE_SETTLS`. `flags` bits:
/// 0 seg_32bit, 1-2 contents, 3 read_exec_only, 4 limit_in_pages, 5 seg_not_present,
/// 6 useable.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserDesc {
    pub entry_number: u32,
    pub base_addr: u32,
    pub limit: u32,
    pub flags: u32,
}

impl UserDesc {
    /// What glibc passes: a 4 GiB, 32-bit, writable data segment at `base` (entry -1:
    /// "pick one").
    pub fn data(entry_number: u32, base: usize) -> Self {
        UserDesc {
            entry_number,
            base_addr: base as u32,
            limit: 0xfffff,
            flags: 1 | 1 << 4 | 1 << 6,
        }
    }
}

/// `set_thread_area(desc)`: 0 or `-errno`; with entry -1 the kernel writes the entry it
/// picked into `desc`.
pub fn set_thread_area(desc: &mut UserDesc) -> isize {
    syscall1(SYS_SET_THREAD_AREA, desc as *mut UserDesc as usize)
}

/// `get_thread_area(desc)` for `desc.entry_number`: 0 or `-errno`.
pub fn get_thread_area(desc: &mut UserDesc) -> isize {
    syscall1(SYS_GET_THREAD_AREA, desc as *mut UserDesc as usize)
}

/// [`spawn_thread_cleartid`] whose thread starts with `tls` in its TLS entries
/// (`CLONE_SETTLS`; `tls.entry_number` must name an entry).
pub fn spawn_thread_tls(
    entry: extern "C" fn(usize) -> !,
    arg: usize,
    stack_top: usize,
    tid_word: &'static AtomicU32,
    tls: &UserDesc,
) -> isize {
    let extra = CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | CLONE_SETTLS;
    let desc = tls as *const UserDesc as usize;
    clone_thread(
        entry,
        arg,
        stack_top,
        extra,
        tid_word.as_ptr() as usize,
        desc,
    )
}

/// Linux's numbers of `fork`, `execve` and `wait4`.
pub const SYS_FORK: u32 = 2;
pub const SYS_EXECVE: u32 = 11;
pub const SYS_WAIT4: u32 = 114;

/// Forks a child that `execve`s `exec` (a path and its NULL-terminated argv, with an empty
/// environment; it exits with 127 if the exec fails) or, without one, exits at once; waits
/// for it. Returns its wait status, or `Err` with `fork`'s or `wait4`'s `-errno`.
pub fn fork_and_wait(exec: Option<(*const u8, &[*const u8; 3])>) -> Result<u32, isize> {
    let pid = super::syscall0(SYS_FORK);
    if pid == 0 {
        if let Some((path, argv)) = exec {
            let envp = [core::ptr::null::<u8>()];
            syscall3(
                SYS_EXECVE,
                path as usize,
                argv.as_ptr() as usize,
                envp.as_ptr() as usize,
            );
            super::exit_group(127);
        }
        super::exit_group(0);
    }
    if pid < 0 {
        return Err(pid);
    }
    let mut status = 0u32;
    let waited = super::syscall6(
        SYS_WAIT4,
        pid as usize,
        &mut status as *mut u32 as usize,
        0,
        0,
        0,
        0,
    );
    if waited != pid {
        return Err(waited);
    }
    Ok(status)
}
