//! The calls on paths of the root file system (`fs::ramfs`): `open`/`openat`,
//! `stat64`/`lstat64`/`fstatat64`/`statx`, `getdents64`, `readlink`/`readlinkat`,
//! `access`/`faccessat`, `mkdir`, `unlink`/`rmdir`, `rename`, `symlink`, `link`,
//! `truncate`, `chmod`, `chdir`/`fchdir`/`getcwd`, `umask`. Each decodes its arguments and
//! calls down.
//!
//! The device paths (`/dev/null`, `/dev/zero`, `/dev/console`, `/dev/tty`) name the
//! devices whatever the tree holds. Relative paths start at the process's working
//! directory (`chdir`), created names get the mode asked for less the `umask`.

use super::SysResult;
use super::io::{file, stat_of};
use crate::devstat::Stat;
use crate::errno::Errno;
use crate::files::{
    Device, O_ACCMODE, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_TRUNC, O_WRONLY,
    Object, OpenFile,
};
use crate::fs::ramfs::{self, Handle};
use crate::fs::tree::{Ino, Node, ROOT};
use crate::sched;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

/// `AT_FDCWD`: "relative to the working directory".
const AT_FDCWD: u32 = -100i32 as u32;
const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
const AT_EMPTY_PATH: u32 = 0x1000;

/// The directory a relative path starts from: the working directory for `AT_FDCWD`, else
/// the directory open at `dirfd` (`EBADF`, `ENOTDIR`). An absolute path ignores it.
fn start_dir(dirfd: u32, path: &[u8]) -> Result<Ino, Errno> {
    if path.first() == Some(&b'/') {
        return Ok(ROOT);
    }
    if dirfd == AT_FDCWD {
        return Ok(sched::current_process().cwd.load(Ordering::Relaxed));
    }
    match file(dirfd)?.object {
        Object::Node(Handle::Dir(ino)) => Ok(ino),
        _ => Err(Errno::ENOTDIR),
    }
}

/// The device a path names, if it names one (relative paths from `/` only when that is
/// the working directory).
fn device_at(dirfd: u32, path: &[u8]) -> Option<Device> {
    if path.first() == Some(&b'/') {
        Device::at(path)
    } else if dirfd == AT_FDCWD && sched::current_process().cwd.load(Ordering::Relaxed) == ROOT {
        let mut absolute = Vec::with_capacity(path.len() + 1);
        absolute.push(b'/');
        absolute.extend_from_slice(path);
        Device::at(&absolute)
    } else {
        None
    }
}

/// `open(path, flags, mode)`.
pub fn open(path: u32, flags: u32, mode: u32) -> SysResult {
    openat(AT_FDCWD, path, flags, mode)
}

/// `creat(path, mode)`: `open` with `O_CREAT | O_WRONLY | O_TRUNC`.
pub fn creat(path: u32, mode: u32) -> SysResult {
    openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode)
}

/// Seconds since the epoch, for modification times.
fn now() -> u64 {
    crate::time::realtime_ns() / 1_000_000_000
}

/// The mode bits a name created with `mode` gets.
fn created_mode(mode: u32) -> u32 {
    mode & 0o7777 & !sched::current_process().umask.load(Ordering::Relaxed)
}

/// `openat(dirfd, path, flags, mode)`: a device, a file or a directory (for
/// `getdents64`); `O_CREAT` makes a missing file (`mode` less the umask), `O_TRUNC`
/// empties a file opened for writing. `ENOENT`, `ENOTDIR`, `ELOOP` (a link with
/// `O_NOFOLLOW`), `EISDIR` (a directory opened for writing), `EEXIST` (`O_CREAT | O_EXCL`
/// of an existing name), `EMFILE`.
pub fn openat(dirfd: u32, path: u32, flags: u32, mode: u32) -> SysResult {
    let path = super::read_path(path)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let object = match device_at(dirfd, &path) {
        Some(device) => Object::Device(device),
        None => Object::Node(open_node(dirfd, &path, flags, mode)?),
    };
    let file = OpenFile::open(object, flags)?;
    let fd = sched::current_process().files.lock().install(file.clone());
    // `file` outlives the table's lock, so a refused install never drops the last
    // reference under it.
    drop(file);
    fd
}

