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
use core::sync::atomic::{AtomicU32, Ordering};

/// A regular file's bytes: a frame per page that was ever written (a hole reads as
/// zeroes), zero past `size` in the last one, under the file's own sleeping lock (a copy
/// may fault in the user's pages and may be preempted).
pub struct FileData {
    pages: Mutex<Pages>,
}

impl core::fmt::Debug for FileData {
    /// Without taking the lock: a debug print must not block.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FileData")
    }
}

struct Pages {
    frames: Vec<Option<Frame>>,
    size: u64,
    /// Last modification, seconds since the epoch.
    mtime: u64,
}

impl Contents for Arc<FileData> {
    fn size(&self) -> u64 {
        self.pages.lock().size
    }

    fn mtime(&self) -> Option<u64> {
        Some(self.pages.lock().mtime)
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        for f in self.frames.drain(..).flatten() {
            free_file_frame(f);
        }
    }
}

/// Frames the files hold now (the leak check at the end of a run leaves them out: files
/// the programs wrote stay in the tree).
static FILE_FRAMES: AtomicU32 = AtomicU32::new(0);

/// Frames the files hold now.
pub fn file_frames() -> u32 {
    FILE_FRAMES.load(Ordering::Relaxed)
}

/// A frame for a file page, highmem first; `ENOSPC` when RAM is full.
fn file_frame() -> Result<Frame, Errno> {
    let (frame, _) = frames::alloc_user().ok_or(Errno::ENOSPC)?;
    FILE_FRAMES.fetch_add(1, Ordering::Relaxed);
    Ok(frame)
}

/// Gives a file page's frame back.
fn free_file_frame(frame: Frame) {
    FILE_FRAMES.fetch_sub(1, Ordering::Relaxed);
    frames::free(frame);
}

/// The largest file: 1 GiB (the frame list is on the kernel heap).
pub const MAX_FILE_SIZE: u64 = 1 << 30;

const PAGE: u64 = PAGE_SIZE as u64;

/// A fresh zeroed frame, highmem first; `ENOSPC` when RAM is full.
fn zeroed_frame() -> Result<Frame, Errno> {
    let frame = file_frame()?;
    // SAFETY: the frame was just allocated and is ours alone.
    match unsafe { TempMap::<Writable>::write(frame) } {
        Ok(mut page) => {
            page.fill(0);
            Ok(frame)
        }
        Err(_) => {
            free_file_frame(frame);
            Err(Errno::ENOMEM)
        }
    }
}

impl Pages {
    /// The frame of page `index`, made (zeroed) if it is a hole.
    fn frame_for_write(&mut self, index: usize) -> Result<Frame, Errno> {
        if index >= self.frames.len() {
            self.frames
                .try_reserve(index + 1 - self.frames.len())
                .map_err(|_| Errno::ENOMEM)?;
            self.frames.resize(index + 1, None);
        }
        match self.frames[index] {
            Some(f) => Ok(f),
            None => {
                let f = zeroed_frame()?;
                self.frames[index] = Some(f);
                Ok(f)
            }
        }
    }

    /// Cuts or extends the file to `len` bytes: frames past the end go back, the tail of
    /// the last page is zeroed (so a later extension reads zeroes, as POSIX wants).
    fn truncate(&mut self, len: u64) -> Result<(), Errno> {
        let keep = len.div_ceil(PAGE) as usize;
        if keep < self.frames.len() {
            for f in self.frames.drain(keep..).flatten() {
                free_file_frame(f);
            }
        }
        if len < self.size
            && !len.is_multiple_of(PAGE)
            && let Some(Some(frame)) = self.frames.get((len / PAGE) as usize)
        {
            // SAFETY: the file's frame, under the file's lock.
            let mut page =
                unsafe { TempMap::<Writable>::write(*frame) }.map_err(|_| Errno::ENOMEM)?;
            page[(len % PAGE) as usize..].fill(0);
        }
        self.size = len;
        Ok(())
    }
}

