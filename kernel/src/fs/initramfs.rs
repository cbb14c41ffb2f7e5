//! Fills the RAM file system from a cpio `newc` archive, as Linux unpacks its initramfs:
//! directories, regular files (hard links by inode number), symbolic links; names with or
//! without a leading `./` or `/`; missing parent directories made on the way. Device
//! nodes, FIFOs and sockets are counted and skipped (Tempest has no `mknod` yet). Portable:
//! the file bytes go to `store`, which the kernel backs with frames.

use super::cpio::{self, CpioError, Entry, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use super::tree::{Contents, Ino, Node, ROOT, Tree};
use crate::errno::Errno;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;

/// What an archive put in the tree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unpacked {
    pub dirs: u32,
    pub files: u32,
    pub symlinks: u32,
    pub hard_links: u32,
    /// Device nodes, FIFOs and sockets, not created.
    pub skipped: u32,
    /// File bytes stored.
    pub bytes: u64,
}

/// Why unpacking stopped (what was unpacked before stays).
#[derive(Debug, PartialEq, Eq)]
pub enum UnpackError {
    /// The archive is malformed.
    Cpio(CpioError),
    /// An entry could not be put in the tree (a name under a file, or no memory).
    Entry { name: Vec<u8>, errno: Errno },
}

impl fmt::Display for UnpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnpackError::Cpio(e) => write!(f, "{e}"),
            UnpackError::Entry { name, errno } => write!(
                f,
                "`{}`: errno {}",
                core::str::from_utf8(name).unwrap_or("(not UTF-8)"),
                errno.0
            ),
        }
    }
}

/// Unpacks `archive` into `tree`; `store` turns a file's bytes and time into its data (or
/// fails, e.g. with `ENOMEM`).
pub fn unpack<D: Contents>(
    tree: &mut Tree<D>,
    archive: &[u8],
    mut store: impl FnMut(&[u8], u64) -> Result<D, Errno>,
) -> Result<Unpacked, UnpackError> {
    let mut done = Unpacked::default();
    // Hard links: the first entry of an inode with nlink > 1 carries the data (gen_init_cpio
    // and GNU cpio put it on the last; both are handled: an empty later one links).
    let mut linked: BTreeMap<u32, Ino> = BTreeMap::new();
    for entry in cpio::entries(archive) {
        let entry = entry.map_err(UnpackError::Cpio)?;
        let fail = |errno| UnpackError::Entry {
            name: entry.name.to_vec(),
            errno,
        };
        let path = normalize(entry.name);
        if path.is_empty() {
            // `.`: the root itself takes the archive's permissions.
            if entry.mode & S_IFMT == S_IFDIR
                && let Some(root) = tree.get_mut(ROOT)
            {
                root.mode = S_IFDIR | (entry.mode & !S_IFMT);
            }
            continue;
        }
        let (dir, name) = parent_of(tree, path).map_err(fail)?;
        let mtime = u64::from(entry.mtime);
        match entry.mode & S_IFMT {
            S_IFDIR => match tree.mkdir(dir, name, entry.mode, mtime) {
                Ok(_) => done.dirs += 1,
                // A directory listed twice (or made as a parent first) keeps its mode.
                Err(Errno::EEXIST) if is_dir(tree, dir, name) => set_mode(tree, dir, name, &entry),
                Err(e) => return Err(fail(e)),
            },
            S_IFREG => {
                if entry.nlink > 1
                    && let Some(&ino) = linked.get(&entry.ino)
                {
                    tree.link(dir, name, ino).map_err(fail)?;
                    done.hard_links += 1;
                    if !entry.data.is_empty() {
                        replace_data(tree, ino, &entry, &mut store).map_err(fail)?;
                        done.bytes += entry.data.len() as u64;
                    }
                    continue;
                }
                let data = store(entry.data, mtime).map_err(fail)?;
                let ino = tree
                    .insert(dir, name, Node::File(data), entry.mode, mtime)
                    .map_err(fail)?;
                let inode = tree.get_mut(ino).expect("just inserted");
                (inode.uid, inode.gid) = (entry.uid, entry.gid);
                if entry.nlink > 1 {
                    linked.insert(entry.ino, ino);
                }
                done.files += 1;
                done.bytes += entry.data.len() as u64;
            }
            S_IFLNK => {
                let target = Node::Symlink(entry.data.to_vec());
                tree.insert(dir, name, target, entry.mode, mtime)
                    .map_err(fail)?;
                done.symlinks += 1;
            }
            _ => done.skipped += 1,
        }
    }
    Ok(done)
}

/// A name without leading `./` and `/` and without trailing `/`; empty for the root.
fn normalize(mut name: &[u8]) -> &[u8] {
    loop {
        if let Some(rest) = name.strip_prefix(b"./") {
            name = rest;
        } else if let Some(rest) = name.strip_prefix(b"/") {
            name = rest;
        } else {
            break;
        }
    }
    while let Some(rest) = name.strip_suffix(b"/") {
        name = rest;
    }
    if name == b"." { b"" } else { name }
}

/// The directory that holds `path` (made, with its parents, mode 0755, if missing) and the
/// last component.
fn parent_of<'p, D>(tree: &mut Tree<D>, path: &'p [u8]) -> Result<(Ino, &'p [u8]), Errno> {
    let mut dir = ROOT;
    let mut components = path.split(|&b| b == b'/').filter(|c| !c.is_empty());
    let mut next = components.next();
    while let Some(name) = next {
        next = components.next();
        if next.is_none() {
            return Ok((dir, name));
        }
        dir = match tree.lookup(dir, name) {
            Ok(ino) => ino,
            Err(Errno::ENOENT) => tree.mkdir(dir, name, 0o755, 0)?,
            Err(e) => return Err(e),
        };
    }
    Err(Errno::ENOENT)
}