/// Resolves `path` for `openat` (making the file with `O_CREAT`) and checks `flags`
/// against what it names.
fn open_node(dirfd: u32, path: &[u8], flags: u32, mode: u32) -> Result<Handle, Errno> {
    let start = start_dir(dirfd, path)?;
    let mut fs = ramfs::lock();
    let ino = match fs.resolve(start, path, flags & O_NOFOLLOW == 0) {
        Ok(_) if flags & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL => return Err(Errno::EEXIST),
        Ok(ino) => ino,
        Err(Errno::ENOENT) if flags & O_CREAT != 0 => {
            let (dir, name) = fs.resolve_parent(start, path)?;
            if path.ends_with(b"/") {
                return Err(Errno::EISDIR);
            }
            // A dangling link as the last component: Linux creates its target; Tempest
            // creates only a name that does not exist at all.
            let time = now();
            let file = Node::File(ramfs::FileData::empty(time));
            let ino = fs.insert(dir, name, file, created_mode(mode), time)?;
            return ramfs::handle(&fs, ino);
        }
        Err(e) => return Err(e),
    };
    let inode = fs.get(ino).ok_or(Errno::ENOENT)?;
    let write = flags & O_ACCMODE != O_RDONLY;
    match &inode.node {
        Node::Symlink(_) => return Err(Errno::ELOOP),
        Node::Dir { .. } if write || flags & O_CREAT != 0 => return Err(Errno::EISDIR),
        Node::Dir { .. } => {}
        Node::File(_) if flags & O_DIRECTORY != 0 => return Err(Errno::ENOTDIR),
        Node::File(data) if write && flags & O_TRUNC != 0 => data.truncate(0, now())?,
        Node::File(_) => {}
    }
    ramfs::handle(&fs, ino)
}

/// What `stat` says of `path` (from `dirfd`), following a last link unless `nofollow`;
/// with `AT_EMPTY_PATH` an empty path is `dirfd` itself.
fn stat_path(dirfd: u32, path: u32, flags: u32) -> Result<Stat, Errno> {
    let path = super::read_path(path)?;
    if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        return stat_of(&file(dirfd)?);
    }
    if let Some(device) = device_at(dirfd, &path) {
        return Ok(Stat::of(device));
    }
    let start = start_dir(dirfd, &path)?;
    let fs = ramfs::lock();
    let ino = fs.resolve(start, &path, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    ramfs::stat(&fs, ino)
}

/// `stat64(path, buf)`.
pub fn stat64(path: u32, buf: u32) -> SysResult {
    fstatat64(AT_FDCWD, path, buf, 0)
}

/// `lstat64(path, buf)`: a link itself.
pub fn lstat64(path: u32, buf: u32) -> SysResult {
    fstatat64(AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW)
}

/// `fstatat64(dirfd, path, buf, flags)`: `AT_SYMLINK_NOFOLLOW` and `AT_EMPTY_PATH`
/// (`EINVAL` for other flags).
pub fn fstatat64(dirfd: u32, path: u32, buf: u32, flags: u32) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL);
    }
    let stat = stat_path(dirfd, path, flags)?;
    super::write_user(buf, &stat.stat64())?;
    Ok(0)
}

/// Ignored: there are no automounts.
const AT_NO_AUTOMOUNT: u32 = 0x800;
/// `statx`'s sync flags (`AT_STATX_SYNC_TYPE`): nothing to synchronise in RAM.
const AT_STATX_SYNC_TYPE: u32 = 0x6000;

/// `statx(dirfd, path, flags, mask, buf)`: the basic stats whatever the mask.
pub fn statx(dirfd: u32, path: u32, flags: u32, buf: u32) -> SysResult {
    let known = AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    let stat = stat_path(dirfd, path, flags)?;
    super::write_user(buf, &stat.statx())?;
    Ok(0)
}

