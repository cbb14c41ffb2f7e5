//! A process's open files: the table behind its file descriptors, and the devices Tempest
//! has: the console, `/dev/null` and `/dev/zero`. Portable, so `cargo test` checks the table on
//! the host; the calls on descriptors (`syscall::io`) use it.

use crate::errno::Errno;

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

/// One open file: a device and how it was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct File {
    pub device: Device,
    /// Opened for reading (`O_RDONLY` or `O_RDWR`).
    pub readable: bool,
    /// Opened for writing (`O_WRONLY` or `O_RDWR`).
    pub writable: bool,
    /// The status flags `fcntl(F_GETFL)` reports besides the access mode (`O_APPEND`,
    /// `O_NONBLOCK`, `O_LARGEFILE`...): kept, and changing nothing for a device.
    pub status: u32,
}

/// Linux's access modes (the low two bits of `open`'s flags).
pub const O_RDONLY: u32 = 0;
pub const O_WRONLY: u32 = 1;
pub const O_RDWR: u32 = 2;
/// `open` flags that act once and are not kept: O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC,
/// O_CLOEXEC (a descriptor flag).
const OPEN_ONLY: u32 = 0o100 | 0o200 | 0o400 | 0o1000 | O_CLOEXEC;
pub const O_CLOEXEC: u32 = 0o2_000_000;
/// The status flags `fcntl(F_SETFL)` may change: O_APPEND, O_NONBLOCK, O_ASYNC, O_DIRECT,
/// O_NOATIME.
pub const SETFL_MASK: u32 = 0o2000 | 0o4000 | 0o20000 | 0o40000 | 0o1_000_000;

impl File {
    /// `device` opened with `open`'s `flags`; `EINVAL` for the access mode 3. Flags other
    /// than the access mode (`O_CREAT`, `O_TRUNC`, `O_APPEND`, ...) change nothing for a
    /// device and are accepted, as Linux does for `/dev/null`.
    pub fn open(device: Device, flags: u32) -> Result<File, Errno> {
        let (readable, writable) = match flags & 3 {
            O_RDONLY => (true, false),
            O_WRONLY => (false, true),
            O_RDWR => (true, true),
            _ => return Err(Errno::EINVAL),
        };
        Ok(File {
            device,
            readable,
            writable,
            status: flags & !3 & !OPEN_ONLY,
        })
    }

    /// `fcntl(F_GETFL)`: the access mode and status flags.
    pub fn flags(&self) -> u32 {
        let mode = match (self.readable, self.writable) {
            (true, true) => O_RDWR,
            (false, true) => O_WRONLY,
            _ => O_RDONLY,
        };
        mode | self.status
    }
}

/// One descriptor: its file and its own flag (`FD_CLOEXEC`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    file: File,
    cloexec: bool,
}

/// The descriptors of one process (its threads share it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileTable {
    slots: [Option<Slot>; MAX_FILES],
}

impl FileTable {
    /// A new process's table: 0, 1 and 2 are the console, opened for reading and writing
    /// as a terminal is on Linux.
    pub fn with_console() -> Self {
        let console = Slot {
            file: File::open(Device::Console, O_RDWR).expect("a valid mode"),
            cloexec: false,
        };
        let mut slots = [None; MAX_FILES];
        slots[..3].fill(Some(console));
        Self { slots }
    }

    fn slot(&mut self, fd: u32) -> Result<&mut Slot, Errno> {
        self.slots
            .get_mut(fd as usize)
            .and_then(Option::as_mut)
            .ok_or(Errno::EBADF)
    }

    /// The file behind `fd`; `EBADF` when it is not open.
    pub fn get(&self, fd: u32) -> Result<File, Errno> {
        self.slots
            .get(fd as usize)
            .copied()
            .flatten()
            .map(|s| s.file)
            .ok_or(Errno::EBADF)
    }

    /// Installs `file` at the lowest free descriptor (Linux's rule); `EMFILE` when none is.
    pub fn install(&mut self, file: File) -> Result<u32, Errno> {
        self.install_from(file, 0, false)
    }

    /// Installs `file` at the lowest free descriptor at or above `min` (`fcntl(F_DUPFD)`);
    /// `EMFILE` when none is, `EINVAL` for a `min` beyond the table.
    pub fn install_from(&mut self, file: File, min: u32, cloexec: bool) -> Result<u32, Errno> {
        if min as usize >= MAX_FILES {
            return Err(Errno::EINVAL);
        }
        let fd = (min as usize..MAX_FILES)
            .find(|&fd| self.slots[fd].is_none())
            .ok_or(Errno::EMFILE)?;
        self.slots[fd] = Some(Slot { file, cloexec });
        Ok(fd as u32)
    }

    /// `dup2`/`dup3`: `new` refers to `old`'s file (closing what `new` had); `EBADF` if
    /// `old` is not open or `new` is beyond the table.
    pub fn duplicate_to(&mut self, old: u32, new: u32, cloexec: bool) -> Result<u32, Errno> {
        let file = self.get(old)?;
        let slot = self.slots.get_mut(new as usize).ok_or(Errno::EBADF)?;
        *slot = Some(Slot { file, cloexec });
        Ok(new)
    }

