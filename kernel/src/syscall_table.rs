//! The system call table: Linux i386's numbers and names, and what Tempest does with each
//! call it implements (arguments, result, errors). The dispatcher's numbers come from it
//! (`SYS_*` in `syscall`, looked up by Linux's name, so a number cannot drift from its
//! name), the "not implemented" log names the call, and `docs/syscalls.md`'s table is
//! generated from it: a host test fails when the document differs and rewrites it with
//! `TEMPEST_BLESS=1 cargo test -p kernel --lib syscall_table`. The syscall sweep
//! (`qemu/tests/programs.rs`) checks the other direction: every number listed here is
//! dispatched, and every other one answers `-ENOSYS`.
//!
//! Portable and host-tested. The names are the ABI's own facts, written out here because
//! the kernel must know them without the host's headers.

use alloc::format;
use alloc::string::String;

/// One implemented call.
#[derive(Clone, Copy, Debug)]
pub struct Call {
    pub number: u32,
    pub name: &'static str,
    pub args: &'static str,
    pub result: &'static str,
}

impl Call {
    /// Linux's call `number` (named as Linux names it).
    const fn linux(number: u32, args: &'static str, result: &'static str) -> Call {
        Call {
            number,
            name: LINUX_I386[number as usize],
            args,
            result,
        }
    }

    /// One of Tempest's own calls (numbered from 0x10000, far above Linux's).
    const fn tempest(
        number: u32,
        name: &'static str,
        args: &'static str,
        result: &'static str,
    ) -> Call {
        Call {
            number,
            name,
            args,
            result,
        }
    }
}

/// What a call does with user memory, for counting its temp mappings (the summary and
/// the exit records give them per class: docs/benchmarks.md's real-program workload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Bytes out of user memory: `write`, `writev`, `pwrite64`.
    Write,
    /// Bytes into user memory: `read`, `readv`, `pread64`.
    Read,
    /// Pages zeroed or mapped: `brk`, `mmap2`, `munmap`, `mprotect`, `madvise`.
    Memory,
    /// Futex words read: `futex`, `futex_time64`.
    Futex,
    /// Signal frames written and read back, and the signal calls.
    Signal,
    /// Everything else (clocks, `uname`, `getrandom`, TLS descriptors...).
    Other,
}

/// The calls of every class but `Other`, by Linux's name.
const CLASSIFIED: [(&str, Class); 25] = [
    ("write", Class::Write),
    ("writev", Class::Write),
    ("pwrite64", Class::Write),
    ("read", Class::Read),
    ("readv", Class::Read),
    ("pread64", Class::Read),
    ("brk", Class::Memory),
    ("mmap2", Class::Memory),
    ("munmap", Class::Memory),
    ("mprotect", Class::Memory),
    ("madvise", Class::Memory),
    ("mremap", Class::Memory),
    ("futex", Class::Futex),
    ("futex_time64", Class::Futex),
    ("rt_sigaction", Class::Signal),
    ("sigaction", Class::Signal),
    ("rt_sigprocmask", Class::Signal),
    ("rt_sigreturn", Class::Signal),
    ("sigreturn", Class::Signal),
    ("rt_sigpending", Class::Signal),
    ("rt_sigsuspend", Class::Signal),
    ("sigaltstack", Class::Signal),
    ("kill", Class::Signal),
    ("tkill", Class::Signal),
    ("tgkill", Class::Signal),
];

/// `Class::of` by number, for Linux's numbers.
static CLASS_OF: [Class; LINUX_I386.len()] = {
    let mut table = [Class::Other; LINUX_I386.len()];
    let mut i = 0;
    while i < CLASSIFIED.len() {
        table[linux(CLASSIFIED[i].0) as usize] = CLASSIFIED[i].1;
        i += 1;
    }
    table
};

/// Every class, in the order of the counters.
pub const CLASSES: [Class; 6] = [
    Class::Write,
    Class::Read,
    Class::Memory,
    Class::Futex,
    Class::Signal,
    Class::Other,
];

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Write => "write",
            Class::Read => "read",
            Class::Memory => "memory",
            Class::Futex => "futex",
            Class::Signal => "signal",
            Class::Other => "other",
        }
    }

    /// The class of call `number` (on every system call: one table read, built at
    /// compile time from `CLASSIFIED`).
    #[inline]
    pub fn of(number: u32) -> Class {
        CLASS_OF
            .get(number as usize)
            .copied()
            .unwrap_or(Class::Other)
    }

    /// Its index in `CLASSES`.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The first of Tempest's own call numbers.
pub const TEMPEST_BASE: u32 = 0x1_0000;

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Linux's number of the call `name`; a compile error (in a `const`) for a name Linux
/// i386 does not have.
pub const fn linux(name: &str) -> u32 {
    let mut n = 0;
    while n < LINUX_I386.len() {
        if same(LINUX_I386[n], name) {
            return n as u32;
        }
        n += 1;
    }
    panic!("not a Linux i386 system call")
}

/// The implemented call `number`, if Tempest has it.
pub fn find(number: u32) -> Option<&'static Call> {
    CALLS
        .binary_search_by_key(&number, |c| c.number)
        .ok()
        .map(|i| &CALLS[i])
}

/// Linux's name for `number`, if Linux has such a call.
pub fn linux_name(number: u32) -> Option<&'static str> {
    LINUX_I386
        .get(number as usize)
        .copied()
        .filter(|n| !n.is_empty())
}

/// The generated part of `docs/syscalls.md`: a summary line and the table of every Linux
/// i386 number, then Tempest's own calls.
pub fn markdown() -> String {
    let linux_calls = LINUX_I386.iter().filter(|n| !n.is_empty()).count();
    let implemented = CALLS.iter().filter(|c| c.number < TEMPEST_BASE).count();
    let mut out = format!(
        "Tempest implements {implemented} of Linux i386's {linux_calls} system calls (numbers 0 to \
         {}), and {} of its own.\n\n",
        LINUX_I386.len() - 1,
        CALLS.len() - implemented
    );
    out += "| nr | name | arguments | result / errors |\n";
    out += "|----|------|-----------|-----------------|\n";
    let cell = |s: &str| s.replace('|', "\\|");
    for (number, name) in LINUX_I386.iter().enumerate() {
        let number = number as u32;
        match find(number) {
            Some(c) => {
                out += &format!(
                    "| {number} | `{}` | {} | {} |\n",
                    c.name,
                    cell(c.args),
                    cell(c.result)
                )
            }
            None if name.is_empty() => {
                out += &format!("| {number} | | | not used by Linux: `-ENOSYS` |\n")
            }
            None => out += &format!("| {number} | `{name}` | | not implemented: `-ENOSYS` |\n"),
        }
    }
    for c in CALLS.iter().filter(|c| c.number >= TEMPEST_BASE) {
        out += &format!(
            "| {:#x} | `{}` | {} | {} |\n",
            c.number,
            c.name,
            cell(c.args),
            cell(c.result)
        );
    }
    out
}