/// `struct linux_dirent64`'s fixed part: `d_ino` (8), `d_off` (8), `d_reclen` (2),
/// `d_type` (1); the name and its NUL follow, the record padded to 8 bytes.
const DIRENT_HEAD: usize = 19;

/// `getdents64(fd, dirp, count)`: the directory's entries from its position on, as many
/// whole records as fit in `count` bytes; 0 at the end. `ENOTDIR` unless fd is an open
/// directory, `EINVAL` when not even one record fits, `EFAULT`.
pub fn getdents64(fd: u32, dirp: u32, count: u32) -> SysResult {
    let file = file(fd)?;
    let Object::Node(Handle::Dir(dir)) = file.object else {
        return Err(Errno::ENOTDIR);
    };
    let from = file.position() as usize;
    // A directory removed while open lists nothing, as on Linux.
    let entries = ramfs::lock().read_dir(dir, from).unwrap_or_default();
    let mut out = Vec::new();
    let mut taken = 0;
    for (i, e) in entries.iter().enumerate() {
        let reclen = (DIRENT_HEAD + e.name.len() + 1).next_multiple_of(8);
        if out.len() + reclen > count as usize {
            break;
        }
        // `d_off`: the position after this entry, which `lseek` takes back.
        let next = (from + i + 1) as u64;
        let start = out.len();
        out.extend_from_slice(&u64::from(e.ino).to_le_bytes());
        out.extend_from_slice(&next.to_le_bytes());
        out.extend_from_slice(&(reclen as u16).to_le_bytes());
        out.push(e.kind);
        out.extend_from_slice(&e.name);
        // The NUL and the padding.
        out.resize(start + reclen, 0);
        taken += 1;
    }
    if taken == 0 && !entries.is_empty() {
        return Err(Errno::EINVAL);
    }
    super::write_user(dirp, &out)?;
    file.set_position((from + taken) as u64);
    Ok(out.len() as u32)
}

/// `readlink(path, buf, size)`.
pub fn readlink(path: u32, buf: u32, size: u32) -> SysResult {
    readlinkat(AT_FDCWD, path, buf, size)
}

/// `readlinkat(dirfd, path, buf, size)`: the link's target, cut to `size` bytes, without
/// a NUL. `EINVAL` for a name that is not a link or a `size` of 0. `/proc/self/exe` (the
/// one name of `/proc` Tempest knows) is the program's path, `ENOENT` for a boot module.
pub fn readlinkat(dirfd: u32, path: u32, buf: u32, size: u32) -> SysResult {
    if size as i32 <= 0 {
        return Err(Errno::EINVAL);
    }
    let path = super::read_path(path)?;
    let target = if path == crate::proc::PROC_SELF_EXE {
        crate::proc::self_exe()?
    } else {
        let start = start_dir(dirfd, &path)?;
        let fs = ramfs::lock();
        let ino = fs.resolve(start, &path, false)?;
        match &fs.get(ino).ok_or(Errno::ENOENT)?.node {
            Node::Symlink(target) => target.clone(),
            _ => return Err(Errno::EINVAL),
        }
    };
    let n = target.len().min(size as usize);
    super::write_user(buf, &target[..n])?;
    Ok(n as u32)
}

const X_OK: u32 = 1;

/// `access(path, mode)`.
pub fn access(path: u32, mode: u32) -> SysResult {
    faccessat(AT_FDCWD, path, mode, 0)
}

/// `faccessat(dirfd, path, mode, flags)`: as root, every name that exists may be read
/// and written; `X_OK` needs an execute bit on a file; the devices allow everything but
/// `X_OK`. `EINVAL` for an unknown mode.
pub fn faccessat(dirfd: u32, path: u32, mode: u32, flags: u32) -> SysResult {
    if mode & !7 != 0 || flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | 0x200) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = super::read_path(path)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if device_at(dirfd, &path).is_some() {
        return if mode & X_OK != 0 {
            Err(Errno::EACCES)
        } else {
            Ok(0)
        };
    }
    let start = start_dir(dirfd, &path)?;
    let fs = ramfs::lock();
    let ino = fs.resolve(start, &path, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    let inode = fs.get(ino).ok_or(Errno::ENOENT)?;
    if mode & X_OK != 0 && !inode.is_dir() && inode.mode & 0o111 == 0 {
        return Err(Errno::EACCES);
    }
    Ok(0)
}

