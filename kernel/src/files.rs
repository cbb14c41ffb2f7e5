//! A process's open files: the table behind its file descriptors, and the two devices
//! Tempest has, the console and `/dev/null`. Portable, so `cargo test` checks the table on
//! the host; the `open`, `close` and `write` calls (`syscall::io`) use it.

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
}

impl Device {
    /// The device a path names, if any.
    pub fn at(path: &[u8]) -> Option<Device> {
        match path {
            b"/dev/null" => Some(Device::Null),
            b"/dev/console" | b"/dev/tty" => Some(Device::Console),
            _ => None,
        }
    }
}

/// One open file: a device and how it was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct File {
    pub device: Device,
    /// Opened for writing (`O_WRONLY` or `O_RDWR`). There is no `read` yet, so nothing
    /// asks whether a file is readable.
    pub writable: bool,
}

/// Linux's access modes (the low two bits of `open`'s flags).
pub const O_RDONLY: u32 = 0;
pub const O_WRONLY: u32 = 1;
pub const O_RDWR: u32 = 2;

impl File {
    /// `device` opened with `open`'s `flags`; `EINVAL` for the access mode 3. Flags other
    /// than the access mode (`O_CREAT`, `O_TRUNC`, `O_APPEND`, ...) change nothing for a
    /// device and are accepted, as Linux does for `/dev/null`.
    pub fn open(device: Device, flags: u32) -> Result<File, Errno> {
        let writable = match flags & 3 {
            O_RDONLY => false,
            O_WRONLY | O_RDWR => true,
            _ => return Err(Errno::EINVAL),
        };
        Ok(File { device, writable })
    }
}

/// The descriptors of one process (its threads share it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileTable {
    slots: [Option<File>; MAX_FILES],
}

impl FileTable {
    /// A new process's table: 0, 1 and 2 are the console, opened for reading and writing
    /// as a terminal is on Linux.
    pub fn with_console() -> Self {
        let console = File {
            device: Device::Console,
            writable: true,
        };
        let mut slots = [None; MAX_FILES];
        slots[..3].fill(Some(console));
        Self { slots }
    }

    /// The file behind `fd`; `EBADF` when it is not open.
    pub fn get(&self, fd: u32) -> Result<File, Errno> {
        self.slots
            .get(fd as usize)
            .copied()
            .flatten()
            .ok_or(Errno::EBADF)
    }

    /// Installs `file` at the lowest free descriptor (Linux's rule); `EMFILE` when none is.
    pub fn install(&mut self, file: File) -> Result<u32, Errno> {
        let fd = self
            .slots
            .iter()
            .position(Option::is_none)
            .ok_or(Errno::EMFILE)?;
        self.slots[fd] = Some(file);
        Ok(fd as u32)
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
    fn access_modes_and_paths() {
        let ro = File::open(Device::Null, O_RDONLY).unwrap();
        assert!(!ro.writable);
        let wo = File::open(Device::Null, O_WRONLY | 0o100 | 0o1000).unwrap();
        assert!(wo.writable, "O_CREAT | O_TRUNC are accepted");
        assert_eq!(File::open(Device::Null, 3), Err(Errno::EINVAL));
        assert_eq!(Device::at(b"/dev/null"), Some(Device::Null));
        assert_eq!(Device::at(b"/dev/console"), Some(Device::Console));
        assert_eq!(Device::at(b"/dev/null/"), None);
        assert_eq!(Device::at(b""), None);
    }
}
