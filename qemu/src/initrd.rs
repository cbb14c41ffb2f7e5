//! `--initrd DIR`: packs a host directory as a cpio `newc` archive (the format of Linux's
//! initramfs, written with the `cpio` crate), booted as a multiboot module whose string
//! names the init program inside it.
//!
//! The archive holds DIR's directories, regular files and symbolic links, each directory
//! before what it holds, names in byte order, with their permission bits and modification
//! times, owned by root. Hard links on the host become separate files; device nodes,
//! FIFOs and sockets are left out with a warning (no test tree needs them).

use std::io::Write as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cpio::NewcBuilder;

const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;

/// The entries of DIR, as the archive lists them.
#[derive(Debug, PartialEq, Eq)]
pub struct Packed {
    pub archive: Vec<u8>,
    /// Names of what was left out (not a file, directory or link).
    pub skipped: Vec<String>,
}

/// Packs `dir` as a `newc` archive; `.` is the root itself.
pub fn pack(dir: &Path) -> Result<Packed> {
    if !dir.is_dir() {
        bail!("--initrd {}: not a directory", dir.display());
    }
    let mut packed = Packed {
        archive: Vec::new(),
        skipped: Vec::new(),
    };
    let mut ino = 0;
    add(&mut packed, dir, Path::new("."), &mut ino)?;
    cpio::newc::trailer(&mut packed.archive).context("writing the cpio trailer")?;
    Ok(packed)
}

