//! A process's open files: the table behind its file descriptors, and the devices Tempest
//! has: the console, `/dev/null` and `/dev/zero`. Portable, so `cargo test` checks the table on
//! the host; the calls on descriptors (`syscall::io`) use it.

use crate::errno::Errno;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering};

/// Descriptors a process may hold at once (`EMFILE` beyond).
pub const MAX_FILES: usize = 16;

/// What a descriptor writes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// The serial console.
    Console,
    /// `/dev/null`: takes every byte (each is still read through the checked user copy,
    /// so a bad pointer is `-EFAULT`, as everywhere) and keeps none.
    Null,
    /// `/dev/zero`: reads give zeroes (written through the checked user copy), writes are
    /// taken as by `/dev/null`.
    Zero,
}

impl Device {
    /// The device a path names, if any.
    pub fn at(path: &[u8]) -> Option<Device> {
        match path {
            b"/dev/null" => Some(Device::Null),
            b"/dev/zero" => Some(Device::Zero),
            b"/dev/console" | b"/dev/tty" => Some(Device::Console),
            _ => None,
        }
    }
}

/// What an open file reads and writes: a device, or a node of the file system (`N`: the
/// kernel's is `fs::ramfs::Handle`, the host tests' anything).
#[derive(Debug)]
pub enum Object<N> {
    Device(Device),
    Node(N),
}

/// An open file description: what `open` made, shared by the descriptors `dup` makes
/// from it (and by a forked child), with its position and status flags.
#[derive(Debug)]
pub struct OpenFile<N> {
    pub object: Object<N>,
    /// Opened for reading (`O_RDONLY` or `O_RDWR`).
    pub readable: bool,
    /// Opened for writing (`O_WRONLY` or `O_RDWR`).
    pub writable: bool,
    /// The status flags `fcntl(F_GETFL)` reports besides the access mode (`O_APPEND`,
    /// `O_NONBLOCK`, `O_LARGEFILE`...).
    status: AtomicU32,
    /// Where the next `read` or `write` starts (files and directories).
    position: spin::Mutex<u64>,
}

/// A descriptor's file: the description, shared.
pub type File<N> = Arc<OpenFile<N>>;

/// Linux's access modes (the low two bits of `open`'s flags).
pub const O_RDONLY: u32 = 0;
pub const O_WRONLY: u32 = 1;
pub const O_RDWR: u32 = 2;
/// The access mode's bits.
pub const O_ACCMODE: u32 = 3;
pub const O_CREAT: u32 = 0o100;
pub const O_EXCL: u32 = 0o200;
pub const O_TRUNC: u32 = 0o1000;
pub const O_APPEND: u32 = 0o2000;
pub const O_DIRECTORY: u32 = 0o200_000;
pub const O_NOFOLLOW: u32 = 0o400_000;
pub const O_CLOEXEC: u32 = 0o2_000_000;
/// `open` flags that act once and are not kept: O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC,
/// O_CLOEXEC (a descriptor flag).
const OPEN_ONLY: u32 = O_CREAT | O_EXCL | 0o400 | O_TRUNC | O_CLOEXEC;
/// The status flags `fcntl(F_SETFL)` may change: O_APPEND, O_NONBLOCK, O_ASYNC, O_DIRECT,
/// O_NOATIME.
pub const SETFL_MASK: u32 = O_APPEND | 0o4000 | 0o20000 | 0o40000 | 0o1_000_000;

impl<N> OpenFile<N> {
    /// `object` opened with `open`'s `flags`; `EINVAL` for the access mode 3. Flags that act
    /// at the open (`O_CREAT`, `O_TRUNC`, ...) are the caller's, and are not kept.
    pub fn open(object: Object<N>, flags: u32) -> Result<File<N>, Errno> {
        let (readable, writable) = match flags & 3 {
            O_RDONLY => (true, false),
            O_WRONLY => (false, true),
            O_RDWR => (true, true),
            _ => return Err(Errno::EINVAL),
        };
        Ok(Arc::new(OpenFile {
            object,
            readable,
            writable,
            status: AtomicU32::new(flags & !3 & !OPEN_ONLY),
            position: spin::Mutex::new(0),
        }))
    }

