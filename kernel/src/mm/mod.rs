//! Memory management: the boot information, physical frames, the kernel page directory,
//! the heap.

pub mod bootinfo;
pub mod layout;
pub mod ranges;
pub mod temp;
pub mod user_range;
pub mod zones;

#[cfg(target_arch = "x86")]
pub mod cow;
#[cfg(target_arch = "x86")]
pub mod frames;
#[cfg(target_arch = "x86")]
pub mod heap;
#[cfg(target_arch = "x86")]
pub mod kva;
#[cfg(target_arch = "x86")]
pub mod paging;
#[cfg(target_arch = "x86")]
pub mod space;
#[cfg(target_arch = "x86")]
pub mod uaccess;
