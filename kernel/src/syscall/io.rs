//! The calls on file descriptors (the table is `crate::files`): `open`, `close`, `read`,
//! `write` and their vector forms, `dup*`, `fcntl`, `fstat64`/`statx`, `ioctl`, `poll`.
//! Bytes reach a device only through the checked user copy.

use super::SysResult;
use crate::devstat::DevStat;
use crate::errno::Errno;
use crate::files::{Device, File};
use crate::mm::uaccess;
use crate::sched;
use arch::paging::PAGE_SIZE;
use core::sync::atomic::{AtomicBool, Ordering};

static UNCHECKED_USER_COPIES: AtomicBool = AtomicBool::new(false);

/// Negative control (`unchecked-user-copies` on the command line): from now on `write`
/// reads user buffers by dereferencing the user pointer, unchecked, as the seed's kernel
/// did. A bad pointer then crashes the kernel, which is how the tests show that their
/// bad-pointer checks would catch a kernel without `uaccess`.
pub fn disable_user_copy_checks() {
    log::warn!("unchecked-user-copies: write() dereferences user pointers (negative control)");
    UNCHECKED_USER_COPIES.store(true, Ordering::Relaxed);
}

/// `open(path, flags, mode)`: the devices `crate::files::Device::at` knows
/// (`/dev/null`, `/dev/console`); `-ENOENT` for any other path, `-EFAULT` for a bad one.
pub fn open(path: u32, flags: u32) -> SysResult {
    open_device(&super::read_path(path)?, flags)
}

/// Opens the device at the absolute `path` with `flags` on the lowest free descriptor.
fn open_device(path: &[u8], flags: u32) -> SysResult {
    let device = Device::at(path).ok_or(Errno::ENOENT)?;
    let file = File::open(device, flags)?;
    sched::current_process().files.lock().install(file)
}

/// `AT_FDCWD`: `openat`'s "relative to the working directory".
const AT_FDCWD: u32 = -100i32 as u32;

/// `openat(dirfd, path, flags, mode)`: as `open` for an absolute path, or a relative one
/// with `AT_FDCWD` (the working directory is `/`); `ENOTDIR` for a path relative to an
/// open descriptor (devices are not directories), `EBADF` for one that is not open.
pub fn openat(dirfd: u32, path: u32, flags: u32) -> SysResult {
    let mut path = super::read_path(path)?;
    if path.first() != Some(&b'/') {
        if dirfd != AT_FDCWD {
            file(dirfd)?;
            return Err(Errno::ENOTDIR);
        }
        path.insert(0, b'/');
    }
    open_device(&path, flags)
}

/// `close(fd)`.
pub fn close(fd: u32) -> SysResult {
    sched::current_process().files.lock().close(fd)?;
    Ok(0)
}

/// `write(fd, buf, len)`. The whole buffer is checked before the first byte goes out, so a
/// bad pointer writes nothing. The console lock is taken per page, never across a temp
/// mapping: making one may need a shootdown (under the global pool), and a CPU spinning on
/// the console lock with interrupts off could not answer it.
pub fn write(fd: u32, buf: u32, len: u32) -> SysResult {
    let process = sched::current_process();
    let file = process.files.lock().get(fd)?;
    if !file.writable {
        return Err(Errno::EBADF);
    }
    let sink: fn(&[u8]) = match file.device {
        Device::Console => arch::serial::write_bytes,
        Device::Null | Device::Zero => discard,
    };
    if file.device == Device::Console && UNCHECKED_USER_COPIES.load(Ordering::Relaxed) {
        // SAFETY: none: this is the deliberately broken path of the negative control, and
        // it is reachable only through its command-line switch.
        sink(unsafe { core::slice::from_raw_parts(buf as *const u8, len as usize) });
        return Ok(len);
    }
    let memory = process.mem.lock();
    uaccess::for_each_user_chunk(&memory.space, buf, len, sink)?;
    Ok(len)
}