/// Adds `host` as `name`, and, for a directory, what it holds.
fn add(packed: &mut Packed, host: &Path, name: &Path, ino: &mut u32) -> Result<()> {
    let meta = std::fs::symlink_metadata(host)
        .with_context(|| format!("--initrd: cannot read {}", host.display()))?;
    let kind = meta.file_type();
    let perm = meta.permissions().mode() & 0o7777;
    let name_str = name
        .to_str()
        .with_context(|| format!("--initrd: {} is not UTF-8", host.display()))?;
    let data = if kind.is_dir() {
        (S_IFDIR, Vec::new())
    } else if kind.is_file() {
        let bytes = std::fs::read(host)
            .with_context(|| format!("--initrd: cannot read {}", host.display()))?;
        (S_IFREG, bytes)
    } else if kind.is_symlink() {
        let target = std::fs::read_link(host)?;
        (S_IFLNK, target.as_os_str().as_bytes().to_vec())
    } else {
        packed.skipped.push(name_str.to_owned());
        return Ok(());
    };
    let (type_bits, bytes) = data;
    let size = u32::try_from(bytes.len())
        .with_context(|| format!("--initrd: {} is 4 GiB or more", host.display()))?;
    *ino += 1;
    let mut writer = NewcBuilder::new(name_str)
        .ino(*ino)
        .mode(type_bits | perm)
        .nlink(if kind.is_dir() { 2 } else { 1 })
        .mtime(u32::try_from(meta.mtime().max(0)).unwrap_or(u32::MAX))
        .write(&mut packed.archive, size);
    writer.write_all(&bytes)?;
    writer.finish()?;
    if kind.is_dir() {
        let mut children: Vec<PathBuf> = std::fs::read_dir(host)
            .with_context(|| format!("--initrd: cannot list {}", host.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        children.sort();
        for child in children {
            let leaf = child.file_name().expect("a listed entry has a name");
            add(packed, &child, &name.join(leaf), ino)?;
        }
    }
    Ok(())
}

/// Writes `dir`'s archive to `out` (its directory made if missing) and warns about what
/// was left out.
pub fn write(dir: &Path, out: &Path) -> Result<()> {
    let packed = pack(dir)?;
    for name in &packed.skipped {
        eprintln!("tempest: warning: --initrd: {name} left out (not a file, directory or link)");
    }
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(out, &packed.archive).with_context(|| format!("cannot write {}", out.display()))
}

/// An initramfs for Linux (or Tempest) in `newc` format: `/dev`, `/dev/console` (character
/// device 5:1, which Linux opens for init's standard streams), then each of `files` at
/// the top, mode 0755 (`init` among them, for Linux's default init).
pub fn linux_initramfs(files: &[(&str, &[u8])]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    /// Name, mode (type and permissions), bytes, and device number (major, minor).
    type Entry<'a> = (&'a str, u32, &'a [u8], (u32, u32));
    let nodes: [Entry; 2] = [
        ("dev", 0o040_755, b"", (0, 0)),
        ("dev/console", 0o020_600, b"", (5, 1)),
    ];
    let entries = nodes.into_iter().chain(
        files
            .iter()
            .map(|&(name, data)| (name, 0o100_755, data, (0, 0))),
    );
    for (ino, (name, mode, data, (major, minor))) in entries.enumerate() {
        let size = u32::try_from(data.len()).map_err(std::io::Error::other)?;
        let mut w = cpio::newc::Builder::new(name)
            .ino(ino as u32 + 1)
            .mode(mode)
            .nlink(if mode & 0o040_000 != 0 { 2 } else { 1 })
            .rdev_major(major)
            .rdev_minor(minor)
            .write(&mut out, size);
        w.write_all(data)?;
        w.finish()?;
    }
    cpio::newc::trailer(&mut out)?;
    Ok(out)
}

/// The module string of an initramfs at `archive` whose init is `init` (`PATH [ARG...]
/// [expect=N]`, empty for `/init`).
pub fn module(archive: &Path, init: &str) -> Result<String> {
    let path = archive
        .to_str()
        .filter(|p| !p.chars().any(char::is_whitespace))
        .with_context(|| format!("archive path {archive:?} is not UTF-8 or has whitespace"))?;
    let init = init.trim();
    Ok(if init.is_empty() {
        path.to_owned()
    } else {
        format!("{path} {init}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn tree() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tempest-initrd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::create_dir_all(dir.join("etc/empty")).unwrap();
        std::fs::write(dir.join("bin/prog"), b"\x7fELF...").unwrap();
        std::fs::set_permissions(dir.join("bin/prog"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::fs::write(dir.join("etc/motd"), b"hello\n").unwrap();
        std::os::unix::fs::symlink("prog", dir.join("bin/sh")).unwrap();
        dir
    }

    /// Reads an archive back with the `cpio` crate's reader: (name, mode, bytes).
    fn entries(mut archive: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
        let mut out = Vec::new();
        loop {
            let mut reader = cpio::NewcReader::new(archive).unwrap();
            if reader.entry().is_trailer() {
                break;
            }
            let (name, mode) = (reader.entry().name().to_owned(), reader.entry().mode());
            let mut bytes = Vec::new();
            reader.read_to_end(&mut bytes).unwrap();
            out.push((name, mode, bytes));
            archive = reader.finish().unwrap();
        }
        out
    }

    #[test]
    fn a_directory_becomes_an_archive_parents_first() {
        let dir = tree();
        let packed = pack(&dir).unwrap();
        assert!(packed.skipped.is_empty());
        let all = entries(&packed.archive);
        let names: Vec<&str> = all.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                ".",
                "./bin",
                "./bin/prog",
                "./bin/sh",
                "./etc",
                "./etc/empty",
                "./etc/motd"
            ]
        );
        assert_eq!(all[2].1, S_IFREG | 0o755);
        assert_eq!(all[2].2, b"\x7fELF...");
        assert_eq!(
            (all[3].1 & 0o170_000, all[3].2.as_slice()),
            (S_IFLNK, &b"prog"[..])
        );
        assert_eq!(all[4].1 & 0o170_000, S_IFDIR);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn module_strings_and_refusals() {
        let a = Path::new("/t/x.cpio");
        assert_eq!(module(a, "").unwrap(), "/t/x.cpio");
        assert_eq!(
            module(a, " /bin/sh -c true expect=3 ").unwrap(),
            "/t/x.cpio /bin/sh -c true expect=3"
        );
        assert!(module(Path::new("/t/a b.cpio"), "").is_err());
        assert!(pack(Path::new("/nonexistent/tempest")).is_err());
    }
}
