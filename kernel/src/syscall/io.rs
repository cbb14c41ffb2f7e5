//! The calls on file descriptors (the table is `crate::files`): `close`, `read`, `write`
//! and their vector forms, `pread64`, `lseek`, `dup*`, `fcntl`, `fstat64`, `ioctl`,
//! `pipe2` (waiting for several: `syscall::poll`). Bytes reach a device or a file only through the checked user copy. The calls
//! on paths (`open`, `stat64`, `getdents64`...) are in `syscall::fs`.

use super::SysResult;
use crate::devstat::Stat;
use crate::errno::Errno;
use crate::files::{Device, Object};

/// `O_NONBLOCK`: a pipe's read or write that would wait is `EAGAIN` instead.
const O_NONBLOCK: u32 = 0o4000;
use crate::fs::File;
use crate::fs::ramfs::{self, Handle};
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

/// `close(fd)`.
pub fn close(fd: u32) -> SysResult {
    let file = sched::current_process().files.lock().close(fd)?;
    // Outside the table's lock: the last reference to a file frees its frames.
    drop(file);
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
    let sink: fn(&[u8]) = match &file.object {
        Object::Device(Device::Console) => arch::serial::write_bytes,
        Object::Device(Device::Null | Device::Zero) => discard,
        Object::Node(Handle::Pipe(end)) => {
            let nonblock = file.flags() & O_NONBLOCK != 0;
            return end
                .pipe
                .write(&process, buf, len.min(i32::MAX as u32), nonblock);
        }
        Object::Node(_) => {
            let append = file.flags() & crate::files::O_APPEND != 0;
            let at = file.position();
            let (n, end) = write_at(&file, buf, len, at, append)?;
            file.set_position(end);
            return Ok(n);
        }
    };
    if file.device() == Some(Device::Console) && UNCHECKED_USER_COPIES.load(Ordering::Relaxed) {
        // SAFETY: none: this is the deliberately broken path of the negative control, and
        // it is reachable only through its command-line switch.
        sink(unsafe { core::slice::from_raw_parts(buf as *const u8, len as usize) });
        return Ok(len);
    }
    let memory = process.mem.lock();
    uaccess::for_each_user_chunk(&memory.space, buf, len, sink)?;
    Ok(len)
}

/// `read(fd, buf, len)`. A file gives its bytes from the position on, which moves past
/// them. `/dev/zero` fills the buffer with zeroes, a page at a time through the checked
/// user copy: a bad page after some bytes ends the read with their count, a bad first page
/// is `EFAULT` (Linux's rule). `/dev/null` and the console give 0 (end of file) without
/// touching the buffer: the console has no input until the serial line discipline exists
/// (the user-space issue). `EBADF` unless fd is open for reading, `EISDIR` on a directory.
pub fn read(fd: u32, buf: u32, len: u32) -> SysResult {
    let file = file(fd)?;
    if !file.readable {
        return Err(Errno::EBADF);
    }
    if let Object::Node(Handle::Pipe(end)) = &file.object {
        let nonblock = file.flags() & O_NONBLOCK != 0;
        return end.pipe.read(&sched::current_process(), buf, len, nonblock);
    }
    if let Object::Node(_) = file.object {
        // The position is read and moved around the copy, not held across it: two
        // threads reading one description at once may read the same bytes (Linux
        // serialises them with `f_pos_lock`).
        let at = file.position();
        let n = read_at(&file, buf, len, at)?;
        file.set_position(at + u64::from(n));
        return Ok(n);
    }
    match file.device() {
        Some(Device::Zero) => zeroes_to_user(buf, len),
        Some(Device::Console) => {
            crate::tty::console::read(buf, len, file.flags() & O_NONBLOCK != 0)
        }
        _ => Ok(0),
    }
}

/// Reads up to `len` bytes of the file `file` at `offset` into `buf` (the position stays).
fn read_at(file: &File, buf: u32, len: u32, offset: u64) -> SysResult {
    match &file.object {
        Object::Node(Handle::File { data, .. }) => {
            let len = len.min(i32::MAX as u32);
            let process = sched::current_process();
            let memory = process.mem.lock();
            data.read_to_user(offset, &memory.space, buf, len)
        }
        Object::Node(Handle::Dir(_)) => Err(Errno::EISDIR),
        Object::Node(Handle::Pipe(_)) => Err(Errno::ESPIPE),
        Object::Device(Device::Zero) => zeroes_to_user(buf, len),
        Object::Device(Device::Null) => Ok(0),
        // A terminal cannot be read at an offset.
        Object::Device(Device::Console) => Err(Errno::ESPIPE),
    }
}

