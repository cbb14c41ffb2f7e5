//! What `fstat64`, `statx` and `TIOCGWINSZ` report, in Linux i386's layouts (`struct
//! stat64`, `struct statx`, `struct winsize`; the console's `struct termios` is its line
//! discipline's, `tty::ldisc`). Portable and host-tested; the calls are in `syscall::io`.

use crate::files::Device;

/// What `stat` reports of a file or device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    /// The file system it lives in.
    pub dev_major: u32,
    pub dev_minor: u32,
    pub ino: u64,
    /// `st_mode`: type and permissions.
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    /// A device's own numbers.
    pub rdev_major: u32,
    pub rdev_minor: u32,
    pub size: u64,
    /// Seconds since the epoch (the three times are one here).
    pub mtime: u64,
}

const S_IFCHR: u32 = 0o020_000;
/// The file system the devices live in (devtmpfs is 0:6 on a typical Linux).
const DEV_MAJOR: u32 = 0;
const DEV_MINOR: u32 = 6;
/// `st_blksize`.
const BLKSIZE: u32 = 4096;

impl Stat {
    /// A character device's mode bits and numbers, as Linux's devtmpfs shows them.
    pub fn of(device: Device) -> Stat {
        let (mode, rdev_major, rdev_minor, ino) = match device {
            // /dev/console: 5:1, crw--w----.
            Device::Console => (0o620, 5, 1, 2),
            // /dev/null: 1:3, crw-rw-rw-.
            Device::Null => (0o666, 1, 3, 3),
            // /dev/zero: 1:5, crw-rw-rw-.
            Device::Zero => (0o666, 1, 5, 4),
        };
        Stat {
            dev_major: DEV_MAJOR,
            dev_minor: DEV_MINOR,
            ino,
            mode: S_IFCHR | mode,
            nlink: 1,
            rdev_major,
            rdev_minor,
            ..Stat::default()
        }
    }

    /// `st_blocks`: 512-byte units of whole pages, as a RAM file system holds them.
    fn blocks(&self) -> u64 {
        self.size.div_ceil(4096) * 8
    }

    /// `struct stat64` (96 bytes, i386's packed layout).
    pub fn stat64(&self) -> [u8; 96] {
        let mut b = [0u8; 96];
        let dev = u64::from(self.dev_major << 8 | self.dev_minor);
        let rdev = u64::from(self.rdev_major << 8 | self.rdev_minor);
        let time = self.mtime as u32;
        b[0..8].copy_from_slice(&dev.to_le_bytes());
        b[12..16].copy_from_slice(&(self.ino as u32).to_le_bytes());
        b[16..20].copy_from_slice(&self.mode.to_le_bytes());
        b[20..24].copy_from_slice(&self.nlink.to_le_bytes());
        b[24..28].copy_from_slice(&self.uid.to_le_bytes());
        b[28..32].copy_from_slice(&self.gid.to_le_bytes());
        b[32..40].copy_from_slice(&rdev.to_le_bytes());
        b[44..52].copy_from_slice(&self.size.to_le_bytes());
        b[52..56].copy_from_slice(&BLKSIZE.to_le_bytes());
        b[56..64].copy_from_slice(&self.blocks().to_le_bytes());
        for at in [64, 72, 80] {
            b[at..at + 4].copy_from_slice(&time.to_le_bytes());
        }
        b[88..96].copy_from_slice(&self.ino.to_le_bytes());
        b
    }

    /// `struct statx` (256 bytes) with `STATX_BASIC_STATS` filled in.
    pub fn statx(&self) -> [u8; 256] {
        const STATX_BASIC_STATS: u32 = 0x7ff;
        let mut b = [0u8; 256];
        b[0..4].copy_from_slice(&STATX_BASIC_STATS.to_le_bytes());
        b[4..8].copy_from_slice(&BLKSIZE.to_le_bytes());
        b[16..20].copy_from_slice(&self.nlink.to_le_bytes());
        b[20..24].copy_from_slice(&self.uid.to_le_bytes());
        b[24..28].copy_from_slice(&self.gid.to_le_bytes());
        b[28..30].copy_from_slice(&(self.mode as u16).to_le_bytes());
        b[32..40].copy_from_slice(&self.ino.to_le_bytes());
        b[40..48].copy_from_slice(&self.size.to_le_bytes());
        b[48..56].copy_from_slice(&self.blocks().to_le_bytes());
        // atime, ctime, mtime (btime is not in the basic stats).
        for at in [64, 96, 112] {
            b[at..at + 8].copy_from_slice(&(self.mtime as i64).to_le_bytes());
        }
        b[128..132].copy_from_slice(&self.rdev_major.to_le_bytes());
        b[132..136].copy_from_slice(&self.rdev_minor.to_le_bytes());
        b[136..140].copy_from_slice(&self.dev_major.to_le_bytes());
        b[140..144].copy_from_slice(&self.dev_minor.to_le_bytes());
        b
    }
}

/// `struct winsize` of the console: 24 rows of 80 columns (a serial line has no size of
/// its own).
pub fn console_winsize() -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0..2].copy_from_slice(&24u16.to_le_bytes());
    b[2..4].copy_from_slice(&80u16.to_le_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat64_of_the_console() {
        let b = Stat::of(Device::Console).stat64();
        let word = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        assert_eq!(word(16), 0o020_620, "st_mode: crw--w----");
        assert_eq!(word(32), 5 << 8 | 1, "st_rdev 5:1");
        assert_eq!(word(52), 4096);
        assert_eq!(word(20), 1, "st_nlink");
    }

    #[test]
    fn stat64_and_statx_of_a_file() {
        let st = Stat {
            dev_major: 0,
            dev_minor: 2,
            ino: 77,
            mode: 0o100_644,
            nlink: 2,
            uid: 1000,
            gid: 100,
            size: 5000,
            mtime: 1_700_000_000,
            ..Stat::default()
        };
        let b = st.stat64();
        let word = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        assert_eq!(
            (word(0), word(12), word(16), word(20)),
            (2, 77, 0o100_644, 2)
        );
        assert_eq!((word(24), word(28)), (1000, 100));
        assert_eq!((word(44), word(48)), (5000, 0), "st_size");
        assert_eq!(word(56), 16, "two pages in 512-byte blocks");
        assert_eq!(word(72), 1_700_000_000, "st_mtime");
        assert_eq!(word(88), 77, "st_ino (64-bit)");
        let x = st.statx();
        let xword = |i: usize| u32::from_le_bytes(x[i..i + 4].try_into().unwrap());
        assert_eq!((xword(16), xword(40), xword(112)), (2, 5000, 1_700_000_000));
        assert_eq!(xword(140), 2, "stx_dev_minor");
    }

    #[test]
    fn statx_of_dev_null() {
        let b = Stat::of(Device::Null).statx();
        let half = u16::from_le_bytes(b[28..30].try_into().unwrap());
        assert_eq!(half, 0o020_666);
        assert_eq!(u32::from_le_bytes(b[128..132].try_into().unwrap()), 1);
        assert_eq!(u32::from_le_bytes(b[132..136].try_into().unwrap()), 3);
        assert_eq!(u32::from_le_bytes(b[0..4].try_into().unwrap()), 0x7ff);
    }

    #[test]
    fn the_console_is_24_by_80() {
        assert_eq!(&console_winsize()[..4], &[24, 0, 80, 0]);
    }
}