/// `read(fd, buf, len)`. `/dev/zero` fills the buffer with zeroes, a page at a time
/// through the checked user copy: a bad page after some bytes ends the read with their
/// count, a bad first page is `EFAULT` (Linux's rule). `/dev/null` and the console give 0
/// (end of file) without touching the buffer: the console has no input until the serial
/// line discipline exists (the user-space issue). `EBADF` unless fd is open for reading.
pub fn read(fd: u32, buf: u32, len: u32) -> SysResult {
    let file = file(fd)?;
    if !file.readable {
        return Err(Errno::EBADF);
    }
    if file.device != Device::Zero {
        return Ok(0);
    }
    let len = len.min(i32::MAX as u32);
    let process = sched::current_process();
    let memory = process.mem.lock();
    let mut done = 0;
    while done < len {
        // Up to the next page boundary: each copy is one page of the user's.
        let at = buf.wrapping_add(done);
        let chunk = (PAGE_SIZE as u32 - at % PAGE_SIZE as u32).min(len - done);
        match uaccess::copy_to_user(&memory.space, at, &ZEROES[..chunk as usize]) {
            Ok(()) => done += chunk,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

static ZEROES: [u8; PAGE_SIZE] = [0; PAGE_SIZE];

/// `IOV_MAX`: the most `struct iovec`s one `readv`/`writev` takes.
const IOV_MAX: u32 = 1024;

/// Reads the `count` `struct iovec`s (`base`, `len`) at `iov`: `EINVAL` past `IOV_MAX` or
/// when the lengths add up beyond `ssize_t`, `EFAULT`.
fn read_iovecs(iov: u32, count: u32) -> Result<alloc::vec::Vec<(u32, u32)>, Errno> {
    if count > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    let mut raw = alloc::vec![0u8; count as usize * 8];
    {
        let process = sched::current_process();
        uaccess::copy_from_user(&process.mem.lock().space, &mut raw, iov)?;
    }
    let vecs: alloc::vec::Vec<(u32, u32)> = raw
        .chunks(8)
        .map(|c| {
            let word = |i: usize| u32::from_le_bytes(c[i..i + 4].try_into().expect("4"));
            (word(0), word(4))
        })
        .collect();
    let total: u64 = vecs.iter().map(|&(_, len)| u64::from(len)).sum();
    if total > i32::MAX as u64 {
        return Err(Errno::EINVAL);
    }
    Ok(vecs)
}

/// `readv(fd, iov, count)`: each buffer in turn, as `read` (zeroes from `/dev/zero`, end
/// of file from the others), with `writev`'s rule for a bad buffer.
pub fn readv(fd: u32, iov: u32, count: u32) -> SysResult {
    if !file(fd)?.readable {
        return Err(Errno::EBADF);
    }
    each_iovec(fd, iov, count, read)
}

/// `writev(fd, iov, count)`: each buffer in turn, as `write`.
pub fn writev(fd: u32, iov: u32, count: u32) -> SysResult {
    if !file(fd)?.writable {
        return Err(Errno::EBADF);
    }
    each_iovec(fd, iov, count, write)
}

/// Runs `call(fd, base, len)` on each buffer of the vector at `iov` until one comes back
/// short. A bad buffer after some bytes moved ends the call with their count; a bad first
/// one is `EFAULT` (Linux's rule: a partial transfer is a success).
fn each_iovec(fd: u32, iov: u32, count: u32, call: fn(u32, u32, u32) -> SysResult) -> SysResult {
    let mut done = 0u32;
    for (base, len) in read_iovecs(iov, count)? {
        if len == 0 {
            continue;
        }
        match call(fd, base, len) {
            Ok(n) => {
                done += n;
                if n < len {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

/// `dup(fd)`: the lowest free descriptor, for the same file.
pub fn dup(fd: u32) -> SysResult {
    let process = sched::current_process();
    let mut files = process.files.lock();
    let file = files.get(fd)?;
    files.install(file)
}

/// `dup2(old, new)`: `new` names `old`'s file (what it named is closed); `new` itself
/// when they are the same and `old` is open.
pub fn dup2(old: u32, new: u32) -> SysResult {
    let process = sched::current_process();
    let mut files = process.files.lock();
    if old == new {
        files.get(old)?;
        return Ok(new);
    }
    files.duplicate_to(old, new, false)
}

/// `dup3(old, new, flags)`: as `dup2` with `O_CLOEXEC` as the only flag; `EINVAL` when
/// `old == new` or for other flags.
pub fn dup3(old: u32, new: u32, flags: u32) -> SysResult {
    if old == new || flags & !crate::files::O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    let cloexec = flags != 0;
    sched::current_process()
        .files
        .lock()
        .duplicate_to(old, new, cloexec)
}

const F_DUPFD: u32 = 0;
const F_GETFD: u32 = 1;
const F_SETFD: u32 = 2;
const F_GETFL: u32 = 3;
const F_SETFL: u32 = 4;
const F_DUPFD_CLOEXEC: u32 = 1030;
const FD_CLOEXEC: u32 = 1;

/// `fcntl(fd, cmd, arg)` and `fcntl64`: `F_DUPFD`, `F_DUPFD_CLOEXEC`, `F_GETFD`,
/// `F_SETFD`, `F_GETFL`, `F_SETFL`; `EINVAL` for any other command (no locks or leases
/// on devices).
pub fn fcntl(fd: u32, cmd: u32, arg: u32) -> SysResult {
    let process = sched::current_process();
    let mut files = process.files.lock();
    let file = files.get(fd)?;
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => files.install_from(file, arg, cmd == F_DUPFD_CLOEXEC),
        F_GETFD => Ok(u32::from(files.cloexec(fd)?)),
        F_SETFD => files.set_cloexec(fd, arg & FD_CLOEXEC != 0).map(|()| 0),
        F_GETFL => Ok(file.flags()),
        F_SETFL => files.set_status(fd, arg).map(|()| 0),
        _ => Err(Errno::EINVAL),
    }
}

/// `/dev/null`'s sink: copies the bytes into a kernel buffer, as a file or pipe would take
/// them, then forgets them. The copy is what the `write` benchmark times (the temp mapping
/// and the bytes crossing it), so the compiler must not drop it: `black_box`.
fn discard(bytes: &[u8]) {
    let mut buffer = [0u8; 1024];
    for piece in bytes.chunks(buffer.len()) {
        buffer[..piece.len()].copy_from_slice(piece);
        core::hint::black_box(&buffer);
    }
}

/// The open file `fd` of the calling process.
fn file(fd: u32) -> Result<File, Errno> {
    sched::current_process().files.lock().get(fd)
}

/// `fstat64(fd, buf)`: the device's `struct stat64`.
pub fn fstat64(fd: u32, buf: u32) -> SysResult {
    let stat = DevStat::of(file(fd)?.device).stat64();
    super::write_user(buf, &stat)?;
    Ok(0)
}

const AT_EMPTY_PATH: u32 = 0x1000;

/// `statx(dirfd, path, flags, mask, buf)`: an open fd (`AT_EMPTY_PATH` with `""`) or a
/// device path; `ENOENT` for any other path (there is no file system yet).
pub fn statx(dirfd: u32, path: u32, flags: u32, buf: u32) -> SysResult {
    let name = super::read_path(path)?;
    let device = if name.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        file(dirfd)?.device
    } else {
        Device::at(&name).ok_or(Errno::ENOENT)?
    };
    super::write_user(buf, &DevStat::of(device).statx())?;
    Ok(0)
}

const TCGETS: u32 = 0x5401;
const TIOCGWINSZ: u32 = 0x5413;

/// `ioctl(fd, cmd, arg)`: `TCGETS` and `TIOCGWINSZ` on the console; `ENOTTY` for every
/// other request, and for any on a device that is not a terminal.
pub fn ioctl(fd: u32, cmd: u32, arg: u32) -> SysResult {
    if file(fd)?.device != Device::Console {
        return Err(Errno::ENOTTY);
    }
    match cmd {
        TCGETS => super::write_user(arg, &crate::devstat::console_termios())?,
        TIOCGWINSZ => super::write_user(arg, &crate::devstat::console_winsize())?,
        _ => return Err(Errno::ENOTTY),
    }
    Ok(0)
}

const POLLIN: u16 = 0x1;
const POLLOUT: u16 = 0x4;
const POLLNVAL: u16 = 0x20;
const POLLRDNORM: u16 = 0x40;
const POLLWRNORM: u16 = 0x100;
/// Reported whether asked for or not.
const POLLALWAYS: u16 = 0x8 | 0x10 | POLLNVAL;

/// What `fd` is ready for now: every device takes writes at once, and reads end of file
/// at once (the console has no input yet: see `read`).
fn ready(files: &crate::files::FileTable, fd: i32) -> u16 {
    if fd < 0 {
        return 0;
    }
    match files.get(fd as u32) {
        Err(_) => POLLNVAL,
        // Linux's DEFAULT_POLLMASK, whatever the open mode, as its `/dev/null` reports.
        Ok(_) => POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM,
    }
}

/// `poll(fds, nfds, timeout)`: the readiness above, at once; with nothing ready it sleeps
/// `timeout` ms (nothing here becomes ready later), or, for a negative timeout, until the
/// process ends (`EINTR`). `EINVAL` past 16 entries (`RLIMIT_NOFILE`), `EFAULT`.
pub fn poll(fds: u32, nfds: u32, timeout: u32) -> SysResult {
    if nfds as usize > crate::files::MAX_FILES {
        return Err(Errno::EINVAL);
    }
    let len = nfds as usize * 8;
    let mut raw = [0u8; crate::files::MAX_FILES * 8];
    if len > 0 {
        raw = super::read_user(fds, len)?;
    }
    let mut count = 0;
    {
        let process = sched::current_process();
        let files = process.files.lock();
        for entry in raw[..len].chunks_mut(8) {
            let fd = i32::from_le_bytes(entry[0..4].try_into().expect("4"));
            let events = u16::from_le_bytes(entry[4..6].try_into().expect("2"));
            let revents = ready(&files, fd) & (events | POLLALWAYS);
            entry[6..8].copy_from_slice(&revents.to_le_bytes());
            count += u32::from(revents != 0);
        }
    }
    if count == 0 && timeout != 0 {
        let timeout = timeout as i32;
        let deadline = if timeout < 0 {
            crate::proc::NO_DEADLINE
        } else {
            crate::time::monotonic_ns() + timeout as u64 * 1_000_000
        };
        if !crate::sched::block::sleep_until(deadline) {
            return Err(Errno::EINTR);
        }
    }
    if len > 0 {
        super::write_user(fds, &raw[..len])?;
    }
    Ok(count)
}