/// Linux i386's system call names by number (`arch/x86/entry/syscalls/syscall_32.tbl`,
/// 0 to 450); "" for a number Linux leaves unused.
#[rustfmt::skip]
pub const LINUX_I386: [&str; 451] = [
    "restart_syscall", "exit", "fork", "read", "write", "open", "close", "waitpid", "creat",
    "link", "unlink", "execve", "chdir", "time", "mknod", "chmod", "lchown", "break", "oldstat",
    "lseek", "getpid", "mount", "umount", "setuid", "getuid", "stime", "ptrace", "alarm",
    "oldfstat", "pause", "utime", "stty", "gtty", "access", "nice", "ftime", "sync", "kill",
    "rename", "mkdir", "rmdir", "dup", "pipe", "times", "prof", "brk", "setgid", "getgid",
    "signal", "geteuid", "getegid", "acct", "umount2", "lock", "ioctl", "fcntl", "mpx",
    "setpgid", "ulimit", "oldolduname", "umask", "chroot", "ustat", "dup2", "getppid",
    "getpgrp", "setsid", "sigaction", "sgetmask", "ssetmask", "setreuid", "setregid",
    "sigsuspend", "sigpending", "sethostname", "setrlimit", "getrlimit", "getrusage",
    "gettimeofday", "settimeofday", "getgroups", "setgroups", "select", "symlink", "oldlstat",
    "readlink", "uselib", "swapon", "reboot", "readdir", "mmap", "munmap", "truncate",
    "ftruncate", "fchmod", "fchown", "getpriority", "setpriority", "profil", "statfs",
    "fstatfs", "ioperm", "socketcall", "syslog", "setitimer", "getitimer", "stat", "lstat",
    "fstat", "olduname", "iopl", "vhangup", "idle", "vm86old", "wait4", "swapoff", "sysinfo",
    "ipc", "fsync", "sigreturn", "clone", "setdomainname", "uname", "modify_ldt", "adjtimex",
    "mprotect", "sigprocmask", "create_module", "init_module", "delete_module",
    "get_kernel_syms", "quotactl", "getpgid", "fchdir", "bdflush", "sysfs", "personality",
    "afs_syscall", "setfsuid", "setfsgid", "_llseek", "getdents", "_newselect", "flock",
    "msync", "readv", "writev", "getsid", "fdatasync", "_sysctl", "mlock", "munlock",
    "mlockall", "munlockall", "sched_setparam", "sched_getparam", "sched_setscheduler",
    "sched_getscheduler", "sched_yield", "sched_get_priority_max", "sched_get_priority_min",
    "sched_rr_get_interval", "nanosleep", "mremap", "setresuid", "getresuid", "vm86",
    "query_module", "poll", "nfsservctl", "setresgid", "getresgid", "prctl", "rt_sigreturn",
    "rt_sigaction", "rt_sigprocmask", "rt_sigpending", "rt_sigtimedwait", "rt_sigqueueinfo",
    "rt_sigsuspend", "pread64", "pwrite64", "chown", "getcwd", "capget", "capset",
    "sigaltstack", "sendfile", "getpmsg", "putpmsg", "vfork", "ugetrlimit", "mmap2",
    "truncate64", "ftruncate64", "stat64", "lstat64", "fstat64", "lchown32", "getuid32",
    "getgid32", "geteuid32", "getegid32", "setreuid32", "setregid32", "getgroups32",
    "setgroups32", "fchown32", "setresuid32", "getresuid32", "setresgid32", "getresgid32",
    "chown32", "setuid32", "setgid32", "setfsuid32", "setfsgid32", "pivot_root", "mincore",
    "madvise", "getdents64", "fcntl64", "", "", "gettid", "readahead", "setxattr", "lsetxattr",
    "fsetxattr", "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr",
    "removexattr", "lremovexattr", "fremovexattr", "tkill", "sendfile64", "futex",
    "sched_setaffinity", "sched_getaffinity", "set_thread_area", "get_thread_area", "io_setup",
    "io_destroy", "io_getevents", "io_submit", "io_cancel", "fadvise64", "", "exit_group",
    "lookup_dcookie", "epoll_create", "epoll_ctl", "epoll_wait", "remap_file_pages",
    "set_tid_address", "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun",
    "timer_delete", "clock_settime", "clock_gettime", "clock_getres", "clock_nanosleep",
    "statfs64", "fstatfs64", "tgkill", "utimes", "fadvise64_64", "vserver", "mbind",
    "get_mempolicy", "set_mempolicy", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
    "mq_notify", "mq_getsetattr", "kexec_load", "waitid", "", "add_key", "request_key",
    "keyctl", "ioprio_set", "ioprio_get", "inotify_init", "inotify_add_watch",
    "inotify_rm_watch", "migrate_pages", "openat", "mkdirat", "mknodat", "fchownat",
    "futimesat", "fstatat64", "unlinkat", "renameat", "linkat", "symlinkat", "readlinkat",
    "fchmodat", "faccessat", "pselect6", "ppoll", "unshare", "set_robust_list",
    "get_robust_list", "splice", "sync_file_range", "tee", "vmsplice", "move_pages", "getcpu",
    "epoll_pwait", "utimensat", "signalfd", "timerfd_create", "eventfd", "fallocate",
    "timerfd_settime", "timerfd_gettime", "signalfd4", "eventfd2", "epoll_create1", "dup3",
    "pipe2", "inotify_init1", "preadv", "pwritev", "rt_tgsigqueueinfo", "perf_event_open",
    "recvmmsg", "fanotify_init", "fanotify_mark", "prlimit64", "name_to_handle_at",
    "open_by_handle_at", "clock_adjtime", "syncfs", "sendmmsg", "setns", "process_vm_readv",
    "process_vm_writev", "kcmp", "finit_module", "sched_setattr", "sched_getattr", "renameat2",
    "seccomp", "getrandom", "memfd_create", "bpf", "execveat", "socket", "socketpair", "bind",
    "connect", "listen", "accept4", "getsockopt", "setsockopt", "getsockname", "getpeername",
    "sendto", "sendmsg", "recvfrom", "recvmsg", "shutdown", "userfaultfd", "membarrier",
    "mlock2", "copy_file_range", "preadv2", "pwritev2", "pkey_mprotect", "pkey_alloc",
    "pkey_free", "statx", "arch_prctl", "io_pgetevents", "rseq", "", "", "", "", "", "",
    "semget", "semctl", "shmget", "shmctl", "shmat", "shmdt", "msgget", "msgsnd", "msgrcv",
    "msgctl", "clock_gettime64", "clock_settime64", "clock_adjtime64", "clock_getres_time64",
    "clock_nanosleep_time64", "timer_gettime64", "timer_settime64", "timerfd_gettime64",
    "timerfd_settime64", "utimensat_time64", "pselect6_time64", "ppoll_time64", "",
    "io_pgetevents_time64", "recvmmsg_time64", "mq_timedsend_time64", "mq_timedreceive_time64",
    "semtimedop_time64", "rt_sigtimedwait_time64", "futex_time64",
    "sched_rr_get_interval_time64", "pidfd_send_signal", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick",
    "pidfd_open", "clone3", "close_range", "openat2", "pidfd_getfd", "faccessat2",
    "process_madvise", "epoll_pwait2", "mount_setattr", "quotactl_fd",
    "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self", "memfd_secret",
    "process_mrelease", "futex_waitv", "set_mempolicy_home_node",
];

