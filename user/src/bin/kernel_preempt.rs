//! `kernel_preempt`: the kernel is preemptible. Two threads are pinned to the same CPU:
//! thread B increments a counter in a user-mode loop forever; the main thread spends 300 ms
//! spinning in the kernel (Tempest's `kernel_spin(300)`, interrupts on), and the kernel
//! reads the counter as the spin starts and as it ends. Only if the timer preempted the main thread *inside the kernel*
//! did B run meanwhile: the counter must have advanced, and `kernel_spin` must report that
//! the caller was switched out at least once. A kernel that preempts only at the return to
//! user mode fails both (exit 1). Exits 0 when both hold.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use tempest_user::sys;
use tempest_user::thread::{first_and_last, usable_cpus};
use tempest_user::{Args, Checks, Thread, println};

tempest_user::entry!(main);

const SPIN_MS: u32 = 300;

static CPU: AtomicU32 = AtomicU32::new(0);
/// 1 once B runs pinned on CPU, 2 if it could not pin itself there.
static READY: AtomicU32 = AtomicU32::new(0);
static COUNTER: AtomicU32 = AtomicU32::new(0);

extern "C" fn counter(_: usize) -> ! {
    let cpu = CPU.load(Ordering::Acquire);
    let pinned = sys::pin_to_cpu(cpu) == 0 && sys::current_cpu() == cpu as isize;
    READY.store(if pinned { 1 } else { 2 }, Ordering::Release);
    loop {
        COUNTER.fetch_add(1, Ordering::Relaxed);
    }
}

fn main(_: &Args) -> i32 {
    let mut c = Checks::new("kernel_preempt");
    let (_, cpu) = first_and_last(usable_cpus());
    CPU.store(cpu, Ordering::Release);
    c.eq("pin the main thread to its cpu", sys::pin_to_cpu(cpu), 0);
    c.eq(
        "getcpu() of the main thread",
        sys::current_cpu(),
        cpu as isize,
    );
    if let Err(e) = Thread::spawn(counter, 0) {
        c.check(false, format_args!("clone = {e}"));
        return c.finish();
    }
    // B shares this CPU and never yields: it gets here only when the timer preempts it.
    while READY.load(Ordering::Acquire) == 0 {
        sys::sched_yield();
    }
    if !c.eq(
        "thread B pinned to the same cpu",
        READY.load(Ordering::Acquire),
        1,
    ) {
        sys::exit_group(c.finish());
    }
    // The kernel reads the counter as the spin starts and ends: a timer preemption of this
    // thread in user mode, just before or after the call, lets B run but does not count.
    let mut advanced = 0;
    let switched_out = sys::kernel_spin_watching(SPIN_MS, COUNTER.as_ptr(), &mut advanced);
    println!(
        "kernel_preempt: kernel_spin({SPIN_MS}) returned {switched_out}; thread B's counter advanced by {advanced} meanwhile"
    );
    c.check(
        switched_out > 0,
        format_args!("kernel_spin({SPIN_MS}) = {switched_out}: switched out inside the kernel"),
    );
    c.check(
        advanced > 0,
        format_args!("thread B ran while the main thread was in the kernel (+{advanced})"),
    );
    c.eq("getcpu() after the spin", sys::current_cpu(), cpu as isize);
    c.eq(
        "kernel_spin(0)",
        sys::kernel_spin(0),
        -(sys::EINVAL as isize),
    );
    c.eq(
        "kernel_spin(10001)",
        sys::kernel_spin(sys::KERNEL_SPIN_MAX_MS + 1),
        -(sys::EINVAL as isize),
    );
    c.eq(
        "kernel_spin(1) watching an unmapped address",
        sys::kernel_spin_watching(1, 16 as *const u32, &mut advanced),
        -(sys::EFAULT as isize),
    );
    // B never ends: exit_group ends it with the process.
    sys::exit_group(c.finish())
}
