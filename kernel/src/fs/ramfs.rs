//! The root file system: `fs::tree` with each file's bytes in frames, highmem first,
//! written and read only through temp mappings (a file page is never in the direct map
//! when highmem has room). Filled at boot from the initramfs modules.
//!
//! One sleeping lock guards the tree. A file's data is shared (`Arc`) between the tree
//! and the open files, so an unlinked file stays readable until its last close, and its
//! frames go back when the last reference drops (never under a spin lock: see
//! `files::FileTable`).

use super::initramfs::{self, Unpacked};
use super::tree::{Contents, Ino, Node, Tree};
use crate::devstat::Stat;
use crate::errno::Errno;
use crate::mm::frames;
use crate::mm::space::AddressSpace;
use crate::mm::temp::{TempMap, Writable};
use crate::mm::uaccess;
use crate::mm::zones::Frame;
use crate::sched::mutex::{Mutex, MutexGuard};
use alloc::sync::Arc;
use alloc::vec::Vec;
use arch::paging::PAGE_SIZE;

/// A regular file's bytes: whole pages, the last one zero past `size`.
#[derive(Debug)]
pub struct FileData {
    frames: Vec<Frame>,
    size: u64,
}

impl Contents for Arc<FileData> {
    fn size(&self) -> u64 {
        self.size
    }
}

impl Drop for FileData {
    fn drop(&mut self) {
        for &f in &self.frames {
            frames::free(f);
        }
    }
}

