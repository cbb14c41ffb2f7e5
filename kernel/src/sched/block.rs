//! Blocking: the running task leaves its CPU until someone wakes it or its deadline
//! passes. Wait queues and futexes are built on the two halves:
//!
//! ```text
//!   waiter                                   waker
//!   lock(queue); check condition
//!   let b = block::prepare(deadline)         (state: Blocked)
//!   enqueue self; unlock(queue)
//!   b.sleep()                                lock(queue); dequeue task; unlock
//!                                            sched::wake(task)
//! ```
//!
//! No wake-up is lost: the state is `Blocked` before the waiter is visible to wakers, and
//! `wake` changes it under the lock of the waiter's run queue, which `schedule` also takes
//! to decide whether to switch. A wake-up that comes before the waiter has switched away
//! just leaves it running (`sleep` returns at once). Between `prepare` and `sleep` the
//! waiter keeps preemption off, so the timer cannot switch it out half-asleep.

use super::runqueue::{self, RunQueue};
use super::{Why, schedule};
use crate::cpu::percpu::{preempt_disable, preempt_enable};
use crate::proc::{NO_DEADLINE, State, Task};
use alloc::sync::Arc;
use core::sync::atomic::Ordering;

/// How a block ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Woke {
    /// `wake` (or a wake-up before the task could sleep).
    Woken,
    /// The deadline passed first.
    TimedOut,
}

/// The running task, marked blocked, with preemption off until it sleeps.
#[must_use = "a prepared block must sleep"]
pub struct Blocker {
    task: Arc<Task>,
}

/// Marks the running task blocked until a `wake` or, unless `deadline` is `NO_DEADLINE`,
/// until the monotonic clock reaches `deadline` (ns). Publish the task to wakers after
/// this, then `sleep`. A signal does not end this block (the sleeping mutex uses it).
pub fn prepare(deadline: u64) -> Blocker {
    prepare_as(deadline, false)
}

/// As `prepare`, but a signal the task would deliver also ends the block (`Woke::Woken`),
/// even one already pending, and so does its process's end, even one begun already: the
/// sleeps of `futex`, `nanosleep` and `poll`, which then return `EINTR`.
pub fn prepare_interruptible(deadline: u64) -> Blocker {
    prepare_as(deadline, true)
}

fn prepare_as(deadline: u64, interruptible: bool) -> Blocker {
    preempt_disable();
    let task = super::current();
    let (cpu, mut rq) = runqueue::lock_task_queue(&task);
    debug_assert_eq!(cpu, crate::cpu::percpu::cpu_id());
    task.timed_out.store(false, Ordering::Relaxed);
    task.deadline.store(deadline, Ordering::Relaxed);
    task.interruptible.store(interruptible, Ordering::Relaxed);
    task.set_state(State::Blocked);
    if deadline != NO_DEADLINE {
        rq.timed.push(task.clone());
    }
    // A sender adds the signal before it takes this lock to wake us (`wake_interruptible`),
    // and `exit_group` marks the process exiting before it takes it to wake every thread:
    // either they see the task blocked, or the check here sees what they did. (A thread
    // preempted in a system call on its way to this sleep while `exit_group` ran would
    // otherwise sleep for ever.)
    if interruptible && (task.process.exiting.load(Ordering::SeqCst) || task.signal_deliverable()) {
        wake_locked(&mut rq, cpu, &task);
    }
    Blocker { task }
}

impl Blocker {
    /// The blocked task.
    pub fn task(&self) -> &Arc<Task> {
        &self.task
    }

    /// Leaves the CPU until woken (at once if a wake-up already came). Returns how it
    /// ended.
    pub fn sleep(self) -> Woke {
        let task = self.task;
        // The switch must not find this reference on the stack of a task another CPU may
        // free: keep only what is needed after waking.
        let timed_out = {
            schedule(Why::Block);
            task.timed_out.load(Ordering::Relaxed)
        };
        preempt_enable();
        if timed_out {
            Woke::TimedOut
        } else {
            Woke::Woken
        }
    }
}

/// Makes a blocked task runnable again; false if it was not blocked (already woken, or
/// running). The task runs on the CPU it blocked on.
pub fn wake(task: &Arc<Task>) -> bool {
    let (cpu, mut rq) = runqueue::lock_task_queue(task);
    wake_locked(&mut rq, cpu, task)
}

/// Wakes `task` if it is in an interruptible block (a signal came for it); false
/// otherwise.
pub fn wake_interruptible(task: &Arc<Task>) -> bool {
    let (cpu, mut rq) = runqueue::lock_task_queue(task);
    if !task.interruptible.load(Ordering::Relaxed) {
        return false;
    }
    wake_locked(&mut rq, cpu, task)
}

fn wake_locked(rq: &mut RunQueue, cpu: usize, task: &Arc<Task>) -> bool {
    if task.state() != State::Blocked {
        return false;
    }
    if task.deadline.swap(NO_DEADLINE, Ordering::Relaxed) != NO_DEADLINE {
        rq.timed.retain(|t| !Arc::ptr_eq(t, task));
    }
    if rq.current.as_ref().is_some_and(|t| Arc::ptr_eq(t, task)) {
        // It has not switched away yet: it just keeps running.
        task.set_state(State::Running);
    } else {
        runqueue::push_locked(rq, cpu, task.clone());
    }
    true
}

/// Wakes `cpu`'s blocked tasks whose deadline has passed (its timer tick).
pub fn wake_expired(cpu: usize) {
    let mut rq = runqueue::queue(cpu);
    if rq.timed.is_empty() {
        return;
    }
    let now = crate::time::monotonic_ns();
    let expired: alloc::vec::Vec<Arc<Task>> = rq
        .timed
        .iter()
        .filter(|t| t.deadline.load(Ordering::Relaxed) <= now)
        .cloned()
        .collect();
    for task in expired {
        task.timed_out.store(true, Ordering::Relaxed);
        wake_locked(&mut rq, cpu, &task);
    }
}

/// Sleeps until the monotonic clock reaches `deadline` (ns); returns early (false) only if
/// something else wakes the task (a signal, its process exiting).
pub fn sleep_until(deadline: u64) -> bool {
    loop {
        if crate::time::monotonic_ns() >= deadline {
            return true;
        }
        if prepare_interruptible(deadline).sleep() == Woke::Woken {
            return crate::time::monotonic_ns() >= deadline;
        }
    }
}
