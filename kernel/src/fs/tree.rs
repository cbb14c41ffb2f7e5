//! The RAM file system's tree: directories, regular files and symbolic links, by inode
//! number, with Linux's path resolution (`.` and `..`, symbolic links up to 40 deep,
//! trailing slashes) and its error numbers. Portable and host-tested; a file's bytes are
//! a `D` the tree only keeps (the kernel's are frames reached through temp mappings,
//! `fs::pages`; the tests' a `Vec<u8>`).
//!
//! The tree drops an inode when its last name goes. The kernel's file data is shared
//! (`Arc`) with the open files, so an unlinked file stays readable through them until the
//! last `close`, as on Linux.

use super::cpio::{S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use crate::errno::Errno;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

pub type Ino = u32;
/// The root directory's inode.
pub const ROOT: Ino = 1;
/// The longest name of one path component.
pub const NAME_MAX: usize = 255;
/// The longest path a call takes, its NUL included.
pub const PATH_MAX: usize = 4096;
/// Symbolic links followed in one resolution before `ELOOP` (Linux's `MAXSYMLINKS`).
const SYMLOOP_MAX: usize = 40;

/// What a file's bytes are: the tree asks them their length (for `stat`), and their
/// modification time when they keep one (the kernel's files do: a write changes it
/// without the tree's lock).
pub trait Contents {
    fn size(&self) -> u64;

    fn mtime(&self) -> Option<u64> {
        None
    }
}

impl Contents for Vec<u8> {
    fn size(&self) -> u64 {
        self.len() as u64
    }
}

pub enum Node<D> {
    Dir {
        entries: BTreeMap<Vec<u8>, Ino>,
        parent: Ino,
    },
    File(D),
    Symlink(Vec<u8>),
}

pub struct Inode<D> {
    pub node: Node<D>,
    /// `st_mode`: the type bits follow `node`, the permission bits are the creator's.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    /// Last modification, in seconds since the epoch.
    pub mtime: u64,
}

impl<D: Contents> Inode<D> {
    /// Bytes in a file, of the target in a link; a directory's is 0.
    pub fn size(&self) -> u64 {
        match &self.node {
            Node::Dir { .. } => 0,
            Node::File(d) => d.size(),
            Node::Symlink(target) => target.len() as u64,
        }
    }
}

impl<D: Contents> Inode<D> {
    /// Last modification: the data's own for a file that keeps one.
    pub fn modified(&self) -> u64 {
        match &self.node {
            Node::File(d) => d.mtime().unwrap_or(self.mtime),
            _ => self.mtime,
        }
    }
}

impl<D> Inode<D> {
    pub fn is_dir(&self) -> bool {
        matches!(self.node, Node::Dir { .. })
    }

    /// `d_type` for `getdents64`: DT_DIR, DT_REG or DT_LNK.
    pub fn dirent_type(&self) -> u8 {
        match self.node {
            Node::Dir { .. } => 4,
            Node::File(_) => 8,
            Node::Symlink(_) => 10,
        }
    }
}

/// A directory entry, as `getdents64` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub name: Vec<u8>,
    pub ino: Ino,
    pub kind: u8,
}

pub struct Tree<D> {
    inodes: BTreeMap<Ino, Inode<D>>,
    next: Ino,
}

impl<D> Default for Tree<D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<D> Tree<D> {
    /// A tree with an empty root directory (mode 0755).
    pub fn new() -> Self {
        let mut inodes = BTreeMap::new();
        inodes.insert(
            ROOT,
            Inode {
                node: Node::Dir {
                    entries: BTreeMap::new(),
                    parent: ROOT,
                },
                mode: S_IFDIR | 0o755,
                uid: 0,
                gid: 0,
                nlink: 2,
                mtime: 0,
            },
        );
        Self {
            inodes,
            next: ROOT + 1,
        }
    }

    pub fn get(&self, ino: Ino) -> Option<&Inode<D>> {
        self.inodes.get(&ino)
    }

    pub fn get_mut(&mut self, ino: Ino) -> Option<&mut Inode<D>> {
        self.inodes.get_mut(&ino)
    }

    fn inode(&self, ino: Ino) -> Result<&Inode<D>, Errno> {
        self.inodes.get(&ino).ok_or(Errno::ENOENT)
    }