impl FileData {
    /// An empty file.
    pub fn empty(mtime: u64) -> Arc<FileData> {
        Arc::new(FileData {
            pages: Mutex::new(Pages {
                frames: Vec::new(),
                size: 0,
                mtime,
            }),
        })
    }

    /// A file holding `bytes` (from the initramfs, with its time `mtime`): one frame per
    /// page, highmem first, filled through a temp mapping. `ENOSPC`/`ENOMEM` when frames,
    /// the heap or temp slots run out (what was taken is given back).
    pub fn new(bytes: &[u8], mtime: u64) -> Result<Arc<FileData>, Errno> {
        let mut pages = Pages {
            frames: Vec::new(),
            size: bytes.len() as u64,
            mtime,
        };
        pages
            .frames
            .try_reserve_exact(bytes.len().div_ceil(PAGE_SIZE))
            .map_err(|_| Errno::ENOMEM)?;
        for chunk in bytes.chunks(PAGE_SIZE) {
            let frame = file_frame()?;
            pages.frames.push(Some(frame));
            // SAFETY: the frame was just allocated and is ours alone.
            let mut page =
                unsafe { TempMap::<Writable>::write(frame) }.map_err(|_| Errno::ENOMEM)?;
            page[..chunk.len()].copy_from_slice(chunk);
            page[chunk.len()..].fill(0);
        }
        Ok(Arc::new(FileData {
            pages: Mutex::new(pages),
        }))
    }

    pub fn size(&self) -> u64 {
        self.pages.lock().size
    }

    /// Sets the modification time (`utimensat`).
    pub fn set_mtime(&self, mtime: u64) {
        self.pages.lock().mtime = mtime;
    }