/// `getcwd(buf, size)`: the working directory's path with its NUL, and its length;
/// `ERANGE` when it does not fit, `ENOENT` when the directory was removed.
pub fn getcwd(buf: u32, size: u32) -> SysResult {
    let cwd = sched::current_process().cwd.load(Ordering::Relaxed);
    let mut path = ramfs::lock().path_of(cwd)?;
    path.push(0);
    if (size as usize) < path.len() {
        return Err(Errno::ERANGE);
    }
    super::write_user(buf, &path)?;
    Ok(path.len() as u32)
}

/// `chdir(path)`: the working directory becomes `path` (`ENOTDIR` for another kind).
pub fn chdir(path: u32) -> SysResult {
    let path = super::read_path(path)?;
    let start = start_dir(AT_FDCWD, &path)?;
    let fs = ramfs::lock();
    let ino = fs.resolve(start, &path, true)?;
    if !fs.get(ino).is_some_and(|i| i.is_dir()) {
        return Err(Errno::ENOTDIR);
    }
    sched::current_process().cwd.store(ino, Ordering::Relaxed);
    Ok(0)
}

/// `fchdir(fd)`: the directory open at `fd`.
pub fn fchdir(fd: u32) -> SysResult {
    match file(fd)?.object {
        Object::Node(Handle::Dir(ino)) => {
            sched::current_process().cwd.store(ino, Ordering::Relaxed);
            Ok(0)
        }
        _ => Err(Errno::ENOTDIR),
    }
}

/// `umask(mask)`: the old mask.
pub fn umask(mask: u32) -> SysResult {
    Ok(sched::current_process()
        .umask
        .swap(mask & 0o777, Ordering::Relaxed))
}

/// The directory and last name of `path` for a call that makes or removes a name.
fn parent(fs: &ramfs::Fs, dirfd: u32, path: &[u8]) -> Result<(Ino, Vec<u8>), Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let start = start_dir(dirfd, path)?;
    let (dir, name) = fs.resolve_parent(start, path)?;
    Ok((dir, name.to_vec()))
}

/// `mkdirat(dirfd, path, mode)`: an empty directory (`mode` less the umask); `EEXIST`.
pub fn mkdirat(dirfd: u32, path: u32, mode: u32) -> SysResult {
    let path = super::read_path(path)?;
    let mut fs = ramfs::lock();
    let (dir, name) = parent(&fs, dirfd, &path)?;
    fs.mkdir(dir, &name, created_mode(mode), now())?;
    Ok(0)
}

/// `mkdir(path, mode)`.
pub fn mkdir(path: u32, mode: u32) -> SysResult {
    mkdirat(AT_FDCWD, path, mode)
}

const AT_REMOVEDIR: u32 = 0x200;

/// `unlinkat(dirfd, path, flags)`: removes a name (`unlink`), or with `AT_REMOVEDIR` an
/// empty directory (`rmdir`). A file open somewhere stays readable until its last close;
/// its frames go back then. `EISDIR`, `ENOTDIR`, `ENOTEMPTY`, `EINVAL` (`.`), `EBUSY`.
pub fn unlinkat(dirfd: u32, path: u32, flags: u32) -> SysResult {
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let path = super::read_path(path)?;
    let gone = {
        let mut fs = ramfs::lock();
        let (dir, name) = parent(&fs, dirfd, &path)?;
        if flags & AT_REMOVEDIR != 0 {
            fs.rmdir(dir, &name)?;
            None
        } else {
            if path.ends_with(b"/") {
                return Err(fs.lookup(dir, &name).map_or_else(|e| e, |_| Errno::ENOTDIR));
            }
            fs.unlink(dir, &name)?
        }
    };
    // The last name's data goes after the tree's lock.
    drop(gone);
    Ok(0)
}

