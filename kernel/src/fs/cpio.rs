//! The initramfs format: a cpio archive in the `newc` format (magic `070701`, or `070702`
//! with a checksum the kernel does not check), as Linux's initramfs is. Each entry is a
//! 110-byte header of thirteen 8-digit hex fields, the name (NUL-terminated, padded to 4
//! bytes with the header) and the data (padded to 4 bytes); `TRAILER!!!` ends an archive.
//! Archives may follow one another, with zero padding between them (Linux unpacks them
//! all, and so does this reader).
//!
//! Written by hand rather than with a crate: the no_std cpio readers yield entries and stop
//! at the first header they cannot read, so a truncated archive looks like a short one. The
//! kernel must refuse it and say where and why.

use core::fmt;

/// The length of a `newc` header.
pub const HEADER_LEN: usize = 110;
const TRAILER: &[u8] = b"TRAILER!!!";

/// One entry of an archive, borrowing its name and data from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The path as written (`bin/sh`, `./bin/sh`, `.`), without its NUL.
    pub name: &'a [u8],
    pub ino: u32,
    /// File type and permission bits, as `st_mode`.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    pub rdev_major: u32,
    pub rdev_minor: u32,
    /// The file's bytes (a symbolic link's target).
    pub data: &'a [u8],
    /// Where its header starts in the archive.
    pub offset: usize,
}

/// `st_mode`'s file types.
pub const S_IFMT: u32 = 0o170_000;
pub const S_IFREG: u32 = 0o100_000;
pub const S_IFDIR: u32 = 0o040_000;
pub const S_IFLNK: u32 = 0o120_000;
pub const S_IFCHR: u32 = 0o020_000;
pub const S_IFBLK: u32 = 0o060_000;
pub const S_IFIFO: u32 = 0o010_000;
pub const S_IFSOCK: u32 = 0o140_000;

/// Why an archive was refused, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CpioError {
    /// The header at `offset` does not start with `070701` or `070702`.
    BadMagic { offset: usize },
    /// A header field is not 8 hex digits.
    BadField { offset: usize, field: &'static str },
    /// The archive ends inside an entry's `what` (header, name or data).
    Truncated { offset: usize, what: &'static str },
    /// A name size of 0, or a name whose last byte is not its NUL.
    BadName { offset: usize },
    /// The bytes ran out before a `TRAILER!!!` entry.
    NoTrailer,
}

impl fmt::Display for CpioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpioError::BadMagic { offset } => {
                write!(f, "no cpio newc magic (070701) at byte {offset}")
            }
            CpioError::BadField { offset, field } => {
                write!(f, "header at byte {offset}: {field} is not 8 hex digits")
            }
            CpioError::Truncated { offset, what } => {
                write!(
                    f,
                    "archive ends inside the {what} of the entry at byte {offset}"
                )
            }
            CpioError::BadName { offset } => {
                write!(
                    f,
                    "entry at byte {offset}: name is empty or not NUL-terminated"
                )
            }
            CpioError::NoTrailer => f.write_str("archive ends without a TRAILER!!! entry"),
        }
    }
}

/// Whether `bytes` starts like a `newc` archive.
pub fn is_archive(bytes: &[u8]) -> bool {
    bytes.starts_with(b"07070") && matches!(bytes.get(5), Some(b'1' | b'2'))
}

/// The entries of `archive`, in order, without the trailers. After an error the iterator
/// ends.
pub fn entries(archive: &[u8]) -> Entries<'_> {
    Entries {
        archive,
        at: 0,
        done: false,
    }
}

pub struct Entries<'a> {
    archive: &'a [u8],
    at: usize,
    done: bool,
}

/// The 13 header fields after the magic, in order.
const FIELDS: [&str; 13] = [
    "ino",
    "mode",
    "uid",
    "gid",
    "nlink",
    "mtime",
    "filesize",
    "devmajor",
    "devminor",
    "rdevmajor",
    "rdevminor",
    "namesize",
    "check",
];

fn align4(n: usize) -> usize {
    n.next_multiple_of(4)
}