    /// Copies up to `len` bytes from `offset` to the user buffer at `buf`, a file page at a
    /// time (the page through one temp mapping, the user's through the checked copy; a hole
    /// gives zeroes). Returns the count (0 at or past the end); a bad user page after some
    /// bytes ends the read with their count, a bad first one is `EFAULT`.
    pub fn read_to_user(
        &self,
        offset: u64,
        space: &AddressSpace,
        buf: u32,
        len: u32,
    ) -> Result<u32, Errno> {
        let pages = self.pages.lock();
        let want = (pages.size.saturating_sub(offset)).min(u64::from(len)) as u32;
        let mut done = 0u32;
        while done < want {
            let at = offset + u64::from(done);
            let in_page = (at % PAGE) as usize;
            let chunk = (PAGE_SIZE - in_page).min((want - done) as usize);
            let to = buf.wrapping_add(done);
            let copied = match pages.frames.get((at / PAGE) as usize).copied().flatten() {
                Some(frame) => {
                    // SAFETY: the file's frame, kept allocated by the file's lock.
                    let page = unsafe { TempMap::read(frame) }.map_err(|_| Errno::ENOMEM)?;
                    uaccess::copy_to_user(space, to, &page[in_page..in_page + chunk])
                }
                None => uaccess::copy_to_user(space, to, &uaccess::ZERO_PAGE[..chunk]),
            };
            match copied {
                Ok(()) => done += chunk as u32,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(done)
    }

    /// Copies `len` bytes from the user buffer at `buf` into the file at `offset` (at its
    /// end with `append`), making frames for the pages it reaches; the file grows to cover
    /// them. Returns the count and the offset after it. A bad user page or a full memory
    /// after some bytes ends the write with their count; before any, it is the error
    /// (`EFAULT`, `ENOSPC`, `EFBIG` past `MAX_FILE_SIZE`).
    pub fn write_from_user(
        &self,
        offset: u64,
        append: bool,
        space: &AddressSpace,
        buf: u32,
        len: u32,
        now: u64,
    ) -> Result<(u32, u64), Errno> {
        let mut pages = self.pages.lock();
        let start = if append { pages.size } else { offset };
        if len == 0 {
            return Ok((0, start));
        }
        if start >= MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        let len = u64::from(len).min(MAX_FILE_SIZE - start) as u32;
        let mut done = 0u32;
        let mut failure = None;
        while done < len {
            let at = start + u64::from(done);
            let in_page = (at % PAGE) as usize;
            let chunk = (PAGE_SIZE - in_page).min((len - done) as usize);
            let copied = pages
                .frame_for_write((at / PAGE) as usize)
                .and_then(|frame| {
                    // SAFETY: the file's frame, under the file's lock.
                    let mut page =
                        unsafe { TempMap::<Writable>::write(frame) }.map_err(|_| Errno::ENOMEM)?;
                    uaccess::copy_from_user(
                        space,
                        &mut page[in_page..in_page + chunk],
                        buf.wrapping_add(done),
                    )
                });
            match copied {
                Ok(()) => done += chunk as u32,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if done > 0 {
            pages.size = pages.size.max(start + u64::from(done));
            pages.mtime = now;
        }
        match failure {
            Some(e) if done == 0 => Err(e),
            _ => Ok((done, start + u64::from(done))),
        }
    }

    /// `ftruncate`: the file becomes `len` bytes long.
    pub fn truncate(&self, len: u64, now: u64) -> Result<(), Errno> {
        if len > MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        let mut pages = self.pages.lock();
        pages.truncate(len)?;
        pages.mtime = now;
        Ok(())
    }

    /// Copies the file's page at `offset` (page-aligned) into `dst`, a zeroed frame the
    /// caller owns alone, through two nested temp mappings (the file's page read-only, the
    /// destination writable, as Linux's `copy_user_highpage`); a hole, or a page at or past
    /// the end, leaves it zero, and so do the bytes past the end in the last page (`mmap2`
    /// of a file).
    pub fn copy_page_into(&self, offset: u64, dst: Frame) -> Result<(), Errno> {
        let pages = self.pages.lock();
        let len = pages.size.saturating_sub(offset).min(PAGE) as usize;
        let Some(src) = pages
            .frames
            .get((offset / PAGE) as usize)
            .copied()
            .flatten()
        else {
            return Ok(());
        };
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the file's frame, kept allocated by the file's lock.
        let from = unsafe { TempMap::read(src) }.map_err(|_| Errno::ENOMEM)?;
        // SAFETY: per the contract, `dst` is the caller's alone.
        let mut to = unsafe { TempMap::<Writable>::write(dst) }.map_err(|_| Errno::ENOMEM)?;
        to[..len].copy_from_slice(&from[..len]);
        Ok(())
    }

    /// Fills `buf` with the file's bytes from `offset` (zeroes past the end and in holes),
    /// a page at a time through a temp mapping.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<(), Errno> {
        let pages = self.pages.lock();
        let mut done = 0;
        while done < buf.len() {
            let at = offset + done;
            let in_page = at % PAGE_SIZE;
            let chunk = (PAGE_SIZE - in_page).min(buf.len() - done);
            let out = &mut buf[done..done + chunk];
            let past_end = at as u64 >= pages.size;
            match pages.frames.get(at / PAGE_SIZE).copied().flatten() {
                Some(frame) if !past_end => {
                    // SAFETY: the file's frame, kept allocated by the file's lock.
                    let page = unsafe { TempMap::read(frame) }.map_err(|_| Errno::ENOMEM)?;
                    out.copy_from_slice(&page[in_page..in_page + chunk]);
                }
                _ => out.fill(0),
            }
            done += chunk;
        }
        Ok(())
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
        mtime: inode.modified(),
        ..Stat::default()
    })
}

/// What an open file that is not a device refers to.
#[derive(Debug)]
pub enum Handle {
    /// A regular file: its data, shared with the tree.
    File { ino: Ino, data: Arc<FileData> },
    /// A directory, listed by `getdents64`.
    Dir(Ino),
    /// An end of a pipe (no name: `pipe`, `pipe2`).
    Pipe(super::pipe::End),
}

impl Handle {
    /// The inode number `fstat` reports (a pipe's own number).
    pub fn ino(&self) -> Ino {
        match self {
            Handle::File { ino, .. } | Handle::Dir(ino) => *ino,
            Handle::Pipe(end) => end.pipe.id,
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