/// `unlink(path)`.
pub fn unlink(path: u32) -> SysResult {
    unlinkat(AT_FDCWD, path, 0)
}

/// `rmdir(path)`.
pub fn rmdir(path: u32) -> SysResult {
    unlinkat(AT_FDCWD, path, AT_REMOVEDIR)
}

const RENAME_NOREPLACE: u32 = 1;

/// `renameat2(olddirfd, old, newdirfd, new, flags)`: `rename` (`fs::tree::Tree::rename`
/// has the rules), with `RENAME_NOREPLACE` (`EEXIST` when `new` exists) the only flag.
pub fn renameat2(olddirfd: u32, old: u32, newdirfd: u32, new: u32, flags: u32) -> SysResult {
    if flags & !RENAME_NOREPLACE != 0 {
        return Err(Errno::EINVAL);
    }
    let (old, new) = (super::read_path(old)?, super::read_path(new)?);
    let replaced = {
        let mut fs = ramfs::lock();
        let (from, old_name) = parent(&fs, olddirfd, &old)?;
        let (to, new_name) = parent(&fs, newdirfd, &new)?;
        if flags & RENAME_NOREPLACE != 0 && fs.lookup(to, &new_name).is_ok() {
            return Err(Errno::EEXIST);
        }
        fs.rename(from, &old_name, to, &new_name, now())?
    };
    drop(replaced);
    Ok(0)
}

/// `rename(old, new)`.
pub fn rename(old: u32, new: u32) -> SysResult {
    renameat2(AT_FDCWD, old, AT_FDCWD, new, 0)
}

/// `symlinkat(target, dirfd, path)`: a link holding `target` (not checked: a link may
/// dangle). `EEXIST`, `ENOENT` for an empty target.
pub fn symlinkat(target: u32, dirfd: u32, path: u32) -> SysResult {
    let target = super::read_path(target)?;
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    let path = super::read_path(path)?;
    let mut fs = ramfs::lock();
    let (dir, name) = parent(&fs, dirfd, &path)?;
    fs.insert(dir, &name, Node::Symlink(target), 0o777, now())?;
    Ok(0)
}

/// `symlink(target, path)`.
pub fn symlink(target: u32, path: u32) -> SysResult {
    symlinkat(target, AT_FDCWD, path)
}

const AT_SYMLINK_FOLLOW: u32 = 0x400;

/// `linkat(olddirfd, old, newdirfd, new, flags)`: another name for a file (a link itself
/// unless `AT_SYMLINK_FOLLOW`); `EPERM` for a directory, `EEXIST`.
pub fn linkat(olddirfd: u32, old: u32, newdirfd: u32, new: u32, flags: u32) -> SysResult {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let (old, new) = (super::read_path(old)?, super::read_path(new)?);
    let mut fs = ramfs::lock();
    let start = start_dir(olddirfd, &old)?;
    let target = fs.resolve(start, &old, flags & AT_SYMLINK_FOLLOW != 0)?;
    let (dir, name) = parent(&fs, newdirfd, &new)?;
    fs.link(dir, &name, target)?;
    Ok(0)
}

/// `link(old, new)`.
pub fn link(old: u32, new: u32) -> SysResult {
    linkat(AT_FDCWD, old, AT_FDCWD, new, 0)
}

/// `fchmodat(dirfd, path, mode)`: the permission bits become `mode & 07777` (kept and
/// reported; every process runs as root, so they check nothing but `X_OK`).
pub fn fchmodat(dirfd: u32, path: u32, mode: u32) -> SysResult {
    let path = super::read_path(path)?;
    if let Some(_device) = device_at(dirfd, &path) {
        return Ok(0);
    }
    let start = start_dir(dirfd, &path)?;
    let mut fs = ramfs::lock();
    let ino = fs.resolve(start, &path, true)?;
    set_mode(&mut fs, ino, mode)
}

