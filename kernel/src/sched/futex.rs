//! Futexes: tasks wait on a user word and are woken by address (Linux `futex(2)`: WAIT,
//! WAKE, REQUEUE, CMP_REQUEUE, WAIT_BITSET, WAKE_BITSET).
//!
//! A futex is named by its key: the process, the word's user address, and whether the
//! call was private (`FUTEX_PRIVATE_FLAG`) or shared. That is Linux's key for private
//! anonymous memory, the only memory a Tempest process has (nothing is shared between
//! processes yet; a word in shared memory would need the frame and offset instead): a
//! shared wake (the one `CLONE_CHILD_CLEARTID` does at thread exit) wakes only shared
//! waiters, as on Linux, where glibc's join waits shared for that reason.
//!
//! One table for the whole system, behind one irq-safe lock: waiting compares the user
//! word and queues the waiter under it, waking dequeues under it, so no wake-up falls
//! between the compare and the sleep. (Hashed buckets, as Linux has, are the step to take
//! when a profile shows this lock.)

use super::block::{self, Woke};
use crate::cpu::sync::IrqSpinLock;
use crate::errno::Errno;
use crate::mm::space::AddressSpace;
use crate::mm::uaccess;
use crate::proc::{NO_DEADLINE, Process, Task};
use alloc::sync::Arc;
use alloc::vec::Vec;

/// The word a futex is: its process (by address, alive while a waiter holds a task of
/// it) and its user address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    process: usize,
    address: u32,
    shared: bool,
}

impl Key {
    pub fn new(process: &Process, address: u32, shared: bool) -> Self {
        Key {
            process: process as *const Process as usize,
            address,
            shared,
        }
    }
}

struct Waiter {
    key: Key,
    bitset: u32,
    task: Arc<Task>,
}

static TABLE: IrqSpinLock<Vec<Waiter>> = IrqSpinLock::new(Vec::new());

/// Every bit: FUTEX_WAIT and FUTEX_WAKE are the bitset calls with all bits set.
pub const ALL: u32 = u32::MAX;

fn read_word(space: &AddressSpace, address: u32) -> Result<u32, Errno> {
    let mut raw = [0u8; 4];
    uaccess::copy_from_user(space, &mut raw, address)?;
    Ok(u32::from_le_bytes(raw))
}

/// Checks the address as Linux does before any futex operation: `EINVAL` unless 4-byte
/// aligned.
fn check_aligned(address: u32) -> Result<(), Errno> {
    if !address.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// `FUTEX_WAIT_BITSET`: if the word at `address` still holds `expected`, sleeps until a
/// wake whose bitset meets `bitset`, or until `deadline` (monotonic ns). `EAGAIN` when the
/// word differs, `ETIMEDOUT` when the deadline passes, `EINTR` when woken for another
/// reason (the process is exiting), `EFAULT` for an unreadable word.
pub fn wait(
    address: u32,
    expected: u32,
    bitset: u32,
    deadline: u64,
    shared: bool,
) -> Result<u32, Errno> {
    check_aligned(address)?;
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let process = super::current_process();
    let key = Key::new(&process, address, shared);
    // The memory first (a sleeping lock, never taken under a spin lock), then the table:
    // the compare and the queueing happen with both held.
    let memory = process.mem.lock();
    let mut table = TABLE.lock();
    if read_word(&memory.space, address)? != expected {
        return Err(Errno::EAGAIN);
    }
    if deadline != NO_DEADLINE && crate::time::monotonic_ns() >= deadline {
        return Err(Errno::ETIMEDOUT);
    }
    let blocker = block::prepare_interruptible(deadline);
    let task = blocker.task().clone();
    table.push(Waiter { key, bitset, task });
    drop(table);
    drop(memory);
    let woke = blocker.sleep();
    let me = super::current();
    let mut table = TABLE.lock();
    // Still queued: no wake took it out, so the deadline (or the process's end) did.
    if let Some(at) = table.iter().position(|w| Arc::ptr_eq(&w.task, &me)) {
        table.remove(at);
        return Err(match woke {
            Woke::TimedOut => Errno::ETIMEDOUT,
            Woke::Woken => Errno::EINTR,
        });
    }
    Ok(0)
}

/// `FUTEX_WAKE_BITSET`: wakes up to `count` waiters on `address` whose bitset meets
/// `bitset`, oldest first (a `count` of 0 wakes one, as Linux's loop does: it counts after
/// each wake-up); returns how many. A shared futex's word must be mapped (`EFAULT`
/// otherwise), as Linux looks its page up; a private one's is not read.
pub fn wake(address: u32, count: u32, bitset: u32, shared: bool) -> Result<u32, Errno> {
    check_aligned(address)?;
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let process = super::current_process();
    if shared {
        uaccess::check(&process.mem.lock().space, address, 4, false)?;
    }
    let key = Key::new(&process, address, shared);
    let mut table = TABLE.lock();
    Ok(wake_locked(&mut table, key, count.max(1), bitset))
}

fn wake_locked(table: &mut Vec<Waiter>, key: Key, count: u32, bitset: u32) -> u32 {
    let mut woken = 0;
    let mut i = 0;
    while i < table.len() && woken < count {
        if table[i].key == key && table[i].bitset & bitset != 0 {
            let waiter = table.remove(i);
            super::wake(&waiter.task);
            woken += 1;
        } else {
            i += 1;
        }
    }
    woken
}

/// `FUTEX_REQUEUE` (`expected`: `None`) and `FUTEX_CMP_REQUEUE`: wakes up to `wake_count`
/// waiters on `from`, then moves up to `requeue_count` of the others to `to`; returns how
/// many were woken and moved. `EAGAIN` when `from`'s word is not `expected`.
pub fn requeue(
    from: u32,
    to: u32,
    wake_count: u32,
    requeue_count: u32,
    expected: Option<u32>,
    shared: bool,
) -> Result<u32, Errno> {
    check_aligned(from)?;
    check_aligned(to)?;
    let process = super::current_process();
    let (from_key, to_key) = (
        Key::new(&process, from, shared),
        Key::new(&process, to, shared),
    );
    let memory = process.mem.lock();
    let mut table = TABLE.lock();
    if let Some(expected) = expected
        && read_word(&memory.space, from)? != expected
    {
        return Err(Errno::EAGAIN);
    }
    drop(memory);
    let woken = wake_locked(&mut table, from_key, wake_count, ALL);
    let mut moved = 0;
    for waiter in table.iter_mut() {
        if moved == requeue_count {
            break;
        }
        if waiter.key == from_key {
            waiter.key = to_key;
            moved += 1;
        }
    }
    Ok(woken + moved)
}

/// `CLONE_CHILD_CLEARTID` at thread exit: writes 0 to the word and wakes one shared waiter
/// (a joining thread), as Linux does; an unwritable word is left alone.
pub fn clear_and_wake(process: &Arc<Process>, address: u32) {
    if uaccess::copy_to_user(&process.mem.lock().space, address, &0u32.to_le_bytes()).is_err() {
        return;
    }
    let mut table = TABLE.lock();
    wake_locked(&mut table, Key::new(process, address, true), 1, ALL);
}

/// Waiters queued now (the tests check that none is left behind).
pub fn waiters() -> usize {
    TABLE.lock().len()
}