/// Writes `len` bytes from `buf` into the file `file` at `offset` (at its end with
/// `append`); the count and the offset after it.
fn write_at(
    file: &File,
    buf: u32,
    len: u32,
    offset: u64,
    append: bool,
) -> Result<(u32, u64), Errno> {
    match &file.object {
        Object::Node(Handle::File { data, .. }) => {
            let len = len.min(i32::MAX as u32);
            let now = crate::time::realtime_ns() / 1_000_000_000;
            let process = sched::current_process();
            let memory = process.mem.lock();
            data.write_from_user(offset, append, &memory.space, buf, len, now)
        }
        Object::Node(Handle::Dir(_)) => Err(Errno::EISDIR),
        Object::Node(Handle::Pipe(_)) | Object::Device(_) => Err(Errno::ESPIPE),
    }
}

/// `pwrite64(fd, buf, len, offset)` (the offset in two words, low first): as `write` at
/// `offset` (Linux appends anyway with `O_APPEND`), the position unchanged. `EINVAL` for a
/// negative offset, `ESPIPE` on a device, `EBADF`.
pub fn pwrite64(fd: u32, buf: u32, len: u32, low: u32, high: u32) -> SysResult {
    let file = file(fd)?;
    if !file.writable {
        return Err(Errno::EBADF);
    }
    let offset = (u64::from(high) << 32 | u64::from(low)) as i64;
    if offset < 0 {
        return Err(Errno::EINVAL);
    }
    let append = file.flags() & crate::files::O_APPEND != 0;
    write_at(&file, buf, len, offset as u64, append).map(|(n, _)| n)
}

