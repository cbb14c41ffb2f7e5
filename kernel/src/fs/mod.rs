//! Files: the RAM file system that is the root, filled at boot from a cpio initramfs.
//! The archive reader, the tree and the unpacking are portable and host-tested; the
//! kernel's file data (frames reached through temp mappings) is in `ramfs`.

pub mod cpio;
pub mod initramfs;
#[cfg(target_arch = "x86")]
pub mod pipe;
#[cfg(target_arch = "x86")]
pub mod ramfs;
pub mod tree;

/// A process's descriptors, whose files are devices or nodes of the root file system.
#[cfg(target_arch = "x86")]
pub type Files = crate::files::FileTable<ramfs::Handle>;
/// An open file description of the kernel.
#[cfg(target_arch = "x86")]
pub type File = crate::files::File<ramfs::Handle>;