    /// `FD_CLOEXEC` of `fd`.
    pub fn cloexec(&self, fd: u32) -> Result<bool, Errno> {
        self.slots
            .get(fd as usize)
            .copied()
            .flatten()
            .map(|s| s.cloexec)
            .ok_or(Errno::EBADF)
    }

    /// Sets `FD_CLOEXEC` of `fd`.
    pub fn set_cloexec(&mut self, fd: u32, on: bool) -> Result<(), Errno> {
        self.slot(fd)?.cloexec = on;
        Ok(())
    }

    /// Sets the changeable status flags of `fd`'s file (`fcntl(F_SETFL)`). Descriptors are
    /// copies here, so a `dup` of it keeps its own (Linux shares one open file
    /// description: files with offsets come with the user-space issue).
    pub fn set_status(&mut self, fd: u32, flags: u32) -> Result<(), Errno> {
        let file = &mut self.slot(fd)?.file;
        file.status = (file.status & !SETFL_MASK) | (flags & SETFL_MASK);
        Ok(())
    }

    /// Closes `fd`; `EBADF` when it is not open.
    pub fn close(&mut self, fd: u32) -> Result<(), Errno> {
        let slot = self.slots.get_mut(fd as usize).ok_or(Errno::EBADF)?;
        slot.take().map(|_| ()).ok_or(Errno::EBADF)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn null_rw() -> File {
        File::open(Device::Null, O_RDWR).unwrap()
    }

    #[test]
    fn a_new_table_has_the_console_on_0_1_2() {
        let t = FileTable::with_console();
        for fd in 0..3 {
            assert_eq!(t.get(fd).unwrap().device, Device::Console);
        }
        assert_eq!(t.get(3), Err(Errno::EBADF));
        assert_eq!(t.get(u32::MAX), Err(Errno::EBADF));
    }

    #[test]
    fn open_takes_the_lowest_free_descriptor_and_close_frees_it() {
        let mut t = FileTable::with_console();
        assert_eq!(t.install(null_rw()), Ok(3));
        assert_eq!(t.install(null_rw()), Ok(4));
        assert_eq!(t.close(1), Ok(()));
        assert_eq!(t.get(1), Err(Errno::EBADF));
        assert_eq!(t.install(null_rw()), Ok(1));
        assert_eq!(t.close(3), Ok(()));
        assert_eq!(t.close(3), Err(Errno::EBADF), "closed twice");
        assert_eq!(t.close(99), Err(Errno::EBADF), "beyond the table");
    }

    #[test]
    fn a_full_table_refuses_with_emfile_and_keeps_what_it_has() {
        let mut t = FileTable::with_console();
        for fd in 3..MAX_FILES as u32 {
            assert_eq!(t.install(null_rw()), Ok(fd));
        }
        let before = t.clone();
        assert_eq!(t.install(null_rw()), Err(Errno::EMFILE));
        assert_eq!(t, before);
    }

    #[test]
    fn dup_and_descriptor_flags() {
        let mut t = FileTable::with_console();
        assert_eq!(t.install_from(null_rw(), 5, true), Ok(5));
        assert_eq!(t.cloexec(5), Ok(true));
        assert_eq!(t.cloexec(0), Ok(false));
        assert_eq!(t.install_from(null_rw(), 16, false), Err(Errno::EINVAL));
        assert_eq!(t.duplicate_to(5, 1, false), Ok(1));
        assert_eq!(t.get(1).unwrap().device, Device::Null);
        assert_eq!(
            t.cloexec(1),
            Ok(false),
            "the copy does not inherit FD_CLOEXEC"
        );
        assert_eq!(t.duplicate_to(9, 1, false), Err(Errno::EBADF));
        assert_eq!(t.duplicate_to(5, 16, false), Err(Errno::EBADF));
        t.set_cloexec(1, true).unwrap();
        assert_eq!(t.cloexec(1), Ok(true));
        assert_eq!(t.set_cloexec(9, true), Err(Errno::EBADF));
        t.set_status(1, 0o4000 | O_WRONLY).unwrap();
        assert_eq!(
            t.get(1).unwrap().flags(),
            O_RDWR | 0o4000,
            "access mode unchanged"
        );
    }

    #[test]
    fn access_modes_and_paths() {
        let ro = File::open(Device::Null, O_RDONLY).unwrap();
        assert!(!ro.writable && ro.readable);
        let wo = File::open(Device::Null, O_WRONLY | 0o100 | 0o1000).unwrap();
        assert!(
            wo.writable && !wo.readable,
            "O_CREAT | O_TRUNC are accepted"
        );
        assert_eq!(wo.flags(), O_WRONLY, "O_CREAT and O_TRUNC are not kept");
        let append = File::open(Device::Null, O_RDWR | 0o2000 | 0o100000 | O_CLOEXEC).unwrap();
        assert_eq!(append.flags(), O_RDWR | 0o2000 | 0o100000);
        assert_eq!(File::open(Device::Null, 3), Err(Errno::EINVAL));
        assert_eq!(Device::at(b"/dev/null"), Some(Device::Null));
        assert_eq!(Device::at(b"/dev/zero"), Some(Device::Zero));
        assert_eq!(Device::at(b"/dev/console"), Some(Device::Console));
        assert_eq!(Device::at(b"/dev/null/"), None);
        assert_eq!(Device::at(b""), None);
    }
}