    /// The device, if the file is one.
    pub fn device(&self) -> Option<Device> {
        match self.object {
            Object::Device(d) => Some(d),
            Object::Node(_) => None,
        }
    }

    /// `fcntl(F_GETFL)`: the access mode and status flags.
    pub fn flags(&self) -> u32 {
        let mode = match (self.readable, self.writable) {
            (true, true) => O_RDWR,
            (false, true) => O_WRONLY,
            _ => O_RDONLY,
        };
        mode | self.status.load(Ordering::Relaxed)
    }

    /// Sets the changeable status flags (`fcntl(F_SETFL)`): every descriptor of this
    /// description sees them.
    pub fn set_status(&self, flags: u32) {
        let old = self.status.load(Ordering::Relaxed);
        self.status.store(
            (old & !SETFL_MASK) | (flags & SETFL_MASK),
            Ordering::Relaxed,
        );
    }

    /// The position.
    pub fn position(&self) -> u64 {
        *self.position.lock()
    }

    /// Moves the position.
    pub fn set_position(&self, at: u64) {
        *self.position.lock() = at;
    }
}

/// One descriptor: its file and its own flag (`FD_CLOEXEC`).
#[derive(Debug)]
struct Slot<N> {
    file: File<N>,
    cloexec: bool,
}

/// The descriptors of one process (its threads share it). A file a call takes out of the
/// table (`close`, `dup2` over an open descriptor) is handed back to be dropped after the
/// table's lock: its last reference may free a file's frames, which may need a temp
/// mapping.
#[derive(Debug)]
pub struct FileTable<N> {
    slots: [Option<Slot<N>>; MAX_FILES],
}

impl<N> FileTable<N> {
    /// A new process's table: 0, 1 and 2 are the console, opened for reading and writing
    /// as a terminal is on Linux (one description, as a shell's login terminal).
    pub fn with_console() -> Self {
        let console = OpenFile::open(Object::Device(Device::Console), O_RDWR).expect("valid");
        let mut slots = [const { None }; MAX_FILES];
        for slot in &mut slots[..3] {
            *slot = Some(Slot {
                file: console.clone(),
                cloexec: false,
            });
        }
        Self { slots }
    }

    fn slot(&mut self, fd: u32) -> Result<&mut Slot<N>, Errno> {
        self.slots
            .get_mut(fd as usize)
            .and_then(Option::as_mut)
            .ok_or(Errno::EBADF)
    }

    /// The file behind `fd`; `EBADF` when it is not open.
    pub fn get(&self, fd: u32) -> Result<File<N>, Errno> {
        self.slots
            .get(fd as usize)
            .and_then(Option::as_ref)
            .map(|s| s.file.clone())
            .ok_or(Errno::EBADF)
    }

    /// Installs `file` at the lowest free descriptor (Linux's rule); `EMFILE` when none is.
    pub fn install(&mut self, file: File<N>) -> Result<u32, Errno> {
        self.install_from(file, 0, false)
    }

    /// Installs `file` at the lowest free descriptor at or above `min` (`fcntl(F_DUPFD)`);
    /// `EMFILE` when none is, `EINVAL` for a `min` beyond the table.
    pub fn install_from(&mut self, file: File<N>, min: u32, cloexec: bool) -> Result<u32, Errno> {
        if min as usize >= MAX_FILES {
            return Err(Errno::EINVAL);
        }
        let fd = (min as usize..MAX_FILES)
            .find(|&fd| self.slots[fd].is_none())
            .ok_or(Errno::EMFILE)?;
        self.slots[fd] = Some(Slot { file, cloexec });
        Ok(fd as u32)
    }

    /// `dup2`/`dup3`: `new` refers to `old`'s file; returns the file `new` had, closed by
    /// this. `EBADF` if `old` is not open or `new` is beyond the table.
    pub fn duplicate_to(
        &mut self,
        old: u32,
        new: u32,
        cloexec: bool,
    ) -> Result<Option<File<N>>, Errno> {
        let file = self.get(old)?;
        let slot = self.slots.get_mut(new as usize).ok_or(Errno::EBADF)?;
        Ok(slot.replace(Slot { file, cloexec }).map(|s| s.file))
    }