    /// The entry `name` of directory `dir` (`.` and `..` included).
    pub fn lookup(&self, dir: Ino, name: &[u8]) -> Result<Ino, Errno> {
        let Node::Dir { entries, parent } = &self.inode(dir)?.node else {
            return Err(Errno::ENOTDIR);
        };
        match name {
            b"." => Ok(dir),
            b".." => Ok(*parent),
            _ if name.len() > NAME_MAX => Err(Errno::ENAMETOOLONG),
            _ => entries.get(name).copied().ok_or(Errno::ENOENT),
        }
    }

    /// The inode `path` names, relative to `cwd` unless it starts with `/`. A symbolic link
    /// as the last component is followed when `follow` is set (or the path ends with `/`).
    pub fn resolve(&self, cwd: Ino, path: &[u8], follow: bool) -> Result<Ino, Errno> {
        let mut links = 0;
        self.walk(cwd, path, follow, &mut links)
    }

    fn walk(&self, cwd: Ino, path: &[u8], follow: bool, links: &mut usize) -> Result<Ino, Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let dir_only = path.ends_with(b"/");
        let mut at = if path[0] == b'/' { ROOT } else { cwd };
        let mut components = path.split(|&b| b == b'/').filter(|c| !c.is_empty());
        let mut next_component = components.next();
        while let Some(name) = next_component {
            next_component = components.next();
            let last = next_component.is_none();
            let found = self.lookup(at, name)?;
            if let Node::Symlink(target) = &self.inode(found)?.node
                && (!last || follow || dir_only)
            {
                *links += 1;
                if *links > SYMLOOP_MAX {
                    return Err(Errno::ELOOP);
                }
                // Relative to the directory that holds the link.
                at = self.walk(at, target, true, links)?;
                continue;
            }
            at = found;
        }
        if dir_only && !self.inode(at)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(at)
    }

    /// The directory that would hold `path`'s last component, and that component (`.` for
    /// `/`). Trailing slashes are not part of the name.
    pub fn resolve_parent<'p>(&self, cwd: Ino, path: &'p [u8]) -> Result<(Ino, &'p [u8]), Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let trimmed = match path.iter().rposition(|&b| b != b'/') {
            Some(end) => &path[..=end],
            None => return Ok((ROOT, b".")),
        };
        let (dir, name) = match trimmed.iter().rposition(|&b| b == b'/') {
            Some(slash) => (
                self.resolve(cwd, &path[..=slash], true)?,
                &trimmed[slash + 1..],
            ),
            None => (cwd, trimmed),
        };
        if !self.inode(dir)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        Ok((dir, name))
    }

    /// Adds `node` as `name` in directory `dir`, with the permission bits of `mode`:
    /// `EEXIST` if the name is taken (`.` and `..` always are).
    pub fn insert(
        &mut self,
        dir: Ino,
        name: &[u8],
        node: Node<D>,
        mode: u32,
        mtime: u64,
    ) -> Result<Ino, Errno> {
        match self.lookup(dir, name) {
            Ok(_) => return Err(Errno::EEXIST),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let ino = self.next;
        let (kind, nlink) = match &node {
            Node::Dir { .. } => (S_IFDIR, 2),
            Node::File(_) => (S_IFREG, 1),
            Node::Symlink(_) => (S_IFLNK, 1),
        };
        let node = match node {
            Node::Dir { entries, .. } => Node::Dir {
                entries,
                parent: dir,
            },
            other => other,
        };
        self.next += 1;
        self.inodes.insert(
            ino,
            Inode {
                node,
                mode: kind | (mode & !S_IFMT),
                uid: 0,
                gid: 0,
                nlink,
                mtime,
            },
        );
        let parent = self.inodes.get_mut(&dir).expect("looked up above");
        if kind == S_IFDIR {
            parent.nlink += 1;
        }
        parent.mtime = mtime;
        if let Node::Dir { entries, .. } = &mut parent.node {
            entries.insert(name.to_vec(), ino);
        }
        Ok(ino)
    }

    /// A new empty directory.
    pub fn mkdir(&mut self, dir: Ino, name: &[u8], mode: u32, mtime: u64) -> Result<Ino, Errno> {
        let node = Node::Dir {
            entries: BTreeMap::new(),
            parent: dir,
        };
        self.insert(dir, name, node, mode, mtime)
    }

    /// A hard link `name` in `dir` to the file `target` (`EPERM` for a directory).
    pub fn link(&mut self, dir: Ino, name: &[u8], target: Ino) -> Result<(), Errno> {
        if self.inode(target)?.is_dir() {
            return Err(Errno::EPERM);
        }
        match self.lookup(dir, name) {
            Ok(_) => return Err(Errno::EEXIST),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        if let Some(Node::Dir { entries, .. }) = self.inodes.get_mut(&dir).map(|i| &mut i.node) {
            entries.insert(name.to_vec(), target);
        }
        self.inodes.get_mut(&target).expect("checked").nlink += 1;
        Ok(())
    }

    /// Removes the name `name` of a file or link from `dir` (`EISDIR` for a directory).
    /// Returns the inode if that was its last name.
    pub fn unlink(&mut self, dir: Ino, name: &[u8]) -> Result<Option<Inode<D>>, Errno> {
        let ino = self.lookup(dir, name)?;
        if self.inode(ino)?.is_dir() {
            return Err(Errno::EISDIR);
        }
        if let Some(Node::Dir { entries, .. }) = self.inodes.get_mut(&dir).map(|i| &mut i.node) {
            entries.remove(name);
        }
        let inode = self.inodes.get_mut(&ino).expect("looked up");
        inode.nlink -= 1;
        Ok(self.drop_if_unused(ino))
    }

    /// Removes the empty directory `name` from `dir`.
    pub fn rmdir(&mut self, dir: Ino, name: &[u8]) -> Result<(), Errno> {
        if name == b"." {
            return Err(Errno::EINVAL);
        }
        if name == b".." {
            return Err(Errno::ENOTEMPTY);
        }
        let ino = self.lookup(dir, name)?;
        match &self.inode(ino)?.node {
            Node::Dir { entries, .. } if !entries.is_empty() => return Err(Errno::ENOTEMPTY),
            Node::Dir { .. } => {}
            _ => return Err(Errno::ENOTDIR),
        }
        if ino == ROOT {
            return Err(Errno::EBUSY);
        }
        let parent = self.inodes.get_mut(&dir).expect("looked up");
        parent.nlink -= 1;
        if let Node::Dir { entries, .. } = &mut parent.node {
            entries.remove(name);
        }
        let inode = self.inodes.get_mut(&ino).expect("looked up");
        inode.nlink = 0;
        self.drop_if_unused(ino);
        Ok(())
    }

    /// Whether `ino` is `ancestor` or lies below it.
    fn is_within(&self, mut ino: Ino, ancestor: Ino) -> bool {
        loop {
            if ino == ancestor {
                return true;
            }
            match self.inodes.get(&ino).map(|i| &i.node) {
                Some(Node::Dir { parent, .. }) if *parent != ino => ino = *parent,
                _ => return false,
            }
        }
    }

    /// `rename`: moves `name` of `dir` to `new_name` of `new_dir`, replacing what is there
    /// as Linux does: a file or link replaces a file or link, a directory replaces an
    /// empty directory (`ENOTEMPTY` otherwise), `EISDIR`/`ENOTDIR` when the kinds differ,
    /// `EINVAL` for a directory moved below itself, `EBUSY` for `.`/`..`; renaming a name to
    /// another name of the same inode does nothing. Returns the replaced inode when that
    /// was its last name (the caller drops its data).
    pub fn rename(
        &mut self,
        dir: Ino,
        name: &[u8],
        new_dir: Ino,
        new_name: &[u8],
        mtime: u64,
    ) -> Result<Option<Inode<D>>, Errno> {
        if matches!(name, b"." | b"..") || matches!(new_name, b"." | b"..") {
            return Err(Errno::EBUSY);
        }
        let ino = self.lookup(dir, name)?;
        if !self.inode(new_dir)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let moving_dir = self.inode(ino)?.is_dir();
        if moving_dir && self.is_within(new_dir, ino) {
            return Err(Errno::EINVAL);
        }
        let mut replaced = None;
        match self.lookup(new_dir, new_name) {
            Ok(target) if target == ino => return Ok(None),
            Ok(target) => {
                // The kinds first, then the emptiness, as Linux checks them.
                match (moving_dir, self.inode(target)?.is_dir()) {
                    (true, false) => return Err(Errno::ENOTDIR),
                    (false, true) => return Err(Errno::EISDIR),
                    (true, true) => self.rmdir(new_dir, new_name)?,
                    (false, false) => replaced = self.unlink(new_dir, new_name)?,
                }
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        for (at, remove) in [(dir, true), (new_dir, false)] {
            let parent = self.inodes.get_mut(&at).expect("looked up");
            parent.mtime = mtime;
            if moving_dir {
                if remove {
                    parent.nlink -= 1;
                } else {
                    parent.nlink += 1;
                }
            }
            if let Node::Dir { entries, .. } = &mut parent.node {
                if remove {
                    entries.remove(name);
                } else {
                    entries.insert(new_name.to_vec(), ino);
                }
            }
        }
        if let Some(Node::Dir { parent, .. }) = self.inodes.get_mut(&ino).map(|i| &mut i.node) {
            *parent = new_dir;
        }
        Ok(replaced)
    }

    /// The path of directory `dir` from the root (`/` for the root), by walking up its
    /// parents; `ENOENT` for a directory no longer in the tree.
    pub fn path_of(&self, mut dir: Ino) -> Result<Vec<u8>, Errno> {
        let mut names: Vec<&[u8]> = Vec::new();
        while dir != ROOT {
            let Node::Dir { parent, .. } = &self.inode(dir)?.node else {
                return Err(Errno::ENOTDIR);
            };
            let Node::Dir { entries, .. } = &self.inode(*parent)?.node else {
                return Err(Errno::ENOENT);
            };
            let name = entries
                .iter()
                .find(|&(_, &i)| i == dir)
                .map(|(n, _)| n.as_slice())
                .ok_or(Errno::ENOENT)?;
            names.push(name);
            dir = *parent;
        }
        let mut path = Vec::new();
        for name in names.iter().rev() {
            path.push(b'/');
            path.extend_from_slice(name);
        }
        if path.is_empty() {
            path.push(b'/');
        }
        Ok(path)
    }

    fn drop_if_unused(&mut self, ino: Ino) -> Option<Inode<D>> {
        let inode = self.inodes.get(&ino)?;
        if inode.nlink == 0 && ino != ROOT {
            return self.inodes.remove(&ino);
        }
        None
    }

    /// The entries of directory `dir` from position `from` on: `.` and `..` first, then
    /// the names in byte order.
    pub fn read_dir(&self, dir: Ino, from: usize) -> Result<Vec<DirEntry>, Errno> {
        let Node::Dir { entries, parent } = &self.inode(dir)?.node else {
            return Err(Errno::ENOTDIR);
        };
        let dots = [(&b"."[..], dir), (&b".."[..], *parent)];
        let named = entries.iter().map(|(n, &i)| (n.as_slice(), i));
        Ok(dots
            .into_iter()
            .chain(named)
            .skip(from)
            .map(|(name, ino)| DirEntry {
                name: name.to_vec(),
                ino,
                kind: self.inodes.get(&ino).map_or(0, Inode::dirent_type),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type T = Tree<Vec<u8>>;

    fn sample() -> (T, Ino, Ino) {
        let mut t = T::new();
        let bin = t.mkdir(ROOT, b"bin", 0o755, 1).unwrap();
        let sh = t
            .insert(bin, b"busybox", Node::File(b"elf".to_vec()), 0o755, 1)
            .unwrap();
        t.insert(bin, b"sh", Node::Symlink(b"busybox".to_vec()), 0o777, 1)
            .unwrap();
        t.insert(ROOT, b"abs", Node::Symlink(b"/bin/".to_vec()), 0o777, 1)
            .unwrap();
        (t, bin, sh)
    }

    #[test]
    fn paths_resolve_as_on_linux() {
        let (t, bin, sh) = sample();
        assert_eq!(t.resolve(ROOT, b"/bin/busybox", true), Ok(sh));
        assert_eq!(t.resolve(ROOT, b"//bin///./busybox", true), Ok(sh));
        assert_eq!(t.resolve(bin, b"busybox", true), Ok(sh));
        assert_eq!(t.resolve(bin, b"../bin/sh", true), Ok(sh));
        assert_eq!(t.resolve(ROOT, b"/..", true), Ok(ROOT));
        assert_eq!(t.resolve(ROOT, b"/abs/sh", true), Ok(sh));
        // Not following the last link names the link itself.
        let link = t.resolve(ROOT, b"/bin/sh", false).unwrap();
        assert_ne!(link, sh);
        assert_eq!(t.get(link).unwrap().mode & S_IFMT, S_IFLNK);
        // A trailing slash follows it, and wants a directory.
        assert_eq!(t.resolve(ROOT, b"/abs/", false), Ok(bin));
        assert_eq!(t.resolve(ROOT, b"/bin/busybox/", true), Err(Errno::ENOTDIR));
        assert_eq!(
            t.resolve(ROOT, b"/bin/busybox/x", true),
            Err(Errno::ENOTDIR)
        );
        assert_eq!(t.resolve(ROOT, b"/nope", true), Err(Errno::ENOENT));
        assert_eq!(t.resolve(ROOT, b"", true), Err(Errno::ENOENT));
        let long = [b'a'; NAME_MAX + 1];
        assert_eq!(t.resolve(ROOT, &long, true), Err(Errno::ENAMETOOLONG));
        assert_eq!(
            t.resolve(ROOT, &[b'/'; PATH_MAX], true),
            Err(Errno::ENAMETOOLONG)
        );
    }

    #[test]
    fn link_loops_end_in_eloop() {
        let mut t = T::new();
        t.insert(ROOT, b"a", Node::Symlink(b"b".to_vec()), 0o777, 0)
            .unwrap();
        t.insert(ROOT, b"b", Node::Symlink(b"a".to_vec()), 0o777, 0)
            .unwrap();
        assert_eq!(t.resolve(ROOT, b"/a", true), Err(Errno::ELOOP));
        // 40 links in a chain resolve; 41 do not.
        let mut t = T::new();
        t.insert(ROOT, b"l0", Node::File(Vec::new()), 0o644, 0)
            .unwrap();
        for i in 1..=41 {
            let target = alloc::format!("l{}", i - 1).into_bytes();
            let name = alloc::format!("l{i}").into_bytes();
            t.insert(ROOT, &name, Node::Symlink(target), 0o777, 0)
                .unwrap();
        }
        assert!(t.resolve(ROOT, b"l40", true).is_ok());
        assert_eq!(t.resolve(ROOT, b"l41", true), Err(Errno::ELOOP));
    }

    #[test]
    fn parents_and_names_of_paths() {
        let (t, bin, _) = sample();
        assert_eq!(t.resolve_parent(ROOT, b"/bin/new"), Ok((bin, &b"new"[..])));
        assert_eq!(
            t.resolve_parent(ROOT, b"/bin/new//"),
            Ok((bin, &b"new"[..]))
        );
        assert_eq!(t.resolve_parent(bin, b"new"), Ok((bin, &b"new"[..])));
        assert_eq!(t.resolve_parent(ROOT, b"/"), Ok((ROOT, &b"."[..])));
        assert_eq!(t.resolve_parent(ROOT, b"/abs/x"), Ok((bin, &b"x"[..])));
        assert_eq!(
            t.resolve_parent(ROOT, b"/bin/busybox/x"),
            Err(Errno::ENOTDIR)
        );
        assert_eq!(t.resolve_parent(ROOT, b"/none/x"), Err(Errno::ENOENT));
    }

    #[test]
    fn names_come_and_go_with_link_counts() {
        let (mut t, bin, sh) = sample();
        assert_eq!(
            t.mkdir(ROOT, b"bin", 0o755, 2),
            Err(Errno::EEXIST),
            "a taken name"
        );
        assert_eq!(t.mkdir(ROOT, b".", 0o755, 2), Err(Errno::EEXIST));
        assert_eq!(t.get(ROOT).unwrap().nlink, 3, "root: ., .. and bin/..");
        t.link(ROOT, b"bb", sh).unwrap();
        assert_eq!(t.get(sh).unwrap().nlink, 2);
        assert_eq!(t.link(ROOT, b"d", bin), Err(Errno::EPERM));
        assert!(t.unlink(bin, b"busybox").unwrap().is_none(), "bb remains");
        assert_eq!(t.resolve(ROOT, b"/bb", true), Ok(sh));
        // The last name hands the inode back (the kernel's open files share its data).
        let gone = t.unlink(ROOT, b"bb").unwrap().expect("the last name");
        assert!(matches!(gone.node, Node::File(ref d) if d == b"elf"));
        assert_eq!(gone.size(), 3);
        assert!(t.get(sh).is_none());
        assert_eq!(t.unlink(ROOT, b"bin").err(), Some(Errno::EISDIR));
        assert_eq!(t.rmdir(ROOT, b"bin"), Err(Errno::ENOTEMPTY));
        t.unlink(bin, b"sh").unwrap();
        assert_eq!(t.rmdir(ROOT, b"abs"), Err(Errno::ENOTDIR));
        t.rmdir(ROOT, b"bin").unwrap();
        assert_eq!(t.get(ROOT).unwrap().nlink, 2);
        assert!(t.get(bin).is_none());
    }

    #[test]
    fn renames_follow_linux_rules() {
        let (mut t, bin, sh) = sample();
        let etc = t.mkdir(ROOT, b"etc", 0o755, 1).unwrap();
        let sub = t.mkdir(bin, b"sub", 0o755, 1).unwrap();
        assert_eq!(t.get(bin).unwrap().nlink, 3);
        // A directory moves under another: link counts and `..` follow.
        t.rename(bin, b"sub", etc, b"moved", 5).unwrap();
        assert_eq!(t.resolve(ROOT, b"/etc/moved/..", true), Ok(etc));
        assert_eq!(
            (t.get(bin).unwrap().nlink, t.get(etc).unwrap().nlink),
            (2, 3)
        );
        assert_eq!(t.path_of(sub).unwrap(), b"/etc/moved");
        assert_eq!(t.path_of(ROOT).unwrap(), b"/");
        // Not below itself.
        assert_eq!(
            t.rename(ROOT, b"etc", sub, b"x", 5).err(),
            Some(Errno::EINVAL)
        );
        assert_eq!(
            t.rename(ROOT, b"etc", etc, b"x", 5).err(),
            Some(Errno::EINVAL)
        );
        // A file replaces a file; the replaced one's last name hands it back.
        let other = t
            .insert(ROOT, b"other", Node::File(b"xy".to_vec()), 0o644, 1)
            .unwrap();
        let gone = t.rename(ROOT, b"other", bin, b"busybox", 6).unwrap();
        assert!(matches!(gone.unwrap().node, Node::File(ref d) if d == b"elf"));
        assert!(t.get(sh).is_none());
        assert_eq!(t.resolve(ROOT, b"/bin/sh", true), Ok(other));
        // Kinds must agree; a non-empty directory is not replaced.
        assert_eq!(
            t.rename(bin, b"busybox", ROOT, b"etc", 7).err(),
            Some(Errno::EISDIR)
        );
        assert_eq!(
            t.rename(etc, b"moved", bin, b"busybox", 7).err(),
            Some(Errno::ENOTDIR)
        );
        let empty = t.mkdir(ROOT, b"empty", 0o755, 1).unwrap();
        assert_eq!(
            t.rename(ROOT, b"empty", ROOT, b"etc", 7).err(),
            Some(Errno::ENOTEMPTY)
        );
        t.rename(ROOT, b"etc", ROOT, b"empty", 7).unwrap();
        assert!(t.get(empty).is_none());
        assert_eq!(t.resolve(ROOT, b"/empty/moved", true), Ok(sub));
        // Another name of the same inode: nothing happens.
        t.link(ROOT, b"again", other).unwrap();
        assert_eq!(
            t.rename(ROOT, b"again", bin, b"busybox", 8)
                .unwrap()
                .map(|_| ()),
            None
        );
        assert_eq!(t.resolve(ROOT, b"/again", true), Ok(other));
        assert_eq!(
            t.rename(ROOT, b"..", bin, b"x", 8).err(),
            Some(Errno::EBUSY)
        );
    }

    #[test]
    fn directories_list_dots_first_then_names_in_order() {
        let (t, bin, sh) = sample();
        let names = |from| -> Vec<Vec<u8>> {
            t.read_dir(bin, from)
                .unwrap()
                .into_iter()
                .map(|e| e.name)
                .collect()
        };
        assert_eq!(
            names(0),
            [
                b".".to_vec(),
                b"..".to_vec(),
                b"busybox".to_vec(),
                b"sh".to_vec()
            ]
        );
        assert_eq!(names(3), [b"sh".to_vec()]);
        assert!(names(4).is_empty());
        let all = t.read_dir(bin, 0).unwrap();
        assert_eq!((all[1].ino, all[1].kind), (ROOT, 4));
        assert_eq!((all[2].ino, all[2].kind), (sh, 8));
        assert_eq!(all[3].kind, 10);
        assert_eq!(t.read_dir(sh, 0), Err(Errno::ENOTDIR));
    }
}