impl<'a> Entries<'a> {
    /// The entry at `self.at`, or `None` at a trailer (the position then moves past it
    /// and past any padding before the next archive).
    fn entry(&mut self) -> Result<Option<Entry<'a>>, CpioError> {
        let offset = self.at;
        let header = self
            .archive
            .get(offset..offset + HEADER_LEN)
            .ok_or(CpioError::Truncated {
                offset,
                what: "header",
            })?;
        if !is_archive(header) {
            return Err(CpioError::BadMagic { offset });
        }
        let mut fields = [0u32; 13];
        for (i, field) in FIELDS.iter().enumerate() {
            let digits = &header[6 + 8 * i..14 + 8 * i];
            fields[i] = core::str::from_utf8(digits)
                .ok()
                .filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|s| u32::from_str_radix(s, 16).ok())
                .ok_or(CpioError::BadField { offset, field })?;
        }
        let [
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            size,
            _,
            _,
            rdev_major,
            rdev_minor,
            namesize,
            _,
        ] = fields;
        let truncated = |what| CpioError::Truncated { offset, what };
        // The `what` bytes at `start..start + len`, if the archive holds them.
        let field = |start: usize, len: u32, what| {
            let end = start.checked_add(len as usize).ok_or(truncated(what))?;
            let bytes = self.archive.get(start..end).ok_or(truncated(what))?;
            Ok::<_, CpioError>((bytes, end))
        };
        let (name, name_end) = field(offset + HEADER_LEN, namesize, "name")?;
        let Some((&0, name)) = name.split_last() else {
            return Err(CpioError::BadName { offset });
        };
        if name.contains(&0) {
            return Err(CpioError::BadName { offset });
        }
        let (data, data_end) = field(align4(name_end), size, "data")?;
        self.at = align4(data_end);
        if name == TRAILER {
            // Zero padding may follow, then perhaps another archive.
            while self.archive.get(self.at) == Some(&0) {
                self.at += 1;
            }
            return Ok(None);
        }
        Ok(Some(Entry {
            name,
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            rdev_major,
            rdev_minor,
            data,
            offset,
        }))
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, CpioError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match self.entry() {
                Ok(Some(entry)) => return Some(Ok(entry)),
                // A trailer: the end, unless another archive follows.
                Ok(None) => self.done = self.at >= self.archive.len(),
                Err(e) => {
                    self.done = true;
                    // Bytes that end where a header should start are a missing trailer.
                    let e = match e {
                        CpioError::Truncated { offset, .. } if offset == self.archive.len() => {
                            CpioError::NoTrailer
                        }
                        e => e,
                    };
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::vec::Vec;

    /// An archive written by the `cpio` crate (the runner's writer): what it writes, this
    /// reads back.
    fn archive(entries: &[(&str, u32, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, &(name, mode, data)) in entries.iter().enumerate() {
            let mut w = ::cpio::NewcBuilder::new(name)
                .ino(i as u32 + 1)
                .mode(mode)
                .nlink(1)
                .mtime(1_700_000_000)
                .write(&mut out, data.len() as u32);
            w.write_all(data).unwrap();
            w.finish().unwrap();
        }
        ::cpio::newc::trailer(&mut out).unwrap();
        out
    }

    fn tree() -> Vec<u8> {
        archive(&[
            (".", S_IFDIR | 0o755, b""),
            ("bin", S_IFDIR | 0o755, b""),
            ("bin/sh", S_IFREG | 0o755, b"\x7fELF not really"),
            ("bin/ls", S_IFLNK | 0o777, b"sh"),
            ("etc/motd", S_IFREG | 0o644, b"hello\n"),
        ])
    }

    #[test]
    fn reads_back_what_the_writer_wrote() {
        let bytes = tree();
        assert!(is_archive(&bytes));
        let all: Vec<Entry> = entries(&bytes).collect::<Result<_, _>>().unwrap();
        let names: Vec<&[u8]> = all.iter().map(|e| e.name).collect();
        assert_eq!(
            names,
            [&b"."[..], b"bin", b"bin/sh", b"bin/ls", b"etc/motd"]
        );
        assert_eq!(all[2].data, b"\x7fELF not really");
        assert_eq!(all[2].mode, S_IFREG | 0o755);
        assert_eq!(all[3].data, b"sh");
        assert_eq!(all[3].mode & S_IFMT, S_IFLNK);
        assert_eq!(all[4].ino, 5);
        assert_eq!(all[4].mtime, 1_700_000_000);
        assert_eq!(all[0].offset, 0);
    }

    #[test]
    fn concatenated_archives_with_padding_are_all_read() {
        let mut bytes = archive(&[("a", S_IFREG | 0o644, b"1")]);
        bytes.resize(bytes.len().next_multiple_of(512), 0);
        bytes.extend(archive(&[("b", S_IFREG | 0o644, b"22")]));
        let names: Vec<Vec<u8>> = entries(&bytes).map(|e| e.unwrap().name.to_vec()).collect();
        assert_eq!(names, [b"a".to_vec(), b"b".to_vec()]);
    }

    #[test]
    fn every_truncation_is_refused_with_its_place() {
        let bytes = tree();
        // Cutting anywhere before the trailer's name ends must give an error, never a
        // short list.
        let trailer = bytes.windows(10).position(|w| w == TRAILER).unwrap();
        for cut in 0..trailer + TRAILER.len() + 1 {
            let result: Result<Vec<Entry>, CpioError> = entries(&bytes[..cut]).collect();
            assert!(result.is_err(), "cut at {cut} read as complete");
        }
        assert_eq!(
            entries(&bytes[..HEADER_LEN + 1]).last(),
            Some(Err(CpioError::Truncated {
                offset: 0,
                what: "name"
            }))
        );
        assert_eq!(entries(&[]).next(), Some(Err(CpioError::NoTrailer)));
    }

    #[test]
    fn bad_headers_are_refused_with_the_reason() {
        let good = tree();
        let mut bytes = good.clone();
        bytes[3] = b'9';
        assert_eq!(
            entries(&bytes).next(),
            Some(Err(CpioError::BadMagic { offset: 0 }))
        );
        let mut bytes = good.clone();
        bytes[6 + 8 + 2] = b'x'; // in the mode
        assert_eq!(
            entries(&bytes).next(),
            Some(Err(CpioError::BadField {
                offset: 0,
                field: "mode"
            }))
        );
        // A name whose last byte is not NUL: namesize one short.
        let mut bytes = good.clone();
        bytes[6 + 8 * 11..6 + 8 * 12].copy_from_slice(b"00000001");
        bytes[HEADER_LEN] = b'.';
        assert_eq!(
            entries(&bytes).next(),
            Some(Err(CpioError::BadName { offset: 0 }))
        );
        // A file size far past the end.
        let mut bytes = good;
        bytes[6 + 8 * 6..6 + 8 * 7].copy_from_slice(b"7fffffff");
        assert_eq!(
            entries(&bytes).next(),
            Some(Err(CpioError::Truncated {
                offset: 0,
                what: "data"
            }))
        );
        let text = CpioError::BadField {
            offset: 220,
            field: "mode",
        }
        .to_string();
        assert_eq!(text, "header at byte 220: mode is not 8 hex digits");
    }
}