fn is_dir<D>(tree: &Tree<D>, dir: Ino, name: &[u8]) -> bool {
    tree.lookup(dir, name)
        .ok()
        .and_then(|i| tree.get(i))
        .is_some_and(|i| i.is_dir())
}

fn set_mode<D>(tree: &mut Tree<D>, dir: Ino, name: &[u8], entry: &Entry) {
    if let Some(inode) = tree
        .lookup(dir, name)
        .ok()
        .and_then(|ino| tree.get_mut(ino))
    {
        inode.mode = S_IFDIR | (entry.mode & !S_IFMT);
        inode.mtime = u64::from(entry.mtime);
    }
}

/// A later entry of a hard-linked inode brings its bytes (GNU cpio's order).
fn replace_data<D>(
    tree: &mut Tree<D>,
    ino: Ino,
    entry: &Entry,
    store: &mut impl FnMut(&[u8], u64) -> Result<D, Errno>,
) -> Result<(), Errno> {
    let data = store(entry.data, u64::from(entry.mtime))?;
    let inode = tree.get_mut(ino).ok_or(Errno::ENOENT)?;
    inode.node = Node::File(data);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn archive(entries: &[(&str, u32, u32, u32, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for &(name, mode, ino, nlink, data) in entries {
            let mut w = ::cpio::NewcBuilder::new(name)
                .ino(ino)
                .mode(mode)
                .nlink(nlink)
                .mtime(7)
                .write(&mut out, data.len() as u32);
            w.write_all(data).unwrap();
            w.finish().unwrap();
        }
        ::cpio::newc::trailer(&mut out).unwrap();
        out
    }

    fn read(tree: &Tree<Vec<u8>>, path: &[u8]) -> Vec<u8> {
        let ino = tree.resolve(ROOT, path, true).unwrap();
        match &tree.get(ino).unwrap().node {
            Node::File(d) => d.clone(),
            _ => panic!("not a file"),
        }
    }

    #[test]
    fn an_archive_becomes_the_tree() {
        let bytes = archive(&[
            (".", S_IFDIR | 0o700, 1, 2, b""),
            ("./bin", S_IFDIR | 0o755, 2, 2, b""),
            ("./bin/busybox", S_IFREG | 0o755, 3, 1, b"ELF"),
            ("./bin/sh", S_IFLNK | 0o777, 4, 1, b"busybox"),
            ("/etc/motd", S_IFREG | 0o644, 5, 1, b"hi\n"), // parent made on the way
            ("dev/console", 0o020_600, 6, 1, b""),         // a device: skipped
        ]);
        let mut tree = Tree::new();
        let done = unpack(&mut tree, &bytes, |b, _| Ok(b.to_vec())).unwrap();
        assert_eq!(
            done,
            Unpacked {
                dirs: 1,
                files: 2,
                symlinks: 1,
                hard_links: 0,
                skipped: 1,
                bytes: 6
            }
        );
        assert_eq!(read(&tree, b"/bin/sh"), b"ELF");
        assert_eq!(read(&tree, b"/etc/motd"), b"hi\n");
        let motd = tree.resolve(ROOT, b"/etc/motd", true).unwrap();
        assert_eq!(tree.get(motd).unwrap().size(), 3);
        assert_eq!(tree.get(motd).unwrap().mode, S_IFREG | 0o644);
        assert_eq!(tree.get(ROOT).unwrap().mode, S_IFDIR | 0o700);
        let etc = tree.resolve(ROOT, b"/etc", true).unwrap();
        assert_eq!(tree.get(etc).unwrap().mode, S_IFDIR | 0o755);
    }

    #[test]
    fn hard_links_share_one_inode_whichever_entry_has_the_bytes() {
        for (first, second) in [(&b"data"[..], &b""[..]), (b"", b"data")] {
            let bytes = archive(&[
                ("a", S_IFREG | 0o644, 9, 2, first),
                ("b", S_IFREG | 0o644, 9, 2, second),
            ]);
            let mut tree = Tree::new();
            let done = unpack(&mut tree, &bytes, |b, _| Ok(b.to_vec())).unwrap();
            assert_eq!((done.files, done.hard_links), (1, 1));
            let a = tree.resolve(ROOT, b"a", true).unwrap();
            assert_eq!(tree.resolve(ROOT, b"b", true), Ok(a));
            assert_eq!(tree.get(a).unwrap().nlink, 2);
            assert_eq!(read(&tree, b"a"), b"data");
        }
    }

    #[test]
    fn errors_stop_with_the_entry_and_keep_what_came_before() {
        let bytes = archive(&[
            ("f", S_IFREG | 0o644, 1, 1, b"x"),
            ("f/g", S_IFREG | 0o644, 2, 1, b"y"),
        ]);
        let mut tree = Tree::new();
        let err = unpack(&mut tree, &bytes, |b, _| Ok(b.to_vec())).unwrap_err();
        assert_eq!(
            err,
            UnpackError::Entry {
                name: b"f/g".to_vec(),
                errno: Errno::ENOTDIR
            }
        );
        assert_eq!(read(&tree, b"f"), b"x");
        // The store's own failure (no memory) is the entry's error.
        let mut tree = Tree::new();
        let err = unpack(&mut tree, &bytes, |_, _| Err::<Vec<u8>, _>(Errno::ENOMEM)).unwrap_err();
        assert_eq!(err.to_string(), "`f`: errno 12");
        let cut = &bytes[..bytes.len() / 2];
        let err = unpack(&mut Tree::<Vec<u8>>::new(), cut, |b, _| Ok(b.to_vec())).unwrap_err();
        assert!(matches!(err, UnpackError::Cpio(_)), "{err}");
    }
}