    /// `FD_CLOEXEC` of `fd`.
    pub fn cloexec(&self, fd: u32) -> Result<bool, Errno> {
        self.slots
            .get(fd as usize)
            .and_then(Option::as_ref)
            .map(|s| s.cloexec)
            .ok_or(Errno::EBADF)
    }

    /// Sets `FD_CLOEXEC` of `fd`.
    pub fn set_cloexec(&mut self, fd: u32, on: bool) -> Result<(), Errno> {
        self.slot(fd)?.cloexec = on;
        Ok(())
    }

    /// Closes `fd` and returns its file; `EBADF` when it is not open.
    pub fn close(&mut self, fd: u32) -> Result<File<N>, Errno> {
        let slot = self.slots.get_mut(fd as usize).ok_or(Errno::EBADF)?;
        slot.take().map(|s| s.file).ok_or(Errno::EBADF)
    }

    /// The table a forked child starts with: the same open file descriptions on the same
    /// descriptors, with their `FD_CLOEXEC` flags.
    pub fn fork_copy(&self) -> Self {
        Self {
            slots: core::array::from_fn(|fd| {
                self.slots[fd].as_ref().map(|s| Slot {
                    file: s.file.clone(),
                    cloexec: s.cloexec,
                })
            }),
        }
    }

    /// Closes the descriptors marked `FD_CLOEXEC` (`execve`) and returns their files, to be
    /// dropped after the table's lock.
    pub fn close_on_exec(&mut self) -> alloc::vec::Vec<File<N>> {
        self.slots
            .iter_mut()
            .filter(|s| s.as_ref().is_some_and(|s| s.cloexec))
            .filter_map(|s| s.take().map(|s| s.file))
            .collect()
    }

