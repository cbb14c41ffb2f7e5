//! The calls on paths of the root file system (`fs::ramfs`): `open`/`openat`,
//! `stat64`/`lstat64`/`fstatat64`/`statx`, `getdents64`, `readlink`/`readlinkat`,
//! `access`/`faccessat`, `getcwd`. Each decodes its arguments and calls down.
//!
//! The device paths (`/dev/null`, `/dev/zero`, `/dev/console`, `/dev/tty`) name the
//! devices whatever the tree holds. The working directory is `/` (no `chdir` yet), and the
//! file system is read-only until files can be written: creating or writing a file is
//! `EROFS`.

use super::SysResult;
use super::io::{file, stat_of};
use crate::devstat::Stat;
use crate::errno::Errno;
use crate::files::{
    Device, O_ACCMODE, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_TRUNC, Object,
    OpenFile,
};
use crate::fs::ramfs::{self, Handle};
use crate::fs::tree::{Ino, Node, ROOT};
use crate::sched;
use alloc::vec::Vec;

/// `AT_FDCWD`: "relative to the working directory".
const AT_FDCWD: u32 = -100i32 as u32;
const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
const AT_EMPTY_PATH: u32 = 0x1000;

/// The directory a relative path starts from: the working directory for `AT_FDCWD`, else
/// the directory open at `dirfd` (`EBADF`, `ENOTDIR`). An absolute path ignores it.
fn start_dir(dirfd: u32, path: &[u8]) -> Result<Ino, Errno> {
    if path.first() == Some(&b'/') || dirfd == AT_FDCWD {
        return Ok(ROOT);
    }
    match file(dirfd)?.object {
        Object::Node(Handle::Dir(ino)) => Ok(ino),
        _ => Err(Errno::ENOTDIR),
    }
}

/// The device a path names, if it names one (relative paths from `/`).
fn device_at(dirfd: u32, path: &[u8]) -> Option<Device> {
    if path.first() == Some(&b'/') {
        Device::at(path)
    } else if dirfd == AT_FDCWD {
        let mut absolute = Vec::with_capacity(path.len() + 1);
        absolute.push(b'/');
        absolute.extend_from_slice(path);
        Device::at(&absolute)
    } else {
        None
    }
}

/// `open(path, flags, mode)`.
pub fn open(path: u32, flags: u32) -> SysResult {
    openat(AT_FDCWD, path, flags)
}

/// `openat(dirfd, path, flags, mode)`: a device, a file (read-only) or a directory (for
/// `getdents64`). `ENOENT`, `ENOTDIR`, `ELOOP` (a link with `O_NOFOLLOW`), `EISDIR` (a
/// directory opened for writing), `EEXIST` (`O_CREAT | O_EXCL` of an existing name),
/// `EROFS` (creating, truncating or writing a file), `EMFILE`.
pub fn openat(dirfd: u32, path: u32, flags: u32) -> SysResult {
    let path = super::read_path(path)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let object = match device_at(dirfd, &path) {
        Some(device) => Object::Device(device),
        None => Object::Node(open_node(dirfd, &path, flags)?),
    };
    let file = OpenFile::open(object, flags)?;
    let fd = sched::current_process().files.lock().install(file.clone());
    // `file` outlives the table's lock, so a refused install never drops the last
    // reference under it.
    drop(file);
    fd
}

/// Resolves `path` for `openat` and checks `flags` against what it names.
fn open_node(dirfd: u32, path: &[u8], flags: u32) -> Result<Handle, Errno> {
    let start = start_dir(dirfd, path)?;
    let fs = ramfs::lock();
    let ino = match fs.resolve(start, path, flags & O_NOFOLLOW == 0) {
        Ok(_) if flags & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL => return Err(Errno::EEXIST),
        Ok(ino) => ino,
        Err(Errno::ENOENT) if flags & O_CREAT != 0 => {
            // The parent must exist for Linux to create the file; it is then read-only.
            fs.resolve_parent(start, path)?;
            return Err(Errno::EROFS);
        }
        Err(e) => return Err(e),
    };
    let inode = fs.get(ino).ok_or(Errno::ENOENT)?;
    let write = flags & O_ACCMODE != O_RDONLY;
    match inode.node {
        Node::Symlink(_) => return Err(Errno::ELOOP),
        Node::Dir { .. } if write => return Err(Errno::EISDIR),
        Node::Dir { .. } => {}
        Node::File(_) if flags & O_DIRECTORY != 0 => return Err(Errno::ENOTDIR),
        Node::File(_) if write || flags & O_TRUNC != 0 => return Err(Errno::EROFS),
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
/// a NUL. `EINVAL` for a name that is not a link or a `size` of 0 (`/proc/self/exe` is
/// `ENOENT`: there is no `/proc`).
pub fn readlinkat(dirfd: u32, path: u32, buf: u32, size: u32) -> SysResult {
    if size as i32 <= 0 {
        return Err(Errno::EINVAL);
    }
    let path = super::read_path(path)?;
    let target = {
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

const W_OK: u32 = 2;
const X_OK: u32 = 1;

/// `access(path, mode)`.
pub fn access(path: u32, mode: u32) -> SysResult {
    faccessat(AT_FDCWD, path, mode, 0)
}

/// `faccessat(dirfd, path, mode, flags)`: as root, every name that exists may be read;
/// `X_OK` needs an execute bit on a file, and `W_OK` on a file is `EROFS` (the file system
/// is read-only); the devices allow everything but `X_OK`. `EINVAL` for an unknown mode.
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
    if mode & W_OK != 0 {
        return Err(Errno::EROFS);
    }
    Ok(0)
}

/// `getcwd(buf, size)`: `/` (with its NUL), the length; `ERANGE` when it does not fit.
pub fn getcwd(buf: u32, size: u32) -> SysResult {
    let cwd = b"/\0";
    if (size as usize) < cwd.len() {
        return Err(Errno::ERANGE);
    }
    super::write_user(buf, cwd)?;
    Ok(cwd.len() as u32)
}
