//! Temporary mappings: any physical frame, mapped for a moment into a slot of this CPU's
//! window at 0xE000_0000 (design §4, docs/temp-mappings.md).
//!
//! `TempMap::read(frame)` / `TempMap::write(frame)` give a guard that derefs to the page's
//! 4096 bytes (mutably only for `write`). The guard pins the CPU (preemption off) and is
//! neither `Send` nor `Sync`; dropping it clears the PTE, `invlpg`s the slot on this CPU,
//! then frees the slot. Invariant: a free slot is in no TLB, so mapping needs no flush and
//! no other CPU ever needs an IPI for a temp mapping.

pub mod pool;
pub mod window;

#[cfg(target_arch = "x86")]
mod map;
#[cfg(target_arch = "x86")]
pub use map::*;