    /// The open descriptors.
    pub fn open_fds(&self) -> impl Iterator<Item = u32> + '_ {
        (0..MAX_FILES as u32).filter(|&fd| self.slots[fd as usize].is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Table = FileTable<u32>;

    fn null_rw() -> File<u32> {
        OpenFile::open(Object::Device(Device::Null), O_RDWR).unwrap()
    }

    #[test]
    fn a_new_table_has_the_console_on_0_1_2() {
        let t = Table::with_console();
        for fd in 0..3 {
            assert_eq!(t.get(fd).unwrap().device(), Some(Device::Console));
        }
        assert!(Arc::ptr_eq(&t.get(0).unwrap(), &t.get(2).unwrap()));
        assert_eq!(t.get(3).err(), Some(Errno::EBADF));
        assert_eq!(t.get(u32::MAX).err(), Some(Errno::EBADF));
    }

    #[test]
    fn open_takes_the_lowest_free_descriptor_and_close_frees_it() {
        let mut t = Table::with_console();
        assert_eq!(t.install(null_rw()), Ok(3));
        assert_eq!(t.install(null_rw()), Ok(4));
        assert_eq!(t.close(1).unwrap().device(), Some(Device::Console));
        assert_eq!(t.get(1).err(), Some(Errno::EBADF));
        assert_eq!(t.install(null_rw()), Ok(1));
        assert!(t.close(3).is_ok());
        assert_eq!(t.close(3).err(), Some(Errno::EBADF), "closed twice");
        assert_eq!(t.close(99).err(), Some(Errno::EBADF), "beyond the table");
        assert_eq!(t.open_fds().collect::<Vec<_>>(), [0, 1, 2, 4]);
    }

    #[test]
    fn a_full_table_refuses_with_emfile_and_keeps_what_it_has() {
        let mut t = Table::with_console();
        for fd in 3..MAX_FILES as u32 {
            assert_eq!(t.install(null_rw()), Ok(fd));
        }
        assert_eq!(t.install(null_rw()), Err(Errno::EMFILE));
        assert_eq!(t.open_fds().count(), MAX_FILES);
    }

    #[test]
    fn dup_and_descriptor_flags() {
        let mut t = Table::with_console();
        assert_eq!(t.install_from(null_rw(), 5, true), Ok(5));
        assert_eq!(t.cloexec(5), Ok(true));
        assert_eq!(t.cloexec(0), Ok(false));
        assert_eq!(t.install_from(null_rw(), 16, false), Err(Errno::EINVAL));
        let closed = t.duplicate_to(5, 1, false).unwrap();
        assert_eq!(closed.unwrap().device(), Some(Device::Console));
        assert_eq!(t.get(1).unwrap().device(), Some(Device::Null));
        assert!(t.duplicate_to(5, 9, false).unwrap().is_none());
        assert_eq!(
            t.cloexec(1),
            Ok(false),
            "the copy does not inherit FD_CLOEXEC"
        );
        assert_eq!(t.duplicate_to(10, 1, false).err(), Some(Errno::EBADF));
        assert_eq!(t.duplicate_to(5, 16, false).err(), Some(Errno::EBADF));
        t.set_cloexec(1, true).unwrap();
        assert_eq!(t.cloexec(1), Ok(true));
        assert_eq!(t.set_cloexec(10, true), Err(Errno::EBADF));
    }

    #[test]
    fn duplicates_share_the_description() {
        let mut t = Table::with_console();
        let fd = t
            .install(OpenFile::open(Object::Node(7), O_RDONLY).unwrap())
            .unwrap();
        let copy = t.install_from(t.get(fd).unwrap(), 0, false).unwrap();
        t.get(fd).unwrap().set_position(4096);
        assert_eq!(t.get(copy).unwrap().position(), 4096);
        t.get(copy).unwrap().set_status(0o4000 | O_WRONLY);
        assert_eq!(
            t.get(fd).unwrap().flags(),
            O_RDONLY | 0o4000,
            "status shared, access mode unchanged"
        );
        assert!(matches!(t.get(fd).unwrap().object, Object::Node(7)));
        assert_eq!(t.get(fd).unwrap().device(), None);
    }

    #[test]
    fn a_forked_table_shares_the_descriptions() {
        let mut t = Table::with_console();
        let fd = t.install_from(null_rw(), 0, true).unwrap();
        let copy = t.fork_copy();
        assert!(Arc::ptr_eq(&t.get(fd).unwrap(), &copy.get(fd).unwrap()));
        assert_eq!(copy.cloexec(fd), Ok(true));
        assert_eq!(
            copy.open_fds().collect::<Vec<_>>(),
            t.open_fds().collect::<Vec<_>>()
        );
    }

    #[test]
    fn exec_closes_only_the_close_on_exec_descriptors() {
        let mut t = Table::with_console();
        t.install_from(null_rw(), 0, true).unwrap();
        t.install_from(null_rw(), 0, false).unwrap();
        t.set_cloexec(1, true).unwrap();
        let closed = t.close_on_exec();
        assert_eq!(closed.len(), 2);
        assert_eq!(t.open_fds().collect::<Vec<_>>(), [0, 2, 4]);
    }

    #[test]
    fn access_modes_and_paths() {
        let open = |flags| OpenFile::<u32>::open(Object::Device(Device::Null), flags);
        let ro = open(O_RDONLY).unwrap();
        assert!(!ro.writable && ro.readable);
        let wo = open(O_WRONLY | O_CREAT | O_TRUNC).unwrap();
        assert!(wo.writable && !wo.readable);
        assert_eq!(wo.flags(), O_WRONLY, "O_CREAT and O_TRUNC are not kept");
        let append = open(O_RDWR | O_APPEND | 0o100000 | O_CLOEXEC).unwrap();
        assert_eq!(append.flags(), O_RDWR | O_APPEND | 0o100000);
        assert_eq!(open(3).err(), Some(Errno::EINVAL));
        assert_eq!(Device::at(b"/dev/null"), Some(Device::Null));
        assert_eq!(Device::at(b"/dev/zero"), Some(Device::Zero));
        assert_eq!(Device::at(b"/dev/console"), Some(Device::Console));
        assert_eq!(Device::at(b"/dev/null/"), None);
        assert_eq!(Device::at(b""), None);
    }
}