/// Every call Tempest implements, by number: what it takes and what it does.
pub const CALLS: &[Call] = &[
    Call::linux(
        1,
        "status",
        "ends the calling thread; the process ends with its last thread, with the last status (`status & 0xff`)",
    ),
    Call::linux(
        2,
        "",
        "as `clone(SIGCHLD, 0, ...)`: a new process, a copy of the caller (its memory shared copy-on-write); the child's pid in the parent, 0 in the child",
    ),
    Call::linux(
        3,
        "fd, buf, len",
        "a file's bytes from the position on (which moves past them; 0 at the end), each file page through a temp mapping and the user's through the checked user copy; a pipe's (waiting while it is empty and a writer is left); the console's input through its line discipline with `console-input` (a line in canonical mode, waiting for it; 0 after ^D), else 0 (end of file, as `</dev/null`); `len` zero bytes from `/dev/zero`, written a page at a time; a bad user page after some bytes ends the read with their count, a bad first page is `-EFAULT`; 0 from `/dev/null`, the buffer untouched; `-EAGAIN` instead of waiting with `O_NONBLOCK`, `-EINTR`, `-EISDIR` on a directory, `-EBADF` unless fd is open for reading",
    ),
    Call::linux(
        4,
        "fd, buf, len",
        "`len` (a file: bytes written, at the position, or at the end with `O_APPEND`; the position moves past them); the whole buffer is checked before the first byte goes to a device; a file takes it a page at a time (its page through a temp mapping, the user's through the checked copy), so a bad user page or full memory after some bytes ends the write with their count; `-EFAULT` if the first byte is bad, `-ENOSPC` when RAM is full, `-EFBIG` past 1 GiB, `-EISDIR`, `-EBADF` unless fd is open for writing",
    ),
    Call::linux(5, "path, flags, mode", "as `openat(AT_FDCWD, ...)`"),
    Call::linux(6, "fd", "0; `-EBADF` if fd is not open"),
    Call::linux(
        7,
        "pid, wstatus, options",
        "as `wait4(pid, wstatus, options, NULL)`",
    ),
    Call::linux(
        8,
        "path, mode",
        "as `open` with `O_CREAT | O_WRONLY | O_TRUNC`",
    ),
    Call::linux(
        9,
        "old, new",
        "as `linkat(AT_FDCWD, old, AT_FDCWD, new, 0)`",
    ),
    Call::linux(10, "path", "as `unlinkat(AT_FDCWD, path, 0)`"),
    Call::linux(
        11,
        "path, argv, envp",
        "does not return on success: the process becomes the program at `path` (an ELF from the root file system, or a script whose `#!` line names one: the interpreter gets `interpreter [arg] path argv[1..]`, 4 levels at most), with the strings of `argv` and `envp` (null arrays are empty); everything is loaded into a fresh space before the caller's is touched, then the new user half moves into the process's page directory and the old half's translations are dropped on every CPU that has it loaded; handlers go back to their defaults (ignored signals stay ignored), the alternate stack, TLS entries and x87/SSE state are cleared, close-on-exec descriptors closed; `-ENOENT`, `-ENOTDIR`, `-ELOOP`, `-EACCES` (not a regular file, or no execute bit), `-ENOEXEC` (a malformed image), `-E2BIG` (more than 8192 strings, one over 128 KiB, or more than the 128 KiB initial stack holds), `-ENOMEM`, `-EFAULT`, `-EAGAIN` from a process with several threads (not yet supported); a failed exec leaves the caller as it was",
    ),
    Call::linux(
        12,
        "path",
        "0; the working directory becomes `path`; `-ENOTDIR` for another kind, `-ENOENT`, `-EFAULT`",
    ),
    Call::linux(
        13,
        "t",
        "seconds since the epoch (CLOCK_REALTIME), also stored at `t` unless null; `-EFAULT`",
    ),
    Call::linux(15, "path, mode", "as `fchmodat(AT_FDCWD, path, mode)`"),
    Call::linux(
        19,
        "fd, offset, whence",
        "the new position: from the start, the position or the end (`SEEK_END` not on a directory, whose position counts entries); `/dev/null` and `/dev/zero` stay at 0; `-ESPIPE` on the console, `-EINVAL` for another `whence` or a negative position, `-EOVERFLOW` past 2 GiB (moved all the same), `-EBADF`",
    ),
    Call::linux(20, "", "pid (the process's: its first thread's tid)"),
    Call::linux(
        23,
        "uid",
        "0; root sets the real, effective and saved user ids, others only the effective one, to their real or saved id (`-EPERM`); 16-bit ids, 0xffff `-EINVAL`",
    ),
    Call::linux(
        24,
        "",
        "the real user id (16 bits: 65534 for one that does not fit); every program starts as root (0)",
    ),
    Call::linux(
        29,
        "",
        "waits until a signal is delivered (a handler runs, or the signal ends the process); always `-EINTR`",
    ),
    Call::linux(33, "path, mode", "as `faccessat(AT_FDCWD, ...)`"),
    Call::linux(
        37,
        "pid, sig",
        "0; `sig` (or, with `sig` 0, nothing: a check that the target exists) to process `pid`, to the caller's process group for 0, to group `-pid` below -1, to every process but the caller and pid 1 for -1; the caller's own child that ended and was not waited for takes it and drops it (0, as on Linux); `-ESRCH` when no process is there, `-EINVAL` for a bad signal",
    ),
    Call::linux(
        38,
        "old, new",
        "as `renameat2(AT_FDCWD, old, AT_FDCWD, new, 0)`",
    ),
    Call::linux(39, "path, mode", "as `mkdirat(AT_FDCWD, path, mode)`"),
    Call::linux(40, "path", "as `unlinkat(AT_FDCWD, path, AT_REMOVEDIR)`"),
    Call::linux(
        41,
        "fd",
        "the lowest free descriptor, naming the same file; `-EBADF`, `-EMFILE`",
    ),
    Call::linux(42, "fds", "as `pipe2(fds, 0)`"),
    Call::linux(
        45,
        "addr",
        "the new break, or the old one when it cannot move (Linux semantics); `brk(0)` reads it",
    ),
    Call::linux(46, "gid", "as 23, for the group ids"),
    Call::linux(47, "", "the real group id, as 24"),
    Call::linux(49, "", "the effective user id, as 24"),
    Call::linux(50, "", "the effective group id, as 24"),
    Call::linux(
        54,
        "fd, cmd, arg",
        "on the console: `TCGETS`/`TCSETS`/`TCSETSW`/`TCSETSF` (its line discipline's settings: canonical mode, echo, `ISIG`, `ICRNL`, the control characters), `TIOCGWINSZ` (24 x 80), `TIOCGPGRP`/`TIOCSPGRP` (the foreground group: the caller's session's until one is set), `TIOCSCTTY` (0: the console is everyone's controlling terminal); `-ENOTTY` for other requests and on anything but the console; `-EINVAL` for a group of 0 or less, `-EBADF`, `-EFAULT`",
    ),
    Call::linux(
        55,
        "fd, cmd, arg",
        "`F_DUPFD`, `F_DUPFD_CLOEXEC` (lowest free at or above `arg`), `F_GETFD`/`F_SETFD` (`FD_CLOEXEC`, kept per descriptor), `F_GETFL` (access mode and status flags), `F_SETFL` (`O_APPEND`, `O_NONBLOCK`, `O_ASYNC`, `O_DIRECT`, `O_NOATIME` kept in the open file description, which `dup` shares; they change nothing yet); `-EINVAL` for other commands (no locks), `-EBADF`",
    ),
    Call::linux(
        57,
        "pid, pgid",
        "0; process `pid` (0: the caller; else the caller or one of its children) joins group `pgid` (0: its own pid), which must be its pid or a group of its session; `-EINVAL` for a negative group, `-ESRCH`, `-EPERM` (a session leader, another session, no such group in the session)",
    ),
    Call::linux(
        60,
        "mask",
        "the old mask; the new one is `mask & 0777`, taken from what `open`, `creat` and `mkdir` create",
    ),
    Call::linux(
        63,
        "old, new",
        "`new`, now naming `old`'s file (what it named is closed); `new` when both are equal and `old` is open; `-EBADF`",
    ),
    Call::linux(
        64,
        "",
        "the parent's pid; 0 for the run's programs (no one forked them) and for an orphan when pid 1 is gone (an orphan goes to pid 1 while it lives)",
    ),
    Call::linux(65, "", "the caller's process group"),
    Call::linux(
        66,
        "",
        "the new session's id (the caller's pid), the caller leading it and a new group; `-EPERM` when the caller leads a group already (every program the kernel starts does)",
    ),
    Call::linux(
        67,
        "sig, act, oact",
        "as 174 with Linux's `struct old_sigaction` (handler, a 32-bit mask, flags, restorer): the mask set is the first 32 signals, the others cleared; the one reported is the first 32",
    ),
    Call::linux(
        78,
        "tv, tz",
        "0; `{sec, usec}` of CLOCK_REALTIME; a timezone asked for is UTC (zeros); `-EFAULT`",
    ),
    Call::linux(
        82,
        "args",
        "i386's old `select`: `args` points at the five arguments of `_newselect` (142), which it then is; `-EFAULT` if they cannot be read",
    ),
    Call::linux(83, "target, path", "as `symlinkat(target, AT_FDCWD, path)`"),
    Call::linux(85, "path, buf, size", "as `readlinkat(AT_FDCWD, ...)`"),
    Call::linux(
        91,
        "addr, len",
        "0; `-EINVAL` for an unaligned or empty range or one outside the user half",
    ),
    Call::linux(92, "path, len", "as `truncate64` with a 32-bit length"),
    Call::linux(93, "fd, len", "as `ftruncate64` with a 32-bit length"),
    Call::linux(
        94,
        "fd, mode",
        "0; as `fchmodat` on the open file (a device: nothing changes); `-EBADF`",
    ),
    Call::linux(
        101,
        "from, num, turn_on",
        "0; gives the calling thread's ring-3 code the I/O ports `from..from+num` (root only: `-EPERM`) or takes them away; kept in a per-thread bitmap that the switch copies into the CPU's TSS, inherited by threads and children (each one's own copy once changed), kept across `execve`; `-EINVAL` for an empty range or one past port 65535",
    ),
    Call::linux(
        114,
        "pid, wstatus, options, rusage",
        "the pid of an ended child, its status at `wstatus` unless null (`status << 8`, or the signal that killed it); `pid` -1 for any child, > 0 for that one, 0 for one in the caller's process group, < -1 for one in group `-pid` (a child's group as it is now, or was when it ended); waits while the children it may take run, or 0 at once with `WNOHANG` (`WUNTRACED`, `WCONTINUED`, `__WALL` accepted); `rusage` is zeroes; `-ECHILD` when no child matches, `-EINTR`, `-EINVAL` for other options, `-EFAULT`",
    ),
    Call::linux(
        119,
        "",
        "back from a handler entered without `SA_SIGINFO`: the registers, mask and FPU state of its frame (`struct sigframe`) are restored; a frame naming a code or stack segment other than the user's, or one that cannot be read, ends the process with SIGSEGV (EFLAGS takes only AC, OF, DF, TF, SF, ZF, AF, PF, CF and RF from it)",
    ),
    Call::linux(
        120,
        "flags, newsp, parent_tid, tls, child_tid",
        "without `CLONE_VM`: a new process, as `fork` (the caller's writable pages become copy-on-write in both, and their translations are dropped on every CPU running the caller's threads before the call returns; the child returns 0, on `newsp` if given; `CLONE_PARENT_SETTID`, `CLONE_CHILD_SETTID` (in the child's copy), `CLONE_CHILD_CLEARTID`; the low byte names the exit signal, and SIGCHLD is sent whatever it says; `-EINVAL` for other flags, `-ENOMEM`). With `CLONE_VM`: the new thread's tid (0 in the thread, which starts where the caller returns, on `newsp`); `CLONE_VM | CLONE_THREAD` required, with any of `CLONE_FS`, `CLONE_FILES`, `CLONE_SIGHAND`, `CLONE_SYSVSEM`, `CLONE_PARENT_SETTID`, `CLONE_CHILD_SETTID`, `CLONE_CHILD_CLEARTID` (at thread exit the word at `child_tid` is set to 0 and one futex waiter on it is woken, as Linux does: a join waits on it), `CLONE_SETTLS` (`tls` points at a `user_desc` naming one of the thread's TLS entries, as for `set_thread_area` but without entry -1); the new thread inherits the caller's affinity and TLS entries; `-EINVAL` otherwise or for `newsp` 0 or a refused `user_desc`; `-EAGAIN` past 192 threads in the process or 256 in the system (`MAX_THREADS_PER_PROCESS`, `MAX_THREADS`: each thread's 16 KiB kernel stack comes from the kernel heap), `-ENOMEM` if the heap has no room for one",
    ),
    Call::linux(
        122,
        "buf",
        "0; `Linux`, `tempest`, `6.1.0-tempest`, `#1 SMP PREEMPT`, `i686`, `(none)`",
    ),
    Call::linux(
        123,
        "func, ptr, bytecount",
        "the caller's process's LDT (threads share it, `fork` copies it, `execve` drops it): `func` 0 reads it into `ptr`, `bytecount` bytes (at most 64 KiB; zeros past its last entry; 0 without one); 1 (old form) and 0x11 (new form) write the `user_desc` at `ptr` (`bytecount` = 16) into entry 0..8191 (16- and 32-bit data and code, not-present ones; a zero base and limit in the old form, or Linux's empty descriptor, clears it), and every CPU with the process loaded has the new table before the call returns; 2 reads the default LDT (up to 40 zero bytes); `-EINVAL` for a bad size, entry or conforming code segment, `-EFAULT`, `-ENOSYS` for another `func`",
    ),
    Call::linux(
        125,
        "addr, len, prot",
        "0; `-EINVAL` as munmap; `-ENOMEM` if a page in the range is not mapped",
    ),
    Call::linux(
        132,
        "pid",
        "the process group of `pid` (0: the caller); `-ESRCH`",
    ),
    Call::linux(
        133,
        "fd",
        "0; the working directory becomes the directory open at `fd`; `-ENOTDIR`, `-EBADF`",
    ),
    Call::linux(
        140,
        "fd, high, low, result, whence",
        "0; as `lseek` with the 64-bit offset `high:low`, the new position stored at `result`; `-EFAULT`",
    ),
    Call::linux(
        142,
        "nfds, readfds, writefds, exceptfds, timeout",
        "the number of bits left set: each set (`nfds` bits, at most 1024; a null pointer is empty and not written) keeps only its descriptors that are ready, a pipe for reading with bytes in it or no writer left, for writing with a page free or no reader left, every device and file for both, nothing for exceptions; with none ready it waits up to the `timeval` (null: for ever; microseconds past a second carry into the seconds), looking again every tick, and writes back what is left of it; 0 at the timeout (the sets emptied), `-EINTR` (the sets untouched); `-EBADF` for a descriptor in a set that is not open, `-EINVAL` for a negative `nfds` or timeout, `-EFAULT`",
    ),
    Call::linux(
        145,
        "fd, iov, count",
        "each buffer as `read` until one comes back short, with `writev`'s rule for a bad buffer; `-EINVAL` past 1024 entries or when the lengths add up beyond `ssize_t`, `-EFAULT`, `-EBADF`",
    ),
    Call::linux(
        146,
        "fd, iov, count",
        "each buffer in turn, as `write`; bytes written (a bad buffer after some went out ends the call with their count, a bad first one is `-EFAULT`); `-EINVAL` as `readv`, `-EBADF`",
    ),
    Call::linux(147, "pid", "the session of `pid` (0: the caller); `-ESRCH`"),
    Call::linux(
        158,
        "",
        "0, after the CPU went to the next ready task of this CPU, if any",
    ),
    Call::linux(
        162,
        "req, rem",
        "0 after at least `req`, blocked (woken by the CPU's 10 ms tick); `-EINVAL` for a bad timespec; `-EFAULT` for bad pointers; `-EINTR` (time left in `rem`) if a signal is delivered or the process is ending",
    ),
    Call::linux(
        163,
        "old, old_size, new_size, flags, new_address",
        "the mapping's address after resizing `[old, old+old_size)` (every page mapped, else `-EFAULT`): smaller stays in place; larger grows in place into free pages, else moves with `MREMAP_MAYMOVE` (the page entries move, no page is copied; `-ENOMEM` without it); `MREMAP_FIXED` moves it to `new_address`, unmapping what was there; the old range is shot down; moving the vDSO moves its signal trampolines, and the caller's return address when it called through `__kernel_vsyscall`; `-EINVAL` for unaligned addresses, sizes of 0, overlapping `MREMAP_FIXED` ranges or other flags",
    ),
    Call::linux(
        164,
        "ruid, euid, suid",
        "0; the real, effective and saved user ids, each -1 (0xffff) to leave it: root may set any, others only ids they hold (`-EPERM`, nothing changed); fork copies them, execve keeps them; dropping root loses `ioperm`; 16-bit ids",
    ),
    Call::linux(
        165,
        "ruid, euid, suid",
        "0; the three user ids written as 16-bit values (65534 for one that does not fit); `-EFAULT`",
    ),
    Call::linux(
        168,
        "fds, nfds, timeout",
        "the number of entries with events: a pipe's read end `POLLIN` with bytes in it and `POLLHUP` with no writer left, its write end `POLLOUT` with a page free and `POLLERR` with no reader left; every device and file is ready for reading and writing; `POLLNVAL` for a descriptor not open; with none ready it waits up to `timeout` ms (for ever when negative), looking again every tick, and ends with 0 at the timeout or `-EINTR`; `-EINVAL` past 16 entries, `-EFAULT`",
    ),
    Call::linux(170, "rgid, egid, sgid", "as 164, for the group ids"),
    Call::linux(171, "rgid, egid, sgid", "as 165, for the group ids"),
    Call::linux(
        173,
        "",
        "as 119, for a handler entered with `SA_SIGINFO` (`struct rt_sigframe`: also restores the alternate stack from `uc_stack`)",
    ),
    Call::linux(
        174,
        "sig, act, oact, sigsetsize",
        "0; the process's disposition of `sig`: `SIG_DFL`, `SIG_IGN` (drops what is pending of it) or a handler with `SA_SIGINFO`, `SA_ONSTACK`, `SA_RESTORER`, `SA_NODEFER`, `SA_RESETHAND` as Linux defines them (`SA_RESTART` is kept, but an interrupted call returns `-EINTR`: nothing is restarted yet); `SIGKILL`/`SIGSTOP` refused; `-EINVAL` for a sigsetsize other than 8 or a signal outside 1..=64, `-EFAULT`",
    ),
    Call::linux(
        175,
        "how, set, oset, sigsetsize",
        "0; the calling thread's mask (`SIG_BLOCK`, `SIG_UNBLOCK`, `SIG_SETMASK`; `SIGKILL` and `SIGSTOP` stay unblocked); a signal it unblocks is delivered on the way back; a new thread inherits it; `-EINVAL`, `-EFAULT`",
    ),
    Call::linux(
        176,
        "set, sigsetsize",
        "0; the blocked signals pending for the thread (its own and its process's); `-EINVAL` for a size over 8, `-EFAULT`",
    ),
    Call::linux(
        179,
        "mask, sigsetsize",
        "`-EINTR`, after waiting with `mask` until a signal is delivered; the handler's frame restores the mask the thread had before",
    ),
    Call::linux(
        180,
        "fd, buf, len, low, high",
        "as `read` at the 64-bit offset `high:low`, the position unchanged; `-EINVAL` for a negative offset, `-ESPIPE` on the console",
    ),
    Call::linux(
        181,
        "fd, buf, len, low, high",
        "as `write` at the 64-bit offset `high:low` (at the end with `O_APPEND`, as Linux), the position unchanged; `-EINVAL` for a negative offset, `-ESPIPE` on a device",
    ),
    Call::linux(
        183,
        "buf, size",
        "the length of the working directory's path with its NUL, the path written to `buf`; `-ERANGE` when `size` is smaller, `-ENOENT` when the directory was removed, `-EFAULT`",
    ),
    Call::linux(
        186,
        "ss, old_ss",
        "0; the calling thread's alternate signal stack (`SS_DISABLE`, `SS_AUTODISARM`; the old one reported with `SS_ONSTACK` while the thread runs on it); `-EPERM` to change it while on it, `-ENOMEM` under `MINSIGSTKSZ` (2048), `-EINVAL`, `-EFAULT`; disabled in a new thread",
    ),
    Call::linux(
        190,
        "",
        "as `fork` (the child has its own copy: a program that only calls `execve` or `_exit` in it cannot tell)",
    ),
    Call::linux(
        191,
        "resource, rlim",
        "0; `RLIMIT_STACK` 8 MiB (no hard limit), `RLIMIT_NOFILE` 16, the others unlimited; `-EINVAL` past `RLIM_NLIMITS`",
    ),
    Call::linux(
        192,
        "addr, len, prot, flags, fd, pgoff",
        "the address; `MAP_PRIVATE` mappings, anonymous or of a regular file from page `pgoff` (its pages copied into the new frames when mapped, through two nested temp mappings each: later writes to the file do not show through; the bytes past its end are zero, and so are whole pages past it, where Linux raises SIGBUS), with optional `MAP_FIXED` (`MAP_STACK` and the like accepted and ignored); `/dev/zero` maps as anonymous memory; `PROT_NONE` pages are mapped kernel-only, so any user access faults (a thread stack's guard page), `mprotect` opens them; `-ENODEV` for `MAP_SHARED` of a file and for what is not a regular file, `-EINVAL` for anonymous `MAP_SHARED`, neither shared nor private, or length 0; `-EBADF`, `-EACCES` for an fd not open for reading; `-ENOMEM` when no room or no memory",
    ),
    Call::linux(
        193,
        "path, low, high",
        "0; the file becomes `high:low` bytes long (cut: its frames past the end go back and the tail of the last page is zeroed; extended: zeroes); `-EISDIR`, `-EINVAL` for a negative length, `-EFBIG` past 1 GiB, `-ENOENT`",
    ),
    Call::linux(
        194,
        "fd, low, high",
        "as `truncate64` on the file open for writing at `fd`; `-EINVAL` otherwise",
    ),
    Call::linux(195, "path, buf", "as `fstatat64(AT_FDCWD, path, buf, 0)`"),
    Call::linux(
        196,
        "path, buf",
        "as `fstatat64(AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW)`: a link itself",
    ),
    Call::linux(
        197,
        "fd, buf",
        "0; the `struct stat64` of the file (type and permission bits, links, owner, size, blocks, times from the initramfs) or the device (console: `crw--w----` 5:1, `/dev/null`: `crw-rw-rw-` 1:3, `/dev/zero`: 1:5); `-EBADF`, `-EFAULT`",
    ),
    Call::linux(199, "", "as 24, 32 bits"),
    Call::linux(200, "", "as 47, 32 bits"),
    Call::linux(201, "", "as 49, 32 bits"),
    Call::linux(202, "", "as 50, 32 bits"),
    Call::linux(
        208,
        "ruid, euid, suid",
        "as 164, 32-bit ids (-1 leaves one)",
    ),
    Call::linux(209, "ruid, euid, suid", "as 165, 32-bit ids"),
    Call::linux(210, "rgid, egid, sgid", "as 170, 32-bit ids"),
    Call::linux(211, "rgid, egid, sgid", "as 171, 32-bit ids"),
    Call::linux(213, "uid", "as 23, 32-bit ids (-1 `-EINVAL`)"),
    Call::linux(214, "gid", "as 46, 32-bit ids"),
    Call::linux(
        219,
        "addr, len, advice",
        "0; `MADV_DONTNEED` zeroes the mapped pages of the range through temp mappings (they read back as zeroes, as after Linux drops them); every other advice Linux knows is a hint with nothing to do (no swap, no demand paging); `-EINVAL` for an unaligned start or an unknown advice, `-ENOMEM` if part of the range is not mapped",
    ),
    Call::linux(
        220,
        "fd, dirp, count",
        "bytes of `struct linux_dirent64` records (`.` and `..` first, then the names in byte order; `d_off` is the position after each, which `lseek` takes back) that fit in `count`; 0 at the end; `-ENOTDIR` unless fd is an open directory, `-EINVAL` when not one record fits, `-EFAULT`",
    ),
    Call::linux(221, "fd, cmd, arg", "as 55"),
    Call::linux(224, "", "the calling thread's tid"),
    Call::linux(
        238,
        "tid, sig",
        "0; `sig` to thread `tid` of any process (`SI_TKILL`); `-ESRCH`, `-EINVAL`",
    ),
    Call::linux(
        240,
        "uaddr, op, val, timeout/val2, uaddr2, val3",
        "`FUTEX_WAIT` (relative monotonic timeout), `FUTEX_WAKE`, `FUTEX_REQUEUE`, `FUTEX_CMP_REQUEUE`, `FUTEX_WAIT_BITSET` (absolute timeout, monotonic or with `FUTEX_CLOCK_REALTIME` real time), `FUTEX_WAKE_BITSET`, each with or without `FUTEX_PRIVATE_FLAG`: Linux's results. `-EAGAIN` when the word is not `val` (or `val3` for CMP_REQUEUE), `-ETIMEDOUT`, `-EINTR` when woken by a signal or the process's end, `-EFAULT` for an unreadable word (a shared WAKE checks the word is mapped, a private one does not read it), `-EINVAL` for a misaligned address or a zero bitset, `-ENOSYS` for other ops or `FUTEX_CLOCK_REALTIME` with a non-wait op",
    ),
    Call::linux(
        241,
        "pid, len, mask",
        "0; `pid` 0 is the caller, else a thread of its process (`-ESRCH` otherwise); `len` under 4 bytes is `-EINVAL`, as is a mask with no online CPU; the caller runs on the new set when the call returns (unless it holds temp mappings)",
    ),
    Call::linux(
        242,
        "pid, len, mask",
        "4 (bytes written: one `unsigned long`, 32 CPUs); `-EINVAL` for `len` under 4 or not a multiple of 4",
    ),
    Call::linux(
        243,
        "u_info",
        "0; sets the TLS entry `u_info->entry_number` names (6 to 8, Linux i386's `GDT_ENTRY_TLS_MIN`..), or with -1 the first free one, whose number is written back; an empty descriptor (all zero, or Linux's \"empty\" one) clears it. `-EINVAL` for another entry or a 16-bit, code or not-present segment, `-ESRCH` when -1 finds none free, `-EFAULT`. The task's three entries are installed in the CPU's GDT at every switch to it; a data segment register naming an entry cleared since is nulled on the way back to user mode, as on Linux",
    ),
    Call::linux(
        244,
        "u_info",
        "0; fills `u_info` with the entry its `entry_number` names (an empty one reads as Linux's empty descriptor); `-EINVAL` outside 6..=8, `-EFAULT`",
    ),
    Call::linux(
        252,
        "status",
        "ends every thread of the process (blocked ones are woken, running ones get an IPI; each leaves at its next return to user mode); exit status `status & 0xff`",
    ),
    Call::linux(
        258,
        "tidptr",
        "the caller's tid; `tidptr` becomes its `CLONE_CHILD_CLEARTID` word",
    ),
    Call::linux(
        265,
        "clock, tp",
        "0; 32-bit `timespec`; `CLOCK_REALTIME` (RTC at boot plus the TSC), `CLOCK_MONOTONIC`/`_RAW`/`_COARSE`, `CLOCK_BOOTTIME` (the TSC since boot), `CLOCK_REALTIME_COARSE`; `-EINVAL` for other clocks, `-EFAULT`",
    ),
    Call::linux(
        266,
        "clock, res",
        "0; 1 ns, or 10 ms for the coarse clocks; `res` may be null",
    ),
    Call::linux(
        267,
        "clock, flags, req, rem",
        "as `nanosleep`, on the named clock, absolute with `TIMER_ABSTIME` (1)",
    ),
    Call::linux(
        270,
        "tgid, tid, sig",
        "0; `sig` to thread `tid` of process `tgid` (what `raise` and `pthread_kill` use); `-ESRCH` when `tid` is not a thread of `tgid`, `-EINVAL`",
    ),
    Call::linux(
        284,
        "idtype, id, infop, options, rusage",
        "0; as `wait4`, the child chosen by `idtype` (`P_ALL` 0, `P_PID` 1, `P_PGID` 2, with `id` 0 the caller's group), its end told in the `siginfo_t` at `infop` (`SIGCHLD`; `CLD_EXITED` and the exit status, or `CLD_KILLED` and the signal; its pid; uid 0); `WEXITED` waits for ends, `WNOWAIT` leaves the child to be waited for again; `WSTOPPED` and `WCONTINUED` are accepted and never met (there are no job stops: asked for alone, they wait until a signal, `-EINTR`); with `WNOHANG` and no child ended, 0 and a zeroed `siginfo_t`; `rusage` is zeroes; `-EINVAL` for an unknown `idtype`, an option unknown or none of the three, `-ECHILD`, `-EINTR`, `-EFAULT`",
    ),
    Call::linux(
        295,
        "dirfd, path, flags, mode",
        "the lowest free fd: `/dev/null`, `/dev/zero`, `/dev/console` and `/dev/tty` name the devices; any other path is resolved in the root file system (the initramfs), relative to `dirfd` (an open directory) or, with `AT_FDCWD` (-100), to the working directory, following links (40 at most: `-ELOOP`); `O_CREAT` makes a missing file with `mode` less the umask, `O_TRUNC` empties a file opened for writing; a directory opens for `getdents64`; `-ENOENT`, `-ENOTDIR`, `-ELOOP` for a link with `O_NOFOLLOW`, `-EISDIR` for a directory opened for writing or with `O_CREAT`, `-ENOTDIR` for a file with `O_DIRECTORY`, `-EEXIST` for `O_CREAT | O_EXCL` of an existing name, `-EINVAL` for access mode 3, `-EMFILE` past 16 open, `-EFAULT`, `-ENAMETOOLONG` past 4096 bytes or a 255-byte name, `-EBADF` for a `dirfd` not open",
    ),
    Call::linux(
        296,
        "dirfd, path, mode",
        "0; an empty directory, `mode` less the umask; `-EEXIST`, `-ENOENT`, `-ENOTDIR`",
    ),
    Call::linux(
        300,
        "dirfd, path, buf, flags",
        "0; the `struct stat64` of the name (as `fstat64` says of it), from `dirfd` as `openat`; `AT_SYMLINK_NOFOLLOW` (a link itself), `AT_EMPTY_PATH` (`dirfd` itself for an empty path); `-ENOENT`, `-ENOTDIR`, `-ELOOP`, `-EINVAL` for other flags, `-EFAULT`",
    ),
    Call::linux(
        301,
        "dirfd, path, flags",
        "0; removes a name (a file open somewhere stays readable until its last close, and its frames go back then), or with `AT_REMOVEDIR` an empty directory; `-EISDIR` (a directory without the flag), `-ENOTDIR`, `-ENOTEMPTY`, `-EINVAL` for `.` or other flags, `-EBUSY` for the root",
    ),
    Call::linux(
        302,
        "olddirfd, old, newdirfd, new",
        "as `renameat2` with no flags",
    ),
    Call::linux(
        303,
        "olddirfd, old, newdirfd, new, flags",
        "0; another name for a file (a link itself unless `AT_SYMLINK_FOLLOW`); `-EPERM` for a directory, `-EEXIST`, `-EINVAL` for other flags",
    ),
    Call::linux(
        304,
        "target, dirfd, path",
        "0; a symbolic link holding `target` (not checked: it may dangle); `-EEXIST`, `-ENOENT` for an empty target",
    ),
    Call::linux(
        305,
        "dirfd, path, buf, size",
        "the link's target, cut to `size` bytes, without a NUL; `-EINVAL` for a name that is not a link or a `size` of 0 or less; `-ENOENT` (there is no `/proc`), `-EFAULT`",
    ),
    Call::linux(
        306,
        "dirfd, path, mode",
        "0; the permission bits become `mode & 07777` (kept and reported; every process runs as root, so they check nothing but `X_OK`)",
    ),
    Call::linux(307, "dirfd, path, mode", "as `faccessat2` with no flags"),
    Call::linux(
        308,
        "nfds, readfds, writefds, exceptfds, timeout, sigmask",
        "as `_newselect` with a 32-bit `timespec` timeout (what is left written back); `sigmask` null or pointing at `{ sigset_t *set; size_t size; }`, whose set (when not null; `size` 8, else `-EINVAL`) is the signal mask while it waits; interrupted by a signal, the old mask comes back after the handler",
    ),
    Call::linux(
        309,
        "fds, nfds, timeout, sigmask, sigsetsize",
        "as `poll` with a 32-bit `timespec` timeout (null: for ever; what is left is written back) and `sigmask` (when not null; `sigsetsize` 8, else `-EINVAL`) the signal mask while it waits, as `pselect6`",
    ),
    Call::linux(
        311,
        "head, len",
        "0: accepted, but the list is neither kept nor walked at exit yet (it matters only to a thread that dies holding a robust mutex); `-EINVAL` unless `len` is 12",
    ),
    Call::linux(
        318,
        "cpu, node, cache",
        "0; the CPU the caller runs on and node 0 (null pointers skipped)",
    ),
    Call::linux(
        320,
        "dirfd, path, times, flags",
        "0; the modification time becomes `times[1]` (`{sec, nsec}`; now for a null `times` or `UTIME_NOW`; unchanged for `UTIME_OMIT`; access times are not kept); a null `path` is `dirfd` itself (`futimens`); `AT_SYMLINK_NOFOLLOW` changes a link itself; devices: nothing changes; `-ENOENT`, `-EINVAL` for a bad `nsec` or flag, `-EFAULT`",
    ),
    Call::linux(
        330,
        "old, new, flags",
        "as `dup2` with `O_CLOEXEC` the only flag; `-EINVAL` when `old == new` or for other flags",
    ),
    Call::linux(
        331,
        "fds, flags",
        "0; a pipe: its read end at `fds[0]`, its write end at `fds[1]` (the two lowest free descriptors); 64 KiB in 16 pages whose frames come from highmem first, reached through temp mappings; a read waits while it is empty and a writer is left (0 at the end of file), a write waits while it is full and is never split under 4096 bytes (`PIPE_BUF`); `-EPIPE` and SIGPIPE to the writer with no reader left; `-EAGAIN` instead of waiting with `O_NONBLOCK`, `-EINTR` for a signal; `O_CLOEXEC`, `O_NONBLOCK`, `O_DIRECT` (accepted); `-EINVAL` for other flags, `-EMFILE`, `-EFAULT` (nothing left open)",
    ),
    Call::linux(
        340,
        "pid, resource, new, old",
        "0, `old` filled as `ugetrlimit` (64-bit); `-EPERM` for setting a limit; `-ESRCH` for another process",
    ),
    Call::linux(
        353,
        "olddirfd, old, newdirfd, new, flags",
        "0; moves the name, replacing what is there as Linux does (a file replaces a file, a directory an empty directory); `-ENOTEMPTY`, `-EISDIR`, `-ENOTDIR` when the kinds differ, `-EINVAL` for a directory moved below itself, `-EBUSY` for `.` and `..`, `-EEXIST` with `RENAME_NOREPLACE` (the only flag)",
    ),
    Call::linux(
        355,
        "buf, len, flags",
        "`len` bytes of the kernel's ChaCha20 stream (`kernel/src/random.rs`: seeded at boot from RDRAND when the CPU has it, else from TSC jitter and the RTC); never blocks; `-EINVAL` for unknown flags or `GRND_RANDOM` with `GRND_INSECURE`",
    ),
    Call::linux(
        383,
        "dirfd, path, flags, mask, buf",
        "0; `struct statx` with the basic stats whatever the mask, as `fstatat64` says of the name; `-EINVAL` for unknown flags, `-ENOENT`, `-EBADF`, `-EFAULT`",
    ),
    Call::linux(
        403,
        "clock, tp",
        "as 265 with the 64-bit `timespec` `{i64 sec, i64 nsec}` glibc uses first",
    ),
    Call::linux(406, "clock, res", "as 266, 64-bit"),
    Call::linux(407, "clock, flags, req, rem", "as 267, 64-bit"),
    Call::linux(
        412,
        "dirfd, path, times, flags",
        "as 320 with the 64-bit `timespec`",
    ),
    Call::linux(
        413,
        "nfds, readfds, writefds, exceptfds, timeout, sigmask",
        "as `pselect6` with a 64-bit `timespec`",
    ),
    Call::linux(
        414,
        "fds, nfds, timeout, sigmask, sigsetsize",
        "as `ppoll` with a 64-bit `timespec`",
    ),
    Call::linux(422, "as 240", "as 240, with a 64-bit `timespec`"),
    Call::linux(
        439,
        "dirfd, path, mode, flags",
        "0 when the name exists: every process runs as root; `X_OK` needs an execute bit on a file (`-EACCES`); devices allow all but `X_OK`; `-ENOENT`, `-ENOTDIR`, `-ELOOP`, `-EINVAL` for an unknown mode or flag",
    ),
    Call::tempest(
        0x10000,
        "temp_stats",
        "out",
        "0; writes `{ process: TempCounters, cpu: TempCounters }`; `-EFAULT` for a bad pointer",
    ),
    Call::tempest(
        0x10001,
        "bench_barrier",
        "n",
        "the caller's arrival index `0..n` once `n` callers (threads or processes, anywhere in the system) have called it; `-EINVAL` unless `1 <= n <= 16`; `-EINTR` if a signal comes for the caller or its process is ended meanwhile, and the caller's arrival is taken back (the round still needs `n`). For benchmarks: one start line for the whole system",
    ),
    Call::tempest(
        0x10002,
        "bench_report",
        "report",
        "0, after printing `report` as a `bench` record with the caller's CPU and pid; `-EINVAL` for an unknown workload, zero operations or mean, or percentiles out of order; `-EFAULT` for a bad pointer",
    ),
    Call::tempest(
        0x10003,
        "kernel_spin",
        "ms, watch, advance",
        "spins `ms` (1..=10000) in the kernel with interrupts on and nothing held; returns how many times the caller was switched out meanwhile (kernel preemption made visible); a non-null `watch` is a `u32` read as the spin starts and ends, its change stored at `advance`; `-EINVAL`, `-EFAULT`",
    ),
    Call::tempest(
        0x10004,
        "temp_hold",
        "buf, len, rounds",
        "copies `[buf, buf+len)` (1..=16 pages) into kernel frames, maps them all at once, then `rounds` (1..=10000) times asks to move to another CPU, yields, spins 100 µs with interrupts on, and compares every byte read through the mappings; returns the bytes that differed (0); `-EINVAL`, `-EFAULT`, `-ENOMEM`",
    ),
    Call::tempest(
        0x10005,
        "temp_bench",
        "design",
        "the median cycles of one temp map + touch + unmap made by the calling task (64 batches of 64): design 0 today's pinning guard, 1 the older preempt-count guard (installed as the pin hooks for the measurement); `-EINVAL` for other designs. For `sched_bench` only: it assumes no other CPU maps meanwhile",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    const BEGIN: &str = "<!-- BEGIN generated by kernel/src/syscall_table.rs -->\n";
    const END: &str = "<!-- END generated -->";

    #[test]
    fn calls_are_sorted_and_named_as_linux() {
        assert!(CALLS.windows(2).all(|w| w[0].number < w[1].number));
        for c in CALLS {
            assert!(!c.name.is_empty(), "call {} has no name", c.number);
            if c.number < TEMPEST_BASE {
                assert_eq!(linux_name(c.number), Some(c.name));
            }
            assert!(!c.result.is_empty());
        }
        assert_eq!(linux("exit"), 1);
        assert_eq!(linux("rt_sigreturn"), 173);
        assert_eq!(linux("futex_time64"), 422);
        assert_eq!(linux_name(222), None, "unused by Linux");
        assert_eq!(find(4).map(|c| c.name), Some("write"));
        assert!(find(26).is_none(), "ptrace is not implemented");
        assert_eq!(find(TEMPEST_BASE).map(|c| c.name), Some("temp_stats"));
    }

    #[test]
    fn classes() {
        assert_eq!(Class::of(linux("writev")), Class::Write);
        assert_eq!(Class::of(linux("mmap2")), Class::Memory);
        assert_eq!(Class::of(linux("rt_sigreturn")), Class::Signal);
        assert_eq!(Class::of(linux("futex_time64")), Class::Futex);
        assert_eq!(Class::of(linux("uname")), Class::Other);
        assert_eq!(Class::of(TEMPEST_BASE), Class::Other);
        for (i, c) in CLASSES.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
    }

    /// `docs/syscalls.md`'s table is this module's: with `TEMPEST_BLESS=1` the test writes
    /// it, otherwise it fails when the two differ.
    #[test]
    fn docs_syscalls_md_is_generated_from_the_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/syscalls.md");
        let doc = std::fs::read_to_string(path).expect("read docs/syscalls.md");
        let start = doc.find(BEGIN).expect("the BEGIN marker") + BEGIN.len();
        let end = doc.find(END).expect("the END marker");
        let wanted = markdown();
        if doc[start..end] == wanted {
            return;
        }
        if std::env::var_os("TEMPEST_BLESS").is_some() {
            let new = format!("{}{wanted}{}", &doc[..start], &doc[end..]);
            std::fs::write(path, new).expect("write docs/syscalls.md");
            return;
        }
        panic!(
            "docs/syscalls.md's table is not the kernel's: run \
             `TEMPEST_BLESS=1 cargo test -p kernel --lib syscall_table` and commit it"
        );
    }
}