fn set_mode(fs: &mut ramfs::Fs, ino: Ino, mode: u32) -> SysResult {
    let inode = fs.get_mut(ino).ok_or(Errno::ENOENT)?;
    inode.mode = (inode.mode & crate::fs::cpio::S_IFMT) | (mode & 0o7777);
    Ok(0)
}

/// `chmod(path, mode)`.
pub fn chmod(path: u32, mode: u32) -> SysResult {
    fchmodat(AT_FDCWD, path, mode)
}

/// `fchmod(fd, mode)`.
pub fn fchmod(fd: u32, mode: u32) -> SysResult {
    match &file(fd)?.object {
        Object::Node(handle) => set_mode(&mut ramfs::lock(), handle.ino(), mode),
        Object::Device(_) => Ok(0),
    }
}

/// `truncate64(path, low, high)`: the file becomes that long (`EISDIR` for a directory,
/// `EINVAL` for a negative length, `EFBIG` past 1 GiB).
pub fn truncate64(path: u32, low: u32, high: u32) -> SysResult {
    let len = (u64::from(high) << 32 | u64::from(low)) as i64;
    let path = super::read_path(path)?;
    let start = start_dir(AT_FDCWD, &path)?;
    let data = {
        let fs = ramfs::lock();
        let ino = fs.resolve(start, &path, true)?;
        match ramfs::handle(&fs, ino)? {
            Handle::File { data, .. } => data,
            Handle::Dir(_) => return Err(Errno::EISDIR),
            Handle::Pipe(_) => return Err(Errno::EINVAL),
        }
    };
    let len = u64::try_from(len).map_err(|_| Errno::EINVAL)?;
    data.truncate(len, now())?;
    Ok(0)
}

/// `utimensat`'s special `tv_nsec` values.
const UTIME_NOW: i64 = (1 << 30) - 1;
const UTIME_OMIT: i64 = (1 << 30) - 2;

/// `utimensat(dirfd, path, times, flags)` and its 64-bit-time form: the modification time
/// becomes `times[1]` (now for a null `times` or `UTIME_NOW`; unchanged for `UTIME_OMIT`);
/// access times are not kept. A null `path` is `dirfd` itself (as `futimens`).
/// `AT_SYMLINK_NOFOLLOW` changes a link itself. `ENOENT`, `EINVAL` (a bad `tv_nsec` or
/// flag), `EFAULT`.
pub fn utimensat(dirfd: u32, path: u32, times: u32, flags: u32, time64: bool) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let mtime = if times == 0 {
        Some(now())
    } else {
        let size = if time64 { 16 } else { 8 };
        let raw: [u8; 32] = super::read_user(times, 2 * size)?;
        let (sec, nsec) = if time64 {
            let w = |i: usize| i64::from_le_bytes(raw[i..i + 8].try_into().expect("8"));
            (w(16), w(24))
        } else {
            let w = |i: usize| i64::from(i32::from_le_bytes(raw[i..i + 4].try_into().expect("4")));
            (w(8), w(12))
        };
        match nsec {
            UTIME_OMIT => None,
            UTIME_NOW => Some(now()),
            0..=999_999_999 if sec >= 0 => Some(sec as u64),
            0..=999_999_999 => Some(0),
            _ => return Err(Errno::EINVAL),
        }
    };
    let ino = if path == 0 {
        match &file(dirfd)?.object {
            Object::Node(handle) => handle.ino(),
            Object::Device(_) => return Ok(0),
        }
    } else {
        let path = super::read_path(path)?;
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if device_at(dirfd, &path).is_some() {
            return Ok(0);
        }
        let start = start_dir(dirfd, &path)?;
        ramfs::lock().resolve(start, &path, flags & AT_SYMLINK_NOFOLLOW == 0)?
    };
    let Some(mtime) = mtime else {
        return Ok(0);
    };
    let mut fs = ramfs::lock();
    let inode = fs.get_mut(ino).ok_or(Errno::ENOENT)?;
    inode.mtime = mtime;
    if let Node::File(data) = &inode.node {
        data.set_mtime(mtime);
    }
    Ok(0)
}
