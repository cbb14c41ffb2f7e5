//! Copy-on-write frames, for `fork`. A frame two address spaces map is read-only in both
//! (a PTE with the software bit `space::COW`); the first write to it, by the user (a page
//! fault) or by the kernel on the user's behalf (`uaccess`), copies the page into a fresh
//! frame through two nested temp mappings (the old page read-only, the new one writable,
//! as Linux's `copy_user_highpage` does), points the PTE at the copy, writable, and drops
//! the TLB entries other CPUs running the process may hold for the page before the old
//! frame loses an owner. The last owner writes in place.
//!
//! Owners are counted per frame beyond the first: a table of one 16-bit counter per frame
//! of RAM, made at boot from lowmem (`init`), so `share` and `put` are one atomic operation
//! each, with no lock (as Linux's page reference counts). Every user frame a space lets go
//! of goes through `put`, on every CPU: the global map under one lock this replaced was
//! taken for each of them. A frame past the table (only if the table could not be made)
//! falls back to such a map.

use super::frames;
use super::space::{AddressSpace, CowBreak};
use super::zones::Frame;
use crate::cpu::sync::IrqSpinLock;
use crate::errno::Errno;
use alloc::collections::BTreeMap;
use core::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use smp::shootdown::Flush;

/// Frame number to owners beyond the first, one counter per frame (`init`).
static TABLE: spin::Once<&'static [AtomicU16]> = spin::Once::new();
/// The same for frames the table does not reach.
static OVERFLOW: IrqSpinLock<BTreeMap<u32, u32>> = IrqSpinLock::new(BTreeMap::new());

/// Takes the counters of frames `0..frames`, at `table`.
///
/// # Safety
/// `table` points to `frames` zeroed `AtomicU16`s (2 bytes each, aligned) that nothing
/// else uses, for the rest of the kernel's life. Once, at boot, before any `share`.
pub unsafe fn init(table: *const AtomicU16, frames: usize) {
    // SAFETY: per the contract.
    TABLE.call_once(|| unsafe { core::slice::from_raw_parts(table, frames) });
}

fn counter(frame: Frame) -> Option<&'static AtomicU16> {
    TABLE.get()?.get(frame.0 as usize)
}

/// One more space maps `frame`.
pub fn share(frame: Frame) {
    match counter(frame) {
        Some(c) => {
            let before = c.fetch_add(1, Ordering::AcqRel);
            // A frame has at most one owner per process, and processes are far fewer.
            assert!(
                before < u16::MAX,
                "frame {:#x} shared by too many spaces",
                frame.0
            );
        }
        None => *OVERFLOW.lock().entry(frame.0).or_insert(0) += 1,
    }
}

/// Whether another space maps `frame` too.
pub fn is_shared(frame: Frame) -> bool {
    match counter(frame) {
        Some(c) => c.load(Ordering::Acquire) != 0,
        None => OVERFLOW.lock().contains_key(&frame.0),
    }
}

/// A space lets go of user frame `frame`: the frame is freed unless another space still
/// maps it.
pub fn put(frame: Frame) {
    let last = match counter(frame) {
        // One fewer other owner, or, with none left, this was the last owner.
        Some(c) => c
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_err(),
        None => {
            let mut shares = OVERFLOW.lock();
            match shares.get_mut(&frame.0) {
                Some(1) => {
                    shares.remove(&frame.0);
                    false
                }
                Some(n) => {
                    *n -= 1;
                    false
                }
                None => true,
            }
        }
    };
    if last {
        frames::free(frame);
    }
}

/// How the memory layer drops a changed page's translations on the CPUs that run the
/// space with page directory `directory` (set by the process layer: lower layers do not
/// call up).
static FLUSH_HOOK: AtomicUsize = AtomicUsize::new(0);

/// Sets the hook `flush_space` calls.
pub fn set_flush_hook(hook: fn(u32, Flush)) {
    FLUSH_HOOK.store(hook as usize, Ordering::Release);
}

/// Drops `flush` of the space whose page directory is `directory` on every CPU that may
/// cache it (a space loaded nowhere needs nothing).
pub fn flush_space(directory: u32, flush: Flush) {
    let hook = FLUSH_HOOK.load(Ordering::Acquire);
    if hook != 0 {
        // SAFETY: FLUSH_HOOK only ever holds a `fn(u32, Flush)` stored by `set_flush_hook`.
        let hook = unsafe { core::mem::transmute::<usize, fn(u32, Flush)>(hook) };
        hook(directory, flush);
    }
}

/// The write-protect shootdown of `fork` switched off (`no-fork-flush` on the command
/// line; the forking CPU still drops its own entries): the negative control of the fork
/// test, which must then see a parent's thread on another CPU write through its stale
/// writable translation into the child's page.
static NO_FORK_FLUSH: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Switches the negative control on (boot).
pub fn skip_fork_flush() {
    log::warn!(
        "no-fork-flush: fork does not drop the parent's writable translations (negative control)"
    );
    NO_FORK_FLUSH.store(true, Ordering::Relaxed);
}

/// Whether `fork` must drop the parent's writable translations everywhere.
pub fn fork_flush() -> bool {
    !NO_FORK_FLUSH.load(Ordering::Relaxed)
}

/// Makes user page `va` (page-aligned) of `space` writable for a write, if it is a
/// copy-on-write page: copied (the old translation dropped on every CPU running the space,
/// then the old frame let go of) or, for the last owner, reused. Returns whether the page
/// is writable now (false: not a copy-on-write page, nor a writable one). `ENOMEM` when no
/// frame or temp slot is left for the copy. The caller holds the process's memory lock.
pub fn unshare(space: &AddressSpace, va: u32) -> Result<bool, Errno> {
    match space.break_cow(va) {
        Ok(Some(CowBreak::Copied(old))) => {
            flush_space(
                space.directory(),
                Flush::Range {
                    start: va,
                    pages: 1,
                },
            );
            put(old);
            Ok(true)
        }
        Ok(Some(CowBreak::Reused | CowBreak::Writable)) => Ok(true),
        Ok(None) => Ok(false),
        Err(_) => Err(Errno::ENOMEM),
    }
}