impl FileData {
    /// A file holding `bytes`: one frame per page (highmem first), filled through a temp
    /// mapping. `ENOMEM` when frames, the heap or temp slots run out (what was taken is
    /// given back).
    pub fn new(bytes: &[u8]) -> Result<Arc<FileData>, Errno> {
        let mut data = FileData {
            frames: Vec::new(),
            size: bytes.len() as u64,
        };
        data.frames
            .try_reserve_exact(bytes.len().div_ceil(PAGE_SIZE))
            .map_err(|_| Errno::ENOMEM)?;
        for chunk in bytes.chunks(PAGE_SIZE) {
            let (frame, _) = frames::alloc_user().ok_or(Errno::ENOMEM)?;
            data.frames.push(frame);
            // SAFETY: the frame was just allocated and is ours alone.
            let mut page =
                unsafe { TempMap::<Writable>::write(frame) }.map_err(|_| Errno::ENOMEM)?;
            page[..chunk.len()].copy_from_slice(chunk);
            page[chunk.len()..].fill(0);
        }
        Ok(Arc::new(data))
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Frames it holds.
    pub fn frames(&self) -> usize {
        self.frames.len()
    }

    /// Copies up to `len` bytes from `offset` to the user buffer at `buf`, a file page at a
    /// time (the page through one temp mapping, the user's through the checked copy).
    /// Returns the count (0 at or past the end); a bad user page after some bytes ends the
    /// read with their count, a bad first one is `EFAULT`.
    pub fn read_to_user(
        &self,
        offset: u64,
        space: &AddressSpace,
        buf: u32,
        len: u32,
    ) -> Result<u32, Errno> {
        let want = (self.size.saturating_sub(offset)).min(u64::from(len)) as u32;
        let mut done = 0u32;
        while done < want {
            let at = offset + u64::from(done);
            let in_page = (at % PAGE_SIZE as u64) as usize;
            let chunk = (PAGE_SIZE - in_page).min((want - done) as usize);
            let frame = self.frames[(at / PAGE_SIZE as u64) as usize];
            // SAFETY: the file's frames are only written while the file is made; a shared
            // reference to the data keeps them allocated.
            let page = unsafe { TempMap::read(frame) }.map_err(|_| Errno::ENOMEM)?;
            let copied = uaccess::copy_to_user(
                space,
                buf.wrapping_add(done),
                &page[in_page..in_page + chunk],
            );
            match copied {
                Ok(()) => done += chunk as u32,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(done)
    }

    /// All of the file's bytes in a kernel buffer (for `exec`). `ENOMEM` when the heap
    /// cannot hold them.
    pub fn to_vec(&self) -> Result<Vec<u8>, Errno> {
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(self.size as usize)
            .map_err(|_| Errno::ENOMEM)?;
        for &frame in &self.frames {
            let take = (self.size as usize - bytes.len()).min(PAGE_SIZE);
            // SAFETY: as in `read_to_user`.
            let page = unsafe { TempMap::read(frame) }.map_err(|_| Errno::ENOMEM)?;
            bytes.extend_from_slice(&page[..take]);
        }
        Ok(bytes)
    }
}

pub type Fs = Tree<Arc<FileData>>;

static FS: Mutex<Option<Fs>> = Mutex::new(None);

/// The root file system, locked (an empty root until an initramfs fills it).
pub struct Root(MutexGuard<'static, Option<Fs>>);

impl core::ops::Deref for Root {
    type Target = Fs;
    fn deref(&self) -> &Fs {
        self.0.as_ref().expect("made in `lock`")
    }
}

impl core::ops::DerefMut for Root {
    fn deref_mut(&mut self) -> &mut Fs {
        self.0.as_mut().expect("made in `lock`")
    }
}

/// Locks the root file system.
pub fn lock() -> Root {
    let mut guard = FS.lock();
    guard.get_or_insert_with(Tree::new);
    Root(guard)
}

/// The device numbers of the root file system (Linux's rootfs is 0:2 on a typical boot).
const DEV_MINOR: u32 = 2;

/// `stat` of the inode `ino` of `fs`.
pub fn stat(fs: &Fs, ino: Ino) -> Result<Stat, Errno> {
    let inode = fs.get(ino).ok_or(Errno::ENOENT)?;
    Ok(Stat {
        dev_major: 0,
        dev_minor: DEV_MINOR,
        ino: u64::from(ino),
        mode: inode.mode,
        nlink: inode.nlink,
        uid: inode.uid,
        gid: inode.gid,
        size: inode.size(),
        mtime: inode.mtime,
        ..Stat::default()
    })
}

/// What an open file of the file system refers to.
#[derive(Debug)]
pub enum Handle {
    /// A regular file: its data, shared with the tree.
    File { ino: Ino, data: Arc<FileData> },
    /// A directory, listed by `getdents64`.
    Dir(Ino),
}

impl Handle {
    pub fn ino(&self) -> Ino {
        match self {
            Handle::File { ino, .. } | Handle::Dir(ino) => *ino,
        }
    }
}

/// The handle for opening inode `ino`.
pub fn handle(fs: &Fs, ino: Ino) -> Result<Handle, Errno> {
    match &fs.get(ino).ok_or(Errno::ENOENT)?.node {
        Node::File(data) => Ok(Handle::File {
            ino,
            data: data.clone(),
        }),
        Node::Dir { .. } => Ok(Handle::Dir(ino)),
        // Opening a link itself (O_PATH) is not supported.
        Node::Symlink(_) => Err(Errno::ELOOP),
    }
}

/// Unpacks an initramfs module into the root and logs what it held, or why it stopped.
pub fn unpack(name: &str, archive: &[u8]) -> Result<Unpacked, initramfs::UnpackError> {
    let mut fs = lock();
    let before = frames::stats();
    let done = initramfs::unpack(&mut fs, archive, FileData::new)?;
    let after = frames::stats();
    let taken = (before.low_free + before.high_free) - (after.low_free + after.high_free);
    log::info!(
        "initramfs `{name}`: {} directories, {} files, {} links, {} hard links, {} skipped \
         (devices, FIFOs): {} bytes in {taken} frames ({} in highmem)",
        done.dirs,
        done.files,
        done.symlinks,
        done.hard_links,
        done.skipped,
        done.bytes,
        before.high_free - after.high_free,
    );
    Ok(done)
}