/// `ftruncate64(fd, low, high)`: the file open for writing at `fd` becomes that long;
/// `EINVAL` for a negative length or a descriptor that is not a file open for writing.
pub fn ftruncate64(fd: u32, low: u32, high: u32) -> SysResult {
    let file = file(fd)?;
    let len = u64::try_from((u64::from(high) << 32 | u64::from(low)) as i64)
        .map_err(|_| Errno::EINVAL)?;
    match &file.object {
        Object::Node(Handle::File { data, .. }) if file.writable => {
            data.truncate(len, crate::time::realtime_ns() / 1_000_000_000)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// `pread64(fd, buf, len, offset)` (the offset in two words, low first): as `read` at
/// `offset`, without moving the position. `EINVAL` for a negative offset, `ESPIPE` on the
/// console.
pub fn pread64(fd: u32, buf: u32, len: u32, low: u32, high: u32) -> SysResult {
    let file = file(fd)?;
    if !file.readable {
        return Err(Errno::EBADF);
    }
    let offset = (u64::from(high) << 32 | u64::from(low)) as i64;
    if offset < 0 {
        return Err(Errno::EINVAL);
    }
    read_at(&file, buf, len, offset as u64)
}

/// Fills the user buffer with zeroes (`/dev/zero`).
fn zeroes_to_user(buf: u32, len: u32) -> SysResult {
    let len = len.min(i32::MAX as u32);
    let process = sched::current_process();
    let memory = process.mem.lock();
    let mut done = 0;
    while done < len {
        // Up to the next page boundary: each copy is one page of the user's.
        let at = buf.wrapping_add(done);
        let chunk = (PAGE_SIZE as u32 - at % PAGE_SIZE as u32).min(len - done);
        match uaccess::copy_to_user(&memory.space, at, &uaccess::ZERO_PAGE[..chunk as usize]) {
            Ok(()) => done += chunk,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

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
    let closed = files.duplicate_to(old, new, false)?;
    drop(files);
    // After the lock, as in `close`.
    drop(closed);
    Ok(new)
}

/// `dup3(old, new, flags)`: as `dup2` with `O_CLOEXEC` as the only flag; `EINVAL` when
/// `old == new` or for other flags.
pub fn dup3(old: u32, new: u32, flags: u32) -> SysResult {
    if old == new || flags & !crate::files::O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    let cloexec = flags != 0;
    let closed = sched::current_process()
        .files
        .lock()
        .duplicate_to(old, new, cloexec)?;
    drop(closed);
    Ok(new)
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
        F_SETFL => {
            file.set_status(arg);
            Ok(0)
        }
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

/// What `stat` says of an open file.
pub fn stat_of(file: &File) -> Result<Stat, Errno> {
    match &file.object {
        Object::Device(d) => Ok(Stat::of(*d)),
        Object::Node(handle) => {
            let fs = ramfs::lock();
            match handle {
                // An unlinked file is still open: its own data knows its size.
                Handle::File { ino, data } => Ok(ramfs::stat(&fs, *ino).unwrap_or(Stat {
                    ino: u64::from(*ino),
                    mode: crate::fs::cpio::S_IFREG,
                    size: data.size(),
                    ..Stat::default()
                })),
                Handle::Dir(ino) => ramfs::stat(&fs, *ino),
                // Linux's pipefs: a FIFO, owner read and write, on device 0:12.
                Handle::Pipe(end) => Ok(Stat {
                    dev_minor: 12,
                    ino: u64::from(end.pipe.id),
                    mode: crate::fs::cpio::S_IFIFO | 0o600,
                    nlink: 1,
                    ..Stat::default()
                }),
            }
        }
    }
}

/// `fstat64(fd, buf)`: the file's or device's `struct stat64`.
pub fn fstat64(fd: u32, buf: u32) -> SysResult {
    let stat = stat_of(&file(fd)?)?.stat64();
    super::write_user(buf, &stat)?;
    Ok(0)
}

/// The open file `fd` of the calling process.
pub fn file(fd: u32) -> Result<File, Errno> {
    sched::current_process().files.lock().get(fd)
}

const TCGETS: u32 = 0x5401;
const TCSETS: u32 = 0x5402;
const TCSETSW: u32 = 0x5403;
const TCSETSF: u32 = 0x5404;
const TIOCSCTTY: u32 = 0x540E;
const TIOCGPGRP: u32 = 0x540F;
const TIOCSPGRP: u32 = 0x5410;
const TIOCGWINSZ: u32 = 0x5413;

/// `ioctl(fd, cmd, arg)`: `TCGETS` and `TIOCGWINSZ` on the console; `ENOTTY` for every
/// other request, and for any on a device that is not a terminal.
pub fn ioctl(fd: u32, cmd: u32, arg: u32) -> SysResult {
    if file(fd)?.device() != Some(Device::Console) {
        return Err(Errno::ENOTTY);
    }
    use crate::tty::console;
    match cmd {
        TCGETS => super::write_user(arg, &console::termios())?,
        TCSETS | TCSETSW | TCSETSF => {
            let t: [u8; crate::tty::ldisc::TERMIOS_LEN] =
                super::read_user(arg, crate::tty::ldisc::TERMIOS_LEN)?;
            console::set_termios(&t);
        }
        TIOCGWINSZ => super::write_user(arg, &crate::devstat::console_winsize())?,
        TIOCGPGRP => {
            // Until a process sets one, the session leader's group is in the foreground
            // (as when a leader acquires its controlling terminal).
            let set = console::foreground();
            let pgid = if set != 0 {
                set
            } else {
                sched::current_process().sid.load(Ordering::Relaxed)
            };
            super::write_user(arg, &pgid.to_le_bytes())?
        }
        TIOCSPGRP => {
            let raw: [u8; 4] = super::read_user(arg, 4)?;
            let pgid = i32::from_le_bytes(raw);
            if pgid <= 0 {
                return Err(Errno::EINVAL);
            }
            console::set_foreground(pgid as u32);
        }
        // The console is every process's controlling terminal already.
        TIOCSCTTY => {}
        _ => return Err(Errno::ENOTTY),
    }
    Ok(0)
}

/// `pipe2(fds, flags)`: a pipe, its read end at `fds[0]` and its write end at `fds[1]`
/// (the two lowest free descriptors); `O_CLOEXEC` and `O_NONBLOCK` (`O_DIRECT` is
/// accepted: every write of at most `PIPE_BUF` bytes is one packet-sized write already).
/// `EINVAL` for other flags, `EMFILE` when two descriptors are not free, `EFAULT`.
pub fn pipe2(fds: u32, flags: u32) -> SysResult {
    const O_DIRECT: u32 = 0o40_000;
    if flags & !(crate::files::O_CLOEXEC | O_NONBLOCK | O_DIRECT) != 0 {
        return Err(Errno::EINVAL);
    }
    let (read_end, write_end) = crate::fs::pipe::new();
    let status = flags & O_NONBLOCK;
    let read_file = crate::files::OpenFile::open(
        Object::Node(Handle::Pipe(read_end)),
        crate::files::O_RDONLY | status,
    )?;
    let write_file = crate::files::OpenFile::open(
        Object::Node(Handle::Pipe(write_end)),
        crate::files::O_WRONLY | status,
    )?;
    let cloexec = flags & crate::files::O_CLOEXEC != 0;
    let process = sched::current_process();
    let pair = {
        let mut table = process.files.lock();
        match table.install_from(read_file.clone(), 0, cloexec) {
            Ok(r) => match table.install_from(write_file.clone(), 0, cloexec) {
                Ok(w) => Ok((r, w)),
                Err(e) => {
                    let undo = table.close(r);
                    drop(table);
                    drop(undo);
                    Err(e)
                }
            },
            Err(e) => Err(e),
        }
    };
    let (r, w) = pair?;
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&r.to_le_bytes());
    out[4..].copy_from_slice(&w.to_le_bytes());
    if let Err(e) = super::write_user(fds, &out) {
        // Linux closes them again when it cannot say where they are.
        let (a, b) = {
            let mut table = process.files.lock();
            (table.close(r), table.close(w))
        };
        drop((a, b));
        return Err(e);
    }
    Ok(0)
}

const SEEK_SET: u32 = 0;
const SEEK_CUR: u32 = 1;
const SEEK_END: u32 = 2;

/// Moves the position of `file` as `lseek` does: from the start, the position or the end
/// (`SEEK_END` not on a directory, whose position counts entries). `/dev/null` and
/// `/dev/zero` stay at 0, as on Linux; the console cannot seek (`ESPIPE`). `EINVAL` for
/// another `whence` or a negative result.
fn seek(file: &File, offset: i64, whence: u32) -> Result<u64, Errno> {
    let end = match &file.object {
        Object::Device(Device::Console) => return Err(Errno::ESPIPE),
        Object::Device(_) => return Ok(0),
        Object::Node(Handle::File { data, .. }) => Some(data.size()),
        Object::Node(Handle::Dir(_)) => None,
        Object::Node(Handle::Pipe(_)) => return Err(Errno::ESPIPE),
    };
    let base = match whence {
        SEEK_SET => 0,
        SEEK_CUR => file.position(),
        SEEK_END => end.ok_or(Errno::EINVAL)?,
        _ => return Err(Errno::EINVAL),
    };
    let at = (base as i64)
        .checked_add(offset)
        .filter(|&at| at >= 0)
        .ok_or(Errno::EINVAL)? as u64;
    file.set_position(at);
    Ok(at)
}

/// `lseek(fd, offset, whence)`: the new position; `EOVERFLOW` when it does not fit the
/// 32-bit `off_t` (it has moved all the same, as on Linux).
pub fn lseek(fd: u32, offset: u32, whence: u32) -> SysResult {
    let at = seek(&file(fd)?, i64::from(offset as i32), whence)?;
    u32::try_from(at)
        .ok()
        .filter(|&at| at <= i32::MAX as u32)
        .ok_or(Errno::EOVERFLOW)
}

/// `_llseek(fd, high, low, result, whence)`: the 64-bit form, the new position stored at
/// `result`.
pub fn llseek(fd: u32, high: u32, low: u32, result: u32, whence: u32) -> SysResult {
    let offset = (u64::from(high) << 32 | u64::from(low)) as i64;
    let at = seek(&file(fd)?, offset, whence)?;
    super::write_user(result, &at.to_le_bytes())?;
    Ok(0)
}
